-- conformance case attention_concat_key (written by tests/conformance/golden.py)
local in0 = Input { shape = { 4, 3 } }
local in1 = Input { shape = { 5, 2 } }
local in2 = Input { shape = { 5, 3 } }
local q = Dense { 3, activation = "tanh" }(in0)
local c = Attention { score_mode = "concat", use_scale = true }({ q, in1, in2 })
local d = Attention { score_mode = "concat" }({ q, q }, { use_causal_mask = true })
local j = Concatenate {}({ c, d })
local y = Dense { 2 }(j)
local model = Model { inputs = { in0, in1, in2 }, outputs = { y } }
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mse" }
return model
