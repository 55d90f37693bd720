-- The intermediate representation between a model and C.
--
-- A program is a straight-line list of ops over buffers of fixed size. Every op
-- describes the work for ONE sample; the C writer wraps the list in a loop over
-- the samples of a batch. Buffers that belong to a sample (activations,
-- inputs, outputs) are indexed per sample by the writer; parameters and their
-- gradients are shared by all samples.
--
-- Buffer kinds:
--   param    a weight tensor (read only)
--   pgrad    the gradient of a weight (accumulated over samples)
--   input    a per-sample array the caller passes in (x, dy, dloss)
--   output   a per-sample array the caller receives (y, dx)
--   act      a forward activation, kept in scratch for every sample
--   tmp      a per-sample temporary of the backward pass (activation gradients)
--   zero     an all-zero constant that is never stored (e.g. h_0)
--   state    a recurrent layer's states kept between calls (streaming inference)
--   wtrans   a weight's transposed copy, made once per call (layout.lua)
--
-- Operands are views: a buffer, an offset and two dims with strides, so a row
-- of a sequence, a block of gate columns, a transpose or a broadcast (stride 0)
-- is a view, never a copy. Vectors are 1 x n views. Inside a loop a view's
-- offset may also move with the loop variable t, and in a unit generated for
-- sequences of any length up to a maximum, with the run-time length L:
-- offset = off + t * toff + L * loff. A loop's bounds may be affine in L too
-- ({c = c, l = k} for c + k * L).
--
-- Ops:
--   {op="matmul", out=V(m,n), a=V(m,k), b=V(k,n), acc=bool}   out (+)= a @ b
--   {op="map", out=V, args={V...}, expr=E, acc=bool}          elementwise; args have out's dims
--   {op="softmax", out=V, a=V}                                row-wise over the last dim
--   {op="softmax_grad", out=V, dy=V, y=V, acc=bool}           out (+)= y * (dy - sum(dy * y))
--   {op="fill", out=V, value=0}
--   {op="loop", first=a, last=b, reverse=bool, body={ops}}   for t in [a, b] (descending
--                                                             when reverse): the time loop
--
-- Elementwise expressions E are small trees: {"arg", i}, {"const", c},
-- {"add", a, b}, {"sub", a, b}, {"mul", a, b}, {"neg", a}, {"max", a, b}
-- (a when a >= b, else b: pooling), and the unary functions tanh, sigmoid,
-- relu, step (1 where a > 0, else 0), exp, hard_sigmoid and
-- hard_sigmoid_grad (its derivative), and for the normalisation and pooling
-- layers rsqrt (1 / sqrt(a)), recip (1 / a) and ge0 (1 where a >= 0, else 0).
local ir = {}

---------------------------------------------------------------- buffers and views

function ir.new_program()
  return { buffers = {}, by_name = {}, ops = {} }
end

-- A program holding the same buffers, to which a pass adds its own (the
-- buffers are shared: a buffer record never changes once declared).
function ir.extend(prog)
  local p = { buffers = {}, by_name = {}, ops = {}, variable = prog.variable, max_steps = prog.max_steps }
  for i, b in ipairs(prog.buffers) do
    p.buffers[i] = b
    p.by_name[b.name] = b
  end
  return p
end

