/* Helpers the file formats share: see files.h. */
#define _POSIX_C_SOURCE 200809L /* getpid() for the temporary file name */

#include "files.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define FILES_HAVE_GETPID 1
#endif

int rnnc_io_fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    int n = snprintf(err, errlen, "%s: ", path != NULL ? path : "(null path)");
    if (n >= 0 && (size_t)n < errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

uint64_t rnnc_io_load_le(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  size_t k;
  for (k = n; k > 0; k--)
    v = (v << 8) | p[k - 1];
  return v;
}

void rnnc_io_store_le(unsigned char *p, uint64_t v, size_t n) {
  size_t k;
  for (k = 0; k < n; k++, v >>= 8)
    p[k] = (unsigned char)(v & 0xff);
}

int rnnc_io_count_elements(int rank, const int *shape, size_t *out) {
  size_t n = 1;
  int k;
  for (k = 0; k < rank; k++)
    if (shape[k] < 0)
      return -1;
  for (k = 0; k < rank; k++)
    if (shape[k] == 0) {
      *out = 0;
      return 0;
    }
  for (k = 0; k < rank; k++) {
    if (n > SIZE_MAX / (size_t)shape[k])
      return -1;
    n *= (size_t)shape[k];
  }
  *out = n;
  return 0;
}

int rnnc_io_read_file(const char *path, unsigned char **out, size_t *outlen, char *err,
                      size_t errlen) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  size_t cap = 65536, len = 0;
  if (f == NULL)
    return rnnc_io_fail(err, errlen, path, "cannot open: %s", strerror(errno));
  buf = malloc(cap);
  if (buf == NULL) {
    fclose(f);
    return rnnc_io_fail(err, errlen, path, "out of memory");
  }
  for (;;) {
    size_t got;
    if (len == cap) {
      unsigned char *bigger;
      if (cap > SIZE_MAX / 2) {
        free(buf);
        fclose(f);
        return rnnc_io_fail(err, errlen, path, "file too large");
      }
      bigger = realloc(buf, cap * 2);
      if (bigger == NULL) {
        free(buf);
        fclose(f);
        return rnnc_io_fail(err, errlen, path, "out of memory reading the file");
      }
      buf = bigger;
      cap *= 2;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return rnnc_io_fail(err, errlen, path, "read error: %s", strerror(e));
      }
      break;
    }
  }
  fclose(f);
  *out = buf;
  *outlen = len;
  return 0;
}

/* "<path>.tmp.<pid>", malloc'd: concurrent writers of the same path do not clash. */
char *rnnc_io_temp_path(const char *path) {
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  long pid = 0;
#ifdef FILES_HAVE_GETPID
  pid = (long)getpid();
#endif
  if (tmp != NULL)
    snprintf(tmp, n, "%s.tmp.%ld", path, pid);
  return tmp;
}
