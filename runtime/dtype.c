/* The real types: their sizes, and the finiteness check a unit's train_step
 * makes before it updates anything. */
#include "rnnc.h"

#include <math.h>

size_t rnnc_dtype_size(rnnc_dtype dtype) {
  switch (dtype) {
  case RNNC_F32:
    return sizeof(float);
  case RNNC_F64:
    return sizeof(double);
  }
  return 0;
}

int rnnc_all_finite_f32(const float *v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

int rnnc_all_finite_f64(const double *v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}
