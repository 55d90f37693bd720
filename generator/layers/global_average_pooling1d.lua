-- GlobalAveragePooling1D(keepdims=False): the mean over the steps of every
-- channel, (batch, steps, channels) -> (batch, channels) (or (batch, 1,
-- channels) with keepdims). Keras honours a mask here (the mean of the
-- unmasked steps, keras/src/layers/pooling/global_average_pooling1d.py);
-- no rnnc layer makes a mask yet, so every step counts. Streams: the
-- caller's struct keeps the sum of the steps so far and their count.
local util = require("util")
local ir = require("ir")
local seq = require("layers.seq")

local E = ir.E

local GlobalAveragePooling1D = {
  class = "GlobalAveragePooling1D",
  default_name = "global_average_pooling1d",
  positional = { "data_format" },
  args = { data_format = { "any", "channels_last", check = seq.channels_last }, keepdims = { "boolean", false } },
  sequence_input = true,
}

function GlobalAveragePooling1D.build(layer, shape)
  seq.require_sequence(layer, shape, true)
  layer.in_shape = util.copy(shape)
  if layer.args.keepdims then return { { shape[1], 1, shape[3] } } end
  return { { shape[1], shape[3] } }
end

function GlobalAveragePooling1D.stream_state(layer)
  local C = layer.in_shape[3]
  return { rows = 1, cols = C + 1, meaning = string.format("%s's sum of the steps so far, then their count",
    layer.name) }
end

function GlobalAveragePooling1D.emit(layer, g, x, prefix, initial)
  local rows, cols = x.dims[1], x.dims[2]
  if g.streaming then
    local st = initial[1]
    local sum, count = ir.cols(st, 0, cols), ir.cols(st, cols, 1)
    g:map(count, E.add(E.arg(1), E.ONE), { count }, false, "count the step")
    g:map(sum, E.add(E.arg(1), E.arg(2)), { sum, x }, false, "add the step")
    local y = g:act(prefix .. "/y", 1, cols, "the mean of the steps so far")
    g:map(y, E.mul(E.arg(1), E.fn("recip", E.arg(2))), { sum, ir.view(count.buf, count.off, 1, cols, 1, 0) }, false,
      "the sum / the count")
    return { outputs = { y } }
  end
  if g.prog.variable and rows > 1 then
    util.fail(layer.at, "GlobalAveragePooling1D in a unit of variable length (--timesteps) is not implemented: give "
      .. "the input a fixed length")
  end
  local sum = g:act(prefix .. "/sum", 1, cols, "the sum over the steps")
  g:fill(sum, 0, "the sum starts at zero")
  g:map(ir.broadcast_rows(sum, rows), E.arg(1), { x }, true, "add every step")
  local y = g:act(prefix .. "/y", 1, cols, "the mean over the steps")
  g:map(y, E.mul(E.arg(1), E.const(1 / rows)), { sum }, false, "the sum / the steps")
  return { outputs = { y } }
end

function GlobalAveragePooling1D.spec(layer, prefix)
  return { string.format("layer GlobalAveragePooling1D %s keepdims=%d", prefix, layer.args.keepdims and 1 or 0) }
end

return GlobalAveragePooling1D
