/* Tests of the file formats: safetensors (rnnc_safetensors_*, rnnc_weights_*)
 * and .npy (rnnc_npy_*). Files go to a fresh mkdtemp directory under /tmp that
 * the group teardown removes. Malformed files are written byte by byte so that
 * every validation path is exercised. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, opendir */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnc.h"

static char tmpdir[64];

#define assert_contains(hay, needle)                                                               \
  do {                                                                                             \
    if (strstr((hay), (needle)) == NULL) {                                                         \
      print_error("\"%s\" does not contain \"%s\"\n", (hay), (needle));                            \
      fail();                                                                                      \
    }                                                                                              \
  } while (0)

/* ---------------------------------------------------------------- helpers */

static int group_setup(void **state) {
  (void)state;
  strcpy(tmpdir, "/tmp/rnnc_test_io_XXXXXX");
  return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int group_teardown(void **state) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  (void)state;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    char p[512];
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    remove(p);
  }
  closedir(d);
  return rmdir(tmpdir);
}

static void tpath(char *out, const char *name) {
  snprintf(out, 512, "%s/%s", tmpdir, name);
}

/* Files in the temporary directory whose name contains `needle`. */
static int count_files(const char *needle) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, needle) != NULL)
      n++;
  closedir(d);
  return n;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  long n;
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

