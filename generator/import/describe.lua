-- The imported model as an ordinary rnnc description: Keras's layer names,
-- every argument that differs from rnnc's default, the ones whose meaning
-- changed between Keras versions always, the input shape (None kept) and
-- compile{} from the file's training configuration.
local keras = require("import.keras")
local compile = require("import.compile")

local printable = keras.printable

local describe = {}
local graph_text, output_renames

-- NAME from FILE: its base name without extension, as a C identifier.
function describe.default_name(file)
  local base = file:match("([^/]*)$"):gsub("%.[^.]*$", "")
  base = base:gsub("[^%w_]", "_")
  if base == "" or base:match("^%d") then base = "model_" .. base end
  return base:sub(1, 64)
end

-- rnnc's defaults; an argument equal to its default is not written, except
-- those always written because Keras versions disagree on their default.
local DEFAULTS = {
  activation = "tanh", use_bias = true, return_sequences = false, return_state = false, go_backwards = false,
  unroll = false, zero_output_for_mask = false, unit_forget_bias = true, kernel_initializer = "glorot_uniform",
  recurrent_initializer = "orthogonal", bias_initializer = "zeros", merge_mode = "concat",
}
local ALWAYS = { recurrent_activation = true, reset_after = true }
local FRONT_POSITIONAL = { Conv1D = { "filters", "kernel_size" }, SeparableConv1D = { "filters", "kernel_size" },
  DepthwiseConv1D = { "kernel_size" }, MaxPooling1D = { "pool_size" }, AveragePooling1D = { "pool_size" },
  RepeatVector = { "n" }, Reshape = { "target_shape" }, Permute = { "dims" }, Dropout = { "rate" },
  SpatialDropout1D = { "rate" }, GaussianNoise = { "stddev" }, GaussianDropout = { "rate" },
  Embedding = { "input_dim", "output_dim" } }
-- The front-end layers' defaults (rnnc's, which are Keras's).
local FRONT_DEFAULTS = {
  activation = "linear", use_bias = true, strides = 1, padding = "valid", dilation_rate = 1, groups = 1,
  depth_multiplier = 1, kernel_initializer = "glorot_uniform", depthwise_initializer = "glorot_uniform",
  pointwise_initializer = "glorot_uniform", bias_initializer = "zeros", keepdims = false, axis = -1, epsilon = 1e-3,
  momentum = 0.99, center = true, scale = true, rms_scaling = false, beta_initializer = "zeros",
  gamma_initializer = "ones", moving_mean_initializer = "zeros", moving_variance_initializer = "ones", size = 2,
  embeddings_initializer = "random_uniform", mask_zero = false,
  mask_value = 0,
}

-- The merge layers' defaults (Keras's: Concatenate axis=-1, Dot
-- normalize=False; Dot's axes has none and is always written).
-- The attention layers' defaults (Keras's; use_scale differs between them).
local ATTENTION_DEFAULTS = {
  Attention = { use_scale = false, score_mode = "dot" },
  AdditiveAttention = { use_scale = true },
  MultiHeadAttention = { use_bias = true, kernel_initializer = "glorot_uniform", bias_initializer = "zeros" },
}
local MERGE_DEFAULTS = { axis = -1, normalize = false }

