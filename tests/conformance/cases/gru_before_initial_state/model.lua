-- conformance case gru_before_initial_state (written by tests/conformance/golden.py)
local x = Input { shape = { 3, 2 } }
local s0_0 = Input { shape = { 3 } }
local h0 = GRU { 3, return_sequences = true, reset_after = false }(x, { initial_state = { s0_0 } })
local y0 = TimeDistributed { Dense { 3, activation = "softmax" } }(h0)
local model = Model { inputs = { x, s0_0 }, outputs = { y0 } }
model:compile { optimizer = Adam { learning_rate = 0.02, amsgrad = true }, loss = "sparse_categorical_crossentropy" }
return model
