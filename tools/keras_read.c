/* rnnc-keras-read: reads a Keras model file (HDF5, a .keras zip, or JSON)
 * and writes what rnnc import needs into one plain dump file: the format, the
 * string attributes of every group (model_config, weight_names, ...), the
 * text members of a zip (config.json, metadata.json) or the JSON file, and
 * every numeric dataset converted to little-endian float32, float64 or int64.
 *
 * The file is untrusted. rnnc runs this program as a child process; it sets
 * its own limits on memory, CPU time and output size before it opens
 * anything, checks every size it reads against fixed bounds before it
 * allocates, follows only hard links (never soft or external ones, nor
 * datasets stored in other files), loads no HDF5 plugin, and on any problem
 * prints one line naming the file and the object, then exits 1. The Lua side
 * (generator/import/) checks every shape against the model's configuration.
 *
 * usage: rnnc-keras-read -o DUMP FILE [--weights WEIGHTS.h5]
 *
 * Dump format (every length in bytes, every header line ends in \n):
 *   rnnc-keras-dump 1
 *   format FILEINDEX hdf5|zip|json
 *   text FILEINDEX NAMELEN LEN \n NAME BYTES          (a zip member or the JSON file)
 *   attr FILEINDEX PATHLEN NAMELEN COUNT \n PATH NAME then COUNT times: LEN \n BYTES
 *   data FILEINDEX DTYPE RANK D1 .. DRANK PATHLEN NBYTES BAD \n PATH BYTES
 *   end
 * FILEINDEX is 1 for FILE, 2 for --weights; DTYPE is f32, f64 or i64; BAD is
 * the flat index of the first NaN or infinity of a float dataset, or -1.
 */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <zip.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds on what a file may hold. Real Keras models are far inside them. */
#define MAX_FILE_BYTES ((uint64_t)4 << 30)  /* an input file, or a zip member */
#define MAX_TEXT_BYTES ((uint64_t)64 << 20) /* a JSON file or text member */
#define MAX_DATA_BYTES ((uint64_t)3 << 30)  /* all datasets together */
#define MAX_ATTR_BYTES ((uint64_t)64 << 20) /* all string attributes together */
#define MAX_OBJECTS 100000                  /* groups + datasets visited */
#define MAX_ATTRS_PER_OBJECT 1000
#define MAX_DEPTH 24
#define MAX_RANK 8
#define MAX_PATH_BYTES 4096
#define MAX_ZIP_ENTRIES 10000
/* Process limits, set before the file is opened. */
#define LIMIT_AS_BYTES ((rlim_t)12 << 30)
#define LIMIT_CPU_SECONDS 60
#define LIMIT_OUTPUT_BYTES ((rlim_t)4 << 30)

static const char *g_file; /* the file being read, for messages */
static FILE *g_out;
static uint64_t g_data_bytes, g_attr_bytes;
static long g_objects;

/* Prints "FILE: message" (control characters escaped) and exits 1. */
static void fail(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: ", g_file ? g_file : "rnnc-keras-read");
  for (const unsigned char *p = (const unsigned char *)msg; *p; ++p) {
    if (*p < 0x20 || *p == 0x7f)
      fprintf(stderr, "\\x%02x", *p);
    else
      fputc(*p, stderr);
  }
  fputc('\n', stderr);
  fflush(stderr);
  /* _exit, not exit: HDF5's exit handler would close the damaged file again,
   * and crashes on some (found by the fuzzer); the dump is discarded anyway */
  _exit(1);
}

/* A path or name for a message: at most 120 bytes (fail escapes the rest). */
static const char *shown(const char *s, char *buf, size_t n) {
  size_t len = strlen(s);
  if (len < n && len <= 120)
    return s;
  snprintf(buf, n, "%.120s...", s);
  return buf;
}

static void out_bytes(const void *p, size_t n) {
  if (n && fwrite(p, 1, n, g_out) != n)
    fail("cannot write the dump: %s", strerror(errno));
}

