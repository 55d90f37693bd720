/* The matrix-product kernels generated code calls, one call per product of
 * the model:
 *
 *   rnnc_gemm_T(M, N, K, A, ars, acs, B, brs, C, crs, accumulate, panel)
 *     C[i * crs + j] (+)= sum_p A[i * ars + p * acs] * B[p * brs + j]
 *   rnnc_gemm_sum_T(M, N, K, Q, A, ars, acs, aqs, B, brs, bqs, C, crs, accumulate, chunk, panel)
 *     the same summed over q < Q slices (A + q * aqs, B + q * bqs): a weight's
 *     gradient over the samples of a batch, `chunk` samples at a time
 *   rnnc_gemm_strided_T(M, N, K, A, ars, acs, B, brs, bcs, C, crs, ccs, accumulate)
 *     any strides (plain loops; products whose columns are not contiguous)
 *
 * for T = f32, f64, i < M, j < N, p < K. The generator passes every argument
 * it knows as a constant (all but a sample count), so once inlined the
 * compiler sees the whole loop nest with constant bounds: rows go in blocks
 * of six (RNNC_MR), columns in blocks of whole 64-byte vectors whose accumulators
 * stay in registers while the loop over p streams one row of B per step,
 * the last columns in narrower blocks; `panel` (the generator sets it when B
 * is larger than half a core's L2) sweeps the rows a column panel at a time,
 * 128 rows of B per pass;
 * a single row over a B larger than L1 (a batch-1 step) streams B once, row
 * by row, into accumulators kept in registers (up to 16 AVX-512 vectors) or
 * in L1 (rnnc_row).
 * Under GNU C (gcc, clang) the accumulators are explicit vectors of the
 * target's register width (AVX-512, AVX2 or SSE / NEON); any other C99
 * compiler, or -DRNNC_PLAIN_C, gets plain loops computing the same sums in
 * the same order. Header-only, no allocation. */
#ifndef RNNC_KERNELS_H
#define RNNC_KERNELS_H

#include <stdint.h>
#include <string.h>

/* Rows per block: six rows of two vectors are 12 accumulators, leaving 4
 * of AVX2's or SSE's 16 registers for B and the broadcast of A (measured
 * on AVX2 against four rows: 10-18% faster on the products of an LSTM(128)
 * training step). */
#define RNNC_MR 6

#if defined(__GNUC__) && !defined(RNNC_PLAIN_C)
/* Vectors as wide as the target's registers (the compiler's -m flags say
 * which); aligned(sizeof(T)): loads and stores through them may be unaligned. */
#if defined(__AVX512F__)
#define RNNC_VBYTES 64
#elif defined(__AVX__)
#define RNNC_VBYTES 32
#else
#define RNNC_VBYTES 16
#endif
/* A single row over a B larger than L1 keeps up to 16 vectors of
 * accumulators in registers when the target has 32 of them (AVX-512): B then
 * streams once, row by row, with no accumulator traffic (measured on an
 * AVX-512 EPYC: the stream step of LSTM(64), a 64 x 256 recurrent product,
 * 680 -> 475 ns, GRU(64)'s 64 x 192 475 -> 355 ns). Wider rows, and targets
 * with 16 registers, go through rnnc_row (24 vectors spilled in GRU(128)'s
 * step, 1.9 -> 2.5 us). */
#if RNNC_VBYTES == 64
#define RNNC_ROW_VECTORS 16
#else
#define RNNC_ROW_VECTORS 0
#endif
typedef float rnnc_vf __attribute__((vector_size(RNNC_VBYTES), aligned(4)));
typedef double rnnc_vd __attribute__((vector_size(RNNC_VBYTES), aligned(8)));

/* Keeps a loaded vector of B in a register: without it GCC folds the load
 * into each of the block's multiply-adds (one load per row instead of one),
 * and the loads, not the arithmetic, bound the loop (measured on AVX2:
 * 32 x 512 x 128 at 52 -> 70 GFLOP/s). An empty asm, no instruction. A
 * single row reads each vector once: there the folded load is right, and
 * eight pinned vectors beside eight accumulators would spill. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__)
#if RNNC_VBYTES == 64
#define RNNC_IN_REGISTER(x) __asm__("" : "+v"(x))
#else
#define RNNC_IN_REGISTER(x) __asm__("" : "+x"(x))
#endif
#elif defined(__aarch64__)
#define RNNC_IN_REGISTER(x) __asm__("" : "+w"(x))
#else
#define RNNC_IN_REGISTER(x) ((void)0)
#endif

/* Inlined where the compiler optimises, to see the constant arguments; at -O0
 * (debug and sanitizer builds) one copy per file: forcing it there bought
 * nothing but a compile 10 times longer. -DRNNC_NO_FORCE_INLINE leaves the
 * choice to the compiler at any level: the same results, compiled in half
 * the time (measured at -O2 on the random tests' largest unit, 5.8 s ->
 * 2.8 s), run slower; the random and conformance tests use it. */
