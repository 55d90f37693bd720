-- rnnc import: a Keras model file (HDF5, .keras zip, or JSON + weights) ->
-- an ordinary rnnc description (NAME.lua) and its weights with the
-- optimizer's state (NAME.safetensors). Nothing is written unless the whole
-- import succeeds: both files are staged, then renamed into place.
local cjson = require("cjson")
local dump = require("import.dump")
local keras = require("import.keras")
local compile = require("import.compile")
local weights = require("import.weights")
local describe = require("import.describe")
local util = require("util")

local command = {}

local USAGE = [[
usage: rnnc import FILE -o OUTDIR [--name NAME]          FILE: .h5/.hdf5, .keras (detected from its bytes)
       rnnc import ARCH.json --weights W.h5 -o OUTDIR [--name NAME]
       rnnc import --check FILE [--weights W.h5]           the support report; writes nothing

  writes OUTDIR/NAME.lua (the description) and OUTDIR/NAME.safetensors (the weights, and the
  optimizer's state when the file holds it, for the driver's fit --resume); NAME defaults to
  FILE's base name
]]

local quote = dump.quote
local printable = dump.printable

local function parse(args)
  local o = {}
  local i = 2
  local function value(flag)
    i = i + 1
    if args[i] == nil then error({ usage = flag .. " needs a value" }) end
    return args[i]
  end
  while i <= #args do
    local a = args[i]
    if a == "-o" or a == "--out" then
      o.out = value(a)
    elseif a == "--name" then
      o.name = value(a)
      if not o.name:match("^[%a_][%w_]*$") or #o.name > 64 then
        error({ usage = "--name must be a C identifier of at most 64 characters" })
      end
    elseif a == "--weights" then
      o.weights = value(a)
    elseif a == "--check" then
      o.check = true
    elseif a == "-h" or a == "--help" then
      o.help = true
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      error({ usage = "unknown option " .. a })
    elseif o.file then
      error({ usage = "import takes one model file (use --weights for the weights of a JSON architecture)" })
    else
      o.file = a
    end
    i = i + 1
  end
  return o
end

local function decode_json(text, file, what)
  cjson.decode_max_depth(128)
  local ok, v = pcall(cjson.decode, text)
  if not ok then error(string.format("%s: %s is not valid JSON (%s)", file, what, printable(v, 200)), 0) end
  if type(v) ~= "table" then error(string.format("%s: %s is not a JSON object", file, what), 0) end
  return v
end

local function first(attrs, name)
  local l = attrs and attrs[name]
  return l and l[1] or nil
end

-- The model's pieces from the dumped file(s): configuration, training
-- configuration, version, and the file holding the weights.
local function sources(files, o)
  local f = files[1]
  local src = { file = o.file, weights_file = f, weights_name = o.file }
  if f.format == "hdf5" then
    local root = f.attrs[""] or {}
    local text = first(root, "model_config")
    if not text then
      error(string.format("%s: an HDF5 file without a model_config attribute: weights only (save_weights)? Give "
        .. "the architecture too: rnnc import ARCH.json --weights %s -o OUTDIR", o.file, o.file), 0)
    end
    src.config = decode_json(text, o.file, "the model_config attribute")
    local tc = first(root, "training_config")
    if tc then src.training = decode_json(tc, o.file, "the training_config attribute") end
    src.training_key = "training_config"
    src.version = first(root, "keras_version") or first(f.attrs["model_weights"], "keras_version")
    src.backend = first(root, "backend") or first(f.attrs["model_weights"], "backend")
    src.format = "HDF5 whole model"
    if o.weights then error(string.format("%s: a whole-model file holds its weights; --weights is for JSON "
      .. "architectures", o.file), 0) end
  elseif f.format == "zip" then
    if not f.texts["config.json"] then error(o.file .. ": a zip without config.json is not a .keras model", 0) end
    src.config = decode_json(f.texts["config.json"], o.file, "config.json")
    if f.texts["metadata.json"] then
      local meta = decode_json(f.texts["metadata.json"], o.file, "metadata.json")
      src.version = type(meta.keras_version) == "string" and meta.keras_version or nil
    end
    src.training = src.config.compile_config
    src.training_key = "config.json compile_config"
    src.format = ".keras archive"
    src.weights_name = o.file .. " (model.weights.h5)"
    if o.weights then error(string.format("%s: a .keras archive holds its weights; --weights is for JSON "
      .. "architectures", o.file), 0) end
  else
    src.config = decode_json(f.texts.json, o.file, "the JSON architecture")
    src.format = "JSON architecture + weights"
    if type(src.config.keras_version) == "string" then src.version = src.config.keras_version end
    if type(src.config.backend) == "string" then src.backend = src.config.backend end
    if not o.weights then
      error(string.format("%s: a JSON architecture needs its weights: rnnc import %s --weights W.h5 -o OUTDIR",
        o.file, o.file), 0)
    end
    local w = files[2]
    if not w or w.format ~= "hdf5" then
      error(string.format("%s: the weights must be an HDF5 file (save_weights)", o.weights), 0)
    end
    src.weights_file, src.weights_name = w, o.weights
    local wroot = w.attrs[""] or {}
    src.version = src.version or first(wroot, "keras_version")
    src.backend = src.backend or first(wroot, "backend")
  end
  -- Keras 3 configs wrap classes with module and registered_name
  if not src.version and type(src.config.module) == "string" and src.config.registered_name ~= nil then
    src.version = "3"
    src.version_inferred = true
  end
  return src
