/* Tests of the reference runtime (runtime/reference/ref.c): forward against an
 * independent NumPy-tutorial style SimpleRNN and independent gate-by-gate LSTM
 * and GRU, every gradient against central finite differences (LSTM and GRU
 * option grids, Bidirectional with every merge mode, stacks, several outputs
 * through backward(dy)), backward(dy) against loss_grad, go_backwards against
 * a time-reversed input, Keras facts (return_state's h is the last output row;
 * Bidirectional is a forward layer and a reversed go_backwards layer), caller-
 * provided initial states (initial_state=1: input parts, the first step from
 * h_0 written out by hand, a zero h_0 equal to none, continuing a split
 * sequence, finite differences through h_0 and c_0), and the spec parser's
 * error messages. */
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
  if (strcmp(act, "hard_sigmoid_keras2") == 0) /* tf.keras 2.x */
    return fmin(1.0, fmax(0.0, 0.2 * z + 0.5));
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
 * relative. The largest observed ratio error/tolerance is printed. Kinks (relu
 * at 0, hard_sigmoid_keras2 at +-2.5) are kept out of reach: every relu or
 * hard_sigmoid_keras2 test checks independently that all pre-activations (and an
 * LSTM's c under a relu activation) are at least 1e-3 away from them, a
 * thousand times more than H times any derivative of a pre-activation here. */
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

/* ------------------------------------------------------------------ recurrent helpers */

static double kink_distance(const char *act, double z) {
  if (strcmp(act, "relu") == 0)
    return fabs(z);
  if (strcmp(act, "hard_sigmoid_keras2") == 0)
    return fmin(fabs(z - 2.5), fabs(z + 2.5));
  return INFINITY;
}

/* A recurrent layer as the tests describe it. */
typedef struct {
  const char *cls; /* SimpleRNN, LSTM or GRU */
  int units;
  const char *act, *rec; /* rec: LSTM and GRU */
  int bias, reset_after, rs, rstate, gb;
} rnn_cfg;

static int cfg_gates(const rnn_cfg *c) {
  if (strcmp(c->cls, "LSTM") == 0)
    return 4;
  if (strcmp(c->cls, "GRU") == 0)
    return 3;
  return 1;
}

static size_t cfg_params(const rnn_cfg *c, int in) {
  size_t GU = (size_t)cfg_gates(c) * (size_t)c->units;
  return (size_t)in * GU + (size_t)c->units * GU +
         (c->bias ? (strcmp(c->cls, "GRU") == 0 && c->reset_after ? 2 : 1) * GU : 0);
}

/* Appends the spec line of c, named `name`, to buf. */
static void rnn_line(char *buf, size_t len, const char *name, const rnn_cfg *c) {
  size_t k = strlen(buf);
  k += (size_t)snprintf(buf + k, len - k, "layer %s %s units=%d activation=%s", c->cls, name,
                        c->units, c->act);
  if (strcmp(c->cls, "SimpleRNN") != 0)
    k += (size_t)snprintf(buf + k, len - k, " recurrent_activation=%s", c->rec);
  k += (size_t)snprintf(buf + k, len - k, " use_bias=%d", c->bias);
  if (strcmp(c->cls, "GRU") == 0)
    k += (size_t)snprintf(buf + k, len - k, " reset_after=%d", c->reset_after);
  snprintf(buf + k, len - k, " return_sequences=%d return_state=%d go_backwards=%d\n", c->rs,
           c->rstate, c->gb);
}

static void append(char *buf, size_t len, const char *text) {
  size_t k = strlen(buf);
  snprintf(buf + k, len - k, "%s", text);
}

/* An independent LSTM written from the equations gate by gate, one unit at a
 * time: with W_g, R_g, b_g the columns of gate g (i f c o) of kernel,
 * recurrent_kernel and bias,
 *   i = rec(x W_i + h R_i + b_i), f = rec(...f), g = act(...c), o = rec(...o),
 *   c_t = f c_{t-1} + i g, h_t = o act(c_t).
 * Writes h and c (T x U, processing order). Returns the smallest distance of
 * any pre-activation (and c, under act) to a kink of its activation; adds to
 * *saturated (may be NULL) the hard_sigmoid_keras2 pre-activations outside (-2.5, 2.5). */
static double naive_lstm(int T, int in, int U, const char *act, const char *rec, int go_backwards,
                         const double *kernel, const double *recurrent, const double *bias,
                         const double *x, double *h, double *c, int *saturated) {
  double kink = INFINITY;
  int t, u, i, v, g;
  for (t = 0; t < T; t++) {
    const double *xt = x + (go_backwards ? T - 1 - t : t) * in;
    for (u = 0; u < U; u++) {
      double pre[4], gi, gf, gg, go, c_prev = t > 0 ? c[(t - 1) * U + u] : 0.0;
      for (g = 0; g < 4; g++) {
        pre[g] = bias != NULL ? bias[g * U + u] : 0.0;
        for (i = 0; i < in; i++)
          pre[g] += xt[i] * kernel[i * 4 * U + g * U + u];
        for (v = 0; v < U && t > 0; v++)
          pre[g] += h[(t - 1) * U + v] * recurrent[v * 4 * U + g * U + u];
        kink = fmin(kink, kink_distance(g == 2 ? act : rec, pre[g]));
        if (saturated != NULL && g != 2 && strcmp(rec, "hard_sigmoid_keras2") == 0 &&
            fabs(pre[g]) > 2.5)
          (*saturated)++;
      }
      gi = act1(rec, pre[0]);
      gf = act1(rec, pre[1]);
      gg = act1(act, pre[2]);
      go = act1(rec, pre[3]);
      c[t * U + u] = gf * c_prev + gi * gg;
      h[t * U + u] = go * act1(act, c[t * U + u]); /* read by step t+1 only */
      kink = fmin(kink, kink_distance(act, c[t * U + u]));
    }
  }
  return kink;
}

/* An independent GRU from the equations, gate blocks z r h, one unit at a
 * time. reset_after=1: bias rows b_in = bias[0], b_rec = bias[1];
 *   z = rec(x K_z + b_in_z + h R_z + b_rec_z), r alike,
 *   cand = act(x K_h + b_in_h + r (h R_h + b_rec_h)).
 * reset_after=0: z = rec(x K_z + h R_z + b_z), r alike,
 *   cand = act(x K_h + (r h) R_h + b_h).
 * h_t = z h_{t-1} + (1 - z) cand. Writes h (T x U); returns and counts as
 * naive_lstm. */
static double naive_gru(int T, int in, int U, const char *act, const char *rec, int reset_after,
                        int go_backwards, const double *kernel, const double *recurrent,
                        const double *bias, const double *x, double *h, int *saturated) {
  double *z = reals((size_t)U), *r = reals((size_t)U), *zero = reals((size_t)U), kink = INFINITY;
  const double *b_in = bias, *b_rec = bias != NULL && reset_after ? bias + 3 * U : NULL;
  int t, u, i, v, g;
  for (t = 0; t < T; t++) {
    const double *xt = x + (go_backwards ? T - 1 - t : t) * in;
    const double *hp = t > 0 ? h + (t - 1) * U : zero;
    for (u = 0; u < U; u++) { /* the update and reset gates of every unit first */
      double pre[2];
      for (g = 0; g < 2; g++) {
        pre[g] = (b_in != NULL ? b_in[g * U + u] : 0.0) + (b_rec != NULL ? b_rec[g * U + u] : 0.0);
        for (i = 0; i < in; i++)
          pre[g] += xt[i] * kernel[i * 3 * U + g * U + u];
        for (v = 0; v < U; v++)
          pre[g] += hp[v] * recurrent[v * 3 * U + g * U + u];
        kink = fmin(kink, kink_distance(rec, pre[g]));
        if (saturated != NULL && strcmp(rec, "hard_sigmoid_keras2") == 0 && fabs(pre[g]) > 2.5)
          (*saturated)++;
      }
      z[u] = act1(rec, pre[0]);
      r[u] = act1(rec, pre[1]);
    }
    for (u = 0; u < U; u++) {
      double xh = b_in != NULL ? b_in[2 * U + u] : 0.0, hh = 0.0, cand;
      for (i = 0; i < in; i++)
        xh += xt[i] * kernel[i * 3 * U + 2 * U + u];
      if (reset_after) {
        hh = b_rec != NULL ? b_rec[2 * U + u] : 0.0;
        for (v = 0; v < U; v++)
          hh += hp[v] * recurrent[v * 3 * U + 2 * U + u];
        hh *= r[u];
      } else {
        for (v = 0; v < U; v++)
          hh += r[v] * hp[v] * recurrent[v * 3 * U + 2 * U + u];
      }
      kink = fmin(kink, kink_distance(act, xh + hh));
      cand = act1(act, xh + hh);
      h[t * U + u] = z[u] * hp[u] + (1.0 - z[u]) * cand;
    }
  }
  free(z);
  free(r);
  free(zero);
  return kink;
}

/* The naive layer of c on one sample x (T x in), parameters p in Keras order:
 * h (T x U) and, for LSTM, c (T x U; may be NULL otherwise). Returns as
 * naive_lstm. */
static double naive_rnn(const rnn_cfg *c, int T, int in, const double *p, const double *x,
                        double *h, double *cs, int *saturated) {
  int G = cfg_gates(c), U = c->units;
  const double *recurrent = p + in * G * U;
  const double *bias = c->bias ? recurrent + U * G * U : NULL;
  if (G == 4)
    return naive_lstm(T, in, U, c->act, c->rec, c->gb, p, recurrent, bias, x, h, cs, saturated);
  if (G == 3)
    return naive_gru(T, in, U, c->act, c->rec, c->reset_after, c->gb, p, recurrent, bias, x, h,
                     saturated);
  {
    double *z = reals((size_t)T * U), kink = INFINITY;
    int k;
    naive_simple_rnn(T, in, U, c->act, c->gb, p, recurrent, bias, x, z, h);
    for (k = 0; k < T * U; k++)
      kink = fmin(kink, kink_distance(c->act, z[k]));
    free(z);
    return kink;
  }
}

/* Checks rnnc_ref_backward with a random dy over the whole concatenation of
 * outputs against central differences of f = sum(dy * y), for every parameter
 * and input element. */
static void check_backward_dy(const char *what, const char *spec, double *p, double *x, int n,
                              uint64_t seed) {
  rnnc_ref *m = must_new(spec);
  size_t np = rnnc_ref_n_params(m), nx = (size_t)n * rnnc_ref_input_size(m);
  size_t ny = (size_t)n * rnnc_ref_output_size(m), j, k;
  double *grad = reals(np), *dx = reals(nx), *dy = reals(ny), *y = reals(ny), largest = 0.0;
  lcg g = {seed};
  int bad = 0, side;

  fill(&g, dy, ny, 1.0);
  assert_int_equal(rnnc_ref_backward(m, p, x, dy, n, grad, dx), 0);
  for (j = 0; j < np + nx; j++) {
    double *var = j < np ? &p[j] : &x[j - np], save = *var, f[2], fd, an;
    for (side = 0; side < 2; side++) {
      *var = save + (side == 0 ? FD_STEP : -FD_STEP);
      assert_int_equal(rnnc_ref_forward(m, p, x, n, y), 0);
      f[side] = 0.0;
      for (k = 0; k < ny; k++)
        f[side] += dy[k] * y[k];
    }
    fd = (f[0] - f[1]) / ((save + FD_STEP) - (save - FD_STEP));
    *var = save;
    an = j < np ? grad[j] : dx[j - np];
    largest = fmax(largest, fabs(an));
    if (!fd_close(an, fd)) {
      print_message("%s: %s %zu: analytic %.12g, finite difference %.12g\n", what,
                    j < np ? "param" : "x", j < np ? j : j - np, an, fd);
      bad++;
    }
  }
  if (bad > 0)
    fail_msg("%s: %d gradient mismatches", what, bad);
  if (largest < 1e-3)
    fail_msg("%s: gradients are all tiny (%g)", what, largest);
  free(grad);
  free(dx);
  free(dy);
  free(y);
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

/* ------------------------------------------------------------------ Masking (issue 13) */

/* A padded sample behind Masking gives, bit for bit, what the sample alone
 * gives without padding: the masked steps keep the LSTM's states (padding
 * after the sample, or before it: the states stay zero) and pass no
 * gradient; the masked rows of x get a zero gradient. */
static void test_masking_padded_equals_unpadded(void **state) {
  enum { T = 5, L = 3, IN = 2, U = 3, NP = IN * 4 * U + U * 4 * U + 4 * U + U * 2 + 2 };
  const char *padded_spec = "rnnc-spec 1\ninput 5 2\nlayer Masking masking mask_value=0\n"
                            "layer LSTM lstm units=3 activation=tanh recurrent_activation=sigmoid "
                            "use_bias=1 return_sequences=0 return_state=0 go_backwards=0\n"
                            "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n";
  const char *plain_spec = "rnnc-spec 1\ninput 3 2\n"
                           "layer LSTM lstm units=3 activation=tanh recurrent_activation=sigmoid "
                           "use_bias=1 return_sequences=0 return_state=0 go_backwards=0\n"
                           "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n";
  rnnc_ref *padded = must_new(padded_spec), *plain = must_new(plain_spec);
  double p[NP], x[L * IN], xp[T * IN], t[2], ya[2], yb[2], ga[NP], gb[NP], dxa[L * IN], dxp[T * IN];
  lcg g = {77};
  int pre, k;
  (void)state;
  assert_int_equal((int)rnnc_ref_n_params(padded), NP);
  fill(&g, p, NP, 0.7);
  fill(&g, x, L * IN, 1.0);
  fill(&g, t, 2, 1.0);
  for (pre = 0; pre <= 1; pre++) {
    int off = pre ? T - L : 0;
    double la, lb;
    memset(xp, 0, sizeof xp);
    memcpy(xp + off * IN, x, sizeof x);
    assert_int_equal(rnnc_ref_forward(padded, p, xp, 1, ya), 0);
    assert_int_equal(rnnc_ref_forward(plain, p, x, 1, yb), 0);
    for (k = 0; k < 2; k++)
      assert_true(ya[k] == yb[k]);
    la = rnnc_ref_loss_grad(padded, p, xp, t, 1, ga, dxp, NULL);
    lb = rnnc_ref_loss_grad(plain, p, x, t, 1, gb, dxa, NULL);
    assert_true(la == lb); /* the output has no time axis: no mask on the loss */
    for (k = 0; k < NP; k++)
      assert_true(ga[k] == gb[k]);
    for (k = 0; k < T * IN; k++) {
      int row = k / IN;
      if (row < off || row >= off + L)
        assert_true(dxp[k] == 0.0);
      else
        assert_true(dxp[k] == dxa[k - off * IN]);
    }
  }
  rnnc_ref_free(padded);
  rnnc_ref_free(plain);
}

/* zero_output_for_mask: the masked steps' outputs are zeros (the Dense after
 * them gives its bias); the masked loss is sum(rows * mask) / (valid + 1e-7)
 * (Keras 3 keras/src/losses/loss.py apply_mask); a mask_value other than 0. */
static void test_masking_zero_output_and_loss(void **state) {
  enum { T = 4, IN = 2, U = 2, N = 2, NP = IN * 3 * U + U * 3 * U + 2 * 3 * U + U * 3 + 3 };
  const char *spec =
      "rnnc-spec 1\ninput 4 2\nlayer Masking masking mask_value=0.5\n"
      "layer GRU gru units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 "
      "reset_after=1 return_sequences=1 return_state=0 go_backwards=1 "
      "zero_output_for_mask=1\n"
      "layer Dense dense units=3 activation=linear use_bias=1\nloss mse\n";
  rnnc_ref *m = must_new(spec);
  double p[NP], x[N * T * IN], y[N * T * 3], t[N * T * 3], loss, want = 0.0, valid = 0.0;
  /* masked: sample 0 step 1, sample 1 steps 0 and 3 */
  const int masked[N][T] = {{0, 1, 0, 0}, {1, 0, 0, 1}};
  const double *bias;
  lcg g = {5};
  int s, r, c;
  (void)state;
  assert_int_equal((int)rnnc_ref_n_params(m), NP);
  fill(&g, p, NP, 0.7);
  fill(&g, x, N * T * IN, 1.0);
  fill(&g, t, N * T * 3, 1.0);
  for (s = 0; s < N; s++)
    for (r = 0; r < T; r++)
      if (masked[s][r])
        for (c = 0; c < IN; c++)
          x[(s * T + r) * IN + c] = 0.5;
  x[(0 * T + 2) * IN] = 0.5; /* one feature at the mask value does not mask */
  bias = p + NP - 3;
  assert_int_equal(rnnc_ref_forward(m, p, x, N, y), 0);
  /* go_backwards: output row t is processing step t, which reads input step
   * T-1-t; a masked one gives zeros, and the Dense its bias */
  for (s = 0; s < N; s++)
    for (r = 0; r < T; r++) {
      int hidden = masked[s][T - 1 - r];
      for (c = 0; c < 3; c++)
        if (hidden)
          assert_true(y[(s * T + r) * 3 + c] == bias[c]);
        else
          assert_true(y[(s * T + r) * 3 + c] != bias[c]);
    }
  /* the loss: the mask of the output's rows is the input's, unreversed
   * (Keras's RNN.compute_mask passes the input mask as it is) */
  for (s = 0; s < N; s++)
    for (r = 0; r < T; r++) {
      double row = 0.0;
      for (c = 0; c < 3; c++) {
        double e = y[(s * T + r) * 3 + c] - t[(s * T + r) * 3 + c];
        row += e * e / 3.0;
      }
      if (!masked[s][r]) {
        want += row;
        valid += 1.0;
      }
    }
  want /= valid + 1e-7;
  loss = rnnc_ref_loss_grad(m, p, x, t, N, NULL, NULL, NULL);
  assert_double_equal(loss, want, 1e-15 * want);
  rnnc_ref_free(m);
}

/* ------------------------------------------------------------------ 5. hard_sigmoid_keras2, LSTM,
 * GRU */

static void test_hard_sigmoid(void **state) {
  /* Dense(1, hard_sigmoid_keras2, no bias) with kernel 1: y = clip(0.2 x + 0.5, 0, 1) */
  const char *unit = "rnnc-spec 1\ninput 1\nlayer Dense d units=1 activation=hard_sigmoid_keras2 "
                     "use_bias=0\n";
  const char *spec =
      "rnnc-spec 1\ninput 4\nlayer Dense dense units=3 activation=hard_sigmoid_keras2 "
      "use_bias=1\nloss mse\n";
  enum { NS = 8, IN = 4, U = 3, N = 4, NP = IN * U + U };
  double x[NS] = {-3.0, -2.5, -1.0, 0.0, 0.5, 2.4, 2.5, 3.0};
  double expect[NS] = {0.0, 0.0, 0.3, 0.5, 0.6, 0.98, 1.0, 1.0};
  double slope[NS] = {0.0, 0.0, 0.2, 0.2, 0.2, 0.2, 0.0, 0.0};
  double one = 1.0, y[NS], dy[NS], g1[1], dx[NS], p[NP], xs[N * IN], t[N * U], z[N * U];
  double near = INFINITY;
  rnnc_ref *m = must_new(unit);
  lcg g = {2024};
  int k, s, u, i, inside = 0, outside = 0;
  (void)state;
  assert_int_equal(rnnc_ref_forward(m, &one, x, NS, y), 0);
  for (k = 0; k < NS; k++) {
    assert_double_equal(y[k], expect[k], 1e-15);
    dy[k] = 1.0;
  }
  assert_int_equal(rnnc_ref_backward(m, &one, x, dy, NS, g1, dx), 0);
  for (k = 0; k < NS; k++)
    assert_double_equal(dx[k], slope[k], 0.0);
  assert_double_equal(g1[0], 0.2 * (-1.0 + 0.0 + 0.5 + 2.4), 1e-15);
  rnnc_ref_free(m);

  /* both regimes under finite differences: inputs large enough to saturate */
  do {
    fill(&g, p, NP, 0.7);
    fill(&g, xs, N * IN, 4.0);
    fill(&g, t, N * U, 1.0);
    inside = outside = 0;
    near = INFINITY;
    for (s = 0; s < N; s++)
      for (u = 0; u < U; u++) {
        z[s * U + u] = p[IN * U + u];
        for (i = 0; i < IN; i++)
          z[s * U + u] += xs[s * IN + i] * p[i * U + u];
        near = fmin(near, kink_distance("hard_sigmoid_keras2", z[s * U + u]));
        if (fabs(z[s * U + u]) < 2.5)
          inside++;
        else
          outside++;
      }
  } while (near < 1e-3 || inside < 3 || outside < 3);
  check_gradients("Dense hard_sigmoid_keras2", spec, p, xs, t, N);
}

/* Keras 3's activations (keras/src/activations/activations.py), written here
 * from their definitions, against the reference at points on both sides of
 * each kink, and its derivative against central differences away from kinks. */
static double keras_activation(const char *a, double z) {
  const double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
  double sp = log(1.0 + exp(z)), hs = fmin(fmax(z + 3.0, 0.0), 6.0) / 6.0;
  if (strcmp(a, "hard_sigmoid") == 0)
    return hs;
  if (strcmp(a, "hard_sigmoid_keras2") == 0)
    return fmin(1.0, fmax(0.0, 0.2 * z + 0.5));
  if (strcmp(a, "elu") == 0)
    return z > 0 ? z : exp(z) - 1.0;
  if (strcmp(a, "selu") == 0)
    return scale * (z > 0 ? z : alpha * (exp(z) - 1.0));
  if (strcmp(a, "gelu") == 0)
    return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
  if (strcmp(a, "gelu_approximate") == 0)
    return 0.5 * z * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (z + 0.044715 * z * z * z)));
  if (strcmp(a, "swish") == 0 || strcmp(a, "silu") == 0)
    return z / (1.0 + exp(-z));
  if (strcmp(a, "softplus") == 0)
    return sp;
  if (strcmp(a, "softsign") == 0)
    return z / (1.0 + fabs(z));
  if (strcmp(a, "exponential") == 0)
    return exp(z);
  if (strcmp(a, "leaky_relu") == 0)
    return z > 0 ? z : 0.2 * z;
  if (strcmp(a, "relu6") == 0)
    return fmin(fmax(z, 0.0), 6.0);
  if (strcmp(a, "mish") == 0)
    return z * tanh(sp);
  if (strcmp(a, "hard_silu") == 0 || strcmp(a, "hard_swish") == 0)
    return z * hs;
  return NAN;
}

