/* Zeroed memory aligned to a cache line, for a unit's params, scratch,
 * gradients and stream state (rnnc.h). Plain C99: the block from calloc is
 * over-allocated by one line and a pointer, the address returned is the
 * next multiple of 64 past room for the pointer, and the pointer to free
 * sits just before it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"

#define RNNC_ALIGN 64

void *rnnc_alloc(size_t bytes) {
  const size_t extra = RNNC_ALIGN + sizeof(void *);
  char *block, *user;
  if (bytes > (size_t)-1 - extra)
    return NULL;
  block = calloc(1, bytes + extra); /* (large blocks: the system's zero pages, touched lazily) */
  if (!block)
    return NULL;
  user = block + sizeof(void *);
  user += (RNNC_ALIGN - (uintptr_t)user % RNNC_ALIGN) % RNNC_ALIGN;
  memcpy(user - sizeof(void *), &block, sizeof block);
  return user;
}

void rnnc_free(void *p) {
  void *block;
  if (!p)
    return;
  memcpy(&block, (char *)p - sizeof block, sizeof block);
  free(block);
}
