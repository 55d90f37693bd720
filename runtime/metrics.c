/* Keras's metrics of a fit and evaluate: the names (the catalog's), the
 * accuracy chosen from the loss, and their values per batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

static const struct {
  metric_kind kind;
  const char *name, *aliases;
} METRICS[] = {
#define METRIC(NAME, name, aliases, labels) {MET_##NAME, name, aliases},
    RNNC_METRICS(METRIC)
#undef METRIC
};

/* "accuracy" picks the variant from the loss of the output it reads, as
 * Keras 2.0's compile did: binary for binary crossentropy or a single output
 * column, sparse for sparse labels, else categorical. */
static metric_kind accuracy_for(const rnnc_model *m, int part) {
  rnnc_loss_kind loss = m->losses[part].kind;
  if (loss == RNNC_LOSS_BINARY_CROSSENTROPY)
    return MET_BINARY_ACC;
  if (loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    return MET_SPARSE_ACC;
  if (m->losses[part].cols == 1)
    return MET_BINARY_ACC;
  return MET_CATEGORICAL_ACC;
}

/* The outputs with a loss (the ones with targets), in order. */
static int loss_parts(const rnnc_model *m, int *parts) {
  int n = 0;
  for (int k = 0; k < m->n_outputs; ++k)
    if (m->losses[k].kind != RNNC_LOSS_NONE)
      parts[n++] = k;
  return n;
}

/* Adds metric `name` (Keras's or an alias) on output `part`; several
 * outputs with losses name it "<output>_<name>", as tf.keras does. */
static int add_metric(const rnnc_model *m, const char *name, int part, int several, metric_t *out,
                      int *count, char *err, size_t errlen) {
  int found = -1;
  for (size_t k = 0; k < sizeof METRICS / sizeof *METRICS; ++k)
    if (strcmp(name, METRICS[k].name) == 0 || rnnc_catalog_word_in(name, METRICS[k].aliases))
      found = (int)k;
  if (found < 0) {
    size_t used = (size_t)snprintf(err, errlen, "unknown metric '%s' (known:", name);
    for (size_t k = 0; k < sizeof METRICS / sizeof *METRICS && used < errlen; ++k)
      used += (size_t)snprintf(err + used, errlen - used, "%s %s%s%s", k ? "," : "",
                               METRICS[k].name, *METRICS[k].aliases ? " " : "", METRICS[k].aliases);
    if (used < errlen)
      snprintf(err + used, errlen - used, ")");
    return -1;
  }
  metric_kind kind = METRICS[found].kind;
  int sparse = m->losses[part].kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  if (kind == MET_ACCURACY)
    kind = accuracy_for(m, part);
  if ((kind == MET_SPARSE_ACC) != sparse) {
    snprintf(err, errlen, "metric '%s' needs %s targets; the loss of %s takes %s", name,
             kind == MET_SPARSE_ACC ? "sparse (class label)" : "dense",
             several ? m->outputs[part].name : "the model",
             sparse ? "class labels" : "dense targets");
    return -1;
  }
  char full[RNNC_SERIES_NAME];
  if (several)
    snprintf(full, sizeof full, "%.*s_%s", (int)(sizeof full - strlen(name) - 2),
             m->outputs[part].name, name);
  else
    snprintf(full, sizeof full, "%s", name);
  for (int i = 0; i < *count; ++i)
    if (strcmp(out[i].name, full) == 0) {
      snprintf(err, errlen, "metric '%s' is given twice", full);
      return -1;
    }
  if (*count == RNNC_MAX_METRICS) {
    snprintf(err, errlen, "at most %d metrics", RNNC_MAX_METRICS);
    return -1;
  }
  out[*count].kind = kind;
  out[*count].part = part;
  out[*count].loss_value = NULL;
  snprintf(out[*count].name, sizeof out[*count].name, "%s", full);
  ++*count;
  return 0;
}

int fit_parse_metrics(const rnnc_model *m, const char *spec, metric_t *out, int *count, char *err,
                      size_t errlen) {
  char from_model[512];
  int parts[RNNC_MAX_OUTPUTS];
  int n_parts = loss_parts(m, parts), several = n_parts > 1;
  *count = 0;
  if (n_parts == 0) {
    snprintf(err, errlen, "the model was not compiled with a loss");
    return -1;
  }
  if (spec == NULL) {
    /* the model's compile{metrics = ...}: the "metrics=" word of its fit
     * defaults (units before it only knew accuracy: metric_accuracy) */
    const char *d = m->fit_defaults ? m->fit_defaults : "";
    const char *at = strncmp(d, "metrics=", 8) == 0 ? d : strstr(d, " metrics=");
    if (at != NULL) {
      at = strchr(at, '=') + 1;
      size_t len = strcspn(at, " ");
      if (len >= sizeof from_model)
        len = sizeof from_model - 1;
      memcpy(from_model, at, len);
      from_model[len] = '\0';
      spec = from_model;
    } else {
      if (m->metric_accuracy)
        return add_metric(m, "accuracy", parts[0], several, out, count, err, errlen);
      return 0;
    }
  }
  const char *p = spec;
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
    /* OUTPUT:metric names one output; a metric alone applies to every
     * output with a loss (Keras broadcasts one list of metrics) */
    char *colon = strchr(name, ':');
    if (colon != NULL) {
      int part = -1;
      *colon = '\0';
      for (int k = 0; k < m->n_outputs; ++k)
        if (m->outputs[k].name && strcmp(m->outputs[k].name, name) == 0)
          part = k;
      if (part < 0 || m->losses[part].kind == RNNC_LOSS_NONE) {
        snprintf(err, errlen, "metric '%s:%s': %s", name, colon + 1,
                 part < 0 ? "the model has no output of that name"
                          : "that output has no loss (and no targets)");
        return -1;
      }
      if (add_metric(m, colon + 1, part, several, out, count, err, errlen) != 0)
        return -1;
      continue;
    }
    for (int i = 0; i < n_parts; ++i)
      if (add_metric(m, name, parts[i], several, out, count, err, errlen) != 0)
        return -1;
  }
  return 0;
}

