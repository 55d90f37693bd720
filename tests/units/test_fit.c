/* The training loop (runtime/fit.c) on a generated float64 unit (fit.lua:
 * SimpleRNN + softmax Dense, sparse labels, Adam, accuracy; batch 8) and on a
 * small hand-written descriptor for the metrics the unit does not compile:
 * batches and the epoch loss, shuffling, validation data, EarlyStopping,
 * ModelCheckpoint (atomic, with the optimizer state, resumable bitwise),
 * divergence, CSVLogger, the SVG plot, evaluate and ReduceLROnPlateau (its
 * learning-rate trace against Keras 3's rules, hand-derived from
 * keras/src/callbacks/reduce_lr_on_plateau.py, and a resume that continues
 * with the reduced rate). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fit.h"
#include "fit_internal.h"
#include "rnnc_ref.h"

enum { N = 21, BS = 8, P = FIT_N_PARAMS, IN = FIT_INPUT_SIZE };

static double X[N * IN], Y[N];
static char dir[256];

static double next(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Inputs in [-1, 1]; the label is the timestep whose features sum highest. */
static void make_data(void) {
  uint64_t s = 99;
  for (int i = 0; i < N; ++i) {
    int best = 0;
    double top = -1e9;
    for (int t = 0; t < 3; ++t) {
      double sum = 0;
      for (int f = 0; f < 2; ++f) {
        X[i * IN + t * 2 + f] = next(&s);
        sum += X[i * IN + t * 2 + f];
      }
      if (sum > top) {
        top = sum;
        best = t;
      }
    }
    Y[i] = best;
  }
}

static void init_params(fit_params *p) {
  fit_model.init(p, 5);
}

static const char *path_of(const char *name) {
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, f);
  fclose(f);
  b[got] = '\0';
  if (len)
    *len = got;
  return b;
}

static int count_of(const char *hay, const char *needle) {
  int c = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    ++c;
  return c;
}

static rnnc_fit_options quiet(int epochs) {
  rnnc_fit_options o = rnnc_fit_defaults();
  o.epochs = epochs;
  o.batch_size = BS;
  o.verbose = 0;
  o.seed = 3;
  return o;
}

/* ---------------------------------------------------------------- batches */

/* n = 21 in batches of 8: 8, 8, 5. The epoch loss is the size-weighted mean
 * of the batch losses; the updates are loss_grad + rnnc_optimizer_apply with
 * fit's own state (Adam from zero, step counting from 1). */
static void test_partial_batch_weighted_loss(void **state) {
  (void)state;
  static fit_params p, q, g;
  static fit_scratch s;
  double ypred[BS * 3];
  init_params(&p);
  q = p;
  rnnc_fit_options o = quiet(1);
  o.shuffle = 0;
  rnnc_history h = {0};
  char err[512];
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
  assert_int_equal(h.n_epochs, 1);
  assert_int_equal(h.iterations, 3);
  /* by hand */
  double slots[2 * P] = {0}, loss_sum = 0, acc_sum = 0;
  int sizes[3] = {8, 8, 5};
  size_t first = 0;
  assert_int_equal(fit_model.set_steps(&s, 3), 0);
  for (int b = 0; b < 3; ++b) {
    double l = fit_model.loss_grad(&q, &s, X + first * IN, Y + first, &g, NULL, ypred, sizes[b]);
    loss_sum += l * sizes[b];
    for (int i = 0; i < sizes[b]; ++i)
      acc_sum += rnnc_sparse_accuracy_f64(ypred + i * 3, Y + first + i, 1, 3);
    rnnc_optimizer_apply_f64(&fit_model.optimizer, q.flat, g.flat, slots, P, b + 1,
                             fit_model.tensors, fit_model.n_tensors);
    first += (size_t)sizes[b];
  }
  assert_true(rnnc_history_value(&h, "loss", 0) == loss_sum / N);
  assert_true(rnnc_history_value(&h, "accuracy", 0) == acc_sum / N);
  assert_memory_equal(&p, &q, sizeof p);
  /* the old entry point gives the same */
  init_params(&q);
  double final_loss = 0, final_acc = 0;
  assert_int_equal(rnnc_fit(&fit_model, &q, X, Y, N, &o, &final_loss, &final_acc, err, sizeof err),
                   0);
  assert_memory_equal(&p, &q, sizeof p);
  assert_true(final_loss == loss_sum / N && final_acc == acc_sum / N);
  rnnc_history_free(&h);
}

/* ---------------------------------------------------------------- shuffle */

