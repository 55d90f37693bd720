-- The inference encoder of Keras's character-level sequence-to-sequence
-- example (lstm_seq2seq.py, "Define sampling models"): the input string to
-- the encoder LSTM's final states h and c. Its layer is train.lua's
-- `encoder_lstm` (same name, same sizes): the unit loads the training
-- model's weight file.
local num_encoder_tokens = 12
local max_encoder_seq_length = 7
local latent_dim = 128

local encoder_inputs = Input { shape = { max_encoder_seq_length, num_encoder_tokens }, name = "encoder_inputs" }
local _, state_h_enc, state_c_enc = LSTM { latent_dim, return_state = true, name = "encoder_lstm" }(encoder_inputs)
local encoder_states = { state_h_enc, state_c_enc }
return Model { inputs = encoder_inputs, outputs = encoder_states }
