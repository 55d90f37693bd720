-- LSTM(128) over @T@ steps of 8 features (bench/generation.sh: the cost of
-- generation must not grow with the sequence length).
return Sequential { LSTM { 128, input_shape = { @T@, 8 } }, Dense { 1 } }
