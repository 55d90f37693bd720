/* Tests of the numeric runtime: dtypes, RNG, initializers, losses, optimizers.
 * Expected values are computed independently here (closed forms, a Householder
 * QR, finite differences, Keras's update rules written out), never by calling
 * the code under test a second way. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "rnnc.h"

#define MAXN 4096

static void near_impl(double got, double want, double tol, const char *expr, const char *file,
                      int line) {
  if (!(fabs(got - want) <= tol)) {
    print_error("%s = %.17g, expected %.17g (|diff| %.3g > tol %.3g)\n", expr, got, want,
                fabs(got - want), tol);
    _fail(file, line);
  }
}
#define assert_near(got, want, tol)                                                                \
  near_impl((double)(got), (double)(want), (double)(tol), #got, __FILE__, __LINE__)

/* ================================================================ dtypes */

static void test_dtype_size(void **state) {
  (void)state;
  assert_int_equal(rnnc_dtype_size(RNNC_F32), 4);
  assert_int_equal(rnnc_dtype_size(RNNC_F64), 8);
}

/* ================================================================ RNG */

static void test_rng_known_answer(void **state) {
  /* splitmix64 from 0 starts with 0xe220a8397b1dcdaf (the published value);
   * the xoshiro256** outputs were computed by an independent Python version
   * of the reference algorithm. */
  rnnc_rng rng;
  (void)state;
  rnnc_rng_seed(&rng, 0);
  assert_true(rng.s[0] == UINT64_C(0xe220a8397b1dcdaf));
  assert_true(rng.s[1] == UINT64_C(0x6e789e6aa1b965f4));
  assert_true(rng.s[2] == UINT64_C(0x06c45d188009454f));
  assert_true(rng.s[3] == UINT64_C(0xf88bb8a8724c81ec));
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0x99ec5f36cb75f2b4));
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0xbf6e1f784956452a));
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0x1a5f849d4933e6e0));
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0x6aa594f1262d2d2c));
  rnnc_rng_seed(&rng, 42);
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0x15780b2e0c2ec716));
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0x6104d9866d113a7e));
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0xae17533239e499a1));
  assert_true(rnnc_rng_next(&rng) == UINT64_C(0xecb8ad4703b360a1));
}

static void test_rng_reproducible(void **state) {
  rnnc_rng a, b, c;
  int i, differ = 0;
  (void)state;
  rnnc_rng_seed(&a, 1234);
  rnnc_rng_seed(&b, 1234);
  rnnc_rng_seed(&c, 1235);
  for (i = 0; i < 1000; i++) {
    uint64_t x = rnnc_rng_next(&a), y = rnnc_rng_next(&b), z = rnnc_rng_next(&c);
    assert_true(x == y);
    differ += x != z;
  }
  assert_true(differ > 990);
  /* the derived draws follow the same stream */
  rnnc_rng_seed(&a, 7);
  rnnc_rng_seed(&b, 7);
  for (i = 0; i < 100; i++) {
    assert_true(rnnc_rng_uniform(&a) == rnnc_rng_uniform(&b));
    assert_true(rnnc_rng_normal(&a) == rnnc_rng_normal(&b));
    assert_true(rnnc_rng_below(&a, 10) == rnnc_rng_below(&b, 10));
  }
}

static void test_rng_uniform_moments(void **state) {
  /* 1e5 draws of U[0,1): mean 1/2 (sd 9.1e-4), variance 1/12 (sd 2.4e-4);
   * bounds are about 5 sd. */
  const int n = 100000;
  rnnc_rng rng;
  double sum = 0.0, sq = 0.0, mean, var;
  int i;
  (void)state;
  rnnc_rng_seed(&rng, 2024);
  for (i = 0; i < n; i++) {
    double u = rnnc_rng_uniform(&rng);
    assert_true(u >= 0.0 && u < 1.0);
    /* 53 bits: u * 2^53 is an integer */
    assert_true(u * 9007199254740992.0 == floor(u * 9007199254740992.0));
    sum += u;
    sq += u * u;
  }
  mean = sum / n;
  var = sq / n - mean * mean;
  assert_near(mean, 0.5, 0.005);
  assert_near(var, 1.0 / 12.0, 0.0015);
}

static void test_rng_normal_moments(void **state) {
  /* 1e5 draws of N(0,1): mean 0 (sd 3.2e-3), E z^2 = 1 (sd 4.5e-3),
   * E z^3 = 0 (sd 1.2e-2), E z^4 = 3 (sd 3.1e-2); bounds about 5 sd. */
  const int n = 100000;
  rnnc_rng rng;
  double m1 = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0;
  int i;
  (void)state;
  rnnc_rng_seed(&rng, 99);
  for (i = 0; i < n; i++) {
    double z = rnnc_rng_normal(&rng);
    assert_true(isfinite(z));
    m1 += z;
    m2 += z * z;
    m3 += z * z * z;
    m4 += z * z * z * z;
  }
  assert_near(m1 / n, 0.0, 0.016);
  assert_near(m2 / n, 1.0, 0.025);
  assert_near(m3 / n, 0.0, 0.06);
  assert_near(m4 / n, 3.0, 0.16);
}

