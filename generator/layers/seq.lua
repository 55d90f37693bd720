-- What the convolution, pooling, shape and normalisation layers share:
-- argument checks of Keras's forms (an int or a one-element tuple, padding
-- names, arguments rnnc refuses), shape rules, and views of a sample's
-- (rows x cols) tensor: whether it is contiguous, the same values read as
-- another shape, a copy with zero rows around it.
local util = require("util")
local ir = require("ir")

local seq = {}

---------------------------------------------------------------- argument checks

local function bad(at, argname, expect, v)
  util.fail(at, "argument '%s' must be %s, got %s (%s)", argname, expect, tostring(v), type(v))
end

local function whole(v)
  if math.type(v) == "float" and v == math.floor(v) and v == v and math.abs(v) < 2 ^ 53 then
    return math.tointeger(v)
  end
  return v
end

-- An integer >= min (and <= 65536), or Keras's one-element tuple of one.
function seq.int1(min)
  return function(at, argname, v)
    if type(v) == "table" and v ~= util.None then
      if #v ~= 1 then bad(at, argname, string.format("an integer or a tuple of one integer (1-D layers)"), v) end
      v = v[1]
    end
    v = whole(v)
    if math.type(v) ~= "integer" or v < min then bad(at, argname, string.format("an integer >= %d", min), v) end
    if v > 65536 then util.fail(at, "argument '%s' = %d is larger than rnnc allows (65536)", argname, v) end
    return v
  end
end

-- An integer >= 0 for both ends, or a pair {before, after} (ZeroPadding1D,
-- Cropping1D). Returns {before, after}.
function seq.pair(at, argname, v)
  local pair
  if type(v) == "table" and v ~= util.None then
    if #v ~= 2 then bad(at, argname, "an integer or a pair {before, after}", v) end
    pair = { whole(v[1]), whole(v[2]) }
  else
    pair = { whole(v), whole(v) }
  end
  for _, d in ipairs(pair) do
    if math.type(d) ~= "integer" or d < 0 or d > 65536 then
      bad(at, argname, "non-negative integers (at most 65536)", d)
    end
  end
  return pair
end

-- One of `names` (a string, compared in lower case as Keras does).
function seq.one_of(names)
  return function(at, argname, v)
    if type(v) ~= "string" then bad(at, argname, "a string", v) end
    local low = v:lower()
    for _, n in ipairs(names) do
      if n == low then return low end
    end
    util.fail(at, "argument '%s' = \"%s\" is not one of %s", argname, v, table.concat(names, ", "))
  end
end

-- data_format: rnnc's tensors are (batch, steps, channels).
function seq.channels_last(at, argname, v)
  if v == util.None or v == "channels_last" then return "channels_last" end
  if v == "channels_first" then
    util.fail(at, "%s = \"channels_first\" is not supported: rnnc's sequences are (batch, steps, channels) "
      .. "(write data_format = \"channels_last\" and transpose the data)", argname)
  end
  bad(at, argname, "\"channels_last\"", v)
end

-- An argument rnnc accepts only as None (regularizers, constraints): `why`
-- says what is missing.
function seq.only_none(why)
  return { "any", util.None, check = function(at, argname, v)
    if v ~= util.None then util.fail(at, "%s is not supported (%s): remove it", argname, why) end
    return v
  end }
end

-- The regularizer and constraint arguments of a layer's weights (their
-- argument prefixes, e.g. { "kernel", "bias" }): layers/rules.lua.
function seq.refused_extras(args, weights)
  return require("layers.rules").extras(args, weights)
end

---------------------------------------------------------------- shapes

-- A (batch, steps, channels) input whose channels are known; steps must be
-- known too unless `steps_may_be_none`.
function seq.require_sequence(layer, shape, steps_may_be_none)
  if #shape ~= 3 then
    util.fail(layer.at, "expected an input of ndim=3 (batch, steps, channels), found ndim=%d: %s", #shape,
      util.shape_str(shape))
  end
  if shape[3] == util.None then
    util.fail(layer.at, "the channel dimension of the input must be known, got %s", util.shape_str(shape))
  end
  if shape[2] == util.None and not steps_may_be_none then
    util.fail(layer.at, "%s needs a known number of steps, got %s (give the input a fixed length)",
      layer.module.class, util.shape_str(shape))
  end
