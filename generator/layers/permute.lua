-- Permute(dims): the axes of a sample reordered; on (batch, steps, channels)
-- Permute({2, 1}) swaps steps and channels, Permute({1, 2}) changes nothing.
local util = require("util")
local ir = require("ir")

local function dims_arg(at, argname, v)
  if type(v) ~= "table" or v == util.None then
    util.fail(at, "argument '%s' must be a permutation such as { 2, 1 }, got %s", argname, tostring(v))
  end
  local out, seen = {}, {}
  for i, d in ipairs(v) do
    if math.type(d) == "float" and d == math.floor(d) then d = math.tointeger(d) end
    if math.type(d) ~= "integer" or d < 1 or d > #v or seen[d] then
      util.fail(at, "%s must be a permutation of 1..%d (the batch axis stays first), got %s at position %d",
        argname, #v, tostring(d), i)
    end
    seen[d] = true
    out[i] = d
  end
  if #out < 1 or #out > 2 then
    util.fail(at, "%s has %d axes: rnnc's tensors have at most two besides the batch", argname, #out)
  end
  return out
end

local Permute = {
  class = "Permute",
  default_name = "permute",
  positional = { "dims" },
  args = { dims = { "any", check = dims_arg } },
}

function Permute.build(layer, shape)
  local d = layer.args.dims
  if #d ~= #shape - 1 then
    util.fail(layer.at, "dims = %d axes for an input of %d axes besides the batch (%s)", #d, #shape - 1,
      util.shape_str(shape))
  end
  local out = { shape[1] }
  for i, k in ipairs(d) do
    out[i + 1] = shape[k + 1]
  end
  for i = 2, #out do
    if out[i] == util.None and #d == 2 and d[1] == 2 then
      util.fail(layer.at, "Permute needs a known number of steps to swap them with the channels, got %s",
        util.shape_str(shape))
    end
  end
  layer.in_shape = util.copy(shape)
  layer.swap = #d == 2 and d[1] == 2
  return { out }
end

function Permute.emit(layer, g, x, prefix)
  if not layer.swap then return { outputs = { x } } end
  local y = g:act(prefix .. "/y", x.dims[2], x.dims[1], "the input with steps and channels swapped")
  g:map(y, ir.E.arg(1), { ir.transpose(x) }, false, "the transpose")
  return { outputs = { y } }
end

function Permute.spec(layer, prefix)
  return { string.format("layer Permute %s swap=%d", prefix, layer.swap and 1 or 0) }
end

function Permute.stream_refusal(layer)
  if layer.swap then return string.format("layer '%s' (Permute) swaps the time axis with the channels", layer.name) end
  return nil
end

return Permute
