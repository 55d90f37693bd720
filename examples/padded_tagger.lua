-- A part-of-speech tagger over sentences of 3 to 10 words, padded with 0 to
-- 10 tokens (examples/data/padded_tagger_*.npy; make_padded_tagger.py wrote
-- them): Embedding(mask_zero) makes the mask, so the bidirectional LSTM skips
-- the padding (with dropout on its inputs and on its recurrent state while
-- training) and the loss counts the words only. Tags: DET=1 ADJ=2 NOUN=3
-- VERB=4 ADP=5 (0 on padding). "saw", "walks", "watch" and "runs" are nouns
-- or verbs by the words around them.
--
-- The Keras source, line by line:
--   model = keras.Sequential([
--       keras.Input(shape=(10,), dtype="int32"),
--       layers.Embedding(22, 16, mask_zero=True),
--       layers.Bidirectional(layers.LSTM(16, return_sequences=True,
--                                        dropout=0.2, recurrent_dropout=0.2)),
--       layers.TimeDistributed(layers.Dense(6, activation="softmax")),
--   ])
--   model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
--   model.fit(x, y, epochs=40, batch_size=32)
local model = Sequential {
  Input { shape = { 10 }, dtype = "int32" },
  Embedding { 22, 16, mask_zero = true },
  Bidirectional { LSTM { 16, return_sequences = true, dropout = 0.2, recurrent_dropout = 0.2 } },
  TimeDistributed { Dense { 6, activation = "softmax" } },
}
model:compile { optimizer = "adam", loss = "sparse_categorical_crossentropy" }
model:fit { epochs = 40, batch_size = 32 }
return model
