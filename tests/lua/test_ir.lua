-- The IR: expressions and their symbolic derivatives, views, reverse-mode
-- autodiff and the simplifier, checked numerically with the interpreter of
-- tests/lua/irinterp.lua against central differences of the forward program.
local T = require("testlib")
local I = require("irinterp")
local ir = require("ir")
local elements = require("elements")
local autodiff = require("autodiff")
local simplify = require("simplify")
local dsl = require("dsl")
local pipeline = require("pipeline")

local E = ir.E
local tests = {}

local EPS = 1e-6

-- tanh, independent of ir.lua (math.tanh is gone from Lua 5.4 without compat)
local function tanh(x)
  if x > 20 then return 1 elseif x < -20 then return -1 end
  local e = math.exp(2 * x)
  return (e - 1) / (e + 1)
end

local function central(f, x, h)
  h = h or EPS
  return (f(x + h) - f(x - h)) / (2 * h)
end

-- Does the expression tree contain a node of kind `kind`?
local function has_node(e, kind)
  if e[1] == kind then return true end
  if e[1] == "arg" or e[1] == "const" then return false end
  for j = 2, #e do
    if has_node(e[j], kind) then return true end
  end
  return false
end

---------------------------------------------------------------- expressions

local a, b = E.arg(1), E.arg(2)
local POINTS = { { 0.3, -0.7 }, { -1.2, 0.4 }, { 0.9, 1.6 }, { -0.25, -2.1 }, { 2.5, 0.05 } }

-- name -> expression of arg 1 and arg 2
local EXPRESSIONS = {
  ["tanh(a+b)"] = E.fn("tanh", E.add(a, b)),
  ["sigmoid(a*b)"] = E.fn("sigmoid", E.mul(a, b)),
  ["relu(a-b)"] = E.fn("relu", E.sub(a, b)),
  ["a*b"] = E.mul(a, b),
  ["a-b"] = E.sub(a, b),
  ["-(a)*b"] = E.mul(E.neg(a), b),
  ["exp(a*b)"] = E.fn("exp", E.mul(a, b)),
  ["exp(-a)"] = E.fn("exp", E.neg(a)),
  ["tanh(sigmoid(a)*exp(b))"] = E.fn("tanh", E.mul(E.fn("sigmoid", a), E.fn("exp", b))),
  ["a*a*b - 2"] = E.sub(E.mul(E.mul(a, a), b), E.const(2)),
  ["sigmoid(a)*(1-sigmoid(b))"] = E.mul(E.fn("sigmoid", a), E.sub(E.ONE, E.fn("sigmoid", b))),
  ["relu(a)+relu(-b)"] = E.add(E.fn("relu", a), E.fn("relu", E.neg(b))),
}

local function eval2(e, x, y)
  return I.eval(e, { x, y })
end

tests["symbolic derivatives match central differences"] = function()
  for name, e in pairs(EXPRESSIONS) do
    local da, db = ir.derivative(e, 1), ir.derivative(e, 2)
    for _, p in ipairs(POINTS) do
      local x, y = p[1], p[2]
      local fa = central(function(t)
        return eval2(e, t, y)
      end, x)
      local fb = central(function(t)
        return eval2(e, x, t)
      end, y)
      local what = string.format("d %s at (%g, %g)", name, x, y)
      T.near(eval2(da, x, y), fa, 1e-7, what .. " / da")
      T.near(eval2(db, x, y), fb, 1e-7, what .. " / db")
    end
  end
end

tests["derivative wrt an arg the expression does not use is the constant 0"] = function()
  T.eq(ir.derivative(E.fn("tanh", E.add(a, E.const(1))), 2), E.ZERO)
  T.eq(ir.derivative(E.mul(E.fn("exp", a), E.fn("sigmoid", a)), 3), E.ZERO)
  T.eq(ir.derivative(E.fn("step", a), 1), E.ZERO, "step is flat")
end

tests["derivative_using_value writes the outer derivative through the value"] = function()
  local y = E.arg(3) -- stands for the op's own output
  for _, fn in ipairs({ "tanh", "sigmoid", "relu", "exp" }) do
    local inner = E.add(E.mul(a, E.const(0.5)), b)
    local e = E.fn(fn, inner)
    for i = 1, 2 do
      local d = ir.derivative_using_value(e, i, y)
      T.truthy(ir.uses_arg(d, 3), fn .. ": the derivative uses the value")
      T.truthy(not has_node(d, fn), fn .. ": the derivative does not recompute " .. fn)
      for _, p in ipairs(POINTS) do
        local x, z = p[1], p[2]
        if fn ~= "relu" or math.abs(0.5 * x + z) > 1e-3 then
          local value = eval2(e, x, z)
          local expected = central(function(t)
            local args = { x, z }
            args[i] = t
            return I.eval(e, args)
          end, p[i])
          T.near(I.eval(d, { x, z, value }), expected, 1e-7, string.format("%s d/darg%d at (%g, %g)", fn, i, x, z))
        end
      end
    end
  end
  -- a root that is not a unary function ignores the value
  local e = E.add(E.fn("tanh", a), b)
  local d = ir.derivative_using_value(e, 1, y)
  T.truthy(not ir.uses_arg(d, 3), "add at the root: no use of the value")
  T.near(I.eval(d, { 0.4, 9, 123 }), 1 - tanh(0.4) ^ 2, 1e-15, "d tanh(a)+b")
  -- without a value it is the plain derivative
  T.eq(ir.derivative_using_value(E.fn("tanh", a), 1, nil), ir.derivative(E.fn("tanh", a), 1))
end

