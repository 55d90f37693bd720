-- conformance case gru_dropout (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 4, 2 }, return_sequences = true, dropout = 0.25, recurrent_dropout = 0.3 },
  GRU { 3, return_sequences = true, dropout = 0.2, recurrent_dropout = 0.5, reset_after = false },
  Bidirectional { SimpleRNN { 2, dropout = 0.3, recurrent_dropout = 0.2 } },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "sparse_categorical_crossentropy" }
return model
