-- conformance case conv1d_valid_softmax_fused (written by tests/conformance/golden.py)
local model = Sequential {
  Conv1D { 3, 2, input_shape = { 4, 2 }, activation = "softmax" },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "sparse_categorical_crossentropy" }
return model
