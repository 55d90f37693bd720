/* The driver every generated model links: rnnc_main() implements the
 * subcommands init, summary, predict, grad, fit, evaluate, diff, gradcheck and
 * sample over the model's descriptor, so one program per model serves every
 * use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"
#include "rnnc_ref.h"

#define ERRLEN 512

/* Optimizer fields the command line can override. */
enum {
  OV_LEARNING_RATE,
  OV_MOMENTUM,
  OV_BETA_1,
  OV_BETA_2,
  OV_EPSILON,
  OV_RHO,
  OV_WEIGHT_DECAY,
  OV_INITIAL_ACCUMULATOR_VALUE,
  OV_CLIPNORM,
  OV_CLIPVALUE,
  OV_GLOBAL_CLIPNORM,
  OV_DECAY_STEPS,
  OV_DECAY_RATE,
  OV_NESTEROV,
  OV_AMSGRAD,
  OV_CENTERED,
  OV_STAIRCASE,
  OV_LEGACY_EPSILON,
  OV_COUNT
};
static const char *const OV_NAMES[OV_COUNT] = {
    "learning-rate", "momentum",      "beta-1",          "beta-2",
    "epsilon",       "rho",           "weight-decay",    "initial-accumulator-value",
    "clipnorm",      "clipvalue",     "global-clipnorm", "decay-steps",
    "decay-rate",    "nesterov",      "amsgrad",         "centered",
    "staircase",     "legacy-epsilon"};
#define OV_FIRST_FLAG OV_NESTEROV

typedef struct {
  const char *weights, *x, *y, *out;
  const char *xk[RNNC_MAX_INPUTS]; /* --x1 ... : inputs after the main one */
  const char *val_x, *val_y;
  const char *val_xk[RNNC_MAX_INPUTS];
  int epochs, batch_size, verbose, log_every, shuffle, n, steps;
  int have_batch_size;
  uint64_t seed;
  double tol;
  int have_tol;
  /* fit and evaluate */
  int initial_epoch;
  double validation_split;
  const char *metrics;
  int early_stopping, patience, restore_best_weights, start_from_epoch, has_baseline;
  const char *monitor;
  double min_delta, baseline;
  rnnc_monitor_mode mode;
  const char *checkpoint, *checkpoint_monitor;
  int save_best_only, have_checkpoint_mode;
  rnnc_monitor_mode checkpoint_mode;
  const char *csv, *plot;
  int csv_append, resume;
  rnnc_optimizer_kind opt_kind; /* 0: the model's */
  double ov[OV_COUNT];
  int ov_set[OV_COUNT];
  char defaults_buf[4096]; /* the model's fit defaults, split into tokens */
} args_t;

static int usage(const rnnc_model *m) {
  fprintf(
      stderr,
      "usage: %s init --seed S --out W.safetensors\n"
      "       %s summary\n"
      "       %s predict --weights W --x X.npy --out Y.npy\n"
      "       %s grad --weights W --x X.npy --y Y.npy --out G.safetensors\n"
      "       %s fit --weights W --x X.npy --y Y.npy --epochs E --batch-size B [--seed S]\n"
      "              [--verbose 0|1|2] [--log-every N] [--no-shuffle] [--initial-epoch N]\n"
      "              [--validation-split F | --val-x X --val-y Y] [--metrics accuracy,mae,...]\n"
      "              [--early-stopping [--monitor NAME] [--patience N] [--min-delta D]\n"
      "               [--mode auto|min|max] [--baseline B] [--restore-best-weights]\n"
      "               [--start-from-epoch N]]\n"
      "              [--checkpoint PATH [--save-best-only] [--checkpoint-monitor NAME]\n"
      "               [--checkpoint-mode auto|min|max]] [--csv PATH [--csv-append]]\n"
      "              [--plot PATH.svg] [--resume]\n"
      "              [--optimizer sgd|adam|rmsprop|adamw|adagrad] [--learning-rate LR]\n"
      "              [--momentum M] [--nesterov] [--beta-1 B] [--beta-2 B] [--epsilon E]\n"
      "              [--rho R] [--centered] [--amsgrad] [--weight-decay W]\n"
      "              [--initial-accumulator-value V] [--clipnorm C] [--clipvalue C]\n"
      "              [--global-clipnorm C] [--decay-steps S --decay-rate R [--staircase]]\n"
      "              --out W2.safetensors\n"
      "       %s evaluate --weights W --x X.npy --y Y.npy [--batch-size B] [--metrics ...]\n"
      "       %s diff --weights W --x X.npy [--y Y.npy] [--tol T]\n"
      "       %s gradcheck --weights W --x X.npy --y Y.npy [--tol T]   (float64 models)\n"
      "       %s sample [--seed S] [--n N] --x X.npy [--y Y.npy]   (random data of the model's "
      "shapes)\n"
      "Options also read --key=value; the model's fit defaults (from its description) come\n"
      "before the command line.\n",
      m->name, m->name, m->name, m->name, m->name, m->name, m->name, m->name, m->name);
  return 2;
}

static int fail(const char *msg) {
  fprintf(stderr, "error: %s\n", msg);
  return 1;
}

static void args_init(args_t *a) {
  memset(a, 0, sizeof *a);
  a->epochs = 1;
  a->batch_size = 32;
  a->verbose = 1;
  a->log_every = 1;
  a->shuffle = 1;
  a->mode = RNNC_MODE_AUTO;
}

static int is_flag(const char *key) {
  static const char *const flags[] = {
      "no-shuffle",     "shuffle", "early-stopping", "restore-best-weights",
      "save-best-only", "resume",  "csv-append"};
  for (size_t i = 0; i < sizeof flags / sizeof *flags; ++i)
    if (strcmp(key, flags[i]) == 0)
      return 1;
  for (int i = OV_FIRST_FLAG; i < OV_COUNT; ++i)
    if (strcmp(key, OV_NAMES[i]) == 0)
      return 1;
  return 0;
}

static int parse_int(const char *where, const char *key, const char *v, long lo, long hi,
                     int *out) {
  char *end = NULL;
  long r = strtol(v, &end, 10);
  if (!*v || (end && *end) || r < lo || r > hi) {
    fprintf(stderr, "error: %s--%s: '%s' is not a whole number in [%ld, %ld]\n", where, key, v, lo,
            hi);
    return -1;
  }
  *out = (int)r;
  return 0;
}

static int parse_real(const char *where, const char *key, const char *v, double *out) {
  char *end = NULL;
  double r = strtod(v, &end);
  if (!*v || (end && *end) || !isfinite(r)) {
    fprintf(stderr, "error: %s--%s: '%s' is not a number\n", where, key, v);
    return -1;
  }
  *out = r;
  return 0;
}

/* One option: key without dashes ('_' read as '-'), value (flags: "1"/"0",
 * or NULL for "1"). `where` prefixes messages ("" or the fit defaults). */