static void test_shuffle_reproducible(void **state) {
  (void)state;
  static fit_params a, b, c, d;
  char err[512];
  rnnc_history ha = {0}, hb = {0};
  init_params(&a);
  b = c = d = a;
  rnnc_fit_options o = quiet(4);
  o.seed = 11;
  assert_int_equal(rnnc_fit_history(&fit_model, &a, X, Y, N, &o, NULL, &ha, err, sizeof err), 0);
  assert_int_equal(rnnc_fit_history(&fit_model, &b, X, Y, N, &o, NULL, &hb, err, sizeof err), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_memory_equal(ha.values, hb.values, sizeof(double) * 4 * (size_t)ha.n_series);
  o.seed = 12;
  assert_int_equal(rnnc_fit_history(&fit_model, &c, X, Y, N, &o, NULL, &hb, err, sizeof err), 0);
  assert_true(memcmp(&a, &c, sizeof a) != 0);
  assert_true(rnnc_history_value(&ha, "loss", 3) != rnnc_history_value(&hb, "loss", 3));
  o.shuffle = 0;
  assert_int_equal(rnnc_fit_history(&fit_model, &d, X, Y, N, &o, NULL, &hb, err, sizeof err), 0);
  assert_true(memcmp(&a, &d, sizeof a) != 0);
  rnnc_history_free(&ha);
  rnnc_history_free(&hb);
}

/* ---------------------------------------------------------------- validation */

/* validation_split 0.25 of 21: Keras trains on the first floor(21 * 0.75) = 15
 * samples and validates on the last 6 (not int(21 * 0.25) = 5). */
static void test_validation_split_boundaries(void **state) {
  (void)state;
  static fit_params a, b, w0;
  static double x[N * IN];
  char err[512];
  rnnc_history h = {0}, h2 = {0};
  init_params(&w0);
  a = b = w0;
  rnnc_fit_options o = quiet(2);
  o.validation_split = 0.25;
  assert_int_equal(rnnc_fit_history(&fit_model, &a, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
  assert_int_equal(h.n_series, 4);
  assert_string_equal(h.names[2], "val_loss");
  assert_string_equal(h.names[3], "val_accuracy");
  assert_int_equal(h.iterations, 2 * 2); /* 15 samples: batches of 8 and 7 */
  /* the same as training on the first 15 alone (same shuffles of 15) */
  rnnc_fit_options o15 = quiet(2);
  assert_int_equal(rnnc_fit_history(&fit_model, &b, X, Y, 15, &o15, NULL, &h2, err, sizeof err), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_true(rnnc_history_value(&h, "loss", 1) == rnnc_history_value(&h2, "loss", 1));
  /* val_* are evaluate() on the last 6 with the epoch's final weights */
  rnnc_logs logs;
  assert_int_equal(
      rnnc_evaluate(&fit_model, &a, X + 15 * IN, Y + 15, 6, &o, &logs, err, sizeof err), 0);
  assert_true(rnnc_history_value(&h, "val_loss", 1) == logs.values[0]);
  assert_true(rnnc_history_value(&h, "val_accuracy", 1) == logs.values[1]);
  /* NaN in the validation samples, or in a training sample, is refused
   * before any step (no NaN val_loss, no divergence): the weights stay */
  memcpy(x, X, sizeof x);
  for (int i = 15; i < N; ++i)
    x[i * IN + 3] = NAN;
  b = w0;
  assert_int_equal(rnnc_fit_history(&fit_model, &b, x, Y, N, &o, NULL, &h2, err, sizeof err), -1);
  assert_string_equal(err, "x: sample 15, position (1, 1): nan is not finite");
  assert_memory_equal(&b, &w0, sizeof b);
  assert_int_equal(h2.n_epochs, 0);
  assert_false(h2.diverged);
  /* explicit validation data wins over the split */
  b = w0;
  rnnc_fit_options ov = quiet(2);
  ov.validation_split = 0.5;
  ov.val_x = X + 15 * IN;
  ov.val_y = Y + 15;
  ov.val_n = 6;
  assert_int_equal(rnnc_fit_history(&fit_model, &b, X, Y, 15, &ov, NULL, &h2, err, sizeof err), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_true(rnnc_history_value(&h2, "val_loss", 1) == rnnc_history_value(&h, "val_loss", 1));
  /* too few samples for the split */
  o.validation_split = 0.99;
  assert_int_equal(rnnc_fit_history(&fit_model, &b, X, Y, N, &o, NULL, &h2, err, sizeof err), -1);
  assert_non_null(strstr(err, "not enough to split"));
  rnnc_history_free(&h);
  rnnc_history_free(&h2);
}

/* ---------------------------------------------------------------- early stopping */

/* Replaces the monitored value by a scripted sequence; keeps each epoch's weights. */
typedef struct {
  const char *name;
  const double *values;
  int count;
  fit_params snap[16];
  int calls;
  /* for the divergence test: poisons the data at the end of an epoch */
  double *poison;
  int poison_epoch;
} script_t;

static int scripted(void *user, int epoch, rnnc_logs *logs, const void *params) {
  script_t *s = user;
  if (s->name) {
    int i = rnnc_logs_find(logs, s->name);
    assert_true(i >= 0);
    if (epoch < s->count)
      logs->values[i] = s->values[epoch];
  }
  if (epoch < 16)
    memcpy(&s->snap[epoch], params, sizeof(fit_params));
  if (s->poison && epoch == s->poison_epoch)
    *s->poison = NAN;
  s->calls++;
  return 0;
}

/* Runs a scripted early stopping; returns the history's stopped epoch. */
static int run_script(const char *monitor, const double *values, int count, double min_delta,
                      int patience, rnnc_monitor_mode mode, int has_baseline, double baseline,
                      int *epochs_run) {
  static fit_params p;
  static script_t s;
  char err[512];
  rnnc_history h = {0};
  memset(&s, 0, sizeof s);
  s.name = monitor;
  s.values = values;
  s.count = count;
  init_params(&p);
  rnnc_fit_options o = quiet(count);
  o.on_epoch_end = scripted;
  o.hook_user = &s;
  o.early_stopping.enabled = 1;
  o.early_stopping.monitor = monitor;
  o.early_stopping.min_delta = min_delta;
  o.early_stopping.patience = patience;
  o.early_stopping.mode = mode;
  o.early_stopping.has_baseline = has_baseline;
  o.early_stopping.baseline = baseline;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
  int stopped = h.stopped_epoch;
  *epochs_run = h.n_epochs;
  assert_int_equal(s.calls, h.n_epochs);
  rnnc_history_free(&h);
  return stopped;
}

static void test_early_stopping_rules(void **state) {
  (void)state;
  int run;
  /* improvement = better than the best by more than min_delta */
  const double a[] = {5, 4, 4.5, 3.9, 4, 4, 4, 4, 4, 4};
  assert_int_equal(run_script("loss", a, 10, 0.05, 2, RNNC_MODE_AUTO, 0, 0, &run), 6);
  assert_int_equal(run, 6);
  const double b[] = {5, 4, 4.5, 3.96, 4, 4, 4, 4, 4, 4}; /* 3.96 is not 0.05 better than 4 */
  assert_int_equal(run_script("loss", b, 10, 0.05, 2, RNNC_MODE_AUTO, 0, 0, &run), 4);
  /* a negative min_delta counts by its absolute value */
  assert_int_equal(run_script("loss", b, 10, -0.05, 2, RNNC_MODE_AUTO, 0, 0, &run), 4);
  /* patience 0: stops at the first epoch without improvement, never after the first */
  const double c[] = {5, 6, 7, 8};
  assert_int_equal(run_script("loss", c, 4, 0, 0, RNNC_MODE_AUTO, 0, 0, &run), 2);
  /* never stops while improving */
  const double d[] = {5, 4, 3, 2, 1};
  assert_int_equal(run_script("loss", d, 5, 0, 0, RNNC_MODE_AUTO, 0, 0, &run), 0);
  assert_int_equal(run, 5);
  /* baseline: improvements that do not beat it do not reset wait */
  const double e[] = {5, 4, 4.5, 4.4, 4.3, 4.2};
  assert_int_equal(run_script("loss", e, 6, 0, 2, RNNC_MODE_AUTO, 1, 3.0, &run), 3);
  assert_int_equal(run_script("loss", e, 6, 0, 2, RNNC_MODE_AUTO, 1, 10.0, &run), 4);
  assert_int_equal(run_script("loss", e, 6, 0, 2, RNNC_MODE_AUTO, 0, 0, &run), 4);
  /* mode: auto maximises a name with "acc" in it */
  const double f[] = {0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7};
  assert_int_equal(run_script("accuracy", f, 8, 0, 2, RNNC_MODE_AUTO, 0, 0, &run), 5);
  assert_int_equal(run_script("accuracy", f, 8, 0, 2, RNNC_MODE_MAX, 0, 0, &run), 5);
  assert_int_equal(run_script("accuracy", f, 8, 0, 2, RNNC_MODE_MIN, 0, 0, &run), 3);
  assert_int_equal(run_script("loss", f, 8, 0, 2, RNNC_MODE_MAX, 0, 0, &run), 5);
  /* NaN is never an improvement */
  const double g[] = {1, NAN, NAN, NAN};
  assert_int_equal(run_script("loss", g, 4, 0, 1, RNNC_MODE_AUTO, 0, 0, &run), 2);
}

/* A learning rate of 0 keeps the loss and accuracy constant: training stops
 * after patience + 1 epochs, whichever way the monitor is read. */
static void test_early_stopping_constant_loss(void **state) {
  (void)state;
  static fit_params p, p0;
  char err[512];
  rnnc_history h = {0};
  init_params(&p0);
  const char *monitors[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
  for (int k = 0; k < 4; ++k)
    for (int patience = 0; patience <= 3; ++patience) {
      p = p0;
      rnnc_fit_options o = quiet(20);
      o.optimizer = rnnc_optimizer_default(RNNC_OPT_SGD);
      o.optimizer.learning_rate = 0;
      o.shuffle = 0; /* a reshuffled epoch sums its batch losses in another order */
      o.validation_split = 0.2;
      o.early_stopping.enabled = 1;
      o.early_stopping.monitor = monitors[k];
      o.early_stopping.patience = patience;
      assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
      int expect = patience + 1 < 2 ? 2 : patience + 1; /* never stops after epoch 1 */
      assert_int_equal(h.n_epochs, expect);
      assert_int_equal(h.stopped_epoch, expect);
      assert_int_equal(h.best_epoch, 1);
      assert_memory_equal(&p, &p0, sizeof p);
    }
  /* the default monitor is val_loss: without validation data that is an error */
  rnnc_fit_options o = quiet(3);
  o.early_stopping.enabled = 1;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), -1);
  assert_non_null(strstr(err, "'val_loss', which is not available"));
  rnnc_history_free(&h);
}

static void test_restore_best_weights(void **state) {
  (void)state;
  static fit_params p;
  static script_t s;
  char err[512];
  rnnc_history h = {0};
  const double v[] = {3, 2, 1, 1.5, 1.6, 1.7, 1.8, 1.9};
  for (int restore = 0; restore <= 1; ++restore) {
    memset(&s, 0, sizeof s);
    s.name = "loss";
    s.values = v;
    s.count = 8;
    init_params(&p);
    rnnc_fit_options o = quiet(8);
    o.on_epoch_end = scripted;
    o.hook_user = &s;
    o.early_stopping.enabled = 1;
    o.early_stopping.monitor = "loss";
    o.early_stopping.patience = 3;
    o.early_stopping.restore_best_weights = restore;
    assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
    assert_int_equal(h.stopped_epoch, 6);
    assert_int_equal(h.best_epoch, 3);
    assert_true(h.best_value == 1);
    assert_int_equal(h.restored, restore);
    assert_memory_equal(&p, restore ? &s.snap[2] : &s.snap[5], sizeof p);
    assert_true(memcmp(&s.snap[2], &s.snap[5], sizeof p) != 0);
  }
  /* Keras 3 restores at the end of training even when it did not stop early */
  memset(&s, 0, sizeof s);
  s.name = "loss";
  s.values = v;
  s.count = 4;
  init_params(&p);
  rnnc_fit_options o = quiet(4);
  o.on_epoch_end = scripted;
  o.hook_user = &s;
  o.early_stopping.enabled = 1;
  o.early_stopping.monitor = "loss";
  o.early_stopping.patience = 10;
  o.early_stopping.restore_best_weights = 1;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
  assert_int_equal(h.stopped_epoch, 0);
  assert_memory_equal(&p, &s.snap[2], sizeof p);
  rnnc_history_free(&h);
}

/* ---------------------------------------------------------------- checkpoints */

static void test_checkpoint_atomic(void **state) {
  (void)state;
  static fit_params p, q;
  char err[512];
  const char *ck = path_of("ck.safetensors");
  init_params(&p);
  rnnc_fit_options o = quiet(2);
  o.checkpoint.path = ck;
  rnnc_optimizer_state st = {0};
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, &st, NULL, err, sizeof err), 0);
  assert_int_equal(st.iterations, 6);
  /* the file holds the last epoch's weights and the optimizer state; plain
   * weight loading ignores the extra tensors */
  assert_int_equal(rnnc_weights_load(ck, &fit_model, &q, err, sizeof err), 0);
  assert_memory_equal(&p, &q, sizeof p);
  rnnc_optimizer_state st2 = {0};
  assert_int_equal(rnnc_optimizer_state_init(&st2, &fit_model, &fit_model.optimizer), 0);
  assert_int_equal(rnnc_checkpoint_load_state(ck, &fit_model, &st2, err, sizeof err), 1);
  assert_int_equal(st2.iterations, 6);
  assert_memory_equal(st.slots, st2.slots, st.n_slots * sizeof(double));
  size_t len_before;
  char *before = slurp(ck, &len_before);
  /* a write that cannot complete (its temporary file cannot be created: a
   * directory is in the way) fails the fit and leaves the file as it was */
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", ck, (long)getpid());
  assert_int_equal(mkdir(tmp, 0700), 0);
  rnnc_fit_options o2 = quiet(2);
  o2.checkpoint.path = ck;
  assert_int_equal(rnnc_fit_history(&fit_model, &q, X, Y, N, &o2, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "ModelCheckpoint, epoch 1"));
  size_t len_after;
  char *after = slurp(ck, &len_after);
  assert_int_equal(len_before, len_after);
  assert_memory_equal(before, after, len_before);
  assert_int_equal(rmdir(tmp), 0);
  /* a crash mid-write leaves a truncated temporary file, never a truncated checkpoint */
  FILE *f = fopen(tmp, "wb");
  fwrite(before, 1, len_before / 2, f);
  fclose(f);
  assert_int_equal(rnnc_weights_load(ck, &fit_model, &q, err, sizeof err), 0);
  assert_memory_equal(&p, &q, sizeof p);
  remove(tmp);
  /* a file without optimizer state */
  assert_int_equal(rnnc_weights_save(path_of("plain.safetensors"), &fit_model, &p, err, sizeof err),
                   0);
  assert_int_equal(
      rnnc_checkpoint_load_state(path_of("plain.safetensors"), &fit_model, &st2, err, sizeof err),
      0);
  /* state of another optimizer: refused */
  rnnc_optimizer sgd = rnnc_optimizer_default(RNNC_OPT_SGD);
  sgd.momentum = 0.9;
  rnnc_optimizer_state st3 = {0};
  assert_int_equal(rnnc_optimizer_state_init(&st3, &fit_model, &sgd), 0);
  assert_int_equal(rnnc_checkpoint_load_state(ck, &fit_model, &st3, err, sizeof err), -1);
  free(before);
  free(after);
  rnnc_optimizer_state_free(&st);
  rnnc_optimizer_state_free(&st2);
  rnnc_optimizer_state_free(&st3);
}

static void test_checkpoint_best_only_and_names(void **state) {
  (void)state;
  static fit_params p, q;
  static script_t s;
  char err[512];
  const double v[] = {3, 2, 2.5, 2.2, 2.1};
  memset(&s, 0, sizeof s);
  s.name = "val_loss";
  s.values = v;
  s.count = 5;
  init_params(&p);
  rnnc_fit_options o = quiet(5);
  o.validation_split = 0.2;
  o.on_epoch_end = scripted;
  o.hook_user = &s;
  o.checkpoint.path = path_of("best.safetensors");
  o.checkpoint.save_best_only = 1;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(rnnc_weights_load(path_of("best.safetensors"), &fit_model, &q, err, sizeof err),
                   0);
  assert_memory_equal(&q, &s.snap[1], sizeof q);
  /* mode max keeps the highest */
  o.checkpoint.mode = RNNC_MODE_MAX;
  memset(&s, 0, sizeof s);
  s.name = "val_loss";
  s.values = v;
  s.count = 5;
  init_params(&p);
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(rnnc_weights_load(path_of("best.safetensors"), &fit_model, &q, err, sizeof err),
                   0);
  assert_memory_equal(&q, &s.snap[0], sizeof q);
  /* names from the epoch and the logs */
  rnnc_fit_options o2 = quiet(2);
  o2.checkpoint.path = path_of("w{epoch:02d}-{loss:.2f}.safetensors");
  rnnc_history h = {0};
  init_params(&p);
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o2, NULL, &h, err, sizeof err), 0);
  char name[64];
  snprintf(name, sizeof name, "w02-%.2f.safetensors", rnnc_history_value(&h, "loss", 1));
  assert_int_equal(rnnc_weights_load(path_of(name), &fit_model, &q, err, sizeof err), 0);
  assert_memory_equal(&p, &q, sizeof p);
  snprintf(name, sizeof name, "w01-%.2f.safetensors", rnnc_history_value(&h, "loss", 0));
  assert_int_equal(rnnc_weights_load(path_of(name), &fit_model, &q, err, sizeof err), 0);
  rnnc_history_free(&h);
}

