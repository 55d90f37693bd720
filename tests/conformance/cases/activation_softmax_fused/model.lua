-- conformance case activation_softmax_fused (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 }, return_sequences = true },
  Dense { 3 },
  Activation { "softmax" },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "categorical_crossentropy" }
return model
