-- The model description language: a Lua chunk, run in a sandbox that holds
-- only Keras-shaped constructors, returning a Sequential or functional model.
local util = require("util")
local common = require("layers.common")
local functional = require("functional")
local training = require("training")
local catalog = require("catalog")
local rules = require("layers.rules")

local dsl = {}

dsl.layer_modules = {}
for _, m in ipairs(require("layers.registry")) do
  dsl.layer_modules[m.class] = m
end

-- Limits that keep a description from asking for absurd programs: units and
-- arguments (MAX_DIM), the dimensions of a shape, the sequence length among
-- them (MAX_STEPS: the generator's work does not grow with it, the scratch
-- a unit needs does, and generate.lua bounds that).
local MAX_DIM = 1 << 16
local MAX_STEPS = 1 << 24
local MAX_PARAMS = 1 << 27
local MAX_LAYERS = 256
local MAX_MEMORY_KIB = 512 * 1024
-- A description's work: VM instructions, counted by a hook every HOOK_EVERY.
local MAX_INSTRUCTIONS = 200000000
local HOOK_EVERY = 100
dsl.MAX_DIM, dsl.MAX_STEPS, dsl.MAX_PARAMS, dsl.MAX_LAYERS = MAX_DIM, MAX_STEPS, MAX_PARAMS, MAX_LAYERS

local Layer = {}
Layer.__index = Layer
Layer.__name = "Layer"

-- The layer behind a handle the description holds, or nil.
local function layer_of(v)
  local l = util.unwrap(v)
  return getmetatable(l) == Layer and l or nil
end

local function is_layer(v)
  return layer_of(v) ~= nil
end

-- Finds the innermost stack frame that belongs to the model file.
local function caller_in(file)
  for level = 2, 30 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    -- source, not short_src: short_src truncates long paths to "...tail"
    if info.source == "@" .. file and info.currentline > 0 then
      return { file = file, line = info.currentline }
    end
  end
  return nil
end

-- What the description holds: a handle; calling it applies the layer to a
-- tensor (the functional API).
local LayerHandle = util.handle_type("Layer", nil, function(layer, ...)
  local at = caller_in(layer.at.file) or util.copy(layer.at)
  at.name, at.class = layer.name, layer.module.class -- errors of the call name the layer
  return functional.call(layer, at, ...)
end)

-- Where a constructor was called from: the innermost line of the model file
-- on the stack. A tail call such as `return Sequential { ... }` leaves no
-- frame of the file: then the line of the file's last top-level return.
local function where(state)
  return caller_in(state.file) or { file = state.file, line = state.return_line }
end

-- The line of the last `return` that starts a line (the statement a model
-- file ends with), else the last line that is not blank.
local function return_line(src)
  local line, last, nonblank = 1, nil, 1
  for text in (src .. "\n"):gmatch("([^\n]*)\n") do
    if text:match("^return%f[^%w_]") then last = line end
    if text:match("%S") then nonblank = line end
    line = line + 1
  end
  return last or nonblank
end

