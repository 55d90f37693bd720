-- The examples' model (examples/c, examples/cmake): from the readings of a
-- sensor so far, predict its next reading. An LSTM over 16 steps of one
-- value, a prediction at every step; it streams (one reading per call).
local model = Sequential {
  LSTM { 8, input_shape = { 16, 1 }, return_sequences = true },
  TimeDistributed { Dense { 1 } },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "mse", metrics = { "mae" } }
model:fit { epochs = 40, batch_size = 16, verbose = 0 }
return model
