-- Simplifications on the IR, decided over regions (region.lua) and over time
-- loops by induction, so their cost does not grow with the sequence length:
--   1. zero propagation: an operand known to be all zero removes a product
--      (the recurrent product at t = 0 with a zero initial state) or a term of
--      an elementwise expression; an accumulation into a region still known
--      to be zero becomes an assignment;
--   2. dead fills: a fill whose every element is overwritten before it is read
--      disappears (the zeroing of gradients that are assigned in full);
--   3. dead ops: an op whose result nobody reads disappears (gradients nobody
--      needs are not computed).
-- Every rewrite leaves the computed values unchanged, for every run-time
-- length 1 <= L <= T of a unit of variable length.
--
-- What the analyses know is a history of writes: "this rectangle was set to
-- zero", "this rectangle was written with values that may not be zero". A
-- view is known zero when a zero write covers it and no later write of
-- possibly non-zero values touches it. In a time loop, iteration t is seen
-- twice: as the first iteration (nothing of the loop before it) and as any
-- later one, where the writes of all iterations before t are one swept
-- rectangle (region.sweep), written with values that may not be zero; a body
-- op is rewritten only when both views decide the same. Every question is
-- asked for all (t, L) at once (region.lua), so a decision holds for every
-- iteration and every length by construction.
local ir = require("ir")
local region = require("region")

local simplify = {}

local E = ir.E

-- Which buffers' contents survive the program: written for someone else.
local SINK = { output = true, pgrad = true, act = true, state = true, batch = true }

---------------------------------------------------------------- domains

-- The lengths a program runs at: L in [1, T] for a unit of variable length,
-- else only T (its views do not depend on L).
local function top_domain(prog)
  local T = prog.max_steps or 1
  if prog.variable then return region.domain(1, T) end
  return region.domain(T, T)
end

-- The iterations of a loop, at the lengths where it runs at all: `first`
-- (the first iteration), `rest` (any later one), `all`; `before` is the
-- range of the iterations that ran before t (in `rest`), `range` the whole
-- range, `nonempty` whether it runs at every length.
local function loop_domains(prog, loop)
  local top = top_domain(prog)
  local a, b = region.bound(loop.first), region.bound(loop.last)
  local one = region.affine(1)
  local t = region.affine(0, 1)
  local d = {}
  d.all = region.domain(top.L0, top.L1, a, b)
  local L0, L1 = region.lengths(d.all)
  if loop.reverse then
    d.first = region.domain(L0, L1, b, b)
    d.rest = region.domain(L0, L1, a, region.sub(b, one))
    -- iterations before t: t + 1 .. b
    d.before = { region.add(t, one), b }
  else
    d.first = region.domain(L0, L1, a, a)
    d.rest = region.domain(L0, L1, region.add(a, one), b)
    d.before = { a, region.sub(t, one) }
  end
  d.range = { a, b }
  d.nonempty = region.le(a, b, top)
  return d
end

---------------------------------------------------------------- 1. zero propagation

-- The history of writes, per buffer: a list of {zero = bool, rect}.
local function new_history(prog)
  local h = {}
  for _, buf in ipairs(prog.buffers) do
    h[buf] = {}
    if buf.kind == "zero" then h[buf][1] = { zero = true, rect = region.whole(buf) } end
  end
  return h
end

local function copy_history(h)
  local c = {}
  for buf, list in pairs(h) do
    local l = {}
    for i, e in ipairs(list) do
      l[i] = e
    end
    c[buf] = l
  end
  return c
end

