/* Keras optimizers (SGD with momentum/nesterov, RMSprop, Adam with amsgrad,
 * AdamW, Adagrad, Nadam, Adamax, Adadelta, Ftrl, Lion), the learning-rate
 * schedules and gradient clipping for float and double: the update is written once in optim_impl.h
 * and instantiated here for each real type. */
#include "rnnc.h"

#include <math.h>

#define RNNC_CAT_(a, b) a##b
#define RNNC_CAT(a, b) RNNC_CAT_(a, b)

/* Keras's defaults and the state sizes come from the catalog
 * (RNNC_OPTIMIZER_DEFAULTS, RNNC_OPTIMIZER_SLOTS in rnnc_catalog.h). */
rnnc_optimizer rnnc_optimizer_default(rnnc_optimizer_kind kind) {
  /* static storage: every field zero (off), the pointers-free way to clear a
   * struct with doubles in C99 */
  static const rnnc_optimizer zero;
  rnnc_optimizer opt = zero;
  opt.kind = kind;
#define DEFAULT(NAME, field, value)                                                                \
  if (kind == RNNC_OPT_##NAME)                                                                     \
    opt.field = value;
  RNNC_OPTIMIZER_DEFAULTS(DEFAULT)
#undef DEFAULT
  return opt;
}

size_t rnnc_optimizer_slots(const rnnc_optimizer *opt, size_t n) {
  size_t per = 0;
  if (opt == NULL)
    return 0;
#define SLOTS(NAME, count, condition)                                                              \
  if (opt->kind == RNNC_OPT_##NAME && (condition))                                                 \
    per += count;
  RNNC_OPTIMIZER_SLOTS(SLOTS)
#undef SLOTS
  return per * n;
}

/* The learning rate of update `step` (counting from 1): the schedule (rnnc.h,
 * rnnc_optimizer) at i = step - 1, the number of updates already applied,
 * as Keras evaluates its schedules at optimizer.iterations
 * (keras/src/optimizers/schedules/learning_rate_schedule.py). */
double rnnc_optimizer_learning_rate(const rnnc_optimizer *opt, long step) {
  const double lr = opt->learning_rate, i = step < 1 ? 0.0 : (double)(step - 1);
  const double pi = 3.14159265358979323846;
  double p, d;
  int k;
  switch (opt->schedule) {
  case 0: /* units before issue 13: ExponentialDecay when decay_steps > 0 */
  case 1:
    if (!(opt->decay_steps > 0.0))
      return lr;
    p = i / opt->decay_steps;
    if (opt->staircase)
      p = floor(p);
    return lr * pow(opt->decay_rate, p);
  case 2:                       /* PiecewiseConstantDecay: the first boundary at or past i */
    if (opt->n_boundaries <= 0) /* no lists (e.g. --schedule 2 alone): the rate */
      return lr;
    for (k = 0; k < opt->n_boundaries && k < RNNC_MAX_BOUNDARIES; k++)
      if (i <= opt->boundaries[k])
        return opt->values[k];
    return opt->values[k];
  case 3: /* InverseTimeDecay */
    p = i / opt->decay_steps;
    if (opt->staircase)
      p = floor(p);
    return lr / (1.0 + opt->decay_rate * p);
  case 4: /* PolynomialDecay */
    d = opt->decay_steps;
    p = i;
    if (opt->cycle) {
      /* the first multiple of decay_steps at or past i, decay_steps for i = 0 */
      double m = ceil(i / d);
      d *= m > 1.0 ? m : 1.0;
    } else if (p > d) {
      p = d;
    }
    return (lr - opt->end_learning_rate) * pow(1.0 - p / d, opt->power) + opt->end_learning_rate;
  case 5: { /* CosineDecay, after warmup_steps of a linear rise to warmup_target */
    double w = opt->warmup_steps, target = opt->warmup_target;
    p = i < opt->decay_steps + w ? i : opt->decay_steps + w;
    if (p < w)
      return (target - lr) * (p / w) + lr;
    p = (p - w) / opt->decay_steps;
    return target * ((1.0 - opt->alpha) * 0.5 * (1.0 + cos(pi * p)) + opt->alpha);
  }
  case 6: { /* CosineDecayRestarts */
    double frac = i / opt->decay_steps, t = opt->t_mul, restart;
    if (t == 1.0) {
      restart = floor(frac);
      frac -= restart;
    } else {
      double sum;
      restart = floor(log(1.0 - frac * (1.0 - t)) / log(t));
      sum = (1.0 - pow(t, restart)) / (1.0 - t);
      frac = (frac - sum) / pow(t, restart);
    }
    return lr * ((1.0 - opt->alpha) * 0.5 * pow(opt->m_mul, restart) * (1.0 + cos(pi * frac)) +
                 opt->alpha);
  }
  default:
    return lr;
  }
}

#define RNNC_REAL float
#define RNNC_SFX _f32
#define RNNC_SQRT sqrtf
#include "optim_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX
#undef RNNC_SQRT

#define RNNC_REAL double
#define RNNC_SFX _f64
#define RNNC_SQRT sqrt
#include "optim_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX
#undef RNNC_SQRT
