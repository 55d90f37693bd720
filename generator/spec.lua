-- Serialises a built model for the reference runtime (format documented in
-- runtime/reference/rnnc_ref.h): one `input` line per model input, one
-- `layer` line (or two: Bidirectional and its wrapped layer) per call of a
-- layer in the order the calls compute, `in=`/`state=` naming the tensors a
-- call reads where they are not the previous call's first output, `share=`
-- for a later call of a shared layer, `output` lines where the outputs are
-- not the last call's, and the losses.
local catalog = require("catalog")
local functional = require("functional")
local rules = require("layers.rules")

local spec = {}

-- shapes: the per-sample shape of every input (the unit's interface).
-- losses: the unit's losses per output (training.interface), or nil.
-- Whether the model's last inputs are the initial states of its recurrent
-- calls, in call order and used nowhere else: the spec then says
-- initial_state=1 on those calls and lists the other inputs only (the form
-- the reference runtime reads as "the states are the next inputs").
local function legacy_states(graph)
  local index, used = {}, {}
  for i, t in ipairs(graph.input_tensors) do
    index[t] = i
  end
  for _, node in ipairs(graph.nodes) do
    for _, t in ipairs(node.inputs) do
      used[functional.resolve(t)] = true
    end
  end
  for _, t in ipairs(graph.outputs) do
    used[functional.resolve(t)] = true
  end
  local order = {}
  for _, node in ipairs(graph.nodes) do
    for _, t in ipairs(node.states or {}) do
      local r = functional.resolve(t)
      if not index[r] or used[r] then return nil end
      order[#order + 1] = index[r]
    end
  end
  if #order == 0 then return nil end
  local first = #graph.input_tensors - #order + 1
  for i, idx in ipairs(order) do
    if idx ~= first + i - 1 then return nil end
  end
  return first - 1
end

-- params: the unit's flat parameters (name, offset, size, rule), or nil.
function spec.text(model, shapes, losses, params)
  local graph = functional.graph(model)
  local lines = { "rnnc-spec 1" }
  local ref = {}
  local listed = legacy_states(graph) or #shapes
  for i, s in ipairs(shapes) do
    if i <= listed then lines[#lines + 1] = "input " .. table.concat(s, " ") end
    ref[graph.input_tensors[i]] = "x" .. (i - 1)
  end
  local function name(t)
    local r = ref[functional.resolve(t)]
    if not r then error("internal: the spec reads a tensor before it is computed") end
    return r
  end
  local first_node = {}
  local previous = "x0"
  -- each call's name (a shared layer's later calls: name_call2, ...): the
  -- noise layers' salts, as the generated code's (functional.call_prefixes)
  local prefixes = functional.call_prefixes(graph)
  for j, node in ipairs(graph.nodes) do
    local layer = node.layer
    if not layer.module.spec then return nil end
    local legacy = node.states and listed < #shapes
    local layer_lines = layer.module.spec(layer, layer.name, { initial_state = legacy, prefix = prefixes[node],
      node = node })
    local keys = {}
    local ins = {}
    for i, t in ipairs(node.inputs) do
      ins[i] = name(t)
    end
    local reads = table.concat(ins, ",")
    if reads ~= previous then keys[#keys + 1] = "in=" .. reads end
    if node.states and not legacy then
      local st = {}
      for i, t in ipairs(node.states) do
        st[i] = name(t)
      end
      keys[#keys + 1] = "state=" .. table.concat(st, ",")
    end
    -- a frozen layer (every weight of it non-trainable, BatchNormalization
    -- in inference mode in training too)
    if layer.frozen then keys[#keys + 1] = "trainable=0" end
    if first_node[layer] then
      keys[#keys + 1] = "share=" .. first_node[layer]
    else
      first_node[layer] = j - 1
    end
    if #keys > 0 then layer_lines[1] = layer_lines[1] .. " " .. table.concat(keys, " ") end
    for _, l in ipairs(layer_lines) do
      lines[#lines + 1] = l
    end
    for k, t in ipairs(node.outputs) do
      ref[t] = string.format("n%d.%d", j - 1, k - 1)
    end
    previous = ref[node.outputs[1]]
  end
  -- the outputs, unless they are the last call's, all of them, in order
  local last = graph.nodes[#graph.nodes]
  local default = #graph.outputs == #last.outputs
  for k, t in ipairs(graph.outputs) do
    if functional.resolve(t) ~= last.outputs[k] then default = false end
  end
  if not default then
    for _, t in ipairs(graph.outputs) do
      lines[#lines + 1] = "output " .. name(t)
    end
  end
  for k, loss in ipairs(losses or {}) do
    if loss.kind then
      local line = "loss " .. loss.kind .. (loss.from_logits and " from_logits" or "")
      if #losses > 1 then
        line = line .. string.format(" output=%d weight=%.17g", k - 1, loss.weight)
      end
      -- the loss's parameters that differ from Keras's defaults
      local own, names = {}, {}
      for _, p in ipairs(catalog.loss_params) do
        names[#names + 1] = p.name
        local o = (catalog.loss[loss.kind].params or {})[p.name]
        own[p.name] = o == nil and p.default or o
      end
      table.sort(names)
      for _, n in ipairs(names) do
        local v = (loss.params or {})[n]
        if v ~= nil and v ~= own[n] then line = line .. string.format(" %s=%.17g", n, v) end
      end
      lines[#lines + 1] = line
    end
  end
  -- the calls' activity regularizers: the penalty of a call's output
  for j, node in ipairs(graph.nodes) do
    local reg = rules.activity_of(node.layer)
    if reg then
      lines[#lines + 1] = string.format("activity n%d.0 l1=%.17g l2=%.17g", j - 1, reg.l1, reg.l2)
    end
  end
  -- the trained weights' regularizers (layers/rules.lua), by the tensor's
  -- place in the flat parameters (a frozen weight has no penalty in Keras)
  for _, p in ipairs(params or {}) do
    local r = p.rule
    if r and p.trainable ~= false and (r.l1 ~= 0 or r.l2 ~= 0) then
      lines[#lines + 1] = string.format("regularize %s offset=%d size=%d l1=%.17g l2=%.17g", p.name, p.offset, p.size,
        r.l1, r.l2)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

return spec
