-- A tagger for sentences of any length up to the one given at generation
-- time (rnnc generate ... --timesteps T): the time dimension is None.
local model = Sequential {
  GRU { 8, input_dim = 5, return_sequences = true, go_backwards = true },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
