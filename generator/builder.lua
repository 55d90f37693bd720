-- The API layers are written against: it appends checked ops to an IR program.
-- A layer file never sees C; it asks for buffers and ops on views.
local ir = require("ir")
local region = require("region")

local Builder = {}
Builder.__index = Builder

local function check_dims(what, v, rows, cols)
  if v.dims[1] ~= rows or v.dims[2] ~= cols then
    error(string.format("%s: view is %dx%d, expected %dx%d", what, v.dims[1], v.dims[2], rows, cols))
  end
end

-- Every element a view addresses lies inside its buffer, at every point of
-- the domain d (every run-time length, and every t of the enclosing loop):
-- its offset is affine in t and L, so the corners of d decide (region.lua).
local function check_bounds(v, d)
  local lo, hi = 0, 0
  for i = 1, 2 do
    local span = (v.dims[i] - 1) * v.strides[i]
    if span < 0 then lo = lo + span else hi = hi + span end
  end
  local base = region.affine(v.off, v.toff, v.loff)
  local first, last = region.plus(base, lo), region.plus(base, hi)
  if not (region.nonneg(first, d) and region.le(last, region.affine(v.buf.size - 1), d)) then
    local a = region.range(first, d)
    local _, b = region.range(last, d)
    error(string.format("view of %s out of bounds: elements %d..%d of %d", v.buf.name, a, b, v.buf.size))
  end
end

