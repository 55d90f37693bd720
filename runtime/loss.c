/* Keras losses (sum_over_batch_size reduction) and accuracies for float and
 * double: the code is written once in loss_impl.h and instantiated here for
 * each real type. */
#include "rnnc.h"

#include <math.h>
#include <stdlib.h>

#define RNNC_CAT_(a, b) a##b
#define RNNC_CAT(a, b) RNNC_CAT_(a, b)

/* A sparse label is a class index stored as a real: it must be integral and in
 * [0, cols). NaN fails every comparison and is rejected too. */
static int label_index(double label, size_t cols, size_t *index) {
  if (!(label >= 0.0 && label < (double)cols && label == floor(label)))
    return 0;
  *index = (size_t)label;
  return 1;
}

rnnc_loss_config rnnc_loss_config_default(rnnc_loss_kind kind) {
  rnnc_loss_config c;
  c.kind = kind;
  c.from_logits = 0;
#define PARAM(field, value, doc) c.field = value;
  RNNC_LOSS_PARAMS(PARAM)
#undef PARAM
  return c;
}

#define RNNC_REAL float
#define RNNC_SFX _f32
#include "loss_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX

#define RNNC_REAL double
#define RNNC_SFX _f64
#include "loss_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX
