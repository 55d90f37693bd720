-- conformance case cce_label_smoothing_probs (written by tests/conformance/golden.py)
local model = Sequential {
  Dense { 3, input_shape = { 4 }, activation = "sigmoid" },
}
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = CategoricalCrossentropy { label_smoothing = 0.3 } }
return model
