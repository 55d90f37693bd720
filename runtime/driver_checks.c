/* The driver's checks of a unit: diff against the reference runtime (the
 * reason the driver links librnnc_ref) and gradcheck against central
 * differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"

/* The reference runtime for the model at the current length: the spec's
 * `input T F` line rewritten to the data's length. */
static rnnc_ref *new_reference(const rnnc_model *m, char *err) {
  if (!m->variable_steps || driver_steps_now(m) == m->max_steps)
    return rnnc_ref_new(m->spec, err, ERRLEN);
  size_t len = strlen(m->spec);
  char *spec = malloc(len + 32);
  const char *line = strstr(m->spec, "\ninput ");
  if (!spec || !line) {
    free(spec);
    snprintf(err, ERRLEN, "the model's spec has no input line");
    return NULL;
  }
  /* after the length: ` F` (features), or the line's end (tokens: `input T`) */
  const char *rest = strpbrk(line + 7, " \n");
  size_t head = (size_t)(line - m->spec) + 7;
  memcpy(spec, m->spec, head);
  snprintf(spec + head, len + 32 - head, "%d%s", driver_steps_now(m), rest ? rest : "\n");
  rnnc_ref *r = rnnc_ref_new(spec, err, ERRLEN);
  free(spec);
  return r;
}

/* The same objective through the reference runtime. */
static double ref_probe_grad(rnnc_ref *ref, const double *params, const double *x, size_t n,
                             size_t out_size, double *grad, double *dx) {
  double *y = malloc(n * out_size * sizeof *y + 1), *dy = malloc(n * out_size * sizeof *dy + 1);
  double value = NAN;
  if (y && dy && rnnc_ref_forward(ref, params, x, (int)n, y) == 0) {
    value = 0;
    for (size_t i = 0; i < n * out_size; ++i) {
      dy[i] = driver_probe(i) / (double)n;
      value += dy[i] * y[i];
    }
    if (rnnc_ref_backward(ref, params, x, dy, (int)n, grad, dx) != 0)
      value = NAN;
  }
  free(y);
  free(dy);
  return value;
}

/* Largest absolute difference, and that relative to the largest magnitude
 * of the reference tensor, or to `floor` when that is larger. */
static int report(const char *name, const double *got, const double *want, size_t count, double tol,
                  double *worst, double floor) {
  double max_abs = 0, scale = floor;
  for (size_t i = 0; i < count; ++i) {
    double d = fabs(got[i] - want[i]);
    if (!(d <= max_abs))
      max_abs = d; /* NaN propagates */
    if (fabs(want[i]) > scale)
      scale = fabs(want[i]);
  }
  double rel = scale > 0 ? max_abs / scale : max_abs;
  if (!(rel <= *worst))
    *worst = rel;
  int bad = !(rel <= tol);
  printf("%-40s max abs %.3e  max rel %.3e%s\n", name, max_abs, rel, bad ? "  FAIL" : "");
  return bad;
}

