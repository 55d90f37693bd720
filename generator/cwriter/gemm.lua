-- Matrix products: how an IR matmul maps onto the register-blocked kernel of
-- runtime/rnnc_kernels.h, and its tiling into blocks (rows in blocks of MR,
-- columns in vector-wide blocks, panels of B when B is large, samples in
-- chunks when they are the reduction).
local gemm = {}

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

-- How a matmul maps onto the kernel C(i, j) (+)= sum_p A(i, p) B(p, j), with
-- B's and C's columns contiguous: returns {M, K (numbers or C expressions),
-- a/b/c = {view, row stride, column stride}, per_sample = bool (the kernel
-- runs once per sample, inside a loop over them)}; nil when the layout does
-- not suit the kernel. In a batched function the samples fold into the rows
-- (out and a per sample, b shared: one product over all samples' rows) or
-- into the reduction (out shared, a and b per sample: a weight gradient
-- summed over the samples) when the strides allow.
function gemm.layout(w, op)
  local o, a, b = op.out, op.a, op.b
  if o.strides[2] ~= 1 or b.strides[2] ~= 1 then return nil end
  local m, k = o.dims[1], a.dims[2]
  local so, sa, sb = w:per_sample(o), w:per_sample(a), w:per_sample(b)
  local g = {
    M = m, K = k, K1 = 1, aqs = 0, bqs = 0,
    a = { a, a.strides[1], a.strides[2] }, b = { b, b.strides[1] }, c = { o, o.strides[1] },
  }
  if not (so or sa or sb) or w.bvar then return g end
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
function gemm.emit(w, op)
  local g = gemm.layout(w, op)
  local real, n_cols = w.real, op.out.dims[2]
  local lanes = LANES[w.dtype]
  w:emit("{")
  if g.per_sample then
    w:emit("for (int b = 0; b < n; ++b) {")
    w.bvar = "b"
  end
  local function base(spec)
    return w.names[spec[1].buf] .. " + " .. w:index(spec[1], 0, 0)
  end
  w:emit(string.format("const %s *const A = %s;", real, base(g.a)))
  w:emit(string.format("const %s *const B = %s;", real, base(g.b)))
  w:emit(string.format("%s *const C = %s;", real, base(g.c)))
  local ars, acs, brs, crs = g.a[2], g.a[3], g.b[2], g.c[2]
  local M, K = g.M, g.K
  local suffix = w.dtype == "float64" and "f64" or "f32"
  local size = w.dtype == "float64" and 8 or 4
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
      w:emit(string.format("rnnc_block_%s(%d, %d, %s, %s, A + %s, %d, %d, %d, B + %s, %d, %d, C + %s, %d, %s);",
        suffix, mr, width, k1, K, sum_text(q0 and times(q0, g.aqs), times("i", ars)), ars, g.aqs, acs,
        sum_text(q0 and times(q0, g.bqs), j0), g.bqs, brs, sum_text(times("i", crs), j0), crs, accumulate))
      return
    end
    w:emit(string.format("%s acc[%d][%d];", real, mr, width))
    if chunked and not op.acc then
      w:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) acc[r][jj] = qc > 0 ? "
        .. "C[%s] : %s;", mr, width, sum_text(times("(i + r)", crs), j0, "jj"), w:lit(0)))
    elseif op.acc then
      w:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) acc[r][jj] = C[%s];",
        mr, width, sum_text(times("(i + r)", crs), j0, "jj")))
    else
      w:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) acc[r][jj] = %s;",
        mr, width, w:lit(0)))
    end
    if chunked then
      w:emit("for (int q = qc; q < qc + qn; ++q)")
    else
      w:emit(string.format("for (int q = 0; q < %s; ++q)", g.K1))
    end
    w:emit(string.format("for (int p = 0; p < %s; ++p) {", K))
    w:emit(string.format("const %s *const brow = B + %s;", real, sum_text(times("q", g.bqs), times("p", brs), j0)))
    w:emit(string.format("for (int r = 0; r < %d; ++r) {", mr))
    w:emit(string.format("const %s av = A[%s];", real, sum_text(times("(i + r)", ars), times("q", g.aqs),
      times("p", acs))))
    w:emit(string.format("for (int jj = 0; jj < %d; ++jj) acc[r][jj] += av * brow[jj];", width))
    w:emit("}")
    w:emit("}")
    w:emit(string.format("for (int r = 0; r < %d; ++r) for (int jj = 0; jj < %d; ++jj) C[%s] = acc[r][jj];",
      mr, width, sum_text(times("(i + r)", crs), j0, "jj")))
  end
  -- rows in blocks of MR then one by one; `cols(mr)` emits a row block's columns
  local function rows(cols)
    if type(M) == "number" then
      -- constant rows: bounds exact
      local whole = M - M % MR
      if whole > 0 then
        w:emit(string.format("for (int i = 0; i < %d; i += %d) {", whole, MR))
        cols(MR)
        w:emit("}")
      end
      if M % MR > 0 then
        w:emit(string.format("for (int i = %d; i < %d; ++i) {", whole, M))
        cols(1)
        w:emit("}")
      end
    else
      w:emit("{")
      w:emit("int i = 0;")
      w:emit(string.format("for (; i + %d <= %s; i += %d) {", MR, M, MR))
      cols(MR)
      w:emit("}")
      w:emit(string.format("for (; i < %s; ++i) {", M))
      cols(1)
      w:emit("}")
      w:emit("}")
    end
  end
  if chunked then
    w:emit(string.format("for (int qc = 0; qc < n; qc += %d) {", per_chunk))
    w:emit(string.format("const int qn = n - qc < %d ? n - qc : %d;", per_chunk, per_chunk))
  end
  local batch = w.batch or 1
  local k_total = (type(g.K) == "number" and g.K or (g.K == "n" and batch or batch * k_of(g.K)))
    * (g.K1 == 1 and 1 or batch)
  if k_total * n_cols * size > PANEL_BYTES then
    -- B is too big to stay in cache while every row block sweeps it: sweep
    -- the rows for one panel of B's columns at a time instead
    local nr = math.min(lanes * NV_BLOCK, n_cols)
    local full, tail = n_cols - n_cols % nr, n_cols % nr
    if full > 0 then
      w:emit(string.format("for (int j = 0; j < %d; j += %d) {", full, nr))
      rows(function(mr)
        block(mr, nr, "j")
      end)
      w:emit("}")
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
        w:emit(string.format("for (int j = 0; j < %d; j += %d) {", full, nr))
        block(mr, nr, "j")
        w:emit("}")
      end
      if tail > 0 then
        w:emit("{")
        block(mr, tail, tostring(full))
        w:emit("}")
      end
    end)
  end
  if chunked then w:emit("}") end
  if g.per_sample then
    w:emit("}")
    w.bvar = nil
  end
  w:emit("}")
end

return gemm
