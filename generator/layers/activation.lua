-- Keras's activation layers: Activation(activation), ReLU(max_value,
-- negative_slope, threshold), LeakyReLU(negative_slope), ELU(alpha),
-- Softmax(axis) and PReLU (a learned slope). Each maps every value of its
-- input (softmax and log_softmax each row of the last axis), so the output
-- has the input's shape and the mask, when there is one, passes through.
local common = require("layers.common")
local util = require("util")
local ir = require("ir")
local Builder = require("builder")

local E = ir.E

local layers = {}

-- The input shape: any rank from 2 (batch, features) to 3 (batch, timesteps,
-- features), the last dimension known.
local function same_shape(layer, shape)
  if #shape < 2 then util.fail(layer.at, "expected an input of ndim >= 2, found %s", util.shape_str(shape)) end
  if shape[#shape] == util.None then
    util.fail(layer.at, "the last dimension of the input must be known, got %s", util.shape_str(shape))
  end
  return { util.copy(shape) }
end

-- y = expr(x) over every row present; returns the output view.
local function map_rows(g, x, prefix, expr, meaning)
  local y = g:act(prefix .. "/y", x.dims[1], x.dims[2], (x.dims[1] > 1 and "per step, " or "") .. meaning)
  g:per_row(x.dims[1], function(sel)
    g:map(sel(y), expr, { sel(x) }, false, meaning)
  end)
  return y
end

-- x as a whole buffer (the loss reads the logits it keeps as one): a copy
-- when x is part of one (a recurrent layer's last step).
local function whole(g, x, prefix)
  if x.off == 0 and x.toff == 0 and x.loff == 0 and ir.count(x) == x.buf.size then return x end
  local l = g:act(prefix .. "/logits", x.dims[1], x.dims[2], "the input, the logits the loss reads")
  g:per_row(x.dims[1], function(sel)
    g:map(sel(l), E.arg(1), { sel(x) }, false, "the logits")
  end)
  return l
end

-- A number spelled the way the reference runtime's spec reads it.
local function num(v)
  return string.format("%.17g", v)
end

---------------------------------------------------------------- Activation

local Activation = {
  class = "Activation",
  default_name = "activation",
  positional = { "activation" },
  args = { activation = { "activation" } },
  passes_mask = true,
}

function Activation.build(layer, shape)
  return same_shape(layer, shape)
end

function Activation.emit(layer, g, x, prefix)
  local name = layer.args.activation
  if name == "softmax" or name == "sigmoid" then x = whole(g, x, prefix) end
  if Builder.ROW_ACTIVATION[name] then
    local y = g:act(prefix .. "/y", x.dims[1], x.dims[2], (x.dims[1] > 1 and "per step, " or "") .. name)
    g:per_row(x.dims[1], function(sel)
      g:softmax(sel(y), sel(x), name .. " over the last axis", name == "log_softmax")
    end)
    -- Keras keeps the logits of a softmax output (the crossentropies use them)
    if name == "softmax" then return { outputs = { y }, logits = x, logits_activation = name } end
    return { outputs = { y } }
  end
  local y = x
  if name ~= "linear" then y = map_rows(g, x, prefix, ir.activation(name, E.arg(1)), name) end
  if name == "sigmoid" then return { outputs = { y }, logits = x, logits_activation = name } end
  return { outputs = { y } }
end

function Activation.spec(layer, prefix)
  return { string.format("layer Activation %s activation=%s", prefix, layer.args.activation) }
end
layers.Activation = Activation

---------------------------------------------------------------- ReLU

local ReLU = {
  class = "ReLU",
  default_name = "re_lu",
  positional = { "max_value" },
  args = {
    max_value = { "nonneg", optional = true },
    negative_slope = { "nonneg", 0 },
    threshold = { "number", 0 },
  },
  passes_mask = true,
}

function ReLU.build(layer, shape)
  return same_shape(layer, shape)
end

function ReLU.emit(layer, g, x, prefix)
  local a = layer.args
  local expr = ir.relu_expr(E.arg(1), a.max_value, a.negative_slope, a.threshold)
  return { outputs = { map_rows(g, x, prefix, expr, "relu") } }
end

function ReLU.spec(layer, prefix)
  local a = layer.args
  return { string.format("layer ReLU %s max_value=%s negative_slope=%s threshold=%s", prefix,
    a.max_value and num(a.max_value) or "none", num(a.negative_slope), num(a.threshold)) }
end
layers.ReLU = ReLU

---------------------------------------------------------------- LeakyReLU

local LeakyReLU = {
  class = "LeakyReLU",
  default_name = "leaky_re_lu",
  positional = { "negative_slope" },
  -- Keras 3's negative_slope; tf.keras 2.x called it alpha (both 0.3)
  args = { negative_slope = { "nonneg", optional = true }, alpha = { "nonneg", optional = true } },
  passes_mask = true,
}

function LeakyReLU.build(layer, shape)
  local a = layer.args
  if a.negative_slope and a.alpha then
    util.fail(layer.at, "give negative_slope (Keras 3) or alpha (tf.keras 2.x), not both")
  end
  a.negative_slope = a.negative_slope or a.alpha or 0.3
  a.alpha = nil
  return same_shape(layer, shape)
end

function LeakyReLU.emit(layer, g, x, prefix)
  local expr = ir.leaky_relu_expr(E.arg(1), layer.args.negative_slope)
  return { outputs = { map_rows(g, x, prefix, expr, "leaky relu") } }
end

function LeakyReLU.spec(layer, prefix)
  return { string.format("layer LeakyReLU %s negative_slope=%s", prefix, num(layer.args.negative_slope)) }
end
layers.LeakyReLU = LeakyReLU

---------------------------------------------------------------- ELU

local ELU = {
  class = "ELU",
  default_name = "elu",
  positional = { "alpha" },
  args = { alpha = { "number", 1.0 } },
  passes_mask = true,
}

function ELU.build(layer, shape)
  return same_shape(layer, shape)
end

function ELU.emit(layer, g, x, prefix)
  return { outputs = { map_rows(g, x, prefix, ir.elu_expr(E.arg(1), layer.args.alpha), "elu") } }
end

function ELU.spec(layer, prefix)
  return { string.format("layer ELU %s alpha=%s", prefix, num(layer.args.alpha)) }
end
layers.ELU = ELU

---------------------------------------------------------------- Softmax

local Softmax = {
  class = "Softmax",
  default_name = "softmax",
  positional = { "axis" },
  args = { axis = { "integer", -1 } },
  takes_mask = true, -- its emit reads the mask (and refuses it)
}

function Softmax.build(layer, shape)
  local axis = layer.args.axis
  if axis ~= -1 and axis ~= #shape - 1 then
    util.fail(layer.at, "axis = %d: rnnc's Softmax acts on the last axis (axis = -1, or %d for this input)", axis,
      #shape - 1)
  end
  return same_shape(layer, shape)
end

function Softmax.emit(layer, g, x, prefix, _, mask)
  if mask then
    util.fail(layer.at, "Keras's Softmax layer adds its input mask to the scores (for attention): after Masking or "
      .. "Embedding(mask_zero=true) write Activation { \"softmax\" }")
  end
  x = whole(g, x, prefix)
  local y = g:act(prefix .. "/y", x.dims[1], x.dims[2], (x.dims[1] > 1 and "per step, " or "") .. "softmax")
  g:per_row(x.dims[1], function(sel)
    g:softmax(sel(y), sel(x), "softmax over the last axis")
  end)
  return { outputs = { y }, logits = x, logits_activation = "softmax" }
end

function Softmax.spec(_, prefix)
  return { string.format("layer Activation %s activation=softmax", prefix) }
end
layers.Softmax = Softmax

---------------------------------------------------------------- PReLU

local PReLU = {
  class = "PReLU",
  default_name = "p_re_lu",
  positional = {},
  args = require("layers.rules").extras({
    alpha_initializer = { "initializer", "zeros" },
    shared_axes = { "axes", optional = true },
  }, { "alpha" }),
  passes_mask = true,
}

-- alpha has the input's shape without the batch, 1 along each shared axis.
function PReLU.build(layer, shape, prefix)
  local out = same_shape(layer, shape)
  local shared = {}
  for _, ax in ipairs(layer.args.shared_axes or {}) do
    if ax < 1 or ax >= #shape then
      util.fail(layer.at, "shared_axes: axis %d is not an axis of the input %s (1 to %d)", ax, util.shape_str(shape),
        #shape - 1)
    end
    shared[ax] = true
  end
  local ashape = {}
  for i = 2, #shape do
    local d = shape[i]
    if shared[i - 1] then
      d = 1
    elseif d == util.None then
      util.fail(layer.at, "the input %s has an unknown axis %d: PReLU's alpha needs it known, or shared "
        .. "(shared_axes = { %d })", util.shape_str(shape), i - 1, i - 1)
    end
    ashape[#ashape + 1] = d
  end
  layer.weights = { common.weight(layer, prefix, "alpha", ashape, layer.args.alpha_initializer) }
  return out
end

-- A slope per timestep needs the step's index, which streaming does not keep.
function PReLU.stream_refusal(layer)
  local shape = layer.weights[1].shape
  if #shape == 2 and shape[1] > 1 then
    return string.format("layer '%s' (PReLU) has a slope per timestep (shared_axes = { 1 } shares it)", layer.name)
  end
  return nil
end

function PReLU.emit(layer, g, x, prefix)
  local alpha = g:param(layer.weights[1])
  local rows, cols = x.dims[1], x.dims[2]
  local y = g:act(prefix .. "/y", rows, cols, (rows > 1 and "per step, " or "") .. "prelu")
  -- relu(x) - alpha * relu(-x) (Keras: pos + neg, neg = -alpha * relu(-x))
  local expr = E.sub(E.fn("relu", E.arg(1)), E.mul(E.arg(2), E.fn("relu", E.neg(E.arg(1)))))
  -- alpha over the rows of x: along a shared axis it repeats (stride 0); in a
  -- unit of variable length the time axis is shared (PReLU.build)
  local rs = alpha.dims[1] == 1 and 0 or alpha.strides[1]
  local cs = alpha.dims[2] == 1 and 0 or alpha.strides[2]
  g:per_row(rows, function(sel)
    local xs = sel(x)
    local a = ir.view(alpha.buf, 0, xs.dims[1], cols, rs, cs)
    g:map(sel(y), expr, { xs, a }, false, "relu(x) - alpha * relu(-x)")
  end)
  return { outputs = { y } }
end

function PReLU.spec(layer, prefix)
  local w = layer.weights[1]
  local dims = {}
  for i, d in ipairs(w.shape) do
    dims[i] = tostring(d)
  end
  return { string.format("layer PReLU %s alpha_shape=%s", prefix, table.concat(dims, "x")) }
end
layers.PReLU = PReLU

return layers
