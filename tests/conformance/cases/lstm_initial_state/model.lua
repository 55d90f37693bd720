-- conformance case lstm_initial_state (written by tests/conformance/golden.py)
local x = Input { shape = { 4, 3 } }
local s0_0 = Input { shape = { 3 } }
local s0_1 = Input { shape = { 3 } }
local h0 = LSTM { 3, return_sequences = true }(x, { initial_state = { s0_0, s0_1 } })
local y0 = Dense { 2 }(h0)
local model = Model { inputs = { x, s0_0, s0_1 }, outputs = { y0 } }
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = MeanSquaredError {  } }
return model
