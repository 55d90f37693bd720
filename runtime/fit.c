/* The training loop: Keras's fit() and evaluate() over a generated model's
 * descriptor, with the callbacks EarlyStopping, ModelCheckpoint and CSVLogger,
 * the History and an SVG plot of it.
 *
 * Not used by generated code: POSIX (isatty, a monotonic clock) is used
 * behind a guard, the rest is C99. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define FIT_POSIX 1
#endif

#include "rnnc.h"

int rnnc_all_finite_f32(const float *v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

int rnnc_all_finite_f64(const double *v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

static int all_finite(rnnc_dtype dtype, const void *v, size_t n) {
  return dtype == RNNC_F32 ? rnnc_all_finite_f32((const float *)v, n)
                           : rnnc_all_finite_f64((const double *)v, n);
}

rnnc_fit_options rnnc_fit_defaults(void) {
  rnnc_fit_options o;
  memset(&o, 0, sizeof o);
  o.epochs = 1;
  o.batch_size = 32;
  o.shuffle = 1;
  o.seed = 0;
  o.verbose = 1;
  o.log_every = 1;
  o.initial_epoch = 0;
  o.steps = 0;
  o.validation_split = 0;
  o.val_x = o.val_y = NULL;
  o.metrics = NULL;
  o.early_stopping.monitor = NULL;
  o.checkpoint.path = o.checkpoint.monitor = NULL;
  o.csv_path = o.plot_path = NULL;
  o.on_epoch_end = NULL;
  o.hook_user = NULL;
  return o;
}

/* ---------------------------------------------------------------- small helpers */

static double now_seconds(void) {
#if defined(FIT_POSIX) && defined(CLOCK_MONOTONIC)
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
  return (double)clock() / CLOCKS_PER_SEC;
}

static int stdout_is_terminal(void) {
#ifdef FIT_POSIX
  return isatty(fileno(stdout));
#else
  return 0;
#endif
}

int rnnc_logs_find(const rnnc_logs *logs, const char *name) {
  for (int i = 0; i < logs->count; ++i)
    if (strcmp(logs->names[i], name) == 0)
      return i;
  return -1;
}

static int greater_is_better(const char *monitor, rnnc_monitor_mode mode) {
  if (mode == RNNC_MODE_MAX)
    return 1;
  if (mode == RNNC_MODE_MIN)
    return 0;
  return strstr(monitor, "acc") != NULL;
}

/* Python's repr() of a float: the shortest form that reads back the same
 * value, "x.0" for integral values, "nan", "inf". */
static void repr_double(char *buf, size_t len, double v) {
  if (isnan(v)) {
    snprintf(buf, len, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, len, v > 0 ? "inf" : "-inf");
    return;
  }
  for (int prec = 1; prec <= 17; ++prec) {
    snprintf(buf, len, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  if (!strpbrk(buf, ".en")) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, ".0");
  }
}

/* Keras's Progbar value: %.4f, or %.4e for magnitudes up to 1e-3 (0 too). */
static void print_value(const char *name, double v) {
  if (fabs(v) > 1e-3)
    printf(" - %s: %.4f", name, v);
  else
    printf(" - %s: %.4e", name, v);
}

/* Keras's Progbar._format_time. */
static int format_time(char *buf, size_t len, double per, const char *unit) {
  if (per >= 1 || per == 0)
    return snprintf(buf, len, " %.0fs/%s", per, unit);
  if (per >= 1e-3)
    return snprintf(buf, len, " %.0fms/%s", per * 1e3, unit);
  return snprintf(buf, len, " %.0fus/%s", per * 1e6, unit);
}

static int digits(int v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    ++d;
  }
  return d;
}

/* "  3/10 [========>.....................]" */
static int print_bar(int current, int target) {
  char bar[64];
  int width = 30, prog = (int)((double)width * current / target), at = 0;
  if (prog > 0) {
    for (int i = 0; i < prog - 1; ++i)
      bar[at++] = '=';
    bar[at++] = current < target ? '>' : '=';
  }
  while (at < width)
    bar[at++] = '.';
  bar[at] = '\0';
  return printf("%*d/%d [%s]", digits(target), current, target, bar);
}

/* ---------------------------------------------------------------- metrics */

typedef enum { MET_SPARSE_ACC, MET_CATEGORICAL_ACC, MET_BINARY_ACC, MET_MAE, MET_MSE } metric_kind;

typedef struct {
  metric_kind kind;
  char name[RNNC_SERIES_NAME];
} metric_t;

/* "accuracy" picks the variant from the loss, as Keras 2.0's compile did:
 * binary for binary crossentropy or a single output column, sparse for
 * sparse labels, else categorical. */
