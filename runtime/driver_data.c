/* The driver's data: its .npy inputs and targets checked and converted to
 * the unit's layout, its weights, sequences of the data's length, and calls
 * over any number of samples in the unit's batches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "files.h"

void *driver_to_model(const rnnc_model *m, const double *src, size_t count) {
  void *dst = malloc(count * rnnc_dtype_size(m->dtype) + 1);
  if (!dst)
    return NULL;
  for (size_t i = 0; i < count; ++i) {
    if (m->dtype == RNNC_F32)
      ((float *)dst)[i] = (float)src[i];
    else
      ((double *)dst)[i] = src[i];
  }
  return dst;
}

/* x in the unit's layout: int32_t tokens for a model whose input is tokens
 * (input_vocab > 0; load_part has checked they are whole numbers in range),
 * else reals of the unit's dtype. */
void *driver_x_to_model(const rnnc_model *m, const double *src, size_t count) {
  if (m->input_vocab <= 0)
    return driver_to_model(m, src, count);
  int32_t *dst = malloc(count * sizeof *dst + 1);
  if (!dst)
    return NULL;
  for (size_t i = 0; i < count; ++i)
    dst[i] = src[i] >= 0 && src[i] < (double)m->input_vocab ? (int32_t)src[i] : -1;
  return dst;
}

double driver_get(const rnnc_model *m, const void *v, size_t i) {
  return m->dtype == RNNC_F32 ? (double)((const float *)v)[i] : ((const double *)v)[i];
}

void driver_set(const rnnc_model *m, void *v, size_t i, double value) {
  if (m->dtype == RNNC_F32)
    ((float *)v)[i] = (float)value;
  else
    ((double *)v)[i] = value;
}

/* ---------------------------------------------------------------- sequence length */

/* A unit of variable length takes sequences of any length up to max_steps;
 * its arrays keep the layout of max_steps. driver_steps is the length of the data
 * at hand (0 until a file sets it). */
int driver_steps;

int driver_steps_now(const rnnc_model *m) {
  return driver_steps > 0 ? driver_steps : m->max_steps;
}

/* A part that is a sequence over the run-time length. */
int driver_is_seq(const rnnc_model *m, const rnnc_part_desc *d) {
  /* (tokens, the only input of a model that takes them: one per step) */
  int tokens = m->input_vocab > 0 && d == &m->inputs[0] && d->rank == 1;
  return m->variable_steps && (d->rank == 2 || tokens) && d->shape[0] == m->max_steps;
}

/* Reals per sample of a part at the current length. */
size_t driver_part_now(const rnnc_model *m, const rnnc_part_desc *d) {
  return driver_is_seq(m, d)
             ? (size_t)driver_steps_now(m) * (size_t)(d->rank == 2 ? d->shape[1] : 1)
             : d->size;
}

/* Copies n samples of parts between the layout of the maximum length
 * (full: per sample `full` reals, part k at its offset) and the compact
 * layout of the current length (parts one after the other). */
void driver_repack(const rnnc_model *m, const rnnc_part_desc *parts, int count, size_t full,
                   size_t n, const double *src, double *dst, int to_compact) {
  size_t compact = 0;
  for (int k = 0; k < count; ++k)
    compact += driver_part_now(m, &parts[k]);
  if (!to_compact)
    memset(dst, 0, n * full * sizeof *dst);
  for (size_t s = 0; s < n; ++s) {
    size_t at = 0;
    for (int k = 0; k < count; ++k) {
      size_t len = driver_part_now(m, &parts[k]);
      if (to_compact)
        memcpy(dst + s * compact + at, src + s * full + parts[k].offset, len * sizeof *dst);
      else
        memcpy(dst + s * full + parts[k].offset, src + s * compact + at, len * sizeof *dst);
      at += len;
    }
  }
}

/* A scratch for the current length. */
void *driver_new_scratch(const rnnc_model *m) {
  void *s = rnnc_alloc(m->scratch_bytes);
  if (s && m->set_steps(s, driver_steps_now(m)) != 0) {
    rnnc_free(s);
    return NULL;
  }
  return s;
}

