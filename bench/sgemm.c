/* The machine's matrix-product speed on the shapes of one forward + backward
 * pass of an LSTM(H) over T steps of I features, batch B, last h into
 * Dense(C): OpenBLAS cblas_sgemm on one thread, row-major, each shape timed
 * in interleaved rounds, then the forward calls, the backward calls and all
 * of them as one block each.
 *
 *   forward   X (BT x I) @ kernel (I x 4H)                       once
 *             h_{t-1} (B x H) @ recurrent_kernel (H x 4H)        T times
 *             h_T (B x H) @ dense (H x C)                        once
 *   backward  h_T^T (H x B) @ dy (B x C), dy (B x C) @ dense^T   once each
 *             dz_t (B x 4H) @ recurrent_kernel^T (4H x H)        T times
 *             H_prev^T (H x BT) @ dZ (BT x 4H)                   once
 *             X^T (I x BT) @ dZ (BT x 4H)                        once
 *
 * FLOPs (2 M N K per product): 2 B T 4H (2 I + 3 H) + 6 B H C.
 * usage: sgemm B T I H C. Prints "ROW sgemm" rows,
 * "SGEMM_TOTAL <flops> <ns all> <ns forward> <ns backward>" and "SGEMM_CONFIG <OpenBLAS build>". */
#include "bench.h"

#include <cblas.h>

typedef struct {
  const char *what;
  int trans_a, trans_b; /* 1: the stored operand is transposed */
  int m, n, k, count;
  float *a, *b, *c;
} shape;

static float *random_matrix(size_t n, unsigned *state) {
  float *v = malloc((n ? n : 1) * sizeof *v);
  if (!v)
    bench_die("out of memory");
  for (size_t i = 0; i < n; ++i) {
    *state = *state * 1664525u + 1013904223u;
    v[i] = (float)(*state >> 8) / 16777216.0f - 0.5f;
  }
  return v;
}

static void run_shape(const shape *s) {
  /* Row-major C (m x n) = op(A) (m x k) @ op(B) (k x n); a stored
   * transposed operand has the other leading dimension. */
  int lda = s->trans_a ? s->m : s->k, ldb = s->trans_b ? s->k : s->n;
  for (int r = 0; r < s->count; ++r)
    cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
                s->trans_b ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, s->a, lda, s->b,
                ldb, 1.0f, s->c, s->n);
}

static double shape_flops(const shape *s) {
  return 2.0 * s->m * s->n * s->k * s->count;
}

typedef struct {
  shape *shapes;
  int n;
} shape_set;

static double shape_run(void *ctx, long reps) {
  shape_set *set = ctx;
  double t0 = bench_now_ns();
  for (long r = 0; r < reps; ++r)
    for (int i = 0; i < set->n; ++i)
      run_shape(&set->shapes[i]);
  return bench_now_ns() - t0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s B T I H C\n", argv[0]);
    return 2;
  }
  /* (I and C would clash with complex.h's macros, which cblas.h includes) */
  int batch = atoi(argv[1]), steps = atoi(argv[2]), features = atoi(argv[3]), units = atoi(argv[4]),
      classes = atoi(argv[5]);
  int gates = 4 * units, rows = batch * steps;
  openblas_set_num_threads(1);
  shape shapes[] = {
      {"forward: input product over all timesteps", 0, 0, rows, gates, features, 1, 0, 0, 0},
      {"forward: recurrent product per step", 0, 0, batch, gates, units, steps, 0, 0, 0},
      {"forward: Dense", 0, 0, batch, classes, units, 1, 0, 0, 0},
      {"backward: Dense kernel gradient", 1, 0, units, classes, batch, 1, 0, 0, 0},
      {"backward: Dense input gradient", 0, 1, batch, units, classes, 1, 0, 0, 0},
      {"backward: dh_{t-1} per step", 0, 1, batch, units, gates, steps, 0, 0, 0},
      {"backward: recurrent kernel gradient (all steps)", 1, 0, units, gates, rows, 1, 0, 0, 0},
      {"backward: kernel gradient (all steps)", 1, 0, features, gates, rows, 1, 0, 0, 0},
  };
  enum { N_SHAPES = sizeof shapes / sizeof *shapes };
  unsigned state = 12345;
  double total_flops = 0;
  for (int i = 0; i < N_SHAPES; ++i) {
    shape *s = &shapes[i];
    s->a = random_matrix((size_t)s->m * s->k, &state);
    s->b = random_matrix((size_t)s->k * s->n, &state);
    s->c = random_matrix((size_t)s->m * s->n, &state);
    total_flops += shape_flops(s);
  }
  double formula =
      2.0 * rows * gates * (2.0 * features + 3.0 * units) + 6.0 * batch * units * classes;
  if (fabs(total_flops - formula) > 0.5)
    bench_die("the shapes do not add up to the FLOP formula");

  /* each shape alone, then the forward set (the first N_FORWARD shapes), the
   * backward set and all of them */
  enum { N_FORWARD = 3, N_SETS = N_SHAPES + 3 };
  shape_set sets[N_SETS];
  bench_impl impls[N_SETS];
  for (int i = 0; i < N_SHAPES; ++i)
    sets[i] = (shape_set){&shapes[i], 1};
  sets[N_SHAPES] = (shape_set){shapes, N_FORWARD};
  sets[N_SHAPES + 1] = (shape_set){shapes + N_FORWARD, N_SHAPES - N_FORWARD};
  sets[N_SHAPES + 2] = (shape_set){shapes, N_SHAPES};
  for (int i = 0; i < N_SETS; ++i)
    impls[i] = (bench_impl){
        i < N_SHAPES ? shapes[i].what : "set", shape_run, &sets[i], 0, {0}, 0, 0, 0, 0, 0};
  const double block_ns = bench_env_double("BENCH_BLOCK_MS", 40) * 1e6;
  for (int i = 0; i < N_SETS; ++i)
    bench_calibrate(&impls[i], block_ns);
  bench_interleave(impls, N_SETS, bench_env_int("BENCH_ROUNDS", 7));

  for (int i = 0; i < N_SHAPES; ++i) {
    const shape *s = &shapes[i];
    char cell[64];
    printf("ROW sgemm | %s | %d x %d x %d%s%s | %d | %.2f | %s | %.1f |\n", s->what, s->m, s->n,
           s->k, s->trans_a ? ", A^T" : "", s->trans_b ? ", B^T" : "", s->count,
           shape_flops(s) / 1e6, bench_cell(cell, sizeof cell, &impls[i], 1e3),
           shape_flops(s) / impls[i].median);
  }
  printf("SGEMM_TOTAL %.0f %.0f %.0f %.0f\n", total_flops, impls[N_SHAPES + 2].median,
         impls[N_SHAPES].median, impls[N_SHAPES + 1].median);
  printf("SGEMM_CONFIG %s (core %s)\n", openblas_get_config(), openblas_get_corename());
  return 0;
}
