-- The seed's functional model: a SimpleRNN exposing its sequence and its last
-- state, Model(inputs=Input(shape=(1, 2)), outputs=[output, state]).
local inputs = Input { shape = { 1, 2 } }
local output, state = SimpleRNN { 3, return_sequences = true, return_state = true }(inputs)
return Model { inputs = inputs, outputs = { output, state } }
