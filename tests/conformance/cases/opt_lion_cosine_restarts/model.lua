-- conformance case opt_lion_cosine_restarts (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 2, input_shape = { 3, 2 } },
  Dense { 2 },
}
model:compile { optimizer = Lion { learning_rate = CosineDecayRestarts { initial_learning_rate = 0.01, first_decay_steps = 3, t_mul = 1.5, m_mul = 0.8, alpha = 0.05 } }, loss = "mse" }
return model
