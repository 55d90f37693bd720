-- conformance case lstm_stack_linear (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 4, input_shape = { 3, 2 }, activation = "hard_sigmoid_keras2", recurrent_activation = "linear", return_sequences = true },
  LSTM { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.02, beta_1 = 0.8, beta_2 = 0.99, epsilon = 1e-05 }, loss = "mse" }
return model
