/* Tests of the numeric runtime: dtypes, RNG, initializers, losses, optimizers.
 * Expected values are computed independently here (closed forms, a Householder
 * QR, finite differences, Keras's update rules written out), never by calling
 * the code under test a second way. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "rnnc.h"

#define MAXN 4096

#include "assert_near.h"

/* ================================================================ dtypes */

static void test_dtype_size(void **state) {
  (void)state;
  assert_int_equal(rnnc_dtype_size(RNNC_F32), 4);
  assert_int_equal(rnnc_dtype_size(RNNC_F64), 8);
}

/* rnnc_all_finite: 0 as soon as one element is NaN or infinite, wherever it
 * stands; the largest finite values, subnormals and -0 are finite. */
static void test_all_finite(void **state) {
  float f[37];
  double d[37];
  const float fbad[3] = {NAN, INFINITY, -INFINITY};
  const double dbad[3] = {NAN, INFINITY, -INFINITY};
  size_t i, at, k;
  (void)state;
  for (i = 0; i < 37; i++) {
    f[i] = i % 4 == 0 ? FLT_MAX : i % 4 == 1 ? -FLT_MAX : i % 4 == 2 ? FLT_MIN / 4 : -0.0f;
    d[i] = i % 4 == 0 ? DBL_MAX : i % 4 == 1 ? -DBL_MAX : i % 4 == 2 ? DBL_MIN / 4 : -0.0;
  }
  assert_true(rnnc_all_finite_f32(f, 37));
  assert_true(rnnc_all_finite_f64(d, 37));
  assert_true(rnnc_all_finite_f32(f, 0));
  for (at = 0; at < 37; at += 6)
    for (k = 0; k < 3; k++) {
      const float keep = f[at];
      const double keepd = d[at];
      f[at] = fbad[k];
      d[at] = dbad[k];
      assert_false(rnnc_all_finite_f32(f, 37));
      assert_false(rnnc_all_finite_f64(d, 37));
      assert_true(rnnc_all_finite_f32(f, at)); /* the elements before it */
      f[at] = keep;
      d[at] = keepd;
    }
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

/* ---------------------------------------------------------------- Keras's other initializers
 * Keras's VarianceScaling (keras-team/keras, keras/src/initializers/
 * random_initializers.py; the same code in tf.keras 2.x keras/initializers/
 * initializers.py):
 *   scale /= max(1., fan)      fan_in, or (fan_in + fan_out) / 2 for fan_avg
 *   truncated_normal: stddev = math.sqrt(scale) / 0.87962566103423978
 *                     ("constant from scipy.stats.truncnorm.std(a=-2, b=2)"),
 *                     values more than two stddev from the mean re-drawn
 *   uniform:          limit = math.sqrt(3.0 * scale)
 * glorot_* = scale 1, fan_avg; he_* = scale 2, fan_in; lecun_* = scale 1,
 * fan_in. RandomNormal(mean=0.0, stddev=0.05), RandomUniform(-0.05, 0.05). */

/* sqrt(E z^2) of N(0, 1) truncated to [-2, 2]: 1 - 2 a phi(a) / (2 Phi(a) - 1)
 * with a = 2, written with erf. */
static double trunc_std_factor(void) {
  const double a = 2.0, phi = exp(-a * a / 2.0) / sqrt(2.0 * 3.14159265358979323846);
  return sqrt(1.0 - 2.0 * a * phi / erf(a / sqrt(2.0)));
}

static size_t shape_count(int rank, const int *shape) {
  size_t n = 1;
  int d;
  for (d = 0; d < rank; d++)
    n *= (size_t)shape[d];
  return n;
}

/* A truncated normal init whose variance should be `var` (= scale / fan):
 * every value within 2 stddev of the underlying normal, the range filled, mean
 * 0 and variance var. E z^4 of the truncated N(0,1) is 3 E z^2 - 2 a^3 phi / Z,
 * which gives the sd of the sample variance. */
static void check_truncated(rnnc_init_kind kind, int rank, const int *shape, double var,
                            int check_moments) {
  static double w[MAXN];
  static float f[MAXN];
  const double a = 2.0, phi = exp(-2.0) / sqrt(2.0 * 3.14159265358979323846), z = erf(sqrt(2.0));
  const double ez2 = 1.0 - 2.0 * a * phi / z, ez4 = 3.0 * ez2 - 2.0 * a * a * a * phi / z;
  double stddev = sqrt(var) / 0.87962566103423978, mean = 0.0, sq = 0.0, amax = 0.0;
  size_t n = shape_count(rank, shape), i;
  rnnc_rng rng;
  rnnc_rng_seed(&rng, 2718);
  rnnc_init_f64(w, kind, rank, shape, &rng);
  rnnc_rng_seed(&rng, 2718);
  rnnc_init_f32(f, kind, rank, shape, &rng);
  for (i = 0; i < n; i++) {
    assert_true(fabs(w[i]) <= 2.0 * stddev);
    assert_true(f[i] == (float)w[i]); /* same draws, rounded */
    mean += w[i];
    sq += w[i] * w[i];
    if (fabs(w[i]) > amax)
      amax = fabs(w[i]);
  }
  if (check_moments) {
    /* the cut is at 2 stddev and not much lower: P(|z| in (1.9, 2]) = 1.2% */
    assert_true(amax > 1.9 * stddev);
    assert_near(mean / (double)n, 0.0, 5.0 * sqrt(var / (double)n));
    /* sd of the mean of w^2: stddev^2 sqrt((E z^4 - (E z^2)^2) / n) */
    assert_near(sq / (double)n, var, 5.0 * stddev * stddev * sqrt((ez4 - ez2 * ez2) / (double)n));
  }
}

static void check_uniform(rnnc_init_kind kind, int rank, const int *shape, double limit) {
  static double w[MAXN];
  static float f[MAXN];
  double mean = 0.0, sq = 0.0, amax = 0.0;
  size_t n = shape_count(rank, shape), i;
  rnnc_rng rng;
  rnnc_rng_seed(&rng, 1618);
  rnnc_init_f64(w, kind, rank, shape, &rng);
  rnnc_rng_seed(&rng, 1618);
  rnnc_init_f32(f, kind, rank, shape, &rng);
  for (i = 0; i < n; i++) {
    assert_true(fabs(w[i]) <= limit);
    assert_true(f[i] == (float)w[i]);
    mean += w[i];
    sq += w[i] * w[i];
    if (fabs(w[i]) > amax)
      amax = fabs(w[i]);
  }
  assert_true(amax > 0.99 * limit);
  /* U(-l, l): mean 0 (sd l / sqrt(3n)), E w^2 = l^2 / 3 (sd l^2 sqrt(4 / 45 / n)) */
  assert_near(mean / (double)n, 0.0, 5.0 * limit / sqrt(3.0 * (double)n));
  assert_near(sq / (double)n, limit * limit / 3.0,
              5.0 * limit * limit * sqrt(4.0 / 45.0 / (double)n));
}

static void test_init_truncated_normal(void **state) {
  int s2[2] = {40, 100}, s3[2] = {64, 64}, s4[2] = {60, 30}, conv[3] = {3, 4, 5};
  (void)state;
  /* the constant is scipy's truncnorm.std(a=-2, b=2) */
  assert_near(trunc_std_factor(), 0.87962566103423978, 1e-15);
  /* glorot_normal: variance 1 / ((fan_in + fan_out) / 2) = 2 / 140 */
  check_truncated(RNNC_INIT_GLOROT_NORMAL, 2, s2, 2.0 / 140.0, 1);
  /* he_normal: 2 / fan_in */
  check_truncated(RNNC_INIT_HE_NORMAL, 2, s3, 2.0 / 64.0, 1);
  check_truncated(RNNC_INIT_HE_NORMAL, 2, s2, 2.0 / 40.0, 1);
  /* lecun_normal: 1 / fan_in */
  check_truncated(RNNC_INIT_LECUN_NORMAL, 2, s4, 1.0 / 60.0, 1);
  /* rank 3: receptive field 3, fan_in 12, fan_out 15 (bounds only: 60 values) */
  check_truncated(RNNC_INIT_HE_NORMAL, 3, conv, 2.0 / 12.0, 0);
  check_truncated(RNNC_INIT_GLOROT_NORMAL, 3, conv, 1.0 / 13.5, 0);
}

static void test_init_variance_uniform(void **state) {
  int s2[2] = {40, 100}, s1[1] = {3000}, conv[3] = {3, 4, 5};
  (void)state;
  check_uniform(RNNC_INIT_HE_UNIFORM, 2, s2, sqrt(6.0 / 40.0));
  check_uniform(RNNC_INIT_LECUN_UNIFORM, 2, s2, sqrt(3.0 / 40.0));
  /* rank 1: fan_in = fan_out = shape[0] */
  check_uniform(RNNC_INIT_HE_UNIFORM, 1, s1, sqrt(6.0 / 3000.0));
  check_uniform(RNNC_INIT_RANDOM_UNIFORM, 2, s2, 0.05);
  check_uniform(RNNC_INIT_RANDOM_UNIFORM, 1, s1, 0.05);
  {
    /* rank 3: fan_in 12 (bounds only) */
    double w[60];
    rnnc_rng rng;
    int i;
    rnnc_rng_seed(&rng, 3);
    rnnc_init_f64(w, RNNC_INIT_LECUN_UNIFORM, 3, conv, &rng);
    for (i = 0; i < 60; i++)
      assert_true(fabs(w[i]) <= sqrt(3.0 / 12.0));
  }
}

static void test_init_random_normal(void **state) {
  /* N(0, 0.05^2), not truncated: about 4.55% of the values lie beyond two
   * stddev (sd of that fraction over 4096 values 0.33%) */
  static double w[MAXN];
  static float f[MAXN];
  int shape[2] = {64, 64};
  const size_t n = 4096;
  double mean = 0.0, sq = 0.0, beyond = 0.0;
  size_t i;
  rnnc_rng rng;
  (void)state;
  rnnc_rng_seed(&rng, 4242);
  rnnc_init_f64(w, RNNC_INIT_RANDOM_NORMAL, 2, shape, &rng);
  rnnc_rng_seed(&rng, 4242);
  rnnc_init_f32(f, RNNC_INIT_RANDOM_NORMAL, 2, shape, &rng);
  for (i = 0; i < n; i++) {
    assert_true(f[i] == (float)w[i]);
    mean += w[i];
    sq += w[i] * w[i];
    beyond += fabs(w[i]) > 0.1;
  }
  assert_near(mean / (double)n, 0.0, 5.0 * 0.05 / sqrt((double)n));
  /* E w^2 = 0.0025, sd 0.0025 sqrt(2 / n) */
  assert_near(sq / (double)n, 0.0025, 5.0 * 0.0025 * sqrt(2.0 / (double)n));
  assert_near(beyond / (double)n, 1.0 - erf(sqrt(2.0)), 0.017);
}

static void test_init_new_reproducible(void **state) {
  const rnnc_init_kind kinds[7] = {RNNC_INIT_GLOROT_NORMAL, RNNC_INIT_HE_UNIFORM,
                                   RNNC_INIT_HE_NORMAL,     RNNC_INIT_LECUN_UNIFORM,
                                   RNNC_INIT_LECUN_NORMAL,  RNNC_INIT_RANDOM_NORMAL,
                                   RNNC_INIT_RANDOM_UNIFORM};
  double a[64], b[64], c[64];
  rnnc_rng r1, r2, r3;
  int shape[2] = {8, 8}, k, i;
  (void)state;
  for (k = 0; k < 7; k++) {
    int same = 0;
    rnnc_rng_seed(&r1, 77);
    rnnc_rng_seed(&r2, 77);
    rnnc_rng_seed(&r3, 78);
    rnnc_init_f64(a, kinds[k], 2, shape, &r1);
    rnnc_init_f64(b, kinds[k], 2, shape, &r2);
    rnnc_init_f64(c, kinds[k], 2, shape, &r3);
    assert_memory_equal(a, b, sizeof a);
    for (i = 0; i < 64; i++)
      same += a[i] == c[i];
    assert_true(same < 4);
    /* the generator moved on */
    rnnc_init_f64(b, kinds[k], 2, shape, &r2);
    same = 0;
    for (i = 0; i < 64; i++)
      same += a[i] == b[i];
    assert_true(same < 4);
    /* without a generator nothing is written */
    for (i = 0; i < 64; i++)
      c[i] = 9.0;
    rnnc_init_f64(c, kinds[k], 2, shape, NULL);
    for (i = 0; i < 64; i++)
      assert_true(c[i] == 9.0);
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

/* ---------------------------------------------------------------- mae, binary and categorical
 * crossentropy */

static void test_mae(void **state) {
  const double pred[6] = {1, 2, 3, 4, 5, 6}, target[6] = {1.5, 2, 2, 4, 7, 5};
  /* no ties, for the finite differences (|x| has a kink at 0) */
  const double p2[6] = {0.3, -1.2, 2.0, 0.7, 0.1, -0.4}, t2[6] = {0.1, -1.0, 1.0, 1.2, 0.5, -0.3};
  double grad[6];
  float p32[6], t32[6], g32[6];
  int i;
  (void)state;
  /* |differences| 0.5 0 1 | 0 2 1; row means 1.5/3 and 3/3; mean 0.75 */
  assert_near(rnnc_loss_mae_f64(pred, target, 2, 3, grad), 0.75, 1e-15);
  /* sign(pred - target) / (rows * cols), 0 where equal */
  {
    const double want[6] = {-1, 0, 1, 0, -1, 1};
    for (i = 0; i < 6; i++)
      assert_true(grad[i] == want[i] / 6.0);
  }
  assert_near(rnnc_loss_mae_f64(pred, target, 3, 2, NULL), 0.75, 1e-15);
  check_fd(rnnc_loss_mae_f64, p2, t2, 2, 3, 1e-6, 1e-9);
  check_fd(rnnc_loss_mae_f64, p2, t2, 1, 6, 1e-6, 1e-9);
  for (i = 0; i < 6; i++) {
    p32[i] = (float)pred[i];
    t32[i] = (float)target[i];
  }
  assert_near(rnnc_loss_mae_f32(p32, t32, 2, 3, g32), 0.75, 1e-7);
  for (i = 0; i < 6; i++)
    assert_near(g32[i], grad[i], 1e-8);
  assert_true(isnan(rnnc_loss_mae_f64(pred, target, 0, 3, NULL)));
  assert_true(isnan(rnnc_loss_mae_f64(pred, target, 2, 0, NULL)));
}

/* tf.keras 2.x keras/backend.py binary_crossentropy for probabilities:
 *   output = tf.clip_by_value(output, epsilon_, 1.0 - epsilon_)
 *   bce = target * tf.math.log(output + epsilon())
 *   bce += (1 - target) * tf.math.log(1 - output + epsilon())
 *   return -bce
 * (Keras 3's keras/src/backend/tensorflow/nn.py drops the "+ epsilon()"s.)
 * One element, the clip bounds and eps given. */
static double bce_elem(double p, double y, double lo, double hi) {
  double q = p < lo ? lo : p > hi ? hi : p;
  return -(y * log(q + lo) + (1.0 - y) * log(1.0 - q + lo));
}

static void test_binary_ce_probs(void **state) {
  const double p[6] = {0.9, 0.2, 0.6, 0.35, 0.05, 0.7};
  const double y[6] = {1, 0, 1, 0, 0.3, 0.8}; /* soft targets too */
  const double lo = 1e-7, hi = 1.0 - 1e-7;
  double grad[6], want = 0.0;
  int r, c, k;
  (void)state;
  for (r = 0; r < 2; r++) {
    double row = 0.0;
    for (c = 0; c < 3; c++)
      row += bce_elem(p[3 * r + c], y[3 * r + c], lo, hi);
    want += row / 3.0;
  }
  want /= 2.0;
  assert_near(rnnc_loss_binary_ce_f64(p, y, 2, 3, grad), want, 1e-15);
  /* written out for the first element: -log(0.9 + 1e-7) / 6 of the total */
  assert_near(bce_elem(0.9, 1.0, lo, hi), -log(0.9000001), 1e-16);
  /* d/dp of -(y log(p + eps) + (1 - y) log(1 - p + eps)), over rows * cols */
  for (k = 0; k < 6; k++)
    assert_near(grad[k], (-y[k] / (p[k] + lo) + (1.0 - y[k]) / (1.0 - p[k] + lo)) / 6.0, 1e-15);
  check_fd(rnnc_loss_binary_ce_f64, p, y, 2, 3, 1e-6, 1e-8);
  check_fd(rnnc_loss_binary_ce_f64, p, y, 6, 1, 1e-6, 1e-8);
  assert_true(isnan(rnnc_loss_binary_ce_f64(p, y, 0, 3, NULL)));
}

static void test_binary_ce_clip_edges(void **state) {
  /* p = 0 and p = 1 with both targets: clipped to [eps, 1 - eps], finite, no
   * gradient through the clipped entries; p just inside the range keeps its
   * gradient */
  const double p[6] = {0, 0, 1, 1, 2e-7, 0.5}, y[6] = {1, 0, 1, 0, 1, 1};
  double lo = 1e-7, hi = 1.0 - 1e-7, grad[6], want = 0.0;
  float p32[6], y32[6], g32[6];
  int k;
  (void)state;
  for (k = 0; k < 6; k++)
    want += bce_elem(p[k], y[k], lo, hi);
  want /= 6.0;
  assert_near(rnnc_loss_binary_ce_f64(p, y, 1, 6, grad), want, 1e-14);
  /* p = 0, y = 1: -log(eps + eps) = -log(2e-7) = 15.4; p = 1, y = 0: -log(1 - (1 - eps) + eps) */
  assert_near(bce_elem(0, 1, lo, hi), -log(2e-7), 1e-12);
  assert_near(bce_elem(1, 0, lo, hi), -log(1.0 - hi + lo), 1e-12);
  assert_true(isfinite(want));
  for (k = 0; k < 4; k++)
    assert_true(grad[k] == 0.0);
  assert_near(grad[4], -1.0 / (2e-7 + lo) / 6.0, 1e-6);
  assert_near(grad[5], -1.0 / (0.5 + lo) / 6.0, 1e-15);
  /* float: eps and 1 - eps as float numbers */
  lo = (double)1e-7f;
  hi = (double)(1.0f - 1e-7f);
  want = 0.0;
  for (k = 0; k < 6; k++) {
    p32[k] = (float)p[k];
    y32[k] = (float)y[k];
    want += bce_elem((double)p32[k], y[k], lo, hi);
  }
  want /= 6.0;
  assert_near(rnnc_loss_binary_ce_f32(p32, y32, 1, 6, g32), want, 1e-12);
  for (k = 0; k < 4; k++)
    assert_true(g32[k] == 0.0f);
}

static double sigmoid_ref(double z) {
  return 1.0 / (1.0 + exp(-z));
}

static void test_binary_ce_logits(void **state) {
  const double z[6] = {2.0, -1.0, 0.3, -0.2, 1.5, -3.0}, y[6] = {1, 0, 0, 1, 0.25, 0.6};
  const double big[4] = {1000.0, -1000.0, 800.0, -800.0}, ybig[4] = {0, 1, 1, 0};
  double grad[6], g4[4], want = 0.0;
  int r, c, k;
  (void)state;
  /* -(y log s + (1 - y) log(1 - s)) with s = sigmoid(z) computed directly */
  for (r = 0; r < 2; r++) {
    double row = 0.0;
    for (c = 0; c < 3; c++) {
      double s = sigmoid_ref(z[3 * r + c]), t = y[3 * r + c];
      row -= t * log(s) + (1.0 - t) * log(1.0 - s);
    }
    want += row / 3.0;
  }
  want /= 2.0;
  assert_near(rnnc_loss_binary_ce_logits_f64(z, y, 2, 3, grad), want, 1e-15);
  for (k = 0; k < 6; k++)
    assert_near(grad[k], (sigmoid_ref(z[k]) - y[k]) / 6.0, 1e-16);
  check_fd(rnnc_loss_binary_ce_logits_f64, z, y, 2, 3, 1e-5, 1e-9);
  /* stable at saturation: max(z, 0) - z y + log(1 + exp(-|z|)) is exactly
   * 1000, 1000, ~0, ~0; the gradient is -+1 or ~0 */
  assert_near(rnnc_loss_binary_ce_logits_f64(big, ybig, 1, 4, g4), 2000.0 / 4.0, 1e-12);
  assert_near(g4[0], 0.25, 1e-16);
  assert_near(g4[1], -0.25, 1e-16);
  assert_near(g4[2], 0.0, 1e-300);
  assert_near(g4[3], 0.0, 1e-300);
  assert_true(isnan(rnnc_loss_binary_ce_logits_f64(z, y, 2, 0, NULL)));
}

static void test_binary_ce_logits_vs_probs(void **state) {
  /* away from saturation the logits form and the probability form of sigmoid(z)
   * agree up to the eps terms (relative ~eps / p), and the chain rule takes one
   * gradient to the other: dL/dz = dL/dp * s (1 - s) */
  const double z[8] = {-3.0, -1.5, -0.4, 0.0, 0.2, 0.9, 1.7, 3.0};
  const double y[8] = {0, 1, 0.5, 1, 0, 1, 0.2, 1};
  double p[8], gz[8], gp[8];
  int k;
  (void)state;
  for (k = 0; k < 8; k++)
    p[k] = sigmoid_ref(z[k]);
  assert_near(rnnc_loss_binary_ce_logits_f64(z, y, 2, 4, gz),
              rnnc_loss_binary_ce_f64(p, y, 2, 4, gp), 3e-6);
  for (k = 0; k < 8; k++)
    assert_near(gz[k], gp[k] * p[k] * (1.0 - p[k]), 3e-7);
}

/* -sum_j y_j log clip(p_j / sum p) per row, the clip bounds given */
static double cce_row(const double *p, const double *y, int cols, double lo, double hi) {
  double sum = 0.0, loss = 0.0;
  int j;
  for (j = 0; j < cols; j++)
    sum += p[j];
  for (j = 0; j < cols; j++) {
    double q = p[j] / sum;
    q = q < lo ? lo : q > hi ? hi : q;
    loss -= y[j] * log(q);
  }
  return loss;
}

static void test_categorical_ce_probs(void **state) {
  /* rows: one-hot on a distribution; soft target; a row summing to 1.6 (Keras
   * divides by the sum first) */
  const double p[9] = {0.2, 0.7, 0.1, 0.5, 0.25, 0.25, 0.4, 0.8, 0.4};
  const double y[9] = {0, 1, 0, 0.6, 0.3, 0.1, 0, 0, 1};
  double grad[9], want = 0.0;
  int r, k;
  (void)state;
  for (r = 0; r < 3; r++)
    want += cce_row(p + 3 * r, y + 3 * r, 3, 1e-7, 1.0 - 1e-7);
  want /= 3.0;
  assert_near(rnnc_loss_categorical_ce_f64(p, y, 3, 3, grad), want, 1e-15);
  /* written out: (-log 0.7 - (0.6 log 0.5 + 0.3 log 0.25 + 0.1 log 0.25)
   * - log(0.4 / 1.6)) / 3 */
  assert_near(want, (-log(0.7) - (0.6 * log(0.5) + 0.4 * log(0.25)) - log(0.25)) / 3.0, 1e-15);
  /* with nothing clipped, L = -sum y_j log p_j + sum(y) log(sum p), so
   * dL/dp_k = (-y_k / p_k + sum(y) / sum(p)) / rows */
  for (r = 0; r < 3; r++) {
    double sy = 0.0, sp = 0.0;
    for (k = 0; k < 3; k++) {
      sy += y[3 * r + k];
      sp += p[3 * r + k];
    }
    for (k = 0; k < 3; k++)
      assert_near(grad[3 * r + k], (-y[3 * r + k] / p[3 * r + k] + sy / sp) / 3.0, 1e-14);
  }
  check_fd(rnnc_loss_categorical_ce_f64, p, y, 3, 3, 1e-6, 1e-8);
  assert_true(isnan(rnnc_loss_categorical_ce_f64(p, y, 0, 3, NULL)));
}

static void test_categorical_ce_clip_edges(void **state) {
  /* p = 0 and p = 1 entries: clipped after normalising; a clipped entry
   * contributes no -y/q term, but every entry still moves the row sum:
   *   dL/dp_k = (-[k unclipped] y_k / p_k + sum_{j unclipped} y_j / S) / rows */
  const double p[9] = {1, 0, 0, 0.5, 0.5, 0, 0.5, 0.5, 0};
  const double y[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0};
  double lo = 1e-7, hi = 1.0 - 1e-7, grad[9], want;
  float p32[9], y32[9], g32[9];
  int k;
  (void)state;
  want = (cce_row(p, y, 3, lo, hi) + cce_row(p + 3, y + 3, 3, lo, hi) +
          cce_row(p + 6, y + 6, 3, lo, hi)) /
         3.0;
  /* -log(eps) twice, -log(0.5) once */
  assert_near(want, (-2.0 * log(1e-7) - log(0.5)) / 3.0, 1e-14);
  assert_near(rnnc_loss_categorical_ce_f64(p, y, 3, 3, grad), want, 1e-14);
  /* rows 0 and 1: the only target entry is clipped, nothing flows */
  for (k = 0; k < 6; k++)
    assert_true(grad[k] == 0.0);
  /* row 2: S = 1, y on the unclipped 0.5: (-1 / 0.5 + 1, 1, 1) / 3, the last
   * one through the normalisation of an entry clipped at 0 */
  assert_near(grad[6], (-2.0 + 1.0) / 3.0, 1e-15);
  assert_near(grad[7], 1.0 / 3.0, 1e-15);
  assert_near(grad[8], 1.0 / 3.0, 1e-15);
  check_fd(rnnc_loss_categorical_ce_f64, p + 6, y + 6, 1, 3, 1e-6, 1e-8);
  /* float bounds */
  lo = (double)1e-7f;
  hi = (double)(1.0f - 1e-7f);
  for (k = 0; k < 9; k++) {
    p32[k] = (float)p[k];
    y32[k] = (float)y[k];
  }
  want = (cce_row(p, y, 3, lo, hi) + cce_row(p + 3, y + 3, 3, lo, hi) +
          cce_row(p + 6, y + 6, 3, lo, hi)) /
         3.0;
  assert_near(rnnc_loss_categorical_ce_f32(p32, y32, 3, 3, g32), want, 1e-12);
  for (k = 0; k < 6; k++)
    assert_true(g32[k] == 0.0f);
  assert_near(g32[6], -1.0 / 3.0, 1e-7);
}

static void test_categorical_ce_logits(void **state) {
  const double z[8] = {0.5, -1.0, 2.0, 0.1, 1.5, 1.5, -0.3, 0.0};
  /* one-hot, and a soft target summing to 0.8 (the softmax * sum(y) term) */
  const double y[8] = {0, 0, 1, 0, 0.2, 0.5, 0.0, 0.1};
  const double big[3] = {1000.0, 1001.0, 999.0}, ybig[3] = {0.5, 0, 0.5};
  const double labels[2] = {2, 1}, onehot[8] = {0, 0, 1, 0, 0, 1, 0, 0};
  double grad[8], g3[3], want = 0.0, gs[8];
  int r, c;
  (void)state;
  /* -sum y log softmax(z), the softmax computed directly */
  for (r = 0; r < 2; r++) {
    double sum = 0.0;
    for (c = 0; c < 4; c++)
      sum += exp(z[4 * r + c]);
    for (c = 0; c < 4; c++)
      want -= y[4 * r + c] * log(exp(z[4 * r + c]) / sum);
  }
  want /= 2.0;
  assert_near(rnnc_loss_categorical_ce_logits_f64(z, y, 2, 4, grad), want, 1e-15);
  for (r = 0; r < 2; r++) {
    double sum = 0.0, sy = 0.0;
    for (c = 0; c < 4; c++) {
      sum += exp(z[4 * r + c]);
      sy += y[4 * r + c];
    }
    for (c = 0; c < 4; c++)
      assert_near(grad[4 * r + c], (exp(z[4 * r + c]) / sum * sy - y[4 * r + c]) / 2.0, 1e-15);
  }
  check_fd(rnnc_loss_categorical_ce_logits_f64, z, y, 2, 4, 1e-5, 1e-9);
  /* one-hot targets: the same as the sparse form with the labels */
  assert_near(rnnc_loss_categorical_ce_logits_f64(z, onehot, 2, 4, grad),
              rnnc_loss_sparse_cce_logits_f64(z, labels, 2, 4, gs), 1e-15);
  for (c = 0; c < 8; c++)
    assert_near(grad[c], gs[c], 1e-16);
  /* stable at large logits: relative to the max 1001 the row is (-1, 0, -2),
   * so the loss is 0.5 (1 + L) + 0.5 (2 + L) with L = log(1 + e^-1 + e^-2),
   * and the gradient softmax * 1 - y */
  assert_near(rnnc_loss_categorical_ce_logits_f64(big, ybig, 1, 3, g3),
              1.5 + log(1.0 + exp(-1.0) + exp(-2.0)), 1e-12);
  assert_near(g3[0], exp(-1.0) / (1.0 + exp(-1.0) + exp(-2.0)) - 0.5, 1e-15);
  assert_near(g3[1], 1.0 / (1.0 + exp(-1.0) + exp(-2.0)), 1e-15);
  assert_true(isnan(rnnc_loss_categorical_ce_logits_f64(z, y, 0, 4, NULL)));
}

static void test_categorical_ce_logits_vs_probs(void **state) {
  /* away from saturation the probability form of softmax(z) equals the logits
   * form (no clipping happens), and dL/dz = J_softmax^T dL/dp */
  const double z[6] = {0.3, -0.8, 1.1, -0.5, 0.0, 0.4}, y[6] = {0, 0, 1, 0.3, 0.3, 0.4};
  double p[6], gz[6], gp[6];
  int r, i, j;
  (void)state;
  for (r = 0; r < 2; r++) {
    double sum = 0.0;
    for (i = 0; i < 3; i++)
      sum += exp(z[3 * r + i]);
    for (i = 0; i < 3; i++)
      p[3 * r + i] = exp(z[3 * r + i]) / sum;
  }
  assert_near(rnnc_loss_categorical_ce_logits_f64(z, y, 2, 3, gz),
              rnnc_loss_categorical_ce_f64(p, y, 2, 3, gp), 1e-14);
  for (r = 0; r < 2; r++)
    for (i = 0; i < 3; i++) {
      double chain = 0.0;
      for (j = 0; j < 3; j++)
        chain += gp[3 * r + j] * p[3 * r + j] * ((i == j ? 1.0 : 0.0) - p[3 * r + i]);
      assert_near(gz[3 * r + i], chain, 1e-14);
    }
}

static void test_new_losses_f32(void **state) {
  /* the float entry points against the double ones on the same (rounded)
   * values */
  const double x[8] = {0.31, 0.12, 0.77, 0.5, 0.4, 0.05, 0.9, 0.3};
  const double t[8] = {0.3, 0.0, 1.0, 1.0, 0.0, 0.1, 1.0, 0.0};
  double xd[8], td[8], g64[8], l64;
  float x32[8], t32[8], g32[8];
  typedef double (*f64_fn)(const double *, const double *, size_t, size_t, double *);
  typedef double (*f32_fn)(const float *, const float *, size_t, size_t, float *);
  const f64_fn d[5] = {rnnc_loss_mae_f64, rnnc_loss_binary_ce_f64, rnnc_loss_binary_ce_logits_f64,
                       rnnc_loss_categorical_ce_f64, rnnc_loss_categorical_ce_logits_f64};
  const f32_fn f[5] = {rnnc_loss_mae_f32, rnnc_loss_binary_ce_f32, rnnc_loss_binary_ce_logits_f32,
                       rnnc_loss_categorical_ce_f32, rnnc_loss_categorical_ce_logits_f32};
  int i, k;
  (void)state;
  for (i = 0; i < 8; i++) {
    x32[i] = (float)x[i];
    t32[i] = (float)t[i];
    xd[i] = x32[i];
    td[i] = t32[i];
  }
  for (k = 0; k < 5; k++) {
    l64 = d[k](xd, td, 2, 4, g64);
    assert_near(f[k](x32, t32, 2, 4, g32), l64, 1e-6 * fabs(l64) + 1e-12);
    for (i = 0; i < 8; i++)
      assert_near(g32[i], g64[i], 1e-6 * fabs(g64[i]) + 1e-12);
    assert_near(f[k](x32, t32, 2, 4, NULL), l64, 1e-6 * fabs(l64) + 1e-12);
  }
}

/* ---------------------------------------------------------------- issue 13's losses */

/* The loss of `kind` (parameters c) with rnnc_loss_eval_f64, and its
 * gradient against central differences. */
static double eval_loss(const rnnc_loss_config *c, const double *p, const double *t, size_t rows,
                        size_t cols, double *grad) {
  return rnnc_loss_eval_f64(c, p, t, NULL, rows, cols, (double)rows, grad);
}

static void check_eval_fd(const rnnc_loss_config *c, const double *p0, const double *t, size_t rows,
                          size_t cols) {
  double p[64], grad[64], h = 1e-6;
  size_t i;
  memcpy(p, p0, rows * cols * sizeof *p);
  eval_loss(c, p, t, rows, cols, grad);
  for (i = 0; i < rows * cols; i++) {
    double up, down;
    p[i] = p0[i] + h;
    up = eval_loss(c, p, t, rows, cols, NULL);
    p[i] = p0[i] - h;
    down = eval_loss(c, p, t, rows, cols, NULL);
    p[i] = p0[i];
    assert_near(grad[i], (up - down) / (2.0 * h), 1e-7 * fmax(1.0, fabs(grad[i])));
  }
}

/* Each loss against its definition in keras/src/losses/losses.py, computed
 * here row by row, and its gradient against central differences. */
static void test_issue13_losses(void **state) {
  const double p[6] = {0.2, 0.7, 0.4, 0.9, 0.15, 0.6}, y[6] = {0.0, 1.0, 0.5, 1.0, 0.3, 0.2};
  const double pm[6] = {-0.8, 1.7, 0.3, 2.4, -1.2, 0.1}; /* margins for the hinges */
  const double eps = 1e-7;
  rnnc_loss_config c;
  double want, a, b;
  int r, j;
  (void)state;

  /* huber, delta 0.3: e = p - y; 0.5 e^2 within delta, else delta |e| - 0.5 delta^2 */
  c = rnnc_loss_config_default(RNNC_LOSS_HUBER);
  assert_near(c.delta, 1.0, 0.0);
  c.delta = 0.3;
  want = 0.0;
  for (r = 0; r < 2; r++) {
    double row = 0.0;
    for (j = 0; j < 3; j++) {
      double e = pm[3 * r + j] - y[3 * r + j];
      row += fabs(e) <= 0.3 ? 0.5 * e * e : 0.3 * fabs(e) - 0.045;
    }
    want += row / 3.0;
  }
  assert_near(eval_loss(&c, pm, y, 2, 3, NULL), want / 2.0, 1e-15);
  check_eval_fd(&c, pm, y, 2, 3);

  /* log_cosh: mean(log(cosh(p - y))) */
  c = rnnc_loss_config_default(RNNC_LOSS_LOG_COSH);
  want = 0.0;
  for (j = 0; j < 6; j++)
    want += log(cosh(pm[j] - y[j])) / 3.0;
  assert_near(eval_loss(&c, pm, y, 2, 3, NULL), want / 2.0, 1e-15);
  check_eval_fd(&c, pm, y, 2, 3);

  /* mape: 100 mean(|y - p| / max(|y|, eps)); y = 0 divides by eps */
  c = rnnc_loss_config_default(RNNC_LOSS_MAPE);
  want = 0.0;
  for (j = 0; j < 6; j++)
    want += 100.0 * fabs(y[j] - p[j]) / fmax(fabs(y[j]), eps) / 3.0;
  assert_near(eval_loss(&c, p, y, 2, 3, NULL), want / 2.0, 1e-8);
  check_eval_fd(&c, pm + 1, y + 1, 1, 5);

  /* msle: mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))^2) */
  c = rnnc_loss_config_default(RNNC_LOSS_MSLE);
  want = 0.0;
  for (j = 0; j < 6; j++) {
    double d = log(fmax(p[j], eps) + 1.0) - log(fmax(y[j], eps) + 1.0);
    want += d * d / 3.0;
  }
  assert_near(eval_loss(&c, p, y, 2, 3, NULL), want / 2.0, 1e-15);
  check_eval_fd(&c, p, y, 2, 3);

  /* kl_divergence: sum(y log(y / p)) over the row, both clipped to [eps, 1] */
  c = rnnc_loss_config_default(RNNC_LOSS_KL_DIVERGENCE);
  want = 0.0;
  for (j = 0; j < 6; j++) {
    double yy = fmin(fmax(y[j], eps), 1.0), pp = fmin(fmax(p[j], eps), 1.0);
    want += yy * log(yy / pp);
  }
  assert_near(eval_loss(&c, p, y, 2, 3, NULL), want / 2.0, 1e-15);
  check_eval_fd(&c, p, y, 2, 3);

  /* poisson: mean(p - y log(p + eps)) */
  c = rnnc_loss_config_default(RNNC_LOSS_POISSON);
  want = 0.0;
  for (j = 0; j < 6; j++)
    want += (p[j] - y[j] * log(p[j] + eps)) / 3.0;
  assert_near(eval_loss(&c, p, y, 2, 3, NULL), want / 2.0, 1e-15);
  check_eval_fd(&c, p, y, 2, 3);

  /* hinge and squared_hinge: targets all 0 or 1 in the batch are read as -1
   * and 1; other targets as they are */
  {
    const double t01[6] = {0, 1, 1, 0, 1, 0}, tpm[6] = {-1, 1, 1, -1, 1, 0.5};
    double hinge01 = 0.0, sq01 = 0.0, hingepm = 0.0;
    for (j = 0; j < 6; j++) {
      double m = fmax(1.0 - (2.0 * t01[j] - 1.0) * pm[j], 0.0),
             m2 = fmax(1.0 - tpm[j] * pm[j], 0.0);
      hinge01 += m / 3.0;
      sq01 += m * m / 3.0;
      hingepm += m2 / 3.0;
    }
    c = rnnc_loss_config_default(RNNC_LOSS_HINGE);
    assert_near(eval_loss(&c, pm, t01, 2, 3, NULL), hinge01 / 2.0, 1e-15);
    assert_near(eval_loss(&c, pm, tpm, 2, 3, NULL), hingepm / 2.0, 1e-15);
    check_eval_fd(&c, pm, t01, 2, 3);
    c = rnnc_loss_config_default(RNNC_LOSS_SQUARED_HINGE);
    assert_near(eval_loss(&c, pm, t01, 2, 3, NULL), sq01 / 2.0, 1e-15);
    check_eval_fd(&c, pm, t01, 2, 3);
  }

  /* categorical_hinge: max(max((1 - y) p) - sum(y p) + 1, 0) per row */
  {
    const double oh[6] = {0, 1, 0, 1, 0, 0};
    c = rnnc_loss_config_default(RNNC_LOSS_CATEGORICAL_HINGE);
    want = 0.0;
    for (r = 0; r < 2; r++) {
      double pos = 0.0, neg = -INFINITY;
      for (j = 0; j < 3; j++) {
        pos += oh[3 * r + j] * pm[3 * r + j];
        neg = fmax(neg, (1.0 - oh[3 * r + j]) * pm[3 * r + j]);
      }
      want += fmax(neg - pos + 1.0, 0.0);
    }
    assert_near(eval_loss(&c, pm, oh, 2, 3, NULL), want / 2.0, 1e-15);
    check_eval_fd(&c, pm, oh, 2, 3);
  }

  /* cosine_similarity: -cos(y, p) per row */
  c = rnnc_loss_config_default(RNNC_LOSS_COSINE_SIMILARITY);
  want = 0.0;
  for (r = 0; r < 2; r++) {
    double dot = 0.0, yy = 0.0, pp = 0.0;
    for (j = 0; j < 3; j++) {
      dot += y[3 * r + j] * pm[3 * r + j];
      yy += y[3 * r + j] * y[3 * r + j];
      pp += pm[3 * r + j] * pm[3 * r + j];
    }
    want -= dot / sqrt(yy * pp);
  }
  assert_near(eval_loss(&c, pm, y, 2, 3, NULL), want / 2.0, 1e-15);
  check_eval_fd(&c, pm, y, 2, 3);

  /* label_smoothing 0.2: binary y (1 - s) + s / 2, categorical y (1 - s) + s / classes */
  c = rnnc_loss_config_default(RNNC_LOSS_BINARY_CROSSENTROPY);
  c.label_smoothing = 0.2;
  a = eval_loss(&c, p, y, 2, 3, NULL);
  {
    double ys[6];
    rnnc_loss_config plain = rnnc_loss_config_default(RNNC_LOSS_BINARY_CROSSENTROPY);
    for (j = 0; j < 6; j++)
      ys[j] = y[j] * 0.8 + 0.1;
    b = eval_loss(&plain, p, ys, 2, 3, NULL);
    assert_near(a, b, 1e-15);
    c.from_logits = plain.from_logits = 1;
    assert_near(eval_loss(&c, pm, y, 2, 3, NULL), eval_loss(&plain, pm, ys, 2, 3, NULL), 1e-15);
    check_eval_fd(&c, pm, y, 2, 3);
  }
  c = rnnc_loss_config_default(RNNC_LOSS_CATEGORICAL_CROSSENTROPY);
  c.label_smoothing = 0.3;
  {
    const double oh[6] = {0, 1, 0, 1, 0, 0};
    double ys[6];
    rnnc_loss_config plain = rnnc_loss_config_default(RNNC_LOSS_CATEGORICAL_CROSSENTROPY);
    for (j = 0; j < 6; j++)
      ys[j] = oh[j] * 0.7 + 0.1;
    assert_near(eval_loss(&c, p, oh, 2, 3, NULL), eval_loss(&plain, p, ys, 2, 3, NULL), 1e-15);
    c.from_logits = plain.from_logits = 1;
    assert_near(eval_loss(&c, pm, oh, 2, 3, NULL), eval_loss(&plain, pm, ys, 2, 3, NULL), 1e-15);
    check_eval_fd(&c, pm, oh, 2, 3);
  }
}

/* Keras's sum_over_batch_size with sample weights and a mask: sum(w l) over
 * the rows, divided by the rows (or the unmasked rows' count), 0 for none. */
static void test_loss_weights(void **state) {
  const double p[6] = {1, 2, 3, 4, 5, 6}, t[6] = {1.5, 2, 2, 4, 7, 5};
  const double w[3] = {0.5, 0.0, 2.0};
  double g[6], l, rows[3];
  rnnc_loss_config c = rnnc_loss_config_default(RNNC_LOSS_MSE);
  int r;
  (void)state;
  for (r = 0; r < 3; r++)
    rows[r] = ((p[2 * r] - t[2 * r]) * (p[2 * r] - t[2 * r]) +
               (p[2 * r + 1] - t[2 * r + 1]) * (p[2 * r + 1] - t[2 * r + 1])) /
              2.0;
  l = rnnc_loss_eval_f64(&c, p, t, w, 3, 2, 3.0, g);
  assert_near(l, (0.5 * rows[0] + 2.0 * rows[2]) / 3.0, 1e-15);
  /* a weight of 0 gives no gradient, the others w d / (denom cols) * 2 */
  assert_near(g[2], 0.0, 0.0);
  assert_near(g[3], 0.0, 0.0);
  assert_near(g[4], 2.0 * 2.0 * (p[4] - t[4]) / 2.0 / 3.0, 1e-15);
  /* the mask's denominator: the two rows it keeps */
  assert_near(rnnc_loss_eval_f64(&c, p, t, w, 3, 2, 2.0, NULL),
              (0.5 * rows[0] + 2.0 * rows[2]) / 2.0, 1e-15);
  /* nothing counts: 0, and a zero gradient */
  assert_near(rnnc_loss_eval_f64(&c, p, t, w, 3, 2, 0.0, g), 0.0, 0.0);
  for (r = 0; r < 6; r++)
    assert_near(g[r], 0.0, 0.0);
}

static void test_categorical_accuracy(void **state) {
  /* hit; tie in pred taken by the first max (hit); miss; soft target whose
   * argmax is the last column (hit) */
  const double p[12] = {0.1, 0.7, 0.2, 0.4, 0.4, 0.2, 0.6, 0.3, 0.1, 0.2, 0.3, 0.5};
  const double y[12] = {0, 1, 0, 1, 0, 0, 0, 0, 1, 0.1, 0.3, 0.6};
  float p32[12], y32[12];
  int i;
  (void)state;
  for (i = 0; i < 12; i++) {
    p32[i] = (float)p[i];
    y32[i] = (float)y[i];
  }
  assert_near(rnnc_categorical_accuracy_f64(p, y, 4, 3), 0.75, 0.0);
  assert_near(rnnc_categorical_accuracy_f32(p32, y32, 4, 3), 0.75, 0.0);
  assert_near(rnnc_categorical_accuracy_f64(p + 6, y + 6, 1, 3), 0.0, 0.0);
  assert_true(isnan(rnnc_categorical_accuracy_f64(p, y, 0, 3)));
}

static void test_binary_accuracy(void **state) {
  /* pred > 0.5 vs target > 0.5 per element: 0.5 itself is "0" on both sides */
  const double p[8] = {0.9, 0.2, 0.5, 0.51, 0.7, 0.49, 0.0, 1.0};
  const double y[8] = {1, 0, 0, 1, 0, 1, 0.5, 1};
  /* hits: yes yes yes yes no no yes yes = 6 / 8 */
  float p32[8], y32[8];
  int i;
  (void)state;
  for (i = 0; i < 8; i++) {
    p32[i] = (float)p[i];
    y32[i] = (float)y[i];
  }
  assert_near(rnnc_binary_accuracy_f64(p, y, 2, 4), 0.75, 0.0);
  assert_near(rnnc_binary_accuracy_f64(p, y, 4, 2), 0.75, 0.0);
  assert_near(rnnc_binary_accuracy_f32(p32, y32, 2, 4), 0.75, 0.0);
  assert_near(rnnc_binary_accuracy_f64(p + 4, y + 4, 1, 2), 0.0, 0.0);
  assert_true(isnan(rnnc_binary_accuracy_f64(p, y, 2, 0)));
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

/* A float32 Adam computes each element in float32, as Keras updates a
 * float32 variable (keras/src/optimizers/adam.py: m += (g - m)(1 - b1),
 * v += (g^2 - v)(1 - b2), w -= m alpha / (sqrt(v) + epsilon), alpha the
 * step's rate rounded to float32): the same bits as those equations written
 * out in float, over 1,000 weights and 5 steps (in double, then rounded, the
 * update differs in the last bits of some weights). */
static void test_adam_f32_in_float(void **state) {
  enum { N = 1000, STEPS = 5 };
  static float w[N], g[N], slots[2 * N], ww[N], wm[N], wv[N];
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_ADAM);
  rnnc_rng rng;
  int t, i;
  (void)state;
  rnnc_rng_seed(&rng, 7);
  opt.learning_rate = 0.05; /* steps as large as the weights: their rounding shows */
  for (i = 0; i < N; i++)
    ww[i] = w[i] = (float)((2 * rnnc_rng_uniform(&rng) - 1) * 0.01);
  for (t = 1; t <= STEPS; t++) {
    const double lr_t = opt.learning_rate * sqrt(1 - pow(opt.beta_2, t)) / (1 - pow(opt.beta_1, t));
    const float alpha = (float)lr_t, c1 = (float)(1 - opt.beta_1), c2 = (float)(1 - opt.beta_2),
                eps = (float)opt.epsilon;
    for (i = 0; i < N; i++)
      g[i] = (float)((rnnc_rng_uniform(&rng) - 0.5) * (i % 7 == 0 ? 1e-6 : 1.0));
    rnnc_optimizer_step_f32(&opt, w, g, slots, N, t);
    for (i = 0; i < N; i++) {
      wm[i] = wm[i] + (g[i] - wm[i]) * c1;
      wv[i] = wv[i] + (g[i] * g[i] - wv[i]) * c2;
      ww[i] = ww[i] - alpha * wm[i] / (sqrtf(wv[i]) + eps);
    }
  }
  assert_memory_equal(slots, wm, sizeof wm);
  assert_memory_equal(slots + N, wv, sizeof wv);
  assert_memory_equal(w, ww, sizeof ww);
}

/* ---------------------------------------------------------------- RMSprop, amsgrad, AdamW,
 * Adagrad, schedule, clipping. The rules are Keras 3's (keras-team/keras,
 * keras/src/optimizers/{rmsprop,adam,adamw,adagrad}.py and base_optimizer.py),
 * which tf.keras >= 2.11 shares; RMSprop's legacy epsilon is tf.keras <= 2.10's
 * (keras/optimizers/optimizer_v2/rmsprop.py). */

static void test_optimizer_defaults_all(void **state) {
  const rnnc_optimizer_kind kinds[5] = {RNNC_OPT_SGD, RNNC_OPT_ADAM, RNNC_OPT_RMSPROP,
                                        RNNC_OPT_ADAMW, RNNC_OPT_ADAGRAD};
  rnnc_optimizer o;
  int k;
  (void)state;
  for (k = 0; k < 5; k++) {
    o = rnnc_optimizer_default(kinds[k]);
    assert_int_equal(o.kind, kinds[k]);
    /* nothing a kind does not ask for is switched on */
    assert_true(o.nesterov == 0 && o.centered == 0 && o.legacy_epsilon == 0 && o.amsgrad == 0);
    assert_true(o.clipnorm == 0.0 && o.clipvalue == 0.0 && o.global_clipnorm == 0.0);
    assert_true(o.decay_steps == 0.0 && o.staircase == 0 && o.momentum == 0.0);
    assert_true(o.learning_rate == (kinds[k] == RNNC_OPT_SGD ? 0.01 : 0.001));
  }
  o = rnnc_optimizer_default(RNNC_OPT_RMSPROP);
  assert_true(o.rho == 0.9 && o.epsilon == 1e-7 && o.weight_decay == 0.0);
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 10);
  o.momentum = 0.9;
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 20);
  o.centered = 1;
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 30);
  o.momentum = 0.0;
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 20);
  o = rnnc_optimizer_default(RNNC_OPT_ADAMW);
  assert_true(o.beta_1 == 0.9 && o.beta_2 == 0.999 && o.epsilon == 1e-7 && o.weight_decay == 0.004);
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 20);
  o.amsgrad = 1;
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 30);
  o = rnnc_optimizer_default(RNNC_OPT_ADAM);
  assert_true(o.weight_decay == 0.0);
  o.amsgrad = 1;
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 30);
  o = rnnc_optimizer_default(RNNC_OPT_ADAGRAD);
  assert_true(o.initial_accumulator_value == 0.1 && o.epsilon == 1e-7);
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 10);
  assert_int_equal(rnnc_optimizer_slots(NULL, 10), 0);
}

