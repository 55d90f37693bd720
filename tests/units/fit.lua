-- The training loop's tests (tests/units/test_fit.c): a small sequence
-- classifier, sparse labels, Adam, accuracy.
local model = Sequential {
  SimpleRNN { 4, input_shape = { 3, 2 } },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
