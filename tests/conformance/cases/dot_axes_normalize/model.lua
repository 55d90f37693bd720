-- conformance case dot_axes_normalize (written by tests/conformance/golden.py)
local in0 = Input { shape = { 3, 2 } }
local in1 = Input { shape = { 4, 2 } }
local in2 = Input { shape = { 3 } }
local q = Dense { 3, activation = "tanh" }(in0)
local k = Dense { 3 }(in1)
local s = Dot { axes = 2 }({ q, k })
local t = Dot { axes = 1, normalize = true }({ s, q })
local u = Dense { 3, activation = "tanh" }(in2)
local w = Dense { 3 }(in2)
local v = Dot { axes = { 1, 1 }, normalize = true }({ u, w })
local f = Concatenate {}({ t, t })
local r = GRU { 2 }(f)
local c = Concatenate {}({ r, v })
local y = Dense { 2 }(c)
local model = Model { inputs = { in0, in1, in2 }, outputs = { y } }
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
