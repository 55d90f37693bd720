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

/* Keras's VarianceScaling divides the stddev of its truncated normal by the
 * standard deviation of N(0, 1) truncated to [-2, 2] (scipy's
 * truncnorm.std(a=-2, b=2)), so the drawn values have the variance asked for. */
#define TRUNC_STDDEV .87962566103423978

/* N(0, 1) truncated to [-2, 2]: a draw beyond two standard deviations is
 * discarded and redrawn, as TF's truncated_normal does (about 4.6% of draws). */
static double truncated_normal(rnnc_rng *rng) {
  double z;
  do
    z = rnnc_rng_normal(rng);
  while (fabs(z) > 2.0);
  return z;
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
