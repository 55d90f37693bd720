-- A Bidirectional GRU(128) tagger over @T@ steps of 8 features (bench/generation.sh).
return Sequential {
  Bidirectional { GRU { 128, return_sequences = true }, input_shape = { @T@, 8 } },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