end

-- Keras's conv_output_length (keras/src/ops/operation_utils.py,
-- compute_conv_output_shape): the steps out of a window of `size` steps
-- (already dilated) moved by `stride`, or None for None.
function seq.output_length(steps, size, stride, padding)
  if steps == util.None then return util.None end
  if padding == "same" or padding == "causal" then return (steps + stride - 1) // stride end
  return (steps - size) // stride + 1
end

-- TensorFlow's SAME rule (tf.nn.convolution, tf.nn.pool): the padding
-- before and after the steps.
function seq.same_padding(steps, size, stride)
  local out = (steps + stride - 1) // stride
  local total = math.max((out - 1) * stride + size - steps, 0)
  return total // 2, total - total // 2
end

-- Refuses a layer that changes the number of steps in a unit generated for
-- sequences of any length (--timesteps): its later layers see L steps.
function seq.fixed_length(layer, g, what)
  if g.prog.variable then
    util.fail(layer.at, "%s %s, which a unit of variable length (--timesteps) cannot follow: give the input a "
      .. "fixed length (input_shape = { steps, features })", layer.module.class, what)
  end
end

-- The normalised axis must be the last (-1, or its index counting the batch).
function seq.last_axis(layer, shape, axis)
  if axis ~= -1 and axis ~= #shape - 1 then
    util.fail(layer.at, "axis = %d: rnnc normalises over the last axis only (axis = -1 or %d for %s)", axis,
      #shape - 1, util.shape_str(shape))
  end
  if shape[#shape] == util.None then util.fail(layer.at, "the last dimension must be known") end
end

---------------------------------------------------------------- views

-- Whether a view's elements are one contiguous run, row after row.
function seq.contiguous(v)
  return v.strides[2] == 1 or v.dims[2] == 1 and (v.dims[1] == 1 or v.strides[1] == v.dims[2])
end

local function runs_in_order(v)
  return (v.strides[2] == 1 or v.dims[2] == 1) and (v.dims[1] == 1 or v.strides[1] == v.dims[2])
end

-- The values of v (rows x cols) read as rows2 x cols2, row-major: the same
-- storage when v is contiguous, else a copy into a new activation.
function seq.reshape(g, v, rows2, cols2, name, meaning)
  assert(rows2 * cols2 == ir.count(v), "reshape keeps the element count")
  if runs_in_order(v) then
    return ir.view(v.buf, v.off, rows2, cols2, cols2, 1, v.toff, v.loff)
  end
  local copy = g:act(name, v.dims[1], v.dims[2], meaning)
  g:map(copy, ir.E.arg(1), { v }, false, "a contiguous copy")
  return ir.view(copy.buf, 0, rows2, cols2, cols2, 1)
end

-- A copy of x (rows x cols) with `before` rows of `value` above it and
-- `after` below (value 0: zero padding).
function seq.padded(g, x, before, after, name, meaning, value)
  local rows, cols = x.dims[1], x.dims[2]
  local p = g:act(name, before + rows + after, cols, meaning)
  if before > 0 then g:fill(ir.rows(p, 0, before), value or 0) end
  g:map(ir.rows(p, before, rows), ir.E.arg(1), { x }, false, "the input between the padding")
  if after > 0 then g:fill(ir.rows(p, before + rows, after), value or 0) end
  return p
end

-- Rows first, first + stride, ... (count of them) of v.
function seq.strided_rows(v, first, count, stride)
  return ir.view(v.buf, v.off + first * v.strides[1], count, v.dims[2], stride * v.strides[1], v.strides[2], v.toff,
    v.loff)
end

-- A 1 x n row vector (a per-row statistic stored as rows x 1) read across
-- `cols` columns: column broadcast of a rows x 1 view.
function seq.broadcast_cols(v, cols)
  assert(v.dims[2] == 1, "broadcast_cols needs a column")
  return ir.view(v.buf, v.off, v.dims[1], cols, v.strides[1], 0, v.toff, v.loff)
end

return seq
