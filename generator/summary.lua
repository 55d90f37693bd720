-- model.summary() exactly as tf.keras 2.x prints it for a Sequential model:
-- line length 65, columns ending at 45% and 85%, one leading space per row,
-- rows padded with spaces to the column ends, long fields wrapped after "),".
local util = require("util")

local summary = {}

local LINE = 65
local POSITIONS = { math.floor(LINE * 0.45), math.floor(LINE * 0.85), LINE }

local function print_row(out, fields, positions)
  positions = positions or POSITIONS
  local left = {}
  for i, f in ipairs(fields) do
    left[i] = tostring(f)
  end
  local function any_left()
    for _, s in ipairs(left) do
      if #s > 0 then return true end
    end
    return false
  end
  while any_left() do
    local line = ""
    for col = 1, #left do
      local start_pos = col > 1 and positions[col - 1] or 0
      local end_pos = positions[col]
      local space = col ~= #positions and 2 or 0
      local cutoff = end_pos - start_pos - space
      local fit = left[col]:sub(1, cutoff)
      -- Keras breaks lines after the end of a tuple, list or dict.
      local best
      for _, cond in ipairs({ "),", "},", "],", "'," }) do
        local pos = fit:find(cond, 1, true)
        if pos then
          local c = pos - 1 + #cond
          if not best or c < best then best = c end
        end
      end
      if best then
        cutoff = best
        fit = fit:sub(1, cutoff)
      end
      if col == 1 then line = line .. " " end
      line = line .. fit .. string.rep(" ", space)
      left[col] = left[col]:sub(cutoff + 1)
      line = line .. string.rep(" ", math.max(0, positions[col] - #line))
    end
    out[#out + 1] = line
  end
end

-- Keras's counts: the weights training does not change (BatchNormalization's
-- moving statistics) are "Non-trainable params".
local function non_trainable(model)
  local n = 0
  for _, layer in ipairs(model.layers) do
    for _, w in ipairs(layer.weights or {}) do
      if w.trainable == false then n = n + util.product(w.shape) end
    end
  end
  return n
end

local function totals(out, model)
  local frozen = non_trainable(model)
  out[#out + 1] = "Total params: " .. util.commas(model.params)
  out[#out + 1] = "Trainable params: " .. util.commas(model.params - frozen)
  out[#out + 1] = "Non-trainable params: " .. util.commas(frozen)
end

function summary.shapes_str(shapes)
  if #shapes == 1 then return util.shape_str(shapes[1]) end
  local parts = {}
  for i, s in ipairs(shapes) do
    parts[i] = util.shape_str(s)
  end
  return "[" .. table.concat(parts, ", ") .. "]"
end

-- The output shape column of a layer: its shape, or "multiple" when its
-- calls give different shapes (tf.keras: layer.output_shape raises, and
-- print_summary prints "multiple"). An input layer's is a list.
local function shape_column(layer)
  if layer.is_input then return "[" .. util.shape_str(layer.output_shapes[1]) .. "]" end
  local text = summary.shapes_str(layer.output_shapes)
  for _, node in ipairs(layer.nodes or {}) do
    if summary.shapes_str(node.output_shapes) ~= text then return "multiple" end
  end
  return text
end

-- The tensors a node reads, in Keras's order (call arguments, then
-- initial_state).
local function node_inputs(node)
  local list = {}
  for _, t in ipairs(node.inputs) do
    list[#list + 1] = t
  end
  for _, t in ipairs(node.states or {}) do
    list[#list + 1] = t
  end
  return list
end

-- tf.keras prints a functional model as a Sequential's table when it is
-- "sequential-like" (layer_utils.print_summary): one node at every depth,
-- each reading one tensor, and no layer called twice. Otherwise it adds the
-- column "Connected to", in lines of 98.
local function sequential_like(model)
  local by_depth = {}
  for node, depth in pairs(model.node_depth) do
    by_depth[depth] = (by_depth[depth] or 0) + 1
    if by_depth[depth] > 1 or #node_inputs(node) > 1 then return false end
  end
  local calls = {}
  for _, node in ipairs(model.top_nodes) do
    calls[node.layer] = (calls[node.layer] or 0) + 1
    if calls[node.layer] > 1 then return false end
  end
  return true
end

-- The nodes of `layer` in this model (a shared layer has several).
local function model_nodes(model, layer)
  local nodes = {}
  for _, node in ipairs(model.top_nodes) do
    if node.layer == layer then nodes[#nodes + 1] = node end
  end
  return nodes
end

local function graph_text(model)
  local line = 98
  local positions = { math.floor(line * 0.33), math.floor(line * 0.55), math.floor(line * 0.67), line }
  local out = { 'Model: "' .. model.name .. '"', string.rep("_", line) }
  print_row(out, { "Layer (type)", "Output Shape", "Param #", "Connected to" }, positions)
  out[#out + 1] = string.rep("=", line)
  for _, layer in ipairs(model.summary_layers) do
    local conn = {}
    for _, node in ipairs(model_nodes(model, layer)) do
      for _, t in ipairs(node_inputs(node)) do
        conn[#conn + 1] = string.format("'%s[%d][%d]'", t.node.layer.name, t.node.index, t.index - 1)
      end
    end
    local fields = { layer.name .. " (" .. layer.module.class .. ")", shape_column(layer), layer.params or 0,
      "[" .. table.concat(conn, ", ") .. "]" }
    print_row(out, fields, positions)
    out[#out + 1] = string.rep(" ", line)
  end
  out[#out + 1] = string.rep("=", line)
  totals(out, model)
  out[#out + 1] = string.rep("_", line)
  return table.concat(out, "\n") .. "\n"
end

-- Returns the summary as one string (lines joined by "\n", final newline).
function summary.text(model)
  if model.kind == "Functional" and not sequential_like(model) then return graph_text(model) end
  local out = {}
  out[#out + 1] = 'Model: "' .. model.name .. '"'
  out[#out + 1] = string.rep("_", LINE)
  print_row(out, { "Layer (type)", "Output Shape", "Param #" })
  out[#out + 1] = string.rep("=", LINE)
  -- tf.keras 2.x lists a functional model's InputLayer, its shape as a list
  for _, layer in ipairs(model.summary_layers or model.layers) do
    local class = layer.module.class
    print_row(out, { layer.name .. " (" .. class .. ")", shape_column(layer), layer.params or 0 })
    out[#out + 1] = string.rep(" ", LINE)
  end
  out[#out + 1] = string.rep("=", LINE)
  totals(out, model)
  out[#out + 1] = string.rep("_", LINE)
  return table.concat(out, "\n") .. "\n"
end

return summary
