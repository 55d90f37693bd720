-- The C writer: the only part of the generator that knows C syntax. It lowers
-- IR ops to statements, either fully unrolled (constant indices) or as loops
-- with constant bounds, and fills the unit templates.
local ir = require("ir")

local cwriter = {}

---------------------------------------------------------------- names and literals

function cwriter.ident(name)
  local s = name:gsub("[^%w_]", "_")
  if s:match("^%d") then s = "_" .. s end
  return s
end

-- A real literal that reads back as the same value.
function cwriter.real_literal(v, dtype)
  local s
  if v == math.floor(v) and math.abs(v) < 1e15 then
    s = string.format("%d.0", math.tointeger(v))
  else
    -- the shortest decimal that reads back as the same double
    for digits = 15, 17 do
      s = string.format("%." .. digits .. "g", v)
      if tonumber(s) == v then break end
    end
    if not s:find("[%.eE]") then s = s .. ".0" end
  end
  if dtype == "float32" then s = s .. "f" end
  return s
end

function cwriter.c_string(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line
  end
  if lines[#lines] == "" then lines[#lines] = nil end
  local out = {}
  for i, line in ipairs(lines) do
    local esc = line:gsub("\\", "\\\\"):gsub('"', '\\"')
    local nl = (i < #lines or text:sub(-1) == "\n") and "\\n" or ""
    out[#out + 1] = '"' .. esc .. nl .. '"'
  end
  if #out == 0 then return '""' end
  return table.concat(out, "\n")
end

---------------------------------------------------------------- index expressions

-- An affine index: constant + sum of var * coefficient; inside a time loop
-- the view's offset also moves with t.
local function index(v, r, c)
  local const = v.off
  local terms = {} -- {coefficient, variable}
  local function add(x, stride)
    if stride == 0 then return end
    if type(x) == "number" then
      const = const + x * stride
    else
      terms[#terms + 1] = { stride, x }
    end
  end
  add("t", v.toff)
  add("L", v.loff)
  add(r, v.strides[1])
  add(c, v.strides[2])
  local text = ""
  for i, term in ipairs(terms) do
    local k, x = term[1], term[2]
    local mag = math.abs(k) == 1 and x or (x .. " * " .. math.abs(k))
    if i == 1 then
      text = (k < 0 and "-" or "") .. mag
    else
      text = text .. (k < 0 and " - " or " + ") .. mag
    end
  end
  if text == "" then return tostring(const) end
  if const > 0 then return text .. " + " .. const end
  if const < 0 then return text .. " - " .. -const end
  return text
end

local Writer = {}
Writer.__index = Writer

-- Unary functions written as static helpers in the unit (ONE, ZERO, expF and
-- the constants are spelled per dtype when the helper is emitted).
local HELPER_BODY = {
  sigmoid = "return ONE / (ONE + expF(-v));",
  relu = "return v > ZERO ? v : ZERO;",
  step = "return v > ZERO ? ONE : ZERO;",
  hard_sigmoid = "return v <= -C2_5 ? ZERO : (v >= C2_5 ? ONE : C0_2 * v + C0_5);",
  hard_sigmoid_grad = "return (v > -C2_5 && v < C2_5) ? C0_2 : ZERO;",
}
local HELPER_ORDER = { "sigmoid", "relu", "step", "hard_sigmoid", "hard_sigmoid_grad" }

-- names: buffer -> C pointer variable
function cwriter.new(dtype, names)
  local w = setmetatable({ dtype = dtype, names = names, lines = {}, helpers = {}, sample_stride = {},
    optional_out = {} }, Writer)
  w.real = dtype == "float64" and "double" or "float"
  w.fsuffix = dtype == "float64" and "" or "f"
  return w
end

function Writer:emit(s)
  self.lines[#self.lines + 1] = s
end

-- index() of a view, plus, inside a loop over the samples, the offset of the
-- sample's block of a per-sample array.
function Writer:index(v, r, c)
  local i = index(v, r, c)
  local stride = self.bvar and self.sample_stride[v.buf]
  if not stride then return i end
  if i == "0" then return self.bvar .. " * " .. stride end
  return self.bvar .. " * " .. stride .. " + " .. i
end

function Writer:at(v, r, c)
  local name = self.names[v.buf]
  if not name then error("buffer " .. v.buf.name .. " has no C name") end
  return name .. "[" .. self:index(v, r, c) .. "]"
end

function Writer:lit(x)
  return cwriter.real_literal(x, self.dtype)
end

function Writer:expr(e, arg)
  local k = e[1]
  if k == "arg" then return arg(e[2]) end
  if k == "const" then return self:lit(e[2]) end
  if k == "add" then return "(" .. self:expr(e[2], arg) .. " + " .. self:expr(e[3], arg) .. ")" end
  if k == "sub" then return "(" .. self:expr(e[2], arg) .. " - " .. self:expr(e[3], arg) .. ")" end
  if k == "mul" then return self:expr(e[2], arg) .. " * " .. self:expr(e[3], arg) end
  if k == "neg" then return "(-" .. self:expr(e[2], arg) .. ")" end
  local inner = self:expr(e[2], arg):gsub("^%((.*)%)$", function(body)
    -- drop parentheses that only wrap the whole argument
    local depth = 0
    for ch in body:gmatch("[()]") do
      depth = depth + (ch == "(" and 1 or -1)
      if depth < 0 then return nil end
    end
    return body
  end)
  -- float32 tanh: the runtime's branch-free rnnc_tanhf (rnnc_kernels.h), so
  -- gate loops vectorise; float64 keeps libm's
  if k == "tanh" and self.dtype == "float32" then return "rnnc_tanhf(" .. inner .. ")" end
  if k == "tanh" or k == "exp" then return k .. self.fsuffix .. "(" .. inner .. ")" end
  if HELPER_BODY[k] then
    self.helpers[k] = true
    return "rnnc_" .. k .. "(" .. inner .. ")"
  end
  error("cannot write expression " .. tostring(k))
end

local function assign(acc)
  return acc and " += " or " = "
end

---------------------------------------------------------------- ops, unrolled

function Writer:matmul_unrolled(op)
  local m, n, k = op.out.dims[1], op.out.dims[2], op.a.dims[2]
  for i = 0, m - 1 do
    for j = 0, n - 1 do
      local terms = {}
      for q = 0, k - 1 do
        terms[#terms + 1] = self:at(op.a, i, q) .. " * " .. self:at(op.b, q, j)
      end
      self:emit(self:at(op.out, i, j) .. assign(op.acc) .. table.concat(terms, " + ") .. ";")
    end
  end
end

function Writer:map_unrolled(op)
  for r = 0, op.out.dims[1] - 1 do
    for c = 0, op.out.dims[2] - 1 do
      local e = self:expr(op.expr, function(i)
        return self:at(op.args[i], r, c)
      end)
      self:emit(self:at(op.out, r, c) .. assign(op.acc) .. e .. ";")
    end
  end
end

function Writer:fill_unrolled(op)
  for r = 0, op.out.dims[1] - 1 do
    for c = 0, op.out.dims[2] - 1 do
      self:emit(self:at(op.out, r, c) .. " = " .. self:lit(op.value) .. ";")
    end
  end
end

function Writer:softmax_unrolled(op)
  local n = op.out.dims[2]
  for r = 0, op.out.dims[1] - 1 do
    self:emit("{")
    self:emit(self.real .. " mx = " .. self:at(op.a, r, 0) .. ";")
    for c = 1, n - 1 do
      local a = self:at(op.a, r, c)
      self:emit("mx = " .. a .. " > mx ? " .. a .. " : mx;")
    end
    for c = 0, n - 1 do
      self:emit(self:at(op.out, r, c) .. " = exp" .. self.fsuffix .. "(" .. self:at(op.a, r, c) .. " - mx);")
    end
    local terms = {}
    for c = 0, n - 1 do
      terms[#terms + 1] = self:at(op.out, r, c)
    end
    self:emit(self.real .. " inv = " .. self:lit(1) .. " / (" .. table.concat(terms, " + ") .. ");")
    for c = 0, n - 1 do
      self:emit(self:at(op.out, r, c) .. " *= inv;")
    end
    self:emit("}")
  end
end

function Writer:softmax_grad_unrolled(op)
  local n = op.out.dims[2]
  for r = 0, op.out.dims[1] - 1 do
    local terms = {}
    for c = 0, n - 1 do
      terms[#terms + 1] = self:at(op.dy, r, c) .. " * " .. self:at(op.y, r, c)
    end
    self:emit("{")
    self:emit(self.real .. " dot = " .. table.concat(terms, " + ") .. ";")
    for c = 0, n - 1 do
      self:emit(self:at(op.out, r, c) .. assign(op.acc) .. self:at(op.y, r, c) .. " * (" ..
        self:at(op.dy, r, c) .. " - dot);")
    end
    self:emit("}")
  end
end

---------------------------------------------------------------- ops, as loops

-- Opens `for` loops over out's rows (when more than one) and columns; calls
-- body(r, c) with the row and column index (number or C variable).
function Writer:loops2(rows, cols, body)
  local r = 0
  if rows > 1 then
    self:emit("for (int r = 0; r < " .. rows .. "; ++r) {")
    r = "r"
  end
  if cols > 1 then
    self:emit("for (int c = 0; c < " .. cols .. "; ++c) {")
    body(r, "c")
    self:emit("}")
  else
    -- a block even without a loop: the body declares its temporaries
    self:emit("{")
    body(r, 0)
    self:emit("}")
  end
  if rows > 1 then self:emit("}") end
end

function Writer:matmul_loops(op)
  local k = op.a.dims[2]
  self:loops2(op.out.dims[1], op.out.dims[2], function(r, c)
    local init = op.acc and self:at(op.out, r, c) or self:lit(0)
    self:emit(self.real .. " sum = " .. init .. ";")
    self:emit("for (int q = 0; q < " .. k .. "; ++q) sum += " .. self:at(op.a, r, "q") .. " * " ..
      self:at(op.b, "q", c) .. ";")
    self:emit(self:at(op.out, r, c) .. " = sum;")
  end)
end

function Writer:map_loops(op)
  self:loops2(op.out.dims[1], op.out.dims[2], function(r, c)
    local e = self:expr(op.expr, function(i)
      return self:at(op.args[i], r, c)
    end)
    self:emit(self:at(op.out, r, c) .. assign(op.acc) .. e .. ";")
  end)
end

function Writer:fill_loops(op)
  self:loops2(op.out.dims[1], op.out.dims[2], function(r, c)
    self:emit(self:at(op.out, r, c) .. " = " .. self:lit(op.value) .. ";")
  end)
end

function Writer:softmax_loops(op)
  local n = op.out.dims[2]
  self:loops2(op.out.dims[1], 1, function(r)
    self:emit("{")
    self:emit(self.real .. " mx = " .. self:at(op.a, r, 0) .. ";")
    self:emit("for (int c = 1; c < " .. n .. "; ++c) mx = " .. self:at(op.a, r, "c") .. " > mx ? " ..
      self:at(op.a, r, "c") .. " : mx;")
    self:emit(self.real .. " total = " .. self:lit(0) .. ";")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) {")
    self:emit(self:at(op.out, r, "c") .. " = exp" .. self.fsuffix .. "(" .. self:at(op.a, r, "c") .. " - mx);")
    self:emit("total += " .. self:at(op.out, r, "c") .. ";")
    self:emit("}")
    self:emit(self.real .. " inv = " .. self:lit(1) .. " / total;")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. " *= inv;")
    self:emit("}")
  end)
end

function Writer:softmax_grad_loops(op)
  local n = op.out.dims[2]
  self:loops2(op.out.dims[1], 1, function(r)
    self:emit("{")
    self:emit(self.real .. " dot = " .. self:lit(0) .. ";")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) dot += " .. self:at(op.dy, r, "c") .. " * " ..
      self:at(op.y, r, "c") .. ";")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. assign(op.acc) ..
      self:at(op.y, r, "c") .. " * (" .. self:at(op.dy, r, "c") .. " - dot);")
    self:emit("}")
  end)
end

-- A time loop: unrolled (its body once per t, indices constant) when the
-- whole loop is small, else a C loop whose body indexes with t.
function Writer:loop_unrolled(op, unroll)
  for _, t in ipairs(ir.iterations(op)) do
    for _, b in ipairs(op.body) do
      self:op(ir.instantiate(b, t), unroll)
    end
  end
end

-- A loop bound in C: a number, or c + k * L.
local function bound_text(x)
  if type(x) == "number" then return tostring(x) end
  local text = x.l == 1 and "L" or (x.l .. " * L")
  if x.c > 0 then return text .. " + " .. x.c end
  if x.c < 0 then return text .. " - " .. -x.c end
  return text
end

-- Opens the C loop over t of a time loop op.
function Writer:loop_header(op)
  if op.reverse then
    self:emit(string.format("for (int t = %s; t >= %s; --t) {", bound_text(op.last), bound_text(op.first)))
  else
    self:emit(string.format("for (int t = %s; t <= %s; ++t) {", bound_text(op.first), bound_text(op.last)))
  end
end

function Writer:loop_loops(op, unroll)
  self:loop_header(op)
  for _, b in ipairs(op.body) do
    self:op(b, unroll)
  end
  self:emit("}")
end

function Writer:op(op, unroll)
  local style = ir.op_size(op) <= unroll and "_unrolled" or "_loops"
  if op.op == "matmul" and style == "_loops" and self:gemm_layout(op) then
    self:matmul_gemm(op)
    return
  end
  local f = self[op.op .. style]
  if not f then error("no lowering for " .. op.op) end
  f(self, op, unroll)
end

---------------------------------------------------------------- matrix products

-- Register blocks of the product kernel: MR rows by NR columns of the output
-- accumulate in registers while one pass over k streams a row of b per step
-- (with -O3 -march=native, 4 x 32 floats are eight AVX-512 registers; plain
-- C, so any C99 compiler takes it and vectorises it as far as it can).
local MR = 4
local LANES = { float32 = 16, float64 = 8 } -- reals per 64-byte vector
local NV_BLOCK, NV_ROW = 2, 8 -- vectors per block row: 4-row blocks, single rows
-- B larger than this (about half of a core's L2) is swept a column panel at a
-- time (measured on the LSTM(128) training step: bench/)
local PANEL_BYTES = 256 * 1024
local L1_SLICE_BYTES = 16 * 1024

-- The sample stride of a view's buffer inside a batched function (nil for
-- buffers all samples share: weights and their gradients).
function Writer:per_sample(v)
  return self.batched and self.sample_stride[v.buf] or nil
end

-- How a matmul maps onto the kernel C(i, j) (+)= sum_p A(i, p) B(p, j), with
-- B's and C's columns contiguous: returns {M, K (numbers or C expressions),
-- a/b/c = {view, row stride, column stride}, per_sample = bool (the kernel
-- runs once per sample, inside a loop over them)}; nil when the layout does
-- not suit the kernel. In a batched function the samples fold into the rows
-- (out and a per sample, b shared: one product over all samples' rows) or
-- into the reduction (out shared, a and b per sample: a weight gradient
-- summed over the samples) when the strides allow.
function Writer:gemm_layout(op)
  local o, a, b = op.out, op.a, op.b
  if o.strides[2] ~= 1 or b.strides[2] ~= 1 then return nil end
  local m, k = o.dims[1], a.dims[2]
  local so, sa, sb = self:per_sample(o), self:per_sample(a), self:per_sample(b)
  local g = {
    M = m, K = k, K1 = 1, aqs = 0, bqs = 0,
    a = { a, a.strides[1], a.strides[2] }, b = { b, b.strides[1] }, c = { o, o.strides[1] },
  }
  if not (so or sa or sb) or self.bvar then return g end
  if so and sa and not sb then
    if m == 1 then
      g.M, g.a[2], g.c[2] = "n", sa, so
      return g
    elseif so == m * o.strides[1] and sa == m * a.strides[1] then
      g.M = "n * " .. m
      return g
    end
  elseif sa and sb and not so then
    if k == 1 then
      g.K, g.a[3], g.b[2] = "n", sa, sb
    elseif sa == k * a.strides[2] and sb == k * b.strides[1] then
      g.K = "n * " .. k
    else
      -- the kernel's outer sum runs over the samples
      g.K1, g.aqs, g.bqs = "n", sa, sb
    end
    return g
  end
  g.per_sample = true
  return g
end

local function times(x, stride)
  if stride == 0 then return nil end
  if stride == 1 then return x end
  return x .. " * " .. stride
end

-- "a + b + ..." of the terms given, skipping nil ones (any position)
local function sum_text(...)
  local parts, args = {}, table.pack(...)
  for i = 1, args.n do
    if args[i] then parts[#parts + 1] = args[i] end
  end
  if #parts == 0 then return "0" end
  return table.concat(parts, " + ")
end

-- k of a depth "n * k"
local function k_of(text)
  return tonumber(text:match("^n %* (%d+)$")) or 1
end

-- The blocked product kernel for one matmul (see gemm_layout).
function Writer:matmul_gemm(op)
  local g = self:gemm_layout(op)
  local real, n_cols = self.real, op.out.dims[2]
  local lanes = LANES[self.dtype]
  self:emit("{")
  if g.per_sample then
    self:emit("for (int b = 0; b < n; ++b) {")
    self.bvar = "b"
  end
  local function base(spec)
    return self.names[spec[1].buf] .. " + " .. self:index(spec[1], 0, 0)
  end
  self:emit(string.format("const %s *const A = %s;", real, base(g.a)))
  self:emit(string.format("const %s *const B = %s;", real, base(g.b)))
  self:emit(string.format("%s *const C = %s;", real, base(g.c)))
  local ars, acs, brs, crs = g.a[2], g.a[3], g.b[2], g.c[2]
  local M, K = g.M, g.K
  local suffix = self.dtype == "float64" and "f64" or "f32"
  local size = self.dtype == "float64" and 8 or 4
  -- a weight gradient summed over the samples goes through them a few at a
  -- time, so the slice of B every row block reads stays in L1 (measured: 52
  -- -> 74 GFLOP/s on LSTM(128)'s recurrent-kernel gradient)
  local chunked = g.K1 ~= 1 and type(K) == "number"
  local per_chunk = chunked and math.max(1, L1_SLICE_BYTES // (K * math.min(lanes * NV_BLOCK, n_cols) * size)) or 1
  -- one block: rows i .. i + mr - 1, columns j0 .. j0 + width - 1; full
  -- blocks go to the runtime's register-blocked kernel (rnnc_kernels.h)
  local function block(mr, width, j0)
    if width % lanes == 0 then
      -- a chunk of samples: from sample qc, qn of them, summing onto the
      -- chunks before it
      local k1, q0 = g.K1, nil
      local accumulate = op.acc and "1" or "0"
      if chunked then k1, q0, accumulate = "qn", "qc", op.acc and "1" or "qc > 0" end
      self:emit(string.format("rnnc_block_%s(%d, %d, %s, %s, A + %s, %d, %d, %d, B + %s, %d, %d, C + %s, %d, %s);",
        suffix, mr, width, k1, K, sum_text(q0 and times(q0, g.aqs), times("i", ars)), ars, g.aqs, acs,
        sum_text(q0 and times(q0, g.bqs), j0), g.bqs, brs, sum_text(times("i", crs), j0), crs, accumulate))
      return
    end
    self:emit(string.format("%s acc[%d][%d];", real, mr, width))
    if chunked and not op.acc then
      self:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) acc[r][jj] = qc > 0 ? "
        .. "C[%s] : %s;", mr, width, sum_text(times("(i + r)", crs), j0, "jj"), self:lit(0)))
    elseif op.acc then
      self:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) acc[r][jj] = C[%s];",
        mr, width, sum_text(times("(i + r)", crs), j0, "jj")))
    else
      self:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) acc[r][jj] = %s;",
        mr, width, self:lit(0)))
    end
    if chunked then
      self:emit("for (int q = qc; q < qc + qn; ++q)")
    else
      self:emit(string.format("for (int q = 0; q < %s; ++q)", g.K1))
    end
    self:emit(string.format("for (int p = 0; p < %s; ++p) {", K))
    self:emit(string.format("const %s *const brow = B + %s;", real, sum_text(times("q", g.bqs), times("p", brs), j0)))
    self:emit(string.format("for (int r = 0; r < %d; ++r) {", mr))
    self:emit(string.format("const %s av = A[%s];", real, sum_text(times("(i + r)", ars), times("q", g.aqs),
      times("p", acs))))
    self:emit(string.format("for (int jj = 0; jj < %d; ++jj) acc[r][jj] += av * brow[jj];", width))
    self:emit("}")
    self:emit("}")
    self:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) C[%s] = acc[r][jj];",
      mr, width, sum_text(times("(i + r)", crs), j0, "jj")))
  end
  -- rows in blocks of MR then one by one; `cols(mr)` emits a row block's columns
  local function rows(cols)
    if type(M) == "number" then
      -- constant rows: bounds exact
      local whole = M - M % MR
      if whole > 0 then
        self:emit(string.format("for (int i = 0; i < %d; i += %d) {", whole, MR))
        cols(MR)
        self:emit("}")
      end
      if M % MR > 0 then
        self:emit(string.format("for (int i = %d; i < %d; ++i) {", whole, M))
        cols(1)
        self:emit("}")
      end
    else
      self:emit("{")
      self:emit("int i = 0;")
      self:emit(string.format("for (; i + %d <= %s; i += %d) {", MR, M, MR))
      cols(MR)
      self:emit("}")
      self:emit(string.format("for (; i < %s; ++i) {", M))
      cols(1)
      self:emit("}")
      self:emit("}")
    end
  end
  if chunked then
    self:emit(string.format("for (int qc = 0; qc < n; qc += %d) {", per_chunk))
    self:emit(string.format("const int qn = n - qc < %d ? n - qc : %d;", per_chunk, per_chunk))
  end
  local batch = self.batch or 1
  local k_total = (type(g.K) == "number" and g.K or (g.K == "n" and batch or batch * k_of(g.K)))
    * (g.K1 == 1 and 1 or batch)
  if k_total * n_cols * size > PANEL_BYTES then
    -- B is too big to stay in cache while every row block sweeps it: sweep
    -- the rows for one panel of B's columns at a time instead
    local nr = math.min(lanes * NV_BLOCK, n_cols)
    local full, tail = n_cols - n_cols % nr, n_cols % nr
    if full > 0 then
      self:emit(string.format("for (int j = 0; j < %d; j += %d) {", full, nr))
      rows(function(mr)
        block(mr, nr, "j")
      end)
      self:emit("}")
    end
    if tail > 0 then
      rows(function(mr)
        block(mr, tail, tostring(full))
      end)
    end
  else
    rows(function(mr)
      -- single rows take wider blocks: the row of B streams longer contiguous
      local nr = math.min(lanes * (mr == 1 and NV_ROW or NV_BLOCK), n_cols)
      local full, tail = n_cols - n_cols % nr, n_cols % nr
      if full > 0 then
        self:emit(string.format("for (int j = 0; j < %d; j += %d) {", full, nr))
        block(mr, nr, "j")
        self:emit("}")
      end
      if tail > 0 then
        self:emit("{")
        block(mr, tail, tostring(full))
        self:emit("}")
      end
    end)
  end
  if chunked then self:emit("}") end
  if g.per_sample then
    self:emit("}")
    self.bvar = nil
  end
  self:emit("}")
