-- conformance case masking_zero_output_stack (written by tests/conformance/golden.py)
local model = Sequential {
  Masking { input_shape = { 4, 2 }, mask_value = -1.0 },
  LSTM { 3, return_sequences = true, zero_output_for_mask = true },
  GRU { 2, go_backwards = true, reset_after = false },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "mse" }
return model
