-- conformance case dense_mse_sgd (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "relu" },
  Dense { 3, activation = "tanh" },
  Dense { 2 },
}
model:compile { optimizer = "sgd", loss = "mse" }
return model
