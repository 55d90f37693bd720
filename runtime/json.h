/* A strict JSON reader over a buffer it never reads past (the safetensors
 * header): whitespace, strings decoded into an arena, numbers, and any value
 * validated and skipped. Each function returns 0, or -1 with a message
 * naming the file and the header byte. Internal to the runtime. */
#ifndef RNNC_JSON_H
#define RNNC_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const unsigned char *s; /* header text, not NUL-terminated */
  size_t n, i;            /* length and cursor */
  /* Decoded strings. A decoded string is never longer than its quoted source
   * and sources do not overlap, so n + 1 bytes always suffice. */
  char *arena;
  size_t arena_used;
  const char *path;
  char *err;
  size_t errlen;
  const char *context; /* the tensor whose entry is being parsed (its shown name), for messages */
} rnnc_json;

int rnnc_json_fail(rnnc_json *p, const char *what);
void rnnc_json_ws(rnnc_json *p);
int rnnc_json_peek(rnnc_json *p, int c);
int rnnc_json_expect(rnnc_json *p, int c, const char *what);
/* A string at the cursor. With out != NULL it is decoded into the arena. */
int rnnc_json_string(rnnc_json *p, const char **out, size_t *outlen);
/* A number at the cursor, with strict JSON syntax. *kind: 1 = a non-negative
 * integer that fits *value, 2 = an integer too large, 0 = anything else. */
int rnnc_json_number(rnnc_json *p, uint64_t *value, int *kind);
/* Validates and skips any value, nested at most JSON_MAX_DEPTH deep. */
int rnnc_json_skip(rnnc_json *p, int depth);

/* Length of the valid UTF-8 sequence starting at s (first byte >= 0x80), or 0
 * when it is malformed, overlong, a surrogate or beyond U+10FFFF. */
size_t rnnc_utf8_seq_len(const unsigned char *s, size_t avail);

#endif
