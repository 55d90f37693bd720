-- conformance case opt_nadam_piecewise (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 2 } },
  Dense { 2 },
}
model:compile { optimizer = Nadam { learning_rate = PiecewiseConstantDecay { boundaries = { 4, 11 }, values = { 0.05, 0.02, 0.005 } } }, loss = "mse" }
return model
