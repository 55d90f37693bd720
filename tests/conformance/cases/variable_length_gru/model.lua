-- conformance case variable_length_gru (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { None, 2 }, return_sequences = true },
  TimeDistributed { Dense { 2, activation = "softmax" } },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "sparse_categorical_crossentropy" }
return model