static void set_limit(int resource, rlim_t value) {
  struct rlimit r;
  if (getrlimit(resource, &r) != 0)
    return;
  if (r.rlim_max != RLIM_INFINITY && r.rlim_max < value)
    value = r.rlim_max;
  r.rlim_cur = value;
  setrlimit(resource, &r);
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void set_limits(void) {
#ifndef UNDER_ASAN /* ASan reserves terabytes of address space */
  set_limit(RLIMIT_AS, LIMIT_AS_BYTES);
#endif
  set_limit(RLIMIT_CPU, LIMIT_CPU_SECONDS);
  set_limit(RLIMIT_FSIZE, LIMIT_OUTPUT_BYTES);
  set_limit(RLIMIT_CORE, 0);
}

/* ------------------------------------------------------------------ HDF5 */

static void check_path(const char *path) {
  char b[160];
  if (strlen(path) > MAX_PATH_BYTES)
    fail("object '%s': the path is longer than %d bytes", shown(path, b, sizeof b), MAX_PATH_BYTES);
}

/* Strings of one attribute: fixed-length or variable-length, a scalar or a
 * list. Writes an "attr" record; non-string attributes are left out, except
 * empty arrays (Keras writes an empty weight_names as an empty float array). */
static void dump_attribute(int file_index, hid_t obj, const char *path, const char *name) {
  char b1[160], b2[160];
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0)
    fail("object '%s': cannot open attribute '%s'", shown(path, b1, sizeof b1),
         shown(name, b2, sizeof b2));
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  if (type < 0 || space < 0)
    fail("object '%s', attribute '%s': unreadable type or shape", shown(path, b1, sizeof b1),
         shown(name, b2, sizeof b2));
  H5S_class_t sclass = H5Sget_simple_extent_type(space);
  int rank = H5Sget_simple_extent_ndims(space);
  hssize_t count = sclass == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space);
  if (rank < 0 || rank > 1 || count < 0 || count > 1000000) {
    /* Keras writes scalars and lists only */
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(attr);
    return;
  }
  H5T_class_t tclass = H5Tget_class(type);
  if (tclass != H5T_STRING) {
    if (count == 0) {
      fprintf(g_out, "attr %d %zu %zu 0\n", file_index, strlen(path), strlen(name));
      out_bytes(path, strlen(path));
      out_bytes(name, strlen(name));
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(attr);
    return;
  }
  fprintf(g_out, "attr %d %zu %zu %lld\n", file_index, strlen(path), strlen(name),
          (long long)count);
  out_bytes(path, strlen(path));
  out_bytes(name, strlen(name));
  if (count == 0)
    goto done;
  if (H5Tis_variable_str(type) > 0) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type)); /* h5py writes UTF-8, older writers ASCII */
    char **strs = calloc((size_t)count, sizeof *strs);
    if (!strs)
      fail("out of memory");
    if (H5Aread(attr, mem, strs) < 0)
      fail("object '%s', attribute '%s': cannot read its strings", shown(path, b1, sizeof b1),
           shown(name, b2, sizeof b2));
    for (hssize_t i = 0; i < count; ++i) {
      size_t len = strs[i] ? strlen(strs[i]) : 0;
      g_attr_bytes += len;
      if (g_attr_bytes > MAX_ATTR_BYTES)
        fail("the string attributes take more than %llu bytes", (unsigned long long)MAX_ATTR_BYTES);
      fprintf(g_out, "%zu\n", len);
      out_bytes(strs[i], len);
    }
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, strs);
    free(strs);
    H5Tclose(mem);
  } else {
    size_t size = H5Tget_size(type);
    if (size == 0 || size > MAX_ATTR_BYTES || (uint64_t)count * size > MAX_ATTR_BYTES ||
        (g_attr_bytes += (uint64_t)count * size) > MAX_ATTR_BYTES)
      fail("object '%s', attribute '%s': %lld strings of %zu bytes are more than the %llu bytes "
           "allowed",
           shown(path, b1, sizeof b1), shown(name, b2, sizeof b2), (long long)count, size,
           (unsigned long long)MAX_ATTR_BYTES);
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, size);
    H5Tset_strpad(mem, H5T_STR_NULLPAD);
    H5Tset_cset(mem, H5Tget_cset(type));
    char *buf = calloc((size_t)count, size);
    if (!buf)
      fail("out of memory");
    if (H5Aread(attr, mem, buf) < 0)
      fail("object '%s', attribute '%s': cannot read its strings", shown(path, b1, sizeof b1),
           shown(name, b2, sizeof b2));
    for (hssize_t i = 0; i < count; ++i) {
      const char *s = buf + (size_t)i * size;
      size_t len = strnlen(s, size);
      fprintf(g_out, "%zu\n", len);
      out_bytes(s, len);
    }
    free(buf);
    H5Tclose(mem);
  }
