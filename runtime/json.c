/* The strict JSON reader: see json.h. */
#include "json.h"

#include <string.h>

#include "files.h"

#define JSON_MAX_DEPTH 64 /* nesting limit */

size_t rnnc_utf8_seq_len(const unsigned char *s, size_t avail) {
  unsigned c = s[0], lo = 0x80, hi = 0xbf;
  size_t len, k;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0;
    if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90;
    if (c == 0xf4)
      hi = 0x8f;
  } else {
    return 0;
  }
  if (avail < len || s[1] < lo || s[1] > hi)
    return 0;
  for (k = 2; k < len; k++)
    if ((s[k] & 0xc0) != 0x80)
      return 0;
  return len;
}

int rnnc_json_fail(rnnc_json *p, const char *what) {
  if (p->context != NULL)
    return rnnc_io_fail(
        p->err, p->errlen, p->path,
        "header is not valid JSON (at header byte %zu, in the entry of tensor '%s'): %s", p->i,
        p->context, what);
  return rnnc_io_fail(p->err, p->errlen, p->path,
                      "header is not valid JSON (at header byte %zu): %s", p->i, what);
}

void rnnc_json_ws(rnnc_json *p) {
  while (p->i < p->n &&
         (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
    p->i++;
}

int rnnc_json_peek(rnnc_json *p, int c) {
  return p->i < p->n && p->s[p->i] == c;
}

int rnnc_json_expect(rnnc_json *p, int c, const char *what) {
  rnnc_json_ws(p);
  if (!rnnc_json_peek(p, c))
    return rnnc_json_fail(p, what);
  p->i++;
  return 0;
}

static int hex4(const unsigned char *s, unsigned *out) {
  unsigned v = 0;
  int k;
  for (k = 0; k < 4; k++) {
    unsigned c = s[k], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return 0;
    v = v * 16 + d;
  }
  *out = v;
  return 1;
}

static size_t put_utf8(char *d, unsigned cp) {
  if (cp < 0x80) {
    d[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (char)(0xc0 | (cp >> 6));
    d[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (char)(0xe0 | (cp >> 12));
    d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  d[0] = (char)(0xf0 | (cp >> 18));
  d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  d[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string at the cursor. With out != NULL it is decoded into the arena. */
int rnnc_json_string(rnnc_json *p, const char **out, size_t *outlen) {
  char *d = out != NULL ? p->arena + p->arena_used : NULL;
  size_t dl = 0;
  if (!rnnc_json_peek(p, '"'))
    return rnnc_json_fail(p, "expected a string");
  p->i++;
  for (;;) {
    unsigned c;
    if (p->i >= p->n)
      return rnnc_json_fail(p, "unterminated string");
    c = p->s[p->i];
    if (c == '"') {
      p->i++;
      break;
    }
    if (c < 0x20)
      return rnnc_json_fail(p, "control character in a string");
    if (c == '\\') {
      unsigned cp;
      if (p->i + 1 >= p->n)
        return rnnc_json_fail(p, "unterminated string");
      switch (p->s[p->i + 1]) {
      case '"':
      case '\\':
      case '/':
        cp = p->s[p->i + 1];
        break;
      case 'b':
        cp = '\b';
        break;
      case 'f':
        cp = '\f';
        break;
      case 'n':
        cp = '\n';
        break;
      case 'r':
        cp = '\r';
        break;
      case 't':
        cp = '\t';
        break;
      case 'u':
        if (p->n - p->i < 6 || !hex4(p->s + p->i + 2, &cp))
          return rnnc_json_fail(p, "bad \\u escape");
        if (cp >= 0xdc00 && cp <= 0xdfff)
          return rnnc_json_fail(p, "unpaired surrogate in a \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
          unsigned lo;
          if (p->n - p->i < 12 || p->s[p->i + 6] != '\\' || p->s[p->i + 7] != 'u' ||
              !hex4(p->s + p->i + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return rnnc_json_fail(p, "unpaired surrogate in a \\u escape");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          p->i += 6;
        }
        p->i += 4; /* the 2 below finish the escape */
        break;
      default:
        return rnnc_json_fail(p, "invalid escape in a string");
      }
      p->i += 2;
      if (d != NULL)
        dl += put_utf8(d + dl, cp);
    } else if (c < 0x80) {
      if (d != NULL)
        d[dl++] = (char)c;
      p->i++;
    } else {
      size_t k = rnnc_utf8_seq_len(p->s + p->i, p->n - p->i);
      if (k == 0)
        return rnnc_json_fail(p, "invalid UTF-8 in a string");
      if (d != NULL) {
        memcpy(d + dl, p->s + p->i, k);
        dl += k;
      }
      p->i += k;
    }
  }
  if (d != NULL) {
    d[dl] = '\0';
    p->arena_used += dl + 1;
    *out = d;
    *outlen = dl;
  }
  return 0;
}

/* A number at the cursor, with strict JSON syntax. *kind: 1 = a non-negative
 * integer that fits *value, 2 = an integer too large, 0 = anything else. */
int rnnc_json_number(rnnc_json *p, uint64_t *value, int *kind) {
  int integral = 1, overflow = 0;
  uint64_t v = 0;
  if (rnnc_json_peek(p, '-')) {
    integral = 0;
    p->i++;
  }
  if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
    return rnnc_json_fail(p, "invalid number");
  if (p->s[p->i] == '0') {
    p->i++;
    if (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
      return rnnc_json_fail(p, "number with a leading zero");
  } else {
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
      unsigned d = p->s[p->i] - '0';
      if (v > (UINT64_MAX - d) / 10)
        overflow = 1;
      else
        v = v * 10 + d;
      p->i++;
    }
  }
  if (rnnc_json_peek(p, '.')) {
    integral = 0;
    p->i++;
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
      return rnnc_json_fail(p, "invalid number");
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
      p->i++;
  }
  if (rnnc_json_peek(p, 'e') || rnnc_json_peek(p, 'E')) {
    integral = 0;
    p->i++;
    if (rnnc_json_peek(p, '+') || rnnc_json_peek(p, '-'))
      p->i++;
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
      return rnnc_json_fail(p, "invalid number");
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
      p->i++;
  }
  *value = v;
  *kind = !integral ? 0 : overflow ? 2 : 1;
  return 0;
}

static int json_literal(rnnc_json *p, const char *word) {
  size_t len = strlen(word);
  if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0)
    return rnnc_json_fail(p, "unexpected character");
  p->i += len;
  return 0;
}

/* Validates and skips any value. */
int rnnc_json_skip(rnnc_json *p, int depth) {
  rnnc_json_ws(p);
  if (p->i >= p->n)
    return rnnc_json_fail(p, "unexpected end of header");
  switch (p->s[p->i]) {
  case '{':
  case '[': {
    int close = p->s[p->i] == '{' ? '}' : ']';
    if (depth >= JSON_MAX_DEPTH)
      return rnnc_json_fail(p, "nesting too deep");
    p->i++;
    rnnc_json_ws(p);
    if (rnnc_json_peek(p, close)) {
      p->i++;
      return 0;
    }
    for (;;) {
      if (close == '}') {
        rnnc_json_ws(p);
        if (rnnc_json_string(p, NULL, NULL) != 0 || rnnc_json_expect(p, ':', "expected ':'") != 0)
          return -1;
      }
      if (rnnc_json_skip(p, depth + 1) != 0)
        return -1;
      rnnc_json_ws(p);
      if (rnnc_json_peek(p, ',')) {
        p->i++;
        continue;
      }
      if (rnnc_json_peek(p, close)) {
        p->i++;
        return 0;
      }
      return rnnc_json_fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  case '"':
    return rnnc_json_string(p, NULL, NULL);
  case 't':
    return json_literal(p, "true");
  case 'f':
    return json_literal(p, "false");
  case 'n':
    return json_literal(p, "null");
  default: {
    uint64_t v;
    int kind;
    if (p->s[p->i] != '-' && (p->s[p->i] < '0' || p->s[p->i] > '9'))
      return rnnc_json_fail(p, "unexpected character");
    return rnnc_json_number(p, &v, &kind);
  }
  }
}
