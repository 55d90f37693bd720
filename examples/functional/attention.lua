-- A tagger that attends over its own LSTM states: each step's tag reads a
-- causal (Luong) attention, a Bahdanau attention and a two-head
-- self-attention over the sequence, side by side.
local x = Input { shape = { 6, 4 }, name = "x" }
local h = LSTM { 8, return_sequences = true }(x)
local luong = Attention { use_scale = true } ({ h, h }, { use_causal_mask = true })
local bahdanau = AdditiveAttention {} ({ h, h })
local heads = MultiHeadAttention { num_heads = 2, key_dim = 4 } (h, h)
local both = Concatenate {} ({ luong, bahdanau, heads })
local y = Dense { 3, activation = "softmax" }(both)
local model = Model { inputs = x, outputs = y }
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = { "accuracy" } }
return model
