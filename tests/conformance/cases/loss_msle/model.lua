-- conformance case loss_msle (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 2 } },
  Dense { 2, activation = "softplus" },
}
model:compile { optimizer = Adam { learning_rate = 0.05 }, loss = MeanSquaredLogarithmicError {  } }
return model