local function check_value(at, argname, kind, v)
  local function bad(expect)
    util.fail(at, "argument '%s' must be %s, got %s (%s)", argname, expect, tostring(v), type(v))
  end
  if kind == "posint" then
    if math.type(v) == "float" and v == math.floor(v) and v == v then v = math.tointeger(v) or v end
    if math.type(v) ~= "integer" or v <= 0 then bad("a positive integer") end
    local max = argname == "input_length" and MAX_STEPS or MAX_DIM
    if v > max then util.fail(at, "argument '%s' = %d is larger than rnnc allows (%d)", argname, v, max) end
    return v
  elseif kind == "boolean" then
    if type(v) ~= "boolean" then bad("true or false") end
    return v
  elseif kind == "number" then
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then bad("a number") end
    return v
  elseif kind == "nonneg" then
    if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then bad("a non-negative number") end
    return v
  elseif kind == "rate" then
    -- a dropout rate: Keras takes 0 <= rate < 1 (1 would drop everything and scale by 1/0)
    if type(v) ~= "number" or not (v >= 0 and v < 1) then bad("a number in [0, 1)") end
    return v
  elseif kind == "integer" then
    if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) or v end
    if math.type(v) ~= "integer" or v > MAX_DIM or v < -MAX_DIM then bad("an integer") end
    return v
  elseif kind == "axes" then
    if type(v) == "number" then v = { v } end
    if type(v) ~= "table" or #v == 0 then bad("a list of axes such as { 1 }") end
    local axes = {}
    for i, d in ipairs(v) do
      if math.type(d) == "float" and d == math.floor(d) then d = math.tointeger(d) or d end
      if math.type(d) ~= "integer" or d < 1 or d > 8 then
        util.fail(at, "argument '%s': axis %d must be a positive integer (1 = the first axis after the batch), got "
          .. "%s", argname, i, tostring(d))
      end
      axes[i] = d
    end
    return axes
  elseif kind == "string" then
    if type(v) ~= "string" then bad("a string") end
    return v
  elseif kind == "activation" then
    if v == util.None then return "linear" end
    if type(v) ~= "string" then bad("an activation name") end
    if not common.ACTIVATIONS[v] then
      util.fail(at, "unknown activation '%s' (rnnc knows %s)", v, catalog.names(catalog.activations))
    end
    return v
  elseif kind == "initializer" then
    if type(v) ~= "string" or not common.INITIALIZERS[v] then
      util.fail(at, "unknown or unsupported initializer %s for '%s' (rnnc knows %s)", tostring(v), argname,
        table.concat(util.sorted_keys(common.INITIALIZERS), ", "))
    end
    return v
  elseif kind == "cell_activation" then
    v = check_value(at, argname, "activation", v)
    if not common.ELEMENTWISE[v] then
      util.fail(at, "%s = '%s' is not supported in a recurrent layer (rnnc implements elementwise activations)",
        argname, v)
    end
    return v
  elseif kind == "merge_mode" then
    if v == util.None then return "none" end
    if v ~= "concat" and v ~= "sum" and v ~= "mul" and v ~= "ave" then
      bad("one of \"concat\", \"sum\", \"mul\", \"ave\", None")
    end
    return v
  elseif kind == "shape" then
    if type(v) ~= "table" or #v == 0 then bad("a list of dimensions such as {3, 4}") end
    local shape = {}
    for i, d in ipairs(v) do
      if d ~= util.None then
        if math.type(d) == "float" and d == math.floor(d) then d = math.tointeger(d) or d end
        if math.type(d) ~= "integer" or d <= 0 then
          util.fail(at, "argument '%s': dimension %d must be a positive integer or None, got %s", argname, i,
            tostring(d))
        end
        if d > MAX_STEPS then
          util.fail(at, "argument '%s': dimension %d = %d is larger than rnnc allows (%d)", argname, i, d, MAX_STEPS)
        end
      end
      shape[i] = d
    end
    return shape
  elseif kind == "layer" then
    if not is_layer(v) then bad("a layer") end
    return layer_of(v)
  end
  error("unknown argument kind " .. kind)
end

