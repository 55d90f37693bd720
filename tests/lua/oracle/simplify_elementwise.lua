-- The simplifier as it was before region.lua: a simulation of the program
-- element by element, kept as the exhaustive oracle the region-based
-- simplifier (generator/simplify.lua) is compared against at small sizes
-- (tests/lua/test_region.lua).
--
-- Simplifications on the IR, by simulating the program element by element
-- (loop bodies once per iteration):
--   1. zero propagation: an operand known to be all zero removes a product
--      (the recurrent product at t = 0 with a zero initial state) or a term of
--      an elementwise expression; an accumulation into a region still known
--      to be zero becomes an assignment. In a loop body an op is rewritten
--      only when every iteration allows the same rewrite;
--   2. dead fills: a fill whose every element is overwritten before it is read
--      disappears (the zeroing of gradients that are assigned in full);
--   3. dead ops: an op whose result nobody reads disappears (gradients nobody
--      needs are not computed).
-- Every rewrite leaves the computed values unchanged.
local ir = require("ir")
local elements = require("elements")

local simplify = {}

local E = ir.E

-- Which buffers' contents survive the program: written for someone else.
local SINK = { output = true, pgrad = true, act = true, state = true, batch = true }

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
  elements.each_index(v, function(i)
    if not z[i] then ok = false end
  end)
  return ok
end

local function mark(state, v, zero)
  local z = state[v.buf]
  elements.each_index(v, function(i)
    z[i] = zero or nil
  end)
end

-- What zero propagation may do to one concrete op, as a comparable signature
-- and the list of args known zero. Updates `state` as the rewritten op would.
local function decide(state, op)
  local zero_args, verdict = {}, "keep"
  if op.op == "matmul" then
    if all_zero(state, op.a) or all_zero(state, op.b) then verdict = "zero" end
  elseif op.op == "map" then
    local subst = {}
    for i, a in ipairs(op.args) do
      if all_zero(state, a) then
        subst[i] = E.ZERO
        zero_args[#zero_args + 1] = i
      end
    end
    local expr = ir.substitute(op.expr, subst)
    if expr[1] == "const" and expr[2] == 0 then verdict = "zero" end
  elseif op.op == "softmax_grad" then
    if all_zero(state, op.dy) then verdict = "zero" end
  end
  local assign = false
  if verdict == "zero" then
    verdict = op.acc and "drop" or "fill"
  elseif op.op ~= "fill" and op.acc and all_zero(state, op.out) and elements.distinct(op.out)
    and op.out.buf.kind ~= "batch" then
    assign = true
  end
  if verdict == "fill" or (op.op == "fill" and op.value == 0) then
    mark(state, op.out, true)
  elseif verdict == "keep" then
    -- (a fill of another value too: the causal mask's -1e9)
    mark(state, op.out, false)
  end
  return verdict .. (assign and ":assign" or "") .. ":" .. table.concat(zero_args, ","), verdict, assign, zero_args
end

-- Applies a decision to the (possibly symbolic) op.
local function rewrite(op, verdict, assign, zero_args)
  if verdict == "drop" then return nil end
  if verdict == "fill" then return { op = "fill", out = op.out, value = 0 } end
  local r = {}
  for k, v in pairs(op) do
    r[k] = v
  end
  if op.op == "map" and #zero_args > 0 then
    local subst = {}
    for _, i in ipairs(zero_args) do
      subst[i] = E.ZERO
    end
    r.expr, r.args = ir.prune_args(ir.substitute(op.expr, subst), op.args)
  end
  if assign then r.acc = false end
  return r
end

-- Pass 1. Top-level ops are loops of one iteration. A rewrite must be the
-- same in every iteration and for every run-time length the unit accepts.
local function propagate_zeros(prog, ops)
  local seen, choice = {}, {} -- [top index][body index] -> signature (false: they disagree)
  for k = 1, #ops do
    seen[k], choice[k] = {}, {}
  end
  for _, L in ipairs(elements.lengths(prog)) do
    local state = zero_state(prog)
    for k, op in ipairs(ops) do
      local body = op.op == "loop" and op.body or { op }
      local iterations = op.op == "loop" and ir.iterations(op, L) or { 0 }
      for _, t in ipairs(iterations) do
        for j, b in ipairs(body) do
          local sig, verdict, assign, zero_args = decide(state, ir.instantiate(b, t, L))
          if seen[k][j] == nil then
            seen[k][j] = sig
            choice[k][j] = { verdict, assign, zero_args }
          elseif seen[k][j] ~= sig then
            seen[k][j] = false
          end
        end
      end
    end
  end
  local out = {}
  for k, op in ipairs(ops) do
    local body = op.op == "loop" and op.body or { op }
    local new_body = {}
    for j, b in ipairs(body) do
      local r = b
      if seen[k][j] then r = rewrite(b, table.unpack(choice[k][j])) end
      if r then new_body[#new_body + 1] = r end
    end
    if op.op == "loop" then
      if #new_body > 0 then
        out[#out + 1] = { op = "loop", first = op.first, last = op.last, reverse = op.reverse, body = new_body }
      end
    elseif new_body[1] then
      out[#out + 1] = new_body[1]
    end
  end
  return out
end

-- Pass 2: a top-level fill none of whose elements is read before being
-- overwritten.
local function drop_dead_fills(prog, ops)
  local used = {}
  for _, L in ipairs(elements.lengths(prog)) do
    local pending = {} -- buffer -> element -> the top-level fill that wrote it
    for _, buf in ipairs(prog.buffers) do
      pending[buf] = {}
    end
    local function read(v)
      local p = pending[v.buf]
      elements.each_index(v, function(i)
        if p[i] then used[p[i]] = true end
      end)
    end
    for _, e in ipairs(elements.expand(ops, L)) do
      local op = e.op
      for _, v in ipairs(ir.op_reads(op)) do
        read(v)
      end
      if op.acc then read(op.out) end
      local p = pending[op.out.buf]
      local tag = (op.op == "fill" and e.top == e.source) and e.source or nil
      elements.each_index(op.out, function(i)
        p[i] = tag
      end)
    end
    for _, buf in ipairs(prog.buffers) do
      if SINK[buf.kind] then read(ir.full(buf)) end
    end
  end
  local out = {}
  for _, op in ipairs(ops) do
    if op.op ~= "fill" or used[op] then out[#out + 1] = op end
  end
  return out
end

function simplify.run(prog, ops)
  ops = propagate_zeros(prog, ops)
  ops = drop_dead_fills(prog, ops)
  -- pass 3 never walked elements: the generator's own
  ops = require("simplify").drop_dead_ops(ops, {})
  return ops
end

return simplify
