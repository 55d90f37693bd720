-- conformance case dense_softmax_cce_fused (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3 }, activation = "relu" },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = "adam", loss = "categorical_crossentropy" }
return model
