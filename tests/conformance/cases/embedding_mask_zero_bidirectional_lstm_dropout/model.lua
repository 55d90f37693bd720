-- conformance case embedding_mask_zero_bidirectional_lstm_dropout (written by tests/conformance/golden.py)
local model = Sequential {
  Embedding { 7, 3, input_shape = { 5 }, mask_zero = true },
  Bidirectional { LSTM { 2, return_sequences = true, dropout = 0.3, recurrent_dropout = 0.4 } },
  Dropout { 0.25 },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "sparse_categorical_crossentropy" }
return model