/* The value of a metric on one sample: output `part` at its offset in
 * y_pred (output_size reals per sample), its targets at their offset in
 * the sample's targets (target_size reals), `rows` rows. */
static double metric_one(const rnnc_model *m, metric_kind kind, int part, const void *pred,
                         const void *tgt, size_t rows) {
  size_t cols = m->losses[part].cols;
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
    case MET_ACCURACY: /* resolved by fit_parse_metrics */
      break;
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
    case MET_ACCURACY:
      break;
    }
  }
  return NAN;
}

/* Adds count x (the batch's mean of each metric) to sums. `rows`: rows of
 * a sequence output at the data's length. */
void fit_batch_metrics(const rnnc_model *m, const metric_t *metrics, int n_metrics,
                       const void *y_pred, const void *y, int count, size_t rows, double *sums) {
  size_t rs = rnnc_dtype_size(m->dtype);
  for (int k = 0; k < n_metrics; ++k) {
    const metric_t *mt = &metrics[k];
    const rnnc_loss_part *lp = &m->losses[mt->part];
    /* a sequence output of a unit of variable length has the data's rows */
    size_t part_rows =
        m->variable_steps && lp->rows == (size_t)m->max_steps && m->outputs[mt->part].rank == 2
            ? rows
            : lp->rows;
    if (mt->loss_value != NULL) {
      sums[k] += (double)count * *mt->loss_value;
      continue;
    }
    for (int i = 0; i < count; ++i) {
      const char *p =
          (const char *)y_pred + ((size_t)i * m->output_size + m->outputs[mt->part].offset) * rs;
      const char *t = (const char *)y + ((size_t)i * m->target_size + lp->target_offset) * rs;
      sums[k] += metric_one(m, mt->kind, mt->part, p, t, part_rows);
    }
  }
}