static void test_rng_below(void **state) {
  /* bound 7, 7e4 draws: each count 1e4 with sd 93; chi-square with 6 degrees
   * of freedom stays below 30 with probability 1 - 4e-5. */
  rnnc_rng rng;
  long counts[7] = {0};
  double chi2 = 0.0, low = 0.0;
  const uint64_t big = UINT64_C(0xc000000000000000); /* 3 * 2^62 */
  int i;
  (void)state;
  rnnc_rng_seed(&rng, 5);
  for (i = 0; i < 70000; i++) {
    uint64_t r = rnnc_rng_below(&rng, 7);
    assert_true(r < 7);
    counts[r]++;
  }
  for (i = 0; i < 7; i++)
    chi2 += (counts[i] - 10000.0) * (counts[i] - 10000.0) / 10000.0;
  assert_true(chi2 < 30.0);
  for (i = 0; i < 100; i++)
    assert_true(rnnc_rng_below(&rng, 1) == 0);
  /* bound 3 * 2^62: a plain r % bound would put half the draws below 2^62
   * instead of a third, so this catches modulo bias (sd of the fraction 4.7e-3). */
  for (i = 0; i < 10000; i++) {
    uint64_t r = rnnc_rng_below(&rng, big);
    assert_true(r < big);
    low += r < (UINT64_C(1) << 62);
  }
  assert_near(low / 10000.0, 1.0 / 3.0, 0.025);
}

/* ================================================================ initializers */

static void test_init_zeros_ones(void **state) {
  double w[12];
  float f[12];
  int shape[2] = {3, 4}, i;
  (void)state;
  for (i = 0; i < 12; i++)
    w[i] = f[i] = 5;
  rnnc_init_f64(w, RNNC_INIT_ZEROS, 2, shape, NULL);
  rnnc_init_f32(f, RNNC_INIT_ONES, 2, shape, NULL);
  for (i = 0; i < 12; i++) {
    assert_true(w[i] == 0.0);
    assert_true(f[i] == 1.0f);
  }
}

/* Glorot limit sqrt(6 / (fan_in + fan_out)), with the fans written out. */
static void check_glorot(int rank, const int *shape, double fan_in, double fan_out, int check_var) {
  static double w[MAXN];
  static float f[MAXN];
  rnnc_rng rng;
  size_t n = 1, i;
  int d;
  double limit = sqrt(6.0 / (fan_in + fan_out)), mean = 0.0, sq = 0.0, amax = 0.0;
  for (d = 0; d < rank; d++)
    n *= (size_t)shape[d];
  rnnc_rng_seed(&rng, 11);
  rnnc_init_f64(w, RNNC_INIT_GLOROT_UNIFORM, rank, shape, &rng);
  rnnc_rng_seed(&rng, 11);
  rnnc_init_f32(f, RNNC_INIT_GLOROT_UNIFORM, rank, shape, &rng);
  for (i = 0; i < n; i++) {
    assert_true(fabs(w[i]) <= limit);
    assert_true(f[i] == (float)w[i]); /* same draws, rounded */
    mean += w[i];
    sq += w[i] * w[i];
    if (fabs(w[i]) > amax)
      amax = fabs(w[i]);
  }
  /* the values fill the interval, so the limit is not too large either */
  assert_true(amax > 0.9 * limit);
  if (check_var) {
    /* U(-l, l): mean 0, variance l^2/3; sd of the mean estimate of w^2 is
     * l^2 sqrt(4/45/n) */
    double sd = limit * limit * sqrt(4.0 / 45.0 / (double)n);
    assert_near(mean / (double)n, 0.0, 5.0 * limit / sqrt(3.0 * (double)n));
    assert_near(sq / (double)n, limit * limit / 3.0, 5.0 * sd);
  }
}

static void test_init_glorot_uniform(void **state) {
  int s2[2] = {40, 100}, s1[1] = {300}, s3[3] = {3, 4, 5}, lstm[2] = {6, 4 * 8};
  (void)state;
  check_glorot(2, s2, 40, 100, 1);
  check_glorot(1, s1, 300, 300, 1);
  /* rank 3: receptive field 3, fan_in 3*4, fan_out 3*5 */
  check_glorot(3, s3, 12, 15, 0);
  /* an LSTM kernel (in, 4U): fans in and 4U */
  check_glorot(2, lstm, 6, 32, 0);
}

/* Reference QR by Householder reflections: a is m x n (m >= n, row-major) and
 * is destroyed; q receives the m x n Q with columns multiplied by sign(R_kk). */
