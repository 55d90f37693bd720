-- conformance case attention_dot_scale_causal_scores (written by tests/conformance/golden.py)
local in0 = Input { shape = { 4, 3 } }
local in1 = Input { shape = { 5, 3 } }
local q = LSTM { 3, return_sequences = true }(in0)
local c, w = Attention { use_scale = true }({ q, in1 }, { use_causal_mask = true, return_attention_scores = true })
local j = Concatenate {}({ c, w })
local y = Dense { 2 }(j)
local model = Model { inputs = { in0, in1 }, outputs = { y } }
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mse" }
return model
