-- The sequence tagger of the Keras tutorials (seed model 12): one-hot words
-- in, a tag (S=0, V=1, O=2) out at every timestep.
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 3 }, return_sequences = true },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
