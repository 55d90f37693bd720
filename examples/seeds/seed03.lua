-- Seed model 3: SimpleRNN(3, batch_input_shape=(8, 2, 10), return_sequences=True)
return Sequential {
  SimpleRNN { 3, batch_input_shape = { 8, 2, 10 }, return_sequences = true },
}
