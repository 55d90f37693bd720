/* Losses (mse, mae, binary and categorical crossentropy, sparse categorical
 * crossentropy) and accuracies, written once for any real type. Included by
 * loss.c with RNNC_REAL (float or double) and RNNC_SFX (_f32 or _f64) defined;
 * no include guard on purpose. All sums are taken in double. */
#if !defined(RNNC_REAL) || !defined(RNNC_SFX)
#error "loss_impl.h needs RNNC_REAL and RNNC_SFX"
#endif

#define RNNC_FN(name) RNNC_CAT(name, RNNC_SFX)

/* Checks every label before anything is computed; on a bad one the gradient
 * (when wanted) is filled with NaN so no caller mistakes it for a real one. */
static int RNNC_FN(labels_valid)(const RNNC_REAL *labels, size_t rows, size_t cols,
                                 RNNC_REAL *grad) {
  size_t r, idx;
  for (r = 0; r < rows; r++) {
    if (!label_index((double)labels[r], cols, &idx)) {
      if (grad != NULL)
        for (idx = 0; idx < rows * cols; idx++)
          grad[idx] = (RNNC_REAL)NAN;
      return 0;
    }
  }
  return 1;
}

double RNNC_FN(rnnc_loss_mse)(const RNNC_REAL *pred, const RNNC_REAL *target, size_t rows,
                              size_t cols, RNNC_REAL *grad) {
  /* mean over cols per row, then mean over rows; the gradient of that mean is
   * 2 (pred - target) / (rows * cols). */
  double total = 0.0, scale;
  size_t r, c;
  if (rows == 0 || cols == 0)
    return NAN; /* Keras's mean of nothing */
  scale = 2.0 / ((double)rows * (double)cols);
  for (r = 0; r < rows; r++) {
    double row = 0.0;
    for (c = 0; c < cols; c++) {
      size_t k = r * cols + c;
      double d = (double)pred[k] - (double)target[k];
      row += d * d;
      if (grad != NULL)
        grad[k] = (RNNC_REAL)(scale * d);
    }
    total += row / (double)cols;
  }
  return total / (double)rows;
}

double RNNC_FN(rnnc_loss_sparse_cce_logits)(const RNNC_REAL *logits, const RNNC_REAL *labels,
                                            size_t rows, size_t cols, RNNC_REAL *grad) {
  /* Stable log-softmax: loss = max + log(sum exp(x - max)) - x[label];
   * gradient (softmax - onehot) / rows. No clipping, as Keras does when it
   * fuses the softmax output with the crossentropy. */
  double total = 0.0;
  size_t r, c, label;
  if (rows == 0 || cols == 0)
    return NAN;
  if (!RNNC_FN(labels_valid)(labels, rows, cols, grad))
    return NAN;
  for (r = 0; r < rows; r++) {
    const RNNC_REAL *x = logits + r * cols;
    double max = (double)x[0], sum = 0.0;
    for (c = 1; c < cols; c++)
      if ((double)x[c] > max)
        max = (double)x[c];
    for (c = 0; c < cols; c++)
      sum += exp((double)x[c] - max);
    label = (size_t)labels[r]; /* validated above */
    /* (max - x[label]) before adding log(sum): large logits do not cancel */
    total += (max - (double)x[label]) + log(sum);
    if (grad != NULL)
      for (c = 0; c < cols; c++)
        grad[r * cols + c] =
            (RNNC_REAL)((exp((double)x[c] - max) / sum - (c == label ? 1.0 : 0.0)) / (double)rows);
  }
  return total / (double)rows;
}

