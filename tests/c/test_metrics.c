/* The metrics of fit and evaluate (runtime/metrics.c): Keras's values over
 * an epoch of several batches, the last one partial. Every expected number
 * is derived by hand in a comment from Keras's formulas (keras/src/metrics:
 * reduction_metrics.py Mean, regression_metrics.py RootMeanSquaredError,
 * accuracy_metrics.py top-k, confusion_metrics.py Precision/Recall/AUC with
 * metrics_utils.py update_confusion_matrix_variables), and recomputed
 * apart by tests/c/metrics_reference.py (those formulas transcribed op by op
 * into NumPy, float32 where Keras's variables are). Each batch split is
 * chosen so that a mean of per-batch values (weighted by the batch size)
 * gives another number than Keras's epoch value. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "fit_internal.h"

#include "assert_near.h"

/* A one-output model of `rows` rows of `cols` per sample (targets: `tcols`
 * per row) with loss `loss`: what the metrics read of a generated unit. */
static rnnc_loss_part part;
static rnnc_model fake(rnnc_dtype dtype, rnnc_loss_kind loss, size_t rows, size_t cols,
                       size_t tcols) {
  rnnc_model m;
  memset(&m, 0, sizeof m);
  m.name = "fake";
  m.dtype = dtype;
  m.n_outputs = 1;
  m.outputs[0].rank = rows > 1 ? 2 : 1;
  m.outputs[0].offset = 0;
  m.outputs[0].size = rows * cols;
  m.outputs[0].name = "dense";
  m.output_size = rows * cols;
  m.target_size = rows * tcols;
  m.output_rows = rows;
  m.output_cols = cols;
  m.max_steps = (int)rows;
  m.loss = loss;
  memset(&part, 0, sizeof part);
  part.kind = loss;
  part.weight = 1.0;
  part.target_size = rows * tcols;
  part.rows = rows;
  part.cols = cols;
  m.losses = &part;
  m.fit_defaults = "";
  return m;
}

/* The epoch value of metric `spec` over batches of the sizes in `sizes`
 * (ending with 0) of float64 predictions p and targets y. */
static double epoch_f64(const rnnc_model *m, const char *spec, const double *p, const double *y,
                        const int *sizes) {
  metric_t mt[RNNC_MAX_METRICS];
  int n = 0;
  char err[256];
  static metric_acc acc[RNNC_MAX_METRICS];
  assert_int_equal(fit_parse_metrics(m, spec, "", mt, &n, err, sizeof err), 0);
  assert_int_equal(n, 1);
  memset(acc, 0, sizeof acc);
  size_t seen = 0;
  for (int b = 0; sizes[b] > 0; ++b) {
    fit_batch_metrics(m, mt, n, p + seen * m->output_size, y + seen * m->target_size, NULL, NULL,
                      sizes[b], m->output_rows, acc);
    seen += (size_t)sizes[b];
  }
  return fit_metric_result(&mt[0], &acc[0], seen);
}

static double epoch_f32(const rnnc_model *m, const char *spec, const double *p, const double *y,
                        size_t n, const int *sizes) {
  float pf[64], yf[64];
  metric_t mt[RNNC_MAX_METRICS];
  int count = 0;
  char err[256];
  static metric_acc acc[RNNC_MAX_METRICS];
  rnnc_model m32 = *m;
  m32.dtype = RNNC_F32;
  m = &m32;
  for (size_t i = 0; i < n * m->output_size; ++i)
    pf[i] = (float)p[i];
  for (size_t i = 0; i < n * m->target_size; ++i)
    yf[i] = (float)y[i];
  assert_int_equal(fit_parse_metrics(m, spec, "", mt, &count, err, sizeof err), 0);
  memset(acc, 0, sizeof acc);
  size_t seen = 0;
  for (int b = 0; sizes[b] > 0; ++b) {
    fit_batch_metrics(m, mt, count, pf + seen * m->output_size, yf + seen * m->target_size, NULL,
                      NULL, sizes[b], m->output_rows, acc);
    seen += (size_t)sizes[b];
  }
  return fit_metric_result(&mt[0], &acc[0], seen);
}

