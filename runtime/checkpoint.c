/* Training checkpoints: the weights and the optimizer state (its update
 * count and slots) in one safetensors file, and that state's allocation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"

int rnnc_optimizer_state_init(rnnc_optimizer_state *s, const rnnc_model *m,
                              const rnnc_optimizer *opt) {
  s->iterations = 0;
  s->learning_rate = 0;
  s->n_slots = rnnc_optimizer_slots(opt, m->n_params);
  s->slots = calloc(s->n_slots + 1, rnnc_dtype_size(m->dtype));
  return s->slots ? 0 : -1;
}

void rnnc_optimizer_state_free(rnnc_optimizer_state *s) {
  if (!s)
    return;
  free(s->slots);
  s->slots = NULL;
  s->n_slots = 0;
  s->iterations = 0;
  s->learning_rate = 0;
}

static const char *const ITERATIONS = "optimizer/iterations";
static const char *const SLOTS = "optimizer/slots";
/* ReduceLROnPlateau's rate: Keras's optimizer saves its learning_rate
 * variable with its other variables (keras/src/optimizers/base_optimizer.py
 * save_own_variables), so a resumed run continues with the reduced rate */
static const char *const LEARNING_RATE = "optimizer/learning_rate";

int rnnc_checkpoint_save(const char *path, const rnnc_model *m, const void *params,
                         const rnnc_optimizer_state *state, char *err, size_t errlen) {
  if (!state)
    return rnnc_weights_save(path, m, params, err, errlen);
  size_t rs = rnnc_dtype_size(m->dtype);
  if (state->n_slots > 0x7fffffff) {
    snprintf(err, errlen, "%s: the optimizer state is too large", path);
    return -1;
  }
  rnnc_tensor_ref *refs = malloc(((size_t)m->n_tensors + 3) * sizeof *refs);
  double it64 = (double)state->iterations, lr64 = state->learning_rate;
  float it32 = (float)state->iterations, lr32 = (float)state->learning_rate;
  int n_refs = m->n_tensors + 2;
  if (!refs) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  for (int t = 0; t < m->n_tensors; ++t) {
    const rnnc_tensor_desc *d = &m->tensors[t];
    refs[t].name = d->name;
    refs[t].rank = d->rank;
    memcpy(refs[t].shape, d->shape, sizeof refs[t].shape);
    refs[t].data = d->size > 0 ? (const char *)params + d->offset * rs : NULL;
  }
  rnnc_tensor_ref *it = &refs[m->n_tensors], *sl = &refs[m->n_tensors + 1];
  memset(it, 0, 2 * sizeof *it);
  it->name = ITERATIONS;
  it->rank = 1;
  it->shape[0] = 1;
  it->data = m->dtype == RNNC_F32 ? (const void *)&it32 : (const void *)&it64;
  sl->name = SLOTS;
  sl->rank = 1;
  sl->shape[0] = (int)state->n_slots;
  sl->data = state->n_slots ? state->slots : NULL;
  if (state->learning_rate > 0) {
    rnnc_tensor_ref *lr = &refs[n_refs++];
    memset(lr, 0, sizeof *lr);
    lr->name = LEARNING_RATE;
    lr->rank = 1;
    lr->shape[0] = 1;
    lr->data = m->dtype == RNNC_F32 ? (const void *)&lr32 : (const void *)&lr64;
  }
  int rc = rnnc_safetensors_write(path, m->dtype, refs, n_refs, err, errlen);
  free(refs);
  return rc;
}

int rnnc_checkpoint_load_state(const char *path, const rnnc_model *m, rnnc_optimizer_state *state,
                               char *err, size_t errlen) {
  double it64 = 0;
  float it32 = 0;
  rnnc_tensor_dest d[2];
  memset(d, 0, sizeof d);
  d[0].name = ITERATIONS;
  d[0].rank = 1;
  d[0].shape[0] = 1;
  d[0].data = m->dtype == RNNC_F32 ? (void *)&it32 : (void *)&it64;
  if (rnnc_safetensors_read(path, m->dtype, d, 1, err, errlen) != 0)
    return strstr(err, "is not in the file") ? 0 : -1;
  d[1].name = SLOTS;
  d[1].rank = 1;
  d[1].shape[0] = (int)state->n_slots;
  d[1].data = state->n_slots ? state->slots : NULL;
  if (rnnc_safetensors_read(path, m->dtype, &d[1], 1, err, errlen) != 0) {
    size_t used = strlen(err);
    snprintf(err + used, errlen - used,
             " (the optimizer state was saved for another optimizer, which needs a different "
             "number of slots than %zu)",
             state->n_slots);
    return -1;
  }
  double it = m->dtype == RNNC_F32 ? (double)it32 : it64;
  if (!(it >= 0 && it < 9e15 && it == floor(it))) {
    snprintf(err, errlen, "%s: %s is %g, not a count of updates", path, ITERATIONS, it);
    return -1;
  }
  state->iterations = (long)it;
  /* the learning rate ReduceLROnPlateau set, when the file has one */
  double lr64 = 0;
  float lr32 = 0;
  rnnc_tensor_dest l;
  memset(&l, 0, sizeof l);
  l.name = LEARNING_RATE;
  l.rank = 1;
  l.shape[0] = 1;
  l.data = m->dtype == RNNC_F32 ? (void *)&lr32 : (void *)&lr64;
  state->learning_rate = 0;
  if (rnnc_safetensors_read(path, m->dtype, &l, 1, err, errlen) != 0) {
    if (!strstr(err, "is not in the file"))
      return -1;
    err[0] = '\0';
    return 1;
  }
  double lr = m->dtype == RNNC_F32 ? (double)lr32 : lr64;
  if (!(lr > 0 && isfinite(lr))) {
    snprintf(err, errlen, "%s: %s is %g, not a learning rate", path, LEARNING_RATE, lr);
    return -1;
  }
  state->learning_rate = lr;
  return 1;
}
