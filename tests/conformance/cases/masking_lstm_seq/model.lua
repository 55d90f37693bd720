-- conformance case masking_lstm_seq (written by tests/conformance/golden.py)
local model = Sequential {
  Masking { input_shape = { 5, 2 } },
  LSTM { 3, return_sequences = true },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "sparse_categorical_crossentropy" }
return model
