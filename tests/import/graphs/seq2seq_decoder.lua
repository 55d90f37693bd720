-- The decoder INFERENCE model of Keras's character-level seq2seq example
-- (decoder_model = Model([decoder_inputs] + decoder_states_inputs,
-- [decoder_outputs] + decoder_states)): one step at a time from the states
-- it is given, returning the next states. The LSTM and the Dense keep the
-- imported decoder's names ("lstm_1", "dense"), so the imported weights
-- load as they are. Used by tests/import/run.sh and shown in README.
local latent_dim, num_decoder_tokens = 4, 6
local decoder_inputs = Input { shape = { None, num_decoder_tokens }, name = "decoder_inputs" }
local state_h = Input { shape = { latent_dim }, name = "state_h" }
local state_c = Input { shape = { latent_dim }, name = "state_c" }
local decoder_lstm = LSTM { latent_dim, return_sequences = true, return_state = true, name = "lstm_1" }
local decoder_outputs, h, c = decoder_lstm(decoder_inputs, { initial_state = { state_h, state_c } })
decoder_outputs = Dense { num_decoder_tokens, activation = "softmax", name = "dense" }(decoder_outputs)
return Model { inputs = { decoder_inputs, state_h, state_c }, outputs = { decoder_outputs, h, c }, name = "decoder" }
