/* safetensors files (the model-weights wrappers are in weights.c).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON header, then
 * the data area. Each header entry gives a tensor's dtype, shape and
 * data_offsets [begin, end) relative to the data area.
 *
 * The reader trusts nothing in the file: the header goes through a strict JSON
 * parser that never reads past its buffer, and every dtype, shape and offset is
 * checked before a single value is copied to the caller. */
#include "rnnc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "json.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024) /* a larger header means a corrupt file */
#define ST_MAX_RANK 8                               /* most dimensions accepted in a file */
#define ST_SHOWN 84 /* a tensor name in a message: 80 bytes at most, then "..." */

/* ---------------------------------------------------------------- small helpers */

static size_t real_size(rnnc_dtype dtype) {
  return dtype == RNNC_F32 ? 4 : dtype == RNNC_F64 ? 8 : 0;
}

/* Element i of an array of reals of `dtype`, as little-endian bytes. */
static void real_to_le(unsigned char *p, rnnc_dtype dtype, const void *data, size_t i) {
  if (dtype == RNNC_F32) {
    uint32_t u;
    memcpy(&u, (const float *)data + i, 4);
    rnnc_io_store_le(p, u, 4);
  } else {
    uint64_t u;
    memcpy(&u, (const double *)data + i, 8);
    rnnc_io_store_le(p, u, 8);
  }
}

/* Formats a shape as "[3, 4]". */
static void format_shape(char *buf, size_t len, const uint64_t *shape, int rank) {
  size_t used = 0;
  int k;
  buf[0] = '\0';
  for (k = 0; k <= rank; k++) {
    int n;
    if (k < rank)
      n = snprintf(buf + used, len - used, "%s%llu", k == 0 ? "[" : ", ",
                   (unsigned long long)shape[k]);
    else
      n = snprintf(buf + used, len - used, "%s]", k == 0 ? "[" : "");
    if (n < 0 || (size_t)n >= len - used)
      return;
    used += (size_t)n;
  }
}

static int valid_utf8(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s), i = 0;
  while (i < n) {
    if (u[i] < 0x80) {
      i++;
    } else {
      size_t k = rnnc_utf8_seq_len(u + i, n - i);
      if (k == 0)
        return 0;
      i += k;
    }
  }
  return 1;
}

/* A name from a file as messages print it: control characters, DEL and NUL
 * escaped as \xNN (a hostile name must not drive the terminal), at most 80
 * bytes, cut on a character boundary and followed by "..." when longer. */
static void show_name(char *out, const char *name, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)name;
  size_t i = 0, used = 0;
  while (i < len) {
    size_t k = u[i] < 0x80 ? 1 : rnnc_utf8_seq_len(u + i, len - i), need;
    if (k == 0)
      k = 1; /* the parser only stores valid UTF-8; escape anything else anyway */
    need = u[i] < 0x20 || u[i] == 0x7f || (u[i] >= 0x80 && k == 1) ? 4 : k;
    if (used + need > ST_SHOWN - 4) {
      memcpy(out + used, "...", 3);
      used += 3;
      break;
    }
    if (need == 4 && k == 1) {
      out[used++] = '\\';
      out[used++] = 'x';
      out[used++] = hex[u[i] >> 4];
      out[used++] = hex[u[i] & 15];
    } else {
      memcpy(out + used, u + i, k);
      used += k;
    }
    i += k;
  }
  out[used] = '\0';
}

static void shape_to_u64(uint64_t *dst, int rank, const int *shape) {
  int k;
  for (k = 0; k < rank; k++)
    dst[k] = (uint64_t)shape[k];
}

/* ---------------------------------------------------------------- dtypes in files */

typedef struct {
  const char *name;
  size_t size;
} st_dtype_info;

/* Every dtype the format knows, so that files holding other tensors still pass
 * validation; only F32 and F64 can be loaded. */
