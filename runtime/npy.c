/* NumPy .npy arrays: load any of the common numeric dtypes as doubles, save
 * reals as <f4 or <f8.
 *
 * Layout: "\x93NUMPY", major and minor version bytes, the header length (2
 * bytes little-endian in version 1.0, 4 bytes in 2.0 and 3.0), a header that is
 * a Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ending in '\n', then the raw data in C order.
 *
 * The loader reads the whole file and checks the header and the exact data
 * size before converting anything. */
#include "rnnc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

#define NPY_MAX_RANK 8 /* rnnc_array.shape */
#define NPY_MAGIC "\x93NUMPY"

/* ---------------------------------------------------------------- small helpers */

/* Byte assembly: independent of alignment and of the host's byte order. */
static uint64_t load_bytes(const unsigned char *p, size_t n, int big_endian) {
  uint64_t v = 0;
  size_t k;
  for (k = 0; k < n; k++)
    v = (v << 8) | p[big_endian ? k : n - 1 - k];
  return v;
}

static int host_is_big_endian(void) {
  uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  return first == 0;
}

static void format_shape(char *buf, size_t len, const size_t *shape, int rank) {
  size_t used = 0;
  int k;
  buf[0] = '\0';
  for (k = 0; k <= rank; k++) {
    int n;
    if (k < rank)
      n = snprintf(buf + used, len - used, "%s%zu", k == 0 ? "(" : ", ", shape[k]);
    else
      n = snprintf(buf + used, len - used, "%s)", rank == 1 ? "," : "");
    if (n < 0 || (size_t)n >= len - used)
      return;
    used += (size_t)n;
  }
  if (rank == 0)
    snprintf(buf, len, "()");
}

/* ---------------------------------------------------------------- header dict */

typedef struct {
  char kind; /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
  size_t size;
  int big_endian;
} npy_type;

typedef struct {
  const unsigned char *s;
  size_t n, i;
  const char *path;
  char *err;
  size_t errlen;
} hparser;

static int hfail(hparser *p, const char *what) {
  return rnnc_io_fail(p->err, p->errlen, p->path, "malformed header (at header byte %zu): %s", p->i,
                      what);
}

