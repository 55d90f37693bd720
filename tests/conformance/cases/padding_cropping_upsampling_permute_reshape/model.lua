-- conformance case padding_cropping_upsampling_permute_reshape (written by tests/conformance/golden.py)
local model = Sequential {
  ZeroPadding1D { { 1, 2 }, input_shape = { 3, 2 } },
  Cropping1D { { 2, 1 } },
  UpSampling1D { 2 },
  Permute { { 2, 1 } },
  Reshape { { 3, -1 } },
  GRU { 3 },
  Dense { 2 },
}
model:compile { optimizer = Adam { learning_rate = 0.01 }, loss = "mae" }
return model
