-- conformance case opt_adadelta_polynomial (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 2, input_shape = { 3, 2 } },
  Dense { 2 },
}
model:compile { optimizer = Adadelta { learning_rate = PolynomialDecay { initial_learning_rate = 1.0, decay_steps = 6, end_learning_rate = 0.1, power = 2.0, cycle = true } }, loss = "mse" }
return model
