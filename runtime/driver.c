/* The driver every generated model links: rnnc_main() implements the
 * subcommands init, summary, predict, grad, fit, evaluate, diff, gradcheck,
 * sample and stream over the model's descriptor, so one program per model serves every
 * use. Its rooms: driver_args.c (the options and the usage text),
 * driver_data.c (data and weights), driver_checks.c (diff and gradcheck). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* ---------------------------------------------------------------- commands */

static int cmd_init(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--out", a->out))
    return 2;
  void *p = rnnc_alloc(m->params_bytes);
  if (!p)
    return driver_fail("out of memory");
  m->init(p, a->seed);
  int rc = rnnc_weights_save(a->out, m, p, err, sizeof err);
  rnnc_free(p);
  if (rc != 0)
    return driver_fail(err);
  printf("wrote %s: %zu parameters of %s, seed %llu\n", a->out, m->n_params, m->name,
         (unsigned long long)a->seed);
  return 0;
}

/* `path` for k = 0, else <path without .npy>_k.npy. */
static void numbered_path(char *name, size_t len, const char *path, int k) {
  size_t n = strlen(path);
  if (k == 0)
    snprintf(name, len, "%s", path);
  else if (n > 4 && strcmp(path + n - 4, ".npy") == 0)
    snprintf(name, len, "%.*s_%d.npy", (int)(n - 4), path, k);
  else
    snprintf(name, len, "%s_%d", path, k);
}

/* Writes output 0 to `path` and output k > 0 to <path without .npy>_k.npy. */
static int save_outputs(const rnnc_model *m, const char *path, const void *y, size_t n) {
  char err[ERRLEN], name[1024];
  size_t rs = rnnc_dtype_size(m->dtype);
  for (int k = 0; k < m->n_outputs; ++k) {
    const rnnc_output_desc *o = &m->outputs[k];
    size_t shape[RNNC_MAX_RANK + 1], len = driver_part_now(m, o);
    char *part = malloc(n * len * rs + 1);
    if (!part)
      return driver_fail("out of memory");
    for (size_t s = 0; s < n; ++s)
      memcpy(part + s * len * rs, (const char *)y + (s * m->output_size + o->offset) * rs,
             len * rs);
    shape[0] = n;
    for (int i = 0; i < o->rank; ++i)
      shape[i + 1] = (size_t)o->shape[i];
    if (driver_is_seq(m, o))
      shape[1] = (size_t)driver_steps_now(m);
    numbered_path(name, sizeof name, path, k);
    int rc = rnnc_npy_save(name, m->dtype, o->rank + 1, shape, part, err, sizeof err);
    free(part);
    if (rc != 0)
      return driver_fail(err);
    printf("wrote %s: %zu predictions of output %d\n", name, n, k);
  }
  return 0;
}

/* Shows the first predictions: each output row, and its argmax when the
 * model classifies (softmax / sparse crossentropy). */
static void print_predictions(const rnnc_model *m, const void *y, size_t n) {
  size_t rows = driver_is_seq(m, &m->outputs[0]) ? (size_t)driver_steps_now(m) : m->output_rows;
  size_t cols = m->output_cols, stride = m->output_size;
  int classify = m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  size_t shown = n < 10 ? n : 10;
  for (size_t s = 0; s < shown; ++s) {
    printf("sample %zu:", s);
    for (size_t r = 0; r < rows; ++r) {
      printf(" [");
      for (size_t c = 0; c < cols && c < 16; ++c)
        printf(c ? " %.4f" : "%.4f", driver_get(m, y, s * stride + r * cols + c));
      printf(cols > 16 ? " ...]" : "]");
    }
    if (classify) {
      printf("  argmax [");
      for (size_t r = 0; r < rows; ++r) {
        size_t best = 0;
        for (size_t c = 1; c < cols; ++c)
          if (driver_get(m, y, s * stride + r * cols + c) >
              driver_get(m, y, s * stride + r * cols + best))
            best = c;
        printf(r ? ",%zu" : "%zu", best);
      }
      printf("]");
    }
    printf("\n");
  }
  if (shown < n)
    printf("... (%zu more)\n", n - shown);
}

