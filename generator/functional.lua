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
    for _, k in ipairs(util.sorted_keys(t)) do
      if k ~= "shape" and k ~= "batch_size" and k ~= "name" and k ~= "batch_shape" then
        util.fail(at, "Input: unknown argument '%s'", tostring(k))
      end
    end
    local shape
    if t.batch_shape then
      shape = check_shape(at, "batch_shape", t.batch_shape)
    elseif t.shape then
      shape = { t.batch_size or util.None }
      for _, d in ipairs(check_shape(at, "shape", t.shape)) do
        shape[#shape + 1] = d
      end
    else
      util.fail(at, "Input needs shape = {...}")
    end
    local name = t.name
    if name == nil then
      -- tf.keras 2.x names inputs input_1, input_2, ...
      state.counters.input = (state.counters.input or 0) + 1
      name = "input_" .. state.counters.input
    end
    at.name = name
    local layer = { name = name, at = at, is_input = true, output_shapes = { shape }, params = 0 }
    layer.module = { class = "InputLayer" }
    return tensor(layer, 1, shape)
  end
end

-- layer(x): builds the layer on x's shape, returns its output tensors.
function functional.call(layer, xh, at)
  local x = tensor_of(xh)
  if not x then
    util.fail(at, "a layer is called on a tensor (from Input or another layer), got %s", type(x))
  end
  if layer.called then
    util.fail(at, "layer '%s' is called twice: shared layers are not supported", layer.name)
  end
  layer.called = true
  layer.input_tensor = x
  local outs = layer.module.build(layer, x.shape, layer.name)
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
  local inputs = t.inputs
  if type(inputs) == "table" and not tensor_of(inputs) and #inputs == 1 then inputs = inputs[1] end
  inputs = tensor_of(inputs)
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
  return {
    kind = "Functional",
    name = t.name or "model",
    input_layer = layer,
    layers = chain,
    output_picks = picks,
    input_shape = util.copy(inputs.shape),
  }
end

return functional
