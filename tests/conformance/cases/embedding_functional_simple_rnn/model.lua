-- conformance case embedding_functional_simple_rnn (written by tests/conformance/golden.py)
local x = Input { shape = { 3 } }
local h0 = Embedding { 9, 4 }(x)
local h1 = SimpleRNN { 3 }(h0)
local y0 = Dense { 2, activation = "tanh" }(h1)
local model = Model { inputs = { x }, outputs = { y0 } }
model:compile { optimizer = RMSprop { learning_rate = 0.01 }, loss = "mae" }
return model