static int cmd_predict(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--weights", a->weights) ||
      !driver_need("--x", driver_have_x(a, 0) ? "" : NULL) || !driver_need("--out", a->out))
    return 2;
  rnnc_array x;
  void *p = driver_load_weights(m, a->weights, err);
  if (!p)
    return driver_fail(err);
  if (driver_load_x(m, a, 0, &x, err) != 0) {
    rnnc_free(p);
    return driver_fail(err);
  }
  size_t n = x.shape[0];
  void *xm = driver_x_to_model(m, x.data, x.count);
  void *y = malloc(n * m->output_size * rnnc_dtype_size(m->dtype));
  int rc = 0;
  if (!xm || !y) {
    rc = driver_fail("out of memory");
  } else if (rnnc_predict(m, p, xm, y, n, driver_steps_now(m), a->threads, err, sizeof err) != 0) {
    rc = driver_fail(err);
  } else {
    rc = save_outputs(m, a->out, y, n);
    if (rc == 0)
      print_predictions(m, y, n);
  }
  rnnc_free(p);
  free(xm);
  free(y);
  rnnc_array_free(&x);
  return rc;
}

/* The streaming API (NAME_stream_step) over every sample of x, one step per
 * call from a reset state: every step's outputs, as (n, steps,
 * stream_output_size). */
static int cmd_stream(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--weights", a->weights) ||
      !driver_need("--x", driver_have_x(a, 0) ? "" : NULL) || !driver_need("--out", a->out))
    return 2;
  if (m->stream_step == NULL)
    return driver_fail("this model cannot stream (its header says why): it has no stream_step");
  rnnc_array x;
  void *p = driver_load_weights(m, a->weights, err);
  if (!p)
    return driver_fail(err);
  if (driver_load_x(m, a, 0, &x, err) != 0) {
    rnnc_free(p);
    return driver_fail(err);
  }
  size_t rs = rnnc_dtype_size(m->dtype), n = x.shape[0];
  size_t steps = x.rank >= 2 ? x.shape[1] : 1, in = m->stream_input_size,
         out = m->stream_output_size;
  void *xm = driver_x_to_model(m, x.data, x.count);
  char *y = malloc(n * steps * out * rs + 1);
  void *st = rnnc_alloc(m->stream_bytes);
  int rc = 0;
  if (!xm || !y || !st) {
    rc = driver_fail("out of memory");
  } else {
    /* step t's input: row t of every input, one after the other (x is in
     * the full layout: per sample input_size values, input k's sequence at
     * its offset, laid out for the maximum length) */
    size_t xb = rnnc_x_bytes(m);
    char *xt = malloc(in * xb + 1);
    for (size_t s = 0; xt && s < n; ++s) {
      m->stream_reset(st);
      for (size_t t = 0; t < steps; ++t) {
        size_t at = 0;
        for (int k = 0; k < (m->n_inputs > 0 ? m->n_inputs : 1); ++k) {
          size_t off = m->n_inputs > 0 ? m->inputs[k].offset : 0;
          size_t cols = m->n_inputs > 0 ? m->inputs[k].size / (size_t)m->max_steps : in;
          memcpy(xt + at * xb, (const char *)xm + (s * m->input_size + off + t * cols) * xb,
                 cols * xb);
          at += cols;
        }
        m->stream_step(p, st, xt, y + ((s * steps + t) * out) * rs);
      }
    }
    if (!xt)
      rc = driver_fail("out of memory");
    free(xt);
    size_t shape[3] = {n, steps, out};
    if (rc == 0 && rnnc_npy_save(a->out, m->dtype, 3, shape, y, err, sizeof err) != 0)
      rc = driver_fail(err);
    else if (rc == 0)
      printf("wrote %s: %zu samples x %zu steps of %zu outputs, one stream_step each\n", a->out, n,
             steps, out);
  }
  rnnc_free(p);
  free(xm);
  free(y);
  rnnc_free(st);
  rnnc_array_free(&x);
  return rc;
}

static void print_tensor(const char *name, const double *v, size_t count) {
  double norm = 0;
  for (size_t i = 0; i < count; ++i)
    norm += v[i] * v[i];
  printf("%-40s norm %.6e:", name, sqrt(norm));
  size_t shown = count <= 12 ? count : 8;
  for (size_t i = 0; i < shown; ++i)
    printf(" %.9g", v[i]);
  if (shown < count)
    printf(" ... (%zu values)", count);
  printf("\n");
}

