-- conformance case additive_attention (written by tests/conformance/golden.py)
local in0 = Input { shape = { 4, 3 } }
local in1 = Input { shape = { 5, 2 } }
local in2 = Input { shape = { 5, 3 } }
local q = GRU { 3, return_sequences = true }(in0)
local c = AdditiveAttention {  }({ q, in1, in2 })
local d, w = AdditiveAttention { use_scale = false }({ q, in2 }, { use_causal_mask = true, return_attention_scores = true })
local j = Concatenate {}({ c, d, w })
local y = Dense { 2 }(j)
local model = Model { inputs = { in0, in1, in2 }, outputs = { y } }
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
