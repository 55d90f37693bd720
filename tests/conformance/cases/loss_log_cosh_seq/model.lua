-- conformance case loss_log_cosh_seq (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 3, 2 }, return_sequences = true },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.2 }, loss = "log_cosh" }
return model
