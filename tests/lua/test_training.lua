-- compile{...} and fit{...}: Keras's losses, optimizers, schedules, metrics,
-- callbacks and initializers as the description gives them.
local T = require("testlib")
local dsl = require("dsl")

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

local function load_error(src, line, rest)
  local path = T.tmpfile(src)
  local _, text = T.raises(function()
    return dsl.load(path)
  end)
  T.truthy(text:find(path .. ":" .. line .. ": ", 1, true), "error names the line: " .. text)
  T.truthy(text:find(rest, 1, true), "error says " .. rest .. ": " .. text)
end

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
  load_error(model('loss = "mse", optimizer = "nadam"'), 2, "unknown optimizer 'nadam'")
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

return tests
