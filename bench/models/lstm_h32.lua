-- Streaming benchmark: LSTM(in 1, 32) -> Dense(1), one timestep per call.
return Sequential { LSTM { 32, input_shape = { 1, 1 }, return_sequences = true }, Dense { 1 } }