static int cmd_grad(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--weights", a->weights) ||
      !driver_need("--x", driver_have_x(a, 0) ? "" : NULL) ||
      !driver_need("--y", driver_have_y(a, 0) ? "" : NULL) || !driver_need("--out", a->out))
    return 2;
  rnnc_array x, y;
  void *p = driver_load_weights(m, a->weights, err);
  if (!p)
    return driver_fail(err);
  if (driver_load_x(m, a, 0, &x, err) != 0) {
    rnnc_free(p);
    return driver_fail(err);
  }
  if (driver_load_y(m, a, 0, x.shape[0], &y, err) != 0) {
    rnnc_free(p);
    rnnc_array_free(&x);
    return driver_fail(err);
  }
  size_t n = x.shape[0];
  void *xm = driver_x_to_model(m, x.data, x.count), *ym = driver_to_model(m, y.data, y.count);
  void *scratch = driver_new_scratch(m);
  double *grad = malloc(m->n_params * sizeof *grad), *dx = malloc(x.count * sizeof *dx);
  int rc = 0;
  if (!xm || !ym || !scratch || !grad || !dx) {
    rc = driver_fail("out of memory");
    goto done;
  }
  double loss = driver_loss_grad_all(m, p, scratch, xm, ym, n, grad, dx);
  printf("loss %.17g\n", loss);
  rnnc_tensor_ref refs[64 + RNNC_MAX_INPUTS];
  int count = m->n_tensors < 64 ? m->n_tensors : 64;
  for (int i = 0; i < count; ++i) {
    const rnnc_tensor_desc *t = &m->tensors[i];
    print_tensor(t->name, grad + t->offset, t->size);
    refs[i].name = t->name;
    refs[i].rank = t->rank;
    memcpy(refs[i].shape, t->shape, sizeof refs[i].shape);
    refs[i].data = grad + t->offset;
  }
  /* input gradients, one tensor per input: "input", "input_1", ... */
  static const char *names[RNNC_MAX_INPUTS] = {"input",   "input_1", "input_2", "input_3",
                                               "input_4", "input_5", "input_6", "input_7"};
  double *parts = malloc(x.count * sizeof *parts + 1);
  if (!parts) {
    rc = driver_fail("out of memory");
    goto done;
  }
  size_t at = 0;
  /* (tokens, an Embedding's input, have no gradient: none written) */
  int n_in = m->input_vocab > 0 ? 0 : m->n_inputs;
  for (int k = 0; k < n_in && k < RNNC_MAX_INPUTS; ++k) {
    const rnnc_part_desc *d = &m->inputs[k];
    for (size_t s = 0; s < n; ++s)
      memcpy(parts + at + s * d->size, dx + s * m->input_size + d->offset, d->size * sizeof *dx);
    print_tensor(names[k], parts + at, n * d->size);
    rnnc_tensor_ref *r = &refs[count + k];
    r->name = names[k];
    r->rank = d->rank + 1 <= RNNC_MAX_RANK ? d->rank + 1 : RNNC_MAX_RANK;
    memset(r->shape, 0, sizeof r->shape);
    r->shape[0] = (int)n;
    for (int i = 0; i < d->rank && i + 1 < RNNC_MAX_RANK; ++i)
      r->shape[i + 1] = d->shape[i];
    r->data = parts + at;
    at += n * d->size;
  }
  int wrc = rnnc_safetensors_write(a->out, RNNC_F64, refs, count + n_in, err, sizeof err);
  free(parts);
  if (wrc != 0)
    rc = driver_fail(err);
  else
    printf("wrote %s\n", a->out);
done:
  rnnc_free(p);
  free(xm);
  free(ym);
  rnnc_free(scratch);
  free(grad);
  free(dx);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  return rc;
}

