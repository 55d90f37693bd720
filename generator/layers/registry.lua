-- Every layer rnnc knows, one module each (its arguments, shape rule,
-- weights, forward computation, reference spec): adding a layer is adding
-- its file here. (Each require in parentheses: require returns two values.)
local list = {
  (require("layers.dense")),
  (require("layers.simple_rnn")),
  (require("layers.lstm")),
  (require("layers.gru")),
  (require("layers.time_distributed")),
  (require("layers.bidirectional")),
  (require("layers.masking")),
  -- convolutional front ends, pooling, shape and normalisation layers
  (require("layers.conv1d")),
  (require("layers.separable_conv1d")),
  (require("layers.depthwise_conv1d")),
  (require("layers.max_pooling1d")),
  (require("layers.average_pooling1d")),
  (require("layers.global_max_pooling1d")),
  (require("layers.global_average_pooling1d")),
  (require("layers.zero_padding1d")),
  (require("layers.cropping1d")),
  (require("layers.up_sampling1d")),
  (require("layers.flatten")),
  (require("layers.reshape")),
  (require("layers.permute")),
  (require("layers.repeat_vector")),
  (require("layers.layer_normalization")),
  (require("layers.batch_normalization")),
  -- issue 13: integer tokens in
  (require("layers.embedding")),
  -- issue 13: the activation layers
  (require("layers.activation").Activation),
  (require("layers.activation").ReLU),
  (require("layers.activation").LeakyReLU),
  (require("layers.activation").ELU),
  (require("layers.activation").Softmax),
  (require("layers.activation").PReLU),
  -- issue 13: the noise layers (the identity at inference)
  (require("layers.noise").Dropout),
  (require("layers.noise").SpatialDropout1D),
  (require("layers.noise").GaussianNoise),
  (require("layers.noise").GaussianDropout),
  (require("layers.activity_regularization")),
}
-- several modules per file: the merge layers
for _, m in ipairs(require("layers.merge").modules) do
  list[#list + 1] = m
end
for _, m in ipairs(require("layers.attention").modules) do
  list[#list + 1] = m
end
return list
