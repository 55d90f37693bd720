-- The GRU twin of seed model 13: GRU(3, reset_after=False), as the tutorial ran it.
local model = Sequential {
  GRU { 3, input_shape = { 3, 4 }, return_sequences = true, reset_after = false },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