#if defined(__OPTIMIZE__) && !defined(RNNC_NO_FORCE_INLINE)
#define RNNC_INLINE static inline __attribute__((always_inline))
#else
#define RNNC_INLINE static inline
#endif
/* NV vectors V of VLEN lanes each, columns c0 .. c0 + NV * VLEN - 1, for mr
 * rows; NV a constant, so the accumulators live in registers. V may be a
 * narrower vector than the target's, or T itself (VLEN 1) for the last
 * columns of a block. Accumulators narrower than 64 bytes are pinned with
 * RNNC_IN_REGISTER after each multiply-add: GCC tuned for AMD Zen
 * (avoid-fma-max-bits 256) keeps a loop-carried sum of such vectors or
 * scalars as a multiply and an add, yet fuses it where the loop takes
 * another shape, so under the units' contraction a row's last columns came
 * out differently alone and in a block of six rows. Through the empty asm
 * the sum is no longer a chain GCC recognises, and every path fuses. */
#define RNNC_CHUNK(T, V, VLEN, NV)                                                                 \
  do {                                                                                             \
    V acc[RNNC_MR][NV];                                                                            \
    int r, q, p, v;                                                                                \
    for (r = 0; r < mr; ++r)                                                                       \
      for (v = 0; v < NV; ++v)                                                                     \
        acc[r][v] = accumulate ? *(const V *)(C + r * crs + c0 + v * (VLEN)) : (V){0};             \
    for (q = 0; q < k1; ++q)                                                                       \
      for (p = 0; p < k; ++p) {                                                                    \
        V b[NV];                                                                                   \
        for (v = 0; v < NV; ++v) {                                                                 \
          b[v] = *(const V *)(B + q * bqs + p * brs + c0 + v * (VLEN));                            \
          if (mr > 1)                                                                              \
            RNNC_IN_REGISTER(b[v]);                                                                \
        }                                                                                          \
        for (r = 0; r < mr; ++r) {                                                                 \
          const T a = A[r * ars + q * aqs + p * acs];                                              \
          for (v = 0; v < NV; ++v) {                                                               \
            acc[r][v] += a * b[v];                                                                 \
            if (sizeof(V) < 64)                                                                    \
              RNNC_IN_REGISTER(acc[r][v]);                                                         \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
    for (r = 0; r < mr; ++r)                                                                       \
      for (v = 0; v < NV; ++v)                                                                     \
        *(V *)(C + r * crs + c0 + v * (VLEN)) = acc[r][v];                                         \
  } while (0)
/* The block's columns in chunks of at most 8 accumulators (8 / mr vectors per
 * row: enough to hide the multiply-add latency, few enough to leave registers
 * for B). A single row takes as many of its vectors at once as it can (16 or
 * 8, then 6, 4 or 3): one pass over B instead of several of 2 vectors, each a
 * chain of K multiply-adds (a streaming GRU(32)'s 32 x 96 recurrent product:
 * its step 137 -> 101 ns on the AVX-512 EPYC, LSTM(16)'s 71 -> 62 ns). */
/* NV vectors of VL lanes from column c0 on, then past them. */
#define RNNC_TAKE(T, V, VL, NV)                                                                    \
  do {                                                                                             \
    RNNC_CHUNK(T, V, VL, NV);                                                                      \
    c0 += (NV) * (VL);                                                                             \
  } while (0)
/* The same for the block's whole vectors, counted in `left`. */
#define RNNC_TAKE_WHOLE(T, V, VL, NV)                                                              \
  do {                                                                                             \
    RNNC_TAKE(T, V, VL, NV);                                                                       \
    left -= (NV);                                                                                  \
  } while (0)
/* The largest chunk that fits, again and again: for one row 16 vectors
 * (AVX-512), 8, then one of 6, 4, 3 or 2, then 1; for more rows 2, then 1.
 * Written without a loop around the choice, so that with a constant width
 * (every call the generator writes) the compiler drops the sizes a block
 * does not use before it optimises (a loop around the ladder kept every
 * size in every inlined product until late: most of a unit's compile time). */
#define RNNC_BLOCK_BODY(T, V)                                                                      \
  enum { VL = RNNC_VBYTES / sizeof(T) };                                                           \
  int c0 = 0, left = width / VL; /* whole vectors still to do */                                   \
  while (mr == 1 && RNNC_ROW_VECTORS >= 16 && left >= 16)                                          \
    RNNC_TAKE_WHOLE(T, V, VL, 16);                                                                 \
  while (mr == 1 && left >= 8)                                                                     \
    RNNC_TAKE_WHOLE(T, V, VL, 8);                                                                  \
  if (mr == 1 && left >= 6)                                                                        \
    RNNC_TAKE_WHOLE(T, V, VL, 6);                                                                  \
  else if (mr == 1 && left >= 4)                                                                   \
    RNNC_TAKE_WHOLE(T, V, VL, 4);                                                                  \
  else if (mr == 1 && left >= 3)                                                                   \
    RNNC_TAKE_WHOLE(T, V, VL, 3);                                                                  \
  while (left >= 2)                                                                                \
    RNNC_TAKE_WHOLE(T, V, VL, 2);                                                                  \
  if (left >= 1)                                                                                   \
    RNNC_TAKE_WHOLE(T, V, VL, 1);
/* Fewer columns than a vector has lanes: a half vector, a quarter, then
 * scalars, every accumulator in a register. (Plain loops over an
 * accumulator array left the last 4 lanes of a 20-wide block in memory on
 * AVX-512, each step over p a store and a load: a third of seed 14's
 * backward.) */
typedef float rnnc_vf32b __attribute__((vector_size(32), aligned(4)));
typedef float rnnc_vf16b __attribute__((vector_size(16), aligned(4)));
typedef double rnnc_vd32b __attribute__((vector_size(32), aligned(8)));
typedef double rnnc_vd16b __attribute__((vector_size(16), aligned(8)));
#if RNNC_VBYTES > 32
#define RNNC_TAIL_HALF(T, V32)                                                                     \
  if (width - c0 >= L32)                                                                           \
    RNNC_TAKE(T, V32, L32, 1);
#else /* not even compiled: an asm operand of 32 bytes is an error without AVX */
#define RNNC_TAIL_HALF(T, V32)
#endif
#if RNNC_VBYTES > 16
#define RNNC_TAIL_QUARTER(T, V16)                                                                  \
  if (width - c0 >= L16)                                                                           \
    RNNC_TAKE(T, V16, L16, 1);
#else
#define RNNC_TAIL_QUARTER(T, V16)
#endif
#define RNNC_TAIL_BODY(T, V32, V16)                                                                \
  enum { L32 = 32 / sizeof(T), L16 = 16 / sizeof(T) };                                             \
  int c0 = 0;                                                                                      \
  RNNC_TAIL_HALF(T, V32)                                                                           \
  RNNC_TAIL_QUARTER(T, V16)                                                                        \
  if (width - c0 == 3)                                                                             \
    RNNC_CHUNK(T, T, 1, 3);                                                                        \
  else if (width - c0 == 2)                                                                        \
    RNNC_CHUNK(T, T, 1, 2);                                                                        \
  else if (width - c0 == 1)                                                                        \
    RNNC_CHUNK(T, T, 1, 1);
#else
#define RNNC_INLINE static inline
#define RNNC_VBYTES 64 /* plain loops take any width: the split is for vectors */
#define RNNC_ROW_VECTORS 0
#define RNNC_BLOCK_BODY(T, V)                                                                      \
  T acc[RNNC_MR][128];                                                                             \
  int r, q, p, j;                                                                                  \
  for (r = 0; r < mr; ++r)                                                                         \
    for (j = 0; j < width; ++j)                                                                    \
      acc[r][j] = accumulate ? C[r * crs + j] : (T)0;                                              \
  for (q = 0; q < k1; ++q)                                                                         \
    for (p = 0; p < k; ++p)                                                                        \
      for (r = 0; r < mr; ++r) {                                                                   \
        const T a = A[r * ars + q * aqs + p * acs];                                                \
        for (j = 0; j < width; ++j)                                                                \
          acc[r][j] += a * B[q * bqs + p * brs + j];                                               \
      }                                                                                            \
  for (r = 0; r < mr; ++r)                                                                         \
    for (j = 0; j < width; ++j)                                                                    \
      C[r * crs + j] = acc[r][j];
#define RNNC_TAIL_BODY(T, V32, V16) RNNC_BLOCK_BODY(T, T)
#endif

/* One mr x width block (float); width whole vectors, at most 256 columns. */
RNNC_INLINE void rnnc_block_f32(int mr, int width, int k1, int k, const float *A, long ars,
                                long aqs, long acs, const float *B, long bqs, long brs, float *C,
                                long crs, int accumulate) {
  RNNC_BLOCK_BODY(float, rnnc_vf);
}

/* One mr x width block (double); width whole vectors, at most 128 columns. */
RNNC_INLINE void rnnc_block_f64(int mr, int width, int k1, int k, const double *A, long ars,
                                long aqs, long acs, const double *B, long bqs, long brs, double *C,
                                long crs, int accumulate) {
  RNNC_BLOCK_BODY(double, rnnc_vd);
}

/* One mr x width block narrower than a vector (the columns past the last
 * whole vector of a product). */
RNNC_INLINE void rnnc_tail_f32(int mr, int width, int k1, int k, const float *A, long ars, long aqs,
                               long acs, const float *B, long bqs, long brs, float *C, long crs,
                               int accumulate) {
  RNNC_TAIL_BODY(float, rnnc_vf32b, rnnc_vf16b);
}

RNNC_INLINE void rnnc_tail_f64(int mr, int width, int k1, int k, const double *A, long ars,
                               long aqs, long acs, const double *B, long bqs, long brs, double *C,
                               long crs, int accumulate) {
  RNNC_TAIL_BODY(double, rnnc_vd32b, rnnc_vd16b);
}

/* One row of C over B larger than L1 (a batch-1 step over an L2-resident
 * weight): the row's accumulators, at most RNNC_ROW_COLS columns at a time,
 * stay in L1 while B streams through once, row after row, two rows per pass.
 * Every element is summed over p in the same order as in rnnc_block (with
 * -ffp-contract=fast each term is one multiply-add), so the result is the
 * same to the bit. Measured for a 129 x 512 float B on the AVX2 machine of
 * bench/README.md: 3.3 us against 4.0 us for blocks of 8 vectors swept down
 * the rows (the hardware prefetcher follows one stream better than eight
 * strided ones). */
#define RNNC_ROW_COLS 1024
#define RNNC_L1_BYTES 32768L
#define RNNC_ROW_BODY(T)                                                                           \
  T acc[RNNC_ROW_COLS];                                                                            \
  int q, p, j, j0;                                                                                 \
  for (j0 = 0; j0 < N; j0 += RNNC_ROW_COLS) {                                                      \
    const int w = N - j0 < RNNC_ROW_COLS ? N - j0 : RNNC_ROW_COLS;                                 \
    for (j = 0; j < w; ++j)                                                                        \
      acc[j] = accumulate ? C[j0 + j] : (T)0;                                                      \
    for (q = 0; q < k1; ++q) {                                                                     \
      const T *const Aq = A + q * aqs, *const Bq = B + q * bqs + j0;                               \
      for (p = 0; p + 2 <= K; p += 2) {                                                            \
        const T a0 = Aq[p * acs], a1 = Aq[(p + 1) * acs];                                          \
        const T *const b0 = Bq + p * brs, *const b1 = Bq + (p + 1) * brs;                          \
        for (j = 0; j < w; ++j) {                                                                  \
          const T t = acc[j] + a0 * b0[j];                                                         \
          acc[j] = t + a1 * b1[j];                                                                 \
        }                                                                                          \
      }                                                                                            \
      for (; p < K; ++p) {                                                                         \
        const T a0 = Aq[p * acs];                                                                  \
        const T *const b0 = Bq + p * brs;                                                          \
        for (j = 0; j < w; ++j)                                                                    \
          acc[j] += a0 * b0[j];                                                                    \
      }                                                                                            \
    }                                                                                              \
    for (j = 0; j < w; ++j)                                                                        \
      C[j0 + j] = acc[j];                                                                          \
  }

RNNC_INLINE void rnnc_row_f32(int N, int K, int k1, const float *A, long aqs, long acs,
                              const float *B, long bqs, long brs, float *C, int accumulate) {
  RNNC_ROW_BODY(float);
}

RNNC_INLINE void rnnc_row_f64(int N, int K, int k1, const double *A, long aqs, long acs,
                              const double *B, long bqs, long brs, double *C, int accumulate) {
  RNNC_ROW_BODY(double);
}

/* The tiling of one product (see the top of this file), for k1 slices of the
 * reduction: rows i .. i + mr - 1 and columns j .. j + width - 1 form a
 * block; its whole vectors go to rnnc_block, the columns past them to
 * rnnc_tail. Blocks of RNNC_MR rows are 128 bytes wide, single rows 512, or
 * a whole row when B does not fit in L1 (in registers up to
 * RNNC_ROW_VECTORS vectors, else rnnc_row). */
#define RNNC_GEMM_BODY(T, SUFFIX)                                                                  \
  enum { LANES = 64 / sizeof(T), VLANES = RNNC_VBYTES / sizeof(T) };                               \
  int i, j;                                                                                        \
  if (N <= 0)                                                                                      \
    return;                                                                                        \
  if (panel && M > 1) {                                                                            \
    /* rows of B per pass: the panel's slice (128 bytes wide) stays in L1 */                       \
    const int nr = N < 2 * LANES ? N : 2 * LANES, kc = k1 > 1 ? K : 128;                           \
    int p0;                                                                                        \
    RNNC_COLUMN_BLOCKS(nr, RNNC_GEMM_PANEL, T, SUFFIX);                                            \
  } else {                                                                                         \
    const int nr4 = N < 2 * LANES ? N : 2 * LANES, nr1 = N < 8 * LANES ? N : 8 * LANES;            \
    for (i = 0; i + RNNC_MR <= M; i += RNNC_MR) {                                                  \
      RNNC_COLUMN_BLOCKS(nr4, RNNC_GEMM_BLOCK, T, SUFFIX, RNNC_MR);                                \
    }                                                                                              \
    if (i < M && (long)k1 * K * N * (long)sizeof(T) > RNNC_L1_BYTES) {                             \
      for (j = 0; i < M; ++i) /* the whole row in one block, or through L1 */                      \
        if (N <= RNNC_ROW_VECTORS * VLANES)                                                        \
          RNNC_GEMM_BLOCK(T, SUFFIX, 1, N);                                                        \
        else                                                                                       \
          rnnc_row_##SUFFIX(N, K, k1, A + i * ars, aqs, acs, B, bqs, brs, C + i * crs,             \
                            accumulate);                                                           \
    }                                                                                              \
    for (; i < M; ++i) {                                                                           \
      RNNC_COLUMN_BLOCKS(nr1, RNNC_GEMM_BLOCK, T, SUFFIX, 1);                                      \
    }                                                                                              \
  }
/* Columns j .. N - 1 in blocks of NR (whole blocks, then the rest), each
 * BLOCK(..., width). Every block width is a constant expression of N, so
 * once inlined each call keeps only the chunk sizes it uses (a width known
 * only at run time kept all of them: twice the code and the compile time). */
#define RNNC_COLUMN_BLOCKS(NR, BLOCK, ...)                                                         \
  do {                                                                                             \
    for (j = 0; j + (NR) <= N; j += (NR))                                                          \
      BLOCK(__VA_ARGS__, NR);                                                                      \
    if (j < N)                                                                                     \
      BLOCK(__VA_ARGS__, N % (NR));                                                                \
  } while (0)
/* Column panel j .. j + W - 1 over every row, 128 rows of B (kc) per pass. */
#define RNNC_GEMM_PANEL(T, SUFFIX, W)                                                              \
  for (p0 = 0; p0 < K; p0 += kc) {                                                                 \
    const int kk = K - p0 < kc ? K - p0 : kc, acc0 = accumulate || p0 > 0;                         \
    for (i = 0; i + RNNC_MR <= M; i += RNNC_MR)                                                    \
      RNNC_GEMM_BLOCK_K(T, SUFFIX, RNNC_MR, W, kk, p0, acc0);                                      \
    for (; i < M; ++i)                                                                             \
      RNNC_GEMM_BLOCK_K(T, SUFFIX, 1, W, kk, p0, acc0);                                            \
  }
/* A block over rows p0 .. p0 + kk - 1 of B (K-blocking keeps each element's
 * sum in the same order: the partial sum goes through C between passes). */
#define RNNC_GEMM_BLOCK_K(T, SUFFIX, MR, W, KK, P0, ACC)                                           \
  do {                                                                                             \
    const int whole = (W) - (W) % VLANES;                                                          \
    if (whole > 0)                                                                                 \
      rnnc_block_##SUFFIX(MR, whole, k1, KK, A + i * ars + (P0)*acs, ars, aqs, acs,                \
                          B + j + (P0)*brs, bqs, brs, C + i * crs + j, crs, ACC);                  \
    if ((W) > whole)                                                                               \
      rnnc_tail_##SUFFIX(MR, (W)-whole, k1, KK, A + i * ars + (P0)*acs, ars, aqs, acs,             \
                         B + j + whole + (P0)*brs, bqs, brs, C + i * crs + j + whole, crs, ACC);   \
  } while (0)
