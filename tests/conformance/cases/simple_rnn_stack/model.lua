-- conformance case simple_rnn_stack (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 3, input_shape = { 4, 2 }, activation = "sigmoid", return_sequences = true },
  SimpleRNN { 2, activation = "linear" },
}
model:compile { optimizer = SGD { learning_rate = 0.1, clipvalue = 0.02 }, loss = "mean_squared_error" }
return model