static int set_option(args_t *a, const char *key_in, const char *v, const char *where) {
  char key[64];
  snprintf(key, sizeof key, "%s", key_in);
  for (char *c = key; *c; ++c)
    if (*c == '_')
      *c = '-';
  if (is_flag(key)) {
    int on = 1;
    if (v && strcmp(v, "1") != 0 && strcmp(v, "true") != 0) {
      if (strcmp(v, "0") != 0 && strcmp(v, "false") != 0) {
        fprintf(stderr, "error: %s--%s is a flag: its value is 0 or 1, not '%s'\n", where, key, v);
        return -1;
      }
      on = 0;
    }
    if (strcmp(key, "no-shuffle") == 0)
      a->shuffle = !on;
    else if (strcmp(key, "shuffle") == 0)
      a->shuffle = on;
    else if (strcmp(key, "early-stopping") == 0)
      a->early_stopping = on;
    else if (strcmp(key, "restore-best-weights") == 0)
      a->restore_best_weights = on;
    else if (strcmp(key, "save-best-only") == 0)
      a->save_best_only = on;
    else if (strcmp(key, "resume") == 0)
      a->resume = on;
    else if (strcmp(key, "csv-append") == 0)
      a->csv_append = on;
    else
      for (int i = OV_FIRST_FLAG; i < OV_COUNT; ++i)
        if (strcmp(key, OV_NAMES[i]) == 0) {
          a->ov[i] = on;
          a->ov_set[i] = 1;
        }
    return 0;
  }
  if (!v) {
    fprintf(stderr, "error: %s--%s needs a value\n", where, key);
    return -1;
  }
  for (int i = 0; i < OV_FIRST_FLAG; ++i)
    if (strcmp(key, OV_NAMES[i]) == 0) {
      a->ov_set[i] = 1;
      return parse_real(where, key, v, &a->ov[i]);
    }
  if (strcmp(key, "weights") == 0)
    a->weights = v;
  else if (strcmp(key, "x") == 0)
    a->x = v;
  else if (key[0] == 'x' && key[1] >= '1' && key[1] < '0' + RNNC_MAX_INPUTS && !key[2])
    a->xk[key[1] - '0'] = v;
  else if (strcmp(key, "val-x") == 0)
    a->val_x = v;
  else if (strncmp(key, "val-x", 5) == 0 && key[5] >= '1' && key[5] < '0' + RNNC_MAX_INPUTS &&
           !key[6])
    a->val_xk[key[5] - '0'] = v;
  else if (strcmp(key, "y") == 0)
    a->y = v;
  else if (strcmp(key, "val-y") == 0)
    a->val_y = v;
  else if (strcmp(key, "out") == 0)
    a->out = v;
  else if (strcmp(key, "seed") == 0) {
    char *end = NULL;
    a->seed = strtoull(v, &end, 10);
    if (!*v || *end || *v == '-') {
      fprintf(stderr, "error: %s--seed: '%s' is not a number\n", where, v);
      return -1;
    }
  } else if (strcmp(key, "epochs") == 0)
    return parse_int(where, key, v, 0, 1000000000, &a->epochs);
  else if (strcmp(key, "batch-size") == 0) {
    a->have_batch_size = 1;
    return parse_int(where, key, v, 1, 1000000000, &a->batch_size);
  } else if (strcmp(key, "verbose") == 0)
    return parse_int(where, key, v, 0, 2, &a->verbose);
  else if (strcmp(key, "n") == 0)
    return parse_int(where, key, v, 0, 1000000000, &a->n);
  else if (strcmp(key, "steps") == 0)
    return parse_int(where, key, v, 0, 1000000000, &a->steps);
  else if (strcmp(key, "log-every") == 0)
    return parse_int(where, key, v, 0, 1000000000, &a->log_every);
  else if (strcmp(key, "initial-epoch") == 0)
    return parse_int(where, key, v, 0, 1000000000, &a->initial_epoch);
  else if (strcmp(key, "patience") == 0)
    return parse_int(where, key, v, 0, 1000000000, &a->patience);
  else if (strcmp(key, "start-from-epoch") == 0)
    return parse_int(where, key, v, 0, 1000000000, &a->start_from_epoch);
  else if (strcmp(key, "tol") == 0) {
    a->have_tol = 1;
    return parse_real(where, key, v, &a->tol);
  } else if (strcmp(key, "validation-split") == 0) {
    if (parse_real(where, key, v, &a->validation_split) != 0)
      return -1;
    if (!(a->validation_split >= 0 && a->validation_split < 1)) {
      fprintf(stderr, "error: %s--validation-split: %s is outside [0, 1)\n", where, v);
      return -1;
    }
  } else if (strcmp(key, "min-delta") == 0)
    return parse_real(where, key, v, &a->min_delta);
  else if (strcmp(key, "baseline") == 0) {
    a->has_baseline = 1;
    return parse_real(where, key, v, &a->baseline);
  } else if (strcmp(key, "monitor") == 0)
    a->monitor = v;
  else if (strcmp(key, "metrics") == 0)
    a->metrics = v;
  else if (strcmp(key, "checkpoint-monitor") == 0)
    a->checkpoint_monitor = v;
  else if (strcmp(key, "mode") == 0 || strcmp(key, "checkpoint-mode") == 0) {
    rnnc_monitor_mode mode;
    if (strcmp(v, "auto") == 0)
      mode = RNNC_MODE_AUTO;
    else if (strcmp(v, "min") == 0)
      mode = RNNC_MODE_MIN;
    else if (strcmp(v, "max") == 0)
      mode = RNNC_MODE_MAX;
    else {
      fprintf(stderr, "error: %s--%s: '%s' is not auto, min or max\n", where, key, v);
      return -1;
    }
    if (strcmp(key, "mode") == 0)
      a->mode = mode;
    else {
      a->checkpoint_mode = mode;
      a->have_checkpoint_mode = 1;
    }
  } else if (strcmp(key, "checkpoint") == 0)
    a->checkpoint = v;
  else if (strcmp(key, "csv") == 0)
    a->csv = v;
  else if (strcmp(key, "plot") == 0)
    a->plot = v;
  else if (strcmp(key, "optimizer") == 0) {
    static const char *const names[] = {"sgd", "adam", "rmsprop", "adamw", "adagrad"};
    static const rnnc_optimizer_kind kinds[] = {RNNC_OPT_SGD, RNNC_OPT_ADAM, RNNC_OPT_RMSPROP,
                                                RNNC_OPT_ADAMW, RNNC_OPT_ADAGRAD};
    char lower[32];
    size_t i = 0;
    for (; v[i] && i + 1 < sizeof lower; ++i)
      lower[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] - 'A' + 'a' : v[i]);
    lower[i] = '\0';
    a->opt_kind = (rnnc_optimizer_kind)0;
    for (i = 0; i < sizeof names / sizeof *names; ++i)
      if (strcmp(lower, names[i]) == 0)
        a->opt_kind = kinds[i];
    if (!a->opt_kind) {
      fprintf(stderr, "error: %s--optimizer: '%s' is not sgd, adam, rmsprop, adamw or adagrad\n",
              where, v);
      return -1;
    }
  } else {
    fprintf(stderr, "error: %sunknown option --%s\n", where, key);
    return -1;
  }
  return 0;
}

/* The model's fit defaults: "key=value" tokens separated by spaces, split in
 * a copy kept in args_t (the values point into it). */
static int apply_defaults(args_t *a, const char *defaults) {
  if (!defaults || !*defaults)
    return 0;
  if (strlen(defaults) >= sizeof a->defaults_buf) {
    fprintf(stderr, "error: the model's fit defaults are too long\n");
    return -1;
  }
  strcpy(a->defaults_buf, defaults);
  char *p = a->defaults_buf;
  while (*p) {
    size_t len = strcspn(p, " \t\n");
    if (len == 0) {
      ++p;
      continue;
    }
    char *token = p, *next = p[len] ? p + len + 1 : p + len;
    token[len] = '\0';
    p = next;
    char *eq = strchr(token, '=');
    if (eq)
      *eq = '\0';
    if (set_option(a, token, eq ? eq + 1 : NULL, "the model's fit defaults: ") != 0)
      return -1;
  }
  return 0;
}

static int parse_args(int argc, char **argv, args_t *a, const char *defaults) {
  args_init(a);
  if (apply_defaults(a, defaults) != 0)
    return -1;
  for (int i = 2; i < argc; ++i) {
    const char *k = argv[i];
    if (strncmp(k, "--", 2) != 0) {
      fprintf(stderr, "error: unexpected argument '%s'\n", k);
      return -1;
    }
    char key[64];
    const char *eq = strchr(k + 2, '=');
    size_t klen = eq ? (size_t)(eq - (k + 2)) : strlen(k + 2);
    if (klen >= sizeof key) {
      fprintf(stderr, "error: unknown option %s\n", k);
      return -1;
    }
    memcpy(key, k + 2, klen);
    key[klen] = '\0';
    const char *v = NULL;
    if (eq)
      v = eq + 1;
    else if (!is_flag(key) && i + 1 < argc)
      v = argv[++i];
    if (set_option(a, key, v, "") != 0)
      return -1;
  }
  return 0;
}

