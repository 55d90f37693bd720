local model = Sequential {
  Embedding { 7, 1, input_shape = { 6 }, embeddings_regularizer = "l2" },
  Bidirectional {
    GRU { 7, return_sequences = true, activation = "leaky_relu", recurrent_activation = "sigmoid" },
    merge_mode = "sum",
  },
  GRU { 5 },
  PReLU { shared_axes = { 1 } },
  Dense { 4 },
}
model:compile { optimizer = "sgd", loss = CategoricalCrossentropy { from_logits = true } }
return model
