/* The training loop: Keras's fit() over a generated model's descriptor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

rnnc_fit_options rnnc_fit_defaults(void) {
  rnnc_fit_options o;
  o.epochs = 1;
  o.batch_size = 32;
  o.shuffle = 1;
  o.seed = 0;
  o.verbose = 1;
  o.log_every = 1;
  o.initial_epoch = 0;
  o.steps = 0;
  return o;
}

/* Keras's value format in progress lines. */
static void print_value(const char *name, double v) {
  if (fabs(v) > 1e-3 || v == 0)
    printf(" - %s: %.4f", name, v);
  else
    printf(" - %s: %.4e", name, v);
}

static void print_time_per_step(double seconds, int steps) {
  double per = steps > 0 ? seconds / steps : 0;
  if (per >= 1)
    printf("%.0fs/step", per);
  else if (per >= 1e-3)
    printf("%.0fms/step", per * 1e3);
  else
    printf("%.0fus/step", per * 1e6);
}

/* Mean sparse accuracy of output 0 over `count` samples. */
static double accuracy_of(const rnnc_model *m, const void *y_pred, const void *y, int count,
                          size_t rows) {
  size_t rs = rnnc_dtype_size(m->dtype);
  double sum = 0;
  for (int i = 0; i < count; ++i) {
    const char *p = (const char *)y_pred + (size_t)i * m->output_size * rs;
    const char *t = (const char *)y + (size_t)i * m->target_size * rs;
    if (m->dtype == RNNC_F32)
      sum += rnnc_sparse_accuracy_f32((const float *)p, (const float *)t, rows, m->output_cols);
    else
      sum += rnnc_sparse_accuracy_f64((const double *)p, (const double *)t, rows, m->output_cols);
  }
  return count > 0 ? sum / count : 0;
}

int rnnc_fit(const rnnc_model *m, void *params, const void *x, const void *y, size_t n,
             const rnnc_fit_options *o, double *final_loss, double *final_accuracy, char *err,
             size_t errlen) {
  size_t rs = rnnc_dtype_size(m->dtype);
  int bs = o->batch_size;
  int with_accuracy = m->metric_accuracy && m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  int rc = 0;
  if (bs <= 0 || bs > m->batch) {
    snprintf(err, errlen,
             "batch size %d is outside 1..%d (the batch size the model was generated for)", bs,
             m->batch);
    return -1;
  }
  if (n == 0) {
    snprintf(err, errlen, "no samples to train on");
    return -1;
  }
  if (m->loss == RNNC_LOSS_NONE) {
    snprintf(err, errlen, "the model was not compiled with a loss (add model:compile{...})");
    return -1;
  }
  void *scratch = calloc(1, m->scratch_bytes);
  void *opt = calloc(1, m->opt_state_bytes);
  void *bx = malloc((size_t)bs * m->input_size * rs);
  void *by = malloc((size_t)bs * m->target_size * rs);
  void *bpred = malloc((size_t)bs * m->output_size * rs);
  size_t *order = malloc(n * sizeof *order);
  if (!scratch || !opt || !bx || !by || !bpred || !order) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
    goto done;
  }
  if (m->set_steps(scratch, o->steps > 0 ? o->steps : m->max_steps) != 0) {
    snprintf(err, errlen, "sequence length %d is outside what the model takes (%s%d)", o->steps,
             m->variable_steps ? "1.." : "", m->max_steps);
    rc = -1;
    goto done;
  }
  for (size_t i = 0; i < n; ++i)
    order[i] = i;
  rnnc_rng rng;
  rnnc_rng_seed(&rng, o->seed);
  int steps = (int)((n + (size_t)bs - 1) / (size_t)bs);
  /* a sequence output of a unit of variable length has the data's rows */
  size_t acc_rows = m->output_rows;
  if (m->variable_steps && m->output_rows == (size_t)m->max_steps && o->steps > 0)
    acc_rows = (size_t)o->steps;
  for (int epoch = o->initial_epoch; epoch < o->epochs; ++epoch) {
    if (o->shuffle)
      for (size_t i = n - 1; i > 0; --i) {
        size_t j = (size_t)rnnc_rng_below(&rng, i + 1);
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    clock_t start = clock();
    double loss_sum = 0, hits = 0;
    for (int step = 0; step < steps; ++step) {
      size_t first = (size_t)step * (size_t)bs;
      int count = (int)(n - first < (size_t)bs ? n - first : (size_t)bs);
      for (int k = 0; k < count; ++k) {
        size_t src = order[first + (size_t)k];
        memcpy((char *)bx + (size_t)k * m->input_size * rs,
               (const char *)x + src * m->input_size * rs, m->input_size * rs);
        memcpy((char *)by + (size_t)k * m->target_size * rs,
               (const char *)y + src * m->target_size * rs, m->target_size * rs);
      }
      double loss = m->train_step(params, opt, scratch, bx, by, bpred, count);
      if (!isfinite(loss)) {
        snprintf(err, errlen,
                 "epoch %d/%d, batch %d/%d: the loss or a gradient is not finite (%s); training "
                 "stopped, the weights are those after the last good step",
                 epoch + 1, o->epochs, step + 1, steps, isnan(loss) ? "nan" : "inf");
        rc = -1;
        goto done;
      }
      loss_sum += loss * count;
      if (with_accuracy)
        hits += accuracy_of(m, bpred, by, count, acc_rows) * count;
    }
    double epoch_loss = loss_sum / (double)n;
    double epoch_acc = hits / (double)n;
    if (final_loss)
      *final_loss = epoch_loss;
    if (final_accuracy)
      *final_accuracy = with_accuracy ? epoch_acc : NAN;
    int e = epoch + 1;
    int show =
        o->verbose && (o->log_every <= 1 || e == 1 || e == o->epochs || e % o->log_every == 0);
    if (show) {
      double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
      printf("Epoch %d/%d\n", e, o->epochs);
      if (o->verbose == 1)
        printf("%d/%d [==============================] - %.0fs ", steps, steps, seconds);
      else
        printf("%d/%d - %.0fs - ", steps, steps, seconds);
      print_time_per_step(seconds, steps);
      print_value("loss", epoch_loss);
      if (with_accuracy)
        print_value("accuracy", epoch_acc);
      printf("\n");
      fflush(stdout);
    }
  }
done:
  free(scratch);
  free(opt);
  free(bx);
  free(by);
  free(bpred);
  free(order);
  return rc;
}
