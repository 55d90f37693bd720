-- Argument kinds, defaults and shape rules shared by the layer files.
local util = require("util")

local common = {}

local LATER_INIT = "other initializers arrive with the training runtime"

common.ACTIVATIONS = { linear = true, relu = true, tanh = true, sigmoid = true, softmax = true }
-- Activations a recurrent cell can use (softmax over a state makes no sense in C or Keras).
common.ELEMENTWISE = { linear = true, relu = true, tanh = true, sigmoid = true }

-- Arguments every Keras layer accepts. `only` pins the values rnnc implements;
-- anything else is refused with a message rather than silently ignored.
common.BASE_ARGS = {
  name = { "string" },
  input_shape = { "shape" },
  batch_input_shape = { "shape" },
  batch_size = { "posint" },
  input_dim = { "posint" },
  trainable = { "boolean", true, only = true, why = "frozen layers are not implemented" },
  dtype = { "string" },
}

-- Arguments of SimpleRNN, LSTM and GRU.
function common.recurrent_args(extra)
  local args = {
    units = { "posint" },
    activation = { "activation", "tanh" },
    use_bias = { "boolean", true },
    kernel_initializer = { "string", "glorot_uniform", only = "glorot_uniform", why = LATER_INIT },
    recurrent_initializer = { "string", "orthogonal", only = "orthogonal", why = LATER_INIT },
    bias_initializer = { "string", "zeros", only = "zeros", why = LATER_INIT },
    return_sequences = { "boolean", false },
    return_state = { "boolean", false },
    go_backwards = { "boolean", false },
    stateful = { "boolean", false, only = false, why = "stateful layers are not implemented" },
    unroll = { "boolean", false }, -- a TensorFlow graph hint; rnnc decides unrolling itself
    time_major = { "boolean", false, only = false, why = "rnnc takes (batch, timesteps, features)" },
    dropout = { "number", 0, only = 0, why = "dropout is not implemented" },
    recurrent_dropout = { "number", 0, only = 0, why = "dropout is not implemented" },
    input_length = { "posint", optional = true },
  }
  for k, v in pairs(extra or {}) do
    args[k] = v
  end
  return args
end

function common.dense_args()
  return {
    units = { "posint" },
    activation = { "activation", "linear" },
    use_bias = { "boolean", true },
    kernel_initializer = { "string", "glorot_uniform", only = "glorot_uniform", why = LATER_INIT },
    bias_initializer = { "string", "zeros", only = "zeros", why = LATER_INIT },
  }
end

-- Recurrent layers take (batch, timesteps, features).
function common.require_rank3(layer, shape)
  if #shape ~= 3 then
    util.fail(layer.at, "expected an input of ndim=3 (batch, timesteps, features), found ndim=%d: %s",
      #shape, util.shape_str(shape))
  end
  if shape[3] == util.None then
    util.fail(layer.at, "the feature dimension of the input must be known, got %s", util.shape_str(shape))
  end
end

-- Output shapes of a recurrent layer: the output, then one shape per state.
function common.recurrent_outputs(layer, shape, n_states)
  local units = layer.args.units
  local out
  if layer.args.return_sequences then
    out = { shape[1], shape[2], units }
  else
    out = { shape[1], units }
  end
  local shapes = { out }
  if layer.args.return_state then
    for _ = 1, n_states do
      shapes[#shapes + 1] = { shape[1], units }
    end
  end
  return shapes
end

-- A weight record: Keras name, shape, initializer.
function common.weight(layer, prefix, name, shape, init)
  return { name = prefix .. "/" .. name, shape = shape, init = init, layer = layer }
end

return common
