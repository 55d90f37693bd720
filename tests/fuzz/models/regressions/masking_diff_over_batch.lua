-- A masked loss (Masking) in a unit of batch 2, diffed on more samples than
-- the batch: the loss is divided by the unmasked steps of one call, so diff
-- compares one call of the unit's batch (as for BatchNormalization).
local model = Sequential {
  Masking { input_shape = { 4, 3 } },
  Bidirectional { LSTM { 3, return_sequences = true } },
  TimeDistributed { Dense { 2 } },
}
model:compile { optimizer = "adam", loss = "mse" }
return model
