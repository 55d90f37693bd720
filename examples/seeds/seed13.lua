-- Seed model 13: LSTM(3, input_shape=(3, 4), return_sequences=True), Dense(3, softmax)
return Sequential {
  LSTM { 3, input_shape = { 3, 4 }, return_sequences = true },
  Dense { 3, activation = "softmax" },
}