static void householder_q(double *a, int m, int n, double *q) {
  static double v[64][64];
  double rdiag[64];
  int i, j, k;
  for (k = 0; k < n; k++) {
    double norm = 0.0, alpha, vnorm = 0.0;
    for (i = k; i < m; i++)
      norm += a[i * n + k] * a[i * n + k];
    norm = sqrt(norm);
    alpha = a[k * n + k] > 0 ? -norm : norm;
    for (i = 0; i < m; i++)
      v[k][i] = i < k ? 0.0 : a[i * n + k];
    v[k][k] -= alpha;
    for (i = k; i < m; i++)
      vnorm += v[k][i] * v[k][i];
    vnorm = sqrt(vnorm);
    for (i = k; i < m; i++)
      v[k][i] /= vnorm;
    for (j = k; j < n; j++) {
      double dot = 0.0;
      for (i = k; i < m; i++)
        dot += v[k][i] * a[i * n + j];
      for (i = k; i < m; i++)
        a[i * n + j] -= 2.0 * dot * v[k][i];
    }
    rdiag[k] = a[k * n + k];
  }
  /* Q = H_0 ... H_{n-1} applied to the first n columns of I */
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++)
      q[i * n + j] = i == j ? 1.0 : 0.0;
  for (k = n - 1; k >= 0; k--)
    for (j = 0; j < n; j++) {
      double dot = 0.0;
      for (i = k; i < m; i++)
        dot += v[k][i] * q[i * n + j];
      for (i = k; i < m; i++)
        q[i * n + j] -= 2.0 * dot * v[k][i];
    }
  for (j = 0; j < n; j++)
    if (rdiag[j] < 0)
      for (i = 0; i < m; i++)
        q[i * n + j] = -q[i * n + j];
}

/* Checks an orthogonal init of shape (rows, cols) given as `rank` dims: W^T W = I
 * (rows >= cols) or W W^T = I (rows < cols), and W equal to Keras's recipe
 * (normal matrix (max, min) drawn row-major, sign-corrected Q, transposed when
 * rows < cols) computed with the reference QR. */
static void check_orthogonal(int rank, const int *shape, int f32, double tol_orth, double tol_ref) {
  static double w[MAXN], a[MAXN], q[MAXN];
  static float f[MAXN];
  rnnc_rng rng;
  int rows = 1, cols = shape[rank - 1], big, small, i, j, k, d;
  for (d = 0; d < rank - 1; d++)
    rows *= shape[d];
  big = rows > cols ? rows : cols;
  small = rows > cols ? cols : rows;
  rnnc_rng_seed(&rng, 31337);
  if (f32) {
    rnnc_init_f32(f, RNNC_INIT_ORTHOGONAL, rank, shape, &rng);
    for (i = 0; i < rows * cols; i++)
      w[i] = f[i];
  } else {
    rnnc_init_f64(w, RNNC_INIT_ORTHOGONAL, rank, shape, &rng);
  }
  /* orthonormality of the short side */
  for (i = 0; i < small; i++)
    for (j = 0; j < small; j++) {
      double dot = 0.0;
      for (k = 0; k < big; k++)
        dot += rows >= cols ? w[k * cols + i] * w[k * cols + j] : w[i * cols + k] * w[j * cols + k];
      assert_near(dot, i == j ? 1.0 : 0.0, tol_orth);
    }
  /* against the reference */
  rnnc_rng_seed(&rng, 31337);
  for (i = 0; i < big * small; i++)
    a[i] = f32 ? (double)(float)rnnc_rng_normal(&rng) : rnnc_rng_normal(&rng);
  householder_q(a, big, small, q);
  for (i = 0; i < rows; i++)
    for (j = 0; j < cols; j++) {
      double want = rows >= cols ? q[i * cols + j] : q[j * rows + i];
      assert_near(w[i * cols + j], want, tol_ref);
    }
}

static const int orth_shapes[][2] = {{3, 3}, {8, 32}, {32, 8}, {7, 28}, {1, 4}};

static void test_init_orthogonal_f64(void **state) {
  size_t s;
  int s3[3] = {2, 3, 4}, s1[1] = {5};
  (void)state;
  for (s = 0; s < sizeof orth_shapes / sizeof orth_shapes[0]; s++)
    check_orthogonal(2, orth_shapes[s], 0, 1e-6, 1e-9);
  /* rank 3: rows 2*3 = 6, cols 4 */
  check_orthogonal(3, s3, 0, 1e-6, 1e-9);
  /* rank 1 (Keras refuses it): one unit row */
  check_orthogonal(1, s1, 0, 1e-6, 1e-9);
}

static void test_init_orthogonal_f32(void **state) {
  size_t s;
  (void)state;
  for (s = 0; s < sizeof orth_shapes / sizeof orth_shapes[0]; s++)
    check_orthogonal(2, orth_shapes[s], 1, 1e-5, 1e-4);
}

static void test_init_reproducible(void **state) {
  double a[64], b[64], c[64];
  rnnc_rng r1, r2, r3;
  int shape[2] = {8, 8}, kinds[2] = {RNNC_INIT_GLOROT_UNIFORM, RNNC_INIT_ORTHOGONAL}, k, i;
  (void)state;
  for (k = 0; k < 2; k++) {
    int same = 0;
    rnnc_rng_seed(&r1, 77);
    rnnc_rng_seed(&r2, 77);
    rnnc_rng_seed(&r3, 78);
    rnnc_init_f64(a, (rnnc_init_kind)kinds[k], 2, shape, &r1);
    rnnc_init_f64(b, (rnnc_init_kind)kinds[k], 2, shape, &r2);
    rnnc_init_f64(c, (rnnc_init_kind)kinds[k], 2, shape, &r3);
    assert_memory_equal(a, b, sizeof a);
    for (i = 0; i < 64; i++)
      same += a[i] == c[i];
    assert_true(same < 4);
    /* the generator moved on: a second tensor from the same stream differs */
    rnnc_init_f64(b, (rnnc_init_kind)kinds[k], 2, shape, &r2);
    same = 0;
    for (i = 0; i < 64; i++)
      same += a[i] == b[i];
    assert_true(same < 4);
  }
}

