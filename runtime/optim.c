/* Keras optimizers (SGD with momentum/nesterov, Adam) for float and double: the
 * update is written once in optim_impl.h and instantiated here for each real
 * type. */
#include "rnnc.h"

#include <math.h>

#define RNNC_CAT_(a, b) a##b
#define RNNC_CAT(a, b) RNNC_CAT_(a, b)

rnnc_optimizer rnnc_optimizer_default(rnnc_optimizer_kind kind) {
  rnnc_optimizer opt;
  opt.kind = kind;
  opt.learning_rate = 0.0;
  opt.momentum = 0.0;
  opt.nesterov = 0;
  opt.beta_1 = 0.0;
  opt.beta_2 = 0.0;
  opt.epsilon = 0.0;
  switch (kind) {
  case RNNC_OPT_SGD:
    opt.learning_rate = 0.01;
    break;
  case RNNC_OPT_ADAM:
    opt.learning_rate = 0.001;
    opt.beta_1 = 0.9;
    opt.beta_2 = 0.999;
    opt.epsilon = 1e-7;
    break;
  }
  return opt;
}

size_t rnnc_optimizer_slots(const rnnc_optimizer *opt, size_t n) {
  if (opt == NULL)
    return 0;
  switch (opt->kind) {
  case RNNC_OPT_SGD:
    return opt->momentum != 0.0 ? n : 0;
  case RNNC_OPT_ADAM:
    return 2 * n;
  }
  return 0;
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
