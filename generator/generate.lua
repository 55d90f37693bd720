-- The pipeline: model file -> built model -> IR -> C text -> clang-format.
-- Everything is produced in memory first; files are written only when all
-- of it succeeded, so an error never leaves half a unit behind.
--
-- Bounds: no description makes the generator work for minutes or emit
-- gigabytes. The generator's work grows with the number of layers (bounded
-- by dsl.lua), not with units or timesteps; dsl.lua bounds the parameters,
-- and a unit whose scratch is absurd is refused naming the layer; lowering
-- and writing run under an instruction and memory budget as a safety net;
-- and the C is kept under MAX_C_BYTES by lowering the unroll threshold (more
-- ops become loops) when the requested one would emit more.
local dsl = require("dsl")
local pipeline = require("pipeline")
local cwriter = require("cwriter")
local ir = require("ir")
local spec = require("spec")
local summary = require("summary")
local util = require("util")

local generate = {}

generate.VERSION = "0.1.0"

-- Ops of at most this many multiply-adds (or elements) are written out as
-- straight-line code; larger ones are constant-bound loops. Measured (bench/,
-- gcc 12 -O3 -march=native, AVX-512): loops never lose. Seeds 12/13/14 train
-- equally fast at 0, 16 and 64 (0.64/1.66/7.7 us per step) and 1.6x slower
-- for seed 14 fully unrolled; streaming LSTM(8)/LSTM(32) steps take 73/154 ns
-- as loops and 214/826 ns at 64, because loops over a gate's units
-- vectorise and unrolled scalar code does not; loops also compile faster and
-- keep the code small. The compiler still unrolls short constant loops itself.
generate.DEFAULT_UNROLL = 0

-- The C a unit may take: the unroll threshold is lowered until the estimate
-- fits, and a unit whose C is more than HARD_C_BYTES after all is written
-- again with a smaller one.
generate.MAX_C_BYTES = 4 << 20
generate.HARD_C_BYTES = 8 << 20

-- Lowering and writing: at most this many Lua VM instructions (about 30 s
-- on a 2020s machine) and this much Lua memory.
generate.MAX_INSTRUCTIONS = 8e9
generate.MAX_MEMORY_KIB = 1536 << 10


