-- LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True,
-- rms_scaling=False): every step of every sample normalised over its
-- features: y = (x - mean) / sqrt(var + epsilon) * gamma + beta, with the
-- mean and the (biased) variance of that step's features. Keras 3's
-- rms_scaling=True gives y = x / sqrt(var + epsilon) * gamma (no centring,
-- no beta; var is still the variance about the mean:
-- keras/src/ops/nn.py _layer_normalization, backend.numpy.var). Weights
-- gamma then beta (Keras's order). Only the last axis is implemented.
local util = require("util")
local ir = require("ir")
local common = require("layers.common")
local seq = require("layers.seq")

local E = ir.E

local function axis_arg(at, argname, v)
  if type(v) == "table" and v ~= util.None then
    if #v ~= 1 then
      util.fail(at, "%s = a list of %d axes: rnnc normalises over the last axis only (axis = -1)", argname, #v)
    end
    v = v[1]
  end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  if math.type(v) ~= "integer" then util.fail(at, "argument '%s' must be an integer, got %s", argname, tostring(v)) end
  return v
end

local ARGS = seq.refused_extras({
  axis = { "any", -1, check = axis_arg },
  epsilon = { "number", 1e-3 },
  center = { "boolean", true },
  scale = { "boolean", true },
  rms_scaling = { "boolean", false },
  beta_initializer = { "initializer", "zeros" },
  gamma_initializer = { "initializer", "ones" },
}, { "beta", "gamma" })

local LayerNormalization = {
  class = "LayerNormalization",
  passes_mask = true, -- Keras 3 LayerNormalization: supports_masking = True, its call ignores the mask
  default_name = "layer_normalization",
  positional = { "axis" },
  args = ARGS,
}

function LayerNormalization.build(layer, shape, prefix)
  if #shape < 2 then util.fail(layer.at, "expected an input of ndim >= 2, found %s", util.shape_str(shape)) end
  local a = layer.args
  seq.last_axis(layer, shape, a.axis)
  if a.epsilon <= 0 or a.epsilon ~= a.epsilon then
    util.fail(layer.at, "epsilon must be > 0, got %s", tostring(a.epsilon))
  end
  local C = shape[#shape]
  layer.weights = {}
  if a.scale or a.rms_scaling then
    layer.weights[#layer.weights + 1] = common.weight(layer, prefix, "gamma", { C }, a.gamma_initializer)
  end
  if a.center and not a.rms_scaling then
    layer.weights[#layer.weights + 1] = common.weight(layer, prefix, "beta", { C }, a.beta_initializer)
  end
  layer.in_shape = util.copy(shape)
  return { util.copy(shape) }
end

function LayerNormalization.emit(layer, g, x, prefix)
  local a = layer.args
  local rows, C = x.dims[1], x.dims[2]
  local gamma, beta
  for _, w in ipairs(layer.weights) do
    if w.name:match("/gamma$") then gamma = g:param(w) else beta = g:param(w) end
  end
  local mean = g:act(prefix .. "/mean", rows, 1, "per step, the mean of the features")
  local xc = g:act(prefix .. "/centred", rows, C, "per step, the features minus their mean")
  local var = g:act(prefix .. "/variance", rows, 1, "per step, the variance of the features")
  local inv = g:act(prefix .. "/inv", rows, 1, "per step, 1 / sqrt(variance + epsilon)")
  local y = g:act(prefix .. "/y", rows, C, "per step, the layer's output")
  g:per_row(rows, function(sel)
    local xs, n = sel(x), sel(x).dims[1]
    g:fill(sel(mean), 0, "the mean starts at zero")
    g:map(seq.broadcast_cols(sel(mean), C), E.mul(E.arg(1), E.const(1 / C)), { xs }, true, "the mean of the features")
    g:map(sel(xc), E.sub(E.arg(1), E.arg(2)), { xs, seq.broadcast_cols(sel(mean), C) }, false, "x - mean")
    g:fill(sel(var), 0, "the variance starts at zero")
    g:map(seq.broadcast_cols(sel(var), C), E.mul(E.mul(E.arg(1), E.arg(1)), E.const(1 / C)), { sel(xc) }, true,
      "the variance: the mean of (x - mean)^2")
    g:map(sel(inv), E.fn("rsqrt", E.add(E.arg(1), E.const(a.epsilon))), { sel(var) }, false,
      "1 / sqrt(variance + epsilon)")
    local args = { a.rms_scaling and xs or sel(xc), seq.broadcast_cols(sel(inv), C) }
    local expr = E.mul(E.arg(1), E.arg(2))
    if gamma then
      args[#args + 1] = ir.broadcast_rows(gamma, n)
      expr = E.mul(expr, E.arg(#args))
    end
    if beta then
      args[#args + 1] = ir.broadcast_rows(beta, n)
      expr = E.add(expr, E.arg(#args))
    end
    g:map(sel(y), expr, args, false, a.rms_scaling and "x * inv * gamma (rms_scaling)" or
      "(x - mean) * inv" .. (gamma and " * gamma" or "") .. (beta and " + beta" or ""))
  end)
  return { outputs = { y } }
end

function LayerNormalization.spec(layer, prefix)
  local a = layer.args
  return { string.format("layer LayerNormalization %s epsilon=%s center=%d scale=%d rms_scaling=%d", prefix,
    string.format("%.17g", a.epsilon), a.center and 1 or 0, a.scale and 1 or 0, a.rms_scaling and 1 or 0) }
end

return LayerNormalization
