-- The run-time data checks' tests (tests/units/test_datacheck.c): a sequence
-- tagger with one sparse label per timestep, so that a bad label has a
-- sample and a timestep to name.
local model = Sequential {
  SimpleRNN { 4, input_shape = { 3, 2 }, return_sequences = true },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
