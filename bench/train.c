/* Training-step benchmark, one process per model: forward, loss, backward
 * and one Adam update on a fixed batch, for
 *   generated  the unit's NAME_train_step (float32),
 *   reference  rnnc_ref_loss_grad (double) + rnnc_optimizer_step_f64 with the
 *              unit's optimizer,
 *   pytorch    the equivalent torch model of bench/torch_peer.py, the same
 *              loss, torch.optim.Adam (epsilon 1e-7).
 * All load the same safetensors file (weights of the unit's Keras
 * initialisation, seed 1, and the batch); the loss and every gradient are
 * checked against the reference before anything is timed.
 *
 * Built by bench/run.sh with -DUNIT=<name> -DUNIT_HEADER='"<name>.h"'; the
 * batch is the unit's (--batch).
 * usage: train CASE FILE.safetensors [PYTHON TORCH_PEER.py]
 * CASE names the torch model (seed12, seed13, seed14, lstm128). Prints a
 * Markdown row tagged "ROW train", and with BENCH_FWDBWD=1 also times the
 * forward + backward passes alone (NAME_loss_grad; torch without the update)
 * and the forward pass alone (NAME_forward; torch's forward and loss,
 * recording for autograd as in training) and prints
 * "FWDBWD <generated fwd+bwd ns> <generated fwd ns> <pytorch fwd+bwd ns>
 * <pytorch fwd ns>" (PyTorch's 0 without it). */
#include "bench.h"

#include "rnnc.h"
#include "rnnc_ref.h"
#include UNIT_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define UNIT_(suffix) CAT(UNIT, suffix)
typedef UNIT_(_params) unit_params;
typedef UNIT_(_optimizer) unit_optimizer;
typedef UNIT_(_scratch) unit_scratch;

static volatile double sink;
static const rnnc_model *model = &UNIT_(_model);

typedef struct {
  unit_params *params;
  unit_optimizer *opt;
  unit_scratch *scratch;
  unit_params *grad;
  const float *x, *target;
  float *y;
  int n;
} gen_ctx;

static double gen_step_run(void *ctx, long reps) {
  gen_ctx *g = ctx;
  double acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k)
    acc += UNIT_(_train_step)(g->params, g->opt, g->scratch, g->x, g->target, NULL, g->n);
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}

static double gen_fwdbwd_run(void *ctx, long reps) {
  gen_ctx *g = ctx;
  double acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k)
    acc += UNIT_(_loss_grad)(g->params, g->scratch, g->x, g->target, g->grad, NULL, NULL, g->n);
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}

static double gen_forward_run(void *ctx, long reps) {
  gen_ctx *g = ctx;
  double acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k) {
    UNIT_(_forward)(g->params, g->scratch, g->x, g->y, g->n);
    acc += g->y[0];
  }
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}

typedef struct {
  rnnc_ref *m;
  double *params, *grad, *slots;
  const double *x, *target;
  long step;
  int n;
} ref_ctx;

static double ref_step_run(void *ctx, long reps) {
  ref_ctx *r = ctx;
  double acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k) {
    acc += rnnc_ref_loss_grad(r->m, r->params, r->x, r->target, r->n, r->grad, NULL, NULL);
    rnnc_optimizer_step_f64(&model->optimizer, r->params, r->grad, r->slots, model->n_params,
                            ++r->step);
  }
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}

/* Every buffer at a cache line (rnnc_alloc), as the runtime places a unit's:
 * the same for the generated code and the reference runtime. */