static void spit(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (len > 0)
    assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void put_le(unsigned char *p, uint64_t v, int n) {
  int k;
  for (k = 0; k < n; k++, v >>= 8)
    p[k] = (unsigned char)(v & 0xff);
}

/* A safetensors file with a hand-written header (not padded) and data area. */
static void write_st_raw(const char *path, const char *header, const void *data, size_t datalen) {
  size_t hl = strlen(header);
  unsigned char *buf = malloc(8 + hl + datalen + 1);
  assert_non_null(buf);
  put_le(buf, hl, 8);
  memcpy(buf + 8, header, hl);
  if (datalen > 0)
    memcpy(buf + 8 + hl, data, datalen);
  spit(path, buf, 8 + hl + datalen);
  free(buf);
}

/* Reads one tensor; returns the function's result. */
static int read_one(const char *path, rnnc_dtype dtype, const char *name, int rank, int d0, int d1,
                    void *data, char *err) {
  rnnc_tensor_dest d;
  memset(&d, 0, sizeof d);
  d.name = name;
  d.rank = rank;
  d.shape[0] = d0;
  d.shape[1] = d1;
  d.data = data;
  return rnnc_safetensors_read(path, dtype, &d, 1, err, 512);
}

/* Expects reading a raw-header file to fail with a message holding `needle`. */
static void expect_st_fail(const char *header, const void *data, size_t datalen,
                           const char *needle) {
  char path[512], err[512];
  float buf[64];
  tpath(path, "bad.safetensors");
  write_st_raw(path, header, data, datalen);
  err[0] = '\0';
  if (read_one(path, RNNC_F32, "a", 1, 1, 0, buf, err) != -1) {
    print_error("header accepted: %s\n", header);
    fail();
  }
  assert_contains(err, path);
  assert_contains(err, needle);
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static double bits_f64(uint64_t u) {
  double d;
  memcpy(&d, &u, 8);
  return d;
}

/* ---------------------------------------------------------------- safetensors */

static void test_st_roundtrip_f32(void **state) {
  char path[512], err[512];
  float kernel[12], bias[4], scalar = 3.5f, k2[12], b2[4], s2 = 0.0f;
  const uint32_t special[] = {0x7fc01234u, 0x80000000u, 0x00000001u, 0x7f800000u,
                              0xff800000u, 0x7f7fffffu, 0x7fa00001u /* signalling NaN */};
  rnnc_tensor_ref refs[4];
  rnnc_tensor_dest dests[4];
  unsigned char *file;
  size_t len, i;
  uint64_t hl;
  (void)state;
  for (i = 0; i < 12; i++)
    kernel[i] = i < 7 ? bits_f32(special[i]) : (float)i / 7.0f;
  for (i = 0; i < 4; i++)
    bias[i] = -(float)i * 0.1f;
  memset(refs, 0, sizeof refs);
  refs[0].name = "dense/kernel";
  refs[0].rank = 2;
  refs[0].shape[0] = 3;
  refs[0].shape[1] = 4;
  refs[0].data = kernel;
  refs[1].name = "dense/bias";
  refs[1].rank = 1;
  refs[1].shape[0] = 4;
  refs[1].data = bias;
  refs[2].name = "scalar";
  refs[2].rank = 0;
  refs[2].data = &scalar;
  refs[3].name = "empty";
  refs[3].rank = 2;
  refs[3].shape[0] = 0;
  refs[3].shape[1] = 3;
  refs[3].data = NULL;
  tpath(path, "rt32.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, refs, 4, err, sizeof err), 0);
  assert_int_equal(count_files(".tmp."), 0);

  /* Layout: padded header, tensors in the given order, metadata. */
  file = slurp(path, &len);
  hl = 0;
  for (i = 0; i < 8; i++)
    hl |= (uint64_t)file[i] << (8 * i);
  assert_int_equal(hl % 8, 0);
  assert_int_equal(len, 8 + hl + 12 * 4 + 4 * 4 + 4);
  file[8 + hl] = '\0';
  assert_contains((char *)file + 8, "\"__metadata__\":{\"format\":\"rnnc\"}");
  assert_contains((char *)file + 8,
                  "\"dense/kernel\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}");
  assert_contains((char *)file + 8,
                  "\"dense/bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]}");
  assert_contains((char *)file + 8, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],");
  assert_contains((char *)file + 8, "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],");
  assert_true(strstr((char *)file + 8, "dense/kernel") < strstr((char *)file + 8, "dense/bias"));
  free(file);

  /* Read back in another order: bit-identical, NaN payloads included. */
  memset(dests, 0, sizeof dests);
  dests[0].name = "dense/bias";
  dests[0].rank = 1;
  dests[0].shape[0] = 4;
  dests[0].data = b2;
  dests[1].name = "scalar";
  dests[1].rank = 0;
  dests[1].data = &s2;
  dests[2].name = "dense/kernel";
  dests[2].rank = 2;
  dests[2].shape[0] = 3;
  dests[2].shape[1] = 4;
  dests[2].data = k2;
  dests[3].name = "empty";
  dests[3].rank = 2;
  dests[3].shape[0] = 0;
  dests[3].shape[1] = 3;
  assert_int_equal(rnnc_safetensors_read(path, RNNC_F32, dests, 4, err, sizeof err), 0);
  assert_memory_equal(k2, kernel, sizeof kernel);
  assert_memory_equal(b2, bias, sizeof bias);
  assert_memory_equal(&s2, &scalar, sizeof scalar);
  assert_int_equal(f32_bits(k2[0]), 0x7fc01234u);
}

static void test_st_roundtrip_f64(void **state) {
  char path[512], err[512];
  double w[6], w2[6], v[5], v2[5];
  const uint64_t special[] = {0x7ff8000000001234u, 0x8000000000000000u, 1u, 0x7ff0000000000000u};
  rnnc_tensor_ref refs[2];
  rnnc_tensor_dest dests[2];
  size_t i;
  (void)state;
  for (i = 0; i < 6; i++)
    w[i] = i < 4 ? bits_f64(special[i]) : 1.0 / 3.0 * (double)i;
  for (i = 0; i < 5; i++)
    v[i] = 1e300 * (double)i - 0.1;
  memset(refs, 0, sizeof refs);
  refs[0].name = "lstm/recurrent_kernel";
  refs[0].rank = 2;
  refs[0].shape[0] = 2;
  refs[0].shape[1] = 3;
  refs[0].data = w;
  refs[1].name = "v";
  refs[1].rank = 1;
  refs[1].shape[0] = 5;
  refs[1].data = v;
  tpath(path, "rt64.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F64, refs, 2, err, sizeof err), 0);
  memset(dests, 0, sizeof dests);
  dests[0].name = "v";
  dests[0].rank = 1;
  dests[0].shape[0] = 5;
  dests[0].data = v2;
  dests[1].name = "lstm/recurrent_kernel";
  dests[1].rank = 2;
  dests[1].shape[0] = 2;
  dests[1].shape[1] = 3;
  dests[1].data = w2;
  assert_int_equal(rnnc_safetensors_read(path, RNNC_F64, dests, 2, err, sizeof err), 0);
  assert_memory_equal(w2, w, sizeof w);
  assert_memory_equal(v2, v, sizeof v);

  /* Overwriting an existing file works and leaves no temporary behind. */
  v[0] = 42.0;
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F64, refs, 2, err, sizeof err), 0);
  assert_int_equal(rnnc_safetensors_read(path, RNNC_F64, dests, 2, err, sizeof err), 0);
  assert_true(v2[0] == 42.0);
  assert_int_equal(count_files(".tmp."), 0);
}

static void test_st_convert(void **state) {
  char path[512], err[512];
  const double d[4] = {0.1, -1.0 / 3.0, 1e-40, 123456789.123};
  const float f[4] = {0.1f, -2.5f, 1e-40f, 16777217.0f};
  float f2[4];
  double d2[4];
  rnnc_tensor_ref r;
  int i;
  (void)state;
  memset(&r, 0, sizeof r);
  r.name = "t";
  r.rank = 1;
  r.shape[0] = 4;
  r.data = d;
  tpath(path, "conv64.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F64, &r, 1, err, sizeof err), 0);
  assert_int_equal(read_one(path, RNNC_F32, "t", 1, 4, 0, f2, err), 0);
  for (i = 0; i < 4; i++)
    assert_true(f32_bits(f2[i]) == f32_bits((float)d[i]));

  r.data = f;
  tpath(path, "conv32.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, &r, 1, err, sizeof err), 0);
  assert_int_equal(read_one(path, RNNC_F64, "t", 1, 4, 0, d2, err), 0);
  for (i = 0; i < 4; i++)
    assert_true(d2[i] == (double)f[i]);
}

static void test_st_names_and_extras(void **state) {
  char path[512], err[512];
  /* Escaped names, extra tensors of other dtypes, unknown fields and metadata. */
  const char *hdr = "{\"__metadata__\":{\"format\":\"pt\",\"n\":\"x\"},"
                    "\"ints\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                    "\"a\\/b\\u00e9\\ud83d\\ude00\":{\"shape\":[2],\"dtype\":\"F32\","
                    "\"extra\":[1,{\"z\":null}],\"data_offsets\":[16,24]},"
                    "\"half\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]}}   ";
  unsigned char data[28];
  float out[2];
  const char *weird = "we\"ird\\name\n\x01";
  rnnc_tensor_ref r;
  float w[1] = {7.0f}, w2[1] = {0.0f};
  (void)state;
  memset(data, 0, sizeof data);
  put_le(data + 16, f32_bits(1.5f), 4);
  put_le(data + 20, f32_bits(-2.0f), 4);
  tpath(path, "extras.safetensors");
  write_st_raw(path, hdr, data, sizeof data);
  assert_int_equal(read_one(path, RNNC_F32, "a/b\xc3\xa9\xf0\x9f\x98\x80", 1, 2, 0, out, err), 0);
  assert_true(out[0] == 1.5f && out[1] == -2.0f);

  /* The writer escapes quotes, backslashes and control characters. */
  memset(&r, 0, sizeof r);
  r.name = weird;
  r.rank = 1;
  r.shape[0] = 1;
  r.data = w;
  tpath(path, "weird.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, &r, 1, err, sizeof err), 0);
  assert_int_equal(read_one(path, RNNC_F32, weird, 1, 1, 0, w2, err), 0);
  assert_true(w2[0] == 7.0f);
}

static const rnnc_tensor_desc model_tensors[3] = {
    {"simple_rnn/kernel",
     2,
     {2, 3, 0, 0},
     0,
     6,
     RNNC_INIT_GLOROT_UNIFORM,
     0,
     {0, 0, 0, 0, 0, 0, 0}},
    {"simple_rnn/recurrent_kernel",
     2,
     {3, 3, 0, 0},
     6,
     9,
     RNNC_INIT_ORTHOGONAL,
     0,
     {0, 0, 0, 0, 0, 0, 0}},
    {"simple_rnn/bias", 1, {3, 0, 0, 0}, 15, 3, RNNC_INIT_ZEROS, 0, {0, 0, 0, 0, 0, 0, 0}}};

static rnnc_model small_model(rnnc_dtype dtype) {
  rnnc_model m;
  memset(&m, 0, sizeof m);
  m.name = "small";
  m.dtype = dtype;
  m.n_params = 18;
  m.n_tensors = 3;
  m.tensors = model_tensors;
  return m;
}

static void test_weights_roundtrip(void **state) {
  char path[512], err[512];
  rnnc_model m32 = small_model(RNNC_F32), m64 = small_model(RNNC_F64);
  float p32[18], q32[18];
  double p64[18], q64[18];
  rnnc_tensor_desc bad[3];
  int i;
  (void)state;
  for (i = 0; i < 18; i++) {
    p32[i] = (float)i * 0.25f - 1.0f;
    p64[i] = (double)i / 7.0;
  }
  tpath(path, "w32.safetensors");
  assert_int_equal(rnnc_weights_save(path, &m32, p32, err, sizeof err), 0);
  memset(q32, 0, sizeof q32);
  assert_int_equal(rnnc_weights_load(path, &m32, q32, err, sizeof err), 0);
  assert_memory_equal(q32, p32, sizeof p32);

  /* An f32 file loads into an f64 model. */
  memset(q64, 0, sizeof q64);
  assert_int_equal(rnnc_weights_load(path, &m64, q64, err, sizeof err), 0);
  for (i = 0; i < 18; i++)
    assert_true(q64[i] == (double)p32[i]);

  tpath(path, "w64.safetensors");
  assert_int_equal(rnnc_weights_save(path, &m64, p64, err, sizeof err), 0);
  memset(q64, 0, sizeof q64);
  assert_int_equal(rnnc_weights_load(path, &m64, q64, err, sizeof err), 0);
  assert_memory_equal(q64, p64, sizeof p64);

  /* A model whose bias has another shape: error names it, params untouched. */
  memcpy(bad, model_tensors, sizeof bad);
  bad[2].shape[0] = 2;
  bad[2].size = 2;
  m64.tensors = bad;
  for (i = 0; i < 18; i++)
    q64[i] = -7.0;
  assert_int_equal(rnnc_weights_load(path, &m64, q64, err, sizeof err), -1);
  assert_contains(err, path);
  assert_contains(err, "tensor 'simple_rnn/bias' has shape [3], the model expects [2]");
  for (i = 0; i < 18; i++)
    assert_true(q64[i] == -7.0);

  /* A descriptor reaching past n_params is refused before any file access. */
  memcpy(bad, model_tensors, sizeof bad);
  bad[2].offset = 16;
  assert_int_equal(rnnc_weights_save(path, &m64, p64, err, sizeof err), -1);
  assert_contains(err, "simple_rnn/bias");
  assert_int_equal(rnnc_weights_load(path, &m64, q64, err, sizeof err), -1);
  assert_contains(err, "simple_rnn/bias");
}

/* A valid two-tensor file for the corruption tests. */
static unsigned char *valid_st_file(size_t *len) {
  char path[512], err[512];
  float a[3] = {1, 2, 3}, b[4] = {4, 5, 6, 7};
  rnnc_tensor_ref r[2];
  memset(r, 0, sizeof r);
  r[0].name = "a";
  r[0].rank = 1;
  r[0].shape[0] = 3;
  r[0].data = a;
  r[1].name = "b";
  r[1].rank = 2;
  r[1].shape[0] = 2;
  r[1].shape[1] = 2;
  r[1].data = b;
  tpath(path, "valid.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, r, 2, err, sizeof err), 0);
  return slurp(path, len);
}

static int read_ab(const char *path, char *err) {
  float a[3], b[4];
  rnnc_tensor_dest d[2];
  memset(d, 0, sizeof d);
  d[0].name = "a";
  d[0].rank = 1;
  d[0].shape[0] = 3;
  d[0].data = a;
  d[1].name = "b";
  d[1].rank = 2;
  d[1].shape[0] = 2;
  d[1].shape[1] = 2;
  d[1].data = b;
  return rnnc_safetensors_read(path, RNNC_F32, d, 2, err, 512);
}

static void test_st_truncated(void **state) {
  char path[512], err[512];
  size_t len, n;
  unsigned char *file = valid_st_file(&len);
  (void)state;
  tpath(path, "trunc.safetensors");
  spit(path, file, len);
  assert_int_equal(read_ab(path, err), 0);
  for (n = 0; n < len; n++) {
    spit(path, file, n);
    err[0] = '\0';
    assert_int_equal(read_ab(path, err), -1);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    if (n < 8)
      assert_contains(err, "too short");
  }
  free(file);
}

static void test_st_header_length_lies(void **state) {
  char path[512], err[512];
  size_t len;
  unsigned char *file = valid_st_file(&len);
  uint64_t hl = 0;
  int i;
  (void)state;
  for (i = 0; i < 8; i++)
    hl |= (uint64_t)file[i] << (8 * i);
  tpath(path, "lies.safetensors");

  put_le(file, len - 8 + 1, 8);
  spit(path, file, len);
  assert_int_equal(read_ab(path, err), -1);
  assert_contains(err, "larger than the rest of the file");

  put_le(file, (uint64_t)1 << 40, 8);
  spit(path, file, len);
  assert_int_equal(read_ab(path, err), -1);
  assert_contains(err, "100 MB");

  put_le(file, UINT64_MAX, 8);
  spit(path, file, len);
  assert_int_equal(read_ab(path, err), -1);
  assert_contains(err, "100 MB");

  /* Shorter than the real header: the JSON ends early, or the data area shifts. */
  put_le(file, 0, 8);
  spit(path, file, len);
  assert_int_equal(read_ab(path, err), -1);
  assert_contains(err, "not valid JSON");
  put_le(file, hl - 8, 8);
  spit(path, file, len);
  assert_int_equal(read_ab(path, err), -1);
  free(file);
}

static void test_st_bad_json(void **state) {
  static const char *const bad[] = {
      "",
      " ",
      "{",
      "[]",
      "null",
      "{\"a\":}",
      "{\"a\" {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[00,4]}}",
      "{\"a\":{\"dtype\":\"F32\" \"shape\":[1],\"data_offsets\":[0,4]}}",
      "{'a':{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
      "{\"a",
      "{\"a\\",
      "{\"a\\q\":1}",
      "{\"a\\u12\":1}",
      "{\"\\ud800\":1}",
      "{\"\\udc00x\":1}",
      "{\"a\nb\":1}",
      "{\"\xff\":1}",
      "{\"\xc0\xaf\":1}",
      "{\"__metadata__\":{\"x\":tru}}",
      "{\"__metadata__\":{\"x\":1.}}",
      "{\"__metadata__\":{\"x\":-}}",
      "{\"__metadata__\":{\"x\":1e}}",
      "{\"__metadata__\":{\"x\":[1 2]}}",
      "{\"__metadata__\":{\"x\" 1}}",
      "{\"__metadata__\":{1:2}}",
  };
  char deep[2200];
  unsigned char data[4] = {0};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_st_fail(bad[i], data, sizeof data, "not valid JSON");
  /* Nesting beyond the limit stops the parser (no stack exhaustion). */
  strcpy(deep, "{\"__metadata__\":{\"x\":");
  for (i = 0; i < 1000; i++)
    strcat(deep, "[");
  expect_st_fail(deep, data, sizeof data, "nesting too deep");
}

static void test_st_wrong_dtype(void **state) {
  char path[512], err[512];
  unsigned char data[8] = {0};
  float out[4];
  (void)state;
  expect_st_fail("{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", data, 2,
                 "tensor 'a' has dtype F16; only F32 and F64 can be loaded");
  expect_st_fail("{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4,
                 "dtype I32");
  /* Unknown dtypes fail even on tensors that are not requested. */
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"q\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 data, 8, "tensor 'q' has unknown dtype 'Q7'");
  expect_st_fail("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4,
                 "tensor 'a': dtype is not a string");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[1],"
                 "\"data_offsets\":[0,4]}}",
                 data, 4, "dtype given twice");
  /* The destination dtype must be one of ours. */
  tpath(path, "dt.safetensors");
  write_st_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4);
  assert_int_equal(read_one(path, (rnnc_dtype)7, "a", 1, 1, 0, out, err), -1);
  assert_contains(err, "dtype");
}

static void test_st_shape_mismatch(void **state) {
  char path[512], err[512];
  float k[12], sentinel[12];
  unsigned char data[48] = {0};
  int i;
  (void)state;
  tpath(path, "weights.safetensors");
  write_st_raw(path,
               "{\"dense/kernel\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}}",
               data, sizeof data);
  for (i = 0; i < 12; i++)
    k[i] = sentinel[i] = 9.0f;
  assert_int_equal(read_one(path, RNNC_F32, "dense/kernel", 2, 3, 3, k, err), -1);
  {
    char want[600];
    snprintf(want, sizeof want,
             "%s: tensor 'dense/kernel' has shape [3, 4], the model expects [3, 3]", path);
    assert_string_equal(err, want);
  }
  assert_memory_equal(k, sentinel, sizeof k);
  assert_int_equal(read_one(path, RNNC_F32, "dense/kernel", 1, 12, 0, k, err), -1);
  assert_contains(err, "'dense/kernel' has shape [3, 4], the model expects [12]");
  assert_int_equal(read_one(path, RNNC_F32, "dense/kernel", 0, 0, 0, k, err), -1);
  assert_contains(err, "the model expects []");
  assert_int_equal(read_one(path, RNNC_F32, "dense/kernel", 2, 3, 4, k, err), 0);
}

static void test_st_missing_tensor(void **state) {
  char path[512], err[512];
  unsigned char data[12] = {0};
  float a[3] = {5, 5, 5}, b[1];
  rnnc_tensor_dest d[2];
  (void)state;
  tpath(path, "missing.safetensors");
  put_le(data, f32_bits(1.0f), 4);
  write_st_raw(path, "{\"dense/kernel\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
               data, sizeof data);
  memset(d, 0, sizeof d);
  d[0].name = "dense/kernel";
  d[0].rank = 1;
  d[0].shape[0] = 3;
  d[0].data = a;
  d[1].name = "dense/bias";
  d[1].rank = 1;
  d[1].shape[0] = 1;
  d[1].data = b;
  assert_int_equal(rnnc_safetensors_read(path, RNNC_F32, d, 2, err, sizeof err), -1);
  assert_contains(err, path);
  assert_contains(err, "'dense/bias'");
  assert_contains(err, "not in the file");
  /* Nothing was copied, not even the tensor that was found. */
  assert_true(a[0] == 5.0f);
  /* A prefix of a name is not the name. */
  assert_int_equal(read_one(path, RNNC_F32, "dense/kerne", 1, 3, 0, a, err), -1);
  assert_contains(err, "'dense/kerne'");
  /* Nonexistent file. */
  tpath(path, "does-not-exist.safetensors");
  assert_int_equal(read_one(path, RNNC_F32, "x", 1, 1, 0, a, err), -1);
  assert_contains(err, path);
  assert_contains(err, "cannot open");
}

static void test_st_offsets(void **state) {
  unsigned char data[32] = {0};
  (void)state;
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", data, 4,
                 "tensor 'a': data_offsets [0, 8] lie outside the data area (4 bytes)");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", data, 16,
                 "tensor 'a': data_offsets [8, 4] end before they begin");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", data, 16,
                 "tensor 'a': data_offsets [0, 4] span 4 bytes, but shape [2] of F32 needs 8");
  expect_st_fail("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 16,
                 "needs 8");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", data, 16,
                 "tensor 'a': data_offsets has more than 2 entries");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", data, 16,
                 "tensor 'a': data_offsets must be [begin, end]");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", data, 16,
                 "non-negative integers");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", data, 16,
                 "non-negative integers");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", data, 16,
                 "non-negative integers");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                 "\"data_offsets\":[18446744073709551616,18446744073709551620]}}",
                 data, 16, "too large");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                 "\"data_offsets\":[18446744073709551612,18446744073709551615]}}",
                 data, 16, "outside the data area");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", data, 16,
                 "tensor 'a' has no data_offsets");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data, 16,
                 "tensor 'a' has no shape");
  expect_st_fail("{\"a\":[]}", data, 16, "tensor 'a': entry is not an object");
  expect_st_fail("{\"__metadata__\":[]}", data, 16, "__metadata__ is not an object");
}

