-- conformance case dropout_dense_fit (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "tanh" },
  Dropout { 0.5 },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mse" }
return model
