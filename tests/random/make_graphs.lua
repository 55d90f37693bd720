#!/usr/bin/env lua5.4
-- Random functional graphs for the generated-code tests (tests/random/).
--
--   lua5.4 tests/random/make_graphs.lua OUTDIR [SEED] [COUNT]
--
-- Writes COUNT (default 30) model files OUTDIR/g00.lua, g01.lua, ... and
-- appends them to OUTDIR/models.txt ("name batch loss", as make_models.lua).
-- Each is a directed acyclic graph of Keras functional calls drawn from a
-- seeded PRNG (splitmix64, as make_models.lua, on its own stream):
--   - 1 to 3 inputs: sequences of one length T, or vectors;
--   - 3 to 8 operations, each on tensors already made (so tensors fan out):
--     Dense (on a sequence: per timestep), SimpleRNN/LSTM/GRU (return_sequences,
--     return_state: the states become tensors too, initial_state from a
--     vector of the right size), the merges Add, Subtract, Multiply,
--     Average, Maximum, Minimum (a Dense first makes an operand the other's
--     size), Dot over the last axis (normalize or not) and Concatenate (last
--     axis, or the time axis of two sequences),
--     and shared layers: a Dense or a recurrent layer called on a second
--     tensor of the same feature size (one set of weights, gradients summed);
--   - now and then (a stream of its own) an attention layer on two of the
--     sequences, or on one and a further input of another length:
--     Attention (use_scale, score_mode, the scores as a tensor),
--     AdditiveAttention (use_scale) or MultiHeadAttention (heads, key_dim,
--     value_dim, use_bias, output_shape), causal or not;
--   - the tensors no operation read are joined (Concatenate per kind), and
--     1 to 3 outputs come from them and from one inner tensor, each through
--     a Dense head named outK: a softmax with sparse categorical
--     crossentropy, or mse; losses as a dict or a list (None now and then:
--     an output without a loss), loss_weights now and then.
-- Activations are smooth (tanh, sigmoid, linear): the C test does not probe
-- graphs for kinks. Maximum and Minimum are kinked where their operands tie,
-- which random values do not hit within a finite difference's step.

local outdir, seed_arg, count_arg = arg[1], arg[2], arg[3]
if not outdir or outdir == "-h" or outdir == "--help" then
  io.stderr:write("usage: lua5.4 make_graphs.lua OUTDIR [SEED] [COUNT]\n")
  os.exit(2)
end
local seed = math.tointeger(tonumber(seed_arg or 20240611))
local count = math.tointeger(tonumber(count_arg or 30))
if not seed or not count or count < 1 or count > 1000 then
  io.stderr:write("make_graphs.lua: SEED must be an integer, COUNT in 1..1000\n")
  os.exit(2)
end

-- splitmix64, as make_models.lua, on its own stream
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local rng = require("splitmix").new(seed ~ 0x4752415048) -- "GRAPH"
local int, chance, pick = rng.int, rng.chance, rng.pick
-- the attention layers draw from a stream of their own, so the graphs drawn
-- before them keep their operations
local arng = require("splitmix").new(seed ~ 0x415454454E54) -- "ATTENT"
-- the three classes in turn, so a few graphs cover each
local ATTENTION = { "Attention", "AdditiveAttention", "MultiHeadAttention" }
local attention_drawn = 0

local ACTS = { "linear", "tanh", "sigmoid" }
local MERGES = { "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum" }
local CELLS = { "SimpleRNN", "LSTM", "GRU" }
local N_STATES = { SimpleRNN = 1, LSTM = 2, GRU = 1 }

local cov = {}
local function bump(k)
  cov[k] = (cov[k] or 0) + 1
end

