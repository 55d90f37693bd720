-- Flatten(): (batch, d1, d2, ...) -> (batch, d1 * d2 * ...), row-major (a
-- sample's values in the same order); the same storage when the input is
-- contiguous.
local util = require("util")
local seq = require("layers.seq")

local Flatten = {
  class = "Flatten",
  default_name = "flatten",
  positional = { "data_format" },
  args = { data_format = { "any", "channels_last", check = seq.channels_last } },
}

function Flatten.build(layer, shape)
  if #shape < 2 then util.fail(layer.at, "expected an input of ndim >= 2, found %s", util.shape_str(shape)) end
  local n = 1
  for i = 2, #shape do
    if shape[i] == util.None then
      util.fail(layer.at, "Flatten needs every dimension but the batch known, got %s (give the input a fixed length)",
        util.shape_str(shape))
    end
    n = n * shape[i]
  end
  layer.in_shape = util.copy(shape)
  return { { shape[1], n } }
end

function Flatten.emit(_, g, x, prefix)
  return { outputs = { seq.reshape(g, x, 1, x.dims[1] * x.dims[2], prefix .. "/y", "the flattened input") } }
end

function Flatten.spec(_, prefix)
  return { "layer Flatten " .. prefix }
end

function Flatten.stream_refusal(layer)
  if #layer.in_shape == 3 then
    return string.format("layer '%s' (Flatten) merges the time axis: its output needs every step", layer.name)
  end
  return nil
end

return Flatten