static void hws(hparser *p) {
  while (p->i < p->n &&
         (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
    p->i++;
}

static int hpeek(hparser *p, int c) {
  return p->i < p->n && p->s[p->i] == c;
}

static int hexpect(hparser *p, int c, const char *what) {
  hws(p);
  if (!hpeek(p, c))
    return hfail(p, what);
  p->i++;
  return 0;
}

/* A Python string literal in ' or " quotes, without escapes (none of the keys
 * or dtype strings need them). */
static int hstring(hparser *p, char *out, size_t cap) {
  int quote;
  size_t len = 0;
  hws(p);
  if (!hpeek(p, '\'') && !hpeek(p, '"'))
    return hfail(p, "expected a quoted string");
  quote = p->s[p->i++];
  for (;;) {
    int c;
    if (p->i >= p->n)
      return hfail(p, "unterminated string");
    c = p->s[p->i++];
    if (c == quote)
      break;
    if (c == '\\' || c < 0x20 || c > 0x7e)
      return hfail(p, "unexpected character in a string");
    if (len + 1 >= cap)
      return hfail(p, "string too long");
    out[len++] = (char)c;
  }
  out[len] = '\0';
  return 0;
}

/* A bare word such as True or False. */
static void hword(hparser *p, char *out, size_t cap) {
  size_t len = 0;
  hws(p);
  while (p->i < p->n && len + 1 < cap &&
         ((p->s[p->i] >= 'a' && p->s[p->i] <= 'z') || (p->s[p->i] >= 'A' && p->s[p->i] <= 'Z')))
    out[len++] = (char)p->s[p->i++];
  out[len] = '\0';
}

/* A shape tuple: (), (5,), (3, 4) or (3, 4,); old Python 2 files write 3L. */
static int hshape(hparser *p, size_t *shape, int *rank) {
  int n = 0;
  if (hexpect(p, '(', "shape is not a tuple") != 0)
    return -1;
  hws(p);
  if (hpeek(p, ')')) {
    p->i++;
    *rank = 0;
    return 0;
  }
  for (;;) {
    size_t v = 0;
    hws(p);
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
      return hfail(p, "shape dimensions must be non-negative integers");
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
      size_t d = (size_t)(p->s[p->i] - '0');
      if (v > (SIZE_MAX - d) / 10)
        return hfail(p, "shape dimension too large");
      v = v * 10 + d;
      p->i++;
    }
    if (hpeek(p, 'L') || hpeek(p, 'l'))
      p->i++;
    if (n == NPY_MAX_RANK)
      return rnnc_io_fail(p->err, p->errlen, p->path,
                          "arrays of more than %d dimensions are not supported", NPY_MAX_RANK);
    shape[n++] = v;
    hws(p);
    if (hpeek(p, ',')) {
      p->i++;
      hws(p);
      if (hpeek(p, ')')) {
        p->i++;
        break;
      }
      continue;
    }
    if (hpeek(p, ')')) {
      p->i++;
      break;
    }
    return hfail(p, "expected ',' or ')' in shape");
  }
  *rank = n;
  return 0;
}

/* "<f8" and friends. */
static int parse_descr(hparser *p, const char *descr, npy_type *t) {
  char order = descr[0];
  size_t size = 0;
  const char *d;
  static const char supported[] = "f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, little- or big-endian";
  if (order != '<' && order != '>' && order != '|' && order != '=')
    goto bad;
  t->kind = descr[1];
  if (t->kind != 'f' && t->kind != 'i' && t->kind != 'u' && t->kind != 'b')
    goto bad;
  for (d = descr + 2; *d >= '0' && *d <= '9' && size < 100; d++)
    size = size * 10 + (size_t)(*d - '0');
  if (*d != '\0' || d == descr + 2)
    goto bad;
  t->size = size;
  if (t->kind == 'f'   ? (size != 4 && size != 8)
      : t->kind == 'b' ? size != 1
                       : (size != 1 && size != 2 && size != 4 && size != 8))
    goto bad;
  if (order == '|' && size != 1) /* "not applicable" byte order only fits single bytes */
    goto bad;
  t->big_endian = order == '>' || (order == '=' && host_is_big_endian());
  return 0;
bad:
  return rnnc_io_fail(p->err, p->errlen, p->path, "unsupported dtype '%s' (supported: %s)", descr,
                      supported);
}

/* The header dict: keys descr, fortran_order and shape in any order. */
static int parse_header(hparser *p, npy_type *type, int *rank, size_t *shape) {
  int have_descr = 0, have_order = 0, have_shape = 0;
  if (hexpect(p, '{', "the header is not a dict") != 0)
    return -1;
  for (;;) {
    char key[32];
    hws(p);
    if (hpeek(p, '}')) {
      p->i++;
      break;
    }
    if (hstring(p, key, sizeof key) != 0 || hexpect(p, ':', "expected ':'") != 0)
      return -1;
    hws(p);
    if (strcmp(key, "descr") == 0) {
      char descr[32];
      if (have_descr++)
        return hfail(p, "'descr' given twice");
      if (hpeek(p, '['))
        return rnnc_io_fail(p->err, p->errlen, p->path, "structured dtypes are not supported");
      if (hstring(p, descr, sizeof descr) != 0 || parse_descr(p, descr, type) != 0)
        return -1;
    } else if (strcmp(key, "fortran_order") == 0) {
      char word[8];
      if (have_order++)
        return hfail(p, "'fortran_order' given twice");
      hword(p, word, sizeof word);
      if (strcmp(word, "True") == 0)
        return rnnc_io_fail(p->err, p->errlen, p->path,
                            "fortran_order True is not supported: save the array in C order");
      if (strcmp(word, "False") != 0)
        return hfail(p, "fortran_order must be True or False");
    } else if (strcmp(key, "shape") == 0) {
      if (have_shape++)
        return hfail(p, "'shape' given twice");
      if (hshape(p, shape, rank) != 0)
        return -1;
    } else {
      return rnnc_io_fail(p->err, p->errlen, p->path, "unexpected key '%s' in the header", key);
    }
    hws(p);
    if (hpeek(p, ',')) {
      p->i++;
      continue;
    }
    if (hpeek(p, '}')) {
      p->i++;
      break;
    }
    return hfail(p, "expected ',' or '}'");
  }
  hws(p); /* padding and the final '\n' */
  if (p->i != p->n)
    return hfail(p, "unexpected text after the header dict");
  if (!have_descr || !have_order || !have_shape)
    return rnnc_io_fail(p->err, p->errlen, p->path, "the header has no '%s'",
                        !have_descr   ? "descr"
                        : !have_order ? "fortran_order"
                                      : "shape");
  return 0;
}

/* ---------------------------------------------------------------- load */

static double convert(const unsigned char *src, const npy_type *t) {
  uint64_t v = load_bytes(src, t->size, t->big_endian);
  switch (t->kind) {
  case 'f':
    if (t->size == 4) {
      uint32_t b = (uint32_t)v;
      float f;
      memcpy(&f, &b, 4);
      return f;
    } else {
      double d;
      memcpy(&d, &v, 8);
      return d;
    }
  case 'i': {
    /* Two's complement by hand: converting a large uint64_t to int64_t is
     * implementation-defined. */
    uint64_t mask = t->size == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * t->size)) - 1;
    uint64_t sign = (uint64_t)1 << (8 * t->size - 1);
    if (v & sign)
      return -(double)((~v & mask) + 1);
    return (double)v;
  }
  case 'u':
    return (double)v;
  default: /* 'b' */
    return v != 0 ? 1.0 : 0.0;
  }
}

