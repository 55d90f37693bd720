-- conformance case opt_adamax_inverse_time (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "tanh" },
  Dense { 2 },
}
model:compile { optimizer = Adamax { learning_rate = InverseTimeDecay { initial_learning_rate = 0.05, decay_steps = 3, decay_rate = 0.5, staircase = true } }, loss = "mae" }
return model
