-- compile{...} and fit{...} of the model description: losses, optimizers,
-- learning-rate schedules, metrics and callbacks, with Keras's names and
-- defaults. Produces plain tables the C writer turns into the unit's
-- optimizer config, loss and fit defaults.
local util = require("util")
local catalog = require("catalog")

local training = {}

-- Losses, metrics and optimizers with their Keras names, aliases and
-- defaults: generator/catalog.lua.
local OPTIMIZERS = catalog.optimizer
local COMMON = {}
for _, k in ipairs(catalog.optimizer_common) do
  if k ~= "learning_rate" then COMMON[k] = true end
end

local Config = util.handle_type("Config")

local function config_of(v, kind)
  local c = util.unwrap(v)
  if type(c) == "table" and c.config_kind == kind then return c end
  return nil
end

local function check_number(at, what, k, v, nonneg)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge or (nonneg and v < 0) then
    util.fail(at, "%s: argument '%s' must be a %snumber, got %s", what, k, nonneg and "non-negative " or "",
      tostring(v))
  end
  return v
end

-- Reads a table of keyword arguments against `defaults` (types from the
-- defaults; `extra` lists more accepted keys with their checker).
local function keywords(at, what, t, defaults, extra)
  t = t or {}
  if type(t) ~= "table" then util.fail(at, "%s expects a table of arguments", what) end
  local out = util.copy(defaults)
  for _, k in ipairs(util.sorted_keys(t)) do
    local v = t[k]
    if type(k) ~= "string" then util.fail(at, "%s takes keyword arguments only", what) end
    if extra and extra[k] then
      out[k] = extra[k](k, v)
    elseif defaults[k] == nil then
      util.fail(at, "%s: unknown or unsupported argument '%s'", what, k)
    elseif type(defaults[k]) == "boolean" then
      if type(v) ~= "boolean" then util.fail(at, "%s: argument '%s' must be true or false", what, k) end
      out[k] = v
    elseif type(defaults[k]) == "number" then
      out[k] = check_number(at, what, k, v, true)
    else
      if type(v) ~= "string" then util.fail(at, "%s: argument '%s' must be a string", what, k) end
      out[k] = v
    end
  end
  return out
end

-- Keras's other learning-rate schedules (issue 13;
-- keras/src/optimizers/schedules/learning_rate_schedule.py, their arguments
-- and defaults): a table of rnnc_optimizer's fields with `schedule` the
-- catalog's number, learning_rate the initial rate.
local SCHEDULES = {
  InverseTimeDecay = { initial_learning_rate = 0.001, decay_steps = 1, decay_rate = 1, staircase = false },
  PolynomialDecay = { initial_learning_rate = 0.001, decay_steps = 1, end_learning_rate = 0.0001, power = 1.0,
    cycle = false },
  CosineDecay = { initial_learning_rate = 0.001, decay_steps = 1, alpha = 0.0, warmup_steps = 0 },
  CosineDecayRestarts = { initial_learning_rate = 0.001, first_decay_steps = 1, t_mul = 2.0, m_mul = 1.0,
    alpha = 0.0 },
}

local function number_list(at, what, k, v)
  if type(v) ~= "table" or #v == 0 then util.fail(at, "%s: '%s' must be a list of numbers { ... }", what, k) end
  for i, x in ipairs(v) do
    if type(x) ~= "number" or x ~= x or x == math.huge or x == -math.huge then
      util.fail(at, "%s: %s[%d] must be a finite number, got %s", what, k, i, tostring(x))
    end
  end
  return util.copy(v)
end