/* A block over every row of B. */
#define RNNC_GEMM_BLOCK(T, SUFFIX, MR, W) RNNC_GEMM_BLOCK_K(T, SUFFIX, MR, W, K, 0, accumulate)

RNNC_INLINE void rnnc_gemm_k1_f32(int M, int N, int K, int k1, const float *A, long ars, long acs,
                                  long aqs, const float *B, long brs, long bqs, float *C, long crs,
                                  int accumulate, int panel){RNNC_GEMM_BODY(float, f32)}

RNNC_INLINE void rnnc_gemm_k1_f64(int M, int N, int K, int k1, const double *A, long ars, long acs,
                                  long aqs, const double *B, long brs, long bqs, double *C,
                                  long crs, int accumulate, int panel){RNNC_GEMM_BODY(double, f64)}

/* C (+)= A @ B: M x N, K deep; B's and C's columns contiguous. */
RNNC_INLINE
    void rnnc_gemm_f32(int M, int N, int K, const float *A, long ars, long acs, const float *B,
                       long brs, float *C, long crs, int accumulate, int panel) {
  rnnc_gemm_k1_f32(M, N, K, 1, A, ars, acs, 0, B, brs, 0, C, crs, accumulate, panel);
}

RNNC_INLINE void rnnc_gemm_f64(int M, int N, int K, const double *A, long ars, long acs,
                               const double *B, long brs, double *C, long crs, int accumulate,
                               int panel) {
  rnnc_gemm_k1_f64(M, N, K, 1, A, ars, acs, 0, B, brs, 0, C, crs, accumulate, panel);
}

