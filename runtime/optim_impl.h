/* One optimizer update and gradient clipping, written once for any real type.
 * Included by optim.c with RNNC_REAL (float or double), RNNC_SFX (_f32 or
 * _f64) and RNNC_SQRT (its square root) defined; no include guard on
 * purpose. Scalar factors are computed in double, and so is each element's
 * arithmetic before it is stored back in the real type, except in Adam and
 * AdamW, whose elements are computed in the real type as Keras does; a slot
 * is always read back as stored, as Keras reads its slot variables. The
 * rules are Keras 3's (keras/src/optimizers/), which tf.keras >= 2.11
 * shares. */
#if !defined(RNNC_REAL) || !defined(RNNC_SFX) || !defined(RNNC_SQRT)
#error "optim_impl.h needs RNNC_REAL, RNNC_SFX and RNNC_SQRT"
#endif

#define RNNC_FN(name) RNNC_CAT(name, RNNC_SFX)

/* Each rule updates the elements [lo, hi) of n parameters; slot kind k of
 * element i is slots[k n + i]. */

/* SGD: v = momentum v - lr g; w += v, or with nesterov w += momentum v - lr g
 * (v already updated); without momentum Keras keeps no velocity: w -= lr g. */
static void RNNC_FN(step_sgd)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                              const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo, size_t hi,
                              long step) {
  const double mu = opt->momentum;
  size_t i;
  (void)step;
  (void)n;
  if (mu == 0.0) {
    for (i = lo; i < hi; i++)
      w[i] = (RNNC_REAL)((double)w[i] - lr * (double)g[i]);
    return;
  }
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i];
    double v = mu * (double)slots[i] - lr * gi;
    slots[i] = (RNNC_REAL)v;
    if (opt->nesterov)
      w[i] = (RNNC_REAL)((double)w[i] + mu * v - lr * gi);
    else
      w[i] = (RNNC_REAL)((double)w[i] + v);
  }
}

/* Adam, and AdamW (which first decays the weights: w -= w * weight_decay * lr,
 * with the learning rate of this step, schedule applied, as Keras's
 * _apply_weight_decay does before the update). Slots m, v, then v_hat with
 * amsgrad. */
static void RNNC_FN(step_adam)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                               const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo, size_t hi,
                               long step) {
  const double b1 = opt->beta_1, b2 = opt->beta_2, eps = opt->epsilon;
  RNNC_REAL *m = slots, *v = slots + n, *vhat = slots + 2 * n;
  double t, lr_t;
  size_t i;
  if (opt->kind == RNNC_OPT_ADAMW && opt->weight_decay != 0.0) {
    const double wd = opt->weight_decay;
    for (i = lo; i < hi; i++)
      w[i] = (RNNC_REAL)((double)w[i] - (double)w[i] * wd * lr);
  }
  /* step counts from 1; a smaller value would divide by 1 - b1^0 = 0 */
  t = step < 1 ? 1.0 : (double)step;
  /* Keras folds both bias corrections into the rate and adds epsilon to the
   * uncorrected sqrt(v): lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t). */
  lr_t = lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t));
  if (!opt->amsgrad) {
    /* The common case in a loop of its own: no branch, so it vectorises.
     * Each element in the real type, as Keras computes the update of a
     * float32 variable in float32 (keras/src/optimizers/adam.py); in double
     * this was most of a small model's train_step (a square root and a
     * division per weight, 4 lanes to float's 8). */
    const RNNC_REAL c1 = (RNNC_REAL)(1.0 - b1), c2 = (RNNC_REAL)(1.0 - b2);
    const RNNC_REAL rate = (RNNC_REAL)lr_t, epsilon = (RNNC_REAL)eps;
    for (i = lo; i < hi; i++) {
      const RNNC_REAL gi = g[i];
      /* m = b1 m + (1 - b1) g and v = b2 v + (1 - b2) g^2, written as Keras
       * and TF's fused kernel write them: m += (g - m) (1 - b1). */
      const RNNC_REAL mi = m[i] + (gi - m[i]) * c1;
      const RNNC_REAL vi = v[i] + (gi * gi - v[i]) * c2;
      m[i] = mi;
      v[i] = vi;
      w[i] = w[i] - rate * mi / (RNNC_SQRT(vi) + epsilon);
    }
    return;
  }
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i], denom_v;
    m[i] = (RNNC_REAL)((double)m[i] + (gi - (double)m[i]) * (1.0 - b1));
    v[i] = (RNNC_REAL)((double)v[i] + (gi * gi - (double)v[i]) * (1.0 - b2));
    /* v_hat = max(v_hat, v); the update divides by sqrt(v_hat) */
    if (!((double)vhat[i] >= (double)v[i]))
      vhat[i] = v[i];
    denom_v = (double)vhat[i];
    w[i] = (RNNC_REAL)((double)w[i] - lr_t * (double)m[i] / (sqrt(denom_v) + eps));
  }
}

