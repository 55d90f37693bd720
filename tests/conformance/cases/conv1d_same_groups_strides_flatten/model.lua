-- conformance case conv1d_same_groups_strides_flatten (written by tests/conformance/golden.py)
local model = Sequential {
  Conv1D { 4, 3, input_shape = { 5, 4 }, padding = "same", strides = 2, groups = 2, activation = "tanh" },
  Flatten {  },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "sparse_categorical_crossentropy" }
return model
