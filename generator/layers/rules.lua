-- Keras's weight regularizers and constraints: the `<weight>_regularizer`
-- and `<weight>_constraint` arguments of the layers with weights, their
-- values (L1, L2, L1L2, MaxNorm, NonNeg, UnitNorm, MinMaxNorm or Keras's
-- strings), and the rule each weight carries into the unit's descriptor
-- (rnnc_weight_rule in runtime/rnnc.h).
--
-- Where they act. A regularizer's penalty is a function of the weights only,
-- computed by one runtime function (rnnc_regularize) that the generated
-- loss_grad and eval_loss call after the compiled losses, from the rule in
-- the descriptor; the reference runtime computes it from the spec's
-- "regularize" lines in rnnc_ref_loss_grad. So loss_grad is Keras's
-- Trainer.compute_loss (keras/src/trainers/trainer.py: the compiled loss
-- plus the model's `losses`, in train_step and test_step alike): train_step,
-- fit, evaluate and the validation loss include the penalty, and the random
-- tests compare it with the reference. A constraint is applied by
-- rnnc_optimizer_apply after the update (Keras 3's BaseOptimizer.apply
-- assigns variable.constraint(variable) after applying the gradients), the
-- same function on every rank and thread, so fit stays bit-identical across
-- --threads and MPI.
local util = require("util")

local rules = {}

-- A weight's short name -> the prefix of its arguments (Keras's names:
-- kernel_regularizer for kernel, recurrent_regularizer for
-- recurrent_kernel, ...).
rules.ARG_OF = {
  kernel = "kernel",
  recurrent_kernel = "recurrent",
  bias = "bias",
  depthwise_kernel = "depthwise",
  pointwise_kernel = "pointwise",
  gamma = "gamma",
  beta = "beta",
  alpha = "alpha",
  embeddings = "embeddings",
}

local Rule = util.handle_type("Rule")

local function number_arg(at, class, k, v, positive)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge or v < 0 or (positive and v == 0) then
    util.fail(at, "%s: %s must be a %s number, got %s", class, k, positive and "positive" or "non-negative",
      tostring(v))
  end
  return v + 0.0
end

local function axis_value(at, class, v)
  if type(v) == "number" then v = { v } end
  if type(v) ~= "table" or #v == 0 then
    util.fail(at, "%s: axis must be an integer or a list of integers, got %s", class, tostring(v))
  end
  local out = {}
  for i, d in ipairs(v) do
    if math.type(d) == "float" and d == math.floor(d) then d = math.tointeger(d) end
    if math.type(d) ~= "integer" or d < -4 or d > 3 then
      util.fail(at, "%s: axis %s is not an axis of a weight (0 to 3, or negative from the end)", class, tostring(d))
    end
    out[i] = d
  end
  return out
end

-- Keras's defaults: keras/src/regularizers/regularizers.py (L1(l1=0.01),
-- L2(l2=0.01), L1L2(l1=0.0, l2=0.0)) and keras/src/constraints/constraints.py
-- (MaxNorm(max_value=2, axis=0), UnitNorm(axis=0), MinMaxNorm(min_value=0.0,
-- max_value=1.0, rate=1.0, axis=0)).
local KINDS = {
  L1 = { kind = "regularizer", args = { "l1" }, defaults = { l1 = 0.01 } },
  L2 = { kind = "regularizer", args = { "l2" }, defaults = { l2 = 0.01 } },
  L1L2 = { kind = "regularizer", args = { "l1", "l2" }, defaults = { l1 = 0.0, l2 = 0.0 } },
  MaxNorm = { kind = "constraint", name = "max_norm", args = { "max_value", "axis" },
    defaults = { max_value = 2.0, axis = 0 } },
  NonNeg = { kind = "constraint", name = "non_neg", args = {}, defaults = {} },
  UnitNorm = { kind = "constraint", name = "unit_norm", args = { "axis" }, defaults = { axis = 0 } },
  MinMaxNorm = { kind = "constraint", name = "min_max_norm", args = { "min_value", "max_value", "rate", "axis" },
    defaults = { min_value = 0.0, max_value = 1.0, rate = 1.0, axis = 0 } },
}

