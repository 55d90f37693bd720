-- Seed model 5: Bidirectional(SimpleRNN(8, return_sequences=True), input_shape=(10, 5))
return Sequential {
  Bidirectional { SimpleRNN { 8, return_sequences = true }, input_shape = { 10, 5 } },
}