/* 3 epochs, a checkpoint, 3 more from it: bitwise the 6 epochs in one go. */
static void test_resume_bitwise(void **state) {
  (void)state;
  static fit_params whole, part, loaded;
  char err[512];
  rnnc_history hw = {0}, h1 = {0}, h2 = {0};
  init_params(&whole);
  part = whole;
  rnnc_fit_options o = quiet(6);
  o.seed = 21;
  o.validation_split = 0.2;
  assert_int_equal(rnnc_fit_history(&fit_model, &whole, X, Y, N, &o, NULL, &hw, err, sizeof err),
                   0);
  o.epochs = 3;
  o.checkpoint.path = path_of("resume.safetensors");
  assert_int_equal(rnnc_fit_history(&fit_model, &part, X, Y, N, &o, NULL, &h1, err, sizeof err), 0);
  /* a fresh process: weights and optimizer state from the file */
  rnnc_optimizer_state st = {0};
  assert_int_equal(
      rnnc_weights_load(path_of("resume.safetensors"), &fit_model, &loaded, err, sizeof err), 0);
  assert_int_equal(rnnc_optimizer_state_init(&st, &fit_model, &fit_model.optimizer), 0);
  assert_int_equal(
      rnnc_checkpoint_load_state(path_of("resume.safetensors"), &fit_model, &st, err, sizeof err),
      1);
  o.checkpoint.path = NULL;
  o.epochs = 6;
  o.initial_epoch = 3;
  assert_int_equal(rnnc_fit_history(&fit_model, &loaded, X, Y, N, &o, &st, &h2, err, sizeof err),
                   0);
  assert_memory_equal(&whole, &loaded, sizeof whole);
  assert_int_equal(h2.n_epochs, 3);
  assert_int_equal(h2.epoch[0], 3);
  for (int r = 0; r < 3; ++r) {
    assert_memory_equal(&hw.values[(size_t)r * 4], &h1.values[(size_t)r * 4], 4 * sizeof(double));
    assert_memory_equal(&hw.values[(size_t)(r + 3) * 4], &h2.values[(size_t)r * 4],
                        4 * sizeof(double));
  }
  assert_int_equal(st.iterations, hw.iterations);
  /* without the optimizer state the trajectory differs (Adam restarts) */
  rnnc_weights_load(path_of("resume.safetensors"), &fit_model, &loaded, err, sizeof err);
  assert_int_equal(rnnc_fit_history(&fit_model, &loaded, X, Y, N, &o, NULL, &h2, err, sizeof err),
                   0);
  assert_true(memcmp(&whole, &loaded, sizeof whole) != 0);
  rnnc_optimizer_state_free(&st);
  rnnc_history_free(&hw);
  rnnc_history_free(&h1);
  rnnc_history_free(&h2);
}

/* ---------------------------------------------------------------- divergence */

static void test_nan_stops_training(void **state) {
  (void)state;
  static fit_params p, w0;
  static double x[N * IN];
  char err[512];
  rnnc_history h = {0};
  rnnc_fit_options o = quiet(1);
  o.shuffle = 0;
  /* sample 17 (batch 3 of epoch 1) holds a NaN: refused as data before any
   * step, the weights untouched */
  memcpy(x, X, sizeof x);
  x[17 * IN + 3] = NAN;
  init_params(&p);
  o.epochs = 3;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, x, Y, N, &o, NULL, &h, err, sizeof err), -1);
  assert_string_equal(err, "x: sample 17, position (1, 1): nan is not finite");
  assert_false(h.diverged);
  assert_int_equal(h.iterations, 0);
  init_params(&w0);
  assert_memory_equal(&p, &w0, sizeof p);
  /* a huge input that overflows: with kernel weights 2 and -2 on its two
   * features, 2 * 1e308 + -2 * 1e308 is inf - inf */
  static fit_params w16b;
  init_params(&w16b);
  w16b.w.simple_rnn_kernel[0][0] = 2;
  w16b.w.simple_rnn_kernel[1][0] = -2;
  p = w16b;
  o.epochs = 1;
  assert_int_equal(rnnc_fit_history(&fit_model, &w16b, X, Y, 16, &o, NULL, NULL, err, sizeof err),
                   0);
  memcpy(x, X, sizeof x);
  x[17 * IN + 2] = 1e308;
  x[17 * IN + 3] = 1e308;
  o.epochs = 3;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, x, Y, N, &o, NULL, &h, err, sizeof err), -1);
  assert_non_null(strstr(err, "epoch 1/3, batch 3/3: the loss or a gradient is not finite (nan)"));
  assert_memory_equal(&p, &w16b, sizeof p);
  /* a poisoned weight: nothing moves */
  static fit_params bad, keep;
  init_params(&bad);
  bad.flat[7] = NAN;
  keep = bad;
  assert_int_equal(rnnc_fit_history(&fit_model, &bad, X, Y, N, &o, NULL, &h, err, sizeof err), -1);
  assert_non_null(strstr(err, "epoch 1/3, batch 1/3"));
  assert_memory_equal(&bad, &keep, sizeof bad);
  rnnc_history_free(&h);
}

/* Divergence in epoch 2: the checkpoint keeps epoch 1's weights. */
static void test_divergence_keeps_checkpoint(void **state) {
  (void)state;
  static fit_params p, q;
  static script_t s;
  static double x[N * IN];
  char err[512];
  rnnc_history h = {0};
  memcpy(x, X, sizeof x);
  memset(&s, 0, sizeof s);
  s.poison = &x[3 * IN];
  s.poison_epoch = 0;
  init_params(&p);
  rnnc_fit_options o = quiet(4);
  o.shuffle = 0;
  o.on_epoch_end = scripted;
  o.hook_user = &s;
  o.checkpoint.path = path_of("div.safetensors");
  o.csv_path = path_of("div.csv");
  o.plot_path = path_of("div.svg");
  assert_int_equal(rnnc_fit_history(&fit_model, &p, x, Y, N, &o, NULL, &h, err, sizeof err), -1);
  assert_non_null(strstr(err, "epoch 2/4, batch 1/3: the loss or a gradient is not finite"));
  assert_int_equal(h.n_epochs, 1);
  assert_memory_equal(&p, &s.snap[0], sizeof p);
  assert_int_equal(rnnc_weights_load(path_of("div.safetensors"), &fit_model, &q, err, sizeof err),
                   0);
  assert_memory_equal(&q, &s.snap[0], sizeof q);
  char *csv = slurp(path_of("div.csv"), NULL);
  assert_non_null(csv);
  assert_int_equal(count_of(csv, "\r\n"), 2);
  char *svg = slurp(path_of("div.svg"), NULL);
  assert_non_null(svg);
  assert_non_null(strstr(svg, "</svg>"));
  free(csv);
  free(svg);
  rnnc_history_free(&h);
}

