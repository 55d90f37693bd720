/* Tests of the reference runtime (runtime/reference/ref.c): forward against an
 * independent NumPy-tutorial style SimpleRNN, every gradient against central
 * finite differences, backward(dy) against loss_grad, go_backwards against a
 * time-reversed input, and the spec parser's error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"
#include "rnnc_ref.h"

/* ------------------------------------------------------------------ helpers */

/* A tiny 64-bit LCG (Knuth's MMIX constants) for reproducible test data. */
typedef struct {
  uint64_t s;
} lcg;

static double lcg_uniform(lcg *g) { /* [-1, 1) */
  g->s = g->s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(g->s >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void fill(lcg *g, double *a, size_t n, double scale) {
  size_t i;
  for (i = 0; i < n; i++)
    a[i] = scale * lcg_uniform(g);
}

static double *reals(size_t n) {
  double *p = (double *)calloc(n > 0 ? n : 1, sizeof(double));
  assert_non_null(p);
  return p;
}

static rnnc_ref *must_new(const char *spec) {
  char err[256] = "";
  rnnc_ref *m = rnnc_ref_new(spec, err, sizeof err);
  if (m == NULL)
    fail_msg("rnnc_ref_new failed: %s\nspec:\n%s", err, spec);
  return m;
}

/* cmocka 1.1's assert_float_equal works in float: a double version. */
#define assert_double_equal(a, b, tol) assert_near_impl((a), (b), (tol), #a, #b, __FILE__, __LINE__)

static void assert_near_impl(double a, double b, double tol, const char *sa, const char *sb,
                             const char *file, int line) {
  if (!(fabs(a - b) <= tol)) {
    print_error("%s = %.17g and %s = %.17g differ by %.3g > %.3g\n", sa, a, sb, b, fabs(a - b),
                tol);
    _fail(file, line);
  }
}

static const char *const activations[] = {"linear", "relu", "tanh", "sigmoid", "softmax"};

static double act1(const char *act, double z) {
  if (strcmp(act, "relu") == 0)
    return z > 0 ? z : 0;
  if (strcmp(act, "tanh") == 0)
    return tanh(z);
  if (strcmp(act, "sigmoid") == 0)
    return 1.0 / (1.0 + exp(-z));
  return z; /* linear */
}

/* An independent SimpleRNN written as in the NumPy tutorial: column vectors,
 * Wx = kernel^T (U x in), Wh = recurrent_kernel^T (U x U),
 * h_t = act(Wx x_t + Wh h_{t-1} + b), reading x reversed when go_backwards.
 * Writes every step's pre-activation (z, T x U) and state (h, T x U). Element-
 * wise activations only. bias may be NULL. */
static void naive_simple_rnn(int T, int in, int U, const char *act, int go_backwards,
                             const double *kernel, const double *recurrent, const double *bias,
                             const double *x, double *z, double *h) {
  double *Wx = reals((size_t)U * in), *Wh = reals((size_t)U * U), *prev = reals((size_t)U);
  int t, i, u, v;
  for (u = 0; u < U; u++) {
    for (i = 0; i < in; i++)
      Wx[u * in + i] = kernel[i * U + u];
    for (v = 0; v < U; v++)
      Wh[u * U + v] = recurrent[v * U + u];
  }
  for (t = 0; t < T; t++) {
    const double *xt = x + (go_backwards ? T - 1 - t : t) * in;
    for (u = 0; u < U; u++) {
      double a = 0, b = 0;
      for (i = 0; i < in; i++)
        a += Wx[u * in + i] * xt[i];
      for (v = 0; v < U; v++)
        b += Wh[u * U + v] * prev[v];
      z[t * U + u] = a + b + (bias != NULL ? bias[u] : 0.0);
      h[t * U + u] = act1(act, z[t * U + u]);
    }
    for (u = 0; u < U; u++)
      prev[u] = h[t * U + u];
  }
  free(Wx);
  free(Wh);
  free(prev);
}

static double min_abs(const double *a, size_t n) {
  double m = INFINITY;
  size_t i;
  for (i = 0; i < n; i++)
    if (fabs(a[i]) < m)
      m = fabs(a[i]);
  return m;
}

/* ------------------------------------------------------------------ finite differences
 *
 * Central differences with step H. For a loss L of order 1 computed in double,
 * the error of (L(p+H) - L(p-H)) / 2H is the truncation H^2/6 |L'''| ~ 1e-13
 * plus the rounding of the two losses, about c * eps * |L| / H ~ c * 2e-10 with
 * c a small factor for the summation depth: below 1e-9 in absolute terms. The
 * tolerance 1e-6 * max(|g|, |fd|, 1e-2) allows at least 1e-8 absolute error,
 * ten times that, and 1e-6 relative error on any component larger than 1e-2,
 * while a wrong, missing or misplaced term changes a component at order 1
 * relative. The largest observed ratio error/tolerance is printed. relu kinks
 * are kept out of reach: every relu test checks independently that all
 * pre-activations are at least 1e-3 away from 0, a thousand times more than H
 * times any derivative of a pre-activation here. */
#define FD_STEP 1e-6
#define FD_RTOL 1e-6
#define FD_FLOOR 1e-2

static double fd_worst = 0.0; /* largest error / tolerance seen */

static int fd_close(double g, double fd) {
  double scale = fmax(fmax(fabs(g), fabs(fd)), FD_FLOOR);
  double ratio = fabs(g - fd) / (FD_RTOL * scale);
  if (ratio > fd_worst)
    fd_worst = ratio;
  return ratio <= 1.0;
}

static double central_difference(rnnc_ref *m, double *p, double *x, const double *target, int n,
                                 double *var) {
  double save = *var, up = save + FD_STEP, down = save - FD_STEP, lp, lm;
  *var = up;
  lp = rnnc_ref_loss_grad(m, p, x, target, n, NULL, NULL, NULL);
  *var = down;
  lm = rnnc_ref_loss_grad(m, p, x, target, n, NULL, NULL, NULL);
  *var = save;
  return (lp - lm) / (up - down);
}

/* Checks every parameter's and every input element's gradient from loss_grad
 * against central differences; fails the test naming `what` on a mismatch. */
static void check_gradients(const char *what, const char *spec, double *p, double *x,
                            const double *target, int n) {
  rnnc_ref *m = must_new(spec);
  size_t np = rnnc_ref_n_params(m), nx = (size_t)n * rnnc_ref_input_size(m), j;
  double *grad = reals(np), *dx = reals(nx), loss, largest = 0.0;
  int bad = 0;

  loss = rnnc_ref_loss_grad(m, p, x, target, n, grad, dx, NULL);
  if (!isfinite(loss))
    fail_msg("%s: loss %g is not finite", what, loss);
  for (j = 0; j < np; j++) {
    double fd = central_difference(m, p, x, target, n, &p[j]);
    largest = fmax(largest, fabs(grad[j]));
    if (!fd_close(grad[j], fd)) {
      print_message("%s: param %zu: analytic %.12g, finite difference %.12g\n", what, j, grad[j],
                    fd);
      bad++;
    }
  }
  for (j = 0; j < nx; j++) {
    double fd = central_difference(m, p, x, target, n, &x[j]);
    largest = fmax(largest, fabs(dx[j]));
    if (!fd_close(dx[j], fd)) {
      print_message("%s: x[%zu]: analytic %.12g, finite difference %.12g\n", what, j, dx[j], fd);
      bad++;
    }
  }
  if (bad > 0)
    fail_msg("%s: %d gradient mismatches", what, bad);
  /* a gradient that is zero everywhere would check nothing */
  if (largest < 1e-3)
    fail_msg("%s: gradients are all tiny (%g)", what, largest);
  free(grad);
  free(dx);
  rnnc_ref_free(m);
}

/* ------------------------------------------------------------------ 1. forward */

static void test_numpy_tutorial_forward(void **state) {
  enum { T = 10, IN = 4, U = 8, N = 2 };
  const char *spec = "rnnc-spec 1\n"
                     "input 10 4\n"
                     "layer SimpleRNN simple_rnn units=8 activation=tanh use_bias=1 "
                     "return_sequences=1 return_state=0 go_backwards=0\n";
  const char *spec_last = "rnnc-spec 1\n"
                          "input 10 4\n"
                          "layer SimpleRNN simple_rnn units=8 activation=tanh use_bias=1 "
                          "return_sequences=0 return_state=0 go_backwards=0\n";
  rnnc_ref *m = must_new(spec), *m_last = must_new(spec_last);
  double params[IN * U + U * U + U], x[N * T * IN], y[N * T * U], y_last[N * U];
  double z[T * U], h[T * U];
  lcg g = {12345};
  int s, k;
  (void)state;

  assert_int_equal(rnnc_ref_n_params(m), IN * U + U * U + U);
  assert_int_equal(rnnc_ref_input_size(m), T * IN);
  assert_int_equal(rnnc_ref_output_size(m), T * U);
  assert_int_equal(rnnc_ref_output_size(m_last), U);
  fill(&g, params, IN * U + U * U + U, 0.5);
  fill(&g, x, N * T * IN, 1.0);
  assert_int_equal(rnnc_ref_forward(m, params, x, N, y), 0);
  assert_int_equal(rnnc_ref_forward(m_last, params, x, N, y_last), 0);
  for (s = 0; s < N; s++) {
    naive_simple_rnn(T, IN, U, "tanh", 0, params, params + IN * U, params + IN * U + U * U,
                     x + s * T * IN, z, h);
    for (k = 0; k < T * U; k++)
      assert_double_equal(y[s * T * U + k], h[k], 1e-14);
    for (k = 0; k < U; k++)
      assert_double_equal(y_last[s * U + k], h[(T - 1) * U + k], 1e-14);
  }
  rnnc_ref_free(m);
  rnnc_ref_free(m_last);
}

static void test_sizes(void **state) {
  const char *tagger = "rnnc-spec 1\n"
                       "input 5 2\n"
                       "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 "
                       "return_sequences=1 return_state=0 go_backwards=0\n"
                       "layer Dense time_distributed/dense units=4 activation=softmax use_bias=1\n"
                       "loss sparse_categorical_crossentropy\n";
  const char *regressor = "rnnc-spec 1\n"
                          "input 5 2\n"
                          "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=0 "
                          "return_sequences=0 return_state=0 go_backwards=1\n"
                          "layer Dense dense units=2 activation=linear use_bias=1\n"
                          "loss mean_squared_error\n";
  rnnc_ref *m = must_new(tagger);
  (void)state;
  assert_int_equal(rnnc_ref_n_params(m), 3 * (2 + 3 + 1) + 4 * (3 + 1));
  assert_int_equal(rnnc_ref_input_size(m), 10);
  assert_int_equal(rnnc_ref_output_size(m), 20);
  assert_int_equal(rnnc_ref_target_size(m), 5);
  rnnc_ref_free(m);
  m = must_new(regressor);
  assert_int_equal(rnnc_ref_n_params(m), 3 * (2 + 3) + 2 * (3 + 1));
  assert_int_equal(rnnc_ref_output_size(m), 2);
  assert_int_equal(rnnc_ref_target_size(m), 2);
  rnnc_ref_free(m);
}

/* ------------------------------------------------------------------ 2. gradients */

static void test_grad_dense_activations(void **state) {
  enum { IN = 4, U = 3, N = 3, NP = IN * U + U };
  size_t a;
  (void)state;
  for (a = 0; a < sizeof activations / sizeof activations[0]; a++) {
    char spec[256], what[64];
    double p[NP], x[N * IN], t[N * U], z[N * U];
    lcg g = {1000 + a};
    int s, u, i;
    snprintf(spec, sizeof spec,
             "rnnc-spec 1\ninput 4\nlayer Dense dense units=3 activation=%s use_bias=1\n"
             "loss mse\n",
             activations[a]);
    snprintf(what, sizeof what, "Dense %s", activations[a]);
    for (;;) { /* draw until no relu pre-activation is near its kink */
      fill(&g, p, NP, 0.7);
      fill(&g, x, N * IN, 1.0);
      fill(&g, t, N * U, 1.0);
      for (s = 0; s < N; s++)
        for (u = 0; u < U; u++) {
          z[s * U + u] = p[IN * U + u];
          for (i = 0; i < IN; i++)
            z[s * U + u] += x[s * IN + i] * p[i * U + u];
        }
      if (min_abs(z, N * U) >= 1e-3)
        break;
    }
    check_gradients(what, spec, p, x, t, N);
  }
}

/* SimpleRNN(3) with every option combination, then Dense(2, linear), mse. */
static void test_grad_simple_rnn_grid(void **state) {
  enum { T = 4, IN = 3, U = 3, OUT = 2, N = 2 };
  static const char *const rnn_acts[] = {"tanh", "relu", "sigmoid", "linear"};
  int rs, gb, bias, a;
  (void)state;
  for (rs = 0; rs <= 1; rs++)
    for (gb = 0; gb <= 1; gb++)
      for (bias = 0; bias <= 1; bias++)
        for (a = 0; a < 4; a++) {
          char spec[512], what[128];
          size_t n_rnn = IN * U + U * U + (bias ? U : 0);
          size_t n_dense = U * OUT + OUT;
          size_t n_out = (size_t)N * (rs ? T * OUT : OUT);
          double p[IN * U + U * U + U + U * OUT + OUT], x[N * T * IN], t[N * T * OUT];
          double z[T * U], h[T * U], zmin;
          lcg g = {(uint64_t)(1 + rs * 1000 + gb * 100 + bias * 10 + a)};
          int s;
          snprintf(spec, sizeof spec,
                   "rnnc-spec 1\ninput 4 3\n"
                   "layer SimpleRNN simple_rnn units=3 activation=%s use_bias=%d "
                   "return_sequences=%d return_state=0 go_backwards=%d\n"
                   "layer Dense dense units=2 activation=linear use_bias=1\n"
                   "loss mse\n",
                   rnn_acts[a], bias, rs, gb);
          snprintf(what, sizeof what,
                   "SimpleRNN %s use_bias=%d return_sequences=%d go_backwards=%d + Dense",
                   rnn_acts[a], bias, rs, gb);
          do { /* draw until no relu pre-activation is near its kink */
            fill(&g, p, n_rnn + n_dense, 0.6);
            fill(&g, x, N * T * IN, 1.0);
            fill(&g, t, n_out, 1.0);
            zmin = INFINITY;
            for (s = 0; s < N; s++) {
              naive_simple_rnn(T, IN, U, rnn_acts[a], gb, p, p + IN * U,
                               bias ? p + IN * U + U * U : NULL, x + s * T * IN, z, h);
              zmin = fmin(zmin, min_abs(z, T * U));
            }
          } while (strcmp(rnn_acts[a], "relu") == 0 && zmin < 1e-3);
          check_gradients(what, spec, p, x, t, N);
        }
}

/* Two stacked SimpleRNNs (the second reads a sequence) and a softmax
 * SimpleRNN: the recurrent path carrying dx between recurrent layers, and
 * the softmax backward inside a recurrence. */
static void test_grad_stacked_rnn(void **state) {
  const char *stacked = "rnnc-spec 1\ninput 4 2\n"
                        "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 "
                        "return_sequences=1 return_state=0 go_backwards=1\n"
                        "layer SimpleRNN simple_rnn_1 units=2 activation=tanh use_bias=1 "
                        "return_sequences=0 return_state=0 go_backwards=0\n"
                        "layer Dense dense units=1 activation=linear use_bias=1\n"
                        "loss mse\n";
  const char *softmax_rnn = "rnnc-spec 1\ninput 4 2\n"
                            "layer SimpleRNN simple_rnn units=3 activation=softmax use_bias=1 "
                            "return_sequences=1 return_state=0 go_backwards=0\n"
                            "loss mse\n";
  double p[64], x[2 * 4 * 2], t[2 * 4 * 3];
  lcg g = {77};
  (void)state;
  fill(&g, p, 64, 0.8);
  fill(&g, x, 16, 1.0);
  fill(&g, t, 24, 1.0);
  check_gradients("SimpleRNN + SimpleRNN + Dense", stacked, p, x, t, 2);
  check_gradients("SimpleRNN softmax", softmax_rnn, p, x, t, 2);
}

static const char *const tagger_fused = "rnnc-spec 1\ninput 5 2\n"
                                        "layer SimpleRNN simple_rnn units=3 activation=tanh "
                                        "use_bias=1 return_sequences=1 return_state=0 "
                                        "go_backwards=0\n"
                                        "layer Dense time_distributed/dense units=3 "
                                        "activation=softmax use_bias=1\n"
                                        "loss sparse_categorical_crossentropy\n";

static void tagger_data(double *p, double *x, double *labels) {
  lcg g = {4242};
  int k;
  fill(&g, p, 3 * (2 + 3 + 1) + 3 * (3 + 1), 0.9);
  fill(&g, x, 3 * 5 * 2, 1.0);
  for (k = 0; k < 3 * 5; k++)
    labels[k] = (double)(k * 7 % 3);
}

static void test_grad_tagger_fused(void **state) {
  double p[30], x[30], labels[15], y[45], loss, expect = 0.0;
  rnnc_ref *m = must_new(tagger_fused);
  int r;
  (void)state;
  tagger_data(p, x, labels);
  check_gradients("tagger, fused softmax + sparse CCE", tagger_fused, p, x, labels, 3);
  /* the fused loss equals -mean log(p[label]) computed from the probabilities */
  loss = rnnc_ref_loss_grad(m, p, x, labels, 3, NULL, NULL, y);
  for (r = 0; r < 15; r++)
    expect -= log(y[r * 3 + (int)labels[r]]) / 15.0;
  assert_double_equal(loss, expect, 1e-13);
  rnnc_ref_free(m);
}

static void test_grad_tagger_unfused(void **state) {
  const char *spec = "rnnc-spec 1\ninput 5 2\n"
                     "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 "
                     "return_sequences=1 return_state=0 go_backwards=0\n"
                     "layer Dense time_distributed/dense units=3 activation=sigmoid use_bias=1\n"
                     "loss sparse_categorical_crossentropy\n";
  double p[30], x[30], labels[15], y[45], loss, expect;
  rnnc_ref *m = must_new(spec);
  int r;
  (void)state;
  tagger_data(p, x, labels);
  check_gradients("tagger, sigmoid output + sparse CCE", spec, p, x, labels, 3);
  /* unfused: the loss is the probability form applied to y_pred, one row per
   * timestep (its exact formula, clipping and renormalisation, is loss.c's) */
  loss = rnnc_ref_loss_grad(m, p, x, labels, 3, NULL, NULL, y);
  expect = rnnc_loss_sparse_cce_f64(y, labels, 15, 3, NULL);
  for (r = 0; r < 45; r++) /* far from the clip bounds: the loss is smooth */
    assert_true(y[r] > 1e-3 && y[r] < 1 - 1e-3);
  assert_double_equal(loss, expect, 1e-13);
  rnnc_ref_free(m);
}

static void test_grad_report(void **state) {
  (void)state;
  print_message("finite differences: worst error / tolerance %.3g\n", fd_worst);
  assert_true(fd_worst <= 1.0);
}

/* ------------------------------------------------------------------ 3. backward(dy) */

static void test_backward_matches_loss_grad(void **state) {
  const char *spec = "rnnc-spec 1\ninput 4 3\n"
                     "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 "
                     "return_sequences=1 return_state=0 go_backwards=1\n"
                     "layer Dense dense units=2 activation=sigmoid use_bias=1\n"
                     "loss mse\n";
  enum { N = 3, NP = 3 * (3 + 3 + 1) + 2 * (3 + 1), NX = N * 12, NY = N * 8 };
  rnnc_ref *m = must_new(spec);
  double p[NP], x[NX], t[NY], y[NY], dy[NY], g1[NP], g2[NP], dx1[NX], dx2[NX], loss, mse = 0;
  lcg g = {99};
  int k;
  (void)state;
  fill(&g, p, NP, 0.7);
  fill(&g, x, NX, 1.0);
  fill(&g, t, NY, 1.0);
  loss = rnnc_ref_loss_grad(m, p, x, t, N, g1, dx1, y);
  for (k = 0; k < NY; k++) { /* mean over rows of the mean over cols = mean of all */
    mse += (y[k] - t[k]) * (y[k] - t[k]) / NY;
    dy[k] = 2.0 * (y[k] - t[k]) / NY;
  }
  assert_double_equal(loss, mse, 1e-14);
  assert_int_equal(rnnc_ref_backward(m, p, x, dy, N, g2, dx2), 0);
  for (k = 0; k < NP; k++)
    assert_double_equal(g1[k], g2[k], 1e-14 * fmax(1.0, fabs(g1[k])));
  for (k = 0; k < NX; k++)
    assert_double_equal(dx1[k], dx2[k], 1e-14 * fmax(1.0, fabs(dx1[k])));
  /* dx may be NULL */
  assert_int_equal(rnnc_ref_backward(m, p, x, dy, N, g2, NULL), 0);
  for (k = 0; k < NP; k++)
    assert_double_equal(g1[k], g2[k], 1e-14 * fmax(1.0, fabs(g1[k])));
  rnnc_ref_free(m);
}

static void test_loss_absent_is_nan(void **state) {
  const char *spec = "rnnc-spec 1\ninput 3\nlayer Dense dense units=2 activation=tanh use_bias=1\n";
  rnnc_ref *m = must_new(spec);
  double p[8], x[3] = {0.1, -0.2, 0.3}, t[2] = {0, 0}, y[2], y2[2], grad[8];
  lcg g = {5};
  (void)state;
  fill(&g, p, 8, 0.5);
  assert_true(isnan(rnnc_ref_loss_grad(m, p, x, t, 1, grad, NULL, y)));
  assert_int_equal(rnnc_ref_forward(m, p, x, 1, y2), 0);
  assert_double_equal(y[0], y2[0], 0.0);
  assert_double_equal(y[1], y2[1], 0.0);
  rnnc_ref_free(m);
}

/* ------------------------------------------------------------------ 4. go_backwards */

static void test_go_backwards_is_reversed_input(void **state) {
  enum { T = 6, IN = 2, U = 3, N = 2, NP = IN * U + U * U + U };
  int rs;
  (void)state;
  for (rs = 0; rs <= 1; rs++) {
    char back_spec[256], fwd_spec[256];
    const char *fmt = "rnnc-spec 1\ninput 6 2\n"
                      "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 "
                      "return_sequences=%d return_state=0 go_backwards=%d\n"
                      "loss mse\n";
    rnnc_ref *back, *fwd;
    size_t ny = (size_t)N * (rs ? T * U : U), k;
    double p[NP], x[N * T * IN], xr[N * T * IN], yb[N * T * U], yf[N * T * U], t[N * T * U];
    double gb[NP], gf[NP], dxb[N * T * IN], dxf[N * T * IN], lb, lf;
    lcg g = {31 + (uint64_t)rs};
    int s, step, i;
    snprintf(back_spec, sizeof back_spec, fmt, rs, 1);
    snprintf(fwd_spec, sizeof fwd_spec, fmt, rs, 0);
    back = must_new(back_spec);
    fwd = must_new(fwd_spec);
    fill(&g, p, NP, 0.7);
    fill(&g, x, N * T * IN, 1.0);
    fill(&g, t, ny, 1.0);
    for (s = 0; s < N; s++)
      for (step = 0; step < T; step++)
        for (i = 0; i < IN; i++)
          xr[(s * T + step) * IN + i] = x[(s * T + T - 1 - step) * IN + i];
    /* same arithmetic in the same order: bit-identical */
    assert_int_equal(rnnc_ref_forward(back, p, x, N, yb), 0);
    assert_int_equal(rnnc_ref_forward(fwd, p, xr, N, yf), 0);
    for (k = 0; k < ny; k++)
      assert_true(yb[k] == yf[k]);
    lb = rnnc_ref_loss_grad(back, p, x, t, N, gb, dxb, NULL);
    lf = rnnc_ref_loss_grad(fwd, p, xr, t, N, gf, dxf, NULL);
    assert_true(lb == lf);
    for (k = 0; k < NP; k++)
      assert_true(gb[k] == gf[k]);
    for (s = 0; s < N; s++)
      for (step = 0; step < T; step++)
        for (i = 0; i < IN; i++)
          assert_true(dxb[(s * T + step) * IN + i] == dxf[(s * T + T - 1 - step) * IN + i]);
    if (rs) {
      /* output row 0 is h after reading only x[T-1]: not re-reversed */
      double z[T * U], h[T * U];
      naive_simple_rnn(T, IN, U, "tanh", 1, p, p + IN * U, p + IN * U + U * U, x, z, h);
      for (k = 0; k < (size_t)(T * U); k++)
        assert_double_equal(yb[k], h[k], 1e-14);
    }
    rnnc_ref_free(back);
    rnnc_ref_free(fwd);
  }
}

/* ------------------------------------------------------------------ 5. malformed specs */

#define RNN_OPTS "return_sequences=1 return_state=0 go_backwards=0"

static void test_malformed_specs(void **state) {
  static const struct {
    const char *spec;
    const char *message;
  } cases[] = {
      {"", "empty spec"},
      {"\n\n", "empty spec"},
      {"rnnc-spec 2\ninput 3\nlayer Dense d units=1 activation=linear use_bias=1\n",
       "unsupported spec version"},
      {"hello 1\n", "expected the header 'rnnc-spec 1'"},
      {"rnnc-spec 1\ninput 3 4\nlayer LSTM lstm units=2 activation=tanh use_bias=1\n",
       "unknown layer class 'LSTM'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1 dropout=0\n",
       "unknown key 'dropout'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1 go_backwards=0\n",
       "unknown key 'go_backwards'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh\n", "missing key 'use_bias'"},
      {"rnnc-spec 1\ninput 3 4\nlayer SimpleRNN r units=2 activation=tanh use_bias=1 "
       "return_sequences=1 return_state=0\n",
       "missing key 'go_backwards'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 units=3 activation=tanh use_bias=1\n",
       "duplicate key 'units'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=3x activation=tanh use_bias=1\n",
       "bad number '3x' for units"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=0 activation=tanh use_bias=1\n",
       "bad number '0' for units"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=-2 activation=tanh use_bias=1\n",
       "bad number '-2' for units"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units= activation=tanh use_bias=1\n",
       "bad number '' for units"},
      {"rnnc-spec 1\ninput 3.5\nlayer Dense d units=1 activation=tanh use_bias=1\n",
       "bad number '3.5' for an input dimension"},
      {"rnnc-spec 1\ninput 0 4\nlayer Dense d units=1 activation=tanh use_bias=1\n",
       "bad number '0' for an input dimension"},
      {"rnnc-spec 1\ninput 2 3 4\nlayer Dense d units=1 activation=tanh use_bias=1\n",
       "'input' wants 1 or 2 dimensions"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=gelu use_bias=1\n",
       "unknown activation 'gelu'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=yes\n",
       "bad boolean 'yes' for use_bias"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation tanh use_bias=1\n",
       "expected key=value, got 'activation'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense units=2 activation=tanh use_bias=1\n",
       "Dense layer without a name"},
      {"rnnc-spec 1\ninput 8\nlayer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "SimpleRNN needs a rank-2 (timesteps, features) input, got rank 1"},
      {"rnnc-spec 1\ninput 3 4\nlayer SimpleRNN r units=2 activation=tanh use_bias=1 "
       "return_sequences=0 return_state=0 go_backwards=0\n"
       "layer SimpleRNN r2 units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "line 4: layer 'r2': SimpleRNN needs a rank-2"},
      {"rnnc-spec 1\ninput 3 4\nlayer SimpleRNN r units=2 activation=tanh use_bias=1 "
       "return_sequences=1 return_state=1 go_backwards=0\n",
       "return_state=1 is not supported by the reference runtime yet"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1\nloss mae\n",
       "unknown loss 'mae'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1\nloss mse\n"
       "loss mse\n",
       "duplicate 'loss' line"},
      {"rnnc-spec 1\ninput 3\n", "no 'layer' line"},
      {"rnnc-spec 1\nlayer Dense d units=2 activation=tanh use_bias=1\n",
       "'layer' before the 'input' line"},
      {"rnnc-spec 1\ninput 3\ninput 3\n", "duplicate 'input' line"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1\noptimizer adam\n",
       "unknown item 'optimizer'"},
  };
  size_t k;
  (void)state;
  for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char err[256] = "";
    rnnc_ref *m = rnnc_ref_new(cases[k].spec, err, sizeof err);
    if (m != NULL)
      fail_msg("case %zu accepted:\n%s", k, cases[k].spec);
    if (strstr(err, cases[k].message) == NULL)
      fail_msg("case %zu: message \"%s\" lacks \"%s\"", k, err, cases[k].message);
    /* no error buffer: still NULL, no crash */
    assert_null(rnnc_ref_new(cases[k].spec, NULL, 0));
  }
  assert_null(rnnc_ref_new(NULL, NULL, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numpy_tutorial_forward),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_grad_dense_activations),
      cmocka_unit_test(test_grad_simple_rnn_grid),
      cmocka_unit_test(test_grad_stacked_rnn),
      cmocka_unit_test(test_grad_tagger_fused),
      cmocka_unit_test(test_grad_tagger_unfused),
      cmocka_unit_test(test_grad_report),
      cmocka_unit_test(test_backward_matches_loss_grad),
      cmocka_unit_test(test_loss_absent_is_nan),
      cmocka_unit_test(test_go_backwards_is_reversed_input),
      cmocka_unit_test(test_malformed_specs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
