-- conformance case batch_normalization_dense (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "tanh" },
  BatchNormalization { scale = false },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.05 }, loss = "mse" }
return model
