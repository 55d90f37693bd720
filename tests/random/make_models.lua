#!/usr/bin/env lua5.4
-- Random model descriptions for the generated-code tests (tests/random/).
--
--   lua5.4 tests/random/make_models.lua OUTDIR [SEED] [COUNT]
--
-- Writes COUNT (default 90) model files OUTDIR/r00.lua, r01.lua, ... drawn
-- from a seeded PRNG of our own (splitmix64 on Lua 5.4's wrapping 64-bit
-- integers), so a seed gives the same files on every machine. Every file
-- records its batch size, its loss and the bias initializer of each LSTM
-- layer (in layer order; the C test checks the descriptor against it, since
-- the reference spec does not carry initializers) in its header comment:
--
--   -- rnnc-random: batch=B loss=LOSS unit_forget_bias=1,0,...
--
-- and OUTDIR/models.txt lists the models, one per line: "name batch loss".
-- It prints a summary of every option drawn (OUTDIR/coverage.txt keeps it).
--
-- The models are chains of 1 to 3 layers of what code generation supports:
--   SimpleRNN, LSTM, GRU (units, activation tanh/relu/sigmoid/linear/
--     hard_sigmoid, recurrent_activation sigmoid/hard_sigmoid, use_bias,
--     return_sequences, go_backwards, LSTM unit_forget_bias, GRU reset_after),
--   Bidirectional around any of the three (merge_mode concat/sum/mul/ave, and
--     None only as the last layer of a functional model: two outputs),
--   Dense on 2-D or 3-D inputs and TimeDistributed(Dense).
-- A recurrent layer that returns only its last state is followed by Dense
-- layers only; softmax is only ever the last layer's activation.
-- About half the models are Sequential, the others functional (Input, calls,
-- Model): some end in a layer with return_state = true whose outputs
-- {output, states...} (Keras order) are all the model's outputs, some call
-- recurrent layers with { initial_state = {...} } fed by extra Input tensors
-- (Model inputs: the main input, then the states in layer order; never inside
-- Bidirectional), some both. Other picks of a last layer's outputs (a subset,
-- another order), which the DSL accepts, are not drawn: the spec the
-- generator embeds for the reference runtime does not record the picks, so
-- the reference computes all of the layer's outputs in Keras order instead.
-- Losses: mse, and sparse_categorical_crossentropy after a softmax Dense
-- (Keras's fused form) or, to test the unfused form, after a sigmoid Dense or
-- a sigmoid recurrent layer whose first output stays inside (0, 1).
-- Optimizer: Adam (by name or Adam{...} with a learning rate).
--
-- Then COUNT / 3 front-end models fNN (convolutions, pooling, normalisation)
-- and COUNT / 6 (at least 1) Embedding models eNN (integer tokens in: an
-- Embedding, one or two recurrent layers, a Dense), each from a stream of
-- its own so that the rNN models of a seed stay the same.
--
-- Sizes stay small (units <= 12, timesteps mostly <= 10) so that about 90
-- models x {float64, float32} generate, compile and pass the finite
-- differences in under a minute on two cores.

local outdir, seed_arg, count_arg = arg[1], arg[2], arg[3]
if not outdir or outdir == "-h" or outdir == "--help" then
  io.stderr:write("usage: lua5.4 make_models.lua OUTDIR [SEED] [COUNT]\n")
  os.exit(2)
end
local DEFAULT_SEED = 20240611
local DEFAULT_COUNT = 90
local seed = math.tointeger(tonumber(seed_arg or DEFAULT_SEED))
local count = math.tointeger(tonumber(count_arg or DEFAULT_COUNT))
if not seed then
  io.stderr:write("make_models.lua: SEED must be an integer\n")
  os.exit(2)
end
if not count or count < 1 or count > 1000 then
  io.stderr:write("make_models.lua: COUNT must be an integer in 1..1000\n")
  os.exit(2)
end

---------------------------------------------------------------- PRNG

-- splitmix64 (Steele, Lea, Flood 2014), shared with make_graphs.lua.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local rng = require("splitmix").new(seed)
local next64, int, chance, pick = rng.next64, rng.int, rng.chance, rng.pick
-- Which layers are frozen (trainable = false) comes from a stream of its
-- own, so that every other draw, and so each model of a seed, stays what it
-- was before layers could be frozen; a frozen layer only adds
-- "trainable = false" to its constructor.
local frz = require("splitmix").new(seed ~ 0x465245455A45) -- "FREEZE"
-- The noise layers (Dropout, SpatialDropout1D, GaussianNoise,
-- GaussianDropout) of the front-end models: a stream of their own too.
local noise = require("splitmix").new(seed ~ 0x4E4F495345) -- "NOISE"

-- `text` ("Kind { ... }") with trainable = false added.
local function frozen_text(text)
  local head = assert(text:match("^(.-)%s*}$"), text)
  return head .. (head:match("{$") and " " or ", ") .. "trainable = false }"
end

---------------------------------------------------------------- sizes

-- Small, so that the unrolled code stays small and the finite differences
-- (four loss evaluations per parameter) stay cheap; now and then larger.
local function units()
  if chance(0.85) then return int(1, 8) end
  return int(9, 12)
end

local function timesteps()
  local r = next64() >> 1
  if r % 100 < 88 then return int(1, 8) end
  if r % 100 < 97 then return int(9, 10) end
  return int(11, 16)
end

local function features()
  if chance(0.85) then return int(1, 6) end
  return int(7, 10)
end

local ELEMENTWISE = { "tanh", "relu", "sigmoid", "linear", "hard_sigmoid", "hard_sigmoid_keras2", "elu", "selu",
  "gelu", "gelu_approximate", "swish", "silu", "softplus", "softsign", "leaky_relu", "relu6", "mish", "hard_silu",
  "hard_swish" }
-- Dense layers also draw these (exponential could overflow in a recurrence)
local DENSE_ONLY = { "exponential" }
local RECURRENT_ACTIVATIONS = { "sigmoid", "hard_sigmoid", "hard_sigmoid_keras2" }
-- The activation layers of issue 13 (generator/layers/activation.lua).
local ACTIVATION_LAYERS = { "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU" }
local IS_ACTIVATION_LAYER = {}
for _, k in ipairs(ACTIVATION_LAYERS) do
  IS_ACTIVATION_LAYER[k] = true
end
local MERGE_MODES = { "concat", "sum", "mul", "ave" }
local CELLS = { SimpleRNN = true, LSTM = true, GRU = true }
local N_STATES = { SimpleRNN = 1, LSTM = 2, GRU = 1 }

---------------------------------------------------------------- one model

-- A recurrent cell's options (the wrapped layer of a Bidirectional too).
local function draw_cell(L, kind)
  L.cell = kind
  L.activation = pick(ELEMENTWISE)
  if kind ~= "SimpleRNN" then L.recurrent_activation = pick(RECURRENT_ACTIVATIONS) end
  if kind == "LSTM" then L.unit_forget_bias = chance(0.6) end
  if kind == "GRU" then L.reset_after = chance(0.6) end
  L.go_backwards = chance(0.35)
end

-- The arguments of an activation layer (Activation, ReLU, LeakyReLU, ELU,
-- PReLU) on an input of per-sample shape `shape`.
local function draw_activation_layer(L, shape)
  L.use_bias = false
  if L.kind == "Activation" then
    L.activation = pick({ pick(ELEMENTWISE), pick(DENSE_ONLY), "softmax", "log_softmax" })
  elseif L.kind == "ReLU" then
    L.max_value = chance(0.5) and pick({ 0.5, 1, 6 }) or nil
    L.negative_slope = chance(0.5) and pick({ 0.1, 0.3 }) or 0
    L.threshold = chance(0.4) and pick({ -0.2, 0.25 }) or 0
  elseif L.kind == "LeakyReLU" then
    L.negative_slope = chance(0.5) and pick({ 0.05, 0.5 }) or nil
  elseif L.kind == "ELU" then
    L.alpha = chance(0.5) and pick({ 0.4, 1.5 }) or nil
  else -- PReLU: a shared axis now and then
    if #shape == 2 and chance(0.6) then
      L.shared_axes = pick({ { 1 }, { 2 }, { 1, 2 } })
    end
  end
end

-- Returns the model record: layers, input shape, loss, notes.
local function draw_model()
  local M = { functional = chance(0.5) }
  M.state_out = M.functional and chance(0.5)
  M.state_in = M.functional and chance(0.5)
  local n_layers = int(1, 3)
  local sequence_input = M.state_out or M.state_in or chance(0.9)
  local shape -- per-sample shape of the current tensor
  if sequence_input then
    shape = { timesteps(), features() }
  else
    shape = { features() }
  end
  M.input_shape = { table.unpack(shape) }

  -- The loss decides what the last layer must be.
  local r = next64() >> 1
  local want = ({ "mse", "mse", "mse", "mse", "fused", "fused", "fused", "unfused", "unfused", "mse_softmax" })[
    r % 10 + 1]
  -- return_state puts a recurrent layer last: no softmax Dense there.
  if M.state_out and (want == "fused" or want == "mse_softmax") then want = chance(0.5) and "mse" or "unfused" end

  local layers = {}
  for i = 1, n_layers do
    local last = i == n_layers
    local L = { units = units(), use_bias = chance(0.75) }
    local kinds
    if #shape == 2 then
      kinds = { "SimpleRNN", "SimpleRNN", "LSTM", "LSTM", "LSTM", "GRU", "GRU", "GRU", "Bidirectional",
        "Bidirectional", "Bidirectional", "Dense", "TimeDistributed", "elementwise", "elementwise", "elementwise" }
    else
      kinds = { "Dense", "Dense", "elementwise" }
    end
    L.kind = pick(kinds)
    if L.kind == "elementwise" then L.kind = pick(ACTIVATION_LAYERS) end
    -- an activation layer keeps the width: never last where the loss needs a softmax or sigmoid
    if last and want ~= "mse" and IS_ACTIVATION_LAYER[L.kind] then L.kind = "Dense" end
    if i == 1 and M.state_in and not CELLS[L.kind] then L.kind = pick({ "SimpleRNN", "LSTM", "GRU" }) end
    if last and M.state_out and #shape == 2 and not (CELLS[L.kind] or L.kind == "Bidirectional") then
      L.kind = pick({ "SimpleRNN", "LSTM", "GRU", "Bidirectional" })
    end
    -- A softmax output needs a Dense last layer.
    if last and (want == "fused" or want == "mse_softmax") and L.kind ~= "Dense" and L.kind ~= "TimeDistributed" then
      L.kind = (#shape == 2 and chance(0.5)) and "TimeDistributed" or "Dense"
    end
    local recurrent = CELLS[L.kind] or L.kind == "Bidirectional"
    if recurrent then
      draw_cell(L, L.kind == "Bidirectional" and pick({ "SimpleRNN", "LSTM", "GRU" }) or L.kind)
      if L.kind == "Bidirectional" then
        L.merge_mode = pick(MERGE_MODES)
        if last and M.functional and chance(0.5) then L.merge_mode = "none" end
      end
      -- Returning only the last state makes the rest of the chain 2-D (Dense only).
      if last then
        L.return_sequences = chance(0.5)
        L.return_state = M.state_out
      else
        -- a return_state layer at the end needs a sequence
        L.return_sequences = M.state_out or chance(0.75)
      end
      if M.state_in and CELLS[L.kind] then L.initial_state = i == 1 or chance(0.5) end
      local cols = L.units
      if L.merge_mode == "concat" then cols = 2 * L.units end
      if L.return_sequences then
        shape = { shape[1], cols }
      else
        shape = { cols }
      end
    elseif L.kind == "Dense" or L.kind == "TimeDistributed" then
      L.activation = chance(0.1) and pick(DENSE_ONLY) or pick(ELEMENTWISE)
      if #shape == 2 then
        shape = { shape[1], L.units }
      else
        shape = { L.units }
      end
    else
      -- an activation layer: the shape stays
      L.units = shape[#shape]
      draw_activation_layer(L, shape)
    end
    if last then
      if want == "fused" or want == "mse_softmax" then
        L.activation = "softmax"
        if L.units == 1 and chance(0.8) then L.units = int(2, 12) end
      elseif want == "unfused" then
        -- the first output inside (0, 1): a sigmoid Dense, a sigmoid SimpleRNN
        -- or LSTM (o * sigmoid(c)), a sigmoid GRU from h_0 = 0 (convex
        -- combinations of values in (0, 1)); Bidirectional: not summed
        L.activation = "sigmoid"
        if L.cell == "GRU" and L.initial_state then want = "mse" end
        if L.merge_mode == "sum" then L.merge_mode = "ave" end
      end
      local cols = L.units
      if L.merge_mode == "concat" then cols = 2 * L.units end
      shape[#shape] = cols
    end
    layers[i] = L
  end
  -- a model needs a weight: all activation layers become a PReLU at the start
  local weighted = false
  for _, L in ipairs(layers) do
    if not IS_ACTIVATION_LAYER[L.kind] or L.kind == "PReLU" then weighted = true end
  end
  if not weighted then
    layers[1].kind = "PReLU"
    draw_activation_layer(layers[1], M.input_shape)
  end
  -- frozen layers: a layer with weights, sometimes; a wrapper either
  -- itself or the layer it wraps; one layer with weights stays trainable
  local last_weighted
  for _, L in ipairs(layers) do
    if not IS_ACTIVATION_LAYER[L.kind] or L.kind == "PReLU" then
      last_weighted = L
      if frz.chance(0.2) then
        L.frozen = (L.kind == "Bidirectional" or L.kind == "TimeDistributed") and frz.chance(0.5) and "inner"
          or "outer"
      end
    end
  end
  last_weighted.frozen = nil
  -- the recurrent layers' dropout, from the noise stream
  for _, L in ipairs(layers) do
    if L.cell and noise.chance(0.3) then
      L.dropout = noise.pick({ 0, 0.2, 0.5 })
      L.recurrent_dropout = noise.pick({ 0, 0.25, 0.5 })
      if noise.chance(0.3) then L.implementation = 1 end
    end
  end
  M.layers = layers
  M.want = want
  M.loss = (want == "fused" or want == "unfused") and "sparse_categorical_crossentropy" or "mse"
  M.state_in = false
  for _, L in ipairs(layers) do
    if L.initial_state then M.state_in = true end
  end
  return M
end

---------------------------------------------------------------- writing Lua

local function list(t)
  local s = {}
  for i, v in ipairs(t) do
    s[i] = tostring(v)
  end
  return "{ " .. table.concat(s, ", ") .. " }"
end

-- The arguments of one layer constructor (without the class). `shape_args`
-- are added first (the input shape of a Sequential's first layer); arguments
-- equal to their default are sometimes left out so that the defaults are
-- exercised too.
-- Weight regularizers and constraints, from a stream of their own (so the
-- models the other draws make stay what they were): a layer with weights
-- sometimes gets some, in every spelling; rules_seen counts them for the
-- coverage summary.
local rules_rng = require("splitmix").new(seed ~ 0x52554C4553)
local rules_seen = {}
local REGULARIZERS = { '"l1"', '"l2"', '"l1_l2"', "L1 { 0.02 }", "L2 { l2 = 0.05 }", "L1L2 { l1 = 0.01, l2 = 0.03 }" }
local CONSTRAINTS = { '"non_neg"', "MaxNorm { max_value = 0.5 }", '"unit_norm"', "MinMaxNorm { 0.1, 0.8, rate = 0.5 }" }
local KERNEL_CONSTRAINTS = { "MaxNorm { 1, axis = { 0, 1 } }", "UnitNorm { axis = 1 }", "NonNeg {}" }
local function rules_args(kind, use_bias, args, top)
  -- Keras's activity_regularizer: on a layer that is not wrapped and has one
  -- output (rnnc refuses the others); L2 only, as |y| has a kink at every
  -- output that crosses 0, which finite differences do not see (L1 is
  -- checked by the conformance case and the CLI's gradcheck)
  if top and rules_rng.chance(0.15) then
    local r = rules_rng.pick({ '"l2"', "L2 { l2 = 0.05 }" })
    args[#args + 1] = "activity_regularizer = " .. r
    rules_seen["activity_regularizer " .. r] = (rules_seen["activity_regularizer " .. r] or 0) + 1
  end
  if not rules_rng.chance(0.3) then return end
  local weights = { "kernel" }
  if CELLS[kind] then weights[#weights + 1] = "recurrent" end
  if use_bias then weights[#weights + 1] = "bias" end
  for _, w in ipairs(weights) do
    if rules_rng.chance(0.5) then
      local r = rules_rng.pick(REGULARIZERS)
      args[#args + 1] = w .. "_regularizer = " .. r
      rules_seen["regularizer " .. r] = (rules_seen["regularizer " .. r] or 0) + 1
    end
    if rules_rng.chance(0.3) then
      local c = w ~= "bias" and rules_rng.chance(0.4) and rules_rng.pick(KERNEL_CONSTRAINTS)
        or rules_rng.pick(CONSTRAINTS)
      args[#args + 1] = w .. "_constraint = " .. c
      rules_seen["constraint " .. c] = (rules_seen["constraint " .. c] or 0) + 1
    end
  end
end

local function args_text(L, kind, extra, index, top)
  local args = { tostring(L.units) }
  for _, a in ipairs(extra or {}) do
    args[#args + 1] = a
  end
  local function opt(key, value, default)
    if value ~= default or chance(0.5) then
      if type(value) == "string" then
        args[#args + 1] = string.format('%s = "%s"', key, value)
      else
        args[#args + 1] = string.format("%s = %s", key, tostring(value))
      end
    end
  end
  local cell = CELLS[kind]
  opt("activation", L.activation, cell and "tanh" or "linear")
  if kind == "LSTM" or kind == "GRU" then opt("recurrent_activation", L.recurrent_activation, "sigmoid") end
  opt("use_bias", L.use_bias, true)
  if cell then
    opt("return_sequences", L.return_sequences, false)
    if L.return_state then args[#args + 1] = "return_state = true" end
    opt("go_backwards", L.go_backwards, false)
    -- the dropout (drawn from the noise stream: no draw of the main one)
    if L.dropout then args[#args + 1] = string.format("dropout = %g", L.dropout) end
    if L.recurrent_dropout then args[#args + 1] = string.format("recurrent_dropout = %g", L.recurrent_dropout) end
    if L.implementation then args[#args + 1] = "implementation = " .. L.implementation end
  end
  if kind == "LSTM" then opt("unit_forget_bias", L.unit_forget_bias, true) end
  if kind == "GRU" then opt("reset_after", L.reset_after, true) end
  if chance(0.15) then args[#args + 1] = string.format('name = "layer%d"', index) end
  rules_args(kind, L.use_bias, args, top and not L.return_state)
  return kind .. " { " .. table.concat(args, ", ") .. " }"
end

-- An activation layer's constructor; `extra` the input shape arguments.
local function activation_layer_text(L, extra, index)
  local args = {}
  local function num(k, v)
    if v ~= nil then args[#args + 1] = string.format("%s = %s", k, tostring(v)) end
  end
  if L.kind == "Activation" then
    args[1] = string.format('"%s"', L.activation)
  elseif L.kind == "ReLU" then
    num("max_value", L.max_value)
    if L.negative_slope ~= 0 or chance(0.3) then num("negative_slope", L.negative_slope) end
    if L.threshold ~= 0 then num("threshold", L.threshold) end
  elseif L.kind == "LeakyReLU" then
    num("negative_slope", L.negative_slope)
  elseif L.kind == "ELU" then
    num("alpha", L.alpha)
  elseif L.shared_axes then
    args[1] = "shared_axes = " .. list(L.shared_axes)
  end
  for _, a in ipairs(extra or {}) do
    args[#args + 1] = a
  end
  if chance(0.15) then args[#args + 1] = string.format('name = "layer%d"', index) end
  return L.kind .. " { " .. table.concat(args, ", ") .. " }"
end

-- One layer constructor call. `first` (Sequential only) adds the input shape
-- in one of the ways Keras accepts it.
local function layer_text(L, first, input_shape, batch, index)
  local shape_args = {}
  if first then
    local style = int(1, 4)
    if #input_shape == 1 then
      if style <= 2 then
        shape_args[1] = "input_shape = " .. list(input_shape)
      elseif style == 3 then
        shape_args[1] = "input_dim = " .. input_shape[1]
      else
        shape_args[1] = "batch_input_shape = " .. list({ batch, input_shape[1] })
      end
    else
      if style <= 2 then
        shape_args[1] = "input_shape = " .. list(input_shape)
      elseif style == 3 and CELLS[L.kind] then
        shape_args[1] = "input_length = " .. input_shape[1]
        shape_args[2] = "input_dim = " .. input_shape[2]
      else
        shape_args[1] = "batch_input_shape = " .. list({ batch, input_shape[1], input_shape[2] })
      end
    end
  end
  local function frozen_if(text, how)
    return L.frozen == how and frozen_text(text) or text
  end
  if IS_ACTIVATION_LAYER[L.kind] then
    return frozen_if(activation_layer_text(L, shape_args, index), "outer")
  elseif L.kind == "TimeDistributed" then
    local outer = { frozen_if(args_text(L, "Dense", nil, index), "inner") }
    if first then outer[2] = "input_shape = " .. list(input_shape) end
    return frozen_if("TimeDistributed { " .. table.concat(outer, ", ") .. " }", "outer")
  elseif L.kind == "Bidirectional" then
    local outer = { frozen_if(args_text(L, L.cell, nil, index + 10), "inner") }
    if L.merge_mode == "none" then
      outer[#outer + 1] = "merge_mode = None"
    elseif L.merge_mode ~= "concat" or chance(0.5) then
      outer[#outer + 1] = string.format('merge_mode = "%s"', L.merge_mode)
    end
    for _, a in ipairs(shape_args) do
      outer[#outer + 1] = a
    end
    if chance(0.15) then outer[#outer + 1] = string.format('name = "layer%d"', index) end
    return frozen_if("Bidirectional { " .. table.concat(outer, ", ") .. " }", "outer")
  end
  return frozen_if(args_text(L, L.kind, shape_args, index, true), "outer")
end

-- Outputs of a layer, in Keras order: names of the Lua locals.
local function output_names(L, index)
  local names = { string.format("t%d", index) }
  if L.merge_mode == "none" then
    names = { string.format("t%d_forward", index), string.format("t%d_backward", index) }
  end
  if L.return_state then
    local dirs = L.kind == "Bidirectional" and { "_forward", "_backward" } or { "" }
    for _, d in ipairs(dirs) do
      names[#names + 1] = string.format("t%d%s_h", index, d)
      if L.cell == "LSTM" then names[#names + 1] = string.format("t%d%s_c", index, d) end
    end
  end
  return names
end

local function describe(L)
  local kind = L.kind
  if IS_ACTIVATION_LAYER[kind] then
    return kind .. "(" .. (L.activation or L.max_value or L.negative_slope or L.alpha or
      (L.shared_axes and list(L.shared_axes)) or "") .. ")"
  end
  if kind == "Bidirectional" then kind = "Bidirectional[" .. L.merge_mode .. "] " .. L.cell end
  local s = kind .. "(" .. L.units .. ", " .. L.activation
  if L.recurrent_activation then s = s .. "/" .. L.recurrent_activation end
  if not L.use_bias then s = s .. ", no bias" end
  if L.cell then
    if L.return_sequences then s = s .. ", sequences" end
    if L.go_backwards then s = s .. ", backwards" end
    if L.return_state then s = s .. ", states out" end
    if L.initial_state then s = s .. ", states in" end
    if L.cell == "LSTM" and not L.unit_forget_bias then s = s .. ", no unit_forget_bias" end
    if L.cell == "GRU" then s = s .. (L.reset_after and ", reset_after" or ", reset_before") end
    if L.dropout then s = s .. string.format(", dropout %g/%g", L.dropout, L.recurrent_dropout) end
  end
  return s .. ")"
end

local function model_text(name, M, batch)
  local layers, input_shape = M.layers, M.input_shape
  local out = {}
  local function w(s)
    out[#out + 1] = s
  end
  local ufb = {}
  for _, L in ipairs(layers) do
    if L.cell == "LSTM" then ufb[#ufb + 1] = L.unit_forget_bias and "1" or "0" end
  end
  w(string.format("-- rnnc random test model %s (tests/random/make_models.lua, seed %d)", name, seed))
  w(string.format("-- rnnc-random: batch=%d loss=%s unit_forget_bias=%s", batch, M.loss, table.concat(ufb, ",")))
  local descr = {}
  for i, L in ipairs(layers) do
    descr[i] = describe(L)
  end
  w("-- " .. (M.functional and "functional" or "Sequential") .. ": input " .. list(input_shape) .. " -> " ..
    table.concat(descr, " -> ") .. "; " .. M.want)
  if M.functional then
    local style = int(1, 3)
    if style == 1 then
      w(string.format("local x = Input { shape = %s }", list(input_shape)))
    elseif style == 2 then
      w(string.format("local x = Input { shape = %s, batch_size = %d }", list(input_shape), batch))
    else
      local bs = { batch }
      for _, d in ipairs(input_shape) do
        bs[#bs + 1] = d
      end
      w(string.format('local x = Input { batch_shape = %s, name = "main" }', list(bs)))
    end
    local inputs = { "x" }
    local cur = "x"
    local outputs
    for i, L in ipairs(layers) do
      local call_extra = ""
      if L.initial_state then
        local states = {}
        for k = 1, N_STATES[L.cell] do
          local sname = string.format("s%d_%s", i, k == 1 and "h0" or "c0")
          if chance(0.3) then
            w(string.format('local %s = Input { shape = { %d }, name = "%s" }', sname, L.units, sname))
          else
            w(string.format("local %s = Input { shape = { %d } }", sname, L.units))
          end
          states[k] = sname
          inputs[#inputs + 1] = sname
        end
        call_extra = ", { initial_state = " .. (#states == 1 and chance(0.3) and states[1] or list(states)) .. " }"
      end
      local names = output_names(L, i)
      w(string.format("local %s = %s(%s%s)", table.concat(names, ", "), layer_text(L, false, input_shape, batch, i),
        cur, call_extra))
      cur = names[1]
      outputs = names
    end
    local outs = (#outputs == 1 and chance(0.5)) and outputs[1] or list(outputs)
    local ins = (#inputs == 1 and chance(0.5)) and inputs[1] or list(inputs)
    w(string.format("local model = Model { inputs = %s, outputs = %s }", ins, outs))
  else
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
  if M.loss == "sparse_categorical_crossentropy" and chance(0.5) then metrics = ', metrics = { "accuracy" }' end
  w(string.format('model:compile { optimizer = %s, loss = "%s"%s }', optimizer, M.loss, metrics))
  w("return model")
  return table.concat(out, "\n") .. "\n"
end

---------------------------------------------------------------- coverage

-- Counts of every option drawn, for the summary: cov[group][value].
local cov, groups = {}, {}
local function bump(group, value)
  if not cov[group] then
    cov[group] = {}
    groups[#groups + 1] = group
  end
  value = tostring(value)
  cov[group][value] = (cov[group][value] or 0) + 1
end

local function count_model(M)
  bump("model", M.functional and "functional" or "Sequential")
  bump("model input", #M.input_shape == 1 and "vector" or "sequence")
  bump("model layers", #M.layers)
  if M.functional then
    bump("functional: last layer return_state", M.state_out)
    bump("functional: initial_state inputs", M.state_in)
  end
  bump("loss", M.want)
  for _, L in ipairs(M.layers) do
    bump("frozen layer", L.frozen or "no")
  end
  for _, L in ipairs(M.layers) do
    bump("layer", L.kind == "Bidirectional" and "Bidirectional(" .. L.cell .. ")" or L.kind)
    if L.cell then
      -- a cell's options, plain or wrapped in Bidirectional
      local c = L.cell
      bump(c .. " activation", L.activation)
      if L.recurrent_activation then bump(c .. " recurrent_activation", L.recurrent_activation) end
      bump(c .. " use_bias", L.use_bias)
      bump(c .. " return_sequences", L.return_sequences)
      bump(c .. " go_backwards", L.go_backwards)
      bump(c .. " return_state", L.return_state or false)
      if c == "LSTM" then bump("LSTM unit_forget_bias", L.unit_forget_bias) end
      if c == "GRU" then bump("GRU reset_after", L.reset_after) end
      if L.kind ~= "Bidirectional" then bump(c .. " initial_state", L.initial_state or false) end
      bump(c .. " dropout/recurrent_dropout", L.dropout and (L.dropout .. "/" .. L.recurrent_dropout) or "none")
    elseif IS_ACTIVATION_LAYER[L.kind] then
      if L.kind == "Activation" then bump("Activation activation", L.activation) end
      if L.kind == "ReLU" then
        bump("ReLU max_value", L.max_value or "none")
        bump("ReLU negative_slope", L.negative_slope)
        bump("ReLU threshold", L.threshold)
      end
      if L.kind == "PReLU" then bump("PReLU shared_axes", L.shared_axes and list(L.shared_axes) or "none") end
    else
      bump("Dense activation", L.activation)
      bump("Dense use_bias", L.use_bias)
      bump("Dense input", L.kind == "TimeDistributed" and "TimeDistributed" or "plain")
    end
    if L.kind == "Bidirectional" then
      bump("Bidirectional merge_mode", L.merge_mode)
      bump("Bidirectional inner go_backwards", L.go_backwards)
      bump("Bidirectional inner return_sequences", L.return_sequences)
      bump("Bidirectional inner return_state", L.return_state or false)
    end
  end
end

local function coverage_text()
  local lines = {}
  for _, group in ipairs(groups) do
    local values, parts = {}, {}
    for v in pairs(cov[group]) do
      values[#values + 1] = v
    end
    table.sort(values)
    for _, v in ipairs(values) do
      parts[#parts + 1] = v .. " " .. cov[group][v]
    end
    lines[#lines + 1] = string.format("  %-40s %s", group .. ":", table.concat(parts, ", "))
  end
  local rules = {}
  for k, n in pairs(rules_seen) do
    rules[#rules + 1] = k .. " " .. n
  end
  table.sort(rules)
  lines[#lines + 1] = string.format("  %-40s %s", "weight regularizers, constraints:",
    #rules > 0 and table.concat(rules, ", ") or "none")
  table.sort(lines)
  return table.concat(lines, "\n")
end

---------------------------------------------------------------- front-end models

-- Models with the convolutional front ends, pooling, shape and
-- normalisation layers: COUNT // 3 more files fNN.lua, drawn from their own
-- stream (seeded from SEED), so that the rNN models stay what they were.
-- An input (T, F) goes through 1 to 3 front layers (Conv1D with every
-- padding, stride, dilation and groups, SeparableConv1D, DepthwiseConv1D,
-- Max/AveragePooling1D, ZeroPadding1D, Cropping1D, UpSampling1D, Permute,
-- Reshape, Flatten, the global poolings, RepeatVector after a vector,
-- Layer/BatchNormalization), then maybe a recurrent layer, then a Dense
-- (mse, or a softmax with sparse crossentropy). Front layers take smooth
-- activations only (linear, tanh, sigmoid: the kink probe follows them
-- through the reference runtime without looking inside). A causal stack
-- before a recurrent layer streams, and the tests check it step by step.
local FRONT_ACTIVATIONS = { "linear", "tanh", "sigmoid" }

local function draw_front_model()
  local M = { front = true, layers = {} }
  local T, C = int(3, 9), int(1, 4)
  M.input_shape = { T, C }
  local seq = true -- the current tensor has a time axis
  local texts, descr = {}, {}
  local function add(text, d)
    texts[#texts + 1] = text
    descr[#descr + 1] = d
    bump("front layer", d:match("^%a+%d?D?") or d)
  end
  local n_front = int(2, 3)
  local causal_only = chance(0.25) -- a streaming stack
  -- BatchNormalization in training takes its batch mean out again: a bias
  -- (or beta) right before it would get a gradient of exactly zero, which
  -- no relative tolerance can check. It comes only where no such offset is
  -- added since the input or the last nonlinearity.
  local offset_free = true
  for _ = 1, n_front do
    if seq then
      local kinds = causal_only and { "Conv1D", "Conv1D", "Conv1D", "SeparableConv1D", "DepthwiseConv1D",
        "LayerNormalization", "BatchNormalization" } or { "Conv1D", "Conv1D", "Conv1D", "SeparableConv1D",
        "DepthwiseConv1D", "MaxPooling1D", "AveragePooling1D", "ZeroPadding1D", "Cropping1D", "UpSampling1D",
        "Permute", "Reshape", "Flatten",
        "GlobalMaxPooling1D", "GlobalAveragePooling1D", "LayerNormalization", "BatchNormalization" }
      local kind = pick(kinds)
      if kind == "Conv1D" or kind == "SeparableConv1D" or kind == "DepthwiseConv1D" then
        local k = int(1, 3)
        local d = (k > 1 and chance(0.4)) and 2 or 1
        local s = (d == 1 and not causal_only and chance(0.3)) and 2 or 1
        local padding = causal_only and "causal" or pick({ "valid", "same", "causal" })
        if padding == "valid" and T < d * (k - 1) + 1 then padding = "same" end
        local act = pick(FRONT_ACTIVATIONS)
        local use_bias = chance(0.7)
        local args = {}
        local F
        if kind == "Conv1D" then
          local g = 1
          if C % 2 == 0 and chance(0.3) then g = 2 end
          F = g * int(1, 3)
          args[#args + 1] = tostring(F)
          args[#args + 1] = tostring(k)
          if g > 1 then args[#args + 1] = "groups = " .. g end
        elseif kind == "SeparableConv1D" then
          F = int(1, 4)
          local m = int(1, 2)
          args[#args + 1] = tostring(F)
          args[#args + 1] = tostring(k)
          if m > 1 then args[#args + 1] = "depth_multiplier = " .. m end
        else
          local m = int(1, 2)
          F = C * m
          args[#args + 1] = tostring(k)
          if m > 1 then args[#args + 1] = "depth_multiplier = " .. m end
        end
        if padding ~= "valid" or chance(0.5) then args[#args + 1] = string.format('padding = "%s"', padding) end
        if s > 1 then args[#args + 1] = "strides = " .. s end
        if d > 1 then args[#args + 1] = "dilation_rate = " .. d end
        if act ~= "linear" then args[#args + 1] = string.format('activation = "%s"', act) end
        if not use_bias then args[#args + 1] = "use_bias = false" end
        offset_free = act ~= "linear" or not use_bias
        add(kind .. " { " .. table.concat(args, ", "), string.format("%s(%s)", kind, table.concat(args, " ")))
        if padding == "valid" then T = (T - (d * (k - 1) + 1)) // s + 1 else T = (T + s - 1) // s end
        C = F
      elseif kind == "MaxPooling1D" or kind == "AveragePooling1D" then
        local p = int(1, math.min(3, T))
        local st = chance(0.5) and nil or int(1, 2)
        local padding = chance(0.5) and "same" or "valid"
        local args = { tostring(p) }
        if st then args[#args + 1] = "strides = " .. st end
        if padding == "same" then args[#args + 1] = 'padding = "same"' end
        add(kind .. " { " .. table.concat(args, ", "), kind .. "(" .. table.concat(args, " ") .. ")")
        st = st or p
        if padding == "valid" then T = (T - p) // st + 1 else T = (T + st - 1) // st end
      elseif kind == "ZeroPadding1D" then
        local a, b = int(0, 2), int(0, 2)
        add(string.format("ZeroPadding1D { { %d, %d }", a, b), "ZeroPadding1D")
        T = T + a + b
      elseif kind == "Cropping1D" and T > 2 then
        local a = int(0, 1)
        local b = int(0, T - a - 2)
        b = math.min(b, 2)
        add(string.format("Cropping1D { { %d, %d }", a, b), "Cropping1D")
        T = T - a - b
      elseif kind == "UpSampling1D" and T <= 6 then
        add("UpSampling1D { 2", "UpSampling1D")
        T = T * 2
      elseif kind == "Permute" then
        add("Permute { { 2, 1 }", "Permute")
        T, C = C, T
      elseif kind == "Reshape" and (T * C) % 2 == 0 then
        local rows = 2
        add(string.format("Reshape { { %d, -1 }", rows), "Reshape")
        T, C = rows, T * C // rows
      elseif kind == "Flatten" then
        add("Flatten {", "Flatten")
        seq, C = false, T * C
      elseif kind == "GlobalMaxPooling1D" or kind == "GlobalAveragePooling1D" then
        add(kind .. " {", kind)
        seq = false
      elseif kind == "LayerNormalization" or not offset_free then
        local args = {}
        local rms, center = chance(0.3), chance(0.7)
        if rms then args[#args + 1] = "rms_scaling = true" end
        if not center then args[#args + 1] = "center = false" end
        if chance(0.3) then args[#args + 1] = "epsilon = 0.01" end
        add("LayerNormalization { " .. table.concat(args, ", "), "LayerNormalization")
        offset_free = rms or not center
      else -- BatchNormalization (and the kinds above that did not fit)
        local args = {}
        local center = chance(0.8)
        if chance(0.3) then args[#args + 1] = "momentum = 0.9" end
        if chance(0.3) then args[#args + 1] = "scale = false" end
        if not center then args[#args + 1] = "center = false" end
        add("BatchNormalization { " .. table.concat(args, ", "), "BatchNormalization")
        offset_free = not center
      end
    else
      local kind = pick({ "RepeatVector", "LayerNormalization", "BatchNormalization" })
      if kind == "RepeatVector" then
        T = int(2, 4)
        add("RepeatVector { " .. T, "RepeatVector")
        seq = true
      elseif kind == "BatchNormalization" and offset_free then
        add("BatchNormalization { ", kind)
        offset_free = false
      else
        add("LayerNormalization { ", "LayerNormalization")
        offset_free = false
      end
    end
  end
  -- the first layer takes the input shape
  texts[1] = texts[1] .. (texts[1]:match("{ $") and "" or texts[1]:match("{$") and " " or ", ")
    .. string.format("input_shape = { %d, %d } }", M.input_shape[1], M.input_shape[2])
  for i = 2, #texts do
    texts[i] = texts[i] .. " }"
  end
  -- maybe a recurrent layer, then the output layer
  if seq and chance(0.6) then
    local cell = pick({ "SimpleRNN", "LSTM", "GRU" })
    local u = int(1, 4)
    local rs = chance(0.5)
    texts[#texts + 1] = string.format("%s { %d%s }", cell, u, rs and ", return_sequences = true" or "")
    descr[#descr + 1] = cell .. (rs and "(seq)" or "")
    bump("front model recurrent", cell)
  end
  -- frozen layers (their own stream): any with weights but the last Dense
  for i, t in ipairs(texts) do
    local kind = t:match("^%a+%d?D?")
    if (kind:match("Conv1D$") or kind:match("Normalization$") or kind == "SimpleRNN" or kind == "LSTM"
        or kind == "GRU") and frz.chance(0.25) then
      texts[i] = frozen_text(t)
      descr[i] = descr[i] .. "(frozen)"
    end
  end
  -- noise layers (their own stream, so the other draws stay what they
  -- were): trained with their masks, the identity at inference
  if noise.chance(0.6) then
    local first_seq = not (descr[1]:match("^Flatten") or descr[1]:match("^Global"))
    local kind = noise.pick({ "Dropout", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout" })
    local rate = noise.pick({ 0.1, 0.25, 0.5 })
    local text
    if kind == "SpatialDropout1D" and not first_seq then kind = "Dropout" end
    if kind == "Dropout" and first_seq and noise.chance(0.3) then
      text = string.format("Dropout { %g, noise_shape = { None, 1, None } }", rate)
    elseif kind == "GaussianNoise" then
      text = string.format("GaussianNoise { %g }", rate)
    else
      text = string.format("%s { %g%s }", kind, rate, noise.chance(0.3) and ", seed = 17" or "")
    end
    table.insert(texts, 2, text)
    table.insert(descr, 2, kind)
    bump("front model noise layer", kind)
  end
  if noise.chance(0.3) then -- and one before the output layer
    local kind = noise.pick({ "Dropout", "GaussianNoise", "GaussianDropout" })
    texts[#texts + 1] = string.format("%s { %g }", kind, noise.pick({ 0, 0.2, 0.5 }))
    descr[#descr + 1] = kind
    bump("front model noise layer", kind)
  end
  local softmax = chance(0.35)
  local out_units = softmax and int(2, 4) or int(1, 3)
  texts[#texts + 1] = string.format("Dense { %d%s }", out_units, softmax and ', activation = "softmax"' or "")
  descr[#descr + 1] = softmax and "Dense(softmax)" or "Dense"
  M.loss = softmax and "sparse_categorical_crossentropy" or "mse"
  M.texts, M.descr = texts, descr
  bump("front model loss", M.loss)
  return M
end

-- Models behind Masking (issue 13): COUNT // 4 more files mNN.lua from
-- their own stream. An input (T, F), Masking (mask_value 0: the test
-- program sets whole rows of x to 0, padding, holes and sometimes a whole
-- sample, and leaves those entries out of the finite differences), then 1 to
-- 3 layers that pass the mask on or read it (Dense, TimeDistributed, an
-- Activation, LayerNormalization, SimpleRNN, LSTM, GRU, Bidirectional with
-- go_backwards, zero_output_for_mask, return_sequences drawn), then a Dense.
-- Smooth activations only, as the front-end models (the kink probe would
-- not follow the mask).
local function draw_masked_model()
  local M = { front = true, layers = {} }
  local T, C = int(2, 7), int(1, 4)
  M.input_shape = { T, C }
  local texts, descr = { "Masking {" }, { "Masking" }
  local seq = true
  for _ = 1, int(1, 3) do
    if not seq then break end
    local kind = pick({ "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Bidirectional", "LSTM", "Dense",
      "TimeDistributed", "Activation", "LayerNormalization" })
    bump("masked model layer", kind)
    if kind == "Dense" or kind == "TimeDistributed" then
      local u, act = int(1, 4), pick(FRONT_ACTIVATIONS)
      local d = string.format("Dense { %d%s }", u, act ~= "linear" and string.format(', activation = "%s"', act) or "")
      texts[#texts + 1] = kind == "Dense" and d or ("TimeDistributed { " .. d .. " }")
      descr[#descr + 1] = kind
    elseif kind == "Activation" then
      texts[#texts + 1] = string.format('Activation { "%s" }', pick({ "tanh", "sigmoid" }))
      descr[#descr + 1] = kind
    elseif kind == "LayerNormalization" then
      texts[#texts + 1] = "LayerNormalization {}"
      descr[#descr + 1] = kind
    else
      local cell = kind == "Bidirectional" and pick({ "SimpleRNN", "LSTM", "GRU" }) or kind
      local args = { tostring(int(1, 4)) }
      local rs = chance(0.6)
      if rs then args[#args + 1] = "return_sequences = true" end
      if chance(0.3) then args[#args + 1] = "go_backwards = true" end
      if kind ~= "Bidirectional" and chance(0.3) then
        args[#args + 1] = "zero_output_for_mask = true"
        bump("masked model", "zero_output_for_mask")
      end
      if cell == "GRU" and chance(0.3) then args[#args + 1] = "reset_after = false" end
      local inner = string.format("%s { %s }", cell, table.concat(args, ", "))
      if kind == "Bidirectional" then
        local mode = pick({ "concat", "sum", "mul", "ave" })
        texts[#texts + 1] = string.format('Bidirectional { %s, merge_mode = "%s" }', inner, mode)
        descr[#descr + 1] = string.format("Bidirectional(%s, %s)", cell, mode)
      else
        texts[#texts + 1] = inner
        descr[#descr + 1] = cell
      end
      descr[#descr] = descr[#descr] .. (rs and "(seq)" or "")
      seq = rs
    end
  end
  texts[1] = texts[1] .. string.format(" input_shape = { %d, %d } }", T, C)
  local softmax = chance(0.35)
  texts[#texts + 1] = string.format("Dense { %d%s }", softmax and int(2, 4) or int(1, 3),
    softmax and ', activation = "softmax"' or "")
  descr[#descr + 1] = softmax and "Dense(softmax)" or "Dense"
  M.loss = softmax and "sparse_categorical_crossentropy" or "mse"
  M.texts, M.descr = texts, descr
  bump("masked model loss", M.loss)
  return M
end

local function front_text(name, M, batch)
  local out = {
    string.format("-- rnnc random test model %s (tests/random/make_models.lua, %s models, seed %d)", name,
      M.texts[1]:match("^Masking") and "masked" or "front-end", seed),
    string.format("-- rnnc-random: batch=%d loss=%s unit_forget_bias=%s", batch, M.loss,
      (function()
        local u = {}
        for _, t in ipairs(M.texts) do
          if t:match("^LSTM") or t:match("^Bidirectional { LSTM") then u[#u + 1] = "1" end
        end
        return table.concat(u, ",")
      end)()),
    "-- Sequential: input { " .. M.input_shape[1] .. ", " .. M.input_shape[2] .. " } -> " ..
      table.concat(M.descr, " -> "),
    "local model = Sequential {",
  }
  for _, t in ipairs(M.texts) do
    out[#out + 1] = "  " .. t .. ","
  end
  out[#out + 1] = "}"
  out[#out + 1] = string.format('model:compile { optimizer = "adam", loss = "%s" }', M.loss)
  out[#out + 1] = "return model"
  return table.concat(out, "\n") .. "\n"
end

---------------------------------------------------------------- Embedding models

-- Integer tokens in (issue 13): Embedding(V, D) first (input_length, or
-- input_shape, or an Input in a functional model), sometimes with an L2
-- regularizer or a MaxNorm constraint on the table, mask_zero, or frozen; then a
-- recurrent layer (maybe Bidirectional) and maybe a second one, then a Dense
-- (mse, or softmax with sparse crossentropy). V is small against the tokens
-- drawn, so rows repeat within a sample and across the batch (the
-- scatter-add's sums) and some rows are never used (zero gradient).
local function draw_embedding_model()
  local M = { layers = {} }
  local T, V, D = int(2, 7), int(2, 9), int(1, 4)
  M.T, M.V, M.D = T, V, D
  M.functional = chance(0.4)
  local emb = { string.format("%d, %d", V, D) }
  local descr = { string.format("Embedding(%d, %d)", V, D) }
  if not M.functional then
    emb[#emb + 1] = chance(0.5) and ("input_length = " .. T) or ("input_shape = { " .. T .. " }")
  end
  if chance(0.25) then
    emb[#emb + 1] = "embeddings_regularizer = L2 { 0.05 }"
    descr[1] = descr[1] .. "+L2"
  elseif chance(0.2) then
    emb[#emb + 1] = "embeddings_constraint = MaxNorm { max_value = 0.5, axis = 1 }"
    descr[1] = descr[1] .. "+MaxNorm"
  end
  -- mask_zero: the tokens drawn include 0 (masked steps, now and then a
  -- whole sample), which the recurrent layers skip and the loss leaves out
  if chance(0.35) then
    emb[#emb + 1] = "mask_zero = true"
    descr[1] = descr[1] .. "+mask_zero"
  end
  local texts = { "Embedding { " .. table.concat(emb, ", ") .. " }" }
  if frz.chance(0.15) then
    texts[1] = frozen_text(texts[1])
    descr[1] = descr[1] .. "(frozen)"
  end
  bump("embedding model", M.functional and "functional" or "Sequential")
  local n_rec = int(1, 2)
  local seq = true
  for r = 1, n_rec do
    local cell = pick({ "SimpleRNN", "LSTM", "GRU" })
    local u = int(1, 4)
    local rs = r < n_rec or chance(0.5)
    local args = { tostring(u) }
    if rs then args[#args + 1] = "return_sequences = true" end
    if chance(0.3) then args[#args + 1] = "go_backwards = true" end
    local t = string.format("%s { %s }", cell, table.concat(args, ", "))
    local d = cell .. (rs and "(seq)" or "")
    if chance(0.2) then
      t = "Bidirectional { " .. t .. " }"
      d = "Bidirectional(" .. d .. ")"
    end
    texts[#texts + 1] = t
    descr[#descr + 1] = d
    bump("embedding model recurrent", cell)
    seq = rs
  end
  local softmax = chance(0.4)
  local out_units = softmax and int(2, 4) or int(1, 3)
  texts[#texts + 1] = string.format("Dense { %d%s }", out_units, softmax and ', activation = "softmax"' or "")
  descr[#descr + 1] = (softmax and "Dense(softmax)" or "Dense") .. (seq and "(per step)" or "")
  M.loss = softmax and "sparse_categorical_crossentropy" or "mse"
  M.texts, M.descr = texts, descr
  bump("embedding model loss", M.loss)
  return M
end

local function embedding_text(name, M, batch)
  local out = {
    string.format("-- rnnc random test model %s (tests/random/make_models.lua, Embedding models, seed %d)", name,
      seed),
    string.format("-- rnnc-random: batch=%d loss=%s unit_forget_bias=%s", batch, M.loss,
      (function()
        local u = {}
        for _, t in ipairs(M.texts) do
          for _ in t:gmatch("LSTM") do
            u[#u + 1] = "1"
          end
        end
        return table.concat(u, ",")
      end)()),
    string.format("-- %s: tokens { %d } in [0, %d) -> %s", M.functional and "functional" or "Sequential", M.T, M.V,
      table.concat(M.descr, " -> ")),
  }
  if M.functional then
    out[#out + 1] = string.format("local x = Input { shape = { %d } }", M.T)
    local cur = "x"
    for i, t in ipairs(M.texts) do
      out[#out + 1] = string.format("local h%d = %s(%s)", i, t, cur)
      cur = "h" .. i
    end
    out[#out + 1] = string.format("local model = Model { inputs = x, outputs = %s }", cur)
  else
    out[#out + 1] = "local model = Sequential {"
    for _, t in ipairs(M.texts) do
      out[#out + 1] = "  " .. t .. ","
    end
    out[#out + 1] = "}"
  end
  out[#out + 1] = string.format('model:compile { optimizer = "adam", loss = "%s" }', M.loss)
  out[#out + 1] = "return model"
  return table.concat(out, "\n") .. "\n"
end

---------------------------------------------------------------- main

os.execute("mkdir -p '" .. outdir:gsub("'", "'\\''") .. "'")
local index = {}
for k = 0, count - 1 do
  local name = string.format("r%02d", k)
  local batch = chance(0.6) and int(1, 4) or int(1, 6)
  local M = draw_model()
  local path = outdir .. "/" .. name .. ".lua"
  local f = assert(io.open(path, "wb"))
  f:write(model_text(name, M, batch))
  f:close()
  index[#index + 1] = string.format("%s %d %s", name, batch, M.loss)
  count_model(M)
end
-- the front-end models, from their own stream
rng.reseed(seed ~ 0x46524F4E54) -- "FRONT"
for k = 0, count // 3 - 1 do
  local name = string.format("f%02d", k)
  local batch = int(1, 4)
  local M = draw_front_model()
  local path = outdir .. "/" .. name .. ".lua"
  local f = assert(io.open(path, "wb"))
  f:write(front_text(name, M, batch))
  f:close()
  index[#index + 1] = string.format("%s %d %s", name, batch, M.loss)
end
-- the models behind Masking, from their own stream
rng.reseed(seed ~ 0x4D41534B) -- "MASK"
for k = 0, count // 4 - 1 do
  local name = string.format("m%02d", k)
  local batch = int(1, 4)
  local M = draw_masked_model()
  local path = outdir .. "/" .. name .. ".lua"
  local f = assert(io.open(path, "wb"))
  f:write(front_text(name, M, batch))
  f:close()
  index[#index + 1] = string.format("%s %d %s", name, batch, M.loss)
end
-- the Embedding models, from their own stream
rng.reseed(seed ~ 0x454D424544) -- "EMBED"
for k = 0, math.max(1, count // 6) - 1 do
  local name = string.format("e%02d", k)
  local batch = int(1, 4)
  local M = draw_embedding_model()
  local path = outdir .. "/" .. name .. ".lua"
  local f = assert(io.open(path, "wb"))
  f:write(embedding_text(name, M, batch))
  f:close()
  index[#index + 1] = string.format("%s %d %s", name, batch, M.loss)
end
local f = assert(io.open(outdir .. "/models.txt", "wb"))
f:write(table.concat(index, "\n") .. "\n")
f:close()
local summary = string.format("make_models.lua: seed %d: wrote %d models to %s; options drawn (per layer; a " ..
  "Bidirectional's cell counts once under its cell kind):\n%s", seed, count, outdir, coverage_text())
f = assert(io.open(outdir .. "/coverage.txt", "wb"))
f:write(summary .. "\n")
f:close()
print(summary)
