-- conformance case simple_rnn_backwards_hard_sigmoid (written by tests/conformance/golden.py)
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 2 }, activation = "hard_sigmoid_keras2", return_sequences = true, go_backwards = true },
  Dense { 2 },
}
model:compile { optimizer = RMSprop { learning_rate = 0.01, momentum = 0.5 }, loss = MeanAbsoluteError {  } }
return model
