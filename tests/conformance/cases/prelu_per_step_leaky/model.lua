-- conformance case prelu_per_step_leaky (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 2 }, return_sequences = true },
  PReLU {  },
  LeakyReLU { negative_slope = 0.1 },
  ReLU {  },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mae" }
return model
