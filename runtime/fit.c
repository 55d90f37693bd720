/* The training loop: Keras's fit() and evaluate() over a generated model's
 * descriptor. Its rooms: metrics.c, callbacks.c (EarlyStopping,
 * ModelCheckpoint, CSVLogger, the History), plot.c, progress.c, datacheck.c;
 * fit_options.c reads the model's own defaults. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

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
  o.weighted_metrics = NULL;
  o.early_stopping.monitor = NULL;
  o.checkpoint.path = o.checkpoint.monitor = NULL;
  o.csv_path = o.plot_path = NULL;
  o.on_epoch_end = NULL;
  o.hook_user = NULL;
  /* ReduceLROnPlateau's defaults (off) */
  o.reduce_lr.monitor = NULL;
  o.reduce_lr.factor = 0.1;
  o.reduce_lr.patience = 10;
  o.reduce_lr.min_delta = 1e-4;
  return o;
}

/* A model with losses on several outputs logs each output's loss after the
 * total, before the metrics (tf.keras: "loss", "dense_loss", "dense_1_loss",
 * then the metrics): series that read the unit's losses of each batch. */
static int fit_output_losses(const rnnc_model *m, ctx_t *c, char *err, size_t errlen) {
  metric_t parts[RNNC_MAX_OUTPUTS];
  int n = 0;
  for (int k = 0; k < m->n_outputs; ++k)
    if (m->losses[k].kind != RNNC_LOSS_NONE) {
      parts[n].kind = MET_MSE; /* unused: the value is the unit's */
      parts[n].part = k;
      parts[n].loss_value = &c->part_loss[k];
      snprintf(parts[n].name, sizeof parts[n].name, "%.*s_loss", RNNC_SERIES_NAME - 6,
               m->outputs[k].name);
      n++;
    }
  if (n < 2)
    return 0;
  if (n + c->n_metrics > RNNC_MAX_METRICS) {
    snprintf(err, errlen, "at most %d metrics and outputs' losses", RNNC_MAX_METRICS);
    return -1;
  }
  memmove(c->metrics + n, c->metrics, (size_t)c->n_metrics * sizeof *c->metrics);
  memcpy(c->metrics, parts, (size_t)n * sizeof *parts);
  c->n_metrics += n;
  return 0;
}

static void ctx_free(ctx_t *c) {
  fit_par_free(c->par);
  free(c->bsw);
  rnnc_free(c->grad);
  free(c->bpred);
  free(c->bx);
  free(c->by);
  free(c->acc);
}

