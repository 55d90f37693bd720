/* Keras's losses and accuracies, written once for any real type. Included by
 * loss.c with RNNC_REAL (float or double) and RNNC_SFX (_f32 or _f64) defined;
 * no include guard on purpose. All sums are taken in double.
 *
 * Every loss is a function of one row (the last axis: `cols` values, a
 * sparse label for sparse categorical crossentropy) returning the row's loss
 * and its gradient with respect to the predictions; rnnc_loss_eval reduces
 * the rows as Keras's sum_over_batch_size does, with per-row weights and a
 * denominator (the row count, or the unmasked rows' count under a mask). */
#if !defined(RNNC_REAL) || !defined(RNNC_SFX)
#error "loss_impl.h needs RNNC_REAL and RNNC_SFX"
#endif

#define RNNC_FN(name) RNNC_CAT(name, RNNC_SFX)

/* What a row function reads besides its row: the configuration, and the
 * batch-wide facts some losses decide once (hinge's label conversion). */
typedef struct {
  const rnnc_loss_config *c;
  int hinge_convert; /* the targets are all 0 or 1: hinge losses read them as -1 and 1 */
} RNNC_FN(loss_ctx);

typedef double (*RNNC_FN(row_fn))(const RNNC_FN(loss_ctx) *, const RNNC_REAL *, const RNNC_REAL *,
                                  size_t, double *);

/* clip(q, lo, hi), written so that NaN passes through unclipped, as in
 * tf.clip_by_value; *inside (may be NULL): whether q was inside [lo, hi]
 * (clip_by_value passes the gradient there, inclusive bounds). */
static double RNNC_FN(clip)(double q, double lo, double hi, int *inside) {
  if (inside != NULL)
    *inside = !(q < lo || q > hi);
  if (q < lo)
    return lo;
  if (q > hi)
    return hi;
  return q;
}

/* sigmoid(z) without overflow for either sign */
static double RNNC_FN(sigmoid)(double z) {
  double e;
  if (z >= 0.0)
    return 1.0 / (1.0 + exp(-z));
  e = exp(z);
  return e / (1.0 + e);
}

/* ---------------------------------------------------------------- the rows */

/* mse: mean((p - y)^2) over the row. */
static double RNNC_FN(row_mse)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p, const RNNC_REAL *y,
                               size_t n, double *g) {
  double row = 0.0;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    double d = (double)p[c] - (double)y[c];
    row += d * d;
    if (g != NULL)
      g[c] = 2.0 * d / (double)n;
  }
  return row / (double)n;
}

/* mae: mean(|p - y|); gradient sign(p - y) / n, 0 where equal (tf.sign's
 * gradient of abs), NaN where the difference is NaN. */
static double RNNC_FN(row_mae)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p, const RNNC_REAL *y,
                               size_t n, double *g) {
  double row = 0.0;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    double d = (double)p[c] - (double)y[c];
    row += fabs(d);
    if (g != NULL)
      g[c] = (d > 0.0 ? 1.0 : d < 0.0 ? -1.0 : d == 0.0 ? 0.0 : d) / (double)n;
  }
  return row / (double)n;
}

/* binary crossentropy from probabilities, tf.keras 2.x (keras/backend.py
 * binary_crossentropy, for probabilities it cannot trace back to a sigmoid's
 * logits): q = clip(p, eps, 1 - eps), then
 *   -(y log(q + eps) + (1 - y) log(1 - q + eps)),
 * with eps = 1e-7 added inside both logs once more (Keras 3 drops that second
 * eps: the two differ by about eps / q). Mean over the row; gradient 0 where
 * p was clipped. Bounds and eps in the real type, as Keras takes them in the
 * tensor's dtype. label_smoothing: y (1 - s) + s / 2 (keras/losses.py). */
