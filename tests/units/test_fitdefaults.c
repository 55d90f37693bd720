/* rnnc_fit and rnnc_evaluate take the model's own defaults: its compile{}
 * metrics (mae and mse here, not only accuracy) and its model:fit{} (3
 * epochs, batch size 5, no shuffling, a validation split), when the options
 * are NULL; rnnc_fit_model_defaults gives them to change. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "fitdefaults.h"

enum { N = 20, IN = FITDEFAULTS_INPUT_SIZE };

static double X[N * IN], Y[N];

static void make_data(void) {
  uint64_t s = 7;
  for (int i = 0; i < N * IN; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    X[i] = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
  }
  for (int i = 0; i < N; ++i)
    Y[i] = X[i * IN] - 0.5 * X[i * IN + IN - 1];
}

static void test_fit_with_the_models_defaults(void **state) {
  (void)state;
  static fitdefaults_params p;
  char err[512];
  rnnc_history h;
  memset(&h, 0, sizeof h);
  make_data();
  fitdefaults_init(&p, 1);
  assert_int_equal(
      rnnc_fit_history(&fitdefaults_model, &p, X, Y, N, NULL, NULL, &h, err, sizeof err), 0);
  assert_int_equal(h.n_epochs, 3); /* fit{epochs = 3}, not Keras's 1 */
  assert_int_equal(h.n_series, 6);
  assert_string_equal(h.names[0], "loss");
  assert_string_equal(h.names[1], "mae");
  assert_string_equal(h.names[2], "mse");
  assert_string_equal(h.names[3], "val_loss"); /* validation_split = 0.25 */
  assert_string_equal(h.names[4], "val_mae");
  /* batch 5 of 15 training samples: 3 updates an epoch */
  assert_int_equal(h.iterations, 9);
  /* the mse metric is the loss */
  assert_true(fabs(rnnc_history_value(&h, "mse", 2) - rnnc_history_value(&h, "loss", 2)) < 1e-12);
  rnnc_history_free(&h);
}

static void test_metrics_from_compile_with_keras_options(void **state) {
  (void)state;
  static fitdefaults_params p;
  char err[512];
  rnnc_history h;
  rnnc_logs logs;
  memset(&h, 0, sizeof h);
  make_data();
  fitdefaults_init(&p, 1);
  rnnc_fit_options o = rnnc_fit_defaults(); /* Keras's: 1 epoch, batch 32 (over the unit's 8) */
  o.verbose = 0;
  assert_int_equal(rnnc_fit_history(&fitdefaults_model, &p, X, Y, N, &o, NULL, &h, err, sizeof err),
                   0);
  assert_int_equal(h.n_epochs, 1);
  assert_int_equal(h.n_series, 3); /* metrics NULL: the model's compile{metrics} */
  assert_string_equal(h.names[1], "mae");
  assert_int_equal(h.iterations, 1);
  rnnc_history_free(&h);
  assert_int_equal(rnnc_evaluate(&fitdefaults_model, &p, X, Y, N, NULL, &logs, err, sizeof err), 0);
  assert_int_equal(logs.count, 3);
  assert_string_equal(logs.names[2], "mse");
}

static void test_model_defaults_to_change(void **state) {
  (void)state;
  rnnc_fit_options o;
  char text[RNNC_FIT_DEFAULTS_TEXT], err[512];
  assert_int_equal(
      rnnc_fit_model_defaults(&fitdefaults_model, &o, text, sizeof text, err, sizeof err), 0);
  assert_int_equal(o.epochs, 3);
  assert_int_equal(o.batch_size, 5);
  assert_int_equal(o.shuffle, 0);
  assert_true(o.validation_split == 0.25);
  assert_string_equal(o.metrics, "mae,mse");
  char small[8];
  assert_int_equal(
      rnnc_fit_model_defaults(&fitdefaults_model, &o, small, sizeof small, err, sizeof err), -1);
  assert_non_null(strstr(err, "the model's fit defaults take"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_with_the_models_defaults),
      cmocka_unit_test(test_metrics_from_compile_with_keras_options),
      cmocka_unit_test(test_model_defaults_to_change),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
