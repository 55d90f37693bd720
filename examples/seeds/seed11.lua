-- Seed model 11: GRU(9, input_dim=10, return_sequences=True, reset_after=False),
-- GRU(6, reset_after=False), Dense(3). The sequence length is unknown (None).
return Sequential {
  GRU { 9, input_dim = 10, return_sequences = true, reset_after = false },
  GRU { 6, reset_after = false },
  Dense { 3 },
}
