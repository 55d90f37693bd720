-- What the pooling layers share. MaxPooling1D and AveragePooling1D take
-- windows of pool_size steps moved by strides (default pool_size), padding
-- valid or same (TensorFlow's rule). For same, a window hangs over the ends:
-- max pooling ignores the steps outside (Keras 3's JAX backend pads with
-- -inf, keras/src/backend/jax/nn.py max_pool; here -FLT_MAX, the lowest
-- float32), average pooling divides by the steps inside the window only
-- (jax/nn.py average_pool counts the valid entries; so does TensorFlow's
-- AvgPool).
--
-- The global ones reduce over every step. In the stream program they keep
-- the reduction of the steps so far, and a count of them, in the caller's
-- struct: after k calls the output is the reduction of the k steps, which
-- is the model's output for those k steps.
local util = require("util")
local ir = require("ir")
local seq = require("layers.seq")

local pool = {}

local E = ir.E

pool.LOWEST = -3.4028234663852886e38 -- -FLT_MAX

function pool.args()
  return {
    pool_size = { "any", 2, check = seq.int1(1) },
    strides = { "any", util.None, check = function(at, argname, v)
      if v == util.None then return v end
      return seq.int1(1)(at, argname, v)
    end },
    padding = { "any", "valid", check = seq.one_of({ "valid", "same" }) },
    data_format = { "any", "channels_last", check = seq.channels_last },
  }
end

function pool.geometry(layer, shape)
  seq.require_sequence(layer, shape, true)
  local a = layer.args
  local p = a.pool_size
  local s = a.strides == util.None and p or a.strides
  local steps = shape[2]
  local geo = { p = p, s = s, before = 0, after = 0, channels = shape[3] }
  if steps ~= util.None then
    if a.padding == "valid" and steps < p then
      util.fail(layer.at, "the input's %d steps are fewer than pool_size %d (padding = \"valid\")", steps, p)
    end
    if a.padding == "same" then geo.before, geo.after = seq.same_padding(steps, p, s) end
  end
  geo.steps_out = seq.output_length(steps, p, s, a.padding)
  layer.geom = geo
  layer.in_shape = util.copy(shape)
  return { { shape[1], geo.steps_out, shape[3] } }
end

-- The window's taps: q = 0 .. p - 1, each a (steps_out x channels) view of
-- the input padded with `pad_value`.
function pool.taps(layer, g, x, prefix, pad_value)
  local geo = layer.geom
  -- windows of one step moved by one: the input itself (also in the stream
  -- program, whose input is one step, not the steps_out rows of a sequence)
  if geo.p == 1 and geo.s == 1 then return { x } end
  seq.fixed_length(layer, g, "changes the sequence length")
  local p = x
  if geo.before + geo.after > 0 then
    p = seq.padded(g, x, geo.before, geo.after, prefix .. "/padded", "the input between its padding", pad_value)
  end
  local taps = {}
  for q = 0, geo.p - 1 do
    taps[q + 1] = seq.strided_rows(p, q, geo.steps_out, geo.s)
  end
  return taps
end

function pool.spec(layer, prefix)
  local geo = layer.geom
  return { string.format("layer %s %s pool_size=%d strides=%d padding=%s", layer.module.class, prefix, geo.p, geo.s,
    layer.args.padding) }
end

function pool.stream_refusal(layer)
  local geo = layer.geom
  if geo.p == 1 and geo.s == 1 then return nil end
  return string.format("layer '%s' (%s) pools %d steps into one every %d", layer.name, layer.module.class, geo.p,
    geo.s)
end

-- The running maximum over `count` rows of `src` (each a rows x C view
-- moving `stride` elements per row index): m[0] = src[0], m[t] =
-- max(m[t-1], src[t]) in a loop, so that a window of any size is two ops and
-- its gradient reaches the first maximum (the tie goes to the earlier step).
-- src(t) gives the view for index t (a number or ir.step). Returns the view
-- of the last block.
function pool.running_max(g, prefix, rows, cols, count, src, last, meaning)
  local m = g:act(prefix .. "/running_max", count * rows, cols, meaning)
  local function block(t, back)
    if type(t) == "number" then return ir.rows(m, (t - (back or 0)) * rows, rows) end
    return ir.view(m.buf, -(back or 0) * rows * cols, rows, cols, cols, 1, rows * cols, 0)
  end
  g:map(block(0), E.arg(1), { src(0) }, false, "the first element")
  g:loop(1, last, function(t)
    g:map(block(t), E.max(E.arg(1), E.arg(2)), { block(t, 1), src(t) }, false, "the larger of the maximum so far "
      .. "and the next element")
  end)
  return m
end

return pool
