-- conformance case dense_activations_smooth (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "elu" },
  Dense { 4, activation = "selu" },
  Dense { 4, activation = "gelu" },
  Dense { 4, activation = "gelu_approximate" },
  Dense { 3, activation = "softplus" },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
