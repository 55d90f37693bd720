-- Op emission: an IR op as C statements, written out (constant indices) or
-- as loops with constant bounds, and the grouping of a batched function's
-- ops into loops over the samples. Matrix products go to gemm.lua.
local ir = require("ir")
local syntax = require("cwriter.syntax")
local gemm = require("cwriter.gemm")
local irtext = require("irtext")

local ops = {}

local index = syntax.index

local Writer = {}
Writer.__index = Writer

-- Unary functions written as static helpers in the unit. In a body, REAL is
-- the unit's real type, the capitalised names constants spelled per dtype
-- (cwriter/unit.lua), and expF, log1pF, erfF, fabsF, tanhF libm's functions
-- of that type (float32: the runtime's rnnc_expf and rnnc_tanhf).
local HELPER_BODY = {
  sigmoid = "return ONE / (ONE + expF(-v));",
  relu = "return v < ZERO ? ZERO : v;", -- a NaN passes through
  step = "return v > ZERO ? ONE : ZERO;",
  -- Keras 3: relu6(v + 3) / 6
  hard_sigmoid = "REAL s = v + C3;\n  return s <= ZERO ? ZERO : (s >= C6 ? ONE : s / C6);",
  hard_sigmoid_grad = "return (v > -C3 && v < C3) ? ONE / C6 : ZERO;",
  -- tf.keras 2.x: clip(0.2 v + 0.5, 0, 1)
  hard_sigmoid_keras2 = "return v <= -C2_5 ? ZERO : (v >= C2_5 ? ONE : C0_2 * v + C0_5);",
  hard_sigmoid_keras2_grad = "return (v > -C2_5 && v < C2_5) ? C0_2 : ZERO;",
  softplus = "return (v > ZERO ? v : ZERO) + log1pF(expF(-fabsF(v)));",
  softsign = "return v / (ONE + fabsF(v));",
  softsign_grad = "REAL d = ONE + fabsF(v);\n  return ONE / (d * d);",
  gelu = "return C0_5 * v * (ONE + erfF(v / SQRT2));",
  gelu_grad = "return C0_5 * (ONE + erfF(v / SQRT2)) + v * expF(-C0_5 * v * v) * INV_SQRT_2PI;",
  gelu_approximate = "return C0_5 * v * (ONE + tanhF(SQRT_2_OVER_PI * (v + C0_044715 * v * v * v)));",
  gelu_approximate_grad = "REAL t = tanhF(SQRT_2_OVER_PI * (v + C0_044715 * v * v * v));\n"
    .. "  return C0_5 * (ONE + t) + C0_5 * v * (ONE - t * t) * SQRT_2_OVER_PI * (ONE + C0_134145 * v * v);",
  -- the normalisation and pooling layers'
  rsqrt = "return ONE / sqrtF(v);",
  recip = "return ONE / v;",
  ge0 = "return v >= ZERO ? ONE : ZERO;",
}
local HELPER_ORDER = { "sigmoid", "relu", "step", "hard_sigmoid", "hard_sigmoid_grad", "hard_sigmoid_keras2",
  "hard_sigmoid_keras2_grad", "softplus", "softsign", "softsign_grad", "gelu", "gelu_grad", "gelu_approximate",
  "gelu_approximate_grad", "rsqrt", "recip", "ge0" }
-- The constants of the bodies above.
local HELPER_CONSTANTS = { ONE = 1, ZERO = 0, C2_5 = 2.5, C0_2 = 0.2, C0_5 = 0.5, C3 = 3, C6 = 6,
  SQRT2 = 1.4142135623730951, INV_SQRT_2PI = 0.3989422804014327, SQRT_2_OVER_PI = 0.7978845608028654,
  C0_044715 = 0.044715, C0_134145 = 0.134145 }

-- names: buffer -> C pointer variable
function ops.new(dtype, names)
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
  local ring = self.ring and self.ring[v.buf]
  if ring then return self:ring_index(v, r, c, ring) end
  local i = index(v, r, c)
  local stride = self.bvar and self.sample_stride[v.buf]
  if not stride then return i end
  if i == "0" then return self.bvar .. " * " .. stride end
  return self.bvar .. " * " .. stride .. " + " .. i
end

-- An element of a ring buffer (the stream's receptive field of a
-- convolution): the view addresses logical rows, oldest first; row j lives
-- in storage row (pos + j) % rows, pos the ring's start in the stream
-- struct. Views of one row, as the convolutions read and write it.
function Writer.ring_index(_, v, r, c, ring)
  if v.dims[1] ~= 1 or v.toff ~= 0 or v.loff ~= 0 or r ~= 0 then
    error("internal: a ring buffer view must be one row of one step")
  end
  local cols = v.buf.cols
  local row, col = v.off // cols, v.off % cols
  if col + (v.dims[2] - 1) * v.strides[2] >= cols then error("internal: a ring buffer view crosses a row") end
  local col_text = index(ir.view(v.buf, col, 1, v.dims[2], cols, v.strides[2]), 0, c)
  local start = row == 0 and ring.pos or string.format("(%s + %d) %% %d", ring.pos, row, v.buf.rows)
  return string.format("%s * %d + %s", start, cols, col_text)
end

function Writer:at(v, r, c)
  local name = self.names[v.buf]
  if not name then error("buffer " .. v.buf.name .. " has no C name") end
  return name .. "[" .. self:index(v, r, c) .. "]"
end

function Writer:lit(x)
  return syntax.real_literal(x, self.dtype)
end

function Writer:expr(e, arg)
  local k = e[1]
  if k == "arg" then return arg(e[2]) end
  if k == "const" then return self:lit(e[2]) end
  if k == "noise" then
    -- a noise layer's mask value (ir.lua): the runtime's counter-based
    -- rnnc_noise_value of the scratch's key, this sample's index in the
    -- step's batch and the element's index in the (per-sample) buffer
    if not self.bvar or not self.elem then error("internal: a noise value outside a batched map") end
    local seed = e[5] and string.format("UINT64_C(%d)", e[5]) or "s->noise_seed"
    local sample = e[6] and ("(uint64_t)(s->noise_first + " .. self.bvar .. ")") or "0"
    return string.format("(%s)rnnc_noise_value(%d, %s, %s, UINT64_C(%s), (uint64_t)s->noise_step, %s, "
      .. "(uint64_t)(%s))", self.real, e[2], syntax.real_literal(e[3], "float64"), seed,
      string.format("%d", e[4]), sample, self.elem)
  end
  if k == "inv_count" then
    -- n: the samples of the call, in the batched functions
    return "(" .. self:lit(1) .. " / (" .. self.real .. ")(n * " .. (e[3] and "L" or tostring(e[2])) .. "))"
  end
  if k == "add" then return "(" .. self:expr(e[2], arg) .. " + " .. self:expr(e[3], arg) .. ")" end
  if k == "sub" then return "(" .. self:expr(e[2], arg) .. " - " .. self:expr(e[3], arg) .. ")" end
  if k == "mul" then return self:expr(e[2], arg) .. " * " .. self:expr(e[3], arg) end
  if k == "neg" then return "(-" .. self:expr(e[2], arg) .. ")" end
  if k == "max" then
    -- a when a >= b (a pooling window's first maximum)
    self.helpers.max = true
    return "rnnc_max(" .. self:expr(e[2], arg) .. ", " .. self:expr(e[3], arg) .. ")"
  end
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
      self.elem = index(op.out, r, c)
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
  local exp = "exp" .. self.fsuffix
  for r = 0, op.out.dims[1] - 1 do
    self:emit("{")
    self:emit(self.real .. " mx = " .. self:at(op.a, r, 0) .. ";")
    for c = 1, n - 1 do
      local a = self:at(op.a, r, c)
      self:emit("mx = " .. a .. " > mx ? " .. a .. " : mx;")
    end
    if op.log then
      -- log_softmax: (a - max) - log(sum(exp(a - max)))
      local terms = {}
      for c = 0, n - 1 do
        terms[#terms + 1] = exp .. "(" .. self:at(op.a, r, c) .. " - mx)"
      end
      self:emit(self.real .. " lt = log" .. self.fsuffix .. "(" .. table.concat(terms, " + ") .. ");")
      for c = 0, n - 1 do
        self:emit(self:at(op.out, r, c) .. " = (" .. self:at(op.a, r, c) .. " - mx) - lt;")
      end
    else
      for c = 0, n - 1 do
        self:emit(self:at(op.out, r, c) .. " = " .. exp .. "(" .. self:at(op.a, r, c) .. " - mx);")
      end
      local terms = {}
      for c = 0, n - 1 do
        terms[#terms + 1] = self:at(op.out, r, c)
      end
      self:emit(self.real .. " inv = " .. self:lit(1) .. " / (" .. table.concat(terms, " + ") .. ");")
      for c = 0, n - 1 do
        self:emit(self:at(op.out, r, c) .. " *= inv;")
      end
    end
    self:emit("}")
  end
end

function Writer:softmax_grad_unrolled(op)
  local n = op.out.dims[2]
  for r = 0, op.out.dims[1] - 1 do
    local terms = {}
    for c = 0, n - 1 do
      terms[#terms + 1] = self:at(op.dy, r, c) .. (op.log and "" or (" * " .. self:at(op.y, r, c)))
    end
    self:emit("{")
    self:emit(self.real .. " dot = " .. table.concat(terms, " + ") .. ";")
    for c = 0, n - 1 do
      if op.log then
        -- log_softmax: dy - softmax * sum(dy), softmax = exp(y)
        self:emit(self:at(op.out, r, c) .. assign(op.acc) .. self:at(op.dy, r, c) .. " - exp" .. self.fsuffix ..
          "(" .. self:at(op.y, r, c) .. ") * dot;")
      else
        self:emit(self:at(op.out, r, c) .. assign(op.acc) .. self:at(op.y, r, c) .. " * (" ..
          self:at(op.dy, r, c) .. " - dot);")
      end
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
  elseif rows > 1 then
    body(r, 0)
  else
    -- a block even without a loop: the body declares its temporaries
    self:emit("{")
    body(r, 0)
    self:emit("}")
  end
  if rows > 1 then self:emit("}") end
end

function Writer:map_loops(op)
  self:loops2(op.out.dims[1], op.out.dims[2], function(r, c)
    self.elem = index(op.out, r, c)
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
  local exp = "exp" .. self.fsuffix
  self:loops2(op.out.dims[1], 1, function(r)
    self:emit(self.real .. " mx = " .. self:at(op.a, r, 0) .. ";")
    self:emit("for (int c = 1; c < " .. n .. "; ++c) mx = " .. self:at(op.a, r, "c") .. " > mx ? " ..
      self:at(op.a, r, "c") .. " : mx;")
    self:emit(self.real .. " total = " .. self:lit(0) .. ";")
    if op.log then
      -- log_softmax: (a - max) - log(sum(exp(a - max)))
      self:emit("for (int c = 0; c < " .. n .. "; ++c) total += " .. exp .. "(" .. self:at(op.a, r, "c") ..
        " - mx);")
      self:emit(self.real .. " lt = log" .. self.fsuffix .. "(total);")
      self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. " = (" ..
        self:at(op.a, r, "c") .. " - mx) - lt;")
      return
    end
    self:emit("for (int c = 0; c < " .. n .. "; ++c) {")
    self:emit(self:at(op.out, r, "c") .. " = " .. exp .. "(" .. self:at(op.a, r, "c") .. " - mx);")
    self:emit("total += " .. self:at(op.out, r, "c") .. ";")
    self:emit("}")
    self:emit(self.real .. " inv = " .. self:lit(1) .. " / total;")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. " *= inv;")
  end)
end

function Writer:softmax_grad_loops(op)
  local n = op.out.dims[2]
  self:loops2(op.out.dims[1], 1, function(r)
    self:emit(self.real .. " dot = " .. self:lit(0) .. ";")
    if op.log then
      -- log_softmax: dy - softmax * sum(dy), softmax = exp(y)
      self:emit("for (int c = 0; c < " .. n .. "; ++c) dot += " .. self:at(op.dy, r, "c") .. ";")
      self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. assign(op.acc) ..
        self:at(op.dy, r, "c") .. " - exp" .. self.fsuffix .. "(" .. self:at(op.y, r, "c") .. ") * dot;")
      return
    end
    self:emit("for (int c = 0; c < " .. n .. "; ++c) dot += " .. self:at(op.dy, r, "c") .. " * " ..
      self:at(op.y, r, "c") .. ";")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. assign(op.acc) ..
      self:at(op.y, r, "c") .. " * (" .. self:at(op.dy, r, "c") .. " - dot);")
  end)
end

-- Embedding's lookup: row r of out is row tok = idx[r] of the table. A
-- token outside [0, rows of the table) is never read through: its row is
-- NaN, so the output, the loss and train_step say so (train_step returns NaN
-- and leaves the weights as they were). The driver refuses such tokens
-- before any call.
function Writer:gather_loops(op)
  local k, n = op.a.dims[1], op.out.dims[2]
  self:loops2(op.out.dims[1], 1, function(r)
    self:emit("const int32_t tok = " .. self:at(op.idx, r, 0) .. ";")
    self:emit("if (tok >= 0 && tok < " .. k .. ") {")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. " = " ..
      self:at(op.a, "tok", "c") .. ";")
    self:emit("} else {")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, r, "c") .. " = (" .. self.real ..
      ")NAN;")
    self:emit("}")
  end)