static void test_optimizer_old_layout(void **state) {
  /* a unit generated before the new fields existed initialises only the first
   * seven ({kind, lr, momentum, nesterov, beta_1, beta_2, epsilon}); the rest
   * is zero and must mean off: the same updates as before */
  static const rnnc_optimizer zero;
  rnnc_optimizer old = zero, adam = rnnc_optimizer_default(RNNC_OPT_ADAM);
  double w1[3], w2[3], s1[6] = {0}, s2[6] = {0};
  int t;
  (void)state;
  old.kind = RNNC_OPT_ADAM;
  old.learning_rate = 0.001;
  old.beta_1 = 0.9;
  old.beta_2 = 0.999;
  old.epsilon = 1e-7;
  assert_int_equal(rnnc_optimizer_slots(&old, 3), 6);
  memcpy(w1, w0, sizeof w1);
  memcpy(w2, w0, sizeof w2);
  for (t = 0; t < 3; t++) {
    double g1[3], g2[3];
    memcpy(g1, grads[t], sizeof g1);
    memcpy(g2, grads[t], sizeof g2);
    rnnc_optimizer_apply_f64(&old, w1, g1, s1, 3, t + 1, NULL, 0);
    rnnc_optimizer_step_f64(&adam, w2, g2, s2, 3, t + 1);
    assert_memory_equal(g1, grads[t], sizeof g1); /* no clipping */
  }
  assert_memory_equal(w1, w2, sizeof w1);
  assert_memory_equal(s1, s2, sizeof s1);
}

