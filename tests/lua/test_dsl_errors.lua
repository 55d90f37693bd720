-- Bad model descriptions: every error names the file and the line, and, when
-- a layer is at fault, the layer's name and class, then what is wrong.
local T = require("testlib")
local dsl = require("dsl")
local util = require("util")

local tests = {}

local function escape(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- Loads `src` from a temporary file; the load must fail with a text that
-- starts with "<file>:<line>: " followed by `rest` (a plain string).
local function load_error(src, line, rest)
  local path = T.tmpfile(src)
  local err, text = T.raises(function()
    return dsl.load(path)
  end)
  local prefix = path .. ":" .. line .. ": "
  if text:sub(1, #prefix) ~= prefix then
    T.fail(string.format("error %q does not start with %q", text, prefix))
  end
  if rest and not text:find(rest, #prefix + 1, true) then
    T.fail(string.format("error %q does not contain %q", text, rest))
  end
  return err, text, path
end

local function layer_error(src, line, name, class, what)
  return load_error(src, line, string.format("layer '%s' (%s): %s", name, class, what))
end

local function rnn(args)
  return "return Sequential {\n  SimpleRNN { " .. args .. " },\n}\n"
end

---------------------------------------------------------------- arguments

tests["unknown layer class: file:line, and what there is"] = function()
  local _, text = load_error("return Sequential {\n  SimpleRNN { 3, input_shape = { 2, 3 } },\n  Foo { 3 },\n}\n", 3,
    "unknown name 'Foo' (rnnc's layers are Activation, ActivityRegularization, Add, ")
  -- every layer, in alphabetical order
  T.contains(text, "BatchNormalization, Bidirectional, Concatenate, Conv1D, ")
  T.contains(text, "GRU, GaussianDropout, GaussianNoise, GlobalAveragePooling1D, GlobalMaxPooling1D, LSTM, ")
  T.contains(text, "DepthwiseConv1D, Dot, Dropout, ELU, ")
  T.contains(text, "SimpleRNN, Softmax, SpatialDropout1D, Subtract, TimeDistributed, ")
end

tests["a Keras layer rnnc lacks says what to write instead"] = function()
  local _, text = load_error("local model = Sequential {\n  LSTM { 3, input_shape = { 2, 3 } },\n"
    .. "  AlphaDropout { 0.2 },\n  Dense { 1 },\n}\nreturn model\n", 3,
    "Keras's AlphaDropout layer is not implemented in rnnc: rnnc has Dropout, SpatialDropout1D")
  T.not_contains(text, "nil value", "no raw Lua error")
  T.not_contains(text, "generator/", "no internal path")
  load_error("return Sequential {\n  Conv2D { 2, 3 },\n}\n", 2, "Keras's Conv2D layer is not implemented")
end

tests["a misspelt class: did you mean"] = function()
  load_error("return Sequential {\n  SimpleRnn { 3, input_shape = { 2, 3 } },\n}\n", 2,
    "unknown name 'SimpleRnn': did you mean 'SimpleRNN'?")
  load_error("return Sequential {\n  Lstm { 3, input_shape = { 2, 3 } },\n}\n", 2, "did you mean 'LSTM'?")
  load_error("return Sequential {\n  Dense { 3, input_shape = { 2 }, use_bias = True },\n}\n", 2,
    "'True' is not known in a model description: write true")
end

tests["model.compile with Python's dot says use model:compile"] = function()
  local _, text = load_error("local model = Sequential { Dense { 1, input_shape = { 2 } } }\n"
    .. "model.compile { loss = \"mse\" }\nreturn model\n", 2, "write model:compile { ... } (a colon")
  T.not_contains(text, "nil value", "no raw Lua error")
  T.not_contains(text, "generator/", "no internal path")
  load_error("local model = Sequential { Dense { 1, input_shape = { 2 } } }\n"
    .. "model.add(Dense { 2 })\nreturn model\n", 2, "write model:add { ... }")
end

tests["unknown argument"] = function()
  local err = layer_error(
    "-- a comment\n\nreturn Sequential {\n  SimpleRNN { 3, input_shape = { 2, 3 }, unitz = 3 },\n}\n", 4,
    "simple_rnn", "SimpleRNN", "unknown argument 'unitz'")
  T.truthy(util.is_model_error(err), "the error is a ModelError")
  T.eq({ err.layer, err.class, err.line }, { "simple_rnn", "SimpleRNN", 4 }, "error fields")
  layer_error("return Sequential {\n  Dense { 3, input_shape = { 2 }, activaton = \"relu\" },\n}\n", 2, "dense",
    "Dense", "unknown argument 'activaton'")
end

tests["wrong types and values of units"] = function()
  local cases = {
    { 'units = "3"', "argument 'units' must be a positive integer, got 3 (string)" },
    { '"3"', "argument 'units' must be a positive integer, got 3 (string)" },
    { "0", "argument 'units' must be a positive integer, got 0" },
    { "units = 0", "argument 'units' must be a positive integer, got 0" },
    { "-1", "argument 'units' must be a positive integer, got -1" },
    { "2.5", "argument 'units' must be a positive integer, got 2.5" },
    { "1e300", "argument 'units' must be a positive integer, got 1e+300" },
    { "0/0", "argument 'units' must be a positive integer" },
    { "true", "argument 'units' must be a positive integer, got true (boolean)" },
    { "1 << 20", "argument 'units' = 1048576 is larger than rnnc allows" },
  }
  for _, c in ipairs(cases) do
    layer_error(rnn(c[1] .. ", input_shape = { 2, 3 }"), 2, "simple_rnn", "SimpleRNN", c[2])
  end
  -- 3.0 is an integer value, as Keras's int(units) accepts it
  local model = T.load_text(rnn("3.0, input_shape = { 2, 3 }"))
  T.eq(math.type(model.layers[1].args.units), "integer", "units = 3.0")
end

tests["wrong types of flags and shapes"] = function()
  layer_error(rnn("2, input_shape = { 2, 3 }, return_sequences = 1"), 2, "simple_rnn", "SimpleRNN",
    "argument 'return_sequences' must be true or false, got 1 (number)")
  layer_error(rnn('2, input_shape = { 2, 3 }, use_bias = "yes"'), 2, "simple_rnn", "SimpleRNN",
    "argument 'use_bias' must be true or false, got yes (string)")
  layer_error(rnn("2, input_shape = 3"), 2, "simple_rnn", "SimpleRNN",
    "argument 'input_shape' must be a list of dimensions such as {3, 4}, got 3 (number)")
  layer_error(rnn("2, input_shape = { 2, 0 }"), 2, "simple_rnn", "SimpleRNN",
    "argument 'input_shape': dimension 2 must be a positive integer or None, got 0")
  layer_error(rnn("2, input_shape = { 1e300, 3 }"), 2, "simple_rnn", "SimpleRNN",
    "argument 'input_shape': dimension 1 must be a positive integer or None, got 1e+300")
  layer_error(rnn("2, 3, input_shape = { 2, 3 }"), 2, "simple_rnn", "SimpleRNN",
    "SimpleRNN takes 1 positional argument(s), got 2")
  -- a bad name cannot name the layer
  load_error(rnn('2, name = "has space", input_shape = { 2, 3 }'), 2, "name 'has space' must be 1 to 64 letters")
end

tests["missing units"] = function()
  layer_error(rnn("input_shape = { 2, 3 }"), 2, "simple_rnn", "SimpleRNN", "missing required argument 'units'")
  layer_error("return Sequential {\n  Dense { input_shape = { 3 } },\n}\n", 2, "dense", "Dense",
    "missing required argument 'units'")
end

tests["unknown activation"] = function()
  layer_error(rnn('2, input_shape = { 2, 3 }, activation = "swishy"'), 2, "simple_rnn", "SimpleRNN",
    "unknown activation 'swishy'")
  layer_error("return Sequential {\n  Dense { 2, input_shape = { 3 }, activation = 1 },\n}\n", 2, "dense", "Dense",
    "argument 'activation' must be an activation name")
end

tests["unsupported options are refused, not ignored"] = function()
  -- dropout rates: Keras's [0, 1) (issue 13: trained with masks)
  layer_error(rnn("2, input_shape = { 2, 3 }, dropout = 1"), 2, "simple_rnn", "SimpleRNN",
    "argument 'dropout' must be a number in [0, 1)")
  layer_error(rnn("2, input_shape = { 2, 3 }, recurrent_dropout = -0.5"), 2, "simple_rnn", "SimpleRNN",
    "argument 'recurrent_dropout' must be a number in [0, 1)")
  layer_error(rnn("2, input_shape = { 2, 3 }, seed = -1"), 2, "simple_rnn", "SimpleRNN",
    "argument 'seed' must be None or a non-negative integer")
  layer_error(rnn("2, input_shape = { 2, 3 }, implementation = 3"), 2, "simple_rnn", "SimpleRNN",
    "argument 'implementation' must be 1 or 2")
  T.load_text(rnn("2, input_shape = { 2, 3 }, dropout = 0.2, recurrent_dropout = 0.5, seed = 3"))
  layer_error(rnn("2, input_shape = { 2, 3 }, stateful = true"), 2, "simple_rnn", "SimpleRNN",
    "stateful = true is not supported")
  -- the defaults, written out, are accepted
  T.load_text(rnn("2, input_shape = { 2, 3 }, dropout = 0, recurrent_dropout = 0.0, stateful = false"))
end

tests["TimeDistributed of a non-Dense layer is refused"] = function()
  layer_error("return Sequential {\n  SimpleRNN { 2, input_shape = { 2, 3 }, return_sequences = true },\n" ..
    "  TimeDistributed { LSTM { 3 } },\n}\n", 3, "time_distributed", "TimeDistributed",
    "TimeDistributed wraps Dense only (got LSTM)")
  layer_error("return Sequential {\n  TimeDistributed { 3, input_shape = { 2, 3 } },\n}\n", 2,
    "time_distributed", "TimeDistributed", "argument 'layer' must be a layer")
end

tests["Bidirectional of a non-recurrent layer is refused"] = function()
  layer_error("return Sequential {\n  Bidirectional { Dense { 3 }, input_shape = { 2, 3 } },\n}\n", 2,
    "bidirectional", "Bidirectional", "Bidirectional wraps a recurrent layer")
end

tests["Sequential errors name the file and the line (a tail call's: the return statement's)"] = function()
  load_error("local m = Sequential {\n  name = {},\n  Dense { 1, input_shape = { 1 } },\n}\nreturn m\n", 1,
    "argument 'name' must be a string, got table")
  -- `return Sequential { ... }` is a tail call: its frame is gone, the
  -- error names the line of the file's last top-level return
  load_error('\nreturn Sequential { name = {}, Dense { 1, input_shape = { 1 } } }\n', 2,
    "argument 'name' must be a string")
  load_error("return Sequential {}\n", 1, "the model has no layers")
  load_error("local x = 1\n\nreturn Sequential {\n}\n\n", 3, "the model has no layers")
  load_error("local m = Sequential { Dense { 1, input_shape = { 1 } }, 3 }\nreturn m\n", 1,
    "Sequential: every element must be a layer")
  load_error("local m = Sequential { Dense { 1, input_shape = { 1 } } }\nm:add(3)\nreturn m\n", 2,
    "Sequential:add expects a layer")
  load_error('local m = Sequential { Dense { 1, input_shape = { 1 } } }\n\nm:compile { loss = "hinge_loss" }\n'
    .. "return m\n",
    3, "compile: unknown or unsupported loss 'hinge_loss'")
  T.eq(T.load_text('return Sequential { name = "m1", Dense { 1, input_shape = { 1 } } }').name, "m1", "name")
end

tests["a duplicate layer name is refused"] = function()
  load_error('return Sequential {\n  Dense { 2, input_shape = { 3 }, name = "a" },\n  Dense { 2, name = "a" },\n}\n',
    3, "a layer named 'a' already exists")
end

---------------------------------------------------------------- shapes

tests["missing input shape on the first layer"] = function()
  layer_error(rnn("2"), 2, "simple_rnn", "SimpleRNN", "the first layer needs an input shape")
  layer_error("return Sequential {\n  Dense { 2 },\n  Dense { 3, input_shape = { 4 } },\n}\n", 2, "dense", "Dense",
    "the first layer needs an input shape")
end

tests["a recurrent layer on a 2-D input is impossible"] = function()
  layer_error(rnn("2, input_shape = { 3 }"), 2, "simple_rnn", "SimpleRNN",
    "expected an input of ndim=3 (batch, timesteps, features), found ndim=2: (None, 3)")
  layer_error("return Sequential {\n  Dense { 4, input_shape = { 3 } },\n  LSTM { 2 },\n}\n", 3, "lstm", "LSTM",
    "expected an input of ndim=3 (batch, timesteps, features), found ndim=2: (None, 4)")
  -- a sequence layer without return_sequences ends the time axis
  layer_error("return Sequential {\n  GRU { 4, input_shape = { 5, 3 } },\n  GRU { 2 },\n}\n", 3, "gru_1", "GRU",
    "expected an input of ndim=3 (batch, timesteps, features), found ndim=2: (None, 4)")
end

tests["return_state in a Sequential model is refused"] = function()
  layer_error(rnn("2, input_shape = { 2, 3 }, return_state = true"), 2, "simple_rnn", "SimpleRNN",
    "All layers in a Sequential model should have a single output tensor")
end

---------------------------------------------------------------- the file itself

tests["Lua syntax error names the file and line"] = function()
  load_error("return Sequential {\n  SimpleRNN { 2, input_shape = { 2, 3 } }\n  Dense { 1 },\n}\n", 3,
    "syntax error: ")
  load_error("local x = = 1\n", 1, "syntax error: unexpected symbol near '='")
end

tests["a runtime error in the description names the file and line"] = function()
  load_error("local a = 1\nlocal b = nil + a\n", 2, "attempt to perform arithmetic on a nil value")
  load_error('\n\nerror("my own message")\n', 3, "my own message")
  load_error("local function f() return f() + 1 end\nf()\n", 1, "stack overflow")
end

tests["a file that returns nothing, or not a model"] = function()
  load_error("local m = Sequential { Dense { 1, input_shape = { 2 } } }\n\n", 1,
    "the model file must return a model (end it with 'return model'), got nil")
  load_error("return Dense { 1, input_shape = { 2 } }\n", 1, "must return a model")
  load_error("local x = 42\nreturn x\n", 2, "must return a model (end it with 'return model'), got number")
end

tests["an unreadable model file"] = function()
  local _, text = T.raises(function()
    return dsl.load("/nonexistent/dir/model.lua")
  end)
  T.contains(text, "/nonexistent/dir/model.lua:0: cannot read the model file")
end

tests["a binary chunk is refused"] = function()
  local path = T.tmpfile(string.dump(function()
    return 1
  end))
  local _, text = T.raises(function()
    return dsl.load(path)
  end)
  T.contains(text, path .. ":1: syntax error: ")
  T.contains(text, "binary chunk")
end

tests["a long path is named in full, not truncated"] = function()
  -- Lua shortens chunk names over 60 characters to "...tail" in its messages
  local src = "return Sequential {\n  SimpleRNN { 3, input_shape = { 2, 3 }, unitz = 3 },\n}\n"
  local path = T.tmpfile(src, "_" .. string.rep("long_", 14) .. ".lua")
  T.truthy(#path > 60, "the path is long")
  local _, text = T.raises(function()
    return dsl.load(path)
  end)
  T.eq(text:sub(1, #path + 3), path .. ":2:", "error prefix")
end

tests["a layer built in a helper function reports the line inside the file"] = function()
  layer_error(table.concat({
    "local function block(n)",
    "  local layer = SimpleRNN { n, return_sequences = true, unitz = 1 }",
    "  return layer",
    "end",
    "return Sequential { Dense { 3, input_shape = { 4, 2 } }, block(3) }",
  }, "\n"), 2, "simple_rnn", "SimpleRNN", "unknown argument 'unitz'")
end

---------------------------------------------------------------- limits and sandbox

-- Bounded by a count of instructions, not by the clock: the same verdict on
-- a loaded machine. The budget it names is the bound that stopped it.
tests["a description that loops forever is stopped by the instruction budget"] = function()
  local _, text = load_error("local n = 0\nwhile true do n = n + 1 end\n", 2, "ran too long")
  local budget = tonumber(text:match("over ([%d%.e%+]+) instructions"))
  T.truthy(budget and budget <= 1e9, "stopped within a budget of at most 1e9 instructions: " .. text)
end

tests["a huge allocation is refused, not a crash"] = function()
  local model_tail = "\nreturn Sequential { Dense { 1, input_shape = { 1 } } }\n"
  load_error('local s = string.rep("x", 1 << 40)' .. model_tail, 1, "")
  -- above the 512 MiB limit: refused before it is allocated
  load_error('local s = string.rep("ab", 300 << 20)' .. model_tail, 1, "used too much memory")
  load_error('local s = ("x"):rep(600 << 20)' .. model_tail, 1, "used too much memory")
  collectgarbage()
  -- many small allocations: the instruction hook checks the memory
  load_error('local t, s = {}, ("x"):rep(2048)\nfor i = 1, 1e9 do t[i] = s .. i end' .. model_tail, 2,
    "used too much memory (over 512 MiB)")
  collectgarbage()
  -- string.rep keeps its own argument errors, on the description's line
  load_error('\nlocal s = string.rep("x", 3, {})' .. model_tail, 2, "bad argument #3")
  -- and still works within the limit, as a function and as a method
  local model = T.load_text('return Sequential { name = string.rep("ab", 2, "_") .. ("c"):rep(2), ' ..
    "Dense { 1, input_shape = { 1 } } }\n")
  T.eq(model.name, "ab_abcc", "model name built with rep")
  T.truthy(getmetatable("").__index == string, "string methods are restored after the load")
end

tests["the memory limit counts the description's memory, not the host's"] = function()
  local ok, err
  do
    local s = "h"
    for _ = 1, 28 do
      s = s .. s -- faster than string.rep for one character
    end
    collectgarbage()
    -- the host holds 256 MiB; the description asks for 272 MiB: together
    -- over the 512 MiB limit, alone well under it (string.rep checks the
    -- limit, and so does the hook every 1e5 instructions)
    ok, err = pcall(T.load_text, 'local s = ("0123456789abcdefg"):rep(1 << 24)\n' ..
      "for i = 1, 300000 do s = i end\nreturn Sequential { Dense { 1, input_shape = { 1 } } }\n")
    T.eq(#s, 1 << 28, "the host's data is still alive")
  end
  collectgarbage()
  T.truthy(ok, "a description loads in a big host: " .. tostring(err))
end

tests["sandbox: no os, io, require, load, dofile, debug"] = function()
  local model = T.load_text([[
local visible = {}
for _, k in ipairs({ "os", "io", "require", "load", "loadfile", "dofile", "debug", "package",
                     "setmetatable", "getmetatable", "rawset", "rawget", "collectgarbage", "coroutine" }) do
  if _ENV[k] ~= nil then visible[#visible + 1] = k end
end
if string.dump ~= nil then visible[#visible + 1] = "string.dump" end
return Sequential { name = "visible_" .. table.concat(visible, "_"), Dense { 1, input_shape = { 1 } } }
]])
  T.eq(model.name, "visible_", "standard functions visible in the sandbox")
  load_error('return os.execute("true")\n', 1, "attempt to index a nil value (global 'os')")
  load_error('return require("dsl")\n', 1, "attempt to call a nil value (global 'require')")
end

tests["sandbox: the description cannot change the host's libraries"] = function()
  local saved = { [math] = { type = math.type, floor = math.floor }, [string] = { rep = string.rep } }
  local ok, err = pcall(T.load_text, [[
math.type = function() return "integer" end
math.floor = nil
string.rep = nil
return Sequential { Dense { 1, input_shape = { 1 } } }
]])
  local leaked = false
  for lib, fields in pairs(saved) do
    for k, v in pairs(fields) do
      if lib[k] ~= v then
        leaked = true
        lib[k] = v -- repair the host for the other tests
      end
    end
  end
  T.truthy(ok, "the description loads: " .. tostring(err))
  T.truthy(not leaked, "math and string of the host are unchanged")
  -- and the checks still work in the next description
  load_error(rnn("2.5, input_shape = { 2, 3 }"), 2, "argument 'units' must be a positive integer, got 2.5")
end

-- Layers, tensors and models reach the description as opaque handles.
tests["sandbox: the description cannot change the layer classes"] = function()
    local dense = dsl.layer_modules.Dense
    local saved = dense.build
    pcall(T.load_text, [[
local d = Dense { 1, input_shape = { 1 } }
if d.module then d.module.build = function() error("replaced") end end
return Sequential { d }
]])
    local changed = dense.build ~= saved
    dense.build = saved
    T.truthy(not changed, "Dense.build is unchanged")
end

tests["sandbox: no description code runs after the budgeted chunk"] = function()
    local ok, model = pcall(T.load_text, [[
local d = Dense { 1, input_shape = { 1 } }
local real = d.module
d.module = {
  class = "Dense",
  build = function(layer, shape, prefix)
    layer.ran_after_the_chunk = true -- a `while true do end` here is never stopped
    return real.build(layer, shape, prefix)
  end,
}
return Sequential { d }
]])
    T.truthy(not (ok and model.layers[1].ran_after_the_chunk), "the planted build function did not run")
end

---------------------------------------------------------------- generation

local generate = require("generate")

local function generate_error(path, line, name, class, what)
  local err, text = T.raises(function()
    return generate.unit(path, { dtype = "float32", unroll = 64, root = T.root, format = false })
  end)
  T.truthy(util.is_model_error(err), "a ModelError, not an internal error: " .. text)
  T.eq(text:sub(1, #path + 1), path .. ":", "error starts with the file")
  local expect = string.format("%s:%d: layer '%s' (%s): %s", path, line, name, class, what)
  T.truthy(text:find(expect, 1, true), string.format("error %q contains %q", text, expect))
end

-- A layer class without code generation (no emit) is refused by name; one
-- that has it generates. The seeds cover LSTM, GRU and Bidirectional, which
-- gain code generation over time: the test follows what each class offers.
tests["generate: a layer without code generation says it is not implemented"] = function()
  local cases = {
    { "seed08", "lstm", "LSTM" },
    { "seed07", "gru", "GRU" },
    { "seed05", "bidirectional", "Bidirectional" },
  }
  local refused = 0
  for _, c in ipairs(cases) do
    local path = T.path("examples/seeds/" .. c[1] .. ".lua")
    if dsl.layer_modules[c[3]].emit then
      local files = generate.unit(path, { dtype = "float32", unroll = 64, root = T.root, format = false })
      T.truthy(next(files), c[3] .. " generates")
    else
      refused = refused + 1
      generate_error(path, 3, c[2], c[3], "code generation for " .. c[3] .. " is not implemented")
    end
  end
  -- the refusal itself, whatever the classes offer today: LSTM without emit
  local lstm = dsl.layer_modules.LSTM
  local saved = lstm.emit
  lstm.emit = nil
  local ok, err = pcall(generate_error, T.path("examples/seeds/seed08.lua"), 3, "lstm", "LSTM",
    "code generation for LSTM is not implemented")
  lstm.emit = saved
  if not ok then error(err, 0) end
end

tests["generate: an unknown sequence length asks for --timesteps"] = function()
  local path = T.tmpfile(rnn("2, input_dim = 3"))
  local _, text = T.raises(function()
    return generate.unit(path, { dtype = "float32", unroll = 64, root = T.root, format = false })
  end)
  T.truthy(text:find(escape(path) .. ":2: layer 'simple_rnn' %(SimpleRNN%): .*%-%-timesteps"), text)
  -- and works with it
  local files = generate.unit(path, { dtype = "float32", unroll = 64, root = T.root, format = false, timesteps = 4 })
  T.truthy(next(files), "files generated with timesteps")
end

tests["a recurrent softmax activation is a model error, not an internal one"] = function()
  -- Keras accepts it; rnnc may refuse it when loading or when generating,
  -- but with a ModelError that names the file, the line and the layer
  local path = T.tmpfile(rnn('2, input_shape = { 3, 2 }, activation = "softmax"'))
  local err, text = T.raises(function()
    local model = dsl.load(path)
    require("lower").unit(model, {})
  end)
  T.truthy(util.is_model_error(err), "a ModelError, not an internal error: " .. text)
  T.truthy(text:find(escape(path) .. ":2: layer 'simple_rnn' %(SimpleRNN%): .*softmax"), text)
end

---------------------------------------------------------------- the front-end layers

-- What the convolution, pooling, shape and normalisation layers refuse, each
-- naming the file, the line, the layer and what to write instead.
tests["front-end layers: arguments rnnc refuses, and shapes that do not fit"] = function()
  local function seq2(layer)
    return "return Sequential {\n  " .. layer .. ",\n}\n"
  end
  local cases = {
    { 'Conv1D { 4, 3, input_shape = { 8, 2 }, kernel_regularizer = "l3" }', "conv1d", "Conv1D",
      'kernel_regularizer = "l3" is not a regularizer rnnc knows' },
    { 'LSTM { 4, input_shape = { 8, 2 }, recurrent_constraint = "l2" }', "lstm", "LSTM",
      'recurrent_constraint = "l2" is not a constraint rnnc knows' },
    { 'Dense { 4, input_shape = { 8, 2 }, bias_regularizer = MaxNorm {} }', "dense", "Dense",
      "bias_regularizer = MaxNorm: a constraint, not a regularizer" },
    { 'Dense { 4, input_shape = { 8, 2 }, activity_regularizer = MaxNorm {} }', "dense", "Dense",
      "activity_regularizer = MaxNorm: a constraint, not a regularizer" },
    { 'Flatten { input_shape = { 8, 2 }, kernel_regularizer = "l2" }', "flatten", "Flatten",
      "kernel_regularizer is not an argument of Flatten: it has no such weight to put a regularizer on" },
    { 'Dense { 4, input_shape = { 8, 2 }, kernel_constraint = MaxNorm { axis = 2 } }', "dense", "Dense",
      "kernel_constraint: axis 2 is not an axis of kernel, shaped (2, 4) (0 to 1)" },
    { 'Dense { 4, input_shape = { 8, 2 }, kernel_regularizer = 0.01 }', "dense", "Dense",
      "kernel_regularizer must be a regularizer (a string such as \"l2\" or L2 { l2 = 0.01 }), got 0.01" },
    { 'Conv1D { 4, 3, input_shape = { 8, 2 }, data_format = "channels_first" }', "conv1d", "Conv1D",
      "data_format = \"channels_first\" is not supported: rnnc's sequences are (batch, steps, channels)" },
    { "Conv1D { 4, 3, input_shape = { 8, 2 }, strides = 2, dilation_rate = 2 }", "conv1d", "Conv1D",
      "strides = 2 with dilation_rate = 2: Keras does not allow both above 1" },
    { "Conv1D { 3, 3, input_shape = { 8, 2 }, groups = 2 }", "conv1d", "Conv1D",
      "groups = 2 must divide the input's 2 channels and the 3 filters" },
    { 'Conv1D { 4, 3, input_shape = { 8, 2 }, padding = "full" }', "conv1d", "Conv1D",
      "argument 'padding' = \"full\" is not one of valid, same, causal" },
    { "Conv1D { 4, 5, input_shape = { 3, 2 } }", "conv1d", "Conv1D",
      "the input's 3 steps are fewer than the dilated kernel's 5 (padding = \"valid\")" },
    { "Conv1D { 4, { 3, 3 }, input_shape = { 8, 2 } }", "conv1d", "Conv1D",
      "argument 'kernel_size' must be an integer or a tuple of one integer (1-D layers)" },
    { "Conv1D { 4, 3, input_shape = { 8 } }", "conv1d", "Conv1D",
      "expected an input of ndim=3 (batch, steps, channels), found ndim=2: (None, 8)" },
    { 'MaxPooling1D { 2, padding = "causal", input_shape = { 8, 2 } }', "max_pooling1d", "MaxPooling1D",
      "argument 'padding' = \"causal\" is not one of valid, same" },
    { "Flatten { input_shape = { None, 2 } }", "flatten", "Flatten",
      "Flatten needs every dimension but the batch known, got (None, None, 2)" },
    { "Reshape { { 3, 3 }, input_shape = { 4, 2 } }", "reshape", "Reshape",
      "total size of new array must be unchanged: (None, 4, 2) has 8 values per sample, the target 9" },
    { "Reshape { { 2, 2, 2 }, input_shape = { 4, 2 } }", "reshape", "Reshape",
      "target_shape = 3 dimensions: rnnc's tensors are (batch, features) or (batch, steps, features)" },
    { "Permute { { 1, 1 }, input_shape = { 4, 2 } }", "permute", "Permute", "dims must be a permutation of 1..2" },
    { "RepeatVector { 3, input_shape = { 4, 2 } }", "repeat_vector", "RepeatVector",
      "expected an input of ndim=2 (batch, features), found ndim=3" },
    { "Cropping1D { { 2, 2 }, input_shape = { 4, 2 } }", "cropping1d", "Cropping1D",
      "cropping {2, 2} leaves no step of (None, 4, 2)" },
    { "LayerNormalization { axis = 1, input_shape = { 4, 2 } }", "layer_normalization", "LayerNormalization",
      "axis = 1: rnnc normalises over the last axis only (axis = -1 or 2 for (None, 4, 2))" },
    { "BatchNormalization { renorm = true, input_shape = { 4, 2 } }", "batch_normalization", "BatchNormalization",
      "renorm = true is not supported (batch renormalization is not implemented)" },
    { "BatchNormalization { momentum = 2, input_shape = { 4, 2 } }", "batch_normalization", "BatchNormalization",
      "momentum must be in [0, 1], got 2" },
    { "BatchNormalization { gamma_constraint = 1, input_shape = { 4, 2 } }", "batch_normalization",
      "BatchNormalization", "gamma_constraint must be a constraint" },
  }
  for _, c in ipairs(cases) do
    layer_error(seq2(c[1]), 2, c[2], c[3], c[4])
  end
end

-- A unit of variable length (--timesteps) runs at the length of its data:
-- a layer that changes the number of steps, or reads later ones, is refused
-- there with what to write instead; a causal convolution is not.
tests["front-end layers: in a unit of variable length"] = function()
  local function gen(text, ok)
    local path = T.tmpfile(text)
    local run = function()
      return generate.unit(path, { dtype = "float32", unroll = 0, root = T.root, format = false, timesteps = 6 })
    end
    if ok then return run() end
    local err, msg = T.raises(run)
    T.truthy(util.is_model_error(err), "a ModelError: " .. msg)
    return msg
  end
  T.contains(gen('return Sequential { Conv1D { 2, 3, padding = "same", input_shape = { None, 2 } } }'),
    "layer 'conv1d' (Conv1D): padding = \"same\" with kernel_size 3 and strides 1 changes the sequence length or "
    .. "reads later steps, which a unit of variable length (--timesteps) cannot follow: use padding = \"causal\"")
  T.contains(gen("return Sequential { MaxPooling1D { 2, input_shape = { None, 2 } }, Dense { 1 } }"),
    "layer 'max_pooling1d' (MaxPooling1D): MaxPooling1D changes the sequence length, which a unit of variable "
    .. "length (--timesteps) cannot follow")
  T.contains(gen("return Sequential { GlobalAveragePooling1D { input_shape = { None, 2 } }, Dense { 1 } }"),
    "GlobalAveragePooling1D in a unit of variable length (--timesteps) is not implemented")
  local files = gen([[
return Sequential {
  Conv1D { 3, 3, padding = "causal", dilation_rate = 2, input_shape = { None, 2 } },
  BatchNormalization {},
  LayerNormalization {},
  GlobalMaxPooling1D {},
}
]], true)
  T.truthy(next(files), "a causal stack, normalisation and a global max pooling generate")
end

-- A model that cannot stream says why in its header.
tests["front-end layers: why a model cannot stream"] = function()
  local cases = {
    { 'Conv1D { 2, 3, padding = "same", input_shape = { 6, 2 } }',
      "layer 'conv1d' (Conv1D) has padding = \"same\": its output at a step reads later steps" },
    { "Conv1D { 2, 3, input_shape = { 6, 2 } }", "layer 'conv1d' (Conv1D) has padding = \"valid\": its output at a "
      .. "step starts only once the kernel has its steps (only padding = \"causal\" streams)" },
    { 'Conv1D { 2, 2, padding = "causal", strides = 2, input_shape = { 6, 2 } }',
      "layer 'conv1d' (Conv1D) has strides = 2: it gives one step for every 2" },
    { "MaxPooling1D { 2, input_shape = { 6, 2 } }",
      "layer 'max_pooling1d' (MaxPooling1D) pools 2 steps into one every 2" },
    { "Flatten { input_shape = { 6, 2 } }", "layer 'flatten' (Flatten) merges the time axis" },
    { "UpSampling1D { input_shape = { 6, 2 } }", "layer 'up_sampling1d' (UpSampling1D) makes 2 steps of every step" },
  }
  for _, c in ipairs(cases) do
    local path = T.tmpfile("return Sequential {\n  " .. c[1] .. ",\n  Dense { 1 },\n}\n")
    local files, name = generate.unit(path, { dtype = "float32", unroll = 0, root = T.root, format = false })
    local h = files[name .. ".h"]:gsub("\n %* ", " ")
    T.contains(h, "No streaming API (" .. name .. "_stream_step): " .. c[2])
  end
end

tests["regularizer and constraint constructors: Keras's arguments only, in range"] = function()
  local function one(expr)
    return "local r = " .. expr .. "\nreturn Sequential { Dense { 2, input_shape = { 3 }, kernel_regularizer = r } }\n"
  end
  load_error(one("L2 { l2 = -1 }"), 1, "L2: l2 must be a non-negative number, got -1")
  load_error(one("L1 { l2 = 0.1 }"), 1, "L1: unknown argument 'l2'")
  load_error(one("MinMaxNorm { min_value = 2, max_value = 1 }"), 1,
    "MinMaxNorm: min_value 2 is larger than max_value 1")
  load_error(one("MaxNorm { axis = 7 }"), 1, "MaxNorm: axis 7 is not an axis of a weight")
end

return tests
