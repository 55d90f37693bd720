-- conformance case spatial_dropout_lstm (written by tests/conformance/golden.py)
local model = Sequential {
  SpatialDropout1D { 0.3, input_shape = { 4, 2 } },
  LSTM { 3, return_sequences = true },
  Dropout { 0.4, noise_shape = { None, 1, None } },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
