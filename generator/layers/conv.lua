-- What Conv1D, DepthwiseConv1D and SeparableConv1D share: their arguments,
-- the output length, and the taps.
--
-- A convolution of kernel_size k with dilation d and stride s reads, for
-- output step t and tap i, input step t * s + i * d - before (before: the
-- zero padding in front: d * (k - 1) for causal, TensorFlow's SAME rule for
-- same, 0 for valid). Tap i over all output steps is a view of the input:
-- rows before + ... moving s rows per step. Padding is a copy of the input
-- with zero rows around it; then every tap is a plain strided view and
-- each layer writes its arithmetic over whole taps (Conv1D copies the taps
-- side by side, im2col, and makes one product of them per group, batched
-- over the samples and steps; the depthwise layers multiply taps
-- elementwise).
--
-- Streaming (one step per call): only causal padding with stride 1 runs
-- that way. The receptive field, the last (k - 1) * d input steps, is a ring
-- buffer in the caller's stream struct ("state" buffer with ring = true:
-- its rows are read oldest first from a position the C writer keeps, and
-- advance by one row per call); tap i reads its row i * d, the last tap the
-- step's own input, and the step's input then replaces the oldest row.
local util = require("util")
local ir = require("ir")
local seq = require("layers.seq")

local conv = {}

-- The arguments of a convolution (Keras 2/3 names and defaults).
function conv.args(extra)
  local args = {
    kernel_size = { "any", check = seq.int1(1) },
    strides = { "any", 1, check = seq.int1(1) },
    padding = { "any", "valid", check = seq.one_of({ "valid", "same", "causal" }) },
    data_format = { "any", "channels_last", check = seq.channels_last },
    dilation_rate = { "any", 1, check = seq.int1(1) },
    activation = { "activation", "linear" },
    use_bias = { "boolean", true },
    bias_initializer = { "initializer", "zeros" },
    input_length = { "posint", optional = true },
  }
  for k, v in pairs(extra) do
    args[k] = v
  end
  return args
end

-- Checks the input, computes the geometry; returns the output steps.
-- layer.geom = {k, s, d, size (dilated kernel), before, after, steps_in,
-- steps_out, channels}.
function conv.geometry(layer, shape)
  seq.require_sequence(layer, shape, true)
  local a = layer.args
  local k, s, d = a.kernel_size, a.strides, a.dilation_rate
  if s > 1 and d > 1 then
    util.fail(layer.at, "strides = %d with dilation_rate = %d: Keras does not allow both above 1", s, d)
  end
  local size = d * (k - 1) + 1
  local steps = shape[2]
  local g = { k = k, s = s, d = d, size = size, channels = shape[3], steps_in = steps, before = 0, after = 0 }
  if steps ~= util.None then
    if a.padding == "valid" and steps < size then
      util.fail(layer.at, "the input's %d steps are fewer than the dilated kernel's %d (padding = \"valid\")", steps,
        size)
    end
    if a.padding == "causal" then
      g.before = size - 1
    elseif a.padding == "same" then
      g.before, g.after = seq.same_padding(steps, size, s)
    end
  elseif a.padding == "causal" then
    g.before = size - 1
  end
  g.steps_out = seq.output_length(steps, size, s, a.padding)
  layer.geom = g
  layer.in_shape = util.copy(shape)
  return g.steps_out
end

-- The rows of the padded input (or of x itself), the view every tap reads,
-- for the whole sequence. In a unit of variable length only a convolution
-- that keeps the length and reads no later step runs (causal, or kernel 1,
-- with stride 1).
local function source(layer, g, x, prefix)
  local geo = layer.geom
  if g.prog.variable then
    local keeps = geo.s == 1 and (layer.args.padding == "causal" or geo.size == 1)
    if not keeps then
      util.fail(layer.at, "padding = \"%s\" with kernel_size %d and strides %d changes the sequence length or reads "
        .. "later steps, which a unit of variable length (--timesteps) cannot follow: use padding = \"causal\" with "
        .. "strides 1, or give the input a fixed length", layer.args.padding, geo.k, geo.s)
    end
  end
  if geo.before == 0 and geo.after == 0 then return x end
  return seq.padded(g, x, geo.before, geo.after, prefix .. "/padded", "the input between its zero padding")
end

