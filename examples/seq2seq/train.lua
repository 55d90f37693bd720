-- The training model of Keras's character-level sequence-to-sequence example
-- (keras-io examples/nlp/lstm_seq2seq.py, "Build the model"), line by line:
-- an encoder LSTM whose final states h and c are the initial state of a
-- decoder LSTM, trained with teacher forcing on the addition task
-- (make_data.lua). encoder.lua and decoder.lua are the inference models;
-- they name their layers as this model does, so they load its weight file.
-- The sizes are make_data.lua's; latent_dim is the same in the three files.
local num_encoder_tokens, num_decoder_tokens = 12, 13
local max_encoder_seq_length, max_decoder_seq_length = 7, 6
local latent_dim = 128

-- Define an input sequence and process it.
local encoder_inputs = Input { shape = { max_encoder_seq_length, num_encoder_tokens }, name = "encoder_inputs" }
local encoder = LSTM { latent_dim, return_state = true, name = "encoder_lstm" }
local _, state_h, state_c = encoder(encoder_inputs)
-- We discard `encoder_outputs` and only keep the states.
local encoder_states = { state_h, state_c }

-- Set up the decoder, using `encoder_states` as initial state.
local decoder_inputs = Input { shape = { max_decoder_seq_length, num_decoder_tokens }, name = "decoder_inputs" }
-- The decoder returns full output sequences, and its internal states as
-- well: the training model does not use them, the inference model does.
local decoder_lstm = LSTM { latent_dim, return_sequences = true, return_state = true, name = "decoder_lstm" }
local decoder_outputs = decoder_lstm(decoder_inputs, { initial_state = encoder_states })
local decoder_dense = Dense { num_decoder_tokens, activation = "softmax", name = "decoder_dense" }
decoder_outputs = decoder_dense(decoder_outputs)

-- The model that turns encoder_input_data and decoder_input_data into
-- decoder_target_data.
local model = Model { inputs = { encoder_inputs, decoder_inputs }, outputs = decoder_outputs }
model:compile { optimizer = "rmsprop", loss = "categorical_crossentropy", metrics = { "accuracy" } }
return model