/* ---------------------------------------------------------------- data files */

/* Rows [driver_rows_first, + driver_rows_count) of the files only, when
 * driver_rows_on (a process of an MPI run checks its share: driver_shard.c);
 * messages count samples from the file's first row. */
int driver_rows_on;
size_t driver_rows_first, driver_rows_count;

static int load_npy(const char *path, rnnc_array *a, char *err) {
  if (!driver_rows_on)
    return rnnc_npy_load(path, a, err, ERRLEN);
  memset(a, 0, sizeof *a);
  rnnc_npy_rows *r = rnnc_npy_rows_open(path, &a->rank, a->shape, err, ERRLEN);
  if (!r)
    return -1;
  size_t per = 1;
  for (int k = 1; k < a->rank; ++k)
    per *= a->shape[k];
  a->shape[0] = driver_rows_count;
  a->count = driver_rows_count * per;
  a->data = malloc(a->count * sizeof *a->data + 1);
  int rc = a->data
               ? rnnc_npy_rows_read(r, driver_rows_first, driver_rows_count, a->data, err, ERRLEN)
               : rnnc_io_fail(err, ERRLEN, path, "out of memory");
  rnnc_npy_rows_close(r);
  if (rc != 0)
    rnnc_array_free(a);
  return rc;
}

static void shape_text(char *buf, size_t len, const size_t *shape, int rank) {
  size_t used = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < rank && used < len; ++i)
    used += (size_t)snprintf(buf + used, len - used, i ? ", %zu" : "%zu", shape[i]);
  if (used < len)
    snprintf(buf + used, len - used, rank == 1 ? ",)" : ")");
}

/* " (t, f)": where element `index` of one sample lies in a file whose
 * per-sample shape is dims[0..rank); "" for a sample of one value. */
static void position_text(char *buf, size_t len, size_t index, const size_t *dims, int rank) {
  size_t idx[8], used = 0;
  buf[0] = '\0';
  if (rank <= 0)
    return;
  for (int k = rank - 1; k >= 0; --k) {
    size_t d = dims[k] > 0 ? dims[k] : 1;
    idx[k] = index % d;
    index /= d;
  }
  for (int k = 0; k < rank && used < len; ++k)
    used += (size_t)snprintf(buf + used, len - used, "%s%zu", k ? ", " : " (", idx[k]);
  if (used < len)
    snprintf(buf + used, len - used, ")");
}

/* The first value of a loaded array that is not finite: the file, the sample
 * and the position in it. 0 when all are finite. */
static int check_finite(const char *path, const rnnc_array *a, char *err) {
  size_t per = a->rank > 0 && a->shape[0] > 0 ? a->count / a->shape[0] : a->count;
  for (size_t i = 0; i < a->count; ++i)
    if (!isfinite(a->data[i])) {
      char pos[128];
      position_text(pos, sizeof pos, i % (per ? per : 1), a->shape + 1, a->rank - 1);
      snprintf(err, ERRLEN, "%s: sample %zu, position%s: %g is not finite", path,
               (per ? i / per : 0) + (driver_rows_on ? driver_rows_first : 0), pos,
               isnan(a->data[i]) ? fabs(a->data[i]) : a->data[i]); /* no "-nan" */
      return -1;
    }
  return 0;
}

/* Loads one input part: shape (n, *part shape) (n given when known: that of
 * `first`, the file of the main input), every value finite. */