/* C (+)= sum over q < Q of A_q @ B_q (A_q = A + q * aqs, B_q = B + q * bqs),
 * `chunk` slices at a time (0: all at once) so that the slice of B each row
 * block reads stays in L1: a weight's gradient summed over the samples. */
#define RNNC_GEMM_SUM_BODY(SUFFIX)                                                                 \
  int q;                                                                                           \
  if (chunk <= 0) {                                                                                \
    rnnc_gemm_k1_##SUFFIX(M, N, K, Q, A, ars, acs, aqs, B, brs, bqs, C, crs, accumulate, panel);   \
    return;                                                                                        \
  }                                                                                                \
  for (q = 0; q < Q; q += chunk)                                                                   \
    rnnc_gemm_k1_##SUFFIX(M, N, K, Q - q < chunk ? Q - q : chunk, A + q * aqs, ars, acs, aqs,      \
                          B + q * bqs, brs, bqs, C, crs, accumulate || q > 0, panel);

RNNC_INLINE void rnnc_gemm_sum_f32(int M, int N, int K, int Q, const float *A, long ars, long acs,
                                   long aqs, const float *B, long brs, long bqs, float *C, long crs,
                                   int accumulate, int chunk, int panel){RNNC_GEMM_SUM_BODY(f32)}

RNNC_INLINE
    void rnnc_gemm_sum_f64(int M, int N, int K, int Q, const double *A, long ars, long acs,
                           long aqs, const double *B, long brs, long bqs, double *C, long crs,
                           int accumulate, int chunk, int panel){RNNC_GEMM_SUM_BODY(f64)}

