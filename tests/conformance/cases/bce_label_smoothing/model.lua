-- conformance case bce_label_smoothing (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 3 }, activation = "tanh" },
  Dense { 2, activation = "sigmoid" },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = BinaryCrossentropy { label_smoothing = 0.2 } }
return model
