-- conformance case dense_sparse_probabilities (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "sigmoid" },
}
model:compile { optimizer = "rmsprop", loss = SparseCategoricalCrossentropy {  } }
return model