static double RNNC_FN(row_bce)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p, const RNNC_REAL *y,
                               size_t n, double *g) {
  const RNNC_REAL eps = (RNNC_REAL)1e-7;
  const double lo = (double)eps, hi = (double)((RNNC_REAL)1 - eps), s = x->c->label_smoothing;
  double row = 0.0;
  size_t c;
  for (c = 0; c < n; c++) {
    double t = (double)y[c] * (1.0 - s) + 0.5 * s;
    int inside;
    double q = RNNC_FN(clip)((double)p[c], lo, hi, &inside);
    row -= t * log(q + lo) + (1.0 - t) * log(1.0 - q + lo);
    if (g != NULL)
      g[c] = inside ? (-t / (q + lo) + (1.0 - t) / (1.0 - q + lo)) / (double)n : 0.0;
  }
  return row / (double)n;
}

/* binary crossentropy from logits, tf.nn.sigmoid_cross_entropy_with_logits'
 * stable form max(z, 0) - z y + log(1 + exp(-|z|)); gradient sigmoid(z) - y. */
static double RNNC_FN(row_bce_logits)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *z,
                                      const RNNC_REAL *y, size_t n, double *g) {
  const double s = x->c->label_smoothing;
  double row = 0.0;
  size_t c;
  for (c = 0; c < n; c++) {
    double v = (double)z[c], t = (double)y[c] * (1.0 - s) + 0.5 * s;
    row += (v > 0.0 ? v : 0.0) - v * t + log1p(exp(-fabs(v)));
    if (g != NULL)
      g[c] = (RNNC_FN(sigmoid)(v) - t) / (double)n;
  }
  return row / (double)n;
}

/* categorical crossentropy from probabilities, tf.keras 2.x (keras/backend.py
 * categorical_crossentropy): q = p / sum(p), c = clip(q, eps, 1 - eps),
 * -sum_j y_j log c_j (a sum over the row, not a mean). Through the
 * normalisation dq_j/dp_k = ([j == k] - q_j) / S, and clipping stops the
 * gradient of the clipped c_j, so with u_j = -y_j / q_j where q_j is inside
 * the clip range (0 where clipped),
 *   d loss / d p_k = (u_k + sum_{j unclipped} y_j) / S,
 * which is nonzero for a clipped p_k too (it still moves S).
 * label_smoothing: y (1 - s) + s / classes. */
static double RNNC_FN(row_cce)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p, const RNNC_REAL *y,
                               size_t n, double *g) {
  const RNNC_REAL eps = (RNNC_REAL)1e-7;
  const double lo = (double)eps, hi = (double)((RNNC_REAL)1 - eps), s = x->c->label_smoothing;
  double sum = 0.0, row = 0.0, ysum_in = 0.0;
  size_t c;
  for (c = 0; c < n; c++)
    sum += (double)p[c];
  for (c = 0; c < n; c++) {
    double t = (double)y[c] * (1.0 - s) + s / (double)n, q = (double)p[c] / sum;
    row -= t * log(RNNC_FN(clip)(q, lo, hi, NULL));
    if (!(q < lo || q > hi))
      ysum_in += t;
  }
  if (g != NULL)
    for (c = 0; c < n; c++) {
      double t = (double)y[c] * (1.0 - s) + s / (double)n, q = (double)p[c] / sum;
      double u = (q < lo || q > hi) ? 0.0 : -t / q;
      g[c] = (u + ysum_in) / sum;
    }
  return row;
}

/* categorical crossentropy from logits, tf.nn.softmax_cross_entropy_with_logits:
 * sum_j y_j ((max - z_j) + log sum exp(z - max)), no clipping; gradient
 * softmax(z) sum(y) - y. */
static double RNNC_FN(row_cce_logits)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *z,
                                      const RNNC_REAL *y, size_t n, double *g) {
  const double s = x->c->label_smoothing;
  double max = (double)z[0], sum = 0.0, lse, ysum = 0.0, row = 0.0;
  size_t c;
  for (c = 1; c < n; c++)
    if ((double)z[c] > max)
      max = (double)z[c];
  for (c = 0; c < n; c++) {
    const double e = exp((double)z[c] - max);
    sum += e;
    ysum += (double)y[c] * (1.0 - s) + s / (double)n;
    if (g != NULL)
      g[c] = e; /* kept for the gradient: one exp per logit */
  }
  lse = log(sum);
  for (c = 0; c < n; c++)
    row += ((double)y[c] * (1.0 - s) + s / (double)n) * ((max - (double)z[c]) + lse);
  if (g != NULL)
    for (c = 0; c < n; c++)
      g[c] = g[c] / sum * ysum - ((double)y[c] * (1.0 - s) + s / (double)n);
  return row;
}

