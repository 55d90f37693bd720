/* The conformance suite's program: every case's generated units (float64 and
 * float32) linked together with the runtime.
 *
 *   conformance driver UNIT ARGS...     the generated driver of UNIT (rnnc_main), exactly as
 *                                       the program `rnnc build` makes for it
 *   conformance check CASES WORK [-v]   compares, for every case, the golden vectors in
 *                                       CASES/<case>/ (written by golden.py from PyTorch) with
 *                                       the driver's results in WORK/ (run.sh runs predict,
 *                                       grad and fit) and with the reference runtime, run here
 *
 * Error of a tensor: max_i |got_i - golden_i| / max(max_i |golden_i|, DBL_MIN), i.e.
 * relative to the tensor's largest golden value (a NaN anywhere counts as infinite), or
 * absolute when every golden value is below EXACT_ZERO: the tensor is an exact zero seen
 * through float64 rounding (a gradient that vanishes identically, as MultiHeadAttention's
 * key bias's: a row's softmax ignores a shift of all its scores), whose relative error
 * would compare two roundings.
 * Tolerances: 1e-10 for the float64 unit and the reference runtime, 1e-5 for the
 * float32 unit. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "rnnc.h"
#include "rnnc_ref.h"

#define ERRLEN 512
#define TRAJECTORY_STEPS 20 /* golden.py's STEPS */
#define TOL_F64 1e-10
#define TOL_F32 1e-5
#define EXACT_ZERO 1e-14

/* An error message, cut to ERRLEN when a path makes it long. */
static void set_err(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, ERRLEN, fmt, ap);
  va_end(ap);
}

/* The worst error seen by one implementation (gen-f64, gen-f32 or ref) in one case. */
typedef struct {
  const char *label;
  double tol;
  double worst;
  char what[160];
  int failures;
  int verbose;
} tally;

static void tally_init(tally *t, const char *label, double tol, int verbose) {
  memset(t, 0, sizeof *t);
  t->label = label;
  t->tol = tol;
  t->verbose = verbose;
  snprintf(t->what, sizeof t->what, "-");
}

static void note(tally *t, const char *what, double err) {
  int bad = !(err <= t->tol);
  if (t->verbose || bad)
    printf("    %-8s %-52s %.3g%s\n", t->label, what, err, bad ? "  FAIL" : "");
  if (bad)
    t->failures++;
  if (!(err <= t->worst)) { /* NaN becomes the worst too */
    t->worst = err;
    snprintf(t->what, sizeof t->what, "%s", what);
  }
}

/* A file that could not be read or a shape that does not fit: a failure. */
static void broken(tally *t, const char *what, const char *why) {
  printf("    %-8s %-52s FAIL: %s\n", t->label, what, why);
  t->failures++;
  t->worst = INFINITY;
  snprintf(t->what, sizeof t->what, "%s", what);
}

static double rel_error(const double *got, const double *want, size_t count) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < count; ++i) {
    double d = fabs(got[i] - want[i]);
    if (!(d <= diff)) /* NaN sticks */
      diff = isnan(d) ? INFINITY : d;
    if (fabs(want[i]) > scale)
      scale = fabs(want[i]);
  }
  if (scale < EXACT_ZERO)
    return diff;
  return diff / scale;
}

static void compare(tally *t, const char *what, const double *got, const double *want,
                    size_t count) {
  note(t, what, rel_error(got, want, count));
}

/* ---------------------------------------------------------------- one case's shapes */

/* A model part (input or output) is a sequence of the run-time length when
 * the unit was generated for any length (rnnc generate --timesteps). */
static int is_seq(const rnnc_model *m, const rnnc_part_desc *d) {
  return m->variable_steps && d->rank == 2 && d->shape[0] == m->max_steps;
}

/* Reals per sample of a part at the data's length. */
static size_t part_len(const rnnc_model *m, const rnnc_part_desc *d, int steps) {
  return is_seq(m, d) ? (size_t)steps * (size_t)d->shape[1] : d->size;
}

