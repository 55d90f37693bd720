-- conformance case lstm_gru_stack_schedule (written by tests/conformance/golden.py)
local model = Sequential {
  LSTM { 3, input_shape = { 3, 2 }, return_sequences = true },
  GRU { 3, activation = "sigmoid", recurrent_activation = "tanh", return_sequences = true, reset_after = false },
  TimeDistributed { Dense { 2, activation = "softmax" } },
}
model:compile { optimizer = Adam { learning_rate = ExponentialDecay { initial_learning_rate = 0.05, decay_steps = 5, decay_rate = 0.5 } }, loss = "categorical_crossentropy" }
return model
