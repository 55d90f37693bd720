-- conformance case bidir_gru_before_ave (written by tests/conformance/golden.py)
local model = Sequential {
  Bidirectional { GRU { 2, activation = "relu", return_sequences = true, reset_after = false }, input_shape = { 3, 3 }, merge_mode = "ave" },
  TimeDistributed { Dense { 2, activation = "sigmoid" } },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01, centered = true, momentum = 0.5 }, loss = "binary_crossentropy" }
return model
