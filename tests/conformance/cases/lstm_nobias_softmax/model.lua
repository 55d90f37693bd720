-- conformance case lstm_nobias_softmax (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 2, input_shape = { 4, 2 }, activation = "sigmoid", recurrent_activation = "tanh", use_bias = false },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01, centered = true }, loss = "categorical_crossentropy" }
return model