/* Keras's RMSprop, one step on n values. */
typedef struct {
  double lr, rho, mu, eps;
  int centered, legacy;
} rms_cfg;

static void rms_ref(const rms_cfg *c, double *w, double *s, double *mom, double *mg,
                    const double *g, int n) {
  int i;
  for (i = 0; i < n; i++) {
    double den, inc;
    s[i] = c->rho * s[i] + (1.0 - c->rho) * g[i] * g[i];
    den = s[i];
    if (c->centered) {
      mg[i] = c->rho * mg[i] + (1.0 - c->rho) * g[i];
      den = s[i] - mg[i] * mg[i];
    }
    /* tf.keras <= 2.10 without momentum: lr g / (sqrt(den) + eps); with
     * momentum its fused kernel has eps inside the sqrt like Keras 3 */
    if (c->legacy && c->mu == 0.0)
      inc = c->lr * g[i] / (sqrt(den) + c->eps);
    else
      inc = c->lr * g[i] / sqrt(den + c->eps);
    if (c->mu > 0.0) {
      mom[i] = c->mu * mom[i] + inc;
      w[i] -= mom[i];
    } else {
      w[i] -= inc;
    }
  }
}

/* the last element's gradients are tiny so that epsilon's place matters */
static const double gtiny[3][3] = {{0.1, -0.2, 1e-8}, {0.05, 0.4, -2e-8}, {-0.3, 0.0, 3e-8}};

