-- MaxPooling1D(pool_size=2, strides=None, padding="valid"): the maximum of
-- every window of pool_size steps (layers/pool.lua).
local ir = require("ir")
local pool = require("layers.pool")

local MaxPooling1D = {
  class = "MaxPooling1D",
  default_name = "max_pooling1d",
  positional = { "pool_size", "strides", "padding" },
  args = pool.args(),
  sequence_input = true,
  stream_refusal = pool.stream_refusal,
}

MaxPooling1D.build = pool.geometry

function MaxPooling1D.emit(layer, g, x, prefix)
  local geo = layer.geom
  local taps = pool.taps(layer, g, x, prefix, pool.LOWEST)
  if geo.p == 1 then return { outputs = { taps[1] } } end
  local rows, cols = geo.steps_out, geo.channels
  local first = taps[1]
  -- tap q, as a view moving one step of the padded input per q
  local function src(q)
    if type(q) == "number" then return taps[q + 1] end
    return ir.view(first.buf, first.off, rows, cols, first.strides[1], first.strides[2], first.strides[1] // geo.s, 0)
  end
  local m = pool.running_max(g, prefix, rows, cols, geo.p, src, geo.p - 1, "the maximum of the first t + 1 steps "
    .. "of every window (row block t)")
  return { outputs = { ir.rows(m, (geo.p - 1) * rows, rows) } }
end

MaxPooling1D.spec = pool.spec

return MaxPooling1D