done:
  H5Tclose(type);
  H5Sclose(space);
  H5Aclose(attr);
}

typedef struct {
  char names[MAX_ATTRS_PER_OBJECT][256];
  int n;
  int too_long;
} attr_list;

static herr_t collect_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
  (void)loc;
  (void)info;
  attr_list *l = data;
  if (l->n >= MAX_ATTRS_PER_OBJECT)
    return 1; /* stop: the rest are not Keras's */
  if (strlen(name) >= sizeof l->names[0]) {
    l->too_long = 1;
    return 0;
  }
  strcpy(l->names[l->n++], name);
  return 0;
}

static void dump_attributes(int file_index, hid_t obj, const char *path) {
  static attr_list list; /* large: static, and used by one object at a time */
  char b[160];
  list.n = 0;
  list.too_long = 0;
  hsize_t idx = 0;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &list) < 0)
    fail("object '%s': cannot list its attributes", shown(path, b, sizeof b));
  for (int i = 0; i < list.n; ++i)
    dump_attribute(file_index, obj, path, list.names[i]);
}

static void dump_dataset(int file_index, hid_t dset, const char *path) {
  char b[160];
  hid_t dcpl = H5Dget_create_plist(dset);
  if (dcpl < 0)
    fail("dataset '%s': unreadable creation properties", shown(path, b, sizeof b));
  /* data kept in other files is refused: it would read files this one names */
  if (H5Pget_external_count(dcpl) != 0)
    fail("dataset '%s' keeps its data in external files; rnnc reads only the given file",
         shown(path, b, sizeof b));
  if (H5Pget_layout(dcpl) == H5D_VIRTUAL)
    fail("dataset '%s' is a virtual dataset (data from other files); rnnc reads only the given "
         "file",
         shown(path, b, sizeof b));
  H5Pclose(dcpl);
  hid_t type = H5Dget_type(dset), space = H5Dget_space(dset);
  if (type < 0 || space < 0)
    fail("dataset '%s': unreadable type or shape", shown(path, b, sizeof b));
  H5T_class_t tclass = H5Tget_class(type);
  size_t tsize = H5Tget_size(type);
  const char *dtype = NULL;
  hid_t mem = -1;
  size_t esize = 0;
  if (tclass == H5T_FLOAT && tsize >= 1 && tsize <= 4) {
    dtype = "f32";
    mem = H5T_NATIVE_FLOAT;
    esize = 4;
  } else if (tclass == H5T_FLOAT && tsize == 8) {
    dtype = "f64";
    mem = H5T_NATIVE_DOUBLE;
    esize = 8;
  } else if (tclass == H5T_INTEGER && tsize >= 1 && tsize <= 8) {
    dtype = "i64";
    mem = H5T_NATIVE_INT64;
    esize = 8;
  }
  if (!dtype) { /* strings, compounds, ...: Keras stores no weights so */
    H5Tclose(type);
    H5Sclose(space);
    return;
  }
  H5S_class_t sclass = H5Sget_simple_extent_type(space);
  int rank = sclass == H5S_NULL ? 0 : H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > MAX_RANK)
    fail("dataset '%s' has rank %d; at most %d is read", shown(path, b, sizeof b), rank, MAX_RANK);
  hsize_t dims[MAX_RANK] = {0};
  if (rank > 0 && H5Sget_simple_extent_dims(space, dims, NULL) != rank)
    fail("dataset '%s': unreadable shape", shown(path, b, sizeof b));
  uint64_t n = sclass == H5S_NULL ? 0 : 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] != 0 && n > (MAX_DATA_BYTES / esize) / dims[i])
      fail("dataset '%s' is larger than the %llu bytes rnnc reads", shown(path, b, sizeof b),
           (unsigned long long)MAX_DATA_BYTES);
    n *= dims[i];
  }
  uint64_t bytes = n * esize;
  if (bytes > MAX_DATA_BYTES - g_data_bytes)
    fail("the datasets up to '%s' take more than the %llu bytes rnnc reads",
         shown(path, b, sizeof b), (unsigned long long)MAX_DATA_BYTES);
  g_data_bytes += bytes;
  void *buf = malloc(bytes ? (size_t)bytes : 1);
  if (!buf)
    fail("dataset '%s': out of memory for %llu bytes", shown(path, b, sizeof b),
         (unsigned long long)bytes);
  if (n > 0 && H5Dread(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    fail("dataset '%s': cannot read its data (damaged, or compressed with a filter rnnc does not "
         "load)",
         shown(path, b, sizeof b));
  long long bad = -1;
  for (uint64_t i = 0; i < n && bad < 0 && esize == 4 && mem == H5T_NATIVE_FLOAT; ++i)
    if (!isfinite(((const float *)buf)[i]))
      bad = (long long)i;
  for (uint64_t i = 0; i < n && bad < 0 && mem == H5T_NATIVE_DOUBLE; ++i)
    if (!isfinite(((const double *)buf)[i]))
      bad = (long long)i;
  fprintf(g_out, "data %d %s %d", file_index, dtype, rank);
  for (int i = 0; i < rank; ++i)
    fprintf(g_out, " %llu", (unsigned long long)dims[i]);
  fprintf(g_out, " %zu %llu %lld\n", strlen(path), (unsigned long long)bytes, bad);
  out_bytes(path, strlen(path));
  out_bytes(buf, (size_t)bytes);
  free(buf);
  H5Tclose(type);
  H5Sclose(space);
}

static void walk(int file_index, hid_t group, const char *path, int depth);

typedef struct {
  int file_index;
  const char *path;
  int depth;
} walk_ctx;

static herr_t visit_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  const walk_ctx *c = data;
  char child[MAX_PATH_BYTES + 2], b[160], b2[160];
  if (strlen(c->path) + 1 + strlen(name) > MAX_PATH_BYTES)
    fail("object '%s/%s': the path is longer than %d bytes", shown(c->path, b, sizeof b),
         shown(name, b2, sizeof b2), MAX_PATH_BYTES);
  /* lengths checked above: the copy fits */
  size_t plen = strlen(c->path);
  memcpy(child, c->path, plen);
  if (plen)
    child[plen++] = '/';
  strcpy(child + plen, name);
  if (info->type != H5L_TYPE_HARD)
    return 0; /* soft and external links: never followed */
  if (++g_objects > MAX_OBJECTS)
    fail("more than %d objects: not a Keras model file", MAX_OBJECTS);
  hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  if (obj < 0)
    fail("object '%s': cannot open it (damaged file?)", shown(child, b, sizeof b));
  H5I_type_t kind = H5Iget_type(obj);
  if (kind == H5I_GROUP)
    walk(c->file_index, obj, child, c->depth + 1);
  else if (kind == H5I_DATASET) {
    dump_attributes(c->file_index, obj, child);
    dump_dataset(c->file_index, obj, child);
  }
  H5Oclose(obj);
  return 0;
}