static void test_root_mean_squared_error(void **state) {
  (void)state;
  rnnc_model m = fake(RNNC_F64, RNNC_LOSS_MSE, 1, 2, 2);
  /* per-sample squared errors, each the mean over the 2 columns:
   * batch 1 (3 samples): errors (1, 1), (1, -1), (0, 2) -> 1, 1, 2
   * batch 2 (1 sample):  errors (3, 3)                 -> 9
   * Keras: sqrt((1 + 1 + 2 + 9) / 4) = sqrt(13 / 4) = 1.8027756377319946;
   * the mean of the batches' roots, sqrt(4/3) 3/4 + 3 1/4 = 1.6160..., is
   * not it */
  const double y[] = {0, 0, 0, 0, 0, 0, 0, 0};
  const double p[] = {1, 1, 1, -1, 0, 2, 3, 3};
  const int sizes[] = {3, 1, 0};
  assert_near(epoch_f64(&m, "root_mean_squared_error", p, y, sizes), sqrt(13.0 / 4.0), 1e-15);
  assert_near(epoch_f64(&m, "RootMeanSquaredError", p, y, sizes), sqrt(13.0 / 4.0), 1e-15);
  assert_near(epoch_f32(&m, "root_mean_squared_error", p, y, 4, sizes), sqrt(13.0 / 4.0), 1e-6);
  /* mse is still the plain mean: 13 / 4 */
  assert_near(epoch_f64(&m, "mse", p, y, sizes), 13.0 / 4.0, 1e-15);
}

static void test_mape(void **state) {
  (void)state;
  rnnc_model m = fake(RNNC_F64, RNNC_LOSS_MAE, 1, 1, 1);
  /* 100 |y - p| / max(|y|, 1e-7) per sample:
   * (2, 1) -> 50; (0, 1e-8) -> 1e-8 / 1e-7 = 10 (epsilon clipping of
   * |y|); (-4, -3) -> 25; (1, 1) -> 0. Mean 85 / 4 = 21.25 */
  const double y[] = {2, 0, -4, 1};
  const double p[] = {1, 1e-8, -3, 1};
  const int sizes[] = {3, 1, 0};
  assert_near(epoch_f64(&m, "mape", p, y, sizes), 21.25, 1e-12);
  assert_near(epoch_f64(&m, "mean_absolute_percentage_error", p, y, sizes), 21.25, 1e-12);
  assert_near(epoch_f64(&m, "MAPE", p, y, sizes), 21.25, 1e-12);
  assert_near(epoch_f32(&m, "mape", p, y, 4, sizes), 21.25, 1e-4);
}

