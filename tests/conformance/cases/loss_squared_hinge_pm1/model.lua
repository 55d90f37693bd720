-- conformance case loss_squared_hinge_pm1 (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 3, 2 } },
  Dense { 2, activation = "tanh" },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "squared_hinge" }
return model