static void walk(int file_index, hid_t group, const char *path, int depth) {
  char b[160];
  check_path(path);
  if (depth > MAX_DEPTH)
    fail("group '%s' is nested more than %d deep: not a Keras model file", shown(path, b, sizeof b),
         MAX_DEPTH);
  dump_attributes(file_index, group, path);
  walk_ctx c = {file_index, path, depth};
  hsize_t idx = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_link, &c) < 0)
    fail("group '%s': cannot list its members (damaged file?)",
         *path ? shown(path, b, sizeof b) : "/");
}

static void dump_hdf5(int file_index, const char *name, const void *image, size_t image_len) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0)
    fail("cannot set up the HDF5 library");
  if (image) { /* a member of a zip, already in memory */
    if (H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
        H5Pset_file_image(fapl, (void *)image, image_len) < 0)
      fail("cannot hand the HDF5 image to the library");
  }
  hid_t f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
  if (f < 0)
    fail("not a readable HDF5 file (truncated or damaged)");
  H5Pclose(fapl);
  if (!image) /* a zip member: the format stays "zip" */
    fprintf(g_out, "format %d hdf5\n", file_index);
  hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
  if (root < 0)
    fail("cannot open the root group");
  walk(file_index, root, "", 0);
  H5Gclose(root);
  if (H5Fclose(f) < 0)
    fail("the HDF5 file did not close cleanly");
}

