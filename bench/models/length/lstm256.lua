-- LSTM(256) over @T@ steps of 8 features (bench/generation.sh).
return Sequential { LSTM { 256, input_shape = { @T@, 8 } }, Dense { 1 } }
