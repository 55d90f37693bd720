/* The kernels of rnnc_kernels.h. The products against the plainest loops: every
 * element of C is the sum over q, then p, of A * B, in that order, started
 * from C (accumulate) or zero. Whatever tiling the kernel picks (blocks of
 * six rows, single rows, column panels, whole rows streamed through L1 for
 * a B larger than L1, slices of a gradient sum in chunks), the result must be
 * the same to the bit: streaming, forward and predict on threads rely on a
 * sample's numbers not depending on which path computed them. Compared with
 * memcmp; the shapes below reach every path, on both element types, with the
 * vector path of the build's target (or -DRNNC_PLAIN_C's loops). Then the
 * transposed copies of weights, and float32 tanh and exp against the
 * correctly rounded values.
 *
 * Whether each term is one multiply-add is the compiler's choice, so every
 * row of a run must be the plain loops' separate sums, or every row their
 * fused sums (fma, fmaf). Built a third time with -DRNNC_TEST_CONTRACT:
 * contraction on, as every generated unit turns it on (its #pragma). GCC
 * tuned for AMD Zen (-march=native there) leaves a loop-carried sum of
 * vectors up to 256 bits, or of scalars, as a multiply and an add, and
 * fuses the same sum elsewhere: a row's last columns came out differently
 * alone and in a block of six rows until the kernels pinned those
 * accumulators (RNNC_CHUNK). */
#if defined(RNNC_TEST_CONTRACT) && defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(RNNC_TEST_CONTRACT) && defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc_kernels.h"

typedef struct {
  int M, N, K, Q;  /* C is M x N, K deep, summed over Q slices */
  int accumulate;  /* start from C */
  int panel;       /* the generator's panel flag */
  int chunk;       /* slices at a time (rnnc_gemm_sum), 0: all */
  const char *why; /* the path the shape reaches */
} shape;

static const shape SHAPES[] = {
    {1, 32, 9, 1, 1, 0, 0, "one row, B in L1: blocks of vectors (a streaming LSTM(8))"},
    {1, 512, 129, 1, 1, 0, 0, "one row, B of 264 KB: whole rows through L1 (LSTM(128))"},
    {1, 256, 65, 1, 0, 0, 0, "one row, B of 66 KB, not accumulating"},
    {1, 1100, 40, 1, 1, 0, 0, "one row wider than rnnc_row's 1,024 accumulators"},
    {1, 384, 90, 1, 1, 0, 0, "one row, B of 138 KB, 24 vectors: through rnnc_row"},
    {2, 150, 70, 1, 1, 0, 0, "two rows of 9.4 float vectors in registers, 18.75 double through L1"},
    {1, 200, 60, 1, 0, 0, 0, "one row of 12.5 AVX-512 vectors, B of 48 KB"},
    {1, 250, 40, 1, 1, 0, 0, "one row of 15.6 float vectors, 16 of them at once only when whole"},
    {1, 120, 40, 1, 1, 0, 0, "one row of 15 double vectors in registers, B of 38 KB"},
    {1, 517, 33, 1, 1, 0, 0, "one row, columns past the last whole vector, odd K"},
    {7, 300, 70, 1, 1, 0, 0, "a block of six rows, then one row through L1"},
    {17, 300, 70, 1, 1, 0, 0, "blocks of six rows, then five rows through L1"},
    {6, 40, 10, 1, 0, 0, 0, "a block of six rows, B in L1"},
    {11, 40, 10, 1, 0, 0, 0, "a block of six rows, then single rows, B in L1"},
    {1, 512, 300, 1, 1, 1, 0, "one row with the panel flag set: whole rows"},
    {9, 96, 300, 1, 1, 1, 0, "column panels, 128 rows of B per pass"},
    {32, 512, 1600, 1, 1, 1, 0, "column panels, the input kernel's gradient of LSTM(128)"},
    {14, 40, 129, 1, 0, 1, 0, "column panels narrower than a vector's multiple"},
    {1, 64, 90, 5, 1, 0, 2, "a gradient summed over 5 slices, 2 at a time"},
    {5, 200, 50, 3, 0, 0, 0, "a gradient summed over 3 slices at once"},
};

/* One term of a sum, a product then a sum (the volatile keeps a contracting
 * build from fusing it), and fused (libm's fma: exact on any target). */
#define FUSED_float(sum, a, b) fmaf(a, b, sum)
#define FUSED_double(sum, a, b) fma(a, b, sum)
static float separate_float(float sum, float a, float b) {
  volatile float product = a * b;
  return sum + product;
}
static double separate_double(double sum, double a, double b) {
  volatile double product = a * b;
  return sum + product;
}

/* Whether the compiler fuses is its choice (GCC: under contraction at -O2
 * and above; clang: within an expression by default, -std=c99 or not; neither
 * without the target's multiply-add): every row of the run must be the
 * separate sums, or every row the fused ones. -1 until a row tells which. */
static int fused_run = -1;

static uint64_t state = 88172645463325252u;

/* Uniform in [-1, 1): values whose sums round, so that another order shows. */
static double draw(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return (double)(state >> 11) / 4503599627370496.0 - 1.0;
}

