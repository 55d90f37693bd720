/* Keras optimizers (SGD with momentum/nesterov, RMSprop, Adam with amsgrad,
 * AdamW, Adagrad), the ExponentialDecay schedule and gradient clipping for
 * float and double: the update is written once in optim_impl.h and
 * instantiated here for each real type. */
#include "rnnc.h"

#include <math.h>

#define RNNC_CAT_(a, b) a##b
#define RNNC_CAT(a, b) RNNC_CAT_(a, b)

rnnc_optimizer rnnc_optimizer_default(rnnc_optimizer_kind kind) {
  /* static storage: every field zero (off), the pointers-free way to clear a
   * struct with doubles in C99 */
  static const rnnc_optimizer zero;
  rnnc_optimizer opt = zero;
  opt.kind = kind;
  switch (kind) {
  case RNNC_OPT_SGD: /* SGD(learning_rate=0.01, momentum=0.0, nesterov=False) */
    opt.learning_rate = 0.01;
    break;
  case RNNC_OPT_ADAM: /* Adam(0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False) */
    opt.learning_rate = 0.001;
    opt.beta_1 = 0.9;
    opt.beta_2 = 0.999;
    opt.epsilon = 1e-7;
    break;
  case RNNC_OPT_RMSPROP: /* RMSprop(0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False) */
    opt.learning_rate = 0.001;
    opt.rho = 0.9;
    opt.epsilon = 1e-7;
    break;
  case RNNC_OPT_ADAMW: /* AdamW(0.001, weight_decay=0.004, 0.9, 0.999, 1e-7, amsgrad=False) */
    opt.learning_rate = 0.001;
    opt.weight_decay = 0.004;
    opt.beta_1 = 0.9;
    opt.beta_2 = 0.999;
    opt.epsilon = 1e-7;
    break;
  case RNNC_OPT_ADAGRAD: /* Adagrad(0.001, initial_accumulator_value=0.1, epsilon=1e-7) */
    opt.learning_rate = 0.001;
    opt.initial_accumulator_value = 0.1;
    opt.epsilon = 1e-7;
    break;
  }
  return opt;
}

size_t rnnc_optimizer_slots(const rnnc_optimizer *opt, size_t n) {
  if (opt == NULL)
    return 0;
  switch (opt->kind) {
  case RNNC_OPT_SGD: /* velocity, only with momentum (Keras: momentum != 0) */
    return opt->momentum != 0.0 ? n : 0;
  case RNNC_OPT_ADAM: /* m, v, then v_hat with amsgrad */
  case RNNC_OPT_ADAMW:
    return (opt->amsgrad ? 3 : 2) * n;
  case RNNC_OPT_RMSPROP: /* velocity, momentum (Keras: momentum > 0), average gradient */
    return n + (opt->momentum > 0.0 ? n : 0) + (opt->centered ? n : 0);
  case RNNC_OPT_ADAGRAD: /* accumulator */
    return n;
  }
  return 0;
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
