#!/usr/bin/env lua5.4
-- Random model descriptions for the generated-code tests (tests/random/).
--
--   lua5.4 tests/random/make_models.lua OUTDIR [SEED] [COUNT]
--
-- Writes COUNT (default 50) model files OUTDIR/r00.lua, r01.lua, ... drawn
-- from a seeded PRNG of our own (splitmix64 on Lua 5.4's wrapping 64-bit
-- integers), so a seed gives the same files on every machine. Every file
-- records its batch size and loss in its header comment:
--
--   -- rnnc-random: batch=B loss=LOSS
--
-- and OUTDIR/models.txt lists the models, one per line: "name batch loss".
--
-- The models are stacks of 1 to 3 layers of what code generation supports:
-- SimpleRNN (units, activation, use_bias, return_sequences, go_backwards),
-- Dense on 2-D or 3-D inputs and TimeDistributed(Dense). A SimpleRNN that
-- returns only its last state is followed by Dense layers only; softmax is
-- only ever the last layer's activation. Losses: mse, and
-- sparse_categorical_crossentropy after a softmax Dense (Keras's fused form)
-- or, to test the unfused form, after a sigmoid Dense or SimpleRNN.
-- Optimizer: Adam (by name or Adam{...} with a learning rate).

local outdir, seed_arg, count_arg = arg[1], arg[2], arg[3]
if not outdir or outdir == "-h" or outdir == "--help" then
  io.stderr:write("usage: lua5.4 make_models.lua OUTDIR [SEED] [COUNT]\n")
  os.exit(2)
end
local DEFAULT_SEED = 20240611
local seed = math.tointeger(tonumber(seed_arg or DEFAULT_SEED))
local count = math.tointeger(tonumber(count_arg or 50))
if not seed then
  io.stderr:write("make_models.lua: SEED must be an integer\n")
  os.exit(2)
end
if not count or count < 1 or count > 1000 then
  io.stderr:write("make_models.lua: COUNT must be an integer in 1..1000\n")
  os.exit(2)
end

---------------------------------------------------------------- PRNG

-- splitmix64 (Steele, Lea, Flood 2014). Lua 5.4 integers are 64-bit two's
-- complement with wrapping + and *, and >> is a logical shift, so this is
-- bit-exact everywhere.
local state = seed
local function next64()
  state = state + 0x9E3779B97F4A7C15
  local z = state
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end

-- Uniform integer in [lo, hi] (the modulo bias of a 63-bit draw is negligible).
local function int(lo, hi)
  return lo + (next64() >> 1) % (hi - lo + 1)
end

-- True with probability p.
local function chance(p)
  return (next64() >> 11) * (1.0 / 9007199254740992.0) < p
end

local function pick(list)
  return list[int(1, #list)]
end

---------------------------------------------------------------- sizes

-- Mostly small, so that the unrolled code stays small and the finite
-- differences stay cheap; now and then a larger one.
local function units()
  if chance(0.88) then return int(1, 16) end
  return int(17, 40)
end

local function timesteps()
  if chance(0.85) then return int(1, 12) end
  return int(13, 30)
end

local function features()
  if chance(0.8) then return int(1, 8) end
  return int(9, 20)
end

local ELEMENTWISE = { "tanh", "relu", "sigmoid", "linear" }

---------------------------------------------------------------- one model

-- Returns a list of layer records, the input shape, the loss and notes.
local function draw_model()
  local n_layers = int(1, 3)
  local sequence_input = chance(0.85)
  local shape -- per-sample shape of the current tensor
  if sequence_input then
    shape = { timesteps(), features() }
  else
    shape = { features() }
  end
  local input_shape = { table.unpack(shape) }

  -- The loss decides what the last layer must be.
  local r = next64() >> 1
  local want = ({ "mse", "mse", "mse", "mse", "fused", "fused", "fused", "fused", "unfused", "mse_softmax" })[
    r % 10 + 1]

  local layers = {}
  for i = 1, n_layers do
    local last = i == n_layers
    local L = {}
    local kinds
    if #shape == 2 then
      kinds = { "SimpleRNN", "SimpleRNN", "SimpleRNN", "SimpleRNN", "Dense", "TimeDistributed" }
    else
      kinds = { "Dense" }
    end
    L.kind = pick(kinds)
    -- A softmax output needs a Dense last layer; the unfused crossentropy can
    -- also follow a sigmoid SimpleRNN.
    if last and (want == "fused" or want == "mse_softmax") and L.kind == "SimpleRNN" then
      L.kind = (#shape == 2 and chance(0.5)) and "TimeDistributed" or "Dense"
    end
    L.units = units()
    L.use_bias = chance(0.75)
    if L.kind == "SimpleRNN" then
      L.activation = pick(ELEMENTWISE)
      L.go_backwards = chance(0.35)
      -- Returning only the last state makes the rest of the stack 2-D (Dense only).
      if last then
        L.return_sequences = chance(0.5)
      else
        L.return_sequences = chance(0.75)
      end
      if L.return_sequences then
        shape = { shape[1], L.units }
      else
        shape = { L.units }
      end
    else
      L.activation = pick(ELEMENTWISE)
      if #shape == 2 then
        shape = { shape[1], L.units }
      else
        shape = { L.units }
      end
    end
    if last then
      if want == "fused" or want == "mse_softmax" then
        L.activation = "softmax"
        if L.units == 1 and chance(0.8) then L.units = int(2, 12) end
      elseif want == "unfused" then
        L.activation = "sigmoid"
      end
      shape[#shape] = L.units
    end
    layers[i] = L
  end
  local loss = (want == "fused" or want == "unfused") and "sparse_categorical_crossentropy" or "mse"
  return layers, input_shape, loss, want
end

---------------------------------------------------------------- writing Lua

local function list(t)
  local s = {}
  for i, v in ipairs(t) do
    s[i] = tostring(v)
  end
  return "{ " .. table.concat(s, ", ") .. " }"
end

-- One layer constructor call. `first` adds the input shape in one of the
-- ways Keras accepts it; arguments equal to their default are sometimes left
-- out so that the defaults are exercised too.
local function layer_text(L, first, input_shape, batch, index)
  local args = { tostring(L.units) }
  local function opt(key, value, default)
    if value ~= default or chance(0.5) then
      if type(value) == "string" then
        args[#args + 1] = string.format('%s = "%s"', key, value)
      else
        args[#args + 1] = string.format("%s = %s", key, tostring(value))
      end
    end
  end
  local wrapped = L.kind == "TimeDistributed"
  if first and not wrapped then
    local style = int(1, 4)
    if #input_shape == 1 then
      if style <= 2 then
        args[#args + 1] = "input_shape = " .. list(input_shape)
      elseif style == 3 then
        args[#args + 1] = "input_dim = " .. input_shape[1]
      else
        args[#args + 1] = "batch_input_shape = " .. list({ batch, input_shape[1] })
      end
    else
      if style <= 2 then
        args[#args + 1] = "input_shape = " .. list(input_shape)
      elseif style == 3 and L.kind == "SimpleRNN" then
        args[#args + 1] = "input_length = " .. input_shape[1]
        args[#args + 1] = "input_dim = " .. input_shape[2]
      else
        args[#args + 1] = "batch_input_shape = " .. list({ batch, input_shape[1], input_shape[2] })
      end
    end
  end
  local default_act = L.kind == "SimpleRNN" and "tanh" or "linear"
  opt("activation", L.activation, default_act)
  opt("use_bias", L.use_bias, true)
  if L.kind == "SimpleRNN" then
    opt("return_sequences", L.return_sequences, false)
    opt("go_backwards", L.go_backwards, false)
  end
  if chance(0.15) then args[#args + 1] = string.format('name = "layer%d"', index) end
  local class = L.kind == "SimpleRNN" and "SimpleRNN" or "Dense"
  local text = class .. " { " .. table.concat(args, ", ") .. " }"
  if wrapped then
    local outer = { text }
    if first then outer[2] = "input_shape = " .. list(input_shape) end
    text = "TimeDistributed { " .. table.concat(outer, ", ") .. " }"
  end
  return text
end

local function describe(L)
  local s = L.kind .. "(" .. L.units .. ", " .. L.activation
  if not L.use_bias then s = s .. ", no bias" end
  if L.kind == "SimpleRNN" then
    if L.return_sequences then s = s .. ", sequences" end
    if L.go_backwards then s = s .. ", backwards" end
  end
  return s .. ")"
end

local function model_text(name, layers, input_shape, loss, want, batch)
  local out = {}
  local function w(s)
    out[#out + 1] = s
  end
  w(string.format("-- rnnc random test model %s (tests/random/make_models.lua, seed %d)", name, seed))
  w(string.format("-- rnnc-random: batch=%d loss=%s", batch, loss))
  local descr = {}
  for i, L in ipairs(layers) do
    descr[i] = describe(L)
  end
  w("-- input " .. list(input_shape) .. " -> " .. table.concat(descr, " -> ") .. "; " .. want)
  local texts = {}
  for i, L in ipairs(layers) do
    texts[i] = layer_text(L, i == 1, input_shape, batch, i)
  end
  if chance(0.2) then
    w("local model = Sequential {}")
    for _, t in ipairs(texts) do
      w("model:add(" .. t .. ")")
    end
  else
    w("local model = Sequential {")
    for _, t in ipairs(texts) do
      w("  " .. t .. ",")
    end
    w("}")
  end
  local optimizer
  local o = int(1, 4)
  if o == 1 then
    optimizer = '"adam"'
  elseif o == 2 then
    optimizer = '"Adam"'
  elseif o == 3 then
    optimizer = "Adam {}"
  else
    optimizer = string.format("Adam { learning_rate = %s }", pick({ "0.01", "0.005", "0.0003" }))
  end
  local metrics = ""
  if loss == "sparse_categorical_crossentropy" and chance(0.5) then metrics = ', metrics = { "accuracy" }' end
  w(string.format('model:compile { optimizer = %s, loss = "%s"%s }', optimizer, loss, metrics))
  w("return model")
  return table.concat(out, "\n") .. "\n"
end

---------------------------------------------------------------- main

os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'")
local index = {}
local stats = { fused = 0, unfused = 0, mse = 0, mse_softmax = 0, backwards = 0, relu = 0, rnn = 0, dense2d = 0 }
for k = 0, count - 1 do
  local name = string.format("r%02d", k)
  local batch = chance(0.5) and int(1, 4) or int(1, 8)
  local layers, input_shape, loss, want = draw_model()
  local path = outdir .. "/" .. name .. ".lua"
  local f = assert(io.open(path, "wb"))
  f:write(model_text(name, layers, input_shape, loss, want, batch))
  f:close()
  index[#index + 1] = string.format("%s %d %s", name, batch, loss)
  stats[want] = stats[want] + 1
  for _, L in ipairs(layers) do
    if L.go_backwards then stats.backwards = stats.backwards + 1 end
    if L.activation == "relu" then stats.relu = stats.relu + 1 end
    if L.kind == "SimpleRNN" then stats.rnn = stats.rnn + 1 end
  end
  if #input_shape == 1 then stats.dense2d = stats.dense2d + 1 end
end
local f = assert(io.open(outdir .. "/models.txt", "wb"))
f:write(table.concat(index, "\n") .. "\n")
f:close()
print(string.format("make_models.lua: seed %d: wrote %d models to %s (mse %d, softmax+mse %d, fused cce %d, " ..
  "unfused cce %d; %d SimpleRNN layers, %d go_backwards, %d relu layers, %d 2-D input models)", seed, count, outdir,
  stats.mse, stats.mse_softmax, stats.fused, stats.unfused, stats.rnn, stats.backwards, stats.relu, stats.dense2d))