static int cmd_fit(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--weights", a->weights) ||
      !driver_need("--x", driver_have_x(a, 0) ? "" : NULL) ||
      !driver_need("--y", driver_have_y(a, 0) ? "" : NULL) || !driver_need("--out", a->out))
    return 2;
  int have_val = driver_have_x(a, 1);
  if (have_val != driver_have_y(a, 1))
    return driver_fail("validation data needs both --val-x and --val-y");
  rnnc_array x, y, vx, vy;
  memset(&x, 0, sizeof x);
  memset(&y, 0, sizeof y);
  memset(&vx, 0, sizeof vx);
  memset(&vy, 0, sizeof vy);
  /* a process of an MPI run reads its share of the data (driver_shard.c) */
  int grouped = a->group && a->group->size > 1, rank0 = !a->group || a->group->rank == 0;
  driver_shard *shard = NULL;
  rnnc_fit_reader reader = {NULL, NULL};
  size_t n = 0, n_val = 0;
  void *xm = NULL, *ym = NULL, *vxm = NULL, *vym = NULL, *swm = NULL;
  void *p = driver_load_weights(m, a->weights, err);
  if (!p)
    return driver_fail(err);
  if (grouped) {
    shard = driver_shard_open(m, a, &n, &reader, &vxm, &vym, &n_val);
    if (!shard) {
      rnnc_free(p);
      return 1;
    }
  } else {
    if (driver_load_x(m, a, 0, &x, err) != 0) {
      rnnc_free(p);
      return driver_fail(err);
    }
    if (driver_load_y(m, a, 0, x.shape[0], &y, err) != 0) {
      rnnc_free(p);
      rnnc_array_free(&x);
      return driver_fail(err);
    }
    n = x.shape[0];
  }
  int steps = driver_steps_now(m), rc = 0;
  rnnc_optimizer_state state;
  rnnc_history h;
  memset(&state, 0, sizeof state);
  memset(&h, 0, sizeof h);
  if (have_val && !grouped) {
    if (driver_load_x(m, a, 1, &vx, err) != 0 ||
        driver_load_y(m, a, 1, vx.shape[0], &vy, err) != 0) {
      rc = driver_fail(err);
      goto done;
    }
    if (driver_steps_now(m) != steps) {
      snprintf(err, sizeof err,
               "%s: the validation sequences have length %d, the training sequences %d",
               driver_x_name(a, 1), driver_steps_now(m), steps);
      rc = driver_fail(err);
      goto done;
    }
    vxm = driver_x_to_model(m, vx.data, vx.count);
    vym = driver_to_model(m, vy.data, vy.count);
  }
  if (!grouped) {
    xm = driver_x_to_model(m, x.data, x.count);
    ym = driver_to_model(m, y.data, y.count);
    n_val = vx.shape[0];
  }
  if ((!grouped && (!xm || !ym)) || (have_val && !grouped && (!vxm || !vym))) {
    rc = driver_fail("out of memory");
    goto done;
  }
  if (grouped && (a->sample_weight || (a->class_weight && *a->class_weight))) {
    rc = driver_fail("--sample-weight and --class-weight are not supported in a run of several "
                     "processes (MPI) yet: train on one process (--threads for more cores)");
    goto done;
  }
  if (!grouped && driver_sample_weights(m, a, driver_x_name(a, 0), n, &swm, err) != 0) {
    rc = driver_fail(err);
    goto done;
  }
  rnnc_fit_options o = rnnc_fit_defaults();
  o.epochs = a->epochs;
  o.batch_size = a->batch_size;
  o.seed = a->seed;
  o.shuffle = a->shuffle;
  o.verbose = a->verbose;
  o.log_every = a->log_every;
  o.initial_epoch = a->initial_epoch;
  o.steps = steps;
  o.validation_split = grouped ? 0 : a->validation_split; /* a shard has split already */
  if (vxm) { /* --val-x, or the rows --validation-split leaves out of a shard */
    o.val_x = vxm;
    o.val_y = vym;
    o.val_n = n_val;
  }
  o.reader = reader;
  o.optimizer = driver_fit_optimizer(m, a);
  o.metrics = a->metrics;
  o.weighted_metrics = a->weighted_metrics;
  o.early_stopping.enabled = a->early_stopping;
  o.early_stopping.monitor = a->monitor;
  o.early_stopping.min_delta = a->min_delta;
  o.early_stopping.patience = a->patience;
  o.early_stopping.mode = a->mode;
  o.early_stopping.has_baseline = a->has_baseline;
  o.early_stopping.baseline = a->baseline;
  o.early_stopping.restore_best_weights = a->restore_best_weights;
  o.early_stopping.start_from_epoch = a->start_from_epoch;
  o.early_stopping.verbose = a->verbose > 0;
  o.checkpoint.path = a->checkpoint;
  /* ModelCheckpoint: its own monitor and mode, else those of --monitor/--mode */
  o.checkpoint.monitor = a->checkpoint_monitor ? a->checkpoint_monitor : a->monitor;
  o.checkpoint.save_best_only = a->save_best_only;
  o.checkpoint.mode = a->have_checkpoint_mode ? a->checkpoint_mode : a->mode;
  o.csv_path = a->csv;
  o.csv_append = a->csv_append;
  o.plot_path = a->plot;
  o.reduce_lr.enabled = a->reduce_lr;
  o.reduce_lr.monitor = a->reduce_lr_monitor;
  o.reduce_lr.factor = a->reduce_lr_factor;
  o.reduce_lr.patience = a->reduce_lr_patience;
  o.reduce_lr.mode = a->reduce_lr_mode;
  o.reduce_lr.min_delta = a->reduce_lr_min_delta;
  o.reduce_lr.cooldown = a->reduce_lr_cooldown;
  o.reduce_lr.min_lr = a->reduce_lr_min_lr;
  o.reduce_lr.verbose = a->reduce_lr_verbose;
  o.threads = a->threads;
  o.micro_batch = a->micro_batch;
  o.group = a->group;
  o.sample_weight = swm;
  o.class_weight = a->class_weight;
  if (rnnc_optimizer_state_init(&state, m, &o.optimizer) != 0) {
    rc = driver_fail("out of memory");
    goto done;
  }
  if (a->resume) {
    int r = rnnc_checkpoint_load_state(a->weights, m, &state, err, sizeof err);
    if (r < 0) {
      rc = driver_fail(err);
      goto done;
    }
    if (r == 0)
      printf("%s holds no optimizer state: the optimizer starts afresh\n", a->weights);
    else if (state.learning_rate > 0) /* Keras's optimizer.learning_rate, restored */
      printf("resuming from %s: %ld optimizer updates done, learning rate %.9g (set by "
             "ReduceLROnPlateau)\n",
             a->weights, state.iterations, state.learning_rate);
    else
      printf("resuming from %s: %ld optimizer updates done\n", a->weights, state.iterations);
  }
  int fit_rc = rnnc_fit_history(m, p, xm, ym, n, &o, &state, &h, err, sizeof err);
  if (fit_rc != 0 && rank0)
    fprintf(stderr, "error: %s\n", err);
  if (a->early_stopping) {
    const char *mon = a->monitor && *a->monitor ? a->monitor : "val_loss";
    if (h.stopped_epoch)
      printf("early stopping: stopped after epoch %d of %d", h.stopped_epoch, a->epochs);
    else
      printf("early stopping: did not stop (%d epochs run)", h.n_epochs);
    if (h.best_epoch && isfinite(h.best_value))
      printf("; best %s %.6g at epoch %d", mon, h.best_value, h.best_epoch);
    printf("%s\n", h.restored ? "; its weights restored" : "");
  }
  if (a->reduce_lr && state.learning_rate > 0)
    printf("ReduceLROnPlateau: learning rate %.9g at the end\n", state.learning_rate);
  if (a->csv && h.n_epochs)
    printf("wrote %s\n", a->csv);
  if (a->plot && h.n_series)
    printf("wrote %s\n", a->plot);
  /* Trained, or stopped by a loss or gradient that is not finite: the
   * weights in memory are the last good ones, and the optimizer state goes
   * with them so that --resume continues exactly. Any other failure (bad
   * options or data, a callback's file) writes nothing. */
  if (fit_rc != 0 && !h.diverged) {
    rc = 1;
    goto done;
  }
  if (!rank0) /* the same weights as rank 0's: it writes them */
    rc = fit_rc != 0 ? 3 : 0;
  else if (rnnc_checkpoint_save(a->out, m, p, &state, err, sizeof err) != 0)
    rc = driver_fail(err);
  else
    printf("wrote %s\n", a->out);
  if (fit_rc != 0)
    rc = 3;
