-- conformance case loss_huber (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 } },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = Huber { delta = 0.4 } }
return model
