-- conformance case merge_add_subtract_multiply (written by tests/conformance/golden.py)
local in0 = Input { shape = { 3, 2 } }
local in1 = Input { shape = { 3, 2 } }
local a = Dense { 3, activation = "tanh" }(in0)
local b = LSTM { 3, return_sequences = true }(in1)
local s = Add {}({ a, b })
local d = Subtract {}({ a, b })
local m = Multiply {}({ s, d, a })
local y = Dense { 2 }(m)
local model = Model { inputs = { in0, in1 }, outputs = { y } }
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