static void test_top_k_categorical_accuracy(void **state) {
  (void)state;
  rnnc_model m = fake(RNNC_F64, RNNC_LOSS_CATEGORICAL_CROSSENTROPY, 1, 7, 7);
  /* k = 5; in top k when fewer than 5 classes score strictly higher
   * (ops.in_top_k: ties at the k-th place are all in) */
  const double p[] = {
      .1, .2, .3, .4, .5, .6, .7, /* label 1: 5 higher -> out */
      .1, .2, .3, .4, .5, .6, .7, /* label 2: 4 higher -> in */
      .9, .8, .7, .6, .3, .3, .3, /* label 6: tied with 4 and 5 for 5th -> in */
      .5, .5, .5, .5, .5, .5, .5, /* label 3: all tied -> in */
  };
  double y[28] = {0};
  y[0 * 7 + 1] = 1;
  y[1 * 7 + 2] = 1;
  y[2 * 7 + 6] = 1;
  y[3 * 7 + 3] = 1;
  const int sizes[] = {3, 1, 0};
  /* 3 of 4 */
  assert_near(epoch_f64(&m, "top_k_categorical_accuracy", p, y, sizes), 0.75, 0.0);
  assert_near(epoch_f32(&m, "TopKCategoricalAccuracy", p, y, 4, sizes), 0.75, 0.0);

  /* sparse labels: the same rows, labels 1, 2, 6, 3 -> 3 of 4; a label
   * outside [0, classes) never matches: 1, 2, 7, 3 -> 2 of 4 */
  rnnc_model s = fake(RNNC_F64, RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 1, 7, 1);
  const double labels[] = {1, 2, 6, 3};
  assert_near(epoch_f64(&s, "sparse_top_k_categorical_accuracy", p, labels, sizes), 0.75, 0.0);
  const double bad[] = {1, 2, 7, 3};
  assert_near(epoch_f64(&s, "sparse_top_k_categorical_accuracy", p, bad, sizes), 0.5, 0.0);

  /* k >= classes: always in (3 classes, the label scoring lowest) */
  rnnc_model t = fake(RNNC_F64, RNNC_LOSS_CATEGORICAL_CROSSENTROPY, 1, 3, 3);
  const double p3[] = {.9, .05, .05};
  const double y3[] = {0, 0, 1};
  const int one[] = {1, 0};
  assert_near(epoch_f64(&t, "top_k_categorical_accuracy", p3, y3, one), 1.0, 0.0);

  /* a sequence output: each sample's mean over its rows, then the mean
   * over samples. Sample 1: rows in, out -> 0.5; sample 2: in, in -> 1;
   * epoch (0.5 + 1) / 2 */
  rnnc_model q = fake(RNNC_F64, RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 2, 7, 1);
  const double lq[] = {2, 1, 6, 3};
  const int two[] = {1, 1, 0};
  assert_near(epoch_f64(&q, "sparse_top_k_categorical_accuracy", p, lq, two), 0.75, 0.0);
}

static void test_precision_recall(void **state) {
  (void)state;
  rnnc_model m = fake(RNNC_F64, RNNC_LOSS_BINARY_CROSSENTROPY, 1, 1, 1);
  /* positive prediction: y_pred > 0.5 (0.5 itself is negative)
   * batch 1: (0.9, 1) TP, (0.6, 0) FP, (0.5, 1) FN
   * batch 2: (0.7, 1) TP, (0.55, 0) FP, (0.8, 1) TP, (0.3, 1) FN
   * epoch: TP 3, FP 2, FN 2 -> precision 3/5, recall 3/5. Per-batch
   * values 1/2 and 2/3 weighted by size give (3/2 + 8/3) / 7 = 0.595... */
  const double p[] = {.9, .6, .5, .7, .55, .8, .3};
  const double y[] = {1, 0, 1, 1, 0, 1, 1};
  const int sizes[] = {3, 4, 0};
  assert_near(epoch_f64(&m, "precision", p, y, sizes), 0.6, 1e-15);
  assert_near(epoch_f64(&m, "recall", p, y, sizes), 0.6, 1e-15);
  assert_near(epoch_f32(&m, "Precision", p, y, 7, sizes), 0.6, 1e-15);
  assert_near(epoch_f32(&m, "Recall", p, y, 7, sizes), 0.6, 1e-15);
  /* another split: precision 3/4 -> drop sample 2 (the FP at 0.6) */
  const double p2[] = {.9, .5, .7, .55, .8, .3};
  const double y2[] = {1, 1, 1, 0, 1, 1};
  const int sizes2[] = {1, 5, 0};
  /* TP 3, FP 1, FN 2: precision 3/4, recall 3/5 */
  assert_near(epoch_f64(&m, "precision", p2, y2, sizes2), 0.75, 1e-15);
  assert_near(epoch_f64(&m, "recall", p2, y2, sizes2), 0.6, 1e-15);
  /* no positive prediction: divide_no_nan gives 0 */
  const double p0[] = {.1, .2};
  const double y0[] = {1, 0};
  const int s0[] = {2, 0};
  assert_near(epoch_f64(&m, "precision", p0, y0, s0), 0.0, 0.0);

  /* several columns and rows: every element counts (Keras flattens).
   * 2 rows x 2 columns: preds (.9 .2; .6 .7), targets (1 0; 0 1):
   * TP .9 .7, FP .6 -> precision 2/3, recall 2/2 */
  rnnc_model q = fake(RNNC_F64, RNNC_LOSS_BINARY_CROSSENTROPY, 2, 2, 2);
  const double pq[] = {.9, .2, .6, .7};
  const double yq[] = {1, 0, 0, 1};
  const int one[] = {1, 0};
  assert_near(epoch_f64(&q, "precision", pq, yq, one), 2.0 / 3.0, 1e-15);
  assert_near(epoch_f64(&q, "recall", pq, yq, one), 1.0, 0.0);
}

