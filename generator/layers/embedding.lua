-- Embedding(input_dim, output_dim): integer tokens (batch, timesteps) ->
-- (batch, timesteps, output_dim), row x[b, t] of the table `embeddings`
-- (input_dim, output_dim). Keras 3 keras/src/layers/core/embedding.py
-- (Embedding.__init__: embeddings_initializer="uniform", mask_zero=False,
-- input_length popped from kwargs with a deprecation warning; build: one
-- weight "embeddings" of shape (input_dim, output_dim); call: ops.take(
-- embeddings, inputs, axis=0)) and tf.keras 2.x keras/layers/core/
-- embedding.py (the same arguments, input_length kept: the Sequential's
-- input shape (batch, input_length)).
--
-- The forward is a gather (ir.lua's "gather" op) and its derived backward a
-- scatter-add into the table's gradient: no one-hot anywhere; the tokens get
-- no gradient. The layer must read the model's input, which then holds
-- int32 tokens (lower.lua; the C API takes const int32_t *x).
local util = require("util")
local ir = require("ir")
local common = require("layers.common")
local rules = require("layers.rules")

-- Keras's "uniform" is RandomUniform(-0.05, 0.05) (Keras 3
-- keras/src/initializers/__init__.py's aliases; tf.keras 2.x
-- keras/initializers/__init__.py: "uniform" = RandomUniform).
local function initializer_check(at, argname, v)
  if v == "uniform" then return "random_uniform" end
  if type(v) ~= "string" or not common.INITIALIZERS[v] then
    util.fail(at, "unknown or unsupported initializer %s for '%s' (rnnc knows uniform, %s)", tostring(v), argname,
      table.concat(util.sorted_keys(common.INITIALIZERS), ", "))
  end
  return v
end

local Embedding = {
  class = "Embedding",
  default_name = "embedding",
  positional = { "input_dim", "output_dim" },
  -- the model's input is its tokens (lower.lua)
  integer_input = true,
  args = rules.extras({
    input_dim = { "posint" },
    output_dim = { "posint" },
    embeddings_initializer = { "any", "random_uniform", check = initializer_check },
    mask_zero = { "boolean", false },
    input_length = { "posint", optional = true },
  }, { "embeddings" }),
}

-- The Sequential's input when Embedding comes first without input_shape:
-- (batch, input_length), None timesteps without it (Keras 3 takes any
-- length; build with --timesteps T).
function Embedding.declared_input(layer)
  local a = layer.args
  return { a.batch_size or util.None, a.input_length or util.None }
end

function Embedding.build(layer, shape, prefix)
  if #shape ~= 2 then
    util.fail(layer.at, "expected integer tokens of shape (batch, timesteps), found %s (rnnc's Embedding takes "
      .. "one token per step)", util.shape_str(shape))
  end
  local a = layer.args
  if a.input_length and shape[2] ~= util.None and shape[2] ~= a.input_length then
    util.fail(layer.at, "input_length = %d contradicts the input shape %s", a.input_length, util.shape_str(shape))
  end
  if a.input_dim > (1 << 24) then
    util.fail(layer.at, "input_dim = %d is larger than rnnc allows (%d)", a.input_dim, 1 << 24)
  end
  layer.weights = { common.weight(layer, prefix, "embeddings", { a.input_dim, a.output_dim },
    a.embeddings_initializer) }
  return { { shape[1], shape[2], a.output_dim } }
end

-- x: the model's tokens, a column view (timesteps x 1) of the integer input.
-- Per row, so that a unit of variable length looks up only the L rows
-- present. With mask_zero the layer makes a mask, 1 where the token is not 0
-- (Keras 3 Embedding.compute_mask: ops.not_equal(inputs, 0); the row of
-- token 0 is still looked up, as Keras's ops.take does): the layers after
-- it carry it on (layers/masking.lua).
function Embedding.emit(layer, g, x, prefix)
  if not x.buf.int then
    util.fail(layer.at, "Embedding must read the model's input (its integer tokens): an Embedding after "
      .. "another layer is not supported")
  end
  local steps = x.dims[1]
  local table_view = g:param(layer.weights[1])
  local y = g:act(prefix .. "/y", steps, layer.args.output_dim, "per step, the token's row of the embeddings")
  g:per_row(steps, function(sel)
    g:gather(sel(y), table_view, sel(x), "the rows of the tokens")
  end)
  if not layer.args.mask_zero then return { outputs = { y } } end
  -- tokens are >= 0 (the driver refuses others; a bad one gives NaN rows)
  local m = common.mask_from(g, prefix, x, ir.E.fn("step", ir.E.arg(1)), "x != 0")
  return { outputs = { y }, masks = { m } }
end

function Embedding.spec(layer, prefix)
  return { string.format("layer Embedding %s input_dim=%d output_dim=%d%s", prefix, layer.args.input_dim,
    layer.args.output_dim, layer.args.mask_zero and " mask_zero=1" or "") }
end

return Embedding