done:
  driver_shard_close(shard);
  rnnc_optimizer_state_free(&state);
  rnnc_history_free(&h);
  rnnc_free(p);
  free(xm);
  free(ym);
  free(vxm);
  free(vym);
  free(swm);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  rnnc_array_free(&vx);
  rnnc_array_free(&vy);
  return rc;
}

/* Keras's evaluate(): the loss and metrics over the data. */
static int cmd_evaluate(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--weights", a->weights) ||
      !driver_need("--x", driver_have_x(a, 0) ? "" : NULL) ||
      !driver_need("--y", driver_have_y(a, 0) ? "" : NULL))
    return 2;
  rnnc_array x, y;
  void *p = driver_load_weights(m, a->weights, err);
  if (!p)
    return driver_fail(err);
  if (driver_load_x(m, a, 0, &x, err) != 0) {
    rnnc_free(p);
    return driver_fail(err);
  }
  if (driver_load_y(m, a, 0, x.shape[0], &y, err) != 0) {
    rnnc_free(p);
    rnnc_array_free(&x);
    return driver_fail(err);
  }
  void *xm = driver_x_to_model(m, x.data, x.count), *ym = driver_to_model(m, y.data, y.count);
  void *swm = NULL;
  int rc = 0;
  /* Keras's evaluate takes sample_weight, not class_weight (a fit argument,
   * e.g. from the description's fit{class_weight}) */
  args_t only_sw = *a;
  only_sw.class_weight = NULL;
  if (!xm || !ym) {
    rc = driver_fail("out of memory");
  } else if (driver_sample_weights(m, &only_sw, driver_x_name(a, 0), x.shape[0], &swm, err) != 0) {
    rc = driver_fail(err);
  } else {
    rnnc_fit_options o = rnnc_fit_defaults();
    /* Keras's default batch of 32, at most what the unit takes */
    o.batch_size = a->have_batch_size ? a->batch_size : (m->batch < 32 ? m->batch : 32);
    o.verbose = a->verbose;
    o.steps = driver_steps_now(m);
    o.metrics = a->metrics;
    o.weighted_metrics = a->weighted_metrics;
    o.threads = a->threads;
    o.micro_batch = a->micro_batch;
    o.sample_weight = swm;
    rnnc_logs logs;
    if (rnnc_evaluate(m, p, xm, ym, x.shape[0], &o, &logs, err, sizeof err) != 0)
      rc = driver_fail(err);
    else
      for (int i = 0; i < logs.count; ++i)
        printf("%s %.17g\n", logs.names[i], logs.values[i]);
  }
  rnnc_free(p);
  free(xm);
  free(ym);
  free(swm);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  return rc;
}

