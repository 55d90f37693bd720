-- conformance case masking_gru_dropout_last (written by tests/conformance/golden.py)
local model = Sequential {
  Masking { input_shape = { 4, 2 } },
  GRU { 3, dropout = 0.2, recurrent_dropout = 0.3 },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mse" }
return model
