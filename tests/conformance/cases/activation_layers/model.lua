-- conformance case activation_layers (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3, 2 } },
  ReLU { 2.0, negative_slope = 0.1, threshold = 0.3 },
  LeakyReLU {  },
  ELU { alpha = 0.6 },
  PReLU { shared_axes = { 1 } },
  Activation { "selu" },
  TimeDistributed { Dense { 2 } },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "mse" }
return model