/* AdamW: Adam with its weight decay (step_adam reads opt->kind). */
static void RNNC_FN(step_adamw)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                                const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo,
                                size_t hi, long step) {
  RNNC_FN(step_adam)(opt, lr, w, g, slots, n, lo, hi, step);
}

/* RMSprop: s = rho s + (1 - rho) g^2; centered: mg = rho mg + (1 - rho) g and
 * the denominator uses s - mg^2; increment lr g / sqrt(denominator + eps);
 * momentum > 0: mom = momentum mom + increment, w -= mom; else w -= increment.
 * Slots: s, then mom (momentum > 0), then mg (centered).
 * legacy_epsilon: tf.keras <= 2.10 (optimizer_v2/rmsprop.py, and
 * tf.keras.optimizers.legacy.RMSprop) computes lr g / (sqrt(denominator) + eps)
 * in its momentum-free path; with momentum it calls TF's fused
 * ResourceApply(Centered)RMSProp kernel, whose epsilon is inside the sqrt, so
 * the flag changes nothing there. */
static void RNNC_FN(step_rmsprop)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                                  const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo,
                                  size_t hi, long step) {
  const double rho = opt->rho, mu = opt->momentum, eps = opt->epsilon;
  const int use_mom = mu > 0.0, eps_outside = opt->legacy_epsilon && !use_mom;
  RNNC_REAL *s = slots, *mom = slots + n, *mg = slots + (use_mom ? 2 : 1) * n;
  size_t i;
  (void)step;
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i], denom, inc;
    s[i] = (RNNC_REAL)(rho * (double)s[i] + (1.0 - rho) * gi * gi);
    denom = (double)s[i];
    if (opt->centered) {
      mg[i] = (RNNC_REAL)(rho * (double)mg[i] + (1.0 - rho) * gi);
      denom -= (double)mg[i] * (double)mg[i];
    }
    inc = eps_outside ? lr * gi / (sqrt(denom) + eps) : lr * gi / sqrt(denom + eps);
    if (use_mom) {
      mom[i] = (RNNC_REAL)(mu * (double)mom[i] + inc);
      w[i] = (RNNC_REAL)((double)w[i] - (double)mom[i]);
    } else {
      w[i] = (RNNC_REAL)((double)w[i] - inc);
    }
  }
}

/* Adagrad: accumulators start at initial_accumulator_value (set here at step
 * 1); accum += g^2; w -= lr g / sqrt(accum + eps). */
static void RNNC_FN(step_adagrad)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                                  const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo,
                                  size_t hi, long step) {
  const double eps = opt->epsilon;
  size_t i;
  (void)n;
  if (step <= 1)
    for (i = lo; i < hi; i++)
      slots[i] = (RNNC_REAL)opt->initial_accumulator_value;
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i];
    slots[i] = (RNNC_REAL)((double)slots[i] + gi * gi);
    w[i] = (RNNC_REAL)((double)w[i] - lr * gi / sqrt((double)slots[i] + eps));
  }
}

/* Nadam (keras/src/optimizers/nadam.py): with u_k = b1 (1 - 0.5 0.96^k) and
 * u_product_t = u_1 ... u_t (Keras keeps it as a variable; it depends on t
 * only, so it is recomputed: past k = 1000, 0.96^k is below double's
 * resolution and u_k is b1),
 *   m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
 *   m_hat = u_{t+1} m / (1 - u_product_t u_{t+1}) + (1 - u_t) g / (1 - u_product_t);
 *   v_hat = v / (1 - b2^t); w -= lr m_hat / (sqrt(v_hat) + eps). */
