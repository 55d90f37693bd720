/* Generated units against the reference runtime, on random models.
 *
 * tests/random/run.sh writes random model files (make_models.lua), generates
 * every model twice (float64 and float32), and links the units with this file
 * and a table of their descriptors (models.h / models.c). One cmocka test per
 * unit; its name and every failure message name the unit and its model file.
 *
 * Per unit:
 *   - the descriptor against its own spec: sizes, shapes, loss, tensor names,
 *     shapes and offsets in the reference runtime's parameter layout;
 *   - init: reproducible from a seed, zeros / glorot bounds / orthogonality;
 *   - the weights are then perturbed (rnnc_rng) so biases are non-zero, and
 *     inputs in [-1, 1] and targets are drawn (labels in range for sparse
 *     crossentropy); for a random n in 1..batch and for n = batch:
 *       forward, loss_grad (loss, every parameter tensor's gradient, dx,
 *       y_pred) and backward with a random dy are compared with
 *       rnnc_ref_forward / rnnc_ref_loss_grad / rnnc_ref_backward;
 *       rows past n are never written; grad and dx are fully overwritten; the
 *       scratch is poisoned with NaN bytes before every call that must not
 *       read it (reads of unwritten scratch show up as NaN);
 *   - float64 units: central finite differences of loss_grad's loss for every
 *     parameter and every input element of the first n samples;
 *   - train_step: two Adam steps equal (bitwise) loss_grad followed by
 *     rnnc_optimizer_step with the descriptor's optimizer; a NaN in x, a NaN
 *     target (mse) or an out-of-range label returns NaN and leaves the
 *     parameters and the optimizer state bitwise untouched.
 *
 * Tolerances. "relative error" of a tensor a against the reference r is
 *     max_i |a_i - r_i| / max(max_i |r_i|, 1e-30)
 * taken per tensor (the forward output, the loss, each parameter tensor's
 * gradient, dx); it must be <= 1e-12 for float64 units and <= 1e-5 for float32
 * units (the reference computes in double from the float32 unit's exact
 * parameters and inputs, so only the unit's arithmetic differs). One escape,
 * for ill-conditioned tensors (sums that cancel, as the one-element bias
 * gradient of a 1-unit layer summed over timesteps): a tensor also passes when
 * its error is at most 64 times the change of the reference itself under a
 * relative perturbation of every weight and input by one unit roundoff of the
 * unit's dtype (see SENS_FACTOR); the run's summary counts such passes.
 * Finite differences: fd = (L(p + h) - L(p - h)) / 2h with h = 1e-6 must
 * satisfy |fd - g| <= 1e-6 * max(|g|, |fd|, 1e-3) + the central difference's
 * own rounding noise, measured per unit (see check_finite_differences; with
 * h = 1e-6 a loss of 250 alone brings ~5e-8 of noise).
 *
 * relu kinks are avoided by design: before testing, the test computes every
 * relu pre-activation of the batch with the reference runtime (a Dense layer
 * truncated after the relu layer with a linear activation; for a SimpleRNN,
 * the states of the truncated model with return_sequences=1, from which
 * z_t = x_t K + h_{t-1} R + b follows) and redraws the weight perturbation
 * and the inputs until every non-zero pre-activation is at least 1e-4 from 0
 * (exact zeros come from all-zero inputs without bias and stay zero under any
 * perturbation). A step of 1e-6 then cannot cross a kink, nor can float32
 * rounding flip one.
 *
 * Usage: test_generated [SUBSTRING]   runs only the units whose name contains
 * SUBSTRING. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"
#include "rnnc_ref.h"
#include "models.h"

#define TOL_F64 1e-12
#define TOL_F32 1e-5
#define FD_H 1e-6
#define FD_TOL 1e-6
#define FD_FLOOR 1e-3
#define FD_NOISE_SIGMAS 6.0
#define RELU_MARGIN 1e-4
#define MAX_DRAWS 200
#define PERTURB 0.1
#define CANARY 7777.0
#define MAX_REPORTS 12
/* A tensor outside the tolerance still passes when its error is at most
 * SENS_FACTOR times the change of the reference itself when every weight and
 * input is perturbed by a random relative amount up to one unit roundoff of
 * the unit's dtype (2^-24 or 2^-53), maximised over N_PERTURBED draws: the
 * tensor is then ill-conditioned (a sum that cancels, e.g. the one-element
 * bias gradient of a 1-unit layer summed over timesteps), and the unit's own
 * rounding explains the error. The summary counts these passes. */
#define N_PERTURBED 2
#define SENS_FACTOR 64.0
#define N_REF (1 + N_PERTURBED)

/* ------------------------------------------------------------------ bookkeeping */

typedef struct {
  double err;
  char where[200];
} worst_t;

static worst_t worst_ref[2];   /* [0] float32, [1] float64 */
static worst_t worst_fd;       /* relative, as the tolerance reads */
static worst_t worst_fd_score; /* |fd - g| / (tolerance + noise allowance); <= 1 passes */
static worst_t worst_cond[2];  /* error / sensitivity of the passes by conditioning */
static long fd_checked, relu_redraws, cond_passes[2];