static void run_rmsprop(double mu, int centered, int legacy, double *w_out) {
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_RMSPROP);
  rms_cfg c;
  double w[3], slots[9] = {0}, want[3], s[3] = {0}, mom[3] = {0}, mg[3] = {0};
  float f[3], fslots[9] = {0}, g32[3];
  size_t nslots;
  int t, i, at;
  opt.momentum = mu;
  opt.centered = centered;
  opt.legacy_epsilon = legacy;
  c.lr = 0.001;
  c.rho = 0.9;
  c.eps = 1e-7;
  c.mu = mu;
  c.centered = centered;
  c.legacy = legacy;
  nslots = rnnc_optimizer_slots(&opt, 3);
  assert_int_equal(nslots, 3 * (1 + (mu > 0.0) + (centered != 0)));
  memcpy(w, w0, sizeof w);
  memcpy(want, w0, sizeof w);
  for (i = 0; i < 3; i++)
    f[i] = (float)w0[i];
  for (t = 0; t < 3; t++) {
    for (i = 0; i < 3; i++)
      g32[i] = (float)gtiny[t][i];
    rnnc_optimizer_step_f64(&opt, w, gtiny[t], slots, 3, t + 1);
    rnnc_optimizer_step_f32(&opt, f, g32, fslots, 3, t + 1);
    rms_ref(&c, want, s, mom, mg, gtiny[t], 3);
    for (i = 0; i < 3; i++) {
      assert_near(w[i], want[i], 1e-15);
      assert_near(f[i], want[i], 2e-6);
      /* layout: s, then mom (momentum), then mg (centered) */
      assert_near(slots[i], s[i], 1e-18);
      at = 3;
      if (mu > 0.0) {
        assert_near(slots[at + i], mom[i], 1e-17);
        at += 3;
      }
      if (centered)
        assert_near(slots[at + i], mg[i], 1e-17);
    }
  }
  for (i = (int)nslots; i < 9; i++)
    assert_true(slots[i] == 0.0); /* nothing written past the slots */
  memcpy(w_out, w, sizeof w);
}

