-- Keras model configurations (Keras 1, Keras 2.x, tf.keras 2.x, Keras 3) ->
-- rnnc's layers and arguments. Every config value is checked for its type
-- before use; what rnnc does not implement is collected, never dropped: the
-- caller refuses the model with the whole list.
local cjson = require("cjson")
local util = require("util")

local keras = {}

local null = cjson.null
keras.null = null

-- A problem with the file itself (wrong types, missing keys): raised at
-- once, naming the config key.
local function bad(key, fmt, ...)
  error({ config_error = true, message = "config key " .. key .. ": " .. string.format(fmt, ...) }, 0)
end
keras.bad = bad

local function printable(s)
  s = tostring(s)
  if #s > 60 then s = s:sub(1, 60) .. "..." end
  return (s:gsub("[%c\127]", function(c)
    return string.format("\\x%02x", c:byte())
  end))
end
keras.printable = printable

local function is_list(v)
  return type(v) == "table" and (#v > 0 or next(v) == nil)
end

local function describe_value(v)
  if v == null then return "None" end
  if type(v) == "string" then return '"' .. printable(v) .. '"' end
  if type(v) == "table" then
    if type(v.class_name) == "string" then return printable(v.class_name) .. "(...)" end
    return "[...]"
  end
  return printable(tostring(v))
end
keras.describe_value = describe_value

-- Typed reads of config values; `key` names the value in messages.
local function want(v, kind, key)
  if kind == "string" and type(v) ~= "string" then bad(key, "expected a string, got %s", describe_value(v)) end
  if kind == "table" and type(v) ~= "table" then bad(key, "expected an object, got %s", describe_value(v)) end
  if kind == "list" and not is_list(v) then bad(key, "expected a list, got %s", describe_value(v)) end
  if kind == "boolean" and type(v) ~= "boolean" then bad(key, "expected true or false, got %s", describe_value(v)) end
  if kind == "number" and (type(v) ~= "number" or v ~= v) then
    bad(key, "expected a number, got %s", describe_value(v))
  end
  return v
end
keras.want = want

-- A positive whole number that fits rnnc's dimensions.
local function count(v, key, max)
  if type(v) ~= "number" or v ~= v or v ~= math.floor(v) or v < 1 or v > (max or 65536) then
    bad(key, "expected a whole number from 1 to %d, got %s", max or 65536, describe_value(v))
  end
  return math.tointeger(v)
end
keras.count = count

-- Keras 3 wraps objects as {module, class_name, config, registered_name};
-- older writers as {class_name, config}. Returns class_name, config.
local function object(v, key)
  want(v, "table", key)
  local cls = want(v.class_name, "string", key .. ".class_name")
  return cls, v.config
end
keras.object = object

-- Keras version -> { major, minor, text, writer }.
function keras.version(text)
  if text == nil then return { major = nil, text = "unknown" } end
  local major, minor = tostring(text):match("^(%d+)%.(%d+)")
  major, minor = tonumber(major), tonumber(minor)
  local v = { major = major, minor = minor, text = printable(text) }
  if major == 1 then
    v.writer = "Keras " .. printable(text)
  elseif major == 2 and (tostring(text):find("-tf", 1, true) or minor >= 4) then
    v.writer = "tf.keras " .. printable(text)
  elseif major == 2 then
    v.writer = "Keras " .. printable(text)
  elseif major == 3 then
    v.writer = "Keras " .. printable(text)
  else
    v.writer = "Keras " .. printable(text)
  end
  return v
end

-- Snake case of a class name, as Keras 3 names its .keras weight groups
-- (keras/src/utils/naming.py to_snake_case: Conv1D is conv1d,
-- GlobalAveragePooling1D global_average_pooling1d).
function keras.snake(name)
  name = name:gsub("%W", "")
  name = name:gsub("(.)(%u%l+)", "%1_%2")
  name = name:gsub("(%l)(%u)", "%1_%2")
  return name:lower()
end

-- ---------------------------------------------------------------- values

-- Keras's activation names -> rnnc's (generator/catalog.lua); hard_sigmoid
-- is resolved by the writing version (activation below).
local ACTIVATIONS = {}
for _, a in ipairs(require("catalog").activations) do
  ACTIVATIONS[a.name] = a.name
end
ACTIVATIONS.hard_sigmoid_keras2 = nil
ACTIVATIONS.gelu_approximate = nil -- no Keras name: gelu(x, approximate=True) is not a string

-- An activation: a string, or a Keras 3 function object. Returns rnnc's name
-- or nil plus the reason. hard_sigmoid follows the version that wrote the
-- file: Keras <= 2 and tf.keras 2.x clip(0.2 x + 0.5, 0, 1) (rnnc's
-- hard_sigmoid_keras2), Keras 3 relu6(x + 3) / 6 (rnnc's hard_sigmoid).
local function activation(ctx, v, key)
  if v == null or v == nil then return "linear" end
  local name = v
  if type(v) == "table" then
    local cls, cfg = object(v, key)
    if cls == "function" and type(cfg) == "string" then
      name = cfg
    else
      return nil, string.format("activation %s", printable(cls))
    end
  end
  want(name, "string", key)
  if name == "hard_sigmoid" then
    if not ctx.version.major then
      return nil, "hard_sigmoid in a file that does not say which Keras wrote it (Keras <= 2's clip(0.2 x + 0.5, "
        .. "0, 1) and Keras 3's relu6(x + 3) / 6 differ)"
    end
    return ctx.version.major >= 3 and "hard_sigmoid" or "hard_sigmoid_keras2"
  end
  if not ACTIVATIONS[name] then return nil, string.format("activation '%s'", printable(name)) end
  return ACTIVATIONS[name]
end

local INITIALIZERS = {
  GlorotUniform = "glorot_uniform", GlorotNormal = "glorot_normal", HeUniform = "he_uniform",
  HeNormal = "he_normal", LecunUniform = "lecun_uniform", LecunNormal = "lecun_normal",
  Orthogonal = "orthogonal", OrthogonalInitializer = "orthogonal", RandomNormal = "random_normal",
  RandomUniform = "random_uniform", Zeros = "zeros", Ones = "ones", Zero = "zeros", One = "ones",
}
local INITIALIZER_STRINGS = {
  glorot_uniform = "glorot_uniform", glorot_normal = "glorot_normal", he_uniform = "he_uniform",
  he_normal = "he_normal", lecun_uniform = "lecun_uniform", lecun_normal = "lecun_normal",
  orthogonal = "orthogonal", random_normal = "random_normal", random_uniform = "random_uniform",
  zeros = "zeros", zero = "zeros", ones = "ones", one = "ones", uniform = "random_uniform",
  normal = "random_normal",
}
-- VarianceScaling(scale, mode, distribution) forms of the named initializers.
local VARIANCE_SCALING = { ["1.0/fan_avg/uniform"] = "glorot_uniform", ["1/fan_avg/uniform"] = "glorot_uniform",
  ["2.0/fan_in/uniform"] = "he_uniform", ["2/fan_in/uniform"] = "he_uniform",
  ["1.0/fan_in/uniform"] = "lecun_uniform", ["1/fan_in/uniform"] = "lecun_uniform" }
-- Parameters at which Keras's initializer is the one rnnc's name stands for
-- (Keras's defaults: RandomNormal stddev 0.05, RandomUniform +-0.05, gain 1).
local INIT_DEFAULTS = { seed = true, gain = 1, mean = 0, stddev = 0.05, minval = -0.05, maxval = 0.05 }

-- An initializer: rnnc's name, or nil and a note (initializers only matter
-- for `init`, never for imported weights, so they never refuse a model).
local function initializer(v, key)
  if v == nil or v == null then return nil end
  if type(v) == "string" then
    local n = INITIALIZER_STRINGS[v]
    if n then return n end
    return nil, string.format("%s = '%s'", key, printable(v))
  end
  local cls, cfg = object(v, key)
  local n = INITIALIZERS[cls]
  if cls == "VarianceScaling" and type(cfg) == "table" then
    -- Keras 2.0-2.2 write glorot_uniform and its kin as VarianceScaling
    local form = string.format("%s/%s/%s", tostring(cfg.scale), tostring(cfg.mode), tostring(cfg.distribution))
    n = VARIANCE_SCALING[form]
    if n then return n end
  end
  if n and type(cfg) == "table" then
    for k, val in pairs(cfg) do
      local d = INIT_DEFAULTS[k]
      if k ~= "seed" and not (d ~= nil and val == d) then n = nil end
    end
  end
  if n then return n end
  local parts = {}
  for k, val in pairs(type(cfg) == "table" and cfg or {}) do
    parts[#parts + 1] = printable(k) .. "=" .. describe_value(val)
  end
  table.sort(parts)
  return nil, string.format("%s(%s)", printable(cls), table.concat(parts, ", "))
end

-- A layer's dtype: a string or a dtype policy object. rnnc picks its own
-- float type at generate time; mixed precision computes differently.
local function dtype_ok(v, key)
  if v == nil or v == null then return true end
  local name = v
  if type(v) == "table" then
    local _, cfg = object(v, key)
    name = type(cfg) == "table" and cfg.name or nil
  end
  return name == "float32" or name == "float64", printable(name)
end

-- A batch shape from a config: the batch, then 1 to 7 dimensions or None.
local function shape(v, key)
  want(v, "list", key)
  if #v > 8 then bad(key, "%d dimensions; rnnc reads at most 8", #v) end
  if #v < 2 then bad(key, "needs the batch dimension and at least one more") end
  local out = {}
  for i, d in ipairs(v) do
    if d == null then
      out[i] = "None"
    else
      out[i] = count(d, string.format("%s[%d]", key, i - 1))
    end
  end
  return out
end
keras.shape = shape

-- ---------------------------------------------------------------- layers

-- Config keys that change nothing rnnc computes, per class: ignored.
local HARMLESS = {
  name = true, dtype = true, batch_input_shape = true, batch_shape = true,
  input_dim = true, input_length = true, implementation = true, consume_less = true, seed = true,
  build_config = true, input_shape = true, batch_size = true, input_dtype = true,
}

-- Keras 1 argument names -> Keras 2 names.
local KERAS1 = {
  nb_filter = "filters", filter_length = "kernel_size", border_mode = "padding", subsample_length = "strides",
  pool_length = "pool_size", stride = "strides", beta_init = "beta_initializer", gamma_init = "gamma_initializer",
  output_dim = "units", init = "kernel_initializer", inner_init = "recurrent_initializer",
  inner_activation = "recurrent_activation", W_regularizer = "kernel_regularizer",
  U_regularizer = "recurrent_regularizer", b_regularizer = "bias_regularizer", W_constraint = "kernel_constraint",
  U_constraint = "recurrent_constraint", b_constraint = "bias_constraint", dropout_W = "dropout",
  dropout_U = "recurrent_dropout", bias = "use_bias", forget_bias_init = "forget_bias_init",
}

-- Arguments refused unless they have the given value (or None).
local MUST = {
  stateful = { false, "stateful layers are not implemented" },
  time_major = { false, "time_major inputs are not implemented" },
  lora_rank = { null, "LoRA is not implemented" },
  quantization_config = { null, "quantized layers are not implemented" },
  -- the front-end layers' weights
  renorm = { false, "batch renormalization is not implemented" },
  virtual_batch_size = { null, "ghost batches are not implemented" },
  adjustment = { null, "adjustments are not implemented" },
  mode = { 0, "BatchNormalization modes other than 0 (Keras 1) are not implemented" },
}

-- Weight regularizers and constraints (generator/layers/rules.lua): the
-- serialized forms of tf.keras 2.x and Keras 1/2 ({"class_name": "L2",
-- "config": {"l2": 0.01}}), of Keras 3 (the same with "module":
-- "keras.regularizers" or "keras.constraints"), or Keras's strings -> the
-- DSL's expression, or nil and why.
local RULE_CLASSES = {
  regularizer = { L1 = { "l1" }, L2 = { "l2" }, L1L2 = { "l1", "l2" } },
  constraint = { MaxNorm = { "max_value", "axis" }, NonNeg = {}, UnitNorm = { "axis" },
    MinMaxNorm = { "min_value", "max_value", "rate", "axis" } },
}
local RULE_STRINGS = {
  regularizer = { l1 = true, l2 = true, l1_l2 = true, l1l2 = true, L1 = true, L2 = true, L1L2 = true },
  constraint = { max_norm = true, non_neg = true, unit_norm = true, min_max_norm = true, MaxNorm = true,
    NonNeg = true, UnitNorm = true, MinMaxNorm = true },
}
local function rule_value(v, kind, key)
  if type(v) == "string" then
    if RULE_STRINGS[kind][v] then return { raw = string.format("%q", v) } end
    return nil, string.format("'%s' is not a %s rnnc knows", printable(v), kind)
  end
  local cls, cfg = object(v, key)
  local module = v.module
  if module ~= nil and module ~= null and module ~= "keras.regularizers" and module ~= "keras.constraints" then
    return nil, string.format("%s from module '%s' is not one of Keras's", printable(cls), printable(module))
  end
  local args = RULE_CLASSES[kind][cls]
  if not args then
    return nil, string.format("%s is not a %s rnnc implements", printable(cls), kind)
  end
  local known, parts = {}, {}
  for _, a in ipairs(args) do
    known[a] = true
  end
  if cfg ~= nil and cfg ~= null then
    want(cfg, "table", key .. ".config")
    for _, k in ipairs(util.sorted_keys(cfg)) do
      local x = cfg[k]
      if k == "name" then -- Keras 3's serialization may carry it; it computes nothing
        x = nil
      elseif not known[k] then
        return nil, string.format("%s has an argument '%s' rnnc does not know", printable(cls), printable(k))
      end
      if x ~= nil and x ~= null then
        if k == "axis" and type(x) == "table" then
          local axes = {}
          for i, d in ipairs(x) do
            axes[i] = string.format("%d", math.tointeger(want(d, "number", key .. ".config.axis")) or 0)
          end
          parts[#parts + 1] = "axis = { " .. table.concat(axes, ", ") .. " }"
        else
          want(x, "number", key .. ".config." .. k)
          if x ~= x or x == math.huge or x == -math.huge then
            return nil, string.format("%s: %s is not a finite number", printable(cls), printable(k))
          end
          parts[#parts + 1] = string.format("%s = %.17g", k, x)
        end
      end
    end
  end
  return { raw = #parts == 0 and cls .. " {}" or string.format("%s { %s }", cls, table.concat(parts, ", ")) }
end

-- What each class takes beyond HARMLESS and MUST; the value says how.
local RECURRENT_KEYS = { units = "units", activation = "activation", use_bias = "boolean",
  return_sequences = "boolean", return_state = "boolean", go_backwards = "boolean", unroll = "boolean",
  zero_output_for_mask = "boolean", kernel_initializer = "initializer", recurrent_initializer = "initializer",
  bias_initializer = "initializer",
  -- issue 13: trained with masks (generator/layers/common.lua)
  dropout = "rate", recurrent_dropout = "rate", seed = "seed", implementation = "implementation" }
local CLASS_KEYS = {
  Dense = { units = "units", activation = "activation", use_bias = "boolean", kernel_initializer = "initializer",
    bias_initializer = "initializer", lora_alpha = "ignore" },
  SimpleRNN = RECURRENT_KEYS,
  LSTM = setmetatable({ recurrent_activation = "cell_activation", unit_forget_bias = "boolean",
    forget_bias_init = "ignore" }, { __index = RECURRENT_KEYS }),
  GRU = setmetatable({ recurrent_activation = "cell_activation", reset_after = "boolean" },
    { __index = RECURRENT_KEYS }),
  TimeDistributed = { layer = "layer" },
  Bidirectional = { layer = "layer", merge_mode = "merge_mode", backward_layer = "backward" },
}

-- The convolutional front ends, pooling, shape and normalisation layers
-- (their keys are the DSL's arguments).
local CONV_KEYS = { kernel_size = "int1", strides = "int1", padding = "padding", data_format = "data_format",
  dilation_rate = "int1", activation = "activation", use_bias = "boolean", bias_initializer = "initializer" }
local function with_conv(extra)
  return setmetatable(extra, { __index = CONV_KEYS })
end
local POOL_KEYS = { pool_size = "int1", strides = "int1", padding = "padding", data_format = "data_format" }
local FRONT_KEYS = {
  Conv1D = with_conv({ filters = "count", groups = "count", kernel_initializer = "initializer" }),
  SeparableConv1D = with_conv({ filters = "count", depth_multiplier = "count", depthwise_initializer = "initializer",
    pointwise_initializer = "initializer" }),
  DepthwiseConv1D = with_conv({ depth_multiplier = "count", depthwise_initializer = "initializer" }),
  MaxPooling1D = POOL_KEYS,
  AveragePooling1D = POOL_KEYS,
  GlobalMaxPooling1D = { data_format = "data_format", keepdims = "boolean" },
  GlobalAveragePooling1D = { data_format = "data_format", keepdims = "boolean" },
  ZeroPadding1D = { padding = "pair" },
  Cropping1D = { cropping = "pair" },
  UpSampling1D = { size = "count", length = "count" },
  Flatten = { data_format = "data_format" },
  Reshape = { target_shape = "ints", dims = "ints" },
  Permute = { dims = "ints" },
  RepeatVector = { n = "count" },
  -- integer tokens in (Keras 3 keras/src/layers/core/embedding.py, tf.keras
  -- 2.x keras/layers/core/embedding.py, Keras 1 keras/layers/embeddings.py)
  Embedding = { input_dim = "count", output_dim = "count", input_length = "count",
    embeddings_initializer = "initializer", mask_zero = "mask_zero", lora_alpha = "ignore", sparse = "dense_only" },
  -- Keras 3 keras/src/layers/core/masking.py
  Masking = { mask_value = "number" },
  LayerNormalization = { axis = "axis", epsilon = "number", center = "boolean", scale = "boolean",
    rms_scaling = "boolean", beta_initializer = "initializer", gamma_initializer = "initializer" },
  BatchNormalization = { axis = "axis", epsilon = "number", momentum = "number", center = "boolean",
    scale = "boolean", beta_initializer = "initializer", gamma_initializer = "initializer",
    moving_mean_initializer = "initializer", moving_variance_initializer = "initializer", fused = "ignore",
    renorm_clipping = "ignore", renorm_momentum = "ignore", synchronized = "ignore" },
  -- the noise layers (keras/src/layers/regularization/*.py): their seed is
  -- kept (rnnc's generator draws other values from it than Keras's)
  Dropout = { rate = "number", noise_shape = "noise_shape", seed = "seed" },
  SpatialDropout1D = { rate = "number", seed = "seed", data_format = "data_format", noise_shape = "ignore" },
  GaussianNoise = { stddev = "number", seed = "seed" },
  ActivityRegularization = { l1 = "number", l2 = "number" },
  GaussianDropout = { rate = "number", seed = "seed" },
}
-- A family of classes joins CLASS_KEYS (and keras.NAME, for describe.lua).
local function family(name, keys_of)
  for cls, keys in pairs(keys_of) do
    CLASS_KEYS[cls] = keys
  end
  keras[name] = keys_of
end
family("FRONT_KEYS", FRONT_KEYS)
-- The merge layers (keras/src/layers/merging/*.py, tf.keras
-- keras/layers/merging/*.py): called on a list of tensors; Concatenate's
-- axis (counting the batch axis, -1 by default), Dot's axes (one integer
-- or two) and normalize (generator/layers/merge.lua).
local MERGE_KEYS = {
  Add = {}, Subtract = {}, Multiply = {}, Average = {}, Maximum = {}, Minimum = {},
  Concatenate = { axis = "merge_axis" },
  Dot = { axes = "dot_axes", normalize = "boolean" },
}
family("MERGE_KEYS", MERGE_KEYS)
-- The attention layers (keras/src/layers/attention/*.py, tf.keras
-- keras/layers/attention/*.py; generator/layers/attention.lua). Keras <=
-- 2.9's Attention(causal=True) is the call option use_causal_mask of every
-- call; MultiHeadAttention's build shapes (Keras 3 query_shape, ...) follow
-- from the graph.
local ATTENTION_KEYS = {
  Attention = { use_scale = "boolean", score_mode = "score_mode", dropout = "rate", seed = "seed",
    causal = "causal" },
  AdditiveAttention = { use_scale = "boolean", dropout = "rate", seed = "seed", causal = "causal" },
  MultiHeadAttention = { num_heads = "count", key_dim = "count", value_dim = "optional_count", dropout = "rate",
    use_bias = "boolean", output_shape = "output_shape", attention_axes = "attention_axes",
    kernel_initializer = "initializer", bias_initializer = "initializer", seed = "seed", query_shape = "ignore",
    key_shape = "ignore", value_shape = "ignore", flash_attention = "flash_attention" },
}
family("ATTENTION_KEYS", ATTENTION_KEYS)
-- A model saved as a layer of another (Keras's nested models).
local MODEL_CLASSES = { Functional = true, Model = true, Sequential = true }
-- Keras 1 class names.
local FRONT_ALIASES = { Convolution1D = "Conv1D" }
local EMBEDDING_KERAS1 = { init = "embeddings_initializer", W_regularizer = "embeddings_regularizer",
  W_constraint = "embeddings_constraint" }
-- Layers that change nothing at inference (they act in training only).
-- Dropout, SpatialDropout1D, GaussianNoise and GaussianDropout are imported
-- (generator/layers/noise.lua: trained with their masks); these are not.
local IDENTITY_AT_INFERENCE = { SpatialDropout2D = true, AlphaDropout = true }
-- Keras 1 and tf.keras 1 class names.
local CLASS_ALIASES = { CuDNNLSTM = false, CuDNNGRU = false }

local RNNC_ORDER = { "units", "layer", "name", "batch_input_shape", "input_shape", "num_heads", "key_dim",
  "value_dim", "use_scale", "score_mode", "output_shape", "activation",
  "recurrent_activation", "use_bias", "return_sequences", "return_state", "go_backwards", "unroll",
  "zero_output_for_mask", "mask_value",
  "reset_after", "unit_forget_bias", "merge_mode", "kernel_initializer", "recurrent_initializer",
  "bias_initializer",
  -- the front-end layers
  "filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "depth_multiplier", "pool_size",
  "cropping", "size", "target_shape", "dims", "n", "axis", "momentum", "epsilon", "center", "scale", "rms_scaling",
  "keepdims", "depthwise_initializer", "pointwise_initializer", "beta_initializer", "gamma_initializer",
  "moving_mean_initializer", "moving_variance_initializer", "input_dim", "output_dim", "input_length",
  "embeddings_initializer", "mask_zero", "rate", "stddev", "noise_shape", "seed", "dropout",
  "recurrent_dropout", "implementation", "axes", "normalize", "trainable" }
for _, w in ipairs({ "kernel", "recurrent", "depthwise", "pointwise", "bias", "gamma", "beta", "alpha",
  "embeddings" }) do
  RNNC_ORDER[#RNNC_ORDER + 1] = w .. "_regularizer"
  RNNC_ORDER[#RNNC_ORDER + 1] = w .. "_constraint"
end
RNNC_ORDER[#RNNC_ORDER + 1] = "activity_regularizer"
RNNC_ORDER[#RNNC_ORDER + 1] = "l1" -- ActivityRegularization's
RNNC_ORDER[#RNNC_ORDER + 1] = "l2"
keras.ARG_ORDER = RNNC_ORDER

-- Translates one layer config. Returns a record:
--   { class, keras_name, key, args = {name = value}, inner = record, notes = {...} }
-- Problems go to ctx.problems (rnnc cannot do it) and ctx.notes.
local function layer(ctx, entry, key, nested)
  local cls, cfg = object(entry, key)
  local ckey = key .. ".config"
  want(cfg, "table", ckey)
  local written_class = cls
  cls = FRONT_ALIASES[cls] or cls
  local rec = { class = cls, key = key, args = {}, notes = {}, written_class = written_class }
  rec.keras_name = cfg.name ~= nil and cfg.name ~= null and want(cfg.name, "string", ckey .. ".name") or cls
  local where = string.format("layer '%s' (%s)", printable(rec.keras_name), printable(cls))
  local function problem(fmt, ...)
    ctx.problems[#ctx.problems + 1] = where .. ": " .. string.format(fmt, ...)
  end
  rec.problem = problem
  -- a Keras 3 layer of the user's own (registered_name) or from another module
  if type(entry.registered_name) == "string" and entry.registered_name ~= cls then
    problem("a custom class ('%s'), not Keras's own", printable(entry.registered_name))
    rec.unsupported = true -- its outputs are unknown
    return rec
  end
  if type(entry.module) == "string" and entry.module:match("^keras%.src%.ops%.") then
    -- Keras 3 saves an op applied in a functional model (keras.ops.add,
    -- ...) as an operation of that module; its class name may be a
    -- layer's (Add) but it is called otherwise
    problem("a Keras operation (module '%s'), not a layer: the importer reads layers only", printable(entry.module))
    rec.unsupported = true -- its outputs are unknown
    return rec
  end
  if type(entry.module) == "string" and entry.module ~= "keras.layers" and entry.module ~= "keras" and
    not entry.module:match("^keras%.") and not entry.module:match("^tensorflow%.") then
    problem("a class from module '%s', not Keras's own", printable(entry.module))
    rec.unsupported = true -- its outputs are unknown
    return rec
  end
  local keys = CLASS_KEYS[cls]
  if cls == "InputLayer" and not nested then
    return rec
  end
  if IDENTITY_AT_INFERENCE[cls] then
    problem("%s is the identity at inference but is refused, not dropped: rnnc does not implement it", cls)
    rec.unsupported = true -- its outputs are unknown
    return rec
  end
  if MODEL_CLASSES[cls] then
    -- (a functional model inside a functional one is read by nested_model)
    if ctx.nested then
      problem("a model inside a model used as a layer: models nested two deep are not supported by the importer")
    else
      problem("a model used as a layer of a %s model is not supported by the importer (of a functional model "
        .. "it is)", "Sequential")
    end
    rec.unsupported = true -- its outputs are unknown
    return rec
  end
  if not keys or CLASS_ALIASES[cls] == false then
    problem("this layer class is not supported by rnnc yet")
    rec.unsupported = true -- its outputs are unknown
    return rec
  end
  local ok_dtype, dname = dtype_ok(cfg.dtype, ckey .. ".dtype")
  if not ok_dtype then problem("dtype %s: mixed or non-float policies are not implemented", dname) end
  -- Keras 1 names -> Keras 2 names
  local c = {}
  for k, v in pairs(cfg) do
    if type(k) ~= "string" then bad(ckey, "keys must be strings") end
    if cls == "Embedding" then
      -- Keras 1's Embedding(input_dim, output_dim, init, W_regularizer,
      -- W_constraint): its output_dim is not a Dense's units
      c[EMBEDDING_KERAS1[k] or k] = v
    else
      c[KERAS1[k] or k] = v
    end
  end
  local function arg(k)
    local v = c[k]
    if v == null then return nil end
    return v
  end
  for _, k in ipairs(ctx.sorted(c)) do
    local v, kk = c[k], ckey .. "." .. k
    local how = keys[k]
    local must = MUST[k]
    local rule_kind = type(k) == "string" and (k:match("^%a+_(regularizer)$") or k:match("^%a+_(constraint)$"))
    if k == "activity_regularizer" then rule_kind = "regularizer" end
    if rule_kind and v ~= null then
      local r, why = rule_value(v, rule_kind, kk)
      if r then
        rec.args[k] = r
      else
        problem("%s: %s", k, why)
      end
    elseif rule_kind then -- None: Keras's default
      rec.args[k] = nil
    elseif how then
      if how == "units" then
        rec.args.units = count(v, kk)
      elseif how == "boolean" then
        if v ~= null then rec.args[k] = want(v, "boolean", kk) end
      elseif how == "activation" or how == "cell_activation" then
        local a, why = activation(ctx, v, kk)
        if not a then
          problem("%s: %s is not supported", k, why)
        elseif how == "cell_activation" and a == "softmax" or (not FRONT_KEYS[cls] and cls ~= "Dense"
          and a == "softmax") then
          problem("%s = softmax is not supported in a recurrent layer", k)
        else
          rec.args[k] = a
        end
      elseif how == "initializer" then
        local n, why = initializer(v, kk)
        if n then
          rec.args[k] = n
        elseif why then
          rec.notes[#rec.notes + 1] = string.format("%s: %s in the file; rnnc has no such initializer, so `init` "
            .. "would use Keras's default (imported weights are unaffected)", k, why)
        end
      elseif how == "merge_mode" then
        if v == null then
          rec.args.merge_mode = "None"
        else
          want(v, "string", kk)
          if v ~= "concat" and v ~= "sum" and v ~= "mul" and v ~= "ave" then
            problem("merge_mode '%s' is not supported", printable(v))
          else
            rec.args.merge_mode = v
          end
        end
      elseif how == "rate" then
        if v ~= null then
          if type(v) ~= "number" or not (v >= 0 and v < 1) then
            problem("%s = %s: rnnc takes a rate in [0, 1)", k, describe_value(v))
          elseif v > 0 then
            rec.args[k] = v
          end
        end
      elseif how == "seed" or how == "implementation" then
        -- the seed of the dropout masks; implementation 1 draws a mask per
        -- gate (Keras 1 and 2's 0 and 2, and Keras 3's 2: one for all)
        if v ~= null and how == "seed" then
          if type(v) ~= "number" or v ~= math.floor(v) or v < 0 or v >= 2 ^ 63 then
            problem("seed = %s: rnnc takes None or a non-negative integer", describe_value(v))
          else
            rec.args.seed = math.tointeger(v)
          end
        elseif v ~= null and v == 1 then
          rec.args.implementation = 1
        end
      elseif how == "layer" then
        rec.inner = layer(ctx, v, kk, true)
      elseif how == "backward" then
        if v ~= null then rec.backward = layer(ctx, v, kk, true) end
      elseif how == "mask_zero" then
        if v ~= null and want(v, "boolean", kk) then rec.args.mask_zero = true end
      elseif how == "score_mode" then
        if v ~= null then
          want(v, "string", kk)
          if v ~= "dot" and v ~= "concat" then
            problem("score_mode '%s': Keras's are dot and concat", printable(v))
          else
            rec.args[k] = v
          end
        end
      elseif how == "causal" then
        -- tf.keras <= 2.9: Attention(causal=True), every call causal
        if v ~= null and want(v, "boolean", kk) then rec.causal = true end
      elseif how == "optional_count" then
        if v ~= null then rec.args[k] = count(v, kk) end
      elseif how == "output_shape" then
        if v ~= null then
          local list = is_list(v) and v or { v }
          if #list ~= 1 then
            problem("output_shape with %d dimensions: rnnc's outputs are (batch, steps, features)", #list)
          else
            rec.args[k] = count(list[1], kk)
          end
        end
      elseif how == "attention_axes" then
        local list = v ~= null and (is_list(v) and v or { v }) or {}
        if #list > 1 or (#list == 1 and list[1] ~= 1 and list[1] ~= -2) then
          problem("attention_axes = %s: rnnc attends over the time axis only", describe_value(v))
        end
      elseif how == "flash_attention" then
        -- Keras 3: None or False computes the same numbers (True: a fused
        -- kernel, the same equations)
        if v ~= null then want(v, "boolean", kk) end
      elseif how == "dense_only" then
        if v ~= null and want(v, "boolean", kk) then problem("sparse = true: sparse gradients are not implemented "
          .. "(rnnc's table gradient is dense)") end
      elseif how ~= "ignore" then
        keras.front_value(rec, k, how, v, kk, problem)
      end
    elseif k == "trainable" then
      -- a frozen layer (Keras's Layer.trainable, in every writer's layer
      -- config); a wrapper's freezes the layers it wraps, as in Keras
      if v ~= null and not want(v, "boolean", kk) then rec.args.trainable = false end
    elseif must then
      local fine = (v == must[1]) or (v == null and must[1] == null) or
        (type(must[1]) == "number" and v == null)
      if not fine then problem("%s = %s: %s", k, describe_value(v), must[2]) end
    elseif not HARMLESS[k] then
      problem("argument '%s' = %s is not supported", printable(k), describe_value(v))
    end
  end
  -- input shapes a first layer may carry (Keras 2's batch_input_shape, Keras 1's input_dim)
  local bis = arg("batch_input_shape") or arg("batch_shape")
  if bis then
    rec.input = shape(bis, ckey .. ".batch_input_shape")
  elseif arg("input_dim") and not nested and cls ~= "Embedding" then -- (Embedding's is its vocabulary)
    local dim = count(arg("input_dim"), ckey .. ".input_dim")
    if CLASS_KEYS[cls] == RECURRENT_KEYS or cls == "LSTM" or cls == "GRU" or cls == "Conv1D" then
      local len = arg("input_length") and count(arg("input_length"), ckey .. ".input_length") or "None"
      rec.input = { "None", len, dim }
    else
      rec.input = { "None", dim }
    end
  end
  if keys.units and not rec.args.units then bad(ckey .. ".units", "missing") end
  -- Keras's attention layers always write these (get_config); a layer of
  -- that class name without them is a class of the user's own, such as the
  -- Attention(Layer) of many tf.keras tutorials, whose computation rnnc
  -- does not know
  local own = { Attention = "use_scale", AdditiveAttention = "use_scale", MultiHeadAttention = "num_heads" }
  if own[cls] and c[own[cls]] == nil then
    problem("its configuration has no '%s', which Keras's %s always writes: a class of your own with Keras's name "
      .. "(its code would be needed to load it in Keras too), not Keras's layer", own[cls], cls)
  end
  if cls == "GRU" and rec.args.reset_after == nil then
    -- written by Keras <= 2.1, whose GRU is reset_after=False
    rec.args.reset_after = false
  end
  if cls == "LSTM" or cls == "GRU" then
    if not rec.args.recurrent_activation and c.recurrent_activation == nil then
      bad(ckey .. ".recurrent_activation", "missing (the default differs between Keras versions)")
    end
  end
  if cls == "Dense" and rec.args.activation == nil and c.activation == nil then rec.args.activation = "linear" end
  if (cls == "TimeDistributed" or cls == "Bidirectional") and not rec.inner then bad(ckey .. ".layer", "missing") end
  if cls == "TimeDistributed" and rec.inner and rec.inner.class ~= "Dense" and CLASS_KEYS[rec.inner.class] then
    problem("TimeDistributed wraps Dense only in rnnc (here %s)", printable(rec.inner.class))
  end
  if cls == "Bidirectional" and rec.inner and rec.inner.class ~= "SimpleRNN" and rec.inner.class ~= "LSTM" and
    rec.inner.class ~= "GRU" and CLASS_KEYS[rec.inner.class] then
    problem("Bidirectional wraps SimpleRNN, LSTM or GRU in rnnc (here %s)", printable(rec.inner.class))
  end
  if rec.backward and rec.inner then
    -- the backward copy must be the forward one reversed, which is all rnnc builds
    local same = rec.backward.class == rec.inner.class
    for _, k in ipairs(RNNC_ORDER) do
      local a, b = rec.backward.args[k], rec.inner.args[k]
      -- a regularizer or constraint is a record: the same when its text is
      if type(a) == "table" and type(b) == "table" and a.raw and b.raw then a, b = a.raw, b.raw end
      if k ~= "go_backwards" and k ~= "name" and k ~= "layer" and a ~= b then
        same = false
      end
    end
    if not same then problem("a backward_layer configured differently from the forward layer is not supported") end
  end
  return rec
end
keras.layer = layer


-- ---------------------------------------------------------------- front-end values

-- An int or a list of one int (Keras 2+ writes kernel_size = [3]).
local function int1(v, key)
  if is_list(v) then
    if #v ~= 1 then bad(key, "expected one number for a 1-D layer, got %d", #v) end
    v = v[1]
  end
  return count(v, key)
end

-- One value of a front-end layer's config into rec.args (or a problem).
function keras.front_value(rec, k, how, v, key, problem)
  if v == null then
    if k == "strides" then return end -- pooling's strides = None: pool_size
    if how == "seed" or how == "noise_shape" then return end -- None: the default
    bad(key, "expected a value, got None")
  end
  if how == "int1" then
    rec.args[k] = int1(v, key)
  elseif how == "count" then
    if k == "length" then k = "size" end -- Keras 1 UpSampling1D
    rec.args[k] = count(v, key)
  elseif how == "padding" then
    want(v, "string", key)
    local low = v:lower()
    if low ~= "valid" and low ~= "same" and low ~= "causal" then
      problem("padding '%s' is not supported", printable(v))
    elseif low == "causal" and (rec.class ~= "Conv1D" and rec.class ~= "SeparableConv1D" and
      rec.class ~= "DepthwiseConv1D") then
      problem("padding 'causal' on %s", rec.class)
    else
      rec.args[k] = low
    end
  elseif how == "data_format" then
    want(v, "string", key)
    if v ~= "channels_last" then
      problem("data_format '%s': rnnc's sequences are (batch, steps, channels)", printable(v))
    end
  elseif how == "pair" then
    if is_list(v) then
      if #v ~= 2 then bad(key, "expected two numbers, got %d", #v) end
      local a, b = v[1], v[2]
      for i, d in ipairs({ a, b }) do
        if type(d) ~= "number" or d ~= math.floor(d) or d < 0 or d > 65536 then
          bad(string.format("%s[%d]", key, i - 1), "expected a whole number from 0 to 65536, got %s", describe_value(d))
        end
      end
      rec.args[k] = { math.tointeger(a), math.tointeger(b) }
    else
      if type(v) ~= "number" or v ~= math.floor(v) or v < 0 or v > 65536 then
        bad(key, "expected a whole number from 0 to 65536, got %s", describe_value(v))
      end
      rec.args[k] = { math.tointeger(v), math.tointeger(v) }
    end
  elseif how == "ints" then
    want(v, "list", key)
    if #v < 1 or #v > 8 then bad(key, "expected 1 to 8 numbers, got %d", #v) end
    local out = {}
    for i, d in ipairs(v) do
      if type(d) ~= "number" or d ~= math.floor(d) or d < -1 or d == 0 or d > (1 << 24) then
        bad(string.format("%s[%d]", key, i - 1), "expected a whole number (or -1), got %s", describe_value(d))
      end
      out[i] = math.tointeger(d)
    end
    rec.args[k == "dims" and rec.class == "Reshape" and "target_shape" or k] = out
  elseif how == "axis" then
    if is_list(v) then
      if #v ~= 1 then
        problem("axis = %d axes: rnnc normalises the last axis only", #v)
        return
      end
      v = v[1]
    end
    if type(v) ~= "number" or v ~= math.floor(v) or v < -8 or v > 8 then
      bad(key, "expected an axis, got %s", describe_value(v))
    end
    rec.args[k] = math.tointeger(v)
  elseif how == "merge_axis" then
    if type(v) ~= "number" or v ~= math.floor(v) or v < -8 or v > 8 then
      bad(key, "expected an axis, got %s", describe_value(v))
    end
    rec.args[k] = math.tointeger(v)
  elseif how == "dot_axes" then
    -- one integer for both inputs, or a list of two (Keras's Dot(axes=...))
    local list = is_list(v) and v or { v, v }
    if #list ~= 2 then bad(key, "expected one axis or two, got %d", #list) end
    local out = {}
    for i, d in ipairs(list) do
      if type(d) ~= "number" or d ~= math.floor(d) or d < -8 or d > 8 then
        bad(is_list(v) and string.format("%s[%d]", key, i - 1) or key, "expected an axis, got %s", describe_value(d))
      end
      out[i] = math.tointeger(d)
    end
    rec.args[k] = out
  elseif how == "number" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      bad(key, "expected a number, got %s", describe_value(v))
    end
    rec.args[k] = v
  elseif how == "seed" then
    if type(v) ~= "number" or v ~= math.floor(v) or v < 0 or v >= 2 ^ 63 then
      problem("seed = %s: rnnc takes None or a non-negative integer", describe_value(v))
    else
      rec.args[k] = math.tointeger(v)
    end
  elseif how == "noise_shape" then
    want(v, "list", key)
    local out = {}
    for i, d in ipairs(v) do
      if d == null then
        out[i] = "None"
      elseif type(d) == "number" and d == math.floor(d) and d >= 1 and d <= (1 << 24) then
        out[i] = math.tointeger(d)
      else
        bad(string.format("%s[%d]", key, i - 1), "expected None or a positive whole number, got %s",
          describe_value(d))
      end
    end
    rec.args[k] = out
  end
end

-- ---------------------------------------------------------------- models

-- Functional models: the graph of calls (nodes) the configuration lists.
-- Each layer entry's inbound_nodes lists its calls in order (a layer called
-- several times is shared: one set of weights); a call's tensors are
-- references [layer name, node index, tensor index]: the tensor_index-th
-- output of that layer's node_index-th call.
--   Keras 2 / tf.keras 2.x: a node is a list of [name, node, tensor, kwargs]
--     (tf.keras keras/engine/node.py Node.serialize; read back by
--     keras/engine/functional.py process_node and
--     _deserialize_keras_tensors, which turns the [name, node, tensor]
--     lists inside kwargs, such as initial_state, into tensors). A
--     recurrent layer given Keras tensors as initial_state lists them after
--     its input in the node (RNN.__call__: full_input = [inputs] +
--     additional_inputs, tf.keras keras/layers/rnn/base_rnn.py and Keras
--     2.2.4 keras/layers/recurrent.py).
--   Keras 3: a node is {args, kwargs} whose tensors are __keras_tensor__
--     objects with config.keras_history [name, node, tensor]
--     (keras/src/models/functional.py serialize_node / deserialize_node).
local RECURRENT_STATES = { SimpleRNN = 1, LSTM = 2, GRU = 1 }
local nested_model
keras.RECURRENT_STATES = RECURRENT_STATES

-- A whole number from 0 to 65536 (node and tensor indices).
local function index(v, key)
  if type(v) ~= "number" or v ~= math.floor(v) or v < 0 or v > 65536 then
    bad(key, "expected a whole number from 0 to 65536, got %s", describe_value(v))
  end
  return math.tointeger(v)
end

-- [name, node_index, tensor_index] -> a reference.
local function tensor_ref(v, key)
  want(v, "list", key)
  if #v < 3 then bad(key, "expected [layer name, node index, tensor index], got %d values", #v) end
  return { layer = want(v[1], "string", key .. "[0]"), node = index(v[2], key .. "[1]"),
    tensor = index(v[3], key .. "[2]"), key = key }
end

local function is_keras_tensor(v)
  return type(v) == "table" and v.class_name == "__keras_tensor__"
end

-- A Keras 3 __keras_tensor__ object -> a reference.
local function keras3_ref(v, key)
  want(v.config, "table", key .. ".config")
  return tensor_ref(v.config.keras_history, key .. ".config.keras_history")
end

-- The tensors of a call argument: one tensor or a list of them. `k3` for
-- Keras 3's objects, else Keras 2's [name, node, tensor] lists.
local function tensor_list(v, key, k3)
  if k3 then
    if is_keras_tensor(v) then return { keras3_ref(v, key) } end
    if not is_list(v) then return nil end
    local out = {}
    for i, x in ipairs(v) do
      if not is_keras_tensor(x) then return nil end
      out[i] = keras3_ref(x, string.format("%s[%d]", key, i - 1))
    end
    return out
  end
  if not is_list(v) then return nil end
  if type(v[1]) == "string" then return { tensor_ref(v, key) } end
  local out = {}
  for i, x in ipairs(v) do
    if not is_list(x) or type(x[1]) ~= "string" then return nil end
    out[i] = tensor_ref(x, string.format("%s[%d]", key, i - 1))
  end
  return out
end

local function all_null(list)
  for _, x in ipairs(list) do
    if x ~= null then return false end
  end
  return true
end

-- A call's keyword arguments: initial_state on the recurrent layers; any
-- other argument is refused, naming the layer (masks in graph calls are
-- not implemented: generator/functional.lua refuses them too).
local function call_kwargs(rec, node, kw, key, k3)
  if kw == nil or kw == null then return end
  want(kw, "table", key)
  for _, k in ipairs(util.sorted_keys(kw)) do
    local v = kw[k]
    if v == null then
      -- an argument passed as None is its default
      goto continue
    end
    if k == "initial_state" then
      local list = tensor_list(v, key .. ".initial_state", k3)
      if not list then bad(key .. ".initial_state", "expected a tensor or a list of tensors") end
      if node.states then
        rec.problem("is given initial states twice in one call")
      end
      node.states = list
    elseif (k == "use_causal_mask" or k == "return_attention_scores") and ATTENTION_KEYS[rec.class] then
      -- the attention layers' call options
      if want(v, "boolean", key .. "." .. k) then
        node.opts = node.opts or {}
        node.opts[k] = true
      end
    elseif (k == "value" or k == "key") and rec.class == "MultiHeadAttention" then
      -- MultiHeadAttention(query, value, key): tf.keras records every
      -- argument after the first as a keyword (Node.serialize), Keras 3 the
      -- ones given so
      local list = tensor_list(v, key .. "." .. k, k3)
      if not list or #list ~= 1 then bad(key .. "." .. k, "expected a tensor") end
      node.named = node.named or {}
      node.named[k] = list[1]
    elseif k == "mask" and ATTENTION_KEYS[rec.class] and is_list(v) and all_null(v) then -- luacheck: ignore 542
      -- Keras 3's record of an attention call on tensors without masks
    elseif k == "mask" then
      rec.problem("is called with a mask (call argument 'mask'): masks in graph calls are not implemented in rnnc")
    elseif k == "training" and k3 and type(v) == "boolean" then -- luacheck: ignore 542
      -- Keras 3 records the call signature's default (LSTM.call's
      -- training=False) in every node, and the model's own training flag
      -- replaces it when the model runs (keras/src/layers/layer.py
      -- __call__; keras/src/models/functional.py operation_fn): it changes
      -- nothing
    elseif k == "training" then
      -- tf.keras records it only when the call passed it (a layer always in
      -- training or inference mode)
      rec.problem("is called with training = %s: rnnc runs the inference computation for predict and the training "
        .. "one for fit, not a fixed one", describe_value(v))
    else
      rec.problem("is called with the argument '%s', which the importer does not support", printable(k))
    end
    ::continue::
  end
end

-- One node of a layer's inbound_nodes -> { inputs, states, listed }.
local function read_node(rec, nd, key)
  local node = { rec = rec, key = key }
  if is_list(nd) then
    -- Keras 2 / tf.keras: [[name, node, tensor, kwargs], ...]
    local refs = {}
    for i, t in ipairs(nd) do
      local tk = string.format("%s[%d]", key, i - 1)
      want(t, "list", tk)
      if t[1] == "_CONSTANT_VALUE" then
        rec.problem("is called on a constant (not a tensor), which the importer does not support")
        return nil
      end
      refs[i] = tensor_ref(t, tk)
      if i == 1 then call_kwargs(rec, node, t[4], tk .. "[3]", false) end
    end
    if #refs == 0 then bad(key, "an empty node") end
    if MERGE_KEYS[rec.class] or rec.class == "Attention" or rec.class == "AdditiveAttention" then
      node.inputs, node.listed = refs, true
    elseif #refs > 1 and RECURRENT_STATES[rec.class] and not node.states then
      -- RNN.__call__'s [inputs] + initial_state
      node.inputs, node.states = { refs[1] }, { table.unpack(refs, 2) }
    else
      node.inputs = refs
    end
  else
    -- Keras 3: {args = [...], kwargs = {...}}
    want(nd, "table", key)
    local args = want(nd.args, "list", key .. ".args")
    if #args == 0 then bad(key .. ".args", "a call without arguments") end
    local first = args[1]
    if is_keras_tensor(first) then
      node.inputs = { keras3_ref(first, key .. ".args[0]") }
    else
      node.inputs = tensor_list(first, key .. ".args[0]", true)
      node.listed = true
      if not node.inputs then
        rec.problem("is called on something other than tensors, which the importer does not support")
        return nil
      end
    end
    if rec.class == "MultiHeadAttention" and #args >= 2 and #args <= 3 then
      -- MultiHeadAttention(query, value, key) by position
      for i = 2, #args do
        if not is_keras_tensor(args[i]) then bad(string.format("%s.args[%d]", key, i - 1), "expected a tensor") end
        node.inputs[i] = keras3_ref(args[i], string.format("%s.args[%d]", key, i - 1))
      end
    elseif #args == 2 and RECURRENT_STATES[rec.class] then
      -- RNN.call(sequences, initial_state): given by position
      node.states = tensor_list(args[2], key .. ".args[1]", true)
      if not node.states then bad(key .. ".args[1]", "expected a tensor or a list of tensors") end
    elseif #args > 1 then
      rec.problem("is called with %d positional arguments, which the importer does not support", #args)
    end
    call_kwargs(rec, node, nd.kwargs, key .. ".kwargs", true)
  end
  -- what each kind of layer is called on
  if rec.unsupported then
    return node -- (refused already, by its class)
  elseif rec.class == "Model" then
    local want_n = #rec.model.graph.inputs
    if #node.inputs ~= want_n then
      rec.problem("is called on %d tensor(s); the model takes %d", #node.inputs, want_n)
    end
    node.listed = want_n > 1
  elseif MERGE_KEYS[rec.class] then
    if not node.listed then rec.problem("a merge layer called on one tensor, not a list") end
  elseif rec.class == "Attention" or rec.class == "AdditiveAttention" then
    if not node.listed or #node.inputs < 2 or #node.inputs > 3 then
      rec.problem("is called on %d tensor(s); Keras's %s takes a list [query, value] or [query, value, key]",
        #node.inputs, rec.class)
    end
    if rec.causal then
      node.opts = node.opts or {}
      node.opts.use_causal_mask = true
    end
  elseif rec.class == "MultiHeadAttention" then
    -- query, value (by position or name), key (by name)
    local named = node.named or {}
    if named.value then node.inputs[#node.inputs + 1] = named.value end
    if named.key then
      if #node.inputs ~= 2 then bad(key, "a key without a value") end
      node.inputs[3] = named.key
    end
    if node.listed or #node.inputs < 2 or #node.inputs > 3 then
      rec.problem("is called on %d tensor(s); MultiHeadAttention takes query, value and key", #node.inputs)
    end
  elseif #node.inputs ~= 1 or node.listed then
    rec.problem("takes %d input tensors; the importer reads one for this layer", #node.inputs)
  end
  if node.states then
    local n = RECURRENT_STATES[rec.class]
    if not n then
      rec.problem("is called with initial_state, which rnnc takes on SimpleRNN, LSTM and GRU only")
    elseif #node.states ~= n then
      rec.problem("is given %d initial state(s); %s takes %d", #node.states, rec.class, n)
    end
  end
  return node
end

-- How many output tensors a layer's call returns.
local function output_count(rec, node)
  if rec.unsupported then return 65537 end -- (refused already; any tensor index passes)
  if ATTENTION_KEYS[rec.class] then return (node.opts or {}).return_attention_scores and 2 or 1 end
  if rec.class == "Model" then return #rec.model.graph.outputs end
  local n = RECURRENT_STATES[rec.class]
  if n and rec.args.return_state then return 1 + n end
  if rec.class == "Bidirectional" and rec.inner and rec.inner.args.return_state then
    return 1 + 2 * (RECURRENT_STATES[rec.inner.class] or 0)
  end
  return 1
end

-- input_layers / output_layers: a list of references (Keras 3 writes one
-- as a bare [name, node, tensor]).
local function refs(ctx, v, k)
  if type(v) == "table" and not is_list(v) then
    ctx.problems[#ctx.problems + 1] = string.format("model: %s given as a dict (named inputs or outputs) is not "
      .. "supported by the importer", k:match("[^.]*$"))
    return nil
  end
  want(v, "list", k)
  if #v == 0 then bad(k, "an empty list") end
  if #v == 3 and type(v[1]) == "string" then return { tensor_ref(v, k) } end
  local out = {}
  for i, r in ipairs(v) do
    out[i] = tensor_ref(r, string.format("%s[%d]", k, i - 1))
  end
  return out
end

-- The batch shape an InputLayer's config gives, and whether it holds
-- integers (tokens).
local function input_shape(entry, key)
  local c = entry.config
  local k = (c.batch_input_shape ~= nil and c.batch_input_shape ~= null) and "batch_input_shape" or "batch_shape"
  if c[k] == nil or c[k] == null then bad(key .. ".config.batch_shape", "missing") end
  return shape(c[k], key .. ".config." .. k)
end

-- The graph of a functional model: its inputs, the nodes the outputs need
-- (in an order where a node's inputs come first), its outputs. Returns nil
-- when problems were found.
local function read_graph(ctx, cfg, records, entries, base)
  local nproblems = #ctx.problems
  local nodes_of = {}
  for i, rec in ipairs(records) do
    local entry, name = entries[i], rec.keras_name
    local inbound = entry.inbound_nodes
    if inbound == nil or inbound == null then inbound = {} end
    want(inbound, "list", rec.key .. ".inbound_nodes")
    if rec.class == "InputLayer" then
      if #inbound > 0 then bad(rec.key .. ".inbound_nodes", "an InputLayer is called on nothing") end
      nodes_of[name] = { { rec = rec, input = true, index = 0, outputs = 1 }, first = 0, n = 1 }
    else
      if #inbound == 0 then rec.problem("is never called in the model") end
      -- a nested model's node 0 is its own construction (linking its inputs
      -- to its outputs), left out of the configuration: its calls are nodes
      -- 1, 2, ... (tf.keras functional.py get_network_config and
      -- _should_skip_first_node, Keras 2.2.4 network.py get_config, Keras 3
      -- functional.py get_config: kept_nodes = 1 for a Functional)
      local first = rec.class == "Model" and rec.node_offset or 0
      nodes_of[name] = { first = first, n = #inbound }
      for j, nd in ipairs(inbound) do
        local node = read_node(rec, nd, string.format("%s.inbound_nodes[%d]", rec.key, j - 1))
        if node then
          node.index = first + j - 1
          node.outputs = output_count(rec, node)
        end
        nodes_of[name][first + j] = node or false
      end
    end
  end
  local ins = refs(ctx, cfg.input_layers, base .. ".config.input_layers")
  local outs = refs(ctx, cfg.output_layers, base .. ".config.output_layers")
  if #ctx.problems > nproblems or not ins or not outs then return nil end
  -- the node a reference names
  local function node_of(r)
    local list = nodes_of[r.layer]
    if not list then bad(r.key, "unknown layer '%s'", printable(r.layer)) end
    local node = list[r.node + 1]
    if node == nil then
      bad(r.key, "layer '%s' has %d call(s)%s; node %d does not exist", printable(r.layer), list.n,
        list.first > 0 and " (a nested model's are numbered from 1)" or "", r.node)
    end
    if r.tensor >= node.outputs then
      bad(r.key, "layer '%s' returns %d tensor(s); tensor %d does not exist", printable(r.layer), node.outputs,
        r.tensor)
    end
    return node
  end
  local g = { inputs = {}, nodes = {}, outputs = outs }
  local is_input = {}
  for i, r in ipairs(ins) do
    local node = node_of(r)
    if not node.input then
      bad(string.format("%s.config.input_layers[%d]", base, i - 1), "'%s' is not an InputLayer",
        printable(r.layer))
    end
    if is_input[node] then bad(base .. ".config.input_layers", "'%s' is listed twice", printable(r.layer)) end
    is_input[node] = true
    local rec = node.rec
    local c = entries[rec.entry_index].config
    if c.sparse == true or c.ragged == true then rec.problem("sparse or ragged inputs are not supported") end
    local dtype = type(c.dtype) == "string" and c.dtype or nil
    g.inputs[i] = { name = rec.keras_name, shape = input_shape(entries[rec.entry_index], rec.key), rec = rec,
      integer = dtype == "int32" or dtype == "int64" }
  end
  -- depth first from the outputs: a node after the nodes it reads
  local state = {}
  local function visit(node, from)
    if state[node] == "done" then return end
    if state[node] == "open" then bad(node.key, "the graph has a cycle through layer '%s'",
      printable(node.rec.keras_name)) end
    if node.input then
      if not is_input[node] then
        bad(from, "graph disconnected: input '%s' is not among the model's input_layers",
          printable(node.rec.keras_name))
      end
      state[node] = "done"
      return
    end
    state[node] = "open"
    for _, r in ipairs(node.inputs) do
      visit(node_of(r), r.key)
    end
    for _, r in ipairs(node.states or {}) do
      visit(node_of(r), r.key)
    end
    state[node] = "done"
    g.nodes[#g.nodes + 1] = node
  end
  for _, r in ipairs(outs) do
    visit(node_of(r), r.key)
  end
  for _, rec in ipairs(records) do
    if rec.class ~= "InputLayer" then
      local used = false
      for k, node in pairs(nodes_of[rec.keras_name]) do
        if type(k) == "number" and node and state[node] then used = true end
      end
      if not used then
        rec.problem("no output of the model depends on it (the importer keeps every layer's weights)")
      end
    end
  end
  if #ctx.problems > nproblems then return nil end
  return g
end

-- Whether graph g is a chain: one input, each layer called once on the
-- first output of the one before, the outputs all those of the last layer
-- in order. Returns the layers in order, or nil.
local function chain_of(g, records)
  if #g.inputs ~= 1 then return nil end
  local consumer = {}
  local n = 0
  for _, rec in ipairs(records) do
    if rec.class == "Model" then return nil end -- (a nested model: written as a graph)
    if rec.class ~= "InputLayer" then n = n + 1 end
  end
  if #g.nodes ~= n then return nil end
  for _, node in ipairs(g.nodes) do
    local r = node.inputs[1]
    if node.index ~= 0 or node.states or node.listed or #node.inputs ~= 1 or r.node ~= 0 or r.tensor ~= 0 or
      consumer[r.layer] then
      return nil
    end
    consumer[r.layer] = node.rec
  end
  local layers, at = {}, g.inputs[1].name
  while consumer[at] do
    layers[#layers + 1] = consumer[at]
    at = consumer[at].keras_name
  end
  if #layers ~= n then return nil end
  for i, o in ipairs(g.outputs) do
    if o.layer ~= at or o.node ~= 0 or o.tensor ~= i - 1 then return nil end
  end
  return layers
end

-- A functional model used as a layer of another (tf.keras and Keras 3 save
-- it as a layer entry whose config is the model's own): read as a graph of
-- its own; a model nested deeper is refused.
function nested_model(ctx, entry, key)
  local cfg = want(entry.config, "table", key .. ".config")
  local name = entry.name ~= nil and entry.name ~= null and want(entry.name, "string", key .. ".name") or
    want(cfg.name, "string", key .. ".config.name")
  local rec = { class = "Model", written_class = entry.class_name, keras_name = name, key = key, args = {},
    notes = {} }
  rec.problem = function(fmt, ...)
    ctx.problems[#ctx.problems + 1] = string.format("layer '%s' (%s): ", printable(name),
      printable(entry.class_name)) .. string.format(fmt, ...)
  end
  local nproblems = #ctx.problems
  ctx.nested = true
  local ok, inner = pcall(keras.model, ctx, { class_name = entry.class_name, config = cfg }, key)
  ctx.nested = nil
  if not ok then error(inner, 0) end
  -- the node index of its first call in the outer configuration: 1 when it
  -- has a construction node (a Functional; a Sequential built on an
  -- InputLayer in tf.keras 2.x, any in standalone Keras 2.0-2.3,
  -- network.py get_config), else 0 (Keras 3's Sequential is no Functional)
  local v = ctx.version
  rec.node_offset = 1
  if inner.kind == "Sequential" then
    local first = is_list(cfg) and cfg[1] or (type(cfg.layers) == "table" and cfg.layers[1])
    local on_input = type(first) == "table" and first.class_name == "InputLayer"
    local standalone = v.major == 2 and v.minor and v.minor < 4 and not (v.writer or ""):match("^tf%.keras")
    if v.major == 3 or not v.major or not (on_input or standalone) then rec.node_offset = 0 end
    if v.major == nil then
      rec.problem("a Sequential model used as a layer in a file that does not say which Keras wrote it (the "
        .. "numbering of its calls differs between versions)")
    end
    if #ctx.problems == nproblems and #inner.layers > 0 and inner.input then
      -- its chain as a graph: <first layer>_input (Keras's name) or its InputLayer
      local prev = inner.input.name or (inner.layers[1].keras_name .. "_input")
      local g = { inputs = { { name = prev, shape = inner.input.shape } }, nodes = {} }
      for _, l in ipairs(inner.layers) do
        g.nodes[#g.nodes + 1] = { rec = l, inputs = { { layer = prev, node = 0, tensor = 0 } }, index = 0,
          outputs = 1, key = l.key }
        prev = l.keras_name
      end
      g.outputs = { { layer = prev, node = 0, tensor = 0 } }
      inner.graph = g
    end
  end
  if not inner.graph then
    rec.unsupported = true -- (its problems are listed)
  end
  rec.model = inner
  inner.name = inner.name or name
  return rec
end

-- Builds the model description from a decoded model_config.
-- Returns { kind, name, input = {shape, name}, layers = {records} }.
function keras.model(ctx, config, base)
  base = base or "model_config"
  local cls, cfg = object(config, base)
  local m = { layers = {} }
  if cls == "Sequential" then
    m.kind = "Sequential"
    local list = cfg
    if type(cfg) == "table" and not is_list(cfg) then
      -- Keras >= 2.2: {name, layers}; Keras 1 and 2.0-2.1: the list itself
      m.name = cfg.name ~= nil and cfg.name ~= null and want(cfg.name, "string", base .. ".config.name") or nil
      list = cfg.layers
      want(list, "list", base .. ".config.layers")
    else
      want(list, "list", base .. ".config")
    end
    if #list > 256 then bad(base .. ".config.layers", "%d layers; rnnc allows at most 256", #list) end
    for i, entry in ipairs(list) do
      local key = string.format("%s.config.layers[%d]", base, i - 1)
      local rec = layer(ctx, entry, key)
      if rec.class == "InputLayer" then
        if i ~= 1 then rec.problem("an InputLayer inside a Sequential model is not supported") end
        local c = entry.config
        local k = (c.batch_input_shape ~= nil and c.batch_input_shape ~= null) and "batch_input_shape" or "batch_shape"
        if c[k] == nil or c[k] == null then bad(key .. ".config.batch_shape", "missing") end
        m.input = { shape = shape(c[k], key .. ".config." .. k), name = rec.keras_name }
        if c.sparse == true or c.ragged == true then rec.problem("sparse or ragged inputs are not supported") end
      else
        if i == (m.input and 2 or 1) and rec.input and not m.input then m.input = { shape = rec.input } end
        m.layers[#m.layers + 1] = rec
      end
    end
  elseif cls == "Functional" or cls == "Model" then
    m.kind = "Functional"
    want(cfg, "table", base .. ".config")
    m.name = cfg.name ~= nil and cfg.name ~= null and want(cfg.name, "string", base .. ".config.name") or nil
    local list = want(cfg.layers, "list", base .. ".config.layers")
    if #list > 257 then bad(base .. ".config.layers", "%d layers; rnnc allows at most 256", #list) end
    local by_name, records, entries = {}, {}, {}
    for i, entry in ipairs(list) do
      local key = string.format("%s.config.layers[%d]", base, i - 1)
      want(entry, "table", key)
      local rec
      if MODEL_CLASSES[entry.class_name] and not ctx.nested then
        rec = nested_model(ctx, entry, key)
      else
        rec = layer(ctx, entry, key)
      end
      local name = entry.name ~= nil and entry.name ~= null and want(entry.name, "string", key .. ".name") or
        rec.keras_name
      rec.keras_name = name
      if by_name[name] then bad(key .. ".name", "layer name '%s' appears twice", printable(name)) end
      by_name[name] = rec
      rec.entry_index = i
      records[i], entries[i] = rec, entry
    end
    local g = read_graph(ctx, cfg, records, entries, base)
    if not g then return m end
    local chain = not ctx.nested and chain_of(g, records)
    if chain then
      -- written as the chain it is (input -> layer -> ... -> outputs)
      m.layers = chain
      m.input = { shape = g.inputs[1].shape, name = g.inputs[1].name }
      m.outputs = #g.outputs
    else
      -- a graph: the layers in the configuration's order (Keras's
      -- model.layers, the order of its weights and optimizer variables)
      -- (a nested model's layers in its place, as Keras orders its weights);
      -- Keras 3's .keras groups: layers/<snake-case class>[_n], numbered per
      -- class in each model (keras/src/saving/saving_lib.py
      -- _save_container_state), a nested model's under its own
      local numbered, seen = {}, {}
      local function group(prefix, class)
        local b = prefix .. "/" .. keras.snake(class)
        local n = numbered[b]
        numbered[b] = (n or 0) + 1
        return b .. (n and ("_" .. n) or "")
      end
      for _, rec in ipairs(records) do
        if rec.class == "Model" then
          local outer = group("layers", rec.written_class)
          for _, inner in ipairs(rec.model.layers) do
            inner.vars_group = group(outer .. "/layers", inner.class)
            inner.h5_parent = rec.keras_name
            m.layers[#m.layers + 1] = inner
          end
        elseif rec.class ~= "InputLayer" then
          rec.vars_group = group("layers", rec.class)
          m.layers[#m.layers + 1] = rec
        end
        -- rnnc names weights by layer: every layer name once in the model
        for _, l in ipairs(rec.class == "Model" and rec.model.layers or { rec }) do
          if seen[l.keras_name] and l.class ~= "InputLayer" then
            rec.problem("layer name '%s' is used inside the nested model and outside it; rnnc needs every layer "
              .. "name once in a model", printable(l.keras_name))
          end
          seen[l.keras_name] = true
        end
      end
      m.graph = g
      m.input = { shape = g.inputs[1].shape, name = g.inputs[1].name }
      m.outputs = #g.outputs
    end
  else
    ctx.problems[#ctx.problems + 1] = string.format("model class '%s' is not supported", printable(cls))
  end
  m.all_classes = {}
  for i, rec in ipairs(m.layers) do
    rec.class_index = i
    m.all_classes[i] = rec.class
  end
  if #m.layers == 0 and #ctx.problems == 0 then bad(base, "the model has no layers") end
  if not m.input and #ctx.problems == 0 then
    bad(base, "no input shape (batch_input_shape, batch_shape or input_dim on the first layer)")
  end
  return m
end

return keras
