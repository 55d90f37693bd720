-- conformance case gru_before_seq_backwards_nobias (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 3, 2 }, activation = "hard_sigmoid_keras2", recurrent_activation = "linear", use_bias = false, return_sequences = true, go_backwards = true, reset_after = false },
  TimeDistributed { Dense { 2 } },
}
model:compile { optimizer = Adam { learning_rate = 0.05, global_clipnorm = 0.1 }, loss = "mean_absolute_error" }
return model