/* sparse categorical crossentropy from probabilities: tf.keras (keras/backend.py
 * sparse_categorical_crossentropy, TF backend) clips p to [eps, 1 - eps],
 * takes the log and feeds it as logits to
 * tf.nn.sparse_softmax_cross_entropy_with_logits. The softmax of log(q)
 * renormalises the clipped q, so loss = log(sum_j q_j) - log(q_label),
 * which is -log(clip(p[label])) whenever the row sums to 1, and
 * d loss / d p_j = 1 / sum q - [j == label] / q_label where p_j is inside the
 * clip range, 0 where it was clipped. The label is validated by the caller. */
static double RNNC_FN(row_sparse)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                  const RNNC_REAL *label, size_t n, double *g) {
  const RNNC_REAL eps = (RNNC_REAL)1e-7;
  const double lo = (double)eps, hi = (double)((RNNC_REAL)1 - eps);
  size_t c, l = (size_t)*label;
  double sum = 0.0, ql = 0.0;
  (void)x;
  for (c = 0; c < n; c++) {
    double q = RNNC_FN(clip)((double)p[c], lo, hi, NULL);
    sum += q;
    if (c == l)
      ql = q;
  }
  if (g != NULL)
    for (c = 0; c < n; c++) {
      double v = (double)p[c];
      g[c] = (v < lo || v > hi) ? 0.0 : 1.0 / sum - (c == l ? 1.0 / ql : 0.0);
    }
  return log(sum) - log(ql);
}

/* sparse categorical crossentropy from logits: stable log-softmax,
 * (max - z[label]) + log(sum exp(z - max)); gradient softmax - onehot. */
static double RNNC_FN(row_sparse_logits)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *z,
                                         const RNNC_REAL *label, size_t n, double *g) {
  double max = (double)z[0], sum = 0.0;
  size_t c, l = (size_t)*label;
  (void)x;
  for (c = 1; c < n; c++)
    if ((double)z[c] > max)
      max = (double)z[c];
  for (c = 0; c < n; c++) {
    const double e = exp((double)z[c] - max);
    sum += e;
    if (g != NULL)
      g[c] = e; /* kept for the gradient: one exp per logit */
  }
  if (g != NULL)
    for (c = 0; c < n; c++)
      g[c] = g[c] / sum - (c == l ? 1.0 : 0.0);
  /* (max - z[label]) before adding log(sum): large logits do not cancel */
  return (max - (double)z[l]) + log(sum);
}

/* huber (delta): 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2,
 * e = p - y; mean over the row (keras/src/losses/losses.py huber). */
static double RNNC_FN(row_huber)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                 const RNNC_REAL *y, size_t n, double *g) {
  const double delta = x->c->delta;
  double row = 0.0;
  size_t c;
  for (c = 0; c < n; c++) {
    double e = (double)p[c] - (double)y[c], a = fabs(e);
    row += a <= delta ? 0.5 * e * e : delta * a - 0.5 * delta * delta;
    if (g != NULL)
      g[c] = (a <= delta ? e : (e > 0.0 ? delta : -delta)) / (double)n;
  }
  return row / (double)n;
}

/* log_cosh: x + softplus(-2x) - log 2, x = p - y; mean; gradient tanh(x). */
static double RNNC_FN(row_log_cosh)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                    const RNNC_REAL *y, size_t n, double *g) {
  double row = 0.0;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    double d = (double)p[c] - (double)y[c], m = -2.0 * d;
    row += d + ((m > 0.0 ? m : 0.0) + log1p(exp(-fabs(m)))) - log(2.0);
    if (g != NULL)
      g[c] = tanh(d) / (double)n;
  }
  return row / (double)n;
}