-- Names rnnc accepts: C identifiers of at most 64 characters, unique.
local function rnnc_name(used, name)
  local n = name:gsub("[^%w_]", "_")
  if n == "" or n:match("^%d") then n = "_" .. n end
  n = n:sub(1, 64)
  local base, k = n, 1
  while used[n] do
    k = k + 1
    local suffix = "_" .. k
    n = base:sub(1, 64 - #suffix) .. suffix
  end
  used[n] = true
  return n
end

local function value_text(v)
  if type(v) == "table" and v.raw then return v.raw end -- a DSL expression (keras.rule)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do
      parts[i] = value_text(x)
    end
    return "{ " .. table.concat(parts, ", ") .. " }"
  end
  if type(v) == "boolean" then return tostring(v) end
  if type(v) == "number" then return compile.number(v) end
  if v == "None" then return "None" end
  return string.format("%q", v)
end

local function shape_text(s)
  local parts = {}
  for i, d in ipairs(s) do
    parts[i] = d == "None" and "None" or tostring(d)
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

-- One layer constructor. `input` is the batch shape for a Sequential's
-- first layer.
local function layer_text(rec, used, comments, input)
  rec.rnnc_name = rnnc_name(used, rec.keras_name)
  if rec.rnnc_name ~= rec.keras_name then
    comments[#comments + 1] = string.format("layer '%s' is named '%s' in the file", rec.rnnc_name,
      printable(rec.keras_name))
  end
  for _, n in ipairs(rec.notes) do
    comments[#comments + 1] = string.format("%s: %s", rec.rnnc_name, n)
  end
  local a = rec.args
  local parts = {}
  if a.units then parts[#parts + 1] = tostring(a.units) end
  -- Keras's positional arguments of the front-end layers, as Keras code
  -- writes them: Conv1D(64, 3), DepthwiseConv1D(3), MaxPooling1D(2)
  local positional = FRONT_POSITIONAL[rec.class] or {}
  for _, k in ipairs(positional) do
    if a[k] ~= nil then parts[#parts + 1] = value_text(a[k]) end
  end
  if rec.written_class and rec.written_class ~= rec.class then
    comments[#comments + 1] = string.format("%s: Keras 1's %s", rec.rnnc_name, printable(rec.written_class))
  end
  if rec.inner then parts[#parts + 1] = layer_text(rec.inner, used, comments) end
  parts[#parts + 1] = string.format("name = %q", rec.rnnc_name)
  if input then
    if input[1] == "None" then
      local dims = { table.unpack(input, 2) }
      parts[#parts + 1] = "input_shape = " .. shape_text(dims)
    else
      parts[#parts + 1] = "batch_input_shape = " .. shape_text(input)
    end
  end
  local defaults = DEFAULTS
  if rec.class == "Dense" then defaults = setmetatable({ activation = "linear" }, { __index = DEFAULTS }) end
  if keras.FRONT_KEYS[rec.class] then defaults = FRONT_DEFAULTS end
  if keras.MERGE_KEYS[rec.class] then defaults = MERGE_DEFAULTS end
  if keras.ATTENTION_KEYS[rec.class] then defaults = ATTENTION_DEFAULTS[rec.class] end
  for _, k in ipairs(keras.ARG_ORDER) do
    local v = a[k]
    local is_positional = false
    for _, pk in ipairs(positional) do
      if pk == k and a[k] ~= nil then is_positional = true end
    end
    if v ~= nil and k ~= "units" and k ~= "layer" and k ~= "name" and not is_positional
      and (ALWAYS[k] or v ~= defaults[k]) then
      parts[#parts + 1] = k .. " = " .. value_text(v)
    end
  end
  return string.format("%s { %s }", rec.class, table.concat(parts, ", "))
end

-- Lua's reserved words, and the description language's names a graph's
-- text uses after its layers are made: a layer's variable never takes them.
local RESERVED = { ["and"] = true, ["break"] = true, ["do"] = true, ["else"] = true, ["elseif"] = true,
  ["end"] = true, ["false"] = true, ["for"] = true, ["function"] = true, ["goto"] = true, ["if"] = true,
  ["in"] = true, ["local"] = true, ["nil"] = true, ["not"] = true, ["or"] = true, ["repeat"] = true,
  ["return"] = true, ["then"] = true, ["true"] = true, ["until"] = true, ["while"] = true, model = true,
  None = true, v = true }

-- A Lua variable for `base` (a C identifier): not reserved, not a
-- constructor's name (those start with a capital), unique.
local function lua_var(vars, base)
  local n = base
  if RESERVED[n] or n:match("^%u") then n = "l_" .. n end
  local stem, k = n, 1
  while vars[n] do
    k = k + 1
    n = stem .. "_" .. k
  end
  vars[n] = true
  return n
end

-- The names of a call's output tensors: OUT, then LSTM's H and C or
-- another recurrent layer's H (return_state), or OUT1, OUT2, ...
local function output_vars(vars, base, rec, n)
  local suffixes = { "out" }
  local states = keras.RECURRENT_STATES[rec.class]
  if n == 1 + (states or 0) and n > 1 then
    suffixes = rec.class == "LSTM" and { "out", "h", "c" } or { "out", "h" }
  end
  local out = {}
  for i = 1, n do
    out[i] = lua_var(vars, base .. "_" .. (suffixes[i] or ("out" .. (i - 1))))
  end
  return out
end

-- A functional graph: its Inputs, each layer made once, then its calls in
-- an order where a call's tensors come first (a shared layer's every call
-- on its one object), and Model { inputs, outputs }.
function graph_text(model, used, comments)
  local g = model.graph
  local vars = {}
  local lines = {}
  -- the models used as layers (written first, each a Model of its own)
  local nested = {}
  for _, node in ipairs(g.nodes) do
    if node.rec.class == "Model" and not nested[node.rec] then
      nested[#nested + 1] = node.rec
      nested[node.rec] = true
    end
  end
  -- Lua allows 200 local variables in a chunk: a large graph keeps its
  -- layers and tensors in one table
  local count = #model.layers + 1
  for _, m in ipairs({ model, table.unpack(nested) }) do
    local graph = m.graph or m.model.graph
    count = count + #graph.inputs + 1
    for _, node in ipairs(graph.nodes) do
      count = count + node.outputs
    end
  end
  local big = count > 180
  if big then lines[#lines + 1] = "local v = {}" end
  local function decl(names)
    if not big then return "local " .. table.concat(names, ", ") end
    local t = {}
    for i, n in ipairs(names) do
      t[i] = "v." .. n
    end
    return table.concat(t, ", ")
  end
  local function ref(name)
    return big and ("v." .. name) or name
  end
  local function key(layer, node, t)
    return layer .. "\0" .. node .. "\0" .. t
  end
  -- every layer made once (a nested model's too: its Model calls them)
  local layer_var = {}
  for _, rec in ipairs(model.layers) do
    local text = layer_text(rec, used, comments)
    local var = lua_var(vars, rec.rnnc_name)
    layer_var[rec] = ref(var)
    lines[#lines + 1] = string.format("%s = %s", decl({ var }), text)
  end
  local function list(t)
    return #t == 1 and t[1] or ("{ " .. table.concat(t, ", ") .. " }")
  end
  -- one graph: its Inputs, its calls, its Model
  local function write_graph(graph, model_decl, model_name)
    local tensor = {} -- "layer\0node\0tensor" -> variable
    local input_vars = {}
    for i, input in ipairs(graph.inputs) do
      local name = rnnc_name(used, input.name)
      if name ~= input.name then
        comments[#comments + 1] = string.format("input '%s' is named '%s' in the file", name, printable(input.name))
      end
      local var = lua_var(vars, name)
      input_vars[i] = ref(var)
      tensor[key(input.name, 0, 0)] = ref(var)
      lines[#lines + 1] = string.format("%s = Input { batch_shape = %s, name = %q%s }", decl({ var }),
        shape_text(input.shape), name, input.integer and ', dtype = "int32"' or "")
    end
    local seen = {}
    for _, node in ipairs(graph.nodes) do
      local rec = node.rec
      seen[rec] = (seen[rec] or 0) + 1
      local base = rec.rnnc_name
      -- a shared layer's later calls, as rnnc names their buffers (functional.lua call_prefixes)
      if seen[rec] > 1 then base = base .. "_call" .. seen[rec] end
      local outs = output_vars(vars, base, rec, node.outputs)
      local function arg(r)
        return assert(tensor[key(r.layer, r.node, r.tensor)], "a tensor used before it is computed")
      end
      local ins = {}
      for i, r in ipairs(node.inputs) do
        ins[i] = arg(r)
      end
      -- a list (merges, Attention), the tensors by position
      -- (MultiHeadAttention's query, value, key) or one tensor
      local args = node.listed and ("{ " .. table.concat(ins, ", ") .. " }") or table.concat(ins, ", ")
      if node.states then
        local st = {}
        for i, r in ipairs(node.states) do
          st[i] = arg(r)
        end
        args = args .. ", { initial_state = { " .. table.concat(st, ", ") .. " } }"
      end
      if node.opts then
        local o = {}
        for _, k in ipairs({ "use_causal_mask", "return_attention_scores" }) do
          if node.opts[k] then o[#o + 1] = k .. " = true" end
        end
        args = args .. ", { " .. table.concat(o, ", ") .. " }"
      end
      lines[#lines + 1] = string.format("%s = %s(%s)", decl(outs), layer_var[rec], args)
      for i, o in ipairs(outs) do
        tensor[key(rec.keras_name, node.index, i - 1)] = ref(o)
      end
    end
    local outputs = {}
    for i, r in ipairs(graph.outputs) do
      outputs[i] = tensor[key(r.layer, r.node, r.tensor)]
    end
    lines[#lines + 1] = string.format("%s = Model { inputs = %s, outputs = %s, name = %q }", model_decl,
      list(input_vars), list(outputs), model_name)
  end
  for _, rec in ipairs(nested) do
    rec.rnnc_name = rnnc_name(used, rec.keras_name)
    if rec.rnnc_name ~= rec.keras_name then
      comments[#comments + 1] = string.format("model '%s' is named '%s' in the file", rec.rnnc_name,
        printable(rec.keras_name))
    end
    local var = lua_var(vars, rec.rnnc_name)
    layer_var[rec] = ref(var)
    lines[#lines + 1] = string.format("-- the model '%s', used as a layer below", rec.rnnc_name)
    write_graph(rec.model.graph, decl({ var }), rec.rnnc_name)
  end
  write_graph(g, "local model", rnnc_name({}, model.name or "model"))
  return table.concat(lines, "\n") .. "\n"
end

-- Keras's output names (tf.keras functional.py _init_graph_network):
-- each output's layer name, made unique with _1, _2, ... as
-- generator/functional.lua makes them
local output_names = require("functional").unique_names

-- The file's output names -> the description's, where layers were renamed
-- (the keys of per-output losses, loss_weights and metrics).
function output_renames(model)
  local keras_bases, rnnc_bases = {}, {}
  if model.graph then
    local by_name = {}
    for _, rec in ipairs(model.layers) do
      by_name[rec.keras_name] = rec
    end
    for i, r in ipairs(model.graph.outputs) do
      keras_bases[i] = r.layer
      rnnc_bases[i] = by_name[r.layer] and by_name[r.layer].rnnc_name or r.layer
    end
  elseif model.kind == "Functional" and #model.layers > 0 then
    local last = model.layers[#model.layers]
    for i = 1, model.outputs or 1 do
      keras_bases[i], rnnc_bases[i] = last.keras_name, last.rnnc_name or last.keras_name
    end
  else
    return nil
  end
  local from, to = output_names(keras_bases), output_names(rnnc_bases)
  local rename = {}
  for i, n in ipairs(from) do
    rename[n] = to[i]
  end
  return rename
end

-- The whole description.
function describe.text(model, training, notes, info)
  local used = {}
  local comments = {}
  local body = {}
  if model.kind == "Sequential" then
    local lines = {}
    for i, rec in ipairs(model.layers) do
      lines[i] = "  " .. layer_text(rec, used, comments, i == 1 and model.input.shape or nil) .. ","
    end
    local name = model.name and string.format("  name = %q,\n", rnnc_name({}, model.name)) or ""
    body[#body + 1] = "local model = Sequential {\n" .. name .. table.concat(lines, "\n") .. "\n}\n"
  elseif model.graph then
    body[#body + 1] = graph_text(model, used, comments)
  else
    local input = rnnc_name(used, model.input.name or "input_1")
    body[#body + 1] = string.format("local %s = Input { batch_shape = %s, name = %q }\n", "inputs",
      shape_text(model.input.shape), input)
    body[#body + 1] = "local x = inputs\n"
    for i, rec in ipairs(model.layers) do
      local call = layer_text(rec, used, comments)
      if i < #model.layers then
        body[#body + 1] = string.format("x = %s(x)\n", call)
      else
        body[#body + 1] = string.format("local outputs = { %s(x) }\n", call)
      end
    end
    body[#body + 1] = string.format("local model = Model { inputs = inputs, outputs = outputs, name = %q }\n",
      rnnc_name({}, model.name or "model"))
  end
  local head = {
    string.format("-- Imported by `rnnc import` from %s", printable(info.file, 200)),
  }
  if info.weights then head[#head + 1] = string.format("--   with the weights of %s", printable(info.weights, 200)) end
  head[#head + 1] = string.format("--   %s written by %s%s%s", info.format, info.version.writer or "an unknown Keras",
    info.version_inferred and " (the version inferred from the configuration's form)" or "",
    info.backend and (", backend " .. printable(info.backend)) or "")
  head[#head + 1] = string.format("--   sha256 %s", info.sha256)
  if info.weights_sha256 then head[#head + 1] = string.format("--   weights sha256 %s", info.weights_sha256) end
  head[#head + 1] = string.format("--   weights: %s.safetensors, under rnnc's names", info.name)
  head[#head + 1] = "-- Version-dependent meanings are written out, never left to defaults: recurrent_activation and"
  head[#head + 1] = "-- GRU reset_after on every layer; a hard_sigmoid of Keras <= 2 (clip(0.2 x + 0.5, 0, 1)) is"
  head[#head + 1] = "-- rnnc's hard_sigmoid_keras2, one of Keras 3 (relu6(x + 3) / 6) rnnc's hard_sigmoid."
  for _, c in ipairs(comments) do
    head[#head + 1] = "-- " .. c
  end
  local tail = {}
  if training then
    tail[#tail + 1] = compile.text(training, output_renames(model))
  end
  for _, n in ipairs(notes) do
    tail[#tail + 1] = "-- " .. printable(n, 400) .. "\n"
  end
  if not training then
    tail[#tail + 1] = "-- no compile{}: the file's training configuration is missing or not supported (see above); "
      .. "prediction needs none\n"
  end
  tail[#tail + 1] = "return model\n"
  return table.concat(head, "\n") .. "\n" .. table.concat(body) .. table.concat(tail)
end

return describe
