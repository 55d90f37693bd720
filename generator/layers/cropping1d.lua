-- Cropping1D(cropping=(1, 1)): drops steps at the start and the end of a
-- (batch, steps, channels) input; cropping is an int or {start, end}.
local util = require("util")
local ir = require("ir")
local seq = require("layers.seq")

local Cropping1D = {
  class = "Cropping1D",
  default_name = "cropping1d",
  positional = { "cropping" },
  args = { cropping = { "any", { 1, 1 }, check = seq.pair } },
  sequence_input = true,
}

function Cropping1D.build(layer, shape)
  seq.require_sequence(layer, shape, true)
  local c = layer.args.cropping
  if type(c) == "number" then c = { c, c } end
  if shape[2] ~= util.None and c[1] + c[2] >= shape[2] then
    util.fail(layer.at, "cropping {%d, %d} leaves no step of %s", c[1], c[2], util.shape_str(shape))
  end
  layer.crop = c
  local steps = shape[2] == util.None and util.None or shape[2] - c[1] - c[2]
  return { { shape[1], steps, shape[3] } }
end

-- The kept steps, read in place.
function Cropping1D.emit(layer, g, x)
  local c = layer.crop
  seq.fixed_length(layer, g, "drops steps from the sequence")
  if c[1] + c[2] >= x.dims[1] then
    util.fail(layer.at, "cropping {%d, %d} leaves no step of %d", c[1], c[2], x.dims[1])
  end
  return { outputs = { ir.rows(x, c[1], x.dims[1] - c[1] - c[2]) } }
end

function Cropping1D.spec(layer, prefix)
  return { string.format("layer Cropping1D %s before=%d after=%d", prefix, layer.crop[1], layer.crop[2]) }
end

function Cropping1D.stream_refusal(layer)
  return string.format("layer '%s' (Cropping1D) drops steps from the sequence", layer.name)
end

return Cropping1D