-- The k taps: views (steps_out x channels) of the input each tap reads, in a
-- batched unit; in a unit of variable length, a function of the row
-- selector of Builder:per_row. In the stream program (g.streaming), the
-- taps of the one step, and `finish()` to call after every tap is read.
-- Returns taps (list, 1-based: tap i + 1 is tap i), rows, finish.
function conv.taps(layer, g, x, prefix, ring)
  local geo = layer.geom
  local k, s, d = geo.k, geo.s, geo.d
  if g.streaming then
    local taps = {}
    for i = 0, k - 2 do
      taps[i + 1] = ir.row(ring, i * d)
    end
    taps[k] = x
    local function finish()
      if k > 1 then
        -- the step's input replaces the oldest row; the C writer then moves
        -- the ring's start on by one row
        g:map(ir.row(ring, 0), ir.E.arg(1), { x }, false, "keep this step's input in the receptive field")
      end
    end
    return taps, 1, finish
  end
  local p = source(layer, g, x, prefix)
  local rows = g.prog.variable and x.dims[1] or geo.steps_out
  local taps = {}
  for i = 0, k - 1 do
    taps[i + 1] = seq.strided_rows(p, i * d, rows, s)
  end
  return taps, rows, function() end
end

-- The ring buffer a streaming convolution keeps: (k - 1) * d rows of the
-- input's channels (nil when the kernel is one step).
function conv.stream_state(layer)
  local geo = layer.geom
  local rows = (geo.k - 1) * geo.d
  if rows == 0 then return nil end
  return { rows = rows, cols = geo.channels, ring = true,
    meaning = string.format("%s's receptive field: the last %d input steps, oldest first from pos", layer.name, rows) }
end

-- Why a convolution cannot run one step at a time (nil: it can).
function conv.stream_refusal(layer)
  local a, geo = layer.args, layer.geom
  if geo.s ~= 1 then
    return string.format("layer '%s' (%s) has strides = %d: it gives one step for every %d", layer.name,
      layer.module.class, geo.s, geo.s)
  end
  if geo.size > 1 and a.padding ~= "causal" then
    return string.format("layer '%s' (%s) has padding = \"%s\": its output at a step %s", layer.name,
      layer.module.class, a.padding, a.padding == "same" and "reads later steps" or
        "starts only once the kernel has its steps (only padding = \"causal\" streams)")
  end
  return nil
end

-- z (rows x C * m) = the depthwise convolution of the taps (no bias).
function conv.depthwise(g, layer, taps, rows, kernel, z)
  local E = ir.E
  local geo = layer.geom
  local k, C, m = geo.k, geo.channels, layer.args.depth_multiplier
  g:per_row(rows, function(sel)
    for j = 0, m - 1 do
      local expr, args = E.ZERO, {}
      for i = 0, k - 1 do
        local tap = sel(taps[i + 1])
        args[#args + 1] = tap
        -- kernel[i, :, j] across the rows
        args[#args + 1] = ir.view(kernel.buf, kernel.off + i * C * m + j, tap.dims[1], C, 0, m)
        expr = E.add(expr, E.mul(E.arg(#args - 1), E.arg(#args)))
      end
      g:map(sel(ir.view(z.buf, z.off + j, z.dims[1], C, z.strides[1], m)), expr, args, false,
        m > 1 and string.format("every channel's multiplier %d over the taps", j) or "every channel over the taps")
    end
  end)
end

-- The spec line's common part.
function conv.spec_geometry(layer)
  local a, geo = layer.args, layer.geom
  return string.format("kernel_size=%d strides=%d padding=%s dilation_rate=%d activation=%s use_bias=%d", geo.k,
    geo.s, a.padding, geo.d, a.activation, a.use_bias and 1 or 0)
end

-- bias and activation on z (rows x cols, every row of a sequence or the
-- rows of per_row's selector): y = act(z + bias). Returns y and, for a
-- softmax or sigmoid activation, the logits (Keras fuses them with the
-- crossentropies, as for Dense).
function conv.finish(g, prefix, z, bias, activation, sel_loop)
  local E = ir.E
  local rows, cols = z.dims[1], z.dims[2]
  if not bias and activation == "linear" then return z end
  local keep_logits = activation == "softmax" or activation == "sigmoid"
  local y = g:act(prefix .. "/y", rows, cols, "per step, the layer's output")
  local logits = nil
  if keep_logits and bias then logits = g:act(prefix .. "/logits", rows, cols, "per step, the pre-activation") end
  sel_loop(rows, function(sel)
    local zs = sel(z)
    local args, pre = { zs }, E.arg(1)
    if bias then
      args[2] = ir.broadcast_rows(bias, zs.dims[1])
      pre = E.add(E.arg(1), E.arg(2))
    end
    if keep_logits then
      local l = logits and sel(logits) or zs
      if logits then g:map(l, pre, args, false, "the pre-activation") end
      if activation == "softmax" then
        g:softmax(sel(y), l)
      else
        g:map(sel(y), ir.activation(activation, E.arg(1)), { l })
      end
    else
      g:map(sel(y), ir.activation(activation, pre), args)
    end
  end)
  if keep_logits then return y, logits or z end
  return y
end

return conv