-- Keras's strings. Regularizers: Keras 3's regularizers.get looks the string
-- up among the class names and their snake case ("l1", "l2", "l1l2": the
-- classes' defaults); "l1_l2" is tf.keras 2.x's string (its deserialize
-- special-cases it to L1L2(l1=0.01, l2=0.01), the defaults Keras 3's L1L2
-- docstring gives too). Constraints: the class names and max_norm, non_neg,
-- unit_norm, min_max_norm.
local STRINGS = {
  l1 = { "L1" }, L1 = { "L1" }, l2 = { "L2" }, L2 = { "L2" }, l1l2 = { "L1L2" }, L1L2 = { "L1L2" },
  l1_l2 = { "L1L2", { l1 = 0.01, l2 = 0.01 } },
  max_norm = { "MaxNorm" }, MaxNorm = { "MaxNorm" }, non_neg = { "NonNeg" }, NonNeg = { "NonNeg" },
  unit_norm = { "UnitNorm" }, UnitNorm = { "UnitNorm" }, min_max_norm = { "MinMaxNorm" },
  MinMaxNorm = { "MinMaxNorm" },
}

-- Builds a rule of `class` from the given keywords (positional ones in
-- Keras's order); `at` for the errors.
function rules.make(at, class, t)
  local spec = KINDS[class]
  local c = {}
  t = t or {}
  if type(t) == "number" then t = { t } end
  if type(t) ~= "table" then util.fail(at, "%s expects a table of arguments", class) end
  for k, v in pairs(t) do
    local key = math.type(k) == "integer" and spec.args[k] or k
    if type(key) ~= "string" or spec.defaults[key] == nil then
      util.fail(at, "%s: unknown argument '%s'", class, tostring(k))
    end
    if c[key] ~= nil then util.fail(at, "%s: argument '%s' given twice", class, key) end
    c[key] = v
  end
  local r = { kind = spec.kind, class = class, name = spec.name }
  for k, d in pairs(spec.defaults) do
    local v = c[k]
    if v == nil or v == util.None then v = d end
    if k == "axis" then
      r.axis = axis_value(at, class, v)
    else
      r[k] = number_arg(at, class, k, v, false)
    end
  end
  if class == "MinMaxNorm" and r.min_value > r.max_value then
    util.fail(at, "MinMaxNorm: min_value %.17g is larger than max_value %.17g", r.min_value, r.max_value)
  end
  return r
end

-- The sandbox's constructors: L1 { l1 = 0.01 }, MaxNorm { max_value = 3 }, ...
function rules.constructors(where)
  local env = {}
  for class in pairs(KINDS) do
    env[class] = function(t)
      return util.handle(rules.make(where(), class, t), Rule)
    end
  end
  return env
end

-- A value of a `<weight>_regularizer` or `<weight>_constraint` argument:
-- None, one of Keras's strings, or a constructor's rule of that kind.
local function value_check(kind)
  return function(at, argname, v)
    if v == util.None then return v end
    local r
    if type(v) == "string" then
      local s = STRINGS[v]
      if not s or KINDS[s[1]].kind ~= kind then
        util.fail(at, "%s = \"%s\" is not a %s rnnc knows (%s)", argname, v, kind,
          kind == "regularizer" and "\"l1\", \"l2\", \"l1_l2\", \"l1l2\", or L1 {...}, L2 {...}, L1L2 {...}"
          or "\"max_norm\", \"non_neg\", \"unit_norm\", \"min_max_norm\", or MaxNorm {...}, NonNeg {}, "
          .. "UnitNorm {...}, MinMaxNorm {...}")
      end
      r = rules.make(at, s[1], s[2])
    else
      r = type(v) == "table" and util.unwrap(v)
      if not r or r.kind == nil then
        util.fail(at, "%s must be a %s (a string such as \"%s\" or %s), got %s", argname, kind,
          kind == "regularizer" and "l2" or "max_norm", kind == "regularizer" and "L2 { l2 = 0.01 }"
          or "MaxNorm { max_value = 2 }", tostring(v))
      end
      if r.kind ~= kind then
        util.fail(at, "%s = %s: a %s, not a %s", argname, r.class, r.kind, kind)
      end
    end
    return r
  end
end

-- The arguments of a layer whose weights are `weights` (argument prefixes,
-- e.g. { "kernel", "recurrent", "bias" }) added to `args`, and Keras's
-- activity_regularizer: a penalty on the layer's output (lower.lua adds it
-- to the loss, cwriter/unit.lua computes it with rnnc_activity_penalty).
function rules.extras(args, weights)
  for _, w in ipairs(weights) do
    args[w .. "_regularizer"] = { "any", util.None, check = value_check("regularizer") }
    args[w .. "_constraint"] = { "any", util.None, check = value_check("constraint") }
  end
  args.activity_regularizer = { "any", util.None, check = value_check("regularizer") }
  return args
end

-- The activity regularizer of a layer ({l1, l2}, Keras's
-- activity_regularizer argument or the layer's own, ActivityRegularization's)
-- or nil.
function rules.activity_of(layer)
  if layer.module and layer.module.activity then return layer.module.activity(layer) end
  local reg = layer.args and layer.args.activity_regularizer
  if reg == nil or reg == util.None then return nil end
  return { l1 = reg.l1 or 0.0, l2 = reg.l2 or 0.0 }
end

-- The rule of weight `short` (its name without the prefix) of `layer`
-- shaped `shape`: { l1, l2, constraint = enum name, axes = bit mask,
-- min_value, max_value, rate }, or nil without one.
function rules.of(layer, short, shape)
  local arg = rules.ARG_OF[short]
  if not arg then return nil end
  local reg = layer.args[arg .. "_regularizer"]
  local con = layer.args[arg .. "_constraint"]
  if (reg == nil or reg == util.None) and (con == nil or con == util.None) then return nil end
  local rule = { l1 = 0.0, l2 = 0.0, constraint = "RNNC_CONSTRAINT_NONE", axes = 0, min_value = 0.0,
    max_value = 0.0, rate = 0.0 }
  if reg ~= nil and reg ~= util.None then
    rule.l1, rule.l2 = reg.l1 or 0.0, reg.l2 or 0.0
    rule.regularizer = reg
  end
  if con ~= nil and con ~= util.None then
    rule.constraint = "RNNC_CONSTRAINT_" .. con.name:upper()
    rule.constraint_name = con.name
    rule.min_value, rule.max_value, rule.rate = con.min_value or 0.0, con.max_value or 0.0, con.rate or 0.0
    local rank = #shape
    for _, d in ipairs(con.axis or {}) do
      local a = d < 0 and d + rank or d
      if a < 0 or a >= rank then
        util.fail(layer.at, "%s_constraint: axis %d is not an axis of %s, shaped %s (0 to %d)", arg, d, short,
          util.shape_str(shape), rank - 1)
      end
      rule.axes = rule.axes | (1 << a)
    end
  end
  return rule
end

return rules
