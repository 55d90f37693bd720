-- conformance case shared_dense_concatenate_time_states (written by tests/conformance/golden.py)
local in0 = Input { shape = { 3, 2 } }
local in1 = Input { shape = { 2, 2 } }
local layer0 = Dense { 3, activation = "tanh" }
local a = layer0(in0)
local b = layer0(in1)
local c = Concatenate { axis = 1 }({ a, b })
local h, s = SimpleRNN { 2, return_state = true }(c)
local g = SimpleRNN { 2 }(a, { initial_state = { s } })
local e = Add {}({ h, g, s })
local y = Dense { 2 }(e)
local model = Model { inputs = { in0, in1 }, outputs = { y } }
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "mae" }
return model