/* What a load fills: the shape, and the values converted to `dtype` in a
 * malloc'd block. */
typedef struct {
  rnnc_dtype dtype;
  int rank;
  size_t *shape; /* 8 entries */
  size_t count;
  void *data;
} npy_out;

/* Parses a whole file held in buf[0..len) (read only, never past len). */
static int load_buffer(const unsigned char *buf, size_t len, const char *path, npy_out *out,
                       char *err, size_t errlen) {
  size_t hstart, hlen, count = 1, nbytes, avail, shape[NPY_MAX_RANK], i;
  int rank = 0, k, major, minor;
  npy_type type;
  hparser p;
  char sh[256];
  void *data;
  size_t real = out->dtype == RNNC_F32 ? sizeof(float) : sizeof(double);

  memset(&type, 0, sizeof type); /* keeps -O2 -Wmaybe-uninitialized quiet */
  memset(shape, 0, sizeof shape);
  if (memcmp(buf, NPY_MAGIC, len < 6 ? len : 6) != 0)
    return rnnc_io_fail(err, errlen, path, "not a .npy file (bad magic)");
  if (len < 10)
    return rnnc_io_fail(err, errlen, path, "file is too short for a .npy header (%zu bytes)", len);
  major = buf[6];
  minor = buf[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return rnnc_io_fail(err, errlen, path, "unsupported .npy format version %d.%d", major, minor);
  if (major == 1) {
    hlen = (size_t)load_bytes(buf + 8, 2, 0);
    hstart = 10;
  } else {
    if (len < 12)
      return rnnc_io_fail(err, errlen, path, "file is too short for a .npy header (%zu bytes)",
                          len);
    hlen = (size_t)load_bytes(buf + 8, 4, 0);
    hstart = 12;
  }
  if (hlen > len - hstart)
    return rnnc_io_fail(err, errlen, path,
                        "header length %zu is larger than the rest of the file (%zu bytes)", hlen,
                        len - hstart);

  p.s = buf + hstart;
  p.n = hlen;
  p.i = 0;
  p.path = path;
  p.err = err;
  p.errlen = errlen;
  if (parse_header(&p, &type, &rank, shape) != 0)
    return -1;

  format_shape(sh, sizeof sh, shape, rank);
  for (k = 0; k < rank; k++)
    if (shape[k] == 0)
      count = 0;
  for (k = 0; k < rank && count > 0; k++) {
    if (count > SIZE_MAX / sizeof(double) / shape[k]) /* also bounds count * itemsize */
      return rnnc_io_fail(err, errlen, path, "shape %s is too large", sh);
    count *= shape[k];
  }
  nbytes = count * type.size;
  avail = len - hstart - hlen;
  if (avail != nbytes)
    return rnnc_io_fail(err, errlen, path, "%s: shape %s needs %zu bytes of data, the file has %zu",
                        avail < nbytes ? "truncated" : "trailing bytes", sh, nbytes, avail);

  data = malloc(count > 0 ? count * real : 1);
  if (data == NULL)
    return rnnc_io_fail(err, errlen, path, "out of memory for %zu values", count);
  for (i = 0; i < count; i++) {
    double v = convert(buf + hstart + hlen + i * type.size, &type);
    if (out->dtype == RNNC_F32)
      ((float *)data)[i] = (float)v;
    else
      ((double *)data)[i] = v;
  }
  out->rank = rank;
  for (k = 0; k < rank; k++)
    out->shape[k] = shape[k];
  out->count = count;
  out->data = data;
  return 0;
}

static int load_file(const char *path, npy_out *out, char *err, size_t errlen) {
  unsigned char *buf = NULL;
  size_t len = 0;
  int rc;
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (path == NULL)
    return rnnc_io_fail(err, errlen, path, "no path given");
  if (rnnc_io_read_file(path, &buf, &len, err, errlen) != 0)
    return -1;
  rc = load_buffer(buf, len, path, out, err, errlen);
  free(buf);
  return rc;
}

static int load_memory(const void *data, size_t len, const char *name, npy_out *out, char *err,
                       size_t errlen) {
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (name == NULL)
    name = "(memory)";
  if (data == NULL && len > 0)
    return rnnc_io_fail(err, errlen, name, "no data given");
  return load_buffer(data != NULL ? (const unsigned char *)data : (const unsigned char *)"", len,
                     name, out, err, errlen);
}

/* The loaders of each dtype: the same parse, the values converted once. */
#define NPY_LOADERS(SUFFIX, ARRAY, DTYPE, REAL)                                                    \
  static int setup##SUFFIX(ARRAY *a, npy_out *o) {                                                 \
    if (a == NULL)                                                                                 \
      return -1;                                                                                   \
    memset(a, 0, sizeof *a);                                                                       \
    memset(o, 0, sizeof *o);                                                                       \
    o->dtype = DTYPE;                                                                              \
    o->shape = a->shape;                                                                           \
    return 0;                                                                                      \
  }                                                                                                \
  static int finish##SUFFIX(ARRAY *a, const npy_out *o, int rc) {                                  \
    if (rc == 0) {                                                                                 \
      a->rank = o->rank;                                                                           \
      a->count = o->count;                                                                         \
      a->data = (REAL *)o->data;                                                                   \
    }                                                                                              \
    return rc;                                                                                     \
  }

