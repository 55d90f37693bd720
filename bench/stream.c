/* Streaming inference benchmark, one process per model: batch 1, one
 * timestep per call, the recurrent state carried between calls, for
 *   generated  the unit's NAME_stream_step (float32),
 *   reference  the reference runtime (double) on the cell alone at T = 1 with
 *              initial_state=1 and return_state=1, its states fed back, the
 *              Dense(1) in plain C,
 *   naive      bench/naive_cell.c (float32, compile-time H),
 *   eigen      bench/eigen_cell.cpp (float32, compile-time H, Eigen, fused
 *              [W U b] . [x h 1] as RTNeural's Eigen backend; built with
 *              -DHAVE_EIGEN when g++ and Eigen are there),
 *   pytorch    nn.LSTM / nn.GRU + nn.Linear stepped by bench/torch_peer.py.
 * All load the same safetensors file, are checked against the reference on
 * the same input before anything is timed, then timed in interleaved rounds.
 *
 * Built by bench/run.sh with -DUNIT=<name> -DUNIT_HEADER='"<name>.h"'
 * -DHIDDEN=<H> -DCELL_LSTM|-DCELL_GRU.
 * usage: stream WEIGHTS.safetensors [PYTHON TORCH_PEER.py]
 * Prints one Markdown row tagged "ROW stream". */
#include "bench.h"

#include "naive_cell.h"
#ifdef HAVE_EIGEN
#include "eigen_cell.h"
#endif
#include "rnnc.h"
#include "rnnc_ref.h"
#include UNIT_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define UNIT_(suffix) CAT(UNIT, suffix)
typedef UNIT_(_params) unit_params;
typedef UNIT_(_stream) unit_stream;

#if defined(CELL_LSTM)
#define CELL "lstm"
#define CELL_TITLE "LSTM"
#define N_STATES 2 /* h, c */
#define REF_LAYER                                                                                  \
  "layer LSTM lstm units=%d activation=tanh recurrent_activation=sigmoid use_bias=1 "              \
  "return_sequences=0 return_state=1 go_backwards=0 initial_state=1\n"
#else
#define CELL "gru"
#define CELL_TITLE "GRU"
#define N_STATES 1 /* h */
#define REF_LAYER                                                                                  \
  "layer GRU gru units=%d activation=tanh recurrent_activation=sigmoid use_bias=1 "                \
  "reset_after=1 return_sequences=0 return_state=1 go_backwards=0 initial_state=1\n"
#endif

/* The input signal: a fixed sequence every implementation reads cyclically. */
#define N_SIGNAL 1024
#define N_VERIFY 256
static float input_signal[N_SIGNAL];
static volatile float sink;

/* ------------------------------------------------------------ generated */
typedef struct {
  unit_params params;
  unit_stream stream;
} gen_ctx;

static double gen_run(void *ctx, long reps) {
  gen_ctx *g = ctx;
  float y, acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k) {
    UNIT_(_stream_step)(&g->params, &g->stream, &input_signal[k % N_SIGNAL], &y);
    acc += y;
  }
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}

/* ------------------------------------------------------------ naive */
typedef struct {
  naive_weights w;
  naive_state st;
} naive_ctx;

static double naive_run(void *ctx, long reps) {
  naive_ctx *n = ctx;
  float acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k)
    acc += naive_step(&n->w, &n->st, input_signal[k % N_SIGNAL]);
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}

/* ------------------------------------------------------------ eigen */
#ifdef HAVE_EIGEN
static double eigen_run(void *ctx, long reps) {
  eigen_cell *e = ctx;
  float acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k)
    acc += eigen_cell_step(e, input_signal[k % N_SIGNAL]);
  double t1 = bench_now_ns();
  sink = acc;
  return t1 - t0;
}
#endif

/* ------------------------------------------------------------ reference */
typedef struct {
  rnnc_ref *m;
  double *params; /* the whole model: the cell's tensors, then Dense's */
  const double *dense_kernel;
  double dense_bias;
  double *in, *out;          /* one sample: [x, h, (c)] and [output, h, (c)] */
  size_t in_state[N_STATES]; /* offsets of the states in `in` ... */
  size_t out_state[N_STATES];
} ref_ctx;

static void ref_reset(ref_ctx *r) {
  memset(r->in, 0, rnnc_ref_input_size(r->m) * sizeof *r->in);
}

