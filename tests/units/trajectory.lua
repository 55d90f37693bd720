-- A small model for the optimizer trajectories of tests/units/test_trajectory.c.
local model = Sequential {
  SimpleRNN { 4, input_shape = { 5, 3 }, return_sequences = true },
  Dense { 2 },
}
model:compile { optimizer = "adam", loss = "mse" }
return model
