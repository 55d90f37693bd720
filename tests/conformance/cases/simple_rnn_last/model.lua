-- conformance case simple_rnn_last (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 2 } },
  Dense { 2 },
}
model:compile { optimizer = RMSprop { learning_rate = 0.005, rho = 0.8 }, loss = "mse" }
return model