static void test_rmsprop(void **state) {
  double w[3], w2[3], d;
  (void)state;
  run_rmsprop(0.0, 0, 0, w);
  run_rmsprop(0.9, 0, 0, w);
  /* element 0 with momentum written out: s = 0.001, 0.000925, 0.0098325;
   * mom = 0.001*0.1/sqrt(0.0010001), then 0.9 mom + 0.001*0.05/sqrt(0.0009251),
   * then 0.9 mom - 0.001*0.3/sqrt(0.0098326); w = 1 - the three moms */
  assert_near(w[0], 0.9916241294421194, 1e-15);
  run_rmsprop(0.0, 1, 0, w);
  run_rmsprop(0.9, 1, 0, w);
  run_rmsprop(0.0, 0, 1, w);
  run_rmsprop(0.0, 1, 1, w);
  /* legacy with momentum takes TF's fused kernel: eps inside the sqrt, the
   * same updates as without the flag */
  run_rmsprop(0.9, 0, 1, w);
  run_rmsprop(0.9, 0, 0, w2);
  assert_memory_equal(w, w2, sizeof w);
  run_rmsprop(0.9, 1, 1, w);
  run_rmsprop(0.9, 1, 0, w2);
  assert_memory_equal(w, w2, sizeof w);

  /* first updates written out (lr 0.001, rho 0.9, eps 1e-7):
   * g = 0.1: s = 0.1 * 0.01 = 0.001;
   *   Keras 3:  w = 1 - 0.001 * 0.1 / sqrt(0.001 + 1e-7)
   *   legacy:   w = 1 - 0.001 * 0.1 / (sqrt(0.001) + 1e-7)
   *   centered: mg = 0.1 * 0.1 = 0.01, w = 1 - 0.0001 / sqrt(0.001 - 0.0001 + 1e-7)
   * g = 1e-8 on w = 0.5: s = 1e-17, the step is 1e-11 / sqrt(1e-7 + 1e-17) =
   *   3.16e-8 inside, 1e-11 / (3.16e-9 + 1e-7) = 9.69e-5 outside */
  {
    rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_RMSPROP);
    double s[6];
    memcpy(w, w0, sizeof w);
    memset(s, 0, sizeof s);
    rnnc_optimizer_step_f64(&opt, w, gtiny[0], s, 3, 1);
    assert_near(w[0], 0.9968378804418571, 1e-15);
    assert_near(w[2], 0.4999999683772234, 1e-15);
    opt.legacy_epsilon = 1;
    memcpy(w, w0, sizeof w);
    memset(s, 0, sizeof s);
    rnnc_optimizer_step_f64(&opt, w, gtiny[0], s, 3, 1);
    assert_near(w[0], 0.9968377323398, 1e-15);
    assert_near(w[2], 0.49990306534300316, 1e-15);
    opt.legacy_epsilon = 0;
    opt.centered = 1;
    memcpy(w, w0, sizeof w);
    memset(s, 0, sizeof s);
    rnnc_optimizer_step_f64(&opt, w, gtiny[0], s, 3, 1);
    assert_near(w[0], 0.9966668518364212, 1e-15);
    d = s[3];
    assert_near(d, 0.01, 1e-17);
  }
}

/* Keras's Adam, optionally amsgrad and AdamW's decay, one step on n values
 * with the learning rate lr of this step. */
static void adam_ref(double lr, double wd, int amsgrad, int t, double *w, double *m, double *v,
                     double *vhat, const double *g, int n) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
  double lr_t = lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t));
  int i;
  for (i = 0; i < n; i++) {
    double vv;
    w[i] -= w[i] * wd * lr; /* AdamW: before the Adam update */
    m[i] = b1 * m[i] + (1.0 - b1) * g[i];
    v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
    vv = v[i];
    if (amsgrad) {
      vhat[i] = vhat[i] > v[i] ? vhat[i] : v[i];
      vv = vhat[i];
    }
    w[i] -= lr_t * m[i] / (sqrt(vv) + eps);
  }
}

static void test_adam_amsgrad(void **state) {
  /* gradients shrinking on elements 0 and 1, so v falls below its maximum */
  const double g[3][3] = {{1.0, -0.5, 0.2}, {0.01, 0.01, 0.3}, {0.02, -0.01, -0.1}};
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_ADAM), plain = opt;
  double w[3], wp[3], slots[9] = {0}, sp[6] = {0}, want[3], m[3] = {0}, v[3] = {0}, vh[3] = {0},
                      v1 = 0.0;
  float f[3], fslots[9] = {0}, g32[3];
  int t, i;
  (void)state;
  opt.amsgrad = 1;
  assert_int_equal(rnnc_optimizer_slots(&opt, 3), 9);
  memcpy(w, w0, sizeof w);
  memcpy(wp, w0, sizeof w);
  memcpy(want, w0, sizeof w);
  for (i = 0; i < 3; i++)
    f[i] = (float)w0[i];
  for (t = 1; t <= 3; t++) {
    for (i = 0; i < 3; i++)
      g32[i] = (float)g[t - 1][i];
    rnnc_optimizer_step_f64(&opt, w, g[t - 1], slots, 3, t);
    rnnc_optimizer_step_f32(&opt, f, g32, fslots, 3, t);
    rnnc_optimizer_step_f64(&plain, wp, g[t - 1], sp, 3, t);
    adam_ref(0.001, 0.0, 1, t, want, m, v, vh, g[t - 1], 3);
    for (i = 0; i < 3; i++) {
      assert_near(w[i], want[i], 1e-15);
      assert_near(f[i], want[i], 1e-6);
      assert_near(slots[i], m[i], 1e-16);
      assert_near(slots[3 + i], v[i], 1e-17);
      assert_near(slots[6 + i], vh[i], 1e-17);
    }
    if (t == 1)
      v1 = slots[3];
    else {
      /* v_hat keeps step 1's v (0.001) while v decays */
      assert_true(slots[6] == v1 && slots[3] < slots[6]);
      assert_true(w[0] != wp[0]);
    }
  }
  /* element 0 written out: v = 0.001, 0.0009991, 0.0009985009 but
   * v_hat = 0.001 throughout; m = 0.1, 0.091, 0.0839;
   * w = 1 - sum_t lr sqrt(1 - 0.999^t) / (1 - 0.9^t) m_t / (sqrt(0.001) + 1e-7) */
  assert_near(w[0], 0.9977868778791654, 1e-15);
}

