-- conformance case simple_rnn_seq_relu_nobias (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 4, input_shape = { 4, 3 }, activation = "relu", use_bias = false, return_sequences = true },
  TimeDistributed { Dense { 3, activation = "softmax" } },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "sparse_categorical_crossentropy" }
return model
