-- conformance case simple_rnn_initial_state_lstm_state (written by tests/conformance/golden.py)
local x = Input { shape = { 3, 2 } }
local s0_0 = Input { shape = { 3 } }
local h0 = SimpleRNN { 3, return_sequences = true }(x, { initial_state = { s0_0 } })
local y0, y1, y2 = LSTM { 2, return_state = true }(h0)
local model = Model { inputs = { x, s0_0 }, outputs = { y0, y1, y2 } }
model:compile { optimizer = RMSprop { learning_rate = 0.01, rho = 0.95, epsilon = 1e-06 }, loss = "mse" }
return model
