-- conformance case activation_sigmoid_bce (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 2 } },
  Activation { "sigmoid" },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "binary_crossentropy" }
return model
