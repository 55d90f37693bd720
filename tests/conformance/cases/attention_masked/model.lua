-- conformance case attention_masked (written by tests/conformance/golden.py)
local in0 = Input { shape = { 4, 3 } }
local in1 = Input { shape = { 5, 2 } }
local in2 = Input { shape = { 5, 3 } }
local mq = Masking {  }(in0)
local mv = Masking {  }(in1)
local mk = Masking {  }(in2)
local q = LSTM { 3, return_sequences = true }(mq)
local c = Attention { use_scale = true }({ q, mv, mk }, { use_causal_mask = true })
local d = AdditiveAttention {  }({ c, mv })
local e = MultiHeadAttention { num_heads = 2, key_dim = 2 }(d, mv, mk, { use_causal_mask = true })
local y = Dense { 2 }(e)
local model = Model { inputs = { in0, in1, in2 }, outputs = { y } }
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mse" }
return model
