-- conformance case depthwise_separable_global_average (written by tests/conformance/golden.py)
local model = Sequential {
  DepthwiseConv1D { 2, input_shape = { 5, 2 }, depth_multiplier = 2, padding = "same", activation = "sigmoid" },
  SeparableConv1D { 3, 2, use_bias = false },
  GlobalAveragePooling1D {  },
  Dense { 2 },
}
model:compile { optimizer = SGD { learning_rate = 0.1, momentum = 0.9 }, loss = "mse" }
return model
