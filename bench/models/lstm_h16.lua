-- Streaming benchmark: LSTM(in 1, 16) -> Dense(1), one timestep per call.
return Sequential { LSTM { 16, input_shape = { 1, 1 }, return_sequences = true }, Dense { 1 } }