static void test_issue13_activations(void **state) {
  static const char *const names[] = {"hard_sigmoid", "hard_sigmoid_keras2",
                                      "elu",          "selu",
                                      "gelu",         "gelu_approximate",
                                      "swish",        "silu",
                                      "softplus",     "softsign",
                                      "exponential",  "leaky_relu",
                                      "relu6",        "mish",
                                      "hard_silu",    "hard_swish"};
  /* points on both sides of every kink (0, +-2.5, +-3, 6), none on one */
  enum { NS = 14 };
  double x[NS] = {-7.1, -3.2, -2.9, -2.6, -2.4, -1.3, -0.01, 0.01, 0.7, 2.4, 2.6, 2.9, 3.1, 6.4};
  double one = 1.0, y[NS], dy[NS], g1[1], dx[NS];
  size_t a;
  int k;
  (void)state;
  for (k = 0; k < NS; k++)
    dy[k] = 1.0;
  for (a = 0; a < sizeof names / sizeof *names; a++) {
    char spec[256];
    rnnc_ref *m;
    snprintf(spec, sizeof spec,
             "rnnc-spec 1\ninput 1\nlayer Dense d units=1 activation=%s use_bias=0\n", names[a]);
    m = must_new(spec);
    assert_int_equal(rnnc_ref_forward(m, &one, x, NS, y), 0);
    assert_int_equal(rnnc_ref_backward(m, &one, x, dy, NS, g1, dx), 0);
    for (k = 0; k < NS; k++) {
      double want = keras_activation(names[a], x[k]), h = 1e-6, up, down, xp = x[k] + h,
             xm = x[k] - h;
      if (fabs(y[k] - want) > 1e-14 * fmax(1.0, fabs(want)))
        fail_msg("%s(%g) = %.17g, Keras's definition gives %.17g", names[a], x[k], y[k], want);
      assert_int_equal(rnnc_ref_forward(m, &one, &xp, 1, &up), 0);
      assert_int_equal(rnnc_ref_forward(m, &one, &xm, 1, &down), 0);
      if (fabs(dx[k] - (up - down) / (2 * h)) > 1e-6 * fmax(1.0, fabs(dx[k])))
        fail_msg("%s'(%g) = %.12g, central difference %.12g", names[a], x[k], dx[k],
                 (up - down) / (2 * h));
    }
    rnnc_ref_free(m);
  }
}

/* The activation layers: ReLU (max_value, negative_slope, threshold as Keras's
 * ReLU.static_call), LeakyReLU, ELU and PReLU, against their definitions;
 * then a stack of them under finite differences (PReLU's alpha included). */
static void test_issue13_activation_layers(void **state) {
  enum { NS = 8 };
  double x[NS] = {-3.0, -1.1, -0.3, 0.2, 0.45, 1.7, 2.5, 7.0}, y[NS];
  const char *layers[] = {
      "ReLU r max_value=none negative_slope=0.1 threshold=0",
      "ReLU r max_value=2 negative_slope=0.1 threshold=0.4",
      "ReLU r max_value=6 negative_slope=0 threshold=0",
      "LeakyReLU l negative_slope=0.3",
      "ELU e alpha=0.7",
      "Activation a activation=selu",
  };
  size_t l;
  int k;
  (void)state;
  for (l = 0; l < sizeof layers / sizeof *layers; l++) {
    char spec[256];
    rnnc_ref *m;
    snprintf(spec, sizeof spec, "rnnc-spec 1\ninput 1\nlayer %s\n", layers[l]);
    m = must_new(spec);
    assert_int_equal(rnnc_ref_forward(m, NULL, x, NS, y), 0);
    for (k = 0; k < NS; k++) {
      double z = x[k], want;
      switch (l) {
      case 0:
        want = z > 0 ? z : 0.1 * z;
        break;
      case 1:
        want = fmin(fmax(z > 0.4 ? z : 0.0, 0.0), 2.0) - 0.1 * fmax(0.4 - z, 0.0);
        break;
      case 2:
        want = fmin(fmax(z, 0.0), 6.0);
        break;
      case 3:
        want = z > 0 ? z : 0.3 * z;
        break;
      case 4:
        want = z > 0 ? z : 0.7 * (exp(z) - 1.0);
        break;
      default:
        want = keras_activation("selu", z);
        break;
      }
      if (fabs(y[k] - want) > 1e-15)
        fail_msg("%s at %g: %.17g, Keras gives %.17g", layers[l], z, y[k], want);
    }
    rnnc_ref_free(m);
  }
  {
    /* PReLU on (2, 3) with alpha (1, 3) shared over the steps: alpha x for x < 0 */
    rnnc_ref *m = must_new("rnnc-spec 1\ninput 2 3\nlayer PReLU p alpha_shape=1x3\n");
    double p[3] = {0.1, -0.2, 0.3}, xs[6] = {-1, 2, -3, 4, -5, 6}, ys[6];
    double want[6] = {-0.1, 2, -0.9, 4, 1.0, 6};
    assert_int_equal(rnnc_ref_forward(m, p, xs, 1, ys), 0);
    for (k = 0; k < 6; k++)
      assert_double_equal(ys[k], want[k], 1e-15);
    rnnc_ref_free(m);
  }
  {
    const char *spec =
        "rnnc-spec 1\ninput 3 2\nlayer Dense d units=4 activation=linear use_bias=1\n"
        "layer PReLU p alpha_shape=3x1\nlayer ELU e alpha=0.5\n"
        "layer LeakyReLU l negative_slope=0.2\nlayer Dense o units=2 activation=linear "
        "use_bias=1\nloss mse\n";
    enum { N = 3, NP = 2 * 4 + 4 + 3 + 4 * 2 + 2 };
    double p[NP], xs[N * 6], t[N * 6];
    lcg g = {77};
    fill(&g, p, NP, 0.8);
    fill(&g, xs, N * 6, 1.0);
    fill(&g, t, N * 6, 1.0);
    check_gradients("PReLU, ELU, LeakyReLU stack", spec, p, xs, t, N);
  }
}