double RNNC_FN(rnnc_loss_sparse_cce)(const RNNC_REAL *probs, const RNNC_REAL *labels, size_t rows,
                                     size_t cols, RNNC_REAL *grad) {
  /* tf.keras (keras/backend.py sparse_categorical_crossentropy, TF backend)
   * clips p to [eps, 1 - eps], takes the log and feeds it as logits to
   * tf.nn.sparse_softmax_cross_entropy_with_logits. The softmax of log(q)
   * renormalises the clipped q, so per row
   *   loss = log(sum_j q_j) - log(q_label),  q = clip(p),
   * which is -log(clip(p[label])) whenever the row sums to 1 (a softmax
   * output), and d loss / d p_j = (1 / sum q - [j == label] / q_label) / rows
   * where p_j is inside the clip range, 0 where it was clipped (the gradient of
   * clip_by_value). The bounds are eps and 1 - eps computed in the real type,
   * as Keras computes them in the tensor's dtype. */
  const RNNC_REAL eps = (RNNC_REAL)1e-7;
  const double lo = (double)eps, hi = (double)((RNNC_REAL)1 - eps);
  double total = 0.0;
  size_t r, c, label;
  if (rows == 0 || cols == 0)
    return NAN;
  if (!RNNC_FN(labels_valid)(labels, rows, cols, grad))
    return NAN;
  for (r = 0; r < rows; r++) {
    const RNNC_REAL *p = probs + r * cols;
    double sum = 0.0, ql = 0.0;
    label = (size_t)labels[r]; /* validated above */
    for (c = 0; c < cols; c++) {
      double q = (double)p[c];
      /* written so that NaN passes through unclipped, as in clip_by_value */
      if (q < lo)
        q = lo;
      else if (q > hi)
        q = hi;
      sum += q;
      if (c == label)
        ql = q;
    }
    total += log(sum) - log(ql);
    if (grad != NULL) {
      for (c = 0; c < cols; c++) {
        double v = (double)p[c], g = 0.0;
        if (!(v < lo || v > hi))
          g = (1.0 / sum - (c == label ? 1.0 / ql : 0.0)) / (double)rows;
        grad[r * cols + c] = (RNNC_REAL)g;
      }
    }
  }
  return total / (double)rows;
}

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

double RNNC_FN(rnnc_loss_mae)(const RNNC_REAL *pred, const RNNC_REAL *target, size_t rows,
                              size_t cols, RNNC_REAL *grad) {
  /* mean(|pred - target|) over cols, then over rows; the gradient of that mean
   * is sign(pred - target) / (rows * cols), 0 where they are equal (tf.sign's
   * gradient of abs), NaN where the difference is NaN. */
  double total = 0.0, scale;
  size_t r, c;
  if (rows == 0 || cols == 0)
    return NAN;
  scale = 1.0 / ((double)rows * (double)cols);
  for (r = 0; r < rows; r++) {
    double row = 0.0;
    for (c = 0; c < cols; c++) {
      size_t k = r * cols + c;
      double d = (double)pred[k] - (double)target[k];
      row += fabs(d);
      if (grad != NULL)
        grad[k] = (RNNC_REAL)(d > 0.0 ? scale : d < 0.0 ? -scale : d == 0.0 ? 0.0 : d);
    }
    total += row / (double)cols;
  }
  return total / (double)rows;
}

double RNNC_FN(rnnc_loss_binary_ce)(const RNNC_REAL *probs, const RNNC_REAL *target, size_t rows,
                                    size_t cols, RNNC_REAL *grad) {
  /* tf.keras 2.x (keras/backend.py binary_crossentropy, for probabilities it
   * cannot trace back to a sigmoid's logits): q = clip(p, eps, 1 - eps), then
   *   -(y log(q + eps) + (1 - y) log(1 - q + eps)),
   * with eps = 1e-7 added inside both logs once more. Keras 3 drops that second
   * eps; the two differ by about eps / q, and by up to log 2 where p is
   * clipped. Mean over cols, then over rows. d/dp is
   *   (-y / (q + eps) + (1 - y) / (1 - q + eps)) / (rows * cols)
   * inside the clip range and 0 where p was clipped. Bounds and eps are taken
   * in the real type, as Keras takes them in the tensor's dtype. */
  const RNNC_REAL eps = (RNNC_REAL)1e-7;
  const double lo = (double)eps, hi = (double)((RNNC_REAL)1 - eps);
  double total = 0.0, scale;
  size_t r, c;
  if (rows == 0 || cols == 0)
    return NAN;
  scale = 1.0 / ((double)rows * (double)cols);
  for (r = 0; r < rows; r++) {
    double row = 0.0;
    for (c = 0; c < cols; c++) {
      size_t k = r * cols + c;
      double p = (double)probs[k], y = (double)target[k], q = p;
      /* written so that NaN passes through unclipped, as in clip_by_value */
      if (q < lo)
        q = lo;
      else if (q > hi)
        q = hi;
      row -= y * log(q + lo) + (1.0 - y) * log(1.0 - q + lo);
      if (grad != NULL)
        grad[k] =
            (RNNC_REAL)((p < lo || p > hi) ? 0.0
                                           : scale * (-y / (q + lo) + (1.0 - y) / (1.0 - q + lo)));
    }
    total += row / (double)cols;
  }
  return total / (double)rows;
}

/* sigmoid(z) without overflow for either sign */
static double RNNC_FN(sigmoid)(double z) {
  double e;
  if (z >= 0.0)
    return 1.0 / (1.0 + exp(-z));
  e = exp(z);
  return e / (1.0 + e);
}

