-- conformance case gru_before_last (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 3, 3 }, reset_after = false },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.1, clipnorm = 0.1 }, loss = "mse" }
return model
