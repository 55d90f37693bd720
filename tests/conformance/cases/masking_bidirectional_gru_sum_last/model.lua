-- conformance case masking_bidirectional_gru_sum_last (written by tests/conformance/golden.py)
local model = Sequential {
  Masking { input_shape = { 4, 3 } },
  Bidirectional { GRU { 2 }, merge_mode = "sum" },
  Dense { 2, activation = "sigmoid" },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "binary_crossentropy" }
return model
