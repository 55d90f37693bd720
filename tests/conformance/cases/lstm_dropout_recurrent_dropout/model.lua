-- conformance case lstm_dropout_recurrent_dropout (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 4, 2 }, return_sequences = true, dropout = 0.3, recurrent_dropout = 0.4 },
  LSTM { 2, dropout = 0.2 },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