double RNNC_FN(rnnc_loss_binary_ce_logits)(const RNNC_REAL *logits, const RNNC_REAL *target,
                                           size_t rows, size_t cols, RNNC_REAL *grad) {
  /* tf.nn.sigmoid_cross_entropy_with_logits' stable form
   *   max(z, 0) - z y + log(1 + exp(-|z|)),
   * no clipping; gradient (sigmoid(z) - y) / (rows * cols). */
  double total = 0.0, scale;
  size_t r, c;
  if (rows == 0 || cols == 0)
    return NAN;
  scale = 1.0 / ((double)rows * (double)cols);
  for (r = 0; r < rows; r++) {
    double row = 0.0;
    for (c = 0; c < cols; c++) {
      size_t k = r * cols + c;
      double z = (double)logits[k], y = (double)target[k];
      row += (z > 0.0 ? z : 0.0) - z * y + log1p(exp(-fabs(z)));
      if (grad != NULL)
        grad[k] = (RNNC_REAL)(scale * (RNNC_FN(sigmoid)(z) - y));
    }
    total += row / (double)cols;
  }
  return total / (double)rows;
}

double RNNC_FN(rnnc_loss_categorical_ce)(const RNNC_REAL *probs, const RNNC_REAL *target,
                                         size_t rows, size_t cols, RNNC_REAL *grad) {
  /* tf.keras 2.x (keras/backend.py categorical_crossentropy, for
   * probabilities): per row q = p / sum(p), c = clip(q, eps, 1 - eps),
   * loss -sum_j y_j log c_j (a sum over cols, not a mean); mean over rows.
   * Through the normalisation dq_j/dp_k = ([j == k] - q_j) / S, and clipping
   * stops the gradient of the clipped c_j, so with u_j = -y_j / q_j where q_j
   * is inside the clip range (0 where clipped),
   *   d loss / d p_k = (u_k + sum_{j unclipped} y_j) / (S * rows),
   * which is nonzero for a clipped p_k too (it still moves S). */
  const RNNC_REAL eps = (RNNC_REAL)1e-7;
  const double lo = (double)eps, hi = (double)((RNNC_REAL)1 - eps);
  double total = 0.0;
  size_t r, c;
  if (rows == 0 || cols == 0)
    return NAN;
  for (r = 0; r < rows; r++) {
    const RNNC_REAL *p = probs + r * cols, *y = target + r * cols;
    double sum = 0.0, row = 0.0, ysum_in = 0.0;
    for (c = 0; c < cols; c++)
      sum += (double)p[c];
    for (c = 0; c < cols; c++) {
      double q = (double)p[c] / sum, cq = q;
      if (cq < lo)
        cq = lo;
      else if (cq > hi)
        cq = hi;
      row -= (double)y[c] * log(cq);
      if (!(q < lo || q > hi))
        ysum_in += (double)y[c];
    }
    total += row;
    if (grad != NULL) {
      for (c = 0; c < cols; c++) {
        double q = (double)p[c] / sum;
        double u = (q < lo || q > hi) ? 0.0 : -(double)y[c] / q;
        grad[r * cols + c] = (RNNC_REAL)((u + ysum_in) / (sum * (double)rows));
      }
    }
  }
  return total / (double)rows;
}

double RNNC_FN(rnnc_loss_categorical_ce_logits)(const RNNC_REAL *logits, const RNNC_REAL *target,
                                                size_t rows, size_t cols, RNNC_REAL *grad) {
  /* tf.nn.softmax_cross_entropy_with_logits: per row
   *   -sum_j y_j log softmax(z)_j = sum_j y_j ((max - z_j) + log sum exp(z - max)),
   * no clipping; gradient (softmax(z) sum(y) - y) / rows (sum(y) is 1 for a
   * one-hot or probability target). */
  double total = 0.0;
  size_t r, c;
  if (rows == 0 || cols == 0)
    return NAN;
  for (r = 0; r < rows; r++) {
    const RNNC_REAL *x = logits + r * cols, *y = target + r * cols;
    double max = (double)x[0], sum = 0.0, lse, ysum = 0.0;
    for (c = 1; c < cols; c++)
      if ((double)x[c] > max)
        max = (double)x[c];
    for (c = 0; c < cols; c++) {
      sum += exp((double)x[c] - max);
      ysum += (double)y[c];
    }
    lse = log(sum);
    for (c = 0; c < cols; c++)
      total += (double)y[c] * ((max - (double)x[c]) + lse);
    if (grad != NULL)
      for (c = 0; c < cols; c++)
        grad[r * cols + c] =
            (RNNC_REAL)((exp((double)x[c] - max) / sum * ysum - (double)y[c]) / (double)rows);
  }
  return total / (double)rows;
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
