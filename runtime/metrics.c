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
  int labels; /* takes class labels (sparse targets) */
} METRICS[] = {
#define METRIC(NAME, name, aliases, labels) {MET_##NAME, name, aliases, labels},
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
static int add_metric(const rnnc_model *m, const char *name, int part, int several, int weighted,
                      metric_t *out, int *count, char *err, size_t errlen) {
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
  int labels = 0;
  for (size_t k = 0; k < sizeof METRICS / sizeof *METRICS; ++k)
    if (METRICS[k].kind == kind)
      labels = METRICS[k].labels;
  if (labels != sparse) {
    snprintf(err, errlen, "metric '%s' needs %s targets; the loss of %s takes %s", name,
             labels ? "sparse (class label)" : "dense",
             several ? m->outputs[part].name : "the model",
             sparse ? "class labels" : "dense targets");
    return -1;
  }
  char full[RNNC_SERIES_NAME];
  for (int pass = 0; pass < 2; ++pass) {
    /* a weighted metric named as a metric is "weighted_NAME" (Keras 3's
     * CompileMetrics.result) */
    const char *prefix = pass ? "weighted_" : "";
    if (several)
      snprintf(full, sizeof full, "%.*s_%s%s", (int)(sizeof full - strlen(name) - 11),
               m->outputs[part].name, prefix, name);
    else
      snprintf(full, sizeof full, "%s%s", prefix, name);
    int taken = 0;
    for (int i = 0; i < *count; ++i)
      taken |= strcmp(out[i].name, full) == 0;
    if (!taken)
      break;
    if (!weighted || pass) {
      snprintf(err, errlen, "%smetric '%s' is given twice", weighted ? "weighted " : "", name);
      return -1;
    }
  }
  if (*count == RNNC_MAX_METRICS) {
    snprintf(err, errlen, "at most %d metrics", RNNC_MAX_METRICS);
    return -1;
  }
  out[*count].kind = kind;
  out[*count].part = part;
  out[*count].loss_value = NULL;
  out[*count].weighted = weighted;
  snprintf(out[*count].name, sizeof out[*count].name, "%s", full);
  ++*count;
  return 0;
}

/* The value of word `key` ("metrics=", "weighted-metrics=") of the model's
 * fit defaults into buf, or NULL when it has none. */
static const char *model_word(const rnnc_model *m, const char *key, char *buf, size_t size) {
  const char *d = m->fit_defaults ? m->fit_defaults : "";
  size_t klen = strlen(key);
  for (const char *at = d; *at;) {
    if (strncmp(at, key, klen) == 0) {
      at += klen;
      size_t len = strcspn(at, " ");
      if (len >= size)
        len = size - 1;
      memcpy(buf, at, len);
      buf[len] = '\0';
      return buf;
    }
    at += strcspn(at, " ");
    at += strspn(at, " ");
  }
  return NULL;
}

/* Adds the metrics of list `spec` ("accuracy,out:mae"). */
static int parse_list(const rnnc_model *m, const char *spec, int weighted, const int *parts,
                      int n_parts, metric_t *out, int *count, char *err, size_t errlen) {
  int several = n_parts > 1;
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
      if (add_metric(m, colon + 1, part, several, weighted, out, count, err, errlen) != 0)
        return -1;
      continue;
    }
    for (int i = 0; i < n_parts; ++i)
      if (add_metric(m, name, parts[i], several, weighted, out, count, err, errlen) != 0)
        return -1;
  }
  return 0;
}

int fit_parse_metrics(const rnnc_model *m, const char *spec, const char *weighted, metric_t *out,
                      int *count, char *err, size_t errlen) {
  char from_model[512], weighted_from_model[512];
  int parts[RNNC_MAX_OUTPUTS];
  int n_parts = loss_parts(m, parts);
  *count = 0;
  if (n_parts == 0) {
    snprintf(err, errlen, "the model was not compiled with a loss");
    return -1;
  }
  if (spec == NULL) {
    /* the model's compile{metrics = ...}: the "metrics=" word of its fit
     * defaults (units before it only knew accuracy: metric_accuracy) */
    spec = model_word(m, "metrics=", from_model, sizeof from_model);
    if (spec == NULL && m->metric_accuracy)
      spec = "accuracy";
  }
  if (weighted == NULL)
    weighted = model_word(m, "weighted-metrics=", weighted_from_model, sizeof weighted_from_model);
  if (spec != NULL && parse_list(m, spec, 0, parts, n_parts, out, count, err, errlen) != 0)
    return -1;
  if (weighted != NULL && parse_list(m, weighted, 1, parts, n_parts, out, count, err, errlen) != 0)
    return -1;
  return 0;
}

/* Keras's k of top_k_categorical_accuracy and
 * sparse_top_k_categorical_accuracy (their functions' and classes' default). */