static void test_adamw(void **state) {
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_ADAMW), adam;
  double w[3], slots[9] = {0}, want[3], m[3] = {0}, v[3] = {0}, vh[3] = {0};
  float f[3], fslots[9] = {0}, g32[3];
  int t, i, pass;
  (void)state;
  for (pass = 0; pass < 3; pass++) {
    /* 0: defaults; 1: amsgrad; 2: with a schedule, lr_i = 0.001 * 0.5^i, which
     * the decay uses too */
    opt = rnnc_optimizer_default(RNNC_OPT_ADAMW);
    if (pass == 1)
      opt.amsgrad = 1;
    if (pass == 2) {
      opt.decay_steps = 1.0;
      opt.decay_rate = 0.5;
    }
    memcpy(w, w0, sizeof w);
    memcpy(want, w0, sizeof w);
    memset(slots, 0, sizeof slots);
    memset(fslots, 0, sizeof fslots);
    memset(m, 0, sizeof m);
    memset(v, 0, sizeof v);
    memset(vh, 0, sizeof vh);
    for (i = 0; i < 3; i++)
      f[i] = (float)w0[i];
    for (t = 1; t <= 3; t++) {
      double lr = pass == 2 ? 0.001 * pow(0.5, t - 1) : 0.001;
      for (i = 0; i < 3; i++)
        g32[i] = (float)grads[t - 1][i];
      rnnc_optimizer_step_f64(&opt, w, grads[t - 1], slots, 3, t);
      rnnc_optimizer_step_f32(&opt, f, g32, fslots, 3, t);
      adam_ref(lr, 0.004, pass == 1, t, want, m, v, vh, grads[t - 1], 3);
      for (i = 0; i < 3; i++) {
        assert_near(w[i], want[i], 1e-15);
        assert_near(f[i], want[i], 1e-6);
      }
    }
  }
  /* step 1 written out, element 0: w = 1 - 1 * 0.004 * 0.001 = 0.999996, then
   * the Adam step 0.001 sqrt(0.001) / 0.1 * 0.01 / (sqrt(1e-5) + 1e-7) */
  opt = rnnc_optimizer_default(RNNC_OPT_ADAMW);
  memcpy(w, w0, sizeof w);
  memset(slots, 0, sizeof slots);
  rnnc_optimizer_step_f64(&opt, w, grads[0], slots, 3, 1);
  assert_near(w[0], 0.9989960316217766, 1e-15);
  /* weight_decay 0 is Adam */
  adam = rnnc_optimizer_default(RNNC_OPT_ADAM);
  opt.weight_decay = 0.0;
  {
    double wa[3], wb[3], sa[6] = {0}, sb[6] = {0};
    memcpy(wa, w0, sizeof wa);
    memcpy(wb, w0, sizeof wb);
    for (t = 1; t <= 3; t++) {
      rnnc_optimizer_step_f64(&opt, wa, grads[t - 1], sa, 3, t);
      rnnc_optimizer_step_f64(&adam, wb, grads[t - 1], sb, 3, t);
    }
    assert_memory_equal(wa, wb, sizeof wa);
  }
}

static void test_adagrad(void **state) {
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_ADAGRAD);
  const double lr = 0.001, eps = 1e-7;
  double w[3], slots[3] = {7, 7, 7}, want[3], acc[3] = {0.1, 0.1, 0.1};
  float f[3], fslots[3] = {7, 7, 7}, g32[3];
  int t, i;
  (void)state;
  memcpy(w, w0, sizeof w);
  memcpy(want, w0, sizeof w);
  for (i = 0; i < 3; i++)
    f[i] = (float)w0[i];
  for (t = 0; t < 3; t++) {
    for (i = 0; i < 3; i++) {
      g32[i] = (float)grads[t][i];
      /* Keras: accumulator (from initial_accumulator_value) += g^2;
       * w -= lr g / sqrt(accumulator + eps) */
      acc[i] += grads[t][i] * grads[t][i];
      want[i] -= lr * grads[t][i] / sqrt(acc[i] + eps);
    }
    /* whatever the slots held before step 1 is replaced by 0.1 */
    rnnc_optimizer_step_f64(&opt, w, grads[t], slots, 3, t + 1);
    rnnc_optimizer_step_f32(&opt, f, g32, fslots, 3, t + 1);
    for (i = 0; i < 3; i++) {
      assert_near(slots[i], acc[i], 1e-16);
      assert_near(w[i], want[i], 1e-15);
      assert_near(f[i], want[i], 1e-6);
      assert_near(fslots[i], acc[i], 1e-7);
    }
    if (t == 0)
      /* written out: 1 - 0.001 * 0.1 / sqrt(0.1 + 0.01 + 1e-7) */
      assert_near(w[0], 0.9996984887924728, 1e-15);
  }
  /* the initial value is a parameter */
  opt.initial_accumulator_value = 1.0;
  memcpy(w, w0, sizeof w);
  rnnc_optimizer_step_f64(&opt, w, grads[0], slots, 3, 1);
  assert_near(slots[0], 1.01, 1e-16);
  assert_near(w[0], 1.0 - 0.001 * 0.1 / sqrt(1.01 + 1e-7), 1e-15);
}

static void test_lr_schedule(void **state) {
  /* ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5) evaluated at the
   * number of updates done before (keras/src/optimizers/schedules/
   * learning_rate_schedule.py: p = step / decay_steps, floored when
   * staircase; lr * decay_rate ** p). SGD, g = 1: w drops by lr_i each step. */
  rnnc_optimizer opt = rnnc_optimizer_default(RNNC_OPT_SGD);
  const double one[1] = {1.0};
  const double r = sqrt(0.5);
  double w[1], sum;
  int t, stair;
  (void)state;
  opt.decay_steps = 2.0;
  opt.decay_rate = 0.5;
  for (stair = 0; stair <= 1; stair++) {
    opt.staircase = stair;
    w[0] = 1.0;
    for (t = 1; t <= 4; t++)
      rnnc_optimizer_step_f64(&opt, w, one, NULL, 1, t);
    /* smooth: 0.01 * 0.5^(i/2) for i = 0..3: 0.01, 0.01 r, 0.005, 0.005 r;
     * staircase: 0.01, 0.01, 0.005, 0.005 */
    sum = stair ? 0.01 + 0.01 + 0.005 + 0.005 : 0.01 + 0.01 * r + 0.005 + 0.005 * r;
    assert_near(w[0], 1.0 - sum, 1e-15);
  }
  /* decay_steps 0: no schedule, whatever decay_rate says */
  opt.decay_steps = 0.0;
  w[0] = 1.0;
  for (t = 1; t <= 4; t++)
    rnnc_optimizer_step_f64(&opt, w, one, NULL, 1, t);
  assert_near(w[0], 0.96, 1e-15);
  /* Adam: the bias corrections use t, the rate the schedule */
  {
    rnnc_optimizer adam = rnnc_optimizer_default(RNNC_OPT_ADAM);
    double wa[3], s[6] = {0}, want[3], m[3] = {0}, v[3] = {0};
    int i;
    adam.decay_steps = 3.0;
    adam.decay_rate = 0.1;
    memcpy(wa, w0, sizeof wa);
    memcpy(want, w0, sizeof want);
    for (t = 1; t <= 3; t++) {
      rnnc_optimizer_step_f64(&adam, wa, grads[t - 1], s, 3, t);
      adam_ref(0.001 * pow(0.1, (t - 1) / 3.0), 0.0, 0, t, want, m, v, NULL, grads[t - 1], 3);
      for (i = 0; i < 3; i++)
        assert_near(wa[i], want[i], 1e-15);
    }
  }
  /* RMSprop and Adagrad take it too: with rate 0 and staircase the second
   * step (i = 1 < decay_steps 2) still moves, the third (i = 2) does not */
  {
    rnnc_optimizer o = rnnc_optimizer_default(RNNC_OPT_ADAGRAD);
    double wa[1] = {1.0}, s[1] = {0}, before;
    o.decay_steps = 2.0;
    o.decay_rate = 0.0;
    o.staircase = 1;
    rnnc_optimizer_step_f64(&o, wa, one, s, 1, 1);
    before = wa[0];
    rnnc_optimizer_step_f64(&o, wa, one, s, 1, 2);
    assert_true(wa[0] < before);
    before = wa[0];
    rnnc_optimizer_step_f64(&o, wa, one, s, 1, 3);
    assert_true(wa[0] == before);
    o = rnnc_optimizer_default(RNNC_OPT_RMSPROP);
    o.decay_steps = 1.0;
    o.decay_rate = 0.0;
    o.staircase = 1;
    wa[0] = 1.0;
    s[0] = 0.0;
    rnnc_optimizer_step_f64(&o, wa, one, s, 1, 1);
    before = wa[0];
    assert_true(before < 1.0);
    rnnc_optimizer_step_f64(&o, wa, one, s, 1, 2);
    assert_true(wa[0] == before);
  }
}

/* Clipping through rnnc_optimizer_apply with SGD(lr = 1): w0 - w is the
 * clipped gradient, which is also left in g. */
static void clip_case(const rnnc_optimizer *base, const double *g0, const double *want,
                      const rnnc_tensor_desc *tensors, int n_tensors) {
  rnnc_optimizer opt = *base;
  double w[5] = {0, 0, 0, 0, 0}, g[5];
  float f[5] = {0, 0, 0, 0, 0}, g32[5];
  int i;
  opt.kind = RNNC_OPT_SGD;
  opt.learning_rate = 1.0;
  memcpy(g, g0, sizeof g);
  for (i = 0; i < 5; i++)
    g32[i] = (float)g0[i];
  rnnc_optimizer_apply_f64(&opt, w, g, NULL, 5, 1, tensors, n_tensors);
  rnnc_optimizer_apply_f32(&opt, f, g32, NULL, 5, 1, tensors, n_tensors);
  for (i = 0; i < 5; i++) {
    assert_near(g[i], want[i], 1e-15);
    assert_near(-w[i], want[i], 1e-15);
    assert_near(g32[i], want[i], 1e-7);
    assert_near(-f[i], want[i], 1e-7);
  }
}

/* Issue 13's schedules at chosen iterations i (updates done before), the
 * values Keras 3's keras/src/optimizers/schedules/learning_rate_schedule.py
 * gives (computed by tests/conformance/keras_torch.py's KerasSchedule). */
