-- The inference decoder of Keras's character-level sequence-to-sequence
-- example (lstm_seq2seq.py, "Define sampling models"): one character and the
-- states h, c to the softmax over the next character and the new h, c. Its
-- layers are train.lua's `decoder_lstm` and `decoder_dense` (same names,
-- same sizes): the unit loads the training model's weight file.
local num_decoder_tokens = 13
local latent_dim = 128

local decoder_inputs = Input { shape = { 1, num_decoder_tokens }, name = "decoder_inputs" }
local decoder_state_input_h = Input { shape = { latent_dim }, name = "decoder_state_input_h" }
local decoder_state_input_c = Input { shape = { latent_dim }, name = "decoder_state_input_c" }
local decoder_states_inputs = { decoder_state_input_h, decoder_state_input_c }
local decoder_lstm = LSTM { latent_dim, return_sequences = true, return_state = true, name = "decoder_lstm" }
local decoder_outputs, state_h_dec, state_c_dec =
  decoder_lstm(decoder_inputs, { initial_state = decoder_states_inputs })
local decoder_dense = Dense { num_decoder_tokens, activation = "softmax", name = "decoder_dense" }
decoder_outputs = decoder_dense(decoder_outputs)
return Model { inputs = { decoder_inputs, decoder_state_input_h, decoder_state_input_c },
  outputs = { decoder_outputs, state_h_dec, state_c_dec } }