/* The shape (n, part shape) of a part at the data's length (full = 0) or at
 * the unit's layout (full = 1); returns the rank. */
static int part_shape(const rnnc_model *m, const rnnc_part_desc *d, int n, int steps, int full,
                      int *shape) {
  int rank = d->rank + 1 <= RNNC_MAX_RANK ? d->rank + 1 : RNNC_MAX_RANK;
  memset(shape, 0, RNNC_MAX_RANK * sizeof *shape);
  shape[0] = n;
  for (int i = 0; i + 1 < rank; ++i)
    shape[i + 1] = d->shape[i];
  if (!full && is_seq(m, d))
    shape[1] = steps;
  return rank;
}

/* A path that does not fit is left empty: opening it fails with a message. */
static void path_of(char *buf, size_t len, const char *dir, const char *name) {
  int used = snprintf(buf, len, "%s/%s", dir, name);
  if (used < 0 || (size_t)used >= len)
    buf[0] = '\0';
}

/* x.npy or x_K.npy style names: `stem`, then `stem`_k for k > 0. */
static void numbered(char *buf, size_t len, const char *dir, const char *stem, int k,
                     const char *ext) {
  char name[512];
  int used = k == 0 ? snprintf(name, sizeof name, "%s%s", stem, ext)
                    : snprintf(name, sizeof name, "%s_%d%s", stem, k, ext);
  if (used < 0 || (size_t)used >= sizeof name)
    name[0] = '\0';
  path_of(buf, len, dir, name);
}

/* Loads an .npy file that must hold exactly `count` values. */
static double *load_npy(const char *path, size_t count, char *err) {
  rnnc_array a;
  if (rnnc_npy_load(path, &a, err, ERRLEN) != 0)
    return NULL;
  if (a.count != count) {
    set_err(err, "%s: %zu values, expected %zu", path, a.count, count);
    rnnc_array_free(&a);
    return NULL;
  }
  return a.data;
}

/* Reads one tensor of a safetensors file as doubles. */
static double *load_tensor(const char *path, const char *name, int rank, const int *shape,
                           char *err) {
  size_t count = 1;
  for (int i = 0; i < rank; ++i)
    count *= (size_t)shape[i];
  double *data = malloc(count * sizeof *data + 1);
  if (!data) {
    set_err(err, "out of memory");
    return NULL;
  }
  rnnc_tensor_dest d;
  d.name = name;
  d.rank = rank;
  memset(d.shape, 0, sizeof d.shape);
  memcpy(d.shape, shape, (size_t)rank * sizeof *shape);
  d.data = data;
  if (rnnc_safetensors_read(path, RNNC_F64, &d, 1, err, ERRLEN) != 0) {
    free(data);
    return NULL;
  }
  return data;
}

/* A unit's weights from a safetensors file, as doubles. */
static double *load_weights(const rnnc_model *m, const char *path, char *err) {
  size_t rs = rnnc_dtype_size(m->dtype);
  void *p = calloc(1, m->params_bytes + 1);
  double *out = malloc(m->n_params * sizeof *out + 1);
  if (!p || !out) {
    free(p);
    free(out);
    set_err(err, "out of memory");
    return NULL;
  }
  if (rnnc_weights_load(path, m, p, err, ERRLEN) != 0) {
    free(p);
    free(out);
    return NULL;
  }
  for (size_t i = 0; i < m->n_params; ++i)
    out[i] = rs == sizeof(float) ? (double)((float *)p)[i] : ((double *)p)[i];
  free(p);
  return out;
}

/* The number after "loss " at the start of a line of the driver's grad output. */
static int read_loss(const char *path, double *loss, char *err) {
  FILE *f = fopen(path, "r");
  char line[1024];
  if (!f) {
    set_err(err, "%s: cannot open", path);
    return -1;
  }
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "loss ", 5) == 0) {
      fclose(f);
      *loss = strtod(line + 5, NULL);
      return 0;
    }
  fclose(f);
  set_err(err, "%s: no loss line", path);
  return -1;
}