static void test_st_overlap(void **state) {
  unsigned char data[32] = {0};
  char path[512], err[512];
  float out[1];
  (void)state;
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                 data, 24, "tensors 'a' and 'b' overlap");
  /* Contained and identical ranges, listed in any order. */
  expect_st_fail("{\"big\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[28,32]}}",
                 data, 32, "overlap");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 data, 8, "overlap");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 data, 8, "tensor 'a' appears twice");
  /* Adjacent tensors and empty ones do not overlap. */
  tpath(path, "adjacent.safetensors");
  write_st_raw(path,
               "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
               "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               data, 8);
  assert_int_equal(read_one(path, RNNC_F32, "a", 1, 1, 0, out, err), 0);
}

static void test_st_shape_overflow(void **state) {
  unsigned char data[16] = {0};
  char path[512], err[512];
  float out[1];
  (void)state;
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                 "\"data_offsets\":[0,0]}}",
                 data, 16, "tensor 'a': shape [4294967296, 4294967296, 16] is too large");
  expect_st_fail("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],"
                 "\"data_offsets\":[0,0]}}",
                 data, 16, "too large");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],"
                 "\"data_offsets\":[0,0]}}",
                 data, 16, "too large");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                 "\"data_offsets\":[0,4]}}",
                 data, 16, "tensor 'a': shape has more than 8 entries");
  expect_st_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data, 16,
                 "non-negative integers");
  /* A zero dimension makes the product 0 whatever the others are. */
  tpath(path, "zero.safetensors");
  write_st_raw(path,
               "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,9223372036854775808,9223372036854775808],"
               "\"data_offsets\":[0,0]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               data, 4);
  assert_int_equal(read_one(path, RNNC_F32, "a", 1, 1, 0, out, err), 0);
}

