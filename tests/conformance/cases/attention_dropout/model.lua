-- conformance case attention_dropout (written by tests/conformance/golden.py)
local in0 = Input { shape = { 4, 3 } }
local in1 = Input { shape = { 5, 3 } }
local q = GRU { 3, return_sequences = true }(in0)
local c = Attention { use_scale = true, dropout = 0.3 }({ q, in1 }, { use_causal_mask = true })
local d = AdditiveAttention { dropout = 0.2, seed = 7 }({ q, in1 })
local e = MultiHeadAttention { num_heads = 2, key_dim = 2, dropout = 0.25 }(c, in1)
local j = Concatenate {}({ c, d, e })
local y = Dense { 2 }(j)
local model = Model { inputs = { in0, in1 }, outputs = { y } }
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mse" }
return model
