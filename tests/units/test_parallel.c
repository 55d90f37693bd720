/* Data parallelism (runtime/parallel.c) on a generated float64 unit
 * (parallel.lua: LSTM(6) tagger, batch 8): the weights and logs after
 * training with any number of threads are the same bytes as with one, and
 * the same as a step written out by hand in micro-batch order; predict and
 * the streaming of many sequences give the same bytes on any number of
 * threads as the plain calls. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

enum { N = 37, T = 4, IN = PARALLEL_INPUT_SIZE, P = PARALLEL_N_PARAMS };

static double X[N * IN], Y[N * T];

static void make_data(void) {
  rnnc_rng rng;
  rnnc_rng_seed(&rng, 7);
  for (size_t i = 0; i < sizeof X / sizeof *X; ++i)
    X[i] = 2 * rnnc_rng_uniform(&rng) - 1;
  for (size_t i = 0; i < sizeof Y / sizeof *Y; ++i)
    Y[i] = (double)rnnc_rng_below(&rng, 3);
}

static rnnc_fit_options options(int epochs, int batch_size, int micro, int threads) {
  rnnc_fit_options o = rnnc_fit_defaults();
  o.epochs = epochs;
  o.batch_size = batch_size;
  o.micro_batch = micro;
  o.threads = threads;
  o.verbose = 0;
  o.seed = 5;
  return o;
}

/* Trains from the same weights; the weights and the history's values. */
static void train(const rnnc_fit_options *o, parallel_params *p, double *values) {
  rnnc_history h = {0};
  char err[512];
  parallel_init(p, 3);
  int rc = rnnc_fit_history(&parallel_model, p, X, Y, N, o, NULL, &h, err, sizeof err);
  if (rc != 0)
    fail_msg("%s", err);
  memcpy(values, h.values, sizeof(double) * (size_t)(h.n_epochs * h.n_series));
  rnnc_history_free(&h);
}

/* 3 epochs of 37 samples in batches of 16 cut into micro-batches of 3:
 * steps of 6 micro-batches (the last of 5 samples: 2), on 1 to 7 threads. */
static void test_threads_bit_identical(void **state) {
  (void)state;
  static parallel_params one, many;
  double v1[3 * 2], vn[3 * 2];
  rnnc_fit_options o = options(3, 16, 3, 1);
  o.validation_split = 0; /* the whole set trains */
  train(&o, &one, v1);
  for (int threads = 0; threads <= 7; ++threads) {
    o.threads = threads;
    train(&o, &many, vn);
    assert_memory_equal(&one, &many, sizeof one);
    assert_memory_equal(v1, vn, sizeof v1);
  }
  /* the micro-batch is what the result depends on */
  o.micro_batch = 4;
  train(&o, &many, vn);
  assert_true(memcmp(&one, &many, sizeof one) != 0);
}

/* A batch larger than the unit's (20 > 8) is cut into the unit's batches
 * by default: 8, 8, 4, the same with threads. */
static void test_unit_batch_chunks(void **state) {
  (void)state;
  static parallel_params one, many;
  double v1[2 * 4], vn[2 * 4];
  rnnc_fit_options o = options(2, 20, 0, 0);
  o.validation_split = 0.2;
  train(&o, &one, v1);
  o.threads = 3;
  train(&o, &many, vn);
  assert_memory_equal(&one, &many, sizeof one);
  assert_memory_equal(v1, vn, sizeof v1);
}

/* One step, by hand: the micro-batches' gradients weighted by their share
 * and added left to right, then the model's update; fit on 1 and 3 threads
 * must give exactly these weights. */
static void test_step_by_hand(void **state) {
  (void)state;
  static parallel_params p, q, g, sum;
  static parallel_scratch s;
  double ypred[8 * T * 3], slots[2 * P] = {0};
  const int count = 11, micro = 3, sizes[4] = {3, 3, 3, 2};
  parallel_init(&q, 3);
  assert_int_equal(parallel_set_steps(&s, T), 0);
  double loss = 0;
  for (int i = 0, first = 0; i < 4; first += sizes[i], ++i) {
    double w = (double)sizes[i] / count;
    loss +=
        w * parallel_loss_grad(&q, &s, X + first * IN, Y + first * T, &g, NULL, ypred, sizes[i]);
    for (int j = 0; j < P; ++j)
      sum.flat[j] = i == 0 ? w * g.flat[j] : sum.flat[j] + w * g.flat[j];
  }
  rnnc_optimizer_apply_f64(&parallel_model.optimizer, q.flat, sum.flat, slots, P, 1,
                           parallel_model.tensors, parallel_model.n_tensors);
  for (int threads = 1; threads <= 3; threads += 2) {
    rnnc_fit_options o = options(1, count, micro, threads);
    o.shuffle = 0;
    rnnc_history h = {0};
    char err[512];
    parallel_init(&p, 3);
    assert_int_equal(
        rnnc_fit_history(&parallel_model, &p, X, Y, count, &o, NULL, &h, err, sizeof err), 0);
    assert_memory_equal(&p, &q, sizeof p);
    assert_true(rnnc_history_value(&h, "loss", 0) == loss);
    rnnc_history_free(&h);
  }
}

