/* The random number generator: xoshiro256** (Blackman and Vigna) seeded
 * through splitmix64, so a seed gives the same stream on every platform. */
#include "rnnc.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

void rnnc_rng_seed(rnnc_rng *rng, uint64_t seed) {
  /* splitmix64 outputs are a bijection of distinct counters, so the four words
   * are never all zero (the one state xoshiro cannot leave). */
  uint64_t x = seed;
  int i;
  for (i = 0; i < 4; i++)
    rng->s[i] = splitmix64(&x);
}

uint64_t rnnc_rng_next(rnnc_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rnnc_rng_uniform(rnnc_rng *rng) {
  /* top 53 bits: every value is an exact multiple of 2^-53 in [0, 1) */
  return (double)(rnnc_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double rnnc_rng_normal(rnnc_rng *rng) {
  /* Box-Muller, one value per call so the state stays s[4] only.
   * 1 - u lies in (0, 1], which keeps log() finite. */
  const double two_pi = 6.283185307179586476925286766559;
  double u1 = 1.0 - rnnc_rng_uniform(rng);
  double u2 = rnnc_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

uint64_t rnnc_rng_below(rnnc_rng *rng, uint64_t bound) {
  uint64_t threshold, r;
  if (bound == 0)
    return 0; /* outside the contract; avoid a division by zero */
  /* 2^64 mod bound: rejecting draws below it leaves a count of values that is a
   * multiple of bound, so r % bound is exactly uniform. */
  threshold = (0 - bound) % bound;
  do {
    r = rnnc_rng_next(rng);
  } while (r < threshold);
  return r % bound;
}
