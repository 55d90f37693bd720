-- conformance case frozen_dense_lstm (written by tests/conformance/golden.py)
local model = Sequential {
  TimeDistributed { Dense { 3, activation = "tanh" }, input_shape = { 4, 2 } },
  LSTM { 3, return_sequences = true, trainable = false },
  BatchNormalization { momentum = 0.9, trainable = false },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
