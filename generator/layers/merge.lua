-- Keras's merge layers (keras/src/layers/merging/): Add, Subtract, Multiply,
-- Average, Maximum, Minimum (elementwise, inputs of one shape), Concatenate
-- (axis) and Dot (axes, normalize), each called on a list of tensors:
--   local s = Add {} ({ a, b })         -- or add({ a, b }), Keras's functional spelling
--   local c = Concatenate { axis = 1 } ({ a, b })
--   local d = Dot { axes = { 2, 2 }, normalize = true } ({ q, k })
-- Maximum and Minimum take the first input on a tie (TensorFlow's gradient
-- of maximum/minimum: greater_equal / less_equal of the first argument).
local util = require("util")
local ir = require("ir")

local E = ir.E

local merge = {}

local function shapes_text(shapes)
  local t = {}
  for i, s in ipairs(shapes) do
    t[i] = util.shape_str(s)
  end
  return table.concat(t, ", ")
end

-- Every input of rank 2 or 3 with known dimensions (rnnc's tensors).
local function check_inputs(layer, shapes)
  for i, s in ipairs(shapes) do
    if #s < 2 or #s > 3 then
      util.fail(layer.at, "input %d has shape %s: rnnc's tensors are (batch, features) or (batch, timesteps, "
        .. "features)", i, util.shape_str(s))
    end
    for d = 2, #s do
      if s[d] == util.None then
        util.fail(layer.at, "input %d has shape %s: its dimensions must be known", i, util.shape_str(s))
      end
    end
  end
end

-- A sequence (rank 3) in a unit whose length is chosen at run time.
local function variable_sequences(g, views)
  if not g.prog.variable then return false end
  for _, v in ipairs(views) do
    if v.dims[1] > 1 then return true end
  end
  return false
end

---------------------------------------------------------------- elementwise

-- The expression of an elementwise merge of n arguments.
local function elementwise_expr(class, n)
  local e = E.arg(1)
  for i = 2, n do
    local a = E.arg(i)
    if class == "Add" or class == "Average" then
      e = E.add(e, a)
    elseif class == "Subtract" then
      e = E.sub(e, a)
    elseif class == "Multiply" then
      e = E.mul(e, a)
    elseif class == "Maximum" then
      e = E.max(e, a) -- the earlier input on a tie
    else -- Minimum: min(e, a) = -max(-e, -a), the earlier input on a tie
      e = E.neg(E.max(E.neg(e), E.neg(a)))
    end
  end
  if class == "Average" then e = E.mul(e, E.const(1 / n)) end
  return e
end

local NOTES = { Add = "the sum of the inputs", Subtract = "the first input minus the second",
  Multiply = "the product of the inputs", Average = "the mean of the inputs",
  Maximum = "the largest input (the first on a tie)", Minimum = "the smallest input (the first on a tie)" }

local function elementwise(class, default_name, min_inputs, max_inputs)
  local M = {
    class = class,
    default_name = default_name,
    functional_name = default_name,
    positional = {},
    args = {},
    several_inputs = "merge",
    min_inputs = min_inputs,
    max_inputs = max_inputs,
  }
  function M.build(layer, shapes)
    check_inputs(layer, shapes)
    for i = 2, #shapes do
      if util.shape_str(shapes[i]) ~= util.shape_str(shapes[1]) then
        util.fail(layer.at, "%s merges inputs of one shape, got %s (rnnc does not broadcast them)", class,
          shapes_text(shapes))
      end
    end
    layer.weights = {}
    return { util.copy(shapes[1]) }
  end
  function M.emit(_, g, xs, prefix)
    local rows, cols = xs[1].dims[1], xs[1].dims[2]
    local out = g:act(prefix .. "/y", rows, cols, (rows > 1 and "per step, " or "") .. NOTES[class])
    local expr = elementwise_expr(class, #xs)
    g:per_row(rows, function(sel)
      local args = {}
      for i, x in ipairs(xs) do
        args[i] = sel(x)
      end
      g:map(sel(out), expr, args, false, NOTES[class])
    end)
    return { outputs = { out } }
  end
  function M.spec(layer)
    return { string.format("layer %s %s", class, layer.name) }
  end
  return M
end

merge.Add = elementwise("Add", "add", 2)
merge.Subtract = elementwise("Subtract", "subtract", 2, 2)
merge.Multiply = elementwise("Multiply", "multiply", 2)
merge.Average = elementwise("Average", "average", 2)
merge.Maximum = elementwise("Maximum", "maximum", 2)
merge.Minimum = elementwise("Minimum", "minimum", 2)

---------------------------------------------------------------- Concatenate

-- An integer argument (axis), checked by the module itself.
local function integer(at, name, v)
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  if math.type(v) ~= "integer" then
    util.fail(at, "argument '%s' must be an integer, got %s (%s)", name, tostring(v), type(v))
  end
  return v
end

-- Keras's axis of a rank-r shape (batch included) as rnnc's: "rows" (the
-- time axis of a sequence) or "cols" (the last axis).
local function axis_of(layer, axis, rank)
  local a = axis < 0 and axis + rank or axis
  if a < 1 or a >= rank then
    util.fail(layer.at, "axis %d is outside the inputs' axes 1..%d (axis 0 is the batch)", axis, rank - 1)
  end
  return a == rank - 1 and "cols" or "rows"
end

merge.Concatenate = {
  class = "Concatenate",
  default_name = "concatenate",
  functional_name = "concatenate",
  positional = { "axis" },
  args = { axis = { "number", -1, check = integer } },
  several_inputs = "merge",
  min_inputs = 1,
}

function merge.Concatenate.build(layer, shapes)
  check_inputs(layer, shapes)
  local rank = #shapes[1]
  for i, s in ipairs(shapes) do
    if #s ~= rank then
      util.fail(layer.at, "Concatenate joins inputs of one rank, got %s", shapes_text(shapes))
    end
    if i > 1 then
      for d = 2, rank do
        local a = axis_of(layer, layer.args.axis, rank) == "cols" and rank or 2
        if d ~= a and s[d] ~= shapes[1][d] then
          util.fail(layer.at, "Concatenate: the inputs must match except along the concatenation axis %d, got %s",
            layer.args.axis, shapes_text(shapes))
        end
      end
    end
  end
  layer.axis = axis_of(layer, layer.args.axis, rank)
  local out = util.copy(shapes[1])
  local d = layer.axis == "cols" and rank or 2
  for i = 2, #shapes do
    out[d] = out[d] + shapes[i][d]
  end
  layer.weights = {}
  return { out }
end

function merge.Concatenate.emit(layer, g, xs, prefix)
  local rows, cols = 0, 0
  for _, x in ipairs(xs) do
    if layer.axis == "rows" then
      rows, cols = rows + x.dims[1], x.dims[2]
    else
      rows, cols = x.dims[1], cols + x.dims[2]
    end
  end
  if layer.axis == "rows" and variable_sequences(g, xs) then
    util.fail(layer.at, "Concatenate along the time axis needs sequences of a fixed length: give the inputs a "
      .. "number of timesteps instead of None (--timesteps)")
  end
  local out = g:act(prefix .. "/y", rows, cols, (rows > 1 and "per step, " or "") .. "the inputs side by side")
  local first = 0
  for k, x in ipairs(xs) do
    local note = string.format("input %d of the concatenation", k)
    if layer.axis == "rows" then
      g:map(ir.rows(out, first, x.dims[1]), E.arg(1), { x }, false, note)
      first = first + x.dims[1]
    else
      g:per_row(rows, function(sel)
        g:map(ir.cols(sel(out), first, x.dims[2]), E.arg(1), { sel(x) }, false, note)
      end)
      first = first + x.dims[2]
    end
  end
  return { outputs = { out } }
end

function merge.Concatenate.stream_refusal(layer)
  if layer.axis == "rows" then
    return string.format("layer '%s' (Concatenate) joins sequences along their time axis", layer.name)
  end
  return nil
end

function merge.Concatenate.spec(layer)
  return { string.format("layer Concatenate %s axis=%s", layer.name, layer.axis) }
end

---------------------------------------------------------------- Dot

-- Dot's axes: one integer (both inputs) or a list of two.
local function check_axes(at, name, v)
  if type(v) == "table" and util.unwrap(v) == nil then
    if #v ~= 2 then util.fail(at, "argument '%s' must be an integer or a list of two, got %d values", name, #v) end
    return { integer(at, name, v[1]), integer(at, name, v[2]) }
  end
  local a = integer(at, name, v)
  return { a, a }
end

merge.Dot = {
  class = "Dot",
  default_name = "dot",
  functional_name = "dot",
  positional = { "axes", "normalize" },
  args = {
    axes = { "table", nil, check = check_axes },
    normalize = { "boolean", false },
  },
  -- keras.layers.dot(inputs, axes=-1)
  functional_defaults = { axes = -1 },
  several_inputs = "merge",
  min_inputs = 2,
  max_inputs = 2,
}

-- tf.keras 2.x: tf.linalg.l2_normalize, x * rsqrt(max(sum x^2, 1e-12))
local L2_EPSILON = 1e-12

function merge.Dot.build(layer, shapes)
  check_inputs(layer, shapes)
  local reduce, kept = {}, {}
  for i = 1, 2 do
    local s = shapes[i]
    reduce[i] = axis_of(layer, layer.args.axes[i], #s)
    kept[i] = {}
    for d = 2, #s do
      local axis = (reduce[i] == "cols" and #s or 2)
      if d ~= axis then kept[i][#kept[i] + 1] = s[d] end
    end
  end
  local function size(i)
    return shapes[i][reduce[i] == "cols" and #shapes[i] or 2]
  end
  if size(1) ~= size(2) then
    util.fail(layer.at, "Dot: axis %d of %s (%d) and axis %d of %s (%d) must have one size", layer.args.axes[1],
      util.shape_str(shapes[1]), size(1), layer.args.axes[2], util.shape_str(shapes[2]), size(2))
  end
  layer.reduce = reduce
  -- Keras: each input's axes but the reduced one, the batch once; (batch, 1)
  -- when nothing is left
  local out = { shapes[1][1] }
  for i = 1, 2 do
    for _, d in ipairs(kept[i]) do
      out[#out + 1] = d
    end
  end
  if #out == 1 then out[2] = 1 end
  layer.weights = {}
  return { out }
end

-- A's rows, normalised to unit length (Keras's l2 normalisation), into a
-- buffer (or its transpose, for B): out (m x k) = a * rsqrt(max(|a_r|^2, eps)).
local function normalise(g, prefix, name, a, transposed_store)
  local m, k = a.dims[1], a.dims[2]
  local ss = g:act(prefix .. "/" .. name .. "_sumsq", m, 1, "per row of " .. name .. ", the sum of its squares")
  local inv = g:act(prefix .. "/" .. name .. "_invnorm", m, 1, "per row of " .. name .. ", 1 / its norm")
  if m == 1 then
    g:matmul(ss, a, ir.transpose(a), false, "the sum of squares of " .. name)
  else
    g:loop(0, m - 1, function(t)
      local row = ir.row(a, t)
      g:matmul(ir.row(ss, t), row, ir.transpose(row), false, "the sum of squares of a row of " .. name)
    end)
  end
  g:map(inv, E.fn("rsqrt", E.max(E.arg(1), E.const(L2_EPSILON))), { ss }, false,
    "1 / max(norm, epsilon): Keras's l2 normalisation")
  local buf
  if transposed_store then
    buf = g:act(prefix .. "/" .. name .. "_hat_t", k, m, name .. " normalised, transposed")
  else
    buf = g:act(prefix .. "/" .. name .. "_hat", m, k, name .. " normalised")
  end
  local target = transposed_store and ir.transpose(buf) or buf
  g:map(target, E.mul(E.arg(1), E.arg(2)), { a, ir.view(inv.buf, inv.off, m, k, 1, 0) }, false,
    name .. " / its norm")
  return buf
end

function merge.Dot.emit(layer, g, xs, prefix)
  if variable_sequences(g, xs) then
    util.fail(layer.at, "Dot over sequences needs a fixed length: give the inputs a number of timesteps instead "
      .. "of None (--timesteps)")
  end
  -- A (m x k) and B (n x k): each input turned so that the reduced axis is
  -- its columns; the output is A @ B^T.
  local a = layer.reduce[1] == "cols" and xs[1] or ir.transpose(xs[1])
  local b = layer.reduce[2] == "cols" and xs[2] or ir.transpose(xs[2])
  -- a matrix and a vector give a vector: computed as one row (B @ A^T)
  local swap = a.dims[1] > 1 and b.dims[1] == 1
  if swap then a, b = b, a end
  local m, n = a.dims[1], b.dims[1]
  local out = g:act(prefix .. "/y", m, n, "the dot products")
  local note = "the dot products of the inputs along their axes " .. table.concat(layer.args.axes, ", ")
  if layer.args.normalize then
    local ah = normalise(g, prefix, swap and "b" or "a", a, false)
    local bt = normalise(g, prefix, swap and "a" or "b", b, true)
    g:matmul(out, ah, bt, false, note .. " (normalised: their cosines)")
  else
    g:matmul(out, a, ir.transpose(b), false, note)
  end
  return { outputs = { out } }
end

function merge.Dot.stream_refusal(layer, node)
  for _, t in ipairs(node.inputs) do
    if #t.shape == 3 then
      return string.format("layer '%s' (Dot) takes products over whole sequences", layer.name)
    end
  end
  return nil
end

function merge.Dot.spec(layer)
  return { string.format("layer Dot %s axes=%s,%s normalize=%d", layer.name, layer.reduce[1], layer.reduce[2],
    layer.args.normalize and 1 or 0) }
end

merge.modules = { merge.Add, merge.Subtract, merge.Multiply, merge.Average, merge.Maximum, merge.Minimum,
  merge.Concatenate, merge.Dot }

return merge