function training.schedule_constructors(env, where)
  for class, defaults in pairs(SCHEDULES) do
    env[class] = function(t)
      local at = where()
      local c = keywords(at, class, t, defaults, {
        warmup_target = function(k, v)
          return check_number(at, class, k, v, true)
        end,
      })
      local steps = c.decay_steps or c.first_decay_steps
      if steps <= 0 then
        util.fail(at, "%s: %s must be positive", class, c.decay_steps and "decay_steps" or "first_decay_steps")
      end
      if c.alpha and c.alpha > 1 then util.fail(at, "%s: alpha must be in [0, 1]", class) end
      if class == "CosineDecayRestarts" and c.t_mul == 0 then util.fail(at, "%s: t_mul must be positive", class) end
      local s = { config_kind = "schedule", schedule = catalog.schedules[class],
        learning_rate = c.initial_learning_rate }
      for k, v in pairs(c) do
        if k ~= "initial_learning_rate" then s[k] = v end
      end
      if class == "CosineDecayRestarts" then s.decay_steps, s.first_decay_steps = c.first_decay_steps, nil end
      if class == "CosineDecay" then
        -- without a warmup target the decay starts from the initial rate
        s.warmup_target = c.warmup_target or c.initial_learning_rate
      end
      return util.handle(s, Config)
    end
  end
  env.PiecewiseConstantDecay = function(t)
    local at = where()
    if type(t) ~= "table" then util.fail(at, "PiecewiseConstantDecay expects a table of arguments") end
    for k in pairs(t) do
      if k ~= "boundaries" and k ~= "values" then
        util.fail(at, "PiecewiseConstantDecay: unknown or unsupported argument '%s'", tostring(k))
      end
    end
    local b = number_list(at, "PiecewiseConstantDecay", "boundaries", t.boundaries)
    local v = number_list(at, "PiecewiseConstantDecay", "values", t.values)
    if #v ~= #b + 1 then
      util.fail(at, "PiecewiseConstantDecay: values needs one more entry than boundaries (%d), got %d", #b, #v)
    end
    if #b > catalog.max_boundaries then
      util.fail(at, "PiecewiseConstantDecay: at most %d boundaries, got %d", catalog.max_boundaries, #b)
    end
    for i = 2, #b do
      if b[i] < b[i - 1] then util.fail(at, "PiecewiseConstantDecay: boundaries must be in increasing order") end
    end
    for i, x in ipairs(v) do
      if x < 0 then util.fail(at, "PiecewiseConstantDecay: values[%d] must be non-negative", i) end
    end
    return util.handle({ config_kind = "schedule", schedule = catalog.schedules.PiecewiseConstantDecay,
      learning_rate = v[1], boundaries = b, values = v }, Config)
  end
end

-- The sandbox's constructors: optimizers, schedules, losses, callbacks.
function training.constructors(where)
  local env = {}
  env.ExponentialDecay = function(t)
    local at = where()
    local c = keywords(at, "ExponentialDecay", t,
      { initial_learning_rate = 0.001, decay_steps = 1, decay_rate = 1, staircase = false })
    if c.decay_steps <= 0 then util.fail(at, "ExponentialDecay: decay_steps must be positive") end
    c.config_kind = "schedule"
    return util.handle(c, Config)
  end
  training.schedule_constructors(env, where)
  for _, spec in ipairs(catalog.optimizers) do
    local kind = spec.name
    env[spec.class] = function(t)
      local at = where()
      -- Keras's old spellings (lr = learning_rate)
      if type(t) == "table" then
        for alias, key in pairs(catalog.optimizer_aliases) do
          if t[alias] ~= nil then
            if t[key] ~= nil then util.fail(at, "%s: give %s or %s, not both", spec.class, key, alias) end
            t = util.copy(t)
            t[key], t[alias] = t[alias], nil
          end
        end
      end
      local extra = {}
      for k in pairs(COMMON) do
        extra[k] = function(key, v)
          return check_number(at, spec.class, key, v, true)
        end
      end
      extra.learning_rate = function(key, v)
        local schedule = config_of(v, "schedule")
        if schedule then return schedule end
        return check_number(at, spec.class, key, v, true)
      end
      if spec.defaults.learning_rate_power then -- Ftrl: at most zero
        extra.learning_rate_power = function(key, v)
          check_number(at, spec.class, key, v, false)
          if v > 0 then util.fail(at, "%s: argument '%s' must be at most 0, got %s", spec.class, key, v) end
          return v
        end
      end
      local c = keywords(at, spec.class, t, spec.defaults, extra)
      c.config_kind, c.kind = "optimizer", kind
      return util.handle(c, Config)
    end
  end
  for _, spec in ipairs(catalog.losses) do
    env[spec.class] = function(t)
      local at = where()
      local defaults = spec.from_logits and { from_logits = false } or {}
      for k, v in pairs(spec.params or {}) do
        defaults[k] = v
      end
      local c = keywords(at, spec.class, t, defaults)
      if c.label_smoothing and c.label_smoothing > 1 then
        util.fail(at, "%s: label_smoothing must be in [0, 1]", spec.class)
      end
      if c.delta and c.delta <= 0 then util.fail(at, "%s: delta must be positive", spec.class) end
      local params = {}
      for k in pairs(spec.params or {}) do
        params[k] = c[k]
        c[k] = nil
      end
      c.config_kind, c.loss, c.params = "loss", spec.name, params
      return util.handle(c, Config)
    end
  end
  env.EarlyStopping = function(t)
    local at = where()
    local c = keywords(at, "EarlyStopping", t, { monitor = "val_loss", min_delta = 0, patience = 0, mode = "auto",
      restore_best_weights = false, verbose = 0 }, {
      baseline = function(k, v)
        return check_number(at, "EarlyStopping", k, v, false)
      end,
    })
    if c.mode ~= "auto" and c.mode ~= "min" and c.mode ~= "max" then
      util.fail(at, "EarlyStopping: mode must be \"auto\", \"min\" or \"max\"")
    end
    c.config_kind = "early_stopping"
    return util.handle(c, Config)
  end
  env.ModelCheckpoint = function(t)
    local at = where()
    local c = keywords(at, "ModelCheckpoint", t, { filepath = "", monitor = "val_loss", save_best_only = false,
      mode = "auto", verbose = 0 })
    if c.filepath == "" then util.fail(at, "ModelCheckpoint: filepath is required") end
    c.config_kind = "checkpoint"
    return util.handle(c, Config)
  end
  -- keras/src/callbacks/reduce_lr_on_plateau.py (Keras 3): its arguments and
  -- defaults; factor >= 1 raises ValueError there. An unknown mode, which
  -- Keras warns about and treats as "auto", is refused as EarlyStopping's is.
  env.ReduceLROnPlateau = function(t)
    local at = where()
    local function whole(k, v)
      if math.type(v) ~= "integer" or v < 0 then
        util.fail(at, "ReduceLROnPlateau: %s must be a non-negative integer", k)
      end
      return v
    end
    local function real(k, v)
      return check_number(at, "ReduceLROnPlateau", k, v, false)
    end
    local c = keywords(at, "ReduceLROnPlateau", t, { monitor = "val_loss", factor = 0.1, patience = 10,
      verbose = 0, mode = "auto", min_delta = 1e-4, cooldown = 0, min_lr = 0 },
      { factor = real, min_delta = real, patience = whole, cooldown = whole, verbose = whole })
    if c.factor >= 1 then
      util.fail(at, "ReduceLROnPlateau does not support a factor >= 1.0 (factor=%s)", tostring(c.factor))
    end
    if c.mode ~= "auto" and c.mode ~= "min" and c.mode ~= "max" then
      util.fail(at, "ReduceLROnPlateau: mode must be \"auto\", \"min\" or \"max\"")
    end
    c.config_kind = "reduce_lr"
    return util.handle(c, Config)
  end
  -- keras/src/callbacks/terminate_on_nan.py stops training after the batch
  -- whose loss is NaN or Inf. rnnc always stops there, callback or not (and
  -- keeps the weights of the last good step, where Keras has applied the bad
  -- batch's update and ends the epoch): the name is accepted, takes no
  -- arguments (as Keras's) and adds nothing.
  env.TerminateOnNaN = function(t)
    local at = where()
    keywords(at, "TerminateOnNaN", t, {})
    return util.handle({ config_kind = "terminate_on_nan" }, Config)
  end
  env.CSVLogger = function(t)
    local at = where()
    local c = keywords(at, "CSVLogger", t, { filename = "" })
    if c.filename == "" then util.fail(at, "CSVLogger: filename is required") end
    c.config_kind = "csv"
    return util.handle(c, Config)
  end
  return env
end

local function optimizer_from_name(at, name)
  local kind = name:lower()
  if not OPTIMIZERS[kind] then
    util.fail(at, "compile: unknown optimizer '%s' (rnnc knows %s)", name, catalog.names(catalog.optimizers))
  end
  local c = util.copy(OPTIMIZERS[kind].defaults)
  c.kind = kind
  return c
end

-- One loss of compile{}: a name or a loss object. Returns {loss, from_logits}.
local function one_loss(at, v, where)
  local obj = config_of(v, "loss")
  if obj then return { loss = obj.loss, from_logits = obj.from_logits or false, params = obj.params } end
  if type(v) == "string" and catalog.loss_by_name[v] then
    return { loss = catalog.loss_by_name[v].name, from_logits = false }
  end
  util.fail(at, "compile: unknown or unsupported loss '%s'%s (rnnc knows %s, Keras's other names of them "
    .. "and their classes)", tostring(v), where or "", catalog.names(catalog.losses))
end

-- A list of metric names, each once (Keras's names as given).
local function metric_list(at, v, where)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" then
    util.fail(at, "compile: metrics%s must be a list such as {\"accuracy\"}", where or "")
  end
  local list, seen = {}, {}
  for _, m in ipairs(v) do
    local entry = catalog.metric_by_name[m]
    if not entry then
      util.fail(at, "compile: unknown or unsupported metric '%s'%s (rnnc knows %s)", tostring(m), where or "",
        catalog.names(catalog.metrics))
    end
    if not seen[entry.name] then list[#list + 1] = entry.name end
    seen[entry.name] = true
  end
  return list
end

-- Whether a table is a list (keys 1..n) rather than a dict of output names.
local function is_list(t)
  local n = 0
  for _ in pairs(t) do
    n = n + 1
  end
  return n == #t
end

-- model:compile { optimizer = ..., loss = ..., metrics = {...}, loss_weights = ... }
-- With several outputs, loss and metrics may be one (every output), a list
-- (one per output, None for none) or a dict of output names, as in Keras;
-- loss_weights a list or a dict. They are matched to the model's outputs
-- when the unit is generated (training.interface).
function training.compile(t, at)
  if type(t) ~= "table" then util.fail(at, "compile expects a table of arguments") end
  local c = { metrics = {}, weighted_metrics = {}, at = at }
  for _, k in ipairs(util.sorted_keys(t)) do
    local v = t[k]
    if k == "loss" then
      if type(v) == "table" and getmetatable(v) == nil then
        -- a list or a dict of losses, per output
        c.losses = {}
        for _, key in ipairs(util.sorted_keys(v)) do
          if math.type(key) ~= "integer" and type(key) ~= "string" then
            util.fail(at, "compile: loss must be a loss, a list of them or a dict { output_name = loss }")
          end
          local where = string.format(" for output %s", tostring(key))
          c.losses[key] = v[key] ~= util.None and one_loss(at, v[key], where) or false
        end
        c.losses_are_list = is_list(v)
        if c.losses_are_list then
          for i = 1, #v do
            if c.losses[i] == nil then c.losses[i] = false end
          end
        end
      else
        local l = one_loss(at, v)
        c.loss, c.from_logits, c.loss_params = l.loss, l.from_logits, l.params
      end
    elseif k == "loss_weights" then
      if type(v) ~= "table" then util.fail(at, "compile: loss_weights must be a list or a dict of numbers") end
      c.loss_weights = {}
      for _, key in ipairs(util.sorted_keys(v)) do
        c.loss_weights[key] = check_number(at, "compile", "loss_weights", v[key], false)
      end
      c.weights_are_list = is_list(v)
    elseif k == "optimizer" then
      if type(v) == "string" then
        c.optimizer = optimizer_from_name(at, v)
      elseif config_of(v, "optimizer") then
        c.optimizer = config_of(v, "optimizer")
      else
        local classes = {}
        for _, o in ipairs(catalog.optimizers) do
          classes[#classes + 1] = o.class .. "{...}"
        end
        util.fail(at, "compile: optimizer must be a name or %s", table.concat(classes, " / "))
      end
    elseif k == "metrics" or k == "weighted_metrics" then
      -- weighted_metrics: the same names, given the sample weights (Keras's
      -- compile_utils.CompileMetrics; `metrics` never takes them)
      if type(v) ~= "table" then util.fail(at, "compile: %s must be a list such as {\"accuracy\"}", k) end
      if is_list(v) and (#v == 0 or type(v[1]) == "string") then
        c[k] = metric_list(at, v)
      else
        -- per output: a list of lists, or a dict { output_name = {...} }
        c[k .. "_per_output"] = {}
        for _, key in ipairs(util.sorted_keys(v)) do
          c[k .. "_per_output"][key] = metric_list(at, v[key], string.format(" for output %s", tostring(key)))
        end
        c[k .. "_are_list"] = is_list(v)
      end
    else
      util.fail(at, "compile: unknown argument '%s'", tostring(k))
    end
  end
  if not c.loss and not c.losses then util.fail(at, "compile: a loss is required") end
  -- Keras's default optimizer (RMSprop)
  c.optimizer = c.optimizer or optimizer_from_name(at, catalog.default_optimizer)
  return c
end

-- compile{}'s losses, weights and metrics matched to the outputs, named
-- `names` (Keras's output names): a list per output of {kind, from_logits,
-- weight, metrics} (kind nil: the output has no loss). As tf.keras does
-- (compile_utils.py, _maybe_broadcast_to_outputs and map_to_output_names):
-- a list has one entry per output; a dict names outputs, and an output it
-- leaves out has none. One loss (not a list or a dict) is the first
-- output's only: rnnc's rule for several outputs, which tf.keras would
-- broadcast to every output. One list of metrics applies to every output
-- that has a loss.
local function per_output(compiled, names)
  local at = compiled.at
  local index = {}
  for i, n in ipairs(names) do
    index[n] = i
  end
  local function by_output(spec, are_list, what)
    local out = {}
    if are_list then
      if #spec ~= #names then
        util.fail(at, "compile: %s has %d entries, the model has %d outputs (%s)", what, #spec, #names,
          table.concat(names, ", "))
      end
      for i = 1, #names do
        out[i] = spec[i]
      end
    else
      for _, key in ipairs(util.sorted_keys(spec)) do
        if not index[key] then
          util.fail(at, "compile: %s names '%s', which is not an output of the model (its outputs: %s)", what,
            tostring(key), table.concat(names, ", "))
        end
        out[index[key]] = spec[key]
      end
    end
    return out
  end
  local losses = {}
  if compiled.losses then
    local l = by_output(compiled.losses, compiled.losses_are_list, "loss")
    for i = 1, #names do
      losses[i] = l[i] or nil
    end
  else
    -- one loss (not a list or a dict): the first output's, rnnc's rule for
    -- models with several outputs (Keras would apply it to every output,
    -- each with its own targets: give a list or a dict for that)
    losses[1] = { loss = compiled.loss, from_logits = compiled.from_logits, params = compiled.loss_params }
  end
  local weights = compiled.loss_weights and by_output(compiled.loss_weights, compiled.weights_are_list,
    "loss_weights") or {}
  local per = {}
  for _, key in ipairs({ "metrics", "weighted_metrics" }) do
    if compiled[key .. "_per_output"] then
      per[key] = by_output(compiled[key .. "_per_output"], compiled[key .. "_are_list"], key)
    end
  end
  local parts, any = {}, false
  for i = 1, #names do
    local l = losses[i]
    parts[i] = { name = names[i], weight = weights[i] or 1 }
    if l then
      parts[i].kind, parts[i].from_logits, parts[i].params = l.loss, l.from_logits or false, l.params
      any = true
    end
    -- one list of metrics: for every output that has a loss (and targets)
    for _, key in ipairs({ "metrics", "weighted_metrics" }) do
      parts[i][key] = util.copy(per[key] and per[key][i] or (l and compiled[key]) or {})
      if not l and #parts[i][key] > 0 then
        util.fail(at, "compile: output '%s' has %s but no loss: rnnc computes metrics on the outputs that "
          .. "have a loss (their targets)", names[i], key)
      end
    end
    -- a metric reads the loss's targets: class labels (sparse) or dense
    local loss_entry = l and catalog.loss_by_name[l.loss]
    local all = util.copy(parts[i].metrics)
    for _, m in ipairs(parts[i].weighted_metrics) do
      all[#all + 1] = m
    end
    for _, m in ipairs(all) do
      local e = catalog.metric_by_name[m]
      if loss_entry and e and e.name ~= "accuracy" and (e.labels or false) ~= (loss_entry.labels or false) then
        util.fail(at, "compile: metric '%s'%s needs %s targets; the loss '%s' takes %s", m,
          #names > 1 and string.format(" of output '%s'", names[i]) or "",
          e.labels and "sparse (class label)" or "dense", l.loss,
          loss_entry.labels and "class labels" or "dense targets")
      end
    end
  end
  if not any then util.fail(at, "compile: no output of the model has a loss") end
  return parts
end

-- The optimizer of a model without compile{}: Keras's default, as compile{}
-- without an optimizer gives.
function training.default_optimizer()
  local c = util.copy(OPTIMIZERS[catalog.default_optimizer].defaults)
  c.kind = catalog.default_optimizer
  return c
end

-- model:fit { epochs = ..., batch_size = ..., callbacks = {...}, ... }:
-- defaults for the driver's fit, as its command-line options.
function training.fit(t, at)
  if type(t) ~= "table" then util.fail(at, "fit expects a table of arguments") end
  local opts = {}
  local function put(k, v)
    opts[#opts + 1] = k .. "=" .. tostring(v)
  end
  for _, k in ipairs(util.sorted_keys(t)) do
    local v = t[k]
    if k == "epochs" or k == "batch_size" or k == "initial_epoch" or k == "verbose" then
      if math.type(v) ~= "integer" or v < 0 then util.fail(at, "fit: %s must be a non-negative integer", k) end
      put(k:gsub("_", "-"), v)
    elseif k == "validation_split" then
      check_number(at, "fit", k, v, true)
      if v >= 1 then util.fail(at, "fit: validation_split must be below 1") end
      put("validation-split", v)
    elseif k == "class_weight" then
      -- Keras's fit(class_weight={0: 1.0, 1: 5.0}): {[0] = 1, [1] = 5}, the
      -- runtime turns it into per-sample weights from the targets
      -- (rnnc_class_weights, after class_weight_to_sample_weights in
      -- keras/src/trainers/data_adapters/data_adapter_utils.py)
      if type(v) ~= "table" then
        util.fail(at, "fit: class_weight must be a table of class = weight, e.g. {[0] = 1, [1] = 5}")
      end
      local classes = {}
      for c, w in pairs(v) do
        if math.type(c) ~= "integer" or c < 0 or c >= 1000000 then
          util.fail(at, "fit: class_weight: the classes are whole numbers from 0, not %s", tostring(c))
        end
        if type(w) ~= "number" or w ~= w or w < 0 or w == math.huge then
          util.fail(at, "fit: class_weight: the weight of class %d must be a finite number >= 0", c)
        end
        classes[#classes + 1] = c
      end
      if #classes == 0 then util.fail(at, "fit: class_weight is empty") end
      table.sort(classes)
      local words = {}
      for _, c in ipairs(classes) do
        words[#words + 1] = string.format("%d=%.17g", c, v[c])
      end
      put("class-weight", table.concat(words, ","))
    elseif k == "shuffle" then
      if type(v) ~= "boolean" then util.fail(at, "fit: shuffle must be true or false") end
      if not v then put("no-shuffle", 1) end
    elseif k == "callbacks" then
      if type(v) ~= "table" then util.fail(at, "fit: callbacks must be a list") end
      for i, cb in ipairs(v) do
        local es, ck, csv = config_of(cb, "early_stopping"), config_of(cb, "checkpoint"), config_of(cb, "csv")
        local rlr = config_of(cb, "reduce_lr")
        if rlr then
          put("reduce-lr-on-plateau", 1)
          put("reduce-lr-monitor", rlr.monitor)
          put("reduce-lr-factor", rlr.factor)
          put("reduce-lr-patience", rlr.patience)
          put("reduce-lr-mode", rlr.mode)
          put("reduce-lr-min-delta", rlr.min_delta)
          put("reduce-lr-cooldown", rlr.cooldown)
          put("reduce-lr-min-lr", rlr.min_lr)
          put("reduce-lr-verbose", rlr.verbose)
        elseif es then
          put("early-stopping", 1)
          put("monitor", es.monitor)
          put("min-delta", es.min_delta)
          put("patience", es.patience)
          put("mode", es.mode)
          if es.baseline then put("baseline", es.baseline) end
          if es.restore_best_weights then put("restore-best-weights", 1) end
        elseif ck then
          put("checkpoint", ck.filepath)
          if ck.save_best_only then put("save-best-only", 1) end
        elseif csv then
          put("csv", csv.filename)
        elseif not config_of(cb, "terminate_on_nan") then -- (rnnc's own stop)
          util.fail(at, "fit: callback %d is not EarlyStopping{...}, ModelCheckpoint{...}, CSVLogger{...}, "
            .. "ReduceLROnPlateau{...} or TerminateOnNaN{}", i)
        end
      end
    else
      util.fail(at, "fit: unknown or unsupported argument '%s'", tostring(k))
    end
  end
  -- the defaults reach the generated C as a string and the driver as words:
  -- no spaces, quotes, backslashes, control bytes or C trigraphs ("??/")
  for _, o in ipairs(opts) do
    if not o:match("^[%w%._/%-+=,:@%%{}~#]+$") then
      util.fail(at, "fit: values may contain only letters, digits and . _ / - + = , : @ %% { } ~ #, not %q",
        o:sub(1, 80))
    end
  end
  local text = table.concat(opts, " ")
  if #text > 2000 then util.fail(at, "fit: the options take %d characters (at most 2000)", #text) end
  return text
end

-- The training configuration a unit is generated with, as plain data for
-- the C writer: the losses per output (training.per_output; nil without
-- compile{}), `loss` the first output's that has one (the descriptor's loss
-- kind), the optimizer with every hyperparameter and the state it keeps per
-- parameter, the metrics (per output) and fit{}'s defaults as the driver's
-- options. `names`: the model's output names.
function training.interface(compiled, fit_defaults, names)
  local optimizer = compiled and compiled.optimizer or training.default_optimizer()
  -- Keras's optimizer refuses to have its rate set when it was given a
  -- schedule (base_optimizer.py, the learning_rate setter raises TypeError):
  -- ReduceLROnPlateau with one is refused here rather than at its first cut
  if type(optimizer.learning_rate) == "table" and (fit_defaults or ""):find("reduce-lr-on-plateau=1", 1, true) then
    util.fail(compiled and compiled.at, "fit: ReduceLROnPlateau cannot set the learning rate of an optimizer "
      .. "with a learning-rate schedule (Keras raises: \"its learning rate is not settable\"); give the "
      .. "optimizer a constant learning_rate")
  end
  local o = util.copy(optimizer)
  o.class = OPTIMIZERS[o.kind].class
  if type(o.learning_rate) == "table" and o.learning_rate.schedule then -- issue 13's schedules
    local s = o.learning_rate
    for k, v in pairs(s) do
      if k ~= "config_kind" then o[k] = v end
    end
  elseif type(o.learning_rate) == "table" then -- an ExponentialDecay schedule
    local s = o.learning_rate
    o.learning_rate, o.decay_steps, o.decay_rate, o.staircase = s.initial_learning_rate, s.decay_steps,
      s.decay_rate, s.staircase
  end
  o.config_kind = nil
  o.slots_per_param = catalog.optimizer_slots(o)
  local losses = compiled and per_output(compiled, names or { "output" }) or nil
  local first
  for _, l in ipairs(losses or {}) do
    if l.kind then
      first = first or l
      -- every parameter of rnnc_loss_config, Keras's default where the loss has none
      local own = catalog.loss[l.kind].params
      local given = l.params or {}
      l.params = {}
      for _, p in ipairs(catalog.loss_params) do
        local v = given[p.name]
        if v == nil and own then v = own[p.name] end
        if v == nil then v = p.default end
        l.params[p.name] = v
      end
    end
  end
  return {
    losses = losses,
    loss = first,
    optimizer = o,
    metrics = util.copy(first and first.metrics or {}),
    fit_defaults = fit_defaults or "",
  }
end

return training
