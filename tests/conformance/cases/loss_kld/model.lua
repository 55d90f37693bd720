-- conformance case loss_kld (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 } },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = Adam { learning_rate = 0.02 }, loss = "kl_divergence" }
return model
