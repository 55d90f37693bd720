/* The options of a fit by name: the model's own defaults (its compile{metrics}
 * and model:fit{...}, which the generator writes as "key=value" words into
 * rnnc_model.fit_defaults) turned into rnnc_fit_options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"

static int whole(const char *key, const char *v, int *out, char *err, size_t errlen) {
  char *end = NULL;
  long r = strtol(v, &end, 10);
  if (!*v || *end || r < 0 || r > 1000000000) {
    snprintf(err, errlen, "the model's fit defaults: %s: '%s' is not a whole number", key, v);
    return -1;
  }
  *out = (int)r;
  return 0;
}

static int real(const char *key, const char *v, double *out, char *err, size_t errlen) {
  char *end = NULL;
  double r = strtod(v, &end);
  if (!*v || *end || !isfinite(r)) {
    snprintf(err, errlen, "the model's fit defaults: %s: '%s' is not a number", key, v);
    return -1;
  }
  *out = r;
  return 0;
}

static int flag(const char *v) {
  return strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

static int mode(const char *key, const char *v, rnnc_monitor_mode *out, char *err, size_t errlen) {
  if (strcmp(v, "auto") == 0)
    *out = RNNC_MODE_AUTO;
  else if (strcmp(v, "min") == 0)
    *out = RNNC_MODE_MIN;
  else if (strcmp(v, "max") == 0)
    *out = RNNC_MODE_MAX;
  else {
    snprintf(err, errlen, "the model's fit defaults: %s: '%s' is not auto, min or max", key, v);
    return -1;
  }
  return 0;
}

/* One "key=value" word onto o; string values stay where they are (in the
 * caller's copy of the text). */
static int set(rnnc_fit_options *o, const char *key, const char *v, char *err, size_t errlen) {
  if (strcmp(key, "epochs") == 0)
    return whole(key, v, &o->epochs, err, errlen);
  if (strcmp(key, "batch-size") == 0)
    return whole(key, v, &o->batch_size, err, errlen);
  if (strcmp(key, "initial-epoch") == 0)
    return whole(key, v, &o->initial_epoch, err, errlen);
  if (strcmp(key, "verbose") == 0)
    return whole(key, v, &o->verbose, err, errlen);
  if (strcmp(key, "log-every") == 0)
    return whole(key, v, &o->log_every, err, errlen);
  if (strcmp(key, "validation-split") == 0)
    return real(key, v, &o->validation_split, err, errlen);
  if (strcmp(key, "no-shuffle") == 0)
    o->shuffle = !flag(v);
  else if (strcmp(key, "shuffle") == 0)
    o->shuffle = flag(v);
  else if (strcmp(key, "metrics") == 0)
    o->metrics = v;
  else if (strcmp(key, "weighted-metrics") == 0)
    o->weighted_metrics = v;
  else if (strcmp(key, "early-stopping") == 0)
    o->early_stopping.enabled = flag(v);
  else if (strcmp(key, "monitor") == 0)
    o->early_stopping.monitor = o->checkpoint.monitor = v;
  else if (strcmp(key, "min-delta") == 0)
    return real(key, v, &o->early_stopping.min_delta, err, errlen);
  else if (strcmp(key, "patience") == 0)
    return whole(key, v, &o->early_stopping.patience, err, errlen);
  else if (strcmp(key, "mode") == 0) {
    if (mode(key, v, &o->early_stopping.mode, err, errlen) != 0)
      return -1;
    o->checkpoint.mode = o->early_stopping.mode;
  } else if (strcmp(key, "baseline") == 0) {
    o->early_stopping.has_baseline = 1;
    return real(key, v, &o->early_stopping.baseline, err, errlen);
  } else if (strcmp(key, "restore-best-weights") == 0)
    o->early_stopping.restore_best_weights = flag(v);
  else if (strcmp(key, "checkpoint") == 0)
    o->checkpoint.path = v;
  else if (strcmp(key, "save-best-only") == 0)
    o->checkpoint.save_best_only = flag(v);
  else if (strcmp(key, "csv") == 0)
    o->csv_path = v;
  /* ReduceLROnPlateau{...} */
  else if (strcmp(key, "class-weight") == 0)
    o->class_weight = v;
  else if (strcmp(key, "reduce-lr-on-plateau") == 0)
    o->reduce_lr.enabled = flag(v);
  else if (strcmp(key, "reduce-lr-monitor") == 0)
    o->reduce_lr.monitor = v;
  else if (strcmp(key, "reduce-lr-factor") == 0)
    return real(key, v, &o->reduce_lr.factor, err, errlen);
  else if (strcmp(key, "reduce-lr-patience") == 0)
    return whole(key, v, &o->reduce_lr.patience, err, errlen);
  else if (strcmp(key, "reduce-lr-mode") == 0)
    return mode(key, v, &o->reduce_lr.mode, err, errlen);
  else if (strcmp(key, "reduce-lr-min-delta") == 0)
    return real(key, v, &o->reduce_lr.min_delta, err, errlen);
  else if (strcmp(key, "reduce-lr-cooldown") == 0)
    return whole(key, v, &o->reduce_lr.cooldown, err, errlen);
  else if (strcmp(key, "reduce-lr-min-lr") == 0)
    return real(key, v, &o->reduce_lr.min_lr, err, errlen);
  else if (strcmp(key, "reduce-lr-verbose") == 0)
    return whole(key, v, &o->reduce_lr.verbose, err, errlen);
  else {
    snprintf(err, errlen, "the model's fit defaults: unknown option '%s'", key);
    return -1;
  }
  return 0;
}

int rnnc_fit_model_defaults(const rnnc_model *m, rnnc_fit_options *o, char *text, size_t text_size,
                            char *err, size_t errlen) {
  const char *d = m != NULL && m->fit_defaults != NULL ? m->fit_defaults : "";
  *o = rnnc_fit_defaults();
  if (strlen(d) >= text_size) {
    snprintf(err, errlen, "the model's fit defaults take %zu bytes; the buffer has %zu",
             strlen(d) + 1, text_size);
    return -1;
  }
  strcpy(text, d);
  for (char *p = text; *p;) {
    size_t len = strcspn(p, " ");
    if (len == 0) {
      ++p;
      continue;
    }
    char *word = p, *eq;
    p += len;
    if (*p)
      *p++ = '\0';
    eq = strchr(word, '=');
    if (eq)
      *eq = '\0';
    if (set(o, word, eq ? eq + 1 : "1", err, errlen) != 0)
      return -1;
  }
  /* EarlyStopping in a description logs as Keras's verbose argument says */
  o->early_stopping.verbose = o->verbose > 0;
  return 0;
}
