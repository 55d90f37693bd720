/* rnnc_alloc and rnnc_free: every block at a multiple of 64 bytes, zeroed,
 * writable to its last byte without touching a neighbour (the sanitizer
 * pass runs this too), sizes from 0 up; a size that cannot be allocated
 * gives NULL; rnnc_free(NULL) does nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rnnc.h"

static void test_aligned_and_zeroed(void **unused) {
  enum { N = 200 };
  unsigned char *blocks[N];
  size_t i, k;
  (void)unused;
  for (k = 0; k < N; ++k) {
    const size_t bytes = k * k * 7 + k % 3; /* 0, 8, 30, ... up to 277,000 */
    blocks[k] = rnnc_alloc(bytes);
    assert_non_null(blocks[k]);
    assert_int_equal((uintptr_t)blocks[k] % 64, 0);
    for (i = 0; i < bytes; ++i)
      if (blocks[k][i] != 0)
        fail_msg("block of %zu bytes: byte %zu is %d, not zero", bytes, i, blocks[k][i]);
    memset(blocks[k], 0xA5, bytes);
  }
  for (k = 0; k < N; ++k) {
    const size_t bytes = k * k * 7 + k % 3;
    for (i = 0; i < bytes; ++i)
      if (blocks[k][i] != 0xA5)
        fail_msg("block of %zu bytes: byte %zu was overwritten by another block", bytes, i);
    rnnc_free(blocks[k]);
  }
}

static void test_impossible_size_and_null(void **unused) {
  (void)unused;
  assert_null(rnnc_alloc((size_t)-1));
  assert_null(rnnc_alloc((size_t)-1 - 32));
  rnnc_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aligned_and_zeroed),
      cmocka_unit_test(test_impossible_size_and_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