end
Writer.gather_unrolled = Writer.gather_loops

-- Its adjoint: row r of dy is added to row idx[r] of the table's gradient
-- (a scatter-add; a token outside the table adds nothing).
function Writer:scatter_loops(op)
  local k, n = op.out.dims[1], op.dy.dims[2]
  self:loops2(op.dy.dims[1], 1, function(r)
    self:emit("const int32_t tok = " .. self:at(op.idx, r, 0) .. ";")
    self:emit("if (tok >= 0 && tok < " .. k .. ")")
    self:emit("for (int c = 0; c < " .. n .. "; ++c) " .. self:at(op.out, "tok", "c") .. " += " ..
      self:at(op.dy, r, "c") .. ";")
  end)
end
Writer.scatter_unrolled = Writer.scatter_loops

-- A time loop: unrolled (its body once per t, indices constant) when the
-- whole loop is small, else a C loop whose body indexes with t.
function Writer:loop_unrolled(op, unroll)
  for _, t in ipairs(ir.iterations(op)) do
    for _, b in ipairs(op.body) do
      self:op(ir.instantiate(b, t), unroll)
    end
  end
end

-- A comment saying what an op computes, for which layer and steps
-- (irtext.lua): the C reads as the model.
function Writer:comment(op)
  local text = irtext.comment(op, self.loop):gsub("%*/", "* /")
  self:emit("/* " .. text .. " */")
