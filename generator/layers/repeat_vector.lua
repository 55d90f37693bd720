-- RepeatVector(n): (batch, features) -> (batch, n, features), the vector at
-- every step (the LSTM autoencoder's bridge from the encoding to the
-- decoder).
local util = require("util")
local ir = require("ir")

local RepeatVector = {
  class = "RepeatVector",
  default_name = "repeat_vector",
  positional = { "n" },
  args = { n = { "posint" } },
}

function RepeatVector.build(layer, shape)
  if #shape ~= 2 then
    util.fail(layer.at, "expected an input of ndim=2 (batch, features), found ndim=%d: %s", #shape,
      util.shape_str(shape))
  end
  if shape[2] == util.None then util.fail(layer.at, "the feature dimension must be known") end
  if layer.args.n > (1 << 24) then util.fail(layer.at, "n = %d is larger than rnnc allows", layer.args.n) end
  return { { shape[1], layer.args.n, shape[2] } }
end

-- A copy (not a broadcast view): the layers after it write their gradients
-- through their input, and a product must never write through a view whose
-- rows share storage.
function RepeatVector.emit(layer, g, x, prefix)
  local n = layer.args.n
  local y = g:act(prefix .. "/y", n, x.dims[2], "the vector at every step")
  g:map(y, ir.E.arg(1), { ir.broadcast_rows(x, n) }, false, "the vector, repeated")
  return { outputs = { y } }
end

function RepeatVector.spec(layer, prefix)
  return { string.format("layer RepeatVector %s n=%d", prefix, layer.args.n) }
end

function RepeatVector.stream_refusal(layer)
  return string.format("layer '%s' (RepeatVector) starts a sequence from a vector that depends on the whole input",
    layer.name)
end

return RepeatVector
