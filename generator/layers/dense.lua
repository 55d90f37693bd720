-- Dense(units, activation=None, use_bias=True): y = act(x @ kernel + bias) on
-- the last axis, so on a 3-D input it acts at every timestep.
local common = require("layers.common")
local util = require("util")

local Dense = {
  class = "Dense",
  passes_mask = true, -- Keras 3 Dense: supports_masking = True (keras/src/layers/core/dense.py)
  default_name = "dense",
  positional = { "units" },
  args = common.dense_args(),
}

function Dense.build(layer, shape, prefix)
  local in_dim = shape[#shape]
  if #shape < 2 then util.fail(layer.at, "expected an input of ndim >= 2, found %s", util.shape_str(shape)) end
  if in_dim == util.None then
    util.fail(layer.at, "the last dimension of the input must be known, got %s", util.shape_str(shape))
  end
  local units = layer.args.units
  local out = util.copy(shape)
  out[#out] = units
  layer.weights = { common.weight(layer, prefix, "kernel", { in_dim, units }, layer.args.kernel_initializer) }
  if layer.args.use_bias then
    layer.weights[2] = common.weight(layer, prefix, "bias", { units }, layer.args.bias_initializer)
  end
  layer.in_dim = in_dim
  return { out }
end

-- x: rows x in_dim (rows = timesteps, or 1 for a 2-D input).
function Dense.emit(layer, g, x, prefix)
  local kernel = g:param(layer.weights[1])
  local bias = layer.args.use_bias and g:param(layer.weights[2]) or nil
  local y, logits = g:dense(prefix, x, kernel, bias, layer.args.activation, layer.args.units)
  return { outputs = { y }, logits = logits, logits_activation = layer.args.activation }
end

function Dense.spec(layer, prefix)
  return { string.format("layer Dense %s units=%d activation=%s use_bias=%d", prefix, layer.args.units,
    layer.args.activation, layer.args.use_bias and 1 or 0) }
end

return Dense
