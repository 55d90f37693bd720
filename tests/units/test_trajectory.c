/* 100 optimizer steps of every optimizer on a generated float64 unit and on
 * the reference runtime, from the same weights and data: the trajectories
 * must agree to 1e-12 (relative to the largest weight) at every step. The
 * generated unit's gradients and the reference's come from independent code;
 * the update rule is the runtime's for both. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "rnnc_ref.h"
#include "trajectory.h"

enum { N = 6, STEPS = 100 };

static double max_rel(const double *a, const double *b, size_t n) {
  double d = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    d = fmax(d, fabs(a[i] - b[i]));
    scale = fmax(scale, fabs(b[i]));
  }
  return d / scale;
}

static void run(const rnnc_optimizer *opt) {
  static trajectory_params p, grad;
  static trajectory_scratch s;
  static double pr[TRAJECTORY_N_PARAMS], gr[TRAJECTORY_N_PARAMS];
  static double slots[4 * TRAJECTORY_N_PARAMS], slots_r[4 * TRAJECTORY_N_PARAMS];
  double x[N * TRAJECTORY_INPUT_SIZE], y[N * TRAJECTORY_TARGET_SIZE];
  char err[256];
  rnnc_rng rng;
  rnnc_rng_seed(&rng, 11);
  for (size_t i = 0; i < sizeof x / sizeof *x; ++i)
    x[i] = 2 * rnnc_rng_uniform(&rng) - 1;
  for (size_t i = 0; i < sizeof y / sizeof *y; ++i)
    y[i] = rnnc_rng_normal(&rng);
  trajectory_init(&p, 5);
  memcpy(pr, p.flat, sizeof pr);
  memset(slots, 0, sizeof slots);
  memset(slots_r, 0, sizeof slots_r);
  assert_true(rnnc_optimizer_slots(opt, TRAJECTORY_N_PARAMS) <= 4 * TRAJECTORY_N_PARAMS);
  rnnc_ref *ref = rnnc_ref_new(trajectory_model.spec, err, sizeof err);
  assert_non_null(ref);
  double worst = 0;
  for (long step = 1; step <= STEPS; ++step) {
    double l = trajectory_loss_grad(&p, &s, x, y, &grad, NULL, NULL, N);
    double lr = rnnc_ref_loss_grad(ref, pr, x, y, N, gr, NULL, NULL);
    assert_true(fabs(l - lr) <= 1e-12 * fabs(lr));
    rnnc_optimizer_apply_f64(opt, p.flat, grad.flat, slots, TRAJECTORY_N_PARAMS, step,
                             trajectory_model.tensors, trajectory_model.n_tensors);
    rnnc_optimizer_apply_f64(opt, pr, gr, slots_r, TRAJECTORY_N_PARAMS, step,
                             trajectory_model.tensors, trajectory_model.n_tensors);
    double e = max_rel(p.flat, pr, TRAJECTORY_N_PARAMS);
    worst = fmax(worst, e);
    if (!(e <= 1e-12))
      fail_msg("optimizer kind %d: step %ld: weights differ by %.3e relative", (int)opt->kind, step,
               e);
  }
  /* the optimizer did move the weights */
  trajectory_params start;
  trajectory_init(&start, 5);
  assert_true(max_rel(p.flat, start.flat, TRAJECTORY_N_PARAMS) > 1e-4);
  print_message("optimizer kind %d: worst relative difference over %d steps %.3e\n", (int)opt->kind,
                STEPS, worst);
  rnnc_ref_free(ref);
}

static void test_sgd(void **state) {
  (void)state;
  rnnc_optimizer o = rnnc_optimizer_default(RNNC_OPT_SGD);
  run(&o);
  o.momentum = 0.9;
  o.nesterov = 1;
  o.clipnorm = 0.5;
  run(&o);
}

static void test_rmsprop(void **state) {
  (void)state;
  rnnc_optimizer o = rnnc_optimizer_default(RNNC_OPT_RMSPROP);
  run(&o);
  o.momentum = 0.5;
  o.centered = 1;
  o.clipvalue = 0.1;
  run(&o);
}

static void test_adam(void **state) {
  (void)state;
  rnnc_optimizer o = rnnc_optimizer_default(RNNC_OPT_ADAM);
  run(&o);
  o.amsgrad = 1;
  o.global_clipnorm = 1;
  o.decay_steps = 10;
  o.decay_rate = 0.9;
  run(&o);
}

static void test_adamw_adagrad(void **state) {
  (void)state;
  rnnc_optimizer o = rnnc_optimizer_default(RNNC_OPT_ADAMW);
  run(&o);
  o = rnnc_optimizer_default(RNNC_OPT_ADAGRAD);
  o.learning_rate = 0.05;
  run(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sgd),
      cmocka_unit_test(test_rmsprop),
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_adamw_adagrad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
