-- ActivityRegularization(l1=0.0, l2=0.0): Keras 3
-- keras/src/layers/regularization/activity_regularization.py, the identity
-- whose activity_regularizer is L1L2(l1, l2): the penalty (l1 sum |x| + l2
-- sum x^2) / batch size of its input joins the loss (lower.lua, as every
-- layer's activity_regularizer; rules.activity_of). It passes the mask on
-- (supports_masking) and has no weights.
local util = require("util")

local ActivityRegularization = {
  class = "ActivityRegularization",
  default_name = "activity_regularization",
  positional = { "l1", "l2" },
  args = { l1 = { "nonneg", 0.0 }, l2 = { "nonneg", 0.0 } },
  passes_mask = true,
}

function ActivityRegularization.build(_, shape)
  return { util.copy(shape) }
end

function ActivityRegularization.emit(_, _, x)
  return { outputs = { x } }
end

-- the penalty lower.lua adds, as an activity_regularizer's
function ActivityRegularization.activity(layer)
  return { l1 = layer.args.l1 + 0.0, l2 = layer.args.l2 + 0.0 }
end

-- the reference runtime's identity layer
function ActivityRegularization.spec(_, prefix)
  return { string.format("layer Activation %s activation=linear", prefix) }
end

return ActivityRegularization
