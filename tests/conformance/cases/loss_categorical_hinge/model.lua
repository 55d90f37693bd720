-- conformance case loss_categorical_hinge (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 4, input_shape = { 3, 2 }, return_sequences = true },
  Dense { 3 },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "categorical_hinge" }
return model
