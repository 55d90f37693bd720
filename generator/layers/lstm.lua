-- LSTM (gate order i, f, c, o in the columns of every weight). Shapes and
-- parameter counts only for now: code generation is not implemented yet.
local common = require("layers.common")

local LSTM = {
  class = "LSTM",
  default_name = "lstm",
  positional = { "units" },
  args = common.recurrent_args({
    recurrent_activation = { "activation", "sigmoid" },
    unit_forget_bias = { "boolean", true },
  }),
  recurrent = true,
}

function LSTM.build(layer, shape, prefix)
  common.require_rank3(layer, shape)
  local in_dim, units = shape[3], layer.args.units
  layer.weights = {
    common.weight(layer, prefix, "kernel", { in_dim, 4 * units }, "glorot_uniform"),
    common.weight(layer, prefix, "recurrent_kernel", { units, 4 * units }, "orthogonal"),
  }
  if layer.args.use_bias then
    layer.weights[3] = common.weight(layer, prefix, "bias", { 4 * units },
      layer.args.unit_forget_bias and "unit_forget_bias" or "zeros")
  end
  return common.recurrent_outputs(layer, shape, 2)
end

return LSTM