/* Embedding (issue 13): row x[t] of the table (input_dim, output_dim);
 * a token that is not a whole number in [0, input_dim) gives a row of NaN;
 * backward adds each step's gradient into its token's row (a token twice,
 * twice; a row no token names, zero) and gives the tokens none. */
static void test_embedding(void **state) {
  double table[6] = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6}; /* 3 rows of 2 */
  double x[8] = {2, 0, 2, 1, 3, 1.5, -1, 0}, y[16];
  int k, c;
  rnnc_ref *m = must_new("rnnc-spec 1\ninput 4\nlayer Embedding e input_dim=3 output_dim=2\n");
  (void)state;
  assert_int_equal((int)rnnc_ref_n_params(m), 6);
  assert_int_equal((int)rnnc_ref_input_size(m), 4);
  assert_int_equal((int)rnnc_ref_output_size(m), 8);
  assert_int_equal(rnnc_ref_forward(m, table, x, 2, y), 0);
  for (k = 0; k < 4; k++)
    for (c = 0; c < 2; c++)
      assert_double_equal(y[k * 2 + c], table[(int)x[k] * 2 + c], 0.0);
  for (k = 4; k < 7; k++) /* 3, 1.5, -1: not a row */
    assert_true(isnan(y[k * 2]) && isnan(y[k * 2 + 1]));
  assert_double_equal(y[14], table[0], 0.0);
  rnnc_ref_free(m);
  {
    /* Embedding -> Dense, mse: the table's gradient against central
     * differences; the tokens get a zero gradient */
    const char *spec = "rnnc-spec 1\ninput 5\nlayer Embedding e input_dim=4 output_dim=3\n"
                       "layer Dense d units=2 activation=tanh use_bias=1\nloss mse\n";
    enum { N = 2, NP = 4 * 3 + 3 * 2 + 2 };
    double p[NP], xs[N * 5] = {1, 3, 1, 0, 3, 3, 3, 1, 0, 1}, t[N * 10], g[NP], dx[N * 5];
    lcg gen = {91};
    size_t j;
    rnnc_ref *r = must_new(spec);
    fill(&gen, p, NP, 0.8);
    fill(&gen, t, N * 10, 1.0);
    assert_true(isfinite(rnnc_ref_loss_grad(r, p, xs, t, N, g, dx, NULL)));
    for (j = 0; j < NP; j++) {
      double fd = central_difference(r, p, xs, t, N, &p[j]);
      if (!fd_close(g[j], fd))
        fail_msg("Embedding -> Dense: param %zu: analytic %.12g, finite difference %.12g", j, g[j],
                 fd);
    }
    for (c = 0; c < 3; c++) /* token 2 appears nowhere: its row's gradient is zero */
      assert_double_equal(g[2 * 3 + c], 0.0, 0.0);
    for (j = 0; j < N * 5; j++)
      assert_double_equal(dx[j], 0.0, 0.0);
    assert_true(fabs(g[1 * 3]) > 1e-3); /* token 1, four times */
    rnnc_ref_free(r);
  }
  {
    /* the spec's errors: tokens must be rank 1 */
    char err[256];
    assert_null(rnnc_ref_new("rnnc-spec 1\ninput 4 2\nlayer Embedding e input_dim=3 output_dim=2\n",
                             err, sizeof err));
    assert_non_null(strstr(err, "Embedding needs rank-1 tokens"));
  }
}

/* LSTM forward against naive_lstm (the equations gate by gate), T = 3, with
 * every output form: the sequence, the last h, and the states [h_T, c_T]. */
static void test_lstm_forward_equations(void **state) {
  enum { T = 3, IN = 2, U = 2, N = 2, NP = 4 * U * (IN + U + 1) };
  static const char *const acts[][2] = {{"tanh", "sigmoid"}, {"relu", "hard_sigmoid_keras2"}};
  int gb, a, s, k;
  (void)state;
  for (a = 0; a < 2; a++)
    for (gb = 0; gb <= 1; gb++) {
      rnn_cfg c = {"LSTM", U, acts[a][0], acts[a][1], 1, 0, 1, 1, gb};
      char seq_spec[512] = "rnnc-spec 1\ninput 3 2\n", last_spec[512] = "rnnc-spec 1\ninput 3 2\n";
      rnnc_ref *seq, *last;
      double p[NP], x[N * T * IN], y[N * (T * U + 2 * U)], y_last[N * U], h[T * U], cs[T * U];
      lcg g = {(uint64_t)(500 + 10 * a + gb)};
      rnn_line(seq_spec, sizeof seq_spec, "lstm", &c);
      c.rs = 0;
      c.rstate = 0;
      rnn_line(last_spec, sizeof last_spec, "lstm", &c);
      seq = must_new(seq_spec);
      last = must_new(last_spec);
      assert_int_equal(rnnc_ref_n_params(seq), NP);
      assert_int_equal(rnnc_ref_output_size(seq), T * U + 2 * U);
      assert_int_equal(rnnc_ref_output_size(last), U);
      fill(&g, p, NP, 0.8);
      fill(&g, x, N * T * IN, 1.0);
      assert_int_equal(rnnc_ref_forward(seq, p, x, N, y), 0);
      assert_int_equal(rnnc_ref_forward(last, p, x, N, y_last), 0);
      for (s = 0; s < N; s++) {
        const double *ys = y + s * (T * U + 2 * U);
        naive_lstm(T, IN, U, acts[a][0], acts[a][1], gb, p, p + IN * 4 * U,
                   p + IN * 4 * U + U * 4 * U, x + s * T * IN, h, cs, NULL);
        for (k = 0; k < T * U; k++)
          assert_double_equal(ys[k], h[k], 1e-14);
        for (k = 0; k < U; k++) {
          assert_double_equal(ys[T * U + k], h[(T - 1) * U + k], 1e-14);      /* h_T */
          assert_double_equal(ys[T * U + U + k], cs[(T - 1) * U + k], 1e-14); /* c_T */
          assert_double_equal(y_last[s * U + k], h[(T - 1) * U + k], 1e-14);
        }
      }
      rnnc_ref_free(seq);
      rnnc_ref_free(last);
    }
}

/* GRU forward against naive_gru, both reset_after, with and without bias. */
static void test_gru_forward_equations(void **state) {
  enum { T = 4, IN = 3, U = 3, N = 2 };
  int ra, bias, gb, s, k;
  (void)state;
  for (ra = 0; ra <= 1; ra++)
    for (bias = 0; bias <= 1; bias++)
      for (gb = 0; gb <= 1; gb++) {
        rnn_cfg c = {"GRU", U, "tanh", ra ? "sigmoid" : "hard_sigmoid_keras2", bias, ra, 1, 1, gb};
        char spec[512] = "rnnc-spec 1\ninput 4 3\n";
        size_t np = cfg_params(&c, IN);
        rnnc_ref *m;
        double p[3 * U * (IN + U + 2)], x[N * T * IN], y[N * (T * U + U)], h[T * U];
        lcg g = {(uint64_t)(700 + 100 * ra + 10 * bias + gb)};
        rnn_line(spec, sizeof spec, "gru", &c);
        m = must_new(spec);
        assert_int_equal(rnnc_ref_n_params(m), 3 * U * (IN + U + (bias ? 1 + ra : 0)));
        assert_int_equal(rnnc_ref_n_params(m), np);
        fill(&g, p, np, 0.8);
        fill(&g, x, N * T * IN, 1.0);
        assert_int_equal(rnnc_ref_forward(m, p, x, N, y), 0);
        for (s = 0; s < N; s++) {
          naive_rnn(&c, T, IN, p, x + s * T * IN, h, NULL, NULL);
          for (k = 0; k < T * U; k++)
            assert_double_equal(y[s * (T * U + U) + k], h[k], 1e-14);
          for (k = 0; k < U; k++)
            assert_double_equal(y[s * (T * U + U) + T * U + k], h[(T - 1) * U + k], 1e-14);
        }
        rnnc_ref_free(m);
      }
}

static int hard_sigmoid_saturated = 0; /* saturated hard_sigmoid_keras2 gates in the grids */

/* A recurrent layer c on a (4, 3) input, then Dense(2, linear), mse: every
 * gradient against finite differences. Redraws until every kink is at least
 * 1e-3 away. */
static void grad_recurrent_then_dense(const rnn_cfg *c, uint64_t seed) {
  enum { T = 4, IN = 3, OUT = 2, N = 2 };
  char spec[1024] = "rnnc-spec 1\ninput 4 3\n", what[256];
  size_t n_rnn = cfg_params(c, IN), np = n_rnn + (size_t)c->units * OUT + OUT;
  size_t n_out = (size_t)N * (c->rs ? T : 1) * OUT;
  double *p = reals(np), *x = reals(N * T * IN), *t = reals(n_out);
  double *h = reals((size_t)T * c->units), *cs = reals((size_t)T * c->units), kink;
  lcg g = {seed};
  int s, sat;
  rnn_line(spec, sizeof spec, "rnn", c);
  append(spec, sizeof spec, "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n");
  snprintf(what, sizeof what,
           "%s activation=%s recurrent_activation=%s use_bias=%d reset_after=%d "
           "return_sequences=%d go_backwards=%d + Dense",
           c->cls, c->act, c->rec, c->bias, c->reset_after, c->rs, c->gb);
  do { /* weights large enough for some hard_sigmoid_keras2 gates to saturate */
    fill(&g, p, np, 1.5);
    fill(&g, x, N * T * IN, 1.0);
    fill(&g, t, n_out, 1.0);
    kink = INFINITY;
    sat = 0;
    for (s = 0; s < N; s++)
      kink = fmin(kink, naive_rnn(c, T, IN, p, x + s * T * IN, h, cs, &sat));
  } while (kink < 1e-3);
  hard_sigmoid_saturated += sat;
  check_gradients(what, spec, p, x, t, N);
  free(p);
  free(x);
  free(t);
  free(h);
  free(cs);
}

static const char *const cell_acts[] = {"tanh", "relu"};
static const char *const cell_recs[] = {"sigmoid", "hard_sigmoid_keras2"};

static void test_grad_lstm_grid(void **state) {
  int rs, gb, bias, a, r;
  (void)state;
  hard_sigmoid_saturated = 0;
  for (rs = 0; rs <= 1; rs++)
    for (gb = 0; gb <= 1; gb++)
      for (bias = 0; bias <= 1; bias++)
        for (a = 0; a < 2; a++)
          for (r = 0; r < 2; r++) {
            rnn_cfg c = {"LSTM", 3, cell_acts[a], cell_recs[r], bias, 0, rs, 0, gb};
            grad_recurrent_then_dense(
                &c, (uint64_t)(10000 + rs * 1000 + gb * 100 + bias * 10 + a * 2 + r));
          }
  print_message("LSTM grid: %d saturated hard_sigmoid_keras2 gates\n", hard_sigmoid_saturated);
  assert_true(hard_sigmoid_saturated > 0); /* the flat part was exercised too */
}

static void test_grad_gru_grid(void **state) {
  int ra, rs, gb, bias, a, r;
  (void)state;
  hard_sigmoid_saturated = 0;
  for (ra = 0; ra <= 1; ra++)
    for (rs = 0; rs <= 1; rs++)
      for (gb = 0; gb <= 1; gb++)
        for (bias = 0; bias <= 1; bias++)
          for (a = 0; a < 2; a++)
            for (r = 0; r < 2; r++) {
              rnn_cfg c = {"GRU", 3, cell_acts[a], cell_recs[r], bias, ra, rs, 0, gb};
              grad_recurrent_then_dense(&c, (uint64_t)(20000 + ra * 10000 + rs * 1000 + gb * 100 +
                                                       bias * 10 + a * 2 + r));
            }
  print_message("GRU grid: %d saturated hard_sigmoid_keras2 gates\n", hard_sigmoid_saturated);
  assert_true(hard_sigmoid_saturated > 0);
}

/* ------------------------------------------------------------------ 6. Bidirectional */

static const char *const cells[] = {"SimpleRNN", "LSTM", "GRU"};
static const char *const merges[] = {"concat", "sum", "mul", "ave"};

/* Bidirectional(cell) with each merging merge_mode, then Dense(2), mse. */
static void test_grad_bidirectional(void **state) {
  enum { T = 4, IN = 3, U = 2, OUT = 2, N = 2 };
  int ci, mi, rs, gb;
  (void)state;
  for (ci = 0; ci < 3; ci++)
    for (mi = 0; mi < 4; mi++)
      for (rs = 0; rs <= 1; rs++)
        for (gb = 0; gb <= 1; gb++) {
          rnn_cfg c = {cells[ci], U, "tanh", "sigmoid", 1, (rs + gb) % 2, rs, 0, gb};
          char spec[1024], what[160], line[64];
          size_t merged = strcmp(merges[mi], "concat") == 0 ? 2 * U : U;
          size_t np = 2 * cfg_params(&c, IN) + merged * OUT + OUT, n_out = N * (rs ? T : 1) * OUT;
          double *p = reals(np), *x = reals(N * T * IN), *t = reals(n_out);
          rnnc_ref *m;
          lcg g = {(uint64_t)(30000 + ci * 1000 + mi * 100 + rs * 10 + gb)};
          snprintf(spec, sizeof spec,
                   "rnnc-spec 1\ninput 4 3\nlayer Bidirectional bidirectional merge_mode=%s\n",
                   merges[mi]);
          rnn_line(spec, sizeof spec, "inner", &c);
          snprintf(line, sizeof line, "layer Dense dense units=%d activation=linear use_bias=1\n",
                   OUT);
          append(spec, sizeof spec, line);
          append(spec, sizeof spec, "loss mse\n");
          m = must_new(spec);
          assert_int_equal(rnnc_ref_n_params(m), np);
          assert_int_equal(rnnc_ref_output_count(m), 1);
          rnnc_ref_free(m);
          snprintf(what, sizeof what,
                   "Bidirectional(%s reset_after=%d return_sequences=%d go_backwards=%d) %s + "
                   "Dense",
                   cells[ci], c.reset_after, rs, gb, merges[mi]);
          fill(&g, p, np, 0.8);
          fill(&g, x, N * T * IN, 1.0);
          fill(&g, t, n_out, 1.0);
          check_gradients(what, spec, p, x, t, N);
          free(p);
          free(x);
          free(t);
        }
}

