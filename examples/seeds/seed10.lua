-- Seed model 10: LSTM(5, return_sequences=True), LSTM(7), Dense(1)
return Sequential {
  LSTM { 5, input_shape = { 2, 10 }, return_sequences = true },
  LSTM { 7 },
  Dense { 1 },
}
