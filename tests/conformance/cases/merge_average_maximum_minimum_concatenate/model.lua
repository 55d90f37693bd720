-- conformance case merge_average_maximum_minimum_concatenate (written by tests/conformance/golden.py)
local in0 = Input { shape = { 4, 2 } }
local in1 = Input { shape = { 3 } }
local r = GRU { 3 }(in0)
local v = Dense { 3, activation = "sigmoid" }(in1)
local w = Dense { 3 }(in1)
local mx = Maximum {}({ r, v })
local mn = Minimum {}({ r, v, w })
local av = Average {}({ mx, mn })
local c = Concatenate {}({ av, r, in1 })
local y = Dense { 3, activation = "softmax" }(c)
local model = Model { inputs = { in0, in1 }, outputs = { y } }
model:compile { optimizer = SGD { learning_rate = 0.1 }, loss = "sparse_categorical_crossentropy" }
return model
