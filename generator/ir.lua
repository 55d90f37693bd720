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
--   batch    a statistic of the whole batch (BatchNormalization in training):
--            one copy for all the samples of a call, summed into (+=) by
--            per-sample ops and read after every sample has added to it
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
--   {op="softmax", out=V, a=V, log=bool}                      row-wise over the last dim (log:
--                                                             log_softmax, a - max - log sum exp)
--   {op="softmax_grad", out=V, dy=V, y=V, acc=bool, log=bool} out (+)= y * (dy - sum(dy * y)), or
--                                                             with log dy - exp(y) * sum(dy)
--   {op="fill", out=V, value=0}
--   {op="gather", out=V(r,n), a=V(k,n), idx=V(r,1)}           row i of out = row idx[i] of a
--                                                             (Embedding; idx views an integer
--                                                             buffer, buf.int = k, the rows of a;
--                                                             an index outside [0, k) gives a
--                                                             row of NaN, never a read outside a)
--   {op="scatter", out=V(k,n), dy=V(r,n), idx=V(r,1), acc=true}  row idx[i] of out += row i of dy
--                                                             (the gather's adjoint: an index
--                                                             outside [0, k) adds nothing)
--   {op="loop", first=a, last=b, reverse=bool, body={ops}}   for t in [a, b] (descending
--                                                             when reverse): the time loop
--
-- Elementwise expressions E are small trees: {"arg", i}, {"const", c},
-- {"add", a, b}, {"sub", a, b}, {"mul", a, b}, {"neg", a}, {"max", a, b}
-- (a when a >= b, else b: pooling), and the unary functions tanh, sigmoid,
-- relu, step (1 where a > 0, else 0), exp, hard_sigmoid (Keras 3's) and
-- hard_sigmoid_keras2 (tf.keras 2.x's), softplus, softsign, gelu and
-- gelu_approximate, the derivatives that are not expressions of those
-- (hard_sigmoid_grad, ..., gelu_approximate_grad), and for the normalisation
-- and pooling layers rsqrt (1 / sqrt(a)), recip (1 / a) and ge0 (1 where
-- a >= 0, else 0). Activations compose them (ir.activation).
-- The leaf {"inv_count", rows, per_length} is 1 / (n * rows), n the samples
-- of the call (rows: the run-time length L when per_length): a batch
-- statistic's 1 / (number of rows it spans).
-- The leaf {"noise", kind, p, salt, seed, per_sample} is a value of a noise
-- layer's mask (runtime rnnc_noise_value: kind 1 dropout, 2 gaussian, 3
-- gaussian dropout, of rate or stddev p): keyed by the call's noise key (the
-- scratch's seed, or the layer's `seed` when not nil; the step; the sample's
-- index in the step's batch, 0 when not per_sample), the layer's salt and
-- the element's index in the op's output buffer (per sample). It is only the
-- whole expression of a map (no args), in forward_train: no derivative.
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

local VIEW_FIELDS = { "out", "a", "b", "dy", "y", "idx" }

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

-- 1 / (the samples of the call * rows), rows the run-time length when
-- per_length (see above).
function E.inv_count(rows, per_length)
  return { "inv_count", rows, per_length or false }
end

function E.noise(kind, p, salt, seed, per_sample)
  return { "noise", kind, p, salt, seed or false, per_sample }
end

-- Leaves other than args: no operands, no derivative.
local LEAF = { const = true, inv_count = true, noise = true }
ir.LEAF = LEAF

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
  if is_const(a, -1) and not is_const(b) then return E.neg(b) end
  if is_const(b, -1) and not is_const(a) then return E.neg(a) end
  if is_const(a) and is_const(b) then return E.const(a[2] * b[2]) end
  return { "mul", a, b }
end
function E.neg(a)
  if is_const(a) then return E.const(-a[2]) end
  if a[1] == "neg" then return a[2] end
  return { "neg", a }
end

-- erf(x) to double precision: 2x/sqrt(pi) exp(-x^2) sum_n (2x^2)^n / (1 3 5 ... (2n+1))
-- (every term positive, so no cancellation); |x| >= 6 is +-1 to the last bit.
local function erf(x)
  if x ~= x then return x end
  local ax = math.abs(x)
  if ax >= 6 then return x > 0 and 1 or -1 end
  local x2, term, sum, n = 2 * ax * ax, 1, 1, 0
  repeat
    n = n + 1
    term = term * x2 / (2 * n + 1)
    sum = sum + term
  until term < sum * 1e-17
  local r = 2 * ax / math.sqrt(math.pi) * math.exp(-ax * ax) * sum
  return x > 0 and r or -r
end
ir.erf = erf

local SQRT2 = math.sqrt(2)
local SQRT_2_OVER_PI = 0.7978845608028654 -- sqrt(2 / pi), as TensorFlow's gelu writes it
local function softplus(x)
  return math.max(x, 0) + math.log(1 + math.exp(-math.abs(x)))
end

local function tanh(x)
  if x > 20 then return 1 end
  if x < -20 then return -1 end
  local e = math.exp(2 * x)
  return (e - 1) / (e + 1)
end

local unary_value = {
  tanh = tanh,
  sigmoid = function(x)
    return 1 / (1 + math.exp(-x))
  end,
  relu = function(x)
    return x < 0 and 0 or x -- a NaN passes through
  end,
  step = function(x)
    return x > 0 and 1 or 0
  end,
  exp = math.exp,
  -- Keras 3: relu6(x + 3) / 6 (keras/src/backend/tensorflow/nn.py hard_sigmoid)
  hard_sigmoid = function(x)
    return math.max(0, math.min(6, x + 3)) / 6
  end,
  -- its derivative: 1/6 strictly inside (-3, 3) (TensorFlow's Relu6Grad)
  hard_sigmoid_grad = function(x)
    return (x > -3 and x < 3) and 1 / 6 or 0
  end,
  -- Keras <= 2 and tf.keras 2.x: clip(0.2 x + 0.5, 0, 1)
  hard_sigmoid_keras2 = function(x)
    return math.max(0, math.min(1, 0.2 * x + 0.5))
  end,
  -- its derivative: 0.2 strictly inside (-2.5, 2.5)
  hard_sigmoid_keras2_grad = function(x)
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
  -- log(1 + exp(x)) without overflow; its derivative is sigmoid
  softplus = softplus,
  softsign = function(x)
    return x / (1 + math.abs(x))
  end,
  softsign_grad = function(x)
    local d = 1 + math.abs(x)
    return 1 / (d * d)
  end,
  -- x Phi(x), the exact form (Keras's approximate=False, the default)
  gelu = function(x)
    return 0.5 * x * (1 + erf(x / SQRT2))
  end,
  gelu_grad = function(x)
    return 0.5 * (1 + erf(x / SQRT2)) + x * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
  end,
  -- the tanh approximation (approximate=True)
  gelu_approximate = function(x)
    return 0.5 * x * (1 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
  end,
  gelu_approximate_grad = function(x)
    local t = tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
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

local fn = E.fn
local function c(v)
  return E.const(v)
end

-- Keras's ReLU(max_value, negative_slope, threshold) and keras.activations.relu
-- (Keras 3 keras/src/activations/activations.py ReLU.static_call, tf.keras 2.x
-- keras/backend.py relu): with a slope and neither a maximum nor a threshold,
-- tf.nn.leaky_relu; else x where x > threshold else 0, clipped to
-- [0, max_value], minus negative_slope * relu(threshold - x).
function ir.relu_expr(e, max_value, negative_slope, threshold)
  threshold = threshold or 0
  negative_slope = negative_slope or 0
  if negative_slope ~= 0 and not max_value and threshold == 0 then return ir.leaky_relu_expr(e, negative_slope) end
  local y
  if threshold ~= 0 then
    y = E.mul(fn("step", E.sub(e, c(threshold))), e)
  else
    y = fn("relu", e)
  end
  if max_value then
    -- clip(y, 0, max) = relu(y) - relu(y - max)
    local r = threshold ~= 0 and fn("relu", y) or y
    y = E.sub(r, fn("relu", E.sub(y, c(max_value))))
  end
  if negative_slope ~= 0 then
    y = E.sub(y, E.mul(c(negative_slope), fn("relu", E.sub(c(threshold), e))))
  end
  return y
end

-- tf.nn.leaky_relu: x for x > 0, slope x otherwise, written as
-- slope x + (1 - slope) relu(x) (its derivative at 0 is slope, as TF's).
function ir.leaky_relu_expr(e, slope)
  return E.add(E.mul(c(slope), e), E.mul(c(1 - slope), fn("relu", e)))
end

-- ELU(alpha): x for x > 0, alpha (exp(x) - 1) otherwise, written as
-- relu(x) + alpha (exp(x - relu(x)) - 1) (its derivative at 0 is alpha, as
-- TensorFlow's where(x > 0, ...) gives).
function ir.elu_expr(e, alpha)
  local relu = fn("relu", e)
  return E.add(relu, E.mul(c(alpha), E.sub(fn("exp", E.sub(e, relu)), E.ONE)))
end

-- Keras's elementwise activations as expressions of their input x (softmax
-- and log_softmax act on a row: ops, not maps). Keras 3's definitions
-- (keras/src/activations/activations.py); selu's constants are its.
local SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
local ACTIVATION_EXPR = {
  linear = function(x)
    return x
  end,
  relu = function(x)
    return fn("relu", x)
  end,
  tanh = function(x)
    return fn("tanh", x)
  end,
  sigmoid = function(x)
    return fn("sigmoid", x)
  end,
  hard_sigmoid = function(x)
    return fn("hard_sigmoid", x)
  end,
  hard_sigmoid_keras2 = function(x)
    return fn("hard_sigmoid_keras2", x)
  end,
  elu = function(x)
    return ir.elu_expr(x, 1)
  end,
  selu = function(x)
    return E.mul(c(SELU_SCALE), ir.elu_expr(x, SELU_ALPHA))
  end,
  gelu = function(x)
    return fn("gelu", x)
  end,
  gelu_approximate = function(x)
    return fn("gelu_approximate", x)
  end,
  swish = function(x)
    return E.mul(x, fn("sigmoid", x))
  end,
  silu = function(x)
    return E.mul(x, fn("sigmoid", x))
  end,
  softplus = function(x)
    return fn("softplus", x)
  end,
  softsign = function(x)
    return fn("softsign", x)
  end,
  exponential = function(x)
    return fn("exp", x)
  end,
  -- keras.activations.leaky_relu's default negative_slope is 0.2
  leaky_relu = function(x)
    return ir.leaky_relu_expr(x, 0.2)
  end,
  relu6 = function(x)
    return ir.relu_expr(x, 6)
  end,
  mish = function(x)
    return E.mul(x, fn("tanh", fn("softplus", x)))
  end,
  hard_silu = function(x)
    return E.mul(x, fn("hard_sigmoid", x))
  end,
  hard_swish = function(x)
    return E.mul(x, fn("hard_sigmoid", x))
  end,
}
ir.ACTIVATION_EXPR = ACTIVATION_EXPR

-- Keras activations as expressions of their input (softmax and log_softmax
-- are ops, not maps).
function ir.activation(name, e)
  local f = ACTIVATION_EXPR[name]
  if f then return f(e) end
  error("activation " .. tostring(name) .. " is not an elementwise map")
end

-- Replaces args: map[i] is the new expression for {"arg", i}.
function ir.substitute(e, map)
  local k = e[1]
  if k == "arg" then return map[e[2]] or e end
  if LEAF[k] then return e end
  if k == "add" then return E.add(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  if k == "sub" then return E.sub(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  if k == "mul" then return E.mul(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  if k == "neg" then return E.neg(ir.substitute(e[2], map)) end
  if k == "max" then return E.max(ir.substitute(e[2], map), ir.substitute(e[3], map)) end
  return E.fn(k, ir.substitute(e[2], map))
end

-- The derivative of a unary function at a, in terms of a.
local DERIVATIVE = {
  tanh = function(a)
    local t = E.fn("tanh", a)
    return E.sub(E.ONE, E.mul(t, t))
  end,
  sigmoid = function(a)
    local s = E.fn("sigmoid", a)
    return E.mul(s, E.sub(E.ONE, s))
  end,
  relu = function(a)
    return E.fn("step", a)
  end,
  exp = function(a)
    return E.fn("exp", a)
  end,
  hard_sigmoid = function(a)
    return E.fn("hard_sigmoid_grad", a)
  end,
  hard_sigmoid_keras2 = function(a)
    return E.fn("hard_sigmoid_keras2_grad", a)
  end,
  softplus = function(a)
    return E.fn("sigmoid", a)
  end,
  softsign = function(a)
    return E.fn("softsign_grad", a)
  end,
  gelu = function(a)
    return E.fn("gelu_grad", a)
  end,
  gelu_approximate = function(a)
    return E.fn("gelu_approximate_grad", a)
  end,
  rsqrt = function(a)
    -- d/da a^(-1/2) = -1/2 a^(-3/2)
    local r = E.fn("rsqrt", a)
    return E.mul(E.const(-0.5), E.mul(r, E.mul(r, r)))
  end,
  recip = function(a)
    local r = E.fn("recip", a)
    return E.neg(E.mul(r, r))
  end,
}
-- Piecewise constants and first derivatives: their own derivative is not
-- needed (backward programs differentiate once) and is taken as zero.
local FLAT = { step = true, hard_sigmoid_grad = true, hard_sigmoid_keras2_grad = true, softsign_grad = true,
  gelu_grad = true, gelu_approximate_grad = true, ge0 = true }

local function unary_derivative(name, a)
  if DERIVATIVE[name] then return DERIVATIVE[name](a) end
  if FLAT[name] then return E.ZERO end
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
  if LEAF[k] then return E.ZERO end
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
  if LEAF[e[1]] then return false end
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
  if op.op == "gather" then return { op.a, op.idx } end
  if op.op == "scatter" then return { op.dy, op.idx } end
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
  if op.op == "scatter" then return ir.count(op.dy) end
  return ir.count(op.out)
end

return ir
