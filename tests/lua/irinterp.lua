-- A reference interpreter of the IR (generator/ir.lua), for the tests: runs a
-- list of ops for ONE sample on Lua arrays, element by element in the order
-- the C writer's code runs them. Memory that nothing has written yet holds
-- NaN (activations, temporaries, outputs), so a read of it shows in every
-- result; parameter gradients start at zero (the C code clears them first).
local ir = require("ir")
local elements = require("elements")

local I = {}

local NAN = 0 / 0

-- Evaluates an elementwise expression; args[i] is the value of {"arg", i}.
function I.eval(e, args)
  local k = e[1]
  if k == "arg" then
    local v = args[e[2]]
    if v == nil then error("expression reads arg " .. e[2] .. ", which is missing") end
    return v
  end
  if k == "const" then return e[2] end
  -- one sample: the batch statistics of a batch of one
  if k == "inv_count" then return 1 / (I.length or e[2]) end
  if k == "add" then return I.eval(e[2], args) + I.eval(e[3], args) end
  if k == "sub" then return I.eval(e[2], args) - I.eval(e[3], args) end
  if k == "mul" then return I.eval(e[2], args) * I.eval(e[3], args) end
  if k == "neg" then return -I.eval(e[2], args) end
  if k == "max" then
    local a, b = I.eval(e[2], args), I.eval(e[3], args)
    return a >= b and a or b
  end
  local f = ir.UNARY[k]
  if not f then error("unknown expression node " .. tostring(k)) end
  return f(I.eval(e[2], args))
end

-- Memory for a program: values[name] gives the initial contents of a buffer
-- (a 0-based array); param and input buffers must be given.
function I.memory(prog, values)
  local mem = {}
  for _, buf in ipairs(prog.buffers) do
    local init = values and values[buf.name]
    local a = {}
    for i = 0, buf.size - 1 do
      if init then
        a[i] = init[i]
        if a[i] == nil then error("initial value of " .. buf.name .. " has no element " .. i) end
      elseif buf.kind == "zero" or buf.kind == "pgrad" then
        a[i] = 0
      elseif buf.kind == "param" or buf.kind == "input" then
        error("no value for the " .. buf.kind .. " buffer " .. buf.name)
      else
        a[i] = NAN
      end
    end
    mem[buf] = a
  end
  return mem
end

local function index(v, r, c)
  return v.off + r * v.strides[1] + c * v.strides[2]
end

local function get(mem, v, r, c)
  local a = mem[v.buf]
  if not a then error("buffer " .. v.buf.name .. " is not in this program's memory") end
  local i = index(v, r, c)
  if i < 0 or i >= v.buf.size then error(string.format("read of %s[%d] out of bounds", v.buf.name, i)) end
  return a[i]
end

local function set(mem, v, r, c, x, acc)
  if v.buf.kind == "zero" or v.buf.kind == "param" or v.buf.kind == "input" then
    error("an op writes the " .. v.buf.kind .. " buffer " .. v.buf.name)
  end
  local a = mem[v.buf]
  local i = index(v, r, c)
  if i < 0 or i >= v.buf.size then error(string.format("write of %s[%d] out of bounds", v.buf.name, i)) end
  if acc then
    a[i] = a[i] + x
  else
    a[i] = x
  end
end

local run_op = {}

function run_op.matmul(mem, op)
  local m, n, k = op.out.dims[1], op.out.dims[2], op.a.dims[2]
  assert(op.a.dims[1] == m and op.b.dims[1] == k and op.b.dims[2] == n, "matmul dims")
  for i = 0, m - 1 do
    for j = 0, n - 1 do
      local s = 0
      for q = 0, k - 1 do
        s = s + get(mem, op.a, i, q) * get(mem, op.b, q, j)
      end
      set(mem, op.out, i, j, s, op.acc)
    end
  end
end

