/* Keras optimizers (SGD with momentum/nesterov, RMSprop, Adam with amsgrad,
 * AdamW, Adagrad), the ExponentialDecay schedule and gradient clipping for
 * float and double: the update is written once in optim_impl.h and
 * instantiated here for each real type. */
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

/* The learning rate of update `step` (counting from 1). Keras evaluates the
 * schedule at optimizer.iterations, the number of updates already applied:
 * ExponentialDecay gives learning_rate * decay_rate ^ (i / decay_steps), the
 * exponent floored when staircase. decay_steps <= 0: no schedule. */
static double scheduled_lr(const rnnc_optimizer *opt, long step) {
  double p;
  if (!(opt->decay_steps > 0.0))
    return opt->learning_rate;
  p = (step < 1 ? 0.0 : (double)(step - 1)) / opt->decay_steps;
  if (opt->staircase)
    p = floor(p);
  return opt->learning_rate * pow(opt->decay_rate, p);
}

#define RNNC_REAL float
#define RNNC_SFX _f32
#include "optim_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX

#define RNNC_REAL double
#define RNNC_SFX _f64
#include "optim_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX
