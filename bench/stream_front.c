/* Streaming benchmark of a convolutional front end (bench/run.sh, part 5):
 * bench/models/conv_gru_stream.lua, a causal dilated Conv1D stack -> GRU(32)
 * -> Dense(1), batch 1, one timestep per call, for
 *   generated  the unit's NAME_stream_step (float32): each causal Conv1D
 *              keeps its receptive field in a ring buffer of the stream struct,
 *   forward/T  the unit's whole-sequence NAME_forward over its T steps,
 *              divided by T: what recomputing instead of streaming costs per
 *              step when a whole window is at hand anyway (a lower bound on
 *              recomputing a sliding window at every step),
 *   pytorch    bench/torch_front_peer.py: nn.Conv1d over a shifted window per
 *              layer, nn.GRU on one step with the carried h, nn.Linear.
 * Verification: the stream over the unit's T steps from a zero state against
 * the reference runtime's whole-sequence forward (double) on the same input;
 * PyTorch's stream likewise.
 *
 * Built by bench/run.sh with -DUNIT=<name> -DUNIT_HEADER='"<name>.h"'.
 * usage: stream_front WEIGHTS.safetensors [PYTHON TORCH_FRONT_PEER.py]
 * Prints one Markdown row tagged "ROW stream_front". */
#include "bench.h"

#include "rnnc.h"
#include "rnnc_ref.h"
#include UNIT_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define UNIT_(suffix) CAT(UNIT, suffix)
typedef UNIT_(_params) unit_params;
typedef UNIT_(_stream) unit_stream;
typedef UNIT_(_scratch) unit_scratch;

static const rnnc_model *model = &UNIT_(_model);
static volatile float sink;

/* The input signal: the unit's T steps, cycled by the stream. */
static float *input_signal;
static int n_signal;

typedef struct {
  unit_params params;
  unit_stream stream;
  unit_scratch scratch;
  float *y;
} gen_ctx;

static double gen_stream_run(void *ctx, long reps) {
  gen_ctx *g = ctx;
  float y, acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k) {
    UNIT_(_stream_step)(&g->params, &g->stream, &input_signal[k % n_signal], &y);
    acc += y;
  }
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}

