-- Training benchmark: a CNN-LSTM, Conv1D(32 filters, kernel 3, relu) over
-- 200 timesteps of 8 features, LSTM(64), the last h into Dense(1), mean
-- squared error, Adam (batch 32).
local model = Sequential {
  Conv1D { 32, 3, activation = "relu", input_shape = { 200, 8 } },
  LSTM { 64 },
  Dense { 1 },
}
model:compile { optimizer = "adam", loss = "mse" }
return model