-- Creates the constructor of one layer class for one model file.
local function constructor(module, state)
  return function(t)
    local at = where(state)
    at.class = module.class
    if type(t) ~= "table" or is_layer(t) then t = { t } end
    local layer = setmetatable({ module = module, at = at, args = {} }, Layer)
    local spec = module.args
    -- The name first, so that every later error names the layer (name is never positional).
    if t.name ~= nil then
      local n = functional.check_name(at, t.name)
      if state.names_used[n] then util.fail(at, "a layer named '%s' already exists", n) end
      layer.name = n
    else
      -- Keras: the snake-case class name, then _1, _2, ... in creation order.
      local base = module.default_name
      local count = state.counters[base] or 0
      local n = count == 0 and base or (base .. "_" .. count)
      while state.names_used[n] do
        count = count + 1
        n = base .. "_" .. count
      end
      state.counters[base] = count + 1
      layer.name = n
    end
    state.names_used[layer.name] = true
    at.name = layer.name
    -- Positional arguments first, then keywords, in a stable order.
    local given = {}
    for i, v in ipairs(t) do
      local key = module.positional[i]
      if not key then
        util.fail(at, "%s takes %d positional argument(s), got %d", module.class, #module.positional, #t)
      end
      given[key] = v
    end
    for _, k in ipairs(util.sorted_keys(t)) do
      if math.type(k) ~= "integer" then
        if type(k) ~= "string" then util.fail(at, "argument names must be strings") end
        if given[k] ~= nil then util.fail(at, "argument '%s' given twice", k) end
        given[k] = t[k]
      end
    end
    for _, k in ipairs(util.sorted_keys(given)) do
      local v = given[k]
      local s = spec[k] or common.BASE_ARGS[k]
      if not s then
        local kind = type(k) == "string" and (k:match("_regularizer$") and "regularizer"
          or k:match("_constraint$") and "constraint")
        if kind then
          util.fail(at, "%s is not an argument of %s: it has no such weight to put a %s on", k, module.class, kind)
        end
        util.fail(at, "unknown argument '%s' for %s", k, module.class)
      end
      if k ~= "name" then
        if s.check then
          v = s.check(at, k, v) -- a module's own kind of argument (Dot's axes)
        else
          v = check_value(at, k, s[1], v)
        end
        if s.only ~= nil and v ~= s.only then
          util.fail(at, "%s = %s is not supported (%s)", k, tostring(v), s.why or "not implemented")
        end
        layer.args[k] = v
      end
    end
    for k, s in pairs(spec) do
      if layer.args[k] == nil then
        if s[2] == nil and not s.optional then util.fail(at, "missing required argument '%s'", k) end
        layer.args[k] = s[2]
      end
    end
    if module.wrapper then
      local inner = layer.args.layer
      if inner.wrapped or inner.called then
        util.fail(at, "layer '%s' is already %s: a layer can be wrapped once, and then only through its wrapper",
          inner.name, inner.wrapped and ("wrapped by '" .. inner.wrapped.name .. "'") or "called on a tensor")
      end
      inner.wrapped = layer
    end
    return util.handle(layer, LayerHandle)
  end
end

