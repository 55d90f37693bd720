-- Seed model 12: the sequence tagger.
return Sequential {
  SimpleRNN { 3, input_shape = { 3, 3 }, return_sequences = true },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