#define CHECK_BODY(T, SUFFIX)                                                                      \
  const long ars = s->K + 3, acs = 1, aqs = s->M * ars; /* padded rows: strides matter */          \
  const long brs = s->N + 5, bqs = s->K * brs, crs = s->N + 2;                                     \
  T *A = malloc(sizeof *A * (size_t)(s->Q * aqs)), *B = malloc(sizeof *B * (size_t)(s->Q * bqs));  \
  T *C = malloc(sizeof *C * (size_t)(s->M * crs)),                                                 \
    *want = malloc(sizeof *want * (size_t)(s->M * crs)),                                           \
    *fused = malloc(sizeof *fused * (size_t)(s->M * crs));                                         \
  long i, j, p, q;                                                                                 \
  assert_non_null(A);                                                                              \
  assert_non_null(B);                                                                              \
  assert_non_null(C);                                                                              \
  assert_non_null(want);                                                                           \
  assert_non_null(fused);                                                                          \
  for (i = 0; i < s->Q * aqs; ++i)                                                                 \
    A[i] = (T)draw();                                                                              \
  for (i = 0; i < s->Q * bqs; ++i)                                                                 \
    B[i] = (T)draw();                                                                              \
  for (i = 0; i < s->M * crs; ++i)                                                                 \
    C[i] = want[i] = fused[i] = (T)draw();                                                         \
  for (i = 0; i < s->M; ++i)                                                                       \
    for (j = 0; j < s->N; ++j) {                                                                   \
      T sum = s->accumulate ? want[i * crs + j] : (T)0, fsum = sum;                                \
      for (q = 0; q < s->Q; ++q)                                                                   \
        for (p = 0; p < s->K; ++p) {                                                               \
          const T a = A[q * aqs + i * ars + p * acs], b = B[q * bqs + p * brs + j];                \
          sum = separate_##T(sum, a, b);                                                           \
          fsum = FUSED_##T(fsum, a, b);                                                            \
        }                                                                                          \
      want[i * crs + j] = sum;                                                                     \
      fused[i * crs + j] = fsum;                                                                   \
    }                                                                                              \
  if (s->Q == 1 && s->chunk == 0)                                                                  \
    rnnc_gemm_##SUFFIX(s->M, s->N, s->K, A, ars, acs, B, brs, C, crs, s->accumulate, s->panel);    \
  else                                                                                             \
    rnnc_gemm_sum_##SUFFIX(s->M, s->N, s->K, s->Q, A, ars, acs, aqs, B, brs, bqs, C, crs,          \
                           s->accumulate, s->chunk, s->panel);                                     \
  for (i = 0; i < s->M; ++i) {                                                                     \
    const size_t row = sizeof *C * (size_t)s->N;                                                   \
    const int separate_ok = memcmp(C + i * crs, want + i * crs, row) == 0,                         \
              fused_ok = memcmp(C + i * crs, fused + i * crs, row) == 0;                           \
    if (!separate_ok && !fused_ok)                                                                 \
      fail_msg("%s: %dx%dx%d (Q %d): row %ld differs from the sum in order", s->why, s->M, s->N,   \
               s->K, s->Q, i);                                                                     \
    if (separate_ok != fused_ok) {                                                                 \
      if (fused_run == !fused_ok)                                                                  \
        fail_msg("%s: %dx%dx%d (Q %d): row %ld is the %s sum, earlier rows the %s", s->why, s->M,  \
                 s->N, s->K, s->Q, i, fused_ok ? "fused" : "separate",                             \
                 fused_ok ? "separate" : "fused");                                                 \
      fused_run = fused_ok;                                                                        \
    }                                                                                              \
  }                                                                                                \
  for (i = 0; i < s->M; ++i) /* the padding between rows is not written */                         \
    assert_memory_equal(C + i * crs + s->N, want + i * crs + s->N, sizeof *C * 2);                 \
  free(A);                                                                                         \
  free(B);                                                                                         \
  free(C);                                                                                         \
  free(want);                                                                                      \
  free(fused);

static void check_f32(const shape *s) {
  CHECK_BODY(float, f32)
}

static void check_f64(const shape *s) {
  CHECK_BODY(double, f64)
}

static void every_path_sums_in_order_f32(void **unused) {
  size_t k;
  (void)unused;
  for (k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; ++k)
    check_f32(&SHAPES[k]);
}

static void every_path_sums_in_order_f64(void **unused) {
  size_t k;
  (void)unused;
  for (k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; ++k)
    check_f64(&SHAPES[k]);
}

/* Every width from 1 to 130 columns, in blocks of six rows and single rows,
 * with and without panels: a single row's chunks of 8, 6, 4, 3, 2 and 1
 * vectors, then a half vector, a quarter and up to three scalars
 * (rnnc_tail) at each offset. */
static void every_width_sums_in_order(void **unused) {
  int n, m, acc;
  (void)unused;
  for (n = 1; n <= 130; ++n)
    for (m = 1; m <= 7; m += 6)
      for (acc = 0; acc <= 1; ++acc) {
        const shape s = {m, n, 9, 1, acc, m > 1 && acc, 0, "a width of every size"};
        check_f32(&s);
        check_f64(&s);
      }
}