end

---------------------------------------------------------------- batches

-- Whether an op needs the samples of a batch together: a matrix product big
-- enough for the kernel over per-sample data (so the samples fold into one
-- product), or a loop holding one.
function Writer:batch_op(op, unroll)
  if op.op == "loop" then
    if ir.op_size(op) <= unroll then return false end
    for _, b in ipairs(op.body) do
      if self:batch_op(b, unroll) then return true end
    end
    return false
  end
  if op.op ~= "matmul" or ir.op_size(op) <= unroll then return false end
  local g = self:gemm_layout(op)
  return g ~= nil and not g.per_sample
    and (self:per_sample(op.out) or self:per_sample(op.a) or self:per_sample(op.b)) ~= nil
end

-- Whether an op touches no per-sample array (it runs once, not per sample).
function Writer:shared_op(op)
  if op.op == "loop" then
    for _, b in ipairs(op.body) do
      if not self:shared_op(b) then return false end
    end
    return true
  end
  if self:per_sample(op.out) then return false end
  for _, v in ipairs(ir.op_reads(op)) do
    if self:per_sample(v) then return false end
  end
  return true
end

-- Lowers a list of ops; ops of at most `unroll` multiply-adds (or elements)
-- are unrolled, larger ones become loops. In a batched function, runs of ops
-- that work sample by sample share one loop over the samples (each sample's
-- work stays together in cache); big matrix products take all samples at
-- once, and a time loop holding one steps all samples through each step.
function Writer:ops(ops, unroll)
  if not self.batched then
    for _, op in ipairs(ops) do
      self:op(op, unroll)
    end
    return self.lines
  end
  local run = {}
  local function flush()
    if #run == 0 then return end
    self:emit("for (int b = 0; b < n; ++b) {")
    self.bvar = "b"
    for _, op in ipairs(run) do
      self:op(op, unroll)
    end
    self.bvar = nil
    self:emit("}")
    run = {}
  end
  for _, op in ipairs(ops) do
    local guard = op.op ~= "loop" and self.optional_out[op.out.buf]
    if guard then
      -- an output the caller may not want (dx = NULL): skip its work
      flush()
      self:emit("if (" .. guard .. ") {")
      self.optional_out[op.out.buf] = nil
      self:ops({ op }, unroll)
      self.optional_out[op.out.buf] = guard
      self:emit("}")
    elseif self:batch_op(op, unroll) then
      flush()
      if op.op == "loop" then
        self:loop_header(op)
        self:ops(op.body, unroll)
        self:emit("}")
      else
        self:matmul_gemm(op)
      end
    elseif self:shared_op(op) then
      flush()
      self:op(op, unroll)
    else
      run[#run + 1] = op
    end
  end
  flush()
  return self.lines
end

---------------------------------------------------------------- the unit

local template = require("template")

local catalog = require("catalog")

-- C names of every buffer: params w_, their gradients g_, activations a_,
-- backward temporaries d_; the caller's arrays by role.
local function buffer_names(prog)
  local names, seen = {}, {}
  for _, buf in ipairs(prog.buffers) do
    local n
    if buf.kind == "param" then
      n = "w_" .. cwriter.ident(buf.name)
    elseif buf.kind == "pgrad" then
      n = "g_" .. cwriter.ident(buf.name:sub(3))
    elseif buf.kind == "act" then
      n = "a_" .. cwriter.ident(buf.name)
    elseif buf.kind == "tmp" then
      n = "d_" .. cwriter.ident(buf.name:sub(3))
    elseif buf.kind == "input" or buf.kind == "output" then
      n = cwriter.ident(buf.name) .. "_b"
    elseif buf.kind == "state" then
      n = "state_" .. cwriter.ident(buf.name:sub(7))
    elseif buf.kind == "wtrans" then
      n = "wt_" .. cwriter.ident(buf.name:sub(8))
    else
      n = "zero_" .. cwriter.ident(buf.name)
    end
    if seen[n] then error("two buffers map to the C name " .. n) end
    seen[n] = true
    names[buf] = n
  end
  return names
end

local function referenced(ops)
  local used = {}
  for _, op in ipairs(ir.flatten(ops)) do
    used[op.out.buf] = true
    for _, v in ipairs(ir.op_reads(op)) do
      used[v.buf] = true
    end
  end
  return used
end

-- The body of a batched function: pointers to every array it uses (the
-- per-sample ones to their first sample's block), then the ops (Writer:ops
-- places the loops over the samples). `caller` maps the caller's arrays
-- (input/output buffer names) to C expressions of their base pointers.
local function batch_body(unit, names, ops, opts, caller, extra_used, helpers)
  local w = cwriter.new(opts.dtype, names)
  w.batched, w.batch = true, unit.batch
  local used = referenced(ops)
  for b in pairs(extra_used or {}) do
    used[b] = true
  end
  local real = w.real
  w:emit("(void)p;")
  w:emit("(void)s;")
  -- weights in the order of the flat parameter vector
  local params = {}
  for _, buf in ipairs(unit.prog.buffers) do
    if buf.kind == "param" or buf.kind == "pgrad" then params[#params + 1] = buf end
  end
  table.sort(params, function(x, y)
    if x.kind ~= y.kind then return x.kind < y.kind end
    return x.weight.offset < y.weight.offset
  end)
  for _, buf in ipairs(params) do
    if used[buf] and buf.kind == "param" then
      w:emit(string.format("const %s *const %s = p->flat + %d;", real, names[buf], buf.weight.offset))
    elseif used[buf] and buf.kind == "pgrad" then
      w:emit(string.format("%s *const %s = grad->flat + %d;", real, names[buf], buf.weight.offset))
    end
  end
  if unit.variable then
    -- the run-time sequence length (NAME_set_steps); 0 means the maximum
    w:emit(string.format("const int L = s->steps > 0 ? s->steps : %d;", unit.max_steps))
    w:emit("(void)L;")
  end
  for _, buf in ipairs(unit.prog.buffers) do
    if used[buf] then
      local n = names[buf]
      if buf.kind == "act" or buf.kind == "tmp" then
        w:emit(string.format("%s *const %s = &s->%s[0][0];", real, n, n))
        w.sample_stride[buf] = buf.size
      elseif buf.kind == "input" or buf.kind == "output" then
        local c = caller[buf.name]
        if not c then error("no caller array for " .. buf.name) end
        w:emit(string.format("%s%s *const %s = %s;", buf.kind == "input" and "const " or "", real, n, c))
        w.sample_stride[buf] = buf.size
        if buf.name == "dx" then w.optional_out[buf] = "dx" end
      elseif buf.kind == "wtrans" then
        w:emit(string.format("%s *const %s = s->%s;", real, n, n))
      elseif buf.kind == "zero" then
        error("the zero buffer " .. buf.name .. " survived simplification")
      end
    end
  end
  if caller.copy_input then
    local n = names[unit.x.buf]
    w:emit(string.format("memcpy(%s, x, sizeof(%s) * (size_t)n * %d);", n, real, unit.x.buf.size))
  end
  w:ops(ops, opts.unroll)
  for k in pairs(w.helpers) do
    helpers[k] = true
  end
  return table.concat(w.lines, "\n")
end

-- The streaming API: one timestep of one sample, the recurrent states and the
-- activations of that step kept in the caller's NAME_stream.
local function stream_code(unit, opts, helpers)
  local name, stream = opts.name, unit.stream
  local real = opts.dtype == "float64" and "double" or "float"
  local upper = name:upper()
  if not stream then
    return string.format("/* No streaming API (%s_stream_step): %s. */\n", name, unit.no_stream), "",
      "0, 0, 0, NULL, NULL"
  end
  local names = buffer_names(stream.prog)
  local used = referenced(stream.forward)
  local fields, reset = {}, {}
  local w = cwriter.new(opts.dtype, names)
  w:emit("(void)p;")
  for _, buf in ipairs(stream.prog.buffers) do
    local n = names[buf]
    if buf.kind == "param" and used[buf] then
      w:emit(string.format("const %s *const %s = p->flat + %d;", real, n, buf.weight.offset))
    elseif buf.kind == "act" and used[buf] then
      fields[#fields + 1] = string.format("  %s %s[%d];", real, n, buf.size)
      w:emit(string.format("%s *const %s = st->%s;", real, n, n))
    elseif buf.kind == "state" then
      fields[#fields + 1] = string.format("  %s %s[%d]; /* %s's states */", real, n, buf.size, buf.name:sub(7))
      reset[#reset + 1] = string.format("memset(st->%s, 0, sizeof st->%s);", n, n)
      w:emit(string.format("%s *const %s = st->%s;", real, n, n))
    end
  end
  w:emit(string.format("const %s *const %s = x_t;", real, names[stream.x.buf]))
  w:emit(string.format("%s *const %s = y_t;", real, names[stream.y.buf]))
  w:ops(stream.forward, opts.unroll)
  for k in pairs(w.helpers) do
    helpers[k] = true
  end
  if #reset == 0 then
    fields[#fields + 1] = "  char unused; /* the model keeps no state */"
    reset[1] = "(void)st;"
  end
  local decl = table.concat({
    "/* Streaming inference: batch 1, one timestep per call, the recurrent state",
    " * kept between calls (real-time audio, control). After NAME_stream_reset,",
    " * the k-th call's y_t is the model's output for the sequence of the k",
    " * timesteps given so far (its last row with return_sequences). */",
    string.format("#define %s_STREAM_INPUT_SIZE %d", upper, stream.input_size),
    string.format("#define %s_STREAM_OUTPUT_SIZE %d", upper, stream.output_size),
    "typedef struct {",
    table.concat(fields, "\n"),
    string.format("} %s_stream;", name),
    "/* Zero state: the next step starts a new sequence. */",
    string.format("void %s_stream_reset(%s_stream *st);", name, name),
    string.format("/* x_t: %s_STREAM_INPUT_SIZE reals, y_t: %s_STREAM_OUTPUT_SIZE. */", upper, upper),
    string.format("void %s_stream_step(const %s_params *p, %s_stream *st, const %s *x_t, %s *y_t);", name, name,
      name, real, real),
    "",
  }, "\n"):gsub("NAME_", name .. "_")
  local def = table.concat({
    string.format("void %s_stream_reset(%s_stream *st) {", name, name),
    table.concat(reset, "\n"),
    "}",
    "",
    string.format("void %s_stream_step(const %s_params *p, %s_stream *st, const %s *x_t, %s *y_t) {", name, name,
      name, real, real),
    table.concat(w.lines, "\n"),
    "}",
    "",
    string.format("static void %s_stream_reset_any(void *st) {", name),
    string.format("  %s_stream_reset((%s_stream *)st);", name, name),
    "}",
    string.format("static void %s_stream_step_any(const void *p, void *st, const void *x_t, void *y_t) {", name),
    string.format("  %s_stream_step((const %s_params *)p, (%s_stream *)st, (const %s *)x_t, (%s *)y_t);", name, name,
      name, real, real),
    "}",
  }, "\n")
  local desc = string.format("sizeof(%s_stream), %d, %d, %s_stream_reset_any, %s_stream_step_any", name,
    stream.input_size, stream.output_size, name, name)
  return decl, def, desc
end

local function dtype_info(dtype)
  if dtype == "float64" then
    return { real = "double", suffix = "f64", enum = "RNNC_F64" }
  end
  return { real = "float", suffix = "f32", enum = "RNNC_F32" }
end

-- The unit's rnnc_optimizer initializer (every field, in rnnc.h's order),
-- its name, and how many reals of state it keeps per parameter. Without
-- compile{}: Keras's default optimizer (catalog.default_optimizer).
local function optimizer_config(compiled)
  local c = compiled and compiled.optimizer or require("training").default_optimizer()
  local function num(v)
    return cwriter.real_literal(v or 0, "float64")
  end
  local function flag(v)
    return v and "1" or "0"
  end
  local lr, decay_steps, decay_rate, staircase = c.learning_rate, 0, 0, false
  if type(lr) == "table" then -- an ExponentialDecay schedule
    lr, decay_steps, decay_rate, staircase = lr.initial_learning_rate, lr.decay_steps, lr.decay_rate, lr.staircase
  end
  -- designated initializers: fields left out are zero, which rnnc.h defines as "off"
  local schedule = { decay_steps = decay_steps, decay_rate = decay_rate, staircase = staircase }
  local values = { { "kind", catalog.opt_enum(c.kind) } }
  for _, f in ipairs(catalog.optimizer_fields) do
    local v = f.keras == "learning_rate" and lr or f.keras and c[f.keras] or schedule[f.c]
    values[#values + 1] = { f.c, f.flag and flag(v) or num(v) }
  end
  local fields = {}
  for _, f in ipairs(values) do
    if f[2] ~= "0" and f[2] ~= "0.0" then fields[#fields + 1] = "." .. f[1] .. " = " .. f[2] end
  end
  return "{" .. table.concat(fields, ", ") .. "}", catalog.optimizer[c.kind].class, catalog.optimizer_slots(c)
end

-- Reals per sample of the training target: labels of output 0's rows for
-- sparse crossentropy, else output 0 itself.
local function target_size_of(unit, loss)
  if loss == "sparse_categorical_crossentropy" then return unit.outputs[1].rows end
  return unit.outputs[1].size
end

local function dims_list(dims)
  local t = {}
  for i = 1, 4 do
    t[i] = tostring(dims[i] or 0)
  end
  return table.concat(t, ", ")
end

-- The static helpers the lowered ops call; only the ones used, so no
-- compiler warns about an unused function.
local function helper_functions(used, dtype)
  local real = dtype == "float64" and "double" or "float"
  local out = {}
  local constants = { ONE = 1, ZERO = 0, C2_5 = 2.5, C0_2 = 0.2, C0_5 = 0.5 }
  for _, k in ipairs(HELPER_ORDER) do
    if used[k] then
      local body = HELPER_BODY[k]:gsub("[%u%d_]+", function(word)
        return constants[word] and cwriter.real_literal(constants[word], dtype) or word
      end)
      body = body:gsub("expF", real == "float" and "rnnc_expf" or "exp")
      out[#out + 1] = string.format("static inline %s rnnc_%s(%s v) {\n  %s\n}", real, k, real, body)
    end
  end
  return table.concat(out, "\n")
end

-- Returns { [file name] = text } for <name>.h, <name>.c and <name>_main.c.
-- opts: name, dtype, unroll, provenance (comment text), templates (dir),
-- spec (reference-runtime text), summary (text).
function cwriter.unit(unit, opts)
  local name = opts.name
  local info = dtype_info(opts.dtype)
  local real = info.real
  local names = buffer_names(unit.prog)
  local prog = unit.prog
  local in_size, out_size = unit.x.buf.size, unit.y.buf.size
  -- the loss applies to output 0
  local rows, cols = unit.outputs[1].rows, unit.outputs[1].cols
  local out0_size = unit.outputs[1].size
  local several = #unit.outputs > 1
  local compiled = unit.model.compiled
  local loss = compiled and compiled.loss

  -- Struct fields.
  local param_fields = {}
  for _, wt in ipairs(unit.weights) do
    local dims = {}
    for i, d in ipairs(wt.shape) do
      dims[i] = "[" .. d .. "]"
    end
    param_fields[#param_fields + 1] = string.format("    %s %s%s;", real, cwriter.ident(wt.name), table.concat(dims))
  end
  local all_ops = {}
  for _, list in ipairs({ unit.forward, unit.backward, unit.backward_logits or {} }) do
    for _, op in ipairs(list) do
      all_ops[#all_ops + 1] = op
    end
  end
  local used = referenced(all_ops)
  used[unit.x.buf] = true
  local scratch_fields = {}
  for _, buf in ipairs(prog.buffers) do
    -- activations and backward temporaries per sample: a batch goes
    -- through each step together
    if used[buf] and (buf.kind == "act" or buf.kind == "tmp") then
      scratch_fields[#scratch_fields + 1] = string.format("  %s %s[%d][%d];", real, names[buf], unit.batch, buf.size)
    elseif used[buf] and buf.kind == "wtrans" then
      scratch_fields[#scratch_fields + 1] = string.format("  %s %s[%d]; /* a weight, transposed */", real,
        names[buf], buf.size)
    end
  end

  local helpers = {}
  if several or (unit.variable and rows > 1) then
    -- output 0 gathered contiguous for the loss, and its gradient
    scratch_fields[#scratch_fields + 1] = string.format("  %s y0[%d];", real, unit.batch * out0_size)
    scratch_fields[#scratch_fields + 1] = string.format("  %s dloss0[%d];", real, unit.batch * out0_size)
  end
  if unit.variable and rows > 1 then
    scratch_fields[#scratch_fields + 1] = string.format("  %s t0[%d];", real,
      unit.batch * target_size_of(unit, loss))
  end
  local fwd = batch_body(unit, names, unit.forward, opts, {
    y = "y",
    copy_input = true,
  }, { [unit.x.buf] = true }, helpers)
  local dx_ptr = "dx ? dx : s->dx_sink"
  local zero_grad = "memset(grad, 0, sizeof *grad);\n"
  local bwd = zero_grad .. batch_body(unit, names, unit.backward, opts, {
    dy = "dy",
    dx = dx_ptr,
  }, nil, helpers)
  local bwd_logits = ""
  local loss_grad
  local fused = unit.backward_logits ~= nil
  if fused then
    local body = zero_grad .. batch_body(unit, names, unit.backward_logits, opts, {
      dlogits = "dlogits",
      dx = dx_ptr,
    }, nil, helpers)
    bwd_logits = string.format([[

/* Backward from d(loss)/d(logits): Keras's softmax + crossentropy fusion. */
static void %s_backward_logits(const %s_params *p, %s_scratch *s, const %s *dlogits, %s_params *grad, %s *dx, int n) {
%s
}
]], name, name, name, real, name, real, body)
  end
  if not loss then
    loss_grad = table.concat({
      "(void)p; (void)s; (void)x; (void)target; (void)grad; (void)dx; (void)y_pred; (void)n;",
      "return NAN; /* the model was not compiled with a loss */",
    }, "\n")
  else
    local lines = { string.format("%s_forward(p, s, x, s->y, n);", name) }
    -- The loss reads rows x cols of output 0 (or of the logits) per sample.
    -- It reads them in place when they lie contiguous for the whole batch;
    -- else (several outputs, or sequences shorter than the maximum) they are
    -- gathered into y0 with their targets, and the gradient scattered back.
    local seq = unit.variable and rows > 1
    local packed = several or seq
    local sparse = loss == "sparse_categorical_crossentropy"
    local tcols = sparse and 1 or cols
    local src, src_stride = "s->y", out_size
    if fused then
      local lbuf = unit.logits.buf
      if unit.logits.off ~= 0 or ir.count(unit.logits) ~= lbuf.size then error("logits must be a whole buffer") end
      src, src_stride = "&s->" .. names[lbuf] .. "[0][0]", lbuf.size
    end
    local rows_here = tostring(rows)
    if seq then
      lines[#lines + 1] = string.format("const int L = s->steps > 0 ? s->steps : %d;", unit.max_steps)
      rows_here = "L"
    end
    local pred, dpred, tgt = src, "s->dloss", "target"
    if packed then
      pred, dpred = "s->y0", "s->dloss0"
      local per = string.format("(size_t)%s * %d", rows_here, cols)
      local tper = string.format("(size_t)%s * %d", rows_here, tcols)
      lines[#lines + 1] = "for (int b = 0; b < n; ++b) {"
      lines[#lines + 1] = string.format("memcpy(s->y0 + (size_t)b * %s, %s + (size_t)b * %d, sizeof(%s) * %s);",
        per, src, src_stride, real, per)
      if seq then
        tgt = "s->t0"
        lines[#lines + 1] = string.format("memcpy(s->t0 + (size_t)b * %s, target + (size_t)b * %d, sizeof(%s) * %s);",
          tper, target_size_of(unit, loss), real, tper)
      end
      lines[#lines + 1] = "}"
    end
    -- the runtime's loss function: from the logits Keras keeps of a softmax or
    -- sigmoid output (fused), or of a model built with from_logits=True
    local from_logits = fused or (compiled and compiled.from_logits)
    local fn = catalog.loss[loss][from_logits and "fn_logits" or "fn"] .. "_"
    lines[#lines + 1] = string.format("double loss = %s%s(%s, %s, (size_t)n * %s, %d, %s);", fn, info.suffix, pred,
      tgt, rows_here, cols, dpred)
    lines[#lines + 1] = "if (isnan(loss)) return loss;"
    if packed then
      -- no gradient reaches the other outputs, or the rows past L
      local per = string.format("(size_t)%s * %d", rows_here, cols)
      lines[#lines + 1] = string.format("memset(s->dloss, 0, sizeof(%s) * (size_t)n * %d);", real, src_stride)
      lines[#lines + 1] = string.format("for (int b = 0; b < n; ++b) memcpy(s->dloss + (size_t)b * %d, "
        .. "s->dloss0 + (size_t)b * %s, sizeof(%s) * %s);", src_stride, per, real, per)
    end
    lines[#lines + 1] = string.format("%s_%s(p, s, s->dloss, grad, dx, n);", name,
      fused and "backward_logits" or "backward")
    lines[#lines + 1] = string.format("if (y_pred) memcpy(y_pred, s->y, sizeof(%s) * (size_t)n * %d);", real,
      out_size)
    lines[#lines + 1] = "return loss;"
    loss_grad = table.concat(lines, "\n")
  end

  local tensors = {}
  for _, wt in ipairs(unit.weights) do
    tensors[#tensors + 1] = string.format('    {"%s", %d, {%s}, %d, %d, %s},', wt.name, #wt.shape,
      dims_list(wt.shape), wt.offset, wt.size, catalog.init_enum(wt.init))
  end
  local opt_config, opt_name, slots_per_param = optimizer_config(compiled)
  local target_size = target_size_of(unit, loss)
  local out_shape = unit.y_shape
  local vars = {
    PROVENANCE = opts.provenance,
    NAME = name,
    UPPER = name:upper(),
    GUARD = name:upper() .. "_H",
    REAL = real,
    BATCH = unit.batch,
    INPUT_SIZE = in_size,
    OUTPUT_SIZE = out_size,
    TARGET_SIZE = target_size,
    N_PARAMS = unit.n_params,
    PARAM_FIELDS = table.concat(param_fields, "\n"),
    SCRATCH_FIELDS = table.concat(scratch_fields, "\n"),
    OPTIMIZER = opt_name,
    OPT_SLOTS = math.max(1, slots_per_param * unit.n_params),
    LOSS = loss or "none",
    MAX_STEPS_DOC = unit.max_steps,
  }
  local stream_def, stream_desc
  vars.STREAM_DECL, stream_def, stream_desc = stream_code(unit, opts, helpers)
  local h = template.render(template.load(opts.templates, "unit.h.in"), vars, "unit.h.in")
  vars.GUARD, vars.UPPER, vars.PARAM_FIELDS, vars.SCRATCH_FIELDS, vars.OPTIMIZER, vars.OPT_SLOTS, vars.LOSS =
    nil, nil, nil, nil, nil, nil, nil
  vars.MAX_STEPS_DOC, vars.STREAM_DECL = nil, nil
  vars.STREAM_DEF, vars.STREAM_DESC = stream_def, stream_desc
  vars.MAX_STEPS = unit.max_steps
  vars.MIN_STEPS = unit.variable and 1 or unit.max_steps
  vars.VARIABLE_STEPS = unit.variable and 1 or 0
  vars.HELPERS = helper_functions(helpers, opts.dtype)
  vars.N_TENSORS = #unit.weights
  vars.TENSORS = table.concat(tensors, "\n")
  vars.SPEC = cwriter.c_string(opts.spec)
  vars.SUMMARY = cwriter.c_string(opts.summary)
  vars.SUFFIX = info.suffix
  vars.FORWARD = fwd
  vars.BACKWARD = bwd
  vars.BACKWARD_LOGITS = bwd_logits
  vars.LOSS_GRAD = loss_grad
  vars.OPTIMIZER_CONFIG = opt_config
  vars.DTYPE_ENUM = info.enum
  vars.INPUT_RANK = #unit.x_shape
  vars.INPUT_SHAPE = dims_list(unit.x_shape)
  vars.OUTPUT_RANK = #out_shape
  vars.OUTPUT_SHAPE = dims_list(out_shape)
  vars.OUTPUT_ROWS = rows
  vars.OUTPUT_COLS = cols
  vars.N_OUTPUTS = #unit.outputs
  local outs = {}
  for _, o in ipairs(unit.outputs) do
    outs[#outs + 1] = string.format("{%d, {%s}, %d, %d}", #o.shape, dims_list(o.shape), o.offset, o.size)
  end
  vars.OUTPUTS = table.concat(outs, ", ")
  vars.N_INPUTS = #unit.inputs
  local ins = {}
  for _, d in ipairs(unit.inputs) do
    ins[#ins + 1] = string.format("{%d, {%s}, %d, %d}", #d.shape, dims_list(d.shape), d.offset, d.size)
  end
  vars.INPUTS = table.concat(ins, ", ")
  vars.LOSS_ENUM = loss and catalog.loss_enum(loss) or "RNNC_LOSS_NONE"
  -- compile{}'s metrics reach the driver's fit and evaluate with fit{}'s defaults
  local defaults = {}
  local compile_metrics = compiled and compiled.metrics or {}
  if #compile_metrics > 0 then defaults[1] = "metrics=" .. table.concat(compile_metrics, ",") end
  local fit = unit.model.fit_defaults
  if fit and fit ~= "" then defaults[#defaults + 1] = fit end
  vars.FIT_DEFAULTS = cwriter.c_string(table.concat(defaults, " "))
  local metrics = compiled and compiled.metrics or {}
  local has_accuracy = false
  for _, m in ipairs(metrics) do
    if m == "accuracy" then has_accuracy = true end
  end
  vars.METRIC_ACCURACY = has_accuracy and 1 or 0
  local c = template.render(template.load(opts.templates, "unit.c.in"), vars, "unit.c.in")
  local main = template.render(template.load(opts.templates, "main.c.in"),
    { PROVENANCE = opts.provenance, NAME = name }, "main.c.in")
  return { [name .. ".h"] = h, [name .. ".c"] = c, [name .. "_main.c"] = main }
end

return cwriter