#define MET_TOP_K 5

/* Whether class `label` of a row of `cols` predictions is in the top k:
 * Keras's ops.in_top_k (keras/src/backend/jax/math.py in_top_k, as
 * tf.math.in_top_k): fewer than k classes score strictly higher, so a tie
 * at the k-th place counts every tied class in, and k >= cols is always in;
 * a NaN prediction of the label ranks below every other (NaN -> -inf). */
#define IN_TOP_K(T)                                                                                \
  static int in_top_k_##T(const T *p, size_t cols, size_t label, size_t k) {                       \
    double v = (double)p[label];                                                                   \
    size_t higher = 0;                                                                             \
    if (isnan(v))                                                                                  \
      v = -INFINITY;                                                                               \
    for (size_t c = 0; c < cols; ++c)                                                              \
      higher += (double)p[c] > v;                                                                  \
    return higher < k;                                                                             \
  }
IN_TOP_K(float)
IN_TOP_K(double)

/* Keras's top_k_categorical_accuracy (k = 5; the label the target's argmax,
 * its first maximum) and sparse_top_k_categorical_accuracy (the label the
 * target; one outside [0, cols) never matches) of `rows` rows: the mean of
 * the rows' matches (keras/src/metrics/accuracy_metrics.py). */
#define TOP_K(T)                                                                                   \
  static double top_k_##T(const T *p, const T *t, size_t rows, size_t cols, int sparse) {          \
    size_t hits = 0;                                                                               \
    if (rows == 0 || cols == 0)                                                                    \
      return NAN;                                                                                  \
    for (size_t r = 0; r < rows; ++r) {                                                            \
      const T *pr = p + r * cols;                                                                  \
      size_t label = 0;                                                                            \
      if (sparse) {                                                                                \
        double l = (double)t[r];                                                                   \
        if (!(l >= 0 && l < (double)cols && l == floor(l)))                                        \
          continue;                                                                                \
        label = (size_t)l;                                                                         \
      } else                                                                                       \
        for (size_t c = 1; c < cols; ++c)                                                          \
          if (t[r * cols + c] > t[r * cols + label])                                               \
            label = c;                                                                             \
      hits += (size_t)in_top_k_##T(pr, cols, label, MET_TOP_K);                                    \
    }                                                                                              \
    return (double)hits / (double)rows;                                                            \
  }
TOP_K(float)
TOP_K(double)

/* Keras's confusion counts of n elements (keras/src/metrics/metrics_utils.py
 * update_confusion_matrix_variables), on float32 as Keras's variables
 * (variable_dtype): a label is positive when it is not 0 (cast to bool);
 * precision and recall predict positive when y_pred > 0.5; AUC's
 * thresholds are evenly spaced with an epsilon at both ends, so it takes
 * the optimized path: y_pred clipped to [0, 1], bucket ceil(y_pred (T - 1))
 * - 1, raised to 0 (thresholds_with_epsilon), and the counts at threshold i
 * are those of the buckets >= i (at result()). */
#define CONFUSION(T)                                                                               \
  static void confusion_##T(metric_kind kind, const T *p, const T *t, size_t n, double w,          \
                            metric_acc *a) {                                                       \
    for (size_t k = 0; k < n; ++k) {                                                               \
      float pk = (float)p[k];                                                                      \
      int label = (float)t[k] != 0.0f;                                                             \
      if (kind == MET_AUC) {                                                                       \
        float c = pk < 0.0f ? 0.0f : pk > 1.0f ? 1.0f : pk;                                        \
        float b = ceilf(c * (float)(MET_AUC_THRESHOLDS - 1)) - 1.0f;                               \
        int bucket = b > 0.0f ? (int)b : 0;                                                        \
        if (label)                                                                                 \
          a->pos[bucket] += w;                                                                     \
        else                                                                                       \
          a->neg[bucket] += w;                                                                     \
      } else {                                                                                     \
        int positive = pk > 0.5f;                                                                  \
        a->tp += (label && positive) ? w : 0.0;                                                    \
        a->fp += (!label && positive) ? w : 0.0;                                                   \
        a->fn += (label && !positive) ? w : 0.0;                                                   \
      }                                                                                            \
    }                                                                                              \
  }
CONFUSION(float)
CONFUSION(double)

static int is_confusion(metric_kind kind) {
  return kind == MET_PRECISION || kind == MET_RECALL || kind == MET_AUC;
}

/* The value of a metric on one sample: output `part` at its offset in
 * y_pred (output_size reals per sample), its targets at their offset in
 * the sample's targets (target_size reals), `rows` rows. */
/* Keras's mean_absolute_percentage_error (keras/src/losses/losses.py):
 * 100 mean(|y - p| / max(|y|, epsilon)), epsilon 1e-7. A metric that is a
 * mean over samples, on one sample of `rows` rows and `cols` columns, in
 * either dtype (SFX names the runtime's functions of T). */