static int ctx_init(ctx_t *c, const rnnc_model *m, const rnnc_fit_options *o, int evaluating,
                    char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  c->evaluating = evaluating;
  c->m = m;
  c->rs = rnnc_dtype_size(m->dtype);
  int bs = o->batch_size;
  if (bs <= 0) {
    snprintf(err, errlen, "batch size %d is not positive", bs);
    return -1;
  }
  if (m->loss == RNNC_LOSS_NONE) {
    snprintf(err, errlen, "the model was not compiled with a loss (add model:compile{...})");
    return -1;
  }
  if (m->loss_grad == NULL) {
    snprintf(err, errlen,
             "%s's unit was compiled with -DRNNC_INFERENCE_ONLY: it has no loss or training step",
             m->name);
    return -1;
  }
  if (fit_parse_metrics(m, o->metrics, o->weighted_metrics, c->metrics, &c->n_metrics, err,
                        errlen) != 0)
    return -1;
  for (int k = 0; k < c->n_metrics; ++k)
    if (c->metrics[k].weighted && m->masked_loss && m->output_mask == NULL &&
        (o->sample_weight || o->val_sample_weight || o->class_weight)) {
      /* Keras 3 weighs a weighted metric of a masked output by the mask */
      snprintf(err, errlen,
               "weighted metric '%s' of %s's masked output needs the unit's masks (output_mask): "
               "regenerate the unit",
               c->metrics[k].name, m->name);
      return -1;
    }
  if (fit_output_losses(m, c, err, errlen) != 0)
    return -1;
  if (m->masked_loss) {
    /* Keras 3 divides a masked loss by the unmasked rows of the whole batch
     * (keras/src/losses/loss.py apply_mask): a sum of micro-batches weighted
     * by their samples is not that */
    int micro = o->micro_batch > 0 ? o->micro_batch : m->batch;
    if (bs > micro) {
      snprintf(err, errlen,
               "batch size %d is larger than the unit's batch %d (or the micro-batch), and %s's "
               "loss is masked (Masking): it is divided by the unmasked steps of the whole batch; "
               "generate the unit with --batch %d",
               bs, micro, m->name, bs);
      return -1;
    }
    if (o->group != NULL && o->group->size > 1) {
      snprintf(err, errlen,
               "%s's loss is masked (Masking) and divided by the unmasked steps of the whole "
               "batch, which one process of %d does not see: train it on one process",
               m->name, o->group->size);
      return -1;
    }
  }
  if (m->update_stats != NULL && !c->evaluating) {
    /* BatchNormalization's statistics are those of one call: a batch must be
     * one micro-batch, on one process */
    int micro = o->micro_batch > 0 ? o->micro_batch : m->batch;
    if (bs > micro) {
      snprintf(err, errlen,
               "batch size %d is larger than the unit's batch %d (or the micro-batch), and %s "
               "normalises with the statistics of the whole batch (BatchNormalization): generate "
               "the unit with --batch %d",
               bs, micro, m->name, bs);
      return -1;
    }
    if (o->group != NULL && o->group->size > 1) {
      snprintf(err, errlen,
               "%s normalises with the statistics of the whole batch (BatchNormalization), which "
               "one process of %d does not see: train it on one process",
               m->name, o->group->size);
      return -1;
    }
  }
  if (o->sample_weight != NULL || o->val_sample_weight != NULL) {
    if (m->loss_grad_weighted == NULL) {
      snprintf(err, errlen,
               "%s's unit has no loss_grad_weighted (generated before sample weights): "
               "regenerate it to train with sample weights",
               m->name);
      return -1;
    }
    if (m->eval_loss != NULL && m->eval_loss_weighted == NULL) {
      snprintf(err, errlen,
               "%s's unit has no eval_loss_weighted (its layers compute differently in training: "
               "BatchNormalization, the noise layers; generated before it): regenerate it to "
               "train with sample weights",
               m->name);
      return -1;
    }
    if (o->reader.read != NULL) {
      snprintf(err, errlen, "sample weights are not supported with a reader of the training data");
      return -1;
    }
    if (o->group != NULL && o->group->size > 1) {
      snprintf(err, errlen,
               "sample weights are not supported across %d processes yet: train on one process "
               "(threads give the same result)",
               o->group->size);
      return -1;
    }
    if (!(c->bsw = malloc((size_t)bs * c->rs + 1))) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  c->grad = rnnc_alloc(m->params_bytes);
  c->bpred = malloc((size_t)bs * m->output_size * c->rs + 1);
  c->bx = malloc((size_t)bs * m->input_size * rnnc_x_bytes(m) + 1);
  c->by = malloc((size_t)bs * m->target_size * c->rs + 1);
  c->acc = calloc(2 * RNNC_MAX_METRICS, sizeof *c->acc);
  if (!c->grad || !c->bpred || !c->bx || !c->by || !c->acc) {
    ctx_free(c);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (!(c->par = fit_par_new(m, o, o->steps > 0 ? o->steps : m->max_steps, err, errlen))) {
    ctx_free(c);
    return -1;
  }
  c->steps = o->steps > 0 ? o->steps : m->max_steps;
  /* a sequence output of a unit of variable length has the data's rows */
  c->acc_rows = m->output_rows;
  if (m->variable_steps && m->output_rows == (size_t)m->max_steps && o->steps > 0)
    c->acc_rows = (size_t)o->steps;
  return 0;
}

/* The loss and gradient of `count` samples (x, y contiguous) into c->grad
 * and their predictions into c->bpred. The batch is done in micro-batches
 * (options->micro_batch, at most the unit's batch: Keras's batch_size is the
 * user's, not the unit's) whose gradients are summed in order, each weighted
 * by its share of the samples: the mean over the whole batch. Which thread or
 * process computes which does not change a bit (parallel.c). */
static double batch_loss_grad(ctx_t *c, const void *params, const void *x, const void *y,
                              const void *sw, int count, int need_grad) {
  return fit_par_loss_grad(c->par, params, x, y, sw, count, c->grad, c->bpred, need_grad,
                           c->part_loss);
}

/* The masks of the outputs in the last batch_loss_grad, for the weighted
 * metrics (with sample weights: Keras 3 masks them only then), or NULL. A
 * unit with a masked output computes a batch in one call (ctx_init refuses
 * more), on the first thread's scratch. */
static const void *const *batch_masks(ctx_t *c, const void *sw) {
  if (sw == NULL || c->m->output_mask == NULL)
    return NULL;
  const void *scratch = fit_par_scratch(c->par, 0);
  for (int k = 0; k < c->m->n_outputs; ++k)
    c->masks[k] = c->m->output_mask(scratch, k);
  return c->masks;
}

/* Sample weights finite and >= 0 (Keras multiplies the loss by them; a
 * negative weight would ascend): 0, or -1 naming the array and the sample. */
static int check_weights(const ctx_t *c, const void *sw, size_t n, const char *name, char *err,
                         size_t errlen) {
  for (size_t i = 0; sw != NULL && i < n; ++i) {
    double w = c->m->dtype == RNNC_F32 ? (double)((const float *)sw)[i] : ((const double *)sw)[i];
    if (!(w >= 0.0 && isfinite(w))) {
      snprintf(err, errlen, "%s: sample %zu has weight %g: sample weights must be finite and >= 0",
               name, i, w);
      return -1;
    }
  }
  return 0;
}

/* Loss and metrics over n contiguous samples in batches of bs: values[0] the
 * loss, values[1..] the metrics (size-weighted means of the batch values). */
static void evaluate_into(ctx_t *c, const void *params, const void *x, const void *y,
                          const void *sw, size_t n, int bs, double *values, int verbose) {
  const rnnc_model *m = c->m;
  double loss_sum = 0;
  metric_acc *acc = c->acc + RNNC_MAX_METRICS;
  memset(acc, 0, RNNC_MAX_METRICS * sizeof *acc);
  int steps = (int)((n + (size_t)bs - 1) / (size_t)bs);
  double start = fit_now();
  for (int step = 0; step < steps; ++step) {
    size_t first = (size_t)step * (size_t)bs;
    int count = (int)(n - first < (size_t)bs ? n - first : (size_t)bs);
    const char *bx = (const char *)x + first * m->input_size * rnnc_x_bytes(m);
    const char *by = (const char *)y + first * m->target_size * c->rs;
    const char *bw = sw ? (const char *)sw + first * c->rs : NULL;
    double loss = batch_loss_grad(c, params, bx, by, bw, count, 0);
    loss_sum += loss * count;
    if (isfinite(loss))
      fit_batch_metrics(m, c->metrics, c->n_metrics, c->bpred, by, bw, batch_masks(c, bw), count,
                        c->acc_rows, acc);
    else
      for (int k = 0; k < c->n_metrics; ++k)
        acc[k].invalid = 1;
  }
  values[0] = loss_sum / (double)n;
  for (int k = 0; k < c->n_metrics; ++k)
    values[1 + k] = fit_metric_result(&c->metrics[k], &acc[k], n);
  if (verbose) {
    double seconds = fit_now() - start;
    char t[64];
    if (verbose == 1) {
      fit_print_bar(steps, steps);
      printf(" - %.0fs", seconds);
    } else
      printf("%d/%d - %.0fs -", steps, steps, seconds);
    fit_format_time(t, sizeof t, seconds / steps, "step");
    printf("%s", t);
    fit_print_value("loss", values[0]);
    for (int k = 0; k < c->n_metrics; ++k)
      fit_print_value(c->metrics[k].name, values[1 + k]);
    printf("\n");
    fflush(stdout);
  }
}

int rnnc_evaluate(const rnnc_model *m, const void *params, const void *x, const void *y, size_t n,
                  const rnnc_fit_options *o, rnnc_logs *logs, char *err, size_t errlen) {
  ctx_t c;
  if (o == NULL) { /* the model's own defaults */
    rnnc_fit_options own;
    char text[RNNC_FIT_DEFAULTS_TEXT];
    if (rnnc_fit_model_defaults(m, &own, text, sizeof text, err, errlen) != 0)
      return -1;
    return rnnc_evaluate(m, params, x, y, n, &own, logs, err, errlen);
  }
  rnnc_fit_options quiet;
  if (o->group && o->group->rank != 0) {
    quiet = *o;
    quiet.verbose = 0;
    o = &quiet;
  }
  if (n == 0) {
    snprintf(err, errlen, "no samples to evaluate");
    return -1;
  }
  if (ctx_init(&c, m, o, 1, err, errlen) != 0)
    return -1;
  if (fit_check_data(&c, x, y, n, "x", "y", err, errlen) != 0 ||
      check_weights(&c, o->sample_weight, n, "sample_weight", err, errlen) != 0) {
    ctx_free(&c);
    return -1;
  }
  double values[1 + RNNC_MAX_METRICS];
  evaluate_into(&c, params, x, y, o->sample_weight, n, o->batch_size, values, o->verbose);
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

/* ---------------------------------------------------------------- class_weight */

/* class_weight as text, "C=W,C=W,...": classes whole numbers >= 0, weights finite
 * and >= 0; a class given twice is refused. */
static int parse_class_weight(const char *text, double **cw, int **has, int *n_classes, char *err,
                              size_t errlen) {
  int most = -1;
  *cw = NULL;
  *has = NULL;
  for (int pass = 0; pass < 2; ++pass) {
    const char *s = text;
    while (*s) {
      char *end;
      double c = strtod(s, &end);
      if (end == s || *end != '=' || !(c >= 0 && c == floor(c) && c < 1e6)) {
        snprintf(err, errlen,
                 "class_weight '%s': expected CLASS=WEIGHT,... with whole classes >= 0 "
                 "(e.g. 0=1,1=5)",
                 text);
        return -1;
      }
      s = end + 1;
      double w = strtod(s, &end);
      if (end == s || (*end != ',' && *end != '\0')) {
        snprintf(err, errlen, "class_weight '%s': the weight of class %d is not a number", text,
                 (int)c);
        return -1;
      }
      if (!(w >= 0 && isfinite(w))) {
        snprintf(err, errlen,
                 "class_weight: the weight of class %d is %g: class weights must be finite "
                 "and >= 0",
                 (int)c, w);
        return -1;
      }
      if (pass == 0 && (int)c > most)
        most = (int)c;
      if (pass == 1) {
        if ((*has)[(int)c]) {
          snprintf(err, errlen, "class_weight: class %d is given twice", (int)c);
          return -1;
        }
        (*has)[(int)c] = 1;
        (*cw)[(int)c] = w;
      }
      s = *end == ',' ? end + 1 : end;
    }
    if (pass == 0) {
      if (most < 0) {
        snprintf(err, errlen, "class_weight: no class given (e.g. 0=1,1=5)");
        return -1;
      }
      *n_classes = most + 1;
      *cw = calloc((size_t)most + 1, sizeof **cw);
      *has = calloc((size_t)most + 1, sizeof **has);
      if (!*cw || !*has) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
    }
  }
  return 0;
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
  plateau_t rlr;
  checkpoint_t ck;
  csv_t csv;
  if (o == NULL) { /* the model's own defaults */
    rnnc_fit_options own;
    char text[RNNC_FIT_DEFAULTS_TEXT];
    if (history)
      rnnc_history_free(history);
    if (rnnc_fit_model_defaults(m, &own, text, sizeof text, err, errlen) != 0)
      return -1;
    return rnnc_fit_history(m, params, x, y, n, &own, state_io, history, err, errlen);
  }
  rnnc_fit_options quiet;
  if (o->group && o->group->rank != 0) { /* rank 0 alone prints and writes files */
    quiet = *o;
    quiet.verbose = 0;
    quiet.early_stopping.verbose = 0;
    quiet.reduce_lr.verbose = 0;
    quiet.checkpoint.path = NULL;
    quiet.csv_path = NULL;
    quiet.plot_path = NULL;
    o = &quiet;
  }
  /* class_weight: per-sample weights of the training data only (Keras 3's
   * fit passes class_weight to the training iterator, not to the
   * validation's evaluate: keras/src/trainers/trainer.py fit) */
  rnnc_fit_options weighted;
  void *class_sw = NULL;
  if (o->class_weight && *o->class_weight) {
    double *cw = NULL;
    int *has = NULL, nc = 0, crc = 0;
    if (o->sample_weight) {
      /* keras/src/trainers/data_adapters/array_data_adapter.py */
      snprintf(err, errlen,
               "class_weight and sample_weight cannot be used together (Keras refuses "
               "class_weight with sample_weight)");
      crc = -1;
    } else if (o->reader.read) {
      snprintf(err, errlen, "class_weight is not supported with a reader of the training data");
      crc = -1;
    } else if (parse_class_weight(o->class_weight, &cw, &has, &nc, err, errlen) != 0)
      crc = -1;
    else if (!(class_sw = malloc(n * rnnc_dtype_size(m->dtype) + 1))) {
      snprintf(err, errlen, "out of memory");
      crc = -1;
    } else if (rnnc_class_weights(m, y, n, cw, has, nc, class_sw, err, errlen) != 0)
      crc = -1;
    free(cw);
    free(has);
    if (crc != 0) {
      free(class_sw);
      return -1;
    }
    weighted = *o;
    weighted.sample_weight = class_sw;
    o = &weighted;
  }
  memset(&es, 0, sizeof es);
  memset(&rlr, 0, sizeof rlr);
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
  if (ctx_init(&c, m, o, 0, err, errlen) != 0)
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
  /* a learning rate that ReduceLROnPlateau set (a resumed run): Keras's
   * optimizer.learning_rate variable, restored with the optimizer state */
  const int has_schedule = opt.schedule != 0 || opt.decay_steps > 0;
  if (state->learning_rate > 0) {
    if (has_schedule) {
      snprintf(err, errlen,
               "the optimizer state holds a learning rate (%g, set by ReduceLROnPlateau) and the "
               "optimizer has a learning-rate schedule, which would ignore it",
               state->learning_rate);
      rc = -1;
      goto done;
    }
    opt.learning_rate = state->learning_rate;
  }

  /* training and validation data: Keras takes the last samples, before shuffling */
  size_t n_train = n, n_val = 0;
  const void *vx = NULL, *vy = NULL, *vsw = NULL;
  if (o->val_x && o->val_y && o->val_n > 0) {
    vx = o->val_x;
    vy = o->val_y;
    vsw = o->val_sample_weight;
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
    vx = (const char *)x + n_train * m->input_size * rnnc_x_bytes(m);
    vy = (const char *)y + n_train * m->target_size * rs;
    /* Keras's validation_split takes the last samples' weights too
     * (keras/src/trainers/data_adapters/data_adapter_utils.py
     * train_validation_split splits every array) */
    if (o->sample_weight && !class_sw) /* class weights are the training data's only */
      vsw = (const char *)o->sample_weight + n_train * rs;
  }
  if (o->reader.read && o->validation_split > 0 && !(o->val_x && o->val_y && o->val_n > 0)) {
    snprintf(err, errlen,
             "a reader of the training data needs explicit validation data "
             "(val_x, val_y) instead of validation_split");
    rc = -1;
    goto done;
  }
  if ((!o->reader.read && fit_check_data(&c, x, y, n, "x", "y", err, errlen) != 0) ||
      (o->val_x && o->val_y && o->val_n > 0 &&
       fit_check_data(&c, vx, vy, n_val, "val_x", "val_y", err, errlen) != 0) ||
      check_weights(&c, o->sample_weight, n, "sample_weight", err, errlen) != 0 ||
      (o->val_x && o->val_y && o->val_n > 0 &&
       check_weights(&c, o->val_sample_weight, n_val, "val_sample_weight", err, errlen) != 0)) {
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
  /* ReduceLROnPlateau logs the learning rate (Keras 3: "learning_rate"),
   * after every other series */
  const rnnc_reduce_lr *ro = &o->reduce_lr;
  if (ro->enabled) {
    const char *mon = ro->monitor && *ro->monitor ? ro->monitor : "val_loss";
    if (!(ro->factor < 1.0)) { /* ReduceLROnPlateau.__init__ raises ValueError */
      snprintf(err, errlen, "ReduceLROnPlateau does not support a factor >= 1.0 (factor %g)",
               ro->factor);
      rc = -1;
      goto done;
    }
    if (has_schedule) { /* the optimizer's learning_rate setter raises TypeError */
      snprintf(err, errlen,
               "ReduceLROnPlateau cannot set the learning rate of an optimizer with a "
               "learning-rate schedule (Keras raises: \"its learning rate is not settable\"); "
               "give the optimizer a constant learning_rate");
      rc = -1;
      goto done;
    }
    if (logs.count >= RNNC_MAX_SERIES) {
      snprintf(err, errlen, "at most %d series in the logs", RNNC_MAX_SERIES);
      rc = -1;
      goto done;
    }
    rlr.on = 1;
    if ((rlr.index = fit_series_index(&logs, mon, "ReduceLROnPlateau", err, errlen)) < 0) {
      rc = -1;
      goto done;
    }
    rlr.lr_index = logs.count++;
    snprintf(logs.names[rlr.lr_index], RNNC_SERIES_NAME, "learning_rate");
    rlr.greater = fit_rlr_greater_is_better(mon, ro->mode);
    rlr.factor = ro->factor;
    rlr.patience = ro->patience;
    rlr.cooldown = ro->cooldown;
    rlr.min_delta = ro->min_delta;
    rlr.min_lr = ro->min_lr;
    rlr.verbose = ro->verbose;
    rlr.f32 = m->dtype == RNNC_F32;
    rlr.best = rlr.greater ? -INFINITY : INFINITY;
    state->learning_rate = rlr.f32 ? (double)(float)opt.learning_rate : opt.learning_rate;
  }
  h->n_series = logs.count;
  memcpy(h->names, logs.names, sizeof h->names);

  /* callbacks */
  const rnnc_early_stopping *eo = &o->early_stopping;
  if (eo->enabled) {
    const char *mon = eo->monitor && *eo->monitor ? eo->monitor : "val_loss";
    es.on = 1;
    es.index = fit_series_index(&logs, mon, "EarlyStopping", err, errlen);
    if (es.index < 0) {
      rc = -1;
      goto done;
    }
    es.greater = fit_greater_is_better(mon, eo->mode);
    es.min_delta = fabs(eo->min_delta);
    es.patience = eo->patience;
    es.has_baseline = eo->has_baseline;
    es.baseline = eo->baseline;
    es.restore = eo->restore_best_weights;
    es.start_from = eo->start_from_epoch;
    es.verbose = eo->verbose;
    es.best = es.greater ? -INFINITY : INFINITY;
    if (es.restore && !(es.best_weights = rnnc_alloc(m->params_bytes))) {
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
    ck.greater = fit_greater_is_better(mon, o->checkpoint.mode);
    ck.verbose = o->checkpoint.verbose;
    ck.index = -1;
    if (ck.save_best_only &&
        (ck.index = fit_series_index(&logs, mon, "ModelCheckpoint", err, errlen)) < 0) {
      rc = -1;
      goto done;
    }
  }
  if (o->csv_path && fit_csv_open(&csv, o->csv_path, o->csv_append, &logs, err, errlen) != 0) {
    rc = -1;
    goto done;
  }

  order = malloc(n_train * sizeof *order + 1);
  backup_p = rnnc_alloc(m->params_bytes);
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
  const int tty = fit_stdout_is_terminal();
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
    pr.start = pr.last = fit_now();
    if (shown) {
      printf("Epoch %d/%d\n", e, o->epochs);
      fflush(stdout);
    }
    double loss_sum = 0;
    metric_acc *acc = c.acc; /* Keras resets the metrics at each epoch */
    memset(acc, 0, RNNC_MAX_METRICS * sizeof *acc);
    size_t seen = 0;
    for (int step = 0; step < steps; ++step) {
      size_t first = (size_t)step * (size_t)bs;
      int count = (int)(n_train - first < (size_t)bs ? n_train - first : (size_t)bs);
      if (fit_par_fetch(c.par, x, y, order + first, count, c.bx, c.by, err, errlen) != 0) {
        rc = -1;
        goto done;
      }
      if (o->sample_weight) /* the weights follow their samples */
        for (int k = 0; k < count; ++k)
          memcpy((char *)c.bsw + (size_t)k * rs,
                 (const char *)o->sample_weight + order[first + k] * rs, rs);
      const void *bw = o->sample_weight ? c.bsw : NULL;
      /* the noise layers' masks of this step: keyed by the optimizer's
       * iterations, which a resumed fit restores */
      fit_par_set_noise(c.par, o->seed, state->iterations);
      double loss = batch_loss_grad(&c, params, c.bx, c.by, bw, count, 1);
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
      if (m->update_stats != NULL) /* the moving statistics of this batch */
        m->update_stats(params, fit_par_scratch(c.par, 0));
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
      fit_batch_metrics(m, c.metrics, c.n_metrics, c.bpred, c.by, bw, batch_masks(&c, bw), count,
                        c.acc_rows, acc);
      seen += (size_t)count;
      if (pr.live && step + 1 < steps) {
        rnnc_logs running;
        running.count = 1 + c.n_metrics;
        memcpy(running.names, logs.names, sizeof running.names);
        running.values[0] = loss_sum / (double)seen;
        for (int k = 0; k < c.n_metrics; ++k)
          running.values[1 + k] = fit_metric_result(&c.metrics[k], &acc[k], seen);
        fit_progress_update(&pr, step + 1, &running);
      }
    }
    /* the epoch's logs */
    logs.values[0] = loss_sum / (double)n_train;
    for (int k = 0; k < c.n_metrics; ++k)
      logs.values[1 + k] = fit_metric_result(&c.metrics[k], &acc[k], n_train);
    if (n_val > 0)
      evaluate_into(&c, params, vx, vy, vsw, n_val, bs, logs.values + 1 + c.n_metrics, 0);
    if (rlr.on) /* the rate this epoch trained with, for the hook too */
      logs.values[rlr.lr_index] = rlr.f32 ? (double)(float)opt.learning_rate : opt.learning_rate;
    if (o->on_epoch_end && o->on_epoch_end(o->hook_user, epoch, &logs, params) != 0)
      stop = 1;
    /* ReduceLROnPlateau before the History (appended last by Keras's
     * CallbackList), ModelCheckpoint and CSVLogger: as Keras with it listed
     * before them */
    int reduced = fit_rlr_epoch_end(&rlr, &logs, &opt.learning_rate);
    if (reduced)
      state->learning_rate = opt.learning_rate;
    if (fit_history_add(h, epoch, &logs) != 0) {
      snprintf(err, errlen, "out of memory");
      rc = -1;
      goto done;
    }
    if (fit_es_epoch_end(&es, epoch, &logs, params, m->params_bytes))
      stop = 1;
    if (o->verbose && (shown || stop || epoch + 1 == o->epochs)) {
      if (!shown)
        printf("Epoch %d/%d\n", e, o->epochs);
      /* Keras's progress bar is the first callback: no learning_rate yet */
      rnnc_logs shown_logs = logs;
      shown_logs.count -= rlr.on;
      fit_progress_final(&pr, &shown_logs);
    }
    if (reduced && rlr.verbose)
      fit_rlr_message(&rlr, epoch);
    /* ModelCheckpoint */
    if (ck.path) {
      char path[4096];
      if (fit_format_path(path, sizeof path, ck.path, e, &logs, err, errlen) != 0) {
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
    if (csv.f && fit_csv_row(&csv, epoch, &logs) != 0) {
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
  rnnc_free(es.best_weights);
  free(order);
  rnnc_free(backup_p);
  free(backup_s);
  free(class_sw);
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

/* ---------------------------------------------------------------- class_weight */

int rnnc_class_weights(const rnnc_model *m, const void *y, size_t n, const double *class_weight,
                       const int *has, int n_classes, void *sw, char *err, size_t errlen) {
  int part = -1, parts = 0;
  for (int k = 0; m->losses && k < m->n_outputs; ++k)
    if (m->losses[k].kind != RNNC_LOSS_NONE) {
      part = k;
      parts++;
    }
  if (parts != 1) {
    /* keras/src/trainers/data_adapters: "class_weight is only supported for
     * Models with a single output" */
    snprintf(err, errlen,
             "class_weight is only supported for models with a single output (%s has losses on "
             "%d outputs): give sample weights instead",
             m->name, parts);
    return -1;
  }
  const rnnc_loss_part *lp = &m->losses[part];
  if (lp->rows != 1) {
    /* tf.keras 2.x's data_adapter._class_weights_map_fn: "`class_weight` not
     * supported for 3+ dimensional targets" (one target per timestep) */
    snprintf(err, errlen,
             "class_weight is not supported for targets of one row per timestep (%zu rows per "
             "sample), as Keras refuses 3+ dimensional targets: give sample weights instead",
             lp->rows);
    return -1;
  }
  int sparse = lp->kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  size_t cols = sparse ? 1 : lp->cols;
  for (size_t i = 0; i < n; ++i) {
    const size_t at = i * m->target_size + lp->target_offset;
    double best = 0;
    size_t arg = 0;
    for (size_t c = 0; c < cols; ++c) {
      double v =
          m->dtype == RNNC_F32 ? (double)((const float *)y)[at + c] : ((const double *)y)[at + c];
      if (c == 0 || v > best) { /* np.argmax: the first of equal maxima */
        best = v;
        arg = c;
      }
    }
    /* class_weight_to_sample_weights: the argmax of a target of several
     * values, else the value rounded (np.round: half to even) */
    double cls = cols > 1 ? (double)arg : nearbyint(best);
    double w = 1.0; /* class_weight.get(class, 1.0) */
    if (cls >= 0 && cls < (double)n_classes && has[(int)cls])
      w = class_weight[(int)cls];
    if (m->dtype == RNNC_F32)
      ((float *)sw)[i] = (float)w;
    else
      ((double *)sw)[i] = w;
  }
  return 0;
}
