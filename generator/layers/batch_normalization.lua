-- BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True,
-- scale=True): per feature,
--   training:  y = (x - mean) / sqrt(var + epsilon) * gamma + beta, mean and
--              the biased var over every step of every sample of the batch,
--              and moving = moving * momentum + batch statistic * (1 -
--              momentum) for both moving statistics;
--   inference: the same with moving_mean and moving_variance.
-- Keras 3 (keras/src/layers/normalization/batch_normalization.py: call,
-- _moments with ops.moments) and tf.keras 2.x on rank-2 and rank-3 inputs
-- (the non-fused path of keras/layers/normalization/batch_normalization.py:
-- tf.nn.moments, new_variance = variance; the fused kernel, which corrects
-- the variance, takes rank-4 inputs only) agree on this. Weights gamma,
-- beta, moving_mean, moving_variance (Keras's order); the moving ones are
-- non-trainable: no gradient, summary's "Non-trainable params", and a
-- training step sets them from the statistics of its batch. So the unit
-- has a forward for training (forward_train, in loss_grad) beside the
-- inference forward (predict, evaluate, the stream).
local util = require("util")
local ir = require("ir")
local common = require("layers.common")
local seq = require("layers.seq")

local E = ir.E

local function axis_arg(at, argname, v)
  if type(v) == "table" and v ~= util.None then
    if #v ~= 1 then util.fail(at, "%s = a list of %d axes: rnnc normalises the last axis only", argname, #v) end
    v = v[1]
  end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  if math.type(v) ~= "integer" then util.fail(at, "argument '%s' must be an integer, got %s", argname, tostring(v)) end
  return v
end

local function none_only(why)
  return { "any", util.None, check = function(at, argname, v)
    if v ~= util.None then util.fail(at, "%s = %s is not supported (%s)", argname, tostring(v), why) end
    return v
  end }
end

local BatchNormalization = {
  class = "BatchNormalization",
  default_name = "batch_normalization",
  positional = { "axis" },
  args = seq.refused_extras({
    axis = { "any", -1, check = axis_arg },
    momentum = { "number", 0.99 },
    epsilon = { "number", 1e-3 },
    center = { "boolean", true },
    scale = { "boolean", true },
    beta_initializer = { "initializer", "zeros" },
    gamma_initializer = { "initializer", "ones" },
    moving_mean_initializer = { "initializer", "zeros" },
    moving_variance_initializer = { "initializer", "ones" },
    -- tf.keras 2.x: the fused kernel is for rank-4 inputs; on rnnc's
    -- tensors it changes nothing
    fused = { "any", util.None, check = function(at, argname, v)
      if v ~= util.None and type(v) ~= "boolean" then
        util.fail(at, "argument '%s' must be true, false or None", argname)
      end
      return v
    end },
    renorm = { "boolean", false, only = false, why = "batch renormalization is not implemented" },
    virtual_batch_size = none_only("ghost batches are not implemented"),
    adjustment = none_only("adjustments are not implemented"),
    synchronized = { "boolean", false },
  }, { "beta", "gamma" }),
}

function BatchNormalization.build(layer, shape, prefix)
  if #shape < 2 then util.fail(layer.at, "expected an input of ndim >= 2, found %s", util.shape_str(shape)) end
  local a = layer.args
  seq.last_axis(layer, shape, a.axis)
  if a.epsilon <= 0 or a.epsilon ~= a.epsilon then
    util.fail(layer.at, "epsilon must be > 0, got %s", tostring(a.epsilon))
  end
  if a.momentum < 0 or a.momentum > 1 or a.momentum ~= a.momentum then
    util.fail(layer.at, "momentum must be in [0, 1], got %s", tostring(a.momentum))
  end
  local C = shape[#shape]
  layer.weights = {}
  local function add(name, init, trainable)
    local w = common.weight(layer, prefix, name, { C }, init)
    w.trainable = trainable
    layer.weights[#layer.weights + 1] = w
    return w
  end
  if a.scale then layer.gamma = add("gamma", a.gamma_initializer, true) end
  if a.center then layer.beta = add("beta", a.beta_initializer, true) end
  layer.moving_mean = add("moving_mean", a.moving_mean_initializer, false)
  layer.moving_variance = add("moving_variance", a.moving_variance_initializer, false)
  layer.in_shape = util.copy(shape)
  return { util.copy(shape) }
end

function BatchNormalization.emit(layer, g, x, prefix)
  local a = layer.args
  local rows, C = x.dims[1], x.dims[2]
  local gamma = layer.gamma and g:param(layer.gamma) or nil
  local beta = layer.beta and g:param(layer.beta) or nil
  local mm, mv = g:param(layer.moving_mean), g:param(layer.moving_variance)
  local y = g:act(prefix .. "/y", rows, C, "per step, the layer's output")
  -- y = u * scale (+ beta), scale = inv (* gamma), over rows selected by sel
  local function output(sel, u, inv_view)
    local n = sel(u).dims[1]
    local args, expr = { sel(u), ir.broadcast_rows(inv_view, n) }, E.mul(E.arg(1), E.arg(2))
    if beta then
      args[3] = ir.broadcast_rows(beta, n)
      expr = E.add(expr, E.arg(3))
    end
    g:map(sel(y), expr, args, false, beta and "(x - mean) * scale + beta" or "(x - mean) * scale")
  end
  local function scale_of(out, inv_expr, inv_args, what)
    local args, expr = inv_args, inv_expr
    if gamma then
      args[#args + 1] = gamma
      expr = E.mul(expr, E.arg(#args))
    end
    g:map(out, expr, args, false, what)
  end

  -- Frozen (trainable = false), the layer normalises with its moving
  -- statistics in training too and never updates them: Keras 3 call()
  -- takes the batch's statistics only `if training and self.trainable`
  -- (keras/src/layers/normalization/batch_normalization.py), as tf.keras
  -- 2.x does since TF 2.0 (the docstring in
  -- tensorflow/python/keras/layers/normalization_v2.py: "setting trainable
  -- = False on the layer means that the layer will be subsequently run in
  -- inference mode"). So the inference ops are those of both forwards.
  local function infer()
    -- the moving statistics: one scale per feature
    local scale = g:act(prefix .. "/scale", 1, C, "gamma / sqrt(moving_variance + epsilon)")
    local xc = g:act(prefix .. "/centred", rows, C, "per step, x - moving_mean")
    scale_of(scale, E.fn("rsqrt", E.add(E.arg(1), E.const(a.epsilon))), { mv },
      "gamma / sqrt(moving_variance + epsilon)")
    g:per_row(rows, function(sel)
      g:map(sel(xc), E.sub(E.arg(1), E.arg(2)), { sel(x), ir.broadcast_rows(mm, sel(x).dims[1]) }, false,
        "x - moving_mean")
      output(sel, xc, scale)
    end)
  end
  if layer.frozen then
    infer()
    return { outputs = { y } }
  end
  g:in_mode("infer", infer)
  if g.streaming then return { outputs = { y } } end

  g:in_mode("train", function()
    -- the statistics of the batch: every step of every sample
    local per_length = g.prog.variable and rows > 1
    local inv_n = E.inv_count(rows, per_length)
    local mean = g:batch_stat(prefix .. "/batch_mean", 1, C, "the mean of the batch, per feature")
    local var = g:batch_stat(prefix .. "/batch_variance", 1, C, "the variance of the batch, per feature")
    local scale = g:batch_stat(prefix .. "/batch_scale", 1, C, "gamma / sqrt(batch variance + epsilon)")
    local xc = g:act(prefix .. "/train_centred", rows, C, "per step, x - the batch's mean")
    g:fill(mean, 0, "the mean starts at zero")
    g:fill(var, 0, "the variance starts at zero")
    g:per_row(rows, function(sel)
      g:map(ir.broadcast_rows(mean, sel(x).dims[1]), E.mul(E.arg(1), inv_n), { sel(x) }, true,
        "the mean over every step of every sample")
    end)
    g:per_row(rows, function(sel)
      local n = sel(x).dims[1]
      g:map(sel(xc), E.sub(E.arg(1), E.arg(2)), { sel(x), ir.broadcast_rows(mean, n) }, false, "x - mean")
      g:map(ir.broadcast_rows(var, n), E.mul(E.mul(E.arg(1), E.arg(1)), inv_n), { sel(xc) }, true,
        "the variance: the mean of (x - mean)^2")
    end)
    scale_of(scale, E.fn("rsqrt", E.add(E.arg(1), E.const(a.epsilon))), { var },
      "gamma / sqrt(batch variance + epsilon)")
    g:per_row(rows, function(sel)
      output(sel, xc, scale)
    end)
    -- the moving statistics after this step (train_step writes them)
    g.stat_updates = g.stat_updates or {}
    for _, m in ipairs({ { mm, mean, layer.moving_mean }, { mv, var, layer.moving_variance } }) do
      local new = g:batch_stat(prefix .. "/new_" .. m[3].name:match("[^/]+$"), 1, C,
        "moving * momentum + batch * (1 - momentum)")
      g:map(new, E.add(E.mul(E.arg(1), E.const(a.momentum)), E.mul(E.arg(2), E.const(1 - a.momentum))),
        { m[1], m[2] }, false, "the moving average after this step")
      g.stat_updates[#g.stat_updates + 1] = { param = g.params[m[3].name], buf = new.buf }
    end
  end)
  return { outputs = { y } }
end

function BatchNormalization.spec(layer, prefix)
  local a = layer.args
  return { string.format("layer BatchNormalization %s momentum=%.17g epsilon=%.17g center=%d scale=%d", prefix,
    a.momentum, a.epsilon, a.center and 1 or 0, a.scale and 1 or 0) }
end

return BatchNormalization