tests["constant folding in E.add, E.mul, E.sub, E.neg, E.fn"] = function()
  local x = E.fn("tanh", a)
  T.eq(E.add(E.const(2), E.const(3)), E.const(5), "2 + 3")
  T.truthy(E.add(E.ZERO, x) == x, "0 + x is x itself")
  T.truthy(E.add(x, E.ZERO) == x, "x + 0 is x itself")
  T.eq(E.add(x, E.ONE), { "add", x, E.ONE }, "x + 1 stays")
  T.eq(E.mul(E.const(2), E.const(3)), E.const(6), "2 * 3")
  T.eq(E.mul(x, E.ZERO), E.ZERO, "x * 0")
  T.eq(E.mul(E.ZERO, x), E.ZERO, "0 * x")
  T.truthy(E.mul(E.ONE, x) == x, "1 * x is x")
  T.truthy(E.mul(x, E.ONE) == x, "x * 1 is x")
  T.eq(E.mul(x, E.const(2)), { "mul", x, E.const(2) }, "x * 2 stays")
  T.truthy(E.sub(x, E.ZERO) == x, "x - 0")
  T.eq(E.sub(E.ZERO, x), { "neg", x }, "0 - x")
  T.eq(E.sub(E.const(5), E.const(7)), E.const(-2), "5 - 7")
  T.eq(E.neg(E.const(2)), E.const(-2), "-(2)")
  T.truthy(E.neg(E.neg(x)) == x, "--x")
  T.eq(E.fn("tanh", E.ZERO), E.ZERO, "tanh(0)")
  T.eq(E.fn("sigmoid", E.ZERO), E.const(0.5), "sigmoid(0)")
  T.eq(E.fn("relu", E.const(-3)), E.ZERO, "relu(-3)")
  T.eq(E.fn("exp", E.ZERO), E.ONE, "exp(0)")
  -- folding composes: (0 * a) + (1 * b) is b
  T.truthy(E.add(E.mul(E.ZERO, a), E.mul(E.ONE, b)) == b, "0*a + 1*b")
  T.raises(function()
    return E.fn("cosh", a)
  end, "unknown function cosh", true)
  -- activations
  T.truthy(ir.activation("linear", a) == a, "linear")
  T.eq(ir.activation("relu", a), { "relu", a }, "relu")
  T.raises(function()
    return ir.activation("softmax", a)
  end, "not an elementwise map", true)
end

tests["substitute replaces args simultaneously and folds"] = function()
  local e = E.add(E.mul(a, b), E.fn("tanh", a))
  T.eq(ir.substitute(e, { [1] = b, [2] = a }), E.add(E.mul(b, a), E.fn("tanh", b)), "swap")
  T.eq(ir.substitute(e, { [1] = E.ZERO }), E.ZERO, "a = 0 folds everything")
  T.eq(ir.substitute(e, { [2] = E.ZERO }), E.fn("tanh", a), "b = 0 drops the product")
end