end

local function sha256(path)
  local p = io.popen("sha256sum " .. quote(path) .. " 2>/dev/null")
  local line = p and p:read("l") or ""
  if p then p:close() end
  return line:match("^(%x+)") or "unknown"
end


-- Loads the written description with rnnc's own DSL (the check that it is an
-- ordinary description) and pairs its layers with the file's.
local function load_description(path, model, file, name)
  local dsl = require("dsl")
  local ok, built = pcall(dsl.load, path)
  if not ok then
    -- a model Keras saved but rnnc cannot build (shapes that do not chain,
    -- sizes past rnnc's limits): the DSL's message, about the description
    local msg = tostring(built)
    local at = msg:find(path, 1, true)
    if at then msg = msg:sub(1, at - 1) .. name .. ".lua" .. msg:sub(at + #path) end
    error(string.format("%s: rnnc cannot build this model: %s", file, msg), 0)
  end
  local pairs_ = {}
  if model.graph then
    -- a graph: the file's layers in its order (Keras's model.layers, the
    -- order of its optimizer variables), each with its built layer by name
    local by_name = {}
    for _, layer in ipairs(built.layers) do
      by_name[layer.name] = layer
    end
    if #built.layers ~= #model.layers then
      error("internal error: the written description's layers differ from the file's", 0)
    end
    for i, rec in ipairs(model.layers) do
      local layer = by_name[rec.rnnc_name]
      if not layer then error("internal error: the written description's layers differ from the file's", 0) end
      pairs_[i] = { record = rec, layer = layer, index = rec.class_index }
    end
    return built, pairs_
  end
  for i, layer in ipairs(built.layers) do
    local rec = model.layers[i]
    if not rec or rec.rnnc_name ~= layer.name then
      error("internal error: the written description's layers differ from the file's", 0)
    end
    pairs_[i] = { record = rec, layer = layer, index = rec.class_index }
  end
  return built, pairs_
end

-- Puts tensors mapped in the file's layer order (and the optimizer state's
-- slots, each a copy of the parameters in that order) into rnnc's order:
-- its built layers' order, each layer's weights in order.
local function rnnc_order(built, tensors, state)
  local at = {}
  for i, t in ipairs(tensors) do
    at[t.name] = i
  end
  local order = {}
  for _, layer in ipairs(built.layers) do
    for _, w in ipairs(layer.weights or {}) do
      order[#order + 1] = assert(at[w.name], "internal error: a weight was not mapped")
    end
  end
  if #order ~= #tensors then error("internal error: the mapped weights differ from the built model's", 0) end
  local out = {}
  for i, k in ipairs(order) do
    out[i] = tensors[k]
  end
  if state then
    local size = state.dtype == "f64" and 8 or 4
    local offsets, total = {}, 0
    for i, t in ipairs(tensors) do
      local n = 1
      for _, d in ipairs(t.shape) do
        n = n * d
      end
      offsets[i] = { total, n * size }
      total = total + n * size
    end
    local parts = {}
    for s = 0, (total > 0 and #state.bytes // total or 0) - 1 do
      for _, k in ipairs(order) do
        local o = offsets[k]
        parts[#parts + 1] = state.bytes:sub(s * total + o[1] + 1, s * total + o[1] + o[2])
      end
    end
    state.bytes = table.concat(parts)
  end
  return out
end

local function run(o, root)
  local tmpdir
  do
    local p = io.popen("mktemp -d 2>/dev/null")
    tmpdir = p and p:read("l")
    if p then p:close() end
    if not tmpdir or tmpdir == "" then error("cannot create a temporary directory", 0) end
  end
  local function cleanup()
    os.execute("rm -rf " .. quote(tmpdir))
  end
  local ok, result = pcall(function()
    local files = dump.read(root, tmpdir, o.file, o.weights)
    local src = sources(files, o)
    local ctx = { problems = {}, notes = {}, version = keras.version(src.version), sorted = util.sorted_keys,
      file = o.file, backend = src.backend }
    local ok_cfg, model = pcall(keras.model, ctx, src.config)
    if not ok_cfg then
      if type(model) == "table" and model.config_error then error(o.file .. ": " .. model.message, 0) end
      error(model, 0)
    end
    ctx.outputs = model.outputs -- (per-output losses and metrics)
    local ok_tc, training, tnotes = pcall(compile.from, ctx, src.training, src.training_key or "training_config")
    if not ok_tc then
      if type(training) == "table" and training.config_error then error(o.file .. ": " .. training.message, 0) end
      error(training, 0)
    end
    local report = { src = src, ctx = ctx, model = model, training = training, tnotes = tnotes }
    if #ctx.problems > 0 then return report end
    -- the description, loaded back through the DSL
    local name = o.name or describe.default_name(o.file)
    report.name = name
    local text = describe.text(model, training, tnotes, {
      file = o.file, weights = o.weights, format = src.format, version = ctx.version, backend = src.backend,
      version_inferred = src.version_inferred, sha256 = sha256(o.file),
      weights_sha256 = o.weights and sha256(o.weights) or nil, name = name,
    })
    local lua_tmp = tmpdir .. "/" .. name .. ".lua"
    local fh = assert(io.open(lua_tmp, "wb"))
    fh:write(text)
    fh:close()
    local built, layer_pairs = load_description(lua_tmp, model, o.file, name)
    -- weights
    local layout = weights.layout(src.weights_file)
    if not layout then
      error(string.format("%s: no weights found (neither model_weights/layer_names, layer_names at the root, "
        .. "nor Keras 3 layers/.../vars)", src.weights_name), 0)
    end
    ctx.file = src.weights_name
    local tensors = weights.map(ctx, layout, layer_pairs, model.all_classes)
    local state, state_note
    if training then
      state, state_note = weights.optimizer_state(ctx, src.weights_file, layout, tensors, training.optimizer)
    end
    if state_note then tnotes[#tnotes + 1] = state_note end
    if model.graph then tensors = rnnc_order(built, tensors, state) end
    report.state, report.params, report.text = state, built.params, text
    report.st = weights.safetensors(tensors, state)
    return report
  end)
  if not ok then
    cleanup()
    error(result, 0)
  end
  return result, tmpdir, cleanup
end

local function problems_text(report)
  local lines = { string.format("%s: cannot import: rnnc does not support %d thing(s) this model uses:", report.src
    .file, #report.ctx.problems) }
  for _, p in ipairs(report.ctx.problems) do
    lines[#lines + 1] = "  " .. p
  end
  return table.concat(lines, "\n")
end

local function check_report(report)
  local src, ctx, model = report.src, report.ctx, report.model
  local out = {}
  out[#out + 1] = string.format("%s: %s written by %s%s", src.file, src.format, ctx.version.writer or "an unknown "
    .. "Keras version", src.backend and (" (backend " .. printable(src.backend) .. ")") or "")
  out[#out + 1] = string.format("model: %s%s", model.kind or "?", model.name and (" '" .. printable(model.name) .. "'")
    or "")
  for _, l in ipairs(model.layers) do
    out[#out + 1] = string.format("  %s (%s)", printable(l.keras_name), printable(l.class))
  end
  if #ctx.problems > 0 then
    out[#out + 1] = problems_text(report)
  end
  if report.training then
    out[#out + 1] = "training configuration: imported as compile{}"
  end
  for _, n in ipairs(report.tnotes or {}) do
    out[#out + 1] = "note: " .. n
  end
  if report.state then
    out[#out + 1] = string.format("optimizer state: %s after %d updates", report.training.optimizer.class,
      report.state.iterations)
  end
  if #ctx.problems == 0 then
    out[#out + 1] = string.format("verdict: supported (%s parameters)", tostring(report.params))
  else
    out[#out + 1] = string.format("verdict: not supported (%d problem(s))", #ctx.problems)
  end
  return table.concat(out, "\n") .. "\n"
end

local function write_outputs(outdir, name, report)
  os.execute("mkdir -p " .. quote(outdir))
  local staged = {}
  for _, f in ipairs({ { name .. ".lua", report.text }, { name .. ".safetensors", report.st } }) do
    local path = outdir .. "/" .. f[1]
    local tmp = path .. ".tmp"
    local fh, err = io.open(tmp, "wb")
    if not fh then
      for _, s in ipairs(staged) do
        os.remove(s)
      end
      error("cannot write " .. path .. ": " .. tostring(err), 0)
    end
    local ok_w = fh:write(f[2])
    local ok_c = fh:close()
    if not ok_w or not ok_c then
      os.remove(tmp)
      for _, s in ipairs(staged) do
        os.remove(s)
      end
      error("cannot write " .. path, 0)
    end
    staged[#staged + 1] = tmp
  end
  for _, f in ipairs({ name .. ".lua", name .. ".safetensors" }) do
    local path = outdir .. "/" .. f
    assert(os.rename(path .. ".tmp", path))
  end
end

function command.main(args, root)
  local pok, o = pcall(parse, args)
  if not pok then
    io.stderr:write("rnnc: ", type(o) == "table" and o.usage or tostring(o), "\n", USAGE)
    return 2
  end
  if o.help then
    io.write(USAGE)
    return 0
  end
  if not o.file then
    io.stderr:write("rnnc: import needs a model file\n", USAGE)
    return 2
  end
  if not o.check and not o.out then
    io.stderr:write("rnnc: import needs -o OUTDIR (or --check)\n", USAGE)
    return 2
  end
  local ok, report, tmpdir, cleanup = pcall(run, o, root)
  if not ok then
    io.stderr:write("rnnc: ", tostring(report), "\n")
    return 1
  end
  cleanup()
  local _ = tmpdir
  if o.check then
    io.write(check_report(report))
    return #report.ctx.problems == 0 and 0 or 1
  end
  if #report.ctx.problems > 0 then
    io.stderr:write("rnnc: ", problems_text(report), "\nNothing was written.\n")
    return 1
  end
  local wok, werr = pcall(write_outputs, o.out, report.name, report)
  if not wok then
    io.stderr:write("rnnc: ", tostring(werr), "\n")
    return 1
  end
  for _, n in ipairs(report.tnotes) do
    io.stderr:write("rnnc: ", o.file, ": note: ", n, "\n")
  end
  io.stderr:write(string.format("rnnc: %s: %s parameters; wrote %s/%s.lua and %s/%s.safetensors%s\n", o.file,
    tostring(report.params), o.out, report.name, o.out, report.name, report.state and string.format(
      " (with %s's state after %d updates, for fit --resume)", report.training.optimizer.class,
      report.state.iterations) or ""))
  return 0
end

return command