/* C (+)= A @ B with any strides: plain loops, for the products whose
 * columns are not contiguous. */
#define RNNC_GEMM_STRIDED_BODY(T)                                                                  \
  int i, j, p;                                                                                     \
  for (i = 0; i < M; ++i)                                                                          \
    for (j = 0; j < N; ++j) {                                                                      \
      T sum = accumulate ? C[i * crs + j * ccs] : (T)0;                                            \
      for (p = 0; p < K; ++p)                                                                      \
        sum += A[i * ars + p * acs] * B[p * brs + j * bcs];                                        \
      C[i * crs + j * ccs] = sum;                                                                  \
    }

RNNC_INLINE void rnnc_gemm_strided_f32(int M, int N, int K, const float *A, long ars, long acs,
                                       const float *B, long brs, long bcs, float *C, long crs,
                                       long ccs, int accumulate){RNNC_GEMM_STRIDED_BODY(float)}

RNNC_INLINE void rnnc_gemm_strided_f64(int M, int N, int K, const double *A, long ars, long acs,
                                       const double *B, long brs, long bcs, double *C, long crs,
                                       long ccs, int accumulate) {
  RNNC_GEMM_STRIDED_BODY(double)
}

/* dst = src^T: dst[j * drs + i] = src[i * srs + j] for i < rows, j < cols
 * (a weight's transposed copy, which backward's products read row by row).
 * Under GNU C in blocks of 4 x 4 floats or 2 x 2 doubles: four (two) 16-byte
 * rows loaded, shuffled, stored as the block's columns; then the edges
 * element by element. Measured for the 20 x 80 recurrent kernel of seed 14
 * (a copy in every training step) on the AVX-512 EPYC: 140 ns against 530 ns
 * for the plain loop, whose strided reads GCC turns into element inserts. A
 * copy: the same values on every path. */
