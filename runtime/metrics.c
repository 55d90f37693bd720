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

int fit_parse_metrics(const rnnc_model *m, const char *spec, metric_t *out, int *count, char *err,
                      size_t errlen) {
  char from_model[256];
  *count = 0;
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
      if (m->metric_accuracy) {
        out[0].kind = accuracy_for(m);
        snprintf(out[0].name, sizeof out[0].name, "accuracy");
        *count = 1;
      }
      return 0;
    }
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
    int found = -1;
    for (size_t k = 0; k < sizeof METRICS / sizeof *METRICS; ++k)
      if (strcmp(name, METRICS[k].name) == 0 || rnnc_catalog_word_in(name, METRICS[k].aliases))
        found = (int)k;
    if (found < 0) {
      size_t used = (size_t)snprintf(err, errlen, "unknown metric '%s' (known:", name);
      for (size_t k = 0; k < sizeof METRICS / sizeof *METRICS && used < errlen; ++k)
        used +=
            (size_t)snprintf(err + used, errlen - used, "%s %s%s%s", k ? "," : "", METRICS[k].name,
                             *METRICS[k].aliases ? " " : "", METRICS[k].aliases);
      if (used < errlen)
        snprintf(err + used, errlen - used, ")");
      return -1;
    }
    metric_kind kind = METRICS[found].kind;
    if (kind == MET_ACCURACY)
      kind = accuracy_for(m);
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

/* Adds count x (the batch's mean of each metric) to sums. */
void fit_batch_metrics(const rnnc_model *m, const metric_t *metrics, int n_metrics,
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
