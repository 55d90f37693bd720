-- Seed model 14: predict the next number of an arithmetic sequence.
local model = Sequential {
  LSTM { 20, activation = "relu", input_shape = { 3, 1 } },
  Dense { 5, activation = "relu" },
  Dense { 1 },
}
model:compile { optimizer = "adam", loss = "mse" }
model:fit { epochs = 1000, batch_size = 1, callbacks = { EarlyStopping { monitor = "loss", patience = 10, mode = "auto" } } }
return model