end

-- A loop bound in C: a number, or c + k * L.
local bound_text = syntax.bound

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
  local outer = self.loop
  self.loop = op
  for _, b in ipairs(op.body) do
    self:op(b, unroll)
  end
  self.loop = outer
  self:emit("}")
end

-- A map that only copies a transposed view into a buffer's rows (a weight's
-- transposed copy, layout.lua): one rnnc_transpose call, whose C is returned
-- (nil for any other map). The plain loop reads down the weight's columns,
-- which GCC turns into element inserts (seed 14's 20 x 80 copy: 530 ns per
-- training step against 140).
function Writer:transpose_call(op)
  local o, a = op.out, op.args[1]
  if op.acc or #op.args ~= 1 or op.expr[1] ~= "arg" or op.expr[2] ~= 1 then return nil end
  if o.dims[1] < 2 or o.dims[2] < 2 or o.strides[2] ~= 1 or o.strides[1] < o.dims[2]
    or a.strides[1] ~= 1 or a.strides[2] < o.dims[1] then
    return nil
  end
  if o.toff ~= 0 or o.loff ~= 0 or a.toff ~= 0 or a.loff ~= 0 or self:per_sample(o) or self:per_sample(a)
    or (self.ring and (self.ring[o.buf] or self.ring[a.buf])) then
    return nil
  end
  -- dst[j * drs + i] = src[i * srs + j]: src's rows are out's columns
  return string.format("rnnc_transpose_%s(%d, %d, %s, %d, %s, %d);", self.dtype == "float64" and "f64" or "f32",
    o.dims[2], o.dims[1], gemm.base(self, a), a.strides[2], gemm.base(self, o), o.strides[1])
