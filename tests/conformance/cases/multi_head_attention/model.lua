-- conformance case multi_head_attention (written by tests/conformance/golden.py)
local in0 = Input { shape = { 4, 3 } }
local in1 = Input { shape = { 5, 2 } }
local in2 = Input { shape = { 5, 3 } }
local c = MultiHeadAttention { num_heads = 2, key_dim = 2 }(in0, in1)
local d = MultiHeadAttention { num_heads = 2, key_dim = 3, value_dim = 2, use_bias = false, output_shape = 4 }(in0, in1, in2, { use_causal_mask = true })
local e = MultiHeadAttention { num_heads = 1, key_dim = 2 }(c, c, { use_causal_mask = true })
local j = Concatenate {}({ c, d, e })
local y = Dense { 2 }(j)
local model = Model { inputs = { in0, in1, in2 }, outputs = { y } }
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "mse" }
return model