tests["prune_args drops unused args and renumbers the rest"] = function()
  local A, B, C, D = { "A" }, { "B" }, { "C" }, { "D" }
  local e = E.add(E.arg(1), E.mul(E.arg(3), E.fn("exp", E.arg(4))))
  local pruned, kept = ir.prune_args(e, { A, B, C, D })
  T.eq(#kept, 3, "kept")
  T.truthy(kept[1] == A and kept[2] == C and kept[3] == D, "the kept args, in order")
  T.eq(pruned, E.add(E.arg(1), E.mul(E.arg(2), E.fn("exp", E.arg(3)))), "renumbered")
  T.near(I.eval(pruned, { 0.5, 2, -1 }), I.eval(e, { 0.5, 99, 2, -1 }), 0, "same value")
  local c, none = ir.prune_args(E.const(3), { A, B })
  T.eq({ c, #none }, { E.const(3), 0 }, "constant: no args")
  local same, all = ir.prune_args(E.mul(E.arg(1), E.arg(2)), { A, B })
  T.eq(same, E.mul(E.arg(1), E.arg(2)), "nothing to prune")
  T.eq(#all, 2, "nothing pruned")
end

---------------------------------------------------------------- views

local function indices(v)
  local r = {}
  elements.each_index(v, function(i)
    r[#r + 1] = i
  end)
  return r
end

tests["views: row, rows, cols, transpose, broadcast_rows, on, distinct"] = function()
  local prog = ir.new_program()
  local v = ir.buffer(prog, "m", "act", 3, 4)
  T.eq({ v.off, v.dims, v.strides }, { 0, { 3, 4 }, { 4, 1 } }, "full view")
  T.eq(indices(v), { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, "full")
  T.eq(indices(ir.row(v, 1)), { 4, 5, 6, 7 }, "row 1")
  T.eq(ir.row(v, 2).dims, { 1, 4 }, "row dims")
  T.eq(indices(ir.rows(v, 1, 2)), { 4, 5, 6, 7, 8, 9, 10, 11 }, "rows 1..2")
  T.eq(indices(ir.cols(v, 1, 2)), { 1, 2, 5, 6, 9, 10 }, "cols 1..2")
  T.eq(indices(ir.row(ir.cols(v, 1, 2), 2)), { 9, 10 }, "row 2 of cols 1..2")
  local t = ir.transpose(v)
  T.eq(t.dims, { 4, 3 }, "transpose dims")
  T.eq(indices(t), { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, "transpose")
  T.eq(indices(ir.row(t, 1)), { 1, 5, 9 }, "row 1 of the transpose is column 1")
  T.eq(indices(ir.cols(ir.transpose(ir.cols(v, 2, 2)), 1, 2)), { 6, 10, 7, 11 }, "cols of a transposed block")
  local bc = ir.broadcast_rows(ir.row(v, 1), 3)
  T.eq(bc.dims, { 3, 4 }, "broadcast dims")
  T.eq(bc.strides[1], 0, "broadcast stride")
  T.eq(indices(bc), { 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7 }, "broadcast")
  local region = require("region")
  for _, distinct in ipairs({ elements.distinct, region.distinct }) do
    T.truthy(distinct(v) and distinct(t) and distinct(ir.cols(v, 1, 2)), "plain views are distinct")
    T.truthy(not distinct(bc), "a broadcast is not distinct")
    T.truthy(distinct(ir.broadcast_rows(ir.row(v, 0), 1)), "a broadcast over one row is distinct")
  end
  local g = ir.buffer(prog, "g", "tmp", 3, 4).buf
  local on = ir.on(g, ir.cols(v, 1, 2))
  T.truthy(on.buf == g, "on: the other buffer")
  T.eq(indices(on), { 1, 2, 5, 6, 9, 10 }, "on: the same region")
  T.eq(ir.count(ir.cols(v, 1, 2)), 6, "count")
  T.raises(function()
    return ir.row(v, 3)
  end, "row out of range", true)
  T.raises(function()
    return ir.cols(v, 3, 2)
  end, "cols out of range", true)
  T.raises(function()
    return ir.broadcast_rows(v, 2)
  end, "broadcast_rows needs a row vector", true)
  T.raises(function()
    return ir.buffer(prog, "m", "act", 1, 1)
  end, "duplicate buffer m", true)
end

tests["op_reads and op_size"] = function()
  local prog = ir.new_program()
  local x = ir.buffer(prog, "x", "act", 2, 3)
  local w = ir.buffer(prog, "w", "param", 3, 4)
  local z = ir.buffer(prog, "z", "act", 2, 4)
  local mm = { op = "matmul", out = z, a = x, b = w, acc = false }
  T.eq(ir.op_size(mm), 24, "matmul size m*n*k")
  T.truthy(ir.op_reads(mm)[1] == x and ir.op_reads(mm)[2] == w, "matmul reads")
  local map = { op = "map", out = z, args = { z, z }, expr = E.mul(a, b) }
  T.eq(ir.op_size(map), 8, "map size")
  T.eq(#ir.op_reads(map), 2, "map reads")
  T.eq(#ir.op_reads({ op = "fill", out = z, value = 0 }), 0, "fill reads nothing")
end

---------------------------------------------------------------- gradient checks

-- Random values for every param and input buffer and for `extra` buffers.
local function random_values(prog, rnd, extra)
  local values = {}
  for _, buf in ipairs(prog.buffers) do
    if buf.kind == "param" or buf.kind == "input" or (extra and extra[buf.name]) then
      values[buf.name] = I.random_array(rnd, buf.size, -1, 1)
    end
  end
  return values
end

local function copy_values(values)
  local r = {}
  for k, v in pairs(values) do
    local arr = {}
    for i, x in pairs(v) do
      arr[i] = x
    end
    r[k] = arr
  end
  return r
end

-- L = the sum over the seeds of sum(seed .* seed_grad) after running
-- `forward` on `values`.
local function objective(c, values)
  local mem = I.run(I.memory(c.prog, values), c.forward)
  local total = 0
  for _, seed in ipairs(c.seeds) do
    local s, g = I.read(mem, seed.view), I.read(mem, seed.grad)
    for i, v in ipairs(s) do
      total = total + v * g[i]
    end
  end
  return total
end

-- The gradients `backward` computes: grads[buffer name] = list.
local function analytic(c, values)
  local mem = I.run(I.memory(c.prog, values), c.forward)
  I.run(mem, c.backward)
  local grads = {}
  for _, w in ipairs(c.wrt) do
    grads[w.buf.name] = I.read(mem, ir.full(w.grad))
  end
  return grads
end

-- Compares `backward` with central differences of the forward program for
-- every element of every wrt buffer. c: prog, forward, backward, seeds =
-- { {view=, grad=} }, wrt = { {buf=, grad=} }. Returns the analytic gradients.
local function check_gradients(c, values, what, tol)
  tol = tol or 1e-6
  local grads = analytic(c, values)
  for _, w in ipairs(c.wrt) do
    local g = grads[w.buf.name]
    for i = 0, w.buf.size - 1 do
      local v = copy_values(values)
      local arr = v[w.buf.name]
      assert(arr, "no value for " .. w.buf.name)
      local x0 = arr[i]
      local fd = central(function(t)
        arr[i] = t
        return objective(c, v)
      end, x0, 1e-5)
      local got = g[i + 1]
      if got ~= got then
        T.fail(string.format("%s: d/d%s[%d] is NaN (the backward read memory nothing wrote)", what, w.buf.name, i))
      end
      T.near(got, fd, tol * math.max(1, math.abs(fd)), string.format("%s: d/d%s[%d]", what, w.buf.name, i))
    end
  end
  return grads
end

-- A hand-built program: params and the input x are differentiated; y is the
-- output whose gradient dy is given.
local function hand_program(build)
  local prog = ir.new_program()
  local ops = {}
  local p = {
    prog = prog,
    act = function(name, r, c)
      return ir.buffer(prog, name, "act", r, c)
    end,
    param = function(name, r, c)
      return ir.buffer(prog, name, "param", r, c)
    end,
    op = function(op)
      op.acc = op.acc or false
      ops[#ops + 1] = op
    end,
  }
  local x, y = build(p)
  local wrt, grad_of, list = { x.buf }, {}, {}
  for _, buf in ipairs(prog.buffers) do
    if buf.kind == "param" then
      wrt[#wrt + 1] = buf
    end
  end
  for _, buf in ipairs(wrt) do
    local kind = buf.kind == "param" and "pgrad" or "output"
    local g = ir.buffer(prog, "g:" .. buf.name, kind, buf.rows, buf.cols).buf
    grad_of[buf] = g
    list[#list + 1] = { buf = buf, grad = g }
  end
  local dy = ir.buffer(prog, "dy", "input", y.dims[1], y.dims[2])
  local seeds = { { view = y, grad = dy } }
  local raw = autodiff.backward(prog, ops, seeds, wrt, grad_of)
  local c = { prog = prog, forward = ops, backward = raw, seeds = seeds, seed = y, wrt = list, x = x }
  c.simplified = {
    prog = prog,
    forward = simplify.run(prog, ops),
    backward = simplify.run(prog, raw),
    seeds = seeds,
    seed = y,
    wrt = list,
  }
  return c
end

-- Checks raw and simplified programs against finite differences and each other.
local function check_hand(c, rnd, what)
  local values = random_values(c.prog, rnd, { [c.x.buf.name] = true })
  local raw = check_gradients(c, values, what .. " (raw)")
  local simple = check_gradients(c.simplified, values, what .. " (simplified)")
  for name, g in pairs(raw) do
    for i, v in ipairs(g) do
      T.near(simple[name][i], v, 1e-12, what .. ": simplified vs raw d/d" .. name)
    end
  end
  local y1 = I.read(I.run(I.memory(c.prog, values), c.forward), c.seed)
  local y2 = I.read(I.run(I.memory(c.prog, values), c.simplified.forward), c.seed)
  T.eq(y2, y1, what .. ": simplified forward")
  return values
end

tests["autodiff: a matmul chain, with a transposed weight"] = function()
  local c = hand_program(function(p)
    local x = p.act("x", 2, 3)
    local w1 = p.param("w1", 3, 4)
    local w2t = p.param("w2t", 2, 4) -- used transposed
    local h = p.act("h", 2, 4)
    local y = ir.buffer(p.prog, "y", "output", 2, 2)
    p.op({ op = "matmul", out = h, a = x, b = w1 })
    p.op({ op = "matmul", out = y, a = h, b = ir.transpose(w2t) })
    return x, y
  end)
  check_hand(c, T.rng(1), "matmul chain")
  T.eq(I.count_ops(c.backward, "matmul"), 4, "raw backward: two adjoints per matmul")
end

tests["autodiff: a map with a broadcast bias accumulates over rows"] = function()
  local c = hand_program(function(p)
    local x = p.act("x", 3, 4)
    local bias = p.param("b", 1, 4)
    local y = ir.buffer(p.prog, "y", "output", 3, 4)
    p.op({ op = "map", out = y, args = { x, ir.broadcast_rows(bias, 3) }, expr = E.fn("tanh", E.add(a, b)) })
    return x, y
  end)
  local values = check_hand(c, T.rng(2), "broadcast bias")
  -- the bias gradient is the column sum of dy * (1 - y^2)
  local g = analytic(c.simplified, values)["b"]
  for col = 0, 3 do
    local s = 0
    for r = 0, 2 do
      local y = tanh(values.x[r * 4 + col] + values.b[col])
      s = s + values.dy[r * 4 + col] * (1 - y * y)
    end
    T.near(g[col + 1], s, 1e-12, "column sum " .. col)
  end
end

tests["autodiff: a broadcast input keeps the zeroing of its gradient"] = function()
  -- dx is an output the backward must build from zero, summing three rows:
  -- turning the first accumulation into an assignment would be wrong.
  local c = hand_program(function(p)
    local x = p.act("x", 1, 4)
    local w = p.param("w", 3, 4)
    local y = ir.buffer(p.prog, "y", "output", 3, 4)
    p.op({ op = "map", out = y, args = { ir.broadcast_rows(x, 3), w }, expr = E.fn("sigmoid", E.mul(a, b)) })
    return x, y
  end)
  check_hand(c, T.rng(3), "broadcast input")
  T.truthy(I.count_ops(c.simplified.backward, "fill") >= 1, "the fill of dx stays")
end

tests["autodiff: softmax"] = function()
  local c = hand_program(function(p)
    local x = p.act("x", 2, 3)
    local w = p.param("w", 3, 4)
    local z = p.act("z", 2, 4)
    local s = p.act("s", 2, 4)
    local y = ir.buffer(p.prog, "y", "output", 2, 4)
    p.op({ op = "matmul", out = z, a = x, b = w })
    p.op({ op = "softmax", out = s, a = z })
    p.op({ op = "map", out = y, args = { s }, expr = E.mul(a, a) })
    return x, y
  end)
  check_hand(c, T.rng(4), "softmax")
  T.eq(I.count_ops(c.simplified.backward, "softmax_grad"), 1, "one softmax_grad")
end

tests["autodiff: an accumulating matmul and gate blocks (cols views)"] = function()
  local c = hand_program(function(p)
    local x = p.act("x", 2, 3)
    local w = p.param("w", 3, 4)
    local h = p.param("h", 2, 5)
    local r = p.param("r", 5, 4)
    local z = p.act("z", 2, 4)
    local y = ir.buffer(p.prog, "y", "output", 2, 2)
    p.op({ op = "matmul", out = z, a = x, b = w })
    p.op({ op = "matmul", out = z, a = h, b = r, acc = true })
    -- an LSTM-like product of two gate blocks
    p.op({ op = "map", out = y, args = { ir.cols(z, 0, 2), ir.cols(z, 2, 2) },
      expr = E.mul(E.fn("sigmoid", a), E.fn("tanh", b)) })
    return x, y
  end)
  check_hand(c, T.rng(5), "accumulating matmul")
end

tests["autodiff: sub, neg, exp, relu and a two-output chain of maps"] = function()
  local c = hand_program(function(p)
    local x = p.act("x", 2, 3)
    local w = p.param("w", 2, 3)
    local u = p.act("u", 2, 3)
    local y = ir.buffer(p.prog, "y", "output", 2, 3)
    p.op({ op = "map", out = u, args = { x, w }, expr = E.sub(E.fn("exp", E.neg(a)), E.mul(a, b)) })
    p.op({ op = "map", out = y, args = { u, x }, expr = E.add(E.fn("relu", a), E.mul(a, b)) })
    return x, y
  end)
  check_hand(c, T.rng(6), "maps")
end

---------------------------------------------------------------- simplify on hand programs

tests["simplify: fills that are fully overwritten disappear"] = function()
  local c = hand_program(function(p)
    local x = p.act("x", 2, 3)
    local w1 = p.param("w1", 3, 4)
    local w2 = p.param("w2", 4, 2)
    local h = p.act("h", 2, 4)
    local y = ir.buffer(p.prog, "y", "output", 2, 2)
    p.op({ op = "matmul", out = h, a = x, b = w1 })
    p.op({ op = "matmul", out = y, a = h, b = w2 })
    return x, y
  end)
  T.truthy(I.count_ops(c.backward, "fill") >= 2, "the raw backward zeroes dh and dx")
  T.eq(I.count_ops(c.simplified.backward, "fill"), 0, "fills left after simplification")
  for _, op in ipairs(c.simplified.backward) do
    if op.out.buf.kind ~= "pgrad" then
      T.truthy(not op.acc, "a first write to " .. op.out.buf.name .. " is an assignment")
    end
  end
  check_hand(c, T.rng(7), "fills")
end

tests["simplify: a fill that is only partly overwritten stays"] = function()
  -- y uses two of h's four columns: dh's other columns must read as zero
  local c = hand_program(function(p)
    local x = p.act("x", 1, 3)
    local w = p.param("w", 3, 4)
    local h = p.act("h", 1, 4)
    local y = ir.buffer(p.prog, "y", "output", 1, 2)
    p.op({ op = "matmul", out = h, a = x, b = w })
    p.op({ op = "map", out = y, args = { ir.cols(h, 1, 2) }, expr = E.fn("tanh", a) })
    return x, y
  end)
  T.truthy(I.count_ops(c.simplified.backward, "fill") >= 1, "the fill of dh stays")
  local values = check_hand(c, T.rng(8), "partial fill")
  local gw = analytic(c.simplified, values)["w"]
  for row = 0, 2 do
    T.eq({ gw[row * 4 + 1], gw[row * 4 + 4] }, { 0, 0 }, "no gradient for unused columns")
  end
end

tests["simplify: zero operands remove products and terms"] = function()
  local prog = ir.new_program()
  local x = ir.buffer(prog, "x", "act", 1, 3)
  local w = ir.buffer(prog, "w", "param", 3, 2)
  local h0 = ir.buffer(prog, "h0", "zero", 1, 3)
  local z = ir.buffer(prog, "z", "act", 1, 2)
  local y = ir.buffer(prog, "y", "output", 1, 2)
  local ops = {
    { op = "matmul", out = z, a = x, b = w, acc = false },
    { op = "matmul", out = z, a = h0, b = w, acc = true },
    { op = "map", out = y, args = { z, ir.cols(h0, 0, 2) }, expr = E.fn("tanh", E.add(a, b)), acc = false },
  }
  local s = simplify.run(prog, ops)
  T.eq(#s, 2, "ops left")
  T.eq({ s[1].op, s[2].op }, { "matmul", "map" }, "kinds")
  T.truthy(s[1].a == x, "the product with x stays")
  T.eq(s[2].expr, E.fn("tanh", E.arg(1)), "the zero term is gone")
  T.eq(#s[2].args, 1, "the zero arg is gone")
  -- an assigning product of zeros becomes a fill, and a map of zeros too
  local q = ir.buffer(prog, "q", "output", 1, 2)
  local s2 = simplify.run(prog, { { op = "matmul", out = q, a = h0, b = w, acc = false } })
  T.eq(#s2, 1, "one op")
  T.eq({ s2[1].op, s2[1].value }, { "fill", 0 }, "a zero product is a fill")
  -- the simplified program computes the same
  local rnd = T.rng(9)
  local values = random_values(prog, rnd, { x = true })
  T.eq(I.read(I.run(I.memory(prog, values), s), y), I.read(I.run(I.memory(prog, values), ops), y), "same y")
end

tests["simplify: ops whose results nobody reads disappear"] = function()
  local prog = ir.new_program()
  local x = ir.buffer(prog, "x", "act", 1, 3)
  local t1 = ir.buffer(prog, "t1", "tmp", 1, 3)
  local t2 = ir.buffer(prog, "t2", "tmp", 1, 3)
  local y = ir.buffer(prog, "y", "output", 1, 3)
  local ops = {
    { op = "map", out = t1, args = { x }, expr = E.fn("exp", a), acc = false },
    { op = "map", out = t2, args = { x }, expr = E.fn("tanh", a), acc = false }, -- never read
    { op = "map", out = y, args = { t1 }, expr = E.neg(a), acc = false },
  }
  local s = simplify.run(prog, ops)
  T.eq(#s, 2, "ops left")
  T.truthy(s[1].out == t1 and s[2].out == y, "the dead map of t2 is gone")
end

---------------------------------------------------------------- real models, lowered

-- The unit's programs as gradient-check cases.
local function unit_cases(unit)
  local prog = unit.prog
  local wrt_list, wrt, grad_of = {}, { unit.x.buf }, { [unit.x.buf] = unit.dx.buf }
  wrt_list[1] = { buf = unit.x.buf, grad = unit.dx.buf }
  for _, buf in ipairs(prog.buffers) do
    if buf.kind == "pgrad" then
      local p = prog.by_name[buf.param.name]
      wrt[#wrt + 1] = p
      grad_of[p] = buf
      wrt_list[#wrt_list + 1] = { buf = p, grad = buf }
    end
  end
  local y_seeds = { { view = unit.y, grad = unit.dy } }
  local cases = {
    backward = { prog = prog, forward = unit.forward, backward = unit.backward, seeds = y_seeds, wrt = wrt_list },
  }
  if unit.backward_loss then
    local seeds = {}
    for i, s in ipairs(unit.loss_seeds) do
      local d = unit.interface.outputs[s.output]
      seeds[i] = { view = s.view, grad = #unit.interface.outputs == 1 and unit.dloss
        or ir.view(unit.dloss.buf, d.offset, d.rows, d.cols, d.cols, 1) }
    end
    cases.backward_loss = { prog = prog, forward = unit.forward, backward = unit.backward_loss, seeds = seeds,
      wrt = wrt_list, fused = unit.interface.training.loss.fused }
  end
  -- the same, without any simplification
  cases.raw = { prog = prog, forward = unit.raw_forward, backward = autodiff.backward(prog, unit.raw_forward, y_seeds,
    wrt, grad_of), seeds = y_seeds, wrt = wrt_list }
  return cases
end

local function lowered(src_or_path)
  local path = src_or_path:find("\n") and T.tmpfile(src_or_path) or src_or_path
  local model = dsl.load(path)
  local stages = pipeline.stages(model, {})
  local unit = stages.layout
  -- the forward program as the layers emitted it, before any simplification
  unit.raw_forward = stages.built.forward
  return unit, model
end

local function values_for(unit, rnd)
  local values = random_values(unit.prog, rnd, { [unit.x.buf.name] = true })
  -- a variance is positive
  for name, vals in pairs(values) do
    if name:match("/moving_variance$") then
      for i = 0, #vals do
        vals[i] = math.abs(vals[i]) + 0.1
      end
    end
  end
  return values
end

local MODELS = {
  tagger = T.path("examples/tagger.lua"),
  seed04 = T.path("examples/seeds/seed04.lua"),
  ["backwards relu rnn, no bias, then dense layers"] = [[
local model = Sequential {
  SimpleRNN { 3, input_shape = { 4, 2 }, activation = "relu", use_bias = false, go_backwards = true },
  Dense { 3, activation = "sigmoid" },
  Dense { 2 },
}
model:compile { loss = "mse", optimizer = "sgd" }
return model
]],
  ["stacked rnns, softmax without bias"] = [[
local model = Sequential {
  SimpleRNN { 3, input_shape = { 3, 2 }, return_sequences = true, activation = "sigmoid" },
  SimpleRNN { 2, return_sequences = true, go_backwards = true },
  Dense { 3, activation = "softmax", use_bias = false },
}
model:compile { loss = "sparse_categorical_crossentropy", optimizer = "adam" }
return model
]],
  ["dense only, 2-D input"] = [[
return Sequential {
  Dense { 4, input_shape = { 3 }, activation = "tanh" },
  Dense { 2, activation = "relu" },
}
]],
}

-- Models of layers that gain code generation over time: checked once their
-- class has an emit function.
local LATER_MODELS = {
  { { "LSTM" }, "lstm then softmax", [[
local model = Sequential {
  LSTM { 3, input_shape = { 3, 4 }, return_sequences = true },
  Dense { 3, activation = "softmax" },
}
model:compile { loss = "sparse_categorical_crossentropy", optimizer = "adam" }
return model
]] },
  { { "LSTM" }, "backwards lstm, hard_sigmoid, relu", [[
return Sequential {
  LSTM { 4, input_shape = { 3, 2 }, go_backwards = true, recurrent_activation = "hard_sigmoid",
         activation = "relu" },
  Dense { 1 },
}
]] },
  { { "LSTM" }, "lstm, hard_sigmoid_keras2, gelu", [[
return Sequential {
  LSTM { 3, input_shape = { 3, 2 }, recurrent_activation = "hard_sigmoid_keras2", activation = "gelu" },
  Dense { 2, activation = "selu" },
}
]] },
  { { "GRU" }, "gru, smooth activations", [[
return Sequential {
  GRU { 3, input_shape = { 3, 2 }, return_sequences = true, activation = "softsign",
        recurrent_activation = "hard_sigmoid" },
  Dense { 4, activation = "mish" },
  Dense { 4, activation = "swish" },
  Dense { 3, activation = "log_softmax" },
}
]] },
  { { "SimpleRNN" }, "every elementwise activation in a dense stack", [[
return Sequential {
  SimpleRNN { 4, input_shape = { 2, 3 }, activation = "elu", return_sequences = true },
  Dense { 4, activation = "gelu_approximate" },
  Dense { 4, activation = "softplus" },
  Dense { 4, activation = "exponential" },
  Dense { 4, activation = "leaky_relu" },
  Dense { 4, activation = "relu6" },
  Dense { 4, activation = "hard_silu" },
  Dense { 4, activation = "hard_swish" },
  Dense { 4, activation = "silu" },
  Dense { 2, activation = "tanh" },
}
]] },
  { { "GRU" }, "gru reset_after", [[
return Sequential {
  GRU { 3, input_shape = { 3, 2 }, return_sequences = true },
  GRU { 2 },
}
]] },
  { { "GRU" }, "gru reset_before, no bias", [[
return Sequential {
  GRU { 3, input_shape = { 4, 2 }, reset_after = false, return_sequences = true },
  GRU { 2, reset_after = false, use_bias = false, activation = "sigmoid" },
}
]] },
  { { "Bidirectional", "SimpleRNN" }, "bidirectional rnn, concat", [[
return Sequential {
  Bidirectional { SimpleRNN { 2, return_sequences = true }, input_shape = { 3, 2 } },
  Dense { 2 },
}
]] },
  { { "Bidirectional", "LSTM" }, "bidirectional lstm, sum", [[
return Sequential {
  Bidirectional { LSTM { 2 }, merge_mode = "sum", input_shape = { 3, 2 } },
}
]] },
  -- the convolutional front ends, pooling, shape and normalisation layers
  { { "Conv1D", "MaxPooling1D" }, "conv1d causal dilated relu, same groups, max pooling", [[
return Sequential {
  Conv1D { 3, 2, padding = "causal", dilation_rate = 2, activation = "tanh", input_shape = { 6, 2 } },
  Conv1D { 6, 3, padding = "same", groups = 3, strides = 2, use_bias = false },
  MaxPooling1D { 2, strides = 1, padding = "same" },
}
]] },
  { { "Conv1D", "Flatten" }, "conv1d valid strided, flatten, softmax", [[
local model = Sequential {
  Conv1D { 2, 3, strides = 2, activation = "sigmoid", input_shape = { 7, 2 } },
  Flatten {},
  Dense { 3, activation = "softmax" },
}
model:compile { loss = "sparse_categorical_crossentropy", optimizer = "adam" }
return model
]] },
  { { "DepthwiseConv1D", "SeparableConv1D", "AveragePooling1D" }, "depthwise, separable, average pooling", [[
return Sequential {
  DepthwiseConv1D { 2, depth_multiplier = 2, padding = "same", input_shape = { 5, 2 } },
  SeparableConv1D { 2, 3, padding = "causal", activation = "tanh" },
  AveragePooling1D { 3, strides = 2, padding = "same" },
}
]] },
  { { "GlobalMaxPooling1D", "RepeatVector", "LSTM" }, "global max pooling, repeat vector, lstm", [[
return Sequential {
  GlobalMaxPooling1D { input_shape = { 4, 3 } },
  RepeatVector { 3 },
  LSTM { 2, return_sequences = true },
}
]] },
  { { "ZeroPadding1D", "Cropping1D", "UpSampling1D", "Permute", "Reshape", "GlobalAveragePooling1D" },
    "padding, cropping, upsampling, permute, reshape, global average", [[
return Sequential {
  ZeroPadding1D { { 1, 2 }, input_shape = { 3, 2 } },
  Cropping1D { { 2, 0 } },
  UpSampling1D { 2 },
  Permute { { 2, 1 } },
  Reshape { { 4, -1 } },
  GlobalAveragePooling1D {},
  Dense { 2 },
}
]] },
  { { "LayerNormalization", "BatchNormalization" }, "layer and batch normalisation (inference)", [[
return Sequential {
  LayerNormalization { input_shape = { 3, 4 } },
  LayerNormalization { rms_scaling = true, epsilon = 0.1 },
  BatchNormalization { epsilon = 0.01 },
  LayerNormalization { center = false },
  BatchNormalization { scale = false },
  Dense { 2 },
}
]] },
}

-- The models whose layers all generate code today, by name.
local function all_models()
  local models = {}
  for name, m in pairs(MODELS) do
    models[name] = m
  end
  for _, entry in ipairs(LATER_MODELS) do
    local ready = true
    for _, class in ipairs(entry[1]) do
      if not dsl.layer_modules[class].emit then ready = false end
    end
    if ready then models[entry[2]] = entry[3] end
  end
  return models
end

tests["lowered models compute Keras's forward pass"] = function()
  local reference = require("reference")
  local models = all_models()
  local names = {}
  for name in pairs(models) do
    names[#names + 1] = name
  end
  table.sort(names)
  for k, name in ipairs(names) do
    local unit, model = lowered(models[name])
    local values = values_for(unit, T.rng(300 + k))
    local y = I.read(I.run(I.memory(unit.prog, values), unit.forward), unit.y)
    local x = values[unit.x.buf.name]
    local expected = reference.forward(model, values, x, unit.x.buf.rows, unit.x.buf.cols)
    T.eq(#y, #expected, name .. ": output size")
    for i, v in ipairs(expected) do
      T.near(y[i], v, 1e-12, name .. ": y[" .. i .. "]")
    end
  end
end

tests["lowered models: backward and backward_loss match finite differences"] = function()
  local models = all_models()
  local names = {}
  for name in pairs(models) do
    names[#names + 1] = name
  end
  table.sort(names)
  local seen_logits = 0
  for k, name in ipairs(names) do
    local unit = lowered(models[name])
    local cases = unit_cases(unit)
    local values = values_for(unit, T.rng(100 + k))
    local g = check_gradients(cases.backward, values, name .. " backward")
    local graw = check_gradients(cases.raw, values, name .. " unsimplified")
    for buf, list in pairs(g) do
      for i, v in ipairs(list) do
        T.near(v, graw[buf][i], 1e-12, name .. ": simplified vs unsimplified d/d" .. buf)
      end
    end
    if cases.backward_loss then
      if cases.backward_loss.fused then seen_logits = seen_logits + 1 end
      check_gradients(cases.backward_loss, values, name .. " backward_loss")
    end
  end
  T.truthy(seen_logits >= 2, "models with a fused softmax + crossentropy")
end

tests["lowered tagger: the forward computes Keras's SimpleRNN and softmax"] = function()
  local unit = lowered(T.path("examples/tagger.lua"))
  local values = values_for(unit, T.rng(7))
  local y = I.read(I.run(I.memory(unit.prog, values), unit.forward), unit.y)
  -- by hand: h_t = tanh(x_t K + h_{t-1} R + b), p_t = softmax(h_t D + c)
  local function w(name)
    return values[name]
  end
  local K, R, bias = w("simple_rnn/kernel"), w("simple_rnn/recurrent_kernel"), w("simple_rnn/bias")
  local D, c = w("time_distributed/dense/kernel"), w("time_distributed/dense/bias")
  T.truthy(K and R and bias and D and c, "Keras weight names")
  local x = values[unit.x.buf.name]
  local h = { 0, 0, 0 }
  local expected = {}
  for t = 0, 2 do
    local nh = {}
    for j = 0, 2 do
      local s = bias[j]
      for i = 0, 2 do
        s = s + x[t * 3 + i] * K[i * 3 + j] + h[i + 1] * R[i * 3 + j]
      end
      nh[j + 1] = tanh(s)
    end
    h = nh
    local z, total = {}, 0
    for j = 0, 2 do
      local s = c[j]
      for i = 0, 2 do
        s = s + h[i + 1] * D[i * 3 + j]
      end
      z[j + 1] = math.exp(s)
      total = total + z[j + 1]
    end
    for j = 1, 3 do
      expected[#expected + 1] = z[j] / total
    end
  end
  for i, v in ipairs(expected) do
    T.near(y[i], v, 1e-12, "y[" .. i .. "]")
  end
end

-- Keras: with return_state, the returned h is the last row of the sequence
-- output (seed-models.md); an LSTM also returns its c.
tests["return_state: the state equals the last step of the sequence"] = function()
  for _, layer in ipairs({ "SimpleRNN", "LSTM", "GRU", "GRU", "LSTM" }) do
    for _, backwards in ipairs({ false, true }) do
      local extra = layer == "GRU" and ", reset_after = false" or ""
      local unit = lowered(string.format([[
local x = Input { shape = { 4, 3 } }
local outs = { %s { 5, return_sequences = true, return_state = true, go_backwards = %s%s }(x) }
return Model { inputs = x, outputs = outs }
]], layer, tostring(backwards), extra))
      local mem = I.run(I.memory(unit.prog, values_for(unit, T.rng(7))), unit.forward)
      local y = I.read(mem, unit.y)
      local states = layer == "LSTM" and 2 or 1
      T.eq(#unit.interface.outputs, 1 + states, layer .. ": outputs")
      T.eq(#y, 4 * 5 + 5 * states, layer .. ": output size")
      for j = 1, 5 do
        T.eq(y[20 + j], y[15 + j], string.format("%s backwards=%s: state[%d] is the last row", layer,
          tostring(backwards), j))
      end
    end
  end
end

tests["simplify: the t=0 recurrent product with the zero state is gone"] = function()
  local src = [[
return Sequential {
  SimpleRNN { 4, input_shape = { %d, 3 }, return_sequences = true },
}
]]
  for _, steps in ipairs({ 1, 2, 5 }) do
    local unit = lowered(string.format(src, steps))
    T.eq(I.count_ops(unit.raw_forward, "matmul"), 1 + steps, steps .. " steps: matmuls before simplification")
    T.eq(I.count_ops(unit.forward, "matmul"), 1 + (steps - 1),
      steps .. " steps: 1 input projection + T-1 recurrent products")
    for _, list in ipairs({ unit.forward, unit.backward }) do
      for _, op in ipairs(ir.flatten(list)) do
        for _, v in ipairs(ir.op_reads(op)) do
          T.truthy(v.buf.kind ~= "zero", "no op reads the zero state " .. v.buf.name)
        end
      end
    end
    -- and the simplified forward computes what the unsimplified one does
    local values = values_for(unit, T.rng(steps))
    T.eq(I.read(I.run(I.memory(unit.prog, values), unit.forward), unit.y),
      I.read(I.run(I.memory(unit.prog, values), unit.raw_forward), unit.y), steps .. " steps: same y")
  end
  -- the tagger: 3 steps -> 1 + 2 for the RNN, 1 for the Dense
  T.eq(I.count_ops(lowered(T.path("examples/tagger.lua")).forward, "matmul"), 4, "tagger forward matmuls")
end

-- Fills none of whose elements is read before being overwritten (an
-- independent re-implementation of the definition, for the check below).
local SINK = { act = true, output = true, pgrad = true }
local function dead_fills(prog, ops)
  local writer, live = {}, {}
  for _, buf in ipairs(prog.buffers) do
    writer[buf] = {}
  end
  local function read(v)
    elements.each_index(v, function(i)
      local k = writer[v.buf][i]
      if k then live[k] = true end
    end)
  end
  for _, e in ipairs(elements.expand(ops)) do
    local op = e.op
    for _, v in ipairs(ir.op_reads(op)) do
      read(v)
    end
    if op.acc then read(op.out) end
    elements.each_index(op.out, function(i)
      writer[op.out.buf][i] = op.op == "fill" and e.source or nil
    end)
  end
  for _, buf in ipairs(prog.buffers) do
    if SINK[buf.kind] then read(ir.full(buf)) end
  end
  local dead = {}
  for _, op in ipairs(ir.flatten(ops)) do
    if op.op == "fill" and not live[op] then dead[#dead + 1] = op.out.buf.name end
  end
  return dead
end

tests["simplify: no dead fill is left in the lowered programs"] = function()
  -- the checker itself
  local prog = ir.new_program()
  local x = ir.buffer(prog, "x", "act", 1, 2)
  local t = ir.buffer(prog, "t", "tmp", 1, 2)
  local y = ir.buffer(prog, "y", "output", 1, 2)
  local function program(acc)
    return {
      { op = "fill", out = t, value = 0 },
      { op = "map", out = t, args = { x }, expr = E.fn("exp", a), acc = acc },
      { op = "map", out = y, args = { t }, expr = a, acc = false },
    }
  end
  T.eq(dead_fills(prog, program(false)), { "t" }, "a fill overwritten by an assignment is dead")
  T.eq(dead_fills(prog, program(true)), {}, "a fill read by an accumulation is live")
  T.eq(I.count_ops(simplify.run(prog, program(false)), "fill"), 0, "simplify drops the dead fill")
  for name, m in pairs(MODELS) do
    local unit = lowered(m)
    local raw = unit_cases(unit).raw.backward
    T.truthy(I.count_ops(raw, "fill") > I.count_ops(unit.backward, "fill"), name .. ": fewer fills after simplify")
    T.eq(dead_fills(unit.prog, unit.backward), {}, name .. ": dead fills in backward")
    if unit.backward_loss then
      T.eq(dead_fills(unit.prog, unit.backward_loss), {}, name .. ": dead fills in backward_loss")
    end
    T.truthy(#unit.backward < #raw, name .. ": the simplified backward is shorter")
  end
end

---------------------------------------------------------------- BatchNormalization in training

-- The training program of a unit with BatchNormalization: the statistics of
-- the batch (here one sample: the interpreter runs one, and inv_count is
-- 1 / rows), its backward against finite differences, and the moving
-- statistics it leaves for update_stats.
tests["BatchNormalization: the training forward and its backward"] = function()
  local unit = lowered([[
local model = Sequential {
  Conv1D { 3, 2, padding = "causal", use_bias = false, input_shape = { 4, 2 } },
  BatchNormalization { momentum = 0.8, epsilon = 0.01 },
  GRU { 2 },
  BatchNormalization {},
}
model:compile { loss = "mse", optimizer = "sgd" }
return model
]])
  T.truthy(unit.forward_train and unit.backward_train_loss, "a training forward and its backward")
  T.eq(unit.backward_loss, nil, "training runs the training forward's backward only")
  T.eq(#unit.stat_updates, 4, "two moving statistics per layer")
  for _, st in ipairs(unit.stat_updates) do
    T.truthy(st.buf.kind == "batch" and st.param.trainable == false, st.param.name .. ": non-trainable")
  end
  for _, p in ipairs(unit.interface.params) do
    T.eq(unit.prog.by_name["g:" .. p.name] ~= nil, p.trainable, p.name .. ": a gradient only if trainable")
  end
  local values = values_for(unit, T.rng(11))
  local wrt_list = {}
  for _, buf in ipairs(unit.prog.buffers) do
    if buf.kind == "pgrad" then wrt_list[#wrt_list + 1] = { buf = unit.prog.by_name[buf.param.name], grad = buf } end
  end
  wrt_list[#wrt_list + 1] = { buf = unit.x.buf, grad = unit.dx.buf }
  check_gradients({ prog = unit.prog, forward = unit.forward_train, backward = unit.backward_train_loss,
    seeds = { { view = unit.loss_seeds[1].view, grad = unit.dloss } }, wrt = wrt_list }, values,
    "batch normalisation (training)")
  -- the first BatchNormalization normalises the conv's 4 steps by their own
  -- mean and variance, and leaves moving * 0.8 + batch * 0.2
  local mem = I.run(I.memory(unit.prog, values), unit.forward_train)
  local z = I.read(mem, ir.full(unit.prog.by_name["conv1d/z"]))
  local y = I.read(mem, ir.full(unit.prog.by_name["batch_normalization/y"]))
  local gamma, beta = values["batch_normalization/gamma"], values["batch_normalization/beta"]
  local mm, mv = values["batch_normalization/moving_mean"], values["batch_normalization/moving_variance"]
  local new_mean = I.read(mem, ir.full(unit.prog.by_name["batch_normalization/new_moving_mean"]))
  local new_var = I.read(mem, ir.full(unit.prog.by_name["batch_normalization/new_moving_variance"]))
  for c = 0, 2 do
    local m, v = 0, 0
    for t = 0, 3 do
      m = m + z[t * 3 + c + 1] / 4
    end
    for t = 0, 3 do
      v = v + (z[t * 3 + c + 1] - m) ^ 2 / 4
    end
    for t = 0, 3 do
      local want = (z[t * 3 + c + 1] - m) / math.sqrt(v + 0.01) * gamma[c] + beta[c]
      T.near(y[t * 3 + c + 1], want, 1e-12, "y[" .. t .. ", " .. c .. "]")
    end
    T.near(new_mean[c + 1], mm[c] * 0.8 + m * 0.2, 1e-12, "new moving mean " .. c)
    T.near(new_var[c + 1], mv[c] * 0.8 + v * 0.2, 1e-12, "new moving variance " .. c)
  end
end


return tests