/* Every header byte replaced by a few troublesome values: each result must be a
 * clean success or a clean failure (the sanitizers watch for the rest). */
static void test_st_corrupt_bytes(void **state) {
  static const unsigned char values[] = {0, ' ', '"', '\\', '{', '[', ']', '9', '-', 0x80, 0xff};
  char path[512], err[512];
  size_t len, pos, v;
  unsigned char *file = valid_st_file(&len);
  uint64_t hl = 0;
  int i;
  (void)state;
  for (i = 0; i < 8; i++)
    hl |= (uint64_t)file[i] << (8 * i);
  tpath(path, "corrupt.safetensors");
  for (pos = 8; pos < 8 + hl; pos++) {
    unsigned char keep = file[pos];
    for (v = 0; v < sizeof values; v++) {
      int rc;
      file[pos] = values[v];
      spit(path, file, len);
      err[0] = '\0';
      rc = read_ab(path, err);
      assert_true(rc == 0 || rc == -1);
      if (rc == -1)
        assert_true(strncmp(err, path, strlen(path)) == 0);
    }
    file[pos] = keep;
  }
  free(file);
}

static void test_st_write_errors(void **state) {
  char path[512], err[512];
  float x[2] = {1, 2};
  rnnc_tensor_ref r[2];
  (void)state;
  memset(r, 0, sizeof r);
  r[0].name = "x";
  r[0].rank = 1;
  r[0].shape[0] = 2;
  r[0].data = x;
  r[1] = r[0];
  tpath(path, "no-such-dir/w.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, r, 1, err, sizeof err), -1);
  assert_contains(err, path);
  tpath(path, "dup.safetensors");
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, r, 2, err, sizeof err), -1);
  assert_contains(err, "tensor 'x' is given twice");
  r[0].shape[0] = -2;
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, r, 1, err, sizeof err), -1);
  assert_contains(err, "tensor 'x' has an invalid shape");
  r[0].shape[0] = 2;
  assert_int_equal(rnnc_safetensors_write(path, (rnnc_dtype)0, r, 1, err, sizeof err), -1);
  assert_contains(err, "dtype");
  assert_int_equal(count_files("dup.safetensors"), 0);
  /* An empty file list is a valid file. */
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, NULL, 0, err, sizeof err), 0);
  assert_int_equal(rnnc_safetensors_read(path, RNNC_F32, NULL, 0, err, sizeof err), 0);
  /* A small error buffer truncates the message without overflowing. */
  r[0].shape[0] = -2;
  assert_int_equal(rnnc_safetensors_write(path, RNNC_F32, r, 1, err, 5), -1);
  assert_int_equal(strlen(err), 4);
}

