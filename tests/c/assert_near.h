/* assert_near(got, want, tol): a cmocka assertion that |got - want| <= tol,
 * printing both values to 17 digits. Shared by the runtime's C suites. */
#ifndef RNNC_TEST_ASSERT_NEAR_H
#define RNNC_TEST_ASSERT_NEAR_H

#include <math.h>

static void near_impl(double got, double want, double tol, const char *expr, const char *file,
                      int line) {
  if (!(fabs(got - want) <= tol)) {
    print_error("%s = %.17g, expected %.17g (|diff| %.3g > tol %.3g)\n", expr, got, want,
                fabs(got - want), tol);
    _fail(file, line);
  }
}
#define assert_near(got, want, tol)                                                                \
  near_impl((double)(got), (double)(want), (double)(tol), #got, __FILE__, __LINE__)

#endif