static int need(const char *what, const char *value) {
  if (!value) {
    fprintf(stderr, "error: this command needs %s\n", what);
    return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------- conversions */

static void *to_model(const rnnc_model *m, const double *src, size_t count) {
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

static double get(const rnnc_model *m, const void *v, size_t i) {
  return m->dtype == RNNC_F32 ? (double)((const float *)v)[i] : ((const double *)v)[i];
}

static void set(const rnnc_model *m, void *v, size_t i, double value) {
  if (m->dtype == RNNC_F32)
    ((float *)v)[i] = (float)value;
  else
    ((double *)v)[i] = value;
}

/* ---------------------------------------------------------------- sequence length */

/* A unit of variable length takes sequences of any length up to max_steps;
 * its arrays keep the layout of max_steps. g_steps is the length of the data
 * at hand (0 until a file sets it). */
static int g_steps;

static int steps_now(const rnnc_model *m) {
  return g_steps > 0 ? g_steps : m->max_steps;
}

/* A part that is a sequence over the run-time length. */
static int is_seq(const rnnc_model *m, const rnnc_part_desc *d) {
  return m->variable_steps && d->rank == 2 && d->shape[0] == m->max_steps;
}

/* Reals per sample of a part at the current length. */
static size_t part_now(const rnnc_model *m, const rnnc_part_desc *d) {
  return is_seq(m, d) ? (size_t)steps_now(m) * (size_t)d->shape[1] : d->size;
}

/* Copies n samples of parts between the layout of the maximum length
 * (full: per sample `full` reals, part k at its offset) and the compact
 * layout of the current length (parts one after the other). */
static void repack(const rnnc_model *m, const rnnc_part_desc *parts, int count, size_t full,
                   size_t n, const double *src, double *dst, int to_compact) {
  size_t compact = 0;
  for (int k = 0; k < count; ++k)
    compact += part_now(m, &parts[k]);
  if (!to_compact)
    memset(dst, 0, n * full * sizeof *dst);
  for (size_t s = 0; s < n; ++s) {
    size_t at = 0;
    for (int k = 0; k < count; ++k) {
      size_t len = part_now(m, &parts[k]);
      if (to_compact)
        memcpy(dst + s * compact + at, src + s * full + parts[k].offset, len * sizeof *dst);
      else
        memcpy(dst + s * full + parts[k].offset, src + s * compact + at, len * sizeof *dst);
      at += len;
    }
  }
}

/* A scratch for the current length. */
static void *new_scratch(const rnnc_model *m) {
  void *s = calloc(1, m->scratch_bytes);
  if (s && m->set_steps(s, steps_now(m)) != 0) {
    free(s);
    return NULL;
  }
  return s;
}

/* The reference runtime for the model at the current length: the spec's
 * `input T F` line rewritten to the data's length. */
static rnnc_ref *new_reference(const rnnc_model *m, char *err) {
  if (!m->variable_steps || steps_now(m) == m->max_steps)
    return rnnc_ref_new(m->spec, err, ERRLEN);
  size_t len = strlen(m->spec);
  char *spec = malloc(len + 32);
  const char *line = strstr(m->spec, "\ninput ");
  if (!spec || !line) {
    free(spec);
    snprintf(err, ERRLEN, "the model's spec has no input line");
    return NULL;
  }
  const char *rest = strchr(line + 7, ' '); /* after the length */
  size_t head = (size_t)(line - m->spec) + 7;
  memcpy(spec, m->spec, head);
  snprintf(spec + head, len + 32 - head, "%d%s", steps_now(m), rest ? rest : "\n");
  rnnc_ref *r = rnnc_ref_new(spec, err, ERRLEN);
  free(spec);
  return r;
}

/* ---------------------------------------------------------------- data files */

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
      snprintf(err, ERRLEN, "%s: sample %zu, position%s: %g is not finite", path, per ? i / per : 0,
               pos, isnan(a->data[i]) ? fabs(a->data[i]) : a->data[i]); /* no "-nan" */
      return -1;
    }
  return 0;
}

/* Loads one input part: shape (n, *part shape) (n given when known: that of
 * `first`, the file of the main input), every value finite. */
static int load_part(const rnnc_model *m, int k, const char *path, const char *first, size_t n,
                     rnnc_array *x, char *err) {
  const rnnc_part_desc *d = &m->inputs[k];
  if (rnnc_npy_load(path, x, err, ERRLEN) != 0)
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
         (i == 0 && is_seq(m, d) && x->shape[1] >= 1 && x->shape[1] <= (size_t)m->max_steps);
  if (ok && is_seq(m, d))
    g_steps = (int)x->shape[1]; /* the data's length, any up to the maximum */
  if (!ok) {
    char got[128], want[128];
    shape_text(got, sizeof got, x->shape, x->rank);
    if (n)
      snprintf(want, sizeof want, "(%zu", n);
    else
      snprintf(want, sizeof want, "(n");
    for (int i = 0; i < d->rank; ++i)
      snprintf(want + strlen(want), sizeof want - strlen(want),
               i == 0 && is_seq(m, d) ? ", 1..%d" : ", %d", d->shape[i]);
    strncat(want, ")", sizeof want - strlen(want) - 1);
    snprintf(err, ERRLEN, "%s: the array has shape %s, the model takes %s", path, got, want);
    rnnc_array_free(x);
    return -1;
  }
  if (check_finite(path, x, err) != 0) {
    rnnc_array_free(x);
    return -1;
  }
  return 0;
}

/* Loads the model's inputs: --x for the main input, --x1, --x2, ... for the
 * initial states; x receives them side by side per sample (n x input_size). */
static int load_x(const rnnc_model *m, const args_t *a, rnnc_array *x, char *err) {
  if (load_part(m, 0, a->x, a->x, 0, x, err) != 0)
    return -1;
  size_t n = x->shape[0];
  if (m->n_inputs <= 1 && !m->variable_steps)
    return 0;
  /* the parts side by side in the compact layout, then spread to the full one */
  size_t compact = 0;
  for (int k = 0; k < m->n_inputs; ++k)
    compact += part_now(m, &m->inputs[k]);
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
    size_t len = part_now(m, &m->inputs[k]);
    rnnc_array part;
    if (k > 0) {
      if (!a->xk[k]) {
        snprintf(err, ERRLEN, "the model has %d inputs: give input %d with --x%d FILE.npy",
                 m->n_inputs, k, k);
        free(packed);
        free(all);
        rnnc_array_free(x);
        return -1;
      }
      if (load_part(m, k, a->xk[k], a->x, n, &part, err) != 0) {
        free(packed);
        free(all);
        rnnc_array_free(x);
        return -1;
      }
    }
    const double *src = k == 0 ? x->data : part.data;
    for (size_t s = 0; s < n; ++s)
      memcpy(packed + s * compact + at, src + s * len, len * sizeof *packed);
    at += len;
    if (k > 0)
      rnnc_array_free(&part);
  }
  repack(m, m->inputs, m->n_inputs, m->input_size, n, packed, all, 0);
  free(packed);
  free(x->data);
  x->data = all;
  x->count = n * m->input_size;
  return 0;
}

/* Output 0's per-sample target shape at the data's length: the output's
 * shape, without the class axis for sparse labels. Returns the rank. */
static int target_dims(const rnnc_model *m, size_t *dims) {
  const rnnc_output_desc *o = &m->outputs[0];
  int rank = o->rank;
  for (int i = 0; i < rank; ++i)
    dims[i] = (size_t)o->shape[i];
  if (is_seq(m, o))
    dims[0] = (size_t)steps_now(m);
  if (m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && rank > 0)
    rank--;
  return rank;
}

/* Loads the training target for n samples (those of x_path). Per sample
 * the file holds the target shape of output 0, or, as Keras accepts, sparse
 * labels with a trailing axis of 1, or the same values flattened (n, values)
 * ((n,) for one value). Values finite; sparse labels integers in [0, classes). */
