/* Losses and sparse accuracy, written once for any real type. Included by
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

#undef RNNC_FN
