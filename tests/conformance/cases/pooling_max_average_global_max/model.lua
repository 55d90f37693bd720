-- conformance case pooling_max_average_global_max (written by tests/conformance/golden.py)
local model = Sequential {
  Conv1D { 4, 1, input_shape = { 5, 2 }, activation = "tanh" },
  MaxPooling1D { 2, padding = "same" },
  AveragePooling1D { 3, strides = 1, padding = "same" },
  GlobalMaxPooling1D {  },
  Dense { 2, activation = "sigmoid" },
}
model:compile { optimizer = Adagrad { learning_rate = 0.1 }, loss = "binary_crossentropy" }
return model
