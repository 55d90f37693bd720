-- conformance case masking_bidirectional_lstm (written by tests/conformance/golden.py)
local model = Sequential {
  Masking { input_shape = { 4, 2 } },
  Bidirectional { LSTM { 2, return_sequences = true } },
  Dense { 2 },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "mse" }
return model