static const st_dtype_info st_dtypes[] = {
    {"F64", 8},     {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    {"F8_E8M0", 1}, {"I64", 8}, {"I32", 4}, {"I16", 2},  {"I8", 1},      {"U64", 8},
    {"U32", 4},     {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"C64", 8}};
#define ST_F64 0
#define ST_F32 1
#define ST_N_DTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

/* ---------------------------------------------------------------- JSON header parser */

typedef struct {
  const char *name; /* decoded, NUL-terminated, in the parser's arena */
  size_t name_len;  /* may differ from strlen when the name holds \u0000 */
  int dtype;        /* index in st_dtypes */
  int rank;
  uint64_t shape[ST_MAX_RANK];
  uint64_t begin, end;
  uint64_t nbytes;      /* size(shape) * dtype size */
  char shown[ST_SHOWN]; /* the name as messages print it (see show_name) */
} st_entry;

static int key_is(const char *key, size_t len, const char *want) {
  return len == strlen(want) && memcmp(key, want, len) == 0;
}

/* A list of non-negative integers, at most `max` of them. */
static int juint_list(rnnc_json *p, const st_entry *e, const char *field, uint64_t *vals, int max,
                      int *count) {
  int n = 0;
  if (!rnnc_json_peek(p, '['))
    return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': %s is not a list", e->shown,
                        field);
  p->i++;
  rnnc_json_ws(p);
  if (rnnc_json_peek(p, ']')) {
    p->i++;
    *count = 0;
    return 0;
  }
  for (;;) {
    uint64_t v;
    int kind;
    rnnc_json_ws(p);
    if (p->i < p->n && p->s[p->i] != '-' && (p->s[p->i] < '0' || p->s[p->i] > '9')) {
      if (rnnc_json_skip(p, 2) != 0) /* report bad JSON as such before the type error */
        return -1;
      return rnnc_io_fail(p->err, p->errlen, p->path,
                          "tensor '%s': %s must be a list of non-negative integers", e->shown,
                          field);
    }
    if (rnnc_json_number(p, &v, &kind) != 0)
      return -1;
    if (kind == 0)
      return rnnc_io_fail(p->err, p->errlen, p->path,
                          "tensor '%s': %s must be a list of non-negative integers", e->shown,
                          field);
    if (kind == 2)
      return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': %s holds a number too large",
                          e->shown, field);
    if (n == max)
      return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': %s has more than %d entries",
                          e->shown, field, max);
    vals[n++] = v;
    rnnc_json_ws(p);
    if (rnnc_json_peek(p, ',')) {
      p->i++;
      continue;
    }
    if (rnnc_json_peek(p, ']')) {
      p->i++;
      *count = n;
      return 0;
    }
    return rnnc_json_fail(p, "expected ',' or ']'");
  }
}

/* One tensor entry: {"dtype": ..., "shape": [...], "data_offsets": [b, e]}. */
static int parse_entry(rnnc_json *p, st_entry *e) {
  int have_dtype = 0, have_shape = 0, have_offsets = 0;
  rnnc_json_ws(p);
  if (!rnnc_json_peek(p, '{')) {
    if (rnnc_json_skip(p, 1) != 0)
      return -1;
    return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': entry is not an object",
                        e->shown);
  }
  p->i++;
  rnnc_json_ws(p);
  if (rnnc_json_peek(p, '}')) {
    p->i++;
  } else {
    for (;;) {
      const char *key;
      size_t klen;
      rnnc_json_ws(p);
      if (rnnc_json_string(p, &key, &klen) != 0 || rnnc_json_expect(p, ':', "expected ':'") != 0)
        return -1;
      rnnc_json_ws(p);
      if (key_is(key, klen, "dtype")) {
        const char *name;
        size_t nlen;
        int k;
        if (have_dtype++)
          return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': dtype given twice",
                              e->shown);
        if (!rnnc_json_peek(p, '"')) {
          if (rnnc_json_skip(p, 2) != 0)
            return -1;
          return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': dtype is not a string",
                              e->shown);
        }
        if (rnnc_json_string(p, &name, &nlen) != 0)
          return -1;
        for (k = 0; k < ST_N_DTYPES; k++)
          if (key_is(name, nlen, st_dtypes[k].name))
            break;
        if (k == ST_N_DTYPES) {
          char shown[ST_SHOWN];
          show_name(shown, name, nlen);
          return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s' has unknown dtype '%s'",
                              e->shown, shown);
        }
        e->dtype = k;
      } else if (key_is(key, klen, "shape")) {
        if (have_shape++)
          return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': shape given twice",
                              e->shown);
        if (juint_list(p, e, "shape", e->shape, ST_MAX_RANK, &e->rank) != 0)
          return -1;
      } else if (key_is(key, klen, "data_offsets")) {
        uint64_t offs[2];
        int n = 0;
        if (have_offsets++)
          return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s': data_offsets given twice",
                              e->shown);
        if (juint_list(p, e, "data_offsets", offs, 2, &n) != 0)
          return -1;
        if (n != 2)
          return rnnc_io_fail(p->err, p->errlen, p->path,
                              "tensor '%s': data_offsets must be [begin, end]", e->shown);
        e->begin = offs[0];
        e->end = offs[1];
      } else if (rnnc_json_skip(p, 2) != 0) { /* unknown keys are tolerated */
        return -1;
      }
      rnnc_json_ws(p);
      if (rnnc_json_peek(p, ',')) {
        p->i++;
        continue;
      }
      if (rnnc_json_peek(p, '}')) {
        p->i++;
        break;
      }
      return rnnc_json_fail(p, "expected ',' or '}'");
    }
  }
  if (!have_dtype || !have_shape || !have_offsets)
    return rnnc_io_fail(p->err, p->errlen, p->path, "tensor '%s' has no %s", e->shown,
                        !have_dtype   ? "dtype"
                        : !have_shape ? "shape"
                                      : "data_offsets");
  return 0;
}

