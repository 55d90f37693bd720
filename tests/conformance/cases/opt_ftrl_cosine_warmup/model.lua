-- conformance case opt_ftrl_cosine_warmup (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "relu" },
  Dense { 2 },
}
model:compile { optimizer = Ftrl { learning_rate = CosineDecay { initial_learning_rate = 0.05, decay_steps = 10, alpha = 0.1, warmup_target = 0.2, warmup_steps = 4 }, l1_regularization_strength = 0.01, l2_regularization_strength = 0.02, l2_shrinkage_regularization_strength = 0.03, beta = 0.5, learning_rate_power = -0.6 }, loss = "mse" }
return model