/* Several outputs: backward(dy) over the whole concatenation, the states'
 * gradients included, against finite differences of sum(dy * y). */
static void test_grad_multiple_outputs(void **state) {
  enum { T = 4, IN = 3, U = 2, N = 2 };
  int ci, rs, gb, k;
  (void)state;
  for (ci = 0; ci < 3; ci++)
    for (rs = 0; rs <= 1; rs++)
      for (gb = 0; gb <= 1; gb++) {
        /* the plain layer with return_state=1, then Bidirectional merge_mode=none
         * without and with states, then the merging modes with states */
        for (k = 0; k < 7; k++) {
          rnn_cfg c = {cells[ci], U, "tanh", "sigmoid", 1, gb, rs, k != 1, gb};
          char spec[1024] = "rnnc-spec 1\ninput 4 3\n", what[160];
          const char *mode = k <= 2 ? "none" : merges[k - 3];
          rnnc_ref *m;
          size_t np;
          double *p, *x;
          lcg g = {(uint64_t)(40000 + ci * 1000 + rs * 100 + gb * 10 + k)};
          if (k > 0) {
            append(spec, sizeof spec, "layer Bidirectional bidirectional merge_mode=");
            append(spec, sizeof spec, mode);
            append(spec, sizeof spec, "\n");
          }
          rnn_line(spec, sizeof spec, "inner", &c);
          m = must_new(spec);
          np = rnnc_ref_n_params(m);
          rnnc_ref_free(m);
          p = reals(np);
          x = reals(N * T * IN);
          fill(&g, p, np, 0.8);
          fill(&g, x, N * T * IN, 1.0);
          if (k == 0)
            snprintf(what, sizeof what, "%s return_state=1 return_sequences=%d go_backwards=%d",
                     cells[ci], rs, gb);
          else
            snprintf(what, sizeof what,
                     "Bidirectional(%s return_state=%d return_sequences=%d go_backwards=%d) %s",
                     cells[ci], c.rstate, rs, gb, mode);
          check_backward_dy(what, spec, p, x, N, g.s);
          free(p);
          free(x);
        }
      }
}

/* mse over one output of a batch: sum of squares over (n rows x cols). */
static double mse_part(const double *y, size_t ystride, size_t yoff, const double *t,
                       size_t tstride, size_t toff, size_t size, int n, double *dy, double scale) {
  double sum = 0.0;
  int s;
  size_t k;
  for (s = 0; s < n; s++)
    for (k = 0; k < size; k++) {
      double d = y[s * ystride + yoff + k] - t[s * tstride + toff + k];
      sum += d * d / ((double)n * (double)size);
      dy[s * ystride + yoff + k] = scale * 2.0 * d / ((double)n * (double)size);
    }
  return sum;
}

/* Losses per output (Keras): one loss applies to every output, 'loss ...
 * output=K weight=W' lines to one each, the loss trained their weighted
 * sum; outputs without a loss get no gradient from it, and the targets are
 * those of the outputs with a loss, one after the other. */
static void test_loss_per_output(void **state) {
  enum {
    T = 4,
    IN = 3,
    U = 2,
    N = 3,
    NP = 4 * U * (IN + U + 1),
    FIRST = T * U,
    ALL = FIRST + 2 * U
  };
  const char *every = "rnnc-spec 1\ninput 4 3\n"
                      "layer LSTM lstm units=2 activation=tanh recurrent_activation=sigmoid "
                      "use_bias=1 return_sequences=1 return_state=1 go_backwards=0\n"
                      "loss mse\n";
  const char *two = "rnnc-spec 1\ninput 4 3\n"
                    "layer LSTM lstm units=2 activation=tanh recurrent_activation=sigmoid "
                    "use_bias=1 return_sequences=1 return_state=1 go_backwards=0\n"
                    "loss mse output=0 weight=2\nloss mse output=2 weight=0.5\n";
  const char *bidi = "rnnc-spec 1\ninput 4 3\n"
                     "layer Bidirectional bidirectional merge_mode=none\n"
                     "layer GRU gru units=2 activation=tanh recurrent_activation=sigmoid "
                     "use_bias=1 reset_after=1 return_sequences=1 return_state=1 "
                     "go_backwards=0\n"
                     "loss sparse_categorical_crossentropy output=1\n";
  rnnc_ref *m = must_new(every);
  double p[NP], x[N * T * IN], t[N * ALL], y[N * ALL], dy[N * ALL], g1[NP], g2[NP];
  double dx1[N * T * IN], dx2[N * T * IN], loss, expect;
  lcg g = {555};
  int k, round;
  (void)state;
  fill(&g, p, NP, 0.8);
  fill(&g, x, N * T * IN, 1.0);
  fill(&g, t, N * ALL, 1.0);
  for (round = 0; round < 2; round++) {
    const char *spec = round == 0 ? every : two;
    size_t tsize = round == 0 ? ALL : FIRST + U;
    if (round == 1) {
      rnnc_ref_free(m);
      m = must_new(spec);
    }
    assert_int_equal(rnnc_ref_output_size(m), ALL);
    assert_int_equal(rnnc_ref_target_size(m), tsize);
    check_gradients(round == 0 ? "LSTM return_state=1, mse on every output"
                               : "LSTM return_state=1, weighted mse on outputs 0 and 2",
                    spec, p, x, t, N);
    loss = rnnc_ref_loss_grad(m, p, x, t, N, g1, dx1, y);
    memset(dy, 0, sizeof dy);
    if (round == 0)
      expect = mse_part(y, ALL, 0, t, ALL, 0, FIRST, N, dy, 1.0) +
               mse_part(y, ALL, FIRST, t, ALL, FIRST, U, N, dy, 1.0) +
               mse_part(y, ALL, FIRST + U, t, ALL, FIRST + U, U, N, dy, 1.0);
    else /* output 1 (h) has no loss: zero gradient */
      expect = 2.0 * mse_part(y, ALL, 0, t, FIRST + U, 0, FIRST, N, dy, 2.0) +
               0.5 * mse_part(y, ALL, FIRST + U, t, FIRST + U, FIRST, U, N, dy, 0.5);
    assert_double_equal(loss, expect, 1e-14);
    assert_int_equal(rnnc_ref_backward(m, p, x, dy, N, g2, dx2), 0);
    for (k = 0; k < NP; k++)
      assert_double_equal(g1[k], g2[k], 1e-14 * fmax(1.0, fabs(g1[k])));
    for (k = 0; k < N * T * IN; k++)
      assert_double_equal(dx1[k], dx2[k], 1e-14 * fmax(1.0, fabs(dx1[k])));
  }
  rnnc_ref_free(m);
  /* sparse targets: one label per timestep of the loss's output */
  m = must_new(bidi);
  assert_int_equal(rnnc_ref_output_count(m), 4);
  assert_int_equal(rnnc_ref_target_size(m), T);
  rnnc_ref_free(m);
}

/* ------------------------------------------------------------------ 7. stacks */

static void test_grad_stacks(void **state) {
  const char *lstm2 = "rnnc-spec 1\ninput 4 3\n"
                      "layer LSTM lstm units=3 activation=tanh recurrent_activation=sigmoid "
                      "use_bias=1 return_sequences=1 return_state=0 go_backwards=0\n"
                      "layer LSTM lstm_1 units=2 activation=tanh recurrent_activation=sigmoid "
                      "use_bias=1 return_sequences=0 return_state=0 go_backwards=0\n"
                      "layer Dense dense units=2 activation=linear use_bias=1\n"
                      "loss mse\n";
  const char *gru2 = "rnnc-spec 1\ninput 4 3\n"
                     "layer GRU gru units=3 activation=tanh recurrent_activation=sigmoid "
                     "use_bias=1 reset_after=0 return_sequences=1 return_state=0 go_backwards=0\n"
                     "layer GRU gru_1 units=2 activation=tanh recurrent_activation=sigmoid "
                     "use_bias=1 reset_after=0 return_sequences=0 return_state=0 go_backwards=1\n"
                     "layer Dense dense units=2 activation=linear use_bias=1\n"
                     "loss mse\n";
  char bidi4[2048] = "rnnc-spec 1\ninput 4 3\n";
  static const struct {
    const char *what;
    size_t n_params, n_target;
  } cases[] = {
      {"LSTM(return_sequences) + LSTM + Dense", 4 * 3 * (3 + 3 + 1) + 4 * 2 * (3 + 2 + 1) + 2 * 3,
       2},
      {"GRU(reset_after=0) x2 + Dense", 3 * 3 * (3 + 3 + 1) + 3 * 2 * (3 + 2 + 1) + 2 * 3, 2},
      {"4 x Bidirectional(SimpleRNN(return_sequences)) + Dense",
       2 * 2 * (3 + 2 + 1) + 3 * 2 * 2 * (4 + 2 + 1) + 2 * (4 + 1), 4 * 2},
  };
  const char *specs[3];
  int k, l;
  (void)state;
  for (l = 0; l < 4; l++) {
    rnn_cfg c = {"SimpleRNN", 2, "tanh", NULL, 1, 0, 1, 0, l == 2};
    char name[32], line[96];
    if (l == 0) {
      snprintf(name, sizeof name, "simple_rnn");
      snprintf(line, sizeof line, "layer Bidirectional bidirectional merge_mode=concat\n");
    } else {
      snprintf(name, sizeof name, "simple_rnn_%d", l);
      snprintf(line, sizeof line, "layer Bidirectional bidirectional_%d merge_mode=concat\n", l);
    }
    append(bidi4, sizeof bidi4, line);
    rnn_line(bidi4, sizeof bidi4, name, &c);
  }
  append(bidi4, sizeof bidi4,
         "layer Dense time_distributed/dense units=2 activation=linear use_bias=1\nloss mse\n");
  specs[0] = lstm2;
  specs[1] = gru2;
  specs[2] = bidi4;
  for (k = 0; k < 3; k++) {
    rnnc_ref *m = must_new(specs[k]);
    size_t np = rnnc_ref_n_params(m);
    double *p = reals(np), *x = reals(2 * 4 * 3), *t = reals(2 * cases[k].n_target);
    lcg g = {(uint64_t)(600 + k)};
    assert_int_equal(np, cases[k].n_params);
    assert_int_equal(rnnc_ref_target_size(m), cases[k].n_target);
    rnnc_ref_free(m);
    fill(&g, p, np, 0.8);
    fill(&g, x, 2 * 4 * 3, 1.0);
    fill(&g, t, 2 * cases[k].n_target, 1.0);
    check_gradients(cases[k].what, specs[k], p, x, t, 2);
    free(p);
    free(x);
    free(t);
  }
}

/* ------------------------------------------------------------------ 8. Keras facts */

/* return_state's h is the last row of the return_sequences output (and the
 * return_sequences=0 output); LSTM's c_T is the naive c_T. */
static void test_return_state_is_last_step(void **state) {
  enum { T = 5, IN = 2, U = 3, N = 2 };
  int ci, gb, s, k;
  (void)state;
  for (ci = 0; ci < 3; ci++)
    for (gb = 0; gb <= 1; gb++) {
      rnn_cfg c = {cells[ci], U, "tanh", "sigmoid", 1, 1, 1, 1, gb};
      char seq_spec[512] = "rnnc-spec 1\ninput 5 2\n", last_spec[512] = "rnnc-spec 1\ninput 5 2\n";
      int lstm = ci == 1;
      size_t n_states = lstm ? 2 : 1, seq_size = T * U + n_states * U, last_size = U + n_states * U;
      size_t np = cfg_params(&c, IN), off;
      rnnc_ref *seq, *last;
      double *p = reals(np), x[N * T * IN], *ys = reals(N * seq_size), *yl = reals(N * last_size);
      double h[T * U], cs[T * U];
      lcg g = {(uint64_t)(800 + ci * 10 + gb)};
      rnn_line(seq_spec, sizeof seq_spec, "rnn", &c);
      c.rs = 0;
      rnn_line(last_spec, sizeof last_spec, "rnn", &c);
      seq = must_new(seq_spec);
      last = must_new(last_spec);
      assert_int_equal(rnnc_ref_output_count(seq), 1 + n_states);
      assert_int_equal(rnnc_ref_output_part(seq, 0, &off), T * U);
      assert_int_equal(off, 0);
      assert_int_equal(rnnc_ref_output_part(seq, 1, &off), U);
      assert_int_equal(off, T * U);
      assert_int_equal(rnnc_ref_output_size(last), last_size);
      fill(&g, p, np, 0.8);
      fill(&g, x, N * T * IN, 1.0);
      assert_int_equal(rnnc_ref_forward(seq, p, x, N, ys), 0);
      assert_int_equal(rnnc_ref_forward(last, p, x, N, yl), 0);
      for (s = 0; s < N; s++) {
        const double *a = ys + s * seq_size, *b = yl + s * last_size;
        naive_rnn(&c, T, IN, p, x + s * T * IN, h, cs, NULL);
        for (k = 0; k < U; k++) {
          assert_true(a[T * U + k] == a[(T - 1) * U + k]); /* h_T: the last row */
          assert_true(b[U + k] == b[k]);
          assert_true(b[k] == a[(T - 1) * U + k]);
          assert_double_equal(a[T * U + k], h[(T - 1) * U + k], 1e-14);
          if (lstm) {
            assert_double_equal(a[T * U + U + k], cs[(T - 1) * U + k], 1e-14);
            assert_true(b[2 * U + k] == a[T * U + U + k]);
          }
        }
      }
      free(p);
      free(ys);
      free(yl);
      rnnc_ref_free(seq);
      rnnc_ref_free(last);
    }
}

/* Bidirectional against two plain layers: the forward half is the wrapped
 * layer with the forward weights; the backward half at step t is a layer with
 * go_backwards flipped and the backward weights, at its step T-1-t (its last
 * output without return_sequences). Every merge mode, and the states. */
