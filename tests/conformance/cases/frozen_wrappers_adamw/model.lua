-- conformance case frozen_wrappers_adamw (written by tests/conformance/golden.py)
local model = Sequential {
  Bidirectional { GRU { 2, return_sequences = true }, input_shape = { 4, 2 }, trainable = false },
  BatchNormalization { momentum = 0.9 },
  TimeDistributed { Dense { 3, activation = "tanh", trainable = false } },
  Bidirectional { SimpleRNN { 2, trainable = false }, merge_mode = "sum" },
  Dense { 3, activation = "softmax" },
}
model:compile { optimizer = AdamW { learning_rate = 0.01, weight_decay = 0.1 }, loss = "sparse_categorical_crossentropy" }
return model
