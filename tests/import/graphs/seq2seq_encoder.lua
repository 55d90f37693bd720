-- The encoder INFERENCE model of Keras's character-level seq2seq example
-- (keras-io examples/nlp/lstm_seq2seq.py: encoder_model =
-- Model(encoder_inputs, encoder_states)), built on the weights `rnnc import`
-- wrote for the trained training model: rnnc loads weights by layer name, so
-- the LSTM keeps the imported encoder's name ("lstm"). Used by
-- tests/import/run.sh and shown in README ("Functional models").
local latent_dim, num_encoder_tokens = 4, 5
local encoder_inputs = Input { shape = { None, num_encoder_tokens }, name = "encoder_inputs" }
local _, state_h, state_c = LSTM { latent_dim, return_state = true, name = "lstm" }(encoder_inputs)
return Model { inputs = encoder_inputs, outputs = { state_h, state_c }, name = "encoder" }
