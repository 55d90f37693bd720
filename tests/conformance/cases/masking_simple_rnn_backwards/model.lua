-- conformance case masking_simple_rnn_backwards (written by tests/conformance/golden.py)
local model = Sequential {
  Masking { input_shape = { 4, 2 } },
  SimpleRNN { 3, return_sequences = true, go_backwards = true },
  Dense { 2, activation = "tanh" },
}
model:compile { optimizer = SGD { learning_rate = 0.1, momentum = 0.5 }, loss = "mae" }
return model