local function op_views(op)
  local views = { op.out, op.a, op.b, op.idx, op.dy }
  for _, a in ipairs(op.args or {}) do
    views[#views + 1] = a
  end
  return views
end

-- The lengths the unit runs at: every L in [1, T] for a unit of variable
-- length, else T.
function Builder:domain(lo, hi)
  local T = self.prog.max_steps or 1
  local L0 = self.prog.variable and 1 or T
  return region.domain(L0, T, lo, hi)
end

function Builder:append(op)
  op.mode = self.mode
  if not self.in_loop then
    for _, v in pairs(op_views(op)) do
      check_bounds(v, self:domain())
    end
  end
  self.prog.ops[#self.prog.ops + 1] = op
end

-- The ops fn(t) emits become the body of a loop over t = first .. last (last
-- may be ir.bound-style affine in the run-time length L); fn gets the loop
-- variable as ir.step(0, 1) for ir.row and friends. A loop that runs for no
-- length is not emitted.
function Builder:loop(first, last, fn)
  if self.in_loop then error("internal: a time loop inside a time loop") end
  local d = self:domain(region.bound(first), region.bound(last))
  if region.empty(d) then return end
  local outer = self.prog.ops
  self.prog.ops = {}
  self.in_loop = true
  fn(ir.step(0, 1))
  self.in_loop = false
  local body = self.prog.ops
  self.prog.ops = outer
  for _, op in ipairs(body) do
    for _, v in pairs(op_views(op)) do
      check_bounds(v, d)
    end
  end
  outer[#outer + 1] = { op = "loop", first = first, last = last, reverse = false, body = body, note = self:note(),
    mode = self.mode }
end

-- The ops fn emits belong to one forward program only: "train" (what a
-- layer computes in training: BatchNormalization with the batch's
-- statistics) or "infer" (at inference: the moving statistics). lower.lua
-- makes the unit's forward of every op but the "train" ones, and, when
-- there are such ops, forward_train of every op but the "infer" ones.
function Builder:in_mode(mode, fn)
  local outer = self.mode
  self.mode = mode
  fn()
  self.mode = outer
end

-- A statistic of the whole batch (one copy for all samples of a call).
function Builder:batch_stat(name, rows, cols, meaning)
  return ir.buffer(self.prog, name, "batch", rows, cols, { meaning = meaning })
end

-- Work over the `rows` rows of sequences: fn(sel) once with sel(v) = v, or,
-- in a unit of variable length, in a loop over the L rows present with
-- sel(v) = row t of v.
function Builder:per_row(rows, fn)
  if not self.prog.variable or rows == 1 then
    fn(function(v)
      return v
    end)
    return
  end
  self:loop(0, { c = -1, l = 1 }, function(t)
    fn(function(v)
      return ir.row(v, t)
    end)
  end)
end

-- The last row present of a sequence view.
function Builder:last_row(v)
  if self.prog.variable and v.dims[1] > 1 then return ir.row(v, ir.step(-1, 0, 1)) end
  return ir.row(v, v.dims[1] - 1)
end

-- params: the parameters' layout (lower.lua), {name, shape, offset, ...}.
function Builder.new(prog, params)
  local by_name = {}
  for _, p in ipairs(params or {}) do
    by_name[p.name] = p
  end
  return setmetatable({ prog = prog, params = by_name }, Builder)
end

-- The layer the next ops belong to (their comments in the C name it).
function Builder:set_layer(name)
  self.layer = name
end

function Builder:note(text)
  return { layer = self.layer, text = text }
end

-- A weight of the model: `weight` comes from the layer's build step
-- ({name, shape}); rank-1 weights are 1 x n views, and a weight of higher
-- rank is the matrix of its last axis against all the others (a Conv1D
-- kernel (k, in, filters) is k * in rows of `filters`); a scalar (shape {},
-- Attention's scale) is 1 x 1.
function Builder:param(weight)
  local buf = self.prog.by_name[weight.name]
  if not buf then
    local param = self.params[weight.name]
    if not param then error("internal: no parameter " .. weight.name) end
    local rows, cols = 1, weight.shape[#weight.shape] or 1
    for i = 1, #weight.shape - 1 do
      rows = rows * weight.shape[i]
    end
    ir.buffer(self.prog, weight.name, "param", rows, cols, { param = param })
    buf = self.prog.by_name[weight.name]
  end
  return ir.full(buf)
end

-- A per-sample activation buffer; `meaning` says what its rows and columns
-- hold (the scratch field's comment in the C).
function Builder:act(name, rows, cols, meaning)
  return ir.buffer(self.prog, name, "act", rows, cols, { meaning = meaning })
end

function Builder:zero(name, rows, cols)
  return ir.buffer(self.prog, name, "zero", rows, cols)
end

-- Every op takes an optional `note`: what it computes, in the layer's words.
function Builder:matmul(out, a, b, acc, note)
  check_dims("matmul a", a, out.dims[1], a.dims[2])
  check_dims("matmul b", b, a.dims[2], out.dims[2])
  self:append({ op = "matmul", out = out, a = a, b = b, acc = acc or false, note = self:note(note) })
end

-- out (+)= expr(args...); args are views of out's dims (use ir.broadcast_rows
-- for a bias row).
function Builder:map(out, expr, args, acc, note)
  for i, a in ipairs(args) do
    check_dims("map arg " .. i, a, out.dims[1], out.dims[2])
  end
  self:append({ op = "map", out = out, expr = expr, args = args, acc = acc or false, note = self:note(note) })
end

-- out = value everywhere (zero padding, a sum's start).
function Builder:fill(out, value, note)
  self:append({ op = "fill", out = out, value = value, note = self:note(note) })
end

-- Row i of out = row idx[i] of the table (Embedding's lookup). idx is a
-- column view of an integer buffer (the model's tokens) with out's rows;
-- the table's rows are the valid indices.
function Builder:gather(out, table_view, idx, note)
  check_dims("gather table", table_view, table_view.dims[1], out.dims[2])
  check_dims("gather idx", idx, out.dims[1], 1)
  if not idx.buf.int then error("internal: gather's indices must be an integer buffer") end
  self:append({ op = "gather", out = out, a = table_view, idx = idx, acc = false, note = self:note(note) })
end

-- Row-wise softmax over the last dim; `log` makes it log_softmax.
function Builder:softmax(out, a, note, log)
  check_dims("softmax", a, out.dims[1], out.dims[2])
  self:append({ op = "softmax", out = out, a = a, log = log or nil, note = self:note(note) })
end

-- Activations that act on a row rather than elementwise: softmax ops.
local ROW_ACTIVATION = { softmax = true, log_softmax = true }
Builder.ROW_ACTIVATION = ROW_ACTIVATION

-- y = x @ kernel (+ bias), then the activation: the Dense computation, shared
-- by every layer that applies a Dense to the last axis. Returns the output
-- view and, for a softmax activation, the logits view (for the fused loss).
function Builder:dense(prefix, x, kernel, bias, activation, units)
  local E = ir.E
  local rows = x.dims[1]
  local per = rows > 1 and "per step, " or ""
  local z = self:act(prefix .. "/z", rows, units, per .. "x @ kernel")
  local y = z
  local logits = nil
  if bias or (activation ~= "linear") then
    y = self:act(prefix .. "/y", rows, units, per .. "the layer's output")
  end
  -- softmax and sigmoid keep their logits (Keras fuses them with the
  -- crossentropies); log_softmax needs its pre-activation as a row too
  local keep_logits = activation == "softmax" or activation == "sigmoid"
  local row_op = ROW_ACTIVATION[activation]
  if (keep_logits or row_op) and bias then
    logits = self:act(prefix .. "/logits", rows, units, per .. "x @ kernel + bias")
  end
  self:per_row(rows, function(sel)
    local zs = sel(z)
    self:matmul(zs, sel(x), kernel, false)
    local args, pre = { zs }, E.arg(1)
    if bias then
      args[2] = ir.broadcast_rows(bias, zs.dims[1])
      pre = E.add(E.arg(1), E.arg(2))
    end
    if keep_logits or row_op then
      local l = logits and sel(logits) or zs
      if logits then self:map(l, pre, args, false, "the logits") end
      if row_op then
        self:softmax(sel(y), l, nil, activation == "log_softmax")
      else
        self:map(sel(y), ir.activation(activation, E.arg(1)), { l })
      end
    elseif y ~= z then
      self:map(sel(y), ir.activation(activation, pre), args)
    end
  end)
  if keep_logits then return y, logits or z end
  return y
end

return Builder
