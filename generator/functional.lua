-- Keras's functional API: any directed acyclic graph of layers.
--   local a, b = Input { shape = { 4, 3 } }, Input { shape = { 4, 2 } }
--   local seq, h, c = LSTM { 8, return_sequences = true, return_state = true }(a)
--   local merged = Concatenate {} ({ seq, b })
--   return Model { inputs = { a, b }, outputs = { Dense { 2 }(merged), h } }
-- A layer called on tensors infers its shapes at once (as Keras does) and
-- returns one tensor per output (Lua's multiple results). Every call is a
-- node of the graph: a layer called twice is shared (one set of weights, two
-- nodes), a tensor read by several layers fans out, and a Model called on
-- tensors is a layer whose call replays its own graph on them.
local util = require("util")
local common = require("layers.common")

local functional = {}

-- A node's input tensors and initial-state tensors (nil when it has none),
-- each through f.
function functional.node_tensors(node, f)
  local ins = {}
  for i, t in ipairs(node.inputs) do
    ins[i] = f(t)
  end
  local states
  if node.states then
    states = {}
    for i, t in ipairs(node.states) do
      states[i] = f(t)
    end
  end
  return ins, states
end

-- Names of layers, inputs and models: they become C identifiers, weight
-- names and text in the generated C, so they are plain and short.
function functional.check_name(at, n)
  if type(n) ~= "string" then
    util.fail(at, "argument 'name' must be a string, got %s (%s)", tostring(n), type(n))
  end
  if not n:match("^[%a_][%w_]*$") or #n > 64 then
    util.fail(at, "name '%s' must be 1 to 64 letters, digits or underscores, not starting with a digit",
      #n > 80 and (n:sub(1, 64) .. "...") or n)
  end
  return n
end

local Tensor = {}
Tensor.__index = Tensor
local TensorHandle = util.handle_type("Tensor")

-- The tensor behind a handle the description holds, or nil.
local function tensor_of(v)
  local t = util.unwrap(v)
  return getmetatable(t) == Tensor and t or nil
end
functional.tensor_of = tensor_of

-- Nodes are numbered in creation order, which is a topological order: a
-- node's inputs exist before it is made.
local node_count = 0

-- A node: `layer` called on `inputs` (and `states`, Keras's initial_state),
-- with the call's options; its outputs are tensors {node, index, shape}.
-- `index` is Keras's node index (the layer's calls, from 0). A tensor may
-- stand for another one (`alias`): the outputs of a Model called as a layer
-- are those of the replayed graph inside it.
local function new_node(layer, inputs, states, opts, shapes, at, index)
  node_count = node_count + 1
  local node = { layer = layer, inputs = inputs, states = states, opts = opts or {}, output_shapes = shapes,
    at = at, index = index, id = node_count, outputs = {} }
  for i, shape in ipairs(shapes) do
    node.outputs[i] = setmetatable({ node = node, index = i, shape = shape }, Tensor)
  end
  return node
end

local function handles(node)
  local hs = {}
  for i, t in ipairs(node.outputs) do
    hs[i] = util.handle(t, TensorHandle)
  end
  return hs
end

-- The tensor a tensor stands for once Model calls are replayed.
function functional.resolve(t)
  while t.alias do
    t = t.alias
  end
  return t
end

-- Input { shape = {...}, batch_size = B, name = "..." }
function functional.input_constructor(state, check_shape, at_of)
  return function(t)
    local at = at_of()
    at.class = "InputLayer"
    if type(t) ~= "table" then util.fail(at, "Input expects a table such as Input { shape = { 3, 4 } }") end
    -- the name first, so that every later error names the input
    local name = t.name
    if name ~= nil then functional.check_name(at, name) end
    if name == nil then
      -- tf.keras 2.x names inputs input_1, input_2, ...
      state.counters.input = (state.counters.input or 0) + 1
      name = "input_" .. state.counters.input
    end
    at.name = name
    for _, k in ipairs(util.sorted_keys(t)) do
      if k ~= "shape" and k ~= "batch_size" and k ~= "name" and k ~= "batch_shape" and k ~= "dtype" then
        util.fail(at, "Input: unknown argument '%s'", tostring(k))
      end
    end
    -- Keras's dtype: the floats compute in the unit's dtype (--dtype); the
    -- integers are tokens, which only an Embedding reads (lower.lua)
    local INPUT_DTYPES = { float32 = "float", float64 = "float", int32 = "int", int64 = "int" }
    if t.dtype ~= nil and not INPUT_DTYPES[t.dtype] then
      util.fail(at, "Input: dtype %s is not supported (write \"float32\", \"float64\", or \"int32\" or \"int64\" "
        .. "for an Embedding's tokens)", tostring(t.dtype))
    end
    local shape
    if t.batch_shape then
      shape = check_shape(at, "batch_shape", t.batch_shape)
    elseif t.shape then
      shape = { util.None }
      if t.batch_size ~= nil then shape[1] = check_shape(at, "batch_size", { t.batch_size })[1] end
      for _, d in ipairs(check_shape(at, "shape", t.shape)) do
        shape[#shape + 1] = d
      end
    else
      util.fail(at, "Input needs shape = {...}")
    end
    local layer = { name = name, at = at, is_input = true, output_shapes = { shape }, params = 0, nodes = {},
      integer = t.dtype ~= nil and INPUT_DTYPES[t.dtype] == "int" }
    layer.module = { class = "InputLayer" }
    local node = new_node(layer, {}, nil, nil, { shape }, at, 0)
    layer.nodes[1] = node
    return util.handle(node.outputs[1], TensorHandle)
  end
end

-- The InputLayer of `v` when v is what Input {} returned (Keras 3 puts
-- keras.Input(...) first in a Sequential's list), else nil.
function functional.input_layer_of(v)
  local t = getmetatable(v) == "Tensor" and util.unwrap(v)
  if t and t.node and t.node.layer.is_input then return t.node.layer end
  return nil
end

---------------------------------------------------------------- a call's arguments

-- What a call passes: positional tensors (or one list of them) and a table of
-- keyword arguments. Returns the list of tensors and the keywords.
local function call_arguments(at, class, ...)
  local args = table.pack(...)
  local tensors, kwargs, listed = {}, nil, false
  for i = 1, args.n do
    local a = args[i]
    if tensor_of(a) then
      if listed then util.fail(at, "%s: give the tensors in one list or one by one, not both", class) end
      tensors[#tensors + 1] = tensor_of(a)
    elseif type(a) == "table" and getmetatable(a) == nil and #a > 0 and next(a, #a > 0 and #a or nil) == nil then
      -- { a, b, ... }: a list of tensors (Keras's layer([a, b]))
      if #tensors > 0 or i ~= 1 then
        util.fail(at, "%s: the list of input tensors must be the first argument", class)
      end
      for k, v in ipairs(a) do
        local t = tensor_of(v)
        if not t then util.fail(at, "%s: element %d of the input list is not a tensor (got %s)", class, k, type(v)) end
        tensors[#tensors + 1] = t
      end
      listed = true
    elseif type(a) == "table" and getmetatable(a) == nil then
      if i ~= args.n then util.fail(at, "%s: the table of call options { ... } must be the last argument", class) end
      kwargs = a
    else
      util.fail(at, "a layer is called on a tensor (from Input or another layer), got %s", type(a))
    end
  end
  return tensors, kwargs or {}, listed
end

-- Keras's initial_state=: tensors of shape (batch, units), one per state of
-- the layer.
local function initial_states(layer, list, at, outs)
  if list == nil then return nil end
  if not layer.module.n_states then
    util.fail(at, "initial_state is implemented for SimpleRNN, LSTM and GRU, not %s", layer.module.class)
  end
  if tensor_of(list) then list = { list } end
  if type(list) ~= "table" or #list ~= layer.module.n_states then
    util.fail(at, "initial_state needs %d tensor(s) for %s", layer.module.n_states, layer.module.class)
  end
  local states = {}
  local want = outs[1][#outs[1]]
  for i, h in ipairs(list) do
    local st = tensor_of(h)
    if not st then
      util.fail(at, "initial_state %d must be a tensor of shape (None, %d), such as Input { shape = { %d } } or "
        .. "another layer's state", i, want, want)
    end
    if #st.shape ~= 2 or st.shape[2] ~= want then
      util.fail(at, "initial_state %d has shape %s, the layer needs (None, %d)", i, util.shape_str(st.shape), want)
    end
    states[i] = st
  end
  return states
end

-- The shapes of the tensors a module's build takes: one shape, or the list
-- of them for a layer of several inputs (merges, attention).
local function build_shapes(module, tensors)
  if not module.several_inputs then return tensors[1].shape end
  local shapes = {}
  for i, t in ipairs(tensors) do
    shapes[i] = t.shape
  end
  return shapes
end

local function weight_shapes(layer)
  local s = {}
  for i, w in ipairs(layer.weights or {}) do
    s[i] = w.name .. util.shape_str(w.shape)
  end
  return table.concat(s, " ")
end

-- Builds `layer` for one more call: the first call creates its weights; a
-- later one (a shared layer) must find the same weights, as in Keras, where
-- a layer's weights are made once, for its first input.
local function build_call(layer, tensors, opts, at)
  local before = layer.nodes and layer.nodes[1] and weight_shapes(layer)
  local shapes = build_shapes(layer.module, tensors)
  local outs = layer.module.build(layer, shapes, layer.name, opts)
  common.apply_trainable(layer)
  if before and weight_shapes(layer) ~= before then
    local first = layer.nodes[1].inputs[1].shape
    util.fail(at, "layer '%s' is shared: it was built for input %s and cannot take %s (its weights would "
      .. "differ); call it on tensors of the same feature size, or use another layer",
      layer.name, util.shape_str(first), util.shape_str(tensors[1].shape))
  end
  return outs
end

-- The keyword arguments of a call, checked against what the module takes.
local CALL_OPTIONS = { initial_state = true, use_causal_mask = true, return_attention_scores = true, key = true,
  query = true, value = true }

local function check_options(layer, kwargs, at)
  local module = layer.module
  local opts = {}
  for _, k in ipairs(util.sorted_keys(kwargs)) do
    local v = kwargs[k]
    if k == "mask" or k == "query_mask" or k == "value_mask" or k == "key_mask" or k == "attention_mask" then
      util.fail(at, "call argument '%s': masks are not implemented in rnnc yet (feed sequences without "
        .. "padding, or of one length per batch, instead)", k)
    elseif k == "training" then
      util.fail(at, "call argument 'training': rnnc generates the inference computation for forward and "
        .. "the training one for fit; remove the argument")
    elseif not CALL_OPTIONS[k] or not (module.call_options or {})[k] then
      local known = util.sorted_keys(module.call_options or {})
      util.fail(at, "unknown call argument '%s' for %s%s", tostring(k), module.class,
        #known > 0 and (" (it takes " .. table.concat(known, ", ") .. ")") or "")
    elseif module.call_options[k] == "boolean" and type(v) ~= "boolean" then
      util.fail(at, "call argument '%s' must be true or false, got %s", k, tostring(v))
    end
    opts[k] = v
  end
  return opts
end

-- The input tensors of a call, checked for the layer's kind: one tensor, a
-- list of two or more (merges), [query, value(, key)] (Attention), or
-- query, value(, key) (MultiHeadAttention).
local function input_tensors(layer, tensors, opts, listed, at)
  local module = layer.module
  local class = module.class
  local kind = module.several_inputs
  if not kind then
    if #tensors ~= 1 or listed then
      util.fail(at, "%s is called on one tensor, got %d", class, #tensors)
    end
    return tensors
  end
  if kind == "merge" then
    if not listed then
      util.fail(at, "%s is called on a list of tensors: %s { ... } ({ a, b })", class, class)
    end
    if #tensors < (module.min_inputs or 2) or #tensors > (module.max_inputs or 64) then
      util.fail(at, "%s takes %s input tensors, got %d", class, module.max_inputs == module.min_inputs and
        tostring(module.min_inputs) or ("at least " .. (module.min_inputs or 2)), #tensors)
    end
    return tensors
  end
  if kind == "attention" then
    if not listed or #tensors < 2 or #tensors > 3 then
      util.fail(at, "%s is called on a list { query, value } or { query, value, key }, got %d tensor(s)%s", class,
        #tensors, listed and "" or " not in a list")
    end
    return tensors
  end
  -- MultiHeadAttention(query, value, key=None)
  if listed then util.fail(at, "%s is called as layer(query, value) or layer(query, value, key)", class) end
  local q, v, k = tensors[1], tensors[2], tensors[3]
  if opts.query then q = tensor_of(opts.query) or util.fail(at, "call argument 'query' must be a tensor") end
  if opts.value then v = tensor_of(opts.value) or util.fail(at, "call argument 'value' must be a tensor") end
  if opts.key then k = tensor_of(opts.key) or util.fail(at, "call argument 'key' must be a tensor") end
  if not q or not v or #tensors > 3 or (opts.query and tensors[1]) then
    util.fail(at, "%s is called as layer(query, value) or layer(query, value, key)", class)
  end
  opts.query, opts.value, opts.key = nil, nil, nil
  return { q, v, k }
end

-- layer(x), layer({ a, b }), layer(q, v), each with an optional last table of
-- keyword arguments ({ initial_state = {...}, use_causal_mask = true, ... }):
-- builds the layer for these inputs and returns its output tensors.
function functional.call(layer, at, ...)
  if layer.wrapped then
    util.fail(at, "layer '%s' is wrapped by '%s': call the wrapper instead", layer.name, layer.wrapped.name)
  end
  local tensors, kwargs, listed = call_arguments(at, layer.module.class, ...)
  if #tensors == 0 and not kwargs.query then
    util.fail(at, "a layer is called on a tensor (from Input or another layer)")
  end
  local opts = check_options(layer, kwargs, at)
  tensors = input_tensors(layer, tensors, opts, listed, at)
  layer.nodes = layer.nodes or {}
  local outs = build_call(layer, tensors, opts, at)
  local states = initial_states(layer, opts.initial_state, at, outs)
  opts.initial_state = nil
  local node = new_node(layer, tensors, states, opts, outs, at, #layer.nodes)
  layer.nodes[#layer.nodes + 1] = node
  -- the summary's output shape: the first call's (Keras: "multiple" when
  -- the calls differ)
  layer.output_shapes = layer.output_shapes or outs
  layer.called = true
  return table.unpack(handles(node))
end

---------------------------------------------------------------- models

-- The nodes `outputs` are computed from, in topological (creation) order;
-- fails naming the layer when one of them needs a tensor that does not come
-- from `inputs` (Keras's "Graph disconnected").
local function graph_nodes(inputs, outputs, at)
  local is_input = {}
  for _, t in ipairs(inputs) do
    is_input[t.node] = true
  end
  local seen, list = {}, {}
  local function visit(t, from)
    local node = t.node
    if seen[node] then return end
    seen[node] = true
    if node.layer.is_input then
      if not is_input[node] then
        util.fail(at, "Model: graph disconnected: %s needs the input '%s', which is not among the model's inputs",
          from and ("layer '" .. from.layer.name .. "'") or "an output", node.layer.name)
      end
      return
    end
    for _, x in ipairs(node.inputs) do
      visit(x, node)
    end
    for _, x in ipairs(node.states or {}) do
      visit(x, node)
    end
    list[#list + 1] = node
  end
  for _, t in ipairs(outputs) do
    visit(t, nil)
  end
  table.sort(list, function(a, b)
    return a.id < b.id
  end)
  return list
end

-- Keras's order of model.layers (tf.keras functional.py, _map_graph_network
-- and _build_map): a depth-first walk from the outputs numbers the layers as
-- it first meets them; a node's depth is the longest path from it to an
-- output; layers go by decreasing depth (the deepest of their nodes), then
-- by that number. Input layers never used take depth 0.
local function keras_layer_order(inputs, outputs)
  local finished, order, index, n = {}, {}, {}, 0
  local function visit(t)
    local node = t.node
    if finished[node] then return end
    if not index[node.layer] then
      index[node.layer] = n
      n = n + 1
    end
    for _, x in ipairs(node.inputs) do
      visit(x)
    end
    for _, x in ipairs(node.states or {}) do
      visit(x)
    end
    finished[node] = true
    order[#order + 1] = node
  end
  for _, t in ipairs(outputs) do
    visit(t)
  end
  local node_depth, layer_depth = {}, {}
  for i = #order, 1, -1 do
    local node = order[i]
    local depth = math.max(node_depth[node] or 0, layer_depth[node.layer] or 0)
    layer_depth[node.layer] = depth
    node_depth[node] = depth
    for _, x in ipairs(node.inputs) do
      node_depth[x.node] = math.max(depth + 1, node_depth[x.node] or 0)
    end
    for _, x in ipairs(node.states or {}) do
      node_depth[x.node] = math.max(depth + 1, node_depth[x.node] or 0)
    end
  end
  for _, t in ipairs(inputs) do
    if not layer_depth[t.node.layer] then
      layer_depth[t.node.layer] = 0
      index[t.node.layer] = -1
      node_depth[t.node] = 0
    end
  end
  local layers = {}
  for layer in pairs(layer_depth) do
    layers[#layers + 1] = layer
  end
  table.sort(layers, function(a, b)
    if layer_depth[a] ~= layer_depth[b] then return layer_depth[a] > layer_depth[b] end
    return index[a] < index[b]
  end)
  return layers, node_depth
end

-- The nodes that compute: every node of `nodes`, a Model's call replaced by
-- the nodes of its replayed graph.
local function executable(nodes)
  local out = {}
  for _, node in ipairs(nodes) do
    if node.replay then
      for _, inner in ipairs(node.replay) do
        out[#out + 1] = inner
      end
    else
      out[#out + 1] = node
    end
  end
  return out
end

-- Keras's output names (tf.keras functional.py, _init_graph_network): the
-- name of the layer each output comes from, made unique with _1, _2, ...
-- (an LSTM's [output, h, c] are lstm, lstm_1, lstm_2).
function functional.output_names(outputs)
  local bases = {}
  for i, t in ipairs(outputs) do
    bases[i] = t.node.layer.name
  end
  return functional.unique_names(bases)
end

-- Names made unique as Keras makes output names unique: the second of a
-- base is base_1, then base_2, ...
function functional.unique_names(bases)
  local names, used, count = {}, {}, {}
  for i, base in ipairs(bases) do
    local proposal = base
    while used[proposal] do
      local k = count[base] or 1
      proposal = base .. "_" .. k
      count[base] = k + 1
    end
    used[proposal] = true
    names[i] = proposal
  end
  return names
end

-- Model { inputs = x or { x1, ... }, outputs = y or { y1, ... }, name = "..." }
-- Returns the fields of a model: its inputs and outputs, the nodes that
-- compute (in order), its layers in Keras's order (model.layers: those with
-- computation, a nested Model's layers in its place; model.summary_layers:
-- Keras's own list, input layers and nested Models included).
function functional.model_fields(t, at)
  if type(t) ~= "table" then util.fail(at, "Model expects a table { inputs = ..., outputs = ... }") end
  for _, k in ipairs(util.sorted_keys(t)) do
    if k ~= "inputs" and k ~= "outputs" and k ~= "name" and k ~= "trainable" then
      util.fail(at, "Model: unknown argument '%s'", tostring(k))
    end
  end
  local input_list = t.inputs
  if tensor_of(input_list) then input_list = { input_list } end
  if type(input_list) ~= "table" or #input_list == 0 then
    util.fail(at, "Model: inputs must be a tensor from Input { ... } or a list of them")
  end
  local inputs, input_layers = {}, {}
  for i, h in ipairs(input_list) do
    local x = tensor_of(h)
    if not x or not x.node.layer.is_input then
      util.fail(at, "Model: input %d must be a tensor returned by Input { ... }", i)
    end
    for j = 1, i - 1 do
      if inputs[j] == x then util.fail(at, "Model: the input '%s' is listed twice", x.node.layer.name) end
    end
    inputs[i], input_layers[i] = x, x.node.layer
  end
  local outputs = t.outputs
  if tensor_of(outputs) then outputs = { outputs } end
  if type(outputs) ~= "table" or #outputs == 0 then
    util.fail(at, "Model: outputs must be a tensor or a list of tensors")
  end
  local out_tensors = {}
  for i, oh in ipairs(outputs) do
    local o = tensor_of(oh)
    if not o then util.fail(at, "Model: output %d is not a tensor", i) end
    out_tensors[i] = o
  end
  local nodes = graph_nodes(inputs, out_tensors, at)
  local order, node_depth = keras_layer_order(inputs, out_tensors)
  -- layer names are unique in a model (Keras: "All layer names should be unique")
  local names = {}
  for _, l in ipairs(order) do
    if names[l.name] then
      util.fail(at, "Model: the name '%s' is used by two layers of the model (an input and a layer, or two models)",
        l.name)
    end
    names[l.name] = true
  end
  -- the layers with computation, in Keras's order, nested Models' in their place
  local layers, seen = {}, {}
  local function add(l)
    if l.is_input then return end
    if l.is_model then
      for _, inner in ipairs(l.layers) do
        add(inner)
      end
    elseif not seen[l] then
      seen[l] = true
      layers[#layers + 1] = l
    end
  end
  for _, l in ipairs(order) do
    add(l)
  end
  if #layers == 0 then util.fail(at, "Model: the model has no layer between its inputs and outputs") end
  return {
    output_names = functional.output_names(out_tensors),
    kind = "Functional",
    name = t.name or "model",
    inputs = input_layers,
    input_tensors = inputs,
    outputs = out_tensors,
    nodes = executable(nodes),
    top_nodes = nodes,
    summary_layers = order,
    node_depth = node_depth,
    layers = layers,
    input_shape = util.copy(inputs[1].shape),
  }
end

-- A Model called as a layer, model(x) or model({ a, b }): one node of the
-- outer graph (the summary's row), whose computation is the model's own
-- graph replayed on the new inputs (each inner layer called once more, so
-- its weights are shared with the inner model).
function functional.call_model(model, at, ...)
  local tensors, kwargs = call_arguments(at, "Model", ...)
  if next(kwargs) then
    util.fail(at, "model '%s' called with options: a Model takes only its input tensors", model.name)
  end
  if #tensors ~= #model.input_tensors then
    util.fail(at, "model '%s' takes %d input tensor(s), got %d", model.name, #model.input_tensors, #tensors)
  end
  local map = {}
  for i, x in ipairs(tensors) do
    local want = model.input_tensors[i].shape
    local ok = #x.shape == #want
    for d = 2, #want do
      if ok and want[d] ~= util.None and x.shape[d] ~= want[d] then ok = false end
    end
    if not ok then
      util.fail(at, "model '%s': input %d has shape %s, the model takes %s", model.name, i, util.shape_str(x.shape),
        util.shape_str(want))
    end
    map[model.input_tensors[i]] = x
  end
  local function mapped(t)
    local r = map[t]
    if not r then error("internal: a tensor of model '" .. model.name .. "' is not computed before its use") end
    return r
  end
  local replay = {}
  for _, inner in ipairs(model.nodes) do
    local ins, states = functional.node_tensors(inner, mapped)
    local outs = build_call(inner.layer, ins, inner.opts, at)
    local node = new_node(inner.layer, ins, states, inner.opts, outs, at, -1)
    node.replayed = true
    replay[#replay + 1] = node
    for i, o in ipairs(inner.outputs) do
      map[o] = node.outputs[i]
    end
  end
  model.nodes_called = (model.nodes_called or 0) + 1
  local shapes, targets = {}, {}
  for i, o in ipairs(model.outputs) do
    targets[i] = mapped(o)
    shapes[i] = targets[i].shape
  end
  -- Keras: a functional model's node 0 is its own construction; calls follow
  local node = new_node(model, tensors, nil, {}, shapes, at, model.nodes_called)
  node.replay = replay
  for i, o in ipairs(node.outputs) do
    o.alias = targets[i]
  end
  model.call_nodes = model.call_nodes or {}
  model.call_nodes[#model.call_nodes + 1] = node
  model.output_shapes = model.output_shapes or shapes
  return table.unpack(handles(node))
end

---------------------------------------------------------------- Sequential

-- A built Sequential model as a graph: one input (named as Keras names it,
-- <first layer>_input), each layer called on the output of the one before.
function functional.sequential_graph(model)
  local first = model.layers[1]
  local declared = model.input_layer
  local input = { name = declared and declared.name or (first.name .. "_input"), is_input = true,
    output_shapes = { model.input_shape }, module = { class = "InputLayer" }, nodes = {},
    integer = declared and declared.integer, at = declared and declared.at }
  local input_node = new_node(input, {}, nil, nil, { model.input_shape }, first.at, 0)
  input.nodes[1] = input_node
  local x = input_node.outputs[1]
  local nodes = {}
  for _, layer in ipairs(model.layers) do
    local node = new_node(layer, { x }, nil, {}, layer.output_shapes, layer.at, 0)
    nodes[#nodes + 1] = node
    x = node.outputs[1]
  end
  return { inputs = { input }, input_tensors = { input_node.outputs[1] }, nodes = nodes, outputs = { x },
    output_names = { model.layers[#model.layers].name } }
end

-- The model as a graph: its inputs (layers and tensors), the nodes that
-- compute in order, the output tensors and their names. A Sequential's is
-- made anew (its layers may still change while the description runs).
function functional.graph(model)
  if model.kind == "Functional" then return model end
  return functional.sequential_graph(model)
end

-- A buffer prefix for each call of a layer: its name for the first call, a
-- name no layer has for the later calls of a shared layer.
function functional.call_prefixes(graph)
  local taken = {}
  for _, node in ipairs(graph.nodes) do
    taken[node.layer.name] = true
  end
  for _, l in ipairs(graph.inputs) do
    taken[l.name] = true
  end
  local count, prefix = {}, {}
  for _, node in ipairs(graph.nodes) do
    local k = (count[node.layer] or 0) + 1
    count[node.layer] = k
    local p = node.layer.name
    if k > 1 then
      p = p .. "_call" .. k
      while taken[p] do
        p = p .. "_"
      end
      taken[p] = true
    end
    prefix[node] = p
  end
  return prefix
end

return functional
