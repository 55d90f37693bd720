-- Seed model 4: two stacked SimpleRNN(8) returning sequences
return Sequential {
  SimpleRNN { 8, input_length = 10, input_dim = 5, return_sequences = true },
  SimpleRNN { 8, return_sequences = true },
}