int driver_cmd_diff(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!driver_need("--weights", a->weights) || !driver_need("--x", driver_have_x(a, 0) ? "" : NULL))
    return 2;
  /* The default tolerances (README, "diff's tolerances"), from measured errors
   * of correct units (the seed models, the taggers, LSTM and GRU stacks over
   * 40 to 100 steps; initial and trained weights). Outputs: float32 within
   * 1.3e-6 (a few tens of ulps), float64 about 1e-14. The loss and gradients
   * of a model trained to a near-perfect fit are another matter: the
   * residuals are small and the output's rounding a large part of them,
   * float32 up to 2.7e-3, float64 up to 1.4e-12. A gate formula changed by one
   * float32 ulp moves the gradients of such a model by 1.6e-2. */
  double tol = a->have_tol ? a->tol : (m->dtype == RNNC_F64 ? 1e-12 : 1e-5);
  double tol_grad = a->have_tol ? a->tol : (m->dtype == RNNC_F64 ? 1e-10 : 1e-2);
  rnnc_array x, y;
  int have_y = driver_have_y(a, 0);
  void *p = driver_load_weights(m, a->weights, err);
  if (!p)
    return driver_fail(err);
  if (driver_load_x(m, a, 0, &x, err) != 0) {
    rnnc_free(p);
    return driver_fail(err);
  }
  if (have_y && driver_load_y(m, a, 0, x.shape[0], &y, err) != 0) {
    rnnc_free(p);
    rnnc_array_free(&x);
    return driver_fail(err);
  }
  rnnc_ref *ref = new_reference(m, err);
  if (!ref) {
    rnnc_free(p);
    rnnc_array_free(&x);
    if (have_y)
      rnnc_array_free(&y);
    return driver_fail(err);
  }
  size_t n = x.shape[0];
  /* the reference takes and gives the compact layout of the data's length */
  size_t in_c = 0, out_c = 0;
  for (int k = 0; k < m->n_inputs; ++k)
    in_c += driver_part_now(m, &m->inputs[k]);
  for (int k = 0; k < m->n_outputs; ++k)
    out_c += driver_part_now(m, &m->outputs[k]);
  if (rnnc_ref_output_size(ref) != out_c || rnnc_ref_input_size(ref) != in_c) {
    rnnc_ref_free(ref);
    rnnc_free(p);
    rnnc_array_free(&x);
    if (have_y)
      rnnc_array_free(&y);
    return driver_fail(
        "the reference runtime's reading of the model has other input or output sizes than "
        "the unit: its spec does not describe this unit");
  }
  double *xc = malloc(n * in_c * sizeof *xc + 1), *yc = NULL;
  driver_repack(m, m->inputs, m->n_inputs, m->input_size, n, x.data, xc, 1);
  if (have_y) {
    size_t per = m->target_size;
    if (driver_is_seq(m, &m->outputs[0]))
      per = m->target_size / (size_t)m->max_steps * (size_t)driver_steps_now(m);
    yc = malloc(n * per * sizeof *yc + 1);
    for (size_t i = 0; yc && i < n; ++i)
      memcpy(yc + i * per, y.data + i * m->target_size, per * sizeof *yc);
  }
  double *pd = malloc(m->n_params * sizeof *pd);
  void *xm = driver_x_to_model(m, x.data, x.count);
  void *ym = have_y ? driver_to_model(m, y.data, y.count) : NULL;
  void *out = malloc(n * m->output_size * rnnc_dtype_size(m->dtype) + 1);
  double *out_d = malloc(n * m->output_size * sizeof *out_d + 1);
  double *ref_out = malloc(n * out_c * sizeof *ref_out + 1);
  double *out_cd = malloc(n * out_c * sizeof *out_cd + 1);
  double *dxc = malloc(n * in_c * sizeof *dxc + 1);
  void *scratch = driver_new_scratch(m);
  double *g = malloc(m->n_params * sizeof *g), *rg = malloc(m->n_params * sizeof *rg);
  double *dx = malloc(x.count * sizeof *dx), *rdx = malloc(x.count * sizeof *rdx);
  int bad = 0, rc = 0;
  double worst = 0, worst_grad = 0;
  if (!pd || !xm || (have_y && (!ym || !yc)) || !out || !out_d || !ref_out || !scratch || !g ||
      !rg || !dx || !rdx || !xc || !out_cd || !dxc) {
    rc = driver_fail("out of memory");
    goto done;
  }
  for (size_t i = 0; i < m->n_params; ++i)
    pd[i] = driver_get(m, p, i);
  if (tol_grad == tol)
    printf("%s (%s) against the reference runtime, %zu samples, tolerance %.1e relative\n", m->name,
           m->dtype == RNNC_F64 ? "float64" : "float32", n, tol);
  else
    printf("%s (%s) against the reference runtime, %zu samples, tolerance %.1e relative for the "
           "output, %.1e for the loss and gradients\n",
           m->name, m->dtype == RNNC_F64 ? "float64" : "float32", n, tol, tol_grad);
  driver_predict_all(m, p, scratch, xm, out, n);
  for (size_t i = 0; i < n * m->output_size; ++i)
    out_d[i] = driver_get(m, out, i);
  if (rnnc_ref_forward(ref, pd, xc, (int)n, ref_out) != 0) {
    rc = driver_fail("the reference runtime failed (out of memory)");
    goto done;
  }
  driver_repack(m, m->outputs, m->n_outputs, m->output_size, n, out_d, out_cd, 1);
  bad |= report("output", out_cd, ref_out, n * out_c, tol, &worst, 0);
  if (have_y || m->loss == RNNC_LOSS_NONE) {
    double loss, rloss;
    /* A unit that normalises with the batch's statistics (BatchNormalization)
     * trains on one call of at most its batch: the loss and gradients of more
     * samples, in chunks, are not those of one batch of all of them. */
    size_t ng = n;
    if (m->update_stats != NULL && n > (size_t)m->batch) {
      ng = (size_t)m->batch;
      printf("loss and gradients of the first %zu samples: %s normalises with the statistics of "
             "one call of its batch (BatchNormalization)\n",
             ng, m->name);
    } else if (m->masked_loss && n > (size_t)m->batch) {
      /* Keras's masked loss divides by the unmasked steps of the batch */
      ng = (size_t)m->batch;
      printf("loss and gradients of the first %zu samples: %s's masked loss is divided by the "
             "unmasked steps of one call of its batch (Masking)\n",
             ng, m->name);
    }
    if (m->loss == RNNC_LOSS_NONE) {
      printf("no loss compiled: gradients of sum(dy * y) / n for a fixed dy\n");
      loss = driver_probe_grad_all(m, p, scratch, xm, ng, g, dx);
      rloss = ref_probe_grad(ref, pd, xc, ng, out_c, rg, rdx);
    } else {
      loss = driver_loss_grad_all(m, p, scratch, xm, ym, ng, g, dx);
      rloss = rnnc_ref_loss_grad(ref, pd, xc, yc, (int)ng, rg, rdx, NULL);
    }
    bad |= report("loss", &loss, &rloss, 1, tol_grad, &worst_grad, 0);
    /* A gradient tensor is compared relative to the larger of its own
     * largest magnitude and 1e-4 of the largest gradient of all: a gradient
     * that vanishes exactly (a bias before BatchNormalization in training,
     * whose batch mean takes it out again) is rounding noise on both sides. */
    double floor = 0;
    for (size_t i = 0; i < m->n_params; ++i)
      floor = fmax(floor, fabs(rg[i]));
    for (size_t i = 0; i < ng * in_c; ++i)
      floor = fmax(floor, fabs(rdx[i]));
    floor *= 1e-4;
    for (int i = 0; i < m->n_tensors; ++i) {
      const rnnc_tensor_desc *t = &m->tensors[i];
      char name[160];
      snprintf(name, sizeof name, "d %s", t->name);
      bad |= report(name, g + t->offset, rg + t->offset, t->size, tol_grad, &worst_grad, floor);
    }
    /* (tokens, an Embedding's input, have no gradient) */
    if (m->input_vocab <= 0) {
      driver_repack(m, m->inputs, m->n_inputs, m->input_size, ng, dx, dxc, 1);
      bad |= report("d input", dxc, rdx, ng * in_c, tol_grad, &worst_grad, floor);
    }
  }
  if (tol_grad == tol)
    printf("%s: worst relative difference %.3e (tolerance %.1e)\n", bad ? "FAIL" : "OK",
           fmax(worst, worst_grad), tol);
  else
    printf("%s: worst relative difference %.3e of the output (tolerance %.1e), %.3e of the loss "
           "and gradients (tolerance %.1e)\n",
           bad ? "FAIL" : "OK", worst, tol, worst_grad, tol_grad);
  rc = bad ? 1 : 0;
