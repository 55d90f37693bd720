/* The register-blocked matrix-product kernel generated code calls for every
 * big product:
 *
 *   C[i * crs + j] (+)= sum_q sum_p A[i * ars + q * aqs + p * acs] * B[q * bqs + p * brs + j]
 *
 * for rows i < mr (1..4), columns j < width (a multiple of 64 bytes of reals,
 * at most 512 bytes), q < k1, p < k: the two-level sum takes a weight's
 * gradient over the samples of a batch (q) and the rows of each (p). The generator tiles each
 * product into such blocks with every dimension a constant, so after inlining the compiler sees the
 * whole loop nest: the block's accumulators stay in registers while the loop over p streams one row
 * of B per step. Under GNU C (gcc, clang) the accumulators are explicit vectors of the target's
 * register width (AVX-512, AVX2 or SSE / NEON); any other C99 compiler gets plain loops computing
 * the same sums in the same order. Header-only, no allocation. */
#ifndef RNNC_KERNELS_H
#define RNNC_KERNELS_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(RNNC_PLAIN_C)
/* Vectors as wide as the target's registers (the compiler's -m flags say
 * which); aligned(sizeof(T)): loads and stores through them may be unaligned. */
#if defined(__AVX512F__)
#define RNNC_VBYTES 64
#elif defined(__AVX__)
#define RNNC_VBYTES 32
#else
#define RNNC_VBYTES 16
#endif
typedef float rnnc_vf __attribute__((vector_size(RNNC_VBYTES), aligned(4)));
typedef double rnnc_vd __attribute__((vector_size(RNNC_VBYTES), aligned(8)));

#define RNNC_INLINE static inline __attribute__((always_inline))
/* NV vectors of columns from vector c0 on, for mr rows; NV a constant, so the
 * accumulators live in registers. */
#define RNNC_CHUNK(T, V, NV)                                                                       \
  do {                                                                                             \
    V acc[4][NV];                                                                                  \
    int r, q, p, v;                                                                                \
    for (r = 0; r < mr; ++r)                                                                       \
      for (v = 0; v < NV; ++v)                                                                     \
        acc[r][v] = accumulate ? *(const V *)(C + r * crs + (c0 + v) * VL) : (V){0};               \
    for (q = 0; q < k1; ++q)                                                                       \
      for (p = 0; p < k; ++p) {                                                                    \
        V b[NV];                                                                                   \
        for (v = 0; v < NV; ++v)                                                                   \
          b[v] = *(const V *)(B + q * bqs + p * brs + (c0 + v) * VL);                              \
        for (r = 0; r < mr; ++r) {                                                                 \
          const T a = A[r * ars + q * aqs + p * acs];                                              \
          for (v = 0; v < NV; ++v)                                                                 \
            acc[r][v] += a * b[v];                                                                 \
        }                                                                                          \
      }                                                                                            \
    for (r = 0; r < mr; ++r)                                                                       \
      for (v = 0; v < NV; ++v)                                                                     \
        *(V *)(C + r * crs + (c0 + v) * VL) = acc[r][v];                                           \
  } while (0)
/* The block's columns in chunks of at most 8 accumulators (8 / mr vectors per
 * row: enough to hide the multiply-add latency, few enough to leave registers
 * for B). */
#define RNNC_BLOCK_BODY(T, V)                                                                      \
  enum { VL = RNNC_VBYTES / sizeof(T) };                                                           \
  const int nvec = width / VL;                                                                     \
  int c0 = 0;                                                                                      \
  while (c0 < nvec) {                                                                              \
    if (mr == 1 && nvec - c0 >= 8) {                                                               \
      RNNC_CHUNK(T, V, 8);                                                                         \
      c0 += 8;                                                                                     \
    } else if (nvec - c0 >= 2) {                                                                   \
      RNNC_CHUNK(T, V, 2);                                                                         \
      c0 += 2;                                                                                     \
    } else {                                                                                       \
      RNNC_CHUNK(T, V, 1);                                                                         \
      c0 += 1;                                                                                     \
    }                                                                                              \
  }
#else
#define RNNC_INLINE static inline
#define RNNC_BLOCK_BODY(T, V)                                                                      \
  T acc[4][128];                                                                                   \
  int r, q, p, j;                                                                                  \
  for (r = 0; r < mr; ++r)                                                                         \
    for (j = 0; j < width; ++j)                                                                    \
      acc[r][j] = accumulate ? C[r * crs + j] : (T)0;                                              \
  for (q = 0; q < k1; ++q)                                                                         \
    for (p = 0; p < k; ++p)                                                                        \
      for (r = 0; r < mr; ++r) {                                                                   \
        const T a = A[r * ars + q * aqs + p * acs];                                                \
        for (j = 0; j < width; ++j)                                                                \
          acc[r][j] += a * B[q * bqs + p * brs + j];                                               \
      }                                                                                            \
  for (r = 0; r < mr; ++r)                                                                         \
    for (j = 0; j < width; ++j)                                                                    \
      C[r * crs + j] = acc[r][j];
#endif

/* One mr x width block (float); width a multiple of 16, at most 128. */
RNNC_INLINE void rnnc_block_f32(int mr, int width, int k1, int k, const float *A, long ars,
                                long aqs, long acs, const float *B, long bqs, long brs, float *C,
                                long crs, int accumulate) {
  RNNC_BLOCK_BODY(float, rnnc_vf);
}

/* One mr x width block (double); width a multiple of 8, at most 64. */
RNNC_INLINE void rnnc_block_f64(int mr, int width, int k1, int k, const double *A, long ars,
                                long aqs, long acs, const double *B, long bqs, long brs, double *C,
                                long crs, int accumulate) {
  RNNC_BLOCK_BODY(double, rnnc_vd);
}

/* Single-precision exp and tanh for the generated float32 code: straight-line
 * arithmetic (no call, no branch, no table), so loops over a gate's units
 * vectorise. Cephes's expf and tanhf polynomials: exp is within 2 ulp of the
 * correctly rounded value on [-87, 88] (inputs are clamped there: sigmoid
 * and tanh saturate long before), tanh within 3 ulp; NaN stays NaN. Rounding
 * uses the 1.5 * 2^23 trick (round to nearest, the default mode), and 2^n
 * comes from the bits of that same sum, so no float-to-int conversion is
 * undefined for any input. */
static inline float rnnc_expf(float x) {
  float t, n, r, y, scale;
  uint32_t bits;
  x = x > 88.0f ? 88.0f : x;
  x = x < -87.0f ? -87.0f : x;
  t = x * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23 + round(x / ln 2) */
  n = t - 12582912.0f;
  r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  y = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
         4.1665795894e-2f) *
            r +
        1.6666665459e-1f) *
           r +
       5.0000001201e-1f) *
          (r * r) +
      r + 1.0f;
  memcpy(&bits, &t, sizeof bits);
  bits = (bits - 0x4B400000u + 127u) << 23; /* the exponent field of 2^n */
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

static inline float rnnc_tanhf(float x) {
  const float a = x < 0.0f ? -x : x, s = x * x;
  const float small = ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s +
                        1.33314422036e-1f) *
                           s -
                       3.33332819422e-1f) *
                          s * x +
                      x;
  const float big = 1.0f - 2.0f / (rnnc_expf(a + a) + 1.0f);
  return a < 0.625f ? small : (x < 0.0f ? -big : big);
}

#endif
