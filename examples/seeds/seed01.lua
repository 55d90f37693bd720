-- Seed model 1: SimpleRNN(3, input_shape=(2, 10))
return Sequential {
  SimpleRNN { 3, input_shape = { 2, 10 } },
}
