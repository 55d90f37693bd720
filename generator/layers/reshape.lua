-- Reshape(target_shape): a sample's values in the same order, read as
-- target_shape (one dimension may be -1: what the others leave). rnnc's
-- tensors are (batch, features) or (batch, steps, features), so the target
-- has one or two dimensions.
local util = require("util")
local seq = require("layers.seq")

local function target(at, argname, v)
  if type(v) ~= "table" or v == util.None or #v < 1 then
    util.fail(at, "argument '%s' must be a tuple of dimensions such as { 4, 2 }, got %s", argname, tostring(v))
  end
  if #v > 2 then
    util.fail(at, "%s = %d dimensions: rnnc's tensors are (batch, features) or (batch, steps, features), so a "
      .. "target of one or two dimensions", argname, #v)
  end
  local out, unknown = {}, 0
  for i, d in ipairs(v) do
    if math.type(d) == "float" and d == math.floor(d) then d = math.tointeger(d) end
    if d == -1 then
      unknown = unknown + 1
    elseif math.type(d) ~= "integer" or d < 1 or d > (1 << 24) then
      util.fail(at, "%s: dimension %d must be a positive integer or -1, got %s", argname, i, tostring(d))
    end
    out[i] = d
  end
  if unknown > 1 then util.fail(at, "%s: at most one dimension may be -1", argname) end
  return out
end

local Reshape = {
  class = "Reshape",
  default_name = "reshape",
  positional = { "target_shape" },
  args = { target_shape = { "any", check = target } },
}

function Reshape.build(layer, shape)
  local n = 1
  for i = 2, #shape do
    if shape[i] == util.None then
      util.fail(layer.at, "Reshape needs every dimension but the batch known, got %s", util.shape_str(shape))
    end
    n = n * shape[i]
  end
  local t, known, free = layer.args.target_shape, 1, nil
  for i, d in ipairs(t) do
    if d == -1 then free = i else known = known * d end
  end
  local out = { shape[1] }
  for i, d in ipairs(t) do
    out[i + 1] = d
  end
  if free then
    if n % known ~= 0 then
      util.fail(layer.at, "cannot reshape %s (%d values per sample) to %s", util.shape_str(shape), n,
        util.shape_str(out))
    end
    out[free + 1] = n // known
  elseif known ~= n then
    util.fail(layer.at, "total size of new array must be unchanged: %s has %d values per sample, the target %d",
      util.shape_str(shape), n, known)
  end
  layer.in_shape = util.copy(shape)
  layer.out_shape = out
  return { out }
end

function Reshape.emit(layer, g, x, prefix)
  local o = layer.out_shape
  local rows, cols = 1, o[2]
  if #o == 3 then rows, cols = o[2], o[3] end
  return { outputs = { seq.reshape(g, x, rows, cols, prefix .. "/y", "the input, reshaped") } }
end

function Reshape.spec(layer, prefix)
  local dims = {}
  for i = 2, #layer.out_shape do
    dims[#dims + 1] = tostring(layer.out_shape[i])
  end
  return { string.format("layer Reshape %s target=%s", prefix, table.concat(dims, ",")) }
end

function Reshape.stream_refusal(layer)
  if #layer.in_shape == 2 and #layer.out_shape == 2 then return nil end
  return string.format("layer '%s' (Reshape) %s", layer.name, #layer.in_shape == 3 and
    "reads the time axis as other values" or "makes a time axis out of one vector")
end

return Reshape
