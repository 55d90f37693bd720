-- conformance case activity_regularization_layer (written by tests/conformance/golden.py)
local model = Sequential {
  ActivityRegularization { input_shape = { 4, 2 }, l1 = 0.01 },
  GRU { 3, return_sequences = true },
  ActivityRegularization { l1 = 0.02, l2 = 0.03 },
  Dense { 2 },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "mse" }
return model
