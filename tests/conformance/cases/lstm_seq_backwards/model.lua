-- conformance case lstm_seq_backwards (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 3 }, activation = "relu", recurrent_activation = "hard_sigmoid_keras2", return_sequences = true, go_backwards = true },
  TimeDistributed { Dense { 2 } },
}
model:compile { optimizer = RMSprop { learning_rate = 0.005, momentum = 0.9 }, loss = "mae" }
return model