static void test_issue13_schedules(void **state) {
  rnnc_optimizer o = rnnc_optimizer_default(RNNC_OPT_SGD);
  static const double pw_i[6] = {0, 2, 3, 5, 6, 100},
                      pw_lr[6] = {0.1, 0.1, 0.01, 0.01, 0.001, 0.001};
  int k;
  (void)state;
#define LR_AT(i) rnnc_optimizer_learning_rate(&o, (long)(i) + 1)
  o.schedule = 2; /* PiecewiseConstantDecay([2, 5], [0.1, 0.01, 0.001]) */
  o.n_boundaries = 2;
  o.boundaries[0] = 2;
  o.boundaries[1] = 5;
  o.values[0] = 0.1;
  o.values[1] = 0.01;
  o.values[2] = 0.001;
  for (k = 0; k < 6; k++)
    assert_true(LR_AT(pw_i[k]) == pw_lr[k]);
  o = rnnc_optimizer_default(RNNC_OPT_SGD);
  o.learning_rate = 0.1;
  o.schedule = 3; /* InverseTimeDecay(0.1, 4, 0.5) */
  o.decay_steps = 4;
  o.decay_rate = 0.5;
  assert_near(LR_AT(0), 0.1, 1e-17);
  assert_near(LR_AT(3), 0.072727272727272738, 1e-17);
  assert_near(LR_AT(8), 0.05, 1e-17);
  o.staircase = 1;
  assert_near(LR_AT(3), 0.1, 1e-17);
  assert_near(LR_AT(5), 0.066666666666666666, 1e-17);
  o.staircase = 0;
  o.schedule = 4; /* PolynomialDecay(0.1, 4, 0.01, power=2) */
  o.end_learning_rate = 0.01;
  o.power = 2.0;
  assert_near(LR_AT(0), 0.1, 1e-17);
  assert_near(LR_AT(2), 0.0325, 1e-17);
  assert_near(LR_AT(4), 0.01, 1e-17);
  assert_near(LR_AT(9), 0.01, 1e-17);
  o.cycle = 1; /* decay_steps the first multiple of 4 at or past i */
  assert_near(LR_AT(4), 0.01, 1e-17);
  assert_near(LR_AT(5), 0.022656250000000003, 1e-17);
  assert_near(LR_AT(9), 0.015625, 1e-17);
  o = rnnc_optimizer_default(RNNC_OPT_SGD);
  o.learning_rate = 0.1;
  o.schedule = 5; /* CosineDecay(0.1, 10, alpha=0.1): no warmup is warmup_target = lr */
  o.decay_steps = 10;
  o.alpha = 0.1;
  o.warmup_target = 0.1;
  assert_near(LR_AT(0), 0.1, 1e-17);
  assert_near(LR_AT(5), 0.055, 1e-17);
  assert_near(LR_AT(10), 0.01, 1e-17);
  assert_near(LR_AT(20), 0.01, 1e-17);
  /* CosineDecay(0, 10, warmup_target=0.2, warmup_steps=4) */
  o.learning_rate = 0.0;
  o.alpha = 0.0;
  o.warmup_target = 0.2;
  o.warmup_steps = 4;
  assert_near(LR_AT(0), 0.0, 1e-17);
  assert_near(LR_AT(2), 0.1, 1e-17);
  assert_near(LR_AT(4), 0.2, 1e-17);
  assert_near(LR_AT(9), 0.1, 1e-16);
  assert_near(LR_AT(14), 0.0, 1e-17);
  assert_near(LR_AT(30), 0.0, 1e-17);
  o = rnnc_optimizer_default(RNNC_OPT_SGD);
  o.learning_rate = 0.1;
  o.schedule = 6; /* CosineDecayRestarts(0.1, 4, t_mul=2, m_mul=0.5, alpha=0.1) */
  o.decay_steps = 4;
  o.t_mul = 2.0;
  o.m_mul = 0.5;
  o.alpha = 0.1;
  assert_near(LR_AT(0), 0.1, 1e-17);
  assert_near(LR_AT(2), 0.055, 1e-17);
  assert_near(LR_AT(4), 0.055, 1e-17);
  assert_near(LR_AT(5), 0.053287289481503956, 1e-16);
  assert_near(LR_AT(12), 0.0325, 1e-16);
  assert_near(LR_AT(13), 0.032283834404536346, 1e-16);
  o.t_mul = 1.0; /* periods of equal length */
  o.m_mul = 1.0;
  o.alpha = 0.0;
  assert_near(LR_AT(2), 0.05, 1e-17);
  assert_near(LR_AT(4), 0.1, 1e-17);
  assert_near(LR_AT(6), 0.05, 1e-17);
#undef LR_AT
  /* the update uses the schedule: SGD, g = 1, w drops by lr_i */
  {
    const double one[1] = {1.0};
    double w[1] = {1.0};
    int t;
    for (t = 1; t <= 3; t++)
      rnnc_optimizer_step_f64(&o, w, one, NULL, 1, t);
    assert_near(w[0], 1.0 - (0.1 + rnnc_optimizer_learning_rate(&o, 2) + 0.05), 1e-16);
  }
}

/* Issue 13's optimizers: Keras's defaults, the state they keep, step 1
 * written out (w = 1, g = 0.1), and float against double over three steps. */
static void test_issue13_optimizers(void **state) {
  static const rnnc_optimizer_kind kinds[5] = {RNNC_OPT_NADAM, RNNC_OPT_ADAMAX, RNNC_OPT_ADADELTA,
                                               RNNC_OPT_FTRL, RNNC_OPT_LION};
  /* w[0] after step 1, from the rules of keras/src/optimizers/ */
  static const double step1[5] = {0.99893721325947793, 0.99900000099999897, 0.99999858592783775,
                                  0.046235899409829861, 0.999};
  rnnc_optimizer o;
  int k, t, i;
  (void)state;
  o = rnnc_optimizer_default(RNNC_OPT_NADAM);
  assert_true(o.learning_rate == 0.001 && o.beta_1 == 0.9 && o.beta_2 == 0.999 &&
              o.epsilon == 1e-7);
  o = rnnc_optimizer_default(RNNC_OPT_ADADELTA);
  assert_true(o.learning_rate == 0.001 && o.rho == 0.95 && o.epsilon == 1e-7);
  o = rnnc_optimizer_default(RNNC_OPT_FTRL);
  assert_true(o.learning_rate_power == -0.5 && o.initial_accumulator_value == 0.1 &&
              o.l1_regularization_strength == 0.0 && o.beta == 0.0);
  o = rnnc_optimizer_default(RNNC_OPT_LION);
  assert_true(o.learning_rate == 0.001 && o.beta_1 == 0.9 && o.beta_2 == 0.99);
  assert_int_equal(rnnc_optimizer_slots(&o, 10), 10);
  for (k = 0; k < 5; k++) {
    double w[3], slots[6] = {0};
    float f[3], fslots[6] = {0}, g32[3];
    o = rnnc_optimizer_default(kinds[k]);
    if (kinds[k] != RNNC_OPT_LION)
      assert_int_equal(rnnc_optimizer_slots(&o, 10), 20);
    memcpy(w, w0, sizeof w);
    for (i = 0; i < 3; i++)
      f[i] = (float)w0[i];
    for (t = 1; t <= 3; t++) {
      for (i = 0; i < 3; i++)
        g32[i] = (float)grads[t - 1][i];
      rnnc_optimizer_step_f64(&o, w, grads[t - 1], slots, 3, t);
      rnnc_optimizer_step_f32(&o, f, g32, fslots, 3, t);
      if (t == 1)
        assert_near(w[0], step1[k], 1e-15);
      for (i = 0; i < 3; i++)
        assert_near(f[i], w[i], 2e-6);
    }
  }
  /* Ftrl with l1: a weight whose |linear| stays within l1 is exactly 0 */
  {
    double w[1] = {0.0}, slots[2] = {0};
    const double g[1] = {0.001};
    o = rnnc_optimizer_default(RNNC_OPT_FTRL);
    o.l1_regularization_strength = 0.01;
    rnnc_optimizer_step_f64(&o, w, g, slots, 1, 1);
    assert_true(w[0] == 0.0 && slots[1] == 0.001);
  }
  /* Lion moves each weight by exactly lr */
  {
    double w[3], slots[3] = {0};
    o = rnnc_optimizer_default(RNNC_OPT_LION);
    memcpy(w, w0, sizeof w);
    rnnc_optimizer_step_f64(&o, w, grads[0], slots, 3, 1);
    for (i = 0; i < 3; i++)
      assert_near(fabs(w[i] - w0[i]), 0.001, 1e-15);
  }
}

/* A tensor marked frozen (a layer with trainable = false, BatchNormalization's
 * moving statistics): rnnc_optimizer_apply leaves its weights and its slots
 * bit for bit alone, whatever its gradient, with every optimizer (AdamW's
 * weight decay and Ftrl's update move a weight of zero gradient); the other
 * elements get exactly the update of rnnc_optimizer_step on the whole
 * vector. */
static void test_frozen_tensors(void **state) {
  const rnnc_tensor_desc t3[3] = {
      {.name = "a", .rank = 1, .shape = {2}, .offset = 0, .size = 2},
      {.name = "frozen", .rank = 1, .shape = {2}, .offset = 2, .size = 2, .frozen = 1},
      {.name = "c", .rank = 1, .shape = {1}, .offset = 4, .size = 1}};
  static const rnnc_optimizer_kind kinds[] = {
#define KIND(id, NAME, name, cls) RNNC_OPT_##NAME,
      RNNC_OPTIMIZERS(KIND)
#undef KIND
  };
  const double w0[5] = {0.5, -0.25, 0.75, -1.5, 0.125};
  const double g[3][5] = {
      {0.1, -0.2, 0.3, -0.4, 0.5}, {-0.3, 0.2, 0.0, 0.0, -0.1}, {0.05, 0.4, -0.7, 0.2, 0.3}};
  size_t k;
  (void)state;
  for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    rnnc_optimizer o = rnnc_optimizer_default(kinds[k]);
    double w[5], wf[5], gg[5], s[64] = {0}, sf[64] = {0};
    size_t n_slots = rnnc_optimizer_slots(&o, 5), i, j;
    long t;
    if (kinds[k] == RNNC_OPT_SGD)
      o.momentum = 0.9; /* a slot to keep */
    assert_true(n_slots <= 64);
    memcpy(w, w0, sizeof w);
    memcpy(wf, w0, sizeof wf);
    for (t = 1; t <= 3; t++) {
      memcpy(gg, g[t - 1], sizeof gg);
      rnnc_optimizer_apply_f64(&o, wf, gg, sf, 5, t, t3, 3);
      rnnc_optimizer_step_f64(&o, w, g[t - 1], s, 5, t);
    }
    for (i = 0; i < 5; i++) {
      int frozen = i == 2 || i == 3;
      if (frozen) {
        assert_memory_equal(&wf[i], &w0[i], sizeof(double));
        for (j = 0; j < n_slots / 5; j++)
          assert_true(sf[j * 5 + i] == 0.0);
        /* the whole-vector step does move these: the test can fail */
        assert_true(w[i] != w0[i]);
      } else {
        assert_memory_equal(&wf[i], &w[i], sizeof(double));
        for (j = 0; j < n_slots / 5; j++)
          assert_memory_equal(&sf[j * 5 + i], &s[j * 5 + i], sizeof(double));
      }
    }
  }
}

/* Keras's weight regularizers (keras/src/regularizers/regularizers.py):
 * l1 sum |w| + l2 sum w^2 (no 1/2), gradient l1 sign(w) + 2 l2 w with
 * sign(0) = 0; a tensor without a rule adds nothing. */
static void test_regularizers(void **state) {
  rnnc_tensor_desc t[3] = {{.name = "k", .rank = 2, .shape = {2, 2}, .offset = 0, .size = 4},
                           {.name = "b", .rank = 1, .shape = {2}, .offset = 4, .size = 2},
                           {.name = "r", .rank = 1, .shape = {1}, .offset = 6, .size = 1}};
  const double w[7] = {1.0, -2.0, 0.0, 0.5, 3.0, -1.0, 10.0};
  double g[7] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
  float wf[7], gf[7];
  int i;
  (void)state;
  t[0].rule.l1 = 0.01; /* L1L2(l1=0.01, l2=0.02) on k */
  t[0].rule.l2 = 0.02;
  t[1].rule.l2 = 0.5; /* L2(0.5) on b; r has none */
  /* k: 0.01 * 3.5 + 0.02 * 5.25 = 0.14; b: 0.5 * 10 = 5 */
  assert_near(rnnc_regularize_f64(t, 3, w, NULL, 7), 5.14, 1e-15);
  assert_near(rnnc_regularize_f64(t, 3, w, g, 7), 5.14, 1e-15);
  {
    const double want[7] = {0.1 + 0.01 + 0.04, 0.1 - 0.01 - 0.08, 0.1, 0.1 + 0.01 + 0.02,
                            0.1 + 3.0,         0.1 - 1.0,         0.1};
    for (i = 0; i < 7; i++)
      assert_near(g[i], want[i], 1e-15);
  }
  /* a tensor reaching past n is skipped */
  assert_near(rnnc_regularize_f64(t, 3, w, NULL, 5), 0.14, 1e-15);
  for (i = 0; i < 7; i++) {
    wf[i] = (float)w[i];
    gf[i] = 0.0f;
  }
  assert_near(rnnc_regularize_f32(t, 3, wf, gf, 7), 5.14, 1e-6);
  assert_near(gf[1], -0.09, 1e-7);
  /* a frozen tensor's rule is not applied (Keras regularizes the
   * trainable_weights only): b frozen leaves k's 0.14 and b's gradient */
  t[1].frozen = 1;
  for (i = 0; i < 7; i++)
    g[i] = 0.1;
  assert_near(rnnc_regularize_f64(t, 3, w, g, 7), 0.14, 1e-15);
  assert_true(g[4] == 0.1 && g[5] == 0.1);
}

