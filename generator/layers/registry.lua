-- Every layer rnnc knows, one module each (its arguments, shape rule,
-- weights, forward computation, reference spec): adding a layer is adding
-- its file here. (Each require in parentheses: require returns two values.)
return {
  (require("layers.dense")),
  (require("layers.simple_rnn")),
  (require("layers.lstm")),
  (require("layers.gru")),
  (require("layers.time_distributed")),
  (require("layers.bidirectional")),
  -- issue 13: the activation layers
  (require("layers.activation").Activation),
  (require("layers.activation").ReLU),
  (require("layers.activation").LeakyReLU),
  (require("layers.activation").ELU),
  (require("layers.activation").Softmax),
  (require("layers.activation").PReLU),
}