NPY_LOADERS(_f64, rnnc_array, RNNC_F64, double)
NPY_LOADERS(_f32, rnnc_array_f32, RNNC_F32, float)

int rnnc_npy_load(const char *path, rnnc_array *out, char *err, size_t errlen) {
  npy_out o;
  if (setup_f64(out, &o) != 0)
    return rnnc_io_fail(err, errlen, path, "no output array given");
  return finish_f64(out, &o, load_file(path, &o, err, errlen));
}

int rnnc_npy_load_memory(const void *data, size_t len, const char *name, rnnc_array *out, char *err,
                         size_t errlen) {
  npy_out o;
  if (setup_f64(out, &o) != 0)
    return rnnc_io_fail(err, errlen, name != NULL ? name : "(memory)", "no output array given");
  return finish_f64(out, &o, load_memory(data, len, name, &o, err, errlen));
}

int rnnc_npy_load_f32(const char *path, rnnc_array_f32 *out, char *err, size_t errlen) {
  npy_out o;
  if (setup_f32(out, &o) != 0)
    return rnnc_io_fail(err, errlen, path, "no output array given");
  return finish_f32(out, &o, load_file(path, &o, err, errlen));
}

int rnnc_npy_load_memory_f32(const void *data, size_t len, const char *name, rnnc_array_f32 *out,
                             char *err, size_t errlen) {
  npy_out o;
  if (setup_f32(out, &o) != 0)
    return rnnc_io_fail(err, errlen, name != NULL ? name : "(memory)", "no output array given");
  return finish_f32(out, &o, load_memory(data, len, name, &o, err, errlen));
}

