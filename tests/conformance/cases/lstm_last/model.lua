-- conformance case lstm_last (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 } },
  Dense { 1 },
}
model:compile { optimizer = Adam { learning_rate = 0.01, amsgrad = true }, loss = "mse" }
return model