static void test_auc(void **state) {
  (void)state;
  rnnc_model m = fake(RNNC_F64, RNNC_LOSS_BINARY_CROSSENTROPY, 1, 1, 1);
  /* Distinct buckets: Keras's ROC with interpolation is the trapezoid of the
   * exact ROC. Negatives .1, .4; positives .35, .8. The ROC points
   * (fpr, recall) from the highest threshold down: (0, 0), (0, 1/2) [.8],
   * (1/2, 1/2) [.4], (1/2, 1) [.35], (1, 1) [.1]; area 1/2 1/2 + 1/2 1 =
   * 3/4 (of the 4 positive-negative pairs 3 are ordered). Each batch
   * alone has AUC 1: a mean of batches gives 1. */
  const double p[] = {.1, .35, .4, .8};
  const double y[] = {0, 1, 0, 1};
  const int sizes[] = {2, 2, 0};
  assert_near(epoch_f64(&m, "auc", p, y, sizes), 0.75, 1e-12);
  assert_near(epoch_f32(&m, "AUC", p, y, 4, sizes), 0.75, 1e-12);
  /* Keras's 200 thresholds: .501 and .5024 fall in one bucket
   * (ceil(199 p) - 1 = 99 for both), so Keras cannot order them: the ROC
   * goes straight from (0, 0) to (1, 1), area 1/2 (the exact AUC is 1) */
  const double pt[] = {.5024, .501};
  const double yt[] = {1, 0};
  const int one[] = {2, 0};
  assert_near(epoch_f64(&m, "auc", pt, yt, one), 0.5, 1e-12);
  /* .503 is in bucket 100: ordered, 1 */
  const double pu[] = {.503, .501};
  assert_near(epoch_f64(&m, "auc", pu, yt, one), 1.0, 1e-12);
  /* a prediction on a threshold is not above it (ceil - 1, not floor):
   * 1.0 is in bucket ceil(199) - 1 = 198, as .999 (ceil(198.8) - 1), so
   * the two are tied: 1/2 (floor would put 1.0 alone in bucket 199: 1) */
  const double pe[] = {1.0, .999};
  assert_near(epoch_f64(&m, "auc", pe, yt, one), 0.5, 1e-12);
  /* predictions outside [0, 1] are clipped: 1.3 -> 1, -0.2 -> 0; ordered */
  const double pc[] = {1.3, -0.2};
  assert_near(epoch_f64(&m, "auc", pc, yt, one), 1.0, 1e-12);
  /* no negative label: every false positive rate is 0 (divide_no_nan),
   * area 0 */
  const double yp[] = {1, 1};
  assert_near(epoch_f64(&m, "auc", pu, yp, one), 0.0, 0.0);
}

static void test_mean_metrics_partial_batch(void **state) {
  (void)state;
  rnnc_model m = fake(RNNC_F64, RNNC_LOSS_BINARY_CROSSENTROPY, 1, 1, 1);
  /* Keras's Mean: total / count over samples, the last partial batch
   * weighing its size: hits 1, 1, 0 then 0 -> 2 / 4 (the mean of the
   * batches' means, (2/3 + 0) / 2 = 1/3, is not it) */
  const double p[] = {.9, .1, .9, .9};
  const double y[] = {1, 0, 0, 0};
  const int sizes[] = {3, 1, 0};
  assert_near(epoch_f64(&m, "binary_accuracy", p, y, sizes), 0.5, 0.0);
  /* |errors| .1 .1 .9 .9 -> 2 / 4 */
  assert_near(epoch_f64(&m, "mae", p, y, sizes), 0.5, 1e-15);
}