/* mean_absolute_percentage_error: 100 mean(|y - p| / max(|y|, eps)). */
static double RNNC_FN(row_mape)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p, const RNNC_REAL *y,
                                size_t n, double *g) {
  const double eps = (double)(RNNC_REAL)1e-7;
  double row = 0.0;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    double d = (double)y[c] - (double)p[c], den = fabs((double)y[c]);
    if (den < eps)
      den = eps;
    row += fabs(d / den);
    if (g != NULL)
      g[c] = 100.0 * (d < 0.0 ? 1.0 : d > 0.0 ? -1.0 : d == 0.0 ? 0.0 : d) / den / (double)n;
  }
  return 100.0 * row / (double)n;
}

/* mean_squared_logarithmic_error: mean((log(max(p, eps) + 1) -
 * log(max(y, eps) + 1))^2); the gradient passes max where p >= eps. */
static double RNNC_FN(row_msle)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p, const RNNC_REAL *y,
                                size_t n, double *g) {
  const double eps = (double)(RNNC_REAL)1e-7;
  double row = 0.0;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    double pp = (double)p[c] < eps ? eps : (double)p[c],
           yy = (double)y[c] < eps ? eps : (double)y[c];
    double d = log(pp + 1.0) - log(yy + 1.0);
    row += d * d;
    if (g != NULL)
      g[c] = (double)p[c] >= eps ? 2.0 * d / (pp + 1.0) / (double)n : 0.0;
  }
  return row / (double)n;
}

/* kl_divergence: sum(y log(y / p)) over the row, y and p clipped to [eps, 1]. */
static double RNNC_FN(row_kld)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p, const RNNC_REAL *y,
                               size_t n, double *g) {
  const double eps = (double)(RNNC_REAL)1e-7;
  double row = 0.0;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    int inside;
    double yy = RNNC_FN(clip)((double)y[c], eps, 1.0, NULL);
    double pp = RNNC_FN(clip)((double)p[c], eps, 1.0, &inside);
    row += yy * log(yy / pp);
    if (g != NULL)
      g[c] = inside ? -yy / pp : 0.0;
  }
  return row;
}

/* poisson: mean(p - y log(p + eps)). */
static double RNNC_FN(row_poisson)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                   const RNNC_REAL *y, size_t n, double *g) {
  const double eps = (double)(RNNC_REAL)1e-7;
  double row = 0.0;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    double pp = (double)p[c], yy = (double)y[c];
    row += pp - yy * log(pp + eps);
    if (g != NULL)
      g[c] = (1.0 - yy / (pp + eps)) / (double)n;
  }
  return row / (double)n;
}

/* hinge: mean(max(1 - y p, 0)); squared_hinge: mean(max(1 - y p, 0)^2).
 * Targets that are all 0 or 1 in the batch are read as -1 and 1
 * (convert_binary_labels_to_hinge). The gradient of max at 0 goes to its
 * first argument, as TensorFlow's Maximum does. */
static double RNNC_FN(hinge_target)(const RNNC_FN(loss_ctx) * x, RNNC_REAL y) {
  return x->hinge_convert ? 2.0 * (double)y - 1.0 : (double)y;
}

static double RNNC_FN(row_hinge)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                 const RNNC_REAL *y, size_t n, double *g) {
  double row = 0.0;
  size_t c;
  for (c = 0; c < n; c++) {
    double t = RNNC_FN(hinge_target)(x, y[c]), m = 1.0 - t * (double)p[c];
    row += m > 0.0 ? m : 0.0;
    if (g != NULL)
      g[c] = m >= 0.0 ? -t / (double)n : 0.0;
  }
  return row / (double)n;
}

static double RNNC_FN(row_squared_hinge)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                         const RNNC_REAL *y, size_t n, double *g) {
  double row = 0.0;
  size_t c;
  for (c = 0; c < n; c++) {
    double t = RNNC_FN(hinge_target)(x, y[c]), m = 1.0 - t * (double)p[c];
    m = m > 0.0 ? m : 0.0;
    row += m * m;
    if (g != NULL)
      g[c] = -2.0 * t * m / (double)n;
  }
  return row / (double)n;
}

