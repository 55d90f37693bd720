/* What the rooms of the fit loop share (fit.c, metrics.c, callbacks.c,
 * progress.c, datacheck.c): internal to the runtime, not part of rnnc.h. */
#ifndef RNNC_FIT_INTERNAL_H
#define RNNC_FIT_INTERNAL_H

#include <stdio.h>

#include "rnnc.h"

/* ---------------------------------------------------------------- metrics (metrics.c) */
/* The catalog's metrics (RNNC_METRICS): MET_ACCURACY is resolved from the
 * loss to one of the three accuracies. */
typedef enum {
#define METRIC(NAME, name, aliases, labels) MET_##NAME,
  RNNC_METRICS(METRIC)
#undef METRIC
} metric_kind;
#define MET_SPARSE_ACC MET_SPARSE_CATEGORICAL_ACCURACY
#define MET_CATEGORICAL_ACC MET_CATEGORICAL_ACCURACY
#define MET_BINARY_ACC MET_BINARY_ACCURACY

typedef struct {
  metric_kind kind;
  char name[RNNC_SERIES_NAME];
  int part; /* the output it reads (the model's outputs[] and losses[]) */
  /* an output's own loss (a model with several): the value the unit's last
   * loss_grad gave, not computed from the predictions */
  const double *loss_value;
  /* compile{weighted_metrics}: takes the sample weights (and, on a masked
   * output, the mask with them); a metric of compile{metrics} takes neither */
  int weighted;
} metric_t;

/* Keras AUC's num_thresholds (keras/src/metrics/confusion_metrics.py AUC). */
#define MET_AUC_THRESHOLDS 200

/* A metric's state over an epoch, as Keras's stateful metrics keep it
 * (reset at the start of each epoch and of each evaluation):
 * - the Mean metrics (accuracies, mae, mse, mape, top-k, an output's loss)
 *   and root_mean_squared_error: the sum of the per-sample values, the
 *   result is sum / samples (Keras's Mean: total / count, count the number
 *   of samples, so the last partial batch weighs its size);
 * - precision and recall: the true and false positives and false negatives
 *   at the threshold 0.5, summed over every element of every batch;
 * - auc: the positive and negative labels per bucket of the prediction
 *   (Keras's _update_confusion_matrix_variables_optimized). */
typedef struct {
  double sum;
  double tp, fp, fn;
  double pos[MET_AUC_THRESHOLDS], neg[MET_AUC_THRESHOLDS];
  int invalid; /* a batch whose loss was not finite: the result is NaN */
  /* with sample weights (fit's sample_weight): sum holds sum(w v), wsum
   * sum(w), the result sum / wsum; the confusion counts are sums of w */
  double wsum;
  int weighted;
} metric_acc;

/* The metrics of a fit: `spec` a list such as "accuracy,mae" or NULL for the
 * model's compile{metrics}, then `weighted` the same for its
 * compile{weighted_metrics}. 0, or -1 with a message. */
int fit_parse_metrics(const rnnc_model *m, const char *spec, const char *weighted, metric_t *out,
                      int *count, char *err, size_t errlen);
/* Adds a batch of `count` samples to the metrics' states acc[0..n_metrics).
 * `rows`: rows of a sequence output at the data's length. sw: the samples'
 * weights (count reals of the model's dtype), or NULL; the weighted metrics
 * take them. masks: NULL, or per output NULL or its mask (count x rows
 * reals of the dtype), which the weighted metrics take with sw. */
void fit_batch_metrics(const rnnc_model *m, const metric_t *metrics, int n_metrics,
                       const void *y_pred, const void *y, const void *sw, const void *const *masks,
                       int count, size_t rows, metric_acc *acc);
/* The value of metric `mt` from its state after `samples` samples: what
 * Keras's result() gives (the progress bar, the logs, the history). */
double fit_metric_result(const metric_t *mt, const metric_acc *acc, size_t samples);

/* ---------------------------------------------------------------- the fit's context (fit.c) */
/* ---------------------------------------------------------------- fit context */

/* A step's micro-batches on threads and processes (parallel.c). */
typedef struct fit_par fit_par;

typedef struct {
  const rnnc_model *m;
  size_t rs;
  void *grad, *bpred, *bx, *by;
  void *bsw;    /* the batch's sample weights (fit's sample_weight), else NULL */
  fit_par *par; /* the scratches, threads and group that compute each batch */
  metric_t metrics[RNNC_MAX_METRICS];
  int n_metrics;
  const void *masks[RNNC_MAX_OUTPUTS]; /* the outputs' masks of a batch (batch_masks) */
  size_t acc_rows;                     /* rows of output 0 per sample at the data's length */
  int steps;                           /* the data's sequence length */
  int evaluating;                      /* evaluate: no training step (eval_loss, any batch size) */
  double part_loss[RNNC_MAX_OUTPUTS];  /* each output's loss in the last batch */
  /* the metrics' states: [0, RNNC_MAX_METRICS) the training epoch's,
   * [RNNC_MAX_METRICS, 2 RNNC_MAX_METRICS) an evaluation's */
  metric_acc *acc;
} ctx_t;

