-- Training benchmark: LSTM(128) over 50 timesteps of 32 features, the last h
-- into Dense(10, softmax), sparse categorical crossentropy, Adam (batch 32).
local model = Sequential {
  LSTM { 128, input_shape = { 50, 32 } },
  Dense { 10, activation = "softmax" },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy" }
return model
