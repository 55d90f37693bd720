-- GlobalMaxPooling1D(keepdims=False): the maximum over the steps of every
-- channel, (batch, steps, channels) -> (batch, channels) (or (batch, 1,
-- channels) with keepdims). A running maximum over the steps
-- (layers/pool.lua); in a unit of variable length, over the L steps
-- present. Streams: the caller's struct keeps the maximum so far.
local util = require("util")
local ir = require("ir")
local seq = require("layers.seq")
local pool = require("layers.pool")

local E = ir.E

local GlobalMaxPooling1D = {
  class = "GlobalMaxPooling1D",
  default_name = "global_max_pooling1d",
  positional = { "data_format" },
  args = { data_format = { "any", "channels_last", check = seq.channels_last }, keepdims = { "boolean", false } },
  sequence_input = true,
}

function GlobalMaxPooling1D.build(layer, shape)
  seq.require_sequence(layer, shape, true)
  layer.in_shape = util.copy(shape)
  if layer.args.keepdims then return { { shape[1], 1, shape[3] } } end
  return { { shape[1], shape[3] } }
end

-- The stream keeps the maximum so far and the number of steps seen.
function GlobalMaxPooling1D.stream_state(layer)
  local C = layer.in_shape[3]
  return { rows = 1, cols = C + 1, meaning = string.format("%s's maximum of the steps so far, then their count",
    layer.name) }
end

function GlobalMaxPooling1D.emit(_, g, x, prefix, initial)
  local rows, cols = x.dims[1], x.dims[2]
  if g.streaming then
    local st = initial[1]
    local m, count = ir.cols(st, 0, cols), ir.cols(st, cols, 1)
    local y = g:act(prefix .. "/y", 1, cols, "the maximum of the steps so far")
    local seen = E.fn("step", E.arg(3))
    -- the step's input alone at the first step (the kept maximum is not one yet)
    g:map(y, E.add(E.mul(seen, E.max(E.arg(1), E.arg(2))), E.mul(E.sub(E.ONE, seen), E.arg(2))),
      { m, x, ir.view(count.buf, count.off, 1, cols, 1, 0) }, false, "the maximum so far")
    g:map(m, E.arg(1), { y }, false, "keep it for the next call")
    g:map(count, E.add(E.arg(1), E.ONE), { count }, false, "count the step")
    return { outputs = { y } }
  end
  local last = g.prog.variable and rows > 1 and { c = -1, l = 1 } or rows - 1
  local function src(t)
    return ir.row(x, t)
  end
  local m = pool.running_max(g, prefix, 1, cols, rows, src, last, "per step, the maximum of the steps up to it")
  return { outputs = { g:last_row(m) } }
end

function GlobalMaxPooling1D.spec(layer, prefix)
  return { string.format("layer GlobalMaxPooling1D %s keepdims=%d", prefix, layer.args.keepdims and 1 or 0) }
end

return GlobalMaxPooling1D