/* Random inputs (uniform in [-1, 1]) and targets (class labels, or normal
 * values) of the model's shapes: data to diff or gradcheck any model on. */
static int cmd_sample(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--x", a->x))
    return 2;
  size_t n = a->n > 0 ? (size_t)a->n : (size_t)m->batch;
  if (a->steps) {
    if (!m->variable_steps || a->steps < 1 || a->steps > m->max_steps)
      return driver_fail(
          "--steps: the model takes sequences of fixed length, or this length is out of range");
    driver_steps = a->steps;
  }
  rnnc_rng rng;
  rnnc_rng_seed(&rng, a->seed);
  double *x = malloc(n * m->input_size * sizeof *x);
  double *y = malloc(n * m->target_size * sizeof *y);
  int rc = 0;
  if (!x || !y) {
    rc = driver_fail("out of memory");
    goto done;
  }
  for (size_t i = 0; i < n * m->input_size; ++i)
    x[i] = m->input_vocab > 0 ? (double)rnnc_rng_below(&rng, (size_t)m->input_vocab) /* tokens */
                              : 2 * rnnc_rng_uniform(&rng) - 1;
  for (size_t s = 0; s < n; ++s)
    for (int k = 0; k < m->n_outputs; ++k) {
      const rnnc_loss_part *lp = &m->losses[k];
      for (size_t i = 0; i < lp->target_size; ++i)
        y[s * m->target_size + lp->target_offset + i] =
            lp->kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
                ? (double)rnnc_rng_below(&rng, lp->cols)
                : rnnc_rng_normal(&rng);
    }
  for (int k = 0; k < m->n_inputs; ++k) {
    const rnnc_part_desc *d = &m->inputs[k];
    size_t shape[RNNC_MAX_RANK + 1];
    char name[1024];
    size_t len = driver_part_now(m, d);
    double *part = malloc(n * len * sizeof *part + 1);
    if (!part) {
      rc = driver_fail("out of memory");
      goto done;
    }
    for (size_t s = 0; s < n; ++s)
      memcpy(part + s * len, x + s * m->input_size + d->offset, len * sizeof *part);
    shape[0] = n;
    for (int i = 0; i < d->rank; ++i)
      shape[i + 1] = (size_t)d->shape[i];
    if (driver_is_seq(m, d))
      shape[1] = (size_t)driver_steps_now(m);
    numbered_path(name, sizeof name, a->x, k);
    int src = rnnc_npy_save(name, RNNC_F64, d->rank + 1, shape, part, err, sizeof err);
    free(part);
    if (src != 0) {
      rc = driver_fail(err);
      goto done;
    }
    printf("wrote %s\n", name);
  }
  /* the targets of each output with a loss: the first to --y, output k's
   * to <y without .npy>_k.npy (the files --yK reads) */
  for (int k = 0, first = 1; a->y && k < m->n_outputs; ++k) {
    const rnnc_loss_part *lp = &m->losses[k];
    char name[1024];
    if (lp->kind == RNNC_LOSS_NONE)
      continue;
    size_t per = lp->target_size;
    if (driver_is_seq(m, &m->outputs[k]))
      per = lp->target_size / (size_t)m->max_steps * (size_t)driver_steps_now(m);
    double *part = malloc(n * per * sizeof *part + 1);
    if (!part) {
      rc = driver_fail("out of memory");
      goto done;
    }
    for (size_t s = 0; s < n; ++s)
      memcpy(part + s * per, y + s * m->target_size + lp->target_offset, per * sizeof *part);
    size_t yshape[2] = {n, per};
    numbered_path(name, sizeof name, a->y, first ? 0 : k);
    first = 0;
    int src = rnnc_npy_save(name, RNNC_F64, 2, yshape, part, err, sizeof err);
    free(part);
    if (src != 0) {
      rc = driver_fail(err);
      goto done;
    }
    printf("wrote %s\n", name);
  }
done:
  free(x);
  free(y);
  return rc;
}