/* ------------------------------------------------------------------ zip */

/* Reads one member, checking its declared size and, through libzip, its CRC. */
static char *zip_member(zip_t *za, zip_int64_t idx, const char *name, uint64_t limit, size_t *len) {
  char b[160];
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(za, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    fail("zip member '%s': unreadable entry", shown(name, b, sizeof b));
  if (st.size > limit)
    fail("zip member '%s' declares %llu bytes; at most %llu are read", shown(name, b, sizeof b),
         (unsigned long long)st.size, (unsigned long long)limit);
  zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
  if (!zf)
    fail("zip member '%s': %s", shown(name, b, sizeof b), zip_error_strerror(zip_get_error(za)));
  char *buf = malloc((size_t)st.size + 1);
  if (!buf)
    fail("zip member '%s': out of memory", shown(name, b, sizeof b));
  uint64_t got = 0;
  for (;;) {
    /* one byte more than declared: a member that inflates past its size is refused */
    zip_int64_t r = zip_fread(zf, buf + got, st.size + 1 - got);
    if (r < 0)
      fail("zip member '%s': %s", shown(name, b, sizeof b), zip_file_strerror(zf));
    if (r == 0)
      break;
    got += (uint64_t)r;
    if (got > st.size)
      fail("zip member '%s' holds more than the %llu bytes it declares", shown(name, b, sizeof b),
           (unsigned long long)st.size);
  }
  if (got != st.size)
    fail("zip member '%s' holds %llu bytes, not the %llu it declares", shown(name, b, sizeof b),
         (unsigned long long)got, (unsigned long long)st.size);
  if (zip_fclose(zf) != 0)
    fail("zip member '%s': damaged (checksum)", shown(name, b, sizeof b));
  buf[got] = 0;
  *len = (size_t)got;
  return buf;
}

static void dump_text(int file_index, const char *name, const char *text, size_t len) {
  fprintf(g_out, "text %d %zu %zu\n", file_index, strlen(name), len);
  out_bytes(name, strlen(name));
  out_bytes(text, len);
}

static void dump_zip(int file_index, const char *path) {
  int err = 0;
  zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    fail("not a readable zip archive: %s", zip_error_strerror(&ze));
  }
  zip_int64_t n = zip_get_num_entries(za, 0);
  if (n < 0 || n > MAX_ZIP_ENTRIES)
    fail("the zip archive lists %lld members; at most %d are read", (long long)n, MAX_ZIP_ENTRIES);
  fprintf(g_out, "format %d zip\n", file_index);
  static const char *const texts[] = {"config.json", "metadata.json"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; ++i) {
    zip_int64_t idx = zip_name_locate(za, texts[i], 0);
    if (idx < 0)
      continue; /* the Lua side says which member is missing */
    size_t len;
    char *t = zip_member(za, idx, texts[i], MAX_TEXT_BYTES, &len);
    dump_text(file_index, texts[i], t, len);
    free(t);
  }
  zip_int64_t idx = zip_name_locate(za, "model.weights.h5", 0);
  if (idx >= 0) {
    size_t len;
    char *image = zip_member(za, idx, "model.weights.h5", MAX_FILE_BYTES, &len);
    const char *outer = g_file;
    char name[MAX_PATH_BYTES + 64];
    snprintf(name, sizeof name, "%.*s (model.weights.h5)", MAX_PATH_BYTES, outer);
    g_file = name; /* messages name the member */
    dump_hdf5(file_index, "model.weights.h5", image, len);
    g_file = outer;
    free(image);
  }
  zip_discard(za);
}

