-- conformance case simple_rnn_return_state (written by tests/conformance/golden.py)
local x = Input { shape = { 3, 2 } }
local y0, y1 = SimpleRNN { 3, return_sequences = true, return_state = true }(x)
local model = Model { inputs = { x }, outputs = { y0, y1 } }
model:compile { optimizer = SGD { learning_rate = 0.05 }, loss = "mse" }
return model