/* Keras's constraints (keras/src/constraints/constraints.py) with
 * epsilon 1e-7, the norms over `axis` of a (2, 3) kernel. */
static void test_constraints(void **state) {
  rnnc_tensor_desc t = {.name = "k", .rank = 2, .shape = {2, 3}, .offset = 0, .size = 6};
  const double w0[6] = {3.0, 0.0, -0.6, 4.0, 0.0, 0.8};
  double w[6];
  const double e = 1e-7;
  int i;
  (void)state;
  /* MaxNorm(max_value=2, axis=0): columns (3, 4) norm 5 -> 2 / (5 + e), (0, 0)
   * stays 0, (-0.6, 0.8) norm 1 -> 1 / (1 + e) */
  t.rule.constraint = RNNC_CONSTRAINT_MAX_NORM;
  t.rule.axes = 1u;
  t.rule.max_value = 2.0;
  memcpy(w, w0, sizeof w);
  rnnc_constrain_f64(&t, 1, w, 6);
  {
    const double want[6] = {3 * 2 / (5 + e), 0, -0.6 / (1 + e), 4 * 2 / (5 + e), 0, 0.8 / (1 + e)};
    for (i = 0; i < 6; i++)
      assert_near(w[i], want[i], 1e-15);
  }
  /* axis=1: rows (3, 0, -0.6) norm sqrt(9.36), (4, 0, 0.8) norm sqrt(16.64) */
  t.rule.axes = 2u;
  memcpy(w, w0, sizeof w);
  rnnc_constrain_f64(&t, 1, w, 6);
  {
    const double n0 = sqrt(9.36), n1 = sqrt(16.64);
    const double want[6] = {3 * 2 / (n0 + e), 0, -0.6 * 2 / (n0 + e),
                            4 * 2 / (n1 + e), 0, 0.8 * 2 / (n1 + e)};
    for (i = 0; i < 6; i++)
      assert_near(w[i], want[i], 1e-15);
  }
  /* both axes: one norm, sqrt(26) */
  t.rule.axes = 3u;
  memcpy(w, w0, sizeof w);
  rnnc_constrain_f64(&t, 1, w, 6);
  for (i = 0; i < 6; i++)
    assert_near(w[i], w0[i] * 2 / (sqrt(26.0) + e), 1e-15);
  /* UnitNorm(axis=0) */
  t.rule.constraint = RNNC_CONSTRAINT_UNIT_NORM;
  t.rule.axes = 1u;
  memcpy(w, w0, sizeof w);
  rnnc_constrain_f64(&t, 1, w, 6);
  {
    const double want[6] = {3 / (5 + e), 0, -0.6 / (1 + e), 4 / (5 + e), 0, 0.8 / (1 + e)};
    for (i = 0; i < 6; i++)
      assert_near(w[i], want[i], 1e-15);
  }
  /* MinMaxNorm(min_value=1.5, max_value=4, rate=0.5, axis=0): norm 5 ->
   * 0.5 * 4 + 0.5 * 5 = 4.5; norm 1 -> 0.5 * 1.5 + 0.5 * 1 = 1.25; norm 0 ->
   * 0.75 / e, times 0 */
  t.rule.constraint = RNNC_CONSTRAINT_MIN_MAX_NORM;
  t.rule.min_value = 1.5;
  t.rule.max_value = 4.0;
  t.rule.rate = 0.5;
  memcpy(w, w0, sizeof w);
  rnnc_constrain_f64(&t, 1, w, 6);
  {
    const double want[6] = {3 * 4.5 / (5 + e), 0, -0.6 * 1.25 / (1 + e),
                            4 * 4.5 / (5 + e), 0, 0.8 * 1.25 / (1 + e)};
    for (i = 0; i < 6; i++)
      assert_near(w[i], want[i], 1e-15);
  }
  /* NonNeg: max(w, 0) */
  t.rule.constraint = RNNC_CONSTRAINT_NON_NEG;
  memcpy(w, w0, sizeof w);
  rnnc_constrain_f64(&t, 1, w, 6);
  for (i = 0; i < 6; i++)
    assert_true(w[i] == (w0[i] < 0 ? 0.0 : w0[i]));
  /* nor a frozen tensor's constraint */
  t.frozen = 1;
  memcpy(w, w0, sizeof w);
  rnnc_constrain_f64(&t, 1, w, 6);
  assert_memory_equal(w, w0, sizeof w);
  t.frozen = 0;
  /* applied by rnnc_optimizer_apply after the update: SGD lr 1, g = -w0
   * doubles w, then NonNeg */
  {
    rnnc_optimizer o = rnnc_optimizer_default(RNNC_OPT_SGD);
    double g[6];
    o.learning_rate = 1.0;
    for (i = 0; i < 6; i++)
      g[i] = -w0[i];
    memcpy(w, w0, sizeof w);
    rnnc_optimizer_apply_f64(&o, w, g, NULL, 6, 1, &t, 1);
    for (i = 0; i < 6; i++)
      assert_true(w[i] == (w0[i] < 0 ? 0.0 : 2 * w0[i]));
  }
}

static void test_clipping(void **state) {
  /* two weight tensors: elements 0..2 and 3..4 */
  const rnnc_tensor_desc t2[2] = {{.name = "a", .rank = 1, .shape = {3}, .offset = 0, .size = 3},
                                  {.name = "b", .rank = 1, .shape = {2}, .offset = 3, .size = 2}};
  static const rnnc_optimizer zero;
  rnnc_optimizer o = zero;
  const double s2 = sqrt(0.5);
  (void)state;
  {
    /* clipvalue 0.5: clip(g, -0.5, 0.5) */
    const double g[5] = {1.0, -2.0, 0.3, 0.1, -0.7}, want[5] = {0.5, -0.5, 0.3, 0.1, -0.5};
    o = zero;
    o.clipvalue = 0.5;
    clip_case(&o, g, want, t2, 2);
  }
  {
    /* clipnorm 1 per tensor: (3, 4, 0) has norm 5 -> (0.6, 0.8, 0); (0.3, -0.4)
     * has norm 0.5 <= 1 and stays */
    const double g[5] = {3, 4, 0, 0.3, -0.4}, want[5] = {0.6, 0.8, 0, 0.3, -0.4};
    /* the same vector as one tensor: norm sqrt(25.25) */
    const double nrm = sqrt(25.25);
    const double want1[5] = {3 / nrm, 4 / nrm, 0, 0.3 / nrm, -0.4 / nrm};
    /* just over the limit (norm 1.5) and exactly at it (norm 1) */
    const double g15[5] = {0.9, 1.2, 0, 0.6, -0.8}, want15[5] = {0.6, 0.8, 0, 0.6, -0.8};
    o = zero;
    o.clipnorm = 1.0;
    clip_case(&o, g, want, t2, 2);
    clip_case(&o, g, want1, NULL, 0);
    clip_case(&o, g15, want15, t2, 2);
  }
  {
    /* global_clipnorm 1: norm of everything sqrt(1 + 4 + 4 + 0 + 16) = 5 ->
     * scale 0.2; below the limit nothing changes */
    const double g[5] = {1, 2, 2, 0, 4}, want[5] = {0.2, 0.4, 0.4, 0, 0.8};
    const double small[5] = {0.1, 0.2, -0.2, 0, 0.4};
    /* norm 1.5 -> scale 2/3 */
    const double g15[5] = {0.3, 0.6, 0.6, 0, 1.2}, want15[5] = {0.2, 0.4, 0.4, 0, 0.8};
    o = zero;
    o.global_clipnorm = 1.0;
    clip_case(&o, g, want, t2, 2);
    clip_case(&o, small, small, t2, 2);
    clip_case(&o, g15, want15, t2, 2);
  }
  {
    /* clipvalue then clipnorm: (4, 3, 0) -> (3, 3, 0) -> (s2, s2, 0); the other
     * order would give (0.8, 0.6, 0). Tensor b: (0, 5) -> (0, 3) -> (0, 1). */
    const double g[5] = {4, 3, 0, 0, 5}, want[5] = {s2, s2, 0, 0, 1};
    o = zero;
    o.clipvalue = 3.0;
    o.clipnorm = 1.0;
    clip_case(&o, g, want, t2, 2);
  }
  {
    /* clipnorm then global_clipnorm: (3, 4, 0) -> (0.6, 0.8, 0), (0, 3) -> (0, 1),
     * global norm sqrt(2) -> scale 1 / sqrt(2) */
    const double g[5] = {3, 4, 0, 0, 3}, want[5] = {0.6 * s2, 0.8 * s2, 0, 0, s2};
    o = zero;
    o.clipnorm = 1.0;
    o.global_clipnorm = 1.0;
    clip_case(&o, g, want, t2, 2);
  }
  {
    /* a non-finite global norm makes every gradient NaN, as Keras's
     * clip_by_global_norm does */
    rnnc_optimizer sgd = rnnc_optimizer_default(RNNC_OPT_SGD);
    double w[5] = {0}, g[5] = {1, INFINITY, 0, 0, 0};
    int i;
    sgd.global_clipnorm = 1.0;
    rnnc_optimizer_apply_f64(&sgd, w, g, NULL, 5, 1, t2, 2);
    for (i = 0; i < 5; i++)
      assert_true(isnan(g[i]));
  }
  {
    /* apply = clip, then the optimizer's own step (Adam, slots and all) */
    rnnc_optimizer adam = rnnc_optimizer_default(RNNC_OPT_ADAM);
    double wa[5] = {1, 2, 3, 4, 5}, wb[5] = {1, 2, 3, 4, 5}, sa[10] = {0}, sb[10] = {0};
    double ga[5] = {3, 4, 0, 0.3, -0.4}, gb[5] = {0.6, 0.8, 0, 0.3, -0.4};
    adam.clipnorm = 1.0;
    rnnc_optimizer_apply_f64(&adam, wa, ga, sa, 5, 1, t2, 2);
    adam.clipnorm = 0.0;
    rnnc_optimizer_step_f64(&adam, wb, gb, sb, 5, 1);
    {
      int i;
      for (i = 0; i < 5; i++) {
        assert_near(wa[i], wb[i], 1e-15);
        assert_near(sa[i], sb[i], 1e-16);
      }
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtype_size),
      cmocka_unit_test(test_all_finite),
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
      cmocka_unit_test(test_init_truncated_normal),
      cmocka_unit_test(test_init_variance_uniform),
      cmocka_unit_test(test_init_random_normal),
      cmocka_unit_test(test_init_new_reproducible),
      cmocka_unit_test(test_mae),
      cmocka_unit_test(test_binary_ce_probs),
      cmocka_unit_test(test_binary_ce_clip_edges),
      cmocka_unit_test(test_binary_ce_logits),
      cmocka_unit_test(test_binary_ce_logits_vs_probs),
      cmocka_unit_test(test_categorical_ce_probs),
      cmocka_unit_test(test_categorical_ce_clip_edges),
      cmocka_unit_test(test_categorical_ce_logits),
      cmocka_unit_test(test_categorical_ce_logits_vs_probs),
      cmocka_unit_test(test_new_losses_f32),
      cmocka_unit_test(test_issue13_losses),
      cmocka_unit_test(test_loss_weights),
      cmocka_unit_test(test_categorical_accuracy),
      cmocka_unit_test(test_binary_accuracy),
      cmocka_unit_test(test_optimizer_defaults_all),
      cmocka_unit_test(test_optimizer_old_layout),
      cmocka_unit_test(test_rmsprop),
      cmocka_unit_test(test_adam_amsgrad),
      cmocka_unit_test(test_adam_f32_in_float),
      cmocka_unit_test(test_adamw),
      cmocka_unit_test(test_adagrad),
      cmocka_unit_test(test_lr_schedule),
      cmocka_unit_test(test_issue13_schedules),
      cmocka_unit_test(test_issue13_optimizers),
      cmocka_unit_test(test_clipping),
      cmocka_unit_test(test_frozen_tensors),
      cmocka_unit_test(test_regularizers),
      cmocka_unit_test(test_constraints),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
