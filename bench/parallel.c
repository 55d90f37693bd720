/* Data-parallel training on threads (part 5 of make bench): rnnc_fit steps
 * of the LSTM(128) case (batch 32, Adam) on
 *   1 thread, micro-batch 32   the whole batch in one loss_grad call
 *   1 thread, micro-batch 16   two calls, their gradients summed in order
 *   2 threads, micro-batch 16  the same two calls at once
 * each rnnc_fit call running 30 steps (PAR_STEPS)
 * The last two must leave the same bytes (checked before timing). Timed by
 * the wall clock (what a user waits for), each block's process CPU time kept
 * too (what the threads cost): the machine is shared, and a speed-up of the
 * wall clock is only there when the second core is free. Not pinned: the
 * run needs both cores (bench/run.sh gives it `taskset -c 0,1`).
 *
 * Built by bench/run.sh with -DUNIT=<name> -DUNIT_HEADER='"<name>.h"'.
 * usage: parallel  (prints "ROW parallel" rows and "STEP_NS <1 thread M=32>") */
#include "bench.h"

#include "rnnc.h"
#include UNIT_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define UNIT_(suffix) CAT(UNIT, suffix)
typedef UNIT_(_params) unit_params;
static const rnnc_model *model = &UNIT_(_model);

typedef struct {
  int threads, micro;
  unit_params *params;
  const float *x, *y;
  int n;
  double cpu_ns, wall_ns; /* of every block, for CPU / wall */
  long steps;
} par_ctx;

static double cpu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double wall_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Steps per timed unit: each rnnc_fit call allocates its scratch (17.5 MB
 * for this batch), and first touching it costs page faults that on a
 * virtual machine took longer than the step itself (one step per call:
 * 89 ms, against 8 ms for a step of a longer fit); a user's fit runs many
 * steps per call, so the bench amortises the call over 30. */
#define PAR_STEPS 30

/* `reps` units of PAR_STEPS steps: one fit of reps * PAR_STEPS epochs of one
 * batch */
static double par_run(void *ctx, long reps) {
  par_ctx *c = ctx;
  rnnc_fit_options o = rnnc_fit_defaults();
  char err[512];
  reps *= PAR_STEPS;
  o.epochs = (int)reps;
  o.batch_size = c->n;
  o.micro_batch = c->micro;
  o.threads = c->threads;
  o.shuffle = 0;
  o.verbose = 0;
  o.metrics = "";
  double c0 = cpu_now_ns(), t0 = wall_now_ns();
  if (rnnc_fit(model, c->params, c->x, c->y, (size_t)c->n, &o, NULL, NULL, err, sizeof err) != 0)
    bench_die(err);
  double t1 = wall_now_ns(), c1 = cpu_now_ns();
  c->cpu_ns += c1 - c0;
  c->wall_ns += t1 - t0;
  c->steps += reps;
  return t1 - t0;
}

int main(void) {
  int n = model->batch;
  static unit_params p[3], check[2];
  float *x = malloc((size_t)n * model->input_size * sizeof *x);
  float *y = malloc((size_t)n * model->target_size * sizeof *y);
  if (!x || !y)
    bench_die("out of memory");
  rnnc_rng rng;
  rnnc_rng_seed(&rng, 3);
  for (size_t i = 0; i < (size_t)n * model->input_size; ++i)
    x[i] = (float)(2 * rnnc_rng_uniform(&rng) - 1);
  for (size_t i = 0; i < (size_t)n * model->target_size; ++i)
    y[i] = (float)rnnc_rng_below(&rng, model->output_cols);
  par_ctx ctx[3] = {{1, n, &p[0], x, y, n, 0, 0, 0},
                    {1, n / 2, &p[1], x, y, n, 0, 0, 0},
                    {2, n / 2, &p[2], x, y, n, 0, 0, 0}};
  const char *names[3] = {"1 thread, micro-batch 32", "1 thread, micro-batch 16",
                          "2 threads, micro-batch 16"};
  /* verification: 30 steps from the same weights, 1 and 2 threads */
  for (int k = 0; k < 2; ++k) {
    par_ctx v = ctx[1 + k];
    UNIT_(_init)(&check[k], 1);
    v.params = &check[k];
    par_run(&v, 1);
  }
  if (memcmp(&check[0], &check[1], sizeof check[0]) != 0)
    bench_die("MISMATCH: 2 threads did not give the bytes of 1 thread");
  bench_impl impls[3];
  for (int k = 0; k < 3; ++k) {
    UNIT_(_init)(&p[k], 1);
    impls[k] = (bench_impl){.name = names[k], .run = par_run, .ctx = &ctx[k]};
    bench_calibrate(&impls[k], 1e6 * bench_env_double("BENCH_BLOCK_MS", 40));
  }
  for (int k = 0; k < 3; ++k)
    ctx[k].cpu_ns = ctx[k].wall_ns = 0, ctx[k].steps = 0;
  bench_interleave(impls, 3, bench_env_int("BENCH_ROUNDS", 7));
  char cell[64], r1[32], r2[32];
  for (int k = 0; k < 3; ++k)
    printf("ROW parallel | %s | %s | %.1f | %.2f | %s | %s |\n", names[k],
           bench_cell(cell, sizeof cell, &impls[k], 1e6 * PAR_STEPS),
           ctx[k].cpu_ns / ctx[k].steps / 1e6, ctx[k].cpu_ns / ctx[k].wall_ns,
           bench_ratio(r1, sizeof r1, impls[0].median / impls[k].median),
           bench_ratio(r2, sizeof r2, impls[1].median / impls[k].median));
  printf("STEP_NS %.0f\n", impls[0].median / PAR_STEPS);
  free(x);
  free(y);
  return 0;
}
