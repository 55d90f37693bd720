-- Simplifications on the IR, by simulating the program element by element:
--   1. zero propagation: an operand known to be all zero removes a product
--      (the recurrent product at t = 0 with a zero initial state) or a term of
--      an elementwise expression; an accumulation into a region still known
--      to be zero becomes an assignment;
--   2. dead fills: a fill whose every element is overwritten before it is read
--      disappears (the zeroing of gradients that are assigned in full);
--   3. dead ops: an op whose result nobody reads disappears (gradients nobody
--      needs are not computed).
local ir = require("ir")

local simplify = {}

local E = ir.E

-- Which buffers' contents survive the program: written for someone else.
local SINK = { output = true, pgrad = true, act = true }

local function zero_state(prog)
  local state = {}
  for _, buf in ipairs(prog.buffers) do
    state[buf] = {}
    if buf.kind == "zero" then
      for i = 0, buf.size - 1 do
        state[buf][i] = true
      end
    end
  end
  return state
end

local function all_zero(state, v)
  local z = state[v.buf]
  local ok = true
  ir.each_index(v, function(i)
    if not z[i] then ok = false end
  end)
  return ok
end

local function mark(state, v, zero)
  local z = state[v.buf]
  ir.each_index(v, function(i)
    z[i] = zero or nil
  end)
end

local function to_fill(op)
  return { op = "fill", out = op.out, value = 0 }
end

local function copy_with(op, changes)
  local r = {}
  for k, v in pairs(op) do
    r[k] = v
  end
  for k, v in pairs(changes) do
    r[k] = v
  end
  return r
end

-- Pass 1. `initially_zero` lists buffers known zero at entry (besides kind zero).
local function propagate_zeros(prog, ops, initially_zero)
  local state = zero_state(prog)
  for _, buf in ipairs(initially_zero or {}) do
    mark(state, ir.full(buf), true)
  end
  local out_ops = {}
  local function keep(op)
    out_ops[#out_ops + 1] = op
  end
  for _, op in ipairs(ops) do
    local result = op
    if op.op == "fill" then
      keep(op)
      mark(state, op.out, true)
      result = nil
    elseif op.op == "matmul" then
      if all_zero(state, op.a) or all_zero(state, op.b) then
        result = (not op.acc) and to_fill(op) or false
      end
    elseif op.op == "map" then
      local subst = {}
      for i, a in ipairs(op.args) do
        if all_zero(state, a) then subst[i] = E.ZERO end
      end
      local expr = ir.substitute(op.expr, subst)
      if expr[1] == "const" and expr[2] == 0 then
        result = (not op.acc) and to_fill(op) or false
      else
        local pruned, args = ir.prune_args(expr, op.args)
        result = { op = "map", out = op.out, expr = pruned, args = args, acc = op.acc }
      end
    elseif op.op == "softmax_grad" then
      if all_zero(state, op.dy) then result = (not op.acc) and to_fill(op) or false end
    end
    if result then
      if result.acc and all_zero(state, result.out) and ir.distinct(result.out) then
        result = copy_with(result, { acc = false })
      end
      keep(result)
      mark(state, result.out, result.op == "fill")
    end
  end
  return out_ops
end

-- Pass 2: a fill none of whose elements is read before being overwritten.
local function drop_dead_fills(prog, ops)
  local pending = {} -- buffer -> element -> index of the fill that wrote it
  for _, buf in ipairs(prog.buffers) do
    pending[buf] = {}
  end
  local used = {}
  local function read(v)
    local p = pending[v.buf]
    ir.each_index(v, function(i)
      if p[i] then used[p[i]] = true end
    end)
  end
  for k, op in ipairs(ops) do
    for _, v in ipairs(ir.op_reads(op)) do
      read(v)
    end
    if op.acc then read(op.out) end
    local p = pending[op.out.buf]
    local tag = op.op == "fill" and k or nil
    ir.each_index(op.out, function(i)
      p[i] = tag
    end)
  end
  for _, buf in ipairs(prog.buffers) do
    if SINK[buf.kind] then read(ir.full(buf)) end
  end
  local out = {}
  for k, op in ipairs(ops) do
    if op.op ~= "fill" or used[k] then out[#out + 1] = op end
  end
  return out
end

-- Pass 3: ops whose output buffer is neither a sink nor read afterwards.
local function drop_dead_ops(ops)
  local read_later = {}
  local keep = {}
  for k = #ops, 1, -1 do
    local op = ops[k]
    local buf = op.out.buf
    if SINK[buf.kind] or read_later[buf] then
      keep[k] = true
      for _, v in ipairs(ir.op_reads(op)) do
        read_later[v.buf] = true
      end
    end
  end
  local out = {}
  for k, op in ipairs(ops) do
    if keep[k] then out[#out + 1] = op end
  end
  return out
end

function simplify.run(prog, ops, initially_zero)
  ops = propagate_zeros(prog, ops, initially_zero)
  ops = drop_dead_fills(prog, ops)
  ops = drop_dead_ops(ops)
  return ops
end

return simplify