/* categorical_hinge: max(max_j ((1 - y_j) p_j) - sum_j y_j p_j + 1, 0); the
 * gradient of the max over j goes to its first largest entry. */
static double RNNC_FN(row_categorical_hinge)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                             const RNNC_REAL *y, size_t n, double *g) {
  double pos = 0.0, neg = 0.0, m;
  size_t c, at = 0;
  (void)x;
  for (c = 0; c < n; c++) {
    double v = (1.0 - (double)y[c]) * (double)p[c];
    pos += (double)y[c] * (double)p[c];
    if (c == 0 || v > neg) {
      neg = v;
      at = c;
    }
  }
  m = neg - pos + 1.0;
  if (g != NULL)
    for (c = 0; c < n; c++)
      g[c] = m >= 0.0 ? -(double)y[c] + (c == at ? 1.0 - (double)y[c] : 0.0) : 0.0;
  return m > 0.0 ? m : 0.0;
}

/* cosine_similarity (axis -1): -sum(l2n(y) l2n(p)), l2n(v) = v / sqrt(max(sum
 * v^2, 1e-12)) (tf.keras 2.x: tf.linalg.l2_normalize; Keras 3 floors the
 * norm at 1e-7 instead of 1e-6: the two differ for vectors that small). */
static double RNNC_FN(row_cosine)(const RNNC_FN(loss_ctx) * x, const RNNC_REAL *p,
                                  const RNNC_REAL *y, size_t n, double *g) {
  double yy = 0.0, pp = 0.0, dot = 0.0, ny, np, cosv;
  size_t c;
  (void)x;
  for (c = 0; c < n; c++) {
    yy += (double)y[c] * (double)y[c];
    pp += (double)p[c] * (double)p[c];
    dot += (double)y[c] * (double)p[c];
  }
  ny = sqrt(yy > 1e-12 ? yy : 1e-12);
  np = sqrt(pp > 1e-12 ? pp : 1e-12);
  cosv = dot / (ny * np);
  if (g != NULL)
    for (c = 0; c < n; c++)
      g[c] = pp > 1e-12 ? -((double)y[c] / ny - cosv * (double)p[c] / np) / np
                        : -(double)y[c] / ny / np;
  return -cosv;
}

/* ---------------------------------------------------------------- reduction */

/* The row function of a loss configuration. */
static RNNC_FN(row_fn) RNNC_FN(row_of)(const rnnc_loss_config *c) {
  switch (c->kind) {
  case RNNC_LOSS_MSE:
    return RNNC_FN(row_mse);
  case RNNC_LOSS_MAE:
    return RNNC_FN(row_mae);
  case RNNC_LOSS_BINARY_CROSSENTROPY:
    return c->from_logits ? RNNC_FN(row_bce_logits) : RNNC_FN(row_bce);
  case RNNC_LOSS_CATEGORICAL_CROSSENTROPY:
    return c->from_logits ? RNNC_FN(row_cce_logits) : RNNC_FN(row_cce);
  case RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
    return c->from_logits ? RNNC_FN(row_sparse_logits) : RNNC_FN(row_sparse);
  case RNNC_LOSS_HUBER:
    return RNNC_FN(row_huber);
  case RNNC_LOSS_LOG_COSH:
    return RNNC_FN(row_log_cosh);
  case RNNC_LOSS_MAPE:
    return RNNC_FN(row_mape);
  case RNNC_LOSS_MSLE:
    return RNNC_FN(row_msle);
  case RNNC_LOSS_KL_DIVERGENCE:
    return RNNC_FN(row_kld);
  case RNNC_LOSS_POISSON:
    return RNNC_FN(row_poisson);
  case RNNC_LOSS_HINGE:
    return RNNC_FN(row_hinge);
  case RNNC_LOSS_SQUARED_HINGE:
    return RNNC_FN(row_squared_hinge);
  case RNNC_LOSS_CATEGORICAL_HINGE:
    return RNNC_FN(row_categorical_hinge);
  case RNNC_LOSS_COSINE_SIMILARITY:
    return RNNC_FN(row_cosine);
  default:
    return NULL;
  }
}

