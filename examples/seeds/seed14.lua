-- Seed model 14: LSTM(20, relu), Dense(5, relu), Dense(1)
return Sequential {
  LSTM { 20, activation = "relu", input_shape = { 3, 1 } },
  Dense { 5, activation = "relu" },
  Dense { 1 },
}