static void test_init_unit_forget_bias(void **state) {
  double w[12];
  float f[12];
  int shape[1] = {12}, i; /* U = 3 */
  const double want[12] = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  (void)state;
  for (i = 0; i < 12; i++)
    w[i] = f[i] = 9;
  rnnc_init_f64(w, RNNC_INIT_UNIT_FORGET_BIAS, 1, shape, NULL);
  rnnc_init_f32(f, RNNC_INIT_UNIT_FORGET_BIAS, 1, shape, NULL);
  for (i = 0; i < 12; i++) {
    assert_true(w[i] == want[i]);
    assert_true(f[i] == (float)want[i]);
  }
}

/* ================================================================ losses */

typedef double (*loss_fn64)(const double *, const double *, size_t, size_t, double *);

/* Central differences of the loss itself against its gradient. */
static void check_fd(loss_fn64 fn, const double *x0, const double *aux, size_t rows, size_t cols,
                     double h, double tol) {
  double x[64], grad[64];
  size_t i, n = rows * cols;
  memcpy(x, x0, n * sizeof *x);
  fn(x, aux, rows, cols, grad);
  for (i = 0; i < n; i++) {
    double up, down;
    x[i] = x0[i] + h;
    up = fn(x, aux, rows, cols, NULL);
    x[i] = x0[i] - h;
    down = fn(x, aux, rows, cols, NULL);
    x[i] = x0[i];
    assert_near(grad[i], (up - down) / (2.0 * h), tol);
  }
}

static void test_mse(void **state) {
  const double pred[6] = {1, 2, 3, 4, 5, 6}, target[6] = {1.5, 2, 2, 4, 7, 5};
  double grad[6];
  float p32[6], t32[6], g32[6];
  int i;
  (void)state;
  /* differences -0.5 0 1 | 0 -2 1; row means 1.25/3 and 5/3; mean 6.25/6 */
  assert_near(rnnc_loss_mse_f64(pred, target, 2, 3, grad), 6.25 / 6.0, 1e-15);
  for (i = 0; i < 6; i++)
    assert_near(grad[i], 2.0 * (pred[i] - target[i]) / 6.0, 1e-15);
  assert_near(rnnc_loss_mse_f64(pred, target, 2, 3, NULL), 6.25 / 6.0, 1e-15);
  /* a single row of 4: (1 + 4 + 9 + 16) / 4 */
  assert_near(rnnc_loss_mse_f64(pred, pred + 2, 1, 4, NULL), 4.0, 0.0);
  check_fd(rnnc_loss_mse_f64, pred, target, 2, 3, 1e-5, 1e-7);
  check_fd(rnnc_loss_mse_f64, pred, target, 3, 2, 1e-5, 1e-7);
  for (i = 0; i < 6; i++) {
    p32[i] = (float)pred[i];
    t32[i] = (float)target[i];
  }
  assert_near(rnnc_loss_mse_f32(p32, t32, 2, 3, g32), 6.25 / 6.0, 1e-7);
  for (i = 0; i < 6; i++)
    assert_near(g32[i], grad[i], 1e-7);
  assert_true(isnan(rnnc_loss_mse_f64(pred, target, 0, 3, NULL)));
}

/* -log(softmax(x)[label]) computed directly, no max subtraction (fine for the
 * small logits it is used on). */
static double direct_cce(const double *x, size_t cols, size_t label) {
  double sum = 0.0;
  size_t c;
  for (c = 0; c < cols; c++)
    sum += exp(x[c]);
  return -log(exp(x[label]) / sum);
}

static void test_cce_logits(void **state) {
  const double logits[12] = {0.5, -1.0, 2.0, 0.1, 1.5, 1.5, -0.3, 0.0, -2.0, 3.0, 0.25, -0.75};
  const double labels[3] = {2, 0, 3};
  const double big[3] = {1000.0, 1001.0, 999.0}, zero_label[1] = {0};
  double grad[12], want = 0.0, g3[3];
  size_t r, c;
  (void)state;
  for (r = 0; r < 3; r++)
    want += direct_cce(logits + 4 * r, 4, (size_t)labels[r]);
  want /= 3.0;
  assert_near(rnnc_loss_sparse_cce_logits_f64(logits, labels, 3, 4, grad), want, 1e-14);
  /* gradient (softmax - onehot) / rows, the softmax computed directly */
  for (r = 0; r < 3; r++) {
    double sum = 0.0;
    for (c = 0; c < 4; c++)
      sum += exp(logits[4 * r + c]);
    for (c = 0; c < 4; c++)
      assert_near(grad[4 * r + c],
                  (exp(logits[4 * r + c]) / sum - (c == (size_t)labels[r] ? 1.0 : 0.0)) / 3.0,
                  1e-15);
  }
  check_fd(rnnc_loss_sparse_cce_logits_f64, logits, labels, 3, 4, 1e-5, 1e-7);
  /* stable at large logits: exactly log(1 + e + 1/e) */
  assert_near(rnnc_loss_sparse_cce_logits_f64(big, zero_label, 1, 3, g3),
              log(1.0 + exp(1.0) + exp(-1.0)), 1e-12);
  assert_near(g3[0], 1.0 / (1.0 + exp(1.0) + exp(-1.0)) - 1.0, 1e-15);
  assert_near(g3[1], exp(1.0) / (1.0 + exp(1.0) + exp(-1.0)), 1e-15);
}

