-- conformance case dense_activations_kinked (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 5, input_shape = { 3 }, activation = "leaky_relu" },
  Dense { 5, activation = "relu6" },
  Dense { 5, activation = "hard_silu" },
  Dense { 4, activation = "hard_swish" },
  Dense { 3, activation = "hard_sigmoid" },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "mse" }
return model
