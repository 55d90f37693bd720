-- Keras's functional API for linear chains:
--   local inputs = Input { shape = { 1, 2 } }
--   local seq, state = SimpleRNN { 3, return_sequences = true, return_state = true }(inputs)
--   return Model { inputs = inputs, outputs = { seq, state } }
-- A layer called on a tensor infers its shapes at once (as Keras does) and
-- returns one tensor per output (Lua's multiple results). A Model must be a
-- chain: each layer takes the first output of the one before, and the
-- model's outputs all come from the last layer.
local util = require("util")

local functional = {}

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

local function tensor(producer, index, shape)
  return util.handle(setmetatable({ producer = producer, index = index, shape = shape }, Tensor), TensorHandle)
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
      if k ~= "shape" and k ~= "batch_size" and k ~= "name" and k ~= "batch_shape" then
        util.fail(at, "Input: unknown argument '%s'", tostring(k))
      end
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
    local layer = { name = name, at = at, is_input = true, output_shapes = { shape }, params = 0 }
    layer.module = { class = "InputLayer" }
    return tensor(layer, 1, shape)
  end
end

-- Keras's initial_state=: tensors from Input, one per state of the layer.
local function initial_states(layer, extra, at, outs)
  if extra == nil then return nil end
  if type(extra) ~= "table" then
    util.fail(at, "the second argument of a layer call is a table { initial_state = ... }")
  end
  for _, k in ipairs(util.sorted_keys(extra)) do
    if k ~= "initial_state" then util.fail(at, "unknown call argument '%s'", tostring(k)) end
  end
  local list = extra.initial_state
  if list == nil then return nil end
  if not layer.module.n_states then
    util.fail(at, "initial_state is implemented for SimpleRNN, LSTM and GRU, not %s", layer.module.class)
  end
  if tensor_of(list) then list = { list } end
  if type(list) ~= "table" or #list ~= layer.module.n_states then
    util.fail(at, "initial_state needs %d tensor(s) for %s", layer.module.n_states, layer.module.class)
  end
  local states = {}
  for i, h in ipairs(list) do
    local st = tensor_of(h)
    if not st or not st.producer.is_input then
      util.fail(at, "initial_state %d must be a tensor from Input { shape = { %d } }", i, layer.args.units)
    end
    local want = outs[1][#outs[1]]
    if #st.shape ~= 2 or st.shape[2] ~= want then
      util.fail(at, "initial_state %d has shape %s, the layer needs (None, %d)", i, util.shape_str(st.shape), want)
    end
    if st.producer.consumer then
      util.fail(at, "the input '%s' already feeds another layer's state", st.producer.name)
    end
    st.producer.consumer = layer
    states[i] = st.producer
  end
  return states
end

-- layer(x [, { initial_state = {...} }]): builds the layer on x's shape,
-- returns its output tensors.
function functional.call(layer, xh, at, extra)
  local x = tensor_of(xh)
  if not x then
    util.fail(at, "a layer is called on a tensor (from Input or another layer), got %s", type(x))
  end
  if layer.called then
    util.fail(at, "layer '%s' is called twice: shared layers are not supported", layer.name)
  end
  if layer.wrapped then
    util.fail(at, "layer '%s' is wrapped by '%s': call the wrapper instead", layer.name, layer.wrapped.name)
  end
  layer.called = true
  layer.input_tensor = x
  local outs = layer.module.build(layer, x.shape, layer.name)
  layer.initial_inputs = initial_states(layer, extra, at, outs)
  layer.output_shapes = outs
  local results = {}
  for i, shape in ipairs(outs) do
    results[i] = tensor(layer, i, shape)
  end
  layer.output_tensors = results
  return table.unpack(results)
end

-- Model { inputs = x, outputs = y or { y1, y2, ... }, name = "..." }
-- Returns the fields of a model: layers in order, the input layer, and which
-- outputs of the last layer the model exposes.
function functional.model_fields(t, at)
  if type(t) ~= "table" then util.fail(at, "Model expects a table { inputs = ..., outputs = ... }") end
  for _, k in ipairs(util.sorted_keys(t)) do
    if k ~= "inputs" and k ~= "outputs" and k ~= "name" then
      util.fail(at, "Model: unknown argument '%s'", tostring(k))
    end
  end
  local input_list = t.inputs
  if tensor_of(input_list) then input_list = { input_list } end
  if type(input_list) ~= "table" or #input_list == 0 then
    util.fail(at, "Model: inputs must be a tensor from Input { ... } or a list of them")
  end
  local inputs = tensor_of(input_list[1])
  if not inputs or not inputs.producer.is_input then
    util.fail(at, "Model: inputs must be the tensor returned by Input { ... }")
  end
  local outputs = t.outputs
  if tensor_of(outputs) then outputs = { outputs } end
  if type(outputs) ~= "table" or #outputs == 0 then
    util.fail(at, "Model: outputs must be a tensor or a list of tensors")
  end
  local last = nil
  local picks = {}
  for i, oh in ipairs(outputs) do
    local o = tensor_of(oh)
    if not o then util.fail(at, "Model: output %d is not a tensor", i) end
    if o.producer.is_input then util.fail(at, "Model: an output must come from a layer, not from the input") end
    last = last or o.producer
    if o.producer ~= last then
      util.fail(at, "Model: rnnc implements linear chains: every output must come from the last layer "
        .. "(got '%s' and '%s')", last.name, o.producer.name)
    end
    picks[i] = o.index
  end
  -- The unit's outputs are the last layer's, in Keras order (the reference
  -- runtime and the descriptor describe exactly those).
  local n_out = #last.output_tensors
  local in_order = #picks == n_out
  for i, p in ipairs(picks) do
    if p ~= i then in_order = false end
  end
  if not in_order then
    util.fail(at, "Model: outputs must be all %d outputs of '%s' in Keras's order (output, then states); "
      .. "other selections are not implemented", n_out, last.name)
  end
  local chain = {}
  local layer = last
  while not layer.is_input do
    table.insert(chain, 1, layer)
    local x = layer.input_tensor
    if x.index ~= 1 then
      util.fail(layer.at, "rnnc implements linear chains: this layer takes output %d of '%s'", x.index,
        x.producer.name)
    end
    layer = x.producer
  end
  if layer ~= inputs.producer then util.fail(at, "Model: the outputs do not come from these inputs") end
  -- The other inputs: the initial states, in layer order then state order
  -- (the layout of the generated unit's input).
  local state_inputs = {}
  for _, l in ipairs(chain) do
    for _, st in ipairs(l.initial_inputs or {}) do
      state_inputs[#state_inputs + 1] = st
    end
  end
  if #input_list - 1 ~= #state_inputs then
    util.fail(at, "Model: %d input(s) given; the chain uses its main input and %d initial state input(s)",
      #input_list, #state_inputs)
  end
  for i, st in ipairs(state_inputs) do
    local given = tensor_of(input_list[i + 1])
    if not given or given.producer ~= st then
      util.fail(at, "Model: input %d must be '%s': list the main input, then each layer's initial states "
        .. "in layer order", i + 1, st.name)
    end
  end
  return {
    state_inputs = state_inputs,
    kind = "Functional",
    name = t.name or "model",
    input_layer = layer,
    layers = chain,
    output_picks = picks,
    input_shape = util.copy(inputs.shape),
  }
end

return functional