-- One model's text and its first loss.
local function draw_graph(name, batch)
  local lines = {}
  local function w(fmt, ...)
    lines[#lines + 1] = string.format(fmt, ...)
  end
  local T = int(2, 5)
  local tensors = {} -- { var, seq, cols, used }
  local n_vars = 0
  local function new_var()
    n_vars = n_vars + 1
    return "t" .. n_vars
  end
  local function add(var, seq, cols)
    local t = { var = var, seq = seq, cols = cols, used = false }
    tensors[#tensors + 1] = t
    return t
  end
  local function use(t)
    t.used = true
    return t.var
  end
  local function any(pred)
    local c = {}
    for _, t in ipairs(tensors) do
      if pred(t) then c[#c + 1] = t end
    end
    return #c > 0 and pick(c) or nil
  end
  local function dense(t, units, act, layer)
    local v = new_var()
    w("local %s = %s(%s)", v, layer or string.format("Dense { %d%s }", units,
      act ~= "linear" and string.format(', activation = "%s"', act) or ""), use(t))
    bump("Dense" .. (t.seq and " (per timestep)" or ""))
    return add(v, t.seq, units)
  end

  -- the inputs
  local inputs = {}
  local n_in = int(1, 3)
  for i = 1, n_in do
    local seq = i == 1 or chance(0.7)
    local cols = int(1, 4)
    local v = "in" .. (i - 1)
    local shape = seq and string.format("{ %d, %d }", T, cols) or string.format("{ %d }", cols)
    w('local %s = Input { shape = %s%s }', v, shape, chance(0.5) and string.format(', name = "x%d"', i - 1) or "")
    inputs[i] = add(v, seq, cols)
    bump(seq and "input: sequence" or "input: vector")
  end
  local shared = {} -- { text var, kind = "dense"|"rnn", cols (its input's), seq }
  local lstm_ufb = {}

  local function recurrent(t)
    local cell = pick(CELLS)
    local u = int(1, 4)
    local rs, st = chance(0.6), chance(0.35)
    local args = { tostring(u) }
    if rs then args[#args + 1] = "return_sequences = true" end
    if st then args[#args + 1] = "return_state = true" end
    if chance(0.25) then args[#args + 1] = "go_backwards = true" end
    if cell == "LSTM" then lstm_ufb[#lstm_ufb + 1] = "1" end
    local layer = string.format("%s { %s }", cell, table.concat(args, ", "))
    -- initial states from vectors of u values (a Dense makes one from any vector)
    local extra = ""
    if chance(0.3) then
      local states = {}
      for k = 1, N_STATES[cell] do
        local src = any(function(x)
          return not x.seq
        end)
        if not src then break end
        if src.cols ~= u then src = dense(src, u, pick(ACTS)) end
        states[k] = use(src)
      end
      if #states == N_STATES[cell] then
        extra = ", { initial_state = { " .. table.concat(states, ", ") .. " } }"
        bump("recurrent: initial_state")
      end
    end
    local outs = { new_var() }
    if st then
      for _ = 1, N_STATES[cell] do
        outs[#outs + 1] = new_var()
      end
    end
    local share = chance(0.2) and t.seq
    local lv
    if share then
      lv = "shared" .. (#shared + 1)
      w("local %s = %s", lv, layer)
      shared[#shared + 1] = { var = lv, kind = "rnn", cols = t.cols, seq = true, rs = rs, st = st, u = u,
        n = N_STATES[cell] }
      layer = lv
    end
    w("local %s = %s(%s%s)", table.concat(outs, ", "), layer, use(t), extra)
    bump(cell)
    add(outs[1], rs, u)
    for k = 2, #outs do
      add(outs[k], false, u)
    end
  end

  -- each input is read first, then random operations
  local ops = {}
  for i = 1, n_in do
    ops[#ops + 1] = inputs[i]
  end
  local n_ops = int(3, 8)
  for k = 1, n_in + n_ops do
    local first = ops[k]
    local kind = first and (first.seq and pick({ "dense", "rnn", "rnn" }) or "dense")
      or pick({ "dense", "rnn", "merge", "merge", "concat", "shared", "dot" })
    if kind == "rnn" then
      local t = first or any(function(x)
        return x.seq
      end)
      if t then recurrent(t) else kind = "dense" end
    end
    if kind == "shared" then
      local s = #shared > 0 and pick(shared)
      local t = s and any(function(x)
        return x.seq == s.seq and x.cols == s.cols or (s.kind == "dense" and x.cols == s.cols)
      end)
      if s and t then
        if s.kind == "dense" then
          dense(t, s.units, nil, s.var)
          -- a Dense built for a sequence takes a vector as well (the last axis)
          tensors[#tensors].seq = t.seq
        else
          local outs = { new_var() }
          if s.st then
            for _ = 1, s.n do
              outs[#outs + 1] = new_var()
            end
          end
          w("local %s = %s(%s)", table.concat(outs, ", "), s.var, use(t))
          add(outs[1], s.rs, s.u)
          for j = 2, #outs do
            add(outs[j], false, s.u)
          end
        end
        bump("shared layer called again")
      else
        -- make a shared Dense now, called later
        local t2 = first or pick(tensors)
        local units = int(1, 4)
        local lv = "shared" .. (#shared + 1)
        w('local %s = Dense { %d, activation = "%s" }', lv, units, pick({ "tanh", "sigmoid" }))
        shared[#shared + 1] = { var = lv, kind = "dense", cols = t2.cols, units = units, seq = t2.seq }
        dense(t2, units, nil, lv)
      end
    elseif kind == "merge" then
      local op = pick(MERGES)
      local a = pick(tensors)
      local n = op == "Subtract" and 2 or int(2, 3)
      local operands = { a }
      for _ = 2, n do
        local b = any(function(x)
          return x.seq == a.seq and x ~= a
        end) or a
        if b.cols ~= a.cols then b = dense(b, a.cols, pick(ACTS)) end
        operands[#operands + 1] = b
      end
      -- a - a is exactly zero: its gradients are rounding noise that no
      -- relative tolerance compares
      if op == "Subtract" and operands[2] == a then op = "Add" end
      local vars = {}
      for i, o in ipairs(operands) do
        vars[i] = use(o)
      end
      local v = new_var()
      w("local %s = %s {} ({ %s })", v, op, table.concat(vars, ", "))
      bump(op)
      add(v, a.seq, a.cols)
    elseif kind == "dot" then
      -- Dot over the last axis: two vectors give (1,), two sequences of T
      -- steps a T x T sequence
      local a = pick(tensors)
      local b = any(function(x)
        return x.seq == a.seq and x ~= a
      end) or a
      if b.cols ~= a.cols then b = dense(b, a.cols, pick(ACTS)) end
      local v = new_var()
      -- (normalize on one value gives +-1: a gradient of exactly zero before
      -- it, rounding noise that no relative tolerance compares)
      local normalize = a.cols > 1 and chance(0.4)
      w("local %s = Dot { axes = %s%s } ({ %s, %s })", v, pick({ "-1", a.seq and "2" or "1" }),
        normalize and ", normalize = true" or "", use(a), use(b))
      bump("Dot" .. (a.seq and " (sequences)" or " (vectors)") .. (normalize and ", normalize" or ""))
      add(v, a.seq, a.seq and T or 1)
    elseif kind == "concat" then
      local a = pick(tensors)
      local b = any(function(x)
        return x.seq == a.seq and x ~= a
      end) or a
      local v = new_var()
      if a.seq and b.cols == a.cols and chance(0.3) then
        -- along time: a sequence of 2T steps
        w("local %s = Concatenate { axis = 1 } ({ %s, %s })", v, use(a), use(b))
        bump("Concatenate (time axis)")
        -- a longer sequence only feeds a recurrent layer that returns a vector
        local u = int(1, 3)
        local r = new_var()
        w("local %s = %s { %d }(%s)", r, pick(CELLS), u, v)
        add(r, false, u)
      else
        w("local %s = Concatenate {} ({ %s, %s })", v, use(a), use(b))
        bump("Concatenate")
        add(v, a.seq, a.cols + b.cols)
      end
    elseif kind == "dense" then
      dense(first or pick(tensors), int(1, 4), pick(ACTS))
    end
  end

  -- an attention layer now and then, on two sequences (all of T steps):
  -- the query's feature size is the key's, so a value of another size
  -- takes the query as its key
  local seqs = {}
  for _, t in ipairs(tensors) do
    if t.seq then seqs[#seqs + 1] = t end
  end
  if #seqs > 0 and arng.chance(0.8) then
    local q, v = arng.pick(seqs), arng.pick(seqs)
    attention_drawn = attention_drawn + 1
    local class = ATTENTION[(attention_drawn - 1) % 3 + 1]
    local causal = arng.chance(0.5)
    local tv = T -- the value's steps
    if arng.chance(0.5) then
      -- the value from an input of another length (Tv != Tq: a causal mask
      -- that is not square), of the query's features (so that it is the
      -- key too) but for MultiHeadAttention; one of the model's inputs,
      -- not a tensor the other operations draw (their sequences have T steps)
      local cols = class == "MultiHeadAttention" and arng.int(1, 4) or q.cols
      local var = "in" .. #inputs
      tv = T + arng.int(1, 2)
      w("local %s = Input { shape = { %d, %d } }", var, tv, cols)
      v = { var = var, seq = true, cols = cols, used = false }
      inputs[#inputs + 1] = v
      bump("attention: a value of another length")
    end
    local out = new_var()
    if class == "MultiHeadAttention" then
      local heads, key_dim = arng.int(1, 2), arng.int(1, 3)
      local extra = arng.chance(0.3) and string.format(", value_dim = %d", arng.int(1, 3)) or ""
      -- without biases: the key bias's gradient is an exact zero (a row's
      -- softmax ignores a shift of its scores) seen through rounding, which
      -- no relative tolerance compares (the conformance case
      -- multi_head_attention checks the biases, comparing it absolutely)
      extra = extra .. ", use_bias = false"
      local width = q.cols
      if arng.chance(0.3) then
        width = arng.int(1, 4)
        extra = extra .. string.format(", output_shape = %d", width)
      end
      local qv = use(q)
      w("local %s = MultiHeadAttention { num_heads = %d, key_dim = %d%s } (%s, %s%s)", out, heads, key_dim, extra,
        qv, use(v), causal and ", { use_causal_mask = true }" or "")
      add(out, true, width)
    else
      local args = {}
      if class == "Attention" then
        if arng.chance(0.5) then args[#args + 1] = "use_scale = true" end
        if arng.chance(0.4) then args[#args + 1] = 'score_mode = "concat"' end
      elseif arng.chance(0.3) then
        args[#args + 1] = "use_scale = false"
      end
      local scores = arng.chance(0.3)
      local opts = {}
      if causal then opts[#opts + 1] = "use_causal_mask = true" end
      if scores then opts[#opts + 1] = "return_attention_scores = true" end
      local qv = use(q)
      local key = v.cols ~= q.cols and (", " .. qv) or ""
      local sv = scores and new_var() or nil
      w("local %s%s = %s {%s} ({ %s, %s%s }%s)", out, sv and (", " .. sv) or "", class,
        #args > 0 and (" " .. table.concat(args, ", ") .. " ") or "",
        qv, use(v), key, #opts > 0 and (", { " .. table.concat(opts, ", ") .. " }") or "")
      add(out, true, v.cols)
      if sv then add(sv, true, tv) end
      bump(class .. (scores and " (scores)" or ""))
    end
    if class == "MultiHeadAttention" then bump(class) end
    if causal then bump("attention: causal") end
  end

  -- the leaves, joined per kind; then the outputs
  local leaves = { [true] = {}, [false] = {} }
  for _, t in ipairs(tensors) do
    if not t.used then table.insert(leaves[t.seq], t) end
  end
  local outs = {}
  for _, seq in ipairs({ true, false }) do
    local l = leaves[seq]
    if #l == 1 then
      outs[#outs + 1] = l[1]
    elseif #l > 1 then
      local vars = {}
      local cols = 0
      for i, t in ipairs(l) do
        vars[i] = use(t)
        cols = cols + t.cols
      end
      local v = new_var()
      w("local %s = Concatenate {} ({ %s })", v, table.concat(vars, ", "))
      outs[#outs + 1] = add(v, seq, cols)
      outs[#outs].used = true
    end
  end
  for _, t in ipairs(outs) do
    t.is_out = true
  end
  if #outs < 3 and chance(0.4) then
    local inner = any(function(x)
      return x.used and not x.is_out and x.var:match("^t")
    end)
    if inner then
      outs[#outs + 1] = inner
      bump("output from an inner tensor")
    end
  end
  local heads, losses = {}, {}
  for k, t in ipairs(outs) do
    local hv = "out" .. k
    if chance(0.35) then
      w('local %s = Dense { %d, activation = "softmax", name = "%s" }(%s)', hv, int(2, 3), hv, t.var)
      losses[k] = "sparse_categorical_crossentropy"
    else
      w('local %s = Dense { %d%s, name = "%s" }(%s)', hv, int(1, 3),
        chance(0.5) and ', activation = "tanh"' or "", hv, t.var)
      losses[k] = "mse"
    end
    heads[k] = hv
  end
  if #outs > 1 and chance(0.25) then
    losses[int(1, #outs)] = false -- an output without a loss
    bump("output without a loss")
  end
  local any_loss
  for k = 1, #outs do
    any_loss = any_loss or losses[k]
  end
  if not any_loss then losses[1] = "mse" end
  local in_vars = {}
  for i, t in ipairs(inputs) do
    in_vars[i] = t.var
  end
  w("local model = Model { inputs = { %s }, outputs = { %s } }", table.concat(in_vars, ", "),
    table.concat(heads, ", "))
  local loss_text
  if #outs == 1 and chance(0.5) then
    loss_text = '"' .. losses[1] .. '"'
  elseif chance(0.5) then
    local parts = {}
    for k = 1, #outs do
      parts[k] = losses[k] and ('"' .. losses[k] .. '"') or "None"
    end
    loss_text = "{ " .. table.concat(parts, ", ") .. " }"
    bump("losses: list")
  else
    local parts = {}
    for k = 1, #outs do
      if losses[k] then parts[#parts + 1] = string.format('out%d = "%s"', k, losses[k]) end
    end
    loss_text = "{ " .. table.concat(parts, ", ") .. " }"
    bump("losses: dict")
  end
  local extra = ""
  if #outs > 1 and chance(0.5) then
    local ws = {}
    for k = 1, #outs do
      ws[k] = string.format("out%d = %s", k, pick({ "1", "0.5", "2", "0.25" }))
    end
    extra = ", loss_weights = { " .. table.concat(ws, ", ") .. " }"
    bump("loss_weights")
  end
  w('model:compile { optimizer = "adam", loss = %s%s }', loss_text, extra)
  w("return model")
  local first
  for k = 1, #outs do
    first = first or losses[k]
  end
  bump(#outs .. " output(s)")
  bump(n_in .. " input(s)")
  table.insert(lines, 1, string.format("-- rnnc random test model %s (tests/random/make_graphs.lua, seed %d)", name,
    seed))
  table.insert(lines, 2, string.format("-- rnnc-random: batch=%d loss=%s unit_forget_bias=%s", batch, first,
    table.concat(lstm_ufb, ",")))
  return table.concat(lines, "\n") .. "\n", first
end

local index = {}
for k = 0, count - 1 do
  local name = string.format("g%02d", k)
  local batch = int(1, 4)
  local text, loss = draw_graph(name, batch)
  local f = assert(io.open(outdir .. "/" .. name .. ".lua", "wb"))
  f:write(text)
  f:close()
  index[#index + 1] = string.format("%s %d %s", name, batch, loss)
end
local f = assert(io.open(outdir .. "/models.txt", "ab"))
f:write(table.concat(index, "\n") .. "\n")
f:close()
local keys = {}
for k in pairs(cov) do
  keys[#keys + 1] = k
end
table.sort(keys)
local parts = {}
for _, k in ipairs(keys) do
  parts[#parts + 1] = k .. " " .. cov[k]
end
print(string.format("make_graphs.lua: seed %d: wrote %d graphs to %s: %s", seed, count, outdir,
  table.concat(parts, ", ")))