static void *alloc(size_t count, size_t size) {
  void *p = rnnc_alloc((count ? count : 1) * size);
  if (!p)
    bench_die("out of memory");
  return p;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: %s CASE FILE.safetensors [PYTHON TORCH_PEER.py]\n", argv[0]);
    return 2;
  }
  const char *case_name = argv[1], *path = argv[2];
  const double tol = bench_env_double("BENCH_TOL", 1e-4);
  const int rounds = bench_env_int("BENCH_ROUNDS", 7);
  const double block_ns = bench_env_double("BENCH_BLOCK_MS", 40) * 1e6;
  const int fwdbwd = bench_env_int("BENCH_FWDBWD", 0);
  const int n = model->batch;
  const size_t np = model->n_params;
  if (model->loss == RNNC_LOSS_NONE)
    bench_die("the model has no loss: give it compile { loss = ... }");

  /* The batch: inputs uniform in [-1, 1], targets class labels (sparse
   * crossentropy) or uniform reals. */
  rnnc_rng rng;
  rnnc_rng_seed(&rng, 2);
  size_t nx = (size_t)n * model->input_size, nt = (size_t)n * model->target_size;
  float *x = alloc(nx, sizeof *x), *target = alloc(nt, sizeof *target);
  for (size_t i = 0; i < nx; ++i)
    x[i] = (float)(2 * rnnc_rng_uniform(&rng) - 1);
  for (size_t i = 0; i < nt; ++i)
    target[i] = model->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
                    ? (float)rnnc_rng_below(&rng, model->output_cols)
                    : (float)(2 * rnnc_rng_uniform(&rng) - 1);

  /* One file: the unit's initial weights, then the batch. */
  unit_params *init = alloc(1, sizeof *init);
  UNIT_(_init)(init, 1);
  rnnc_tensor_ref *refs = alloc((size_t)model->n_tensors + 2, sizeof *refs);
  for (int i = 0; i < model->n_tensors; ++i) {
    refs[i].name = model->tensors[i].name;
    refs[i].rank = model->tensors[i].rank;
    memcpy(refs[i].shape, model->tensors[i].shape, sizeof refs[i].shape);
    refs[i].data = init->flat + model->tensors[i].offset;
  }
  rnnc_tensor_ref *xr = &refs[model->n_tensors], *tr = &refs[model->n_tensors + 1];
  *xr = (rnnc_tensor_ref){"bench/x", model->input_rank + 1, {n, 0, 0, 0}, x};
  for (int d = 0; d < model->input_rank && d + 1 < RNNC_MAX_RANK; ++d)
    xr->shape[d + 1] = model->input_shape[d];
  *tr = (rnnc_tensor_ref){"bench/target", 2, {n, (int)model->target_size, 0, 0}, target};
  char err[256];
  if (rnnc_safetensors_write(path, RNNC_F32, refs, model->n_tensors + 2, err, sizeof err) != 0)
    bench_die(err);

  /* Everyone loads it. */
  gen_ctx gen = {alloc(1, sizeof *gen.params),
                 alloc(1, sizeof *gen.opt),
                 alloc(1, sizeof *gen.scratch),
                 alloc(1, sizeof *gen.grad),
                 x,
                 target,
                 alloc((size_t)n * model->output_size, sizeof(float)),
                 n};
  if (rnnc_weights_load(path, model, gen.params, err, sizeof err) != 0)
    bench_die(err);
  ref_ctx ref = {rnnc_ref_new(model->spec, err, sizeof err),
                 alloc(np, sizeof(double)),
                 alloc(np, sizeof(double)),
                 alloc(rnnc_optimizer_slots(&model->optimizer, np), sizeof(double)),
                 NULL,
                 NULL,
                 0,
                 n};
  if (!ref.m)
    bench_die(err);
  if (rnnc_ref_n_params(ref.m) != np)
    bench_die("the reference and the unit disagree on the parameter count");
  for (int i = 0; i < model->n_tensors; ++i) {
    const rnnc_tensor_desc *t = &model->tensors[i];
    rnnc_tensor_dest d = {t->name, t->rank, {0}, ref.params + t->offset};
    memcpy(d.shape, t->shape, sizeof d.shape);
    if (rnnc_safetensors_read(path, RNNC_F64, &d, 1, err, sizeof err) != 0)
      bench_die(err);
  }
  double *xd = alloc(nx, sizeof *xd), *td = alloc(nt, sizeof *td);
  for (size_t i = 0; i < nx; ++i)
    xd[i] = x[i];
  for (size_t i = 0; i < nt; ++i)
    td[i] = target[i];
  ref.x = xd;
  ref.target = td;

  bench_peer peer = {0};
  int have_torch = argc == 5;
  if (have_torch) {
    char *peer_argv[] = {argv[3], argv[4], "train", (char *)case_name, (char *)path, NULL};
    if (bench_peer_start(&peer, peer_argv) != 0 || !bench_peer_ask(&peer, "ready"))
      bench_die("cannot start the PyTorch peer");
  }

  /* Verification: loss and gradient at the initial weights ([loss, grad...]). */
  double *v_ref = alloc(np + 1, sizeof *v_ref), *v_gen = alloc(np + 1, sizeof *v_gen),
         *v_torch = alloc(np + 1, sizeof *v_torch);
  v_ref[0] = rnnc_ref_loss_grad(ref.m, ref.params, xd, td, n, v_ref + 1, NULL, NULL);
  v_gen[0] = UNIT_(_loss_grad)(gen.params, gen.scratch, x, target, gen.grad, NULL, NULL, n);
  for (size_t i = 0; i < np; ++i)
    v_gen[1 + i] = gen.grad->flat[i];
  double dl_gen = fabs(v_gen[0] - v_ref[0]) / fabs(v_ref[0]);
  double dg_gen = bench_reldiff_f64(v_gen + 1, v_ref + 1, np);
  double dl_torch = 0, dg_torch = 0;
  if (have_torch) {
    char cmd[1200], out_path[1024];
    snprintf(out_path, sizeof out_path, "%s.torch.f64", path);
    snprintf(cmd, sizeof cmd, "verify %s", out_path);
    if (!bench_peer_ask(&peer, cmd) || bench_read_f64(out_path, v_torch, np + 1) != 0)
      bench_die("the PyTorch peer did not answer the verification (or not np + 1 values)");
    dl_torch = fabs(v_torch[0] - v_ref[0]) / fabs(v_ref[0]);
    dg_torch = bench_reldiff_f64(v_torch + 1, v_ref + 1, np);
  }
  fprintf(stderr,
          "%s (batch %d, %zu params): loss %.6g; rel diff vs reference: generated loss %.2g grad "
          "%.2g",
          case_name, n, np, v_ref[0], dl_gen, dg_gen);
  if (have_torch)
    fprintf(stderr, ", pytorch loss %.2g grad %.2g", dl_torch, dg_torch);
  fprintf(stderr, " (tolerance %g)\n", tol);
  double worst_gen = fmax(dl_gen, dg_gen), worst_torch = fmax(dl_torch, dg_torch);
  if (!(worst_gen <= tol) || !(worst_torch <= tol)) {
    printf("ROW train | %s | %d | %zu | MISMATCH: rel diff generated %.2g, pytorch %.2g (tolerance "
           "%g) | | | | | | |\n",
           case_name, n, np, worst_gen, worst_torch, tol);
    if (have_torch)
      bench_peer_stop(&peer);
    return 1;
  }

  bench_peer_block torch_step = {&peer, "step"}, torch_fwdbwd = {&peer, "fwdbwd"},
                   torch_fwd = {&peer, "fwd"};
  bench_impl impls[BENCH_MAX_IMPLS];
  int n_impls = 0;
  impls[n_impls++] = (bench_impl){"generated", gen_step_run, &gen, 0, {0}, 0, 0, 0, 0, 0};
  impls[n_impls++] = (bench_impl){"reference", ref_step_run, &ref, 0, {0}, 0, 0, 0, 0, 0};
  int i_torch = -1, i_gen_fb = -1, i_gen_f = -1, i_torch_fb = -1, i_torch_f = -1;
  if (have_torch) {
    i_torch = n_impls;
    impls[n_impls++] = (bench_impl){"pytorch", bench_peer_run, &torch_step, 0, {0}, 0, 0, 0, 0, 0};
  }
  if (fwdbwd) {
    i_gen_fb = n_impls;
    impls[n_impls++] =
        (bench_impl){"generated fwd+bwd", gen_fwdbwd_run, &gen, 0, {0}, 0, 0, 0, 0, 0};
    i_gen_f = n_impls;
    impls[n_impls++] = (bench_impl){"generated fwd", gen_forward_run, &gen, 0, {0}, 0, 0, 0, 0, 0};
    if (have_torch) {
      i_torch_fb = n_impls;
      impls[n_impls++] =
          (bench_impl){"pytorch fwd+bwd", bench_peer_run, &torch_fwdbwd, 0, {0}, 0, 0, 0, 0, 0};
      i_torch_f = n_impls;
      impls[n_impls++] =
          (bench_impl){"pytorch fwd", bench_peer_run, &torch_fwd, 0, {0}, 0, 0, 0, 0, 0};
    }
  }
  for (int i = 0; i < n_impls; ++i)
    bench_calibrate(&impls[i], block_ns);
  bench_interleave(impls, n_impls, rounds);
  if (have_torch)
    bench_peer_stop(&peer);

  char c[3][64], r[2][32], dt[64] = "-";
  double g = impls[0].median;
  if (have_torch)
    snprintf(dt, sizeof dt, "%.1e / %.1e", dl_torch, dg_torch);
  printf("ROW train | %s | %d | %zu | %s | %s | %s | %s | %s | %.1e / %.1e | %s |\n", case_name, n,
         np, bench_cell(c[0], sizeof c[0], &impls[0], 1e3),
         bench_cell(c[1], sizeof c[1], &impls[1], 1e3),
         have_torch ? bench_cell(c[2], sizeof c[2], &impls[i_torch], 1e3) : "skipped",
         bench_ratio(r[0], sizeof r[0], impls[1].median / g),
         have_torch ? bench_ratio(r[1], sizeof r[1], impls[i_torch].median / g) : "-", dl_gen,
         dg_gen, dt);
  if (fwdbwd)
    printf("FWDBWD %.0f %.0f %.0f %.0f\n", impls[i_gen_fb].median, impls[i_gen_f].median,
           i_torch_fb >= 0 ? impls[i_torch_fb].median : 0.0,
           i_torch_f >= 0 ? impls[i_torch_f].median : 0.0);
  return 0;
}