static metric_kind accuracy_for(const rnnc_model *m) {
  if (m->loss == RNNC_LOSS_BINARY_CROSSENTROPY)
    return MET_BINARY_ACC;
  if (m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    return MET_SPARSE_ACC;
  if (m->output_cols == 1)
    return MET_BINARY_ACC;
  return MET_CATEGORICAL_ACC;
}

static int parse_metrics(const rnnc_model *m, const char *spec, metric_t *out, int *count,
                         char *err, size_t errlen) {
  *count = 0;
  if (spec == NULL) {
    if (m->metric_accuracy) {
      out[0].kind = accuracy_for(m);
      snprintf(out[0].name, sizeof out[0].name, "accuracy");
      *count = 1;
    }
    return 0;
  }
  const char *p = spec;
  int sparse = m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  while (*p) {
    size_t len = strcspn(p, ", ");
    if (len == 0) {
      ++p;
      continue;
    }
    char name[RNNC_SERIES_NAME];
    if (len >= sizeof name - 4) {
      snprintf(err, errlen, "metric '%.*s': the name is too long", (int)len, p);
      return -1;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    p += len;
    metric_kind kind;
    if (strcmp(name, "accuracy") == 0 || strcmp(name, "acc") == 0)
      kind = accuracy_for(m);
    else if (strcmp(name, "sparse_categorical_accuracy") == 0)
      kind = MET_SPARSE_ACC;
    else if (strcmp(name, "categorical_accuracy") == 0)
      kind = MET_CATEGORICAL_ACC;
    else if (strcmp(name, "binary_accuracy") == 0)
      kind = MET_BINARY_ACC;
    else if (strcmp(name, "mae") == 0 || strcmp(name, "mean_absolute_error") == 0)
      kind = MET_MAE;
    else if (strcmp(name, "mse") == 0 || strcmp(name, "mean_squared_error") == 0)
      kind = MET_MSE;
    else {
      snprintf(err, errlen,
               "unknown metric '%s' (known: accuracy, acc, sparse_categorical_accuracy, "
               "categorical_accuracy, binary_accuracy, mae, mse, mean_absolute_error, "
               "mean_squared_error)",
               name);
      return -1;
    }
    if ((kind == MET_SPARSE_ACC) != sparse) {
      snprintf(err, errlen, "metric '%s' needs %s targets; the model's loss takes %s", name,
               kind == MET_SPARSE_ACC ? "sparse (class label)" : "dense",
               sparse ? "class labels" : "dense targets");
      return -1;
    }
    for (int i = 0; i < *count; ++i)
      if (strcmp(out[i].name, name) == 0) {
        snprintf(err, errlen, "metric '%s' is given twice", name);
        return -1;
      }
    if (*count == RNNC_MAX_METRICS) {
      snprintf(err, errlen, "at most %d metrics", RNNC_MAX_METRICS);
      return -1;
    }
    out[*count].kind = kind;
    snprintf(out[*count].name, sizeof out[*count].name, "%s", name);
    ++*count;
  }
  return 0;
}

/* The value of a metric on one sample: output 0 at its offset in y_pred
 * (output_size reals per sample), the target (target_size reals). */
static double metric_one(const rnnc_model *m, metric_kind kind, const void *pred, const void *tgt,
                         size_t rows) {
  size_t cols = m->output_cols;
  if (m->dtype == RNNC_F32) {
    const float *p = (const float *)pred, *t = (const float *)tgt;
    switch (kind) {
    case MET_SPARSE_ACC:
      return rnnc_sparse_accuracy_f32(p, t, rows, cols);
    case MET_CATEGORICAL_ACC:
      return rnnc_categorical_accuracy_f32(p, t, rows, cols);
    case MET_BINARY_ACC:
      return rnnc_binary_accuracy_f32(p, t, rows, cols);
    case MET_MAE:
      return rnnc_loss_mae_f32(p, t, rows, cols, NULL);
    case MET_MSE:
      return rnnc_loss_mse_f32(p, t, rows, cols, NULL);
    }
  } else {
    const double *p = (const double *)pred, *t = (const double *)tgt;
    switch (kind) {
    case MET_SPARSE_ACC:
      return rnnc_sparse_accuracy_f64(p, t, rows, cols);
    case MET_CATEGORICAL_ACC:
      return rnnc_categorical_accuracy_f64(p, t, rows, cols);
    case MET_BINARY_ACC:
      return rnnc_binary_accuracy_f64(p, t, rows, cols);
    case MET_MAE:
      return rnnc_loss_mae_f64(p, t, rows, cols, NULL);
    case MET_MSE:
      return rnnc_loss_mse_f64(p, t, rows, cols, NULL);
    }
  }
  return NAN;
}

/* Adds count x (the batch's mean of each metric) to sums. */
static void batch_metrics(const rnnc_model *m, const metric_t *metrics, int n_metrics,
                          const void *y_pred, const void *y, int count, size_t rows, double *sums) {
  size_t rs = rnnc_dtype_size(m->dtype);
  for (int k = 0; k < n_metrics; ++k)
    for (int i = 0; i < count; ++i) {
      const char *p =
          (const char *)y_pred + ((size_t)i * m->output_size + m->outputs[0].offset) * rs;
      const char *t = (const char *)y + (size_t)i * m->target_size * rs;
      sums[k] += metric_one(m, metrics[k].kind, p, t, rows);
    }
}

/* ---------------------------------------------------------------- optimizer state */

int rnnc_optimizer_state_init(rnnc_optimizer_state *s, const rnnc_model *m,
                              const rnnc_optimizer *opt) {
  s->iterations = 0;
  s->n_slots = rnnc_optimizer_slots(opt, m->n_params);
  s->slots = calloc(s->n_slots + 1, rnnc_dtype_size(m->dtype));
  return s->slots ? 0 : -1;
}

void rnnc_optimizer_state_free(rnnc_optimizer_state *s) {
  if (!s)
    return;
  free(s->slots);
  s->slots = NULL;
  s->n_slots = 0;
  s->iterations = 0;
}

static const char *const ITERATIONS = "optimizer/iterations";
static const char *const SLOTS = "optimizer/slots";

int rnnc_checkpoint_save(const char *path, const rnnc_model *m, const void *params,
                         const rnnc_optimizer_state *state, char *err, size_t errlen) {
  if (!state)
    return rnnc_weights_save(path, m, params, err, errlen);
  size_t rs = rnnc_dtype_size(m->dtype);
  if (state->n_slots > 0x7fffffff) {
    snprintf(err, errlen, "%s: the optimizer state is too large", path);
    return -1;
  }
  rnnc_tensor_ref *refs = malloc(((size_t)m->n_tensors + 2) * sizeof *refs);
  double it64 = (double)state->iterations;
  float it32 = (float)state->iterations;
  if (!refs) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  for (int t = 0; t < m->n_tensors; ++t) {
    const rnnc_tensor_desc *d = &m->tensors[t];
    refs[t].name = d->name;
    refs[t].rank = d->rank;
    memcpy(refs[t].shape, d->shape, sizeof refs[t].shape);
    refs[t].data = d->size > 0 ? (const char *)params + d->offset * rs : NULL;
  }
  rnnc_tensor_ref *it = &refs[m->n_tensors], *sl = &refs[m->n_tensors + 1];
  memset(it, 0, 2 * sizeof *it);
  it->name = ITERATIONS;
  it->rank = 1;
  it->shape[0] = 1;
  it->data = m->dtype == RNNC_F32 ? (const void *)&it32 : (const void *)&it64;
  sl->name = SLOTS;
  sl->rank = 1;
  sl->shape[0] = (int)state->n_slots;
  sl->data = state->n_slots ? state->slots : NULL;
  int rc = rnnc_safetensors_write(path, m->dtype, refs, m->n_tensors + 2, err, errlen);
  free(refs);
  return rc;
}

int rnnc_checkpoint_load_state(const char *path, const rnnc_model *m, rnnc_optimizer_state *state,
                               char *err, size_t errlen) {
  double it64 = 0;
  float it32 = 0;
  rnnc_tensor_dest d[2];
  memset(d, 0, sizeof d);
  d[0].name = ITERATIONS;
  d[0].rank = 1;
  d[0].shape[0] = 1;
  d[0].data = m->dtype == RNNC_F32 ? (void *)&it32 : (void *)&it64;
  if (rnnc_safetensors_read(path, m->dtype, d, 1, err, errlen) != 0)
    return strstr(err, "is not in the file") ? 0 : -1;
  d[1].name = SLOTS;
  d[1].rank = 1;
  d[1].shape[0] = (int)state->n_slots;
  d[1].data = state->n_slots ? state->slots : NULL;
  if (rnnc_safetensors_read(path, m->dtype, &d[1], 1, err, errlen) != 0) {
    size_t used = strlen(err);
    snprintf(err + used, errlen - used,
             " (the optimizer state was saved for another optimizer, which needs a different "
             "number of slots than %zu)",
             state->n_slots);
    return -1;
  }
  double it = m->dtype == RNNC_F32 ? (double)it32 : it64;
  if (!(it >= 0 && it < 9e15 && it == floor(it))) {
    snprintf(err, errlen, "%s: %s is %g, not a count of updates", path, ITERATIONS, it);
    return -1;
  }
  state->iterations = (long)it;
  return 1;
}

/* ---------------------------------------------------------------- history */

void rnnc_history_free(rnnc_history *h) {
  if (!h)
    return;
  free(h->epoch);
  free(h->values);
  memset(h, 0, sizeof *h);
}

double rnnc_history_value(const rnnc_history *h, const char *name, int row) {
  if (row < 0 || row >= h->n_epochs)
    return NAN;
  for (int i = 0; i < h->n_series; ++i)
    if (strcmp(h->names[i], name) == 0)
      return h->values[(size_t)row * (size_t)h->n_series + (size_t)i];
  return NAN;
}

static int history_add(rnnc_history *h, int epoch, const rnnc_logs *logs) {
  if (h->n_epochs == h->capacity) {
    int cap = h->capacity ? 2 * h->capacity : 16;
    int *e = realloc(h->epoch, (size_t)cap * sizeof *e);
    if (!e)
      return -1;
    h->epoch = e;
    double *v = realloc(h->values, (size_t)cap * RNNC_MAX_SERIES * sizeof *v);
    if (!v)
      return -1;
    h->values = v;
    h->capacity = cap;
  }
  h->epoch[h->n_epochs] = epoch;
  for (int i = 0; i < h->n_series; ++i)
    h->values[(size_t)h->n_epochs * (size_t)h->n_series + (size_t)i] = logs->values[i];
  ++h->n_epochs;
  return 0;
}

/* ---------------------------------------------------------------- SVG plot */

static void xml_text(FILE *f, const char *s) {
  for (; *s; ++s) {
    if (*s == '<')
      fputs("&lt;", f);
    else if (*s == '>')
      fputs("&gt;", f);
    else if (*s == '&')
      fputs("&amp;", f);
    else if (*s == '"')
      fputs("&quot;", f);
    else
      fputc(*s, f);
  }
}

/* A "nice" step (1, 2 or 5 x 10^k) for about `count` intervals over span. */
static double nice_step(double span, int count) {
  double raw = span / count, mag = pow(10, floor(log10(raw))), r = raw / mag;
  return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static void tick_label(char *buf, size_t len, double v, double step) {
  if (fabs(v) < step * 1e-9)
    v = 0;
  if (step >= 1 && fabs(v) < 1e7)
    snprintf(buf, len, "%.0f", v);
  else
    snprintf(buf, len, "%.4g", v);
}

static const char *const PALETTE[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* The quantity a series belongs to: its name without "val_". */
static const char *base_name(const char *name) {
  return strncmp(name, "val_", 4) == 0 ? name + 4 : name;
}

int rnnc_history_plot_svg(const rnnc_history *h, const char *path, const char *title, char *err,
                          size_t errlen) {
  /* panels: distinct base names in order of first appearance */
  const char *panels[RNNC_MAX_SERIES];
  int n_panels = 0;
  for (int s = 0; s < h->n_series; ++s) {
    const char *b = base_name(h->names[s]);
    int seen = 0;
    for (int p = 0; p < n_panels; ++p)
      seen |= strcmp(panels[p], b) == 0;
    if (!seen)
      panels[n_panels++] = b;
  }
  const double W = 720, PH = 300, TOP = 40, L = 80, R = 170, PT = 20, PB = 50;
  double height = TOP + (n_panels ? n_panels : 1) * PH + 10;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot create the plot", tmp);
    return -1;
  }
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
          W, height, W, height);
  fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", W, height);
  fprintf(f, "<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">", W / 2);
  xml_text(f, title && *title ? title : "training history");
  fprintf(f, "</text>\n");
  int first_epoch = h->n_epochs ? h->epoch[0] + 1 : 1;
  int last_epoch = h->n_epochs ? h->epoch[h->n_epochs - 1] + 1 : 1;
  double x0 = first_epoch, x1 = last_epoch > first_epoch ? last_epoch : first_epoch + 1;
  int color = 0;
  for (int p = 0; p < n_panels; ++p) {
    double top = TOP + p * PH + PT, bottom = TOP + (p + 1) * PH - PB;
    double left = L, right = W - R;
    /* value range over the panel's series */
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < h->n_series; ++s) {
      if (strcmp(base_name(h->names[s]), panels[p]) != 0)
        continue;
      for (int r = 0; r < h->n_epochs; ++r) {
        double v = h->values[(size_t)r * (size_t)h->n_series + (size_t)s];
        if (isfinite(v)) {
          lo = fmin(lo, v);
          hi = fmax(hi, v);
        }
      }
    }
    if (!(lo <= hi))
      lo = 0, hi = 1;
    int is_acc = strstr(panels[p], "acc") != NULL;
    int log_scale = !is_acc && lo > 0 && hi / lo > 100;
    double vlo, vhi, step;
    if (log_scale) {
      vlo = floor(log10(lo));
      vhi = ceil(log10(hi));
      step = 1;
    } else {
      if (is_acc && lo >= 0 && hi <= 1)
        lo = 0, hi = 1;
      if (hi - lo < 1e-12 * fmax(1, fabs(hi)))
        lo -= fmax(0.5, fabs(lo) * 0.1), hi += fmax(0.5, fabs(hi) * 0.1);
      step = nice_step(hi - lo, 5);
      vlo = floor(lo / step) * step;
      vhi = ceil(hi / step) * step;
    }
#define SX(e) (left + ((double)(e)-x0) / (x1 - x0) * (right - left))
#define SY(v) (bottom - ((v)-vlo) / (vhi - vlo) * (bottom - top))
    fprintf(f, "<g class=\"panel\">\n");
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#ccc\"/>\n",
            left, top, right - left, bottom - top);
    /* y ticks and grid */
    for (double v = vlo; v <= vhi + step * 1e-6; v += step) {
      char label[64];
      double y = SY(v);
      if (log_scale && v >= -3 && v <= 4)
        snprintf(label, sizeof label, "%g", pow(10, v));
      else if (log_scale)
        snprintf(label, sizeof label, "1e%+.0f", v);
      else
        tick_label(label, sizeof label, v, step);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
              left, y, right, y, left - 5, y, left, y, left - 8, y + 4, label);
    }
    /* x ticks */
    double xstep = nice_step(x1 - x0, 8);
    if (xstep < 1)
      xstep = 1;
    for (double e = ceil(x0 / xstep) * xstep; e <= x1 + 1e-9; e += xstep) {
      double x = SX(e);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
              x, bottom, x, bottom + 5, x, bottom + 18, e);
    }
    /* axes and labels */
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
            left, bottom, right, bottom, left, top, left, bottom);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">epoch</text>\n",
            (left + right) / 2, bottom + 36);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">",
            20.0, (top + bottom) / 2, 20.0, (top + bottom) / 2);
    xml_text(f, panels[p]);
    fprintf(f, "%s</text>\n", log_scale ? " (log scale)" : "");
    /* one polyline per series, and its legend entry */
    int entry = 0;
    for (int s = 0; s < h->n_series; ++s) {
      if (strcmp(base_name(h->names[s]), panels[p]) != 0)
        continue;
      const char *c = PALETTE[color++ % (int)(sizeof PALETTE / sizeof *PALETTE)];
      int val = strncmp(h->names[s], "val_", 4) == 0;
      fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s", c,
              val ? " stroke-dasharray=\"6 3\"" : "");
      fprintf(f, " data-name=\"");
      xml_text(f, h->names[s]);
      fprintf(f, "\" points=\"");
      for (int r = 0; r < h->n_epochs; ++r) {
        double v = h->values[(size_t)r * (size_t)h->n_series + (size_t)s];
        if (!isfinite(v) || (log_scale && v <= 0))
          continue;
        fprintf(f, "%s%.2f,%.2f", r ? " " : "", SX(h->epoch[r] + 1), SY(log_scale ? log10(v) : v));
      }
      fprintf(f, "\"/>\n");
      double ly = top + 10 + 18 * entry++;
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
              "stroke-width=\"2\"%s/><text x=\"%.1f\" y=\"%.1f\">",
              right + 12, ly, right + 40, ly, c, val ? " stroke-dasharray=\"6 3\"" : "", right + 46,
              ly + 4);
      xml_text(f, h->names[s]);
      fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n");