-- Per-sample scratch (activations and their gradients) the generated unit
-- may keep for a whole batch. It also keeps every index the generated C
-- computes (at most the scratch's element count) inside an int.
generate.MAX_SCRATCH_BYTES = 4 << 30

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Formats C text with clang-format and the repository's style.
function generate.format(text, root)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  -- the address-space limit of bin/rnnc (cli.lua) is the description's, not clang-format's
  local cmd = string.format("ulimit -S -v unlimited 2>/dev/null; clang-format --style=file:%s %s 2>&1",
    shell_quote(root .. "/.clang-format"), shell_quote(tmp))
  local p = io.popen(cmd, "r")
  local out = p:read("a")
  local ok = p:close()
  os.remove(tmp)
  if not ok then error("clang-format failed (is it installed? apt-get install clang-format): " .. out, 0) end
  return out
end

---------------------------------------------------------------- what grows with the model

-- The layer of a buffer: its name starts with the layer's path.
local function layer_of(model, buf)
  local name = buf.name:gsub("^%a+:", ""):match("^([^/]+)")
  for _, layer in ipairs(model.layers) do
    if layer.name == name then return layer end
  end
  return nil
end

-- Runs fn under the instruction and memory budget of generation; budget.hooks
-- counts what the unit's earlier steps spent.
local HOOK_EVERY = 100000
local function bounded(fn, at, budget)
  local max_hooks = generate.MAX_INSTRUCTIONS // HOOK_EVERY
  debug.sethook(function()
    budget.hooks = budget.hooks + 1
    if budget.hooks > max_hooks then
      debug.sethook()
      util.fail(at, "generating code for this model took too long (over %.0e instructions); make it smaller",
        generate.MAX_INSTRUCTIONS)
    end
    if collectgarbage("count") > generate.MAX_MEMORY_KIB then
      debug.sethook()
      util.fail(at, "generating code for this model needs too much memory (over %d MiB); make it smaller",
        generate.MAX_MEMORY_KIB // 1024)
    end
  end, "", HOOK_EVERY)
  local ok, a, b = xpcall(fn, os.getenv("RNNC_TRACEBACK") and debug.traceback or function(e) return e end)
  debug.sethook()
  if not ok then
    if type(a) == "string" and a:match("not enough memory") then
      collectgarbage()
      util.fail(at, "generating code for this model needs more memory than the system gives")
    end
    error(a, 0)
  end
  return a, b
end

---------------------------------------------------------------- the size of the C

-- Bytes of C per element of an op written out: an indexed array reference
-- ("a_lstm_z[b * 1280 + 517]") and its share of the operators: about 40 characters.
local REF_BYTES = 40
-- An op written as a loop (the matrix-product kernel is the largest), and
-- the unit's fixed part (helpers, descriptor, driver glue).
local LOOP_OP_BYTES = 300
local BASE_BYTES = 20000

local function expr_nodes(e)
  local n = 1
  for i = 2, #e do
    if type(e[i]) == "table" then n = n + expr_nodes(e[i]) end
  end
  return n
end

-- The C bytes op takes written out in full.
local function unrolled_bytes(op)
  local kind = op.op
  if kind == "loop" then
    local body = 0
    for _, b in ipairs(op.body) do
      body = body + unrolled_bytes(b)
    end
    if type(op.first) ~= "number" or type(op.last) ~= "number" then return math.huge end
    return body * math.max(0, op.last - op.first + 1)
  end
  local count = ir.count(op.out)
  if kind == "matmul" then return count * (op.a.dims[2] * 2 * REF_BYTES + REF_BYTES) end
  if kind == "map" then return count * REF_BYTES * (1 + expr_nodes(op.expr)) end
  if kind == "fill" then return count * REF_BYTES end
  return count * 5 * REF_BYTES -- softmax, softmax_grad: a few statements per element
end

-- The C bytes a list of ops takes with unroll threshold `unroll`, as the C
-- writer decides it (cwriter.lua Writer:op): an op of at most `unroll`
-- elements or multiply-adds is written out, a bigger one as a loop whose
-- body ops are decided again.
local function ops_bytes(ops, unroll)
  local bytes = 0
  for _, op in ipairs(ops or {}) do
    if ir.op_size(op) <= unroll then
      bytes = bytes + unrolled_bytes(op)
    elseif op.op == "loop" then
      bytes = bytes + LOOP_OP_BYTES + ops_bytes(op.body, unroll)
    else
      bytes = bytes + LOOP_OP_BYTES
    end
  end
  return bytes
end

-- The estimated size of a unit's C file with unroll threshold `unroll`.
function generate.size_estimate(unit, unroll)
  local bytes = BASE_BYTES
  for _, list in ipairs({ unit.forward, unit.backward, unit.backward_loss, unit.forward_train,
    unit.backward_train_loss }) do
    bytes = bytes + ops_bytes(list or {}, unroll)
  end
  if unit.stream then bytes = bytes + ops_bytes(unit.stream.forward, unroll) end
  return bytes
end

-- The sizes of every op (and loop) of a unit: the thresholds worth trying.
local function op_sizes(unit)
  local sizes, seen = {}, {}
  local function walk(ops)
    for _, op in ipairs(ops or {}) do
      local s = ir.op_size(op)
      if s ~= math.huge and not seen[s] then
        seen[s] = true
        sizes[#sizes + 1] = s
      end
      if op.op == "loop" then walk(op.body) end
    end
  end
  walk(unit.forward)
  walk(unit.backward)
  walk(unit.backward_loss)
  walk(unit.forward_train)
  walk(unit.backward_train_loss)
  if unit.stream then walk(unit.stream.forward) end
  table.sort(sizes)
  return sizes
end

-- The largest unroll threshold up to `unroll` whose estimate is at most
-- `cap` bytes (the estimate only grows with the threshold), or nil when
-- even 0 (every op a loop) is over.
function generate.fit_unroll(unit, unroll, cap)
  if generate.size_estimate(unit, unroll) <= cap then return unroll end
  if generate.size_estimate(unit, 0) > cap then return nil end
  -- candidates: 0 and every op size below `unroll`; binary search the last that fits
  local cands = { 0 }
  for _, s in ipairs(op_sizes(unit)) do
    if s < unroll then cands[#cands + 1] = s end
  end
  local lo, hi = 1, #cands -- cands[lo] fits
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if generate.size_estimate(unit, cands[mid]) <= cap then lo = mid else hi = mid - 1 end
  end
  return cands[lo]
end

local function mib(bytes)
  return string.format("%.1f MB", bytes / 1e6)
end

---------------------------------------------------------------- the unit

-- Refuses a unit whose scratch (the activations of a batch, kept for the
-- backward pass: they grow with the sequence length) is absurd, naming the
-- layer that needs the most and the batch that would fit.
local function check_scratch(model, unit, opts)
  local per_sample, by_layer = 0, {}
  for _, buf in ipairs(unit.prog.buffers) do
    if buf.kind == "act" or buf.kind == "tmp" then
      per_sample = per_sample + buf.size
      local layer = layer_of(model, buf)
      if layer then by_layer[layer] = (by_layer[layer] or 0) + buf.size end
    end
  end
  local real = opts.dtype == "float64" and 8 or 4
  local batch = unit.interface.batch
  local bytes = per_sample * batch * real
  if bytes > generate.MAX_SCRATCH_BYTES then
    local heaviest, most = nil, -1
    for _, layer in ipairs(model.layers) do
      if (by_layer[layer] or 0) > most then heaviest, most = layer, by_layer[layer] or 0 end
    end
    local fits = generate.MAX_SCRATCH_BYTES // (per_sample * real)
    util.fail(heaviest and heaviest.at or model.at, "the unit would need %s of scratch for a batch of %d (%s values "
      .. "per sample; limit %s); %s", mib(bytes), batch, util.commas(per_sample),
      mib(generate.MAX_SCRATCH_BYTES), fits >= 1 and string.format("use --batch %d or less, or fewer units or "
      .. "timesteps", fits) or "use fewer units or timesteps")
  end
end

-- A C comment of the given lines, each wrapped at spaces to fit the
-- repository's 100 columns (clang-format would reflow it otherwise, joining
-- lines).
function generate.comment_block(lines)
  local out = {}
  for i, line in ipairs(lines) do
    local lead = i == 1 and "/* " or " * "
    local cur = lead
    -- an option stays on one line with its value
    line = line:gsub("(%-%-[%w-]+) ([^%s%-][^%s]*)", "%1\0%2")
    for word in line:gmatch("%S+") do
      word = word:gsub("%z", " ")
      if #cur > #lead and #cur + 1 + #word > 100 then
        out[#out + 1] = cur
        cur = " *   " .. word
      else
        cur = cur .. (#cur > #lead and " " or "") .. word
      end
    end
    out[#out + 1] = cur
  end
  out[#out + 1] = " */"
  return table.concat(out, "\n")
end

-- The work of one sample, for the provenance header (as genfft puts its
-- operation counts there): multiply-adds of the matrix products and other
-- element operations, forward and backward, at the maximum length.
function generate.operation_count(unit)
  local irtext = require("irtext")
  local T = unit.interface.max_steps
  local fm, fe = irtext.count(unit.forward, T)
  local bm, be = irtext.count(unit.backward_train_loss or unit.backward_loss or unit.backward, T)
  return string.format("forward %s multiply-adds + %s elementwise, backward %s + %s", util.commas(fm),
    util.commas(fe), util.commas(bm), util.commas(be))
end

-- Returns a table file name -> text, the C name, the model, the unit and
-- what was generated: { unroll (the threshold used), requested, estimate
-- (bytes of C at the requested threshold), bytes, lines }.
-- opts: name, dtype, batch, unroll, timesteps, root (repository root),
-- source (model path as given), format.
function generate.unit(model_path, opts)
  local model = dsl.load(model_path)
  local at = model.at
  local budget = { hooks = 0 }
  local requested = opts.unroll or generate.DEFAULT_UNROLL
  local unit = bounded(function()
    return pipeline.run(model, { batch = opts.batch, timesteps = opts.timesteps })
  end, at, budget)
  check_scratch(model, unit, opts)
  local estimate = generate.size_estimate(unit, requested)
  local unroll = generate.fit_unroll(unit, requested, generate.MAX_C_BYTES)
  if not unroll then
    util.fail(at, "the model is too large for rnnc to generate: even with every op a loop its C would take "
      .. "about %s (limit %s); use fewer layers", mib(generate.size_estimate(unit, 0)), mib(generate.MAX_C_BYTES))
  end

  local name = opts.name or model_path:match("([^/]+)%.lua$") or "model"
  name = cwriter.ident(name)
  local shapes = {}
  for i, d in ipairs(unit.interface.inputs) do
    shapes[i] = d.shape
  end
  local spec_text = spec.text(model, shapes, unit.interface.training.losses, unit.interface.params)
  if not spec_text then error("internal: a layer has no reference spec", 0) end
  local summary_text = summary.text(model)
  local files
  -- The estimate is an estimate: a unit over HARD_C_BYTES after all is
  -- written again with a threshold fitted to the measured size.
  for attempt = 1, 3 do
    local command = string.format("rnnc generate %s --dtype %s --batch %d --unroll %d", model_path, opts.dtype,
      unit.interface.batch, unroll)
    if opts.timesteps then command = command .. " --timesteps " .. opts.timesteps end
    local provenance = generate.comment_block({
      "Generated by rnnc " .. generate.VERSION .. " -- do not edit.",
      "Model: " .. model_path .. " (" .. util.commas(model.params) .. " parameters)",
      "Command: " .. command,
      "Operations per sample: " .. generate.operation_count(unit),
    })
    files = bounded(function()
      return cwriter.unit(unit, {
        name = name,
        dtype = opts.dtype,
        unroll = unroll,
        provenance = provenance,
        templates = opts.root .. "/templates",
        spec = spec_text,
        summary = summary_text,
      })
    end, at, budget)
    local bytes = #files[name .. ".c"]
    if bytes <= generate.HARD_C_BYTES then break end
    local smaller = attempt < 3 and unroll > 0 and generate.fit_unroll(unit, unroll - 1,
      generate.MAX_C_BYTES * generate.size_estimate(unit, unroll) / bytes)
    if not smaller then
      util.fail(at, "the model is too large for rnnc to generate: its C takes %s (limit %s); use fewer layers",
        mib(bytes), mib(generate.HARD_C_BYTES))
    end
    unroll = smaller
  end
  if opts.format ~= false then
    for file, text in pairs(files) do
      files[file] = generate.format(text, opts.root)
    end
  end
  local bytes, lines = 0, 0
  for _, text in pairs(files) do
    bytes = bytes + #text
    for _ in text:gmatch("\n") do
      lines = lines + 1
    end
  end
  -- the Lua VM instructions lowering and writing took (a multiple of the
  -- budget hook's period): the generator's cost, the same on any machine
  local info = { unroll = unroll, requested = requested, estimate = estimate, bytes = bytes, lines = lines,
    instructions = budget.hooks * HOOK_EVERY }
  return files, name, model, unit, info
end

-- The IR of a model after pass `pass` (pipeline.lua) as text (irtext.lua).
-- opts: batch, timesteps.
function generate.dump(model_path, pass, opts)
  local model = dsl.load(model_path)
  local unit = bounded(function()
    return pipeline.run(model, opts, pass)
  end, model.at, { hooks = 0 })
  return require("irtext").unit(unit, pass)
end

return generate