static void check_bad_label(double label) {
  /* every entry point rejects the label, returns NaN and writes no further
   * than rows * cols */
  const double x[6] = {0.2, 0.3, 0.5, 0.1, 0.1, 0.8};
  double labels[2] = {1, 0}, grad[6 + 3];
  float x32[6], l32[2], g32[6 + 3];
  int i;
  labels[1] = label;
  for (i = 0; i < 6; i++)
    x32[i] = (float)x[i];
  l32[0] = (float)labels[0];
  l32[1] = (float)labels[1];
  for (i = 0; i < 9; i++)
    grad[i] = g32[i] = 123.0f;
  assert_true(isnan(rnnc_loss_sparse_cce_logits_f64(x, labels, 2, 3, grad)));
  assert_true(isnan(rnnc_loss_sparse_cce_f64(x, labels, 2, 3, grad)));
  assert_true(isnan(rnnc_loss_sparse_cce_logits_f64(x, labels, 2, 3, NULL)));
  assert_true(isnan(rnnc_loss_sparse_cce_f64(x, labels, 2, 3, NULL)));
  assert_true(isnan(rnnc_loss_sparse_cce_logits_f32(x32, l32, 2, 3, g32)));
  assert_true(isnan(rnnc_loss_sparse_cce_f32(x32, l32, 2, 3, g32)));
  for (i = 6; i < 9; i++) {
    assert_true(grad[i] == 123.0);
    assert_true(g32[i] == 123.0f);
  }
  /* and it never counts as a correct prediction */
  assert_near(rnnc_sparse_accuracy_f64(x, labels, 2, 3), 0.0, 0.0);
}

static void test_cce_bad_labels(void **state) {
  (void)state;
  check_bad_label(3.0);  /* == cols */
  check_bad_label(-1.0); /* negative */
  check_bad_label(1.5);  /* not integral */
  check_bad_label(1e30); /* far out, would overflow an integer cast */
  check_bad_label(NAN);
}

static void test_cce_probs(void **state) {
  /* rows summing to 1: the loss is -log p[label] */
  const double probs[9] = {0.2, 0.7, 0.1, 0.5, 0.25, 0.25, 0.3, 0.3, 0.4};
  const double labels[3] = {1, 0, 2};
  /* a row that does not sum to 1: TF's backend feeds log(clip(p)) to
   * sparse_softmax_cross_entropy_with_logits, which renormalises: loss
   * -log(0.5 / 1.5) = log 3 */
  const double flat[3] = {0.5, 0.5, 0.5}, zero_label[1] = {0};
  double grad[9], g3[3];
  size_t r, c;
  (void)state;
  assert_near(rnnc_loss_sparse_cce_f64(probs, labels, 3, 3, grad),
              -(log(0.7) + log(0.5) + log(0.4)) / 3.0, 1e-15);
  /* d/dp_j of log(sum p) - log(p_label), divided by rows; sum p = 1 */
  for (r = 0; r < 3; r++)
    for (c = 0; c < 3; c++)
      assert_near(grad[3 * r + c],
                  (1.0 - (c == (size_t)labels[r] ? 1.0 / probs[3 * r + c] : 0.0)) / 3.0, 1e-14);
  check_fd(rnnc_loss_sparse_cce_f64, probs, labels, 3, 3, 1e-5, 1e-7);
  assert_near(rnnc_loss_sparse_cce_f64(flat, zero_label, 1, 3, g3), log(3.0), 1e-15);
  assert_near(g3[0], 1.0 / 1.5 - 1.0 / 0.5, 1e-15);
  assert_near(g3[1], 1.0 / 1.5, 1e-15);
  check_fd(rnnc_loss_sparse_cce_f64, flat, zero_label, 1, 3, 1e-5, 1e-7);
}