#undef SX
#undef SY
  }
  fprintf(f, "</svg>\n");
  int bad = ferror(f);
  if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
    remove(tmp);
    snprintf(err, errlen, "%s: cannot write the plot", path);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- CSV logger */

typedef struct {
  FILE *f;
  int header;
  int order[RNNC_MAX_SERIES]; /* series in sorted name order */
} csv_t;

static int csv_open(csv_t *c, const char *path, int append, const rnnc_logs *names, char *err,
                    size_t errlen) {
  c->header = 1;
  if (append) {
    FILE *r = fopen(path, "rb");
    if (r) {
      c->header = fgetc(r) == EOF;
      fclose(r);
    }
  }
  c->f = fopen(path, append ? "ab" : "wb");
  if (!c->f) {
    snprintf(err, errlen, "%s: cannot open the CSV log", path);
    return -1;
  }
  for (int i = 0; i < names->count; ++i)
    c->order[i] = i;
  for (int i = 1; i < names->count; ++i) /* insertion sort: Python's sorted(logs.keys()) */
    for (int j = i; j > 0 && strcmp(names->names[c->order[j - 1]], names->names[c->order[j]]) > 0;
         --j) {
      int t = c->order[j];
      c->order[j] = c->order[j - 1];
      c->order[j - 1] = t;
    }
  return 0;
}

