-- Masking(mask_value=0.0): Keras 3 keras/src/layers/core/masking.py. The
-- mask of a sample's timestep is any(x[t, :] != mask_value) (`compute_mask`:
-- ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)); the output is
-- the input with the masked timesteps zeroed (`call`: inputs * mask). The
-- mask is data: the generated code computes it from the input at run time,
-- and the layers after it read it (lower.lua carries it along the graph:
-- a layer passes it on (`passes_mask`), consumes it (the recurrent layers)
-- or refuses it).
--
-- A mask source in general is a layer whose emit returns `masks`, a
-- (rows x 1) view of 0/1 per output; `common.mask_from(g, prefix, x, cond)`
-- builds one from any elementwise condition on the input (Embedding's
-- mask_zero is mask = x != 0, the same rule with mask_value 0 on its ids).
local util = require("util")
local ir = require("ir")
local common = require("layers.common")
local seq = require("layers.seq")

local E = ir.E

local Masking = {
  class = "Masking",
  default_name = "masking",
  positional = { "mask_value" },
  args = { mask_value = { "number", 0.0 } },
  -- a mask on its input is replaced by its own (Keras's Masking.compute_mask)
  takes_mask = true,
}

function Masking.build(layer, shape)
  if #shape ~= 3 then
    util.fail(layer.at, "expected an input of ndim=3 (batch, timesteps, features), found ndim=%d: %s", #shape,
      util.shape_str(shape))
  end
  if shape[3] == util.None then
    util.fail(layer.at, "the feature dimension of the input must be known, got %s", util.shape_str(shape))
  end
  return { util.copy(shape) }
end

function Masking.emit(layer, g, x, prefix)
  local v = layer.args.mask_value
  -- x != v, exactly: 1 where x > v or x < v
  local m = common.mask_from(g, prefix, x, E.add(E.fn("step", E.sub(E.arg(1), E.const(v))),
    E.fn("step", E.sub(E.const(v), E.arg(1)))), string.format("any(x[t, :] != %.17g)", v))
  local y = g:act(prefix .. "/y", x.dims[1], x.dims[2], "per step, the input with the masked steps zeroed")
  g:per_row(x.dims[1], function(sel)
    g:map(sel(y), E.mul(E.arg(1), E.arg(2)), { sel(x), seq.broadcast_cols(sel(m), x.dims[2]) }, false,
      "x * mask")
  end)
  return { outputs = { y }, masks = { m } }
end

function Masking.spec(layer, prefix)
  return { string.format("layer Masking %s mask_value=%.17g", prefix, layer.args.mask_value) }
end

return Masking