/* The whole header: an object of tensor entries plus an optional __metadata__. */
static int parse_header(rnnc_json *p, st_entry **out, size_t *nout) {
  st_entry *ents = NULL;
  size_t n = 0, cap = 0;
  rnnc_json_ws(p);
  if (!rnnc_json_peek(p, '{'))
    return rnnc_json_fail(p, "the header is not a JSON object");
  p->i++;
  rnnc_json_ws(p);
  if (rnnc_json_peek(p, '}')) {
    p->i++;
  } else {
    for (;;) {
      const char *key;
      size_t klen;
      rnnc_json_ws(p);
      if (rnnc_json_string(p, &key, &klen) != 0 || rnnc_json_expect(p, ':', "expected ':'") != 0)
        goto bad;
      if (key_is(key, klen, "__metadata__")) {
        rnnc_json_ws(p);
        if (!rnnc_json_peek(p, '{')) {
          if (rnnc_json_skip(p, 1) == 0)
            rnnc_io_fail(p->err, p->errlen, p->path, "__metadata__ is not an object");
          goto bad;
        }
        if (rnnc_json_skip(p, 1) != 0)
          goto bad;
      } else {
        if (n == cap) {
          st_entry *bigger;
          cap = cap ? cap * 2 : 16;
          bigger = realloc(ents, cap * sizeof *ents); /* n is bounded by the header size */
          if (bigger == NULL) {
            rnnc_io_fail(p->err, p->errlen, p->path, "out of memory parsing the header");
            goto bad;
          }
          ents = bigger;
        }
        memset(&ents[n], 0, sizeof ents[n]);
        ents[n].name = key;
        ents[n].name_len = klen;
        show_name(ents[n].shown, key, klen);
        p->context = ents[n].shown;
        if (parse_entry(p, &ents[n]) != 0)
          goto bad;
        p->context = NULL;
        n++;
      }
      rnnc_json_ws(p);
      if (rnnc_json_peek(p, ',')) {
        p->i++;
        continue;
      }
      if (rnnc_json_peek(p, '}')) {
        p->i++;
        break;
      }
      rnnc_json_fail(p, "expected ',' or '}'");
      goto bad;
    }
  }
  rnnc_json_ws(p); /* trailing padding */
  if (p->i != p->n) {
    rnnc_json_fail(p, "unexpected data after the header object");
    goto bad;
  }
  *out = ents;
  *nout = n;
  return 0;
bad:
  free(ents);
  return -1;
}

/* ---------------------------------------------------------------- header validation */