/* One row per epoch as Python's csv module writes it (excel dialect: \r\n). */
static int csv_row(csv_t *c, int epoch, const rnnc_logs *logs) {
  if (c->header) {
    fputs("epoch", c->f);
    for (int i = 0; i < logs->count; ++i)
      fprintf(c->f, ",%s", logs->names[c->order[i]]);
    fputs("\r\n", c->f);
    c->header = 0;
  }
  fprintf(c->f, "%d", epoch);
  for (int i = 0; i < logs->count; ++i) {
    char buf[64];
    repr_double(buf, sizeof buf, logs->values[c->order[i]]);
    fprintf(c->f, ",%s", buf);
  }
  fputs("\r\n", c->f);
  return fflush(c->f) == 0 && !ferror(c->f) ? 0 : -1;
}

/* ---------------------------------------------------------------- checkpoint path */

/* Python's str.format for the keys Keras passes: epoch (from 1) and the logs. */
static int format_path(char *out, size_t len, const char *pattern, int epoch1,
                       const rnnc_logs *logs, char *err, size_t errlen) {
  size_t at = 0;
  for (const char *p = pattern; *p; ++p) {
    if (*p != '{') {
      if (at + 1 < len)
        out[at++] = *p;
      continue;
    }
    const char *close = strchr(p, '}');
    if (!close) {
      snprintf(err, errlen, "checkpoint path '%s': '{' without '}'", pattern);
      return -1;
    }
    char key[RNNC_SERIES_NAME + 16] = "", spec[16] = "";
    size_t klen = strcspn(p + 1, ":}");
    if (klen >= sizeof key) {
      snprintf(err, errlen, "checkpoint path '%s': a key is too long", pattern);
      return -1;
    }
    memcpy(key, p + 1, klen);
    key[klen] = '\0';
    if (p[1 + klen] == ':') {
      size_t slen = (size_t)(close - (p + 2 + klen));
      if (slen >= sizeof spec - 2 || strspn(p + 2 + klen, "0123456789.") + 1 != slen ||
          !strchr("dfegFEG", close[-1])) {
        snprintf(err, errlen, "checkpoint path '%s': unsupported format '{%.*s}'", pattern,
                 (int)(close - p - 1), p + 1);
        return -1;
      }
      spec[0] = '%';
      memcpy(spec + 1, p + 2 + klen, slen);
      spec[slen + 1] = '\0';
    }
    char piece[128];
    if (strcmp(key, "epoch") == 0) {
      if (spec[0] && spec[strlen(spec) - 1] == 'd')
        snprintf(piece, sizeof piece, spec, epoch1);
      else if (spec[0])
        snprintf(piece, sizeof piece, spec, (double)epoch1);
      else
        snprintf(piece, sizeof piece, "%d", epoch1);
    } else {
      int i = rnnc_logs_find(logs, key);
      if (i < 0 || (spec[0] && spec[strlen(spec) - 1] == 'd')) {
        snprintf(err, errlen, "checkpoint path '%s': no value '%s' to format", pattern, key);
        return -1;
      }
      if (spec[0])
        snprintf(piece, sizeof piece, spec, logs->values[i]);
      else
        repr_double(piece, sizeof piece, logs->values[i]);
    }
    for (const char *q = piece; *q; ++q)
      if (at + 1 < len)
        out[at++] = *q;
    p = close;
  }
  out[at] = '\0';
  if (at + 1 >= len) {
    snprintf(err, errlen, "checkpoint path '%s': too long", pattern);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- fit context */

typedef struct {
  const rnnc_model *m;
  size_t rs;
  void *scratch, *grad, *bpred, *bx, *by;
  metric_t metrics[RNNC_MAX_METRICS];
  int n_metrics;
  size_t acc_rows; /* rows of output 0 per sample at the data's length */
  int steps;       /* the data's sequence length */
} ctx_t;

static void ctx_free(ctx_t *c) {
  free(c->scratch);
  free(c->grad);
  free(c->bpred);
  free(c->bx);
  free(c->by);
}

static int ctx_init(ctx_t *c, const rnnc_model *m, const rnnc_fit_options *o, char *err,
                    size_t errlen) {
  memset(c, 0, sizeof *c);
  c->m = m;
  c->rs = rnnc_dtype_size(m->dtype);
  int bs = o->batch_size;
  if (bs <= 0 || bs > m->batch) {
    snprintf(err, errlen,
             "batch size %d is outside 1..%d (the batch size the model was generated for)", bs,
             m->batch);
    return -1;
  }
  if (m->loss == RNNC_LOSS_NONE) {
    snprintf(err, errlen, "the model was not compiled with a loss (add model:compile{...})");
    return -1;
  }
  if (parse_metrics(m, o->metrics, c->metrics, &c->n_metrics, err, errlen) != 0)
    return -1;
  c->scratch = calloc(1, m->scratch_bytes);
  c->grad = malloc(m->params_bytes + 1);
  c->bpred = malloc((size_t)bs * m->output_size * c->rs + 1);
  c->bx = malloc((size_t)bs * m->input_size * c->rs + 1);
  c->by = malloc((size_t)bs * m->target_size * c->rs + 1);
  if (!c->scratch || !c->grad || !c->bpred || !c->bx || !c->by) {
    ctx_free(c);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (m->set_steps(c->scratch, o->steps > 0 ? o->steps : m->max_steps) != 0) {
    ctx_free(c);
    snprintf(err, errlen, "sequence length %d is outside what the model takes (%s%d)", o->steps,
             m->variable_steps ? "1.." : "", m->max_steps);
    return -1;
  }
  c->steps = o->steps > 0 ? o->steps : m->max_steps;
  /* a sequence output of a unit of variable length has the data's rows */
  c->acc_rows = m->output_rows;
  if (m->variable_steps && m->output_rows == (size_t)m->max_steps && o->steps > 0)
    c->acc_rows = (size_t)o->steps;
  return 0;
}

/* ---------------------------------------------------------------- data checks */

/* " (t, f)": the position of element `index` of an array of shape dims
 * (row-major), for messages; "" for a scalar. */
static void position_text(char *buf, size_t len, size_t index, const int *dims, int rank) {
  size_t idx[RNNC_MAX_RANK], used = 0;
  buf[0] = '\0';
  if (rank <= 0)
    return;
  for (int k = rank - 1; k >= 0; --k) {
    size_t d = dims[k] > 0 ? (size_t)dims[k] : 1;
    idx[k] = index % d;
    index /= d;
  }
  for (int k = 0; k < rank && used < len; ++k)
    used += (size_t)snprintf(buf + used, len - used, "%s%zu", k ? ", " : " (", idx[k]);
  if (used < len)
    snprintf(buf + used, len - used, ")");
}

/* A value for the checks; a NaN loses its sign, which messages would print as "-nan". */
static double real_at(const ctx_t *c, const void *v, size_t i) {
  double r = c->rs == 4 ? (double)((const float *)v)[i] : ((const double *)v)[i];
  return isnan(r) ? fabs(r) : r;
}

/* A part of the inputs (or output 0) that is a sequence over the data's length. */
static int is_sequence(const rnnc_model *m, int rank, const int *shape) {
  return m->variable_steps && rank == 2 && shape[0] == m->max_steps;
}

/* The contract of the data, checked before any step so that bad data is
 * reported as such and never trained on: every input value the model reads
 * is finite, every target finite, sparse labels whole numbers in
 * [0, classes). Rows past the data's length are not read and not checked. */
static int check_data(const ctx_t *c, const void *x, const void *y, size_t n, const char *xname,
                      const char *yname, char *err, size_t errlen) {
  const rnnc_model *m = c->m;
  char pos[96];
  if (x == NULL || y == NULL) {
    snprintf(err, errlen, "%s: no data given", x == NULL ? xname : yname);
    return -1;
  }
  for (size_t s = 0; s < n; ++s) {
    const char *xs = (const char *)x + s * m->input_size * c->rs;
    for (int k = 0; k < (m->n_inputs > 0 ? m->n_inputs : 1); ++k) {
      const rnnc_part_desc *d = m->n_inputs > 0 ? &m->inputs[k] : NULL;
      int dims[RNNC_MAX_RANK], rank = d ? d->rank : 1;
      size_t offset = d ? d->offset : 0, count = d ? d->size : m->input_size;
      if (d) {
        memcpy(dims, d->shape, sizeof dims);
        if (is_sequence(m, d->rank, d->shape)) {
          dims[0] = c->steps;
          count = (size_t)c->steps * (size_t)d->shape[1];
        }
      } else {
        dims[0] = (int)m->input_size;
      }
      for (size_t i = 0; i < count; ++i) {
        double v = real_at(c, xs, offset + i);
        if (!isfinite(v)) {
          position_text(pos, sizeof pos, i, dims, rank);
          if (m->n_inputs > 1)
            snprintf(err, errlen, "%s: sample %zu, input %d, position%s: %g is not finite", xname,
                     s, k, pos, v);
          else
            snprintf(err, errlen, "%s: sample %zu, position%s: %g is not finite", xname, s, pos, v);
          return -1;
        }
      }
    }
  }
  /* targets: per sample acc_rows rows of target_size / output_rows values */
  const rnnc_output_desc *o = &m->outputs[0];
  int sparse = m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  int dims[RNNC_MAX_RANK], rank = m->n_outputs > 0 ? o->rank : m->output_rank;
  memcpy(dims, m->n_outputs > 0 ? o->shape : m->output_shape, sizeof dims);
  if (is_sequence(m, rank, dims))
    dims[0] = c->steps;
  if (sparse && rank > 0)
    rank--; /* a label per row: the class axis is not in the target */
  size_t per_row = m->output_rows > 0 ? m->target_size / m->output_rows : m->target_size;
  size_t count = c->acc_rows * per_row;
  for (size_t s = 0; s < n; ++s) {
    const char *ys = (const char *)y + s * m->target_size * c->rs;
    for (size_t i = 0; i < count; ++i) {
      double v = real_at(c, ys, i);
      if (!isfinite(v) || (sparse && (v != floor(v) || v < 0 || v >= (double)m->output_cols))) {
        position_text(pos, sizeof pos, i, dims, rank);
        if (!isfinite(v))
          snprintf(err, errlen, "%s: sample %zu, position%s: %g is not finite", yname, s, pos, v);
        else
          snprintf(err, errlen,
                   "%s: sample %zu, position%s: label %g is not a class in [0, %zu) (sparse "
                   "categorical crossentropy takes class indices)",
                   yname, s, pos, v, m->output_cols);
        return -1;
      }
    }
  }
  return 0;
}

/* Loss and metrics over n contiguous samples in batches of bs: values[0] the
 * loss, values[1..] the metrics (size-weighted means of the batch values). */
static void evaluate_into(ctx_t *c, const void *params, const void *x, const void *y, size_t n,
                          int bs, double *values, int verbose) {
  const rnnc_model *m = c->m;
  double loss_sum = 0, sums[RNNC_MAX_METRICS] = {0};
  int steps = (int)((n + (size_t)bs - 1) / (size_t)bs);
  double start = now_seconds();
  for (int step = 0; step < steps; ++step) {
    size_t first = (size_t)step * (size_t)bs;
    int count = (int)(n - first < (size_t)bs ? n - first : (size_t)bs);
    const char *bx = (const char *)x + first * m->input_size * c->rs;
    const char *by = (const char *)y + first * m->target_size * c->rs;
    double loss = m->loss_grad(params, c->scratch, bx, by, c->grad, NULL, c->bpred, count);
    loss_sum += loss * count;
    if (isfinite(loss))
      batch_metrics(m, c->metrics, c->n_metrics, c->bpred, by, count, c->acc_rows, sums);
    else
      for (int k = 0; k < c->n_metrics; ++k)
        sums[k] = NAN;
  }
  values[0] = loss_sum / (double)n;
  for (int k = 0; k < c->n_metrics; ++k)
    values[1 + k] = sums[k] / (double)n;
  if (verbose) {
    double seconds = now_seconds() - start;
    char t[64];
    if (verbose == 1) {
      print_bar(steps, steps);
      printf(" - %.0fs", seconds);
    } else
      printf("%d/%d - %.0fs -", steps, steps, seconds);
    format_time(t, sizeof t, seconds / steps, "step");
    printf("%s", t);
    print_value("loss", values[0]);
    for (int k = 0; k < c->n_metrics; ++k)
      print_value(c->metrics[k].name, values[1 + k]);
    printf("\n");
    fflush(stdout);
  }
}

int rnnc_evaluate(const rnnc_model *m, const void *params, const void *x, const void *y, size_t n,
                  const rnnc_fit_options *o, rnnc_logs *logs, char *err, size_t errlen) {
  ctx_t c;
  if (n == 0) {
    snprintf(err, errlen, "no samples to evaluate");
    return -1;
  }
  if (ctx_init(&c, m, o, err, errlen) != 0)
    return -1;
  if (check_data(&c, x, y, n, "x", "y", err, errlen) != 0) {
    ctx_free(&c);
    return -1;
  }
  double values[1 + RNNC_MAX_METRICS];
  evaluate_into(&c, params, x, y, n, o->batch_size, values, o->verbose);
  memset(logs, 0, sizeof *logs);
  logs->count = 1 + c.n_metrics;
  snprintf(logs->names[0], RNNC_SERIES_NAME, "loss");
  logs->values[0] = values[0];
  for (int k = 0; k < c.n_metrics; ++k) {
    snprintf(logs->names[1 + k], RNNC_SERIES_NAME, "%s", c.metrics[k].name);
    logs->values[1 + k] = values[1 + k];
  }
  ctx_free(&c);
  return 0;
}

/* ---------------------------------------------------------------- progress */

typedef struct {
  int verbose, live, steps, epochs, width;
  double start, last;
} progress_t;

/* The live bar while an epoch runs: running means of the values. */
static void progress_update(progress_t *p, int current, const rnnc_logs *running) {
  double now = now_seconds();
  if (now - p->last < 0.05)
    return;
  p->last = now;
  printf("\r");
  int w = print_bar(current, p->steps);
  double eta = (now - p->start) / current * (p->steps - current);
  if (eta > 3600)
    w += printf(" - ETA: %d:%02d:%02d", (int)(eta / 3600), (int)fmod(eta / 60, 60),
                (int)fmod(eta, 60));
  else if (eta > 60)
    w += printf(" - ETA: %d:%02d", (int)(eta / 60), (int)fmod(eta, 60));
  else
    w += printf(" - ETA: %ds", (int)eta);
  for (int i = 0; i < running->count; ++i) {
    double v = running->values[i];
    w += printf(fabs(v) > 1e-3 ? " - %s: %.4f" : " - %s: %.4e", running->names[i], v);
  }
  if (w < p->width)
    printf("%*s", p->width - w, "");
  p->width = w;
  fflush(stdout);
}

/* The epoch's final line (Keras's finalize). */
static void progress_final(progress_t *p, const rnnc_logs *logs) {
  double seconds = now_seconds() - p->start;
  char t[64];
  int w = 0;
  if (p->live)
    printf("\r");
  if (p->verbose == 1) {
    w += print_bar(p->steps, p->steps);
    w += printf(" - %.0fs", seconds);
  } else
    w += printf("%d/%d - %.0fs -", p->steps, p->steps, seconds);
  format_time(t, sizeof t, seconds / p->steps, "step");
  w += printf("%s", t);
  for (int i = 0; i < logs->count; ++i) {
    double v = logs->values[i];
    w += printf(fabs(v) > 1e-3 ? " - %s: %.4f" : " - %s: %.4e", logs->names[i], v);
  }
  if (p->live && w < p->width)
    printf("%*s", p->width - w, "");
  printf("\n");
  fflush(stdout);
}

/* ---------------------------------------------------------------- callbacks */

typedef struct {
  int on, index, greater, restore, has_baseline, patience, start_from, verbose;
  double min_delta, baseline, best;
  int wait, stopped_epoch, best_epoch, have_best_weights, improved;
  void *best_weights;
} early_t;

static int es_improves(const early_t *es, double v, double ref) {
  return es->greater ? v - es->min_delta > ref : v + es->min_delta < ref;
}

/* EarlyStopping.on_epoch_end; 1 to stop. */
static int es_epoch_end(early_t *es, int epoch, const rnnc_logs *logs, const void *params,
                        size_t bytes) {
  if (!es->on || epoch < es->start_from)
    return 0;
  double current = logs->values[es->index];
  if (es->restore && !es->have_best_weights) {
    memcpy(es->best_weights, params, bytes);
    es->have_best_weights = 1;
    es->best_epoch = epoch;
  }
  es->wait += 1;
  if (es_improves(es, current, es->best)) {
    es->best = current;
    es->best_epoch = epoch;
    es->improved = 1;
    if (es->restore)
      memcpy(es->best_weights, params, bytes);
    if (!es->has_baseline || es_improves(es, current, es->baseline))
      es->wait = 0;
    return 0;
  }
  if (es->wait >= es->patience && epoch > 0) {
    es->stopped_epoch = epoch;
    return 1;
  }
  return 0;
}

typedef struct {
  const char *path;
  int index, greater, save_best_only, have_best, verbose;
  double best;
} checkpoint_t;

static int series_index(const rnnc_logs *names, const char *monitor, const char *who, char *err,
                        size_t errlen) {
  int i = rnnc_logs_find(names, monitor);
  if (i < 0) {
    size_t used =
        (size_t)snprintf(err, errlen, "%s monitors '%s', which is not available (", who, monitor);
    for (int k = 0; k < names->count && used < errlen; ++k)
      used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                               k ? ", " : "available: ", names->names[k]);
    if (used < errlen)
      snprintf(err + used, errlen - used, ")%s",
               strncmp(monitor, "val_", 4) == 0 ? "; give validation data or monitor 'loss'" : "");
  }
  return i;
}

/* ---------------------------------------------------------------- fit */

int rnnc_fit_history(const rnnc_model *m, void *params, const void *x, const void *y, size_t n,
                     const rnnc_fit_options *o, rnnc_optimizer_state *state_io,
                     rnnc_history *history, char *err, size_t errlen) {
  ctx_t c;
  rnnc_history local_history;
  rnnc_history *h = history ? history : &local_history;
  rnnc_optimizer_state local_state, *state = state_io ? state_io : &local_state;
  int own_state = 0, rc = 0;
  size_t *order = NULL;
  void *backup_p = NULL, *backup_s = NULL;
  early_t es;
  checkpoint_t ck;
  csv_t csv;
  memset(&es, 0, sizeof es);
  memset(&ck, 0, sizeof ck);
  memset(&csv, 0, sizeof csv);
  memset(&local_state, 0, sizeof local_state);
  if (history)
    rnnc_history_free(history);
  else
    memset(&local_history, 0, sizeof local_history);

  if (n == 0) {
    snprintf(err, errlen, "no samples to train on");
    return -1;
  }
  if (o->epochs < 0 || o->initial_epoch < 0) {
    snprintf(err, errlen, "epochs and initial_epoch must not be negative");
    return -1;
  }
  if (!(o->validation_split >= 0 && o->validation_split < 1)) {
    snprintf(err, errlen, "validation_split %g is outside [0, 1)", o->validation_split);
    return -1;
  }
  if (ctx_init(&c, m, o, err, errlen) != 0)
    return -1;
  const size_t rs = c.rs;
  const int bs = o->batch_size;

  /* the optimizer and its state */
  rnnc_optimizer opt = o->optimizer.kind ? o->optimizer : m->optimizer;
  size_t n_slots = rnnc_optimizer_slots(&opt, m->n_params);
  if (state->slots == NULL) {
    if (rnnc_optimizer_state_init(state, m, &opt) != 0) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
      goto done;
    }
    own_state = state_io == NULL;
  } else if (state->n_slots != n_slots) {
    snprintf(err, errlen,
             "the optimizer state has %zu slots, the optimizer (kind %d) needs %zu for %zu "
             "parameters",
             state->n_slots, (int)opt.kind, n_slots, m->n_params);
    rc = -1;
    goto done;
  }

  /* training and validation data: Keras takes the last samples, before shuffling */
  size_t n_train = n, n_val = 0;
  const void *vx = NULL, *vy = NULL;
  if (o->val_x && o->val_y && o->val_n > 0) {
    vx = o->val_x;
    vy = o->val_y;
    n_val = o->val_n;
  } else if (o->validation_split > 0) {
    size_t split_at = (size_t)floor((double)n * (1.0 - o->validation_split));
    if (split_at == 0 || split_at == n) {
      snprintf(err, errlen,
               "%zu samples are not enough to split into training and validation data with "
               "validation_split %g",
               n, o->validation_split);
      rc = -1;
      goto done;
    }
    n_train = split_at;
    n_val = n - split_at;
    vx = (const char *)x + n_train * m->input_size * rs;
    vy = (const char *)y + n_train * m->target_size * rs;
  }
  if (check_data(&c, x, y, n, "x", "y", err, errlen) != 0 ||
      (o->val_x && o->val_y && o->val_n > 0 &&
       check_data(&c, vx, vy, n_val, "val_x", "val_y", err, errlen) != 0)) {
    rc = -1;
    goto done;
  }

  /* the series: loss, metrics, val_loss, val_metrics */
  rnnc_logs logs;
  memset(&logs, 0, sizeof logs);
  logs.count = 1 + c.n_metrics;
  snprintf(logs.names[0], RNNC_SERIES_NAME, "loss");
  for (int k = 0; k < c.n_metrics; ++k)
    snprintf(logs.names[1 + k], RNNC_SERIES_NAME, "%s", c.metrics[k].name);
  if (n_val > 0) {
    for (int k = 0; k <= c.n_metrics; ++k) {
      char name[RNNC_SERIES_NAME];
      memcpy(name, logs.names[k], sizeof name);
      snprintf(logs.names[logs.count + k], RNNC_SERIES_NAME, "val_%.*s", RNNC_SERIES_NAME - 5,
               name);
    }
    logs.count *= 2;
  }
  h->n_series = logs.count;
  memcpy(h->names, logs.names, sizeof h->names);

  /* callbacks */
  const rnnc_early_stopping *eo = &o->early_stopping;
  if (eo->enabled) {
    const char *mon = eo->monitor && *eo->monitor ? eo->monitor : "val_loss";
    es.on = 1;
    es.index = series_index(&logs, mon, "EarlyStopping", err, errlen);
    if (es.index < 0) {
      rc = -1;
      goto done;
    }
    es.greater = greater_is_better(mon, eo->mode);
    es.min_delta = fabs(eo->min_delta);
    es.patience = eo->patience;
    es.has_baseline = eo->has_baseline;
    es.baseline = eo->baseline;
    es.restore = eo->restore_best_weights;
    es.start_from = eo->start_from_epoch;
    es.verbose = eo->verbose;
    es.best = es.greater ? -INFINITY : INFINITY;
    if (es.restore && !(es.best_weights = malloc(m->params_bytes + 1))) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
      goto done;
    }
  }
  if (o->checkpoint.path) {
    const char *mon =
        o->checkpoint.monitor && *o->checkpoint.monitor ? o->checkpoint.monitor : "val_loss";
    ck.path = o->checkpoint.path;
    ck.save_best_only = o->checkpoint.save_best_only;
    ck.greater = greater_is_better(mon, o->checkpoint.mode);
    ck.verbose = o->checkpoint.verbose;
    ck.index = -1;
    if (ck.save_best_only &&
        (ck.index = series_index(&logs, mon, "ModelCheckpoint", err, errlen)) < 0) {
      rc = -1;
      goto done;
    }
  }
  if (o->csv_path && csv_open(&csv, o->csv_path, o->csv_append, &logs, err, errlen) != 0) {
    rc = -1;
    goto done;
  }

  order = malloc(n_train * sizeof *order + 1);
  backup_p = malloc(m->params_bytes + 1);
  backup_s = malloc(n_slots * rs + 1);
  if (!order || !backup_p || !backup_s) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
    goto done;
  }
  for (size_t i = 0; i < n_train; ++i)
    order[i] = i;
  rnnc_rng rng;
  rnnc_rng_seed(&rng, o->seed);
  const int steps = (int)((n_train + (size_t)bs - 1) / (size_t)bs);
  const int tty = stdout_is_terminal();
  int stop = 0;
  for (int epoch = 0; epoch < o->epochs && !stop; ++epoch) {
    /* one shuffle per epoch from the start: epoch e's order does not depend on
     * where training (re)started */
    if (o->shuffle)
      for (size_t i = n_train - 1; i > 0; --i) {
        size_t j = (size_t)rnnc_rng_below(&rng, i + 1);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    if (epoch < o->initial_epoch)
      continue;
    const int e = epoch + 1;
    int shown =
        o->verbose && (o->log_every <= 1 || e == 1 || e == o->epochs || e % o->log_every == 0);
    progress_t pr;
    memset(&pr, 0, sizeof pr);
    pr.verbose = o->verbose;
    pr.live = shown && o->verbose == 1 && tty;
    pr.steps = steps;
    pr.epochs = o->epochs;
    pr.start = pr.last = now_seconds();
    if (shown) {
      printf("Epoch %d/%d\n", e, o->epochs);
      fflush(stdout);
    }
    double loss_sum = 0, sums[RNNC_MAX_METRICS] = {0};
    size_t seen = 0;
    for (int step = 0; step < steps; ++step) {
      size_t first = (size_t)step * (size_t)bs;
      int count = (int)(n_train - first < (size_t)bs ? n_train - first : (size_t)bs);
      for (int k = 0; k < count; ++k) {
        size_t src = order[first + (size_t)k];
        memcpy((char *)c.bx + (size_t)k * m->input_size * rs,
               (const char *)x + src * m->input_size * rs, m->input_size * rs);
        memcpy((char *)c.by + (size_t)k * m->target_size * rs,
               (const char *)y + src * m->target_size * rs, m->target_size * rs);
      }
      double loss = m->loss_grad(params, c.scratch, c.bx, c.by, c.grad, NULL, c.bpred, count);
      if (!isfinite(loss) || !all_finite(m->dtype, c.grad, m->n_params)) {
        if (pr.live)
          printf("\n");
        snprintf(err, errlen,
                 "epoch %d/%d, batch %d/%d: the loss or a gradient is not finite (%s); training "
                 "stopped, the weights are those after the last good step",
                 e, o->epochs, step + 1, steps,
                 isnan(loss)   ? "nan"
                 : isinf(loss) ? "inf"
                               : "gradient");
        h->diverged = 1;
        rc = -1;
        goto done;
      }
      /* the update, undone when it makes a weight or the state non-finite */
      memcpy(backup_p, params, m->params_bytes);
      memcpy(backup_s, state->slots, n_slots * rs);
      state->iterations += 1;
      if (m->dtype == RNNC_F32)
        rnnc_optimizer_apply_f32(&opt, (float *)params, (float *)c.grad, (float *)state->slots,
                                 m->n_params, state->iterations, m->tensors, m->n_tensors);
      else
        rnnc_optimizer_apply_f64(&opt, (double *)params, (double *)c.grad, (double *)state->slots,
                                 m->n_params, state->iterations, m->tensors, m->n_tensors);
      if (!all_finite(m->dtype, params, m->n_params) ||
          !all_finite(m->dtype, state->slots, n_slots)) {
        memcpy(params, backup_p, m->params_bytes);
        memcpy(state->slots, backup_s, n_slots * rs);
        state->iterations -= 1;
        if (pr.live)
          printf("\n");
        snprintf(err, errlen,
                 "epoch %d/%d, batch %d/%d: the update made a weight or the optimizer state not "
                 "finite (learning rate too large?); training stopped, the weights are those "
                 "after the last good step",
                 e, o->epochs, step + 1, steps);
        h->diverged = 1;
        rc = -1;
        goto done;
      }
      loss_sum += loss * count;
      batch_metrics(m, c.metrics, c.n_metrics, c.bpred, c.by, count, c.acc_rows, sums);
      seen += (size_t)count;
      if (pr.live && step + 1 < steps) {
        rnnc_logs running;
        running.count = 1 + c.n_metrics;
        memcpy(running.names, logs.names, sizeof running.names);
        running.values[0] = loss_sum / (double)seen;
        for (int k = 0; k < c.n_metrics; ++k)
          running.values[1 + k] = sums[k] / (double)seen;
        progress_update(&pr, step + 1, &running);
      }
    }
    /* the epoch's logs */
    logs.values[0] = loss_sum / (double)n_train;
    for (int k = 0; k < c.n_metrics; ++k)
      logs.values[1 + k] = sums[k] / (double)n_train;
    if (n_val > 0)
      evaluate_into(&c, params, vx, vy, n_val, bs, logs.values + 1 + c.n_metrics, 0);
    if (o->on_epoch_end && o->on_epoch_end(o->hook_user, epoch, &logs, params) != 0)
      stop = 1;
    if (history_add(h, epoch, &logs) != 0) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
      goto done;
    }
    if (es_epoch_end(&es, epoch, &logs, params, m->params_bytes))
      stop = 1;
    if (o->verbose && (shown || stop || epoch + 1 == o->epochs)) {
      if (!shown)
        printf("Epoch %d/%d\n", e, o->epochs);
      progress_final(&pr, &logs);
    }
    /* ModelCheckpoint */
    if (ck.path) {
      char path[4096];
      if (format_path(path, sizeof path, ck.path, e, &logs, err, errlen) != 0) {
        rc = -1;
        goto done;
      }
      int save = 1;
      if (ck.save_best_only) {
        double v = logs.values[ck.index];
        int better = !isnan(v) && (!ck.have_best || (ck.greater ? v > ck.best : v < ck.best));
        if (ck.verbose) {
          char best[64];
          if (ck.have_best)
            snprintf(best, sizeof best, "%.5f", ck.best);
          else
            snprintf(best, sizeof best, "None");
          if (better)
            printf("\nEpoch %d: %s improved from %s to %.5f, saving model to %s\n", e,
                   logs.names[ck.index], best, v, path);
          else
            printf("\nEpoch %d: %s did not improve from %s\n", e, logs.names[ck.index], best);
        }
        save = better;
        if (better) {
          ck.best = v;
          ck.have_best = 1;
        }
      } else if (ck.verbose)
        printf("\nEpoch %d: saving model to %s\n", e, path);
      if (save) {
        if (!all_finite(m->dtype, params, m->n_params)) { /* never: updates are checked */
          snprintf(err, errlen, "epoch %d: the weights are not finite; the checkpoint is kept", e);
          h->diverged = 1;
          rc = -1;
          goto done;
        }
        char werr[512];
        if (rnnc_checkpoint_save(path, m, params, state, werr, sizeof werr) != 0) {
          snprintf(err, errlen, "ModelCheckpoint, epoch %d: %s", e, werr);
          rc = -1;
          goto done;
        }
      }
    }
    if (csv.f && csv_row(&csv, epoch, &logs) != 0) {
      snprintf(err, errlen, "%s: cannot write the CSV log", o->csv_path);
      rc = -1;
      goto done;
    }
  }
  /* EarlyStopping.on_train_end */
  if (es.on) {
    h->best_epoch = es.improved || es.have_best_weights ? es.best_epoch + 1 : 0;
    h->best_value = es.improved ? es.best : NAN;
    if (es.stopped_epoch > 0) {
      h->stopped_epoch = es.stopped_epoch + 1;
      if (es.verbose)
        printf("Epoch %d: early stopping\n", es.stopped_epoch + 1);
    }
    if (es.restore && es.have_best_weights) {
      if (es.verbose)
        printf("Restoring model weights from the end of the best epoch: %d.\n", es.best_epoch + 1);
      memcpy(params, es.best_weights, m->params_bytes);
      h->restored = 1;
    }
  }
