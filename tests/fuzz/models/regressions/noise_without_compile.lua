local model = Sequential {
  ELU { alpha = 1.0, input_shape = { 5, 5 } },
  GaussianDropout { 0.4 },
  Dropout { 0.2, seed = 7 },
  LSTM { 4, go_backwards = true, dropout = 0.2 },
}
return model