double RNNC_FN(rnnc_loss_eval_sw)(const rnnc_loss_config *cfg, const RNNC_REAL *pred,
                                  const RNNC_REAL *target, const RNNC_REAL *weights, size_t rows,
                                  size_t cols, double denom, const RNNC_REAL *sample_weight,
                                  size_t rows_per_sample, RNNC_REAL *grad) {
  RNNC_FN(loss_ctx) x;
  RNNC_FN(row_fn) row = cfg != NULL ? RNNC_FN(row_of)(cfg) : NULL;
  int sparse = cfg != NULL && cfg->kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  size_t tstride = sparse ? 1 : cols, r, c, k;
  double total = 0.0, stack[64], *g = NULL;
  if (row == NULL || rows == 0 || cols == 0)
    return NAN; /* Keras's mean of nothing */
  x.c = cfg;
  x.hinge_convert = 0;
  if (sparse) {
    /* every label before anything is computed; on a bad one the gradient
     * (when wanted) is NaN so no caller mistakes it for a real one */
    for (r = 0; r < rows; r++) {
      if (!label_index((double)target[r], cols, &k)) {
        if (grad != NULL)
          for (k = 0; k < rows * cols; k++)
            grad[k] = (RNNC_REAL)NAN;
        return NAN;
      }
    }
  }
  if (cfg->kind == RNNC_LOSS_HINGE || cfg->kind == RNNC_LOSS_SQUARED_HINGE) {
    x.hinge_convert = 1;
    for (k = 0; k < rows * cols; k++)
      if ((double)target[k] != 0.0 && (double)target[k] != 1.0)
        x.hinge_convert = 0;
  }
  if (grad != NULL) {
    g = cols <= sizeof stack / sizeof *stack ? stack : (double *)malloc(cols * sizeof *g);
    if (g == NULL) {
      for (k = 0; k < rows * cols; k++)
        grad[k] = (RNNC_REAL)NAN;
      return NAN;
    }
  }
  for (r = 0; r < rows; r++) {
    double w = weights != NULL ? (double)weights[r] : 1.0;
    if (sample_weight != NULL)
      w *= (double)sample_weight[rows_per_sample > 0 ? r / rows_per_sample : r];
    double l = row(&x, pred + r * cols, target + r * tstride, cols, g);
    /* a row of weight 0 adds nothing, not even a NaN of its own */
    if (w != 0.0)
      total += w * l;
    if (grad != NULL)
      for (c = 0; c < cols; c++)
        grad[r * cols + c] = (RNNC_REAL)(denom > 0.0 && w != 0.0 ? w * g[c] / denom : 0.0);
  }
  if (g != NULL && g != stack)
    free(g);
  /* Keras 3 divides with divide_no_nan: no row counting gives 0 */
  return denom > 0.0 ? total / denom : 0.0;
}

double RNNC_FN(rnnc_loss_eval)(const rnnc_loss_config *cfg, const RNNC_REAL *pred,
                               const RNNC_REAL *target, const RNNC_REAL *weights, size_t rows,
                               size_t cols, double denom, RNNC_REAL *grad) {
  return RNNC_FN(rnnc_loss_eval_sw)(cfg, pred, target, weights, rows, cols, denom, NULL, 1, grad);
}

/* ---------------------------------------------------------------- the named losses */

/* The loss of `kind` over `rows` rows of weight 1: Keras's mean. */
static double RNNC_FN(plain)(rnnc_loss_kind kind, int from_logits, const RNNC_REAL *pred,
                             const RNNC_REAL *target, size_t rows, size_t cols, RNNC_REAL *grad) {
  rnnc_loss_config c = rnnc_loss_config_default(kind);
  c.from_logits = from_logits;
  return RNNC_FN(rnnc_loss_eval)(&c, pred, target, NULL, rows, cols, (double)rows, grad);
}

double RNNC_FN(rnnc_loss_mse)(const RNNC_REAL *pred, const RNNC_REAL *target, size_t rows,
                              size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_MSE, 0, pred, target, rows, cols, grad);
}

