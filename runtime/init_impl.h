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

void RNNC_FN(rnnc_init)(RNNC_REAL *w, rnnc_init_kind kind, int rank, const int *shape,
                        rnnc_rng *rng) {
  size_t n = shape_size(rank, shape), i;
  double fan_in, fan_out, limit;
  if (n == 0 || w == NULL)
    return;
  switch (kind) {
  case RNNC_INIT_ZEROS:
    for (i = 0; i < n; i++)
      w[i] = 0;
    break;
  case RNNC_INIT_ONES:
    for (i = 0; i < n; i++)
      w[i] = 1;
    break;
  case RNNC_INIT_GLOROT_UNIFORM:
    if (rng == NULL)
      return;
    compute_fans(rank, shape, &fan_in, &fan_out);
    /* VarianceScaling(scale=1, mode="fan_avg", distribution="uniform"):
     * limit = sqrt(3 / max(1, (fan_in + fan_out) / 2)). */
    limit = sqrt(3.0 / fmax(1.0, (fan_in + fan_out) / 2.0));
    for (i = 0; i < n; i++)
      w[i] = (RNNC_REAL)(-limit + 2.0 * limit * rnnc_rng_uniform(rng));
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
  }
}

#undef RNNC_FN
