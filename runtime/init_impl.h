/* Initializers, written once for any real type. Included by init.c with
 * RNNC_REAL (float or double) and RNNC_SFX (_f32 or _f64) defined; no include
 * guard on purpose. */
#if !defined(RNNC_REAL) || !defined(RNNC_SFX)
#error "init_impl.h needs RNNC_REAL and RNNC_SFX"
#endif

#define RNNC_FN(name) RNNC_CAT(name, RNNC_SFX)

/* Orthonormalises `count` vectors of length `len` stored in w: vector k has
 * element i at w[k * vstride + i * estride]. Modified Gram-Schmidt run twice
 * (MGS2): the second pass restores orthogonality to rounding level. Every
 * projection coefficient of a pass forms an upper triangular R with a positive
 * diagonal, so the result is the Q of the QR factorisation whose R has a
 * positive diagonal, i.e. Keras's sign-corrected Q. Sums are taken in double. */
static void RNNC_FN(orthonormalise)(RNNC_REAL *w, size_t count, size_t len, size_t vstride,
                                    size_t estride) {
  size_t pass, k, j, i;
  for (pass = 0; pass < 2; pass++) {
    for (k = 0; k < count; k++) {
      RNNC_REAL *v = w + k * vstride;
      double norm = 0.0;
      for (j = 0; j < k; j++) {
        const RNNC_REAL *q = w + j * vstride;
        double dot = 0.0;
        for (i = 0; i < len; i++)
          dot += (double)q[i * estride] * (double)v[i * estride];
        for (i = 0; i < len; i++)
          v[i * estride] = (RNNC_REAL)((double)v[i * estride] - dot * (double)q[i * estride]);
      }
      for (i = 0; i < len; i++)
        norm += (double)v[i * estride] * (double)v[i * estride];
      norm = sqrt(norm);
      /* A Gaussian matrix has full rank with probability 1; a zero vector could
       * only come from a degenerate stream and is left as it is. */
      if (norm > 0.0)
        for (i = 0; i < len; i++)
          v[i * estride] = (RNNC_REAL)((double)v[i * estride] / norm);
    }
  }
}

/* Keras's Orthogonal(gain=1): rows = product of all dimensions but the last,
 * cols = the last; a normal matrix A of shape (max, min), Q of its QR with the
 * signs of diag(R), transposed when rows < cols. Done in place in w. */
static void RNNC_FN(init_orthogonal)(RNNC_REAL *w, int rank, const int *shape, rnnc_rng *rng) {
  size_t rows = 1, cols, i, j;
  int d;
  /* Keras rejects rank < 2; a rank-1 shape (n) is treated as one row (1, n). */
  for (d = 0; d < rank - 1; d++)
    rows *= (size_t)shape[d];
  cols = (size_t)shape[rank - 1];
  if (rows >= cols) {
    /* A is rows x cols, laid out exactly like w: orthonormalise its columns. */
    for (i = 0; i < rows * cols; i++)
      w[i] = (RNNC_REAL)rnnc_rng_normal(rng);
    RNNC_FN(orthonormalise)(w, cols, rows, 1, cols);
  } else {
    /* A is cols x rows and the result is Q^T, rows x cols: store A transposed
     * (A[k][j] at w[j * cols + k], drawn in A's row-major order) and
     * orthonormalise the rows of w, which are the columns of A. */
    for (i = 0; i < cols; i++)
      for (j = 0; j < rows; j++)
        w[j * cols + i] = (RNNC_REAL)rnnc_rng_normal(rng);
    RNNC_FN(orthonormalise)(w, rows, cols, cols, 1);
  }
}

/* U(-limit, limit) as Keras draws it: -limit + 2 limit u, u in [0, 1). */
static void RNNC_FN(fill_uniform)(RNNC_REAL *w, size_t n, double limit, rnnc_rng *rng) {
  size_t i;
  for (i = 0; i < n; i++)
    w[i] = (RNNC_REAL)(-limit + 2.0 * limit * rnnc_rng_uniform(rng));
}

/* N(0, stddev^2), truncated (values beyond two standard deviations redrawn, as
 * TF's truncated_normal does) or not. */
