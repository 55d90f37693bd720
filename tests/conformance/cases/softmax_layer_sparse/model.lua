-- conformance case softmax_layer_sparse (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 4, input_shape = { 3, 2 } },
  Dense { 3 },
  Softmax {  },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "sparse_categorical_crossentropy" }
return model