#if defined(__GNUC__) && !defined(RNNC_PLAIN_C)
typedef int rnnc_vi4 __attribute__((vector_size(16)));
typedef long long rnnc_vl2 __attribute__((vector_size(16)));
#if defined(__clang__)
#define RNNC_SHUFFLE4(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#define RNNC_SHUFFLE2(a, b, i, j) __builtin_shufflevector(a, b, i, j)
#else
#define RNNC_SHUFFLE4(a, b, i, j, k, l) __builtin_shuffle(a, b, (rnnc_vi4){i, j, k, l})
#define RNNC_SHUFFLE2(a, b, i, j) __builtin_shuffle(a, b, (rnnc_vl2){i, j})
#endif
/* The whole blocks; i0 and j0 end past them. */
#define RNNC_TRANSPOSE_BLOCKS_f32()                                                                \
  do {                                                                                             \
    for (i = 0; i + 4 <= rows; i += 4)                                                             \
      for (j = 0; j + 4 <= cols; j += 4) {                                                         \
        const rnnc_vf16b r0 = *(const rnnc_vf16b *)(src + i * srs + j),                            \
                         r1 = *(const rnnc_vf16b *)(src + (i + 1) * srs + j),                      \
                         r2 = *(const rnnc_vf16b *)(src + (i + 2) * srs + j),                      \
                         r3 = *(const rnnc_vf16b *)(src + (i + 3) * srs + j);                      \
        const rnnc_vf16b t0 = RNNC_SHUFFLE4(r0, r1, 0, 4, 1, 5),                                   \
                         t1 = RNNC_SHUFFLE4(r0, r1, 2, 6, 3, 7),                                   \
                         t2 = RNNC_SHUFFLE4(r2, r3, 0, 4, 1, 5),                                   \
                         t3 = RNNC_SHUFFLE4(r2, r3, 2, 6, 3, 7);                                   \
        *(rnnc_vf16b *)(dst + j * drs + i) = RNNC_SHUFFLE4(t0, t2, 0, 1, 4, 5);                    \
        *(rnnc_vf16b *)(dst + (j + 1) * drs + i) = RNNC_SHUFFLE4(t0, t2, 2, 3, 6, 7);              \
        *(rnnc_vf16b *)(dst + (j + 2) * drs + i) = RNNC_SHUFFLE4(t1, t3, 0, 1, 4, 5);              \
        *(rnnc_vf16b *)(dst + (j + 3) * drs + i) = RNNC_SHUFFLE4(t1, t3, 2, 3, 6, 7);              \
      }                                                                                            \
    i0 = rows - rows % 4;                                                                          \
    j0 = cols - cols % 4;                                                                          \
  } while (0)
