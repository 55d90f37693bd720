local model = Sequential {
  BatchNormalization { input_shape = { 3 } },
  Dense { 1, activation = "tanh", kernel_initializer = "random_uniform" },
  Dense { 3 },
  Dense { 2 },
}
model:compile { optimizer = "lion", loss = BinaryCrossentropy { from_logits = true } }
return model