/* rnnc_transpose against the plain loop, every shape up to 13 x 13 and a few
 * weights' (seed 14's 20 x 80 recurrent kernel, LSTM(128)'s 128 x 512), with
 * padded rows: the copy to the bit, and nothing written between rows. */
#define TRANSPOSE_BODY(T, SUFFIX)                                                                  \
  const long srs = cols + 3, drs = rows + 1;                                                       \
  T *src = malloc(sizeof *src * (size_t)(rows * srs)),                                             \
    *dst = malloc(sizeof *dst * (size_t)(cols * drs)),                                             \
    *want = malloc(sizeof *want * (size_t)(cols * drs));                                           \
  long i, j;                                                                                       \
  assert_non_null(src);                                                                            \
  assert_non_null(dst);                                                                            \
  assert_non_null(want);                                                                           \
  for (i = 0; i < rows * srs; ++i)                                                                 \
    src[i] = (T)draw();                                                                            \
  for (i = 0; i < cols * drs; ++i)                                                                 \
    dst[i] = want[i] = (T)draw();                                                                  \
  for (i = 0; i < rows; ++i)                                                                       \
    for (j = 0; j < cols; ++j)                                                                     \
      want[j * drs + i] = src[i * srs + j];                                                        \
  rnnc_transpose_##SUFFIX(rows, cols, src, srs, dst, drs);                                         \
  if (memcmp(dst, want, sizeof *dst * (size_t)(cols * drs)) != 0)                                  \
    fail_msg("rnnc_transpose_" #SUFFIX " of %d x %d differs from the plain loop", rows, cols);     \
  free(src);                                                                                       \
  free(dst);                                                                                       \
  free(want);

static void check_transpose_f32(int rows, int cols) {
  TRANSPOSE_BODY(float, f32)
}

static void check_transpose_f64(int rows, int cols) {
  TRANSPOSE_BODY(double, f64)
}

static void transposes_every_shape(void **unused) {
  static const int weights[][2] = {{20, 80}, {80, 20}, {128, 512}, {3, 12}, {33, 7}};
  int r, c;
  size_t k;
  (void)unused;
  for (r = 1; r <= 13; ++r)
    for (c = 1; c <= 13; ++c) {
      check_transpose_f32(r, c);
      check_transpose_f64(r, c);
    }
  for (k = 0; k < sizeof weights / sizeof weights[0]; ++k) {
    check_transpose_f32(weights[k][0], weights[k][1]);
    check_transpose_f64(weights[k][0], weights[k][1]);
  }
}

/* A float's position on the line of floats: ulps between two is a difference. */
static int64_t float_order(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i < 0 ? -(int64_t)(i & 0x7fffffff) : i;
}

/* rnnc_tanhf within 6 ulp of the correctly rounded tanh and odd to the bit,
 * rnnc_expf within 2 ulp on [-87, 88], over every 257th float (the whole
 * line was checked once: tanh's worst is 6 ulp at 2.587 and 4.049, exp's
 * 1 ulp), and the special values. */
static void tanh_and_exp_within_their_ulps(void **unused) {
  uint32_t bits;
  int64_t worst_tanh = 0, worst_exp = 0;
  (void)unused;
  for (bits = 0; bits < 0x7f800000u; bits += 257) {
    float x, got;
    int64_t u;
    memcpy(&x, &bits, sizeof x);
    got = rnnc_tanhf(x);
    u = llabs(float_order(got) - float_order((float)tanh((double)x)));
    worst_tanh = u > worst_tanh ? u : worst_tanh;
    if (rnnc_tanhf(-x) != -got)
      fail_msg("tanh(-%.9g) is not -tanh(%.9g)", (double)x, (double)x);
    if (x <= 88.0f) {
      u = llabs(float_order(rnnc_expf(x)) - float_order((float)exp((double)x)));
      worst_exp = u > worst_exp ? u : worst_exp;
    }
    if (x <= 87.0f) {
      u = llabs(float_order(rnnc_expf(-x)) - float_order((float)exp(-(double)x)));
      worst_exp = u > worst_exp ? u : worst_exp;
    }
  }
  if (worst_tanh > 6 || worst_exp > 2)
    fail_msg("tanh within %lld ulp, exp within %lld", (long long)worst_tanh, (long long)worst_exp);
  assert_true(isnan(rnnc_tanhf(NAN)));
  assert_true(isnan(rnnc_expf(NAN)));
  assert_true(rnnc_tanhf(INFINITY) == 1.0f && rnnc_tanhf(-INFINITY) == -1.0f);
  assert_true(rnnc_tanhf(-0.0f) == 0.0f && signbit(rnnc_tanhf(-0.0f)));
  assert_true(rnnc_tanhf(1e-30f) == 1e-30f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_path_sums_in_order_f32),
      cmocka_unit_test(every_path_sums_in_order_f64),
      cmocka_unit_test(every_width_sums_in_order),
      cmocka_unit_test(transposes_every_shape),
      cmocka_unit_test(tanh_and_exp_within_their_ulps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
