-- Seed model 13: the tagger with an LSTM and a four-word vocabulary
-- (John, loves, Jane, Alex one-hot), tags S=0, V=1, O=2.
local model = Sequential {
  LSTM { 3, input_shape = { 3, 4 }, return_sequences = true },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
