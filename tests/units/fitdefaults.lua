-- rnnc_fit with the model's own defaults (tests/units/test_fitdefaults.c):
-- compile{} metrics beyond accuracy, and model:fit{...}.
local model = Sequential {
  SimpleRNN { 3, input_shape = { 4, 2 } },
  Dense { 1 },
}
model:compile { optimizer = SGD { learning_rate = 0.05 }, loss = "mse", metrics = { "mae", "mse" } }
model:fit { epochs = 3, batch_size = 5, shuffle = false, verbose = 0, validation_split = 0.25 }
return model
