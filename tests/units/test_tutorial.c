/* The generated SimpleRNN on the NumPy tutorial's recurrence: the unit's
 * forward must equal h_t = tanh(Wx x_t + Wh h_{t-1} + b), computed here
 * independently with the tutorial's (units x input) matrices Wx = kernel^T and
 * Wh = recurrent_kernel^T. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "tutorial.h"

enum { T = 10, IN = 4, U = 8 };

/* The tutorial draws weights with NumPy; any fixed values serve: a small LCG. */
static double next(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void test_numpy_recurrence(void **state) {
  (void)state;
  static tutorial_params p;
  static tutorial_scratch s;
  double Wx[U][IN], Wh[U][U], b[U], x[T][IN], h[T + 1][U], y[T * U];
  uint64_t seed = 12345;
  for (int i = 0; i < U; ++i)
    for (int j = 0; j < IN; ++j)
      Wx[i][j] = next(&seed);
  for (int i = 0; i < U; ++i)
    for (int j = 0; j < U; ++j)
      Wh[i][j] = 0.5 * next(&seed);
  for (int i = 0; i < U; ++i)
    b[i] = 0.1 * next(&seed);
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < IN; ++j)
      x[t][j] = next(&seed);
  /* Keras layout: kernel (input, units) = Wx^T. */
  for (int i = 0; i < U; ++i) {
    for (int j = 0; j < IN; ++j)
      p.w.simple_rnn_kernel[j][i] = Wx[i][j];
    for (int j = 0; j < U; ++j)
      p.w.simple_rnn_recurrent_kernel[j][i] = Wh[i][j];
    p.w.simple_rnn_bias[i] = b[i];
  }
  memset(h[0], 0, sizeof h[0]);
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < U; ++i) {
      double z = b[i];
      for (int j = 0; j < IN; ++j)
        z += Wx[i][j] * x[t][j];
      for (int j = 0; j < U; ++j)
        z += Wh[i][j] * h[t][j];
      h[t + 1][i] = tanh(z);
    }
  tutorial_forward(&p, &s, &x[0][0], y, 1);
  double worst = 0;
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < U; ++i)
      worst = fmax(worst, fabs(y[t * U + i] - h[t + 1][i]));
  assert_true(worst < 1e-14);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_numpy_recurrence)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
