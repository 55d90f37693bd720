-- rnnc's vocabularies, one table each: optimizers (with their hyperparameters),
-- losses, metrics, activations and initializers. The DSL checks names against
-- them, training.lua takes Keras's defaults and aliases from them, the C writer
-- its C names; and generator/catalog_c.lua writes them as the X-macro lists of
-- runtime/rnnc_catalog.h (`make catalog`), which the runtime's enums and
-- implementations, the driver's options and usage text and the reference
-- runtime read. A name is added here, then `make catalog`.
local catalog = {}

-- rnnc_optimizer's fields after `kind`, in the struct's order (new fields go
-- last: older units initialise the struct by position). keras: the argument's
-- name in the description (nil: not an optimizer argument, set by a
-- schedule); option: the driver's --option; flag: an int that is 0 or 1.
catalog.optimizer_fields = {
  { c = "learning_rate", keras = "learning_rate", doc = "SGD 0.01, the others 0.001" },
  { c = "momentum", keras = "momentum", doc = "SGD, RMSprop" },
  { c = "nesterov", keras = "nesterov", flag = true, doc = "SGD" },
  { c = "beta_1", keras = "beta_1", doc = "Adam, AdamW" },
  { c = "beta_2", keras = "beta_2", doc = "Adam, AdamW" },
  { c = "epsilon", keras = "epsilon", doc = "1e-7" },
  { c = "rho", keras = "rho", doc = "RMSprop" },
  { c = "centered", keras = "centered", flag = true, doc = "RMSprop" },
  { c = "legacy_epsilon", keras = "legacy", flag = true,
    doc = "RMSprop: 1 = tf.keras <= 2.10's lr g / (sqrt(s) + eps); 0 = lr g / sqrt(s + eps)" },
  { c = "amsgrad", keras = "amsgrad", flag = true, doc = "Adam, AdamW" },
  { c = "weight_decay", keras = "weight_decay", doc = "AdamW: w -= lr weight_decay w before the Adam step" },
  { c = "initial_accumulator_value", keras = "initial_accumulator_value", doc = "Adagrad" },
  { c = "clipnorm", keras = "clipnorm", doc = "> 0: each weight tensor's gradient scaled to this norm at most" },
  { c = "clipvalue", keras = "clipvalue", doc = "> 0: every gradient value clipped to [-clipvalue, clipvalue]" },
  { c = "global_clipnorm", keras = "global_clipnorm", doc = "> 0: all gradients scaled together to this norm" },
  { c = "decay_steps", doc = "ExponentialDecay when > 0: lr = learning_rate decay_rate ^ (i / decay_steps)" },
  { c = "decay_rate", doc = "ExponentialDecay's rate" },
  { c = "staircase", flag = true, doc = "ExponentialDecay: the exponent floored" },
  -- issue 13: Ftrl's hyperparameters, and the other learning-rate schedules
  -- (their lists of boundaries and values are rnnc_optimizer's own fields)
  { c = "learning_rate_power", keras = "learning_rate_power", doc = "Ftrl: -0.5" },
  { c = "l1_regularization_strength", keras = "l1_regularization_strength", doc = "Ftrl" },
  { c = "l2_regularization_strength", keras = "l2_regularization_strength", doc = "Ftrl" },
  { c = "l2_shrinkage_regularization_strength", keras = "l2_shrinkage_regularization_strength", doc = "Ftrl" },
  { c = "beta", keras = "beta", doc = "Ftrl" },
  { c = "schedule", int = true, doc = "the learning-rate schedule: 0 none (ExponentialDecay when decay_steps > 0), "
    .. "1 ExponentialDecay, 2 PiecewiseConstantDecay, 3 InverseTimeDecay, 4 PolynomialDecay, 5 CosineDecay, "
    .. "6 CosineDecayRestarts" },
  { c = "end_learning_rate", doc = "PolynomialDecay" },
  { c = "power", doc = "PolynomialDecay" },
  { c = "cycle", flag = true, doc = "PolynomialDecay" },
  { c = "alpha", doc = "CosineDecay, CosineDecayRestarts: the floor, a fraction of the initial rate" },
  { c = "warmup_target", doc = "CosineDecay: the rate warmup_steps reach (the initial rate without warmup)" },
  { c = "warmup_steps", doc = "CosineDecay" },
  { c = "t_mul", doc = "CosineDecayRestarts: each period this times the last" },
  { c = "m_mul", doc = "CosineDecayRestarts: each restart's rate this times the last" },
}
-- the schedules (rnnc_optimizer.schedule): the DSL's classes, the values
catalog.schedules = { ExponentialDecay = 1, PiecewiseConstantDecay = 2, InverseTimeDecay = 3, PolynomialDecay = 4,
  CosineDecay = 5, CosineDecayRestarts = 6 }
-- PiecewiseConstantDecay's boundaries at most
catalog.max_boundaries = 16
for _, f in ipairs(catalog.optimizer_fields) do
  f.option = f.c:gsub("_", "-")
end
-- every optimizer takes these besides its own (learning_rate may be a schedule)
catalog.optimizer_common = { "learning_rate", "clipnorm", "clipvalue", "global_clipnorm" }
-- Keras's aliases of an optimizer argument
catalog.optimizer_aliases = { lr = "learning_rate" }

-- Optimizers: the description's name and class, the enum's value (never
-- reused: units store it), Keras's defaults of its own arguments, and its
-- state: reals per parameter, each `{count, field, test}` counted when the
-- field passes the test ("~=": nonzero, ">": positive, nil: a true flag; no
-- field: always). The update rule is step_<name> in runtime/optim_impl.h.
-- Keras 3's keras/src/optimizers/ and tf.keras >= 2.11 share these defaults.
catalog.optimizers = {
  { name = "sgd", class = "SGD", id = 1, defaults = { learning_rate = 0.01, momentum = 0, nesterov = false },
    slots = { { 1, "momentum", "~=" } } },
  { name = "adam", class = "Adam", id = 2,
    defaults = { learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7, amsgrad = false },
    slots = { { 2 }, { 1, "amsgrad" } } },
  { name = "rmsprop", class = "RMSprop", id = 3,
    defaults = { learning_rate = 0.001, rho = 0.9, momentum = 0, epsilon = 1e-7, centered = false, legacy = false },
    slots = { { 1 }, { 1, "momentum", ">" }, { 1, "centered" } } },
  { name = "adamw", class = "AdamW", id = 4, defaults = { learning_rate = 0.001, weight_decay = 0.004, beta_1 = 0.9,
    beta_2 = 0.999, epsilon = 1e-7, amsgrad = false }, slots = { { 2 }, { 1, "amsgrad" } } },
  { name = "adagrad", class = "Adagrad", id = 5,
    defaults = { learning_rate = 0.001, initial_accumulator_value = 0.1, epsilon = 1e-7 }, slots = { { 1 } } },
  -- issue 13 (Keras 3's keras/src/optimizers/)
  { name = "nadam", class = "Nadam", id = 6,
    defaults = { learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7 }, slots = { { 2 } } },
  { name = "adamax", class = "Adamax", id = 7,
    defaults = { learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7 }, slots = { { 2 } } },
  { name = "adadelta", class = "Adadelta", id = 8,
    defaults = { learning_rate = 0.001, rho = 0.95, epsilon = 1e-7 }, slots = { { 2 } } },
  { name = "ftrl", class = "Ftrl", id = 9,
    defaults = { learning_rate = 0.001, learning_rate_power = -0.5, initial_accumulator_value = 0.1,
      l1_regularization_strength = 0.0, l2_regularization_strength = 0.0, l2_shrinkage_regularization_strength = 0.0,
      beta = 0.0 }, slots = { { 2 } } },
  { name = "lion", class = "Lion", id = 10,
    defaults = { learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.99 }, slots = { { 1 } } },
}
-- Keras's Model.compile(optimizer="rmsprop", ...): the optimizer of a model
-- compiled without one, and of one not compiled at all
-- (keras/src/trainers/trainer.py in Keras 3, keras/engine/training.py in
-- tf.keras 2.x).
catalog.default_optimizer = "rmsprop"

-- Losses: the name the unit and the spec use, Keras's other names (strings
-- compile{} takes: keras.losses' aliases), its class, the enum value, whether
-- it has a from-logits form, the output activation Keras fuses it with
-- (computed from the logits then), whether its targets are class labels, and
-- its parameters with Keras's defaults (fields of rnnc_loss_config, the
-- class's keyword arguments). Its rule is row_<name> in runtime/loss_impl.h
-- (one row's loss and gradient; rnnc_loss_eval reduces the rows).
catalog.losses = {
  { name = "mse", aliases = { "mean_squared_error", "MSE", "MeanSquaredError" }, class = "MeanSquaredError", id = 1 },
  { name = "sparse_categorical_crossentropy", aliases = { "SparseCategoricalCrossentropy" },
    class = "SparseCategoricalCrossentropy", id = 2, from_logits = true, fused = "softmax", labels = true },
  { name = "mae", aliases = { "mean_absolute_error", "MAE", "MeanAbsoluteError" }, class = "MeanAbsoluteError",
    id = 3 },
  { name = "binary_crossentropy", aliases = { "bce", "BCE", "BinaryCrossentropy" }, class = "BinaryCrossentropy",
    id = 4, from_logits = true, fused = "sigmoid", params = { label_smoothing = 0 } },
  { name = "categorical_crossentropy", aliases = { "CategoricalCrossentropy" }, class = "CategoricalCrossentropy",
    id = 5, from_logits = true, fused = "softmax", params = { label_smoothing = 0 } },
  -- issue 13 (Keras 3's keras/src/losses/losses.py)
  { name = "huber", aliases = { "huber_loss", "Huber" }, class = "Huber", id = 6, params = { delta = 1.0 } },
  { name = "log_cosh", aliases = { "logcosh", "LogCosh" }, class = "LogCosh", id = 7 },
  { name = "mape", aliases = { "mean_absolute_percentage_error", "MAPE", "MeanAbsolutePercentageError" },
    class = "MeanAbsolutePercentageError", id = 8 },
  { name = "msle", aliases = { "mean_squared_logarithmic_error", "MSLE", "MeanSquaredLogarithmicError" },
    class = "MeanSquaredLogarithmicError", id = 9 },
  { name = "kl_divergence", aliases = { "kld", "KLD", "kullback_leibler_divergence", "KLDivergence" },
    class = "KLDivergence", id = 10 },
  { name = "poisson", aliases = { "Poisson" }, class = "Poisson", id = 11 },
  { name = "hinge", aliases = { "Hinge" }, class = "Hinge", id = 12 },
  { name = "squared_hinge", aliases = { "SquaredHinge" }, class = "SquaredHinge", id = 13 },
  { name = "categorical_hinge", aliases = { "CategoricalHinge" }, class = "CategoricalHinge", id = 14 },
  { name = "cosine_similarity", aliases = { "CosineSimilarity" }, class = "CosineSimilarity", id = 15 },
}
-- rnnc_loss_config's parameters after kind and from_logits, with the value
-- a loss that does not take one has (new fields go last).
catalog.loss_params = {
  { name = "label_smoothing", default = 0, doc = "binary and categorical crossentropy: y (1 - s) + s / classes" },
  { name = "delta", default = 1.0, doc = "huber: quadratic where |e| <= delta" },
}

-- Metrics compile{} and the driver's --metrics take: the name logs use and
-- its aliases. "accuracy" is Keras's: sparse, categorical or binary chosen
-- from the loss.
catalog.metrics = {
  { name = "accuracy", aliases = { "acc" } },
  { name = "sparse_categorical_accuracy", labels = true },
  { name = "categorical_accuracy" },
  { name = "binary_accuracy" },
  { name = "mae", aliases = { "mean_absolute_error", "MAE" } },
  { name = "mse", aliases = { "mean_squared_error", "MSE" } },
  -- issue 13: Keras 3's keras/src/metrics (metrics.get: the class name, its
  -- snake_case and the short aliases of metrics/__init__.py)
  { name = "root_mean_squared_error", aliases = { "RootMeanSquaredError" } },
  { name = "mape", aliases = { "mean_absolute_percentage_error", "MAPE", "MeanAbsolutePercentageError" } },
  { name = "top_k_categorical_accuracy", aliases = { "TopKCategoricalAccuracy" } },
  { name = "sparse_top_k_categorical_accuracy", aliases = { "SparseTopKCategoricalAccuracy" }, labels = true },
  { name = "precision", aliases = { "Precision" } },
  { name = "recall", aliases = { "Recall" } },
  { name = "auc", aliases = { "AUC" } },
}

-- Activations: Keras 3's names (keras/src/activations/__init__.py) for
-- every layer's `activation` argument; elementwise ones work in a recurrent
-- cell; softmax and log_softmax act on a row (the last axis). Their formulas
-- and derivatives are in generator/ir.lua (ir.activation; the C helpers of
-- cwriter/ops.lua), and in runtime/reference/ref.c. hard_sigmoid is Keras 3's
-- relu6(x + 3) / 6; hard_sigmoid_keras2 is Keras <= 2's and tf.keras 2.x's
-- clip(0.2 x + 0.5, 0, 1) (rnnc's hard_sigmoid before issue 13).
-- gelu_approximate is keras.activations.gelu(x, approximate=True).
catalog.activations = {
  { name = "linear", elementwise = true },
  { name = "relu", elementwise = true },
  { name = "tanh", elementwise = true },
  { name = "sigmoid", elementwise = true },
  { name = "softmax" },
  { name = "hard_sigmoid", elementwise = true },
  { name = "hard_sigmoid_keras2", elementwise = true },
  { name = "elu", elementwise = true },
  { name = "selu", elementwise = true },
  { name = "gelu", elementwise = true },
  { name = "gelu_approximate", elementwise = true },
  { name = "swish", elementwise = true },
  { name = "silu", elementwise = true },
  { name = "softplus", elementwise = true },
  { name = "softsign", elementwise = true },
  { name = "exponential", elementwise = true },
  { name = "leaky_relu", elementwise = true },
  { name = "relu6", elementwise = true },
  { name = "mish", elementwise = true },
  { name = "hard_silu", elementwise = true },
  { name = "hard_swish", elementwise = true },
  { name = "log_softmax" },
}

-- Initializers: Keras's names, the enum value (rnnc_init_kind; never
-- reused), and what each draws. unit_forget_bias is LSTM's, not a name a
-- description gives.
catalog.initializers = {
  { name = "zeros", id = 0, doc = "0" },
  { name = "ones", id = 1, doc = "1" },
  { name = "glorot_uniform", id = 2, doc = "U(-l, l), l = sqrt(6 / (fan_in + fan_out))" },
  { name = "orthogonal", id = 3, doc = "an orthogonal matrix (Q of a normal matrix's QR, signs of diag(R))" },
  { name = "unit_forget_bias", id = 4, internal = true,
    doc = "LSTM bias: zeros with the forget block (second quarter) = 1" },
  { name = "glorot_normal", id = 5, doc = "truncated normal, stddev sqrt(2 / (fan_in + fan_out)) / .8796" },
  { name = "he_uniform", id = 6, doc = "U(-l, l), l = sqrt(6 / fan_in)" },
  { name = "he_normal", id = 7, doc = "truncated normal, stddev sqrt(2 / fan_in) / .8796" },
  { name = "lecun_uniform", id = 8, doc = "U(-l, l), l = sqrt(3 / fan_in)" },
  { name = "lecun_normal", id = 9, doc = "truncated normal, stddev sqrt(1 / fan_in) / .8796" },
  { name = "random_normal", id = 10, doc = "N(0, 0.05^2) (Keras RandomNormal's defaults)" },
  { name = "random_uniform", id = 11, doc = "U(-0.05, 0.05) (Keras RandomUniform's defaults)" },
}

---------------------------------------------------------------- lookups

local function index(list)
  local by = {}
  for _, e in ipairs(list) do
    by[e.name] = e
  end
  return by
end

catalog.optimizer = index(catalog.optimizers)
catalog.loss = index(catalog.losses)
catalog.metric = index(catalog.metrics)
catalog.activation = index(catalog.activations)
catalog.initializer = index(catalog.initializers)

-- Every name a description may give -> the entry (names and aliases).
local function with_aliases(list)
  local by = {}
  for _, e in ipairs(list) do
    by[e.name] = e
    for _, a in ipairs(e.aliases or {}) do
      by[a] = e
    end
  end
  return by
end
catalog.loss_by_name = with_aliases(catalog.losses)
catalog.metric_by_name = with_aliases(catalog.metrics)

-- The C enum constant of an entry.
function catalog.opt_enum(name)
  return "RNNC_OPT_" .. name:upper()
end
function catalog.loss_enum(name)
  return "RNNC_LOSS_" .. name:upper()
end
function catalog.init_enum(name)
  return "RNNC_INIT_" .. name:upper()
end

-- Reals of optimizer state per parameter for a compiled optimizer config
-- (Keras argument names, flags as booleans).
function catalog.optimizer_slots(config)
  local total = 0
  for _, s in ipairs(catalog.optimizer[config.kind].slots) do
    local count, field, test = s[1], s[2], s[3]
    local v = field and config[field]
    local on = not field or (test == "~=" and (v or 0) ~= 0) or (test == ">" and (v or 0) > 0)
      or (test == nil and v == true)
    if on then total = total + count end
  end
  return total
end

-- Names for messages: "a, b, c".
function catalog.names(list, filter)
  local out = {}
  for _, e in ipairs(list) do
    if not e.internal and (not filter or filter(e)) then out[#out + 1] = e.name end
  end
  return table.concat(out, ", ")
end

return catalog
