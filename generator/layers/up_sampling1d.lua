-- UpSampling1D(size=2): every step repeated `size` times, in place:
-- steps a, b -> a, a, b, b.
local util = require("util")
local ir = require("ir")
local seq = require("layers.seq")

local UpSampling1D = {
  class = "UpSampling1D",
  default_name = "up_sampling1d",
  positional = { "size" },
  args = { size = { "posint", 2 } },
  sequence_input = true,
}

function UpSampling1D.build(layer, shape)
  seq.require_sequence(layer, shape, true)
  if shape[2] == util.None then return { { shape[1], util.None, shape[3] } } end
  if shape[2] * layer.args.size > (1 << 24) then
    util.fail(layer.at, "size %d makes too many steps", layer.args.size)
  end
  return { { shape[1], shape[2] * layer.args.size, shape[3] } }
end

function UpSampling1D.emit(layer, g, x, prefix)
  local s, rows, cols = layer.args.size, x.dims[1], x.dims[2]
  seq.fixed_length(layer, g, "makes more steps of every step")
  local y = g:act(prefix .. "/y", rows * s, cols, "every step repeated")
  for k = 0, s - 1 do
    g:map(seq.strided_rows(y, k, rows, s), ir.E.arg(1), { x }, false, string.format("copy %d of every step", k + 1))
  end
  return { outputs = { y } }
end

function UpSampling1D.spec(layer, prefix)
  return { string.format("layer UpSampling1D %s size=%d", prefix, layer.args.size) }
end

function UpSampling1D.stream_refusal(layer)
  return string.format("layer '%s' (UpSampling1D) makes %d steps of every step", layer.name, layer.args.size)
end

return UpSampling1D