function run_op.map(mem, op)
  for r = 0, op.out.dims[1] - 1 do
    for c = 0, op.out.dims[2] - 1 do
      local args = {}
      for i, a in ipairs(op.args) do
        assert(a.dims[1] == op.out.dims[1] and a.dims[2] == op.out.dims[2], "map arg dims")
        args[i] = get(mem, a, r, c)
      end
      set(mem, op.out, r, c, I.eval(op.expr, args), op.acc)
    end
  end
end

function run_op.softmax(mem, op)
  local n = op.out.dims[2]
  for r = 0, op.out.dims[1] - 1 do
    local mx = get(mem, op.a, r, 0)
    for c = 1, n - 1 do
      mx = math.max(mx, get(mem, op.a, r, c))
    end
    local e, total = {}, 0
    for c = 0, n - 1 do
      e[c] = math.exp(get(mem, op.a, r, c) - mx)
      total = total + e[c]
    end
    for c = 0, n - 1 do
      local v = op.log and (get(mem, op.a, r, c) - mx - math.log(total)) or e[c] / total
      set(mem, op.out, r, c, v, false)
    end
  end
end

function run_op.softmax_grad(mem, op)
  local n = op.out.dims[2]
  for r = 0, op.out.dims[1] - 1 do
    local dot = 0
    for c = 0, n - 1 do
      dot = dot + get(mem, op.dy, r, c) * (op.log and 1 or get(mem, op.y, r, c))
    end
    for c = 0, n - 1 do
      local y, dy = get(mem, op.y, r, c), get(mem, op.dy, r, c)
      set(mem, op.out, r, c, op.log and (dy - math.exp(y) * dot) or y * (dy - dot), op.acc)
    end
  end
end

function run_op.fill(mem, op)
  for r = 0, op.out.dims[1] - 1 do
    for c = 0, op.out.dims[2] - 1 do
      set(mem, op.out, r, c, op.value, false)
    end
  end
end

-- Embedding's lookup: row r of out = row idx[r] of the table; a token
-- outside the table gives a row of NaN (the generated code's contract).
local function token(mem, op, r)
  local v = get(mem, op.idx, r, 0)
  local k = op.a and op.a.dims[1] or op.out.dims[1]
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  if math.type(v) ~= "integer" or v < 0 or v >= k then return nil end
  return v
end

function run_op.gather(mem, op)
  for r = 0, op.out.dims[1] - 1 do
    local tok = token(mem, op, r)
    for c = 0, op.out.dims[2] - 1 do
      set(mem, op.out, r, c, tok and get(mem, op.a, tok, c) or NAN, false)
    end
  end
end

-- Its adjoint: row r of dy added to row idx[r] of out.
function run_op.scatter(mem, op)
  for r = 0, op.dy.dims[1] - 1 do
    local tok = token(mem, op, r)
    if tok then
      for c = 0, op.dy.dims[2] - 1 do
        set(mem, op.out, tok, c, get(mem, op.dy, r, c), op.acc)
      end
    end
  end
end

-- A time loop runs its body once per value of t, views made concrete.
function run_op.loop(mem, op)
  for _, t in ipairs(ir.iterations(op)) do
    for _, b in ipairs(op.body) do
      I.run(mem, { ir.instantiate(b, t) })
    end
  end
end

function I.run(mem, ops)
  for _, op in ipairs(ops) do
    local f = run_op[op.op]
    if not f then error("the interpreter has no op " .. tostring(op.op)) end
    f(mem, op)
  end
  return mem
end

-- The contents of a view, row-major, as a 1-based list.
function I.read(mem, v)
  local out = {}
  for r = 0, v.dims[1] - 1 do
    for c = 0, v.dims[2] - 1 do
      out[#out + 1] = get(mem, v, r, c)
    end
  end
  return out
end

-- A 0-based array of n values from rnd(lo, hi).
function I.random_array(rnd, n, lo, hi)
  local a = {}
  for i = 0, n - 1 do
    a[i] = rnd(lo or -1, hi or 1)
  end
  return a
end

-- How many ops of a kind run (a loop's body counts once per iteration).
function I.count_ops(ops, kind)
  local n = 0
  for _, e in ipairs(elements.expand(ops)) do
    if e.op.op == kind then n = n + 1 end
  end
  return n
end

return I
