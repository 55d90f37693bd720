/* libFuzzer target: a .npy file, as bytes in memory, through rnnc_npy_load_memory.
 *
 * Beyond what AddressSanitizer and UndefinedBehaviorSanitizer catch, every
 * input must satisfy the loader's contract: a rejection leaves a message that
 * starts with the file's name and no array; an acceptance gives a rank of at
 * most 8, a count equal to the product of the shape, and `count` readable
 * values (each is read here, so that ASan checks the allocation). Any
 * violation aborts, which libFuzzer reports as a crash. */
#define _POSIX_C_SOURCE 200809L /* strnlen */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"

#define NAME "fuzz.npy"

static void violation(const char *what, const char *err) {
  fprintf(stderr, "contract violated: %s\nmessage: %s\n", what, err);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rnnc_array a;
  char err[512];
  if (rnnc_npy_load_memory(data, size, NAME, &a, err, sizeof err) != 0) {
    size_t len = strnlen(err, sizeof err), k;
    if (len == sizeof err)
      violation("the message is not terminated", "");
    if (strncmp(err, NAME ": ", strlen(NAME) + 2) != 0 || len <= strlen(NAME) + 2)
      violation("the message does not start with the file's name", err);
    for (k = 0; k < len; k++)
      if ((unsigned char)err[k] < 0x20 || (unsigned char)err[k] == 0x7f)
        violation("a control character in the message", err);
    if (a.data != NULL || a.count != 0)
      violation("a rejected file left an array", err);
  } else {
    size_t count = 1, k;
    volatile double sink = 0;
    if (a.rank < 0 || a.rank > 8)
      violation("rank out of range", "");
    for (k = 0; k < (size_t)a.rank; k++)
      count *= a.shape[k];
    if (count != a.count || a.data == NULL)
      violation("count or data inconsistent with the shape", "");
    for (k = 0; k < a.count; k++)
      sink += a.data[k];
    (void)sink;
    rnnc_array_free(&a);
  }
  return 0;
}
