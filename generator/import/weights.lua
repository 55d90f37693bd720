-- The file's arrays -> rnnc's weights and optimizer state. Arrays are found
-- where each writer puts them (per-layer weight_names lists in HDF5 files,
-- positional vars/N in Keras 3 weight files), checked against the shapes the
-- configuration gives, converted (Keras 1's per-gate arrays, GRU biases) and
-- written as safetensors under rnnc's names.
local dump = require("import.dump")
local keras = require("import.keras")

local printable = keras.printable

local weights = {}

local function shape_str(s)
  local parts = {}
  for i, d in ipairs(s) do
    parts[i] = tostring(d)
  end
  if #parts == 1 then return "(" .. parts[1] .. ",)" end
  return "(" .. table.concat(parts, ", ") .. ")"
end
weights.shape_str = shape_str

local function product(s)
  local p = 1
  for _, d in ipairs(s) do
    p = p * d
  end
  return p
end

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- A list attribute, joined from Keras's chunks (name0, name1, ...) when
-- the list was too long for one HDF5 attribute.
local function list_attr(attrs, name)
  if not attrs then return nil end
  if attrs[name] then return attrs[name] end
  if not attrs[name .. "0"] then return nil end
  local out, k = {}, 0
  while attrs[name .. k] do
    for _, v in ipairs(attrs[name .. k]) do
      out[#out + 1] = v
    end
    k = k + 1
  end
  return out
end
weights.list_attr = list_attr

-- The weights file: the layer groups' parent, and its layout.
--   "h5"   per-layer groups with weight_names (Keras 1/2, tf.keras, Keras 3 .h5)
--   "vars" Keras 3 positional layers/<name>/vars/N (.keras, .weights.h5)
function weights.layout(file)
  if file.attrs["model_weights"] and list_attr(file.attrs["model_weights"], "layer_names") then
    return { kind = "h5", prefix = "model_weights/", file = file }
  end
  if file.attrs[""] and list_attr(file.attrs[""], "layer_names") then
    return { kind = "h5", prefix = "", file = file }
  end
  for _, p in ipairs(file.paths) do
    if p:match("^layers/") then return { kind = "vars", prefix = "layers/", file = file } end
  end
  return nil
end

-- Keras 1 stores each gate's arrays apart (LSTM: W_i U_i b_i W_c U_c b_c W_f U_f b_f
-- W_o U_o b_o; GRU: W_z U_z b_z W_r U_r b_r W_h U_h b_h); rnnc, like Keras 2,
-- concatenates kernel, recurrent kernel and bias with gates i f c o / z r h
-- (keras 2.2.4 engine/saving.py preprocess_weights_for_loading).
local PER_GATE = { LSTM = { gates = { 1, 3, 2, 4 }, n = 4 }, GRU = { gates = { 1, 2, 3 }, n = 3 } }

-- Column-concatenation of 2-D (or 1-D) arrays given as {bytes, shape, size}.
local function concat_columns(parts)
  local rows = #parts[1].shape == 2 and parts[1].shape[1] or 1
  local out = {}
  for r = 0, rows - 1 do
    for _, p in ipairs(parts) do
      local cols = p.shape[#p.shape]
      out[#out + 1] = p.bytes:sub(r * cols * p.size + 1, (r + 1) * cols * p.size)
    end
  end
  return table.concat(out)
end

-- Builds the arrays of one layer (or direction) in rnnc's weight order from
-- the file's list `arrays` (records of dump.parse, in the file's order).
-- `want` lists rnnc's weights {name, shape}. Returns list of
-- {name, shape, dtype, bytes}, or raises naming the dataset.
local function convert(ctx, class, arrays, want, where)
  local out = {}
  local gate = PER_GATE[class]
  if gate and #arrays == 3 * gate.n and #want == 3 then
    -- Keras 1 per-gate arrays: fuse them
    local dtype = arrays[1].dtype
    for kind = 1, 3 do
      local parts = {}
      for g = 1, gate.n do
        local rec = arrays[(gate.gates[g] - 1) * 3 + kind]
        if rec.dtype ~= dtype then error(ctx.file .. ": dataset '" .. printable(rec.path) .. "': mixed dtypes", 0) end
        parts[g] = { bytes = dump.bytes(rec), shape = rec.shape, size = dtype == "f64" and 8 or 4 }
      end
      local w = want[kind]
      local got = {}
      for i, d in ipairs(arrays[kind].shape) do
        got[i] = d
      end
      got[#got] = got[#got] * gate.n
      if not same_shape(got, w.shape) then
        error(string.format("%s: dataset '%s' (%s, Keras 1 per-gate): fused shape %s, the configuration needs %s",
          ctx.file, printable(arrays[kind].path), where, shape_str(got), shape_str(w.shape)), 0)
      end
      out[kind] = { name = w.name, shape = w.shape, dtype = dtype, bytes = concat_columns(parts),
        path = arrays[kind].path }
    end
    return out
  end
  if #arrays ~= #want then
    local names = {}
    for i, a in ipairs(arrays) do
      names[i] = "'" .. printable(a.path) .. "'"
    end
    error(string.format("%s: %s holds %d weight arrays (%s); the configuration needs %d", ctx.file, where, #arrays,
      table.concat(names, ", "), #want), 0)
  end
  for i, rec in ipairs(arrays) do
    local w = want[i]
    local ok = same_shape(rec.shape, w.shape)
    -- Keras 1's Convolution1D kernel is (k, 1, in, out): Keras 2 drops the
    -- middle axis (the same values in the same order)
    local keras1_conv = not ok and class == "Conv1D" and #rec.shape == 4 and rec.shape[2] == 1 and #w.shape == 3
      and rec.shape[1] == w.shape[1] and rec.shape[3] == w.shape[2] and rec.shape[4] == w.shape[3]
    ok = ok or keras1_conv
    -- a GRU bias (2, 3U) stored flat as (6U,), the same values in the same order
    if not ok and class == "GRU" and #w.shape == 2 and #rec.shape == 1 and rec.shape[1] == product(w.shape) then
      ok = true
    end
    if not ok then
      error(string.format("%s: dataset '%s' (%s) has shape %s; the configuration needs %s for %s", ctx.file,
        printable(rec.path), where, shape_str(rec.shape), shape_str(w.shape), w.name), 0)
    end
    if rec.dtype ~= "f32" and rec.dtype ~= "f64" then
      error(string.format("%s: dataset '%s' holds integers, not weights", ctx.file, printable(rec.path)), 0)
    end
    if rec.bad and rec.bad >= 0 then
      error(string.format("%s: dataset '%s' (%s), element %d is not finite (NaN or infinity)", ctx.file,
        printable(rec.path), w.name, rec.bad), 0)
    end
    local bytes = dump.bytes(rec)
    if ctx.backend == "theano" and #w.shape == 3 and w.name:match("kernel$") and not w.name:match("pointwise") then
      -- Theano convolves with the kernel flipped along its steps; Keras 2's
      -- loader flips it back (keras 2.2.4 engine/saving.py,
      -- conv_utils.convert_kernel)
      local row = #bytes // w.shape[1]
      local rows = {}
      for r = w.shape[1], 1, -1 do
        rows[#rows + 1] = bytes:sub((r - 1) * row + 1, r * row)
      end
      bytes = table.concat(rows)
    end
    out[i] = { name = w.name, shape = w.shape, dtype = rec.dtype, bytes = bytes, path = rec.path,
      source_name = rec.weight_name, trainable = w.trainable }
  end
  return out
end

-- The h5 layout: a layer's arrays from its group's weight_names, in order.
local function h5_arrays(ctx, layout, keras_name)
  local group = layout.prefix .. keras_name
  local attrs = layout.file.attrs[group]
  local names = list_attr(attrs, "weight_names")
  if not names then
    error(string.format("%s: group '%s' (layer '%s') has no weight_names list", ctx.file, printable(group),
      printable(keras_name)), 0)
  end
  local arrays = {}
  for i, n in ipairs(names) do
    local path = group .. "/" .. n:gsub("\\", "/")
    local rec = layout.file.data[path]
    if not rec then
      error(string.format("%s: dataset '%s' (weight %d of layer '%s') is missing", ctx.file, printable(path), i,
        printable(keras_name)), 0)
    end
    rec.weight_name = n
    arrays[i] = rec
  end
  return arrays
end

-- The vars layout: positional datasets under a group, vars/0, vars/1, ...
local function vars_arrays(ctx, layout, group)
  local arrays = {}
  while true do
    local rec = layout.file.data[group .. "/vars/" .. #arrays]
    if not rec then break end
    arrays[#arrays + 1] = rec
  end
  if #arrays == 0 and not layout.file.attrs[group] then
    local seen = {}
    for _, p in ipairs(layout.file.paths) do
      local g = p:match("^(layers/[^/]+)/")
      if g and not seen[g] then
        seen[#seen + 1] = g
        seen[g] = true
      end
    end
    error(string.format("%s: no group '%s' in the weights (the file has %s)", ctx.file, printable(group),
      #seen > 0 and printable(table.concat(seen, ", "), 200) or "no layer groups"), 0)
  end
  return arrays
end

-- Maps every layer's weights. `layers` are {record, dsl layer} pairs in
-- model order; Keras 3 numbers its weight groups per class over
-- `all_classes` (every layer of model.layers, in order). Returns the tensor
-- list in rnnc's order (flat parameter order).
function weights.map(ctx, layout, layers, all_classes)
  local tensors = {}
  local group_of = {}
  if layout.kind == "vars" then
    local used = {}
    for i, cls in ipairs(all_classes) do
      local base = keras.snake(cls)
      local n = used[base]
      used[base] = (n or 0) + 1
      group_of[i] = "layers/" .. base .. (n and ("_" .. n) or "")
    end
  end
  for _, pair in ipairs(layers) do
    local rec, layer = pair.record, pair.layer
    local want = {}
    for i, w in ipairs(layer.weights or {}) do
      want[i] = { name = w.name, shape = w.shape, trainable = w.trainable ~= false }
    end
    local where = string.format("layer '%s' (%s)", printable(rec.keras_name), rec.class)
    local parts
    if #want == 0 then
      -- a layer without weights (Flatten, pooling, ...): its group, when
      -- the file has one, must hold none either
      local extra
      if layout.kind == "h5" then
        local names = list_attr(layout.file.attrs[layout.prefix .. rec.keras_name], "weight_names")
        extra = names and #names > 0 and #names
      else
        extra = layout.file.data[(rec.vars_group or group_of[pair.index]) .. "/vars/0"] and 1
      end
      if extra then
        error(string.format("%s: %s holds weight arrays; the configuration needs none", ctx.file, where), 0)
      end
      parts = {}
    elseif layout.kind == "h5" then
      local arrays
      if rec.h5_parent then
        -- a nested model's layer: its arrays in the model's group, named
        -- <layer>/... (tf.keras save_weights_to_hdf5_group: the nested
        -- model's weights, each named under its layer's scope)
        arrays = {}
        for _, a in ipairs(h5_arrays(ctx, layout, rec.h5_parent)) do
          local n = a.weight_name:gsub("^" .. rec.h5_parent:gsub("%W", "%%%0") .. "/", "")
          if n:sub(1, #rec.keras_name + 1) == rec.keras_name .. "/" then arrays[#arrays + 1] = a end
        end
      else
        arrays = h5_arrays(ctx, layout, rec.keras_name)
      end
      if rec.class == "Bidirectional" then
        local half = #want // 2
        local fw, bw = { table.unpack(want, 1, half) }, { table.unpack(want, half + 1) }
        local n = #arrays // 2
        local a = convert(ctx, rec.inner.class, { table.unpack(arrays, 1, n) }, fw, where .. ", forward")
        local b = convert(ctx, rec.inner.class, { table.unpack(arrays, n + 1) }, bw, where .. ", backward")
        if #arrays % 2 ~= 0 then error(ctx.file .. ": " .. where .. ": an odd number of weight arrays", 0) end
        parts = { table.unpack(a) }
        for _, t in ipairs(b) do
          parts[#parts + 1] = t
        end
      else
        local class = rec.class == "TimeDistributed" and rec.inner.class or rec.class
        parts = convert(ctx, class, arrays, want, where)
      end
    else
      local group = rec.vars_group or group_of[pair.index]
      if rec.class == "Bidirectional" then
        local half = #want // 2
        local fw, bw = { table.unpack(want, 1, half) }, { table.unpack(want, half + 1) }
        parts = convert(ctx, rec.inner.class, vars_arrays(ctx, layout, group .. "/forward_layer/cell"), fw,
          where .. ", forward")
        for _, t in ipairs(convert(ctx, rec.inner.class, vars_arrays(ctx, layout, group .. "/backward_layer/cell"), bw,
          where .. ", backward")) do
          parts[#parts + 1] = t
        end
      elseif rec.class == "TimeDistributed" then
        parts = convert(ctx, rec.inner.class, vars_arrays(ctx, layout, group .. "/layer"), want, where)
      elseif rec.class == "MultiHeadAttention" then
        -- its EinsumDense sublayers, each kernel then bias (Keras 3
        -- saving_lib walks the layer's attributes in name order and saves
        -- each sublayer once, under _query_dense, ...: the underscored
        -- attribute comes before its property)
        local arrays = {}
        for _, sub in ipairs({ "query", "key", "value", "output" }) do
          local g = group .. "/_" .. sub .. "_dense"
          if not layout.file.data[g .. "/vars/0"] and layout.file.data[group .. "/" .. sub .. "_dense/vars/0"] then
            g = group .. "/" .. sub .. "_dense"
          end
          for _, a in ipairs(vars_arrays(ctx, layout, g)) do
            arrays[#arrays + 1] = a
          end
        end
        parts = convert(ctx, rec.class, arrays, want, where)
      elseif rec.class == "Dense" or keras.FRONT_KEYS[rec.class] or keras.ATTENTION_KEYS[rec.class] then
        parts = convert(ctx, rec.class, vars_arrays(ctx, layout, group), want, where)
      else
        parts = convert(ctx, rec.class, vars_arrays(ctx, layout, group .. "/cell"), want, where)
      end
    end
    for _, t in ipairs(parts) do
      tensors[#tensors + 1] = t
    end
  end
  return tensors
end

-- ---------------------------------------------------------------- optimizer state

-- rnnc's slot groups per optimizer (runtime/optim.c rnnc_optimizer_slots):
-- each a full copy of the parameters, in this order.
local function rnnc_slots(o)
  local v = o.values
  if o.kind == "adam" or o.kind == "adamw" then
    return v.amsgrad and { "m", "v", "vhat" } or { "m", "v" }
  elseif o.kind == "rmsprop" then
    local s = { "s" }
    if (v.momentum or 0) > 0 then s[#s + 1] = "mom" end
    if v.centered then s[#s + 1] = "mg" end
    return s
  elseif o.kind == "sgd" then
    return (v.momentum or 0) ~= 0 and { "mom" } or {}
  elseif o.kind == "adagrad" then
    return { "acc" }
  end
  return {}
end

-- Slot names in the files of tf.keras 2.11-2.15 (optimizer.py: Adam m/v/vhat,
-- SGD m, RMSprop velocity/momentum/average_gradient, Adagrad accumulator) and
-- of optimizer_v2 (tf.keras <= 2.10: m/v/vhat, momentum, rms/momentum/mg,
-- accumulator).
local SLOT_NAMES = {
  adam = { m = "m", v = "v", vhat = "vhat" }, adamw = { m = "m", v = "v", vhat = "vhat" },
  sgd = { m = "mom", momentum = "mom" },
  rmsprop = { velocity = "s", rms = "s", momentum = "mom", average_gradient = "mg", mg = "mg" },
  adagrad = { accumulator = "acc" },
}

-- Keras 3 (optimizer.variables, written positionally as optimizer/vars/N in
-- .keras files and in order in a Keras 3 .h5's weight_names): iteration,
-- learning_rate (absent with a schedule), then Adam's momentum and velocity
-- interleaved per variable and velocity_hat after them
-- (keras/src/optimizers/adam.py build), RMSprop's velocities, momentums,
-- average gradients one group after another (rmsprop.py), SGD's momentums,
-- Adagrad's accumulators.
local function keras3_order(o, n)
  local order = {}
  if o.kind == "adam" or o.kind == "adamw" then
    for i = 1, n do
      order[#order + 1] = { "m", i }
      order[#order + 1] = { "v", i }
    end
    if o.values.amsgrad then
      for i = 1, n do
        order[#order + 1] = { "vhat", i }
      end
    end
  else
    for _, s in ipairs(rnnc_slots(o)) do
      for i = 1, n do
        order[#order + 1] = { s, i }
      end
    end
  end
  return order
end

-- Returns { iterations = number, dtype, bytes } or nil and a note. `tensors`
-- are the mapped weights, in rnnc's order.
function weights.optimizer_state(ctx, file, layout, tensors, o)
  local slots = rnnc_slots(o)
  -- Keras keeps optimizer slots for the trainable weights only (not for
  -- BatchNormalization's moving statistics): positions count those; rnnc's
  -- slots of the others are zeros
  local train = {}
  for i, t in ipairs(tensors) do
    if t.trainable ~= false then train[#train + 1] = i end
  end
  local n = #train
  local per = {} -- per[slot][i] = record
  for _, s in ipairs(slots) do
    per[s] = {}
  end
  local iterations
  local function check(rec, i, what)
    if not same_shape(rec.shape, tensors[i].shape) and product(rec.shape) ~= product(tensors[i].shape) then
      error(string.format("%s: optimizer dataset '%s' (%s of %s) has shape %s; the weight has %s", ctx.file,
        printable(rec.path), what, tensors[i].name, shape_str(rec.shape), shape_str(tensors[i].shape)), 0)
    end
    if rec.dtype == "i64" then
      error(string.format("%s: optimizer dataset '%s' holds integers", ctx.file, printable(rec.path)), 0)
    end
    if rec.bad and rec.bad >= 0 then
      error(string.format("%s: optimizer dataset '%s', element %d is not finite", ctx.file, printable(rec.path),
        rec.bad), 0)
    end
  end
  local function scalar(rec)
    if product(rec.shape) ~= 1 then return nil end
    return dump.values(rec)[1]
  end
  local positional -- list of records, Keras 3's order
  if layout.kind == "vars" then
    positional = {}
    while file.data["optimizer/vars/" .. #positional] do
      positional[#positional + 1] = file.data["optimizer/vars/" .. #positional]
    end
    if #positional == 0 then return nil, "the file holds no optimizer state" end
  else
    local names = list_attr(file.attrs["optimizer_weights"], "weight_names")
    if not names or #names == 0 then return nil, "the file holds no optimizer state" end
    local recs = {}
    for i, nm in ipairs(names) do
      local rec = file.data["optimizer_weights/" .. nm:gsub("\\", "/")]
      if not rec then
        error(string.format("%s: dataset 'optimizer_weights/%s' (optimizer weight %d) is missing", ctx.file,
          printable(nm), i), 0)
      end
      recs[i] = rec
      rec.weight_name = nm
    end
    if ctx.version.major == 3 then
      positional = recs
    elseif ctx.version.major == 2 and ctx.version.minor >= 4 or (ctx.version.writer or ""):match("^tf%.keras") then
      -- by name: which weight each slot belongs to
      local index = {}
      for i, t in ipairs(tensors) do
        local wn = t.source_name
        if wn then
          index[wn] = i
          index[(wn:gsub(":%d+$", ""))] = i
        end
      end
      local map = SLOT_NAMES[o.kind]
      for _, rec in ipairs(recs) do
        local nm = rec.weight_name:gsub(":%d+$", "")
        local slot, var = nm:match("^[^/]+/([^/]+)/(.+)$") -- tf.keras 2.11+: Adam/m/<var>
        if not (slot and map[slot] and index[var]) then
          var, slot = nm:match("^[^/]+/(.+)/([^/]+)$") -- optimizer_v2: Adam/<var>/m
        end
        if nm:match("^iteration$") or nm:match("^[^/]+/iter$") or nm:match("^[^/]+/iterations$") then
          iterations = scalar(rec)
        elseif slot and map[slot] and index[var] then
          local s = map[slot]
          if per[s] then
            check(rec, index[var], slot)
            per[s][index[var]] = rec
          end
        end
      end
    else
      -- Keras 2.0-2.3: [iterations] + one list per slot kind (optimizers.py
      -- get_updates: self.weights = [self.iterations] + ms + vs + vhats)
      positional = nil
      if #recs >= 1 and product(recs[1].shape) == 1 then iterations = scalar(recs[1]) end
      -- (SGD keeps its moments even without momentum; Adam's vhats are
      -- one-element placeholders without amsgrad: both are skipped)
      local k = 2
      local kinds = (o.kind == "adam") and { "m", "v", "vhat" } or (o.kind == "sgd" and { "mom" }) or
        (o.kind == "rmsprop" and { "s" }) or {}
      for _, s in ipairs(kinds) do
        if per[s] then
          for i = 1, n do
            local rec = recs[k + i - 1]
            if rec then
              check(rec, train[i], s)
              per[s][train[i]] = rec
            end
          end
        end
        k = k + n
      end
    end
  end
  if positional then
    local it = positional[1]
    if not it or product(it.shape) ~= 1 then
      return nil, "the optimizer state does not start with the iteration count"
    end
    iterations = scalar(it)
    local rest = { table.unpack(positional, 2) }
    local order = keras3_order(o, n)
    -- the learning rate variable, unless a schedule sets it
    if #rest == #order + 1 and product(rest[1].shape) == 1 then table.remove(rest, 1) end
    if #rest ~= #order then
      return nil, string.format("the file holds %d optimizer variables; %s on %d weights needs %d (plus the "
        .. "iteration count and learning rate): the optimizer state is left out", #positional, o.class, n, #order)
    end
    for j, slot in ipairs(order) do
      check(rest[j], train[slot[2]], slot[1])
      per[slot[1]][train[slot[2]]] = rest[j]
    end
  end
  if not iterations or iterations ~= iterations or iterations < 0 or iterations ~= math.floor(iterations) then
    return nil, "the optimizer state has no iteration count"
  end
  local dtype = "f32"
  for _, s in ipairs(slots) do
    for _, i in ipairs(train) do
      local rec = per[s][i]
      if not rec then
        return nil, string.format("the optimizer state lacks %s's %s slot: it is left out", tensors[i].name, s)
      end
      if rec.dtype == "f64" then dtype = "f64" end
    end
  end
  local parts = {}
  for _, s in ipairs(slots) do
    for i = 1, #tensors do
      local rec = per[s][i]
      if not rec then
        -- a weight the optimizer does not update: a slot of zeros
        parts[#parts + 1] = string.rep("\0", product(tensors[i].shape) * (dtype == "f64" and 8 or 4))
        goto next_tensor
      end
      local b = dump.bytes(rec)
      if rec.dtype ~= dtype then
        -- widen float32 slots to the float64 of the others
        local vals = dump.values(rec)
        local out = {}
        for k, v in ipairs(vals) do
          out[k] = string.pack("<d", v)
        end
        b = table.concat(out)
      end
      -- Keras 1-style per-gate weights have no matching slot layout
      parts[#parts + 1] = b
      ::next_tensor::
    end
  end
  return { iterations = math.tointeger(iterations), dtype = dtype, bytes = table.concat(parts),
    count = #slots * (function()
      local total = 0
      for _, t in ipairs(tensors) do
        total = total + product(t.shape)
      end
      return total
    end)() }
end

-- ---------------------------------------------------------------- safetensors

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Safetensors bytes: the weights, then optimizer/iterations and
-- optimizer/slots as runtime/fit.c writes them (rnnc_checkpoint_save).
function weights.safetensors(tensors, state)
  local entries, blobs, offset = {}, {}, 0
  local function add(name, dtype, shape, bytes)
    local dims = {}
    for i, d in ipairs(shape) do
      dims[i] = tostring(d)
    end
    entries[#entries + 1] = string.format('%s:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}',
      json_string(name), dtype == "f64" and "F64" or "F32", table.concat(dims, ","), offset, offset + #bytes)
    blobs[#blobs + 1] = bytes
    offset = offset + #bytes
  end
  for _, t in ipairs(tensors) do
    add(t.name, t.dtype, t.shape, t.bytes)
  end
  if state then
    add("optimizer/iterations", "f64", { 1 }, string.pack("<d", state.iterations))
    add("optimizer/slots", state.dtype, { state.count }, state.bytes)
  end
  local header = "{" .. table.concat(entries, ",") .. "}"
  header = header .. string.rep(" ", (8 - #header % 8) % 8)
  return string.pack("<I8", #header) .. header .. table.concat(blobs)
end

return weights
