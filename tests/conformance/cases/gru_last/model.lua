-- conformance case gru_last (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 3, 2 } },
  Dense { 2, activation = "sigmoid" },
}
model:compile { optimizer = AdamW { learning_rate = 0.01, weight_decay = 0.1 }, loss = "binary_crossentropy" }
return model
