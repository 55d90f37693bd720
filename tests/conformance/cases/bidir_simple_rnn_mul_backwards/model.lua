-- conformance case bidir_simple_rnn_mul_backwards (written by tests/conformance/golden.py)
local model = Sequential {
  Bidirectional { SimpleRNN { 3, return_sequences = true, go_backwards = true }, input_shape = { 3, 2 }, merge_mode = "mul" },
  Dense { 1 },
}
model:compile { optimizer = SGD { learning_rate = ExponentialDecay { initial_learning_rate = 0.2, decay_steps = 4, decay_rate = 0.7, staircase = true } }, loss = "mse" }
return model