#define METRIC_ONE(T, SFX)                                                                         \
  static double metric_one_##T(metric_kind kind, const T *p, const T *t, size_t rows,              \
                               size_t cols) {                                                      \
    rnnc_loss_config mape = rnnc_loss_config_default(RNNC_LOSS_MAPE);                              \
    switch (kind) {                                                                                \
    case MET_SPARSE_ACC:                                                                           \
      return rnnc_sparse_accuracy_##SFX(p, t, rows, cols);                                         \
    case MET_CATEGORICAL_ACC:                                                                      \
      return rnnc_categorical_accuracy_##SFX(p, t, rows, cols);                                    \
    case MET_BINARY_ACC:                                                                           \
      return rnnc_binary_accuracy_##SFX(p, t, rows, cols);                                         \
    case MET_MAE:                                                                                  \
      return rnnc_loss_mae_##SFX(p, t, rows, cols, NULL);                                          \
    case MET_MSE:                                                                                  \
    case MET_ROOT_MEAN_SQUARED_ERROR: /* sqrt at the result */                                     \
      return rnnc_loss_mse_##SFX(p, t, rows, cols, NULL);                                          \
    case MET_MAPE:                                                                                 \
      return rnnc_loss_eval_##SFX(&mape, p, t, NULL, rows, cols, (double)rows, NULL);              \
    case MET_TOP_K_CATEGORICAL_ACCURACY:                                                           \
      return top_k_##T(p, t, rows, cols, 0);                                                       \
    case MET_SPARSE_TOP_K_CATEGORICAL_ACCURACY:                                                    \
      return top_k_##T(p, t, rows, cols, 1);                                                       \
    case MET_ACCURACY:  /* resolved by fit_parse_metrics */                                        \
    case MET_PRECISION: /* confusion counts, not a mean */                                         \
    case MET_RECALL:                                                                               \
    case MET_AUC:                                                                                  \
      break;                                                                                       \
    }                                                                                              \
    return NAN;                                                                                    \
  }
METRIC_ONE(float, f32)
METRIC_ONE(double, f64)

/* The value of a metric on one sample: output `part` at its offset in
 * y_pred (output_size reals per sample), its targets at their offset in
 * the sample's targets (target_size reals), `rows` rows. */
static double metric_one(const rnnc_model *m, metric_kind kind, int part, const void *pred,
                         const void *tgt, size_t rows) {
  size_t cols = m->losses[part].cols;
  if (m->dtype == RNNC_F32)
    return metric_one_float(kind, (const float *)pred, (const float *)tgt, rows, cols);
  return metric_one_double(kind, (const double *)pred, (const double *)tgt, rows, cols);
}

/* sample i's weight: 1 without weights */
static double weight_of(const rnnc_model *m, const void *sw, int i) {
  if (sw == NULL)
    return 1.0;
  return m->dtype == RNNC_F32 ? (double)((const float *)sw)[i] : ((const double *)sw)[i];
}

/* Keras 3's MeanMetricWrapper.update_state on a masked output with sample
 * weights: apply_mask(sample_weight, mask, reduction="sum") makes each row's
 * weight w m; Mean then gives sum(w m v) / sum(w m), v each row's value
 * (reduce_to_samplewise_values); the confusion counts take w m per row. */
static void masked_rows(const rnnc_model *m, const metric_t *mt, const char *p, const char *t,
                        const void *mask, size_t i, double w, size_t rows, metric_acc *a) {
  const rnnc_loss_part *lp = &m->losses[mt->part];
  size_t rs = rnnc_dtype_size(m->dtype);
  size_t tcols = lp->target_size / lp->rows; /* 1 for class labels, else cols */
  for (size_t r = 0; r < rows; ++r) {
    double mr = m->dtype == RNNC_F32 ? (double)((const float *)mask)[i * rows + r]
                                     : ((const double *)mask)[i * rows + r];
    double wr = w * mr;
    const char *pr = p + r * lp->cols * rs, *tr = t + r * tcols * rs;
    if (is_confusion(mt->kind)) {
      if (m->dtype == RNNC_F32)
        confusion_float(mt->kind, (const float *)pr, (const float *)tr, lp->cols, wr, a);
      else
        confusion_double(mt->kind, (const double *)pr, (const double *)tr, lp->cols, wr, a);
    } else {
      double v = metric_one(m, mt->kind, mt->part, pr, tr, 1);
      if (wr != 0.0)
        a->sum += wr * v;
      a->wsum += wr;
    }
  }
}