int rnnc_main(const rnnc_model *m, int argc, char **argv) {
  return rnnc_main_group(m, argc, argv, NULL);
}

int rnnc_main_group(const rnnc_model *m, int argc, char **argv, const rnnc_fit_group *group) {
  args_t a;
  if (argc < 2)
    return driver_usage(m);
  const char *cmd = argv[1];
  /* the description's compile metrics and fit{} defaults */
  int with_defaults = strcmp(cmd, "fit") == 0 || strcmp(cmd, "evaluate") == 0;
  if (driver_parse_args(argc, argv, &a, with_defaults ? m->fit_defaults : NULL) != 0)
    return driver_usage(m);
  a.group = group;
  if (strcmp(cmd, "init") == 0)
    return cmd_init(m, &a);
  if (strcmp(cmd, "summary") == 0) {
    fputs(m->summary, stdout);
    return 0;
  }
  if (strcmp(cmd, "predict") == 0)
    return cmd_predict(m, &a);
  if (strcmp(cmd, "grad") == 0)
    return cmd_grad(m, &a);
  if (strcmp(cmd, "fit") == 0)
    return cmd_fit(m, &a);
  if (strcmp(cmd, "evaluate") == 0)
    return cmd_evaluate(m, &a);
  if (strcmp(cmd, "diff") == 0)
    return driver_cmd_diff(m, &a);
  if (strcmp(cmd, "gradcheck") == 0)
    return driver_cmd_gradcheck(m, &a);
  if (strcmp(cmd, "sample") == 0)
    return cmd_sample(m, &a);
  if (strcmp(cmd, "stream") == 0)
    return cmd_stream(m, &a);
  fprintf(stderr, "error: unknown command '%s'\n", cmd);
  return driver_usage(m);
}
