-- Bounds on what a description can make the generator do: the C size guard
-- (a huge --unroll falls back to loops), the work estimate that refuses
-- models too big to lower, and hostile Lua in the sandbox. Every refusal is
-- an error naming the file and a line.
local T = require("testlib")
local dsl = require("dsl")
local generate = require("generate")

local tests = {}

local function gen(path, opts)
  local o = { dtype = "float32", unroll = generate.DEFAULT_UNROLL, root = T.root, format = false }
  for k, v in pairs(opts or {}) do
    o[k] = v
  end
  return generate.unit(path, o)
end

-- The text of the error fn raises; it must start with "<path>:<line>: ".
local function error_at(fn, path, line)
  local _, text = T.raises(fn)
  local prefix = path .. ":" .. line .. ": "
  if text:sub(1, #prefix) ~= prefix then
    T.fail(string.format("error %q does not start with %q", text, prefix))
  end
  return text
end

local function load_error(src, line, part)
  local path = T.tmpfile(src)
  local text = error_at(function()
    return dsl.load(path)
  end, path, line)
  if part then T.contains(text, part) end
  return text
end

local function gen_error(src, line, part, opts)
  local path = T.tmpfile(src)
  local text = error_at(function()
    return gen(path, opts)
  end, path, line)
  if part then T.contains(text, part) end
  return text
end

---------------------------------------------------------------- the size guard

local LSTM_20x64 = "return Sequential {\n  LSTM { 64, input_shape = { 20, 16 }, return_sequences = true },\n"
  .. "  Dense { 8 },\n}\n"

tests["a huge --unroll falls back to loops: the C stays under the cap"] = function()
  local path = T.tmpfile(LSTM_20x64)
  local files, name, _, unit, info = gen(path, { unroll = 1000000000 })
  -- written out in full this unit is about 80 MB of C
  T.truthy(generate.size_estimate(unit, 1000000000) > 50e6, "the full unroll would be enormous")
  T.eq(info.requested, 1000000000, "requested threshold")
  T.truthy(info.unroll < info.requested, "a smaller threshold was used: " .. info.unroll)
  T.truthy(info.estimate > generate.MAX_C_BYTES, "the estimate at the requested threshold is over the cap")
  local bytes = #files[name .. ".c"]
  T.truthy(bytes <= generate.MAX_C_BYTES, string.format("%d bytes of C", bytes))
  T.eq(info.bytes >= bytes, true, "info.bytes counts every file")
  -- the threshold used is recorded, so the command regenerates the same unit
  T.contains(files[name .. ".c"], "--unroll " .. info.unroll)
  -- and it is the largest that fits: the next op size up would not
  local next_size = math.huge
  local function walk(ops)
    for _, op in ipairs(ops or {}) do
      local s = require("ir").op_size(op)
      if s > info.unroll and s < next_size then next_size = s end
      if op.op == "loop" then walk(op.body) end
    end
  end
  walk(unit.forward)
  walk(unit.backward)
  T.truthy(generate.size_estimate(unit, next_size) > generate.MAX_C_BYTES, "the next threshold is over the cap")
end

tests["the default threshold is kept when the C is small"] = function()
  local _, _, _, _, info = gen(T.path("examples/tagger.lua"))
  T.eq({ info.unroll, info.requested }, { generate.DEFAULT_UNROLL, generate.DEFAULT_UNROLL }, "threshold")
  local _, _, _, _, full = gen(T.path("examples/tagger.lua"), { unroll = 1000000000 })
  T.eq(full.unroll, 1000000000, "the tagger unrolls in full within the cap")
end

tests["the size estimate follows the written C"] = function()
  -- within a factor of 3 either way, at every threshold
  for _, model in ipairs({ "examples/tagger.lua", "examples/lstm_tagger.lua", "examples/seeds/seed05.lua",
    "examples/seeds/seed06.lua" }) do
    for _, unroll in ipairs({ 0, 64, 1000000 }) do
      local files, name, _, unit = gen(T.path(model), { unroll = unroll })
      local ratio = generate.size_estimate(unit, unroll) / #files[name .. ".c"]
      T.truthy(ratio > 1 / 3 and ratio < 3, string.format("%s --unroll %d: estimate / actual = %.2f", model,
        unroll, ratio))
    end
  end
end

tests["fit_unroll: the largest threshold within a cap, nil when even loops are over"] = function()
  local path = T.tmpfile(LSTM_20x64)
  local _, _, _, unit = gen(path, { unroll = 0 })
  local loops = generate.size_estimate(unit, 0)
  T.eq(generate.fit_unroll(unit, 1000000000, loops - 1), nil, "a cap below the all-loops size")
  local u = generate.fit_unroll(unit, 1000000000, 1e6)
  T.truthy(u and generate.size_estimate(unit, u) <= 1e6, "the threshold fits 1 MB")
  T.eq(generate.fit_unroll(unit, 64, 1e12), 64, "a threshold that fits is kept")
end

---------------------------------------------------------------- models too big

-- The generator's cost does not grow with the sequence length: counted in
-- Lua VM instructions (the same on any machine and under any load), and
-- the C it writes is the same but for the constants.
local function cost(src, opts)
  local path = T.tmpfile(src)
  local files, name, _, _, info = gen(path, opts)
  return info.instructions, #files[name .. ".c"]
end

tests["generation cost and C size do not grow with the sequence length"] = function()
  local lstm = "return Sequential { LSTM { 128, input_shape = { None, 8 } }, Dense { 1 } }\n"
  local i10, b10 = cost(lstm, { timesteps = 10, batch = 1 })
  for _, steps in ipairs({ 1000, 100000 }) do
    local i, b = cost(lstm, { timesteps = steps, batch = 1 })
    T.truthy(i <= 1.5 * i10, string.format("LSTM(128) x %d: %d instructions, T = 10: %d", steps, i, i10))
    T.truthy(math.abs(b - b10) <= 0.05 * b10, string.format("LSTM(128) x %d: %d bytes of C, T = 10: %d", steps, b,
      b10))
  end
  for _, case in ipairs({
    { "return Sequential { LSTM { 256, input_shape = { %d, 8 } }, Dense { 1 } }\n", 2000 },
    { "return Sequential { Bidirectional { GRU { 128, return_sequences = true }, input_shape = { %d, 8 } }, "
      .. "TimeDistributed { Dense { 3, activation = 'softmax' } } }\n", 5000 },
  }) do
    local short = cost(string.format(case[1], 10))
    local long = cost(string.format(case[1], case[2]))
    T.truthy(long <= 1.5 * short, string.format("%s at T = %d: %d instructions, T = 10: %d", case[1], case[2], long,
      short))
  end
  local seed11 = T.read(T.path("examples/seeds/seed11.lua"))
  local short = cost(seed11, { timesteps = 10 })
  local long = cost(seed11, { timesteps = 10000 })
  T.truthy(long <= 1.5 * short, string.format("seed 11 at --timesteps 10000: %d instructions, 10: %d", long, short))
end

tests["models too big for C arrays are refused, naming the layer"] = function()
  -- weights: at most dsl.MAX_PARAMS (1 GiB of doubles)
  gen_error("return Sequential {\n  Dense { 4, input_shape = { 8 } },\n  Dense { 60000, input_dim = 4 },\n"
    .. "  Dense { 10000 },\n}\n", 4, "layer 'dense_2' (Dense): the model has more than 134217728 parameters")
  -- scratch for a batch of long sequences: the batch that fits is named
  local text = gen_error("return Sequential {\n  Bidirectional { LSTM { 1024, return_sequences = true }, "
    .. "input_shape = { 65536, 16 } },\n}\n", 2, "layer 'bidirectional' (Bidirectional): the unit would need")
  T.contains(text, "for a batch of 32")
  T.contains(text, "use fewer units or timesteps")
end

tests["too many layers: refused with the limit"] = function()
  load_error("local m = Sequential {}\nfor i = 1, 300 do m:add(Dense { 1, input_shape = { 1 } }) end\nreturn m\n", 1,
    "the model has 300 layers; rnnc allows at most " .. dsl.MAX_LAYERS)
  -- a summary over the 4095 characters of a C99 string literal is written as
  -- an array of characters (a large graph's is)
  local files, name = gen(T.tmpfile("local m = Sequential {}\nfor i = 1, 100 do m:add(Dense { 2, input_shape = "
    .. "{ 2 } }) end\nreturn m\n"))
  local c = files[name .. ".c"]
  T.contains(c, "_summary[] =\n{ /* over the 4095 characters of a C99 string literal: its characters */\n"
    .. "'M', 'o', 'd', 'e', 'l', ':', ' ', '\"', 's', 'e', 'q', 'u', 'e', 'n', 't', 'i',")
  T.contains(c, "'\\n',\n")
end

tests["scratch over the limit: a smaller batch is asked for"] = function()
  local text = gen_error("return Sequential {\n  Dense { 512, input_shape = { 1000, 4 } },\n}\n", 2,
    "layer 'dense' (Dense): the unit would need", { batch = 65536 })
  T.contains(text, "of scratch for a batch of 65536")
  T.contains(text, "use --batch 523 or less")
end

---------------------------------------------------------------- hostile Lua

tests["string bombs: doubling, concat, rep are stopped"] = function()
  local tail = "\nreturn Sequential { Dense { 1, input_shape = { 1 } } }\n"
  load_error("local s = ('x'):rep(1 << 20)\nlocal t = {}\nfor i = 1, 1000 do t[i] = s end\n"
    .. "local r = table.concat(t)" .. tail, 4, "used too much memory")
  load_error("local s = ('x'):rep(1 << 16)\nlocal t = {}\nfor i = 1, 100000 do t[i] = s end\n"
    .. "local r = table.concat(t, s)" .. tail, 4, "used too much memory")
  load_error("local s = string.rep('abc', 1 << 26, ('x'):rep(100))" .. tail, 1, "used too much memory")
  -- table.concat keeps its own errors, on the description's line
  load_error("\nlocal r = table.concat({ {} })" .. tail, 2, "invalid value")
  collectgarbage()
end

tests["no string patterns: they backtrack in C, out of the hook's reach"] = function()
  local tail = "\nreturn Sequential { Dense { 1, input_shape = { 1 } } }\n"
  load_error("local r = ('a'):rep(40):find('.-.-.-.-.-.-.-.-.-.-.-b')" .. tail, 1, "method 'find'")
  load_error("local r = string.gsub('x', '.', 'y')" .. tail, 1, "field 'gsub'")
  -- the generator's own code keeps the whole string library meanwhile
  local model = T.load_text("return Sequential { Dense { 1, input_shape = { 1 }, name = ('d'):upper() } }\n")
  T.eq(model.layers[1].name, "D", "methods the sandbox keeps")
end

tests["a description that recurses or loops forever names its line"] = function()
  local tail = "\nreturn Sequential { Dense { 1, input_shape = { 1 } } }\n"
  load_error("local function f(n) return f(n + 1) end\nf(1)" .. tail, 1, "ran too long")
  load_error("local x = 1\nlocal function f(n)\n  return 1 + f(n + 1)\nend\nf(1)" .. tail, 3, "stack overflow")
  load_error("::top::\ngoto top" .. tail, 2, "ran too long")
end

tests["error() with any value names the description's line"] = function()
  local tail = "\nreturn Sequential { Dense { 1, input_shape = { 1 } } }\n"
  load_error("local x = 1\nerror({})" .. tail, 2, "error() raised a table value instead of a message")
  load_error("local x = 1\nerror()" .. tail, 2, "error() raised nil instead of a message")
  load_error("local x = 1\nerror(42)" .. tail, 2, "42")
  load_error("local x = 1\nerror(Dense { 1 })" .. tail, 2, "error() raised a table value")
  load_error("local x = 1\nerror(function() end)" .. tail, 2, "error() raised a function value")
  load_error("local x = 1\nerror('plain', 0)" .. tail, 2, "plain")
  load_error("local function f()\n  error('from f', 2)\nend\nf()" .. tail, 4, "from f")
  load_error("local x = 1\nassert(false, {})" .. tail, 2, "error() raised a table value")
end

tests["a long path in a Lua error is the file's path, once"] = function()
  local src = "local x = 1\nlocal y = load('return 1')" .. "\nreturn Sequential { Dense { 1, input_shape = { 1 } } }\n"
  local path = T.tmpfile(src, "_" .. string.rep("long_", 14) .. ".lua")
  local text = error_at(function()
    return dsl.load(path)
  end, path, 2)
  T.contains(text, path .. ":2: attempt to call a nil value (global 'load')")
  T.not_contains(text, "...", "no shortened path in the message")
end

---------------------------------------------------------------- names and shared layers

tests["names of inputs and models are checked like layer names"] = function()
  load_error("local x = Input { shape = { 2 }, name = 'a b' }\nreturn Model { inputs = x, outputs = x }\n", 1,
    "name 'a b' must be 1 to 64 letters")
  load_error("local x = Input { shape = { 2 }, name = {} }\n", 1, "argument 'name' must be a string")
  load_error("return Sequential { name = ('n'):rep(100), Dense { 1, input_shape = { 1 } } }\n", 1,
    "must be 1 to 64 letters")
  load_error("local x = Input { shape = { 0, 2 } }\n", 1, "layer 'input_1' (InputLayer): argument 'shape'")
  load_error("local x = Input { shape = { 2 }, batch_size = 'x' }\n", 1, "argument 'batch_size'")
end

tests["a layer used twice, or wrapped and used, is refused"] = function()
  load_error("local d = Dense { 2, input_shape = { 2 } }\nreturn Sequential { d, d }\n", 1,
    "layer 'dense' (Dense): the layer appears twice in the model")
  load_error("local d = Dense { 2 }\nlocal t = TimeDistributed { d, input_shape = { 3, 2 } }\n"
    .. "return Sequential { t, TimeDistributed { d } }\n", 3, "is already wrapped by 'time_distributed'")
  load_error("local d = Dense { 2 }\nlocal t = TimeDistributed { d, input_shape = { 3, 2 } }\n"
    .. "return Sequential { t, d }\n", 1, "is wrapped by 'time_distributed' and cannot also be used on its own")
  load_error("local x = Input { shape = { 3, 2 } }\nlocal d = Dense { 2 }\nlocal t = TimeDistributed { d }\n"
    .. "local y = d(x)\nreturn Model { inputs = x, outputs = y }\n", 4, "call the wrapper instead")
end

tests["fit options reach the C as plain words"] = function()
  local head = "local model = Sequential { Dense { 1, input_shape = { 1 } } }\n"
  load_error(head .. "model:fit { callbacks = { CSVLogger { filename = 'a??/b' } } }\nreturn model\n", 2,
    "fit: values may contain only")
  load_error(head .. "model:fit { callbacks = { ModelCheckpoint { filepath = '\\1' } } }\nreturn model\n", 2,
    "fit: values may contain only")
  local m = T.load_text(head .. "model:fit { callbacks = { CSVLogger { filename = 'logs/run-1.csv' } } }\n"
    .. "model:compile { loss = 'mse', metrics = { 'accuracy', 'acc', 'accuracy' } }\nreturn model\n")
  T.eq(m.fit_defaults, "csv=logs/run-1.csv", "fit defaults")
  T.eq(m.compiled.metrics, { "accuracy" }, "metrics once each")
end

---------------------------------------------------------------- the command line

-- Runs bin/rnnc with `args`; returns its exit status and its output.
local function rnnc(args)
  local out = os.tmpname()
  local cmd = string.format("lua5.4 %s/bin/rnnc %s >%s 2>&1", T.root, args, out)
  local ok, _, code = os.execute(cmd)
  local text = T.read(out)
  os.remove(out)
  return ok and 0 or code, text
end

tests["rnnc generate states the size, and the fallback to loops"] = function()
  local path = T.tmpfile(LSTM_20x64)
  local dir = os.tmpname()
  os.remove(dir)
  local status, text = rnnc(string.format("generate %s -o %s --no-format --unroll 1000000000", path, dir))
  os.execute("rm -rf '" .. dir .. "'")
  T.eq(status, 0, "exit status: " .. text)
  T.contains(text, "--unroll 1000000000 would emit about")
  T.contains(text, "are loops instead (--unroll ")
  T.truthy(text:match("wrote .* %(([%d,]+) lines, ([%d,]+) bytes%)"), "lines and bytes stated: " .. text)
end

tests["rnnc: the system's memory limit ends a string bomb with an error on its line"] = function()
  -- s .. s doubles in one VM instruction, between two checks of the hook:
  -- the address-space limit bin/rnnc runs under stops it
  local path = T.tmpfile('local s = "x"\nfor _ = 1, 64 do s = s .. s end\n'
    .. "return Sequential { Dense { 1, input_shape = { 1 } } }\n")
  local status, text = rnnc("summary " .. path)
  T.eq(status, 1, "exit status: " .. text)
  T.contains(text, "rnnc: " .. path .. ":2: the model description used too much memory")
end

tests["rnnc: --batch and --timesteps are bounded"] = function()
  local status, text = rnnc("generate examples/tagger.lua -o /nonexistent --batch 70000")
  T.eq(status, 2, "exit status")
  T.contains(text, "--batch is at most 65536")
  status, text = rnnc("generate examples/tagger.lua -o /nonexistent --timesteps 1e9")
  T.eq(status, 2, "exit status")
  T.contains(text, "--timesteps is at most 16777216")
end

return tests