void rnnc_array_free(rnnc_array *a) {
  if (a == NULL)
    return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

void rnnc_array_f32_free(rnnc_array_f32 *a) {
  if (a == NULL)
    return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- rows on demand */

struct rnnc_npy_rows {
  FILE *f;
  char *path;
  npy_type type;
  long data;          /* offset of the data */
  size_t rows, per;   /* rows along axis 0, values per row */
  unsigned char *buf; /* one read's bytes */
  size_t cap;
};

void rnnc_npy_rows_close(rnnc_npy_rows *r) {
  if (r == NULL)
    return;
  if (r->f != NULL)
    fclose(r->f);
  free(r->path);
  free(r->buf);
  free(r);
}

rnnc_npy_rows *rnnc_npy_rows_open(const char *path, int *rank, size_t *shape, char *err,
                                  size_t errlen) {
  unsigned char pre[12], *header = NULL;
  size_t hstart, hlen, count = 1, dims[NPY_MAX_RANK];
  int k, n = 0;
  hparser p;
  rnnc_npy_rows *r = calloc(1, sizeof *r);
  if (r == NULL || (r->path = malloc(strlen(path) + 1)) == NULL) {
    rnnc_io_fail(err, errlen, path, "out of memory");
    goto fail;
  }
  strcpy(r->path, path);
  memset(dims, 0, sizeof dims);
  if ((r->f = fopen(path, "rb")) == NULL) {
    rnnc_io_fail(err, errlen, path, "cannot open: %s", strerror(errno));
    goto fail;
  }
  if (fread(pre, 1, 10, r->f) != 10 || memcmp(pre, NPY_MAGIC, 6) != 0) {
    rnnc_io_fail(err, errlen, path, "not a .npy file (bad magic or too short)");
    goto fail;
  }
  if ((pre[6] != 1 && pre[6] != 2 && pre[6] != 3) || pre[7] != 0) {
    rnnc_io_fail(err, errlen, path, "unsupported .npy format version %d.%d", pre[6], pre[7]);
    goto fail;
  }
  hstart = pre[6] == 1 ? 10 : 12;
  if (hstart == 12 && fread(pre + 10, 1, 2, r->f) != 2) {
    rnnc_io_fail(err, errlen, path, "file is too short for a .npy header");
    goto fail;
  }
  hlen = (size_t)load_bytes(pre + 8, hstart - 8, 0);
  if (hlen > (1u << 20) || (header = malloc(hlen + 1)) == NULL ||
      fread(header, 1, hlen, r->f) != hlen) {
    rnnc_io_fail(err, errlen, path, "the header (%zu bytes) cannot be read", hlen);
    goto fail;
  }
  p.s = header;
  p.n = hlen;
  p.i = 0;
  p.path = path;
  p.err = err;
  p.errlen = errlen;
  if (parse_header(&p, &r->type, &n, dims) != 0)
    goto fail;
  if (n < 1) {
    rnnc_io_fail(err, errlen, path, "a scalar has no rows");
    goto fail;
  }
  for (k = 1; k < n; k++) {
    if (dims[k] != 0 && count > SIZE_MAX / sizeof(double) / dims[k]) {
      rnnc_io_fail(err, errlen, path, "the shape is too large");
      goto fail;
    }
    count *= dims[k];
  }
  r->rows = dims[0];
  r->per = count;
  r->data = (long)(hstart + hlen);
  if (fseek(r->f, 0, SEEK_END) != 0 ||
      (size_t)ftell(r->f) - (size_t)r->data != r->rows * r->per * r->type.size) {
    rnnc_io_fail(err, errlen, path, "the data is not the %zu bytes its shape needs",
                 r->rows * r->per * r->type.size);
    goto fail;
  }
  *rank = n;
  for (k = 0; k < NPY_MAX_RANK; k++)
    shape[k] = dims[k];
  free(header);
  return r;
fail:
  free(header);
  rnnc_npy_rows_close(r);
  return NULL;
}

int rnnc_npy_rows_read(rnnc_npy_rows *r, size_t first, size_t count, double *out, char *err,
                       size_t errlen) {
  size_t bytes = count * r->per * r->type.size, i;
  if (first > r->rows || count > r->rows - first)
    return rnnc_io_fail(err, errlen, r->path, "rows %zu..%zu are outside its %zu rows", first,
                        first + count, r->rows);
  if (bytes > r->cap) {
    unsigned char *b = realloc(r->buf, bytes);
    if (b == NULL)
      return rnnc_io_fail(err, errlen, r->path, "out of memory");
    r->buf = b;
    r->cap = bytes;
  }
  if (bytes > 0 && (fseek(r->f, r->data + (long)(first * r->per * r->type.size), SEEK_SET) != 0 ||
                    fread(r->buf, 1, bytes, r->f) != bytes))
    return rnnc_io_fail(err, errlen, r->path, "cannot read rows %zu..%zu", first, first + count);
  for (i = 0; i < count * r->per; i++)
    out[i] = convert(r->buf + i * r->type.size, &r->type);
  return 0;
}

/* ---------------------------------------------------------------- save */

int rnnc_npy_save(const char *path, rnnc_dtype dtype, int rank, const size_t *shape,
                  const void *data, char *err, size_t errlen) {
  char header[512], *tmp = NULL;
  unsigned char pre[10], chunk[4096];
  size_t es = dtype == RNNC_F32 ? 4 : dtype == RNNC_F64 ? 8 : 0, count = 1, hl, used, i;
  FILE *f = NULL;
  int k, n, rc = -1;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (path == NULL)
    return rnnc_io_fail(err, errlen, path, "no path given");
  if (es == 0)
    return rnnc_io_fail(err, errlen, path, "unsupported dtype %d", (int)dtype);
  if (rank < 0 || rank > NPY_MAX_RANK || (rank > 0 && shape == NULL))
    return rnnc_io_fail(err, errlen, path, "invalid rank %d", rank);
  for (k = 0; k < rank; k++)
    if (shape[k] == 0)
      count = 0;
  for (k = 0; k < rank && count > 0; k++) {
    if (count > SIZE_MAX / es / shape[k])
      return rnnc_io_fail(err, errlen, path, "shape too large");
    count *= shape[k];
  }
  if (count > 0 && data == NULL)
    return rnnc_io_fail(err, errlen, path, "no data given");

  /* At most 8 dims of 20 digits: the 512-byte buffer always suffices. */
  n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
               dtype == RNNC_F32 ? "<f4" : "<f8");
  used = (size_t)n;
  for (k = 0; k < rank; k++) {
    n = snprintf(header + used, sizeof header - used, "%s%zu", k > 0 ? ", " : "", shape[k]);
    used += (size_t)n;
  }
  n = snprintf(header + used, sizeof header - used, "%s), }", rank == 1 ? "," : "");
  used += (size_t)n;
  /* Pad with spaces so that the data starts at a multiple of 64 bytes; the header
   * ends with '\n'. */
  while ((10 + used + 1) % 64 != 0)
    header[used++] = ' ';
  header[used++] = '\n';
  hl = used;
  memcpy(pre, NPY_MAGIC, 6);
  pre[6] = 1;
  pre[7] = 0;
  rnnc_io_store_le(pre + 8, hl, 2);

  /* Atomic: write "<path>.tmp.<pid>", then rename over path. */
  tmp = rnnc_io_temp_path(path);
  if (tmp == NULL)
    return rnnc_io_fail(err, errlen, path, "out of memory");
  f = fopen(tmp, "wb");
  if (f == NULL) {
    rnnc_io_fail(err, errlen, path, "cannot create '%s': %s", tmp, strerror(errno));
    goto out;
  }
  if (fwrite(pre, 1, 10, f) != 10 || fwrite(header, 1, hl, f) != hl)
    goto write_error;
  for (i = 0; i < count;) {
    size_t m = count - i < sizeof chunk / es ? count - i : sizeof chunk / es, j;
    for (j = 0; j < m; j++) {
      if (dtype == RNNC_F32) {
        uint32_t u;
        memcpy(&u, (const float *)data + i + j, 4);
        rnnc_io_store_le(chunk + j * 4, u, 4);
      } else {
        uint64_t u;
        memcpy(&u, (const double *)data + i + j, 8);
        rnnc_io_store_le(chunk + j * 8, u, 8);
      }
    }
    if (fwrite(chunk, es, m, f) != m)
      goto write_error;
    i += m;
  }
  if (fflush(f) != 0 || ferror(f))
    goto write_error;
  if (fclose(f) != 0) {
    f = NULL;
    goto write_error;
  }
  f = NULL;
  if (rename(tmp, path) != 0) {
    rnnc_io_fail(err, errlen, path, "cannot rename '%s' into place: %s", tmp, strerror(errno));
    remove(tmp);
    goto out;
  }
  rc = 0;
  goto out;
write_error:
  rnnc_io_fail(err, errlen, path, "write error: %s", strerror(errno));
  if (f != NULL)
    fclose(f);
  remove(tmp);
out:
  free(tmp);
  return rc;
}
