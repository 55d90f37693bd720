-- conformance case opt_adam_cosine (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 2, input_shape = { 3 } },
}
model:compile { optimizer = Adam { learning_rate = CosineDecay { initial_learning_rate = 0.05, decay_steps = 8 } }, loss = "mse" }
return model
