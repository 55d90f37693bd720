-- The API layers are written against: it appends checked ops to an IR program.
-- A layer file never sees C; it asks for buffers and ops on views.
local ir = require("ir")

local Builder = {}
Builder.__index = Builder

local function check_dims(what, v, rows, cols)
  if v.dims[1] ~= rows or v.dims[2] ~= cols then
    error(string.format("%s: view is %dx%d, expected %dx%d", what, v.dims[1], v.dims[2], rows, cols))
  end
end

-- Every element a view addresses lies inside its buffer (for a view that
-- moves with a loop, at both ends of the loop: offsets are affine in t).
local function check_bounds(v, ts)
  for _, t in ipairs(ts or { 0 }) do
    local c = ir.at(v, t)
    local lo, hi = c.off, c.off
    for i = 1, 2 do
      local span = (c.dims[i] - 1) * c.strides[i]
      if span < 0 then lo = lo + span else hi = hi + span end
    end
    if lo < 0 or hi >= v.buf.size then
      error(string.format("view of %s out of bounds: elements %d..%d of %d", v.buf.name, lo, hi, v.buf.size))
    end
  end
end

local function op_views(op)
  local views = { op.out, op.a, op.b }
  for _, a in ipairs(op.args or {}) do
    views[#views + 1] = a
  end
  return views
end

function Builder:append(op)
  for _, v in pairs(op_views(op)) do
    if v.toff == 0 then check_bounds(v) end
  end
  self.prog.ops[#self.prog.ops + 1] = op
end

-- The ops fn(t) emits become the body of a loop over t = first .. last; fn
-- gets the loop variable as ir.step(0, 1) for ir.row and friends.
function Builder:loop(first, last, fn)
  if first > last then return end
  local outer = self.prog.ops
  self.prog.ops = {}
  fn(ir.step(0, 1))
  local body = self.prog.ops
  self.prog.ops = outer
  for _, op in ipairs(body) do
    for _, v in pairs(op_views(op)) do
      check_bounds(v, { first, last })
    end
  end
  outer[#outer + 1] = { op = "loop", first = first, last = last, reverse = false, body = body }
end

function Builder.new(prog)
  return setmetatable({ prog = prog, params = {} }, Builder)
end

-- A weight of the model: `weight` comes from the layer's build step
-- ({name, shape, offset}); rank-1 weights are 1 x n views.
function Builder:param(weight)
  local buf = self.prog.by_name[weight.name]
  if not buf then
    local rows, cols
    if #weight.shape == 1 then
      rows, cols = 1, weight.shape[1]
    else
      rows, cols = weight.shape[1], weight.shape[2]
    end
    ir.buffer(self.prog, weight.name, "param", rows, cols, { weight = weight })
    buf = self.prog.by_name[weight.name]
  end
  return ir.full(buf)
end

-- A per-sample activation buffer.
function Builder:act(name, rows, cols)
  return ir.buffer(self.prog, name, "act", rows, cols)
end

function Builder:zero(name, rows, cols)
  return ir.buffer(self.prog, name, "zero", rows, cols)
end

function Builder:matmul(out, a, b, acc)
  check_dims("matmul a", a, out.dims[1], a.dims[2])
  check_dims("matmul b", b, a.dims[2], out.dims[2])
  self:append({ op = "matmul", out = out, a = a, b = b, acc = acc or false })
end

-- out (+)= expr(args...); args are views of out's dims (use ir.broadcast_rows
-- for a bias row).
function Builder:map(out, expr, args, acc)
  for i, a in ipairs(args) do
    check_dims("map arg " .. i, a, out.dims[1], out.dims[2])
  end
  self:append({ op = "map", out = out, expr = expr, args = args, acc = acc or false })
end

function Builder:softmax(out, a)
  check_dims("softmax", a, out.dims[1], out.dims[2])
  self:append({ op = "softmax", out = out, a = a })
end

-- y = x @ kernel (+ bias), then the activation: the Dense computation, shared
-- by every layer that applies a Dense to the last axis. Returns the output
-- view and, for a softmax activation, the logits view (for the fused loss).
function Builder:dense(prefix, x, kernel, bias, activation, units)
  local E = ir.E
  local rows = x.dims[1]
  local z = self:act(prefix .. "/z", rows, units)
  self:matmul(z, x, kernel)
  if not bias and (activation == "linear" or activation == "softmax") then
    if activation == "linear" then return z end
    local y = self:act(prefix .. "/y", rows, units)
    self:softmax(y, z)
    return y, z
  end
  local args, pre = { z }, E.arg(1)
  if bias then
    args[2] = ir.broadcast_rows(bias, rows)
    pre = E.add(E.arg(1), E.arg(2))
  end
  if activation == "softmax" then
    local logits = self:act(prefix .. "/logits", rows, units)
    self:map(logits, pre, args)
    local y = self:act(prefix .. "/y", rows, units)
    self:softmax(y, logits)
    return y, logits
  end
  local y = self:act(prefix .. "/y", rows, units)
  self:map(y, ir.activation(activation, pre), args)
  return y
end

return Builder
