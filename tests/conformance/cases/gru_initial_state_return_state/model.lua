-- conformance case gru_initial_state_return_state (written by tests/conformance/golden.py)
local x = Input { shape = { 3, 2 } }
local s0_0 = Input { shape = { 3 } }
local y0, y1 = GRU { 3, return_state = true, go_backwards = true }(x, { initial_state = { s0_0 } })
local model = Model { inputs = { x, s0_0 }, outputs = { y0, y1 } }
model:compile { optimizer = Adagrad { learning_rate = 0.05 }, loss = "mae" }
return model