/* ---------------------------------------------------------------- npy */

/* A .npy file from a header dict: version major.0, padded to 64 with '\n'. */
static unsigned char *make_npy(int major, const char *dict, const void *data, size_t datalen,
                               size_t *len) {
  size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
  unsigned char *buf;
  while ((pre + hl) % 64 != 0)
    hl++;
  buf = malloc(pre + hl + datalen + 1);
  assert_non_null(buf);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  put_le(buf + 8, hl, major == 1 ? 2 : 4);
  memset(buf + pre, ' ', hl);
  memcpy(buf + pre, dict, strlen(dict));
  buf[pre + hl - 1] = '\n';
  if (datalen > 0)
    memcpy(buf + pre + hl, data, datalen);
  *len = pre + hl + datalen;
  return buf;
}

static int load_npy_bytes(const unsigned char *bytes, size_t len, rnnc_array *a, char *err) {
  char path[512];
  tpath(path, "hand.npy");
  spit(path, bytes, len);
  return rnnc_npy_load(path, a, err, 512);
}

static void expect_npy_fail(int major, const char *dict, size_t datalen, const char *needle) {
  unsigned char data[64] = {0}, *bytes;
  size_t len;
  char err[512];
  rnnc_array a;
  bytes = make_npy(major, dict, data, datalen, &len);
  if (load_npy_bytes(bytes, len, &a, err) != -1) {
    print_error("npy header accepted: %s\n", dict);
    fail();
  }
  assert_contains(err, "hand.npy: ");
  assert_contains(err, needle);
  assert_null(a.data);
  free(bytes);
}

static void test_npy_roundtrip(void **state) {
  char path[512], err[512];
  double d[6] = {0.1, -2, 1e300, -0.0, 5e-324, 1.0 / 3.0};
  float f[5] = {1.5f, -0.25f, 3e38f, 1e-45f, 7};
  size_t shape2[2] = {2, 3}, shape1[1] = {5}, shape0[1] = {0}, i, len;
  unsigned char *file;
  rnnc_array a;
  (void)state;
  tpath(path, "rt.npy");
  assert_int_equal(rnnc_npy_save(path, RNNC_F64, 2, shape2, d, err, sizeof err), 0);
  file = slurp(path, &len);
  assert_memory_equal(file, "\x93NUMPY\x01\x00", 8);
  assert_int_equal((10 + file[8] + 256 * file[9]) % 64, 0);
  assert_int_equal(len, 10 + file[8] + 256 * file[9] + 6 * 8);
  assert_int_equal(file[10 + file[8] + 256 * file[9] - 1], '\n');
  file[10 + file[8] + 256 * file[9]] = '\0';
  assert_contains((char *)file + 10, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }");
  free(file);
  assert_int_equal(rnnc_npy_load(path, &a, err, sizeof err), 0);
  assert_int_equal(a.rank, 2);
  assert_int_equal(a.shape[0], 2);
  assert_int_equal(a.shape[1], 3);
  assert_int_equal(a.count, 6);
  assert_memory_equal(a.data, d, sizeof d);
  rnnc_array_free(&a);
  assert_null(a.data);
  assert_int_equal(count_files(".tmp."), 0);

  assert_int_equal(rnnc_npy_save(path, RNNC_F32, 1, shape1, f, err, sizeof err), 0);
  file = slurp(path, &len);
  assert_contains((char *)file + 10, "'descr': '<f4'");
  assert_contains((char *)file + 10, "'shape': (5,)");
  free(file);
  assert_int_equal(rnnc_npy_load(path, &a, err, sizeof err), 0);
  assert_int_equal(a.rank, 1);
  assert_int_equal(a.count, 5);
  for (i = 0; i < 5; i++)
    assert_true(a.data[i] == (double)f[i]);
  rnnc_array_free(&a);

  /* Scalar and empty arrays. */
  assert_int_equal(rnnc_npy_save(path, RNNC_F64, 0, NULL, d, err, sizeof err), 0);
  file = slurp(path, &len);
  assert_contains((char *)file + 10, "'shape': ()");
  free(file);
  assert_int_equal(rnnc_npy_load(path, &a, err, sizeof err), 0);
  assert_int_equal(a.rank, 0);
  assert_int_equal(a.count, 1);
  assert_true(a.data[0] == 0.1);
  rnnc_array_free(&a);
  assert_int_equal(rnnc_npy_save(path, RNNC_F32, 1, shape0, NULL, err, sizeof err), 0);
  assert_int_equal(rnnc_npy_load(path, &a, err, sizeof err), 0);
  assert_int_equal(a.rank, 1);
  assert_int_equal(a.count, 0);
  rnnc_array_free(&a);
  rnnc_array_free(NULL);
}

