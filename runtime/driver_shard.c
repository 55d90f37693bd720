/* The training data of one process of an MPI run (a group: rnnc_main_group).
 * No process holds the whole data set: rank r of N checks rows
 * [n r / N, n (r + 1) / N) of the files with the loaders' own checks (the
 * ranks' verdicts combined, so that every rank stops alike and the first bad
 * sample is printed once), and at every step reads the samples of its own
 * micro-batches from the files (the fit loop's reader). The files must be
 * readable by every process: a shared filesystem, or one machine.
 * Validation data is read whole by every process. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "files.h"

struct driver_shard {
  const rnnc_model *m;
  rnnc_npy_rows *x[RNNC_MAX_INPUTS], *y;
  size_t len[RNNC_MAX_INPUTS], per_y; /* values per sample of each file */
  double *row, *tmp;                  /* one sample in the model's layout; one file's row */
};

void driver_shard_close(driver_shard *s) {
  if (!s)
    return;
  for (int k = 0; k < RNNC_MAX_INPUTS; ++k)
    rnnc_npy_rows_close(s->x[k]);
  rnnc_npy_rows_close(s->y);
  free(s->row);
  free(s->tmp);
  free(s);
}

/* Every rank's verdict: 1 when all are ok. Otherwise the lowest failing rank
 * prints its message (the first bad sample: ranks hold the rows in order). */
static int all_ok(const rnnc_fit_group *g, int ok, const char *err) {
  int *flags = calloc((size_t)g->size, sizeof *flags);
  size_t *bytes = calloc((size_t)g->size, sizeof *bytes);
  size_t *displs = calloc((size_t)g->size, sizeof *displs);
  int first = -1;
  if (!flags || !bytes || !displs) {
    fprintf(stderr, "error: out of memory\n");
    g->abort(g->user, 1);
  } else {
    flags[g->rank] = ok;
    for (int r = 0; r < g->size; ++r) {
      bytes[r] = sizeof *flags;
      displs[r] = (size_t)r * sizeof *flags;
    }
    if (g->allgatherv(g->user, flags, bytes, displs) != 0)
      g->abort(g->user, 1);
    for (int r = 0; r < g->size && first < 0; ++r)
      if (!flags[r])
        first = r;
    if (first == g->rank)
      fprintf(stderr, "error: %s\n", err);
  }
  free(flags);
  free(bytes);
  free(displs);
  return first < 0;
}

/* Samples [first, last) of every file read through the loaders, checked,
 * and (x and y not NULL) kept in the model's layout. */
static int load_rows(const rnnc_model *m, const args_t *a, size_t first, size_t last, void **x,
                     void **y, char *err) {
  rnnc_array xa, ya;
  int rc = -1;
  driver_rows_on = 1;
  driver_rows_first = first;
  driver_rows_count = last - first;
  if (driver_load_x(m, a, 0, &xa, err) == 0) {
    if (driver_load_y(m, a, 0, xa.shape[0], &ya, err) == 0) {
      rc = 0;
      if (x && y) {
        *x = driver_x_to_model(m, xa.data, xa.count);
        *y = driver_to_model(m, ya.data, ya.count);
        if (!*x || !*y) {
          snprintf(err, ERRLEN, "out of memory");
          rc = -1;
        }
      }
      rnnc_array_free(&ya);
    }
    rnnc_array_free(&xa);
  }
  driver_rows_on = 0;
  return rc;
}

static int shard_read(void *user, const size_t *samples, int count, void *x, void *y, char *err,
                      size_t errlen) {
  driver_shard *s = (driver_shard *)user;
  const rnnc_model *m = s->m;
  for (int i = 0; i < count; ++i) {
    memset(s->row, 0, m->input_size * sizeof *s->row);
    for (int k = 0; k < m->n_inputs; ++k) {
      if (rnnc_npy_rows_read(s->x[k], samples[i], 1, s->tmp, err, errlen) != 0)
        return -1;
      memcpy(s->row + m->inputs[k].offset, s->tmp, s->len[k] * sizeof *s->tmp);
    }
    for (size_t j = 0; j < m->input_size; ++j)
      if (m->input_vocab > 0) /* tokens, checked when the rows were loaded */
        ((int32_t *)x)[(size_t)i * m->input_size + j] = (int32_t)s->row[j];
      else
        driver_set(m, x, (size_t)i * m->input_size + j, s->row[j]);
    memset(s->row, 0, m->target_size * sizeof *s->row);
    if (rnnc_npy_rows_read(s->y, samples[i], 1, s->row, err, errlen) != 0)
      return -1;
    for (size_t j = 0; j < m->target_size; ++j)
      driver_set(m, y, (size_t)i * m->target_size + j, s->row[j]);
  }
  return 0;
}

