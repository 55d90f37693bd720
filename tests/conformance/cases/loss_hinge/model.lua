-- conformance case loss_hinge (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "tanh" },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "hinge" }
return model
