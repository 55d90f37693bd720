-- conformance case embedding_mask_zero_gru_last (written by tests/conformance/golden.py)
local model = Sequential {
  Embedding { 5, 2, input_shape = { 4 }, mask_zero = true },
  GRU { 3 },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mse" }
return model
