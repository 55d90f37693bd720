-- conformance case layer_normalization_rms (written by tests/conformance/golden.py)
local model = Sequential {
  LayerNormalization { input_shape = { 3, 3 } },
  SimpleRNN { 3, return_sequences = true },
  LayerNormalization { rms_scaling = true, epsilon = 0.01 },
  Dense { 2 },
}
model:compile { optimizer = AdamW { learning_rate = 0.01, weight_decay = 0.1 }, loss = "mse" }
return model
