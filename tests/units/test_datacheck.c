/* The C API's run-time data checks (runtime/fit.c) on a generated float64
 * unit (datacheck.lua: SimpleRNN + TimeDistributed softmax Dense, one sparse
 * label per timestep, batch 8): rnnc_fit_history and rnnc_evaluate refuse
 * non-finite inputs and targets and labels that are not classes, before any
 * step, with a message naming the array, the sample and the position, and
 * leave the weights as they were; good data passes the same checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "datacheck.h"

enum { N = 10, T = 3, IN = DATACHECK_INPUT_SIZE, TS = DATACHECK_TARGET_SIZE };

static double X[N * IN], Y[N * TS];

/* Inputs in [-1, 1], labels 0, 1, 2 in turn (every class, the last one included). */
static void make_data(void) {
  uint64_t s = 7;
  for (int i = 0; i < N * IN; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    X[i] = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  }
  for (int i = 0; i < N * TS; ++i)
    Y[i] = i % 3;
}

static rnnc_fit_options quiet(void) {
  rnnc_fit_options o = rnnc_fit_defaults();
  o.epochs = 2;
  o.batch_size = DATACHECK_BATCH;
  o.verbose = 0;
  return o;
}

/* fit on (x, y) must fail with exactly `want`, the weights untouched and no
 * epoch run; evaluate on the same data must fail the same way. */
static void refused(const double *x, const double *y, const char *want) {
  static datacheck_params p, p0;
  char err[512];
  rnnc_history h = {0};
  rnnc_logs logs;
  datacheck_model.init(&p, 1);
  p0 = p;
  rnnc_fit_options o = quiet();
  assert_int_equal(rnnc_fit_history(&datacheck_model, &p, x, y, N, &o, NULL, &h, err, sizeof err),
                   -1);
  assert_string_equal(err, want);
  assert_memory_equal(&p, &p0, sizeof p);
  assert_int_equal(h.n_epochs, 0);
  assert_int_equal(h.iterations, 0);
  assert_false(h.diverged);
  assert_int_equal(rnnc_evaluate(&datacheck_model, &p, x, y, N, &o, &logs, err, sizeof err), -1);
  assert_string_equal(err, want);
  rnnc_history_free(&h);
}

static void test_good_data_passes(void **state) {
  (void)state;
  static datacheck_params p;
  char err[512];
  rnnc_logs logs;
  datacheck_model.init(&p, 1);
  rnnc_fit_options o = quiet();
  assert_int_equal(rnnc_fit(&datacheck_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(rnnc_evaluate(&datacheck_model, &p, X, Y, N, &o, &logs, err, sizeof err), 0);
  assert_true(isfinite(logs.values[0]));
}

static void test_labels_out_of_range(void **state) {
  (void)state;
  static double y[N * TS];
  memcpy(y, Y, sizeof y);
  y[4 * TS + 2] = 3; /* one past the last class */
  refused(X, y,
          "y: sample 4, position (2): label 3 is not a class in [0, 3) (sparse categorical "
          "crossentropy takes class indices)");
  memcpy(y, Y, sizeof y);
  y[0] = -1;
  refused(X, y,
          "y: sample 0, position (0): label -1 is not a class in [0, 3) (sparse categorical "
          "crossentropy takes class indices)");
  memcpy(y, Y, sizeof y);
  y[9 * TS + 1] = 1.5;
  refused(X, y,
          "y: sample 9, position (1): label 1.5 is not a class in [0, 3) (sparse categorical "
          "crossentropy takes class indices)");
  memcpy(y, Y, sizeof y);
  y[3 * TS] = 1e300;
  refused(X, y,
          "y: sample 3, position (0): label 1e+300 is not a class in [0, 3) (sparse categorical "
          "crossentropy takes class indices)");
}

static void test_non_finite_values(void **state) {
  (void)state;
  static double x[N * IN], y[N * TS];
  memcpy(x, X, sizeof x);
  x[6 * IN + 2 * 2 + 1] = NAN; /* sample 6, timestep 2, feature 1 */
  refused(x, Y, "x: sample 6, position (2, 1): nan is not finite");
  memcpy(x, X, sizeof x);
  x[0] = -INFINITY;
  refused(x, Y, "x: sample 0, position (0, 0): -inf is not finite");
  memcpy(y, Y, sizeof y);
  y[5 * TS + 1] = NAN;
  refused(X, y, "y: sample 5, position (1): nan is not finite");
  memcpy(y, Y, sizeof y);
  y[N * TS - 1] = INFINITY;
  refused(X, y, "y: sample 9, position (2): inf is not finite");
  refused(NULL, Y, "x: no data given");
  refused(X, NULL, "y: no data given");
}

/* Explicit validation data is checked too, under its own names; the split
 * part of x is checked as x. */
static void test_validation_data(void **state) {
  (void)state;
  static datacheck_params p, p0;
  static double vx[N * IN], vy[N * TS];
  char err[512];
  datacheck_model.init(&p, 1);
  p0 = p;
  memcpy(vx, X, sizeof vx);
  memcpy(vy, Y, sizeof vy);
  vy[2 * TS + 1] = 7;
  rnnc_fit_options o = quiet();
  o.val_x = vx;
  o.val_y = vy;
  o.val_n = N;
  assert_int_equal(rnnc_fit(&datacheck_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_string_equal(err, "val_y: sample 2, position (1): label 7 is not a class in [0, 3) "
                           "(sparse categorical crossentropy takes class indices)");
  vy[2 * TS + 1] = 1;
  vx[N * IN - 1] = NAN;
  assert_int_equal(rnnc_fit(&datacheck_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_string_equal(err, "val_x: sample 9, position (2, 1): nan is not finite");
  assert_memory_equal(&p, &p0, sizeof p);
  /* validation_split: the last samples are x's */
  static double x[N * IN];
  memcpy(x, X, sizeof x);
  x[8 * IN] = NAN;
  o = quiet();
  o.validation_split = 0.3;
  assert_int_equal(rnnc_fit(&datacheck_model, &p, x, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_string_equal(err, "x: sample 8, position (0, 0): nan is not finite");
  assert_memory_equal(&p, &p0, sizeof p);
}

int main(void) {
  make_data();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_data_passes),
      cmocka_unit_test(test_labels_out_of_range),
      cmocka_unit_test(test_non_finite_values),
      cmocka_unit_test(test_validation_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