static void test_bidirectional_is_two_layers(void **state) {
  enum { T = 5, IN = 2, U = 3, N = 2 };
  static const char *const modes[] = {"concat", "sum", "mul", "ave", "none"};
  int ci, gb, rs, mi, s, t, u, k;
  (void)state;
  for (ci = 0; ci < 3; ci++)
    for (gb = 0; gb <= 1; gb++)
      for (rs = 0; rs <= 1; rs++)
        for (mi = 0; mi < 5; mi++) {
          rnn_cfg c = {cells[ci], U, "tanh", "sigmoid", 1, rs, rs, 1, gb};
          char fwd_spec[512] = "rnnc-spec 1\ninput 5 2\n",
               bwd_spec[512] = "rnnc-spec 1\ninput 5 2\n";
          char bi_spec[512];
          size_t n_states = ci == 1 ? 2 : 1, steps = rs ? T : 1, one = cfg_params(&c, IN);
          size_t plain_size = steps * U + n_states * U, bi_size, first, off;
          rnnc_ref *fwd, *bwd, *bi;
          double *p = reals(2 * one), x[N * T * IN], *yf = reals(N * plain_size);
          double *yb = reals(N * plain_size), *y;
          lcg g = {(uint64_t)(900 + ci * 100 + gb * 10 + rs)};
          rnn_line(fwd_spec, sizeof fwd_spec, "rnn", &c);
          c.gb = !gb;
          rnn_line(bwd_spec, sizeof bwd_spec, "rnn", &c);
          c.gb = gb;
          snprintf(bi_spec, sizeof bi_spec,
                   "rnnc-spec 1\ninput 5 2\nlayer Bidirectional bidirectional merge_mode=%s\n",
                   modes[mi]);
          rnn_line(bi_spec, sizeof bi_spec, "rnn", &c);
          fwd = must_new(fwd_spec);
          bwd = must_new(bwd_spec);
          bi = must_new(bi_spec);
          assert_int_equal(rnnc_ref_n_params(bi), 2 * one);
          first = (mi == 0 ? 2 * U : U) * steps;
          bi_size = first * (mi == 4 ? 2 : 1) + 2 * n_states * U;
          assert_int_equal(rnnc_ref_output_size(bi), bi_size);
          assert_int_equal(rnnc_ref_output_count(bi), (mi == 4 ? 2 : 1) + 2 * n_states);
          assert_int_equal(rnnc_ref_output_part(bi, 0, &off), first);
          y = reals(N * bi_size);
          fill(&g, p, 2 * one, 0.8);
          fill(&g, x, N * T * IN, 1.0);
          assert_int_equal(rnnc_ref_forward(fwd, p, x, N, yf), 0);
          assert_int_equal(rnnc_ref_forward(bwd, p + one, x, N, yb), 0);
          assert_int_equal(rnnc_ref_forward(bi, p, x, N, y), 0);
          for (s = 0; s < N; s++) {
            const double *ys = y + s * bi_size, *f = yf + s * plain_size, *b = yb + s * plain_size;
            size_t st;
            for (t = 0; t < (int)steps; t++)
              for (u = 0; u < U; u++) {
                double a = f[t * U + u], r = b[(rs ? T - 1 - t : 0) * U + u];
                switch (mi) {
                case 0:
                  assert_true(ys[t * 2 * U + u] == a);
                  assert_true(ys[t * 2 * U + U + u] == r);
                  break;
                case 1:
                  assert_double_equal(ys[t * U + u], a + r, 1e-15);
                  break;
                case 2:
                  assert_double_equal(ys[t * U + u], a * r, 1e-15);
                  break;
                case 3:
                  assert_double_equal(ys[t * U + u], (a + r) / 2, 1e-15);
                  break;
                default:
                  assert_true(ys[t * U + u] == a);
                  assert_true(ys[first + t * U + u] == r);
                  break;
                }
              }
            /* states: forward's, then backward's, as the plain layers' */
            st = first * (mi == 4 ? 2 : 1);
            for (k = 0; k < (int)(n_states * U); k++) {
              assert_true(ys[st + k] == f[steps * U + k]);
              assert_true(ys[st + n_states * U + k] == b[steps * U + k]);
            }
          }
          free(p);
          free(yf);
          free(yb);
          free(y);
          rnnc_ref_free(fwd);
          rnnc_ref_free(bwd);
          rnnc_ref_free(bi);
        }
}

static void test_output_parts(void **state) {
  const char *bi =
      "rnnc-spec 1\ninput 4 2\n"
      "layer Bidirectional bidirectional merge_mode=none\n"
      "layer LSTM lstm units=3 activation=tanh recurrent_activation=hard_sigmoid_keras2 "
      "use_bias=1 return_sequences=1 return_state=1 go_backwards=0\n"
      "loss mse\n";
  const char *dense = "rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1\n";
  static const size_t parts[6] = {12, 12, 3, 3, 3, 3};
  rnnc_ref *m = must_new(bi);
  size_t i, off, expect_off = 0;
  (void)state;
  assert_int_equal(rnnc_ref_n_params(m), 2 * 4 * 3 * (2 + 3 + 1));
  assert_int_equal(rnnc_ref_output_count(m), 6);
  for (i = 0; i < 6; i++) {
    assert_int_equal(rnnc_ref_output_part(m, i, &off), parts[i]);
    assert_int_equal(off, expect_off);
    expect_off += parts[i];
  }
  assert_int_equal(rnnc_ref_output_size(m), 36);
  /* one loss applies to every output (Keras): the targets of all six */
  assert_int_equal(rnnc_ref_target_size(m), 36);
  assert_int_equal(rnnc_ref_output_part(m, 6, &off), 0);
  assert_int_equal(off, 36);
  assert_int_equal(rnnc_ref_output_part(m, 1, NULL), 12);
  rnnc_ref_free(m);
  m = must_new(dense);
  assert_int_equal(rnnc_ref_output_count(m), 1);
  assert_int_equal(rnnc_ref_output_part(m, 0, &off), 2);
  assert_int_equal(off, 0);
  rnnc_ref_free(m);
}

#define RNN_OPTS "return_sequences=1 return_state=0 go_backwards=0"

/* ------------------------------------------------------------------ 9. initial states */

/* Appends the spec line of c with initial_state=1. */
static void rnn_line_init(char *buf, size_t len, const char *name, const rnn_cfg *c) {
  size_t k;
  rnn_line(buf, len, name, c);
  k = strlen(buf);
  buf[k - 1] = '\0'; /* the newline */
  append(buf, len, " initial_state=1\n");
}

/* Initial states per sample of c: h_0 (U), and c_0 for an LSTM. */
static size_t cfg_state_size(const rnn_cfg *c) {
  return (size_t)(cfg_gates(c) == 4 ? 2 : 1) * (size_t)c->units;
}

/* The cells with initial states under test: SimpleRNN, LSTM, GRU with
 * reset_after 0 and 1 (the index picks the class and reset_after). */
static const char *const init_cells[] = {"SimpleRNN", "LSTM", "GRU", "GRU"};
static const int init_reset_after[] = {0, 0, 0, 1};
static const char *const init_names[] = {"SimpleRNN", "LSTM", "GRU(reset_after=0)",
                                         "GRU(reset_after=1)"};

static void test_initial_state_parts(void **state) {
  const char *plain = "rnnc-spec 1\ninput 4 3\n"
                      "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS "\n";
  const char *zero =
      "rnnc-spec 1\ninput 4 3\n"
      "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS " initial_state=0\n";
  /* initial_state=0 is accepted inside Bidirectional (the default) */
  const char *bidi =
      "rnnc-spec 1\ninput 4 3\nlayer Bidirectional b merge_mode=concat\n"
      "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS " initial_state=0\n";
  const char *stack =
      "rnnc-spec 1\ninput 4 3\n"
      "layer SimpleRNN simple_rnn units=2 activation=tanh use_bias=1 return_sequences=1 "
      "return_state=0 go_backwards=0 initial_state=1\n"
      "layer LSTM lstm initial_state=1 units=3 activation=tanh recurrent_activation=sigmoid "
      "use_bias=1 return_sequences=1 return_state=0 go_backwards=1\n"
      "layer GRU gru units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 "
      "reset_after=1 return_sequences=0 return_state=0 go_backwards=0\n"
      "layer Dense dense units=1 activation=linear use_bias=1\nloss mse\n";
  static const size_t parts[4] = {12, 2, 3, 3}, offs[4] = {0, 12, 14, 17};
  rnnc_ref *m;
  size_t i, off, np;
  (void)state;
  m = must_new(plain);
  np = rnnc_ref_n_params(m);
  assert_int_equal(rnnc_ref_input_size(m), 12);
  assert_int_equal(rnnc_ref_input_count(m), 1);
  assert_int_equal(rnnc_ref_input_part(m, 0, &off), 12);
  assert_int_equal(off, 0);
  assert_int_equal(rnnc_ref_input_part(m, 1, &off), 0);
  assert_int_equal(off, 12);
  assert_int_equal(rnnc_ref_input_part(m, 0, NULL), 12);
  rnnc_ref_free(m);
  m = must_new(zero);
  assert_int_equal(rnnc_ref_n_params(m), np);
  assert_int_equal(rnnc_ref_input_size(m), 12);
  assert_int_equal(rnnc_ref_input_count(m), 1);
  rnnc_ref_free(m);
  m = must_new(bidi);
  assert_int_equal(rnnc_ref_n_params(m), 2 * np);
  assert_int_equal(rnnc_ref_input_size(m), 12);
  assert_int_equal(rnnc_ref_input_count(m), 1);
  rnnc_ref_free(m);
  /* main input 4 x 3, then simple_rnn's h_0, lstm's h_0 and c_0; the GRU has none */
  m = must_new(stack);
  assert_int_equal(rnnc_ref_input_size(m), 20);
  assert_int_equal(rnnc_ref_input_count(m), 4);
  for (i = 0; i < 4; i++) {
    assert_int_equal(rnnc_ref_input_part(m, i, &off), parts[i]);
    assert_int_equal(off, offs[i]);
  }
  assert_int_equal(rnnc_ref_input_part(m, 4, &off), 0);
  assert_int_equal(off, 20);
  assert_int_equal(rnnc_ref_input_part(m, 99, NULL), 0);
  assert_int_equal(rnnc_ref_n_params(m),
                   2 * (3 + 2 + 1) + 4 * 3 * (2 + 3 + 1) + 3 * 2 * (3 + 2 + 2) + (2 + 1));
  assert_int_equal(rnnc_ref_output_size(m), 1);
  rnnc_ref_free(m);
}

static double sigmoid1(double z) {
  return 1.0 / (1.0 + exp(-z));
}

/* One step of cell ci (tanh, sigmoid) from h0 (and c0) on the input row xt,
 * written out from the Keras equations: h1 (and c1, LSTM). p: kernel,
 * recurrent_kernel, bias (with bias). */
static void one_step(int ci, int in, int U, const double *p, const double *xt, const double *h0,
                     const double *c0, double *h1, double *c1) {
  int G = ci == 0 ? 1 : ci == 1 ? 4 : 3, GU = G * U, u, i, v, g;
  const double *K = p, *R = p + in * GU, *b = R + U * GU;
  for (u = 0; u < U; u++) {
    double xk[4], hr[4];
    for (g = 0; g < G; g++) { /* x @ K and h0 @ R, column g * U + u */
      xk[g] = 0.0;
      hr[g] = 0.0;
      for (i = 0; i < in; i++)
        xk[g] += xt[i] * K[i * GU + g * U + u];
      for (v = 0; v < U; v++)
        hr[g] += h0[v] * R[v * GU + g * U + u];
    }
    if (ci == 0) {
      h1[u] = tanh(xk[0] + hr[0] + b[u]);
    } else if (ci == 1) {
      double ig = sigmoid1(xk[0] + hr[0] + b[u]), fg = sigmoid1(xk[1] + hr[1] + b[U + u]);
      double gg = tanh(xk[2] + hr[2] + b[2 * U + u]), og = sigmoid1(xk[3] + hr[3] + b[3 * U + u]);
      c1[u] = fg * c0[u] + ig * gg;
      h1[u] = og * tanh(c1[u]);
    } else if (ci == 3) { /* reset_after=1: bias rows b_in = b, b_rec = b + 3U */
      double z = sigmoid1(xk[0] + b[u] + hr[0] + b[3 * U + u]);
      double r = sigmoid1(xk[1] + b[U + u] + hr[1] + b[4 * U + u]);
      double cand = tanh(xk[2] + b[2 * U + u] + r * (hr[2] + b[5 * U + u]));
      h1[u] = z * h0[u] + (1.0 - z) * cand;
    } else { /* reset_after=0: cand = act(x K_h + (r h0) R_h + b_h), every r first */
      double z = sigmoid1(xk[0] + hr[0] + b[u]), rh = 0.0, cand;
      for (v = 0; v < U; v++) {
        double rv = 0.0;
        for (i = 0; i < in; i++)
          rv += xt[i] * K[i * GU + U + v];
        for (i = 0; i < U; i++)
          rv += h0[i] * R[i * GU + U + v];
        rh += sigmoid1(rv + b[U + v]) * h0[v] * R[v * GU + 2 * U + u];
      }
      cand = tanh(xk[2] + rh + b[2 * U + u]);
      h1[u] = z * h0[u] + (1.0 - z) * cand;
    }
  }
}

/* With initial_state=1 the first processed step reads the caller's h_0 (and
 * c_0): T = 1 against one step written out (return_state=1: h_1, c_1), and
 * with go_backwards=1 over T = 3 the first output row is the step from h_0 on
 * the last input step. */
