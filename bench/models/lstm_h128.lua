-- Streaming benchmark: LSTM(in 1, 128) -> Dense(1), one timestep per call.
return Sequential { LSTM { 128, input_shape = { 1, 1 }, return_sequences = true }, Dense { 1 } }
