-- conformance case bidir_lstm_concat_seq (written by tests/conformance/golden.py)
local model = Sequential {
  Bidirectional { LSTM { 2, return_sequences = true }, input_shape = { 3, 2 } },
  TimeDistributed { Dense { 2 } },
}
model:compile { optimizer = AdamW { learning_rate = 0.01, weight_decay = 0.05, amsgrad = true }, loss = "mse" }
return model