/* ---------------------------------------------------------------- CSV and plot */

static void test_csv_logger(void **state) {
  (void)state;
  static fit_params p;
  char err[512];
  rnnc_history h = {0};
  init_params(&p);
  rnnc_fit_options o = quiet(3);
  o.validation_split = 0.2;
  o.csv_path = path_of("log.csv");
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
  char *csv = slurp(o.csv_path, NULL);
  assert_non_null(csv);
  /* Keras's CSVLogger: epoch, then the keys sorted; Python's csv line ends */
  assert_memory_equal(csv, "epoch,accuracy,loss,val_accuracy,val_loss\r\n", 43);
  assert_int_equal(count_of(csv, "\r\n"), 4);
  /* each row: the 0-based epoch and values that read back exactly */
  const char *line = strstr(csv, "\r\n") + 2;
  for (int r = 0; r < 3; ++r) {
    char *end;
    assert_int_equal(strtol(line, &end, 10), r);
    const char *keys[] = {"accuracy", "loss", "val_accuracy", "val_loss"};
    for (int k = 0; k < 4; ++k) {
      assert_int_equal(*end, ',');
      double v = strtod(end + 1, &end);
      assert_true(v == rnnc_history_value(&h, keys[k], r));
    }
    assert_memory_equal(end, "\r\n", 2);
    line = end + 2;
  }
  free(csv);
  /* append: no second header */
  o.csv_append = 1;
  o.epochs = 5;
  o.initial_epoch = 3;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
  csv = slurp(o.csv_path, NULL);
  assert_int_equal(count_of(csv, "epoch,"), 1);
  assert_int_equal(count_of(csv, "\r\n"), 6);
  assert_non_null(strstr(csv, "\r\n4,"));
  free(csv);
  rnnc_history_free(&h);
}

static void test_svg_plot(void **state) {
  (void)state;
  static fit_params p;
  char err[512];
  init_params(&p);
  rnnc_fit_options o = quiet(12);
  o.validation_split = 0.2;
  o.plot_path = path_of("curves.svg");
  rnnc_history h = {0};
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err), 0);
  char *svg = slurp(o.plot_path, NULL);
  assert_non_null(svg);
  assert_memory_equal(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39);
  assert_non_null(strstr(svg, "</svg>\n"));
  assert_int_equal(count_of(svg, "<polyline"), 4); /* loss, accuracy, val_loss, val_accuracy */
  assert_int_equal(count_of(svg, "<g "), count_of(svg, "</g>"));
  assert_int_equal(count_of(svg, "<text"), count_of(svg, "</text>"));
  assert_int_equal(count_of(svg, "<"), count_of(svg, ">"));
  assert_non_null(strstr(svg, ">val_loss</text>"));
  assert_non_null(strstr(svg, ">epoch</text>"));
  /* 12 points per series */
  const char *pl = strstr(svg, "points=\"");
  const char *end = strchr(pl + 8, '"');
  int points = 0;
  for (const char *c = pl; c < end; ++c)
    points += *c == ',';
  assert_int_equal(points, 12);
  free(svg);
  /* a history by hand: log scale, names to escape, a NaN point left out */
  rnnc_history m = {0};
  m.n_series = 2;
  snprintf(m.names[0], RNNC_SERIES_NAME, "loss");
  snprintf(m.names[1], RNNC_SERIES_NAME, "val_loss");
  int ep[3] = {0, 1, 2};
  double vals[6] = {1000, 900, 10, NAN, 0.5, 0.4};
  m.n_epochs = 3;
  m.epoch = ep;
  m.values = vals;
  assert_int_equal(rnnc_history_plot_svg(&m, path_of("log.svg"), "a <b> & c", err, sizeof err), 0);
  svg = slurp(path_of("log.svg"), NULL);
  assert_non_null(strstr(svg, "a &lt;b&gt; &amp; c"));
  assert_non_null(strstr(svg, "(log scale)"));
  assert_int_equal(count_of(svg, "<polyline"), 2);
  free(svg);
  rnnc_history_free(&h);
}

/* ---------------------------------------------------------------- evaluate and metrics */

static void test_evaluate(void **state) {
  (void)state;
  static fit_params p, g;
  static fit_scratch s;
  double ypred[BS * 3];
  char err[512];
  init_params(&p);
  rnnc_fit_options o = quiet(1);
  o.batch_size = 5;
  rnnc_logs logs;
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), 0);
  assert_int_equal(logs.count, 2);
  assert_string_equal(logs.names[0], "loss");
  assert_string_equal(logs.names[1], "accuracy");
  double sum = 0, acc = 0;
  fit_model.set_steps(&s, 3);
  for (int first = 0; first < N; first += 5) {
    int count = N - first < 5 ? N - first : 5;
    sum += fit_model.loss_grad(&p, &s, X + first * IN, Y + first, &g, NULL, ypred, count) * count;
    for (int i = 0; i < count; ++i)
      acc += rnnc_sparse_accuracy_f64(ypred + i * 3, Y + first + i, 1, 3);
  }
  assert_true(logs.values[0] == sum / N);
  assert_true(logs.values[1] == acc / N);
  /* metrics the loss cannot have, unknown ones */
  o.metrics = "mae";
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), -1);
  assert_non_null(strstr(err, "dense"));
  o.metrics = "f1";
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown metric 'f1'"));
  o.metrics = "acc,sparse_categorical_accuracy";
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), 0);
  assert_string_equal(logs.names[1], "acc");
  assert_true(logs.values[1] == logs.values[2]);
  o.metrics = "";
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), 0);
  assert_int_equal(logs.count, 1);
  /* a batch over the unit's 8 is evaluated in chunks: the same loss */
  double loss8 = logs.values[0];
  o.batch_size = 21;
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), 0);
  assert_true(fabs(logs.values[0] - loss8) <= 1e-12 * loss8);
  o.batch_size = 0;
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), -1);
  assert_non_null(strstr(err, "batch size 0 is not positive"));
}

/* A hand-written descriptor: y = x + w over 2 rows x `cols` columns, mse;
 * the metrics of dense targets. */
enum { ROWS = 2, MAXC = 2 };
static int cols_now = 2;
static double toy_loss_grad(const void *params, void *scratch, const void *x, const void *target,
                            void *grad, void *dx, void *y_pred, int n) {
  (void)scratch;
  (void)dx;
  double w = *(const double *)params, y[8 * ROWS * MAXC] = {0}, gy[8 * ROWS * MAXC];
  size_t count = (size_t)n * ROWS * (size_t)cols_now;
  for (size_t i = 0; i < count; ++i)
    y[i] = ((const double *)x)[i] + w;
  double loss = rnnc_loss_mse_f64(y, target, (size_t)n * ROWS, (size_t)cols_now, gy);
  double g = 0;
  for (size_t i = 0; i < count; ++i)
    g += gy[i];
  *(double *)grad = g;
  if (y_pred)
    memcpy(y_pred, y, count * sizeof *y);
  return loss;
}
static int toy_set_steps(void *scratch, int steps) {
  (void)scratch;
  return steps == 1 ? 0 : -1;
}
static const rnnc_tensor_desc toy_tensors[] = {
    {"w", 1, {1, 0, 0, 0}, 0, 1, RNNC_INIT_ZEROS, 0, {0, 0, 0, 0, 0, 0, 0}}};

static rnnc_loss_part toy_losses[1];

static rnnc_model toy(int cols) {
  rnnc_model m;
  memset(&m, 0, sizeof m);
  cols_now = cols;
  m.name = "toy";
  m.dtype = RNNC_F64;
  m.batch = 8;
  m.input_rank = 2;
  m.input_shape[0] = ROWS;
  m.input_shape[1] = cols;
  m.output_rank = 2;
  m.output_shape[0] = ROWS;
  m.output_shape[1] = cols;
  m.input_size = m.output_size = m.target_size = (size_t)(ROWS * cols);
  m.output_rows = ROWS;
  m.output_cols = (size_t)cols;
  m.n_outputs = m.n_inputs = 1;
  m.outputs[0].rank = m.inputs[0].rank = 2;
  m.outputs[0].shape[0] = m.inputs[0].shape[0] = ROWS;
  m.outputs[0].shape[1] = m.inputs[0].shape[1] = cols;
  m.outputs[0].size = m.inputs[0].size = (size_t)(ROWS * cols);
  m.max_steps = 1;
  m.n_params = 1;
  m.n_tensors = 1;
  m.tensors = toy_tensors;
  m.loss = RNNC_LOSS_MSE;
  memset(toy_losses, 0, sizeof toy_losses);
  toy_losses[0].kind = RNNC_LOSS_MSE;
  toy_losses[0].weight = 1.0;
  toy_losses[0].target_size = (size_t)(ROWS * cols);
  toy_losses[0].rows = ROWS;
  toy_losses[0].cols = (size_t)cols;
  m.losses = toy_losses;
  m.optimizer = rnnc_optimizer_default(RNNC_OPT_SGD);
  m.params_bytes = m.scratch_bytes = m.opt_state_bytes = sizeof(double);
  m.loss_grad = toy_loss_grad;
  m.set_steps = toy_set_steps;
  return m;
}