static double ref_step(ref_ctx *r, double x) {
  r->in[0] = x;
  if (rnnc_ref_forward(r->m, r->params, r->in, 1, r->out) != 0)
    bench_die("reference runtime: out of memory");
  for (int s = 0; s < N_STATES; ++s)
    memcpy(r->in + r->in_state[s], r->out + r->out_state[s], HIDDEN * sizeof *r->in);
  double y = r->dense_bias;
  for (int j = 0; j < HIDDEN; ++j)
    y += r->out[r->out_state[0] + j] * r->dense_kernel[j];
  return y;
}

static double ref_run(void *ctx, long reps) {
  ref_ctx *r = ctx;
  double acc = 0;
  double t0 = bench_now_ns();
  for (long k = 0; k < reps; ++k)
    acc += ref_step(r, input_signal[k % N_SIGNAL]);
  double t1 = bench_now_ns();
  sink = (float)acc;
  return t1 - t0;
}

/* ------------------------------------------------------------ setup */
static const rnnc_tensor_desc *tensor(const char *name) {
  const rnnc_model *m = &UNIT_(_model);
  for (int i = 0; i < m->n_tensors; ++i)
    if (strcmp(m->tensors[i].name, name) == 0)
      return &m->tensors[i];
  fprintf(stderr, "bench: %s has no tensor %s\n", m->name, name);
  exit(2);
}

/* The unit's Keras initialisation (seed 1) and the input signal, written to
 * one file that every implementation then loads. */
static void write_weights(const char *path) {
  static unit_params init;
  const rnnc_model *m = &UNIT_(_model);
  UNIT_(_init)(&init, 1);
  rnnc_tensor_ref refs[RNNC_MAX_INPUTS + 16];
  if (m->n_tensors + 1 > (int)(sizeof refs / sizeof *refs))
    bench_die("too many tensors");
  for (int i = 0; i < m->n_tensors; ++i) {
    refs[i].name = m->tensors[i].name;
    refs[i].rank = m->tensors[i].rank;
    memcpy(refs[i].shape, m->tensors[i].shape, sizeof refs[i].shape);
    refs[i].data = init.flat + m->tensors[i].offset;
  }
  for (int k = 0; k < N_SIGNAL; ++k)
    input_signal[k] = (float)(sin(0.05 * k) + 0.5 * sin(0.31 * k + 1.0));
  refs[m->n_tensors] = (rnnc_tensor_ref){"bench/x", 2, {N_SIGNAL, 1, 0, 0}, input_signal};
  char err[256];
  if (rnnc_safetensors_write(path, RNNC_F32, refs, m->n_tensors + 1, err, sizeof err) != 0)
    bench_die(err);
}

static void read_tensor(const char *path, rnnc_dtype dtype, const char *name, void *data) {
  const rnnc_tensor_desc *t = tensor(name);
  rnnc_tensor_dest d = {name, t->rank, {0}, data};
  memcpy(d.shape, t->shape, sizeof d.shape);
  char err[256];
  if (rnnc_safetensors_read(path, dtype, &d, 1, err, sizeof err) != 0)
    bench_die(err);
}

static void load_naive(const char *path, naive_ctx *n) {
  read_tensor(path, RNNC_F32, CELL "/kernel", n->w.kernel);
  read_tensor(path, RNNC_F32, CELL "/recurrent_kernel", n->w.recurrent);
  read_tensor(path, RNNC_F32, CELL "/bias", n->w.bias);
  read_tensor(path, RNNC_F32, "dense/kernel", n->w.dense_kernel);
  read_tensor(path, RNNC_F32, "dense/bias", &n->w.dense_bias);
}