local function record(h, v, zero)
  local list = h[v.buf]
  list[#list + 1] = { zero = zero, rect = (region.of_view(v)) }
end

-- Every element of v is zero at every point of d.
local function all_zero(h, v, d)
  local r = region.of_view(v)
  local list = h[v.buf]
  for i = #list, 1, -1 do
    local e = list[i]
    if e.zero then
      if region.contains(e.rect, r, d) then return true end
    elseif not region.disjoint(e.rect, r, d) then
      return false
    end
  end
  return false
end

-- What zero propagation may do to one op at the points of d, as a comparable
-- signature and its parts. Records the op's write in the history.
local function decide(h, op, d)
  local zero_args, verdict = {}, "keep"
  if op.op == "matmul" then
    if all_zero(h, op.a, d) or all_zero(h, op.b, d) then verdict = "zero" end
  elseif op.op == "map" then
    local subst = {}
    for i, a in ipairs(op.args) do
      if all_zero(h, a, d) then
        subst[i] = E.ZERO
        zero_args[#zero_args + 1] = i
      end
    end
    local expr = ir.substitute(op.expr, subst)
    if expr[1] == "const" and expr[2] == 0 then verdict = "zero" end
  elseif op.op == "softmax_grad" or op.op == "scatter" then
    if all_zero(h, op.dy, d) then verdict = "zero" end
  end
  local assign = false
  if verdict == "zero" then
    verdict = op.acc and "drop" or "fill"
  elseif op.op ~= "fill" and op.op ~= "scatter" and op.acc and region.distinct(op.out) and all_zero(h, op.out, d)
    and op.out.buf.kind ~= "batch" then
    -- (an accumulation into a batch statistic sums over the samples: it
    -- stays one, however zero the statistic is before the first sample)
    assign = true
  end
  if verdict == "fill" or op.op == "fill" then
    record(h, op.out, op.op ~= "fill" or op.value == 0)
  elseif verdict == "keep" then
    record(h, op.out, false)
  end
  return verdict .. (assign and ":assign" or "") .. ":" .. table.concat(zero_args, ","), { verdict, assign, zero_args }
end

-- Applies a decision to the op.
local function rewrite(op, verdict, assign, zero_args)
  if verdict == "drop" then return nil end
  if verdict == "fill" then return { op = "fill", out = op.out, value = 0, note = op.note } end
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

-- The writes of a loop's body as rectangles moving with t.
local function body_writes(body)
  local writes = {}
  for _, b in ipairs(body) do
    if b.op == "loop" then error("internal: a time loop inside a time loop") end
    writes[#writes + 1] = b.out
  end
  return writes
end

-- Records the writes of the iterations t runs over [from, to] as writes of
-- values that may not be zero (a sweep covers at least what they wrote).
local function record_sweep(h, writes, from, to)
  for _, v in ipairs(writes) do
    local swept = region.sweep(region.of_view(v), from, to, false)
    local list = h[v.buf]
    list[#list + 1] = { zero = false, rect = swept }
  end
end

local function propagate_zeros(prog, ops)
  local h = new_history(prog)
  local top = top_domain(prog)
  local out = {}
  for _, op in ipairs(ops) do
    if op.op ~= "loop" then
      local _, parts = decide(h, op, top)
      local r = rewrite(op, table.unpack(parts))
      if r then out[#out + 1] = r end
    else
      local d = loop_domains(prog, op)
      local writes = body_writes(op.body)
      -- the first iteration: the history so far
      local hf = copy_history(h)
      -- any later one: the iterations before it wrote their rectangles
      local hr = copy_history(h)
      record_sweep(hr, writes, d.before[1], d.before[2])
      local first_empty, rest_empty = region.empty(d.first), region.empty(d.rest)
      local body = {}
      for _, b in ipairs(op.body) do
        local sig_f, parts_f = decide(hf, b, d.first)
        local sig_r, parts_r = decide(hr, b, d.rest)
        local parts
        if rest_empty then
          parts = parts_f
        elseif first_empty or sig_f == sig_r then
          parts = parts_r
        end
        local r = b
        if parts then r = rewrite(b, table.unpack(parts)) end
        if r then body[#body + 1] = r end
      end
      -- after the loop: everything it wrote, values unknown
      record_sweep(h, writes, d.range[1], d.range[2])
      if #body > 0 then
        out[#out + 1] = { op = "loop", first = op.first, last = op.last, reverse = op.reverse, body = body,
          note = op.note }
      end
    end
  end
  return out
end

---------------------------------------------------------------- 2. dead fills

-- Whether the top-level fill ops[k] is read before being overwritten. The
-- writes after it are collected as rectangles they certainly cover; a read
-- that may touch the fill's rectangle is harmless only when those writes
-- cover it.
local function fill_used(prog, ops, k)
  local fill = ops[k]
  local F = region.of_view(fill.out)
  local top = top_domain(prog)
  local written = {}
  local function add_write(list, v)
    local r, exact = region.of_view(v)
    if exact and r.buf == F.buf then list[#list + 1] = r end
  end
  local function reads_it(v, list, d)
    if v.buf ~= F.buf then return false end
    local r = region.of_view(v)
    if region.disjoint(r, F, d) then return false end
    return not region.covered(r, list, d)
  end
  local function op_reads_it(op, list, d)
    for _, v in ipairs(ir.op_reads(op)) do
      if reads_it(v, list, d) then return true end
    end
    return op.acc and reads_it(op.out, list, d)
  end
  for j = k + 1, #ops do
    local op = ops[j]
    if op.op ~= "loop" then
      if op_reads_it(op, written, top) then return true end
      -- (a scatter writes the rows its indices name, not its whole view)
      if op.op ~= "scatter" then add_write(written, op.out) end
    else
      local d = loop_domains(prog, op)
      -- the writes of one iteration, merged (a row's gate blocks make the
      -- row), then swept over the iterations before t and over the loop
      local own = {}
      for _, b in ipairs(op.body) do
        if b.op ~= "scatter" then add_write(own, b.out) end
      end
      -- each write alone too: a merged rectangle may move less than its
      -- extent per step, and its sweep is then exact only when the loop runs
      for _, r in ipairs(region.merge(own, d.all)) do
        own[#own + 1] = r
      end
      local function swept(from, to, nonempty)
        local list = {}
        for _, w in ipairs(written) do
          list[#list + 1] = w
        end
        for _, r in ipairs(own) do
          local s, exact = region.sweep(r, from, to, nonempty)
          if exact then list[#list + 1] = s end
        end
        return list
      end
      for _, view in ipairs({ { d.first, written }, { d.rest, swept(d.before[1], d.before[2], true) } }) do
        local dom, list = view[1], view[2]
        local here = {}
        for i, w in ipairs(list) do
          here[i] = w
        end
        for _, b in ipairs(op.body) do
          if op_reads_it(b, here, dom) then return true end
          if b.op ~= "scatter" then add_write(here, b.out) end
        end
      end
      written = swept(d.range[1], d.range[2], d.nonempty)
    end
  end
  -- what is left of a sink is read by the caller
  if SINK[F.buf.kind] and not region.covered(F, written, top) then return true end
  return false
end

local function drop_dead_fills(prog, ops)
  local out = {}
  for k, op in ipairs(ops) do
    if op.op ~= "fill" or fill_used(prog, ops, k) then out[#out + 1] = op end
  end
  return out
end

---------------------------------------------------------------- 3. dead ops

-- Ops whose output buffer is neither a sink nor read afterwards.
-- `read_later` collects the buffers read by the ops kept so far (later ones).
function simplify.drop_dead_ops(ops, read_later)
  local drop_dead_ops = simplify.drop_dead_ops
  local keep = {}
  for k = #ops, 1, -1 do
    local op = ops[k]
    if op.op == "loop" then
      -- twice: a read in a later iteration keeps an op earlier in the body
      drop_dead_ops(op.body, read_later)
      local body = drop_dead_ops(op.body, read_later)
      if #body > 0 then
        keep[k] = { op = "loop", first = op.first, last = op.last, reverse = op.reverse, body = body, note = op.note }
      end
    elseif SINK[op.out.buf.kind] or read_later[op.out.buf] then
      keep[k] = op
      for _, v in ipairs(ir.op_reads(op)) do
        read_later[v.buf] = true
      end
    end
  end
  local out = {}
  for k = 1, #ops do
    if keep[k] then out[#out + 1] = keep[k] end
  end
  return out
end

function simplify.run(prog, ops)
  ops = propagate_zeros(prog, ops)
  ops = drop_dead_fills(prog, ops)
  ops = simplify.drop_dead_ops(ops, {})
  return ops
end

-- The pass: a new unit whose programs (forward, backward, backward_loss,
-- the streaming step's forward) are simplified, each once.
local PROGRAMS = { "forward", "backward", "backward_loss", "forward_train", "backward_train_loss" }
function simplify.pass(u)
  local r = {}
  for k, v in pairs(u) do
    r[k] = v
  end
  r.simplified = {}
  for k, v in pairs(u.simplified or {}) do
    r.simplified[k] = v
  end
  for _, name in ipairs(PROGRAMS) do
    if u[name] and not r.simplified[name] then
      r[name] = simplify.run(u.prog, u[name])
      r.simplified[name] = true
    end
  end
  if u.stream and not r.simplified.stream then
    r.stream = {}
    for k, v in pairs(u.stream) do
      r.stream[k] = v
    end
    r.stream.forward = simplify.run(u.stream.prog, u.stream.forward)
    r.simplified.stream = true
  end
  return r
end

return simplify