static void test_dense_metrics(void **state) {
  (void)state;
  char err[512];
  uint64_t seed = 7;
  enum { M = 11 };
  double x[M * ROWS * MAXC], t[M * ROWS * MAXC], y[M * ROWS * MAXC], w = 0.1;
  for (int cols = 1; cols <= 2; ++cols) {
    rnnc_model m = toy(cols);
    size_t count = (size_t)M * ROWS * (size_t)cols;
    for (size_t i = 0; i < count; ++i) {
      x[i] = next(&seed);
      t[i] = cols == 1 ? (next(&seed) > 0) : 0;
      y[i] = x[i] + w;
    }
    if (cols == 2) /* one-hot rows */
      for (size_t r = 0; r < count / 2; ++r)
        t[2 * r + (next(&seed) > 0)] = 1;
    rnnc_fit_options o = rnnc_fit_defaults();
    o.batch_size = 4;
    o.verbose = 0;
    o.metrics = "mae,mse,accuracy,binary_accuracy,categorical_accuracy";
    rnnc_logs logs;
    assert_int_equal(rnnc_evaluate(&m, &w, x, t, M, &o, &logs, err, sizeof err), 0);
    assert_int_equal(logs.count, 6);
    double n_rows = (double)M * ROWS;
    double mae = rnnc_loss_mae_f64(y, t, M * ROWS, (size_t)cols, NULL);
    double mse = rnnc_loss_mse_f64(y, t, M * ROWS, (size_t)cols, NULL);
    double bin = rnnc_binary_accuracy_f64(y, t, M * ROWS, (size_t)cols);
    double cat = rnnc_categorical_accuracy_f64(y, t, M * ROWS, (size_t)cols);
    assert_true(fabs(logs.values[1] - mae) < 1e-15);
    assert_true(fabs(logs.values[2] - mse) < 1e-15);
    assert_true(fabs(logs.values[0] - mse) < 1e-15);
    /* "accuracy" is binary for one column, categorical for several */
    assert_true(fabs(logs.values[3] - (cols == 1 ? bin : cat)) < 1e-15);
    assert_true(fabs(logs.values[4] - bin) < 1e-15);
    assert_true(fabs(logs.values[5] - cat) < 1e-15);
    (void)n_rows;
    /* and through fit, with the "mse" history equal to "loss" before the update */
    o.epochs = 1;
    o.shuffle = 0;
    o.optimizer = rnnc_optimizer_default(RNNC_OPT_SGD);
    o.optimizer.learning_rate = 0;
    rnnc_history h = {0};
    double w2 = w;
    assert_int_equal(rnnc_fit_history(&m, &w2, x, t, M, &o, NULL, &h, err, sizeof err), 0);
    assert_true(fabs(rnnc_history_value(&h, "mse", 0) - rnnc_history_value(&h, "loss", 0)) < 1e-15);
    assert_true(fabs(rnnc_history_value(&h, "mae", 0) - mae) < 1e-15);
    rnnc_history_free(&h);
  }
  rnnc_model m = toy(2);
  rnnc_fit_options o = rnnc_fit_defaults();
  o.batch_size = 4;
  o.metrics = "sparse_categorical_accuracy";
  rnnc_logs logs;
  assert_int_equal(rnnc_evaluate(&m, &w, x, t, M, &o, &logs, err, sizeof err), -1);
  assert_non_null(strstr(err, "sparse"));
}

/* A finite gradient whose update overflows: the update is undone. */
static void test_update_overflow(void **state) {
  (void)state;
  char err[512];
  enum { M = 5 };
  double x[M * ROWS * MAXC], t[M * ROWS * MAXC] = {0}, w = 0.25;
  rnnc_model m = toy(2);
  for (int i = 0; i < M * ROWS * 2; ++i)
    x[i] = 1000;
  rnnc_fit_options o = rnnc_fit_defaults();
  o.batch_size = 4;
  o.epochs = 2;
  o.verbose = 0;
  o.optimizer = rnnc_optimizer_default(RNNC_OPT_SGD);
  o.optimizer.learning_rate = 1e306;
  rnnc_optimizer_state st = {0};
  rnnc_history h = {0};
  assert_int_equal(rnnc_fit_history(&m, &w, x, t, M, &o, &st, &h, err, sizeof err), -1);
  assert_non_null(strstr(err, "epoch 1/2, batch 1/2: the update made a weight"));
  assert_true(h.diverged);
  assert_true(w == 0.25);
  assert_int_equal(st.iterations, 0);
  rnnc_optimizer_state_free(&st);
  rnnc_history_free(&h);
}

/* ---------------------------------------------------------------- ReduceLROnPlateau */

/* A scripted monitor under ReduceLROnPlateau: the history's learning_rate
 * series (the rate each epoch trained with) into lr[0..count). */
static void run_plateau(const char *monitor, const double *values, int count,
                        const rnnc_reduce_lr *r, double *lr, double *final_lr) {
  static fit_params p;
  static script_t s;
  char err[512];
  rnnc_history h = {0};
  rnnc_optimizer_state st = {0};
  memset(&s, 0, sizeof s);
  s.name = monitor;
  s.values = values;
  s.count = count;
  init_params(&p);
  rnnc_fit_options o = quiet(count);
  o.on_epoch_end = scripted;
  o.hook_user = &s;
  o.reduce_lr = *r;
  o.reduce_lr.enabled = 1;
  o.reduce_lr.monitor = monitor;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, &st, &h, err, sizeof err), 0);
  assert_int_equal(h.n_epochs, count);
  assert_string_equal(h.names[h.n_series - 1], "learning_rate");
  for (int e = 0; e < count; ++e)
    lr[e] = rnnc_history_value(&h, "learning_rate", e);
  *final_lr = st.learning_rate;
  rnnc_optimizer_state_free(&st);
  rnnc_history_free(&h);
}

static void assert_lr_trace(const double *got, const double *want, int count) {
  for (int e = 0; e < count; ++e) {
    if (fabs(got[e] - want[e]) > 1e-12 * want[e])
      fail_msg("epoch %d: learning rate %.17g, Keras's %.17g", e, got[e], want[e]);
  }
}

