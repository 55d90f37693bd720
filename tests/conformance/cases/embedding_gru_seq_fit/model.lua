-- conformance case embedding_gru_seq_fit (written by tests/conformance/golden.py)
local model = Sequential {
  Embedding { 5, 2, input_shape = { 4 }, embeddings_regularizer = L2 { l2 = 0.05 }, embeddings_constraint = MaxNorm { max_value = 0.8, axis = 1 } },
  GRU { 3, return_sequences = true },
  TimeDistributed { Dense { 2 } },
}
model:compile { optimizer = SGD { learning_rate = 0.1, momentum = 0.5 }, loss = "mse" }
return model
