-- The C API with integer tokens (tests/units/test_tokens.c): an Embedding
-- first, then a tagger, so that a bad token has a sample and a step to name.
local model = Sequential {
  Embedding { 5, 3, input_length = 4 },
  GRU { 3, return_sequences = true },
  Dense { 2, activation = "softmax" },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy" }
return model