static int load_y(const rnnc_model *m, const char *path, const char *x_path, size_t n,
                  rnnc_array *y, char *err) {
  if (rnnc_npy_load(path, y, err, ERRLEN) != 0)
    return -1;
  /* targets of a sequence of the data's length: per sample that many rows */
  int seq = is_seq(m, &m->outputs[0]);
  int sparse = m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  size_t per = seq ? m->target_size / (size_t)m->max_steps * (size_t)steps_now(m) : m->target_size;
  size_t dims[RNNC_MAX_RANK + 1];
  int rank = target_dims(m, dims);
  if (y->rank >= 1 && y->shape[0] != n) {
    snprintf(err, ERRLEN, "%s has %zu samples, %s has %zu: x and y need one row per sample", path,
             y->shape[0], x_path, n);
    rnnc_array_free(y);
    return -1;
  }
  int ok = y->rank >= 1 && y->count == n * per;
  if (ok) {
    int exact = y->rank == rank + 1, ones = sparse && y->rank == rank + 2;
    for (int i = 0; i < rank; ++i) {
      exact = exact && y->shape[i + 1] == dims[i];
      ones = ones && y->shape[i + 1] == dims[i];
    }
    ones = ones && y->shape[rank + 1] == 1;
    ok = exact || ones || y->rank == 2 || (y->rank == 1 && per == 1);
  }
  if (!ok) {
    char got[128], want[128], flat[80] = "";
    size_t full[RNNC_MAX_RANK + 2];
    full[0] = n;
    memcpy(full + 1, dims, (size_t)rank * sizeof *dims);
    shape_text(got, sizeof got, y->shape, y->rank);
    shape_text(want, sizeof want, full, rank + 1);
    if (rank >= 2) /* else the flattened form is the shape itself */
      snprintf(flat, sizeof flat, ", or (%zu, %zu) flattened", n, per);
    snprintf(err, ERRLEN,
             "%s: the array has shape %s; the targets of output 0 (%s) have shape %s%s%s", path,
             got, sparse ? "sparse class labels" : "one value per output value", want,
             sparse ? " (a trailing axis of 1 allowed)" : "", flat);
    rnnc_array_free(y);
    return -1;
  }
  if (check_finite(path, y, err) != 0) {
    rnnc_array_free(y);
    return -1;
  }
  size_t classes = m->output_cols;
  for (size_t i = 0; sparse && i < y->count; ++i) {
    double v = y->data[i];
    if (v != floor(v) || v < 0 || v >= (double)classes) {
      char pos[128];
      /* the position in the target's own shape, whatever the file's layout */
      position_text(pos, sizeof pos, i % per, dims, rank);
      snprintf(err, ERRLEN,
               "%s: sample %zu, position%s: label %g is not a class in [0, %zu) (sparse "
               "categorical crossentropy takes class indices)",
               path, i / per, pos, v, classes);
      rnnc_array_free(y);
      return -1;
    }
  }
  if (per != m->target_size) { /* rows past the length are ignored: pad with zeros */
    double *full = calloc(n * m->target_size + 1, sizeof *full);
    if (!full) {
      snprintf(err, ERRLEN, "out of memory");
      rnnc_array_free(y);
      return -1;
    }
    for (size_t s = 0; s < n; ++s)
      memcpy(full + s * m->target_size, y->data + s * per, per * sizeof *full);
    free(y->data);
    y->data = full;
    y->count = n * m->target_size;
  }
  return 0;
}

static void *load_weights(const rnnc_model *m, const char *path, char *err) {
  void *p = calloc(1, m->params_bytes);
  if (!p) {
    snprintf(err, ERRLEN, "out of memory");
    return NULL;
  }
  if (rnnc_weights_load(path, m, p, err, ERRLEN) != 0) {
    free(p);
    return NULL;
  }
  /* A NaN or Inf weight would make every result NaN without a word. */
  for (int t = 0; t < m->n_tensors; ++t) {
    const rnnc_tensor_desc *d = &m->tensors[t];
    for (size_t i = 0; i < d->size; ++i) {
      double v = get(m, p, d->offset + i);
      if (!isfinite(v)) {
        char pos[128];
        size_t dims[RNNC_MAX_RANK];
        for (int k = 0; k < d->rank; ++k)
          dims[k] = (size_t)d->shape[k];
        position_text(pos, sizeof pos, i, dims, d->rank);
        snprintf(err, ERRLEN, "%s: tensor '%s', position%s: %g is not finite", path, d->name, pos,
                 isnan(v) ? fabs(v) : v);
        free(p);
        return NULL;
      }
    }
  }
  return p;
}

/* ---------------------------------------------------------------- batched calls */

/* Forward over any number of samples, model->batch at a time. */
static void predict_all(const rnnc_model *m, const void *p, void *scratch, const void *x, void *y,
                        size_t n) {
  size_t rs = rnnc_dtype_size(m->dtype);
  for (size_t first = 0; first < n; first += (size_t)m->batch) {
    int count = (int)(n - first < (size_t)m->batch ? n - first : (size_t)m->batch);
    m->forward(p, scratch, (const char *)x + first * m->input_size * rs,
               (char *)y + first * m->output_size * rs, count);
  }
}

/* A model compiled without a loss is checked through the objective
 * sum_k probe(k) * y_k / n over all its outputs: a fixed, deterministic dy. */
static double probe(size_t k) {
  return sin(0.7 * (double)k + 0.3);
}

static double probe_grad_all(const rnnc_model *m, const void *p, void *scratch, const void *x,
                             size_t n, double *grad, double *dx);

/* The loss over all n samples and its gradient (of the mean over every row):
 * chunks of model->batch samples, each chunk's gradient weighted by its rows. */
static double loss_grad_all(const rnnc_model *m, const void *p, void *scratch, const void *x,
                            const void *y, size_t n, double *grad, double *dx) {
  size_t rs = rnnc_dtype_size(m->dtype);
  void *g = malloc(m->params_bytes);
  void *chunk_dx = malloc((size_t)m->batch * m->input_size * rs);
  double loss = 0;
  if (m->loss == RNNC_LOSS_NONE) {
    free(g);
    free(chunk_dx);
    return probe_grad_all(m, p, scratch, x, n, grad, dx);
  }
  if (!g || !chunk_dx) {
    free(g);
    free(chunk_dx);
    return NAN;
  }
  memset(grad, 0, m->n_params * sizeof *grad);
  for (size_t first = 0; first < n; first += (size_t)m->batch) {
    int count = (int)(n - first < (size_t)m->batch ? n - first : (size_t)m->batch);
    double w = (double)count / (double)n;
    double l =
        m->loss_grad(p, scratch, (const char *)x + first * m->input_size * rs,
                     (const char *)y + first * m->target_size * rs, g, chunk_dx, NULL, count);
    loss += l * w;
    for (size_t i = 0; i < m->n_params; ++i)
      grad[i] += get(m, g, i) * w;
    for (size_t i = 0; i < (size_t)count * m->input_size; ++i)
      dx[first * m->input_size + i] = get(m, chunk_dx, i) * w;
  }
  free(g);
  free(chunk_dx);
  return loss;
}

static double probe_grad_all(const rnnc_model *m, const void *p, void *scratch, const void *x,
                             size_t n, double *grad, double *dx) {
  size_t rs = rnnc_dtype_size(m->dtype);
  void *g = malloc(m->params_bytes);
  void *chunk_dx = malloc((size_t)m->batch * m->input_size * rs);
  void *y = calloc((size_t)m->batch * m->output_size, rs);
  void *dy = malloc((size_t)m->batch * m->output_size * rs);
  size_t compact = 0; /* reals of the outputs per sample at the current length */
  for (int k = 0; k < m->n_outputs; ++k)
    compact += part_now(m, &m->outputs[k]);
  double value = 0;
  if (!g || !chunk_dx || !y || !dy) {
    value = NAN;
    goto done;
  }
  memset(grad, 0, m->n_params * sizeof *grad);
  for (size_t first = 0; first < n; first += (size_t)m->batch) {
    int count = (int)(n - first < (size_t)m->batch ? n - first : (size_t)m->batch);
    size_t outs = (size_t)count * m->output_size;
    m->forward(p, scratch, (const char *)x + first * m->input_size * rs, y, count);
    (void)outs;
    for (int b = 0; b < count; ++b) {
      size_t at = 0;
      for (int k = 0; k < m->n_outputs; ++k) {
        const rnnc_output_desc *o = &m->outputs[k];
        size_t len = part_now(m, o);
        for (size_t i = 0; i < o->size; ++i) {
          size_t full = (size_t)b * m->output_size + o->offset + i;
          /* the probe follows the compact layout; rows past the length get 0 */
          double w = i < len ? probe((first + (size_t)b) * compact + at + i) / (double)n : 0;
          value += w * get(m, y, full);
          set(m, dy, full, w);
        }
        at += len;
      }
    }
    m->backward(p, scratch, dy, g, chunk_dx, count);
    for (size_t i = 0; i < m->n_params; ++i)
      grad[i] += get(m, g, i);
    for (size_t i = 0; i < (size_t)count * m->input_size; ++i)
      dx[first * m->input_size + i] = get(m, chunk_dx, i);
  }
done:
  free(g);
  free(chunk_dx);
  free(y);
  free(dy);
  return value;
}