static void test_reduce_lr_trace(void **state) {
  (void)state;
  double lr[16], last;
  /* Hand-derived from on_epoch_end (Adam's rate 0.001): min mode, min_delta
   * 0.01 (improvement: v < best - 0.01), patience 2, cooldown 1, min_lr
   * 0.0002, factor 0.5.
   *  e0 1.0   best 1.0
   *  e1 0.995 not 0.01 better: wait 1
   *  e2 0.98  best 0.98, wait 0
   *  e3 0.975 wait 1;  e4 0.975 wait 2: 0.001 -> 0.0005, cooldown 1, wait 0
   *  e5 0.975 cooldown 1 -> 0, wait 0; out of cooldown now: wait 1
   *  e6 0.975 wait 2: 0.0005 -> 0.00025, cooldown 1
   *  e7 0.5   cooldown -> 0; best 0.5
   *  e8 0.5   wait 1;  e9 0.5 wait 2: max(0.000125, min_lr) = 0.0002
   *  e10 0.5  cooldown -> 0, wait 1;  e11 wait 2, e12 wait 3: the rate is
   *           min_lr (not above np.float32(min_lr)): no more reductions */
  const double a[] = {1.0, 0.995, 0.98, 0.975, 0.975, 0.975, 0.975, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
  const double a_lr[] = {0.001,   0.001,   0.001,   0.001,  0.001,  0.0005, 0.0005,
                         0.00025, 0.00025, 0.00025, 0.0002, 0.0002, 0.0002};
  rnnc_reduce_lr r = rnnc_fit_defaults().reduce_lr;
  r.factor = 0.5;
  r.patience = 2;
  r.cooldown = 1;
  r.min_delta = 0.01;
  r.min_lr = 0.0002;
  run_plateau("loss", a, 13, &r, lr, &last);
  assert_lr_trace(lr, a_lr, 13);
  assert_true(last == 0.0002); /* the state the checkpoint saves */
  /* cooldown 0: the same values reduce at e4, e6, e9 (wait counts on) */
  const double a0_lr[] = {0.001,   0.001,   0.001,   0.001,  0.001,  0.0005, 0.0005,
                          0.00025, 0.00025, 0.00025, 0.0002, 0.0002, 0.0002};
  r.cooldown = 0;
  run_plateau("loss", a, 13, &r, lr, &last);
  assert_lr_trace(lr, a0_lr, 13);
  /* cooldown 2 after the e4 cut: e5, e6 in cooldown, e7 improves, e8 wait 1,
   * e9 wait 2: 0.0005 -> 0.00025 */
  const double a2_lr[] = {0.001,  0.001,  0.001,  0.001,   0.001,   0.0005, 0.0005,
                          0.0005, 0.0005, 0.0005, 0.00025, 0.00025, 0.00025};
  /* e5 cooldown 2 -> 1, e6 1 -> 0 then wait 1, e7 best 0.5, e8 wait 1, e9
   * wait 2: cut, cooldown 2; e10, e11 likewise, e12 wait 2: cut to min_lr */
  r.cooldown = 2;
  run_plateau("loss", a, 13, &r, lr, &last);
  assert_lr_trace(lr, a2_lr, 13);
  assert_true(last == 0.0002); /* e12: wait 2 again, cut to max(0.000125, min_lr) */

  /* an accuracy: "auto" maximises it (improvement v > best + 0.05);
   * factor 0.1, patience 1, min_lr 0
   *  e0 .5 best;  e1 .6 best;  e2 .62 wait 1: 1e-3 -> 1e-4
   *  e3 .7 best;  e4 .7 wait 1: -> 1e-5;  e5 .7: -> 1e-6 */
  const double b[] = {0.5, 0.6, 0.62, 0.7, 0.7, 0.7};
  const double b_lr[] = {1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5};
  r = rnnc_fit_defaults().reduce_lr;
  r.patience = 1;
  r.min_delta = 0.05;
  run_plateau("accuracy", b, 6, &r, lr, &last);
  assert_lr_trace(lr, b_lr, 6);
  assert_true(fabs(last - 1e-6) < 1e-18);
  r.mode = RNNC_MODE_MAX;
  run_plateau("accuracy", b, 6, &r, lr, &last);
  assert_lr_trace(lr, b_lr, 6);
  /* mode min on the same values: e1 .6 is no improvement on .5: cut at e1,
   * e2 and every epoch after */
  const double bmin_lr[] = {1e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7};
  r.mode = RNNC_MODE_MIN;
  run_plateau("accuracy", b, 6, &r, lr, &last);
  assert_lr_trace(lr, bmin_lr, 6);
  /* Keras 3's ReduceLROnPlateau decides "auto" by "acc" in the name alone
   * (EarlyStopping reads the metric's direction): precision is minimised */
  assert_int_equal(fit_rlr_greater_is_better("val_precision", RNNC_MODE_AUTO), 0);
  assert_int_equal(fit_rlr_greater_is_better("val_acc", RNNC_MODE_AUTO), 1);
  assert_int_equal(fit_rlr_greater_is_better("val_loss", RNNC_MODE_MAX), 1);
  /* a NaN is never an improvement: patience 1 cuts at e1 */
  const double c[] = {1, NAN, NAN};
  const double c_lr[] = {1e-3, 1e-3, 1e-4};
  r = rnnc_fit_defaults().reduce_lr;
  r.patience = 1;
  run_plateau("loss", c, 3, &r, lr, &last);
  assert_lr_trace(lr, c_lr, 3);
}

/* The rate a float32 unit holds is its float32 variable's, and the message
 * prints Python's repr of old_lr * factor (the float32 rate widened). */
static void test_reduce_lr_float32_message(void **state) {
  (void)state;
  plateau_t r;
  memset(&r, 0, sizeof r);
  r.on = 1;
  r.index = 0;
  r.lr_index = 1;
  r.patience = 0;
  r.factor = 0.5;
  r.f32 = 1;
  r.best = INFINITY;
  rnnc_logs logs;
  memset(&logs, 0, sizeof logs);
  logs.count = 2;
  logs.values[0] = 1.0;
  double lr = 0.01;
  /* patience 0: the first epoch improves (best inf), no cut */
  assert_int_equal(fit_rlr_epoch_end(&r, &logs, &lr), 0);
  assert_true(logs.values[1] == (double)0.01f);
  assert_int_equal(fit_rlr_epoch_end(&r, &logs, &lr), 1);
  assert_true(r.new_lr == (double)0.01f * 0.5);
  assert_true(lr == (double)(float)((double)0.01f * 0.5));
  /* the message, as print_msg writes it */
  char path[512];
  snprintf(path, sizeof path, "%s", path_of("rlr_message.txt"));
  fflush(stdout);
  int saved = dup(1);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  dup2(fileno(f), 1);
  fit_rlr_message(&r, 6);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  fclose(f);
  char *text = slurp(path, NULL);
  assert_string_equal(text, "\nEpoch 7: ReduceLROnPlateau reducing learning rate to "
                            "0.004999999888241291.\n");
  free(text);
  /* a rate at min_lr (compared in float32) is not cut again */
  r.min_lr = 0.1;
  lr = 0.1;
  r.wait = 0;
  assert_int_equal(fit_rlr_epoch_end(&r, &logs, &lr), 0);
  assert_true(lr == 0.1);
}

/* Refused as Keras raises: factor >= 1 (ValueError), an optimizer with a
 * schedule (its learning_rate is not settable), a monitor not logged. */
static void test_reduce_lr_refusals(void **state) {
  (void)state;
  static fit_params p;
  char err[512];
  init_params(&p);
  rnnc_fit_options o = quiet(2);
  o.reduce_lr.enabled = 1;
  o.reduce_lr.monitor = "loss";
  o.reduce_lr.factor = 1.0;
  assert_int_equal(rnnc_fit(&fit_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "does not support a factor >= 1.0"));
  o.reduce_lr.factor = 0.5;
  o.optimizer = fit_model.optimizer;
  o.optimizer.schedule = 3; /* InverseTimeDecay */
  o.optimizer.decay_steps = 10;
  o.optimizer.decay_rate = 0.5;
  assert_int_equal(rnnc_fit(&fit_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "learning-rate schedule"));
  o.optimizer.kind = 0;
  o.reduce_lr.monitor = "val_loss";
  assert_int_equal(rnnc_fit(&fit_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "ReduceLROnPlateau monitors 'val_loss'"));
  /* a resumed rate with a schedule: refused, not silently ignored */
  rnnc_optimizer_state st = {0};
  assert_int_equal(rnnc_optimizer_state_init(&st, &fit_model, &fit_model.optimizer), 0);
  st.learning_rate = 1e-4;
  o = quiet(1);
  o.optimizer = fit_model.optimizer;
  o.optimizer.schedule = 3;
  o.optimizer.decay_steps = 10;
  o.optimizer.decay_rate = 0.5;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, &st, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "holds a learning rate"));
  rnnc_optimizer_state_free(&st);
}

/* ReduceLROnPlateau{...} of a description reaches the options as the
 * generator writes it into the fit defaults. */
static void test_reduce_lr_fit_defaults(void **state) {
  (void)state;
  rnnc_model m = fit_model;
  rnnc_fit_options o;
  char text[RNNC_FIT_DEFAULTS_TEXT], err[512];
  m.fit_defaults = "reduce-lr-on-plateau=1 reduce-lr-monitor=val_accuracy reduce-lr-factor=0.5 "
                   "reduce-lr-patience=3 reduce-lr-mode=max reduce-lr-min-delta=0.01 "
                   "reduce-lr-cooldown=2 reduce-lr-min-lr=1e-05 reduce-lr-verbose=1";
  assert_int_equal(rnnc_fit_model_defaults(&m, &o, text, sizeof text, err, sizeof err), 0);
  assert_int_equal(o.reduce_lr.enabled, 1);
  assert_string_equal(o.reduce_lr.monitor, "val_accuracy");
  assert_true(o.reduce_lr.factor == 0.5);
  assert_int_equal(o.reduce_lr.patience, 3);
  assert_int_equal(o.reduce_lr.mode, RNNC_MODE_MAX);
  assert_true(o.reduce_lr.min_delta == 0.01);
  assert_int_equal(o.reduce_lr.cooldown, 2);
  assert_true(o.reduce_lr.min_lr == 1e-05);
  assert_int_equal(o.reduce_lr.verbose, 1);
  /* Keras's defaults when off */
  m.fit_defaults = "";
  assert_int_equal(rnnc_fit_model_defaults(&m, &o, text, sizeof text, err, sizeof err), 0);
  assert_int_equal(o.reduce_lr.enabled, 0);
  assert_true(o.reduce_lr.factor == 0.1);
  assert_int_equal(o.reduce_lr.patience, 10);
  assert_true(o.reduce_lr.min_delta == 1e-4);
  m.fit_defaults = "reduce-lr-patience=x";
  assert_int_equal(rnnc_fit_model_defaults(&m, &o, text, sizeof text, err, sizeof err), -1);
  assert_non_null(strstr(err, "reduce-lr-patience"));
}

/* The reduced rate is saved with the optimizer state and a resumed run
 * continues with it: 6 epochs in one run are bitwise 3 + checkpoint + 3.
 * The script cuts the rate at e1 (patience 1) and improves after, so the
 * resumed run (whose callback starts afresh, as Keras's on_train_begin
 * resets it) makes no cut of its own. */
static void test_reduce_lr_resume(void **state) {
  (void)state;
  static fit_params whole, part, loaded;
  static script_t s;
  const double v[] = {1.0, 1.0, 0.9, 0.8, 0.7, 0.6};
  char err[512];
  rnnc_history hw = {0}, h2 = {0};
  init_params(&whole);
  part = whole;
  rnnc_fit_options o = quiet(6);
  memset(&s, 0, sizeof s);
  s.name = "loss";
  s.values = v;
  s.count = 6;
  o.on_epoch_end = scripted;
  o.hook_user = &s;
  o.reduce_lr.enabled = 1;
  o.reduce_lr.monitor = "loss";
  o.reduce_lr.patience = 1;
  assert_int_equal(rnnc_fit_history(&fit_model, &whole, X, Y, N, &o, NULL, &hw, err, sizeof err),
                   0);
  assert_true(fabs(rnnc_history_value(&hw, "learning_rate", 5) - 1e-4) < 1e-18);
  o.epochs = 3;
  o.checkpoint.path = path_of("rlr.safetensors");
  assert_int_equal(rnnc_fit_history(&fit_model, &part, X, Y, N, &o, NULL, NULL, err, sizeof err),
                   0);
  rnnc_optimizer_state st = {0};
  assert_int_equal(
      rnnc_weights_load(path_of("rlr.safetensors"), &fit_model, &loaded, err, sizeof err), 0);
  assert_int_equal(rnnc_optimizer_state_init(&st, &fit_model, &fit_model.optimizer), 0);
  assert_int_equal(
      rnnc_checkpoint_load_state(path_of("rlr.safetensors"), &fit_model, &st, err, sizeof err), 1);
  assert_true(fabs(st.learning_rate - 1e-4) < 1e-18);
  o.checkpoint.path = NULL;
  o.epochs = 6;
  o.initial_epoch = 3;
  rnnc_optimizer_state copy = st;
  copy.slots = malloc(st.n_slots * sizeof(double) + 1);
  memcpy(copy.slots, st.slots, st.n_slots * sizeof(double));
  assert_int_equal(rnnc_fit_history(&fit_model, &loaded, X, Y, N, &o, &st, &h2, err, sizeof err),
                   0);
  assert_memory_equal(&whole, &loaded, sizeof whole);
  assert_true(rnnc_history_value(&h2, "learning_rate", 0) == st.learning_rate);
  /* the same resume without the saved rate (Adam's 0.001 again) differs */
  rnnc_weights_load(path_of("rlr.safetensors"), &fit_model, &loaded, err, sizeof err);
  copy.learning_rate = 0;
  assert_int_equal(rnnc_fit_history(&fit_model, &loaded, X, Y, N, &o, &copy, NULL, err, sizeof err),
                   0);
  assert_true(memcmp(&whole, &loaded, sizeof whole) != 0);
  /* a checkpoint without ReduceLROnPlateau holds no rate */
  o = quiet(1);
  o.checkpoint.path = path_of("plain.safetensors");
  assert_int_equal(rnnc_fit_history(&fit_model, &part, X, Y, N, &o, NULL, NULL, err, sizeof err),
                   0);
  assert_int_equal(
      rnnc_checkpoint_load_state(path_of("plain.safetensors"), &fit_model, &st, err, sizeof err),
      1);
  assert_true(st.learning_rate == 0);
  rnnc_optimizer_state_free(&copy);
  rnnc_optimizer_state_free(&st);
  rnnc_history_free(&hw);
  rnnc_history_free(&h2);
}

