-- conformance case loss_mape (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "tanh" },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mape" }
return model
