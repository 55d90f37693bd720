-- Seed model 7: GRU(8, input_shape=(10, 5)), reset_after=True (the default)
return Sequential {
  GRU { 8, input_shape = { 10, 5 } },
}