/* The "loss" column of the driver's CSVLogger file, one row per epoch. */
static int read_csv_losses(const char *path, double *losses, int count, char *err) {
  FILE *f = fopen(path, "r");
  char line[1024];
  int rows = 0, column = -1;
  if (!f) {
    set_err(err, "%s: cannot open", path);
    return -1;
  }
  if (fgets(line, sizeof line, f)) { /* header: epoch,loss,... */
    int c = 0;
    for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), ++c)
      if (strcmp(tok, "loss") == 0)
        column = c;
  }
  while (column >= 0 && rows < count && fgets(line, sizeof line, f)) {
    int c = 0;
    for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), ++c)
      if (c == column)
        losses[rows] = strtod(tok, NULL);
    rows++;
  }
  fclose(f);
  if (column < 0 || rows != count) {
    set_err(err, "%s: expected a loss column with %d rows", path, count);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- golden vectors */

typedef struct {
  const conformance_case *c;
  const rnnc_model *m; /* the float64 unit: names, shapes, optimizer */
  int n, steps;
  size_t in_size, out_size, target_size; /* per sample, at the data's length */
  double *params;                        /* initial weights */
  double *x;                             /* n x in_size, every input side by side */
  double *target;                        /* n x target_size */
  double *outputs[RNNC_MAX_OUTPUTS];     /* each n x part_len */
  double loss;
  double *grad;                         /* n_params */
  double *input_grads[RNNC_MAX_INPUTS]; /* each n x part_len */
  double *trained;                      /* n_params after the trajectory */
  double history[TRAJECTORY_STEPS];     /* the loss before each update */
} golden;

static void golden_free(golden *g) {
  free(g->params);
  free(g->x);
  free(g->target);
  free(g->grad);
  free(g->trained);
  for (int k = 0; k < RNNC_MAX_OUTPUTS; ++k)
    free(g->outputs[k]);
  for (int k = 0; k < RNNC_MAX_INPUTS; ++k)
    free(g->input_grads[k]);
  memset(g, 0, sizeof *g);
}

static const char *const INPUT_NAMES[RNNC_MAX_INPUTS] = {
    "input", "input_1", "input_2", "input_3", "input_4", "input_5", "input_6", "input_7"};

static int golden_load(golden *g, const conformance_case *c, const char *dir, char *err) {
  const rnnc_model *m = c->f64;
  char path[4096];
  int shape[RNNC_MAX_RANK];
  memset(g, 0, sizeof *g);
  g->c = c;
  g->m = m;
  g->n = c->samples;
  g->steps = c->steps;
  size_t n = (size_t)g->n;
  for (int k = 0; k < m->n_inputs; ++k)
    g->in_size += part_len(m, &m->inputs[k], g->steps);
  for (int k = 0; k < m->n_outputs; ++k)
    g->out_size += part_len(m, &m->outputs[k], g->steps);
  g->target_size = is_seq(m, &m->outputs[0])
                       ? m->target_size / (size_t)m->max_steps * (size_t)g->steps
                       : m->target_size;

  path_of(path, sizeof path, dir, "weights.safetensors");
  if (!(g->params = load_weights(m, path, err)))
    return -1;
  if (!(g->x = malloc(n * g->in_size * sizeof *g->x + 1))) {
    set_err(err, "out of memory");
    return -1;
  }
  size_t at = 0;
  for (int k = 0; k < m->n_inputs; ++k) {
    size_t len = part_len(m, &m->inputs[k], g->steps);
    numbered(path, sizeof path, dir, "x", k, ".npy");
    double *part = load_npy(path, n * len, err);
    if (!part)
      return -1;
    for (size_t s = 0; s < n; ++s)
      memcpy(g->x + s * g->in_size + at, part + s * len, len * sizeof *part);
    free(part);
    at += len;
  }
  path_of(path, sizeof path, dir, "y.npy");
  if (!(g->target = load_npy(path, n * g->target_size, err)))
    return -1;
  for (int k = 0; k < m->n_outputs; ++k) {
    numbered(path, sizeof path, dir, "out", k, ".npy");
    if (!(g->outputs[k] = load_npy(path, n * part_len(m, &m->outputs[k], g->steps), err)))
      return -1;
  }

  path_of(path, sizeof path, dir, "grad.safetensors");
  shape[0] = 1;
  double *loss = load_tensor(path, "loss", 1, shape, err);
  if (!loss)
    return -1;
  g->loss = loss[0];
  free(loss);
  if (!(g->grad = malloc(m->n_params * sizeof *g->grad + 1))) {
    set_err(err, "out of memory");
    return -1;
  }
  for (int i = 0; i < m->n_tensors; ++i) {
    const rnnc_tensor_desc *t = &m->tensors[i];
    double *v = load_tensor(path, t->name, t->rank, t->shape, err);
    if (!v)
      return -1;
    memcpy(g->grad + t->offset, v, t->size * sizeof *v);
    free(v);
  }
  /* (integer tokens, an Embedding's input, have no gradient: none in the
   * golden file, none written by the driver) */
  for (int k = 0; m->input_vocab <= 0 && k < m->n_inputs && k < RNNC_MAX_INPUTS; ++k) {
    int rank = part_shape(m, &m->inputs[k], g->n, g->steps, 0, shape);
    if (!(g->input_grads[k] = load_tensor(path, INPUT_NAMES[k], rank, shape, err)))
      return -1;
  }

  path_of(path, sizeof path, dir, "trained.safetensors");
  if (!(g->trained = load_weights(m, path, err)))
    return -1;
  shape[0] = TRAJECTORY_STEPS;
  double *history = load_tensor(path, "loss_history", 1, shape, err);
  if (!history)
    return -1;
  memcpy(g->history, history, sizeof g->history);
  free(history);
  return 0;
}

/* ---------------------------------------------------------------- the generated units */

/* Compares what the driver of `m` wrote into WORK (run.sh's file names). */
static void check_unit(tally *t, const golden *g, const rnnc_model *m, const char *work) {
  char path[4096], err[ERRLEN], what[160];
  int shape[RNNC_MAX_RANK];
  size_t n = (size_t)g->n;

  for (int k = 0; k < m->n_outputs; ++k) {
    size_t len = part_len(m, &m->outputs[k], g->steps);
    char stem[256];
    snprintf(stem, sizeof stem, "%s_pred", m->name);
    numbered(path, sizeof path, work, stem, k, ".npy");
    snprintf(what, sizeof what, "predict: output %d", k);
    double *y = load_npy(path, n * len, err);
    if (!y) {
      broken(t, what, err);
      continue;
    }
    compare(t, what, y, g->outputs[k], n * len);
    free(y);
  }

  double loss;
  snprintf(path, sizeof path, "%s/%s_grad.txt", work, m->name);
  if (read_loss(path, &loss, err) != 0)
    broken(t, "grad: loss", err);
  else
    compare(t, "grad: loss", &loss, &g->loss, 1);
  snprintf(path, sizeof path, "%s/%s_grad.safetensors", work, m->name);
  for (int i = 0; i < m->n_tensors; ++i) {
    const rnnc_tensor_desc *d = &m->tensors[i];
    snprintf(what, sizeof what, "grad: %s", d->name);
    double *v = load_tensor(path, d->name, d->rank, d->shape, err);
    if (!v) {
      broken(t, what, err);
      continue;
    }
    compare(t, what, v, g->grad + d->offset, d->size);
    free(v);
  }
  for (int k = 0; m->input_vocab <= 0 && k < m->n_inputs && k < RNNC_MAX_INPUTS; ++k) {
    /* the driver writes the unit's layout: a sequence of the maximum length */
    const rnnc_part_desc *d = &m->inputs[k];
    int rank = part_shape(m, d, g->n, g->steps, 1, shape);
    snprintf(what, sizeof what, "grad: %s", INPUT_NAMES[k]);
    double *v = load_tensor(path, INPUT_NAMES[k], rank, shape, err);
    if (!v) {
      broken(t, what, err);
      continue;
    }
    size_t len = part_len(m, d, g->steps);
    for (size_t s = 0; s < n; ++s) /* rows past the data's length dropped */
      memmove(v + s * len, v + s * d->size, len * sizeof *v);
    compare(t, what, v, g->input_grads[k], n * len);
    free(v);
  }

  snprintf(path, sizeof path, "%s/%s_fit.safetensors", work, m->name);
  double *trained = load_weights(m, path, err);
  if (!trained) {
    broken(t, "fit: weights", err);
  } else {
    for (int i = 0; i < m->n_tensors; ++i) {
      const rnnc_tensor_desc *d = &m->tensors[i];
      snprintf(what, sizeof what, "fit %d steps: %s", TRAJECTORY_STEPS, d->name);
      compare(t, what, trained + d->offset, g->trained + d->offset, d->size);
    }
    free(trained);
  }
  double losses[TRAJECTORY_STEPS];
  snprintf(path, sizeof path, "%s/%s_fit.csv", work, m->name);
  if (read_csv_losses(path, losses, TRAJECTORY_STEPS, err) != 0)
    broken(t, "fit: epoch losses", err);
  else
    compare(t, "fit: epoch losses", losses, g->history, TRAJECTORY_STEPS);
}

/* ---------------------------------------------------------------- the reference runtime */

/* The model's spec with the `input T F` line at the data's length. */
static rnnc_ref *reference_at(const rnnc_model *m, int steps, char *err) {
  if (!m->variable_steps || steps == m->max_steps)
    return rnnc_ref_new(m->spec, err, ERRLEN);
  size_t len = strlen(m->spec);
  const char *line = strstr(m->spec, "\ninput ");
  char *spec = malloc(len + 32);
  if (!spec || !line) {
    free(spec);
    set_err(err, "the model's spec has no input line");
    return NULL;
  }
  const char *rest = strchr(line + 7, ' '); /* after the length */
  size_t head = (size_t)(line - m->spec) + 7;
  memcpy(spec, m->spec, head);
  snprintf(spec + head, len + 32 - head, "%d%s", steps, rest ? rest : "\n");
  rnnc_ref *r = rnnc_ref_new(spec, err, ERRLEN);
  free(spec);
  return r;
}

/* The reference runtime on the golden inputs: forward, loss and gradients,
 * then the trajectory with the runtime's optimizer (the unit's compiled
 * configuration, clipping included). */
static void check_reference(tally *t, const golden *g) {
  const rnnc_model *m = g->m;
  char err[ERRLEN], what[160];
  size_t n = (size_t)g->n;
  rnnc_ref *ref = reference_at(m, g->steps, err);
  if (!ref) {
    broken(t, "spec", err);
    return;
  }
  if (rnnc_ref_n_params(ref) != m->n_params || rnnc_ref_input_size(ref) != g->in_size ||
      rnnc_ref_output_size(ref) != g->out_size || rnnc_ref_target_size(ref) != g->target_size) {
    set_err(err,
            "sizes differ from the unit's: params %zu/%zu, input %zu/%zu, output %zu/%zu, "
            "target %zu/%zu",
            rnnc_ref_n_params(ref), m->n_params, rnnc_ref_input_size(ref), g->in_size,
            rnnc_ref_output_size(ref), g->out_size, rnnc_ref_target_size(ref), g->target_size);
    broken(t, "spec", err);
    rnnc_ref_free(ref);
    return;
  }
  double *y = malloc(n * g->out_size * sizeof *y + 1);
  double *part = malloc(n * (g->out_size + g->in_size) * sizeof *part + 1);
  double *grad = malloc(m->n_params * sizeof *grad + 1);
  double *dx = malloc(n * g->in_size * sizeof *dx + 1);
  double *params = malloc(m->n_params * sizeof *params + 1);
  rnnc_optimizer opt = m->optimizer;
  size_t n_slots = rnnc_optimizer_slots(&opt, m->n_params);
  double *slots = calloc(n_slots + 1, sizeof *slots);
  if (!y || !part || !grad || !dx || !params || !slots) {
    broken(t, "reference", "out of memory");
    goto done;
  }

  if (rnnc_ref_forward(ref, g->params, g->x, g->n, y) != 0) {
    broken(t, "forward", "rnnc_ref_forward failed");
    goto done;
  }
  for (size_t k = 0; k < rnnc_ref_output_count(ref); ++k) {
    size_t off, len = rnnc_ref_output_part(ref, k, &off);
    for (size_t s = 0; s < n; ++s)
      memcpy(part + s * len, y + s * g->out_size + off, len * sizeof *y);
    snprintf(what, sizeof what, "forward: output %zu", k);
    compare(t, what, part, g->outputs[k], n * len);
  }

  double loss = rnnc_ref_loss_grad(ref, g->params, g->x, g->target, g->n, grad, dx, NULL);
  compare(t, "loss", &loss, &g->loss, 1);
  for (int i = 0; i < m->n_tensors; ++i) {
    const rnnc_tensor_desc *d = &m->tensors[i];
    snprintf(what, sizeof what, "grad: %s", d->name);
    compare(t, what, grad + d->offset, g->grad + d->offset, d->size);
  }
  for (size_t k = 0; m->input_vocab <= 0 && k < rnnc_ref_input_count(ref) && k < RNNC_MAX_INPUTS;
       ++k) {
    size_t off, len = rnnc_ref_input_part(ref, k, &off);
    for (size_t s = 0; s < n; ++s)
      memcpy(part + s * len, dx + s * g->in_size + off, len * sizeof *dx);
    snprintf(what, sizeof what, "grad: %s", INPUT_NAMES[k]);
    compare(t, what, part, g->input_grads[k], n * len);
  }

  double losses[TRAJECTORY_STEPS];
  memcpy(params, g->params, m->n_params * sizeof *params);
  double *stats = malloc(m->n_params * sizeof *stats);
  if (stats == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (int step = 1; step <= TRAJECTORY_STEPS; ++step) {
    /* the noise layers' masks of this update: the driver's fit keys them by
     * the updates before it, with its seed 0 */
    rnnc_ref_set_noise(ref, 0, step - 1, 0);
    losses[step - 1] = rnnc_ref_loss_grad(ref, params, g->x, g->target, g->n, grad, NULL, NULL);
    /* BatchNormalization: the moving statistics of this step's batch, from
     * the weights before the update (Keras assigns them in the forward) */
    memcpy(stats, params, m->n_params * sizeof *stats);
    if (rnnc_ref_update_stats(ref, stats, g->x, g->n) != 0) {
      fprintf(stderr, "rnnc_ref_update_stats failed\n");
      exit(2);
    }
    rnnc_optimizer_apply_f64(&opt, params, grad, slots, m->n_params, step, m->tensors,
                             m->n_tensors);
    for (int i = 0; i < m->n_tensors; ++i) {
      const rnnc_tensor_desc *d = &m->tensors[i];
      size_t len = strlen(d->name);
      if ((len > 12 && strcmp(d->name + len - 12, "/moving_mean") == 0) ||
          (len > 16 && strcmp(d->name + len - 16, "/moving_variance") == 0))
        memcpy(params + d->offset, stats + d->offset, d->size * sizeof *params);
    }
  }
  free(stats);
  compare(t, "trajectory: losses", losses, g->history, TRAJECTORY_STEPS);
  for (int i = 0; i < m->n_tensors; ++i) {
    const rnnc_tensor_desc *d = &m->tensors[i];
    snprintf(what, sizeof what, "%d steps: %s", TRAJECTORY_STEPS, d->name);
    compare(t, what, params + d->offset, g->trained + d->offset, d->size);
  }
done:
  free(y);
  free(part);
  free(grad);
  free(dx);
  free(params);
  free(slots);
  rnnc_ref_free(ref);
}

/* ---------------------------------------------------------------- commands */

/* 1 when `name` is among the case names asked for (all when none is). */
static int wanted(const char *name, char **names, int count) {
  for (int i = 0; i < count; ++i)
    if (strcmp(names[i], name) == 0)
      return 1;
  return count == 0;
}

static int cmd_check(int argc, char **argv) {
  char *positional[256];
  int n_pos = 0, verbose = 0;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "-v") == 0)
      verbose = 1;
    else if (n_pos < 256)
      positional[n_pos++] = argv[i];
  }
  if (n_pos < 2) {
    fprintf(stderr, "usage: conformance check CASES_DIR WORK_DIR [-v] [CASE...]\n");
    return 2;
  }
  const char *cases_dir = positional[0], *work = positional[1];
  const char *labels[3] = {"gen-f64", "gen-f32", "ref"};
  const double tols[3] = {TOL_F64, TOL_F32, TOL_F64};
  double worst[3] = {0, 0, 0};
  char worst_where[3][256];
  int failed_cases = 0, run = 0;
  for (int j = 0; j < 3; ++j)
    snprintf(worst_where[j], sizeof worst_where[j], "-");
  printf("error = max|rnnc - golden| / max|golden| per tensor; tolerance gen-f64 and ref %g, "
         "gen-f32 %g\n",
         TOL_F64, TOL_F32);
  printf("%-36s %-10s %-10s %-10s\n", "case", labels[0], labels[1], labels[2]);
  for (int ci = 0; ci < conformance_case_count; ++ci) {
    const conformance_case *c = &conformance_cases[ci];
    if (!wanted(c->name, positional + 2, n_pos - 2))
      continue;
    run++;
    char dir[4096], err[ERRLEN];
    tally t[3];
    for (int j = 0; j < 3; ++j)
      tally_init(&t[j], labels[j], tols[j], verbose);
    if (verbose)
      printf("%s\n", c->name);
    snprintf(dir, sizeof dir, "%s/%s", cases_dir, c->name);
    golden g;
    if (golden_load(&g, c, dir, err) != 0) {
      printf("%-36s FAIL: golden vectors: %s\n", c->name, err);
      golden_free(&g);
      failed_cases++;
      for (int j = 0; j < 3; ++j)
        worst[j] = INFINITY;
      continue;
    }
    check_unit(&t[0], &g, c->f64, work);
    check_unit(&t[1], &g, c->f32, work);
    check_reference(&t[2], &g);
    golden_free(&g);
    int fails = t[0].failures + t[1].failures + t[2].failures;
    printf("%-36s %-10.2e %-10.2e %-10.2e %s\n", c->name, t[0].worst, t[1].worst, t[2].worst,
           fails ? "FAIL" : "ok");
    if (fails)
      failed_cases++;
    for (int j = 0; j < 3; ++j)
      if (!(t[j].worst <= worst[j])) {
        worst[j] = t[j].worst;
        snprintf(worst_where[j], sizeof worst_where[j], "%s, %s", c->name, t[j].what);
      }
  }
  for (int j = 0; j < 3; ++j)
    printf("worst %-7s %.2e (%s)\n", labels[j], worst[j], worst_where[j]);
  printf("conformance: %d cases, %d failed; worst gen-f64 %.2e, gen-f32 %.2e, ref %.2e "
         "(tolerance %g / %g / %g)\n",
         run, failed_cases, worst[0], worst[1], worst[2], TOL_F64, TOL_F32, TOL_F64);
  return failed_cases || run == 0 ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "driver") == 0) {
    for (int i = 0; i < conformance_case_count; ++i) {
      const conformance_case *c = &conformance_cases[i];
      if (strcmp(argv[2], c->f64->name) == 0)
        return rnnc_main(c->f64, argc - 2, argv + 2);
      if (strcmp(argv[2], c->f32->name) == 0)
        return rnnc_main(c->f32, argc - 2, argv + 2);
    }
    fprintf(stderr, "conformance: no unit named %s\n", argv[2]);
    return 2;
  }
  if (argc >= 2 && strcmp(argv[1], "check") == 0)
    return cmd_check(argc - 2, argv + 2);
  fprintf(stderr, "usage: conformance driver UNIT SUBCOMMAND [ARGS...]\n"
                  "       conformance check CASES_DIR WORK_DIR [-v] [CASE...]\n");
  return 2;
}
