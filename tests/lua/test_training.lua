-- compile{...} and fit{...}: Keras's losses, optimizers, schedules, metrics,
-- callbacks and initializers as the description gives them.
local T = require("testlib")

local tests = {}

local function model(compile, fit, layer_args)
  -- compile{} without an optimizer: RMSprop, Keras's default
  return string.format([[
local m = Sequential { Dense { 2, input_shape = { 3 }%s } }
m:compile { %s }
%s
return m
]], layer_args or "", compile, fit and ("m:fit { " .. fit .. " }") or "")
end

local load_error = T.load_refused

tests["compile: Keras's optimizer defaults"] = function()
  local m = T.load_text(model('loss = "mse", optimizer = "rmsprop"'))
  T.eq(m.compiled.optimizer.kind, "rmsprop")
  T.eq(m.compiled.optimizer.rho, 0.9)
  T.eq(m.compiled.optimizer.learning_rate, 0.001)
  m = T.load_text(model('loss = "mse"'))
  T.eq(m.compiled.optimizer.kind, "rmsprop", "Keras's default optimizer")
  m = T.load_text(model('loss = "mse", optimizer = AdamW { weight_decay = 0.01, clipnorm = 1 }'))
  T.eq(m.compiled.optimizer.weight_decay, 0.01)
  T.eq(m.compiled.optimizer.clipnorm, 1)
  T.eq(m.compiled.optimizer.beta_2, 0.999)
  m = T.load_text(model('loss = "mse", optimizer = SGD { learning_rate = ExponentialDecay { '
    .. 'initial_learning_rate = 0.1, decay_steps = 10, decay_rate = 0.5, staircase = true } }'))
  T.eq(m.compiled.optimizer.learning_rate.decay_rate, 0.5)
end

tests["compile: issue 13's optimizers and schedules reach the unit's optimizer config"] = function()
  local training = require("training")
  local function config(opt)
    return training.interface(T.load_text(model('loss = "mse", optimizer = ' .. opt)).compiled).optimizer
  end
  local o = config("Ftrl { l1_regularization_strength = 0.1, learning_rate_power = -0.7 }")
  T.eq({ o.kind, o.l1_regularization_strength, o.learning_rate_power, o.initial_accumulator_value, o.slots_per_param },
    { "ftrl", 0.1, -0.7, 0.1, 2 })
  T.eq(config('"lion"').beta_2, 0.99)
  o = config("Nadam { learning_rate = PiecewiseConstantDecay { boundaries = { 3, 8 }, values = { 0.1, 0.05, 0.01 } } }")
  T.eq({ o.schedule, o.learning_rate, o.boundaries, o.values }, { 2, 0.1, { 3, 8 }, { 0.1, 0.05, 0.01 } })
  o = config("Adam { learning_rate = CosineDecay { initial_learning_rate = 0.1, decay_steps = 5 } }")
  T.eq({ o.schedule, o.learning_rate, o.decay_steps, o.warmup_target, o.alpha }, { 5, 0.1, 5, 0.1, 0 },
    "no warmup: the decay starts from the initial rate")
  o = config("Adam { learning_rate = CosineDecayRestarts { initial_learning_rate = 0.1, first_decay_steps = 4 } }")
  T.eq({ o.schedule, o.decay_steps, o.t_mul, o.m_mul }, { 6, 4, 2, 1 })
  o = config("SGD { learning_rate = PolynomialDecay { initial_learning_rate = 1, decay_steps = 3, cycle = true } }")
  T.eq({ o.schedule, o.end_learning_rate, o.power, o.cycle }, { 4, 0.0001, 1, true })
  o = config("SGD { learning_rate = InverseTimeDecay { initial_learning_rate = 1, decay_steps = 3, decay_rate = 2 } }")
  T.eq({ o.schedule, o.decay_rate, o.staircase }, { 3, 2, false })
  local generate = require("generate")
  local path = T.tmpfile(model("loss = \"mse\", optimizer = Nadam { learning_rate = PiecewiseConstantDecay { "
    .. "boundaries = { 3, 8 }, values = { 0.1, 0.05, 0.01 } } }"))
  local files, name = generate.unit(path, { dtype = "float32", unroll = 0, root = T.root, format = false })
  T.contains(files[name .. ".c"], ".schedule = 2, .n_boundaries = 2, .boundaries = {3.0, 8.0}, "
    .. ".values = {0.1, 0.05, 0.01}}")
  -- mistakes
  load_error(model('loss = "mse", optimizer = Adam { learning_rate = PiecewiseConstantDecay { boundaries = { 3 }, '
    .. "values = { 0.1 } } }"), 2, "PiecewiseConstantDecay: values needs one more entry than boundaries (1), got 1")
  load_error(model('loss = "mse", optimizer = Adam { learning_rate = PiecewiseConstantDecay { boundaries = { 3, 1 }, '
    .. "values = { 0.1, 0.2, 0.3 } } }"), 2, "boundaries must be in increasing order")
  load_error(model('loss = "mse", optimizer = Adam { learning_rate = CosineDecay { initial_learning_rate = 0.1, '
    .. "decay_steps = 0 } }"), 2, "CosineDecay: decay_steps must be positive")
  load_error(model('loss = "mse", optimizer = Adam { learning_rate = CosineDecay { initial_learning_rate = 0.1, '
    .. "decay_steps = 2, warmup = 3 } }"), 2, "CosineDecay: unknown or unsupported argument 'warmup'")
  load_error(model('loss = "mse", optimizer = Ftrl { learning_rate_power = 0.5 }'), 2,
    "Ftrl: argument 'learning_rate_power' must be at most 0, got 0.5")
