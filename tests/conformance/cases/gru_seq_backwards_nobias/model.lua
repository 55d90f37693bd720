-- conformance case gru_seq_backwards_nobias (written by tests/conformance/golden.py)
local model = Sequential {
  GRU { 3, input_shape = { 4, 2 }, activation = "relu", recurrent_activation = "hard_sigmoid_keras2", use_bias = false, return_sequences = true, go_backwards = true },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = Adagrad { learning_rate = 0.1, initial_accumulator_value = 0.5, epsilon = 1e-06 }, loss = "sparse_categorical_crossentropy" }
return model
