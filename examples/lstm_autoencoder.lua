-- The LSTM autoencoder of "A Gentle Introduction to LSTM Autoencoders"
-- (Jason Brownlee, machinelearningmastery.com), line by line:
--
--   sequence = array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
--   n_in = len(sequence)
--   sequence = sequence.reshape((1, n_in, 1))     # examples/data/autoencoder_x.npy
--   model = Sequential()
--   model.add(LSTM(100, activation='relu', input_shape=(n_in,1)))
--   model.add(RepeatVector(n_in))
--   model.add(LSTM(100, activation='relu', return_sequences=True))
--   model.add(TimeDistributed(Dense(1)))
--   model.compile(optimizer='adam', loss='mse')
--   model.fit(sequence, sequence, epochs=300, verbose=0)
--
-- The encoder reads the 9 steps into one vector, RepeatVector hands it to
-- every step of the decoder, which rebuilds the sequence: after the 300
-- epochs the prediction for the sequence is the sequence (to about 0.01).
local n_in = 9
local model = Sequential()
model:add(LSTM { 100, activation = "relu", input_shape = { n_in, 1 } })
model:add(RepeatVector { n_in })
model:add(LSTM { 100, activation = "relu", return_sequences = true })
model:add(TimeDistributed { Dense { 1 } })
model:compile { optimizer = "adam", loss = "mse" }
model:fit { epochs = 300, verbose = 0 }
return model
