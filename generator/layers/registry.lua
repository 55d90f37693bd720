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
}
-- several modules per file: the merge layers
for _, m in ipairs(require("layers.merge").modules) do
  list[#list + 1] = m
end
return list
