-- conformance case dense_bce_from_logits (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 2, input_shape = { 3 } },
}
model:compile { optimizer = "adamw", loss = BinaryCrossentropy { from_logits = true } }
return model