#define RNNC_TRANSPOSE_BLOCKS_f64()                                                                \
  do {                                                                                             \
    for (i = 0; i + 2 <= rows; i += 2)                                                             \
      for (j = 0; j + 2 <= cols; j += 2) {                                                         \
        const rnnc_vd16b r0 = *(const rnnc_vd16b *)(src + i * srs + j),                            \
                         r1 = *(const rnnc_vd16b *)(src + (i + 1) * srs + j);                      \
        *(rnnc_vd16b *)(dst + j * drs + i) = RNNC_SHUFFLE2(r0, r1, 0, 2);                          \
        *(rnnc_vd16b *)(dst + (j + 1) * drs + i) = RNNC_SHUFFLE2(r0, r1, 1, 3);                    \
      }                                                                                            \
    i0 = rows - rows % 2;                                                                          \
    j0 = cols - cols % 2;                                                                          \
  } while (0)
#else
#define RNNC_TRANSPOSE_BLOCKS_f32() ((void)0)
#define RNNC_TRANSPOSE_BLOCKS_f64() ((void)0)
#endif
/* The blocks, then the last rows (every column) and the last columns. */
#define RNNC_TRANSPOSE_BODY(SUFFIX)                                                                \
  int i, j, i0 = 0, j0 = 0;                                                                        \
  RNNC_TRANSPOSE_BLOCKS_##SUFFIX();                                                                \
  for (i = i0; i < rows; ++i)                                                                      \
    for (j = 0; j < cols; ++j)                                                                     \
      dst[j * drs + i] = src[i * srs + j];                                                         \
  for (i = 0; i < i0; ++i)                                                                         \
    for (j = j0; j < cols; ++j)                                                                    \
      dst[j * drs + i] = src[i * srs + j];

