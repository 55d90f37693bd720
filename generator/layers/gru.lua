-- GRU (gate order z, r, h). reset_after=True (the default) keeps separate input
-- and recurrent biases, bias shape (2, 3U). Shapes and parameter counts only for
-- now: code generation is not implemented yet.
local common = require("layers.common")

local GRU = {
  class = "GRU",
  default_name = "gru",
  positional = { "units" },
  args = common.recurrent_args({
    recurrent_activation = { "activation", "sigmoid" },
    reset_after = { "boolean", true },
  }),
  recurrent = true,
}

function GRU.build(layer, shape, prefix)
  common.require_rank3(layer, shape)
  local in_dim, units = shape[3], layer.args.units
  layer.weights = {
    common.weight(layer, prefix, "kernel", { in_dim, 3 * units }, "glorot_uniform"),
    common.weight(layer, prefix, "recurrent_kernel", { units, 3 * units }, "orthogonal"),
  }
  if layer.args.use_bias then
    local shape_b = layer.args.reset_after and { 2, 3 * units } or { 3 * units }
    layer.weights[3] = common.weight(layer, prefix, "bias", shape_b, "zeros")
  end
  return common.recurrent_outputs(layer, shape, 1)
end

return GRU