double RNNC_FN(rnnc_loss_mae)(const RNNC_REAL *pred, const RNNC_REAL *target, size_t rows,
                              size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_MAE, 0, pred, target, rows, cols, grad);
}

double RNNC_FN(rnnc_loss_sparse_cce_logits)(const RNNC_REAL *logits, const RNNC_REAL *labels,
                                            size_t rows, size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 1, logits, labels, rows, cols,
                        grad);
}

double RNNC_FN(rnnc_loss_sparse_cce)(const RNNC_REAL *probs, const RNNC_REAL *labels, size_t rows,
                                     size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 0, probs, labels, rows, cols,
                        grad);
}

double RNNC_FN(rnnc_loss_binary_ce)(const RNNC_REAL *probs, const RNNC_REAL *target, size_t rows,
                                    size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_BINARY_CROSSENTROPY, 0, probs, target, rows, cols, grad);
}

double RNNC_FN(rnnc_loss_binary_ce_logits)(const RNNC_REAL *logits, const RNNC_REAL *target,
                                           size_t rows, size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_BINARY_CROSSENTROPY, 1, logits, target, rows, cols, grad);
}

double RNNC_FN(rnnc_loss_categorical_ce)(const RNNC_REAL *probs, const RNNC_REAL *target,
                                         size_t rows, size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_CATEGORICAL_CROSSENTROPY, 0, probs, target, rows, cols, grad);
}

double RNNC_FN(rnnc_loss_categorical_ce_logits)(const RNNC_REAL *logits, const RNNC_REAL *target,
                                                size_t rows, size_t cols, RNNC_REAL *grad) {
  return RNNC_FN(plain)(RNNC_LOSS_CATEGORICAL_CROSSENTROPY, 1, logits, target, rows, cols, grad);
}

/* ---------------------------------------------------------------- accuracies */

double RNNC_FN(rnnc_sparse_accuracy)(const RNNC_REAL *probs, const RNNC_REAL *labels, size_t rows,
                                     size_t cols) {
  /* argmax takes the first maximum on ties; a label that is not a valid class
   * index never matches. */
  size_t r, c, hits = 0, label;
  if (rows == 0 || cols == 0)
    return NAN;
  for (r = 0; r < rows; r++) {
    const RNNC_REAL *p = probs + r * cols;
    size_t best = 0;
    for (c = 1; c < cols; c++)
      if (p[c] > p[best])
        best = c;
    if (label_index((double)labels[r], cols, &label) && label == best)
      hits++;
  }
  return (double)hits / (double)rows;
}

/* First index of the largest value (NaN never wins a comparison). */
static size_t RNNC_FN(argmax)(const RNNC_REAL *v, size_t n) {
  size_t best = 0, i;
  for (i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

double RNNC_FN(rnnc_categorical_accuracy)(const RNNC_REAL *probs, const RNNC_REAL *target,
                                          size_t rows, size_t cols) {
  /* Keras: argmax(pred) == argmax(target) per row; ties go to the first. */
  size_t r, hits = 0;
  if (rows == 0 || cols == 0)
    return NAN;
  for (r = 0; r < rows; r++)
    hits += RNNC_FN(argmax)(probs + r * cols, cols) == RNNC_FN(argmax)(target + r * cols, cols);
  return (double)hits / (double)rows;
}

double RNNC_FN(rnnc_binary_accuracy)(const RNNC_REAL *probs, const RNNC_REAL *target, size_t rows,
                                     size_t cols) {
  /* per element (pred > 0.5) == (target > 0.5), averaged over all elements
   * (the mean over cols then over rows, every row having cols elements). Keras
   * compares the thresholded prediction with the target itself, which is the
   * same for 0/1 targets. */
  size_t k, hits = 0, n = rows * cols;
  if (rows == 0 || cols == 0)
    return NAN;
  for (k = 0; k < n; k++)
    hits += ((double)probs[k] > 0.5) == ((double)target[k] > 0.5);
  return (double)hits / (double)n;
}

#undef RNNC_FN
