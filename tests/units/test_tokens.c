/* The C API of a unit whose input is integer tokens (tokens.lua: Embedding
 * of 5 rows, GRU, softmax; float64, batch 8): its functions take
 * const int32_t *x; the descriptor says input_vocab = 5 and rnnc_x_bytes 4;
 * rnnc_fit, rnnc_evaluate and rnnc_predict step through int32 tokens (a fit
 * on n = 10 samples in batches of 4 matches train_step on the same
 * batches); the data checks refuse a token outside [0, 5) by sample and
 * position, the weights untouched; a token outside the table never reads
 * outside it: NaN outputs, and train_step returns NaN, changing nothing;
 * loss_grad writes no dx. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "tokens.h"

enum { N = 10, T = 4, IN = TOKENS_INPUT_SIZE, OUT = TOKENS_OUTPUT_SIZE, TS = TOKENS_TARGET_SIZE };

static int32_t X[N * IN];
static double Y[N * TS];

static void make_data(void) {
  for (int i = 0; i < N * IN; ++i)
    X[i] = (int32_t)((i * 7 + 3) % 5); /* every row of the table, rows repeated */
  for (int i = 0; i < N * TS; ++i)
    Y[i] = i % 2;
}

static rnnc_fit_options quiet(void) {
  rnnc_fit_options o = rnnc_fit_defaults();
  o.epochs = 1;
  o.batch_size = 4;
  o.shuffle = 0;
  o.verbose = 0;
  return o;
}

static void test_descriptor(void **state) {
  (void)state;
  assert_int_equal(IN, T);
  assert_int_equal(tokens_model.input_vocab, 5);
  assert_int_equal((int)rnnc_x_bytes(&tokens_model), 4);
  assert_int_equal(tokens_model.stream_input_size, 1);
}

/* rnnc_fit over 10 samples in batches of 4, 4 and 2 is three train_steps on
 * the same int32 slices (the runtime steps through x 4 bytes a token). */
static void test_fit_is_train_steps(void **state) {
  (void)state;
  static tokens_params p, q;
  static tokens_optimizer opt;
  static tokens_scratch s;
  char err[512];
  tokens_init(&p, 3);
  q = p;
  rnnc_fit_options o = quiet();
  assert_int_equal(rnnc_fit(&tokens_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), 0);
  memset(&opt, 0, sizeof opt);
  for (int first = 0; first < N; first += 4) {
    int n = N - first < 4 ? N - first : 4;
    assert_true(isfinite(tokens_train_step(&q, &opt, &s, X + first * IN, Y + first * TS, NULL, n)));
  }
  assert_memory_equal(&p, &q, sizeof p);
  /* predict through the runtime equals forward */
  static double y1[N * OUT], y2[N * OUT];
  assert_int_equal(rnnc_predict(&tokens_model, &p, X, y1, N, 0, 2, err, sizeof err), 0);
  tokens_forward(&p, &s, X, y2, 8);
  tokens_forward(&p, &s, X + 8 * IN, y2 + 8 * OUT, 2);
  assert_memory_equal(y1, y2, sizeof y1);
}

static void test_bad_token_refused(void **state) {
  (void)state;
  static tokens_params p, p0;
  static int32_t x[N * IN];
  char err[512];
  rnnc_logs logs;
  tokens_init(&p, 1);
  p0 = p;
  memcpy(x, X, sizeof x);
  x[6 * IN + 2] = 5;
  rnnc_fit_options o = quiet();
  assert_int_equal(rnnc_fit(&tokens_model, &p, x, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_string_equal(
      err, "x: sample 6, position (2): token 5 is not in [0, 5) (the Embedding's input_dim)");
  assert_memory_equal(&p, &p0, sizeof p);
  x[6 * IN + 2] = -3;
  assert_int_equal(rnnc_evaluate(&tokens_model, &p, x, Y, N, &o, &logs, err, sizeof err), -1);
  assert_string_equal(
      err, "x: sample 6, position (2): token -3 is not in [0, 5) (the Embedding's input_dim)");
}

/* The generated code alone, with a token outside the table: NaN for that
 * sample, the others computed; train_step refuses; dx never written. */
static void test_out_of_range_in_the_unit(void **state) {
  (void)state;
  static tokens_params p, p0;
  static tokens_scratch s;
  static tokens_optimizer opt, opt0;
  static double y[2 * OUT], dx[2 * IN];
  int32_t x[2 * IN] = {0, 1, 2, 3, 4, 1000000, 0, 1};
  tokens_init(&p, 2);
  tokens_forward(&p, &s, x, y, 2);
  for (int i = 0; i < OUT; ++i)
    assert_true(isfinite(y[i]));
  assert_true(isnan(y[OUT + 2])); /* sample 1, step 1: the bad token's step */
  for (int i = 0; i < 2 * IN; ++i)
    dx[i] = 42.0;
  static tokens_params grad;
  double t[2 * TS] = {0};
  assert_true(isfinite(tokens_loss_grad(&p, &s, x, t, &grad, dx, NULL, 1)));
  for (int i = 0; i < 2 * IN; ++i)
    assert_true(dx[i] == 42.0);
  p0 = p;
  opt0 = opt;
  assert_true(isnan(tokens_train_step(&p, &opt, &s, x, t, NULL, 2)));
  assert_memory_equal(&p, &p0, sizeof p);
  assert_memory_equal(&opt, &opt0, sizeof opt);
}

int main(void) {
  make_data();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_descriptor),
      cmocka_unit_test(test_fit_is_train_steps),
      cmocka_unit_test(test_bad_token_refused),
      cmocka_unit_test(test_out_of_range_in_the_unit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