static void test_initial_state_first_step(void **state) {
  enum { IN = 2, U = 3, N = 2 };
  int ci, T, s, k;
  (void)state;
  for (ci = 0; ci < 4; ci++)
    for (T = 1; T <= 3; T += 2) {
      int gb = T == 3;
      rnn_cfg c = {init_cells[ci], U, "tanh", "sigmoid", 1, init_reset_after[ci], 1, 1, gb};
      char spec[512], what[96];
      size_t np = cfg_params(&c, IN), ns = cfg_state_size(&c), nx = (size_t)T * IN + ns;
      size_t ny = (size_t)T * U + ns;
      rnnc_ref *m;
      double *p = reals(np), *x = reals(N * nx), *y = reals(N * ny), h1[U], c1[U];
      lcg g = {(uint64_t)(50000 + ci * 10 + T)};
      snprintf(spec, sizeof spec, "rnnc-spec 1\ninput %d %d\n", T, IN);
      rnn_line_init(spec, sizeof spec, "rnn", &c);
      snprintf(what, sizeof what, "%s T=%d go_backwards=%d", init_names[ci], T, gb);
      m = must_new(spec);
      assert_int_equal(rnnc_ref_input_size(m), nx);
      assert_int_equal(rnnc_ref_output_size(m), ny);
      fill(&g, p, np, 0.8);
      fill(&g, x, N * nx, 1.0);
      assert_int_equal(rnnc_ref_forward(m, p, x, N, y), 0);
      for (s = 0; s < N; s++) {
        const double *xs = x + s * nx, *h0 = xs + T * IN, *ys = y + s * ny;
        /* the first processed step reads input step T-1 when go_backwards */
        one_step(ci, IN, U, p, xs + (gb ? T - 1 : 0) * IN, h0, h0 + U, h1, c1);
        for (k = 0; k < U; k++) {
          if (!(fabs(ys[k] - h1[k]) <= 1e-14))
            fail_msg("%s: sample %d: h_1[%d] = %.17g, by hand %.17g", what, s, k, ys[k], h1[k]);
          if (T == 1) { /* the states [h_T (, c_T)] are h_1 (, c_1) */
            assert_true(ys[T * U + k] == ys[k]);
            if (ci == 1)
              assert_double_equal(ys[T * U + U + k], c1[k], 1e-14);
          }
        }
        /* h_0 matters: a zero h_0 gives another h_1 */
        if (T == 1) {
          double zero[2 * U] = {0};
          one_step(ci, IN, U, p, xs, zero, zero + U, h1, c1);
          assert_true(fabs(ys[0] - h1[0]) + fabs(ys[1] - h1[1]) + fabs(ys[2] - h1[2]) > 1e-3);
        }
      }
      free(p);
      free(x);
      free(y);
      rnnc_ref_free(m);
    }
}

/* A zero initial state is no initial state: the same outputs, loss and
 * parameter gradient bit for bit, and the same gradient for the main input,
 * as initial_state=0 (and as the key absent), alone and in a stack. */
static void test_initial_state_zero_is_default(void **state) {
  enum { T = 4, IN = 3, U = 2, N = 3 };
  int ci, rs, gb, stacked;
  (void)state;
  for (ci = 0; ci < 4; ci++)
    for (rs = 0; rs <= 1; rs++)
      for (gb = 0; gb <= 1; gb++)
        for (stacked = 0; stacked <= 1; stacked++) {
          rnn_cfg c = {init_cells[ci], U, "tanh", "sigmoid", 1, init_reset_after[ci], rs, 0, gb};
          rnn_cfg first = {"SimpleRNN", 3, "tanh", NULL, 1, 0, 1, 0, !gb};
          char with[1024] = "rnnc-spec 1\ninput 4 3\n", without[1024], explicit0[1024];
          const char *tail = "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n";
          rnnc_ref *a, *b, *z;
          size_t np, nxa, nxb, ny, k;
          double *p, *xa, *xb, *ya, *yb, *t, *ga, *gbuf, *dxa, *dxb, la, lb;
          lcg g = {(uint64_t)(51000 + ci * 100 + rs * 10 + gb * 2 + stacked)};
          int s;
          if (stacked)
            rnn_line(with, sizeof with, "simple_rnn", &first);
          memcpy(without, with, sizeof with);
          rnn_line_init(with, sizeof with, "rnn", &c);
          rnn_line(without, sizeof without, "rnn", &c);
          memcpy(explicit0, without, sizeof without);
          explicit0[strlen(explicit0) - 1] = '\0';
          append(explicit0, sizeof explicit0, " initial_state=0\n");
          append(with, sizeof with, tail);
          append(without, sizeof without, tail);
          append(explicit0, sizeof explicit0, tail);
          a = must_new(without);
          b = must_new(with);
          z = must_new(explicit0);
          np = rnnc_ref_n_params(a);
          nxa = rnnc_ref_input_size(a);
          nxb = rnnc_ref_input_size(b);
          ny = rnnc_ref_output_size(a);
          assert_int_equal(rnnc_ref_n_params(b), np);
          assert_int_equal(rnnc_ref_n_params(z), np);
          assert_int_equal(rnnc_ref_input_size(z), nxa);
          assert_int_equal(nxa, T * IN);
          assert_int_equal(nxb, nxa + cfg_state_size(&c));
          assert_int_equal(rnnc_ref_output_size(b), ny);
          p = reals(np);
          xa = reals(N * nxa);
          xb = reals(N * nxb); /* zero initial states */
          ya = reals(N * ny);
          yb = reals(N * ny);
          t = reals(N * ny);
          ga = reals(np);
          gbuf = reals(np);
          dxa = reals(N * nxa);
          dxb = reals(N * nxb);
          fill(&g, p, np, 0.8);
          fill(&g, xa, N * nxa, 1.0);
          fill(&g, t, N * ny, 1.0);
          for (s = 0; s < N; s++)
            memcpy(xb + s * nxb, xa + s * nxa, nxa * sizeof(double));
          assert_int_equal(rnnc_ref_forward(a, p, xa, N, ya), 0);
          assert_int_equal(rnnc_ref_forward(b, p, xb, N, yb), 0);
          for (k = 0; k < N * ny; k++)
            assert_true(ya[k] == yb[k]);
          assert_int_equal(rnnc_ref_forward(z, p, xa, N, yb), 0);
          for (k = 0; k < N * ny; k++)
            assert_true(ya[k] == yb[k]);
          la = rnnc_ref_loss_grad(a, p, xa, t, N, ga, dxa, NULL);
          lb = rnnc_ref_loss_grad(b, p, xb, t, N, gbuf, dxb, NULL);
          assert_true(la == lb);
          for (k = 0; k < np; k++)
            assert_true(ga[k] == gbuf[k]);
          for (s = 0; s < N; s++)
            for (k = 0; k < nxa; k++)
              assert_true(dxa[s * nxa + k] == dxb[s * nxb + k]);
          free(p);
          free(xa);
          free(xb);
          free(ya);
          free(yb);
          free(t);
          free(ga);
          free(gbuf);
          free(dxa);
          free(dxb);
          rnnc_ref_free(a);
          rnnc_ref_free(b);
          rnnc_ref_free(z);
        }
}

/* The initial state continues a sequence: running the first K processed steps
 * (return_state=1), then the other T - K from those states, gives the full
 * run's outputs and states bit for bit. With go_backwards the first K
 * processed steps are the last K input steps: the initial state is still the
 * state before the first processed step. */
static void test_initial_state_continues(void **state) {
  enum { T = 5, K = 2, IN = 2, U = 3, N = 2 };
  int ci, gb, s, k;
  (void)state;
  for (ci = 0; ci < 4; ci++)
    for (gb = 0; gb <= 1; gb++) {
      rnn_cfg c = {init_cells[ci], U, "tanh", "sigmoid", 1, init_reset_after[ci], 1, 1, gb};
      char full_spec[512] = "rnnc-spec 1\ninput 5 2\n", head_spec[512] = "rnnc-spec 1\ninput 2 2\n";
      char tail_spec[512] = "rnnc-spec 1\ninput 3 2\n";
      size_t np = cfg_params(&c, IN), ns = cfg_state_size(&c);
      size_t full_y = T * U + ns, head_y = K * U + ns, tail_y = (T - K) * U + ns;
      size_t tail_x = (T - K) * IN + ns;
      rnnc_ref *full, *head, *tail;
      double *p = reals(np), x[N * T * IN], xh[N * K * IN], *xt = reals(N * tail_x);
      double *yf = reals(N * full_y), *yh = reals(N * head_y), *yt = reals(N * tail_y);
      lcg g = {(uint64_t)(52000 + ci * 10 + gb)};
      /* the input steps processed first: 0..K-1, or T-K..T-1 with go_backwards */
      int head_from = gb ? T - K : 0, tail_from = gb ? 0 : K;
      rnn_line(full_spec, sizeof full_spec, "rnn", &c);
      rnn_line(head_spec, sizeof head_spec, "rnn", &c);
      rnn_line_init(tail_spec, sizeof tail_spec, "rnn", &c);
      full = must_new(full_spec);
      head = must_new(head_spec);
      tail = must_new(tail_spec);
      fill(&g, p, np, 0.8);
      fill(&g, x, N * T * IN, 1.0);
      for (s = 0; s < N; s++)
        memcpy(xh + s * K * IN, x + (s * T + head_from) * IN, K * IN * sizeof(double));
      assert_int_equal(rnnc_ref_forward(full, p, x, N, yf), 0);
      assert_int_equal(rnnc_ref_forward(head, p, xh, N, yh), 0);
      for (s = 0; s < N; s++) { /* the tail's input: its steps, then the head's states */
        memcpy(xt + s * tail_x, x + (s * T + tail_from) * IN, (T - K) * IN * sizeof(double));
        memcpy(xt + s * tail_x + (T - K) * IN, yh + s * head_y + K * U, ns * sizeof(double));
      }
      assert_int_equal(rnnc_ref_forward(tail, p, xt, N, yt), 0);
      for (s = 0; s < N; s++) {
        const double *f = yf + s * full_y, *h = yh + s * head_y, *r = yt + s * tail_y;
        for (k = 0; k < K * U; k++) /* processing order: the head's steps first */
          assert_true(f[k] == h[k]);
        for (k = 0; k < (int)tail_y; k++) /* the tail's steps, then the final states */
          if (f[K * U + k] != r[k])
            fail_msg("%s go_backwards=%d: sample %d: full %.17g, continued %.17g at %d",
                     init_names[ci], gb, s, f[K * U + k], r[k], k);
      }
      free(p);
      free(xt);
      free(yf);
      free(yh);
      free(yt);
      rnnc_ref_free(full);
      rnnc_ref_free(head);
      rnnc_ref_free(tail);
    }
}

/* Fails unless some gradient of an initial state (dx past the main input) is
 * at least 1e-3: the finite differences on them then check something. */
static void assert_state_gradients(const char *what, const char *spec, const double *p,
                                   const double *x, const double *target, int n) {
  rnnc_ref *m = must_new(spec);
  size_t np = rnnc_ref_n_params(m), nx = rnnc_ref_input_size(m), main_size, j, i;
  double *grad = reals(np), *dx = reals((size_t)n * nx);
  int s;
  main_size = rnnc_ref_input_part(m, 0, NULL);
  assert_true(rnnc_ref_input_count(m) > 1);
  rnnc_ref_loss_grad(m, p, x, target, n, grad, dx, NULL);
  for (i = 1; i < rnnc_ref_input_count(m); i++) { /* every state input, every sample */
    size_t off, part = rnnc_ref_input_part(m, i, &off);
    double part_largest = 0.0;
    assert_true(off >= main_size && off + part <= nx);
    for (s = 0; s < n; s++)
      for (j = 0; j < part; j++)
        part_largest = fmax(part_largest, fabs(dx[(size_t)s * nx + off + j]));
    if (part_largest < 1e-3)
      fail_msg("%s: the gradient of input %zu (an initial state) is tiny (%g)", what, i,
               part_largest);
  }
  free(grad);
  free(dx);
  rnnc_ref_free(m);
}

/* Every cell with initial_state=1, every return_sequences and go_backwards,
 * then Dense(2), mse: every parameter and input element (the initial states
 * included) against finite differences; and alone with return_state=1
 * through backward(dy), where the final states' gradients reach h_0 (and c_0). */
static void test_grad_initial_state_grid(void **state) {
  enum { T = 4, IN = 3, U = 3, OUT = 2, N = 2 };
  int ci, rs, gb;
  (void)state;
  for (ci = 0; ci < 4; ci++)
    for (rs = 0; rs <= 1; rs++)
      for (gb = 0; gb <= 1; gb++) {
        rnn_cfg c = {init_cells[ci], U, "tanh", "sigmoid", 1, init_reset_after[ci], rs, 0, gb};
        char spec[1024] = "rnnc-spec 1\ninput 4 3\n", alone[1024] = "rnnc-spec 1\ninput 4 3\n";
        char what[160];
        size_t np = cfg_params(&c, IN) + (size_t)U * OUT + OUT;
        size_t nx = (size_t)T * IN + cfg_state_size(&c), n_out = (size_t)N * (rs ? T : 1) * OUT;
        double *p = reals(np), *x = reals(N * nx), *t = reals(n_out);
        lcg g = {(uint64_t)(53000 + ci * 100 + rs * 10 + gb)};
        rnnc_ref *m;
        rnn_line_init(spec, sizeof spec, "rnn", &c);
        append(spec, sizeof spec,
               "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n");
        m = must_new(spec);
        assert_int_equal(rnnc_ref_n_params(m), np);
        assert_int_equal(rnnc_ref_input_size(m), nx);
        assert_int_equal(rnnc_ref_input_count(m), ci == 1 ? 3 : 2);
        rnnc_ref_free(m);
        snprintf(what, sizeof what,
                 "%s initial_state=1 return_sequences=%d go_backwards=%d + Dense", init_names[ci],
                 rs, gb);
        fill(&g, p, np, 0.8);
        fill(&g, x, N * nx, 1.0);
        fill(&g, t, n_out, 1.0);
        check_gradients(what, spec, p, x, t, N);
        assert_state_gradients(what, spec, p, x, t, N);
        /* alone, every output (the states included) through backward(dy) */
        c.rstate = 1;
        rnn_line_init(alone, sizeof alone, "rnn", &c);
        snprintf(what, sizeof what,
                 "%s initial_state=1 return_sequences=%d return_state=1 go_backwards=%d",
                 init_names[ci], rs, gb);
        check_backward_dy(what, alone, p, x, N, g.s);
        free(p);
        free(x);
        free(t);
      }
}

/* Initial states in stacks: LSTM(initial_state) -> Dense, SimpleRNN ->
 * GRU(initial_state) -> Dense, three layers each with its initial states, a
 * fused softmax + sparse crossentropy tagger: every parameter and every input
 * element, states included. */