void fit_batch_metrics(const rnnc_model *m, const metric_t *metrics, int n_metrics,
                       const void *y_pred, const void *y, const void *batch_sw,
                       const void *const *masks, int count, size_t rows, metric_acc *acc) {
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
      /* an output's loss is weighted by the batch's size, as Keras's loss
       * trackers are, sample weights or not */
      acc[k].sum += (double)count * *mt->loss_value;
      acc[k].wsum += (double)count;
      continue;
    }
    /* Keras gives the sample weights to weighted_metrics only, and Keras 3
     * the mask with them (keras/src/trainers/compile_utils.py
     * CompileMetrics.update_state, reduction_metrics.py) */
    const void *sw = mt->weighted ? batch_sw : NULL;
    const void *mask = sw != NULL && masks != NULL ? masks[mt->part] : NULL;
    if (sw != NULL)
      acc[k].weighted = 1;
    for (int i = 0; i < count; ++i) {
      const char *p =
          (const char *)y_pred + ((size_t)i * m->output_size + m->outputs[mt->part].offset) * rs;
      const char *t = (const char *)y + ((size_t)i * m->target_size + lp->target_offset) * rs;
      double w = weight_of(m, sw, i);
      if (mask != NULL)
        masked_rows(m, mt, p, t, mask, (size_t)i, w, part_rows, &acc[k]);
      else if (is_confusion(mt->kind)) {
        /* every element of the output (timesteps and columns: Keras
         * flattens y_true and y_pred) */
        size_t n = part_rows * lp->cols;
        if (m->dtype == RNNC_F32)
          confusion_float(mt->kind, (const float *)p, (const float *)t, n, w, &acc[k]);
        else
          confusion_double(mt->kind, (const double *)p, (const double *)t, n, w, &acc[k]);
      } else {
        /* Keras's Mean with sample_weight (keras/src/metrics/reduction_metrics.py
         * reduce_to_samplewise_values, Mean.update_state): total += w v,
         * count += w; a weight of 0 drops the sample, even a NaN value */
        double v = metric_one(m, mt->kind, mt->part, p, t, part_rows);
        if (w != 0.0)
          acc[k].sum += w * v;
        acc[k].wsum += w;
      }
    }
  }
}

/* Keras's divide_no_nan: 0 where the denominator is 0. */
static double no_nan(double a, double b) {
  return b == 0.0 ? 0.0 : a / b;
}

/* Keras's AUC.result() with its defaults (curve ROC, summation_method
 * interpolation, keras/src/metrics/confusion_metrics.py): at each threshold
 * i the recall tp / (tp + fn) and the false positive rate fp / (fp + tn),
 * tp and fp the labels of the buckets >= i; the area is the sum over
 * i < T - 1 of (fpr[i] - fpr[i + 1]) (recall[i] + recall[i + 1]) / 2. */
static double auc_result(const metric_acc *a) {
  double tp[MET_AUC_THRESHOLDS], fp[MET_AUC_THRESHOLDS], pos = 0, neg = 0, area = 0;
  for (int i = MET_AUC_THRESHOLDS - 1; i >= 0; --i) {
    pos += a->pos[i];
    neg += a->neg[i];
    tp[i] = pos;
    fp[i] = neg;
  }
  /* tp + fn = every positive label, fp + tn = every negative one */
  for (int i = 0; i + 1 < MET_AUC_THRESHOLDS; ++i) {
    double x0 = no_nan(fp[i], neg), x1 = no_nan(fp[i + 1], neg);
    double y0 = no_nan(tp[i], pos), y1 = no_nan(tp[i + 1], pos);
    area += (x0 - x1) * ((y0 + y1) / 2.0);
  }
  return area;
}

double fit_metric_result(const metric_t *mt, const metric_acc *acc, size_t samples) {
  if (acc->invalid)
    return NAN;
  switch (mt->loss_value != NULL ? MET_MSE : mt->kind) {
  case MET_PRECISION: /* Keras's Precision.result(): tp / (tp + fp) */
    return no_nan(acc->tp, acc->tp + acc->fp);
  case MET_RECALL: /* Recall.result(): tp / (tp + fn) */
    return no_nan(acc->tp, acc->tp + acc->fn);
  case MET_AUC:
    return auc_result(acc);
  case MET_ROOT_MEAN_SQUARED_ERROR:
    /* keras/src/metrics/regression_metrics.py RootMeanSquaredError: a Mean
     * of the squared errors (each sample's mean over its elements), the
     * result sqrt(total / count): the root of the epoch's mean, not a mean
     * of the batches' roots */
    return acc->weighted ? sqrt(no_nan(acc->sum, acc->wsum)) : sqrt(acc->sum / (double)samples);
  default:
    /* with sample weights Keras's Mean divides by the sum of the weights
     * (divide_no_nan) */
    return acc->weighted ? no_nan(acc->sum, acc->wsum) : acc->sum / (double)samples;
  }
}
