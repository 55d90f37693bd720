-- Matrix products: how an IR matmul maps onto a kernel of
-- runtime/rnnc_kernels.h (one call per product), where the samples of a
-- batch go (into the rows, or into the reduction of a weight's gradient),
-- and the kernel's tiling choices: panels of B when B is large, samples in
-- chunks when they are the reduction.
local gemm = {}

---------------------------------------------------------------- matrix products

-- The kernel's blocks are 64-byte vectors wide (LANES reals), 2 vectors for
-- blocks of four rows (runtime/rnnc_kernels.h); the sizes here decide its
-- panel and chunk arguments.
local LANES = { float32 = 16, float64 = 8 } -- reals per 64-byte vector
local NV_BLOCK = 2
-- B larger than this (about half of a core's L2) is swept a column panel at a
-- time (measured on the LSTM(128) training step: bench/)
local PANEL_BYTES = 256 * 1024
local L1_SLICE_BYTES = 16 * 1024

-- How a matmul maps onto rnnc_gemm: C(i, j) (+)= sum_p A(i, p) B(p, j), with
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

-- The C of a kernel argument.
local function arg(x)
  return tostring(x)
end

-- k of a depth "n * k"
local function k_of(text)
  return tonumber(text:match("^n %* (%d+)$")) or 1
end

-- A pointer to a view's first element (of sample b inside a loop over the
-- samples).
function gemm.base(w, v)
  local i = w:index(v, 0, 0)
  local name = w.names[v.buf]
  if not name then error("buffer " .. v.buf.name .. " has no C name") end
  if i == "0" then return name end
  return name .. " + " .. i
end

-- One matmul as one call of a kernel of runtime/rnnc_kernels.h, every
-- argument but the sample count a constant; the tiling decisions it takes
-- (panel, chunk) are made here from the sizes.
function gemm.emit(w, op)
  local g = gemm.layout(w, op)
  local suffix = w.dtype == "float64" and "f64" or "f32"
  local size = w.dtype == "float64" and 8 or 4
  local lanes = LANES[w.dtype]
  local acc = op.acc and "1" or "0"
  if not g then
    -- columns not contiguous: the plain kernel (per sample, in the caller's loop)
    local o, a, b = op.out, op.a, op.b
    w:emit(string.format("rnnc_gemm_strided_%s(%d, %d, %d, %s, %d, %d, %s, %d, %d, %s, %d, %d, %s);", suffix,
      o.dims[1], o.dims[2], a.dims[2], gemm.base(w, a), a.strides[1], a.strides[2], gemm.base(w, b), b.strides[1],
      b.strides[2], gemm.base(w, o), o.strides[1], o.strides[2], acc))
    return
  end
  local n_cols = op.out.dims[2]
  local open_loop = g.per_sample
  if open_loop then
    w:emit("for (int b = 0; b < n; ++b)")
    w.bvar = "b"
  end
  local batch = w.batch or 1
  local k_total = (type(g.K) == "number" and g.K or (g.K == "n" and batch or batch * k_of(g.K)))
    * (g.K1 == 1 and 1 or batch)
  -- B too big to stay in cache while every row block sweeps it (about half
  -- of a core's L2; measured on the LSTM(128) training step: bench/)
  local panel = k_total * n_cols * size > PANEL_BYTES and "1" or "0"
  local A, B, C = gemm.base(w, g.a[1]), gemm.base(w, g.b[1]), gemm.base(w, g.c[1])
  if g.K1 == 1 then
    w:emit(string.format("rnnc_gemm_%s(%s, %d, %s, %s, %d, %d, %s, %d, %s, %d, %s, %s);", suffix, arg(g.M), n_cols,
      arg(g.K), A, g.a[2], g.a[3], B, g.b[2], C, g.c[2], acc, panel))
  else
    -- a weight's gradient summed over the samples, a few at a time so the
    -- slice of B every row block reads stays in L1 (measured: 52 -> 74
    -- GFLOP/s on LSTM(128)'s recurrent-kernel gradient)
    local chunk = math.max(1, L1_SLICE_BYTES // (g.K * math.min(lanes * NV_BLOCK, n_cols) * size))
    w:emit(string.format("rnnc_gemm_sum_%s(%s, %d, %s, %s, %s, %d, %d, %d, %s, %d, %d, %s, %d, %s, %d, %s);", suffix,
      arg(g.M), n_cols, arg(g.K), arg(g.K1), A, g.a[2], g.a[3], g.aqs, B, g.b[2], g.bqs, C, g.c[2], acc, chunk, panel))
  end
  if open_loop then w.bvar = nil end
end

return gemm