static void test_grad_initial_state_stacks(void **state) {
  static const struct {
    const char *what, *spec;
    size_t n_inputs, input_size, target;
  } cases[] = {
      {"LSTM(initial_state, return_sequences) -> Dense",
       "rnnc-spec 1\ninput 4 3\n"
       "layer LSTM lstm units=3 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "return_sequences=1 return_state=0 go_backwards=0 initial_state=1\n"
       "layer Dense time_distributed/dense units=2 activation=linear use_bias=1\nloss mse\n",
       3, 12 + 6, 8},
      {"LSTM(initial_state, go_backwards) -> Dense",
       "rnnc-spec 1\ninput 4 3\n"
       "layer LSTM lstm units=3 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "return_sequences=0 return_state=0 go_backwards=1 initial_state=1\n"
       "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n",
       3, 12 + 6, 2},
      {"SimpleRNN -> GRU(reset_after=1, initial_state) -> Dense",
       "rnnc-spec 1\ninput 4 3\n"
       "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 return_sequences=1 "
       "return_state=0 go_backwards=0\n"
       "layer GRU gru units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "reset_after=1 return_sequences=0 return_state=0 go_backwards=0 initial_state=1\n"
       "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n",
       2, 12 + 2, 2},
      {"SimpleRNN(go_backwards) -> GRU(reset_after=0, initial_state, go_backwards) -> Dense",
       "rnnc-spec 1\ninput 4 3\n"
       "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 return_sequences=1 "
       "return_state=0 go_backwards=1\n"
       "layer GRU gru units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "reset_after=0 return_sequences=1 return_state=0 go_backwards=1 initial_state=1\n"
       "layer Dense time_distributed/dense units=2 activation=linear use_bias=1\nloss mse\n",
       2, 12 + 2, 8},
      {"SimpleRNN(initial_state) -> LSTM(initial_state) -> GRU(initial_state) -> Dense",
       "rnnc-spec 1\ninput 4 3\n"
       "layer SimpleRNN simple_rnn units=2 activation=tanh use_bias=1 return_sequences=1 "
       "return_state=0 go_backwards=0 initial_state=1\n"
       "layer LSTM lstm units=3 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "return_sequences=1 return_state=0 go_backwards=1 initial_state=1\n"
       "layer GRU gru units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "reset_after=1 return_sequences=0 return_state=0 go_backwards=0 initial_state=1\n"
       "layer Dense dense units=2 activation=linear use_bias=1\nloss mse\n",
       5, 12 + 2 + 6 + 2, 2},
      {"tagger SimpleRNN(initial_state) -> Dense softmax, sparse CCE (fused)",
       "rnnc-spec 1\ninput 4 3\n"
       "layer SimpleRNN simple_rnn units=3 activation=tanh use_bias=1 return_sequences=1 "
       "return_state=0 go_backwards=0 initial_state=1\n"
       "layer Dense time_distributed/dense units=3 activation=softmax use_bias=1\n"
       "loss sparse_categorical_crossentropy\n",
       2, 12 + 3, 4},
  };
  enum { N = 2 };
  size_t k, j;
  (void)state;
  for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    rnnc_ref *m = must_new(cases[k].spec);
    size_t np = rnnc_ref_n_params(m), nx = rnnc_ref_input_size(m);
    double *p = reals(np), *x = reals(N * nx), *t = reals(N * cases[k].target);
    lcg g = {(uint64_t)(54000 + k)};
    assert_int_equal(rnnc_ref_input_count(m), cases[k].n_inputs);
    assert_int_equal(nx, cases[k].input_size);
    assert_int_equal(rnnc_ref_target_size(m), cases[k].target);
    rnnc_ref_free(m);
    fill(&g, p, np, 0.8);
    fill(&g, x, N * nx, 1.0);
    fill(&g, t, N * cases[k].target, 1.0);
    if (strstr(cases[k].spec, "sparse") != NULL)
      for (j = 0; j < N * cases[k].target; j++)
        t[j] = (double)(j * 5 % 3);
    check_gradients(cases[k].what, cases[k].spec, p, x, t, N);
    assert_state_gradients(cases[k].what, cases[k].spec, p, x, t, N);
    free(p);
    free(x);
    free(t);
  }
}

