/* A model's weights as safetensors files, one tensor per Keras weight named
 * as the descriptor names it (checkpoints, which add the optimizer state,
 * are in checkpoint.c: a program that only loads weights links no
 * optimizer). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "rnnc.h"

/* ---------------------------------------------------------------- model weights */

/* Checks a descriptor's tensors against its flat parameter vector. */
static int check_model(const char *path, const rnnc_model *model, const void *params, char *err,
                       size_t errlen) {
  int t;
  if (model == NULL)
    return rnnc_io_fail(err, errlen, path, "no model given");
  if (rnnc_dtype_size(model->dtype) == 0)
    return rnnc_io_fail(err, errlen, path, "model has an unsupported dtype %d", (int)model->dtype);
  if (model->n_tensors < 0 || (model->n_tensors > 0 && model->tensors == NULL))
    return rnnc_io_fail(err, errlen, path, "model descriptor has an invalid tensor list");
  if (model->n_params > 0 && params == NULL)
    return rnnc_io_fail(err, errlen, path, "no parameter vector given");
  for (t = 0; t < model->n_tensors; t++) {
    const rnnc_tensor_desc *d = &model->tensors[t];
    size_t elems;
    if (d->name == NULL)
      return rnnc_io_fail(err, errlen, path, "model tensor %d has no name", t);
    if (d->rank < 0 || d->rank > RNNC_MAX_RANK ||
        rnnc_io_count_elements(d->rank, d->shape, &elems) != 0 || elems != d->size)
      return rnnc_io_fail(err, errlen, path, "model tensor '%s' has an inconsistent shape",
                          d->name);
    if (d->offset > model->n_params || elems > model->n_params - d->offset)
      return rnnc_io_fail(err, errlen, path, "model tensor '%s' lies outside the %zu parameters",
                          d->name, model->n_params);
  }
  return 0;
}

int rnnc_weights_save(const char *path, const rnnc_model *model, const void *params, char *err,
                      size_t errlen) {
  rnnc_tensor_ref *refs;
  size_t es;
  int t, rc;
  if (check_model(path, model, params, err, errlen) != 0)
    return -1;
  es = rnnc_dtype_size(model->dtype);
  refs = malloc(((size_t)model->n_tensors + 1) * sizeof *refs);
  if (refs == NULL)
    return rnnc_io_fail(err, errlen, path, "out of memory");
  for (t = 0; t < model->n_tensors; t++) {
    const rnnc_tensor_desc *d = &model->tensors[t];
    refs[t].name = d->name;
    refs[t].rank = d->rank;
    memcpy(refs[t].shape, d->shape, sizeof refs[t].shape);
    refs[t].data = d->size > 0 ? (const char *)params + d->offset * es : NULL;
  }
  rc = rnnc_safetensors_write(path, model->dtype, refs, model->n_tensors, err, errlen);
  free(refs);
  return rc;
}

/* The descriptor's tensors as read requests into params; NULL when out of memory. */
static rnnc_tensor_dest *weight_requests(const rnnc_model *model, void *params) {
  size_t es = rnnc_dtype_size(model->dtype);
  rnnc_tensor_dest *dests = malloc(((size_t)model->n_tensors + 1) * sizeof *dests);
  int t;
  if (dests == NULL)
    return NULL;
  for (t = 0; t < model->n_tensors; t++) {
    const rnnc_tensor_desc *d = &model->tensors[t];
    dests[t].name = d->name;
    dests[t].rank = d->rank;
    memcpy(dests[t].shape, d->shape, sizeof dests[t].shape);
    dests[t].data = d->size > 0 ? (char *)params + d->offset * es : NULL;
  }
  return dests;
}

int rnnc_weights_load(const char *path, const rnnc_model *model, void *params, char *err,
                      size_t errlen) {
  rnnc_tensor_dest *dests;
  int rc;
  if (check_model(path, model, params, err, errlen) != 0)
    return -1;
  dests = weight_requests(model, params);
  if (dests == NULL)
    return rnnc_io_fail(err, errlen, path, "out of memory");
  rc = rnnc_safetensors_read(path, model->dtype, dests, model->n_tensors, err, errlen);
  free(dests);
  return rc;
}

int rnnc_weights_load_memory(const void *data, size_t len, const char *name,
                             const rnnc_model *model, void *params, char *err, size_t errlen) {
  rnnc_tensor_dest *dests;
  int rc;
  if (name == NULL)
    name = "(memory)";
  if (check_model(name, model, params, err, errlen) != 0)
    return -1;
  dests = weight_requests(model, params);
  if (dests == NULL)
    return rnnc_io_fail(err, errlen, name, "out of memory");
  rc = rnnc_safetensors_read_memory(data, len, name, model->dtype, dests, model->n_tensors, err,
                                    errlen);
  free(dests);
  return rc;
}
