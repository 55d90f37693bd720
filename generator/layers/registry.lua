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
}