-- The input shape a first layer declares (with the batch dimension), or nil.
local function declared_input(layer)
  local a = layer.args
  if a.batch_input_shape then
    local s = util.copy(a.batch_input_shape)
    if #s < 2 then util.fail(layer.at, "batch_input_shape needs a batch and at least one more dimension") end
    return s
  end
  if a.input_shape then
    local s = { a.batch_size or util.None }
    for _, d in ipairs(a.input_shape) do
      s[#s + 1] = d
    end
    return s
  end
  -- Embedding: input_dim is its vocabulary, input_length the timesteps
  if layer.module.declared_input then return layer.module.declared_input(layer) end
  if a.input_dim then
    if layer.module.recurrent or layer.module.sequence_input then
      return { a.batch_size or util.None, a.input_length or util.None, a.input_dim }
    end
    return { a.batch_size or util.None, a.input_dim }
  end
  return nil
end

local Model = {}
Model.__index = Model
Model.__name = "Sequential"
local build_functional -- below: a functional model's parameter counts

function Model:add(layer)
  if not is_layer(layer) then util.fail(caller_in(self.at.file) or self.at, "Sequential:add expects a layer") end
  self.layers[#self.layers + 1] = layer_of(layer)
end

function Model:compile(t)
  self.compiled = training.compile(t, caller_in(self.at.file) or self.at)
end

function Model:fit(t)
  self.fit_defaults = training.fit(t, caller_in(self.at.file) or self.at)
end

-- model:summary(): Keras prints the table of the model as built so far.
function Model:summary()
  local at = caller_in(self.at.file) or self.at
  if self.kind ~= "Functional" and #self.layers == 0 then
    util.fail(at, "summary: the model has no layers yet (Keras: this model has not yet been built)")
  end
  io.write(require("summary").text(dsl.build(self)))
end

-- model(x): a Model called as a layer of another model (functional.lua).
local ModelHandle = util.handle_type("Model", { add = Model.add, compile = Model.compile, fit = Model.fit,
  summary = Model.summary }, function(model, ...)
  local at = caller_in(model.at.file) or util.copy(model.at)
  at.name, at.class = model.name, model.kind
  if model.kind ~= "Functional" then
    -- a Sequential called as a layer: its graph, built now
    dsl.build(model)
    for k, v in pairs(functional.sequential_graph(model)) do
      model[k] = v
    end
    model.input_tensors[1].node.layer.name = model.name .. "_input"
  end
  model.is_model = true
  model.module = model.module or { class = model.kind }
  return functional.call_model(model, at, ...)
end)

-- What a description may name: rnnc's constructors and the sandbox's
-- functions. An unknown name is an error at its line that says what to
-- write instead, not a nil that fails later.
local NOT_IMPLEMENTED = {
  Conv2D = "rnnc compiles recurrent networks: Dense, SimpleRNN, LSTM, GRU, TimeDistributed, Bidirectional",
  ConvLSTM2D = "rnnc compiles recurrent networks: Dense, SimpleRNN, LSTM, GRU, TimeDistributed, Bidirectional",
  Lambda = "rnnc compiles only its own layers",
  AlphaDropout = "rnnc has Dropout, SpatialDropout1D, GaussianNoise and GaussianDropout, not AlphaDropout "
    .. "(its SELU-preserving noise): remove the layer or use one of those",
}
local PYTHON = {
  True = "write true (Lua's boolean)",
  False = "write false (Lua's boolean)",
  keras = "write the class alone: Dense { 3 }, not keras.layers.Dense(3)",
  layers = "write the class alone: Dense { 3 }, not layers.Dense(3)",
  tf = "write the class alone: Dense { 3 }, not tf.keras.layers.Dense(3)",
  print = "a model description prints nothing; model:summary() prints the model's table",
  np = "a model description holds no data: give it to the program (.npy files) instead",
}

-- Levenshtein distance, case-insensitive, for "did you mean".
local function distance(a, b)
  a, b = a:lower(), b:lower()
  local prev = {}
  for j = 0, #b do
    prev[j] = j
  end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- A name the description reads that is not there: a class (a capitalised
-- name) or a Python-ism is an error here; other names read as nil, as Lua's
-- globals do (the sandbox's missing os, io, require, ... among them).
local function unknown_name(state, env, name)
  if type(name) ~= "string" or not (name:match("^%u") or PYTHON[name]) then return nil end
  local at = where(state)
  if NOT_IMPLEMENTED[name] then
    util.fail(at, "Keras's %s layer is not implemented in rnnc: %s", name, NOT_IMPLEMENTED[name])
  end
  if PYTHON[name] then util.fail(at, "'%s' is not known in a model description: %s", name, PYTHON[name]) end
  local best, best_d
  for _, known in ipairs(util.sorted_keys(env)) do
    local d = distance(name, known)
    if d < (best_d or math.huge) then best, best_d = known, d end
  end
  if best and best_d <= math.max(1, #name // 4) then
    util.fail(at, "unknown name '%s': did you mean '%s'?", name, best)
  end
  local layers = util.sorted_keys(dsl.layer_modules)
  util.fail(at, "unknown name '%s' (rnnc's layers are %s; models Sequential, Model and Input)", name,
    table.concat(layers, ", "))
end


-- Fails with "used too much memory" at the description's current line.
local function memory_error(state)
  util.fail(caller_in(state.file) or { file = state.file, line = state.return_line },
    "the model description used too much memory (over %d MiB)", MAX_MEMORY_KIB // 1024)
end

-- Whether `kib` more KiB would take the description over its memory limit.
local function over_memory(state, kib)
  return collectgarbage("count") - state.memory_base + kib > MAX_MEMORY_KIB
end

-- The sandbox: only the DSL and harmless parts of the standard library.
local function environment(state)
  -- string.rep and table.concat build a string of any size in one call,
  -- between two calls of the hook of dsl.load: they check the memory limit
  -- themselves, before allocating.
  local function checked_rep(s, n, sep)
    local count = tonumber(n)
    if (type(s) == "string" or type(s) == "number") and count and count > 0 then
      if over_memory(state, (#tostring(s) + #tostring(sep or "")) * count / 1024) then memory_error(state) end
    end
    local ok, r = pcall(string.rep, s, n, sep)
    if not ok then error(r, 2) end -- blame the description's line, not this one
    return r
  end
  local function checked_concat(list, sep, i, j)
    if type(list) == "table" then
      local bytes, n = 0, 0
      local first, last = tonumber(i) or 1, tonumber(j) or #list
      local sep_len = type(sep) == "string" and #sep or 0
      for k = first, last do
        local v = list[k]
        if type(v) == "string" or type(v) == "number" then bytes = bytes + #tostring(v) + sep_len end
        n = n + 1
        if n % 4096 == 0 and over_memory(state, bytes / 1024) then memory_error(state) end
      end
      if over_memory(state, bytes / 1024) then memory_error(state) end
    end
    local ok, r = pcall(table.concat, list, sep, i, j)
    if not ok then error(r, 2) end
    return r
  end
  -- The string methods a description reaches through the string metatable
  -- ("x":rep(3)): no patterns (find, match, gsub backtrack in C, out of the
  -- hook's reach, and gsub multiplies a string's size in one call), no dump.
  state.string_methods = {
    format = string.format, rep = checked_rep, sub = string.sub, upper = string.upper, lower = string.lower,
    len = string.len, byte = string.byte, char = string.char, reverse = string.reverse,
  }
  local env = {
    None = util.None,
    ipairs = ipairs,
    pairs = pairs,
    select = select,
    tostring = tostring,
    tonumber = tonumber,
    type = type,
    error = error,
    assert = assert,
    math = util.copy(math), -- a copy: the description must not change the host's math
    string = util.copy(state.string_methods),
    table = { insert = table.insert, concat = checked_concat, unpack = table.unpack },
  }
  for class, module in pairs(dsl.layer_modules) do
    env[class] = constructor(module, state)
  end
  -- Keras's functional spellings of the merge layers: concatenate({ a, b })
  -- or concatenate { { a, b }, axis = 1 } makes the layer and calls it
  for class, module in pairs(dsl.layer_modules) do
    if module.functional_name then
      local make = env[class]
      env[module.functional_name] = function(t)
        local at = where(state)
        at.class = class
        if type(t) ~= "table" or is_layer(t) then
          util.fail(at, "%s takes a list of tensors: %s({ a, b }) or %s { { a, b }, ... }", module.functional_name,
            module.functional_name, module.functional_name)
        end
        local inputs, args = t, {}
        if not functional.tensor_of(t[1]) then
          inputs = t[1]
          for k, v in pairs(t) do
            if k ~= 1 then args[math.type(k) == "integer" and k - 1 or k] = v end
          end
        end
        for k, v in pairs(module.functional_defaults or {}) do
          if args[k] == nil then args[k] = v end
        end
        return make(args)(inputs)
      end
    end
  end
  env.Sequential = function(t)
    local at = where(state)
    local m = setmetatable({ kind = "Sequential", layers = {}, at = at, name = "sequential" }, Model)
    for _, k in ipairs(util.sorted_keys(t or {})) do
      if math.type(k) ~= "integer" and k ~= "name" and k ~= "trainable" then
        util.fail(at, "Sequential: unknown argument '%s'", tostring(k))
      end
    end
    if t and t.name ~= nil then m.name = functional.check_name(at, t.name) end
    -- Keras 3's Sequential(layers, trainable=True, name=None); false freezes
    -- every layer, as model.trainable = False does in Keras
    if t and t.trainable ~= nil then m.frozen = not check_value(at, "trainable", "boolean", t.trainable) end
    for i, l in ipairs(t or {}) do
      local input = functional.input_layer_of(l)
      if input and i == 1 then
        -- Sequential { Input { shape = ... }, ... }: Keras 3's way to give
        -- the input's shape (and dtype: int32 tokens for an Embedding)
        m.input_layer = input
      elseif input then
        util.fail(at, "Sequential: an Input may only come first (it declares the model's input)")
      elseif not is_layer(l) then
        util.fail(at, "Sequential: every element must be a layer (or an Input first)")
      else
        m.layers[#m.layers + 1] = layer_of(l)
      end
    end
    return util.handle(m, ModelHandle)
  end
  env.Input = functional.input_constructor(state, function(at, argname, v)
    return check_value(at, argname, "shape", v)
  end, function()
    return where(state)
  end)
  env.Model = function(t)
    local at = where(state)
    local m = setmetatable(functional.model_fields(t, at), Model)
    m.at = at
    -- Model(inputs, outputs, trainable=False): every layer frozen
    if t.trainable ~= nil then m.frozen = not check_value(at, "trainable", "boolean", t.trainable) end
    functional.check_name(at, m.name)
    if t.name == nil then
      -- tf.keras 2.x names models model, model_1, ...
      local count = state.counters.model or 0
      m.name = count == 0 and "model" or ("model_" .. count)
      state.counters.model = count + 1
    end
    m.is_model, m.module = true, { class = "Functional" }
    build_functional(m)
    return util.handle(m, ModelHandle)
  end
  for k, v in pairs(training.constructors(function()
    return where(state)
  end)) do
    env[k] = v
  end
  for k, v in pairs(rules.constructors(function()
    return where(state)
  end)) do
    env[k] = v
  end
  return setmetatable(env, {
    __index = function(t, k)
      return unknown_name(state, t, k)
    end,
  })
end

-- Infers every layer's output shapes and weights. Fills layer.output_shapes,
-- layer.weights, layer.params; model.params, model.input_shape.
-- A functional model's layers were built when they were called.
function build_functional(model)
  local total = 0
  for _, layer in ipairs(model.layers) do
    common.apply_trainable(layer, model.frozen)
    local params = 0
    for _, w in ipairs(layer.weights or {}) do
      params = params + util.product(w.shape)
    end
    layer.params = params
    total = total + params
    if total > MAX_PARAMS then util.fail(layer.at, "the model has more than %d parameters", MAX_PARAMS) end
  end
  model.params = total
  model.output_shape = model.outputs[1].shape
  return model
end

function dsl.build(model)
  if #model.layers > MAX_LAYERS then
    util.fail(model.at, "the model has %d layers; rnnc allows at most %d", #model.layers, MAX_LAYERS)
  end
  local seen = {}
  for _, layer in ipairs(model.layers) do
    if seen[layer] then
      util.fail(layer.at, "the layer appears twice in the model: shared layers are not supported")
    end
    if layer.wrapped then
      util.fail(layer.at, "the layer is wrapped by '%s' and cannot also be used on its own", layer.wrapped.name)
    end
    seen[layer] = true
  end
  if model.kind == "Functional" then return build_functional(model) end
  if #model.layers == 0 then util.fail(model.at, "the model has no layers") end
  local shape = model.input_layer and util.copy(model.input_layer.output_shapes[1]) or declared_input(model.layers[1])
  if not shape then
    util.fail(model.layers[1].at,
      "the first layer needs an input shape (input_shape=, batch_input_shape= or input_dim=)")
  end
  model.input_shape = shape
  local total = 0
  for i, layer in ipairs(model.layers) do
    if i > 1 and layer.module.integer_input then
      util.fail(layer.at, "%s must be the first layer: it reads the model's integer tokens (an %s after "
        .. "another layer is not supported)", layer.module.class, layer.module.class)
    end
    if i > 1 and declared_input(layer) then
      local d = declared_input(layer)
      if util.shape_str(d) ~= util.shape_str(shape) and #d == #shape then
        -- Keras ignores input_shape on later layers of a Sequential; so does rnnc.
        layer.ignored_input_shape = d
      end
    end
    layer.input_shape = shape
    local outs = layer.module.build(layer, shape, layer.name)
    common.apply_trainable(layer, model.frozen)
    layer.output_shapes = outs
    local params = 0
    for _, w in ipairs(layer.weights or {}) do
      params = params + util.product(w.shape)
    end
    layer.params = params
    total = total + params
    if total > MAX_PARAMS then util.fail(layer.at, "the model has more than %d parameters", MAX_PARAMS) end
    if #outs > 1 and model.kind == "Sequential" then
      util.fail(layer.at, "All layers in a Sequential model should have a single output tensor " ..
        "(return_state=true or merge_mode=None need a functional Model: Input, layer(x), Model)")
    end
    shape = outs[1]
  end
  model.params = total
  model.output_shape = shape
  return model
end

-- The text of a non-string error value, without calling anything the
-- description could have defined.
local function error_text(v)
  if type(v) == "string" then return v end
  if type(v) == "number" or type(v) == "boolean" or v == nil then
    return "error() raised " .. tostring(v) .. " instead of a message"
  end
  return "error() raised a " .. type(v) .. " value instead of a message"
end

-- Loads and runs a model file in the sandbox. Returns the built model or
-- raises a ModelError naming the file and line.
function dsl.load(path)
  local f, ferr = io.open(path, "rb")
  if not f then util.fail({ file = path, line = 0 }, "cannot read the model file: %s", ferr) end
  local src = f:read("a")
  f:close()
  local state = { file = path, counters = {}, names_used = {}, return_line = return_line(src) }
  local chunk, perr = load(src, "@" .. path, "t", environment(state))
  if not chunk then
    local line, msg = tostring(perr):match("^.-:(%d+): (.*)$")
    util.fail({ file = path, line = tonumber(line) or 1 }, "syntax error: %s", msg or tostring(perr))
  end
  -- A description gets a bounded amount of work and memory (counted from
  -- here: the memory the host already uses is not the description's). The
  -- hook names the line the description was running.
  local hooks = 0
  state.memory_base = collectgarbage("count")
  local function running_at()
    local info = debug.getinfo(3, "Sl")
    if info and info.source == "@" .. path and info.currentline > 0 then
      return { file = path, line = info.currentline }
    end
    return caller_in(path) or { file = path, line = state.return_line }
  end
  debug.sethook(function()
    hooks = hooks + 1
    -- the line a memory error names: Lua calls no handler for those
    local info = debug.getinfo(2, "Sl")
    if info and info.source == "@" .. path and info.currentline > 0 then state.last_line = info.currentline end
    if hooks > MAX_INSTRUCTIONS // HOOK_EVERY then
      debug.sethook()
      util.fail(running_at(), "the model description ran too long (over %.0e instructions)", MAX_INSTRUCTIONS)
    end
    if over_memory(state, 0) then
      debug.sethook()
      util.fail(running_at(), "the model description used too much memory (over %d MiB)", MAX_MEMORY_KIB // 1024)
    end
  end, "", HOOK_EVERY)
  local string_mt = getmetatable("")
  local string_index = string_mt.__index
  -- the description's own method calls see the sandbox's string methods;
  -- the generator's code it calls (constructors) keeps the whole library
  local source = "@" .. path
  string_mt.__index = function(_, k)
    local info = debug.getinfo(2, "S")
    if info and info.source == source then return state.string_methods[k] end
    return string[k]
  end
  -- The handler runs where the error was raised, with the description's
  -- frames still on the stack: it finds the line there.
  local ok, result = xpcall(chunk, function(e)
    if util.is_model_error(e) then return e end
    return { message = error_text(e), at = caller_in(path) }
  end)
  string_mt.__index = string_index
  debug.sethook()
  if not ok then
    if util.is_model_error(result) then error(result, 0) end
    if type(result) ~= "table" then
      -- the handler itself failed (an error while handling an error, such as a stack overflow)
      result = { message = error_text(result) }
    end
    collectgarbage() -- what the description allocated is garbage now
    local text = result.message
    if text:match("not enough memory") then
      text = "the model description used too much memory (the system refused more)"
      result.at = { file = path, line = state.last_line or state.return_line }
    end
    local file, line, msg = text:match("^(.-):(%d+): (.*)$")
    -- Lua names a long path by its tail ("...tail") in its messages
    if file and file ~= path and file:sub(1, 3) == "..." and path:sub(-(#file - 3)) == file:sub(4) then
      file = path
    end
    if file == path then
      util.fail({ file = path, line = tonumber(line) }, "%s", msg)
    end
    util.fail(result.at or { file = path, line = state.return_line }, "%s", text)
  end
  local model = util.unwrap(result)
  if getmetatable(model) ~= Model then
    util.fail({ file = path, line = state.return_line },
      "the model file must return a model (end it with 'return model'), got %s", type(result))
  end
  return dsl.build(model)
end

return dsl
