-- Bidirectional(layer, merge_mode="concat"): a forward and a backward copy of a
-- recurrent layer, weights named <name>/forward_<inner>/... and
-- <name>/backward_<inner>/... Shapes and parameter counts only for now: code
-- generation is not implemented yet.
local util = require("util")

local Bidirectional = {
  class = "Bidirectional",
  default_name = "bidirectional",
  positional = { "layer" },
  args = {
    layer = { "layer" },
    merge_mode = { "merge_mode", "concat" },
  },
}

function Bidirectional.build(layer, shape, prefix)
  local inner = layer.args.layer
  if not inner.module.recurrent then
    util.fail(layer.at, "Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got %s",
      inner.module.class)
  end
  local fwd = inner.module.build(inner, shape, prefix .. "/forward_" .. inner.name)
  local weights = inner.weights
  local bwd = inner.module.build(inner, shape, prefix .. "/backward_" .. inner.name)
  local all = {}
  for _, w in ipairs(weights) do
    all[#all + 1] = w
  end
  for _, w in ipairs(inner.weights) do
    all[#all + 1] = w
  end
  layer.weights = all
  local out = util.copy(fwd[1])
  local mode = layer.args.merge_mode
  if mode == "concat" then out[#out] = out[#out] * 2 end
  local shapes
  if mode == "none" then
    shapes = { fwd[1], bwd[1] }
  else
    shapes = { out }
  end
  for i = 2, #fwd do
    shapes[#shapes + 1] = fwd[i]
  end
  for i = 2, #bwd do
    shapes[#shapes + 1] = bwd[i]
  end
  return shapes
end

return Bidirectional