static void RNNC_FN(step_nadam)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                                const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo,
                                size_t hi, long step) {
  const double b1 = opt->beta_1, b2 = opt->beta_2, eps = opt->epsilon;
  double t = step < 1 ? 1.0 : (double)step, u_t, u_next, prod = 1.0, prod_next, b2_t;
  RNNC_REAL *m = slots, *v = slots + n;
  long k, last = step < 1 ? 1 : step;
  size_t i;
  for (k = 1; k <= last && k <= 1000; k++)
    prod *= b1 * (1.0 - 0.5 * pow(0.96, (double)k));
  if (last > 1000)
    prod *= pow(b1, (double)(last - 1000));
  u_t = b1 * (1.0 - 0.5 * pow(0.96, t));
  u_next = b1 * (1.0 - 0.5 * pow(0.96, t + 1.0));
  prod_next = prod * u_next;
  b2_t = pow(b2, t);
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i], mh, vh;
    m[i] = (RNNC_REAL)((double)m[i] + (gi - (double)m[i]) * (1.0 - b1));
    v[i] = (RNNC_REAL)((double)v[i] + (gi * gi - (double)v[i]) * (1.0 - b2));
    mh = u_next * (double)m[i] / (1.0 - prod_next) + (1.0 - u_t) * gi / (1.0 - prod);
    vh = (double)v[i] / (1.0 - b2_t);
    w[i] = (RNNC_REAL)((double)w[i] - mh * lr / (sqrt(vh) + eps));
  }
}

/* Adamax (keras/src/optimizers/adamax.py): m += (g - m)(1 - b1);
 * u = max(b2 u, |g|); w -= lr m / ((1 - b1^t)(u + eps)). */
static void RNNC_FN(step_adamax)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                                 const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo,
                                 size_t hi, long step) {
  const double b1 = opt->beta_1, b2 = opt->beta_2, eps = opt->epsilon;
  const double b1_t = pow(b1, step < 1 ? 1.0 : (double)step);
  RNNC_REAL *m = slots, *u = slots + n;
  size_t i;
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i], ui;
    m[i] = (RNNC_REAL)((double)m[i] + (gi - (double)m[i]) * (1.0 - b1));
    ui = b2 * (double)u[i];
    u[i] = (RNNC_REAL)(ui > fabs(gi) ? ui : fabs(gi));
    w[i] = (RNNC_REAL)((double)w[i] - lr * (double)m[i] / ((1.0 - b1_t) * ((double)u[i] + eps)));
  }
}

/* Adadelta (keras/src/optimizers/adadelta.py): a = rho a + (1 - rho) g^2;
 * delta = -sqrt(d + eps) g / sqrt(a + eps); d = rho d + (1 - rho) delta^2;
 * w += lr delta. Slots a, then d. */
static void RNNC_FN(step_adadelta)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                                   const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo,
                                   size_t hi, long step) {
  const double rho = opt->rho, eps = opt->epsilon;
  RNNC_REAL *a = slots, *d = slots + n;
  size_t i;
  (void)step;
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i], delta;
    a[i] = (RNNC_REAL)(rho * (double)a[i] + (1.0 - rho) * gi * gi);
    delta = -(sqrt((double)d[i] + eps) * gi) / sqrt((double)a[i] + eps);
    d[i] = (RNNC_REAL)(rho * (double)d[i] + (1.0 - rho) * delta * delta);
    w[i] = (RNNC_REAL)((double)w[i] + lr * delta);
  }
}

/* Ftrl (keras/src/optimizers/ftrl.py): accumulators start at
 * initial_accumulator_value (set at step 1), linears at 0; with
 * p = -learning_rate_power, l2 = l2_regularization_strength + beta / (2 lr):
 *   g' = g + 2 l2_shrinkage w; a' = a + g^2;
 *   linear += g' - (a'^p - a^p) / lr w;
 *   w = (clip(linear, -l1, l1) - linear) / (a'^p / lr + 2 l2); a = a'. */
