-- Seed model 2: SimpleRNN(3, batch_input_shape=(8, 2, 10))
return Sequential {
  SimpleRNN { 3, batch_input_shape = { 8, 2, 10 } },
}
