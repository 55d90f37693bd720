-- A layer called twice (one set of weights shared by two calls): once an
-- internal error from inside the generator; now refused with the layer named.
local inputs = Input { shape = { 4, 3 } }
local rnn = SimpleRNN { 5, return_sequences = true }
local a = rnn(inputs)
local b = rnn(a)
return Model { inputs = inputs, outputs = b }
