-- conformance case bidir_lstm_none_state (written by tests/conformance/golden.py)
local x = Input { shape = { 3, 2 } }
local y0, y1, y2, y3, y4, y5 = Bidirectional { LSTM { 2, return_state = true }, merge_mode = None }(x)
local model = Model { inputs = { x }, outputs = { y0, y1, y2, y3, y4, y5 } }
model:compile { optimizer = RMSprop { learning_rate = 0.01, centered = true, legacy = true }, loss = "mse" }
return model
