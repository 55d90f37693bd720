-- conformance case conv1d_causal_dilated_lstm (written by tests/conformance/golden.py)
local model = Sequential {
  Conv1D { 3, 2, input_shape = { 5, 2 }, padding = "causal", dilation_rate = 2, activation = "relu" },
  LSTM { 3 },
  Dense { 1 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
