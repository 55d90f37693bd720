-- conformance case dense_hard_sigmoid_bce (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "sigmoid" },
  Dense { 3, activation = "hard_sigmoid_keras2", use_bias = false },
}
model:compile { optimizer = SGD { learning_rate = 0.1, momentum = 0.9 }, loss = "binary_crossentropy" }
return model
