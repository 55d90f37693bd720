/* Helpers the file formats share (npy.c, safetensors.c, weights.c): messages
 * that name the file, whole-file reads, temporary names for atomic writes,
 * little-endian bytes and shape sizes. Internal to the runtime: not part of
 * rnnc.h. */
#ifndef RNNC_FILES_H
#define RNNC_FILES_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define RNNC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RNNC_PRINTF(f, a)
#endif

/* Writes "<path>: <message>" to err and returns -1. */
int rnnc_io_fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    RNNC_PRINTF(4, 5);

/* Reads the whole file into a malloc'd buffer. 0, or -1 with a message. */
int rnnc_io_read_file(const char *path, unsigned char **out, size_t *outlen, char *err,
                      size_t errlen);

/* "<path>.tmp.<pid>", malloc'd (NULL: out of memory): concurrent writers of
 * the same path do not clash; the file is renamed into place when written. */
char *rnnc_io_temp_path(const char *path);

/* n bytes, little-endian: independent of alignment and of the host's byte order. */
uint64_t rnnc_io_load_le(const unsigned char *p, size_t n);
void rnnc_io_store_le(unsigned char *p, uint64_t v, size_t n);

/* Element count of a caller-side shape; -1 on a negative dimension or overflow. */
int rnnc_io_count_elements(int rank, const int *shape, size_t *out);

/* Rows of a .npy file along its first axis, read on demand (npy.c): the
 * header is parsed and the file's size checked once, then each read seeks to
 * its rows and converts them to double. The driver's data shards (an MPI
 * run: each process reads its own samples). */
typedef struct rnnc_npy_rows rnnc_npy_rows;
/* NULL with a message; *rank and shape[0..8) receive the array's shape. */
rnnc_npy_rows *rnnc_npy_rows_open(const char *path, int *rank, size_t *shape, char *err,
                                  size_t errlen);
/* Rows [first, first + count) into out (count x the values of one row). */
int rnnc_npy_rows_read(rnnc_npy_rows *r, size_t first, size_t count, double *out, char *err,
                       size_t errlen);
void rnnc_npy_rows_close(rnnc_npy_rows *r);

#endif
