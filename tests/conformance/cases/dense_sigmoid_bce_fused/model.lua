-- conformance case dense_sigmoid_bce_fused (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "tanh", use_bias = false },
  Dense { 2, activation = "sigmoid" },
}
model:compile { optimizer = SGD { learning_rate = 0.05, momentum = 0.9, nesterov = true }, loss = "binary_crossentropy" }
return model