static void RNNC_FN(fill_normal)(RNNC_REAL *w, size_t n, double stddev, int truncated,
                                 rnnc_rng *rng) {
  size_t i;
  for (i = 0; i < n; i++)
    w[i] = (RNNC_REAL)(stddev * (truncated ? truncated_normal(rng) : rnnc_rng_normal(rng)));
}

void RNNC_FN(rnnc_init)(RNNC_REAL *w, rnnc_init_kind kind, int rank, const int *shape,
                        rnnc_rng *rng) {
  size_t n = shape_size(rank, shape), i;
  double fan_in, fan_out, fan_avg;
  if (n == 0 || w == NULL)
    return;
  compute_fans(rank, shape, &fan_in, &fan_out);
  fan_avg = fmax(1.0, (fan_in + fan_out) / 2.0);
  switch (kind) {
  case RNNC_INIT_ZEROS:
    for (i = 0; i < n; i++)
      w[i] = 0;
    break;
  case RNNC_INIT_ONES:
    for (i = 0; i < n; i++)
      w[i] = 1;
    break;
  case RNNC_INIT_ORTHOGONAL:
    if (rng == NULL || rank < 1)
      return;
    RNNC_FN(init_orthogonal)(w, rank, shape, rng);
    break;
  case RNNC_INIT_UNIT_FORGET_BIAS:
    /* LSTM bias (4U) in gate order i, f, c, o: only the forget block is 1. */
    for (i = 0; i < n; i++)
      w[i] = (i >= n / 4 && i < 2 * (n / 4)) ? 1 : 0;
    break;
  /* VarianceScaling(scale, mode, distribution): s = scale / max(1, fan) with
   * fan = fan_in, or (fan_in + fan_out) / 2 for fan_avg; "uniform" draws
   * U(-sqrt(3 s), sqrt(3 s)) and "truncated_normal" a normal of stddev
   * sqrt(s) / .87962566103423978 truncated at two stddev (the constant is the
   * standard deviation of N(0, 1) truncated to [-2, 2], so the values end up
   * with variance s). */
  case RNNC_INIT_GLOROT_UNIFORM: /* scale 1, fan_avg, uniform */
    if (rng != NULL)
      RNNC_FN(fill_uniform)(w, n, sqrt(3.0 / fan_avg), rng);
    break;
  case RNNC_INIT_GLOROT_NORMAL: /* scale 1, fan_avg, truncated normal */
    if (rng != NULL)
      RNNC_FN(fill_normal)(w, n, sqrt(1.0 / fan_avg) / TRUNC_STDDEV, 1, rng);
    break;
  case RNNC_INIT_HE_UNIFORM: /* scale 2, fan_in, uniform */
    if (rng != NULL)
      RNNC_FN(fill_uniform)(w, n, sqrt(3.0 * 2.0 / fmax(1.0, fan_in)), rng);
    break;
  case RNNC_INIT_HE_NORMAL: /* scale 2, fan_in, truncated normal */
    if (rng != NULL)
      RNNC_FN(fill_normal)(w, n, sqrt(2.0 / fmax(1.0, fan_in)) / TRUNC_STDDEV, 1, rng);
    break;
  case RNNC_INIT_LECUN_UNIFORM: /* scale 1, fan_in, uniform */
    if (rng != NULL)
      RNNC_FN(fill_uniform)(w, n, sqrt(3.0 / fmax(1.0, fan_in)), rng);
    break;
  case RNNC_INIT_LECUN_NORMAL: /* scale 1, fan_in, truncated normal */
    if (rng != NULL)
      RNNC_FN(fill_normal)(w, n, sqrt(1.0 / fmax(1.0, fan_in)) / TRUNC_STDDEV, 1, rng);
    break;
  case RNNC_INIT_RANDOM_NORMAL: /* RandomNormal(mean=0, stddev=0.05), not truncated */
    if (rng != NULL)
      RNNC_FN(fill_normal)(w, n, 0.05, 0, rng);
    break;
  case RNNC_INIT_RANDOM_UNIFORM: /* RandomUniform(minval=-0.05, maxval=0.05) */
    if (rng != NULL)
      RNNC_FN(fill_uniform)(w, n, 0.05, rng);
    break;
  }
}

#undef RNNC_FN
