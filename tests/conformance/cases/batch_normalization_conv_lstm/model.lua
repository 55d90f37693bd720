-- conformance case batch_normalization_conv_lstm (written by tests/conformance/golden.py)
local model = Sequential {
  Conv1D { 3, 2, input_shape = { 4, 2 }, padding = "causal", use_bias = false },
  BatchNormalization { momentum = 0.9 },
  LSTM { 3 },
  BatchNormalization { center = false, epsilon = 0.01 },
  Dense { 2, activation = "softmax" },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "sparse_categorical_crossentropy" }
return model