/* The same objective through the reference runtime. */
static double ref_probe_grad(rnnc_ref *ref, const double *params, const double *x, size_t n,
                             size_t out_size, double *grad, double *dx) {
  double *y = malloc(n * out_size * sizeof *y + 1), *dy = malloc(n * out_size * sizeof *dy + 1);
  double value = NAN;
  if (y && dy && rnnc_ref_forward(ref, params, x, (int)n, y) == 0) {
    value = 0;
    for (size_t i = 0; i < n * out_size; ++i) {
      dy[i] = probe(i) / (double)n;
      value += dy[i] * y[i];
    }
    if (rnnc_ref_backward(ref, params, x, dy, (int)n, grad, dx) != 0)
      value = NAN;
  }
  free(y);
  free(dy);
  return value;
}

/* ---------------------------------------------------------------- commands */

static int cmd_init(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!need("--out", a->out))
    return 2;
  void *p = calloc(1, m->params_bytes);
  if (!p)
    return fail("out of memory");
  m->init(p, a->seed);
  int rc = rnnc_weights_save(a->out, m, p, err, sizeof err);
  free(p);
  if (rc != 0)
    return fail(err);
  printf("wrote %s: %zu parameters of %s, seed %llu\n", a->out, m->n_params, m->name,
         (unsigned long long)a->seed);
  return 0;
}

/* `path` for k = 0, else <path without .npy>_k.npy. */
static void numbered_path(char *name, size_t len, const char *path, int k) {
  size_t n = strlen(path);
  if (k == 0)
    snprintf(name, len, "%s", path);
  else if (n > 4 && strcmp(path + n - 4, ".npy") == 0)
    snprintf(name, len, "%.*s_%d.npy", (int)(n - 4), path, k);
  else
    snprintf(name, len, "%s_%d", path, k);
}

/* Writes output 0 to `path` and output k > 0 to <path without .npy>_k.npy. */
static int save_outputs(const rnnc_model *m, const char *path, const void *y, size_t n) {
  char err[ERRLEN], name[1024];
  size_t rs = rnnc_dtype_size(m->dtype);
  for (int k = 0; k < m->n_outputs; ++k) {
    const rnnc_output_desc *o = &m->outputs[k];
    size_t shape[RNNC_MAX_RANK + 1], len = part_now(m, o);
    char *part = malloc(n * len * rs + 1);
    if (!part)
      return fail("out of memory");
    for (size_t s = 0; s < n; ++s)
      memcpy(part + s * len * rs, (const char *)y + (s * m->output_size + o->offset) * rs,
             len * rs);
    shape[0] = n;
    for (int i = 0; i < o->rank; ++i)
      shape[i + 1] = (size_t)o->shape[i];
    if (is_seq(m, o))
      shape[1] = (size_t)steps_now(m);
    numbered_path(name, sizeof name, path, k);
    int rc = rnnc_npy_save(name, m->dtype, o->rank + 1, shape, part, err, sizeof err);
    free(part);
    if (rc != 0)
      return fail(err);
    printf("wrote %s: %zu predictions of output %d\n", name, n, k);
  }
  return 0;
}

/* Shows the first predictions: each output row, and its argmax when the
 * model classifies (softmax / sparse crossentropy). */
static void print_predictions(const rnnc_model *m, const void *y, size_t n) {
  size_t rows = is_seq(m, &m->outputs[0]) ? (size_t)steps_now(m) : m->output_rows;
  size_t cols = m->output_cols, stride = m->output_size;
  int classify = m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  size_t shown = n < 10 ? n : 10;
  for (size_t s = 0; s < shown; ++s) {
    printf("sample %zu:", s);
    for (size_t r = 0; r < rows; ++r) {
      printf(" [");
      for (size_t c = 0; c < cols && c < 16; ++c)
        printf(c ? " %.4f" : "%.4f", get(m, y, s * stride + r * cols + c));
      printf(cols > 16 ? " ...]" : "]");
    }
    if (classify) {
      printf("  argmax [");
      for (size_t r = 0; r < rows; ++r) {
        size_t best = 0;
        for (size_t c = 1; c < cols; ++c)
          if (get(m, y, s * stride + r * cols + c) > get(m, y, s * stride + r * cols + best))
            best = c;
        printf(r ? ",%zu" : "%zu", best);
      }
      printf("]");
    }
    printf("\n");
  }
  if (shown < n)
    printf("... (%zu more)\n", n - shown);
}

static int cmd_predict(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!need("--weights", a->weights) || !need("--x", a->x) || !need("--out", a->out))
    return 2;
  rnnc_array x;
  void *p = load_weights(m, a->weights, err);
  if (!p)
    return fail(err);
  if (load_x(m, a, &x, err) != 0) {
    free(p);
    return fail(err);
  }
  size_t n = x.shape[0];
  void *xm = to_model(m, x.data, x.count);
  void *y = malloc(n * m->output_size * rnnc_dtype_size(m->dtype));
  void *scratch = new_scratch(m);
  int rc = 0;
  if (!xm || !y || !scratch) {
    rc = fail("out of memory");
  } else {
    predict_all(m, p, scratch, xm, y, n);
    rc = save_outputs(m, a->out, y, n);
    if (rc == 0)
      print_predictions(m, y, n);
  }
  free(p);
  free(xm);
  free(y);
  free(scratch);
  rnnc_array_free(&x);
  return rc;
}

static void print_tensor(const char *name, const double *v, size_t count) {
  double norm = 0;
  for (size_t i = 0; i < count; ++i)
    norm += v[i] * v[i];
  printf("%-40s norm %.6e:", name, sqrt(norm));
  size_t shown = count <= 12 ? count : 8;
  for (size_t i = 0; i < shown; ++i)
    printf(" %.9g", v[i]);
  if (shown < count)
    printf(" ... (%zu values)", count);
  printf("\n");
}

static int cmd_grad(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!need("--weights", a->weights) || !need("--x", a->x) || !need("--y", a->y) ||
      !need("--out", a->out))
    return 2;
  rnnc_array x, y;
  void *p = load_weights(m, a->weights, err);
  if (!p)
    return fail(err);
  if (load_x(m, a, &x, err) != 0) {
    free(p);
    return fail(err);
  }
  if (load_y(m, a->y, a->x, x.shape[0], &y, err) != 0) {
    free(p);
    rnnc_array_free(&x);
    return fail(err);
  }
  size_t n = x.shape[0];
  void *xm = to_model(m, x.data, x.count), *ym = to_model(m, y.data, y.count);
  void *scratch = new_scratch(m);
  double *grad = malloc(m->n_params * sizeof *grad), *dx = malloc(x.count * sizeof *dx);
  int rc = 0;
  if (!xm || !ym || !scratch || !grad || !dx) {
    rc = fail("out of memory");
    goto done;
  }
  double loss = loss_grad_all(m, p, scratch, xm, ym, n, grad, dx);
  printf("loss %.17g\n", loss);
  rnnc_tensor_ref refs[64 + RNNC_MAX_INPUTS];
  int count = m->n_tensors < 64 ? m->n_tensors : 64;
  for (int i = 0; i < count; ++i) {
    const rnnc_tensor_desc *t = &m->tensors[i];
    print_tensor(t->name, grad + t->offset, t->size);
    refs[i].name = t->name;
    refs[i].rank = t->rank;
    memcpy(refs[i].shape, t->shape, sizeof refs[i].shape);
    refs[i].data = grad + t->offset;
  }
  /* input gradients, one tensor per input: "input", "input_1", ... */
  static const char *names[RNNC_MAX_INPUTS] = {"input",   "input_1", "input_2", "input_3",
                                               "input_4", "input_5", "input_6", "input_7"};
  double *parts = malloc(x.count * sizeof *parts + 1);
  if (!parts) {
    rc = fail("out of memory");
    goto done;
  }
  size_t at = 0;
  for (int k = 0; k < m->n_inputs && k < RNNC_MAX_INPUTS; ++k) {
    const rnnc_part_desc *d = &m->inputs[k];
    for (size_t s = 0; s < n; ++s)
      memcpy(parts + at + s * d->size, dx + s * m->input_size + d->offset, d->size * sizeof *dx);
    print_tensor(names[k], parts + at, n * d->size);
    rnnc_tensor_ref *r = &refs[count + k];
    r->name = names[k];
    r->rank = d->rank + 1 <= RNNC_MAX_RANK ? d->rank + 1 : RNNC_MAX_RANK;
    memset(r->shape, 0, sizeof r->shape);
    r->shape[0] = (int)n;
    for (int i = 0; i < d->rank && i + 1 < RNNC_MAX_RANK; ++i)
      r->shape[i + 1] = d->shape[i];
    r->data = parts + at;
    at += n * d->size;
  }
  int wrc = rnnc_safetensors_write(a->out, RNNC_F64, refs, count + m->n_inputs, err, sizeof err);
  free(parts);
  if (wrc != 0)
    rc = fail(err);
  else
    printf("wrote %s\n", a->out);
