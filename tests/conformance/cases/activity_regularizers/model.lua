-- conformance case activity_regularizers (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 4, input_shape = { 3, 2 }, activation = "relu", activity_regularizer = L1L2 { l1 = 0.01, l2 = 0.02 } },
  LSTM { 3, return_sequences = true, activity_regularizer = L2 { l2 = 0.05 } },
  GRU { 2, activity_regularizer = L1 { l1 = 0.03 } },
  Dense { 3, activation = "softmax", activity_regularizer = L2 { l2 = 0.04 } },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "sparse_categorical_crossentropy" }
return model
