-- Seed model 8: LSTM(7, input_shape=(100, 5))
return Sequential {
  LSTM { 7, input_shape = { 100, 5 } },
}
