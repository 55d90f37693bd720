-- conformance case bidir_gru_concat_last_nobias (written by tests/conformance/golden.py)
local model = Sequential {
  Bidirectional { GRU { 2, use_bias = false }, input_shape = { 3, 3 } },
  Dense { 1 },
}
model:compile { optimizer = SGD { learning_rate = 0.05, momentum = 0.8 }, loss = "mse" }
return model
