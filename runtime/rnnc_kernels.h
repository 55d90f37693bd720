/* The register-blocked matrix-product kernel generated code calls for every
 * big product:
 *
 *   C[i * crs + j] (+)= sum_p A[i * ars + p * acs] * B[p * brs + j]
 *
 * for rows i < mr (1..4), columns j < nv vectors of 16 floats or 8 doubles
 * (nv <= 8), p < k. The generator tiles each product into such blocks with
 * every dimension a constant, so after inlining the compiler sees the whole
 * loop nest: the block's accumulators stay in registers while the loop over p
 * streams one row of B per step. Under GNU C (gcc, clang) the accumulators are
 * explicit vectors (one AVX-512 register each; the compiler splits them into
 * AVX2 or SSE halves for whatever it targets); any other C99 compiler gets
 * plain loops computing the same sums in the same order. Header-only, no
 * allocation. */
#ifndef RNNC_KERNELS_H
#define RNNC_KERNELS_H

#if defined(__GNUC__) && !defined(RNNC_PLAIN_C)
/* aligned(sizeof(T)): loads and stores through these may be unaligned */
typedef float rnnc_v16f __attribute__((vector_size(64), aligned(4)));
typedef double rnnc_v8d __attribute__((vector_size(64), aligned(8)));

#define RNNC_INLINE static inline __attribute__((always_inline))
#define RNNC_BLOCK_BODY(T, V, LANES)                                                               \
  V acc[4][8];                                                                                     \
  int r, p, v;                                                                                     \
  for (r = 0; r < mr; ++r)                                                                         \
    for (v = 0; v < nv; ++v)                                                                       \
      acc[r][v] = accumulate ? *(const V *)(C + r * crs + v * LANES) : (V){0};                     \
  for (p = 0; p < k; ++p) {                                                                        \
    V b[8];                                                                                        \
    for (v = 0; v < nv; ++v)                                                                       \
      b[v] = *(const V *)(B + p * brs + v * LANES);                                                \
    for (r = 0; r < mr; ++r) {                                                                     \
      const T a = A[r * ars + p * acs];                                                            \
      for (v = 0; v < nv; ++v)                                                                     \
        acc[r][v] += a * b[v];                                                                     \
    }                                                                                              \
  }                                                                                                \
  for (r = 0; r < mr; ++r)                                                                         \
    for (v = 0; v < nv; ++v)                                                                       \
      *(V *)(C + r * crs + v * LANES) = acc[r][v];
#else
#define RNNC_INLINE static inline
#define RNNC_BLOCK_BODY(T, V, LANES)                                                               \
  T acc[4][8 * LANES];                                                                             \
  int r, p, j;                                                                                     \
  for (r = 0; r < mr; ++r)                                                                         \
    for (j = 0; j < nv * LANES; ++j)                                                               \
      acc[r][j] = accumulate ? C[r * crs + j] : (T)0;                                              \
  for (p = 0; p < k; ++p)                                                                          \
    for (r = 0; r < mr; ++r) {                                                                     \
      const T a = A[r * ars + p * acs];                                                            \
      for (j = 0; j < nv * LANES; ++j)                                                             \
        acc[r][j] += a * B[p * brs + j];                                                           \
    }                                                                                              \
  for (r = 0; r < mr; ++r)                                                                         \
    for (j = 0; j < nv * LANES; ++j)                                                               \
      C[r * crs + j] = acc[r][j];
#endif

/* One mr x (16 nv) block (float). */
RNNC_INLINE void rnnc_block_f32(int mr, int nv, int k, const float *A, long ars, long acs,
                                const float *B, long brs, float *C, long crs,
                                int accumulate){RNNC_BLOCK_BODY(float, rnnc_v16f, 16)}

/* One mr x (8 nv) block (double). */
RNNC_INLINE void rnnc_block_f64(int mr, int nv, int k, const double *A, long ars, long acs,
                                const double *B, long brs, double *C, long crs, int accumulate) {
  RNNC_BLOCK_BODY(double, rnnc_v8d, 8)
}

#endif
