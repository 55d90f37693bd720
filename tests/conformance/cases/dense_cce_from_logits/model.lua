-- conformance case dense_cce_from_logits (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "tanh" },
  Dense { 3 },
}
model:compile { optimizer = "adagrad", loss = CategoricalCrossentropy { from_logits = true } }
return model