static void load_ref(const char *path, ref_ctx *r) {
  const rnnc_model *m = &UNIT_(_model);
  char spec[512], err[256];
  snprintf(spec, sizeof spec, "rnnc-spec 1\ninput 1 1\n" REF_LAYER, HIDDEN);
  r->m = rnnc_ref_new(spec, err, sizeof err);
  if (!r->m)
    bench_die(err);
  r->params = calloc(m->n_params, sizeof *r->params);
  for (int i = 0; i < m->n_tensors; ++i)
    read_tensor(path, RNNC_F64, m->tensors[i].name, r->params + m->tensors[i].offset);
  if (rnnc_ref_n_params(r->m) != tensor("dense/kernel")->offset)
    bench_die("the reference cell's parameters are not the unit's first tensors");
  r->dense_kernel = r->params + tensor("dense/kernel")->offset;
  r->dense_bias = r->params[tensor("dense/bias")->offset];
  r->in = calloc(rnnc_ref_input_size(r->m), sizeof *r->in);
  r->out = calloc(rnnc_ref_output_size(r->m), sizeof *r->out);
  if (!r->params || !r->in || !r->out)
    bench_die("out of memory");
  /* inputs [x, h_0, (c_0)], outputs [output, h, (c)] */
  for (int s = 0; s < N_STATES; ++s) {
    if (rnnc_ref_input_part(r->m, 1 + s, &r->in_state[s]) != HIDDEN ||
        rnnc_ref_output_part(r->m, 1 + s, &r->out_state[s]) != HIDDEN)
      bench_die("unexpected reference inputs or outputs");
  }
  ref_reset(r);
}

