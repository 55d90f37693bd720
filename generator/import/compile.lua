-- A Keras training configuration (the h5 root's training_config, a .keras
-- zip's compile_config) -> rnnc's compile{}: loss, metrics, optimizer and
-- its hyperparameters. What rnnc cannot express leaves compile{} out with a
-- note (prediction needs none of it); nothing is replaced by a default.
local keras = require("import.keras")
local util = require("util")

local null = keras.null
local printable, describe_value, want = keras.printable, keras.describe_value, keras.want

local function is_list(v)
  return type(v) == "table" and (#v > 0 or next(v) == nil)
end

local compile = {}

-- Keras's loss names and classes -> rnnc's (generator/catalog.lua: every
-- name and alias rnnc's compile{} takes is Keras's too).
local LOSSES, LOSS_CLASSES = {}, {}
for _, l in ipairs(require("catalog").losses) do
  LOSSES[l.name] = l.name
  for _, a in ipairs(l.aliases or {}) do
    LOSSES[a] = l.name
  end
  LOSS_CLASSES[l.class] = l
end
local METRICS = {
  accuracy = "accuracy", acc = "accuracy", binary_accuracy = "accuracy", categorical_accuracy = "accuracy",
  sparse_categorical_accuracy = "accuracy", mae = "mae", mean_absolute_error = "mae", mse = "mse",
  mean_squared_error = "mse",
}
-- issue 13's metrics: every name and alias of the catalog (Keras's), and the
-- arguments their classes' configs may hold, at Keras's defaults only (what
-- rnnc computes); any other value leaves the metric out with a note.
local AUC_THRESHOLDS = {}
for i = 1, 198 do
  AUC_THRESHOLDS[i] = i / 199
end
local METRIC_ARGS = {
  precision = { thresholds = { null, 0.5 }, top_k = { null }, class_id = { null } },
  recall = { thresholds = { null, 0.5 }, top_k = { null }, class_id = { null } },
  -- AUC's get_config writes its inner thresholds (198 evenly spaced)
  auc = { num_thresholds = { 200 }, curve = { "ROC" }, summation_method = { "interpolation" },
    multi_label = { false }, num_labels = { null }, label_weights = { null }, from_logits = { false },
    thresholds = { null, AUC_THRESHOLDS } },
  top_k_categorical_accuracy = { k = { 5 } },
  sparse_top_k_categorical_accuracy = { k = { 5 }, from_sorted_ids = { false } },
  root_mean_squared_error = {},
  mape = {},
}
for name in pairs(METRIC_ARGS) do
  local entry = require("catalog").metric[name]
  METRICS[name] = name
  for _, a in ipairs(entry.aliases or {}) do
    METRICS[a] = name
  end
end

-- Whether Keras value v is `default` (numbers within float32's rounding).
local function same_value(v, default)
  if type(default) == "table" then
    if type(v) ~= "table" or #v ~= #default then return false end
    for i = 1, #default do
      if not same_value(v[i], default[i]) then return false end
    end
    return true
  end
  if type(v) == "number" and type(default) == "number" then
    return math.abs(v - default) <= 1e-6 * math.max(1, math.abs(default))
  end
  if type(v) == "table" and #v == 1 then return same_value(v[1], default) end -- thresholds [0.5]
  return v == default
end

-- nil when a metric class's config holds Keras's defaults, else what differs.
local function metric_args_differ(name, cfg)
  local args = METRIC_ARGS[name]
  if not args or type(cfg) ~= "table" then return nil end
  for k, v in pairs(cfg) do
    if k ~= "name" and k ~= "dtype" then
      local ok = false
      for _, default in ipairs(args[k] or {}) do
        if same_value(v, default) then ok = true end
      end
      if not ok then
        return string.format("%s=%s (rnnc computes %s with Keras's defaults only)", k,
          type(v) == "table" and "[...]" or describe_value(v), name)
      end
    end
  end
  return nil
end

-- Keras optimizer class -> rnnc kind, the hyperparameters rnnc takes (Keras 2
-- names; `lr` is Keras <= 2.2's learning_rate) and those that must be off.
local OPTIMIZERS = {
  SGD = { kind = "sgd", class = "SGD", args = { "learning_rate", "momentum", "nesterov" } },
  RMSprop = { kind = "rmsprop", class = "RMSprop", args = { "learning_rate", "rho", "momentum", "epsilon",
    "centered" } },
  Adam = { kind = "adam", class = "Adam", args = { "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad" } },
  AdamW = { kind = "adamw", class = "AdamW", args = { "learning_rate", "weight_decay", "beta_1", "beta_2",
    "epsilon", "amsgrad" } },
  Adagrad = { kind = "adagrad", class = "Adagrad", args = { "learning_rate", "initial_accumulator_value",
    "epsilon" } },
  -- issue 13: tf.keras 2.x's optimizer_v2 rules are Keras 3's (Keras <= 2.3's
  -- Nadam, with schedule_decay, is not)
  Nadam = { kind = "nadam", class = "Nadam", args = { "learning_rate", "beta_1", "beta_2", "epsilon" } },
  Adamax = { kind = "adamax", class = "Adamax", args = { "learning_rate", "beta_1", "beta_2", "epsilon" } },
  Adadelta = { kind = "adadelta", class = "Adadelta", args = { "learning_rate", "rho", "epsilon" } },
  Ftrl = { kind = "ftrl", class = "Ftrl", args = { "learning_rate", "learning_rate_power", "initial_accumulator_value",
    "l1_regularization_strength", "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta" } },
  Lion = { kind = "lion", class = "Lion", args = { "learning_rate", "beta_1", "beta_2" } },
}
local OPTIMIZER_NAMES = { sgd = "SGD", rmsprop = "RMSprop", adam = "Adam", adamw = "AdamW", adagrad = "Adagrad",
  nadam = "Nadam", adamax = "Adamax", adadelta = "Adadelta", ftrl = "Ftrl", lion = "Lion" }
-- Learning-rate schedules: their arguments (Keras 3's
-- keras/src/optimizers/schedules/learning_rate_schedule.py; tf.keras 2.x's
-- have the same, CosineDecay's warmup from 2.13). `lists` are lists of numbers.
local SCHEDULES = {
  ExponentialDecay = { "initial_learning_rate", "decay_steps", "decay_rate", "staircase" },
  PiecewiseConstantDecay = { "boundaries", "values", lists = { boundaries = true, values = true } },
  InverseTimeDecay = { "initial_learning_rate", "decay_steps", "decay_rate", "staircase" },
  PolynomialDecay = { "initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle" },
  CosineDecay = { "initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps" },
  CosineDecayRestarts = { "initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha" },
}
-- Keys that change nothing, or must be off.
local OPT_IGNORED = { name = true, jit_compile = true, is_legacy_optimizer = true, ema_momentum = true,
  ema_overwrite_frequency = true, mesh = true }
local OPT_OFF = { decay = 0, use_ema = false, loss_scale_factor = null, gradient_accumulation_steps = null,
  schedule_decay = 0.004 }

-- The shortest decimal that reads back as the same double (float32 values
-- from Keras print as their exact double, e.g. 0.0010000000474974513).
function compile.number(v)
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", math.tointeger(v)) end
  for digits = 15, 17 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

local function loss_of(v, key, notes)
  if type(v) == "string" then
    if LOSSES[v] then return string.format("%q", LOSSES[v]) end
    notes[#notes + 1] = string.format("loss '%s' is not supported by rnnc", printable(v))
    return nil
  end
  if type(v) ~= "table" or v.class_name == nil then
    notes[#notes + 1] = string.format("loss %s (several outputs or an unknown form) is not supported by the "
      .. "importer", describe_value(v))
    return nil
  end
  local cls, cfg = keras.object(v, key)
  if cls == "function" and type(cfg) == "string" then return loss_of(cfg, key, notes) end
  local spec = LOSS_CLASSES[cls]
  if not spec then
    notes[#notes + 1] = string.format("loss %s is not supported by rnnc", printable(cls))
    return nil
  end
  local args = {}
  for k, val in pairs(type(cfg) == "table" and cfg or {}) do
    if k == "from_logits" and spec.from_logits then
      if want(val, "boolean", key .. ".config.from_logits") then args[#args + 1] = "from_logits = true" end
    elseif k == "reduction" then
      if val ~= "auto" and val ~= "sum_over_batch_size" and val ~= null then
        notes[#notes + 1] = string.format("loss reduction '%s' is not supported by rnnc", printable(val))
        return nil
      end
    elseif spec.params and spec.params[k] ~= nil then -- label_smoothing, delta
      local x = want(val, "number", key .. ".config." .. k)
      if x ~= spec.params[k] then args[#args + 1] = k .. " = " .. compile.number(x) end
    elseif k == "label_smoothing" and val ~= 0 then
      notes[#notes + 1] = string.format("label_smoothing on %s is not supported by rnnc", cls)
      return nil
    elseif k == "axis" and val ~= -1 then
      notes[#notes + 1] = "a loss axis other than -1 is not supported by rnnc"
      return nil
    elseif k == "ignore_class" and val ~= null then
      notes[#notes + 1] = "ignore_class is not supported by rnnc"
      return nil
    end
  end
  table.sort(args)
  if #args == 0 then return cls .. " {}" end
  return cls .. " { " .. table.concat(args, ", ") .. " }"
end

local function metrics_of(v, key, notes)
  local out, seen = {}, {}
  local function add(m, k)
    if type(m) == "table" and not m.class_name then
      for i, x in ipairs(m) do
        add(x, string.format("%s[%d]", k, i - 1))
      end
      return
    end
    local name = m
    if type(m) == "table" then
      local cls, cfg = keras.object(m, k)
      if cls == "function" and type(cfg) == "string" then
        name = cfg
      elseif cls == "MeanMetricWrapper" and type(cfg) == "table" then
        name = type(cfg.fn) == "string" and cfg.fn or cfg.name
      else
        name = keras.snake(cls)
        local differ = METRICS[name] and metric_args_differ(METRICS[name], cfg)
        if differ then
          notes[#notes + 1] = string.format("metric %s with %s: left out of compile{}", cls, differ)
          return
        end
      end
    end
    if type(name) ~= "string" or not METRICS[name] then
      notes[#notes + 1] = string.format("metric %s is not supported by rnnc: left out of compile{}",
        describe_value(name))
      return
    end
    if not seen[METRICS[name]] then out[#out + 1] = METRICS[name] end
    seen[METRICS[name]] = true
  end
  if v ~= nil and v ~= null then add(v, key) end
  return out
end

-- Per-output values of a model with several outputs (Keras's compile
-- arguments as the training configuration keeps them, tf.keras
-- compile_utils.py map_to_output_names, Keras 3 compile_utils.py): a list,
-- one entry per output, or a dict keyed by output name. Returns
-- { list = bool, entries = { { key, value } } } with each value through
-- `one` (nil: left out, with its note), or nil when v is neither form.
local function per_output(v, key, one)
  if type(v) ~= "table" or v.class_name ~= nil then return nil end
  local out = { list = is_list(v), entries = {} }
  if out.list then
    for i, x in ipairs(v) do
      local val = one(x, string.format("%s[%d]", key, i - 1))
      if val == nil then return false end
      out.entries[i] = { i, val }
    end
  else
    for _, k in ipairs(util.sorted_keys(v)) do
      if type(k) ~= "string" then keras.bad(key, "keys must be output names") end
      local val = one(v[k], key .. "." .. k)
      if val == nil then return false end
      out.entries[#out.entries + 1] = { k, val }
    end
  end
  return out
end

-- The optimizer: { kind, class, values = {name = number|boolean}, legacy }.
local function optimizer_of(ctx, v, key, notes)
  local cls, cfg
  if type(v) == "string" then
    cls, cfg = OPTIMIZER_NAMES[v:lower()], {}
    if not cls then
      notes[#notes + 1] = string.format("optimizer '%s' is not supported by rnnc", printable(v))
      return nil
    end
  elseif type(v) == "table" and v.class_name == nil and type(v.name) == "string" then
    cls, cfg = v.name, v -- Keras 1: {name, lr, ...}
  else
    cls, cfg = keras.object(v, key)
    cls = cls:gsub("^Custom>", "") -- tf.keras 2.11-2.15
  end
  local spec = OPTIMIZERS[cls]
  if not spec then
    notes[#notes + 1] = string.format("optimizer %s is not supported by rnnc", printable(cls))
    return nil
  end
  want(cfg, "table", key .. ".config")
  local o = { kind = spec.kind, class = spec.class, values = {}, order = spec.args }
  local takes = {}
  for _, a in ipairs(spec.args) do
    takes[a] = true
  end
  for k, val in pairs(cfg) do
    local kk = key .. ".config." .. tostring(k)
    local name = k == "lr" and "learning_rate" or k
    if name == "learning_rate" and type(val) == "table" then
      local scls, scfg = keras.object(val, kk)
      local sargs = SCHEDULES[scls]
      if not sargs then
        notes[#notes + 1] = string.format("learning-rate schedule %s is not supported by rnnc", printable(scls))
        return nil
      end
      want(scfg, "table", kk .. ".config")
      local s = { class = scls, order = sargs, values = {} }
      for _, p in ipairs(sargs) do
        local x = scfg[p]
        if x ~= nil and x ~= null then
          if sargs.lists and sargs.lists[p] then
            want(x, "table", kk .. ".config." .. p)
            for i, e in ipairs(x) do
              want(e, "number", string.format("%s.config.%s[%d]", kk, p, i - 1))
            end
          elseif type(x) ~= "boolean" then
            want(x, "number", kk .. ".config." .. p)
          end
          s.values[p] = x
        end
      end
      for p in pairs(scfg) do
        local known = p == "name"
        for _, q in ipairs(sargs) do
          known = known or q == p
        end
        if not known then
          notes[#notes + 1] = string.format("learning-rate schedule %s: argument '%s' is not supported by rnnc",
            scls, printable(p))
          return nil
        end
      end
      o.schedule = s
    elseif takes[name] then
      if val ~= null then
        if type(val) ~= "boolean" then want(val, "number", kk) end
        o.values[name] = val
      end
    elseif name == "clipnorm" or name == "clipvalue" or name == "global_clipnorm" then
      if val ~= null then o.values[name] = want(val, "number", kk) end
    elseif name == "weight_decay" and spec.kind ~= "adamw" then
      if val ~= null and val ~= 0 then
        notes[#notes + 1] = string.format("weight_decay on %s is not supported by rnnc", cls)
        return nil
      end
    elseif OPT_OFF[name] ~= nil then
      local off = OPT_OFF[name]
      if not (val == off or val == null or (off == null and val == nil)) then
        notes[#notes + 1] = string.format("optimizer %s: %s = %s is not supported by rnnc", cls, printable(name),
          describe_value(val))
        return nil
      end
    elseif not OPT_IGNORED[name] then
      notes[#notes + 1] = string.format("optimizer %s: argument '%s' is not supported by rnnc", cls,
        printable(name))
      return nil
    end
  end
  if spec.kind == "nadam" and cfg.schedule_decay ~= nil then
    notes[#notes + 1] = "Nadam of Keras <= 2.3 (schedule_decay) is not supported by rnnc"
    return nil
  end
  if o.values.epsilon == nil and takes.epsilon and spec.kind ~= "adagrad" and cfg.epsilon == null then
    o.values.epsilon = 1e-7 -- Keras 2.0-2.2 saved None for K.epsilon(), which is 1e-7
  end
  -- The optimizer_v2 RMSprop of tf.keras <= 2.10 (and Keras 2.x's) adds
  -- epsilon outside the square root; Keras 3 and tf.keras >= 2.11 inside.
  local ver = ctx.version
  local legacy = ver.major == 1 or (ver.major == 2 and (ver.minor <= 10 or cfg.is_legacy_optimizer == true))
  if spec.kind == "rmsprop" and legacy then o.legacy = true end
  if spec.kind == "adagrad" and legacy then
    notes[#notes + 1] = "Adagrad of Keras <= 2.10 (epsilon outside the square root) is not supported by rnnc"
    return nil
  end
  return o
end

-- Returns { loss = text, metrics = {...}, weighted_metrics = {...}, optimizer = {...} } or nil, with
-- notes on what was left out.
function compile.from(ctx, tc, key)
  local notes = {}
  if tc == nil or tc == null then return nil, notes end
  want(tc, "table", key)
  if tc.sample_weight_mode ~= nil and tc.sample_weight_mode ~= null then
    notes[#notes + 1] = "sample_weight_mode is not supported by rnnc"
    return nil, notes
  end
  if tc.loss == nil or tc.loss == null then
    notes[#notes + 1] = "the file's training configuration has no loss"
    return nil, notes
  end
  -- a loss per output: a list (None for an output without one) or a dict
  local losses = per_output(tc.loss, key .. ".loss", function(x, k)
    if x == null then return "None" end
    return loss_of(x, k, notes)
  end)
  if losses == false then return nil, notes end
  local loss = not losses and loss_of(tc.loss, key .. ".loss", notes) or nil
  local loss_weights
  if tc.loss_weights ~= nil and tc.loss_weights ~= null then
    loss_weights = per_output(tc.loss_weights, key .. ".loss_weights", function(x, k)
      return compile.number(want(x, "number", k))
    end)
    if not loss_weights then
      notes[#notes + 1] = string.format("loss_weights %s is not supported by rnnc", describe_value(tc.loss_weights))
      return nil, notes
    end
  end
  -- metrics: one list for every output with a loss, or (several outputs)
  -- a list of lists or a dict per output; a metric rnnc lacks is left out
  local function metrics_per(v, k)
    if ctx.outputs and ctx.outputs > 1 and type(v) == "table" and v.class_name == nil and
      (not is_list(v) or (#v > 0 and is_list(v[1]) and v[1].class_name == nil)) then
      return per_output(v, k, function(x, kk)
        return metrics_of(x, kk, notes)
      end)
    end
    return nil
  end
  local metrics_by = metrics_per(tc.metrics, key .. ".metrics")
  local weighted_by = metrics_per(tc.weighted_metrics, key .. ".weighted_metrics")
  local metrics = not metrics_by and metrics_of(tc.metrics, key .. ".metrics", notes) or {}
  -- the metrics that take the sample weights (Keras's compile(weighted_metrics=...))
  local weighted = not weighted_by and metrics_of(tc.weighted_metrics, key .. ".weighted_metrics", notes) or {}
  local opt_cfg = tc.optimizer_config
  if opt_cfg == nil then opt_cfg = tc.optimizer end
  local optimizer
  if opt_cfg == nil or opt_cfg == null then
    notes[#notes + 1] = "the file names no optimizer"
  else
    optimizer = optimizer_of(ctx, opt_cfg, key .. (tc.optimizer_config and ".optimizer_config" or ".optimizer"), notes)
  end
  if not (loss or losses) or not optimizer then return nil, notes end
  return { loss = loss, losses = losses, loss_weights = loss_weights, metrics = metrics, weighted_metrics = weighted,
    metrics_by = metrics_by, weighted_by = weighted_by, optimizer = optimizer }, notes
end

-- A per-output value as description text; dict keys (Keras's output
-- names) through `rename` (the description's names of renamed layers).
local function per_output_text(spec, rename, value)
  local parts = {}
  for i, e in ipairs(spec.entries) do
    local v = value(e[2])
    if spec.list then
      parts[i] = v
    else
      local k = rename and rename[e[1]] or e[1]
      parts[i] = (k:match("^[%a_][%w_]*$") and k or string.format("[%q]", k)) .. " = " .. v
    end
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function quoted_list(list)
  local q = {}
  for i, m in ipairs(list) do
    q[i] = string.format("%q", m)
  end
  return "{ " .. table.concat(q, ", ") .. " }"
end

-- compile{} as description text.
function compile.text(c, rename)
  local o = c.optimizer
  local parts = {}
  if o.schedule then
    local s, args = o.schedule, {}
    for _, p in ipairs(s.order) do
      local x = s.values[p]
      if type(x) == "table" then
        local items = {}
        for i, e in ipairs(x) do
          items[i] = compile.number(e)
        end
        args[#args + 1] = p .. " = { " .. table.concat(items, ", ") .. " }"
      elseif x == true then
        args[#args + 1] = p .. " = true"
      elseif type(x) == "number" then
        args[#args + 1] = p .. " = " .. compile.number(x)
      end
    end
    parts[#parts + 1] = string.format("learning_rate = %s { %s }", s.class, table.concat(args, ", "))
  end
  for _, k in ipairs(o.order) do
    local v = o.values[k]
    if v ~= nil and not (k == "learning_rate" and o.schedule) then
      parts[#parts + 1] = k .. " = " .. (type(v) == "boolean" and tostring(v) or compile.number(v))
    end
  end
  for _, k in ipairs({ "clipnorm", "clipvalue", "global_clipnorm" }) do
    if o.values[k] then parts[#parts + 1] = k .. " = " .. compile.number(o.values[k]) end
  end
  if o.legacy then parts[#parts + 1] = "legacy = true" end
  local opt = o.class .. " { " .. table.concat(parts, ", ") .. " }"
  if #parts == 0 then opt = o.class .. " {}" end
  local metrics = ""
  if c.loss_weights then
    metrics = metrics .. ", loss_weights = " .. per_output_text(c.loss_weights, rename, function(v)
      return v
    end)
  end
  for _, key in ipairs({ "metrics", "weighted_metrics" }) do
    local by = c[key == "metrics" and "metrics_by" or "weighted_by"]
    if by then
      metrics = metrics .. ", " .. key .. " = " .. per_output_text(by, rename, quoted_list)
    elseif #(c[key] or {}) > 0 then
      metrics = metrics .. ", " .. key .. " = " .. quoted_list(c[key])
    end
  end
  local loss = c.loss or per_output_text(c.losses, rename, function(v)
    return v
  end)
  return string.format("model:compile {\n  optimizer = %s,\n  loss = %s%s,\n}\n", opt, loss, metrics)
end

return compile
