-- conformance case dense_activations_more (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "swish" },
  Dense { 4, activation = "softsign" },
  Dense { 4, activation = "mish" },
  Dense { 4, activation = "silu" },
  Dense { 4, activation = "exponential" },
  Dense { 2, activation = "log_softmax" },
}
model:compile { optimizer = SGD { learning_rate = 0.05, momentum = 0.5 }, loss = "mae" }
return model