/* The float loader: float data bit for bit, doubles and integers rounded to
 * float, the shape, and the same refusals with the file's name. */
static void test_npy_load_f32(void **state) {
  char path[512], err[512];
  float f[6] = {1.5f, -0.25f, 3e38f, 1e-45f, 7, -0.0f};
  double d[3] = {0.1, 1.0 / 3.0, -1e10};
  size_t shape[2] = {2, 3}, shape1[1] = {3}, i;
  rnnc_array_f32 a;
  (void)state;
  tpath(path, "f32.npy");
  assert_int_equal(rnnc_npy_save(path, RNNC_F32, 2, shape, f, err, sizeof err), 0);
  assert_int_equal(rnnc_npy_load_f32(path, &a, err, sizeof err), 0);
  assert_int_equal(a.rank, 2);
  assert_int_equal(a.shape[0], 2);
  assert_int_equal(a.shape[1], 3);
  assert_int_equal(a.count, 6);
  assert_memory_equal(a.data, f, sizeof f);
  rnnc_array_f32_free(&a);
  assert_null(a.data);
  assert_int_equal(rnnc_npy_save(path, RNNC_F64, 1, shape1, d, err, sizeof err), 0);
  assert_int_equal(rnnc_npy_load_f32(path, &a, err, sizeof err), 0);
  for (i = 0; i < 3; i++)
    assert_true(a.data[i] == (float)d[i]);
  rnnc_array_f32_free(&a);
  /* integers (<i4 labels) too */
  {
    unsigned char ints[12] = {3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0}, *bytes;
    size_t len;
    bytes =
        make_npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", ints, 12, &len);
    assert_int_equal(rnnc_npy_load_memory_f32(bytes, len, "labels.npy", &a, err, sizeof err), 0);
    assert_true(a.data[0] == 3.0f && a.data[1] == -1.0f && a.data[2] == 256.0f);
    rnnc_array_f32_free(&a);
    /* truncated: refused by name, nothing allocated */
    assert_int_equal(rnnc_npy_load_memory_f32(bytes, len - 1, "labels.npy", &a, err, sizeof err),
                     -1);
    assert_contains(err, "labels.npy: truncated");
    assert_null(a.data);
    free(bytes);
  }
  assert_int_equal(rnnc_npy_load_f32("/nonexistent/x.npy", &a, err, sizeof err), -1);
  assert_contains(err, "/nonexistent/x.npy: cannot open");
  rnnc_array_f32_free(NULL);
}

static void test_npy_handmade(void **state) {
  unsigned char data[64], *bytes;
  const int64_t i8[4] = {-1, 0, 9007199254740992LL, INT64_MIN};
  const uint8_t u1[4] = {0, 1, 200, 255};
  size_t len;
  char err[512];
  rnnc_array a;
  int k;
  (void)state;
  for (k = 0; k < 4; k++)
    put_le(data + 8 * k, (uint64_t)i8[k], 8);
  bytes =
      make_npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", data, 32, &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_int_equal(a.rank, 2);
  assert_int_equal(a.count, 4);
  assert_true(a.data[0] == -1.0 && a.data[1] == 0.0);
  assert_true(a.data[2] == 9007199254740992.0 && a.data[3] == -9223372036854775808.0);
  rnnc_array_free(&a);

  bytes = make_npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", u1, 4, &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_int_equal(a.rank, 1);
  assert_int_equal(a.shape[0], 4);
  assert_true(a.data[0] == 0 && a.data[1] == 1 && a.data[2] == 200 && a.data[3] == 255);
  rnnc_array_free(&a);

  /* Keys in another order, double quotes, odd spacing, format 2.0. */
  put_le(data, (uint64_t)-3, 2);
  put_le(data + 2, 40000, 2);
  put_le(data + 4, 7, 2);
  bytes = make_npy(2, "{ \"shape\" :(3 ,) ,\"fortran_order\":False,\n \"descr\":\"<i2\"}", data, 6,
                   &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_true(a.data[0] == -3 && a.data[1] == 40000 - 65536 && a.data[2] == 7);
  rnnc_array_free(&a);

  /* Format 3.0, big-endian doubles, a Python 2 long in the shape. */
  data[0] = 0x3f;
  data[1] = 0xf8;
  memset(data + 2, 0, 6);
  bytes = make_npy(3, "{'descr': '>f8', 'fortran_order': False, 'shape': (1L,), }", data, 8, &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_true(a.data[0] == 1.5);
  rnnc_array_free(&a);

  /* Booleans, unsigned, int32, int8, a scalar. */
  data[0] = 0;
  data[1] = 1;
  data[2] = 1;
  bytes = make_npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", data, 3, &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_true(a.data[0] == 0 && a.data[1] == 1 && a.data[2] == 1);
  rnnc_array_free(&a);
  put_le(data, 4294967295u, 4);
  bytes = make_npy(1, "{'descr': '<u4', 'fortran_order': False, 'shape': (), }", data, 4, &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_int_equal(a.rank, 0);
  assert_true(a.data[0] == 4294967295.0);
  rnnc_array_free(&a);
  bytes = make_npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", data, 4, &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_true(a.data[0] == -1.0);
  rnnc_array_free(&a);
  data[0] = 0x80;
  bytes = make_npy(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (1,), }", data, 1, &len);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), 0);
  free(bytes);
  assert_true(a.data[0] == -128.0);
  rnnc_array_free(&a);
}

static void test_npy_rejects(void **state) {
  (void)state;
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32,
                  "fortran_order True is not supported");
  expect_npy_fail(1, "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", 16,
                  "unsupported dtype '<c16'");
  expect_npy_fail(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8,
                  "unsupported dtype '|O'");
  expect_npy_fail(1, "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", 12,
                  "unsupported dtype");
  expect_npy_fail(1, "{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }", 8,
                  "unsupported dtype");
  expect_npy_fail(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4,
                  "structured dtypes");
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", 8,
                  "unexpected key 'x'");
  expect_npy_fail(1, "{'descr': '<f8', 'shape': (1,), }", 8, "no 'fortran_order'");
  expect_npy_fail(1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", 8,
                  "given twice");
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }", 8,
                  "fortran_order must be True or False");
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", 8,
                  "non-negative");
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': False, 'shape': [1], }", 8,
                  "shape is not a tuple");
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9), }", 8,
                  "more than 8 dimensions");
  expect_npy_fail(1,
                  "{'descr': '<f8', 'fortran_order': False, "
                  "'shape': (4294967296, 4294967296, 4294967296), }",
                  8, "too large");
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
                  8, "too large");
  expect_npy_fail(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } x", 8,
                  "malformed header");
  expect_npy_fail(1, "{'descr: '<f8', 'fortran_order': False, 'shape': (1,), }", 8,
                  "malformed header");
  expect_npy_fail(1, "", 8, "malformed header");
}