static int cmp_by_name(const void *a, const void *b) {
  const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
  size_t m = x->name_len < y->name_len ? x->name_len : y->name_len;
  int c = memcmp(x->name, y->name, m);
  if (c != 0)
    return c;
  return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

static int cmp_by_begin(const void *a, const void *b) {
  const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Sizes, offsets, overlap and duplicate names. Leaves `order` sorted by name. */
static int check_entries(const char *path, st_entry *ents, size_t n, uint64_t data_len,
                         const st_entry **order, char *err, size_t errlen) {
  char sh[256];
  size_t i, m = 0;
  for (i = 0; i < n; i++) {
    st_entry *e = &ents[i];
    uint64_t bytes = st_dtypes[e->dtype].size;
    int k, zero = 0;
    for (k = 0; k < e->rank; k++)
      zero |= e->shape[k] == 0;
    for (k = 0; k < e->rank && !zero; k++) {
      if (bytes > UINT64_MAX / e->shape[k]) {
        format_shape(sh, sizeof sh, e->shape, e->rank);
        return rnnc_io_fail(err, errlen, path, "tensor '%s': shape %s is too large", e->shown, sh);
      }
      bytes *= e->shape[k];
    }
    e->nbytes = zero ? 0 : bytes;
    if (e->begin > e->end)
      return rnnc_io_fail(err, errlen, path,
                          "tensor '%s': data_offsets [%llu, %llu] end before they begin", e->shown,
                          (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
      return rnnc_io_fail(
          err, errlen, path,
          "tensor '%s': data_offsets [%llu, %llu] lie outside the data area (%llu bytes)", e->shown,
          (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)data_len);
    if (e->end - e->begin != e->nbytes) {
      format_shape(sh, sizeof sh, e->shape, e->rank);
      return rnnc_io_fail(
          err, errlen, path,
          "tensor '%s': data_offsets [%llu, %llu] span %llu bytes, but shape %s of %s "
          "needs %llu",
          e->shown, (unsigned long long)e->begin, (unsigned long long)e->end,
          (unsigned long long)(e->end - e->begin), sh, st_dtypes[e->dtype].name,
          (unsigned long long)e->nbytes);
    }
  }
  /* Overlap: sorted by begin, disjoint ranges never start before the previous end.
   * Empty tensors hold no bytes and cannot overlap anything. */
  for (i = 0; i < n; i++)
    if (ents[i].nbytes > 0)
      order[m++] = &ents[i];
  qsort((void *)order, m, sizeof *order, cmp_by_begin);
  for (i = 1; i < m; i++)
    if (order[i]->begin < order[i - 1]->end)
      return rnnc_io_fail(err, errlen, path, "tensors '%s' and '%s' overlap in the data area",
                          order[i - 1]->shown, order[i]->shown);
  for (i = 0; i < n; i++)
    order[i] = &ents[i];
  qsort((void *)order, n, sizeof *order, cmp_by_name);
  for (i = 1; i < n; i++)
    if (cmp_by_name(&order[i - 1], &order[i]) == 0)
      return rnnc_io_fail(err, errlen, path, "tensor '%s' appears twice in the header",
                          order[i]->shown);
  return 0;
}

/* ---------------------------------------------------------------- read */

/* The caller's side of a read: a real dtype and well-formed requests. */
static int check_request(const char *path, rnnc_dtype dtype, const rnnc_tensor_dest *tensors,
                         int count, char *err, size_t errlen) {
  int t;
  if (real_size(dtype) == 0)
    return rnnc_io_fail(err, errlen, path, "unsupported destination dtype %d", (int)dtype);
  if (count < 0 || (count > 0 && tensors == NULL))
    return rnnc_io_fail(err, errlen, path, "invalid tensor list (count %d)", count);
  for (t = 0; t < count; t++) {
    const rnnc_tensor_dest *d = &tensors[t];
    size_t elems;
    if (d->name == NULL)
      return rnnc_io_fail(err, errlen, path, "requested tensor %d has no name", t);
    if (d->rank < 0 || d->rank > RNNC_MAX_RANK)
      return rnnc_io_fail(err, errlen, path, "tensor '%s': requested rank %d is out of range",
                          d->name, d->rank);
    if (rnnc_io_count_elements(d->rank, d->shape, &elems) != 0)
      return rnnc_io_fail(err, errlen, path, "tensor '%s': requested shape is invalid", d->name);
    if (elems > 0 && d->data == NULL)
      return rnnc_io_fail(err, errlen, path, "tensor '%s': no destination buffer", d->name);
  }
  return 0;
}

/* Parses and validates a whole file held in buf[0..len) (the bytes are only
 * read, never past len), then copies the requested tensors. */
static int read_buffer(const unsigned char *buf, size_t len, const char *path, rnnc_dtype dtype,
                       const rnnc_tensor_dest *tensors, int count, char *err, size_t errlen) {
  size_t nents = 0;
  uint64_t hlen;
  rnnc_json p;
  st_entry *ents = NULL;
  const st_entry **order = NULL, **found = NULL;
  const unsigned char *data;
  char have[256], want[256];
  int rc = -1, t;

  memset(&p, 0, sizeof p);
  if (len < 8)
    return rnnc_io_fail(err, errlen, path, "file is too short for a safetensors header (%zu bytes)",
                        len);
  hlen = rnnc_io_load_le(buf, 8);
  if (hlen > ST_MAX_HEADER)
    return rnnc_io_fail(err, errlen, path,
                        "header length %llu is beyond the 100 MB limit (corrupt file?)",
                        (unsigned long long)hlen);
  if (hlen > len - 8)
    return rnnc_io_fail(err, errlen, path,
                        "header length %llu is larger than the rest of the file (%zu bytes)",
                        (unsigned long long)hlen, len - 8);

  p.s = buf + 8;
  p.n = (size_t)hlen;
  p.path = path;
  p.err = err;
  p.errlen = errlen;
  p.arena = malloc(p.n + 1);
  if (p.arena == NULL) {
    rnnc_io_fail(err, errlen, path, "out of memory");
    goto out;
  }
  if (parse_header(&p, &ents, &nents) != 0)
    goto out;
  order = malloc((nents + 1) * sizeof *order);
  found = malloc(((size_t)count + 1) * sizeof *found);
  if (order == NULL || found == NULL) {
    rnnc_io_fail(err, errlen, path, "out of memory");
    goto out;
  }
  data = buf + 8 + p.n;
  if (check_entries(path, ents, nents, len - 8 - p.n, order, err, errlen) != 0)
    goto out;

  /* Match every request before writing to any destination. */
  for (t = 0; t < count; t++) {
    const rnnc_tensor_dest *d = &tensors[t];
    st_entry key;
    const st_entry *kp = &key, **hit;
    uint64_t wshape[RNNC_MAX_RANK] = {0};
    int k, same;
    key.name = d->name;
    key.name_len = strlen(d->name);
    hit = bsearch(&kp, (const void *)order, nents, sizeof *order, cmp_by_name);
    if (hit == NULL) {
      rnnc_io_fail(err, errlen, path, "tensor '%s' is not in the file", d->name);
      goto out;
    }
    found[t] = *hit;
    if (found[t]->dtype != ST_F32 && found[t]->dtype != ST_F64) {
      rnnc_io_fail(err, errlen, path, "tensor '%s' has dtype %s; only F32 and F64 can be loaded",
                   d->name, st_dtypes[found[t]->dtype].name);
      goto out;
    }
    shape_to_u64(wshape, d->rank, d->shape);
    same = found[t]->rank == d->rank;
    for (k = 0; same && k < d->rank; k++)
      same = found[t]->shape[k] == wshape[k];
    if (!same) {
      format_shape(have, sizeof have, found[t]->shape, found[t]->rank);
      format_shape(want, sizeof want, wshape, d->rank);
      rnnc_io_fail(err, errlen, path, "tensor '%s' has shape %s, the model expects %s", d->name,
                   have, want);
      goto out;
    }
  }

  for (t = 0; t < count; t++) {
    const st_entry *e = found[t];
    const unsigned char *src = data + e->begin;
    size_t esz = st_dtypes[e->dtype].size, nel = (size_t)(e->nbytes / esz), i;
    float *f32 = dtype == RNNC_F32 ? (float *)tensors[t].data : NULL;
    double *f64 = dtype == RNNC_F64 ? (double *)tensors[t].data : NULL;
    /* Bits go straight to the destination when the dtypes agree (NaN payloads survive). */
    for (i = 0; i < nel; i++) {
      uint64_t bits = rnnc_io_load_le(src + i * esz, esz);
      if (esz == 4) {
        uint32_t b32 = (uint32_t)bits;
        float v;
        memcpy(&v, &b32, 4);
        if (f32 != NULL)
          f32[i] = v;
        else
          f64[i] = v;
      } else {
        double v;
        memcpy(&v, &bits, 8);
        if (f32 != NULL)
          f32[i] = (float)v;
        else
          f64[i] = v;
      }
    }
  }
  rc = 0;
out:
  free(found);
  free((void *)order);
  free(ents);
  free(p.arena);
  return rc;
}

int rnnc_safetensors_read(const char *path, rnnc_dtype dtype, const rnnc_tensor_dest *tensors,
                          int count, char *err, size_t errlen) {
  unsigned char *buf = NULL;
  size_t len = 0;
  int rc;
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (path == NULL)
    return rnnc_io_fail(err, errlen, path, "no path given");
  if (check_request(path, dtype, tensors, count, err, errlen) != 0)
    return -1;
  if (rnnc_io_read_file(path, &buf, &len, err, errlen) != 0)
    return -1;
  rc = read_buffer(buf, len, path, dtype, tensors, count, err, errlen);
  free(buf);
  return rc;
}

int rnnc_safetensors_read_memory(const void *data, size_t len, const char *name, rnnc_dtype dtype,
                                 const rnnc_tensor_dest *tensors, int count, char *err,
                                 size_t errlen) {
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (name == NULL)
    name = "(memory)";
  if (data == NULL && len > 0)
    return rnnc_io_fail(err, errlen, name, "no data given");
  if (check_request(name, dtype, tensors, count, err, errlen) != 0)
    return -1;
  return read_buffer(data != NULL ? (const unsigned char *)data : (const unsigned char *)"", len,
                     name, dtype, tensors, count, err, errlen);
}

/* ---------------------------------------------------------------- write */

typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->cap - b->len < n + 1) {
    size_t cap = b->cap ? b->cap : 256;
    char *bigger;
    while (cap - b->len < n + 1) {
      if (cap > SIZE_MAX / 2) {
        b->oom = 1;
        return;
      }
      cap *= 2;
    }
    bigger = realloc(b->p, cap);
    if (bigger == NULL) {
      b->oom = 1;
      return;
    }
    b->p = bigger;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) {
  sb_add(b, s, strlen(s));
}

static void sb_u64(sbuf *b, uint64_t v) {
  char t[32];
  snprintf(t, sizeof t, "%llu", (unsigned long long)v);
  sb_str(b, t);
}

static void sb_json_string(sbuf *b, const char *s) {
  sb_add(b, "\"", 1);
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char esc[2];
      esc[0] = '\\';
      esc[1] = (char)c;
      sb_add(b, esc, 2);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      sb_str(b, esc);
    } else {
      sb_add(b, (const char *)&c, 1);
    }
  }
  sb_add(b, "\"", 1);
}

/* Reals of `dtype` as little-endian bytes, through a small staging buffer. */
static int write_reals(FILE *f, rnnc_dtype dtype, const void *data, size_t n) {
  unsigned char chunk[4096];
  size_t es = real_size(dtype), per = sizeof chunk / es, i = 0;
  while (i < n) {
    size_t m = n - i < per ? n - i : per, j;
    for (j = 0; j < m; j++)
      real_to_le(chunk + j * es, dtype, data, i + j);
    if (fwrite(chunk, es, m, f) != m)
      return -1;
    i += m;
  }
  return 0;
}

int rnnc_safetensors_write(const char *path, rnnc_dtype dtype, const rnnc_tensor_ref *tensors,
                           int count, char *err, size_t errlen) {
  size_t dsize = real_size(dtype), *elems = NULL;
  uint64_t offset = 0, shape[RNNC_MAX_RANK];
  unsigned char lenbytes[8];
  sbuf h = {NULL, 0, 0, 0};
  char *tmp = NULL;
  FILE *f = NULL;
  int rc = -1, t, u;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (path == NULL)
    return rnnc_io_fail(err, errlen, path, "no path given");
  if (dsize == 0)
    return rnnc_io_fail(err, errlen, path, "unsupported dtype %d", (int)dtype);
  if (count < 0 || (count > 0 && tensors == NULL))
    return rnnc_io_fail(err, errlen, path, "invalid tensor list (count %d)", count);
  elems = malloc(((size_t)count + 1) * sizeof *elems);
  if (elems == NULL)
    return rnnc_io_fail(err, errlen, path, "out of memory");

  sb_str(&h, "{\"__metadata__\":{\"format\":\"rnnc\"}");
  for (t = 0; t < count; t++) {
    const rnnc_tensor_ref *r = &tensors[t];
    uint64_t nbytes;
    int k;
    if (r->name == NULL) {
      rnnc_io_fail(err, errlen, path, "tensor %d has no name", t);
      goto out;
    }
    if (!valid_utf8(r->name) || strcmp(r->name, "__metadata__") == 0) {
      rnnc_io_fail(err, errlen, path, "tensor '%s': the name is reserved or not valid UTF-8",
                   r->name);
      goto out;
    }
    for (u = 0; u < t; u++) /* quadratic, but models have few tensors */
      if (strcmp(tensors[u].name, r->name) == 0) {
        rnnc_io_fail(err, errlen, path, "tensor '%s' is given twice", r->name);
        goto out;
      }
    if (r->rank < 0 || r->rank > RNNC_MAX_RANK ||
        rnnc_io_count_elements(r->rank, r->shape, &elems[t]) != 0 ||
        elems[t] > UINT64_MAX / dsize) {
      rnnc_io_fail(err, errlen, path, "tensor '%s' has an invalid shape", r->name);
      goto out;
    }
    if (elems[t] > 0 && r->data == NULL) {
      rnnc_io_fail(err, errlen, path, "tensor '%s' has no data", r->name);
      goto out;
    }
    nbytes = (uint64_t)elems[t] * dsize;
    if (offset > UINT64_MAX - nbytes) {
      rnnc_io_fail(err, errlen, path, "tensor '%s': the data is too large", r->name);
      goto out;
    }
    sb_str(&h, ",");
    sb_json_string(&h, r->name);
    sb_str(&h, dtype == RNNC_F32 ? ":{\"dtype\":\"F32\",\"shape\":["
                                 : ":{\"dtype\":\"F64\",\"shape\":[");
    shape_to_u64(shape, r->rank, r->shape);
    for (k = 0; k < r->rank; k++) {
      if (k > 0)
        sb_str(&h, ",");
      sb_u64(&h, shape[k]);
    }
    sb_str(&h, "],\"data_offsets\":[");
    sb_u64(&h, offset);
    sb_str(&h, ",");
    sb_u64(&h, offset + nbytes);
    sb_str(&h, "]}");
    offset += nbytes;
  }
  sb_str(&h, "}");
  while (!h.oom && h.len % 8 != 0) /* data starts 8-byte aligned */
    sb_str(&h, " ");
  if (h.oom) {
    rnnc_io_fail(err, errlen, path, "out of memory building the header");
    goto out;
  }
  rnnc_io_store_le(lenbytes, h.len, 8);

  tmp = rnnc_io_temp_path(path);
  if (tmp == NULL) {
    rnnc_io_fail(err, errlen, path, "out of memory");
    goto out;
  }
  f = fopen(tmp, "wb");
  if (f == NULL) {
    rnnc_io_fail(err, errlen, path, "cannot create '%s': %s", tmp, strerror(errno));
    goto out;
  }
  if (fwrite(lenbytes, 1, 8, f) != 8 || fwrite(h.p, 1, h.len, f) != h.len)
    goto write_error;
  for (t = 0; t < count; t++)
    if (write_reals(f, dtype, tensors[t].data, elems[t]) != 0)
      goto write_error;
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
  f = NULL;
  remove(tmp);
out:
  free(tmp);
  free(h.p);
  free(elems);
  return rc;
}