static void test_cce_probs_clip_edges(void **state) {
  /* p exactly 0 and 1 are clipped to [eps, 1 - eps]: finite loss, and zero
   * gradient through the clipped entries */
  const double p[9] = {1, 0, 0, 0, 1, 0, 0.5, 0.5, 0};
  const double labels[3] = {0, 0, 1};
  double grad[9], lo = 1e-7, hi = 1.0 - 1e-7, s, s2, want;
  float p32[9], l32[3], g32[9];
  int i;
  (void)state;
  s = hi + 2.0 * lo; /* clipped sum of rows 0 and 1 */
  s2 = 1.0 + lo;     /* and of row 2 */
  want = ((log(s) - log(hi)) + (log(s) - log(lo)) + (log(s2) - log(0.5))) / 3.0;
  assert_near(rnnc_loss_sparse_cce_f64(p, labels, 3, 3, grad), want, 1e-14);
  assert_true(isfinite(want) && want > 5.0);
  for (i = 0; i < 6; i++)
    assert_true(grad[i] == 0.0);
  assert_near(grad[6], (1.0 / s2) / 3.0, 1e-15);
  assert_near(grad[7], (1.0 / s2 - 1.0 / 0.5) / 3.0, 1e-15);
  assert_true(grad[8] == 0.0);
  /* float clips at eps and 1 - eps as float numbers, as Keras does in the
   * tensor's dtype: 1 - 1e-7f rounds to 1 - 2^-23 */
  lo = (double)1e-7f;
  hi = (double)(float)(1.0f - 1e-7f);
  assert_true(hi == 1.0 - 1.0 / 8388608.0);
  s = hi + 2.0 * lo;
  s2 = 1.0 + lo;
  want = ((log(s) - log(hi)) + (log(s) - log(lo)) + (log(s2) - log(0.5))) / 3.0;
  for (i = 0; i < 9; i++)
    p32[i] = (float)p[i];
  for (i = 0; i < 3; i++)
    l32[i] = (float)labels[i];
  assert_near(rnnc_loss_sparse_cce_f32(p32, l32, 3, 3, g32), want, 1e-12);
  for (i = 0; i < 6; i++)
    assert_true(g32[i] == 0.0f);
  assert_near(g32[6], (1.0 / s2) / 3.0, 1e-7);
  assert_near(g32[7], (1.0 / s2 - 1.0 / 0.5) / 3.0, 1e-7);
  assert_true(g32[8] == 0.0f);
}

static void test_losses_f32_f64_agree(void **state) {
  const double x[8] = {0.31, -1.2, 0.77, 2.5, -0.4, 0.05, 1.1, -0.9};
  const double t[8] = {0.3, -1.0, 1.0, 2.0, 0.0, 0.1, 1.0, -1.0};
  const double probs[8] = {0.1, 0.2, 0.3, 0.4, 0.05, 0.6, 0.25, 0.1};
  const double labels[2] = {3, 1};
  double g64[8], l64;
  float x32[8], t32[8], p32[8], lab32[2], g32[8];
  int i;
  (void)state;
  for (i = 0; i < 8; i++) {
    x32[i] = (float)x[i];
    t32[i] = (float)t[i];
    p32[i] = (float)probs[i];
  }
  lab32[0] = 3;
  lab32[1] = 1;
  /* the float inputs are rounded, so compare with the double code on the
   * rounded values and on the originals with a float-sized tolerance */
  l64 = rnnc_loss_mse_f64(x, t, 2, 4, g64);
  assert_near(rnnc_loss_mse_f32(x32, t32, 2, 4, g32), l64, 1e-6);
  for (i = 0; i < 8; i++)
    assert_near(g32[i], g64[i], 1e-6);
  l64 = rnnc_loss_sparse_cce_logits_f64(x, labels, 2, 4, g64);
  assert_near(rnnc_loss_sparse_cce_logits_f32(x32, lab32, 2, 4, g32), l64, 1e-6);
  for (i = 0; i < 8; i++)
    assert_near(g32[i], g64[i], 1e-6);
  l64 = rnnc_loss_sparse_cce_f64(probs, labels, 2, 4, g64);
  assert_near(rnnc_loss_sparse_cce_f32(p32, lab32, 2, 4, g32), l64, 1e-6);
  for (i = 0; i < 8; i++)
    assert_near(g32[i], g64[i], 1e-5);
  assert_near(rnnc_sparse_accuracy_f32(p32, lab32, 2, 4),
              rnnc_sparse_accuracy_f64(probs, labels, 2, 4), 0.0);
}

static void test_sparse_accuracy(void **state) {
  /* hit; tie taken by the first max (hit); same tie, other label (miss);
   * label out of range (miss) */
  const double p[12] = {0.1, 0.7, 0.2, 0.4, 0.4, 0.2, 0.4, 0.4, 0.2, 0.3, 0.3, 0.4};
  const double labels[4] = {1, 0, 1, 5};
  float p32[12], l32[4];
  int i;
  (void)state;
  for (i = 0; i < 12; i++)
    p32[i] = (float)p[i];
  for (i = 0; i < 4; i++)
    l32[i] = (float)labels[i];
  assert_near(rnnc_sparse_accuracy_f64(p, labels, 4, 3), 0.5, 0.0);
  assert_near(rnnc_sparse_accuracy_f32(p32, l32, 4, 3), 0.5, 0.0);
  assert_near(rnnc_sparse_accuracy_f64(p, labels, 1, 3), 1.0, 0.0);
}

/* ================================================================ optimizers */

