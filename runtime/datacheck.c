/* The data checks of fit and evaluate, before any step: bad data is
 * reported by name, sample and position, never trained on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

/* " (t, f)": the position of element `index` of an array of shape dims
 * (row-major), for messages; "" for a scalar. */
static void position_text(char *buf, size_t len, size_t index, const int *dims, int rank) {
  size_t idx[RNNC_MAX_RANK], used = 0;
  buf[0] = '\0';
  if (rank <= 0)
    return;
  for (int k = rank - 1; k >= 0; --k) {
    size_t d = dims[k] > 0 ? (size_t)dims[k] : 1;
    idx[k] = index % d;
    index /= d;
  }
  for (int k = 0; k < rank && used < len; ++k)
    used += (size_t)snprintf(buf + used, len - used, "%s%zu", k ? ", " : " (", idx[k]);
  if (used < len)
    snprintf(buf + used, len - used, ")");
}

/* A value for the checks; a NaN loses its sign, which messages would print as "-nan". */
static double real_at(const ctx_t *c, const void *v, size_t i) {
  double r = c->rs == 4 ? (double)((const float *)v)[i] : ((const double *)v)[i];
  return isnan(r) ? fabs(r) : r;
}

/* A part of the inputs (or output 0) that is a sequence over the data's length. */
static int is_sequence(const rnnc_model *m, int rank, const int *shape) {
  return m->variable_steps && rank == 2 && shape[0] == m->max_steps;
}

/* The contract of the data, checked before any step so that bad data is
 * reported as such and never trained on: every input value the model reads
 * is finite, every target finite, sparse labels whole numbers in
 * [0, classes). Rows past the data's length are not read and not checked. */
int fit_check_data(const ctx_t *c, const void *x, const void *y, size_t n, const char *xname,
                   const char *yname, char *err, size_t errlen) {
  const rnnc_model *m = c->m;
  char pos[96];
  if (x == NULL || y == NULL) {
    snprintf(err, errlen, "%s: no data given", x == NULL ? xname : yname);
    return -1;
  }
  for (size_t s = 0; s < n; ++s) {
    const char *xs = (const char *)x + s * m->input_size * rnnc_x_bytes(m);
    for (int k = 0; k < (m->n_inputs > 0 ? m->n_inputs : 1); ++k) {
      const rnnc_part_desc *d = m->n_inputs > 0 ? &m->inputs[k] : NULL;
      int dims[RNNC_MAX_RANK], rank = d ? d->rank : 1;
      size_t offset = d ? d->offset : 0, count = d ? d->size : m->input_size;
      if (d) {
        memcpy(dims, d->shape, sizeof dims);
        if (is_sequence(m, d->rank, d->shape)) {
          dims[0] = c->steps;
          count = (size_t)c->steps * (size_t)d->shape[1];
        } else if (m->input_vocab > 0 && m->variable_steps && d->rank == 1 &&
                   d->shape[0] == m->max_steps) {
          dims[0] = c->steps; /* tokens: one per step */
          count = (size_t)c->steps;
        }
      } else {
        dims[0] = (int)m->input_size;
      }
      for (size_t i = 0; i < count; ++i) {
        if (m->input_vocab > 0) {
          /* tokens: each a row of the Embedding's table */
          int32_t tok = ((const int32_t *)(const void *)xs)[offset + i];
          if (tok < 0 || tok >= m->input_vocab) {
            position_text(pos, sizeof pos, i, dims, rank);
            snprintf(err, errlen,
                     "%s: sample %zu, position%s: token %ld is not in [0, %d) (the Embedding's "
                     "input_dim)",
                     xname, s, pos, (long)tok, m->input_vocab);
            return -1;
          }
          continue;
        }
        double v = real_at(c, xs, offset + i);
        if (!isfinite(v)) {
          position_text(pos, sizeof pos, i, dims, rank);
          if (m->n_inputs > 1)
            snprintf(err, errlen, "%s: sample %zu, input %d, position%s: %g is not finite", xname,
                     s, k, pos, v);
          else
            snprintf(err, errlen, "%s: sample %zu, position%s: %g is not finite", xname, s, pos, v);
          return -1;
        }
      }
    }
  }
  /* the targets of each output with a loss: its rows (at the data's length
   * for a sequence) of one label (sparse) or of the output's columns */
  for (int k = 0; k < m->n_outputs; ++k) {
    const rnnc_loss_part *lp = &m->losses[k];
    const rnnc_output_desc *o = &m->outputs[k];
    int sparse = lp->kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    int dims[RNNC_MAX_RANK], rank = o->rank;
    char yk[RNNC_SERIES_NAME + 32];
    if (lp->kind == RNNC_LOSS_NONE)
      continue;
    memcpy(dims, o->shape, sizeof dims);
    if (is_sequence(m, rank, dims))
      dims[0] = c->steps;
    if (sparse && rank > 0)
      rank--; /* a label per row: the class axis is not in the target */
    size_t per_row = lp->target_size / (lp->rows > 0 ? lp->rows : 1);
    size_t count = (is_sequence(m, o->rank, o->shape) ? (size_t)c->steps : lp->rows) * per_row;
    if (m->n_outputs > 1)
      snprintf(yk, sizeof yk, "%s (output '%s')", yname, o->name);
    else
      snprintf(yk, sizeof yk, "%s", yname);
    for (size_t s = 0; s < n; ++s) {
      const char *ys = (const char *)y + (s * m->target_size + lp->target_offset) * c->rs;
      for (size_t i = 0; i < count; ++i) {
        double v = real_at(c, ys, i);
        if (!isfinite(v) || (sparse && (v != floor(v) || v < 0 || v >= (double)lp->cols))) {
          position_text(pos, sizeof pos, i, dims, rank);
          if (!isfinite(v))
            snprintf(err, errlen, "%s: sample %zu, position%s: %g is not finite", yk, s, pos, v);
          else
            snprintf(err, errlen,
                     "%s: sample %zu, position%s: label %g is not a class in [0, %zu) (sparse "
                     "categorical crossentropy takes class indices)",
                     yk, s, pos, v, lp->cols);
          return -1;
        }
      }
    }
  }
  return 0;
}
