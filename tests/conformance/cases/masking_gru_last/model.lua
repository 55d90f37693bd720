-- conformance case masking_gru_last (written by tests/conformance/golden.py)
local model = Sequential {
  Masking { input_shape = { 4, 2 }, mask_value = 0.5 },
  GRU { 3 },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "mse" }
return model