RNNC_INLINE void rnnc_transpose_f32(int rows, int cols, const float *src, long srs, float *dst,
                                    long drs) {
  RNNC_TRANSPOSE_BODY(f32);
}

RNNC_INLINE void rnnc_transpose_f64(int rows, int cols, const double *src, long srs, double *dst,
                                    long drs) {
  RNNC_TRANSPOSE_BODY(f64);
}

/* Single-precision exp and tanh for the generated float32 code: straight-line
 * arithmetic (no call, no branch, no table), so loops over a gate's units
 * vectorise. exp: Cephes's expf polynomial, within 2 ulp of the correctly
 * rounded value on [-87, 88] (inputs are clamped there: sigmoid and tanh
 * saturate long before); rounding uses the 1.5 * 2^23 trick (round to
 * nearest, the default mode), and 2^n comes from the bits of that same sum,
 * so no float-to-int conversion is undefined for any input. tanh: x P(x^2) /
 * Q(x^2), degrees 13 and 6, fitted for rnnc (tests/units/fit_tanhf.py:
 * relative error 6.7e-9 in exact arithmetic on [-9, 9]; beyond, +-1, which
 * tanh is to within an ulp), evaluated in Estrin's scheme: within 6 ulp of
 * the correctly rounded tanh over every float, odd to the bit
 * (tests/units/test_kernels.c). It replaced 1 - 2 / (exp(2x) + 1), within 1
 * ulp but a longer chain: a streaming LSTM's step waits on two tanh in a row
 * (LSTM(8) 69 -> 52 ns per step). NaN stays NaN in both. */
static inline float rnnc_expf(float x) {
  float t, n, r, y, scale;
  uint32_t bits;
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  t = x * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23 + round(x / ln 2) */
  n = t - 12582912.0f;
  r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  y = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
         4.1665795894e-2f) *
            r +
        1.6666665459e-1f) *
           r +
       5.0000001201e-1f) *
          (r * r) +
      r + 1.0f;
  memcpy(&bits, &t, sizeof bits);
  bits = (bits - 0x4B400000u + 127u) << 23; /* the exponent field of 2^n */
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

static inline float rnnc_tanhf(float x) {
  const float c = x > 9.0f ? 9.0f : (x < -9.0f ? -9.0f : x);
  const float s = c * c, s2 = s * s, s4 = s2 * s2;
  const float p01 = 1.3084041586771269e-1f * s + 9.9999999342277102e-1f;
  const float p23 = 1.1154672660066496e-5f * s + 3.1039912853289327e-3f;
  const float p45 = 5.2786476259433548e-11f * s - 2.0226690999097695e-8f;
  const float p = (-8.490491679905908e-14f * s2 + p45) * s4 + (p23 * s2 + p01);
  const float q = (2.5461961427733997e-4f * s + 2.44953183255959e-2f) * s2 +
                  (4.6417368701220146e-1f * s + 1.0f);
  const float r = c * p / q;
  return x > 9.0f ? 1.0f : (x < -9.0f ? -1.0f : r);
}

#endif