/* ---------------------------------------------------------------- micro-batches (parallel.c) */
/* The threads, scratches and buffers for o's batch size, micro-batch, threads
 * and group; NULL with a message. steps: the data's sequence length. */
fit_par *fit_par_new(const rnnc_model *m, const rnnc_fit_options *o, int steps, char *err,
                     size_t errlen);
void fit_par_free(fit_par *p);
/* The batch of samples[0..count) into bx and by: this rank's inputs (all of
 * them in one process) and every target, from x and y or through the
 * reader. 0, or -1 with a message. */
int fit_par_fetch(fit_par *p, const void *x, const void *y, const size_t *samples, int count,
                  void *bx, void *by, char *err, size_t errlen);
/* The loss of `count` samples (x, y contiguous), their gradient into grad
 * (when need_grad) and predictions into bpred, the same on every rank: the
 * micro-batches' terms summed in their order (parallel.c says how). A group
 * whose communication fails is ended (group->abort). part_loss (may be NULL):
 * each output's loss, summed the same way (a unit with losses per output). */
double fit_par_loss_grad(fit_par *p, const void *params, const void *x, const void *y,
                         const void *sw, int count, void *grad, void *bpred, int need_grad,
                         double *part_loss);
int fit_par_rank(const fit_par *p);
/* The key of the noise layers' masks in the next training batches: the
 * seed and the optimizer step; each micro-batch adds its offset in the
 * batch (rnnc_model.set_noise), so the masks do not depend on the cut. */
void fit_par_set_noise(fit_par *p, uint64_t seed, long step);
/* Thread t's scratch: after a batch of one micro-batch, thread 0's holds its
 * forward (BatchNormalization's batch statistics). */
void *fit_par_scratch(const fit_par *p, int t);

/* ---------------------------------------------------------------- data checks (datacheck.c) */
/* Every input value finite, every target finite, sparse labels classes: 0,
 * or -1 with a message naming xname or yname, the sample and the position. */
int fit_check_data(const ctx_t *c, const void *x, const void *y, size_t n, const char *xname,
                   const char *yname, char *err, size_t errlen);

/* ---------------------------------------------------------------- progress (progress.c) */
typedef struct {
  int verbose, live, steps, epochs, width;
  double start, last;
} progress_t;

double fit_now(void);
int fit_stdout_is_terminal(void);
void fit_print_value(const char *name, double v);
int fit_format_time(char *buf, size_t len, double per, const char *unit);
int fit_print_bar(int current, int target);
void fit_progress_update(progress_t *p, int current, const rnnc_logs *running);
void fit_progress_final(progress_t *p, const rnnc_logs *logs);

/* ---------------------------------------------------------------- callbacks (callbacks.c) */
int fit_greater_is_better(const char *monitor, rnnc_monitor_mode mode);
int fit_history_add(rnnc_history *h, int epoch, const rnnc_logs *logs);
typedef struct {
  FILE *f;
  int header;
  int order[RNNC_MAX_SERIES]; /* series in sorted name order */
} csv_t;
int fit_csv_open(csv_t *c, const char *path, int append, const rnnc_logs *names, char *err,
                 size_t errlen);
int fit_csv_row(csv_t *c, int epoch, const rnnc_logs *logs);
int fit_format_path(char *out, size_t len, const char *pattern, int epoch1, const rnnc_logs *logs,
                    char *err, size_t errlen);
typedef struct {
  int on, index, greater, restore, has_baseline, patience, start_from, verbose;
  double min_delta, baseline, best;
  int wait, stopped_epoch, best_epoch, have_best_weights, improved;
  void *best_weights;
} early_t;
/* EarlyStopping.on_epoch_end; 1 to stop. */
int fit_es_epoch_end(early_t *es, int epoch, const rnnc_logs *logs, const void *params,
                     size_t bytes);
typedef struct {
  const char *path;
  int index, greater, save_best_only, have_best, verbose;
  double best;
} checkpoint_t;
/* ReduceLROnPlateau (rnnc_reduce_lr): its settings and state. */
typedef struct {
  int on, index, lr_index, greater, patience, cooldown, verbose, f32;
  double factor, min_delta, min_lr, best;
  int wait, cooldown_counter;
  double new_lr; /* the rate of the last reduction, for the message */
} plateau_t;
/* ReduceLROnPlateau.on_epoch_end: logs "learning_rate" (the rate *lr the
 * epoch trained with), then may reduce *lr. 1 when it did (the message is
 * the caller's: fit_rlr_message, after the epoch's progress line). */
int fit_rlr_epoch_end(plateau_t *r, rnnc_logs *logs, double *lr);
void fit_rlr_message(const plateau_t *r, int epoch);
/* ReduceLROnPlateau's mode "auto": greater is better when the name contains
 * "acc" (reduce_lr_on_plateau.py _reset). */
int fit_rlr_greater_is_better(const char *monitor, rnnc_monitor_mode mode);

/* The index of the monitored series, or -1 with a message naming what there is. */
int fit_series_index(const rnnc_logs *names, const char *monitor, const char *who, char *err,
                     size_t errlen);

#endif
