/* Keras initializers for float and double: the code is written once in
 * init_impl.h and instantiated here for each real type. */
#include "rnnc.h"

#include <math.h>

#define RNNC_CAT_(a, b) a##b
#define RNNC_CAT(a, b) RNNC_CAT_(a, b)

/* Element count of a shape; 0 when the rank or a dimension is invalid, so the
 * caller writes nothing. Rank 0 is a scalar. */
static size_t shape_size(int rank, const int *shape) {
  size_t n = 1;
  int i;
  if (rank < 0 || rank > RNNC_MAX_RANK || (rank > 0 && shape == NULL))
    return 0;
  for (i = 0; i < rank; i++) {
    if (shape[i] < 0)
      return 0;
    n *= (size_t)shape[i];
  }
  return n;
}

/* Keras's _compute_fans: rank 1 uses the one dimension for both fans, rank 2 is
 * (in, out), and higher ranks (convolution kernels) multiply the last two
 * dimensions by the receptive field, the product of the leading ones. */
static void compute_fans(int rank, const int *shape, double *fan_in, double *fan_out) {
  double receptive = 1.0;
  int i;
  if (rank < 1) {
    *fan_in = *fan_out = 1.0;
  } else if (rank == 1) {
    *fan_in = *fan_out = (double)shape[0];
  } else {
    for (i = 0; i < rank - 2; i++)
      receptive *= (double)shape[i];
    *fan_in = (double)shape[rank - 2] * receptive;
    *fan_out = (double)shape[rank - 1] * receptive;
  }
}

#define RNNC_REAL float
#define RNNC_SFX _f32
#include "init_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX

#define RNNC_REAL double
#define RNNC_SFX _f64
#include "init_impl.h"
#undef RNNC_REAL
#undef RNNC_SFX
