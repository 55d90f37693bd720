-- ZeroPadding1D(padding=1): rows of zeros before and after the steps of a
-- (batch, steps, channels) input; padding is an int or {before, after}.
local util = require("util")
local seq = require("layers.seq")

local ZeroPadding1D = {
  class = "ZeroPadding1D",
  default_name = "zero_padding1d",
  positional = { "padding" },
  args = {
    padding = { "any", 1, check = seq.pair },
    data_format = { "any", "channels_last", check = seq.channels_last },
  },
  sequence_input = true,
}

local function pair(layer)
  local p = layer.args.padding
  if type(p) == "number" then return { p, p } end
  return p
end

function ZeroPadding1D.build(layer, shape)
  seq.require_sequence(layer, shape, true)
  local p = pair(layer)
  layer.pad = p
  local steps = shape[2] == util.None and util.None or shape[2] + p[1] + p[2]
  return { { shape[1], steps, shape[3] } }
end

function ZeroPadding1D.emit(layer, g, x, prefix)
  local p = layer.pad
  seq.fixed_length(layer, g, "adds steps to the sequence")
  return { outputs = { seq.padded(g, x, p[1], p[2], prefix .. "/y", "the input with zero steps around it") } }
end

function ZeroPadding1D.spec(layer, prefix)
  return { string.format("layer ZeroPadding1D %s before=%d after=%d", prefix, layer.pad[1], layer.pad[2]) }
end

function ZeroPadding1D.stream_refusal(layer)
  return string.format("layer '%s' (ZeroPadding1D) adds steps to the sequence", layer.name)
end

return ZeroPadding1D
