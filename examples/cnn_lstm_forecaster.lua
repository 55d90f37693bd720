-- A CNN-LSTM forecaster: the Conv1D -> LSTM model of TensorFlow's time-series
-- course ("Sequences, Time Series and Prediction", week 4: the sunspots
-- model; tests/import/real/ holds a model of this kind a user saved), line by
-- line:
--
--   model = tf.keras.models.Sequential([
--     tf.keras.layers.Conv1D(filters=32, kernel_size=5, strides=1, padding="causal",
--                            activation="relu", input_shape=[None, 1]),
--     tf.keras.layers.LSTM(64, return_sequences=True),
--     tf.keras.layers.LSTM(64, return_sequences=True),
--     tf.keras.layers.Dense(1),
--     tf.keras.layers.Lambda(lambda x: x * 400)
--   ])
--   model.compile(loss=tf.keras.losses.Huber(), optimizer=optimizer, metrics=["mae"])
--
-- Two lines differ: rnnc compiles no Lambda, so the series is scaled by
-- 1/400 instead (examples/data/forecast_*.npy are scaled so); and rnnc has
-- no Huber loss yet, so mse. Every step predicts the series' next value
-- (window in, window shifted by one out). The causal convolution reads no
-- later step, so the model streams: forecaster_stream_step takes one
-- reading per call, its receptive field of 4 readings kept in the caller's
-- struct, and gives the forecast forward gives for the window so far.
local model = Sequential {
  Conv1D { filters = 32, kernel_size = 5, strides = 1, padding = "causal", activation = "relu",
    input_shape = { None, 1 } },
  LSTM { 64, return_sequences = true },
  LSTM { 64, return_sequences = true },
  Dense { 1 },
}
model:compile { loss = "mse", optimizer = Adam { learning_rate = 0.005 }, metrics = { "mae" } }
model:fit { epochs = 100, batch_size = 16 }
return model
