-- conformance case embedding_lstm_sparse (written by tests/conformance/golden.py)
local model = Sequential {
  Embedding { 7, 3, input_shape = { 5 } },
  LSTM { 4, return_sequences = true },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "sparse_categorical_crossentropy" }
return model