/* ------------------------------------------------------------------ 10. malformed specs */

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
      {"rnnc-spec 1\ninput 3 4\nlayer Conv2D conv2d units=2 activation=tanh use_bias=1\n",
       "unknown layer class 'Conv2D'"},
      {"rnnc-spec 1\ninput 3 4\nlayer Conv1D conv1d units=2 activation=tanh use_bias=1\n",
       "unknown key 'units' for Conv1D"},
      {"rnnc-spec 1\ninput 6 4\nlayer Conv1D c filters=2 groups=1 kernel_size=3 strides=1 "
       "padding=full dilation_rate=1 activation=tanh use_bias=1\n",
       "unknown padding 'full'"},
      {"rnnc-spec 1\ninput 6 4\nlayer Conv1D c filters=3 groups=2 kernel_size=3 strides=1 "
       "padding=valid dilation_rate=1 activation=tanh use_bias=1\n",
       "groups 2 must divide 4 channels and 3 filters"},
      {"rnnc-spec 1\ninput 2 4\nlayer Conv1D c filters=3 groups=1 kernel_size=3 strides=1 "
       "padding=valid dilation_rate=1 activation=tanh use_bias=1\n",
       "the input (2, 4) is too short for the layer"},
      {"rnnc-spec 1\ninput 4\nlayer MaxPooling1D p pool_size=2 strides=2 padding=valid\n",
       "MaxPooling1D needs a rank-2 (steps, channels) input"},
      {"rnnc-spec 1\ninput 6 4\nlayer Reshape r target=5,5\n", "bad target '5,5' for 6 x 4 values"},
      {"rnnc-spec 1\ninput 6 4\nlayer RepeatVector r n=3\n", "RepeatVector needs a rank-1 input"},
      {"rnnc-spec 1\ninput 6 4\nlayer BatchNormalization b momentum=x epsilon=0.001 center=1 "
       "scale=1\n",
       "bad number 'x' for momentum"},
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
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=swish2 use_bias=1\n",
       "unknown activation 'swish2'"},
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
      /* the graph: tensors named before their nodes, wrong counts, shapes */
      {"rnnc-spec 1\ninput 3 4\nlayer SimpleRNN r units=2 activation=tanh use_bias=1 "
       "return_sequences=1 return_state=1 go_backwards=0\n"
       "layer Dense d units=1 activation=linear use_bias=1 in=n0.2\n",
       "line 4: layer 'd': 'n0.2' names no tensor defined before"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1 in=n0.0\n",
       "line 3: layer 'd': 'n0.0' names no tensor defined before"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1 in=x1\n",
       "line 3: layer 'd': 'x1' names no tensor defined before"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1 in=x0,x0\n",
       "line 3: layer 'd': Dense reads one tensor, in= names 2"},
      {"rnnc-spec 1\ninput 3 4\ninput 3 4\nlayer Add a in=x0\n",
       "line 4: layer 'a': a merge takes at least 2 inputs"},
      {"rnnc-spec 1\ninput 3 4\ninput 3 5\nlayer Add a in=x0,x1\n",
       "line 4: layer 'a': the inputs of an elementwise merge must have one shape"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=2 activation=linear use_bias=1\n"
       "layer Dense e units=2 activation=linear use_bias=1 share=0\n",
       "line 4: layer 'e' shares the weights of node 'd' (line 3), which has another class or "
       "other "
       "weight shapes"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=2 activation=linear use_bias=1 in=x0 "
       "share=0\n",
       "line 3: layer 'd': share=0 names no node before it"},
      {"rnnc-spec 1\ninput 3 4\ninput 3\nlayer LSTM l units=2 activation=tanh "
       "recurrent_activation=sigmoid use_bias=1 " RNN_OPTS " state=x1\n",
       "line 4: layer 'l': state= names 1 tensor(s), the layer takes 2"},
      {"rnnc-spec 1\ninput 3 4\ninput 3\nlayer SimpleRNN r units=2 activation=tanh "
       "use_bias=1 " RNN_OPTS " state=x1\n",
       "line 4: layer 'r': initial state 0 is 1 x 3, the layer needs 2"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1\noutput n1.0\n",
       "line 4: 'output' wants one tensor defined before"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1\n"
       "loss mse output=1\n",
       "line 4: loss output=1, the model has 1 output(s)"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1\n"
       "loss mse weight=x\n",
       "line 4: 'loss' wants a name, then from_logits, output=K, weight=W and parameters "
       "(label_smoothing=S, delta=D) (got 'weight=x')"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1\nloss mse\n"
       "layer Dense e units=1 activation=linear use_bias=1\n",
       "line 5: 'layer' after the 'output' or 'loss' lines"},
      {"rnnc-spec 1\ninput 3 4\nlayer Dense d units=1 activation=linear use_bias=1\ninput 2\n",
       "line 4: 'input' lines come before the layers"},
      {"rnnc-spec 1\ninput 3 4\nlayer LSTM l units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "line 3: layer 'l': missing key 'recurrent_activation'"},
      {"rnnc-spec 1\ninput 3 4\nlayer GRU g units=2 activation=tanh recurrent_activation=sigmoid "
       "use_bias=1 " RNN_OPTS "\n",
       "missing key 'reset_after'"},
      {"rnnc-spec 1\ninput 3 4\nlayer GRU g units=2 activation=tanh recurrent_activation=sigmoid "
       "use_bias=1 reset_after=2 " RNN_OPTS "\n",
       "bad boolean '2' for reset_after"},
      {"rnnc-spec 1\ninput 3 4\nlayer SimpleRNN r units=2 activation=tanh "
       "recurrent_activation=sigmoid use_bias=1 " RNN_OPTS "\n",
       "unknown key 'recurrent_activation' for SimpleRNN"},
      {"rnnc-spec 1\ninput 3 4\nlayer LSTM l units=2 activation=tanh recurrent_activation=sigmoid "
       "use_bias=1 reset_after=1 " RNN_OPTS "\n",
       "unknown key 'reset_after' for LSTM"},
      {"rnnc-spec 1\ninput 3 4\nlayer LSTM l units=2 activation=tanh recurrent_activation=gelu2 "
       "use_bias=1 " RNN_OPTS "\n",
       "unknown recurrent_activation 'gelu2'"},
      {"rnnc-spec 1\ninput 8\nlayer LSTM l units=2 activation=tanh recurrent_activation=sigmoid "
       "use_bias=1 " RNN_OPTS "\n",
       "LSTM needs a rank-2 (timesteps, features) input, got rank 1"},
      {"rnnc-spec 1\ninput 8\nlayer Bidirectional b merge_mode=sum\n"
       "layer GRU g units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "reset_after=1 " RNN_OPTS "\n",
       "line 4: layer 'g': GRU needs a rank-2"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=max\n"
       "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "unknown merge_mode 'max' (known: concat sum mul ave none)"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b\n"
       "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "missing key 'merge_mode'"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=concat go_backwards=1\n"
       "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "unknown key 'go_backwards' for Bidirectional"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=concat\n"
       "layer Dense d units=2 activation=tanh use_bias=1\n",
       "line 4: Bidirectional 'b' wraps a recurrent layer (SimpleRNN, LSTM, GRU), got Dense"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=concat\n"
       "layer Bidirectional b2 merge_mode=concat\n"
       "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "wraps a recurrent layer (SimpleRNN, LSTM, GRU), got Bidirectional"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=concat\n",
       "Bidirectional 'b' (line 3) must be followed by the line of the layer it wraps, got the "
       "end"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=concat\n\nloss mse\n",
       "line 5: Bidirectional 'b' (line 3) must be followed by the line of the layer it wraps, got "
       "'loss'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1 initial_state=1\n",
       "line 3: layer 'd': unknown key 'initial_state' for Dense"},
      {"rnnc-spec 1\ninput 3 4\nlayer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS
       "\nlayer Dense d units=2 activation=tanh use_bias=1 initial_state=0\n",
       "line 4: layer 'd': unknown key 'initial_state' for Dense"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=concat\n"
       "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS " initial_state=1\n",
       "line 4: layer 'r': initial_state=1 is not supported inside Bidirectional 'b' (line 3)"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=sum\n"
       "layer LSTM l units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 " RNN_OPTS
       " initial_state=1\n",
       "line 4: layer 'l': initial_state=1 is not supported inside Bidirectional 'b'"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=none\n"
       "layer GRU g units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 "
       "reset_after=1 initial_state=1 " RNN_OPTS "\n",
       "line 4: layer 'g': initial_state=1 is not supported inside Bidirectional 'b'"},
      {"rnnc-spec 1\ninput 3 4\nlayer Bidirectional b merge_mode=concat initial_state=1\n"
       "layer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS "\n",
       "unknown key 'initial_state' for Bidirectional"},
      {"rnnc-spec 1\ninput 3 4\nlayer SimpleRNN r units=2 activation=tanh use_bias=1 " RNN_OPTS
       " initial_state=2\n",
       "bad boolean '2' for initial_state"},
      {"rnnc-spec 1\ninput 3 4\nlayer GRU g units=2 activation=tanh recurrent_activation=sigmoid "
       "use_bias=1 reset_after=1 initial_state=1 " RNN_OPTS " initial_state=1\n",
       "duplicate key 'initial_state'"},
      {"rnnc-spec 1\ninput 3 4\nlayer LSTM l units=2 activation=tanh recurrent_activation=sigmoid "
       "use_bias=1 return_sequences=1 return_state=0 initial_state=1\n",
       "missing key 'go_backwards'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1\nloss hinge_loss\n",
       "unknown loss 'hinge_loss'"},
      {"rnnc-spec 1\ninput 3\nlayer Dense d units=2 activation=tanh use_bias=1\nloss mse\n"
       "loss mse\n",
       "duplicate 'loss' line"},
      {"rnnc-spec 1\ninput 3\n", "no 'layer' line"},
      {"rnnc-spec 1\nlayer Dense d units=2 activation=tanh use_bias=1\n",
       "'layer' before the 'input' line"},
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

/* The counter-based noise (rnnc_noise_value, runtime/rng.c): pinned values
 * (tests/conformance/keras_torch.py reimplements it and must draw the same),
 * and a pure function of its key. */
static void test_noise_generator(void **state) {
  (void)state;
  assert_true(rnnc_noise_bits(0, 0, 0, 0, 0) == UINT64_C(8760411249752654535));
  assert_true(rnnc_noise_bits(42, 7, 3, 5, 11) == UINT64_C(12609792283219745985));
  assert_double_equal(rnnc_noise_value(RNNC_NOISE_GAUSSIAN, 1.0, 42, 7, 3, 5, 11),
                      0.84605282406734417, 0);
  assert_double_equal(rnnc_noise_value(RNNC_NOISE_GAUSSIAN_DROPOUT, 0.5, 42, 7, 3, 5, 12),
                      -0.23271633668682568, 0);
  /* every coordinate of the key matters */
  {
    uint64_t base = rnnc_noise_bits(1, 2, 3, 4, 5);
    assert_true(rnnc_noise_bits(9, 2, 3, 4, 5) != base);
    assert_true(rnnc_noise_bits(1, 9, 3, 4, 5) != base);
    assert_true(rnnc_noise_bits(1, 2, 9, 4, 5) != base);
    assert_true(rnnc_noise_bits(1, 2, 3, 9, 5) != base);
    assert_true(rnnc_noise_bits(1, 2, 3, 4, 9) != base);
    assert_true(rnnc_noise_bits(1, 2, 3, 4, 5) == base);
  }
}

/* The noise layers in the reference runtime: the identity at inference; in
 * training (loss_grad) Dropout drops a fraction `rate` and scales the rest
 * by 1 / (1 - rate), SpatialDropout1D (per_step=0) one value per sample and
 * feature for every step, GaussianNoise adds N(0, stddev^2), GaussianDropout
 * multiplies by N(1, rate / (1 - rate)); a sample's mask is the same in a
 * call of the whole batch and in a call starting at its index; the
 * gradients are those of the fixed masks. */
static void test_noise_layers(void **state) {
  enum { N = 20, T = 50, F = 40, S = T * F };
  static double x[N * S], y[N * S], y2[N * S], t[N * S];
  const char *specs[] = {
      "rnnc-spec 1\ninput 50 40\nlayer Dropout d rate=0.3 salt=5 seed=none per_sample=1 "
      "per_step=1 per_feature=1\nloss mse\n",
      "rnnc-spec 1\ninput 50 40\nlayer Dropout d rate=0.4 salt=5 seed=none per_sample=1 "
      "per_step=0 per_feature=1\nloss mse\n",
      "rnnc-spec 1\ninput 50 40\nlayer GaussianNoise g stddev=0.5 salt=6 seed=3\nloss mse\n",
      "rnnc-spec 1\ninput 50 40\nlayer GaussianDropout g rate=0.2 salt=6 seed=none\nloss mse\n",
  };
  size_t l, i;
  (void)state;
  for (i = 0; i < N * S; i++) {
    x[i] = 1.0;
    t[i] = 0.0;
  }
  for (l = 0; l < sizeof specs / sizeof *specs; l++) {
    rnnc_ref *m = must_new(specs[l]);
    double sum = 0, sum2 = 0, zeros = 0, n = N * S;
    /* inference: the identity */
    assert_int_equal(rnnc_ref_forward(m, NULL, x, N, y), 0);
    for (i = 0; i < N * S; i++)
      assert_true(y[i] == 1.0);
    /* training */
    rnnc_ref_set_noise(m, 11, 4, 0);
    assert_true(isfinite(rnnc_ref_loss_grad(m, NULL, x, t, N, NULL, NULL, y)));
    for (i = 0; i < N * S; i++) {
      sum += y[i];
      sum2 += y[i] * y[i];
      zeros += y[i] == 0.0;
    }
    {
      double mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
      if (l == 0) { /* 40,000 draws: 0.3 within 5 standard errors (0.0023) */
        assert_true(fabs(zeros / n - 0.3) < 0.012);
        for (i = 0; i < N * S; i++)
          assert_true(y[i] == 0.0 || y[i] == 1.0 / (1.0 - 0.3));
        assert_true(fabs(mean - 1.0) < 0.03);
      } else if (l == 1) { /* N * F = 800 draws, each repeated over the steps */
        int s, r, c;
        assert_true(fabs(zeros / n - 0.4) < 0.09);
        for (s = 0; s < N; s++)
          for (r = 1; r < T; r++)
            for (c = 0; c < F; c++)
              assert_true(y[s * S + r * F + c] == y[s * S + c]);
      } else if (l == 2) {
        assert_true(fabs(mean - 1.0) < 0.02 && fabs(sd - 0.5) < 0.02);
      } else {
        assert_true(fabs(mean - 1.0) < 0.02 && fabs(sd - 0.5) < 0.02); /* sqrt(0.2 / 0.8) */
      }
    }
    /* the same key: the same masks; samples 3.. of the batch from a call
     * that starts at sample 3 */
    rnnc_ref_set_noise(m, 11, 4, 3);
    assert_true(isfinite(rnnc_ref_loss_grad(m, NULL, x + 3 * S, t, N - 3, NULL, NULL, y2)));
    for (i = 0; i < (N - 3) * S; i++)
      assert_true(y2[i] == y[3 * S + i]);
    /* the next step draws other masks (a layer's own seed does not freeze
     * them: the step is in the key) */
    rnnc_ref_set_noise(m, 11, 5, 0);
    assert_true(isfinite(rnnc_ref_loss_grad(m, NULL, x, t, N, NULL, NULL, y2)));
    assert_true(memcmp(y, y2, sizeof(double) * N * S) != 0);
    /* another fit seed: other masks, unless the layer has its own */
    rnnc_ref_set_noise(m, 12, 4, 0);
    assert_true(isfinite(rnnc_ref_loss_grad(m, NULL, x, t, N, NULL, NULL, y2)));
    assert_true((memcmp(y, y2, sizeof(double) * N * S) == 0) == (l == 2));
    rnnc_ref_free(m);
  }
  {
    /* gradients through fixed masks, against central differences */
    const char *spec =
        "rnnc-spec 1\ninput 3 2\nlayer Dense d units=4 activation=tanh use_bias=1\n"
        "layer Dropout a rate=0.5 salt=1 seed=none per_sample=1 per_step=1 per_feature=1\n"
        "layer GaussianNoise b stddev=0.3 salt=2 seed=none\n"
        "layer Dropout c rate=0.25 salt=3 seed=9 per_sample=1 per_step=0 per_feature=1\n"
        "layer GaussianDropout e rate=0.3 salt=4 seed=none\n"
        "layer Dense o units=2 activation=linear use_bias=1\nloss mse\n";
    enum { NB = 3, NP = 2 * 4 + 4 + 4 * 2 + 2 };
    double p[NP], xs[NB * 6], ts[NB * 6];
    lcg g = {78};
    fill(&g, p, NP, 0.8);
    fill(&g, xs, NB * 6, 1.0);
    fill(&g, ts, NB * 6, 1.0);
    check_gradients("Dense, noise layers, Dense", spec, p, xs, ts, NB);
  }
}

/* The recurrent layers' dropout (Keras 3's DropoutRNNCell): one mask per
 * call, the same at every step, on the input (dropout) and on h[t-1] in the
 * recurrent product (recurrent_dropout); the identity at inference;
 * gradients through the fixed masks, a mask per gate included. */
static void test_recurrent_dropout(void **state) {
  enum { N = 400, T = 6 };
  static double x[N * T], y[N * T], t0[N * T];
  double p[2];
  int s, t, zeros = 0;
  (void)state;
  for (s = 0; s < N * T; s++) {
    x[s] = 1.0;
    t0[s] = 0.0;
  }
  {
    /* h_t = m x_t + 0.5 h_{t-1}, x = 1: h_t = m (2 - 0.5^t), m in {0, 2} */
    rnnc_ref *m =
        must_new("rnnc-spec 1\ninput 6 1\nlayer SimpleRNN r units=1 activation=linear "
                 "use_bias=0 return_sequences=1 return_state=0 go_backwards=0 dropout=0.5 "
                 "recurrent_dropout=0 per_gate=0 seed=none salts=1,2\nloss mse\n");
    p[0] = 1.0;
    p[1] = 0.5;
    rnnc_ref_set_noise(m, 3, 7, 0);
    assert_true(isfinite(rnnc_ref_loss_grad(m, p, x, t0, N, NULL, NULL, y)));
    for (s = 0; s < N; s++) {
      double mk = y[s * T];
      assert_true(mk == 0.0 || mk == 2.0);
      zeros += mk == 0.0;
      for (t = 1; t < T; t++)
        assert_double_equal(y[s * T + t], mk * (2.0 - ldexp(1.0, -t)), 1e-15);
    }
    assert_true(zeros > N / 2 - 50 && zeros < N / 2 + 50);
    /* inference: no mask */
    assert_int_equal(rnnc_ref_forward(m, p, x, N, y), 0);
    for (t = 0; t < T; t++)
      assert_double_equal(y[t], 2.0 - ldexp(1.0, -t), 1e-15);
    rnnc_ref_free(m);
  }
  {
    /* h_t = 1 + m_r h_{t-1}: m_r = 0 gives 1, 1, ...; m_r = 2 gives 1, 3, 7, ... */
    rnnc_ref *m = must_new("rnnc-spec 1\ninput 6 1\nlayer SimpleRNN r units=1 activation=linear "
                           "use_bias=0 return_sequences=1 return_state=0 go_backwards=0 dropout=0 "
                           "recurrent_dropout=0.5 per_gate=0 seed=9 salts=1,2\nloss mse\n");
    p[0] = 1.0;
    p[1] = 1.0;
    zeros = 0;
    assert_true(isfinite(rnnc_ref_loss_grad(m, p, x, t0, N, NULL, NULL, y)));
    for (s = 0; s < N; s++) {
      int dropped = y[s * T + 1] == 1.0;
      zeros += dropped;
      for (t = 0; t < T; t++)
        assert_double_equal(y[s * T + t], dropped ? 1.0 : ldexp(1.0, t + 1) - 1.0, 1e-12);
    }
    assert_true(zeros > N / 2 - 50 && zeros < N / 2 + 50);
    rnnc_ref_free(m);
  }
  {
    /* gradients through fixed masks: a mask per gate (LSTM, GRU both
     * forms), one for all gates, Bidirectional copies */
    const char *specs[] = {
        "rnnc-spec 1\ninput 3 2\nlayer LSTM l units=2 activation=tanh recurrent_activation=sigmoid "
        "use_bias=1 return_sequences=1 return_state=0 go_backwards=0 dropout=0.3 "
        "recurrent_dropout=0.4 per_gate=1 seed=none salts=5,6\n"
        "layer GRU g units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 reset_after=0 "
        "return_sequences=1 return_state=0 go_backwards=1 dropout=0.2 recurrent_dropout=0.5 "
        "per_gate=1 seed=4 salts=7,8\n"
        "layer GRU h units=2 activation=tanh recurrent_activation=sigmoid use_bias=1 reset_after=1 "
        "return_sequences=0 return_state=0 go_backwards=0 dropout=0.3 recurrent_dropout=0 "
        "per_gate=0 seed=none salts=9,10\nloss mse\n",
        "rnnc-spec 1\ninput 3 2\nlayer Bidirectional b merge_mode=concat\n"
        "layer SimpleRNN r units=2 activation=tanh use_bias=1 return_sequences=1 return_state=0 "
        "go_backwards=0 dropout=0.25 recurrent_dropout=0.5 per_gate=0 seed=none salts=1,2,3,4\n"
        "layer Dense d units=1 activation=linear use_bias=1\nloss mse\n",
    };
    enum { NB = 3 };
    double ps[200], xs[NB * 6], ts[NB * 6];
    size_t k;
    for (k = 0; k < sizeof specs / sizeof *specs; k++) {
      rnnc_ref *m = must_new(specs[k]);
      size_t np = rnnc_ref_n_params(m);
      lcg g = {90 + k};
      assert_true(np <= 200);
      fill(&g, ps, np, 0.8);
      fill(&g, xs, NB * 6, 1.0);
      fill(&g, ts, NB * 6, 1.0);
      rnnc_ref_free(m);
      check_gradients(k == 0 ? "LSTM, GRU with dropout" : "Bidirectional SimpleRNN with dropout",
                      specs[k], ps, xs, ts, NB);
    }
  }
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
      cmocka_unit_test(test_hard_sigmoid),
      cmocka_unit_test(test_issue13_activations),
      cmocka_unit_test(test_issue13_activation_layers),
      cmocka_unit_test(test_embedding),
      cmocka_unit_test(test_lstm_forward_equations),
      cmocka_unit_test(test_gru_forward_equations),
      cmocka_unit_test(test_grad_lstm_grid),
      cmocka_unit_test(test_grad_gru_grid),
      cmocka_unit_test(test_grad_bidirectional),
      cmocka_unit_test(test_grad_multiple_outputs),
      cmocka_unit_test(test_loss_per_output),
      cmocka_unit_test(test_grad_stacks),
      cmocka_unit_test(test_grad_initial_state_grid),
      cmocka_unit_test(test_grad_initial_state_stacks),
      cmocka_unit_test(test_grad_report),
      cmocka_unit_test(test_backward_matches_loss_grad),
      cmocka_unit_test(test_loss_absent_is_nan),
      cmocka_unit_test(test_go_backwards_is_reversed_input),
      cmocka_unit_test(test_masking_padded_equals_unpadded),
      cmocka_unit_test(test_masking_zero_output_and_loss),
      cmocka_unit_test(test_return_state_is_last_step),
      cmocka_unit_test(test_bidirectional_is_two_layers),
      cmocka_unit_test(test_output_parts),
      cmocka_unit_test(test_initial_state_parts),
      cmocka_unit_test(test_initial_state_first_step),
      cmocka_unit_test(test_initial_state_zero_is_default),
      cmocka_unit_test(test_initial_state_continues),
      cmocka_unit_test(test_malformed_specs),
      cmocka_unit_test(test_noise_generator),
      cmocka_unit_test(test_noise_layers),
      cmocka_unit_test(test_recurrent_dropout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