static void test_npy_bad_files(void **state) {
  unsigned char data[24] = {0}, *bytes;
  size_t len;
  char err[512];
  rnnc_array a;
  (void)state;
  bytes = make_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", data, 24, &len);

  /* Truncated data and trailing bytes: both sizes are reported. */
  assert_int_equal(load_npy_bytes(bytes, len - 8, &a, err), -1);
  assert_contains(err, "truncated");
  assert_contains(err, "needs 24 bytes");
  assert_contains(err, "has 16");
  bytes[len] = 0;
  assert_int_equal(load_npy_bytes(bytes, len + 1, &a, err), -1);
  assert_contains(err, "trailing bytes");
  assert_contains(err, "has 25");

  /* Bad magic, unknown version, header length beyond the file. */
  bytes[1] = 'X';
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), -1);
  assert_contains(err, "bad magic");
  bytes[1] = 'N';
  bytes[6] = 4;
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), -1);
  assert_contains(err, "version 4.0");
  bytes[6] = 1;
  put_le(bytes + 8, 0xffff, 2);
  assert_int_equal(load_npy_bytes(bytes, len, &a, err), -1);
  assert_contains(err, "header length 65535 is larger than the rest of the file");
  free(bytes);

  assert_int_equal(load_npy_bytes((const unsigned char *)"PK\x03\x04", 4, &a, err), -1);
  assert_contains(err, "bad magic");
  assert_int_equal(rnnc_npy_load("/nonexistent/dir/x.npy", &a, err, sizeof err), -1);
  assert_contains(err, "/nonexistent/dir/x.npy: cannot open");
}

static void test_npy_prefixes(void **state) {
  char path[512], err[512];
  double d[3] = {1, 2, 3};
  size_t shape[2] = {3, 1}, len, n;
  unsigned char *file;
  rnnc_array a;
  (void)state;
  tpath(path, "full.npy");
  assert_int_equal(rnnc_npy_save(path, RNNC_F64, 2, shape, d, err, sizeof err), 0);
  file = slurp(path, &len);
  for (n = 0; n < len; n++) {
    err[0] = '\0';
    assert_int_equal(load_npy_bytes(file, n, &a, err), -1);
    assert_contains(err, "hand.npy: ");
    assert_null(a.data);
  }
  assert_int_equal(load_npy_bytes(file, len, &a, err), 0);
  rnnc_array_free(&a);
  free(file);
}

static void test_npy_save_errors(void **state) {
  char path[512], err[512];
  size_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  double d[1] = {0};
  (void)state;
  tpath(path, "bad.npy");
  assert_int_equal(rnnc_npy_save(path, RNNC_F64, 9, shape, d, err, sizeof err), -1);
  assert_contains(err, "rank 9");
  assert_int_equal(rnnc_npy_save(path, (rnnc_dtype)3, 1, shape, d, err, sizeof err), -1);
  assert_contains(err, "dtype");
  tpath(path, "missing-dir/x.npy");
  assert_int_equal(rnnc_npy_save(path, RNNC_F64, 1, shape, d, err, sizeof err), -1);
  assert_contains(err, path);
  assert_int_equal(count_files("bad.npy"), 0);
}

/* ---------------------------------------------------------------- hostile names, memory API */

/* Tensor names from a file reach messages escaped: a name may hold control
 * characters (raw, or as \u escapes) that would drive the terminal. */
static void test_st_hostile_names(void **state) {
  static const unsigned char del_name[] = /* found by fuzz_safetensors: DEL bytes in a name */
      "{\"a\xf0\xb5\x98\x80\x7f\x7f\x7f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}"
      "}";
  char path[512], err[512], header[600];
  unsigned char data[8] = {0};
  float out[2];
  size_t k;
  (void)state;
  expect_st_fail(
      "{\"\\u001b[2J\\u0007x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", data,
      sizeof data, "tensor '\\x1b[2J\\x07x': data_offsets [0, 8] span 8 bytes");
  expect_st_fail((const char *)del_name, data, sizeof data,
                 "tensor 'a\xf0\xb5\x98\x80\\x7f\\x7f\\x7f': data_offsets");
  /* \u0000 inside a name: printed, not a terminator */
  expect_st_fail("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", data,
                 sizeof data, "tensor 'a\\x00b'");
  /* an unknown dtype string is escaped too */
  expect_st_fail("{\"a\":{\"dtype\":\"F\\u001b\",\"shape\":[1],\"data_offsets\":[0,4]}}", data,
                 sizeof data, "tensor 'a' has unknown dtype 'F\\x1b'");
  /* a long name is cut at 80 bytes, on a character boundary */
  strcpy(header, "{\"");
  for (k = 0; k < 200; k++)
    strcat(header, "\xc3\xa9"); /* e acute, 2 bytes */
  strcat(header, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}");
  tpath(path, "bad.safetensors");
  write_st_raw(path, header, data, sizeof data);
  assert_int_equal(read_one(path, RNNC_F32, "a", 1, 1, 0, out, err), -1);
  assert_contains(err, "\xc3\xa9...': data_offsets");
  for (k = 0; err[k] != '\0'; k++)
    assert_true((unsigned char)err[k] >= 0x20 && (unsigned char)err[k] != 0x7f);
  /* bad JSON inside an entry names the entry */
  expect_st_fail("{\"lstm/kernel\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}",
                 data, sizeof data, "in the entry of tensor 'lstm/kernel'): ");
}

/* An exact-size heap copy of a file, so that AddressSanitizer (make
 * test-sanitize) sees any read past its end. */
static unsigned char *exact_copy(const unsigned char *bytes, size_t len) {
  unsigned char *copy = malloc(len > 0 ? len : 1);
  assert_non_null(copy);
  if (len > 0)
    memcpy(copy, bytes, len);
  return copy;
}

/* The memory entry points agree with the file ones on every file of the
 * fuzzers' seed corpus, on every prefix of a valid file, and on a few edge
 * cases: the same result, the same message but for the name. */
