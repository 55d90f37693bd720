-- Seed model 14: predict the next number of an arithmetic sequence.
local model = Sequential {
  LSTM { 20, activation = "relu", input_shape = { 3, 1 } },
  Dense { 5, activation = "relu" },
  Dense { 1 },
}
model:compile { optimizer = "adam", loss = "mse" }
return model
