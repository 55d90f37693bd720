-- AveragePooling1D(pool_size=2, strides=None, padding="valid"): the mean of
-- every window; with padding same, of the steps inside the input only
-- (layers/pool.lua).
local ir = require("ir")
local pool = require("layers.pool")

local E = ir.E

local AveragePooling1D = {
  class = "AveragePooling1D",
  default_name = "average_pooling1d",
  positional = { "pool_size", "strides", "padding" },
  args = pool.args(),
  sequence_input = true,
  stream_refusal = pool.stream_refusal,
}

AveragePooling1D.build = pool.geometry

function AveragePooling1D.emit(layer, g, x, prefix)
  local geo = layer.geom
  local taps = pool.taps(layer, g, x, prefix, 0)
  if geo.p == 1 and geo.s == 1 then return { outputs = { x } } end -- the mean of one step
  local rows, cols, p, s = geo.steps_out, geo.channels, geo.p, geo.s
  local steps = x.dims[1]
  local y = g:act(prefix .. "/y", rows, cols, "per step, the window's mean")
  -- how many of window j's steps lie inside the input
  local function inside(j)
    local first = j * s - geo.before
    return math.max(0, math.min(first + p, steps) - math.max(first, 0))
  end
  -- runs of rows whose windows hold the same number of steps: one map each
  local j = 0
  while j < rows do
    local n = inside(j)
    local j1 = j
    while j1 + 1 < rows and inside(j1 + 1) == n do
      j1 = j1 + 1
    end
    local args, expr = {}, E.ZERO
    for q = 1, p do
      args[q] = ir.rows(taps[q], j, j1 - j + 1)
      expr = E.add(expr, E.arg(q))
    end
    g:map(ir.rows(y, j, j1 - j + 1), E.mul(expr, E.const(1 / n)), args, false,
      n == p and "the sum of the window / pool_size" or string.format("the sum / the %d steps inside the input", n))
    j = j1 + 1
  end
  return { outputs = { y } }
end

AveragePooling1D.spec = pool.spec

return AveragePooling1D
