-- conformance case gaussian_noise_dropout (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "tanh" },
  GaussianNoise { 0.2 },
  GaussianDropout { 0.3, seed = 5 },
  Dense { 1 },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "mse" }
return model
