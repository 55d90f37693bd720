-- Seed model 6: four stacked Bidirectional(SimpleRNN(8, return_sequences=True))
return Sequential {
  Bidirectional { SimpleRNN { 8, return_sequences = true }, input_shape = { 10, 5 } },
  Bidirectional { SimpleRNN { 8, return_sequences = true } },
  Bidirectional { SimpleRNN { 8, return_sequences = true } },
  Bidirectional { SimpleRNN { 8, return_sequences = true } },
}
