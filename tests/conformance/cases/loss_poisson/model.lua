-- conformance case loss_poisson (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 4 }, activation = "exponential" },
}
model:compile { optimizer = SGD { learning_rate = 0.05 }, loss = Poisson {  } }
return model
