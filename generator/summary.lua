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

-- A functional model whose layers take more than one input (initial
-- states) is not "sequential-like" for Keras: it prints a fourth column,
-- "Connected to", in lines of 98.
local function graph_text(model)
  local line = 98
  local positions = { math.floor(line * 0.33), math.floor(line * 0.55), math.floor(line * 0.67), line }
  local out = { 'Model: "' .. model.name .. '"', string.rep("_", line) }
  print_row(out, { "Layer (type)", "Output Shape", "Param #", "Connected to" }, positions)
  out[#out + 1] = string.rep("=", line)
  local function row(name, class, shapes, params, sources)
    local conn = {}
    for i, src in ipairs(sources) do
      conn[i] = "'" .. src .. "[0][0]'"
    end
    local fields = { name .. " (" .. class .. ")", shapes, params, "[" .. table.concat(conn, ", ") .. "]" }
    print_row(out, fields, positions)
    out[#out + 1] = string.rep(" ", line)
  end
  local inputs = { model.input_layer }
  for _, st in ipairs(model.state_inputs) do
    inputs[#inputs + 1] = st
  end
  for _, l in ipairs(inputs) do
    row(l.name, "InputLayer", "[" .. util.shape_str(l.output_shapes[1]) .. "]", 0, {})
  end
  local prev = model.input_layer
  for _, layer in ipairs(model.layers) do
    local sources = { prev.name }
    for _, st in ipairs(layer.initial_inputs or {}) do
      sources[#sources + 1] = st.name
    end
    row(layer.name, layer.module.class, summary.shapes_str(layer.output_shapes), layer.params, sources)
    prev = layer
  end
  out[#out + 1] = string.rep("=", line)
  totals(out, model)
  out[#out + 1] = string.rep("_", line)
  return table.concat(out, "\n") .. "\n"
end

-- Returns the summary as one string (lines joined by "\n", final newline).
function summary.text(model)
  if model.state_inputs and #model.state_inputs > 0 then return graph_text(model) end
  local out = {}
  out[#out + 1] = 'Model: "' .. model.name .. '"'
  out[#out + 1] = string.rep("_", LINE)
  print_row(out, { "Layer (type)", "Output Shape", "Param #" })
  out[#out + 1] = string.rep("=", LINE)
  local rows = {}
  if model.input_layer then
    -- tf.keras 2.x lists a functional model's InputLayer, its shape as a list
    local l = model.input_layer
    print_row(out, { l.name .. " (InputLayer)", "[" .. util.shape_str(l.output_shapes[1]) .. "]", 0 })
    out[#out + 1] = string.rep(" ", LINE)
  end
  for _, layer in ipairs(rows) do
    out[#out + 1] = layer
  end
  for _, layer in ipairs(model.layers) do
    local class = layer.module.class
    print_row(out, { layer.name .. " (" .. class .. ")", summary.shapes_str(layer.output_shapes), layer.params })
    out[#out + 1] = string.rep(" ", LINE)
  end
  out[#out + 1] = string.rep("=", LINE)
  totals(out, model)
  out[#out + 1] = string.rep("_", LINE)
  return table.concat(out, "\n") .. "\n"
end

return summary
