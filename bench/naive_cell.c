/* The naive baseline of the streaming benchmark: plain loops over
 * compile-time dimensions, the recurrent kernel read row by row (the inner
 * loop runs over contiguous gate columns, which the compiler vectorises).
 * Its own translation unit, so that it is called like the generated step. */
#include <math.h>

#include "naive_cell.h"

#define G (NAIVE_GATES * HIDDEN)

static float sigmoid(float v) {
  return 1.0f / (1.0f + expf(-v));
}

float naive_step(const naive_weights *w, naive_state *s, float x) {
  float z[G];
#if defined(CELL_LSTM)
  for (int j = 0; j < G; ++j)
    z[j] = w->bias[j] + x * w->kernel[j];
  for (int k = 0; k < HIDDEN; ++k) {
    const float hk = s->h[k];
    for (int j = 0; j < G; ++j)
      z[j] += hk * w->recurrent[k][j];
  }
  for (int j = 0; j < HIDDEN; ++j) {
    const float i = sigmoid(z[j]);
    const float f = sigmoid(z[HIDDEN + j]);
    const float g = tanhf(z[2 * HIDDEN + j]);
    const float o = sigmoid(z[3 * HIDDEN + j]);
    s->c[j] = f * s->c[j] + i * g;
    s->h[j] = o * tanhf(s->c[j]);
  }
#else
  /* reset_after: the reset gate scales the recurrent candidate term, so the
   * whole h @ recurrent_kernel + recurrent bias is one product. */
  for (int j = 0; j < G; ++j)
    z[j] = w->bias[1][j];
  for (int k = 0; k < HIDDEN; ++k) {
    const float hk = s->h[k];
    for (int j = 0; j < G; ++j)
      z[j] += hk * w->recurrent[k][j];
  }
  for (int j = 0; j < HIDDEN; ++j) {
    const float update = sigmoid(x * w->kernel[j] + w->bias[0][j] + z[j]);
    const float reset = sigmoid(x * w->kernel[HIDDEN + j] + w->bias[0][HIDDEN + j] + z[HIDDEN + j]);
    const float cand = tanhf(x * w->kernel[2 * HIDDEN + j] + w->bias[0][2 * HIDDEN + j] +
                             reset * z[2 * HIDDEN + j]);
    s->h[j] = update * s->h[j] + (1.0f - update) * cand;
  }
#endif
  float y = w->dense_bias;
  for (int j = 0; j < HIDDEN; ++j)
    y += s->h[j] * w->dense_kernel[j];
  return y;
}