/* ---------------------------------------------------------------- sample and class weights */

static double max_rel(const double *a, const double *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = fabs(a[i] - b[i]) / (fabs(b[i]) > 1e-300 ? fabs(b[i]) : 1.0);
    if (d > worst)
      worst = d;
  }
  return worst;
}

/* Keras's sum_over_batch_size with sample weights (keras/src/losses/loss.py
 * reduce_weighted_values: sum(w l) / rows): samples a, b, c with weights
 * 2, 1, 1 give 3/4 of the unweighted loss and gradient of a, a, b, c; a
 * weight 0 drops its sample from the sum (not from the count); weights of
 * 1 are loss_grad bit for bit. */
static void test_sample_weight_duplicates(void **state) {
  (void)state;
  static fit_params p, g1, g2, g3;
  static fit_scratch s;
  double xd[4 * IN], yd[4], ypred[4 * 3];
  const double w[3] = {2, 1, 1}, ones[3] = {1, 1, 1}, w0[3] = {0, 1, 1};
  init_params(&p);
  assert_int_equal(fit_model.set_steps(&s, 3), 0);
  memcpy(xd, X, IN * sizeof *X);
  memcpy(xd + IN, X, 3 * IN * sizeof *X);
  yd[0] = Y[0];
  memcpy(yd + 1, Y, 3 * sizeof *Y);
  double lw = fit_model.loss_grad_weighted(&p, &s, X, Y, w, &g1, NULL, ypred, 3);
  double ld = fit_model.loss_grad(&p, &s, xd, yd, &g2, NULL, ypred, 4);
  assert_true(fabs(lw * 3.0 / 4.0 - ld) <= 1e-15 * fabs(ld));
  for (int i = 0; i < P; ++i)
    g1.flat[i] *= 3.0 / 4.0;
  assert_true(max_rel(g1.flat, g2.flat, P) < 1e-12);
  /* all 1: loss_grad itself */
  lw = fit_model.loss_grad_weighted(&p, &s, X, Y, ones, &g1, NULL, ypred, 3);
  ld = fit_model.loss_grad(&p, &s, X, Y, &g2, NULL, ypred, 3);
  assert_true(lw == ld);
  assert_memory_equal(&g1, &g2, sizeof g1);
  /* weight 0: samples b, c summed, divided by 3 */
  lw = fit_model.loss_grad_weighted(&p, &s, X, Y, w0, &g1, NULL, ypred, 3);
  ld = fit_model.loss_grad(&p, &s, X + IN, Y + 1, &g3, NULL, ypred, 2);
  assert_true(fabs(lw - ld * 2.0 / 3.0) <= 1e-15 * fabs(ld));
  for (int i = 0; i < P; ++i)
    g3.flat[i] *= 2.0 / 3.0;
  assert_true(max_rel(g1.flat, g3.flat, P) < 1e-12);
}

/* The reference runtime's weighted loss and gradient agree with the unit's. */
static void test_sample_weight_reference(void **state) {
  (void)state;
  static fit_params p, g;
  static fit_scratch s;
  static double rg[P];
  double ypred[BS * 3];
  char err[512];
  const double w[5] = {0.5, 0, 2, 1, 3};
  init_params(&p);
  rnnc_ref *ref = rnnc_ref_new(fit_model.spec, err, sizeof err);
  assert_non_null(ref);
  assert_int_equal(fit_model.set_steps(&s, 3), 0);
  double l = fit_model.loss_grad_weighted(&p, &s, X, Y, w, &g, NULL, ypred, 5);
  double lr = rnnc_ref_loss_grad_weighted(ref, p.flat, X, Y, w, 5, rg, NULL, NULL);
  assert_true(fabs(l - lr) <= 1e-13 * fabs(l));
  assert_true(max_rel(g.flat, rg, P) < 1e-10);
  /* and differ from the unweighted */
  double lu = rnnc_ref_loss_grad(ref, p.flat, X, Y, 5, rg, NULL, NULL);
  assert_true(fabs(l - lu) > 1e-6);
  rnnc_ref_free(ref);
}

static double W[N];

static void make_weights(void) {
  for (int i = 0; i < N; ++i)
    W[i] = (double)(i % 4) * 0.5; /* 0, .5, 1, 1.5, ... */
}

/* fit with sample weights: the same bytes on 1 or 3 threads (micro-batches
 * of 2), weights of 1 train as no weights, and the weights follow their
 * samples through shuffling (permuting samples and weights together keeps
 * the first epoch's loss, unshuffled). */
static void test_sample_weight_fit(void **state) {
  (void)state;
  static fit_params a, b, c, d;
  char err[512];
  rnnc_history ha = {0}, hb = {0};
  make_weights();
  init_params(&a);
  b = c = d = a;
  rnnc_fit_options o = quiet(3);
  o.sample_weight = W;
  o.micro_batch = 2;
  assert_int_equal(rnnc_fit_history(&fit_model, &a, X, Y, N, &o, NULL, &ha, err, sizeof err), 0);
  o.threads = 3;
  assert_int_equal(rnnc_fit_history(&fit_model, &b, X, Y, N, &o, NULL, &hb, err, sizeof err), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_memory_equal(ha.values, hb.values, sizeof(double) * 3 * (size_t)ha.n_series);
  /* weights change training */
  o.sample_weight = NULL;
  assert_int_equal(rnnc_fit_history(&fit_model, &c, X, Y, N, &o, NULL, &hb, err, sizeof err), 0);
  assert_true(memcmp(&a, &c, sizeof a) != 0);
  /* all 1: no weights, bit for bit */
  static double ones[N];
  for (int i = 0; i < N; ++i)
    ones[i] = 1;
  o.sample_weight = ones;
  assert_int_equal(rnnc_fit_history(&fit_model, &d, X, Y, N, &o, NULL, &ha, err, sizeof err), 0);
  assert_memory_equal(&c, &d, sizeof c);
  assert_memory_equal(ha.values, hb.values, sizeof(double) * 3 * (size_t)ha.n_series);
  /* one batch of all 21 samples: shuffled or not, the same (sample,
   * weight) pairs give the same first loss, up to the order of the sums */
  rnnc_fit_options one = quiet(1);
  one.batch_size = N;
  one.sample_weight = W;
  init_params(&a);
  b = a;
  assert_int_equal(rnnc_fit_history(&fit_model, &a, X, Y, N, &one, NULL, &ha, err, sizeof err), 0);
  one.shuffle = 0;
  assert_int_equal(rnnc_fit_history(&fit_model, &b, X, Y, N, &one, NULL, &hb, err, sizeof err), 0);
  double la = rnnc_history_value(&ha, "loss", 0), lb = rnnc_history_value(&hb, "loss", 0);
  assert_true(fabs(la - lb) <= 1e-13 * lb);
  rnnc_history_free(&ha);
  rnnc_history_free(&hb);
}

/* evaluate with sample weights: the loss the batch-size-weighted mean of
 * sum(w l) / count (Keras 3's loss tracker takes the batch size as weight);
 * compile's accuracy takes no weights, weighted_metrics' is Keras's Mean
 * with sample_weight: sum(w v) / sum(w) (keras/src/trainers/compile_utils.py
 * CompileMetrics.update_state, keras/src/metrics/reduction_metrics.py),
 * logged as weighted_accuracy. validation_split takes the last samples'
 * weights: val_loss and val_weighted_accuracy are evaluate's on them. */
static void test_sample_weight_metrics(void **state) {
  (void)state;
  static fit_params p, g;
  static fit_scratch s;
  double ypred[BS * 3];
  char err[512];
  make_weights();
  init_params(&p);
  rnnc_fit_options o = quiet(1);
  o.batch_size = 5;
  o.sample_weight = W;
  o.weighted_metrics = "accuracy";
  rnnc_logs logs;
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), 0);
  assert_int_equal(logs.count, 3);
  assert_string_equal(logs.names[1], "accuracy");
  assert_string_equal(logs.names[2], "weighted_accuracy");
  double sum = 0, acc = 0, wsum = 0, hits = 0;
  fit_model.set_steps(&s, 3);
  for (int first = 0; first < N; first += 5) {
    int count = N - first < 5 ? N - first : 5;
    double l = fit_model.loss_grad(&p, &s, X + first * IN, Y + first, &g, NULL, ypred, count);
    (void)l;
    double lw = 0;
    for (int i = 0; i < count; ++i) {
      double li = fit_model.loss_grad(&p, &s, X + (first + i) * IN, Y + first + i, &g, NULL,
                                      ypred + i * 3, 1);
      lw += W[first + i] * li;
      double hit = rnnc_sparse_accuracy_f64(ypred + i * 3, Y + first + i, 1, 3);
      acc += W[first + i] * hit;
      hits += hit;
      wsum += W[first + i];
    }
    sum += lw / count * count;
  }
  assert_true(fabs(logs.values[0] - sum / N) < 1e-14);
  assert_true(fabs(logs.values[1] - hits / N) < 1e-15); /* compile's metrics: no weights */
  assert_true(fabs(logs.values[2] - acc / wsum) < 1e-15);
  assert_true(fabs(logs.values[2] - hits / N) > 1e-3); /* not the unweighted count */
  /* validation_split 0.25: the last 6 samples with their weights */
  static fit_params q;
  init_params(&q);
  rnnc_fit_options f = quiet(1);
  f.sample_weight = W;
  f.weighted_metrics = "accuracy";
  f.validation_split = 0.25;
  f.batch_size = 5;
  rnnc_history h = {0};
  assert_int_equal(rnnc_fit_history(&fit_model, &q, X, Y, N, &f, NULL, &h, err, sizeof err), 0);
  rnnc_fit_options e = quiet(1);
  e.batch_size = 5;
  e.sample_weight = W + 15;
  e.weighted_metrics = "accuracy";
  assert_int_equal(
      rnnc_evaluate(&fit_model, &q, X + 15 * IN, Y + 15, 6, &e, &logs, err, sizeof err), 0);
  assert_true(rnnc_history_value(&h, "val_loss", 0) == logs.values[0]);
  assert_true(rnnc_history_value(&h, "val_accuracy", 0) == logs.values[1]);
  assert_true(rnnc_history_value(&h, "val_weighted_accuracy", 0) == logs.values[2]);
  /* the same as explicit validation data with val_sample_weight */
  static fit_params r;
  init_params(&r);
  rnnc_fit_options x = f;
  x.validation_split = 0;
  x.val_x = X + 15 * IN;
  x.val_y = Y + 15;
  x.val_n = 6;
  x.val_sample_weight = W + 15;
  rnnc_history hx = {0};
  assert_int_equal(rnnc_fit_history(&fit_model, &r, X, Y, 15, &x, NULL, &hx, err, sizeof err), 0);
  assert_memory_equal(&q, &r, sizeof q);
  assert_true(rnnc_history_value(&hx, "val_loss", 0) == logs.values[0]);
  x.val_sample_weight = NULL; /* unweighted validation: another value */
  init_params(&r);
  assert_int_equal(rnnc_fit_history(&fit_model, &r, X, Y, 15, &x, NULL, &hx, err, sizeof err), 0);
  assert_true(rnnc_history_value(&hx, "val_loss", 0) != logs.values[0]);
  rnnc_history_free(&hx);
  rnnc_history_free(&h);
}