static void RNNC_FN(step_ftrl)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                               const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo, size_t hi,
                               long step) {
  const double p = -opt->learning_rate_power, l1 = opt->l1_regularization_strength;
  const double l2 = opt->l2_regularization_strength + opt->beta / (2.0 * lr);
  RNNC_REAL *accum = slots, *linear = slots + n;
  size_t i;
  if (step <= 1)
    for (i = lo; i < hi; i++)
      accum[i] = (RNNC_REAL)opt->initial_accumulator_value;
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i], wi = (double)w[i], a = (double)accum[i], a2 = a + gi * gi, lin;
    double gu = gi + 2.0 * opt->l2_shrinkage_regularization_strength * wi;
    lin = (double)linear[i] + gu - (pow(a2, p) - pow(a, p)) / lr * wi;
    linear[i] = (RNNC_REAL)lin;
    lin = (double)linear[i];
    w[i] = (RNNC_REAL)(((lin < -l1  ? -l1
                         : lin > l1 ? l1
                                    : lin) -
                        lin) /
                       (pow(a2, p) / lr + 2.0 * l2));
    accum[i] = (RNNC_REAL)a2;
  }
}

/* Lion (keras/src/optimizers/lion.py): w -= lr sign(b1 m + (1 - b1) g);
 * then m = b2 m + (1 - b2) g. */
static void RNNC_FN(step_lion)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                               const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo, size_t hi,
                               long step) {
  const double b1 = opt->beta_1, b2 = opt->beta_2;
  RNNC_REAL *m = slots;
  size_t i;
  (void)step;
  (void)n;
  for (i = lo; i < hi; i++) {
    double gi = (double)g[i], c = (double)m[i] * b1 + gi * (1.0 - b1);
    w[i] = (RNNC_REAL)((double)w[i] - lr * (c > 0.0 ? 1.0 : c < 0.0 ? -1.0 : 0.0));
    m[i] = (RNNC_REAL)((double)m[i] * b2 + gi * (1.0 - b2));
  }
}

