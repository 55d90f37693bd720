/* libFuzzer target: a safetensors file, as bytes in memory, loaded as the
 * weights of a real generated model (generated/seed10: two LSTMs and a Dense,
 * eight tensors) in float32 and float64.
 *
 * Beyond what AddressSanitizer and UndefinedBehaviorSanitizer catch, every
 * input must satisfy the loader's contract:
 * - a rejection leaves a message that starts with the file's name, says what
 *   is wrong and holds no control characters (a hostile tensor name must not
 *   reach the terminal raw), and the parameters are untouched (the whole file
 *   is validated before anything is copied);
 * - an acceptance writes every parameter: two loads over different initial
 *   contents give identical bytes.
 * Any violation aborts, which libFuzzer reports as a crash. */
#define _POSIX_C_SOURCE 200809L /* strnlen */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"
#include "seed10.h"

#define NAME "fuzz.safetensors"

static void violation(const char *what, const char *err) {
  fprintf(stderr, "contract violated: %s\nmessage: %s\n", what, err);
  abort();
}

static void check_message(const char *err, size_t errlen) {
  size_t len = strnlen(err, errlen), k;
  if (len == errlen)
    violation("the message is not terminated", "");
  if (strncmp(err, NAME ": ", strlen(NAME) + 2) != 0 || len <= strlen(NAME) + 2)
    violation("the message does not start with the file's name", err);
  for (k = 0; k < len; k++)
    if ((unsigned char)err[k] < 0x20 || (unsigned char)err[k] == 0x7f)
      violation("a control character in the message", err);
}

static void check_load(const uint8_t *data, size_t size, rnnc_dtype dtype) {
  rnnc_model model = seed10_model; /* only the layout is used: names, shapes, offsets */
  size_t bytes = model.n_params * rnnc_dtype_size(dtype), k;
  unsigned char *first = malloc(bytes), *second = malloc(bytes);
  char err[512];
  model.dtype = dtype;
  if (first == NULL || second == NULL)
    abort();
  memset(first, 0xa5, bytes);
  if (rnnc_weights_load_memory(data, size, NAME, &model, first, err, sizeof err) != 0) {
    check_message(err, sizeof err);
    for (k = 0; k < bytes; k++)
      if (first[k] != 0xa5)
        violation("a rejected file changed the parameters", err);
  } else {
    memset(second, 0x5a, bytes);
    if (rnnc_weights_load_memory(data, size, NAME, &model, second, err, sizeof err) != 0)
      violation("the second load of an accepted file failed", err);
    if (memcmp(first, second, bytes) != 0)
      violation("an accepted file left parameters unwritten", "");
  }
  free(first);
  free(second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  check_load(data, size, RNNC_F32);
  check_load(data, size, RNNC_F64);
  /* The header alone, with nothing requested: validation without matching. */
  if (rnnc_safetensors_read_memory(data, size, NAME, RNNC_F64, NULL, 0, err, sizeof err) != 0)
    check_message(err, sizeof err);
  return 0;
}