-- Declares a buffer of rows x cols reals and returns a view of all of it.
function ir.buffer(prog, name, kind, rows, cols, extra)
  assert(not prog.by_name[name], "duplicate buffer " .. name)
  local buf = { name = name, kind = kind, rows = rows, cols = cols, size = rows * cols }
  for k, v in pairs(extra or {}) do
    buf[k] = v
  end
  prog.buffers[#prog.buffers + 1] = buf
  prog.by_name[name] = buf
  return ir.full(buf)
end

function ir.full(buf)
  return { buf = buf, off = 0, toff = 0, loff = 0, dims = { buf.rows, buf.cols }, strides = { buf.cols, 1 } }
end

function ir.view(buf, off, rows, cols, rs, cs, toff, loff)
  return { buf = buf, off = off, toff = toff or 0, loff = loff or 0, dims = { rows, cols }, strides = { rs, cs } }
end

-- An index c + k * t + l * L (t the loop variable, L the run-time length).
function ir.step(c, k, l)
  return { c = c, k = k or 0, l = l or 0 }
end
local function split_index(i)
  if type(i) == "number" then return i, 0, 0 end
  return i.c, i.k, i.l
end

-- A loop bound: a number, or {c = c, l = k} meaning c + k * L.
function ir.bound(x, L)
  if type(x) == "number" then return x end
  return x.c + x.l * L
end

-- Row i of a view (a number, or an ir.step), as a 1 x cols view.
function ir.row(v, i)
  local c, k, l = split_index(i)
  if k == 0 and l == 0 then assert(c >= 0 and c < v.dims[1], "row out of range") end
  return ir.view(v.buf, v.off + c * v.strides[1], 1, v.dims[2], v.strides[1], v.strides[2],
    v.toff + k * v.strides[1], v.loff + l * v.strides[1])
end

-- Rows [r0, r0 + count).
function ir.rows(v, r0, count)
  assert(r0 >= 0 and r0 + count <= v.dims[1], "rows out of range")
  return ir.view(v.buf, v.off + r0 * v.strides[1], count, v.dims[2], v.strides[1], v.strides[2], v.toff, v.loff)
end

-- Columns [c0, c0 + count): a gate block of a fused weight.
function ir.cols(v, c0, count)
  assert(c0 >= 0 and c0 + count <= v.dims[2], "cols out of range")
  return ir.view(v.buf, v.off + c0 * v.strides[2], v.dims[1], count, v.strides[1], v.strides[2], v.toff, v.loff)
end

function ir.transpose(v)
  return ir.view(v.buf, v.off, v.dims[2], v.dims[1], v.strides[2], v.strides[1], v.toff, v.loff)
end

-- A 1 x n view repeated over `rows` rows (stride 0).
function ir.broadcast_rows(v, rows)
  assert(v.dims[1] == 1, "broadcast_rows needs a row vector")
  return ir.view(v.buf, v.off, rows, v.dims[2], 0, v.strides[2], v.toff, v.loff)
end

-- The same region of another buffer of the same layout (a gradient's view).
function ir.on(buf, v)
  return ir.view(buf, v.off, v.dims[1], v.dims[2], v.strides[1], v.strides[2], v.toff, v.loff)
end

-- The view in iteration t of its loop, for run-time length L.
function ir.at(v, t, L)
  if v.toff == 0 and v.loff == 0 then return v end
  if L == nil then -- t made concrete, L left symbolic (for the C writer)
    return ir.view(v.buf, v.off + t * v.toff, v.dims[1], v.dims[2], v.strides[1], v.strides[2], 0, v.loff)
  end
  return ir.view(v.buf, v.off + t * v.toff + L * v.loff, v.dims[1], v.dims[2], v.strides[1], v.strides[2])
end

local VIEW_FIELDS = { "out", "a", "b", "dy", "y" }

-- An op as it runs in iteration t of its loop (0 outside loops) for run-time
-- length L (views made concrete).
function ir.instantiate(op, t, L)
  local r = {}
  for k, v in pairs(op) do
    r[k] = v
  end
  for _, f in ipairs(VIEW_FIELDS) do
    if op[f] then r[f] = ir.at(op[f], t, L) end
  end
  if op.args then
    r.args = {}
    for i, a in ipairs(op.args) do
      r.args[i] = ir.at(a, t, L)
    end
  end
  return r
end

-- The values a loop's variable takes, in execution order, for length L.
function ir.iterations(loop, L)
  local ts = {}
  for t = ir.bound(loop.first, L), ir.bound(loop.last, L) do
    ts[#ts + 1] = t
  end
  if loop.reverse then
    for i = 1, #ts // 2 do
      ts[i], ts[#ts + 1 - i] = ts[#ts + 1 - i], ts[i]
    end
  end
  return ts
end

function ir.count(v)
  return v.dims[1] * v.dims[2]
end

---------------------------------------------------------------- expressions

local E = {}
ir.E = E

function E.arg(i)
  return { "arg", i }
end
function E.const(c)
  return { "const", c }
end
E.ZERO = E.const(0)
E.ONE = E.const(1)

local function is_const(e, c)
  return e[1] == "const" and (c == nil or e[2] == c)
end

-- Constructors fold constants as they build, so derived expressions stay small.
function E.add(a, b)
  if is_const(a, 0) then return b end
  if is_const(b, 0) then return a end
  if is_const(a) and is_const(b) then return E.const(a[2] + b[2]) end
  return { "add", a, b }
end
function E.sub(a, b)
  if is_const(b, 0) then return a end
  if is_const(a) and is_const(b) then return E.const(a[2] - b[2]) end
  if is_const(a, 0) then return E.neg(b) end
  return { "sub", a, b }
end
function E.mul(a, b)
  if is_const(a, 0) or is_const(b, 0) then return E.ZERO end
  if is_const(a, 1) then return b end
  if is_const(b, 1) then return a end
  if is_const(a) and is_const(b) then return E.const(a[2] * b[2]) end
  return { "mul", a, b }
end
function E.neg(a)
  if is_const(a) then return E.const(-a[2]) end
  if a[1] == "neg" then return a[2] end
  return { "neg", a }
end

local unary_value = {
  tanh = function(x)
    if x > 20 then return 1 end
    if x < -20 then return -1 end
    local e = math.exp(2 * x)
    return (e - 1) / (e + 1)
  end,
  sigmoid = function(x)
    return 1 / (1 + math.exp(-x))
  end,
  relu = function(x)
    return x > 0 and x or 0
  end,
  step = function(x)
    return x > 0 and 1 or 0
  end,
  exp = math.exp,
  -- tf.keras 2.x: clip(0.2 x + 0.5, 0, 1) (Keras 3 uses x / 6 + 0.5)
  hard_sigmoid = function(x)
    return math.max(0, math.min(1, 0.2 * x + 0.5))
  end,
  -- its derivative: 0.2 strictly inside (-2.5, 2.5)
  hard_sigmoid_grad = function(x)
    return (x > -2.5 and x < 2.5) and 0.2 or 0
  end,
  -- the normalisation layers' 1 / sqrt(variance + epsilon)
  rsqrt = function(x)
    return 1 / math.sqrt(x)
  end,
  recip = function(x)
    return 1 / x
  end,
  -- the derivative of max(a, b) by a: 1 where a - b >= 0 (ties go to a, the
  -- earlier element of a pooling window)
  ge0 = function(x)
    return x >= 0 and 1 or 0
  end,
}
ir.UNARY = unary_value

function E.fn(name, a)
  assert(unary_value[name], "unknown function " .. name)
  if is_const(a) then return E.const(unary_value[name](a[2])) end
  return { name, a }
end

-- max(a, b): a when a >= b, else b (the only binary function).
function E.max(a, b)
  if is_const(a) and is_const(b) then return E.const(a[2] >= b[2] and a[2] or b[2]) end
  return { "max", a, b }
end

-- Keras activations as expressions of their input (softmax is an op, not a map).
function ir.activation(name, e)
  if name == "linear" then return e end
  if name == "tanh" or name == "sigmoid" or name == "relu" or name == "hard_sigmoid" then return E.fn(name, e) end
  error("activation " .. tostring(name) .. " is not an elementwise map")
end

-- Replaces args: map[i] is the new expression for {"arg", i}.
function ir.substitute(e, map)
  local k = e[1]
  if k == "arg" then return map[e[2]] or e end
  if k == "const" then return e end
  if k == "add" then return E.add(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  if k == "sub" then return E.sub(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  if k == "mul" then return E.mul(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  if k == "neg" then return E.neg(ir.substitute(e[2], map)) end
  if k == "max" then return E.max(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  return E.fn(k, ir.substitute(e[2], map))
end

-- The derivative of a unary function at a, in terms of a.
local function unary_derivative(name, a)
  if name == "tanh" then
    local t = E.fn("tanh", a)
    return E.sub(E.ONE, E.mul(t, t))
  elseif name == "sigmoid" then
    local s = E.fn("sigmoid", a)
    return E.mul(s, E.sub(E.ONE, s))
  elseif name == "relu" then
    return E.fn("step", a)
  elseif name == "hard_sigmoid" then
    return E.fn("hard_sigmoid_grad", a)
  elseif name == "step" or name == "hard_sigmoid_grad" or name == "ge0" then
    return E.ZERO
  elseif name == "exp" then
    return E.fn("exp", a)
  elseif name == "rsqrt" then
    -- d/da a^(-1/2) = -1/2 a^(-3/2)
    local r = E.fn("rsqrt", a)
    return E.mul(E.const(-0.5), E.mul(r, E.mul(r, r)))
  elseif name == "recip" then
    local r = E.fn("recip", a)
    return E.neg(E.mul(r, r))
  end
  error("no derivative for " .. name)
end

-- The same derivative in terms of the function's value y (cheaper: no recompute).
local function unary_derivative_from_value(name, y)
  if name == "tanh" then return E.sub(E.ONE, E.mul(y, y)) end
  if name == "sigmoid" then return E.mul(y, E.sub(E.ONE, y)) end
  if name == "relu" then return E.fn("step", y) end
  if name == "exp" then return y end
  if name == "rsqrt" then return E.mul(E.const(-0.5), E.mul(y, E.mul(y, y))) end
  if name == "recip" then return E.neg(E.mul(y, y)) end
  return nil
end

-- d e / d arg_i, symbolically.
function ir.derivative(e, i)
  local k = e[1]
  if k == "arg" then return e[2] == i and E.ONE or E.ZERO end
  if k == "const" then return E.ZERO end
  if k == "add" then return E.add(ir.derivative(e[2], i), ir.derivative(e[3], i)) end
  if k == "sub" then return E.sub(ir.derivative(e[2], i), ir.derivative(e[3], i)) end
  if k == "neg" then return E.neg(ir.derivative(e[2], i)) end
  if k == "mul" then
    return E.add(E.mul(ir.derivative(e[2], i), e[3]), E.mul(e[2], ir.derivative(e[3], i)))
  end
  if k == "max" then
    -- the larger one's derivative; at a tie, a's
    local ge = E.fn("ge0", E.sub(e[2], e[3]))
    return E.add(E.mul(ge, ir.derivative(e[2], i)), E.mul(E.sub(E.ONE, ge), ir.derivative(e[3], i)))
  end
  return E.mul(unary_derivative(k, e[2]), ir.derivative(e[2], i))
end

-- Like derivative, but when the root is a unary function its derivative is
-- written in terms of `value` (an expression for the op's own output).
function ir.derivative_using_value(e, i, value)
  local k = e[1]
  if unary_value[k] and value then
    local outer = unary_derivative_from_value(k, value)
    if outer then return E.mul(outer, ir.derivative(e[2], i)) end
  end
  return ir.derivative(e, i)
end

function ir.uses_arg(e, i)
  if e[1] == "arg" then return e[2] == i end
  if e[1] == "const" then return false end
  for j = 2, #e do
    if ir.uses_arg(e[j], i) then return true end
  end
  return false
end

-- Drops the args an expression no longer uses and renumbers the rest.
function ir.prune_args(expr, args)
  local map, kept = {}, {}
  for i, a in ipairs(args) do
    if ir.uses_arg(expr, i) then
      kept[#kept + 1] = a
      map[i] = E.arg(#kept)
    end
  end
  return ir.substitute(expr, map), kept
end

---------------------------------------------------------------- ops

function ir.op_reads(op)
  if op.op == "loop" then
    local all = {}
    for _, b in ipairs(op.body) do
      for _, v in ipairs(ir.op_reads(b)) do
        all[#all + 1] = v
      end
    end
    return all
  end
  if op.op == "matmul" then return { op.a, op.b } end
  if op.op == "map" then return op.args end
  if op.op == "softmax" then return { op.a } end
  if op.op == "softmax_grad" then return { op.dy, op.y } end
  return {}
end

-- The ops a program writes a buffer with: loop bodies included.
function ir.flatten(ops, out)
  out = out or {}
  for _, op in ipairs(ops) do
    if op.op == "loop" then
      ir.flatten(op.body, out)
    else
      out[#out + 1] = op
    end
  end
  return out
end

-- Scalar multiply-adds (or elements) an op costs: what --unroll compares against.
function ir.op_size(op)
  if op.op == "loop" then
    local body = 0
    for _, b in ipairs(op.body) do
      body = body + ir.op_size(b)
    end
    if type(op.first) ~= "number" or type(op.last) ~= "number" then return math.huge end
    return body * (op.last - op.first + 1)
  end
  if op.op == "matmul" then return op.out.dims[1] * op.out.dims[2] * op.a.dims[2] end
  return ir.count(op.out)
end

return ir