done:
  h->iterations = state->iterations;
  if (o->plot_path && h->n_series > 0) {
    char perr[512];
    if (rnnc_history_plot_svg(h, o->plot_path, m->name, perr, sizeof perr) != 0 && rc == 0) {
      snprintf(err, errlen, "%s", perr);
      rc = -1;
    }
  }
  fflush(stdout);
  if (csv.f)
    fclose(csv.f);
  if (own_state)
    rnnc_optimizer_state_free(&local_state);
  if (!history)
    rnnc_history_free(&local_history);
  free(es.best_weights);
  free(order);
  free(backup_p);
  free(backup_s);
  ctx_free(&c);
  return rc;
}

int rnnc_fit(const rnnc_model *m, void *params, const void *x, const void *y, size_t n,
             const rnnc_fit_options *o, double *final_loss, double *final_accuracy, char *err,
             size_t errlen) {
  rnnc_history h;
  memset(&h, 0, sizeof h);
  int rc = rnnc_fit_history(m, params, x, y, n, o, NULL, &h, err, errlen);
  int last = h.n_epochs - 1;
  if (final_loss && last >= 0)
    *final_loss = rnnc_history_value(&h, "loss", last);
  if (final_accuracy && last >= 0)
    *final_accuracy = rnnc_history_value(&h, "accuracy", last);
  rnnc_history_free(&h);
  return rc;
}