/* Weights must be finite and >= 0: the message names the array and sample. */
static void test_sample_weight_refusals(void **state) {
  (void)state;
  static fit_params p;
  static double w[N];
  char err[512];
  init_params(&p);
  for (int i = 0; i < N; ++i)
    w[i] = 1;
  w[7] = -1;
  rnnc_fit_options o = quiet(1);
  o.sample_weight = w;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "sample_weight: sample 7 has weight -1"));
  w[7] = NAN;
  rnnc_logs logs;
  assert_int_equal(rnnc_evaluate(&fit_model, &p, X, Y, N, &o, &logs, err, sizeof err), -1);
  assert_non_null(strstr(err, "sample 7"));
  /* a unit generated before loss_grad_weighted */
  rnnc_model old = fit_model;
  old.loss_grad_weighted = NULL;
  w[7] = 1;
  assert_int_equal(rnnc_fit_history(&old, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "regenerate"));
  /* several processes: refused before any communication */
  rnnc_fit_group g;
  memset(&g, 0, sizeof g);
  g.size = 2;
  o.group = &g;
  assert_int_equal(rnnc_fit_history(&fit_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "not supported across 2 processes"));
}

/* class_weight (keras/src/trainers/data_adapters/data_adapter_utils.py
 * class_weight_to_sample_weights): each sample's label's weight, 1 for a
 * class not given; training with it is training with those sample weights.
 * Refused for a model with losses on several outputs or per-timestep
 * targets. */
static void test_class_weight(void **state) {
  (void)state;
  const double cw[3] = {1, 0, 5};
  const int has[3] = {0, 1, 1}; /* class 0 not given: 1 */
  static double sw[N];
  char err[512];
  assert_int_equal(rnnc_class_weights(&fit_model, Y, N, cw, has, 3, sw, err, sizeof err), 0);
  for (int i = 0; i < N; ++i)
    assert_true(sw[i] == (Y[i] == 0 ? 1.0 : Y[i] == 1 ? 0.0 : 5.0));
  /* one-hot targets: the argmax */
  static rnnc_loss_part parts[2];
  rnnc_model m = fit_model;
  parts[0] = fit_model.losses[0];
  parts[0].kind = RNNC_LOSS_CATEGORICAL_CROSSENTROPY;
  parts[0].target_size = 3;
  m.losses = parts;
  m.target_size = 3;
  const double onehot[6] = {0, 0, 1, 0, 1, 0};
  double two[2];
  assert_int_equal(rnnc_class_weights(&m, onehot, 2, cw, has, 3, two, err, sizeof err), 0);
  assert_true(two[0] == 5.0 && two[1] == 0.0);
  /* per-timestep targets */
  parts[0].rows = 3;
  assert_int_equal(rnnc_class_weights(&m, onehot, 2, cw, has, 3, two, err, sizeof err), -1);
  assert_non_null(strstr(err, "timestep"));
  /* two outputs with losses */
  parts[0].rows = 1;
  parts[1] = parts[0];
  m.n_outputs = 2;
  assert_int_equal(rnnc_class_weights(&m, onehot, 2, cw, has, 3, two, err, sizeof err), -1);
  assert_non_null(strstr(err, "single output"));
}

/* fit's class_weight option: the same bytes as its per-sample weights; the
 * validation data stays unweighted (Keras 3 passes class_weight to the
 * training iterator only); refused with sample_weight. */
static void test_class_weight_option(void **state) {
  (void)state;
  static fit_params a, b, v;
  static double sw[N];
  char err[512];
  rnnc_history ha = {0}, hb = {0};
  for (int i = 0; i < N; ++i)
    sw[i] = Y[i] == 0 ? 2.0 : Y[i] == 2 ? 5.0 : 1.0;
  init_params(&a);
  b = a;
  rnnc_fit_options o = quiet(2);
  o.validation_split = 0.25;
  o.class_weight = "0=2,2=5";
  assert_int_equal(rnnc_fit_history(&fit_model, &a, X, Y, N, &o, NULL, &ha, err, sizeof err), 0);
  o.class_weight = NULL;
  o.sample_weight = sw;
  assert_int_equal(rnnc_fit_history(&fit_model, &b, X, Y, N, &o, NULL, &hb, err, sizeof err), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_true(rnnc_history_value(&ha, "loss", 1) == rnnc_history_value(&hb, "loss", 1));
  /* the validation loss: unweighted with class_weight, weighted with sample_weight */
  init_params(&v);
  o.sample_weight = NULL;
  o.epochs = 1;
  o.class_weight = "0=2,2=5";
  assert_int_equal(rnnc_fit_history(&fit_model, &v, X, Y, N, &o, NULL, &ha, err, sizeof err), 0);
  rnnc_fit_options e = quiet(1);
  rnnc_logs logs;
  assert_int_equal(
      rnnc_evaluate(&fit_model, &v, X + 15 * IN, Y + 15, 6, &e, &logs, err, sizeof err), 0);
  assert_true(rnnc_history_value(&ha, "val_loss", 0) == logs.values[0]);
  /* refusals */
  o.sample_weight = sw;
  assert_int_equal(rnnc_fit_history(&fit_model, &v, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot be used together"));
  o.sample_weight = NULL;
  o.class_weight = "0=2,x";
  assert_int_equal(rnnc_fit_history(&fit_model, &v, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "expected CLASS=WEIGHT"));
  rnnc_history_free(&ha);
  rnnc_history_free(&hb);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/rnnc_test_fit.XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  make_data();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_partial_batch_weighted_loss),
      cmocka_unit_test(test_shuffle_reproducible),
      cmocka_unit_test(test_validation_split_boundaries),
      cmocka_unit_test(test_early_stopping_rules),
      cmocka_unit_test(test_early_stopping_constant_loss),
      cmocka_unit_test(test_restore_best_weights),
      cmocka_unit_test(test_checkpoint_atomic),
      cmocka_unit_test(test_checkpoint_best_only_and_names),
      cmocka_unit_test(test_resume_bitwise),
      cmocka_unit_test(test_nan_stops_training),
      cmocka_unit_test(test_divergence_keeps_checkpoint),
      cmocka_unit_test(test_csv_logger),
      cmocka_unit_test(test_svg_plot),
      cmocka_unit_test(test_evaluate),
      cmocka_unit_test(test_dense_metrics),
      cmocka_unit_test(test_update_overflow),
      cmocka_unit_test(test_reduce_lr_trace),
      cmocka_unit_test(test_reduce_lr_float32_message),
      cmocka_unit_test(test_reduce_lr_refusals),
      cmocka_unit_test(test_reduce_lr_resume),
      cmocka_unit_test(test_reduce_lr_fit_defaults),
      cmocka_unit_test(test_sample_weight_duplicates),
      cmocka_unit_test(test_sample_weight_fit),
      cmocka_unit_test(test_sample_weight_metrics),
      cmocka_unit_test(test_sample_weight_refusals),
      cmocka_unit_test(test_class_weight),
      cmocka_unit_test(test_sample_weight_reference),
      cmocka_unit_test(test_class_weight_option),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