driver_shard *driver_shard_open(const rnnc_model *m, const args_t *a, size_t *n_train,
                                rnnc_fit_reader *reader, void **val_x, void **val_y,
                                size_t *n_val) {
  const rnnc_fit_group *g = a->group;
  char err[ERRLEN] = "";
  int ok = 1;
  driver_shard *s = calloc(1, sizeof *s);
  size_t rows[RNNC_MAX_INPUTS + 1],
      values = m->input_size > m->target_size ? m->input_size : m->target_size;
  *val_x = *val_y = NULL;
  *n_val = 0;
  if (!s || !(s->row = malloc(values * sizeof *s->row + 1))) {
    snprintf(err, sizeof err, "out of memory");
    ok = 0;
  } else
    s->m = m;
  int with_loss = 0;
  for (int k = 0; k < m->n_outputs; ++k)
    with_loss += m->losses[k].kind != RNNC_LOSS_NONE;
  if (ok && (with_loss > 1 || a->n_named[0] > 0 || a->n_named[1] > 0)) {
    snprintf(err, sizeof err,
             "a process of an MPI run reads positional files only (--x, --xK and one --y): %s",
             with_loss > 1 ? "a model with losses on several outputs trains in one process"
                           : "give the files without NAME=");
    ok = 0;
  }
  /* the headers: every file's rows, and the data's sequence length */
  for (int k = 0; ok && k <= m->n_inputs; ++k) {
    const char *path = k == m->n_inputs ? a->y : k == 0 ? a->x : a->xk[k];
    int rank;
    size_t shape[8];
    if (!path) {
      snprintf(err, sizeof err, "the model has %d inputs: give input %d with --x%d FILE.npy",
               m->n_inputs, k, k);
      ok = 0;
      break;
    }
    rnnc_npy_rows *r = rnnc_npy_rows_open(path, &rank, shape, err, sizeof err);
    if (!r) {
      ok = 0;
      break;
    }
    size_t per = 1;
    for (int i = 1; i < rank; ++i)
      per *= shape[i];
    rows[k] = shape[0];
    if (k == m->n_inputs) {
      s->y = r;
      s->per_y = per;
    } else {
      s->x[k] = r;
      s->len[k] = per;
      if (k == 0 && driver_is_seq(m, &m->inputs[0]) && rank >= 2 && shape[1] >= 1 &&
          shape[1] <= (size_t)m->max_steps)
        driver_steps = (int)shape[1];
    }
    if (k > 0 && rows[k] != rows[0]) {
      snprintf(err, sizeof err, "%s has %zu samples, %s has %zu: %s", path, rows[k], a->x, rows[0],
               k == m->n_inputs ? "x and y need one row per sample"
                                : "every input needs one row per sample");
      ok = 0;
    }
  }
  if (ok && !(s->tmp = malloc((values > s->per_y ? values : s->per_y) * sizeof *s->tmp + 1))) {
    snprintf(err, sizeof err, "out of memory");
    ok = 0;
  }
  if (!all_ok(g, ok, err))
    goto fail;
  /* training and validation rows: Keras's split takes the last samples */
  size_t n = rows[0], train = n;
  if (!a->val_x && a->validation_split > 0) {
    train = (size_t)floor((double)n * (1.0 - a->validation_split));
    if (train == 0 || train == n) {
      snprintf(err, sizeof err,
               "%zu samples are not enough to split into training and validation data with "
               "validation_split %g",
               n, a->validation_split);
      all_ok(g, g->rank != 0, err);
      goto fail;
    }
  }
  /* this rank's share of the training rows, checked */
  size_t first = train * (size_t)g->rank / (size_t)g->size;
  size_t last = train * (size_t)(g->rank + 1) / (size_t)g->size;
  ok = last == first || load_rows(m, a, first, last, NULL, NULL, err) == 0;
  if (!all_ok(g, ok, err))
    goto fail;
  /* validation data, whole on every rank */
  if (a->val_x) {
    rnnc_array vx, vy;
    memset(&vy, 0, sizeof vy);
    int steps = driver_steps_now(m);
    ok = driver_load_x(m, a, 1, &vx, err) == 0;
    if (ok) {
      ok = driver_load_y(m, a, 1, vx.shape[0], &vy, err) == 0;
      if (ok && driver_steps_now(m) != steps) {
        snprintf(err, sizeof err,
                 "%s: the validation sequences have length %d, the training sequences %d", a->val_x,
                 driver_steps_now(m), steps);
        ok = 0;
      }
      if (ok) {
        *n_val = vx.shape[0];
        *val_x = driver_x_to_model(m, vx.data, vx.count);
        *val_y = driver_to_model(m, vy.data, vy.count);
        ok = *val_x && *val_y;
      }
      rnnc_array_free(&vy);
      rnnc_array_free(&vx);
    }
  } else if (train < n) {
    ok = load_rows(m, a, train, n, val_x, val_y, err) == 0;
    *n_val = n - train;
  }
  if (!all_ok(g, ok, err))
    goto fail;
  *n_train = train;
  reader->read = shard_read;
  reader->user = s;
  return s;
fail:
  free(*val_x);
  free(*val_y);
  *val_x = *val_y = NULL;
  driver_shard_close(s);
  return NULL;
}
