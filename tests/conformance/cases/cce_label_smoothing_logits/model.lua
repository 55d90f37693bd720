-- conformance case cce_label_smoothing_logits (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 3, 2 } },
  Dense { 3 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = CategoricalCrossentropy { from_logits = true, label_smoothing = 0.1 } }
return model