/* The update of the elements [lo, hi) of n parameters, learning rate lr. */
static void RNNC_FN(step_range)(const rnnc_optimizer *opt, double lr, RNNC_REAL *w,
                                const RNNC_REAL *g, RNNC_REAL *slots, size_t n, size_t lo,
                                size_t hi, long step) {
  /* every optimizer of the catalog: its rule step_<name> above */
  switch (opt->kind) {
#define STEP(id, NAME, name, cls)                                                                  \
  case RNNC_OPT_##NAME:                                                                            \
    RNNC_FN(step_##name)(opt, lr, w, g, slots, n, lo, hi, step);                                   \
    break;
    RNNC_OPTIMIZERS(STEP)
#undef STEP
  }
}

void RNNC_FN(rnnc_optimizer_step)(const rnnc_optimizer *opt, RNNC_REAL *w, const RNNC_REAL *g,
                                  RNNC_REAL *slots, size_t n, long step) {
  if (opt == NULL)
    return;
  RNNC_FN(step_range)(opt, rnnc_optimizer_learning_rate(opt, step), w, g, slots, n, 0, n, step);
}

/* tf.clip_by_norm / Keras's _clip_by_norm: g * clip / max(norm, clip), which
 * leaves g as it is when norm <= clip (skipped here, so no rounding either). */
static void RNNC_FN(clip_norm)(RNNC_REAL *g, size_t n, double clip) {
  double sq = 0.0, norm;
  size_t i;
  for (i = 0; i < n; i++)
    sq += (double)g[i] * (double)g[i];
  norm = sqrt(sq);
  if (norm > clip)
    for (i = 0; i < n; i++)
      g[i] = (RNNC_REAL)((double)g[i] * clip / norm);
}

void RNNC_FN(rnnc_optimizer_apply)(const rnnc_optimizer *opt, RNNC_REAL *w, RNNC_REAL *g,
                                   RNNC_REAL *slots, size_t n, long step,
                                   const struct rnnc_tensor_desc_s *tensors, int n_tensors) {
  size_t i;
  int k;
  if (opt == NULL)
    return;
  /* The order of tf.keras's optimizer_v2 _transform_gradients. Keras 3 and
   * tf.keras >= 2.11 refuse more than one of the three, so for them the order
   * does not matter. */
  if (opt->clipvalue > 0.0) {
    const double v = opt->clipvalue;
    for (i = 0; i < n; i++) {
      double x = (double)g[i];
      /* NaN passes through, as in clip_by_value */
      if (x < -v)
        g[i] = (RNNC_REAL)-v;
      else if (x > v)
        g[i] = (RNNC_REAL)v;
    }
  }
  if (opt->clipnorm > 0.0) {
    /* per weight tensor; without a descriptor the whole vector is one tensor.
     * Tensors reaching past n are left alone. */
    if (tensors == NULL || n_tensors <= 0)
      RNNC_FN(clip_norm)(g, n, opt->clipnorm);
    else
      for (k = 0; k < n_tensors; k++)
        if (tensors[k].offset <= n && tensors[k].size <= n - tensors[k].offset)
          RNNC_FN(clip_norm)(g + tensors[k].offset, tensors[k].size, opt->clipnorm);
  }
  if (opt->global_clipnorm > 0.0) {
    /* clip_by_global_norm: scale = clip * min(1 / norm, 1 / clip), made NaN
     * when the norm is not finite */
    const double clip = opt->global_clipnorm;
    double sq = 0.0, norm;
    for (i = 0; i < n; i++)
      sq += (double)g[i] * (double)g[i];
    norm = sqrt(sq);
    if (!isfinite(norm) || norm > clip) {
      double scale = isfinite(norm) ? clip * (1.0 / norm) : (double)NAN;
      for (i = 0; i < n; i++)
        g[i] = (RNNC_REAL)((double)g[i] * scale);
    }
  }
  {
    /* the update of every element outside the frozen tensors: [cursor, the
     * next frozen tensor's offset), then past it */
    const double lr = rnnc_optimizer_learning_rate(opt, step);
    size_t cursor = 0;
    for (k = 0; tensors != NULL && k < n_tensors; k++) {
      const struct rnnc_tensor_desc_s *t = &tensors[k];
      if (!t->frozen || t->offset < cursor || t->offset > n || t->size > n - t->offset)
        continue;
      if (t->offset > cursor)
        RNNC_FN(step_range)(opt, lr, w, g, slots, n, cursor, t->offset, step);
      cursor = t->offset + t->size;
    }
    if (cursor < n)
      RNNC_FN(step_range)(opt, lr, w, g, slots, n, cursor, n, step);
  }
  RNNC_FN(rnnc_constrain)(tensors, n_tensors, w, n);
}

/* A tensor of the descriptor lies inside the n reals. */
static int RNNC_FN(inside)(const struct rnnc_tensor_desc_s *t, size_t n) {
  return t->offset <= n && t->size <= n - t->offset;
}

/* Keras's L1, L2, L1L2 (keras/src/regularizers/regularizers.py, __call__):
 * l1 * sum(abs(x)) + l2 * sum(square(x)), no 1/2; the gradient is what
 * autodiff gives in TensorFlow and JAX, sign(0) = 0. */
double RNNC_FN(rnnc_regularize)(const struct rnnc_tensor_desc_s *tensors, int n_tensors,
                                const RNNC_REAL *w, RNNC_REAL *g, size_t n) {
  double penalty = 0.0;
  int k;
  for (k = 0; tensors != NULL && k < n_tensors; k++) {
    const struct rnnc_tensor_desc_s *t = &tensors[k];
    const double l1 = t->rule.l1, l2 = t->rule.l2;
    double a = 0.0, q = 0.0;
    size_t i;
    if (t->frozen || (l1 == 0.0 && l2 == 0.0) || !RNNC_FN(inside)(t, n))
      continue;
    for (i = t->offset; i < t->offset + t->size; i++) {
      const double x = (double)w[i];
      a += fabs(x);
      q += x * x;
      if (g != NULL)
        g[i] = (RNNC_REAL)((double)g[i] + l1 * (double)((x > 0.0) - (x < 0.0)) + 2.0 * l2 * x);
    }
    penalty += l1 * a + l2 * q;
  }
  return penalty;
}

/* Keras's activity_regularizer on one sample's output h, a rows x cols view
 * (row stride rs, column stride cs): l1 sum(|h|) + l2 sum(h^2) in double;
 * when g is not NULL, scale times its gradient is written (not added) into
 * g, rows x cols packed (sign(0) = 0). */
double RNNC_FN(rnnc_activity_penalty)(const RNNC_REAL *h, size_t rows, size_t cols, size_t rs,
                                      size_t cs, double l1, double l2, double scale, RNNC_REAL *g) {
  double a = 0.0, q = 0.0;
  size_t r, c;
  for (r = 0; r < rows; r++)
    for (c = 0; c < cols; c++) {
      const double x = (double)h[r * rs + c * cs];
      a += fabs(x);
      q += x * x;
      if (g != NULL)
        g[r * cols + c] =
            (RNNC_REAL)(scale * (l1 * (double)((x > 0.0) - (x < 0.0)) + 2.0 * l2 * x));
    }
  return l1 * a + l2 * q;
}

/* The offset of the multi-index `code` (mixed radix over the dimensions
 * selected by `mask`, the last fastest) in a row-major tensor. */
static size_t RNNC_FN(offset_of)(const struct rnnc_tensor_desc_s *t, unsigned mask, size_t code) {
  size_t off = 0, stride = 1;
  int d;
  for (d = t->rank - 1; d >= 0; d--) {
    const size_t dim = (size_t)t->shape[d];
    if (mask & (1u << d)) {
      off += (code % dim) * stride;
      code /= dim;
    }
    stride *= dim;
  }
  return off;
}

/* Keras's MaxNorm, NonNeg, UnitNorm, MinMaxNorm
 * (keras/src/constraints/constraints.py, __call__): norms =
 * sqrt(sum(square(w), axis, keepdims)), then w * desired / (epsilon + norms)
 * (UnitNorm: w / (epsilon + norms)), epsilon = backend.epsilon() = 1e-7. Each
 * norm's sum in double, in row-major order of the reduced dimensions. */
void RNNC_FN(rnnc_constrain)(const struct rnnc_tensor_desc_s *tensors, int n_tensors, RNNC_REAL *w,
                             size_t n) {
  int k, d;
  for (k = 0; tensors != NULL && k < n_tensors; k++) {
    const struct rnnc_tensor_desc_s *t = &tensors[k];
    const rnnc_weight_rule *r = &t->rule;
    unsigned all = 0, red, kept;
    size_t groups = 1, per = 1, gi, j;
    RNNC_REAL *v;
    if (t->frozen || r->constraint == RNNC_CONSTRAINT_NONE || !RNNC_FN(inside)(t, n))
      continue;
    v = w + t->offset;
    if (r->constraint == RNNC_CONSTRAINT_NON_NEG) {
      for (j = 0; j < t->size; j++)
        if (v[j] < 0)
          v[j] = 0;
      continue;
    }
    for (d = 0; d < t->rank && d < RNNC_MAX_RANK; d++)
      all |= 1u << d;
    red = r->axes & all;
    kept = all & ~red;
    for (d = 0; d < t->rank && d < RNNC_MAX_RANK; d++) {
      if (red & (1u << d))
        per *= (size_t)t->shape[d];
      else
        groups *= (size_t)t->shape[d];
    }
    for (gi = 0; gi < groups; gi++) {
      const size_t base = RNNC_FN(offset_of)(t, kept, gi);
      double sq = 0.0, norm, desired, scale;
      for (j = 0; j < per; j++) {
        const double x = (double)v[base + RNNC_FN(offset_of)(t, red, j)];
        sq += x * x;
      }
      norm = sqrt(sq);
      switch (r->constraint) {
      case RNNC_CONSTRAINT_MAX_NORM:
        desired = norm < 0.0 ? 0.0 : norm > r->max_value ? r->max_value : norm;
        scale = desired / (RNNC_CONSTRAINT_EPSILON + norm);
        break;
      case RNNC_CONSTRAINT_UNIT_NORM:
        scale = 1.0 / (RNNC_CONSTRAINT_EPSILON + norm);
        break;
      case RNNC_CONSTRAINT_MIN_MAX_NORM:
        desired = norm < r->min_value ? r->min_value : norm > r->max_value ? r->max_value : norm;
        desired = r->rate * desired + (1.0 - r->rate) * norm;
        scale = desired / (RNNC_CONSTRAINT_EPSILON + norm);
        break;
      default:
        scale = 1.0;
      }
      for (j = 0; j < per; j++) {
        const size_t at = base + RNNC_FN(offset_of)(t, red, j);
        v[at] = (RNNC_REAL)((double)v[at] * scale);
      }
    }
  }
}

#undef RNNC_FN