static void test_optimizer_defaults(void **state) {
  rnnc_optimizer sgd = rnnc_optimizer_default(RNNC_OPT_SGD);
  rnnc_optimizer adam = rnnc_optimizer_default(RNNC_OPT_ADAM);
  (void)state;
  assert_int_equal(sgd.kind, RNNC_OPT_SGD);
  assert_true(sgd.learning_rate == 0.01 && sgd.momentum == 0.0 && sgd.nesterov == 0);
  assert_int_equal(adam.kind, RNNC_OPT_ADAM);
  assert_true(adam.learning_rate == 0.001 && adam.beta_1 == 0.9 && adam.beta_2 == 0.999 &&
              adam.epsilon == 1e-7);
  assert_int_equal(rnnc_optimizer_slots(&sgd, 10), 0);
  sgd.momentum = 0.9;
  assert_int_equal(rnnc_optimizer_slots(&sgd, 10), 10);
  assert_int_equal(rnnc_optimizer_slots(&adam, 10), 20);
}

static const double w0[3] = {1.0, -2.0, 0.5};
static const double grads[3][3] = {{0.1, -0.2, 0.3}, {0.05, 0.4, -0.1}, {-0.3, 0.0, 0.2}};

static void test_sgd_plain(void **state) {
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_SGD);
  double w[3];
  float f[3], g32[3];
  int t, i;
  (void)state;
  memcpy(w, w0, sizeof w);
  for (i = 0; i < 3; i++)
    f[i] = (float)w0[i];
  for (t = 0; t < 3; t++) {
    for (i = 0; i < 3; i++)
      g32[i] = (float)grads[t][i];
    rnnc_optimizer_step_f64(&opt, w, grads[t], NULL, 3, t + 1);
    rnnc_optimizer_step_f32(&opt, f, g32, NULL, 3, t + 1);
  }
  /* w -= 0.01 g, three times */
  assert_near(w[0], 1.0 - 0.01 * (0.1 + 0.05 - 0.3), 1e-15);
  assert_near(w[1], -2.0 - 0.01 * (-0.2 + 0.4 + 0.0), 1e-15);
  assert_near(w[2], 0.5 - 0.01 * (0.3 - 0.1 + 0.2), 1e-15);
  assert_near(w[0], 1.0015, 1e-15);
  for (i = 0; i < 3; i++)
    assert_near(f[i], w[i], 1e-6);
}

static void test_sgd_momentum(void **state) {
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_SGD);
  const double lr = 0.01, mu = 0.9;
  double w[3], v[3] = {0, 0, 0}, want_w[3], want_v[3];
  float f[3], fv[3] = {0, 0, 0}, g32[3];
  int t, i;
  (void)state;
  opt.momentum = mu;
  memcpy(w, w0, sizeof w);
  memcpy(want_w, w0, sizeof w);
  for (i = 0; i < 3; i++) {
    f[i] = (float)w0[i];
    want_v[i] = 0.0;
  }
  for (t = 0; t < 3; t++) {
    for (i = 0; i < 3; i++) {
      g32[i] = (float)grads[t][i];
      /* Keras: v = momentum * v - lr * g; w += v */
      want_v[i] = mu * want_v[i] - lr * grads[t][i];
      want_w[i] += want_v[i];
    }
    rnnc_optimizer_step_f64(&opt, w, grads[t], v, 3, t + 1);
    rnnc_optimizer_step_f32(&opt, f, g32, fv, 3, t + 1);
    for (i = 0; i < 3; i++) {
      assert_near(v[i], want_v[i], 1e-15);
      assert_near(w[i], want_w[i], 1e-15);
      assert_near(f[i], w[i], 1e-6);
      assert_near(fv[i], v[i], 1e-7);
    }
  }
  /* element 0 written out: v1 = -0.001, v2 = -0.0009 - 0.0005 = -0.0014,
   * v3 = -0.00126 + 0.003 = 0.00174; w3 = 1 - 0.001 - 0.0014 + 0.00174 */
  assert_near(w[0], 0.99934, 1e-15);
}

static void test_sgd_nesterov(void **state) {
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_SGD);
  const double lr = 0.01, mu = 0.9;
  double w[3], v[3] = {0, 0, 0}, want_w[3], want_v[3] = {0, 0, 0};
  float f[3], fv[3] = {0, 0, 0}, g32[3];
  int t, i;
  (void)state;
  opt.momentum = mu;
  opt.nesterov = 1;
  memcpy(w, w0, sizeof w);
  memcpy(want_w, w0, sizeof w);
  for (i = 0; i < 3; i++)
    f[i] = (float)w0[i];
  for (t = 0; t < 3; t++) {
    for (i = 0; i < 3; i++) {
      g32[i] = (float)grads[t][i];
      /* Keras: v = momentum * v - lr * g; w += momentum * v - lr * g */
      want_v[i] = mu * want_v[i] - lr * grads[t][i];
      want_w[i] += mu * want_v[i] - lr * grads[t][i];
    }
    rnnc_optimizer_step_f64(&opt, w, grads[t], v, 3, t + 1);
    rnnc_optimizer_step_f32(&opt, f, g32, fv, 3, t + 1);
    for (i = 0; i < 3; i++) {
      assert_near(v[i], want_v[i], 1e-15);
      assert_near(w[i], want_w[i], 1e-15);
      assert_near(f[i], w[i], 1e-6);
    }
  }
  /* element 0 written out: steps 0.9 v - 0.01 g with v = -0.001, -0.0014,
   * 0.00174: -0.0009 - 0.001, -0.00126 - 0.0005, 0.001566 + 0.003 */
  assert_near(w[0], 1.0 - 0.0019 - 0.00176 + 0.004566, 1e-15);
}