/* evaluate() on threads: the same loss and accuracy bytes. */
static void test_evaluate_threads(void **state) {
  (void)state;
  static parallel_params p;
  parallel_init(&p, 9);
  rnnc_logs a, b;
  char err[512];
  rnnc_fit_options o = options(1, 16, 2, 1);
  assert_int_equal(rnnc_evaluate(&parallel_model, &p, X, Y, N, &o, &a, err, sizeof err), 0);
  o.threads = 4;
  assert_int_equal(rnnc_evaluate(&parallel_model, &p, X, Y, N, &o, &b, err, sizeof err), 0);
  assert_memory_equal(a.values, b.values, sizeof(double) * (size_t)a.count);
}

/* predict and many streams: the bytes of the plain calls. */
static void test_predict_and_streams(void **state) {
  (void)state;
  static parallel_params p;
  static parallel_scratch s;
  static double y1[N * PARALLEL_OUTPUT_SIZE], yn[N * PARALLEL_OUTPUT_SIZE];
  char err[256];
  parallel_init(&p, 4);
  assert_int_equal(parallel_set_steps(&s, T), 0);
  for (int first = 0; first < N; first += PARALLEL_BATCH)
    parallel_forward(&p, &s, X + first * IN, y1 + first * PARALLEL_OUTPUT_SIZE,
                     N - first < PARALLEL_BATCH ? N - first : PARALLEL_BATCH);
  for (int threads = 1; threads <= 5; ++threads) {
    memset(yn, 0, sizeof yn);
    assert_int_equal(rnnc_predict(&parallel_model, &p, X, yn, N, 0, threads, err, sizeof err), 0);
    assert_memory_equal(y1, yn, sizeof y1);
  }
  /* N streams, T steps each: the bytes of stream_step on each stream, and
   * (to rounding) the rows of forward */
  static parallel_stream st[N], one[N];
  double xt[N * 3], yt[N * 3], y[3];
  rnnc_pool *pool = rnnc_pool_new(3);
  assert_non_null(pool);
  assert_int_equal(rnnc_pool_threads(pool), 3);
  for (int i = 0; i < N; ++i) {
    parallel_stream_reset(&st[i]);
    parallel_stream_reset(&one[i]);
  }
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < N; ++i)
      memcpy(xt + i * 3, X + i * IN + t * 3, sizeof(double) * 3);
    rnnc_stream_step_many(&parallel_model, &p, st, xt, yt, N, pool);
    for (int i = 0; i < N; ++i) {
      parallel_stream_step(&p, &one[i], xt + i * 3, y);
      assert_memory_equal(yt + i * 3, y, sizeof y);
      for (int c = 0; c < 3; ++c)
        assert_true(fabs(yt[i * 3 + c] - y1[i * PARALLEL_OUTPUT_SIZE + t * 3 + c]) <= 1e-12);
    }
  }
  assert_memory_equal(st, one, sizeof st);
  rnnc_pool_free(pool);
}

static void test_bad_micro_batch(void **state) {
  (void)state;
  static parallel_params p;
  char err[512];
  rnnc_fit_options o = options(1, 16, PARALLEL_BATCH + 1, 2);
  parallel_init(&p, 3);
  assert_int_equal(rnnc_fit(&parallel_model, &p, X, Y, N, &o, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "micro_batch 9 is outside 1..8"));
}

int main(void) {
  make_data();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_bit_identical), cmocka_unit_test(test_unit_batch_chunks),
      cmocka_unit_test(test_step_by_hand),          cmocka_unit_test(test_evaluate_threads),
      cmocka_unit_test(test_predict_and_streams),   cmocka_unit_test(test_bad_micro_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
