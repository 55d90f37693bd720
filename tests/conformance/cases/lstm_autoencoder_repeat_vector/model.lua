-- conformance case lstm_autoencoder_repeat_vector (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 4, 2 } },
  RepeatVector { 4 },
  LSTM { 2, return_sequences = true },
  TimeDistributed { Dense { 2 } },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
