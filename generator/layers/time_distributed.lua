-- TimeDistributed(layer): applies the inner layer at every timestep. The inner
-- layer's weights are named time_distributed/<inner name>/...
local util = require("util")
local rules = require("layers.rules")

local TimeDistributed = {
  class = "TimeDistributed",
  passes_mask = true, -- Keras 3 TimeDistributed: supports_masking = True (keras/src/layers/rnn/time_distributed.py)
  default_name = "time_distributed",
  positional = { "layer" },
  args = { layer = { "layer" } },
  wrapper = true,
}

function TimeDistributed.build(layer, shape, prefix)
  if #shape < 3 then
    util.fail(layer.at, "expected an input of ndim >= 3 (batch, timesteps, ...), found %s",
      util.shape_str(shape))
  end
  local inner = layer.args.layer
  if rules.activity_of(inner) then
    util.fail(layer.at, "activity_regularizer on the layer TimeDistributed wraps is not implemented in rnnc "
      .. "(Keras applies it to the inner layer's output of every step)")
  end
  if inner.module.class ~= "Dense" then
    util.fail(layer.at, "TimeDistributed wraps Dense only (got %s)", inner.module.class)
  end
  local step_shape = { shape[1] }
  for i = 3, #shape do
    step_shape[#step_shape + 1] = shape[i]
  end
  local inner_out = inner.module.build(inner, step_shape, prefix .. "/" .. inner.name)[1]
  layer.weights = inner.weights
  local out = { shape[1], shape[2] }
  for i = 2, #inner_out do
    out[#out + 1] = inner_out[i]
  end
  return { out }
end

-- Dense applies to the last axis, so the inner layer runs on all rows at once.
-- Its logits are not the loss's: tf.keras reshapes the inner layer's output
-- back to a sequence, and the reshaped tensor has lost the logits a softmax
-- or sigmoid caches (tf.keras 2.15 keras/layers/rnn/time_distributed.py,
-- keras/backend.py _get_logits), so a crossentropy after
-- TimeDistributed(Dense(softmax)) reads the probabilities, clipped to
-- [1e-7, 1 - 1e-7].
function TimeDistributed.emit(layer, g, x, prefix)
  local inner = layer.args.layer
  local r = inner.module.emit(inner, g, x, prefix .. "/" .. inner.name)
  r.logits, r.logits_activation = nil, nil
  return r
end

function TimeDistributed.spec(layer, prefix)
  local inner = layer.args.layer
  local lines = inner.module.spec(inner, prefix .. "/" .. inner.name)
  lines[#lines] = lines[#lines] .. " logits=0"
  return lines
end

return TimeDistributed