static void note_worst(worst_t *w, double err, const char *fmt, ...) {
  va_list ap;
  if (!(err > w->err)) /* callers map NaN to +Inf */
    return;
  w->err = err;
  va_start(ap, fmt);
  vsnprintf(w->where, sizeof w->where, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------ the spec */

#define MAX_LAYERS 16
#define MAX_LINE 512

typedef struct {
  char line[MAX_LINE];
  char name[128];
  int rnn;
  int units, relu, use_bias, return_sequences, go_backwards;
  int rows;        /* timesteps of a sequence input, 1 for a vector input */
  int in_features; /* last axis of the input */
  int in_rank;     /* per sample: 2 (T, F) or 1 (F) */
  int out_rank;
  size_t in_size, out_size;
  size_t kernel_off, recurrent_off, bias_off, end_off;
} slayer;

typedef struct {
  char input_line[MAX_LINE];
  int in_rank, in_shape[2];
  int n_layers;
  slayer layers[MAX_LAYERS];
  char loss[64]; /* "" when none */
} sspec;

/* Points at the value of " key=" in a layer line, or NULL. */
static const char *key_value(const char *line, const char *key) {
  char pat[64];
  const char *p;
  snprintf(pat, sizeof pat, " %s=", key);
  p = strstr(line, pat);
  return p ? p + strlen(pat) : NULL;
}

static int key_int(const char *line, const char *key, int *out) {
  const char *v = key_value(line, key);
  char *end;
  long x;
  if (!v)
    return -1;
  x = strtol(v, &end, 10);
  if (end == v)
    return -1;
  *out = (int)x;
  return 0;
}

/* Parses the spec (format in rnnc_ref.h); returns 0 or -1 with a message. */
static int parse_spec(const char *spec, sspec *s, char *err, size_t errlen) {
  const char *p = spec;
  int cur_rank = 0, cur[2] = {0, 0};
  size_t offset = 0;
  memset(s, 0, sizeof *s);
  while (*p) {
    char line[MAX_LINE];
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len >= sizeof line) {
      snprintf(err, errlen, "spec line too long");
      return -1;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p += len + (nl ? 1 : 0);
    if (strncmp(line, "input ", 6) == 0) {
      int n = sscanf(line + 6, "%d %d", &s->in_shape[0], &s->in_shape[1]);
      if (n < 1) {
        snprintf(err, errlen, "bad input line '%.120s'", line);
        return -1;
      }
      s->in_rank = n;
      cur_rank = n;
      cur[0] = s->in_shape[0];
      cur[1] = s->in_shape[1];
      memcpy(s->input_line, line, len + 1);
    } else if (strncmp(line, "layer ", 6) == 0) {
      slayer *L;
      char cls[64], act[32];
      const char *a;
      if (s->n_layers == MAX_LAYERS || cur_rank == 0) {
        snprintf(err, errlen, "too many layers or no input line");
        return -1;
      }
      L = &s->layers[s->n_layers++];
      memcpy(L->line, line, len + 1);
      if (sscanf(line, "layer %63s %127s", cls, L->name) != 2) {
        snprintf(err, errlen, "bad layer line '%.120s'", line);
        return -1;
      }
      L->rnn = strcmp(cls, "SimpleRNN") == 0;
      if (!L->rnn && strcmp(cls, "Dense") != 0) {
        snprintf(err, errlen, "unknown layer class '%s'", cls);
        return -1;
      }
      a = key_value(line, "activation");
      if (key_int(line, "units", &L->units) || key_int(line, "use_bias", &L->use_bias) || !a ||
          sscanf(a, "%31s", act) != 1) {
        snprintf(err, errlen, "layer line without units/use_bias/activation: '%.120s'", line);
        return -1;
      }
      L->relu = strcmp(act, "relu") == 0;
      if (L->rnn && (key_int(line, "return_sequences", &L->return_sequences) ||
                     key_int(line, "go_backwards", &L->go_backwards))) {
        snprintf(err, errlen, "SimpleRNN line without return_sequences/go_backwards: '%.120s'",
                 line);
        return -1;
      }
      L->in_rank = cur_rank;
      L->in_features = cur[cur_rank - 1];
      L->rows = cur_rank == 2 ? cur[0] : 1;
      L->in_size = (size_t)L->rows * (size_t)L->in_features;
      L->kernel_off = offset;
      offset += (size_t)L->in_features * (size_t)L->units;
      if (L->rnn) {
        L->recurrent_off = offset;
        offset += (size_t)L->units * (size_t)L->units;
        L->out_rank = L->return_sequences ? 2 : 1;
      } else {
        L->out_rank = cur_rank;
      }
      if (L->use_bias) {
        L->bias_off = offset;
        offset += (size_t)L->units;
      }
      L->end_off = offset;
      if (L->out_rank == 2) {
        cur[1] = L->units;
      } else {
        cur[0] = L->units;
      }
      cur_rank = L->out_rank;
      L->out_size = (size_t)L->units * (size_t)(cur_rank == 2 ? cur[0] : 1);
    } else if (strncmp(line, "loss ", 5) == 0) {
      snprintf(s->loss, sizeof s->loss, "%.60s", line + 5);
    }
  }
  if (s->n_layers == 0) {
    snprintf(err, errlen, "spec without layers");
    return -1;
  }
  return 0;
}

/* The spec of layers 0..k; layer k's line with `from` replaced by `to`. */
static char *truncated_spec(const sspec *s, int k, const char *from, const char *to) {
  size_t cap = 64 + strlen(s->input_line) + (size_t)(k + 1) * (MAX_LINE + 32);
  char *out = (char *)malloc(cap);
  int l;
  assert_non_null(out);
  snprintf(out, cap, "rnnc-spec 1\n%s\n", s->input_line);
  for (l = 0; l <= k; l++) {
    const char *line = s->layers[l].line;
    const char *hit = (l == k && from) ? strstr(line, from) : NULL;
    size_t used = strlen(out);
    if (hit)
      snprintf(out + used, cap - used, "%.*s%s%s\n", (int)(hit - line), line, to,
               hit + strlen(from));
    else
      snprintf(out + used, cap - used, "%s\n", line);
  }
  return out;
}

/* ------------------------------------------------------------------ the unit under test */

typedef struct {
  const rnnc_model *m;
  const char *file;
  int index;
} entry;

typedef struct {
  const rnnc_model *m;
  const char *file;
  int f64;
  size_t dsize;
  sspec spec;
  rnnc_ref *ref;
  int failures;
  /* worst relative errors of this unit, for its summary line */
  double w_fwd, w_loss, w_grad, w_dx, w_bwd, w_fd;
  double fd_noise; /* the finite differences' rounding noise allowance */
} ctx;

static void report(ctx *c, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  c->failures++;
  if (c->failures > MAX_REPORTS)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  print_error("%s (model file %s): %s\n", c->m->name, c->file, msg);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n > 0 ? n : 1);
  assert_non_null(p);
  return p;
}

static double *reals(size_t n) {
  double *p = (double *)calloc(n > 0 ? n : 1, sizeof(double));
  assert_non_null(p);
  return p;
}

/* Reals of the unit's dtype, as void *. */
static void *mreals(const ctx *c, size_t n) {
  void *p = calloc(n > 0 ? n : 1, c->dsize);
  assert_non_null(p);
  return p;
}

static double mget(const ctx *c, const void *a, size_t i) {
  return c->f64 ? ((const double *)a)[i] : (double)((const float *)a)[i];
}

static void mset(const ctx *c, void *a, size_t i, double v) {
  if (c->f64)
    ((double *)a)[i] = v;
  else
    ((float *)a)[i] = (float)v;
}

static void to_double(const ctx *c, const void *a, double *out, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    out[i] = mget(c, a, i);
}

/* Draws into the unit's dtype and keeps the exact values as doubles. */
static void draw_uniform(const ctx *c, rnnc_rng *rng, void *a, double *d, size_t n, double lo,
                         double hi) {
  size_t i;
  for (i = 0; i < n; i++) {
    mset(c, a, i, lo + (hi - lo) * rnnc_rng_uniform(rng));
    d[i] = mget(c, a, i);
  }
}

static void fill_value(const ctx *c, void *a, size_t from, size_t to, double v) {
  size_t i;
  for (i = from; i < to; i++)
    mset(c, a, i, v);
}

/* Entries [from, to) still hold the canary. */
static void check_untouched(ctx *c, const char *what, const void *a, size_t from, size_t to) {
  size_t i;
  for (i = from; i < to; i++) {
    if (mget(c, a, i) != CANARY) {
      report(c, "%s: wrote element %zu, past the n samples it was given (value %.17g)", what, i,
             mget(c, a, i));
      return;
    }
  }
}

static void poison(void *p, size_t bytes) {
  memset(p, 0xFF, bytes); /* all-ones: a NaN in float and in double */
}

/* Relative error (see the head of the file); NaN anywhere gives +Inf. */
static double rel_error(const double *a, const double *r, size_t n, size_t *at) {
  double md = 0.0, mr = 0.0;
  size_t i;
  *at = 0;
  for (i = 0; i < n; i++) {
    double d = fabs(a[i] - r[i]);
    if (d != d || fabs(a[i]) == INFINITY)
      d = INFINITY;
    if (d > md) {
      md = d;
      *at = i;
    }
    if (fabs(r[i]) > mr)
      mr = fabs(r[i]);
  }
  if (md == INFINITY)
    return INFINITY;
  return md / (mr > 1e-30 ? mr : 1e-30);
}

static double dmax(double a, double b) {
  return a > b ? a : b;
}

/* Compares a tensor with the reference r[0] (r[1..N_PERTURBED]: the reference
 * at weights and inputs perturbed by one rounding, see draw_perturbed);
 * returns the relative error. */
static double check_close(ctx *c, const char *what, int n, const double *a, const double *const *r,
                          size_t offset, size_t count) {
  size_t at, i;
  int k;
  double tol = c->f64 ? TOL_F64 : TOL_F32;
  double e = rel_error(a, r[0] + offset, count, &at);
  double diff = count ? fabs(a[at] - r[0][offset + at]) : 0.0, sens = 0.0;
  note_worst(&worst_ref[c->f64], e, "%s (%s) %s n=%d", c->m->name, c->file, what, n);
  if (e <= tol)
    return e;
  for (k = 1; k <= N_PERTURBED; k++)
    for (i = 0; i < count; i++)
      sens = dmax(sens, fabs(r[k][offset + i] - r[0][offset + i]));
  if (diff <= SENS_FACTOR * sens) {
    /* ill-conditioned (cancellation): within what rounding does to the reference */
    cond_passes[c->f64]++;
    note_worst(&worst_cond[c->f64], diff / sens, "%s (%s) %s n=%d: relative error %.3g", c->m->name,
               c->file, what, n, e);
    return e;
  }
  report(c,
         "%s (n=%d): relative error %.3g > %.0e (and %.3g times the reference's own change "
         "under one rounding of weights and inputs, > %g); worst element %zu of %zu: unit "
         "%.17g, reference %.17g",
         what, n, e, tol, sens > 0 ? diff / sens : INFINITY, SENS_FACTOR, at, count,
         count ? a[at] : 0.0, count ? r[0][offset + at] : 0.0);
  return e;
}

/* Each parameter tensor of a gradient against the reference. */
static double check_grad_tensors(ctx *c, const char *what, int n, const double *g,
                                 const double *const *gref) {
  int t;
  double worst = 0.0;
  for (t = 0; t < c->m->n_tensors; t++) {
    const rnnc_tensor_desc *d = &c->m->tensors[t];
    char label[256];
    snprintf(label, sizeof label, "%s d/d %s", what, d->name);
    worst = dmax(worst, check_close(c, label, n, g + d->offset, gref, d->offset, d->size));
  }
  return worst;
}

/* ------------------------------------------------------------------ descriptor checks */

static void check_descriptor(ctx *c) {
  const rnnc_model *m = c->m;
  const sspec *s = &c->spec;
  const slayer *last = &s->layers[s->n_layers - 1];
  size_t prod = 1, off = 0;
  int i, t = 0, l;

  if ((c->f64 && m->dtype != RNNC_F64) || (!c->f64 && m->dtype != RNNC_F32))
    report(c, "dtype %d does not match the unit's name", (int)m->dtype);
  if (m->batch < 1)
    report(c, "batch %d", m->batch);
  if (m->input_rank != s->in_rank)
    report(c, "input_rank %d, spec input rank %d", m->input_rank, s->in_rank);
  for (i = 0; i < m->input_rank && i < 2; i++) {
    if (m->input_shape[i] != s->in_shape[i])
      report(c, "input_shape[%d] = %d, spec says %d", i, m->input_shape[i], s->in_shape[i]);
    prod *= (size_t)m->input_shape[i];
  }
  if (m->input_size != prod || m->input_size != rnnc_ref_input_size(c->ref))
    report(c, "input_size %zu, shape product %zu, reference %zu", m->input_size, prod,
           rnnc_ref_input_size(c->ref));
  prod = 1;
  for (i = 0; i < m->output_rank && i < RNNC_MAX_RANK; i++)
    prod *= (size_t)m->output_shape[i];
  if (m->output_rank != last->out_rank || m->output_size != prod ||
      m->output_size != rnnc_ref_output_size(c->ref))
    report(c, "output rank %d / size %zu (shape product %zu), reference rank %d / size %zu",
           m->output_rank, m->output_size, prod, last->out_rank, rnnc_ref_output_size(c->ref));
  if (m->output_rank >= 1 && m->output_shape[m->output_rank - 1] != last->units)
    report(c, "output_shape ends in %d, the last layer has %d units",
           m->output_shape[m->output_rank - 1], last->units);
  if (m->output_cols != (size_t)last->units)
    report(c, "output_cols %zu, the last layer has %d units", m->output_cols, last->units);
  if (m->n_outputs != 1) {
    report(c, "n_outputs %d for a Sequential model", m->n_outputs);
  } else {
    const rnnc_output_desc *o = &m->outputs[0];
    int same = o->rank == m->output_rank && o->offset == 0 && o->size == m->output_size;
    for (i = 0; same && i < o->rank && i < RNNC_MAX_RANK; i++)
      same = o->shape[i] == m->output_shape[i];
    if (!same)
      report(c,
             "outputs[0] (rank %d, offset %zu, size %zu) differs from output_rank %d / "
             "output_size %zu",
             o->rank, o->offset, o->size, m->output_rank, m->output_size);
  }
  if (m->output_rows * (size_t)last->units != m->output_size)
    report(c, "output_rows %zu x %d units != output_size %zu", m->output_rows, last->units,
           m->output_size);
  if (m->target_size != rnnc_ref_target_size(c->ref))
    report(c, "target_size %zu, reference %zu", m->target_size, rnnc_ref_target_size(c->ref));
  if (m->n_params != rnnc_ref_n_params(c->ref))
    report(c, "n_params %zu, reference %zu", m->n_params, rnnc_ref_n_params(c->ref));
  if (m->params_bytes != m->n_params * c->dsize)
    report(c, "params_bytes %zu for %zu params", m->params_bytes, m->n_params);
  if (strcmp(s->loss, "mse") == 0) {
    if (m->loss != RNNC_LOSS_MSE || m->target_size != m->output_size)
      report(c, "spec loss mse, descriptor loss %d, target_size %zu", (int)m->loss, m->target_size);
  } else if (strcmp(s->loss, "sparse_categorical_crossentropy") == 0) {
    if (m->loss != RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY || m->target_size != m->output_rows)
      report(c, "spec loss sparse_categorical_crossentropy, descriptor loss %d, target_size %zu",
             (int)m->loss, m->target_size);
  } else {
    report(c, "spec loss '%s' is not one the random models use", s->loss);
  }
  if (m->optimizer.kind != RNNC_OPT_ADAM)
    report(c, "optimizer kind %d, the model file asks for Adam", (int)m->optimizer.kind);
  if (m->init == NULL || m->forward == NULL || m->backward == NULL || m->loss_grad == NULL ||
      m->train_step == NULL || m->summary == NULL)
    report(c, "a descriptor function or text is NULL");

  /* Tensors: the reference runtime's layout, in Keras's names and order. */
  for (l = 0; l < s->n_layers; l++) {
    const slayer *L = &s->layers[l];
    const char *suffix[3] = {"kernel", "recurrent_kernel", "bias"};
    size_t offs[3] = {L->kernel_off, L->recurrent_off, L->bias_off};
    int k;
    for (k = 0; k < 3; k++) {
      char name[200];
      const rnnc_tensor_desc *d;
      int rank = k == 2 ? 1 : 2;
      int s0 = k == 0 ? L->in_features : L->units, s1 = L->units;
      if ((k == 1 && !L->rnn) || (k == 2 && !L->use_bias))
        continue;
      snprintf(name, sizeof name, "%s/%s", L->name, suffix[k]);
      if (t >= m->n_tensors) {
        report(c, "tensor %s missing (%d tensors)", name, m->n_tensors);
        return;
      }
      d = &m->tensors[t++];
      if (strcmp(d->name, name) != 0 || d->rank != rank || d->shape[0] != s0 ||
          (rank == 2 && d->shape[1] != s1) || d->offset != offs[k] ||
          d->size != (size_t)s0 * (rank == 2 ? (size_t)s1 : 1) || d->offset != off)
        report(c,
               "tensor %d is %s rank %d shape (%d, %d) offset %zu size %zu; expected %s rank %d "
               "shape (%d, %d) offset %zu",
               t - 1, d->name, d->rank, d->shape[0], d->rank > 1 ? d->shape[1] : 0, d->offset,
               d->size, name, rank, s0, rank == 2 ? s1 : 0, offs[k]);
      off = d->offset + d->size;
    }
  }
  if (t != m->n_tensors || off != m->n_params)
    report(c, "%d tensors covering %zu params; expected %d covering %zu", m->n_tensors, off, t,
           m->n_params);
}

/* init: reproducible, and each tensor what its initializer promises. */
static void check_init(ctx *c, void *p, uint64_t seed) {
  const rnnc_model *m = c->m;
  void *q = xmalloc(m->params_bytes);
  int t;
  m->init(p, seed);
  m->init(q, seed);
  if (memcmp(p, q, m->params_bytes) != 0)
    report(c, "init is not reproducible from its seed");
  for (t = 0; t < m->n_tensors; t++) {
    const rnnc_tensor_desc *d = &m->tensors[t];
    size_t i;
    if (d->init == RNNC_INIT_ZEROS) {
      for (i = 0; i < d->size; i++)
        if (mget(c, p, d->offset + i) != 0.0) {
          report(c, "init: %s should be zeros, element %zu is %g", d->name, i,
                 mget(c, p, d->offset + i));
          break;
        }
    } else if (d->init == RNNC_INIT_GLOROT_UNIFORM && d->rank == 2) {
      double limit = sqrt(6.0 / (double)(d->shape[0] + d->shape[1])) * (1 + 1e-6);
      int nonzero = 0;
      for (i = 0; i < d->size; i++) {
        double v = mget(c, p, d->offset + i);
        nonzero |= v != 0.0;
        if (!(fabs(v) <= limit)) {
          report(c, "init: %s element %zu = %g outside the glorot limit %g", d->name, i, v, limit);
          break;
        }
      }
      if (!nonzero)
        report(c, "init: %s is all zeros", d->name);
    } else if (d->init == RNNC_INIT_ORTHOGONAL && d->rank == 2 && d->shape[0] == d->shape[1]) {
      int U = d->shape[0], a, b, k;
      double worst = 0.0;
      for (a = 0; a < U; a++)
        for (b = 0; b < U; b++) {
          double dot = 0.0;
          for (k = 0; k < U; k++)
            dot += mget(c, p, d->offset + (size_t)a * U + k) *
                   mget(c, p, d->offset + (size_t)b * U + k);
          worst = dmax(worst, fabs(dot - (a == b ? 1.0 : 0.0)));
        }
      if (!(worst <= (c->f64 ? 1e-12 : 1e-5) * U))
        report(c, "init: %s is not orthogonal (|W W^T - I| = %g)", d->name, worst);
    }
  }
  free(q);
}

/* ------------------------------------------------------------------ relu kinks */

/* Smallest |pre-activation| over every relu unit of the first n samples
 * (exact zeros skipped, see the head of the file); +Inf without relu. */
static double relu_margin(ctx *c, const double *p, const double *x, int n) {
  const sspec *s = &c->spec;
  double margin = INFINITY;
  int k;
  for (k = 0; k < s->n_layers; k++) {
    const slayer *L = &s->layers[k];
    double *in = NULL, *out;
    const double *xin = x;
    rnnc_ref *r;
    char *text, err[256];
    size_t i;
    int smp;
    if (!L->relu)
      continue;
    if (k > 0) {
      text = truncated_spec(s, k - 1, NULL, NULL);
      r = rnnc_ref_new(text, err, sizeof err);
      if (!r)
        fail_msg("probe spec: %s\n%s", err, text);
      in = reals((size_t)n * rnnc_ref_output_size(r));
      assert_int_equal(rnnc_ref_forward(r, p, x, n, in), 0);
      rnnc_ref_free(r);
      free(text);
      xin = in;
    }
    text = L->rnn ? truncated_spec(s, k, " return_sequences=0", " return_sequences=1")
                  : truncated_spec(s, k, " activation=relu", " activation=linear");
    r = rnnc_ref_new(text, err, sizeof err);
    if (!r)
      fail_msg("probe spec: %s\n%s", err, text);
    out = reals((size_t)n * rnnc_ref_output_size(r));
    assert_int_equal(rnnc_ref_forward(r, p, x, n, out), 0);
    if (!L->rnn) {
      for (i = 0; i < (size_t)n * L->out_size; i++)
        if (out[i] != 0.0 && fabs(out[i]) < margin)
          margin = fabs(out[i]);
    } else {
      int T = L->rows, F = L->in_features, U = L->units, t, u, v;
      for (smp = 0; smp < n; smp++) {
        const double *xs = xin + (size_t)smp * L->in_size;
        const double *h = out + (size_t)smp * (size_t)T * U; /* processing order */
        for (t = 0; t < T; t++) {
          const double *xt = xs + (size_t)(L->go_backwards ? T - 1 - t : t) * F;
          for (u = 0; u < U; u++) {
            double z = L->use_bias ? p[L->bias_off + u] : 0.0;
            for (v = 0; v < F; v++)
              z += xt[v] * p[L->kernel_off + (size_t)v * U + u];
            if (t > 0)
              for (v = 0; v < U; v++)
                z += h[(size_t)(t - 1) * U + v] * p[L->recurrent_off + (size_t)v * U + u];
            if (z != 0.0 && fabs(z) < margin)
              margin = fabs(z);
          }
        }
      }
    }
    rnnc_ref_free(r);
    free(text);
    free(out);
    free(in);
  }
  return margin;
}

/* ------------------------------------------------------------------ one unit */

typedef struct {
  void *p;                 /* unit parameters */
  double *pd;              /* the same, as doubles */
  void *x, *target;        /* batch x input_size, batch x target_size */
  double *xd, *td;         /* the same, as doubles */
  void *scratch, *opt;     /* scratch_bytes, opt_state_bytes */
  void *y, *dx, *ypred;    /* batch + 1 samples: the extra one holds canaries */
  void *grad, *grad2, *dy; /* n_params, n_params, batch x output_size */
  double *yd, *dxd, *gd, *dyd;
  /* reference results: [0] exact, [1..N_PERTURBED] perturbed by one rounding */
  double *ry[N_REF], *rdx[N_REF], *rg[N_REF], rloss[N_REF];
  double *pp, *xp, *dyp; /* perturbed weights, inputs and dy */
} bufs;

static void draw_targets(ctx *c, rnnc_rng *rng, bufs *b) {
  const rnnc_model *m = c->m;
  size_t i, n = (size_t)m->batch * m->target_size;
  if (m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
    size_t cols = m->output_size / m->output_rows;
    for (i = 0; i < n; i++) {
      mset(c, b->target, i, (double)rnnc_rng_below(rng, cols));
      b->td[i] = mget(c, b->target, i);
    }
  } else {
    draw_uniform(c, rng, b->target, b->td, n, -1.0, 1.0);
  }
}

/* Parameters p0 plus a perturbation, inputs and targets; redrawn until no
 * relu pre-activation is within RELU_MARGIN of its kink. */
static void draw_data(ctx *c, bufs *b, const void *p0, uint64_t seed) {
  const rnnc_model *m = c->m;
  int attempt;
  double margin = 0.0;
  for (attempt = 0; attempt < MAX_DRAWS; attempt++) {
    rnnc_rng rng;
    size_t i;
    rnnc_rng_seed(&rng, seed + 1000003ULL * (uint64_t)attempt);
    for (i = 0; i < m->n_params; i++) {
      mset(c, b->p, i, mget(c, p0, i) + PERTURB * (2.0 * rnnc_rng_uniform(&rng) - 1.0));
      b->pd[i] = mget(c, b->p, i);
    }
    draw_uniform(c, &rng, b->x, b->xd, (size_t)m->batch * m->input_size, -1.0, 1.0);
    draw_targets(c, &rng, b);
    margin = relu_margin(c, b->pd, b->xd, m->batch);
    if (margin >= RELU_MARGIN)
      break;
    relu_redraws++;
  }
  if (margin < RELU_MARGIN)
    report(c, "no draw in %d keeps the relu pre-activations %g away from 0 (last %g)", MAX_DRAWS,
           RELU_MARGIN, margin);
}

/* Weights, inputs and dy times (1 + u r), r uniform in [-1, 1], u the unit
 * roundoff of the unit's dtype. */
static void draw_perturbed(const ctx *c, bufs *b, rnnc_rng *rng, size_t nx, size_t ndy) {
  double u = c->f64 ? DBL_EPSILON / 2 : FLT_EPSILON / 2;
  size_t i;
  for (i = 0; i < c->m->n_params; i++)
    b->pp[i] = b->pd[i] * (1.0 + u * (2.0 * rnnc_rng_uniform(rng) - 1.0));
  for (i = 0; i < nx; i++)
    b->xp[i] = b->xd[i] * (1.0 + u * (2.0 * rnnc_rng_uniform(rng) - 1.0));
  for (i = 0; i < ndy; i++)
    b->dyp[i] = b->dyd[i] * (1.0 + u * (2.0 * rnnc_rng_uniform(rng) - 1.0));
}

static void check_forward(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t out = (size_t)n * m->output_size;
  int k;
  fill_value(c, b->y, 0, (size_t)(m->batch + 1) * m->output_size, CANARY);
  poison(b->scratch, m->scratch_bytes);
  m->forward(b->p, b->scratch, b->x, b->y, n);
  check_untouched(c, "forward y", b->y, out, (size_t)(m->batch + 1) * m->output_size);
  to_double(c, b->y, b->yd, out);
  for (k = 0; k < N_REF; k++) {
    if (k > 0)
      draw_perturbed(c, b, rng, (size_t)n * m->input_size, 0);
    assert_int_equal(rnnc_ref_forward(c->ref, k ? b->pp : b->pd, k ? b->xp : b->xd, n, b->ry[k]),
                     0);
  }
  c->w_fwd =
      dmax(c->w_fwd, check_close(c, "forward y", n, b->yd, (const double *const *)b->ry, 0, out));
}

static double check_loss_grad(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t in = (size_t)n * m->input_size, out = (size_t)n * m->output_size;
  size_t in_all = (size_t)(m->batch + 1) * m->input_size;
  size_t out_all = (size_t)(m->batch + 1) * m->output_size;
  double loss, loss2, e;
  size_t i;
  int k;

  fill_value(c, b->grad, 0, m->n_params, NAN);
  fill_value(c, b->dx, 0, in_all, CANARY);
  fill_value(c, b->ypred, 0, out_all, CANARY);
  for (i = 0; i < in; i++)
    mset(c, b->dx, i, NAN);
  poison(b->scratch, m->scratch_bytes);
  loss = m->loss_grad(b->p, b->scratch, b->x, b->target, b->grad, b->dx, b->ypred, n);
  check_untouched(c, "loss_grad dx", b->dx, in, in_all);
  check_untouched(c, "loss_grad y_pred", b->ypred, out, out_all);

  for (k = 0; k < N_REF; k++) {
    if (k > 0)
      draw_perturbed(c, b, rng, in, 0);
    b->rloss[k] = rnnc_ref_loss_grad(c->ref, k ? b->pp : b->pd, k ? b->xp : b->xd, b->td, n,
                                     b->rg[k], b->rdx[k], b->ry[k]);
  }
  {
    const double *rl[N_REF];
    for (k = 0; k < N_REF; k++)
      rl[k] = &b->rloss[k];
    e = check_close(c, "loss_grad loss", n, &loss, rl, 0, 1);
  }
  c->w_loss = dmax(c->w_loss, e);
  to_double(c, b->ypred, b->yd, out);
  c->w_fwd = dmax(
      c->w_fwd, check_close(c, "loss_grad y_pred", n, b->yd, (const double *const *)b->ry, 0, out));
  to_double(c, b->grad, b->gd, m->n_params);
  c->w_grad =
      dmax(c->w_grad, check_grad_tensors(c, "loss_grad", n, b->gd, (const double *const *)b->rg));
  to_double(c, b->dx, b->dxd, in);
  c->w_dx = dmax(c->w_dx,
                 check_close(c, "loss_grad dx", n, b->dxd, (const double *const *)b->rdx, 0, in));

  /* Without dx and y_pred: the same loss and gradient, bit for bit. */
  fill_value(c, b->grad2, 0, m->n_params, NAN);
  poison(b->scratch, m->scratch_bytes);
  loss2 = m->loss_grad(b->p, b->scratch, b->x, b->target, b->grad2, NULL, NULL, n);
  if (memcmp(&loss, &loss2, sizeof loss) != 0 ||
      memcmp(b->grad, b->grad2, m->n_params * c->dsize) != 0)
    report(c, "loss_grad with dx = y_pred = NULL differs from loss_grad with them (n=%d)", n);
  return loss;
}

static void check_backward(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t in = (size_t)n * m->input_size, out = (size_t)n * m->output_size;
  size_t in_all = (size_t)(m->batch + 1) * m->input_size;
  int k;
  draw_uniform(c, rng, b->dy, b->dyd, out, -1.0, 1.0);
  poison(b->scratch, m->scratch_bytes);
  m->forward(b->p, b->scratch, b->x, b->y, n);
  fill_value(c, b->grad, 0, m->n_params, NAN);
  fill_value(c, b->dx, 0, in_all, CANARY);
  fill_value(c, b->dx, 0, in, NAN);
  m->backward(b->p, b->scratch, b->dy, b->grad, b->dx, n);
  check_untouched(c, "backward dx", b->dx, in, in_all);
  for (k = 0; k < N_REF; k++) {
    if (k > 0)
      draw_perturbed(c, b, rng, in, out);
    assert_int_equal(rnnc_ref_backward(c->ref, k ? b->pp : b->pd, k ? b->xp : b->xd,
                                       k ? b->dyp : b->dyd, n, b->rg[k], b->rdx[k]),
                     0);
  }
  to_double(c, b->grad, b->gd, m->n_params);
  c->w_bwd =
      dmax(c->w_bwd, check_grad_tensors(c, "backward(dy)", n, b->gd, (const double *const *)b->rg));
  to_double(c, b->dx, b->dxd, in);
  c->w_bwd = dmax(
      c->w_bwd, check_close(c, "backward(dy) dx", n, b->dxd, (const double *const *)b->rdx, 0, in));
}

/* float64 only: central differences of loss_grad's loss. Every element is
 * also evaluated at +-2h: the fourth difference
 *   L(+2h) - 4 L(+h) + 6 L(0) - 4 L(-h) + L(-2h)
 * is h^4 times the fourth derivative (negligible) plus the loss's rounding
 * noise, with variance 70 sigma^2 for a noise of deviation sigma. Pooled over
 * the unit's elements it estimates sigma (taken at least eps |L|, one rounding
 * of the loss itself), and the central difference's own noise,
 * sigma / (h sqrt 2), is allowed FD_NOISE_SIGMAS times on top of the
 * tolerance: a unit with a large loss (a linear SimpleRNN over 29 steps has a
 * loss ~250, so eps L / h ~ 5e-8) cannot be checked to 1e-9 with h = 1e-6.
 * Each unit's summary line shows that allowance. */
static void check_finite_differences(ctx *c, bufs *b, int n) {
  const rnnc_model *m = c->m;
  double *p = (double *)b->p, *x = (double *)b->x;
  size_t in = (size_t)n * m->input_size, total = m->n_params + in, i, k = 0;
  double *g = reals(m->n_params), *dx = reals(in);
  double *fd = reals(total), *gk = reals(total), *d4 = reals(total);
  double *gtmp = (double *)b->grad2, l0, sum4 = 0.0, noise;
  int t, reported = 0;

  l0 = m->loss_grad(p, b->scratch, x, b->target, g, dx, NULL, n);
  for (t = 0; t <= m->n_tensors; t++) {
    /* the parameter tensors, then (t == n_tensors) the input */
    int is_x = t == m->n_tensors;
    double *v = is_x ? x : p + m->tensors[t].offset;
    const double *gv = is_x ? dx : g + m->tensors[t].offset;
    size_t count = is_x ? in : m->tensors[t].size;
    for (i = 0; i < count; i++, k++) {
      static const double at[4] = {1.0, -1.0, 2.0, -2.0};
      double save = v[i], l[4];
      int j;
      for (j = 0; j < 4; j++) {
        v[i] = save + at[j] * FD_H;
        l[j] = m->loss_grad(p, b->scratch, x, b->target, gtmp, NULL, NULL, n);
      }
      v[i] = save;
      fd[k] = (l[0] - l[1]) / (2 * FD_H);
      gk[k] = gv[i];
      d4[k] = l[2] - 4 * l[0] + 6 * l0 - 4 * l[1] + l[3];
      sum4 += d4[k] * d4[k];
    }
  }
  noise = dmax(sqrt(sum4 / (70.0 * (double)total)), DBL_EPSILON * fabs(l0)) / (FD_H * sqrt(2.0));
  if (noise != noise)
    noise = INFINITY;
  c->fd_noise = FD_NOISE_SIGMAS * noise;

  k = 0;
  for (t = 0; t <= m->n_tensors; t++) {
    int is_x = t == m->n_tensors;
    const char *tname = is_x ? "x" : m->tensors[t].name;
    size_t count = is_x ? in : m->tensors[t].size;
    for (i = 0; i < count; i++, k++) {
      double diff = fabs(fd[k] - gk[k]);
      double scale = dmax(dmax(fabs(gk[k]), fabs(fd[k])), FD_FLOOR);
      double e = diff / scale, score = diff / (FD_TOL * scale + c->fd_noise);
      if (e != e || score != score)
        e = score = INFINITY;
      fd_checked++;
      c->w_fd = dmax(c->w_fd, e);
      note_worst(&worst_fd, e, "%s (%s) %s[%zu] n=%d", m->name, c->file, tname, i, n);
      note_worst(&worst_fd_score, score, "%s (%s) %s[%zu] n=%d", m->name, c->file, tname, i, n);
      if (!(score <= 1.0) && reported++ < 4)
        report(c,
               "finite differences (n=%d): d loss / d %s[%zu]: loss_grad %.12g, central "
               "difference %.12g: |difference| %.3g > %.0e x %.3g + rounding noise allowance "
               "%.3g",
               n, tname, i, gk[k], fd[k], diff, FD_TOL, scale, c->fd_noise);
    }
  }
  free(g);
  free(dx);
  free(fd);
  free(gk);
  free(d4);
}

static void optimizer_step(ctx *c, void *w, const void *g, void *slots, long step) {
  if (c->f64)
    rnnc_optimizer_step_f64(&c->m->optimizer, (double *)w, (const double *)g, (double *)slots,
                            c->m->n_params, step);
  else
    rnnc_optimizer_step_f32(&c->m->optimizer, (float *)w, (const float *)g, (float *)slots,
                            c->m->n_params, step);
}

/* Expects train_step to return NaN and leave params and state alone. */
static void expect_refused(ctx *c, bufs *b, void *pw, const void *x, const void *target, int n,
                           const char *what) {
  const rnnc_model *m = c->m;
  void *p_before = xmalloc(m->params_bytes), *o_before = xmalloc(m->opt_state_bytes);
  double r;
  memcpy(p_before, pw, m->params_bytes);
  memcpy(o_before, b->opt, m->opt_state_bytes);
  r = m->train_step(pw, b->opt, b->scratch, x, target, NULL, n);
  if (r == r)
    report(c, "train_step with %s returned %.17g, not NaN (n=%d)", what, r, n);
  if (memcmp(p_before, pw, m->params_bytes) != 0)
    report(c, "train_step with %s changed the parameters (n=%d)", what, n);
  if (memcmp(o_before, b->opt, m->opt_state_bytes) != 0)
    report(c, "train_step with %s changed the optimizer state (n=%d)", what, n);
  free(p_before);
  free(o_before);
}

static void check_train_step(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t P = m->n_params, out = (size_t)n * m->output_size, i, changed = 0, nonzero = 0;
  size_t slots_n = rnnc_optimizer_slots(&m->optimizer, P);
  void *pw = xmalloc(m->params_bytes), *pe = xmalloc(m->params_bytes);
  void *slots = mreals(c, slots_n), *g = mreals(c, P);
  void *xbad = mreals(c, (size_t)m->batch * m->input_size);
  void *tbad = mreals(c, (size_t)m->batch * m->target_size);
  long step;

  memset(b->opt, 0, m->opt_state_bytes);
  memcpy(pw, b->p, m->params_bytes);
  memcpy(pe, b->p, m->params_bytes);
  for (step = 1; step <= 2; step++) {
    double expect, got;
    poison(b->scratch, m->scratch_bytes);
    expect = m->loss_grad(pe, b->scratch, b->x, b->target, g, NULL, NULL, n);
    optimizer_step(c, pe, g, slots, step);
    poison(b->scratch, m->scratch_bytes);
    fill_value(c, b->ypred, 0, (size_t)(m->batch + 1) * m->output_size, CANARY);
    got = m->train_step(pw, b->opt, b->scratch, b->x, b->target, b->ypred, n);
    if (memcmp(&got, &expect, sizeof got) != 0)
      report(c, "train_step %ld returned %.17g, loss_grad says %.17g (n=%d)", step, got, expect, n);
    if (memcmp(pw, pe, m->params_bytes) != 0)
      report(c, "train_step %ld: parameters differ from loss_grad + rnnc_optimizer_step (n=%d)",
             step, n);
    check_untouched(c, "train_step y_pred", b->ypred, out, (size_t)(m->batch + 1) * m->output_size);
    if (step == 1) {
      /* y_pred is the forward output at the parameters before the step */
      m->forward(b->p, b->scratch, b->x, b->y, n);
      if (memcmp(b->y, b->ypred, out * c->dsize) != 0)
        report(c, "train_step y_pred differs from forward (n=%d)", n);
      /* (a one-unit softmax has an all-zero gradient: nothing moves) */
      for (i = 0; i < P; i++) {
        changed += mget(c, pw, i) != mget(c, b->p, i);
        nonzero += mget(c, g, i) != 0.0;
      }
      if (changed == 0 && nonzero > 0)
        report(c, "train_step did not change any parameter (n=%d)", n);
    }
  }

  /* NaN in x: refused. */
  memcpy(xbad, b->x, (size_t)m->batch * m->input_size * c->dsize);
  mset(c, xbad, (size_t)rnnc_rng_below(rng, (uint64_t)n * m->input_size), NAN);
  expect_refused(c, b, pw, xbad, b->target, n, "a NaN in x");
  /* A NaN target (mse) or a label out of range: refused. */
  memcpy(tbad, b->target, (size_t)m->batch * m->target_size * c->dsize);
  i = (size_t)rnnc_rng_below(rng, (uint64_t)n * m->target_size);
  if (m->loss == RNNC_LOSS_MSE) {
    mset(c, tbad, i, NAN);
    expect_refused(c, b, pw, b->x, tbad, n, "a NaN target");
  } else {
    mset(c, tbad, i, (double)(m->output_size / m->output_rows));
    expect_refused(c, b, pw, b->x, tbad, n, "a label equal to the class count");
    mset(c, tbad, i, -1.0);
    expect_refused(c, b, pw, b->x, tbad, n, "the label -1");
  }
  free(pw);
  free(pe);
  free(slots);
  free(g);
  free(xbad);
  free(tbad);
}

static uint64_t hash_str(const char *s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static void test_model(void **state) {
  const entry *en = (const entry *)*state;
  const rnnc_model *m = en->m;
  ctx c;
  bufs b;
  char err[256];
  void *p0;
  rnnc_rng rng;
  /* from the model file's base name: the data depend on SEED and the model
   * only (not OUTDIR), and the float32 and float64 twins share them */
  const char *base = strrchr(en->file, '/');
  uint64_t seed = hash_str(base ? base + 1 : en->file);
  int ns[2], k, n_count;
  size_t out_all, in_all;

  memset(&c, 0, sizeof c);
  memset(&b, 0, sizeof b);
  c.m = m;
  c.file = en->file;
  c.f64 = m->dtype == RNNC_F64;
  c.dsize = c.f64 ? sizeof(double) : sizeof(float);
  if (parse_spec(m->spec, &c.spec, err, sizeof err) != 0)
    fail_msg("%s (model file %s): cannot parse its spec: %s\n%s", m->name, en->file, err, m->spec);
  c.ref = rnnc_ref_new(m->spec, err, sizeof err);
  if (!c.ref)
    fail_msg("%s (model file %s): the reference runtime refuses its spec: %s\n%s", m->name,
             en->file, err, m->spec);
  check_descriptor(&c);
  if (c.failures)
    fail_msg("%s (model file %s): the descriptor does not match the spec; not running it", m->name,
             en->file);

  out_all = (size_t)(m->batch + 1) * m->output_size;
  in_all = (size_t)(m->batch + 1) * m->input_size;
  b.p = xmalloc(m->params_bytes);
  b.pd = reals(m->n_params);
  b.x = mreals(&c, in_all);
  b.xd = reals(in_all);
  b.target = mreals(&c, (size_t)m->batch * m->target_size);
  b.td = reals((size_t)m->batch * m->target_size);
  b.scratch = xmalloc(m->scratch_bytes);
  b.opt = xmalloc(m->opt_state_bytes);
  b.y = mreals(&c, out_all);
  b.ypred = mreals(&c, out_all);
  b.dx = mreals(&c, in_all);
  b.grad = mreals(&c, m->n_params);
  b.grad2 = mreals(&c, m->n_params);
  b.dy = mreals(&c, out_all);
  b.yd = reals(out_all);
  b.dxd = reals(in_all);
  b.gd = reals(m->n_params);
  b.dyd = reals(out_all);
  for (k = 0; k < N_REF; k++) {
    b.ry[k] = reals(out_all);
    b.rdx[k] = reals(in_all);
    b.rg[k] = reals(m->n_params);
  }
  b.pp = reals(m->n_params);
  b.xp = reals(in_all);
  b.dyp = reals(out_all);
  p0 = xmalloc(m->params_bytes);

  check_init(&c, p0, seed);
  draw_data(&c, &b, p0, seed ^ 0x5DEECE66DULL);

  rnnc_rng_seed(&rng, seed + 17);
  ns[0] = 1 + (int)rnnc_rng_below(&rng, (uint64_t)m->batch);
  ns[1] = m->batch;
  n_count = ns[0] == ns[1] ? 1 : 2;
  for (k = 0; k < n_count; k++) {
    check_forward(&c, &b, ns[k], &rng);
    check_loss_grad(&c, &b, ns[k], &rng);
    check_backward(&c, &b, ns[k], &rng);
  }
  if (c.f64)
    check_finite_differences(&c, &b, ns[0]);
  check_train_step(&c, &b, ns[0], &rng);

  print_message("      %s: %zu params, batch %d, n = %d%s%s: relative errors forward %.1e loss "
                "%.1e grad %.1e dx %.1e backward %.1e%s",
                m->name, m->n_params, m->batch, ns[0], n_count > 1 ? " and " : "",
                n_count > 1 ? "batch" : "", c.w_fwd, c.w_loss, c.w_grad, c.w_dx, c.w_bwd,
                c.f64 ? "" : "\n");
  if (c.f64)
    print_message(", finite differences %.1e (noise allowance %.1e)\n", c.w_fd, c.fd_noise);

  rnnc_ref_free(c.ref);
  {
    void *all[] = {p0,    b.p,  b.pd,    b.x,  b.xd,   b.target, b.td, b.scratch,
                   b.opt, b.y,  b.ypred, b.dx, b.grad, b.grad2,  b.dy, b.yd,
                   b.dxd, b.gd, b.dyd,   b.pp, b.xp,   b.dyp};
    size_t i;
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
      free(all[i]);
    for (k = 0; k < N_REF; k++) {
      free(b.ry[k]);
      free(b.rdx[k]);
      free(b.rg[k]);
    }
  }
  if (c.failures)
    fail_msg("%s (model file %s): %d check(s) failed%s", m->name, en->file, c.failures,
             c.failures > MAX_REPORTS ? " (only the first ones are shown)" : "");
}

int main(int argc, char **argv) {
  struct CMUnitTest *tests;
  entry *entries;
  int i, count = 0, status;
  const char *filter = argc > 1 ? argv[1] : NULL;

  tests = (struct CMUnitTest *)calloc((size_t)rnnc_test_model_count + 1, sizeof *tests);
  entries = (entry *)calloc((size_t)rnnc_test_model_count + 1, sizeof *entries);
  if (!tests || !entries)
    return 2;
  for (i = 0; i < rnnc_test_model_count; i++) {
    const rnnc_model *m = rnnc_test_models[i];
    const char *file = rnnc_test_model_files[i];
    size_t len = strlen(m->name) + strlen(file) + 16;
    char *name;
    if (filter && !strstr(m->name, filter))
      continue;
    name = (char *)malloc(len);
    if (!name)
      return 2;
    snprintf(name, len, "%s (%s)", m->name, file);
    entries[count].m = m;
    entries[count].file = file;
    entries[count].index = i;
    tests[count].name = name;
    tests[count].test_func = test_model;
    tests[count].initial_state = &entries[count];
    count++;
  }
  status = _cmocka_run_group_tests("rnnc_random_models", tests, (size_t)count, NULL, NULL);
  printf("worst relative error against the reference, float64: %.3g (tolerance %.0e) at %s\n",
         worst_ref[1].err, TOL_F64, worst_ref[1].where[0] ? worst_ref[1].where : "-");
  printf("worst relative error against the reference, float32: %.3g (tolerance %.0e) at %s\n",
         worst_ref[0].err, TOL_F32, worst_ref[0].where[0] ? worst_ref[0].where : "-");
  printf("worst finite-difference error (float64, %ld elements): %.3g (tolerance %.0e) at %s\n",
         fd_checked, worst_fd.err, FD_TOL, worst_fd.where[0] ? worst_fd.where : "-");
  printf("worst finite-difference score |fd - g| / (tolerance + noise allowance): %.3g (passes "
         "<= 1) at %s\n",
         worst_fd_score.err, worst_fd_score.where[0] ? worst_fd_score.where : "-");
  for (i = 1; i >= 0; i--) {
    printf("%s tensors outside the tolerance but within %g x the reference's sensitivity to one "
           "rounding: %ld",
           i ? "float64" : "float32", SENS_FACTOR, cond_passes[i]);
    if (cond_passes[i])
      printf(" (worst error / sensitivity %.3g at %s)", worst_cond[i].err, worst_cond[i].where);
    printf("\n");
  }
  printf("relu redraws: %ld\n", relu_redraws);
  for (i = 0; i < count; i++)
    free((void *)tests[i].name);
  free(tests);
  free(entries);
  return status;
}