end

function Writer:op(op, unroll)
  local style = ir.op_size(op) <= unroll and "_unrolled" or "_loops"
  if op.op ~= "loop" then self:comment(op) end
  if op.op == "matmul" and style == "_loops" then
    gemm.emit(self, op)
    return
  end
  local transpose = op.op == "map" and style == "_loops" and self:transpose_call(op)
  if transpose then
    self:emit(transpose)
    return
  end
  local f = self[op.op .. style]
  if not f then error("no lowering for " .. op.op) end
  f(self, op, unroll)
end

---------------------------------------------------------------- batches

-- The sample stride of a view's buffer inside a batched function (nil for
-- buffers all samples share: weights and their gradients).
function Writer:per_sample(v)
  return self.batched and self.sample_stride[v.buf] or nil
end

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
  local g = gemm.layout(self, op)
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
function Writer:ops(list, unroll)
  if not self.batched then
    for _, op in ipairs(list) do
      self:op(op, unroll)
    end
    return self.lines
  end
  local run = {}
  -- batch statistics the ops of the run have written and read: an op that
  -- reads one written in the run (or writes one read there) must wait for
  -- every sample, so it starts a new run
  local run_wrote, run_read = {}, {}
  local function batch_conflict(op)
    for _, o in ipairs(ir.flatten({ op })) do
      if o.out.buf.kind == "batch" and (run_read[o.out.buf] or run_wrote[o.out.buf] and not o.acc) then return true end
      for _, v in ipairs(ir.op_reads(o)) do
        if run_wrote[v.buf] then return true end
      end
    end
    return false
  end
  local function note_batch(op)
    for _, o in ipairs(ir.flatten({ op })) do
      if o.out.buf.kind == "batch" then run_wrote[o.out.buf] = true end
      for _, v in ipairs(ir.op_reads(o)) do
        if v.buf.kind == "batch" then run_read[v.buf] = true end
      end
    end
  end
  local function flush()
    run_wrote, run_read = {}, {}
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
  for _, op in ipairs(list) do
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
        local outer = self.loop
        self.loop = op
        self:ops(op.body, unroll)
        self.loop = outer
        self:emit("}")
      else
        self:comment(op)
        gemm.emit(self, op)
      end
    elseif self:shared_op(op) then
      flush()
      self:op(op, unroll)
    else
      if batch_conflict(op) then flush() end
      run[#run + 1] = op
      note_batch(op)
    end
  end
  flush()
  return self.lines
end


ops.Writer = Writer
ops.HELPER_BODY = HELPER_BODY
ops.HELPER_ORDER = HELPER_ORDER
ops.HELPER_CONSTANTS = HELPER_CONSTANTS

return ops
