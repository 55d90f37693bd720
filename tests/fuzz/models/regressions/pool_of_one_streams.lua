-- A pooling of one step moved by one (the identity) after an Embedding and
-- a PReLU: its stream program read steps_out rows of a one-step input, an
-- internal error (found by make test's fuzzer cases, seed 20261204, case
-- 100, once Embedding joined the draws).
local x = Input { shape = { 4 } }
local h1 = Embedding { 5, 2, embeddings_regularizer = "l2" }(x)
local h2 = PReLU { shared_axes = { 1 } }(h1)
local h3 = MaxPooling1D { 1, padding = "same" }(h2)
local h4 = GRU { 6 }(h3)
local model = Model { inputs = x, outputs = { h4 } }
model:compile { optimizer = Ftrl { l1_regularization_strength = 0.01, beta = 0.5 },
  loss = SparseCategoricalCrossentropy { from_logits = true } }
return model
