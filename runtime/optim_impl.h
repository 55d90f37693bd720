/* One optimizer update, written once for any real type. Included by optim.c
 * with RNNC_REAL (float or double) and RNNC_SFX (_f32 or _f64) defined; no
 * include guard on purpose. Scalar factors are computed in double, and so is
 * each element's arithmetic before it is stored back in the real type. */
#if !defined(RNNC_REAL) || !defined(RNNC_SFX)
#error "optim_impl.h needs RNNC_REAL and RNNC_SFX"
#endif

#define RNNC_FN(name) RNNC_CAT(name, RNNC_SFX)

void RNNC_FN(rnnc_optimizer_step)(const rnnc_optimizer *opt, RNNC_REAL *w, const RNNC_REAL *g,
                                  RNNC_REAL *slots, size_t n, long step) {
  size_t i;
  if (opt == NULL)
    return;
  if (opt->kind == RNNC_OPT_SGD) {
    const double lr = opt->learning_rate, mu = opt->momentum;
    if (mu == 0.0) {
      /* Keras keeps no velocity without momentum: w -= lr * g */
      for (i = 0; i < n; i++)
        w[i] = (RNNC_REAL)((double)w[i] - lr * (double)g[i]);
      return;
    }
    /* v = momentum * v - lr * g; w += v, or with nesterov
     * w += momentum * v - lr * g (v already updated). */
    for (i = 0; i < n; i++) {
      double gi = (double)g[i];
      double v = mu * (double)slots[i] - lr * gi;
      slots[i] = (RNNC_REAL)v;
      if (opt->nesterov)
        w[i] = (RNNC_REAL)((double)w[i] + mu * v - lr * gi);
      else
        w[i] = (RNNC_REAL)((double)w[i] + v);
    }
  } else if (opt->kind == RNNC_OPT_ADAM) {
    const double b1 = opt->beta_1, b2 = opt->beta_2, eps = opt->epsilon;
    RNNC_REAL *m = slots, *v = slots + n;
    double t, lr_t;
    /* step counts from 1; a smaller value would divide by 1 - b1^0 = 0 */
    t = step < 1 ? 1.0 : (double)step;
    /* Keras folds both bias corrections into the rate and adds epsilon to the
     * uncorrected sqrt(v): lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t). */
    lr_t = opt->learning_rate * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t));
    for (i = 0; i < n; i++) {
      double gi = (double)g[i];
      /* m = b1 m + (1 - b1) g and v = b2 v + (1 - b2) g^2, written as Keras
       * and TF's fused kernel write them: m += (g - m) (1 - b1). */
      m[i] = (RNNC_REAL)((double)m[i] + (gi - (double)m[i]) * (1.0 - b1));
      v[i] = (RNNC_REAL)((double)v[i] + (gi * gi - (double)v[i]) * (1.0 - b2));
      /* m and v as stored in the real type, as Keras reads its slot variables */
      w[i] = (RNNC_REAL)((double)w[i] - lr_t * (double)m[i] / (sqrt((double)v[i]) + eps));
    }
  }
}

#undef RNNC_FN
