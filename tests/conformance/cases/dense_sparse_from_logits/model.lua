-- conformance case dense_sparse_from_logits (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "relu" },
  Dense { 4 },
}
model:compile { loss = SparseCategoricalCrossentropy { from_logits = true } }
return model
