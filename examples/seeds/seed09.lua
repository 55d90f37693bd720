-- Seed model 9: LSTM(5, input_shape=(2, 10)), Dense(1)
return Sequential {
  LSTM { 5, input_shape = { 2, 10 } },
  Dense { 1 },
}
