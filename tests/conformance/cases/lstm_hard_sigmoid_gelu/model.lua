-- conformance case lstm_hard_sigmoid_gelu (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 }, activation = "gelu", recurrent_activation = "hard_sigmoid", return_sequences = true },
  GRU { 2, activation = "softsign", recurrent_activation = "hard_sigmoid" },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