static void check_npy_same(const unsigned char *bytes, size_t len, const char *path) {
  char err_file[512], err_mem[512], want[600];
  rnnc_array a, b;
  unsigned char *copy = exact_copy(bytes, len);
  int rc_file, rc_mem;
  spit(path, bytes, len);
  rc_file = rnnc_npy_load(path, &a, err_file, sizeof err_file);
  rc_mem = rnnc_npy_load_memory(copy, len, "mem.npy", &b, err_mem, sizeof err_mem);
  free(copy);
  assert_int_equal(rc_file, rc_mem);
  if (rc_file == 0) {
    assert_int_equal(a.rank, b.rank);
    assert_int_equal(a.count, b.count);
    assert_memory_equal(a.shape, b.shape, sizeof a.shape);
    if (a.count > 0)
      assert_memory_equal(a.data, b.data, a.count * sizeof *a.data);
  } else {
    assert_true(strncmp(err_file, path, strlen(path)) == 0);
    snprintf(want, sizeof want, "mem.npy%s", err_file + strlen(path));
    assert_string_equal(err_mem, want);
    assert_null(b.data);
  }
  rnnc_array_free(&a);
  rnnc_array_free(&b);
}

static void check_st_same(const unsigned char *bytes, size_t len, const char *path) {
  char err_file[512], err_mem[512], want[600];
  unsigned char *copy = exact_copy(bytes, len);
  int rc_file, rc_mem;
  spit(path, bytes, len);
  rc_file = rnnc_safetensors_read(path, RNNC_F64, NULL, 0, err_file, sizeof err_file);
  rc_mem =
      rnnc_safetensors_read_memory(copy, len, "mem.st", RNNC_F64, NULL, 0, err_mem, sizeof err_mem);
  free(copy);
  assert_int_equal(rc_file, rc_mem);
  if (rc_file != 0) {
    snprintf(want, sizeof want, "mem.st%s", err_file + strlen(path));
    assert_string_equal(err_mem, want);
  }
}

static void test_memory_api_corpus(void **state) {
  static const char *const dirs[] = {"../fuzz/corpus/npy", "../fuzz/corpus/safetensors"};
  char path[512], src[512];
  int d, files = 0, accepted_npy = 0;
  (void)state;
  tpath(path, "corpus.bin");
  for (d = 0; d < 2; d++) {
    DIR *dir = opendir(dirs[d]);
    struct dirent *e;
    assert_non_null(dir);
    while ((e = readdir(dir)) != NULL) {
      unsigned char *bytes;
      size_t len, cut;
      if (e->d_name[0] == '.')
        continue;
      snprintf(src, sizeof src, "%s/%s", dirs[d], e->d_name);
      bytes = slurp(src, &len);
      for (cut = 0; cut <= len; cut += cut < 64 ? 1 : 61) /* whole, and prefixes */
        if (d == 0)
          check_npy_same(bytes, len - cut, path);
        else
          check_st_same(bytes, len - cut, path);
      if (d == 0) {
        rnnc_array a;
        char err[512];
        accepted_npy += rnnc_npy_load_memory(bytes, len, "x", &a, err, sizeof err) == 0;
        rnnc_array_free(&a);
      }
      free(bytes);
      files++;
    }
    closedir(dir);
  }
  assert_true(files >= 20);
  assert_true(accepted_npy >= 10); /* the valid files load */
}

static void test_memory_api_weights(void **state) {
  char path[512], err[512];
  rnnc_model m64 = small_model(RNNC_F64), m32 = small_model(RNNC_F32);
  double p[18], q[18];
  float q32[18];
  unsigned char *bytes, *copy;
  size_t len;
  int i;
  (void)state;
  for (i = 0; i < 18; i++)
    p[i] = i * 0.5 - 3;
  tpath(path, "wm.safetensors");
  assert_int_equal(rnnc_weights_save(path, &m64, p, err, sizeof err), 0);
  bytes = slurp(path, &len);
  copy = exact_copy(bytes, len);
  memset(q, 0, sizeof q);
  assert_int_equal(rnnc_weights_load_memory(copy, len, "w", &m64, q, err, sizeof err), 0);
  assert_memory_equal(q, p, sizeof p);
  assert_int_equal(rnnc_weights_load_memory(copy, len, NULL, &m32, q32, err, sizeof err), 0);
  for (i = 0; i < 18; i++)
    assert_true(q32[i] == (float)p[i]);
  /* one byte short: the data area is too small for the last tensor */
  assert_int_equal(rnnc_weights_load_memory(copy, len - 1, "w", &m64, q, err, sizeof err), -1);
  assert_contains(err, "w: tensor '");
  assert_contains(err, "lie outside the data area");
  free(copy);
  free(bytes);
  /* no data, or none given */
  assert_int_equal(rnnc_weights_load_memory(NULL, 0, NULL, &m64, q, err, sizeof err), -1);
  assert_string_equal(err, "(memory): file is too short for a safetensors header (0 bytes)");
  assert_int_equal(rnnc_weights_load_memory(NULL, 5, "w", &m64, q, err, sizeof err), -1);
  assert_string_equal(err, "w: no data given");
  {
    rnnc_array a;
    assert_int_equal(rnnc_npy_load_memory(NULL, 0, "x.npy", &a, err, sizeof err), -1);
    assert_string_equal(err, "x.npy: file is too short for a .npy header (0 bytes)");
    assert_null(a.data);
    assert_int_equal(rnnc_npy_load_memory(NULL, 3, "x.npy", &a, err, sizeof err), -1);
    assert_string_equal(err, "x.npy: no data given");
    assert_int_equal(rnnc_npy_load_memory("\x93NU", 3, "x.npy", NULL, err, sizeof err), -1);
    assert_string_equal(err, "x.npy: no output array given");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_st_roundtrip_f32),
      cmocka_unit_test(test_st_roundtrip_f64),
      cmocka_unit_test(test_st_convert),
      cmocka_unit_test(test_st_names_and_extras),
      cmocka_unit_test(test_weights_roundtrip),
      cmocka_unit_test(test_st_truncated),
      cmocka_unit_test(test_st_header_length_lies),
      cmocka_unit_test(test_st_bad_json),
      cmocka_unit_test(test_st_wrong_dtype),
      cmocka_unit_test(test_st_shape_mismatch),
      cmocka_unit_test(test_st_missing_tensor),
      cmocka_unit_test(test_st_offsets),
      cmocka_unit_test(test_st_overlap),
      cmocka_unit_test(test_st_shape_overflow),
      cmocka_unit_test(test_st_corrupt_bytes),
      cmocka_unit_test(test_st_write_errors),
      cmocka_unit_test(test_npy_roundtrip),
      cmocka_unit_test(test_npy_handmade),
      cmocka_unit_test(test_npy_rejects),
      cmocka_unit_test(test_npy_bad_files),
      cmocka_unit_test(test_npy_prefixes),
      cmocka_unit_test(test_npy_save_errors),
      cmocka_unit_test(test_st_hostile_names),
      cmocka_unit_test(test_memory_api_corpus),
      cmocka_unit_test(test_memory_api_weights),
      cmocka_unit_test(test_npy_load_f32),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