end

tests["rnnc import: issue 13's losses, optimizers and schedules from a training configuration"] = function()
  local compile = require("import.compile")
  local cjson = require("cjson")
  local function text(tc, major, minor)
    local c, notes = compile.from({ version = { major = major or 3, minor = minor or 3 } }, cjson.decode(tc), "tc")
    if not c then return nil, table.concat(notes, "; ") end
    -- what the importer writes loads as a description
    T.load_text("local m = Sequential { Dense { 2, input_shape = { 3 } } }\n" .. compile.text(c):gsub("^model", "m")
      .. "return m\n")
    return compile.text(c)
  end
  -- Keras 3's compile_config
  local t = text([[{"optimizer": {"module": "keras.optimizers", "class_name": "Nadam", "config": {"name": "nadam",
    "learning_rate": {"module": "keras.optimizers.schedules", "class_name": "CosineDecay", "config": {
    "initial_learning_rate": 0.001, "decay_steps": 100, "alpha": 0.0, "name": "CosineDecay", "warmup_target": 0.01,
    "warmup_steps": 10}}, "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null,
    "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null, "loss_scale_factor": null,
    "gradient_accumulation_steps": null, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07}},
    "loss": {"module": "keras.losses", "class_name": "Huber", "config": {"name": "huber_loss",
    "reduction": "sum_over_batch_size", "delta": 2.0}}, "metrics": null}]])
  T.contains(t, "optimizer = Nadam { learning_rate = CosineDecay { initial_learning_rate = 0.001, decay_steps = 100, "
    .. "alpha = 0, warmup_target = 0.01, warmup_steps = 10 }, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-07 }")
  T.contains(t, "loss = Huber { delta = 2 }")
  -- tf.keras 2.x's training_config
  t = text([[{"loss": {"class_name": "CategoricalCrossentropy", "config": {"reduction": "auto", "name": "cce",
    "from_logits": true, "label_smoothing": 0.1, "axis": -1}}, "metrics": null, "optimizer_config": {
    "class_name": "Ftrl", "config": {"name": "Ftrl", "learning_rate": {"class_name": "PiecewiseConstantDecay",
    "config": {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001], "name": null}}, "decay": 0.0,
    "learning_rate_power": -0.5, "initial_accumulator_value": 0.1, "l1_regularization_strength": 0.01,
    "l2_regularization_strength": 0.0, "l2_shrinkage_regularization_strength": 0.0, "beta": 0.0}}}]], 2, 9)
  T.contains(t, "learning_rate = PiecewiseConstantDecay { boundaries = { 10, 20 }, values = { 0.1, 0.01, 0.001 } }")
  T.contains(t, "l1_regularization_strength = 0.01")
  T.contains(t, "loss = CategoricalCrossentropy { from_logits = true, label_smoothing = 0.1 }")
  t = text([[{"loss": "kld", "optimizer_config": {"class_name": "Lion", "config": {"name": "Lion",
    "learning_rate": 0.0001, "beta_1": 0.9, "beta_2": 0.99}}}]])
  T.contains(t, 'loss = "kl_divergence"')
  T.contains(t, "Lion { learning_rate = 0.0001, beta_1 = 0.9, beta_2 = 0.99 }")
  t = text([[{"loss": "logcosh", "optimizer_config": {"class_name": "Adadelta", "config": {"name": "Adadelta",
    "learning_rate": {"class_name": "PolynomialDecay", "config": {"initial_learning_rate": 1.0, "decay_steps": 5,
    "end_learning_rate": 0.0001, "power": 1.0, "cycle": true, "name": null}}, "rho": 0.95, "epsilon": 1e-07}}}]])
  T.contains(t, "cycle = true")
  -- weighted_metrics (the metrics that take the sample weights) are imported
  t = text([[{"loss": "mse", "optimizer": "adam", "metrics": ["mae"], "weighted_metrics": ["mse"]}]])
  T.contains(t, 'loss = "mse", metrics = { "mae" }, weighted_metrics = { "mse" }')
  t = text([[{"loss": "mse", "optimizer": "adam", "metrics": null, "weighted_metrics": ["mae"]}]])
  T.contains(t, 'loss = "mse", weighted_metrics = { "mae" }')
  -- issue 13's metrics from a compile_config: names and classes at Keras's
  -- defaults (AUC's config lists its 198 inner thresholds); other arguments
  -- leave the metric out with a note
  local inner = {}
  for i = 1, 198 do
    inner[i] = string.format("%.9g", i / 199)
  end
  local c, notes = compile.from({ version = { major = 3, minor = 3 } }, cjson.decode([[{"loss": "binary_crossentropy",
    "optimizer": "adam", "metrics": ["precision", "mape", "root_mean_squared_error",
    {"module": "keras.metrics", "class_name": "AUC", "config": {"name": "auc", "dtype": "float32",
    "num_thresholds": 200, "curve": "ROC", "summation_method": "interpolation", "multi_label": false,
    "num_labels": null, "label_weights": null, "thresholds": []] .. table.concat(inner, ", ") .. [[],
    "from_logits": false}},
    {"module": "keras.metrics", "class_name": "Recall", "config": {"name": "recall", "thresholds": null,
    "top_k": null, "class_id": null}},
    {"module": "keras.metrics", "class_name": "Precision", "config": {"name": "p7", "thresholds": 0.7,
    "top_k": null, "class_id": null}},
    {"module": "keras.metrics", "class_name": "TopKCategoricalAccuracy", "config": {"name": "top3", "k": 3}},
    {"module": "keras.metrics", "class_name": "AUC", "config": {"name": "pr", "num_thresholds": 200,
    "curve": "PR", "summation_method": "interpolation"}}]}]]), "tc")
  T.eq(c.metrics, { "precision", "mape", "root_mean_squared_error", "auc", "recall" })
  notes = table.concat(notes, "; ")
  T.contains(notes, "metric Precision with thresholds=0.7")
  T.contains(notes, "metric TopKCategoricalAccuracy with k=3")
  T.contains(notes, "metric AUC with curve=")
  -- Keras <= 2.3's Nadam is another rule
  local none, why = text([[{"loss": "mse", "optimizer_config": {"class_name": "Nadam", "config": {"lr": 0.002,
    "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "schedule_decay": 0.004}}}]], 2, 2)
  T.eq(none, nil)
  T.contains(why, "Nadam of Keras <= 2.3 (schedule_decay) is not supported by rnnc")
  why = select(2, text([[{"loss": "mse", "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": {
    "class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 5, "cosine": 1}}}}}]]))
  T.contains(why, "learning-rate schedule CosineDecay: argument 'cosine' is not supported by rnnc")
end

tests["compile: losses by name and by class"] = function()
  for name, kind in pairs({ mae = "mae", mean_absolute_error = "mae", binary_crossentropy = "binary_crossentropy",
    categorical_crossentropy = "categorical_crossentropy" }) do
    T.eq(T.load_text(model('loss = "' .. name .. '", optimizer = "adam"')).compiled.loss, kind, name)
  end
  local m = T.load_text(model('loss = BinaryCrossentropy { from_logits = true }, optimizer = "adam"'))
  T.eq(m.compiled.loss, "binary_crossentropy")
  T.eq(m.compiled.from_logits, true)
end

tests["compile: Keras's other names users type"] = function()
  -- keras.losses' aliases and class names as strings
  for name, kind in pairs({ MSE = "mse", mean_squared_error = "mse", MAE = "mae", bce = "binary_crossentropy",
    BCE = "binary_crossentropy", MeanSquaredError = "mse", SparseCategoricalCrossentropy =
    "sparse_categorical_crossentropy" }) do
    T.eq(T.load_text(model('loss = "' .. name .. '"')).compiled.loss, kind, name)
  end
  -- metrics: acc for accuracy, the long names, the explicit accuracies
  local m = T.load_text(model('loss = "mse", metrics = { "acc", "mean_absolute_error", "MSE", "binary_accuracy" }'))
  T.eq(m.compiled.metrics, { "accuracy", "mae", "mse", "binary_accuracy" })
  -- issue 13's metrics, by Keras's names, aliases and class names
  m = T.load_text(model('loss = "binary_crossentropy", metrics = { "precision", "Recall", "AUC", '
    .. '"root_mean_squared_error", "mean_absolute_percentage_error", "TopKCategoricalAccuracy" }'))
  T.eq(m.compiled.metrics, { "precision", "recall", "auc", "root_mean_squared_error", "mape",
    "top_k_categorical_accuracy" })
  load_error(model('loss = "mse", metrics = { "f1_score" }'), 2, "unknown or unsupported metric 'f1_score'")
  -- a metric reads its output's targets: dense or class labels as its loss
  local function refused(compile, rest)
    local _, text = T.raises(function()
      return require("training").interface(T.load_text(model(compile)).compiled, nil, { "dense" })
    end)
    T.truthy(text:find(rest, 1, true), "error says " .. rest .. ": " .. text)
  end
  refused('loss = "sparse_categorical_crossentropy", metrics = { "precision" }',
    "compile: metric 'precision' needs dense targets; the loss 'sparse_categorical_crossentropy' takes class labels")
  refused('loss = "categorical_crossentropy", metrics = { "sparse_top_k_categorical_accuracy" }',
    "compile: metric 'sparse_top_k_categorical_accuracy' needs sparse (class label) targets")
  refused('loss = "mse", metrics = { "sparse_categorical_accuracy" }', "needs sparse (class label) targets")
  -- lr, the old spelling of learning_rate
  m = T.load_text(model('loss = "mse", optimizer = Adam { lr = 0.05 }'))
  T.eq(m.compiled.optimizer.learning_rate, 0.05)
  T.eq(m.compiled.optimizer.lr, nil)
  m = T.load_text(model('loss = "mse", optimizer = SGD { lr = 0.2, momentum = 0.5 }'))
  T.eq({ m.compiled.optimizer.learning_rate, m.compiled.optimizer.momentum }, { 0.2, 0.5 })
  load_error(model('loss = "mse", optimizer = Adam { lr = 0.1, learning_rate = 0.2 }'), 2,
    "Adam: give learning_rate or lr, not both")
end

tests["a model without compile{} trains with Keras's default optimizer, RMSprop"] = function()
  local generate = require("generate")
  local path = T.tmpfile("return Sequential { SimpleRNN { 2, input_shape = { 3, 1 } } }\n")
  local files, name = generate.unit(path, { dtype = "float32", unroll = 0, root = T.root, format = false })
  T.contains(files[name .. ".c"], "optimizer_config = {.kind = RNNC_OPT_RMSPROP, .learning_rate = 0.001, "
    .. ".epsilon = 1e-07, .rho = 0.9}")
  T.contains(files[name .. ".h"], "Optimizer state (RMSprop)")
  -- compile{} without an optimizer: the same
  path = T.tmpfile("local m = Sequential { SimpleRNN { 2, input_shape = { 3, 1 } } }\n"
    .. "m:compile { loss = \"mse\" }\nreturn m\n")
  files, name = generate.unit(path, { dtype = "float32", unroll = 0, root = T.root, format = false })
  T.contains(files[name .. ".c"], "{.kind = RNNC_OPT_RMSPROP, .learning_rate = 0.001, .epsilon = 1e-07, .rho = 0.9}")
end

tests["model:summary() in a model file prints the table"] = function()
  local path = T.tmpfile("local model = Sequential { SimpleRNN { 3, input_shape = { 3, 3 } } }\n"
    .. "model:add(Dense { 2 })\nmodel:summary()\nreturn model\n")
  local out = T.tmpfile("")
  local saved = io.output()
  io.output(out)
  local m = require("dsl").load(path)
  io.output():close()
  io.output(saved)
  local text = T.read(out)
  T.contains(text, 'Model: "sequential"')
  T.contains(text, "simple_rnn (SimpleRNN)      (None, 3)                 21")
  T.contains(text, "Total params: 29")
  T.eq(m.params, 29, "the model is built once more at the end, the same")
end

tests["the catalog's C header is the catalog (make catalog)"] = function()
  local p = io.popen("lua5.4 " .. T.root .. "/generator/catalog_c.lua | clang-format "
    .. "--assume-filename=" .. T.root .. "/runtime/rnnc_catalog.h")
  local fresh = p:read("a")
  p:close()
  T.truthy(fresh == T.read(T.root .. "/runtime/rnnc_catalog.h"), "runtime/rnnc_catalog.h is stale: run make catalog")
  local catalog = require("catalog")
  for _, o in ipairs(catalog.optimizers) do
    T.contains(fresh, string.format('X(%d, %s, %s, "%s")', o.id, o.name:upper(), o.name, o.class))
  end
end

tests["compile and fit: errors name the line and the problem"] = function()
  load_error(model('loss = "hinge_loss", optimizer = "adam"'), 2, "unknown or unsupported loss 'hinge_loss'")
  load_error(model('loss = "mse", optimizer = "nadamw"'), 2, "unknown optimizer 'nadamw'")
  load_error(model('loss = "mse", optimizer = Adam { learning_rate = -1 }'), 2,
    "argument 'learning_rate' must be a non-negative number")
  load_error(model('loss = "mse", optimizer = Adam { beta_3 = 1 }'), 2, "unknown or unsupported argument 'beta_3'")
  load_error(model('loss = "mse", optimizer = "adam"', 'callbacks = { 3 }'), 3, "callback 1 is not")
  load_error(model('loss = "mse", optimizer = "adam"', 'callbacks = { EarlyStopping { mode = "up" } }'), 3,
    "mode must be")
  load_error(model('loss = "mse", optimizer = "adam"', nil, ', kernel_initializer = "magic"'), 1,
    "unknown or unsupported initializer magic")
end

tests["fit: the driver's defaults"] = function()
  local m = T.load_text(model('loss = "mse", optimizer = "adam"', 'epochs = 1000, batch_size = 1, callbacks = { '
    .. 'EarlyStopping { monitor = "loss", patience = 10 }, CSVLogger { filename = "log.csv" } }'))
  T.eq(m.fit_defaults, "batch-size=1 early-stopping=1 monitor=loss min-delta=0 patience=10 mode=auto "
    .. "csv=log.csv epochs=1000")
end

-- keras/src/callbacks/reduce_lr_on_plateau.py: Keras 3's arguments and
-- defaults; factor >= 1 raises there.
tests["fit: class_weight becomes the driver's --class-weight, checked"] = function()
  local m = T.load_text(model('loss = "mse", optimizer = "adam"', "class_weight = { [1] = 5, [0] = 1.5, [3] = 0 }"))
  T.eq(m.fit_defaults, "class-weight=0=1.5,1=5,3=0", "sorted by class, every weight exact")
  m = T.load_text(model('loss = "mse", optimizer = "adam"', "class_weight = { [0] = 0.1 }"))
  T.eq(m.fit_defaults, "class-weight=0=0.10000000000000001", "the weight's double, not 14 digits")
  local function refused(arg, rest)
    load_error(model('loss = "mse", optimizer = "adam"', arg), 3, rest)
  end
  refused("class_weight = 5", "fit: class_weight must be a table of class = weight")
  refused("class_weight = { [-1] = 1 }", "class_weight: the classes are whole numbers from 0, not -1")
  refused("class_weight = { [0.5] = 1 }", "the classes are whole numbers from 0, not 0.5")
  refused('class_weight = { a = 1 }', "the classes are whole numbers from 0, not a")
  refused("class_weight = { [0] = -1 }", "the weight of class 0 must be a finite number >= 0")
  refused("class_weight = { [2] = 0/0 }", "the weight of class 2 must be a finite number >= 0")
  refused("class_weight = {}", "fit: class_weight is empty")
end

tests["fit: ReduceLROnPlateau's defaults, arguments and refusals"] = function()
  local m = T.load_text(model('loss = "mse", optimizer = "adam"', 'callbacks = { ReduceLROnPlateau {} }'))
  T.eq(m.fit_defaults, "reduce-lr-on-plateau=1 reduce-lr-monitor=val_loss reduce-lr-factor=0.1 "
    .. "reduce-lr-patience=10 reduce-lr-mode=auto reduce-lr-min-delta=0.0001 reduce-lr-cooldown=0 "
    .. "reduce-lr-min-lr=0 reduce-lr-verbose=0")
  m = T.load_text(model('loss = "mse", optimizer = "adam"', 'callbacks = { ReduceLROnPlateau { monitor = '
    .. '"val_accuracy", factor = 0.5, patience = 3, verbose = 1, mode = "max", min_delta = 0.01, cooldown = 2, '
    .. 'min_lr = 1e-05 } }'))
  T.eq(m.fit_defaults, "reduce-lr-on-plateau=1 reduce-lr-monitor=val_accuracy reduce-lr-factor=0.5 "
    .. "reduce-lr-patience=3 reduce-lr-mode=max reduce-lr-min-delta=0.01 reduce-lr-cooldown=2 "
    .. "reduce-lr-min-lr=1e-05 reduce-lr-verbose=1")
  local fit = 'callbacks = { ReduceLROnPlateau { %s } }'
  load_error(model('loss = "mse", optimizer = "adam"', fit:format("factor = 1")), 3,
    "ReduceLROnPlateau does not support a factor >= 1.0 (factor=1)")
  load_error(model('loss = "mse", optimizer = "adam"', fit:format("factor = 2.5")), 3,
    "does not support a factor >= 1.0")
  load_error(model('loss = "mse", optimizer = "adam"', fit:format("epsilon = 1e-4")), 3,
    "ReduceLROnPlateau: unknown or unsupported argument 'epsilon'")
  load_error(model('loss = "mse", optimizer = "adam"', fit:format("patience = 2.5")), 3,
    "ReduceLROnPlateau: patience must be a non-negative integer")
  load_error(model('loss = "mse", optimizer = "adam"', fit:format("cooldown = -1")), 3,
    "ReduceLROnPlateau: cooldown must be a non-negative integer")
  load_error(model('loss = "mse", optimizer = "adam"', fit:format('mode = "up"')), 3,
    "ReduceLROnPlateau: mode must be")
  load_error(model('loss = "mse", optimizer = "adam"', fit:format('min_lr = -1')), 3,
    "argument 'min_lr' must be a non-negative number")
  -- TerminateOnNaN: accepted by name and adds nothing (rnnc always stops at
  -- a batch whose loss is not finite, keeping the last good weights)
  local tn = T.load_text(model('loss = "mse", optimizer = "adam"',
    'epochs = 3, callbacks = { TerminateOnNaN {}, CSVLogger { filename = "log.csv" } }'))
  T.eq(tn.fit_defaults, "csv=log.csv epochs=3", "TerminateOnNaN adds no option")
  load_error(model('loss = "mse", optimizer = "adam"', 'callbacks = { TerminateOnNaN { patience = 1 } }'), 3,
    "TerminateOnNaN: unknown or unsupported argument 'patience'")
  -- an optimizer with a schedule: Keras's learning_rate setter raises
  local training = require("training")
  for _, lr in ipairs({ "ExponentialDecay { initial_learning_rate = 0.1, decay_steps = 10, decay_rate = 0.5 }",
    "CosineDecay { initial_learning_rate = 0.1, decay_steps = 10 }" }) do
    m = T.load_text(model('loss = "mse", optimizer = SGD { learning_rate = ' .. lr .. ' }',
      'callbacks = { ReduceLROnPlateau {} }'))
    local _, text = T.raises(function()
      return training.interface(m.compiled, m.fit_defaults, { "dense" })
    end)
    T.contains(text, "ReduceLROnPlateau cannot set the learning rate of an optimizer with a learning-rate "
      .. "schedule")
  end
  m = T.load_text(model('loss = "mse", optimizer = SGD { learning_rate = 0.1 }',
    'callbacks = { ReduceLROnPlateau {} }'))
  T.eq(training.interface(m.compiled, m.fit_defaults, { "dense" }).optimizer.learning_rate, 0.1)
end

tests["initializers: per weight, Keras's names"] = function()
  local m = T.load_text([[
return Sequential {
  LSTM { 3, input_shape = { 2, 4 }, kernel_initializer = "he_uniform", recurrent_initializer = "lecun_normal",
    unit_forget_bias = false, bias_initializer = "ones" },
  Dense { 1, kernel_initializer = "random_normal" },
}
]])
  local w = m.layers[1].weights
  T.eq({ w[1].init, w[2].init, w[3].init }, { "he_uniform", "lecun_normal", "ones" })
  T.eq(m.layers[2].weights[1].init, "random_normal")
end

-- Losses per output (issue 15): a list, a dict by output name, loss_weights;
-- one loss that is not a list or a dict is the first output's only.
tests["compile: losses per output, their weights and targets"] = function()
  local training = require("training")
  local graph = [[
local x = Input { shape = { 3, 2 } }
local seq, h = SimpleRNN { 3, return_sequences = true, return_state = true }(x)
local a = Dense { 2, activation = "softmax", name = "a" }(seq)
local b = Dense { 1, name = "b" }(h)
local m = Model { inputs = x, outputs = { a, b, h } }
m:compile { %s }
return m
]]
  local names = { "a", "b", "simple_rnn" }
  local function parts(compile)
    return training.interface(T.load_text(string.format(graph, compile)).compiled, nil, names).losses
  end
  local l = parts('loss = "mse"')
  T.eq(l[1].kind, "mse", "one loss: the first output's")
  T.eq(l[2].kind, nil, "one loss: not the second output's")
  T.eq(l[3].kind, nil, "one loss: not the third output's")
  l = parts('loss = { a = "sparse_categorical_crossentropy", b = "mae" }, loss_weights = { a = 2, b = 0.5 }')
  T.eq({ l[1].kind, l[1].weight, l[2].kind, l[2].weight, l[3].kind },
    { "sparse_categorical_crossentropy", 2, "mae", 0.5, nil }, "a dict by output name")
  l = parts('loss = { "mse", None, Huber { delta = 2 } }, loss_weights = { 1, 1, 3 }')
  T.eq({ l[1].kind, l[2].kind, l[3].kind, l[3].weight, l[3].params.delta }, { "mse", nil, "huber", 3, 2 },
    "a list, None for no loss, a loss object's parameters")
  l = parts('loss = { a = "mse", b = "mse" }, metrics = { a = { "accuracy" } }')
  T.eq(l[1].metrics, { "accuracy" }, "metrics by output name")
  T.eq(l[2].metrics, {}, "no metrics for b")
  -- weighted_metrics (Keras's: the metrics that take the sample weights)
  l = parts('loss = { a = "mse", b = "mse" }, metrics = { "mae" }, weighted_metrics = { b = { "mse" } }')
  T.eq({ l[1].metrics, l[1].weighted_metrics, l[2].metrics, l[2].weighted_metrics },
    { { "mae" }, {}, { "mae" }, { "mse" } }, "weighted_metrics by output name")
  T.raises(function()
    parts('loss = "mse", weighted_metrics = { "f1" }')
  end, "unknown or unsupported metric 'f1'")
  T.raises(function()
    parts('loss = { c = "mse" }')
  end, "names 'c', which is not an output of the model")
  T.raises(function()
    parts('loss = { "mse", "mse" }')
  end, "loss has 2 entries, the model has 3 outputs")
end

-- rnnc import of a training configuration with a loss per output (issue 15):
-- tf.keras's dict by output name with loss_weights and metrics per output,
-- Keras 3's lists, written as compile{} and matched to the outputs; a renamed
-- output layer's key follows its name in the description.
tests["rnnc import: losses, loss_weights and metrics per output"] = function()
  local compile = require("import.compile")
  local training = require("training")
  local cjson = require("cjson")
  local graph = [[
local x = Input { shape = { 3, 2 } }
local seq, h = SimpleRNN { 3, return_sequences = true, return_state = true, name = "rnn" }(x)
local a = Dense { 2, activation = "softmax", name = "a" }(seq)
local b = Dense { 1, name = "b_x" }(h)
local model = Model { inputs = x, outputs = { a, b } }
%sreturn model
]]
  local function losses(tc, rename)
    local c, notes = compile.from({ version = { major = 2, minor = 14 }, outputs = 2 }, cjson.decode(tc), "tc")
    T.truthy(c, table.concat(notes, "; "))
    local text = compile.text(c, rename)
    return training.interface(T.load_text(string.format(graph, text)).compiled, nil, { "a", "b_x" }).losses, text
  end
  local adam = [["optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.01}}]]
  local l, text = losses([[{"loss": {"a": "categorical_crossentropy", "b.x": "mse"}, "loss_weights": {"a": 1.0,
    "b.x": 0.5}, "metrics": {"a": ["accuracy"], "b.x": []}, ]] .. adam .. "}", { ["b.x"] = "b_x" })
  T.contains(text, 'loss = { a = "categorical_crossentropy", b_x = "mse" }, loss_weights = { a = 1, b_x = 0.5 }')
  T.eq({ l[1].kind, l[1].weight, l[1].metrics, l[2].kind, l[2].weight, l[2].metrics },
    { "categorical_crossentropy", 1, { "accuracy" }, "mse", 0.5, {} }, "a dict by output name")
  l = losses([=[{"loss": ["mse", null], "loss_weights": [2.0, 1.0], "metrics": [["mae"], []], ]=] .. adam .. "}")
  T.eq({ l[1].kind, l[1].weight, l[1].metrics, l[2].kind }, { "mse", 2, { "mae" }, nil },
    "lists, None for no loss, metrics per output")
  -- one list of metrics: every output with a loss, as before
  l = losses([[{"loss": ["mse", "mae"], "metrics": ["mse"], ]] .. adam .. "}")
  T.eq({ l[1].metrics, l[2].metrics }, { { "mse" }, { "mse" } }, "one list of metrics")
  -- a loss rnnc lacks among them leaves compile{} out, with the note
  local c, notes = compile.from({ version = { major = 3, minor = 3 }, outputs = 2 },
    cjson.decode([[{"loss": {"a": "mse", "b": "poisson_nll"}, "optimizer": "adam"}]]), "tc")
  T.eq(c, nil)
  T.contains(table.concat(notes, "; "), "loss 'poisson_nll' is not supported by rnnc")
end

return tests