static int load_part(const rnnc_model *m, int k, const char *path, const char *first, size_t n,
                     rnnc_array *x, char *err) {
  const rnnc_part_desc *d = &m->inputs[k];
  if (load_npy(path, x, err) != 0)
    return -1;
  if (n != 0 && x->rank >= 1 && x->shape[0] != n) {
    snprintf(err, ERRLEN, "%s has %zu samples, %s has %zu: every input needs one row per sample",
             path, x->shape[0], first, n);
    rnnc_array_free(x);
    return -1;
  }
  int ok = x->rank == d->rank + 1 && x->shape[0] > 0;
  for (int i = 0; ok && i < d->rank; ++i)
    ok = x->shape[i + 1] == (size_t)d->shape[i] ||
         (i == 0 && driver_is_seq(m, d) && x->shape[1] >= 1 && x->shape[1] <= (size_t)m->max_steps);
  if (ok && driver_is_seq(m, d))
    driver_steps = (int)x->shape[1]; /* the data's length, any up to the maximum */
  if (!ok) {
    char got[128], want[128];
    shape_text(got, sizeof got, x->shape, x->rank);
    if (n)
      snprintf(want, sizeof want, "(%zu", n);
    else
      snprintf(want, sizeof want, "(n");
    for (int i = 0; i < d->rank; ++i)
      snprintf(want + strlen(want), sizeof want - strlen(want),
               i == 0 && driver_is_seq(m, d) ? ", 1..%d" : ", %d", d->shape[i]);
    strncat(want, ")", sizeof want - strlen(want) - 1);
    snprintf(err, ERRLEN, "%s: the array has shape %s, the model takes %s", path, got, want);
    rnnc_array_free(x);
    return -1;
  }
  if (check_finite(path, x, err) != 0) {
    rnnc_array_free(x);
    return -1;
  }
  if (m->input_vocab > 0) {
    /* tokens (an Embedding's input): int32/int64 arrays, or floats holding
     * whole numbers, each a row of the table, checked here, before any work */
    size_t per = x->shape[0] > 0 ? x->count / x->shape[0] : 0;
    for (size_t i = 0; i < x->count; ++i) {
      double v = x->data[i];
      if (v != floor(v) || v < 0 || v >= (double)m->input_vocab) {
        /* (the file's sample number, in an MPI rank's share too) */
        size_t s = (per ? i / per : 0) + (driver_rows_on ? driver_rows_first : 0),
               t = per ? i % per : 0;
        if (v != floor(v))
          snprintf(err, ERRLEN,
                   "%s: sample %zu, position (%zu): %.17g is not a whole number (the model's input "
                   "is integer tokens)",
                   path, s, t, v);
        else
          snprintf(err, ERRLEN,
                   "%s: sample %zu, position (%zu): token %.17g is not in [0, %d) (the "
                   "Embedding's input_dim)",
                   path, s, t, v, m->input_vocab);
        rnnc_array_free(x);
        return -1;
      }
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- which file is which */

/* NAME=FILE of list `list` (0 --x, 1 --y, 2 --val-x, 3 --val-y) into
 * files[] by the parts' names. -1 with a message for a name the model does
 * not have, or a part given twice. */
static int named_files(const args_t *a, int list, const rnnc_part_desc *parts, int count,
                       const char *what, const char **files, char *err) {
  static const char *const keys[4] = {"x", "y", "val-x", "val-y"};
  for (int i = 0; i < a->n_named[list]; ++i) {
    const char *v = a->named[list][i], *eq = strchr(v, '=');
    size_t len = (size_t)(eq - v);
    int found = -1;
    for (int k = 0; k < count; ++k)
      if (parts[k].name && strlen(parts[k].name) == len && strncmp(parts[k].name, v, len) == 0)
        found = k;
    if (found < 0) {
      size_t used =
          (size_t)snprintf(err, ERRLEN, "--%s %s: the model has no %s '%.*s' (its %ss:", keys[list],
                           v, what, (int)len, v, what);
      for (int k = 0; k < count && used < ERRLEN; ++k)
        used += (size_t)snprintf(err + used, ERRLEN - used, "%s %s", k ? "," : "",
                                 parts[k].name ? parts[k].name : "?");
      if (used < ERRLEN)
        snprintf(err + used, ERRLEN - used, ")");
      return -1;
    }
    if (files[found]) {
      snprintf(err, ERRLEN, "--%s %s: the %s '%s' is given twice (also %s)", keys[list], v, what,
               parts[found].name, files[found]);
      return -1;
    }
    files[found] = eq + 1;
  }
  return 0;
}

/* The file of every input: --x (or --val-x) for input 0, --xK for input K,
 * NAME=FILE by name. */
static int x_files(const rnnc_model *m, const args_t *a, int val, const char **files, char *err) {
  for (int k = 0; k < m->n_inputs; ++k)
    files[k] = k == 0 ? (val ? a->val_x : a->x) : (val ? a->val_xk[k] : a->xk[k]);
  return named_files(a, val ? 2 : 0, m->inputs, m->n_inputs, "input", files, err);
}

/* The first output with a loss (the one --y names), or -1. */
static int first_loss(const rnnc_model *m) {
  for (int k = 0; k < m->n_outputs; ++k)
    if (m->losses[k].kind != RNNC_LOSS_NONE)
      return k;
  return -1;
}

/* The targets' file of every output: --y (--val-y) for the first with a
 * loss, --yK for output K, NAME=FILE by name. */
static int y_files(const rnnc_model *m, const args_t *a, int val, const char **files, char *err) {
  int first = first_loss(m);
  for (int k = 0; k < m->n_outputs; ++k)
    files[k] = val ? a->val_yk[k] : a->yk[k];
  const char *y = val ? a->val_y : a->y;
  if (y && first >= 0) {
    if (files[first]) {
      snprintf(err, ERRLEN, "--%sy and --%sy%d both give the targets of output %d",
               val ? "val-" : "", val ? "val-" : "", first, first);
      return -1;
    }
    files[first] = y;
  }
  return named_files(a, val ? 3 : 1, m->outputs, m->n_outputs, "output", files, err);
}

int driver_have_x(const args_t *a, int val) {
  if ((val ? a->val_x : a->x) || a->n_named[val ? 2 : 0] > 0)
    return 1;
  for (int k = 0; k < RNNC_MAX_INPUTS; ++k)
    if (val ? a->val_xk[k] : a->xk[k])
      return 1;
  return 0;
}

int driver_have_y(const args_t *a, int val) {
  if ((val ? a->val_y : a->y) || a->n_named[val ? 3 : 1] > 0)
    return 1;
  for (int k = 0; k < RNNC_MAX_OUTPUTS; ++k)
    if (val ? a->val_yk[k] : a->yk[k])
      return 1;
  return 0;
}

const char *driver_x_name(const args_t *a, int val) {
  const char *x = val ? a->val_x : a->x;
  if (x)
    return x;
  for (int k = 0; k < RNNC_MAX_INPUTS; ++k)
    if (val ? a->val_xk[k] : a->xk[k])
      return val ? a->val_xk[k] : a->xk[k];
  if (a->n_named[val ? 2 : 0] > 0)
    return strchr(a->named[val ? 2 : 0][0], '=') + 1;
  return "x";
}

/* ---------------------------------------------------------------- inputs and targets */

/* Loads the model's inputs (files by x_files), side by side per sample
 * (n x input_size). */
int driver_load_x(const rnnc_model *m, const args_t *a, int val, rnnc_array *x, char *err) {
  const char *files[RNNC_MAX_INPUTS];
  if (x_files(m, a, val, files, err) != 0)
    return -1;
  for (int k = 0; k < m->n_inputs; ++k)
    if (!files[k]) {
      if (m->n_inputs == 1)
        snprintf(err, ERRLEN, "give the input with --%sx FILE.npy", val ? "val-" : "");
      else if (k == 0)
        snprintf(err, ERRLEN,
                 "the model has %d inputs: give input 0 ('%s') with --%sx FILE.npy or --%sx "
                 "%s=FILE.npy",
                 m->n_inputs, m->inputs[0].name, val ? "val-" : "", val ? "val-" : "",
                 m->inputs[0].name);
      else
        snprintf(err, ERRLEN,
                 "the model has %d inputs: give input %d with --%sx%d FILE.npy (or --%sx "
                 "%s=FILE.npy)",
                 m->n_inputs, k, val ? "val-" : "", k, val ? "val-" : "", m->inputs[k].name);
      return -1;
    }
  if (load_part(m, 0, files[0], files[0], 0, x, err) != 0)
    return -1;
  size_t n = x->shape[0];
  if (m->n_inputs <= 1 && !m->variable_steps)
    return 0;
  /* the parts side by side in the compact layout, then spread to the full one */
  size_t compact = 0;
  for (int k = 0; k < m->n_inputs; ++k)
    compact += driver_part_now(m, &m->inputs[k]);
  double *packed = malloc(n * compact * sizeof *packed + 1);
  double *all = malloc(n * m->input_size * sizeof *all + 1);
  if (!packed || !all) {
    snprintf(err, ERRLEN, "out of memory");
    free(packed);
    free(all);
    rnnc_array_free(x);
    return -1;
  }
  size_t at = 0;
  for (int k = 0; k < m->n_inputs; ++k) {
    size_t len = driver_part_now(m, &m->inputs[k]);
    rnnc_array part;
    if (k > 0 && load_part(m, k, files[k], files[0], n, &part, err) != 0) {
      free(packed);
      free(all);
      rnnc_array_free(x);
      return -1;
    }
    const double *src = k == 0 ? x->data : part.data;
    for (size_t s = 0; s < n; ++s)
      memcpy(packed + s * compact + at, src + s * len, len * sizeof *packed);
    at += len;
    if (k > 0)
      rnnc_array_free(&part);
  }
  driver_repack(m, m->inputs, m->n_inputs, m->input_size, n, packed, all, 0);
  free(packed);
  free(x->data);
  x->data = all;
  x->count = n * m->input_size;
  return 0;
}

/* Output k's per-sample target shape at the data's length: the output's
 * shape, without the class axis for sparse labels. Returns the rank. */
static int target_dims(const rnnc_model *m, int k, size_t *dims) {
  const rnnc_output_desc *o = &m->outputs[k];
  int rank = o->rank;
  for (int i = 0; i < rank; ++i)
    dims[i] = (size_t)o->shape[i];
  if (driver_is_seq(m, o))
    dims[0] = (size_t)driver_steps_now(m);
  if (m->losses[k].kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && rank > 0)
    rank--;
  return rank;
}

/* Loads the targets of output k for n samples (those of x_path) into
 * `dst` (n x target_size, at the output's offset). Per sample the file
 * holds the target shape of the output, or, as Keras accepts, sparse labels
 * with a trailing axis of 1, or the same values flattened (n, values) ((n,)
 * for one value). Values finite; sparse labels integers in [0, classes). */
static int load_target(const rnnc_model *m, int k, const char *path, const char *x_path, size_t n,
                       double *dst, char *err) {
  const rnnc_loss_part *lp = &m->losses[k];
  rnnc_array y;
  if (load_npy(path, &y, err) != 0)
    return -1;
  /* targets of a sequence of the data's length: per sample that many rows */
  int seq = driver_is_seq(m, &m->outputs[k]);
  int sparse = lp->kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  size_t per =
      seq ? lp->target_size / (size_t)m->max_steps * (size_t)driver_steps_now(m) : lp->target_size;
  size_t dims[RNNC_MAX_RANK + 1];
  int rank = target_dims(m, k, dims), rc = -1;
  char which[RNNC_SERIES_NAME + 16] = "output 0";
  snprintf(which, sizeof which, "output %d ('%s')", k, m->outputs[k].name);
  if (y.rank >= 1 && y.shape[0] != n) {
    snprintf(err, ERRLEN, "%s has %zu samples, %s has %zu: x and y need one row per sample", path,
             y.shape[0], x_path, n);
    goto done;
  }
  int ok = y.rank >= 1 && y.count == n * per;
  if (ok) {
    int exact = y.rank == rank + 1, ones = sparse && y.rank == rank + 2;
    for (int i = 0; i < rank; ++i) {
      exact = exact && y.shape[i + 1] == dims[i];
      ones = ones && y.shape[i + 1] == dims[i];
    }
    ones = ones && y.shape[rank + 1] == 1;
    ok = exact || ones || y.rank == 2 || (y.rank == 1 && per == 1);
  }
  if (!ok) {
    char got[128], want[128], flat[80] = "";
    size_t full[RNNC_MAX_RANK + 2];
    full[0] = n;
    memcpy(full + 1, dims, (size_t)rank * sizeof *dims);
    shape_text(got, sizeof got, y.shape, y.rank);
    shape_text(want, sizeof want, full, rank + 1);
    if (rank >= 2) /* else the flattened form is the shape itself */
      snprintf(flat, sizeof flat, ", or (%zu, %zu) flattened", n, per);
    snprintf(err, ERRLEN, "%s: the array has shape %s; the targets of %s (%s) have shape %s%s%s",
             path, got, m->n_outputs > 1 ? which : "output 0",
             sparse ? "sparse class labels" : "one value per output value", want,
             sparse ? " (a trailing axis of 1 allowed)" : "", flat);
    goto done;
  }
  if (check_finite(path, &y, err) != 0)
    goto done;
  for (size_t i = 0; sparse && i < y.count; ++i) {
    double v = y.data[i];
    if (v != floor(v) || v < 0 || v >= (double)lp->cols) {
      char pos[128];
      /* the position in the target's own shape, whatever the file's layout */
      position_text(pos, sizeof pos, i % per, dims, rank);
      snprintf(err, ERRLEN,
               "%s: sample %zu, position%s: label %g is not a class in [0, %zu) (sparse "
               "categorical crossentropy takes class indices)",
               path, i / per + (driver_rows_on ? driver_rows_first : 0), pos, v, lp->cols);
      goto done;
    }
  }
  /* rows past the length are ignored: they stay zero */
  for (size_t s = 0; s < n; ++s)
    memcpy(dst + s * m->target_size + lp->target_offset, y.data + s * per, per * sizeof *dst);
  rc = 0;
done:
  rnnc_array_free(&y);
  return rc;
}

int driver_load_y(const rnnc_model *m, const args_t *a, int val, size_t n, rnnc_array *y,
                  char *err) {
  const char *files[RNNC_MAX_OUTPUTS];
  const char *xname = driver_x_name(a, val);
  memset(y, 0, sizeof *y);
  if (y_files(m, a, val, files, err) != 0)
    return -1;
  for (int k = 0; k < m->n_outputs; ++k) {
    if (files[k] && m->losses[k].kind == RNNC_LOSS_NONE) {
      snprintf(err, ERRLEN, "%s: output %d ('%s') has no loss, and takes no targets", files[k], k,
               m->outputs[k].name);
      return -1;
    }
    if (!files[k] && m->losses[k].kind != RNNC_LOSS_NONE) {
      if (k == first_loss(m))
        snprintf(err, ERRLEN, "give the targets with --%sy FILE.npy", val ? "val-" : "");
      else
        snprintf(err, ERRLEN,
                 "output %d ('%s') has a loss: give its targets with --%sy%d FILE.npy (or --%sy "
                 "%s=FILE.npy)",
                 k, m->outputs[k].name, val ? "val-" : "", k, val ? "val-" : "",
                 m->outputs[k].name);
      return -1;
    }
  }
  y->data = calloc(n * m->target_size + 1, sizeof *y->data);
  if (!y->data) {
    snprintf(err, ERRLEN, "out of memory");
    return -1;
  }
  y->rank = 2;
  y->shape[0] = n;
  y->shape[1] = m->target_size;
  y->count = n * m->target_size;
  for (int k = 0; k < m->n_outputs; ++k)
    if (files[k] && load_target(m, k, files[k], xname, n, y->data, err) != 0) {
      rnnc_array_free(y);
      return -1;
    }
  return 0;
}

void *driver_load_weights(const rnnc_model *m, const char *path, char *err) {
  void *p = rnnc_alloc(m->params_bytes);
  if (!p) {
    snprintf(err, ERRLEN, "out of memory");
    return NULL;
  }
  if (rnnc_weights_load(path, m, p, err, ERRLEN) != 0) {
    rnnc_free(p);
    return NULL;
  }
  /* A NaN or Inf weight would make every result NaN without a word. */
  for (int t = 0; t < m->n_tensors; ++t) {
    const rnnc_tensor_desc *d = &m->tensors[t];
    for (size_t i = 0; i < d->size; ++i) {
      double v = driver_get(m, p, d->offset + i);
      if (!isfinite(v)) {
        char pos[128];
        size_t dims[RNNC_MAX_RANK];
        for (int k = 0; k < d->rank; ++k)
          dims[k] = (size_t)d->shape[k];
        position_text(pos, sizeof pos, i, dims, d->rank);
        snprintf(err, ERRLEN, "%s: tensor '%s', position%s: %g is not finite", path, d->name, pos,
                 isnan(v) ? fabs(v) : v);
        rnnc_free(p);
        return NULL;
      }
    }
  }
  return p;
}

/* ---------------------------------------------------------------- batched calls */

/* Forward over any number of samples, model->batch at a time. */
void driver_predict_all(const rnnc_model *m, const void *p, void *scratch, const void *x, void *y,
                        size_t n) {
  size_t rs = rnnc_dtype_size(m->dtype);
  for (size_t first = 0; first < n; first += (size_t)m->batch) {
    int count = (int)(n - first < (size_t)m->batch ? n - first : (size_t)m->batch);
    m->forward(p, scratch, (const char *)x + first * m->input_size * rnnc_x_bytes(m),
               (char *)y + first * m->output_size * rs, count);
  }
}

/* A model compiled without a loss is checked through the objective
 * sum_k driver_probe(k) * y_k / n over all its outputs: a fixed, deterministic dy. */
double driver_probe(size_t k) {
  return sin(0.7 * (double)k + 0.3);
}

/* The loss over all n samples and its gradient (of the mean over every row):
 * chunks of model->batch samples, each chunk's gradient weighted by its rows. */
double driver_loss_grad_all(const rnnc_model *m, const void *p, void *scratch, const void *x,
                            const void *y, size_t n, double *grad, double *dx) {
  size_t rs = rnnc_dtype_size(m->dtype);
  void *g = rnnc_alloc(m->params_bytes);
  /* zeroed: a unit whose input is tokens writes no input gradient */
  void *chunk_dx = calloc((size_t)m->batch * m->input_size, rs);
  double loss = 0;
  if (m->loss == RNNC_LOSS_NONE) {
    rnnc_free(g);
    free(chunk_dx);
    return driver_probe_grad_all(m, p, scratch, x, n, grad, dx);
  }
  if (!g || !chunk_dx) {
    rnnc_free(g);
    free(chunk_dx);
    return NAN;
  }
  memset(grad, 0, m->n_params * sizeof *grad);
  for (size_t first = 0; first < n; first += (size_t)m->batch) {
    int count = (int)(n - first < (size_t)m->batch ? n - first : (size_t)m->batch);
    double w = (double)count / (double)n;
    if (m->set_noise != NULL) /* the masks of seed 0, step 0, as rnnc_ref_set_noise's default */
      m->set_noise(scratch, 0, 0, (long)first);
    double l =
        m->loss_grad(p, scratch, (const char *)x + first * m->input_size * rnnc_x_bytes(m),
                     (const char *)y + first * m->target_size * rs, g, chunk_dx, NULL, count);
    loss += l * w;
    for (size_t i = 0; i < m->n_params; ++i)
      grad[i] += driver_get(m, g, i) * w;
    for (size_t i = 0; i < (size_t)count * m->input_size; ++i)
      dx[first * m->input_size + i] = driver_get(m, chunk_dx, i) * w;
  }
  rnnc_free(g);
  free(chunk_dx);
  return loss;
}

double driver_probe_grad_all(const rnnc_model *m, const void *p, void *scratch, const void *x,
                             size_t n, double *grad, double *dx) {
  size_t rs = rnnc_dtype_size(m->dtype);
  void *g = rnnc_alloc(m->params_bytes);
  /* zeroed: a unit whose input is tokens writes no input gradient */
  void *chunk_dx = calloc((size_t)m->batch * m->input_size, rs);
  void *y = calloc((size_t)m->batch * m->output_size, rs);
  void *dy = malloc((size_t)m->batch * m->output_size * rs);
  size_t compact = 0; /* reals of the outputs per sample at the current length */
  for (int k = 0; k < m->n_outputs; ++k)
    compact += driver_part_now(m, &m->outputs[k]);
  double value = 0;
  if (!g || !chunk_dx || !y || !dy) {
    value = NAN;
    goto done;
  }
  memset(grad, 0, m->n_params * sizeof *grad);
  for (size_t first = 0; first < n; first += (size_t)m->batch) {
    int count = (int)(n - first < (size_t)m->batch ? n - first : (size_t)m->batch);
    size_t outs = (size_t)count * m->output_size;
    m->forward(p, scratch, (const char *)x + first * m->input_size * rnnc_x_bytes(m), y, count);
    (void)outs;
    for (int b = 0; b < count; ++b) {
      size_t at = 0;
      for (int k = 0; k < m->n_outputs; ++k) {
        const rnnc_output_desc *o = &m->outputs[k];
        size_t len = driver_part_now(m, o);
        for (size_t i = 0; i < o->size; ++i) {
          size_t full = (size_t)b * m->output_size + o->offset + i;
          /* the probe follows the compact layout; rows past the length get 0 */
          double w = i < len ? driver_probe((first + (size_t)b) * compact + at + i) / (double)n : 0;
          value += w * driver_get(m, y, full);
          driver_set(m, dy, full, w);
        }
        at += len;
      }
    }
    m->backward(p, scratch, dy, g, chunk_dx, count);
    for (size_t i = 0; i < m->n_params; ++i)
      grad[i] += driver_get(m, g, i);
    for (size_t i = 0; i < (size_t)count * m->input_size; ++i)
      dx[first * m->input_size + i] = driver_get(m, chunk_dx, i);
  }
done:
  rnnc_free(g);
  free(chunk_dx);
  free(y);
  free(dy);
  return value;
}

/* ---------------------------------------------------------------- sample and class weights */

int driver_sample_weights(const rnnc_model *m, const args_t *a, const char *x_path, size_t n,
                          void **sw, char *err) {
  *sw = NULL;
  if (a->sample_weight && a->class_weight && *a->class_weight) {
    /* keras/src/trainers/data_adapters/array_data_adapter.py refuses both */
    snprintf(err, ERRLEN,
             "--sample-weight and --class-weight cannot be used together (Keras refuses "
             "class_weight with sample_weight)");
    return -1;
  }
  if (!a->sample_weight)
    return 0;
  rnnc_array w;
  if (load_npy(a->sample_weight, &w, err) != 0)
    return -1;
  int rc = -1;
  char shape[96];
  shape_text(shape, sizeof shape, w.shape, w.rank);
  if (w.rank >= 1 && w.shape[0] != n)
    snprintf(err, ERRLEN, "%s has %zu samples, %s has %zu: one weight per sample", a->sample_weight,
             w.shape[0], x_path, n);
  else if (w.rank == 2 && w.shape[1] > 1)
    snprintf(err, ERRLEN,
             "%s has shape %s: per-timestep sample weights (samples, timesteps) are not "
             "supported; give one weight per sample, shape (%zu,)",
             a->sample_weight, shape, n);
  else if (!(w.rank == 1 || (w.rank == 2 && w.shape[1] == 1)))
    snprintf(err, ERRLEN, "%s has shape %s: sample weights have shape (%zu,)", a->sample_weight,
             shape, n);
  else {
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; ++i)
      if (!(w.data[i] >= 0 && isfinite(w.data[i]))) {
        snprintf(err, ERRLEN,
                 "%s: sample %zu has weight %g: sample weights must be finite and >= 0",
                 a->sample_weight, i, isnan(w.data[i]) ? fabs(w.data[i]) : w.data[i]);
        rc = -1;
      }
    if (rc == 0 && !(*sw = driver_to_model(m, w.data, n))) {
      snprintf(err, ERRLEN, "out of memory");
      rc = -1;
    }
  }
  rnnc_array_free(&w);
  return rc;
}