static void test_metric_targets(void **state) {
  (void)state;
  metric_t mt[RNNC_MAX_METRICS];
  int n = 0;
  char err[256];
  /* precision, recall, auc and top_k need dense targets; the sparse top k
   * class labels */
  rnnc_model s = fake(RNNC_F64, RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 1, 7, 1);
  assert_int_equal(fit_parse_metrics(&s, "precision", "", mt, &n, err, sizeof err), -1);
  assert_non_null(strstr(err, "needs dense targets"));
  assert_int_equal(fit_parse_metrics(&s, "auc", "", mt, &n, err, sizeof err), -1);
  assert_int_equal(fit_parse_metrics(&s, "top_k_categorical_accuracy", "", mt, &n, err, sizeof err),
                   -1);
  rnnc_model d = fake(RNNC_F64, RNNC_LOSS_CATEGORICAL_CROSSENTROPY, 1, 7, 7);
  assert_int_equal(
      fit_parse_metrics(&d, "sparse_top_k_categorical_accuracy", "", mt, &n, err, sizeof err), -1);
  assert_non_null(strstr(err, "needs sparse (class label) targets"));
  /* the names as given are the logs' */
  assert_int_equal(fit_parse_metrics(&d, "precision,Recall,AUC,mape,root_mean_squared_error", "",
                                     mt, &n, err, sizeof err),
                   0);
  assert_int_equal(n, 5);
  assert_string_equal(mt[1].name, "Recall");
  assert_string_equal(mt[2].name, "AUC");
  assert_int_equal(fit_parse_metrics(&d, "f1_score", "", mt, &n, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown metric 'f1_score'"));
}

static void test_several_outputs(void **state) {
  (void)state;
  /* output a (binary, 1 column) then b (regression, 1 column); a sample's
   * outputs and targets are a's then b's. OUTPUT:metric names one output,
   * a metric alone every output with a loss; logs name them
   * "<output>_<metric>", each with its own state. */
  static rnnc_loss_part parts[2];
  rnnc_model m;
  memset(&m, 0, sizeof m);
  memset(parts, 0, sizeof parts);
  m.dtype = RNNC_F64;
  m.n_outputs = 2;
  m.output_size = m.target_size = 2;
  m.max_steps = 1;
  m.fit_defaults = "";
  const char *names[] = {"a", "b"};
  for (int k = 0; k < 2; ++k) {
    m.outputs[k].rank = 1;
    m.outputs[k].offset = (size_t)k;
    m.outputs[k].size = 1;
    m.outputs[k].name = names[k];
    parts[k].kind = k == 0 ? RNNC_LOSS_BINARY_CROSSENTROPY : RNNC_LOSS_MSE;
    parts[k].weight = 1;
    parts[k].target_offset = (size_t)k;
    parts[k].target_size = 1;
    parts[k].rows = parts[k].cols = 1;
  }
  m.losses = parts;
  metric_t mt[RNNC_MAX_METRICS];
  static metric_acc acc[RNNC_MAX_METRICS];
  int n = 0;
  char err[256];
  assert_int_equal(fit_parse_metrics(&m, "a:precision,b:root_mean_squared_error,recall", "", mt, &n,
                                     err, sizeof err),
                   0);
  assert_int_equal(n, 4);
  assert_string_equal(mt[0].name, "a_precision");
  assert_string_equal(mt[1].name, "b_root_mean_squared_error");
  assert_string_equal(mt[2].name, "a_recall");
  assert_string_equal(mt[3].name, "b_recall");
  /* (a, b) predictions and targets of 3 samples, batches of 2 and 1:
   * a: (.9, 1) TP, (.7, 0) FP, (.2, 1) FN -> precision 1/2, recall 1/2
   * b: errors 1, 2, 2 -> rmse sqrt(9 / 3); b's recall: targets 0, 1, 2
   * (2 positive), predictions 1, 3, 0 (> .5: 1 and 3) -> TP 1 (the 3 on 1),
   * FN 1 (the 0 on 2): 1/2 */
  const double p[] = {.9, 1, .7, 3, .2, 0};
  const double y[] = {1, 0, 0, 1, 1, 2};
  memset(acc, 0, sizeof acc);
  fit_batch_metrics(&m, mt, n, p, y, NULL, NULL, 2, 1, acc);
  fit_batch_metrics(&m, mt, n, p + 4, y + 4, NULL, NULL, 1, 1, acc);
  assert_near(fit_metric_result(&mt[0], &acc[0], 3), 0.5, 0.0);
  assert_near(fit_metric_result(&mt[1], &acc[1], 3), sqrt(3.0), 1e-15);
  assert_near(fit_metric_result(&mt[2], &acc[2], 3), 0.5, 0.0);
  assert_near(fit_metric_result(&mt[3], &acc[3], 3), 0.5, 0.0);
}

/* Keras's metrics take no sample weights, its weighted_metrics do
 * (keras/src/trainers/compile_utils.py CompileMetrics.update_state); a
 * weighted metric named as a metric logs as "weighted_NAME"
 * (CompileMetrics.result). On a masked output a weighted metric weighs each
 * row by w * mask (reduction_metrics.py MeanMetricWrapper.update_state,
 * apply_mask), the Mean the sum over the sum of those weights; a metric
 * counts every row. */
static void test_weighted_metrics_and_masks(void **state) {
  (void)state;
  /* 2 samples of 3 steps, 2 classes, sparse labels */
  rnnc_model m = fake(RNNC_F64, RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3, 2, 1);
  metric_t mt[RNNC_MAX_METRICS];
  static metric_acc acc[RNNC_MAX_METRICS];
  int n = 0;
  char err[256];
  assert_int_equal(fit_parse_metrics(&m, "accuracy", "accuracy,sparse_top_k_categorical_accuracy",
                                     mt, &n, err, sizeof err),
                   0);
  assert_int_equal(n, 3);
  assert_string_equal(mt[0].name, "accuracy");
  assert_int_equal(mt[0].weighted, 0);
  assert_string_equal(mt[1].name, "weighted_accuracy");
  assert_int_equal(mt[1].weighted, 1);
  assert_string_equal(mt[2].name, "sparse_top_k_categorical_accuracy");
  assert_int_equal(mt[2].weighted, 1);
  assert_int_equal(fit_parse_metrics(&m, "", "acc,acc,acc", mt, &n, err, sizeof err), -1);
  assert_non_null(strstr(err, "weighted metric 'acc' is given twice"));
  /* the model's own: its fit defaults' words */
  m.fit_defaults = "metrics=acc weighted-metrics=accuracy epochs=3";
  assert_int_equal(fit_parse_metrics(&m, NULL, NULL, mt, &n, err, sizeof err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(mt[0].name, "acc");
  assert_string_equal(mt[1].name, "accuracy");
  assert_int_equal(mt[1].weighted, 1);
  m.fit_defaults = "";
  assert_int_equal(fit_parse_metrics(&m, "accuracy", "accuracy", mt, &n, err, sizeof err), 0);
  /* predictions: class 1 where p[1] > p[0]; hits per row:
   * sample 0: labels 1 0 1, predicted 1 0 0 -> 1 1 0 (mask 1 1 0)
   * sample 1: labels 0 0 1, predicted 1 0 1 -> 0 1 1 (mask 1 0 0) */
  const double p[] = {.2, .8, .9, .1, .6, .4, /* */ .3, .7, .8, .2, .1, .9};
  const double y[] = {1, 0, 1, 0, 0, 1};
  const double w[] = {2, 3};
  const double mask0[] = {1, 1, 0, 1, 0, 0};
  const void *masks[1] = {mask0};
  memset(acc, 0, sizeof acc);
  fit_batch_metrics(&m, mt, n, p, y, w, masks, 2, 3, acc);
  /* accuracy: every row, unweighted, each sample's mean: (2/3 + 2/3) / 2 */
  assert_near(fit_metric_result(&mt[0], &acc[0], 2), 2.0 / 3.0, 1e-15);
  /* weighted_accuracy: sum(w m hit) / sum(w m) = (2 + 2 + 0 + 0) / (2 + 2 + 3) */
  assert_near(fit_metric_result(&mt[1], &acc[1], 2), 4.0 / 7.0, 1e-15);
  /* without sample weights the mask is not used (Keras 3 masks a metric
   * only when sample weights are given): the unweighted mean */
  memset(acc, 0, sizeof acc);
  fit_batch_metrics(&m, mt, n, p, y, NULL, masks, 2, 3, acc);
  assert_near(fit_metric_result(&mt[1], &acc[1], 2), 2.0 / 3.0, 1e-15);
  /* weights without a mask: each sample's mean weighted: (2 * 2/3 + 3 * 2/3) / 5 */
  memset(acc, 0, sizeof acc);
  fit_batch_metrics(&m, mt, n, p, y, w, NULL, 2, 3, acc);
  assert_near(fit_metric_result(&mt[1], &acc[1], 2), 2.0 / 3.0, 1e-15);
  assert_near(fit_metric_result(&mt[0], &acc[0], 2), 2.0 / 3.0, 1e-15);
  const double w2[] = {1, 0};
  memset(acc, 0, sizeof acc);
  fit_batch_metrics(&m, mt, n, p, y, w2, NULL, 2, 3, acc);
  assert_near(fit_metric_result(&mt[0], &acc[0], 2), 2.0 / 3.0, 1e-15); /* unweighted */
  assert_near(fit_metric_result(&mt[1], &acc[1], 2), 2.0 / 3.0, 1e-15); /* sample 0 only */
  const double y2[] = {1, 0, 1, 0, 1, 0};                               /* sample 1 all wrong */
  memset(acc, 0, sizeof acc);
  fit_batch_metrics(&m, mt, n, p, y2, w2, NULL, 2, 3, acc);
  assert_near(fit_metric_result(&mt[0], &acc[0], 2), 1.0 / 3.0, 1e-15);
  assert_near(fit_metric_result(&mt[1], &acc[1], 2), 2.0 / 3.0, 1e-15);
}

static void test_early_stopping_direction(void **state) {
  (void)state;
  /* mode auto: Keras 3's _direction "up" for accuracies, precision,
   * recall and auc; down for the rest */
  assert_int_equal(fit_greater_is_better("val_auc", RNNC_MODE_AUTO), 1);
  assert_int_equal(fit_greater_is_better("precision", RNNC_MODE_AUTO), 1);
  assert_int_equal(fit_greater_is_better("out_recall", RNNC_MODE_AUTO), 1);
  assert_int_equal(fit_greater_is_better("val_top_k_categorical_accuracy", RNNC_MODE_AUTO), 1);
  assert_int_equal(fit_greater_is_better("val_root_mean_squared_error", RNNC_MODE_AUTO), 0);
  assert_int_equal(fit_greater_is_better("val_mape", RNNC_MODE_AUTO), 0);
  assert_int_equal(fit_greater_is_better("val_loss", RNNC_MODE_AUTO), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_root_mean_squared_error),
      cmocka_unit_test(test_mape),
      cmocka_unit_test(test_top_k_categorical_accuracy),
      cmocka_unit_test(test_precision_recall),
      cmocka_unit_test(test_auc),
      cmocka_unit_test(test_mean_metrics_partial_batch),
      cmocka_unit_test(test_metric_targets),
      cmocka_unit_test(test_several_outputs),
      cmocka_unit_test(test_weighted_metrics_and_masks),
      cmocka_unit_test(test_early_stopping_direction),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
