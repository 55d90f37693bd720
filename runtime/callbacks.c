/* Keras's callbacks of a fit: the logs, the History, CSVLogger,
 * ModelCheckpoint's file names, EarlyStopping and ReduceLROnPlateau. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

int rnnc_logs_find(const rnnc_logs *logs, const char *name) {
  for (int i = 0; i < logs->count; ++i)
    if (strcmp(logs->names[i], name) == 0)
      return i;
  return -1;
}

/* Whether `name` ends with `suffix` after "_" or at its start. */
static int ends_with_word(const char *name, const char *suffix) {
  size_t n = strlen(name), k = strlen(suffix);
  return n >= k && strcmp(name + n - k, suffix) == 0 && (n == k || name[n - k - 1] == '_');
}

/* mode "auto": an accuracy is better greater ("acc" in the name, tf.keras
 * 2.x's rule); so are precision, recall and auc, whose Keras 3 metrics have
 * _direction "up" (keras/src/callbacks/early_stopping.py _set_monitor_op
 * reads it; tf.keras 2.x would minimise them) */
int fit_greater_is_better(const char *monitor, rnnc_monitor_mode mode) {
  if (mode == RNNC_MODE_MAX)
    return 1;
  if (mode == RNNC_MODE_MIN)
    return 0;
  return strstr(monitor, "acc") != NULL || ends_with_word(monitor, "precision") ||
         ends_with_word(monitor, "recall") || ends_with_word(monitor, "auc");
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

int fit_history_add(rnnc_history *h, int epoch, const rnnc_logs *logs) {
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

int fit_csv_open(csv_t *c, const char *path, int append, const rnnc_logs *names, char *err,
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
int fit_csv_row(csv_t *c, int epoch, const rnnc_logs *logs) {
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
int fit_format_path(char *out, size_t len, const char *pattern, int epoch1, const rnnc_logs *logs,
                    char *err, size_t errlen) {
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

static int es_improves(const early_t *es, double v, double ref) {
  return es->greater ? v - es->min_delta > ref : v + es->min_delta < ref;
}

/* EarlyStopping.on_epoch_end; 1 to stop. */
int fit_es_epoch_end(early_t *es, int epoch, const rnnc_logs *logs, const void *params,
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

/* ---------------------------------------------------------------- ReduceLROnPlateau */
/* keras/src/callbacks/reduce_lr_on_plateau.py (Keras 3). */

int fit_rlr_greater_is_better(const char *monitor, rnnc_monitor_mode mode) {
  /* _reset: min when mode == "min" or (mode == "auto" and "acc" not in monitor) */
  if (mode == RNNC_MODE_MIN)
    return 0;
  return mode == RNNC_MODE_MAX || strstr(monitor, "acc") != NULL;
}

/* The value the optimizer's learning_rate variable holds: float32 in a
 * float32 unit (Keras's variable of floatx), as float(convert_to_numpy(...))
 * reads it. */
static double lr_variable(const plateau_t *r, double lr) {
  return r->f32 ? (double)(float)lr : lr;
}

int fit_rlr_epoch_end(plateau_t *r, rnnc_logs *logs, double *lr) {
  if (!r->on)
    return 0;
  /* logs["learning_rate"] = float(self.model.optimizer.learning_rate) */
  const double old_lr = lr_variable(r, *lr);
  logs->values[r->lr_index] = old_lr;
  const double current = logs->values[r->index];
  if (r->cooldown_counter > 0) { /* in_cooldown() */
    r->cooldown_counter -= 1;
    r->wait = 0;
  }
  /* monitor_op: np.less(a, b - min_delta) or np.greater(a, b + min_delta);
   * false for a NaN */
  int better = r->greater ? current > r->best + r->min_delta : current < r->best - r->min_delta;
  if (better) {
    r->best = current;
    r->wait = 0;
    return 0;
  }
  if (r->cooldown_counter > 0)
    return 0;
  r->wait += 1;
  if (r->wait < r->patience)
    return 0;
  /* old_lr > np.float32(min_lr): NumPy 2 compares a Python float with a
   * float32 scalar in float32 (NEP 50); old_lr is float32 already in a
   * float32 unit, so the rate stops at min_lr and is not "reduced" again */
  if (!((float)old_lr > (float)r->min_lr))
    return 0;
  double new_lr = old_lr * r->factor;
  if (r->min_lr > new_lr) /* max(new_lr, min_lr), as Python's max */
    new_lr = r->min_lr;
  r->new_lr = new_lr;
  *lr = lr_variable(r, new_lr); /* optimizer.learning_rate = new_lr */
  r->cooldown_counter = r->cooldown;
  r->wait = 0;
  return 1;
}

void fit_rlr_message(const plateau_t *r, int epoch) {
  char buf[64];
  repr_double(buf, sizeof buf, r->new_lr);
  printf("\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1, buf);
}

int fit_series_index(const rnnc_logs *names, const char *monitor, const char *who, char *err,
                     size_t errlen) {
  int i = rnnc_logs_find(names, monitor);
  if (i < 0) {
    /* Keras names the accuracy "acc" or "accuracy" as compile{} spelled it:
     * a monitor of either spelling finds it */
    const char *base = strncmp(monitor, "val_", 4) == 0 ? monitor + 4 : monitor;
    char other[RNNC_SERIES_NAME];
    if (strcmp(base, "acc") == 0 || strcmp(base, "accuracy") == 0) {
      snprintf(other, sizeof other, "%s%s", base == monitor ? "" : "val_",
               strcmp(base, "acc") == 0 ? "accuracy" : "acc");
      i = rnnc_logs_find(names, other);
    }
  }
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