done:
  free(p);
  free(xm);
  free(ym);
  free(scratch);
  free(grad);
  free(dx);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  return rc;
}

/* The optimizer of a fit: --optimizer (Keras's defaults for that kind) or the
 * model's compiled one, then the field overrides. */
static rnnc_optimizer fit_optimizer(const rnnc_model *m, const args_t *a) {
  rnnc_optimizer o = a->opt_kind ? rnnc_optimizer_default(a->opt_kind) : m->optimizer;
  for (int i = 0; i < OV_COUNT; ++i) {
    if (!a->ov_set[i])
      continue;
    double v = a->ov[i];
    switch (i) {
    case OV_LEARNING_RATE:
      o.learning_rate = v;
      break;
    case OV_MOMENTUM:
      o.momentum = v;
      break;
    case OV_BETA_1:
      o.beta_1 = v;
      break;
    case OV_BETA_2:
      o.beta_2 = v;
      break;
    case OV_EPSILON:
      o.epsilon = v;
      break;
    case OV_RHO:
      o.rho = v;
      break;
    case OV_WEIGHT_DECAY:
      o.weight_decay = v;
      break;
    case OV_INITIAL_ACCUMULATOR_VALUE:
      o.initial_accumulator_value = v;
      break;
    case OV_CLIPNORM:
      o.clipnorm = v;
      break;
    case OV_CLIPVALUE:
      o.clipvalue = v;
      break;
    case OV_GLOBAL_CLIPNORM:
      o.global_clipnorm = v;
      break;
    case OV_DECAY_STEPS:
      o.decay_steps = v;
      break;
    case OV_DECAY_RATE:
      o.decay_rate = v;
      break;
    case OV_NESTEROV:
      o.nesterov = v != 0;
      break;
    case OV_AMSGRAD:
      o.amsgrad = v != 0;
      break;
    case OV_CENTERED:
      o.centered = v != 0;
      break;
    case OV_STAIRCASE:
      o.staircase = v != 0;
      break;
    case OV_LEGACY_EPSILON:
      o.legacy_epsilon = v != 0;
      break;
    }
  }
  return o;
}

static int cmd_fit(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!need("--weights", a->weights) || !need("--x", a->x) || !need("--y", a->y) ||
      !need("--out", a->out))
    return 2;
  if ((a->val_x != NULL) != (a->val_y != NULL))
    return fail("validation data needs both --val-x and --val-y");
  rnnc_array x, y, vx, vy;
  memset(&vx, 0, sizeof vx);
  memset(&vy, 0, sizeof vy);
  void *p = load_weights(m, a->weights, err);
  if (!p)
    return fail(err);
  if (load_x(m, a, &x, err) != 0) {
    free(p);
    return fail(err);
  }
  if (load_y(m, a->y, a->x, x.shape[0], &y, err) != 0) {
    free(p);
    rnnc_array_free(&x);
    return fail(err);
  }
  int steps = steps_now(m), rc = 0;
  void *xm = NULL, *ym = NULL, *vxm = NULL, *vym = NULL;
  rnnc_optimizer_state state;
  rnnc_history h;
  memset(&state, 0, sizeof state);
  memset(&h, 0, sizeof h);
  if (a->val_x) {
    args_t va = *a;
    va.x = a->val_x;
    memcpy(va.xk, a->val_xk, sizeof va.xk);
    if (load_x(m, &va, &vx, err) != 0 ||
        load_y(m, a->val_y, a->val_x, vx.shape[0], &vy, err) != 0) {
      rc = fail(err);
      goto done;
    }
    if (steps_now(m) != steps) {
      snprintf(err, sizeof err,
               "%s: the validation sequences have length %d, the training sequences %d", a->val_x,
               steps_now(m), steps);
      rc = fail(err);
      goto done;
    }
    vxm = to_model(m, vx.data, vx.count);
    vym = to_model(m, vy.data, vy.count);
  }
  xm = to_model(m, x.data, x.count);
  ym = to_model(m, y.data, y.count);
  if (!xm || !ym || (a->val_x && (!vxm || !vym))) {
    rc = fail("out of memory");
    goto done;
  }
  rnnc_fit_options o = rnnc_fit_defaults();
  o.epochs = a->epochs;
  o.batch_size = a->batch_size;
  o.seed = a->seed;
  o.shuffle = a->shuffle;
  o.verbose = a->verbose;
  o.log_every = a->log_every;
  o.initial_epoch = a->initial_epoch;
  o.steps = steps;
  o.validation_split = a->validation_split;
  if (a->val_x) {
    o.val_x = vxm;
    o.val_y = vym;
    o.val_n = vx.shape[0];
  }
  o.optimizer = fit_optimizer(m, a);
  o.metrics = a->metrics;
  o.early_stopping.enabled = a->early_stopping;
  o.early_stopping.monitor = a->monitor;
  o.early_stopping.min_delta = a->min_delta;
  o.early_stopping.patience = a->patience;
  o.early_stopping.mode = a->mode;
  o.early_stopping.has_baseline = a->has_baseline;
  o.early_stopping.baseline = a->baseline;
  o.early_stopping.restore_best_weights = a->restore_best_weights;
  o.early_stopping.start_from_epoch = a->start_from_epoch;
  o.early_stopping.verbose = a->verbose > 0;
  o.checkpoint.path = a->checkpoint;
  /* ModelCheckpoint: its own monitor and mode, else those of --monitor/--mode */
  o.checkpoint.monitor = a->checkpoint_monitor ? a->checkpoint_monitor : a->monitor;
  o.checkpoint.save_best_only = a->save_best_only;
  o.checkpoint.mode = a->have_checkpoint_mode ? a->checkpoint_mode : a->mode;
  o.csv_path = a->csv;
  o.csv_append = a->csv_append;
  o.plot_path = a->plot;
  if (rnnc_optimizer_state_init(&state, m, &o.optimizer) != 0) {
    rc = fail("out of memory");
    goto done;
  }
  if (a->resume) {
    int r = rnnc_checkpoint_load_state(a->weights, m, &state, err, sizeof err);
    if (r < 0) {
      rc = fail(err);
      goto done;
    }
    if (r == 0)
      printf("%s holds no optimizer state: the optimizer starts afresh\n", a->weights);
    else
      printf("resuming from %s: %ld optimizer updates done\n", a->weights, state.iterations);
  }
  int fit_rc = rnnc_fit_history(m, p, xm, ym, x.shape[0], &o, &state, &h, err, sizeof err);
  if (fit_rc != 0)
    fprintf(stderr, "error: %s\n", err);
  if (a->early_stopping) {
    const char *mon = a->monitor && *a->monitor ? a->monitor : "val_loss";
    if (h.stopped_epoch)
      printf("early stopping: stopped after epoch %d of %d", h.stopped_epoch, a->epochs);
    else
      printf("early stopping: did not stop (%d epochs run)", h.n_epochs);
    if (h.best_epoch && isfinite(h.best_value))
      printf("; best %s %.6g at epoch %d", mon, h.best_value, h.best_epoch);
    printf("%s\n", h.restored ? "; its weights restored" : "");
  }
  if (a->csv && h.n_epochs)
    printf("wrote %s\n", a->csv);
  if (a->plot && h.n_series)
    printf("wrote %s\n", a->plot);
  /* The weights in memory are the last good ones either way; the optimizer
   * state goes with them so that --resume continues exactly. */
  if (rnnc_checkpoint_save(a->out, m, p, &state, err, sizeof err) != 0)
    rc = fail(err);
  else
    printf("wrote %s\n", a->out);
  if (fit_rc != 0)
    rc = h.diverged ? 3 : 1;