/* ------------------------------------------------------------------ JSON */

static void dump_json(int file_index, const char *path, uint64_t size) {
  if (size > MAX_TEXT_BYTES)
    fail("a JSON file of %llu bytes; at most %llu are read", (unsigned long long)size,
         (unsigned long long)MAX_TEXT_BYTES);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail("cannot open: %s", strerror(errno));
  char *buf = malloc((size_t)size + 1);
  if (!buf)
    fail("out of memory");
  size_t got = fread(buf, 1, (size_t)size + 1, f);
  fclose(f);
  if (got != size)
    fail("the file changed while it was read");
  fprintf(g_out, "format %d json\n", file_index);
  dump_text(file_index, "json", buf, got);
  free(buf);
}

/* ------------------------------------------------------------------ main */

static void dump_file(int file_index, const char *path) {
  struct stat st;
  unsigned char magic[8] = {0};
  g_file = path;
  if (stat(path, &st) != 0)
    fail("cannot read: %s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    fail("not a regular file");
  if ((uint64_t)st.st_size > MAX_FILE_BYTES)
    fail("%llu bytes; rnnc reads model files of at most %llu bytes", (unsigned long long)st.st_size,
         (unsigned long long)MAX_FILE_BYTES);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail("cannot open: %s", strerror(errno));
  size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  /* the format from the first bytes, never from the name */
  if (got == 8 && memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0)
    dump_hdf5(file_index, path, NULL, 0);
  else if (got >= 4 && memcmp(magic, "PK\x03\x04", 4) == 0)
    dump_zip(file_index, path);
  else {
    size_t i = 0;
    if (got >= 3 && memcmp(magic, "\xef\xbb\xbf", 3) == 0)
      i = 3; /* a UTF-8 byte order mark */
    while (i < got && (magic[i] == ' ' || magic[i] == '\t' || magic[i] == '\r' || magic[i] == '\n'))
      ++i;
    if (i < got && magic[i] == '{')
      dump_json(file_index, path, (uint64_t)st.st_size);
    else
      fail("not a Keras model file: it starts with neither the HDF5 signature, a zip header "
           "(.keras) nor '{' (JSON)");
  }
}

int main(int argc, char **argv) {
  const char *out = NULL, *file = NULL, *weights = NULL;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
      out = argv[++i];
    else if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc)
      weights = argv[++i];
    else if (argv[i][0] != '-' && !file)
      file = argv[i];
    else {
      fprintf(stderr, "usage: rnnc-keras-read -o DUMP FILE [--weights WEIGHTS.h5]\n");
      return 2;
    }
  }
  if (!out || !file) {
    fprintf(stderr, "usage: rnnc-keras-read -o DUMP FILE [--weights WEIGHTS.h5]\n");
    return 2;
  }
  {
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe != 1)
      fail("this program writes little-endian dumps and runs on little-endian machines only");
  }
  set_limits();
  /* no error stacks on stderr, no plugins loaded from the environment */
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  H5PLset_loading_state(0);
  g_out = fopen(out, "wb");
  if (!g_out) {
    fprintf(stderr, "%s: cannot write: %s\n", out, strerror(errno));
    return 1;
  }
  fprintf(g_out, "rnnc-keras-dump 1\n");
  dump_file(1, file);
  if (weights)
    dump_file(2, weights);
  fprintf(g_out, "end\n");
  if (fclose(g_out) != 0) {
    g_file = out;
    fail("cannot write the dump: %s", strerror(errno));
  }
  return 0;
}