static void load_gen(const char *path, gen_ctx *g) {
  char err[256];
  if (rnnc_weights_load(path, &UNIT_(_model), &g->params, err, sizeof err) != 0)
    bench_die(err);
  UNIT_(_stream_reset)(&g->stream);
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 4) {
    fprintf(stderr, "usage: %s WEIGHTS.safetensors [PYTHON TORCH_PEER.py]\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  const double tol = bench_env_double("BENCH_TOL", 1e-4);
  const int rounds = bench_env_int("BENCH_ROUNDS", 7);
  const double block_ns = bench_env_double("BENCH_BLOCK_MS", 40) * 1e6;
  if (UNIT_(_model).stream_input_size != 1 || UNIT_(_model).stream_output_size != 1)
    bench_die("the unit does not stream one input to one output");

  write_weights(path);
  /* the unit's params and state at a cache line (rnnc_alloc), as the runtime places them */
  gen_ctx *gen = rnnc_alloc(sizeof *gen);
  if (!gen)
    bench_die("out of memory");
  static naive_ctx naive;
  static ref_ctx ref;
  load_gen(path, gen);
  load_naive(path, &naive);
  load_ref(path, &ref);
#ifdef HAVE_EIGEN
  eigen_cell *eigen =
      eigen_cell_new(naive.w.kernel, &naive.w.recurrent[0][0], (const float *)naive.w.bias,
                     naive.w.dense_kernel, naive.w.dense_bias);
  if (!eigen)
    bench_die("out of memory");
#endif

  bench_peer peer = {0};
  int have_torch = argc == 4;
  if (have_torch) {
    char hidden[16];
    snprintf(hidden, sizeof hidden, "%d", HIDDEN);
    char *peer_argv[] = {argv[2], argv[3], "stream", CELL, hidden, (char *)path, NULL};
    if (bench_peer_start(&peer, peer_argv) != 0 || !bench_peer_ask(&peer, "ready"))
      bench_die("cannot start the PyTorch peer");
  }

  /* Verification: N_VERIFY steps from a zero state, each against the reference. */
  static double y_ref[N_VERIFY], y_gen[N_VERIFY], y_naive[N_VERIFY], y_torch[N_VERIFY],
      y_eigen[N_VERIFY];
  for (int k = 0; k < N_VERIFY; ++k) {
    float y;
    UNIT_(_stream_step)(&gen->params, &gen->stream, &input_signal[k], &y);
    y_gen[k] = y;
    y_naive[k] = naive_step(&naive.w, &naive.st, input_signal[k]);
#ifdef HAVE_EIGEN
    y_eigen[k] = eigen_cell_step(eigen, input_signal[k]);
#else
    y_eigen[k] = y_naive[k];
#endif
    y_ref[k] = ref_step(&ref, input_signal[k]);
  }
  double d_gen = bench_reldiff_f64(y_gen, y_ref, N_VERIFY);
  double d_naive = bench_reldiff_f64(y_naive, y_ref, N_VERIFY);
  double d_eigen = bench_reldiff_f64(y_eigen, y_ref, N_VERIFY);
  double d_torch = 0;
  if (have_torch) {
    char cmd[1200], out_path[1024];
    snprintf(out_path, sizeof out_path, "%s.torch.f64", path);
    snprintf(cmd, sizeof cmd, "verify %d %s", N_VERIFY, out_path);
    if (!bench_peer_ask(&peer, cmd) || bench_read_f64(out_path, y_torch, N_VERIFY) != 0)
      bench_die("the PyTorch peer did not answer the verification");
    d_torch = bench_reldiff_f64(y_torch, y_ref, N_VERIFY);
  }
  double scale = 0;
  for (int k = 0; k < N_VERIFY; ++k)
    scale = fmax(scale, fabs(y_ref[k]));
  fprintf(stderr, "%s H=%d: max |y| %.3g over %d steps; max rel diff vs reference: ", CELL_TITLE,
          HIDDEN, scale, N_VERIFY);
  fprintf(stderr, "generated %.2g, naive %.2g, eigen %.2g", d_gen, d_naive, d_eigen);
  if (have_torch)
    fprintf(stderr, ", pytorch %.2g", d_torch);
  fprintf(stderr, " (tolerance %g)\n", tol);
  if (!(scale > 1e-3) || !(d_gen <= tol) || !(d_naive <= tol) || !(d_torch <= tol) ||
      !(d_eigen <= tol)) {
    printf("ROW stream | %s | %d | MISMATCH: max rel diff generated %.2g, naive %.2g, eigen %.2g, "
           "pytorch %.2g (tolerance %g), max |y_ref| %.3g | | | | | | | | | |\n",
           CELL_TITLE, HIDDEN, d_gen, d_naive, d_eigen, d_torch, tol, scale);
    if (have_torch)
      bench_peer_stop(&peer);
    return 1;
  }

  /* Timing: every implementation continues its stream from a fresh state. */
  UNIT_(_stream_reset)(&gen->stream);
  memset(&naive.st, 0, sizeof naive.st);
  ref_reset(&ref);
  bench_peer_block torch_block = {&peer, "step"};
  bench_impl impls[5] = {{"generated", gen_run, gen, 0, {0}, 0, 0, 0, 0, 0},
                         {"reference", ref_run, &ref, 0, {0}, 0, 0, 0, 0, 0},
                         {"naive", naive_run, &naive, 0, {0}, 0, 0, 0, 0, 0}};
  int n_impls = 3, i_eigen = -1, i_torch = -1;
#ifdef HAVE_EIGEN
  eigen_cell_reset(eigen);
  i_eigen = n_impls++;
  impls[i_eigen] = (bench_impl){"eigen", eigen_run, eigen, 0, {0}, 0, 0, 0, 0, 0};
#endif
  if (have_torch) {
    i_torch = n_impls++;
    impls[i_torch] = (bench_impl){"pytorch", bench_peer_run, &torch_block, 0, {0}, 0, 0, 0, 0, 0};
  }
  for (int i = 0; i < n_impls; ++i)
    bench_calibrate(&impls[i], block_ns);
  bench_interleave(impls, n_impls, rounds);
  if (have_torch)
    bench_peer_stop(&peer);

  char c[5][64], r[4][32], de[32] = "-";
  if (i_eigen >= 0)
    snprintf(de, sizeof de, "%.1e", d_eigen);
  double g = impls[0].median;
  printf("ROW stream | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1e / %.1e / %s / ",
         CELL_TITLE, HIDDEN, bench_cell(c[0], sizeof c[0], &impls[0], 1),
         bench_cell(c[1], sizeof c[1], &impls[1], 1), bench_cell(c[2], sizeof c[2], &impls[2], 1),
         i_eigen >= 0 ? bench_cell(c[3], sizeof c[3], &impls[i_eigen], 1) : "not built",
         i_torch >= 0 ? bench_cell(c[4], sizeof c[4], &impls[i_torch], 1) : "skipped",
         bench_ratio(r[0], sizeof r[0], impls[1].median / g),
         bench_ratio(r[1], sizeof r[1], impls[2].median / g),
         i_eigen >= 0 ? bench_ratio(r[2], sizeof r[2], impls[i_eigen].median / g) : "-",
         i_torch >= 0 ? bench_ratio(r[3], sizeof r[3], impls[i_torch].median / g) : "-", d_gen,
         d_naive, de);
  if (have_torch)
    printf("%.1e |\n", d_torch);
  else
    printf("- |\n");
  return 0;
}
