-- Keras's initial_state=: an LSTM that starts from caller-given h0 and c0,
-- followed by a Dense read-out.
local x = Input { shape = { 4, 3 } }
local h0 = Input { shape = { 5 } }
local c0 = Input { shape = { 5 } }
local seq = LSTM { 5, return_sequences = true }(x, { initial_state = { h0, c0 } })
local y = Dense { 2 }(seq)
local model = Model { inputs = { x, h0, c0 }, outputs = y }
model:compile { optimizer = "adam", loss = "mse" }
return model
