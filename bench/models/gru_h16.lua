-- Streaming benchmark: GRU(in 1, 16) (reset_after = true, Keras's default) -> Dense(1).
return Sequential { GRU { 16, input_shape = { 1, 1 }, return_sequences = true }, Dense { 1 } }