done:
  rnnc_optimizer_state_free(&state);
  rnnc_history_free(&h);
  free(p);
  free(xm);
  free(ym);
  free(vxm);
  free(vym);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  rnnc_array_free(&vx);
  rnnc_array_free(&vy);
  return rc;
}

/* Keras's evaluate(): the loss and metrics over the data. */
static int cmd_evaluate(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!need("--weights", a->weights) || !need("--x", a->x) || !need("--y", a->y))
    return 2;
  rnnc_array x, y;
  void *p = load_weights(m, a->weights, err);
  if (!p)
    return fail(err);
  if (load_x(m, a, &x, err) != 0) {
    free(p);
    return fail(err);
  }
  if (load_y(m, a->y, a->x, x.shape[0], &y, err) != 0) {
    free(p);
    rnnc_array_free(&x);
    return fail(err);
  }
  void *xm = to_model(m, x.data, x.count), *ym = to_model(m, y.data, y.count);
  int rc = 0;
  if (!xm || !ym) {
    rc = fail("out of memory");
  } else {
    rnnc_fit_options o = rnnc_fit_defaults();
    /* Keras's default batch of 32, at most what the unit takes */
    o.batch_size = a->have_batch_size ? a->batch_size : (m->batch < 32 ? m->batch : 32);
    o.verbose = a->verbose;
    o.steps = steps_now(m);
    o.metrics = a->metrics;
    rnnc_logs logs;
    if (rnnc_evaluate(m, p, xm, ym, x.shape[0], &o, &logs, err, sizeof err) != 0)
      rc = fail(err);
    else
      for (int i = 0; i < logs.count; ++i)
        printf("%s %.17g\n", logs.names[i], logs.values[i]);
  }
  free(p);
  free(xm);
  free(ym);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  return rc;
}

/* Largest absolute difference, and that relative to the largest magnitude
 * of the reference tensor. */
static int report(const char *name, const double *got, const double *want, size_t count, double tol,
                  double *worst) {
  double max_abs = 0, scale = 0;
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

static int cmd_diff(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!need("--weights", a->weights) || !need("--x", a->x))
    return 2;
  double tol = a->have_tol ? a->tol : (m->dtype == RNNC_F64 ? 1e-12 : 1e-5);
  rnnc_array x, y;
  int have_y = a->y != NULL;
  void *p = load_weights(m, a->weights, err);
  if (!p)
    return fail(err);
  if (load_x(m, a, &x, err) != 0) {
    free(p);
    return fail(err);
  }
  if (have_y && load_y(m, a->y, a->x, x.shape[0], &y, err) != 0) {
    free(p);
    rnnc_array_free(&x);
    return fail(err);
  }
  rnnc_ref *ref = new_reference(m, err);
  if (!ref) {
    free(p);
    rnnc_array_free(&x);
    if (have_y)
      rnnc_array_free(&y);
    return fail(err);
  }
  size_t n = x.shape[0];
  /* the reference takes and gives the compact layout of the data's length */
  size_t in_c = 0, out_c = 0;
  for (int k = 0; k < m->n_inputs; ++k)
    in_c += part_now(m, &m->inputs[k]);
  for (int k = 0; k < m->n_outputs; ++k)
    out_c += part_now(m, &m->outputs[k]);
  if (rnnc_ref_output_size(ref) != out_c || rnnc_ref_input_size(ref) != in_c) {
    rnnc_ref_free(ref);
    free(p);
    rnnc_array_free(&x);
    if (have_y)
      rnnc_array_free(&y);
    return fail("the reference runtime's reading of the model has other input or output sizes than "
                "the unit: its spec does not describe this unit");
  }
  double *xc = malloc(n * in_c * sizeof *xc + 1), *yc = NULL;
  repack(m, m->inputs, m->n_inputs, m->input_size, n, x.data, xc, 1);
  if (have_y) {
    size_t per = m->target_size;
    if (is_seq(m, &m->outputs[0]))
      per = m->target_size / (size_t)m->max_steps * (size_t)steps_now(m);
    yc = malloc(n * per * sizeof *yc + 1);
    for (size_t i = 0; yc && i < n; ++i)
      memcpy(yc + i * per, y.data + i * m->target_size, per * sizeof *yc);
  }
  double *pd = malloc(m->n_params * sizeof *pd);
  void *xm = to_model(m, x.data, x.count);
  void *ym = have_y ? to_model(m, y.data, y.count) : NULL;
  void *out = malloc(n * m->output_size * rnnc_dtype_size(m->dtype) + 1);
  double *out_d = malloc(n * m->output_size * sizeof *out_d + 1);
  double *ref_out = malloc(n * out_c * sizeof *ref_out + 1);
  double *out_cd = malloc(n * out_c * sizeof *out_cd + 1);
  double *dxc = malloc(n * in_c * sizeof *dxc + 1);
  void *scratch = new_scratch(m);
  double *g = malloc(m->n_params * sizeof *g), *rg = malloc(m->n_params * sizeof *rg);
  double *dx = malloc(x.count * sizeof *dx), *rdx = malloc(x.count * sizeof *rdx);
  int bad = 0, rc = 0;
  double worst = 0;
  if (!pd || !xm || (have_y && (!ym || !yc)) || !out || !out_d || !ref_out || !scratch || !g ||
      !rg || !dx || !rdx || !xc || !out_cd || !dxc) {
    rc = fail("out of memory");
    goto done;
  }
  for (size_t i = 0; i < m->n_params; ++i)
    pd[i] = get(m, p, i);
  printf("%s (%s) against the reference runtime, %zu samples, tolerance %.1e relative\n", m->name,
         m->dtype == RNNC_F64 ? "float64" : "float32", n, tol);
  predict_all(m, p, scratch, xm, out, n);
  for (size_t i = 0; i < n * m->output_size; ++i)
    out_d[i] = get(m, out, i);
  if (rnnc_ref_forward(ref, pd, xc, (int)n, ref_out) != 0) {
    rc = fail("the reference runtime failed (out of memory)");
    goto done;
  }
  repack(m, m->outputs, m->n_outputs, m->output_size, n, out_d, out_cd, 1);
  bad |= report("output", out_cd, ref_out, n * out_c, tol, &worst);
  if (have_y || m->loss == RNNC_LOSS_NONE) {
    double loss, rloss;
    if (m->loss == RNNC_LOSS_NONE) {
      printf("no loss compiled: gradients of sum(dy * y) / n for a fixed dy\n");
      loss = probe_grad_all(m, p, scratch, xm, n, g, dx);
      rloss = ref_probe_grad(ref, pd, xc, n, out_c, rg, rdx);
    } else {
      loss = loss_grad_all(m, p, scratch, xm, ym, n, g, dx);
      rloss = rnnc_ref_loss_grad(ref, pd, xc, yc, (int)n, rg, rdx, NULL);
    }
    bad |= report("loss", &loss, &rloss, 1, tol, &worst);
    for (int i = 0; i < m->n_tensors; ++i) {
      const rnnc_tensor_desc *t = &m->tensors[i];
      char name[160];
      snprintf(name, sizeof name, "d %s", t->name);
      bad |= report(name, g + t->offset, rg + t->offset, t->size, tol, &worst);
    }
    repack(m, m->inputs, m->n_inputs, m->input_size, n, dx, dxc, 1);
    bad |= report("d input", dxc, rdx, n * in_c, tol, &worst);
  }
  printf("%s: worst relative difference %.3e (tolerance %.1e)\n", bad ? "FAIL" : "OK", worst, tol);
  rc = bad ? 1 : 0;
done:
  rnnc_ref_free(ref);
  free(p);
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
  free(scratch);
  free(g);
  free(rg);
  free(dx);
  free(rdx);
  rnnc_array_free(&x);
  if (have_y)
    rnnc_array_free(&y);
  return rc;
}

