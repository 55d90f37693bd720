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

/* ---------------------------------------------------------------- counter-based noise
 *
 * A value of a Dropout, GaussianNoise or GaussianDropout mask is a pure
 * function of its coordinates, so the mask of a sample never depends on how a
 * batch is cut into micro-batches, threads or processes, nor on how many
 * values were drawn before it. Each coordinate is absorbed through
 * splitmix64's finaliser:
 *   h = mix(seed + G); h = absorb(h, salt); h = absorb(h, step);
 *   h = absorb(h, sample); bits = absorb(h, index)
 * with absorb(h, v) = mix(h ^ mix(v + G)), G = 0x9e3779b97f4a7c15. */
#define NOISE_GOLDEN UINT64_C(0x9e3779b97f4a7c15)

static uint64_t noise_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static uint64_t noise_absorb(uint64_t h, uint64_t v) {
  return noise_mix(h ^ noise_mix(v + NOISE_GOLDEN));
}

uint64_t rnnc_noise_bits(uint64_t seed, uint64_t salt, uint64_t step, uint64_t sample,
                         uint64_t index) {
  uint64_t h = noise_mix(seed + NOISE_GOLDEN);
  h = noise_absorb(h, salt);
  h = noise_absorb(h, step);
  h = noise_absorb(h, sample);
  return noise_absorb(h, index);
}

double rnnc_noise_value(int kind, double p, uint64_t seed, uint64_t salt, uint64_t step,
                        uint64_t sample, uint64_t index) {
  const double two_pi = 6.283185307179586476925286766559;
  const double inv53 = 1.0 / 9007199254740992.0;
  uint64_t bits = rnnc_noise_bits(seed, salt, step, sample, index);
  double u1 = (double)(bits >> 11) * inv53, u2, normal;
  if (kind == RNNC_NOISE_DROPOUT) { /* keep with probability 1 - p, scaled by 1 / (1 - p) */
    double keep = 1.0 - p;
    return u1 < keep ? 1.0 / keep : 0.0;
  }
  /* Box-Muller from two uniforms of the element: 1 - u1 in (0, 1] */
  u2 = (double)(noise_mix(bits + NOISE_GOLDEN) >> 11) * inv53;
  normal = sqrt(-2.0 * log(1.0 - u1)) * cos(two_pi * u2);
  if (kind == RNNC_NOISE_GAUSSIAN)
    return p * normal;
  if (kind == RNNC_NOISE_GAUSSIAN_DROPOUT)
    return 1.0 + sqrt(p / (1.0 - p)) * normal;
  return NAN;
}
