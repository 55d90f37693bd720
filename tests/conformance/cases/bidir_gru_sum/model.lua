-- conformance case bidir_gru_sum (written by tests/conformance/golden.py)
local model = Sequential {
  Bidirectional { GRU { 3 }, input_shape = { 4, 2 }, merge_mode = "sum" },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01, legacy = true }, loss = "sparse_categorical_crossentropy" }
return model
