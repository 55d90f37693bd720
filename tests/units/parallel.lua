-- The data-parallel tests (tests/units/test_parallel.c): an LSTM tagger with
-- sparse labels and Adam, small enough to train many times over.
local model = Sequential {
  LSTM { 6, input_shape = { 4, 3 }, return_sequences = true },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