/* One unit of work = one timestep: a whole forward every n_signal units. */
static double gen_forward_run(void *ctx, long reps) {
  gen_ctx *g = ctx;
  float acc = 0;
  long calls = (reps + n_signal - 1) / n_signal;
  double t0 = bench_now_ns();
  for (long k = 0; k < calls; ++k) {
    UNIT_(_forward)(&g->params, &g->scratch, input_signal, g->y, 1);
    acc += g->y[0];
  }
  double t1 = bench_now_ns();
  sink = acc;
  return (t1 - t0) * (double)reps / (double)(calls * n_signal);
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 4) {
    fprintf(stderr, "usage: %s WEIGHTS.safetensors [PYTHON TORCH_FRONT_PEER.py]\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  const double tol = bench_env_double("BENCH_TOL", 1e-4);
  const int rounds = bench_env_int("BENCH_ROUNDS", 7);
  const double block_ns = bench_env_double("BENCH_BLOCK_MS", 40) * 1e6;
  if (model->stream_input_size != 1 || model->stream_output_size != 1 || model->input_rank != 2 ||
      model->input_shape[1] != 1 || (int)model->output_size != model->input_shape[0])
    bench_die("the unit does not stream one input to one output at every step");
  n_signal = model->input_shape[0];

  /* The unit's Keras initialisation (seed 1) and the input signal, in one
   * file that every implementation loads. */
  static gen_ctx gen;
  input_signal = calloc((size_t)n_signal, sizeof *input_signal);
  gen.y = calloc((size_t)n_signal, sizeof *gen.y);
  double *x_ref = calloc((size_t)n_signal, sizeof *x_ref),
         *y_ref = calloc((size_t)n_signal, sizeof *y_ref),
         *y_gen = calloc((size_t)n_signal, sizeof *y_gen),
         *y_torch = calloc((size_t)n_signal, sizeof *y_torch),
         *params_ref = calloc(model->n_params, sizeof *params_ref);
  rnnc_tensor_ref *refs = calloc((size_t)model->n_tensors + 1, sizeof *refs);
  if (!input_signal || !gen.y || !x_ref || !y_ref || !y_gen || !y_torch || !params_ref || !refs)
    bench_die("out of memory");
  for (int k = 0; k < n_signal; ++k) {
    input_signal[k] = (float)(sin(0.05 * k) + 0.5 * sin(0.31 * k + 1.0));
    x_ref[k] = input_signal[k];
  }
  static unit_params init;
  UNIT_(_init)(&init, 1);
  for (int i = 0; i < model->n_tensors; ++i) {
    refs[i].name = model->tensors[i].name;
    refs[i].rank = model->tensors[i].rank;
    memcpy(refs[i].shape, model->tensors[i].shape, sizeof refs[i].shape);
    refs[i].data = init.flat + model->tensors[i].offset;
  }
  refs[model->n_tensors] = (rnnc_tensor_ref){"bench/x", 2, {n_signal, 1, 0, 0}, input_signal};
  char err[256];
  if (rnnc_safetensors_write(path, RNNC_F32, refs, model->n_tensors + 1, err, sizeof err) != 0)
    bench_die(err);
  if (rnnc_weights_load(path, model, &gen.params, err, sizeof err) != 0)
    bench_die(err);
  for (int i = 0; i < model->n_tensors; ++i) {
    const rnnc_tensor_desc *t = &model->tensors[i];
    rnnc_tensor_dest d = {t->name, t->rank, {0}, params_ref + t->offset};
    memcpy(d.shape, t->shape, sizeof d.shape);
    if (rnnc_safetensors_read(path, RNNC_F64, &d, 1, err, sizeof err) != 0)
      bench_die(err);
  }
  rnnc_ref *ref = rnnc_ref_new(model->spec, err, sizeof err);
  if (!ref)
    bench_die(err);
  if (rnnc_ref_forward(ref, params_ref, x_ref, 1, y_ref) != 0)
    bench_die("reference runtime: out of memory");

  bench_peer peer = {0};
  int have_torch = argc == 4;
  if (have_torch) {
    char *peer_argv[] = {argv[2], argv[3], "stream", "conv_gru", (char *)path, NULL};
    if (bench_peer_start(&peer, peer_argv) != 0 || !bench_peer_ask(&peer, "ready"))
      bench_die("cannot start the PyTorch peer");
  }

  /* Verification: the stream over the T steps equals the whole-sequence forward. */
  UNIT_(_stream_reset)(&gen.stream);
  for (int k = 0; k < n_signal; ++k) {
    float y;
    UNIT_(_stream_step)(&gen.params, &gen.stream, &input_signal[k], &y);
    y_gen[k] = y;
  }
  UNIT_(_forward)(&gen.params, &gen.scratch, input_signal, gen.y, 1);
  double *y_fwd = calloc((size_t)n_signal, sizeof *y_fwd);
  if (!y_fwd)
    bench_die("out of memory");
  for (int k = 0; k < n_signal; ++k)
    y_fwd[k] = gen.y[k];
  double d_gen = bench_reldiff_f64(y_gen, y_ref, (size_t)n_signal);
  double d_fwd = bench_reldiff_f64(y_fwd, y_ref, (size_t)n_signal);
  double d_torch = 0;
  if (have_torch) {
    char cmd[1200], out_path[1024];
    snprintf(out_path, sizeof out_path, "%s.torch.f64", path);
    snprintf(cmd, sizeof cmd, "verify %d %s", n_signal, out_path);
    if (!bench_peer_ask(&peer, cmd) || bench_read_f64(out_path, y_torch, (size_t)n_signal) != 0)
      bench_die("the PyTorch peer did not answer the verification");
    d_torch = bench_reldiff_f64(y_torch, y_ref, (size_t)n_signal);
  }
  double scale = 0;
  for (int k = 0; k < n_signal; ++k)
    scale = fmax(scale, fabs(y_ref[k]));
  fprintf(stderr,
          "%s: max |y| %.3g over %d steps; max rel diff vs reference: stream %.2g, forward %.2g",
          model->name, scale, n_signal, d_gen, d_fwd);
  if (have_torch)
    fprintf(stderr, ", pytorch %.2g", d_torch);
  fprintf(stderr, " (tolerance %g)\n", tol);
  if (!(scale > 1e-3) || !(d_gen <= tol) || !(d_fwd <= tol) || !(d_torch <= tol)) {
    printf("ROW stream_front | %s | %zu | MISMATCH: max rel diff stream %.2g, forward %.2g, "
           "pytorch %.2g (tolerance %g), max |y_ref| %.3g | | | | | |\n",
           model->name, model->n_params, d_gen, d_fwd, d_torch, tol, scale);
    if (have_torch)
      bench_peer_stop(&peer);
    return 1;
  }

  UNIT_(_stream_reset)(&gen.stream);
  bench_peer_block torch_block = {&peer, "step"};
  bench_impl impls[3] = {{"generated", gen_stream_run, &gen, 0, {0}, 0, 0, 0, 0, 0},
                         {"forward/T", gen_forward_run, &gen, 0, {0}, 0, 0, 0, 0, 0},
                         {"pytorch", bench_peer_run, &torch_block, 0, {0}, 0, 0, 0, 0, 0}};
  int n_impls = have_torch ? 3 : 2;
  for (int i = 0; i < n_impls; ++i)
    bench_calibrate(&impls[i], block_ns);
  bench_interleave(impls, n_impls, rounds);
  if (have_torch)
    bench_peer_stop(&peer);

  char c[3][64], r[2][32];
  double g = impls[0].median;
  printf("ROW stream_front | %s | %zu | %s | %s | %s | %s | %s | %.1e / %.1e / ", model->name,
         model->n_params, bench_cell(c[0], sizeof c[0], &impls[0], 1),
         bench_cell(c[1], sizeof c[1], &impls[1], 1),
         have_torch ? bench_cell(c[2], sizeof c[2], &impls[2], 1) : "skipped",
         bench_ratio(r[0], sizeof r[0], impls[1].median / g),
         have_torch ? bench_ratio(r[1], sizeof r[1], impls[2].median / g) : "-", d_gen, d_fwd);
  if (have_torch)
    printf("%.1e |\n", d_torch);
  else
    printf("- |\n");
  return 0;
}