/* Central differences of the loss for every weight and input element. */
static int cmd_gradcheck(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  int with_y = m->loss != RNNC_LOSS_NONE; /* else: the sum(dy * y) objective */
  if (!need("--weights", a->weights) || !need("--x", a->x) || (with_y && !need("--y", a->y)))
    return 2;
  if (m->dtype != RNNC_F64)
    return fail("gradcheck needs a float64 model (generate with --dtype float64)");
  double tol = a->have_tol ? a->tol : 1e-6;
  rnnc_array x, y;
  void *p = load_weights(m, a->weights, err);
  if (!p)
    return fail(err);
  if (load_x(m, a, &x, err) != 0) {
    free(p);
    return fail(err);
  }
  memset(&y, 0, sizeof y);
  if (with_y && load_y(m, a->y, a->x, x.shape[0], &y, err) != 0) {
    free(p);
    rnnc_array_free(&x);
    return fail(err);
  }
  size_t n = x.shape[0];
  double *xm = to_model(m, x.data, x.count), *ym = to_model(m, y.data, y.count);
  void *scratch = new_scratch(m);
  double *g = malloc(m->n_params * sizeof *g), *dx = malloc(x.count * sizeof *dx);
  double *g2 = malloc(m->n_params * sizeof *g2), *dx2 = malloc(x.count * sizeof *dx2);
  int rc = 0;
  if (!xm || !ym || !scratch || !g || !dx || !g2 || !dx2) {
    rc = fail("out of memory");
    goto done;
  }
  loss_grad_all(m, p, scratch, xm, ym, n, g, dx);
  const double h = 1e-6;
  double worst = 0;
  /* |analytic - numeric| relative to max(|analytic|, |numeric|, 1e-3): the
   * floor keeps rounding noise on near-zero gradients from dominating. */
  for (size_t i = 0; i < m->n_params; ++i) {
    double keep = get(m, p, i);
    set(m, p, i, keep + h);
    double lp = loss_grad_all(m, p, scratch, xm, ym, n, g2, dx2);
    set(m, p, i, keep - h);
    double lm = loss_grad_all(m, p, scratch, xm, ym, n, g2, dx2);
    set(m, p, i, keep);
    double num = (lp - lm) / (2 * h);
    double scale = fmax(fmax(fabs(num), fabs(g[i])), 1e-3);
    double e = fabs(num - g[i]) / scale;
    if (!(e <= worst))
      worst = e;
  }
  for (size_t i = 0; i < x.count; ++i) {
    double keep = xm[i];
    xm[i] = keep + h;
    double lp = loss_grad_all(m, p, scratch, xm, ym, n, g2, dx2);
    xm[i] = keep - h;
    double lm = loss_grad_all(m, p, scratch, xm, ym, n, g2, dx2);
    xm[i] = keep;
    double num = (lp - lm) / (2 * h);
    double scale = fmax(fmax(fabs(num), fabs(dx[i])), 1e-3);
    double e = fabs(num - dx[i]) / scale;
    if (!(e <= worst))
      worst = e;
  }
  printf("%s: %zu weights and %zu inputs, worst relative error %.3e (tolerance %.1e)\n",
         worst <= tol ? "OK" : "FAIL", m->n_params, x.count, worst, tol);
  rc = worst <= tol ? 0 : 1;
done:
  free(p);
  free(xm);
  free(ym);
  free(scratch);
  free(g);
  free(dx);
  free(g2);
  free(dx2);
  rnnc_array_free(&x);
  rnnc_array_free(&y);
  return rc;
}

/* Random inputs (uniform in [-1, 1]) and targets (class labels, or normal
 * values) of the model's shapes: data to diff or gradcheck any model on. */
static int cmd_sample(const rnnc_model *m, const args_t *a) {
  char err[ERRLEN];
  if (!need("--x", a->x))
    return 2;
  size_t n = a->n > 0 ? (size_t)a->n : (size_t)m->batch;
  if (a->steps) {
    if (!m->variable_steps || a->steps < 1 || a->steps > m->max_steps)
      return fail(
          "--steps: the model takes sequences of fixed length, or this length is out of range");
    g_steps = a->steps;
  }
  rnnc_rng rng;
  rnnc_rng_seed(&rng, a->seed);
  double *x = malloc(n * m->input_size * sizeof *x);
  double *y = malloc(n * m->target_size * sizeof *y);
  int rc = 0;
  if (!x || !y) {
    rc = fail("out of memory");
    goto done;
  }
  for (size_t i = 0; i < n * m->input_size; ++i)
    x[i] = 2 * rnnc_rng_uniform(&rng) - 1;
  for (size_t i = 0; i < n * m->target_size; ++i)
    y[i] = m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
               ? (double)rnnc_rng_below(&rng, m->output_cols)
               : rnnc_rng_normal(&rng);
  for (int k = 0; k < m->n_inputs; ++k) {
    const rnnc_part_desc *d = &m->inputs[k];
    size_t shape[RNNC_MAX_RANK + 1];
    char name[1024];
    size_t len = part_now(m, d);
    double *part = malloc(n * len * sizeof *part + 1);
    if (!part) {
      rc = fail("out of memory");
      goto done;
    }
    for (size_t s = 0; s < n; ++s)
      memcpy(part + s * len, x + s * m->input_size + d->offset, len * sizeof *part);
    shape[0] = n;
    for (int i = 0; i < d->rank; ++i)
      shape[i + 1] = (size_t)d->shape[i];
    if (is_seq(m, d))
      shape[1] = (size_t)steps_now(m);
    numbered_path(name, sizeof name, a->x, k);
    int src = rnnc_npy_save(name, RNNC_F64, d->rank + 1, shape, part, err, sizeof err);
    free(part);
    if (src != 0) {
      rc = fail(err);
      goto done;
    }
    printf("wrote %s\n", name);
  }
  if (a->y) {
    size_t per = m->target_size;
    if (is_seq(m, &m->outputs[0]))
      per = m->target_size / (size_t)m->max_steps * (size_t)steps_now(m);
    size_t yshape[2] = {n, per};
    if (rnnc_npy_save(a->y, RNNC_F64, 2, yshape, y, err, sizeof err) != 0) {
      rc = fail(err);
      goto done;
    }
    printf("wrote %s\n", a->y);
  }
done:
  free(x);
  free(y);
  return rc;
}

int rnnc_main(const rnnc_model *m, int argc, char **argv) {
  args_t a;
  if (argc < 2)
    return usage(m);
  const char *cmd = argv[1];
  /* the description's compile metrics and fit{} defaults */
  int with_defaults = strcmp(cmd, "fit") == 0 || strcmp(cmd, "evaluate") == 0;
  if (parse_args(argc, argv, &a, with_defaults ? m->fit_defaults : NULL) != 0)
    return usage(m);
  if (strcmp(cmd, "init") == 0)
    return cmd_init(m, &a);
  if (strcmp(cmd, "summary") == 0) {
    fputs(m->summary, stdout);
    return 0;
  }
  if (strcmp(cmd, "predict") == 0)
    return cmd_predict(m, &a);
  if (strcmp(cmd, "grad") == 0)
    return cmd_grad(m, &a);
  if (strcmp(cmd, "fit") == 0)
    return cmd_fit(m, &a);
  if (strcmp(cmd, "evaluate") == 0)
    return cmd_evaluate(m, &a);
  if (strcmp(cmd, "diff") == 0)
    return cmd_diff(m, &a);
  if (strcmp(cmd, "gradcheck") == 0)
    return cmd_gradcheck(m, &a);
  if (strcmp(cmd, "sample") == 0)
    return cmd_sample(m, &a);
  fprintf(stderr, "error: unknown command '%s'\n", cmd);
  return usage(m);
}