done:
  rnnc_ref_free(ref);
  rnnc_free(p);
  free(pd);
  free(xm);
  free(ym);
  free(out);
  free(out_d);
  free(ref_out);
  free(out_cd);
  free(dxc);
  free(xc);
  free(yc);
  rnnc_free(scratch);
  free(g);
  free(rg);
  free(dx);
  free(rdx);
  rnnc_array_free(&x);
  if (have_y)
    rnnc_array_free(&y);
  return rc;
}

/* The mask_value of every Masking layer of the spec (at most max of them). */
static int masking_values(const rnnc_model *m, double *v, int max) {
  int n = 0;
  const char *at = m->spec;
  while (n < max && (at = strstr(at, "\nlayer Masking ")) != NULL) {
    const char *key = strstr(at, " mask_value=");
    const char *eol = strchr(at + 1, '\n');
    at += 1;
    if (key == NULL || (eol != NULL && key > eol))
      continue;
    v[n++] = strtod(key + 12, NULL);
  }
  return n;
}

/* Central differences of the loss for every weight and input element. */
int driver_cmd_gradcheck(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  int with_y = m->loss != RNNC_LOSS_NONE; /* else: the sum(dy * y) objective */
  if (!driver_need("--weights", a->weights) ||
      !driver_need("--x", driver_have_x(a, 0) ? "" : NULL) ||
      (with_y && !driver_need("--y", driver_have_y(a, 0) ? "" : NULL)))
    return 2;
  if (m->dtype != RNNC_F64)
    return driver_fail("gradcheck needs a float64 model (generate with --dtype float64)");
  double tol = a->have_tol ? a->tol : 1e-6;
  rnnc_array x, y;
  void *p = driver_load_weights(m, a->weights, err);
  if (!p)
    return driver_fail(err);
  if (driver_load_x(m, a, 0, &x, err) != 0) {
    rnnc_free(p);
    return driver_fail(err);
  }
  memset(&y, 0, sizeof y);
  if (with_y && driver_load_y(m, a, 0, x.shape[0], &y, err) != 0) {
    rnnc_free(p);
    rnnc_array_free(&x);
    return driver_fail(err);
  }
  size_t n = x.shape[0];
  /* (tokens, an Embedding's input, have no gradient: not checked) */
  const int tokens = m->input_vocab > 0;
  void *xm = driver_x_to_model(m, x.data, x.count);
  double *ym = driver_to_model(m, y.data, y.count);
  void *scratch = driver_new_scratch(m);
  double *g = malloc(m->n_params * sizeof *g), *dx = malloc(x.count * sizeof *dx);
  double *g2 = malloc(m->n_params * sizeof *g2), *dx2 = malloc(x.count * sizeof *dx2);
  int rc = 0;
  if (!xm || !ym || !scratch || !g || !dx || !g2 || !dx2) {
    rc = driver_fail("out of memory");
    goto done;
  }
  /* The entries checked: all of a tensor of at most `per` entries, else
   * `per` of them spread evenly over it from a seeded offset (every tensor
   * is sampled, the input as one more). */
  const int per = a->have_sample ? a->sample : 64;
  size_t total = 0, checked = 0, done_entries = 0;
  /* A frozen tensor (a layer with trainable=false, BatchNormalization's
   * moving statistics) has no gradient by definition: not checked. */
  size_t frozen = 0;
  for (int t = 0; t <= m->n_tensors - tokens; ++t) {
    size_t size = t < m->n_tensors ? m->tensors[t].size : x.count;
    if (t < m->n_tensors && m->tensors[t].frozen) {
      frozen += size;
      continue;
    }
    total += size;
    checked += per > 0 && size > (size_t)per ? (size_t)per : size;
  }
  rnnc_rng rng;
  rnnc_rng_seed(&rng, a->seed);
  clock_t started = clock();
  driver_loss_grad_all(m, p, scratch, xm, ym, n, g, dx);
  double one = (double)(clock() - started) / CLOCKS_PER_SEC; /* one loss and gradient */
  fprintf(stderr, "gradcheck: %zu of %zu entries (%s per tensor), 2 losses each: about %.0f s\n",
          checked, total, per > 0 ? "at most --sample" : "all", 2.0 * (double)checked * one);
  if (frozen > 0)
    fprintf(stderr, "gradcheck: %zu weights of non-trainable tensors (no gradient) not checked\n",
            frozen);
  const double h = 1e-6;
  double worst = 0, last_report = 0;
  /* An input entry within h of a Masking layer's mask_value may switch its
   * step's mask (a step function: no derivative there): not checked. */
  double mask_values[8];
  int n_mask_values = masking_values(m, mask_values, 8);
  size_t on_mask = 0;
  /* |analytic - numeric| relative to max(|analytic|, |numeric|, 1e-3): the
   * floor keeps rounding noise on near-zero gradients from dominating. */
  for (int t = 0; t <= m->n_tensors - tokens; ++t) {
    int is_input = t == m->n_tensors;
    if (!is_input && m->tensors[t].frozen)
      continue;
    size_t offset = is_input ? 0 : m->tensors[t].offset;
    size_t size = is_input ? x.count : m->tensors[t].size;
    size_t count = per > 0 && size > (size_t)per ? (size_t)per : size;
    double u = count < size ? rnnc_rng_uniform(&rng) : 0;
    for (size_t k = 0; k < count; ++k) {
      size_t i =
          offset + (count < size ? (size_t)(((double)k + u) * (double)size / (double)count) : k);
      double *value = is_input ? &((double *)xm)[i] : NULL;
      double keep = is_input ? *value : driver_get(m, p, i), analytic = is_input ? dx[i] : g[i];
      int skip = 0;
      for (int v = 0; is_input && v < n_mask_values; ++v)
        if (fabs(keep - mask_values[v]) <= h)
          skip = 1;
      if (skip) {
        ++on_mask;
        ++done_entries;
        continue;
      }
      if (is_input)
        *value = keep + h;
      else
        driver_set(m, p, i, keep + h);
      double lp = driver_loss_grad_all(m, p, scratch, xm, ym, n, g2, dx2);
      if (is_input)
        *value = keep - h;
      else
        driver_set(m, p, i, keep - h);
      double lm = driver_loss_grad_all(m, p, scratch, xm, ym, n, g2, dx2);
      if (is_input)
        *value = keep;
      else
        driver_set(m, p, i, keep);
      double num = (lp - lm) / (2 * h);
      double scale = fmax(fmax(fabs(num), fabs(analytic)), 1e-3);
      double e = fabs(num - analytic) / scale;
      if (!(e <= worst))
        worst = e;
      ++done_entries;
      double elapsed = (double)(clock() - started) / CLOCKS_PER_SEC;
      if (elapsed - last_report >= 10 && done_entries < checked) {
        last_report = elapsed;
        fprintf(stderr, "gradcheck: %zu/%zu entries, %.0f s, about %.0f s left\n", done_entries,
                checked, elapsed,
                elapsed / (double)done_entries * (double)(checked - done_entries));
      }
    }
  }
  if (tokens)
    printf("(the input is integer tokens: no input gradient)\n");
  if (on_mask > 0)
    fprintf(stderr,
            "gradcheck: %zu input entries at a Masking layer's mask_value (where the mask is "
            "a step) not checked\n",
            on_mask);
  printf("%s: %zu weights and %zu inputs, worst relative error %.3e (tolerance %.1e; %zu entries "
         "checked%s)\n",
         worst <= tol ? "OK" : "FAIL", m->n_params, x.count, worst, tol, checked,
         checked < total ? ", --sample 0 checks all" : "");
  rc = worst <= tol ? 0 : 1;
done:
  rnnc_free(p);
  free(xm);
  free(ym);
  rnnc_free(scratch);
  free(g);
  free(dx);
  free(g2);
  free(dx2);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  return rc;
}