static void test_adam(void **state) {
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_ADAM);
  const double lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  /* the last element's gradients are tiny so that epsilon matters */
  const double g[3][3] = {{0.1, -0.2, 1e-8}, {0.05, 0.4, -2e-8}, {-0.3, 0.0, 3e-8}};
  double w[3], slots[6] = {0, 0, 0, 0, 0, 0}, m[3] = {0, 0, 0}, v[3] = {0, 0, 0}, want[3];
  float f[3], fslots[6] = {0, 0, 0, 0, 0, 0}, g32[3];
  int t, i;
  (void)state;
  memcpy(w, w0, sizeof w);
  memcpy(want, w0, sizeof w);
  for (i = 0; i < 3; i++)
    f[i] = (float)w0[i];

  /* step 1 in closed form: m = (1 - b1) g, v = (1 - b2) g^2,
   * w - lr sqrt(1 - b2) / (1 - b1) * m / (sqrt(v) + eps) */
  for (i = 0; i < 3; i++)
    g32[i] = (float)g[0][i];
  rnnc_optimizer_step_f64(&opt, w, g[0], slots, 3, 1);
  rnnc_optimizer_step_f32(&opt, f, g32, fslots, 3, 1);
  for (i = 0; i < 3; i++) {
    double m1 = (1 - b1) * g[0][i], v1 = (1 - b2) * g[0][i] * g[0][i];
    assert_near(slots[i], m1, 1e-17);
    assert_near(slots[3 + i], v1, 1e-18);
    assert_near(w[i], w0[i] - lr * sqrt(1 - b2) / (1 - b1) * m1 / (sqrt(v1) + eps), 1e-15);
  }
  /* numbers: for g = 0.1 the step is lr * 0.1 sqrt(0.001) / (0.1 sqrt(0.001) + 1e-7);
   * for g = 1e-8 it is lr * 1e-8 sqrt(0.001) / (1e-8 sqrt(0.001) + 1e-7) */
  assert_near(w[0], 0.99900003162177660, 1e-15);
  assert_near(w[2], 0.49999684769081676, 1e-15);

  /* steps 1 to 3 from Keras's recurrences */
  for (t = 1; t <= 3; t++) {
    double lr_t = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
    for (i = 0; i < 3; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[t - 1][i];
      v[i] = b2 * v[i] + (1 - b2) * g[t - 1][i] * g[t - 1][i];
      want[i] -= lr_t * m[i] / (sqrt(v[i]) + eps);
    }
    if (t > 1) {
      for (i = 0; i < 3; i++)
        g32[i] = (float)g[t - 1][i];
      rnnc_optimizer_step_f64(&opt, w, g[t - 1], slots, 3, t);
      rnnc_optimizer_step_f32(&opt, f, g32, fslots, 3, t);
    }
    for (i = 0; i < 3; i++) {
      assert_near(slots[i], m[i], 1e-16);
      assert_near(slots[3 + i], v[i], 1e-17);
      assert_near(w[i], want[i], 1e-14);
      assert_near(f[i], w[i], 1e-6);
      assert_near(fslots[i], m[i], 3e-7 * fabs(m[i]) + 1e-20);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtype_size),
      cmocka_unit_test(test_rng_known_answer),
      cmocka_unit_test(test_rng_reproducible),
      cmocka_unit_test(test_rng_uniform_moments),
      cmocka_unit_test(test_rng_normal_moments),
      cmocka_unit_test(test_rng_below),
      cmocka_unit_test(test_init_zeros_ones),
      cmocka_unit_test(test_init_glorot_uniform),
      cmocka_unit_test(test_init_orthogonal_f64),
      cmocka_unit_test(test_init_orthogonal_f32),
      cmocka_unit_test(test_init_reproducible),
      cmocka_unit_test(test_init_unit_forget_bias),
      cmocka_unit_test(test_mse),
      cmocka_unit_test(test_cce_logits),
      cmocka_unit_test(test_cce_bad_labels),
      cmocka_unit_test(test_cce_probs),
      cmocka_unit_test(test_cce_probs_clip_edges),
      cmocka_unit_test(test_losses_f32_f64_agree),
      cmocka_unit_test(test_sparse_accuracy),
      cmocka_unit_test(test_optimizer_defaults),
      cmocka_unit_test(test_sgd_plain),
      cmocka_unit_test(test_sgd_momentum),
      cmocka_unit_test(test_sgd_nesterov),
      cmocka_unit_test(test_adam),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
