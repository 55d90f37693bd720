/* The driver's options: one table that the parser reads (names, kinds,
 * ranges, the field each sets) and the usage text is printed from (the
 * commands that take each option and those that need it). The optimizer's
 * options come from the catalog (RNNC_OPTIMIZER_FIELDS, RNNC_OPTIMIZERS). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

typedef enum {
  K_PATH,      /* a file name */
  K_TEXT,      /* a word */
  K_FLAG,      /* --key alone sets 1; --key=0 or 1 */
  K_NOFLAG,    /* the flag that clears a field (--no-shuffle) */
  K_INT,       /* a whole number in [lo, hi] */
  K_REAL,      /* a finite number */
  K_SPLIT,     /* a number in [0, 1) */
  K_SEED,      /* an unsigned 64-bit number */
  K_MODE,      /* auto, min or max */
  K_OPTIMIZER, /* a name of the catalog */
} kind_t;

#define NONE ((size_t)-1)
#define F(field) offsetof(args_t, field)

typedef struct {
  const char *name; /* without the dashes */
  kind_t kind;
  size_t field;         /* in args_t */
  long lo, hi;          /* K_INT */
  size_t have;          /* an int set to 1 when given (NONE: none) */
  const char *meta;     /* the value in the usage text (NULL: not shown there) */
  const char *commands; /* the commands that take it, for the usage text */
  const char *needed;   /* the commands that need it */
} option_t;

#define BIG 1000000000L
static const option_t OPTIONS[] = {
    {"weights", K_PATH, F(weights), 0, 0, NONE, "W",
     "predict grad fit evaluate diff gradcheck stream",
     "predict grad fit evaluate diff gradcheck stream"},
    {"x", K_PATH, F(x), 0, 0, NONE, "X.npy",
     "predict grad fit evaluate diff gradcheck sample stream",
     "predict grad fit evaluate diff gradcheck sample stream"},
    {"y", K_PATH, F(y), 0, 0, NONE, "Y.npy", "grad fit evaluate diff gradcheck sample",
     "grad fit evaluate"},
    {"out", K_PATH, F(out), 0, 0, NONE, "FILE", "init predict grad fit stream",
     "init predict grad fit stream"},
    {"seed", K_SEED, F(seed), 0, 0, NONE, "S", "init fit gradcheck sample", ""},
    {"n", K_INT, F(n), 0, BIG, NONE, "N", "sample", ""},
    {"steps", K_INT, F(steps), 0, BIG, NONE, "L", "sample", ""},
    {"epochs", K_INT, F(epochs), 0, BIG, NONE, "E", "fit", ""},
    {"batch-size", K_INT, F(batch_size), 1, BIG, F(have_batch_size), "B", "fit evaluate", ""},
    {"verbose", K_INT, F(verbose), 0, 2, NONE, "0|1|2", "fit evaluate", ""},
    {"log-every", K_INT, F(log_every), 0, BIG, NONE, "N", "fit", ""},
    {"shuffle", K_FLAG, F(shuffle), 0, 0, NONE, NULL, "", ""},
    {"no-shuffle", K_NOFLAG, F(shuffle), 0, 0, NONE, "", "fit", ""},
    {"initial-epoch", K_INT, F(initial_epoch), 0, BIG, NONE, "N", "fit", ""},
    {"validation-split", K_SPLIT, F(validation_split), 0, 0, NONE, "F", "fit", ""},
    {"val-x", K_PATH, F(val_x), 0, 0, NONE, "X.npy", "fit", ""},
    {"val-y", K_PATH, F(val_y), 0, 0, NONE, "Y.npy", "fit", ""},
    {"metrics", K_TEXT, F(metrics), 0, 0, NONE, "accuracy,mae,...", "fit evaluate", ""},
    {"weighted-metrics", K_TEXT, F(weighted_metrics), 0, 0, NONE, "accuracy,...", "fit evaluate",
     ""},
    {"early-stopping", K_FLAG, F(early_stopping), 0, 0, NONE, "", "fit", ""},
    {"monitor", K_TEXT, F(monitor), 0, 0, NONE, "NAME", "fit", ""},
    {"patience", K_INT, F(patience), 0, BIG, NONE, "N", "fit", ""},
    {"min-delta", K_REAL, F(min_delta), 0, 0, NONE, "D", "fit", ""},
    {"mode", K_MODE, F(mode), 0, 0, NONE, "auto|min|max", "fit", ""},
    {"baseline", K_REAL, F(baseline), 0, 0, F(has_baseline), "B", "fit", ""},
    {"restore-best-weights", K_FLAG, F(restore_best_weights), 0, 0, NONE, "", "fit", ""},
    {"start-from-epoch", K_INT, F(start_from_epoch), 0, BIG, NONE, "N", "fit", ""},
    {"checkpoint", K_PATH, F(checkpoint), 0, 0, NONE, "PATH", "fit", ""},
    {"save-best-only", K_FLAG, F(save_best_only), 0, 0, NONE, "", "fit", ""},
    {"checkpoint-monitor", K_TEXT, F(checkpoint_monitor), 0, 0, NONE, "NAME", "fit", ""},
    {"checkpoint-mode", K_MODE, F(checkpoint_mode), 0, 0, F(have_checkpoint_mode), "auto|min|max",
     "fit", ""},
    {"reduce-lr-on-plateau", K_FLAG, F(reduce_lr), 0, 0, NONE, "", "fit", ""},
    {"reduce-lr-monitor", K_TEXT, F(reduce_lr_monitor), 0, 0, NONE, "NAME", "fit", ""},
    {"reduce-lr-factor", K_REAL, F(reduce_lr_factor), 0, 0, NONE, "F", "fit", ""},
    {"reduce-lr-patience", K_INT, F(reduce_lr_patience), 0, BIG, NONE, "N", "fit", ""},
    {"reduce-lr-mode", K_MODE, F(reduce_lr_mode), 0, 0, NONE, "auto|min|max", "fit", ""},
    {"reduce-lr-min-delta", K_REAL, F(reduce_lr_min_delta), 0, 0, NONE, "D", "fit", ""},
    {"reduce-lr-cooldown", K_INT, F(reduce_lr_cooldown), 0, BIG, NONE, "N", "fit", ""},
    {"reduce-lr-min-lr", K_REAL, F(reduce_lr_min_lr), 0, 0, NONE, "LR", "fit", ""},
    {"reduce-lr-verbose", K_INT, F(reduce_lr_verbose), 0, 1, NONE, "0|1", "fit", ""},
    {"csv", K_PATH, F(csv), 0, 0, NONE, "PATH", "fit", ""},
    {"csv-append", K_FLAG, F(csv_append), 0, 0, NONE, "", "fit", ""},
    {"plot", K_PATH, F(plot), 0, 0, NONE, "PATH.svg", "fit", ""},
    {"resume", K_FLAG, F(resume), 0, 0, NONE, "", "fit", ""},
    {"optimizer", K_OPTIMIZER, F(opt_kind), 0, 0, NONE, "NAME", "fit", ""},
    {"threads", K_INT, F(threads), 1, 4096, NONE, "N", "fit evaluate predict", ""},
    {"micro-batch", K_INT, F(micro_batch), 1, BIG, NONE, "M", "fit evaluate", ""},
    {"sample-weight", K_PATH, F(sample_weight), 0, 0, NONE, "W.npy", "fit evaluate", ""},
    {"class-weight", K_TEXT, F(class_weight), 0, 0, NONE, "C=W,...", "fit", ""},
    {"tol", K_REAL, F(tol), 0, 0, F(have_tol), "T", "diff gradcheck", ""},
    {"sample", K_INT, F(sample), 0, BIG, F(have_sample), "N", "gradcheck", ""},
};
#define N_OPTIONS ((int)(sizeof OPTIONS / sizeof *OPTIONS))

/* The optimizer's fields by their option names (the catalog's). */
typedef struct {
  const char *option;
  int flag;      /* an int that is 0 or 1: --option alone sets it */
  size_t offset; /* in rnnc_optimizer */
  size_t size;   /* sizeof(int) for an int (a flag, or e.g. --schedule), else a double */
} opt_field;
static const opt_field OV[N_OPT_FIELDS] = {
#define FIELD(type, field, option, flag, doc)                                                      \
  {option, flag, offsetof(rnnc_optimizer, field), sizeof(type)},
    RNNC_OPTIMIZER_FIELDS(FIELD)
#undef FIELD
};

static const struct {
  const char *name;
  rnnc_optimizer_kind kind;
} OPTIMIZERS[] = {
#define NAME(id, NAME, name, cls) {#name, RNNC_OPT_##NAME},
    RNNC_OPTIMIZERS(NAME)
#undef NAME
};
#define N_OPTIMIZERS ((int)(sizeof OPTIMIZERS / sizeof *OPTIMIZERS))

/* The commands, in the usage text's order, and what each does. */
static const struct {
  const char *name, *what;
} COMMANDS[] = {
    {"init", "Keras's default initializers, seeded"},
    {"summary", "Keras's model.summary()"},
    {"predict", "the outputs (also prints the first predictions)"},
    {"grad", "the loss and every gradient, as float64 safetensors"},
    {"fit", "Keras's fit(): callbacks, validation, resume; the optimizer options below"},
    {"evaluate", "Keras's evaluate(): the loss and the metrics"},
    {"diff", "against the reference runtime"},
    {"gradcheck", "against central differences (float64 units; --sample N entries of each "
                  "tensor, default 64, 0: all)"},
    {"sample", "random data of the model's shapes"},
    {"stream", "the streaming API, one step per call from a reset state: every step's outputs"},
};

/* Prints a usage item, breaking the line before column 94. */
static void item(int *col, const char *text) {
  int len = (int)strlen(text);
  if (*col + 1 + len > 94) {
    fprintf(stderr, "\n%*s", 14, "");
    *col = 14;
  }
  *col += fprintf(stderr, " %s", text);
}

int driver_usage(const rnnc_model *m) {
  char text[128];
  for (size_t c = 0; c < sizeof COMMANDS / sizeof *COMMANDS; ++c) {
    const char *cmd = COMMANDS[c].name;
    int col = fprintf(stderr, "%s %s %s", c == 0 ? "usage:" : "      ", m->name, cmd);
    for (int pass = 0; pass < 2; ++pass) /* the options it needs, then the others */
      for (int i = 0; i < N_OPTIONS; ++i) {
        const option_t *o = &OPTIONS[i];
        int needed = rnnc_catalog_word_in(cmd, o->needed);
        if (!o->meta || !rnnc_catalog_word_in(cmd, o->commands) || needed != (pass == 0))
          continue;
        if (*o->meta)
          snprintf(text, sizeof text, needed ? "--%s %s" : "[--%s %s]", o->name, o->meta);
        else
          snprintf(text, sizeof text, "[--%s]", o->name);
        item(&col, text);
        if (strcmp(o->name, "x") == 0)
          item(&col, "[--x1 X1.npy ...] [--x NAME=X.npy ...]");
        if (strcmp(o->name, "y") == 0)
          item(&col, "[--y1 Y1.npy ...] [--y NAME=Y.npy ...]");
        if (strcmp(o->name, "val-x") == 0)
          item(&col, "[--val-x1 X1.npy ...]");
      }
    if (strcmp(cmd, "fit") == 0)
      item(&col, "[optimizer options]");
    fprintf(stderr, "\n");
  }
  fprintf(stderr, "Commands:\n");
  for (size_t c = 0; c < sizeof COMMANDS / sizeof *COMMANDS; ++c)
    fprintf(stderr, "  %-10s %s\n", COMMANDS[c].name, COMMANDS[c].what);
  int col = fprintf(stderr, "Optimizers (--optimizer):");
  for (int i = 0; i < N_OPTIMIZERS; ++i)
    col += fprintf(stderr, "%s %s", i ? "," : "", OPTIMIZERS[i].name);
  fprintf(stderr, "\nOptimizer options (the model's optimizer, or --optimizer's Keras defaults, "
                  "changed):\n             ");
  col = 13;
  for (int i = 0; i < N_OPT_FIELDS; ++i) {
    snprintf(text, sizeof text, OV[i].flag ? "[--%s]" : "[--%s X]", OV[i].option);
    item(&col, text);
  }
  fprintf(stderr, "\nOptions also read --key=value; the model's fit defaults (from its "
                  "description) come\nbefore the command line.\n");
  return 2;
}

int driver_fail(const char *msg) {
  fprintf(stderr, "error: %s\n", msg);
  return 1;
}

int driver_need(const char *what, const char *value) {
  if (!value) {
    fprintf(stderr, "error: this command needs %s\n", what);
    return 0;
  }
  return 1;
}

static const option_t *find(const char *key) {
  for (int i = 0; i < N_OPTIONS; ++i)
    if (strcmp(key, OPTIONS[i].name) == 0)
      return &OPTIONS[i];
  return NULL;
}

static int opt_field_index(const char *key) {
  for (int i = 0; i < N_OPT_FIELDS; ++i)
    if (strcmp(key, OV[i].option) == 0)
      return i;
  return -1;
}

/* A flag takes no separate value on the command line. */
static int is_flag(const char *key) {
  const option_t *o = find(key);
  int f = opt_field_index(key);
  return o ? o->kind == K_FLAG || o->kind == K_NOFLAG : f >= 0 && OV[f].flag;
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

/* --x1 ... --x7 and --val-x1 ...: the slot for input k; --y0 ... --y7 and
 * --val-y0 ...: for the targets of output k; or NULL. */
static const char **numbered(args_t *a, const char *key) {
  if (key[0] == 'x' && key[1] >= '1' && key[1] < '0' + RNNC_MAX_INPUTS && !key[2])
    return &a->xk[key[1] - '0'];
  if (strncmp(key, "val-x", 5) == 0 && key[5] >= '1' && key[5] < '0' + RNNC_MAX_INPUTS && !key[6])
    return &a->val_xk[key[5] - '0'];
  if (key[0] == 'y' && key[1] >= '0' && key[1] < '0' + RNNC_MAX_OUTPUTS && !key[2])
    return &a->yk[key[1] - '0'];
  if (strncmp(key, "val-y", 5) == 0 && key[5] >= '0' && key[5] < '0' + RNNC_MAX_OUTPUTS && !key[6])
    return &a->val_yk[key[5] - '0'];
  return NULL;
}

/* --x NAME=FILE (and --y, --val-x, --val-y): a NAME of letters, digits and
 * underscores, then '='. Returns the list (0..3) or -1. */
static int named_list(const char *key, const char *v) {
  static const char *const keys[4] = {"x", "y", "val-x", "val-y"};
  const char *eq = v ? strchr(v, '=') : NULL;
  if (eq == NULL || eq == v || (v[0] >= '0' && v[0] <= '9'))
    return -1;
  for (const char *c = v; c < eq; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '_'))
      return -1;
  for (int i = 0; i < 4; ++i)
    if (strcmp(key, keys[i]) == 0)
      return i;
  return -1;
}

/* One option: key without dashes ('_' read as '-'), value (flags: "1"/"0",
 * or NULL for "1"). `where` prefixes messages ("" or the fit defaults). */
static int set_option(args_t *a, const char *key_in, const char *v, const char *where) {
  char key[64];
  snprintf(key, sizeof key, "%s", key_in);
  for (char *c = key; *c; ++c)
    if (*c == '_')
      *c = '-';
  const option_t *o = find(key);
  int f = opt_field_index(key);
  const char **slot = numbered(a, key);
  if (!o && f < 0 && !slot) {
    fprintf(stderr, "error: %sunknown option --%s\n", where, key);
    return -1;
  }
  if (is_flag(key)) {
    int on = 1;
    if (v && strcmp(v, "1") != 0 && strcmp(v, "true") != 0) {
      if (strcmp(v, "0") != 0 && strcmp(v, "false") != 0) {
        fprintf(stderr, "error: %s--%s is a flag: its value is 0 or 1, not '%s'\n", where, key, v);
        return -1;
      }
      on = 0;
    }
    if (o)
      *(int *)(void *)((char *)a + o->field) = o->kind == K_NOFLAG ? !on : on;
    else {
      a->ov[f] = on;
      a->ov_set[f] = 1;
    }
    return 0;
  }
  if (!v) {
    fprintf(stderr, "error: %s--%s needs a value\n", where, key);
    return -1;
  }
  if (slot) {
    *slot = v;
    return 0;
  }
  int list = named_list(key, v);
  if (list >= 0) {
    if (a->n_named[list] == RNNC_MAX_INPUTS + RNNC_MAX_OUTPUTS) {
      fprintf(stderr, "error: %stoo many --%s NAME=FILE\n", where, key);
      return -1;
    }
    a->named[list][a->n_named[list]++] = v;
    return 0;
  }
  if (!o) { /* an optimizer's number */
    a->ov_set[f] = 1;
    if (parse_real(where, key, v, &a->ov[f]) != 0)
      return -1;
    if (OV[f].size == sizeof(int) &&
        !(a->ov[f] >= 0 && a->ov[f] <= 1000 && a->ov[f] == floor(a->ov[f]))) {
      fprintf(stderr, "error: %s--%s takes a whole number from 0 to 1000, not '%s'\n", where, key,
              v);
      return -1;
    }
    return 0;
  }
  void *field = (char *)a + o->field;
  if (o->have != NONE)
    *(int *)(void *)((char *)a + o->have) = 1;
  switch (o->kind) {
  case K_PATH:
  case K_TEXT:
    *(const char **)field = v;
    return 0;
  case K_INT:
    return parse_int(where, key, v, o->lo, o->hi, (int *)field);
  case K_REAL:
    return parse_real(where, key, v, (double *)field);
  case K_SPLIT: {
    double *d = (double *)field;
    if (parse_real(where, key, v, d) != 0)
      return -1;
    if (!(*d >= 0 && *d < 1)) {
      fprintf(stderr, "error: %s--%s: %s is outside [0, 1)\n", where, key, v);
      return -1;
    }
    return 0;
  }
  case K_SEED: {
    char *end = NULL;
    *(uint64_t *)field = strtoull(v, &end, 10);
    if (!*v || *end || *v == '-') {
      fprintf(stderr, "error: %s--%s: '%s' is not a number\n", where, key, v);
      return -1;
    }
    return 0;
  }
  case K_MODE: {
    rnnc_monitor_mode *mode = (rnnc_monitor_mode *)field;
    if (strcmp(v, "auto") == 0)
      *mode = RNNC_MODE_AUTO;
    else if (strcmp(v, "min") == 0)
      *mode = RNNC_MODE_MIN;
    else if (strcmp(v, "max") == 0)
      *mode = RNNC_MODE_MAX;
    else {
      fprintf(stderr, "error: %s--%s: '%s' is not auto, min or max\n", where, key, v);
      return -1;
    }
    return 0;
  }
  case K_OPTIMIZER: {
    a->opt_kind = rnnc_optimizer_named(v);
    if (!a->opt_kind) {
      char names[256] = "";
      for (int k = 0; k < N_OPTIMIZERS; ++k)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                 k == 0                 ? ""
                 : k + 1 < N_OPTIMIZERS ? ", "
                                        : " or ",
                 OPTIMIZERS[k].name);
      fprintf(stderr, "error: %s--optimizer: '%s' is not %s\n", where, v, names);
      return -1;
    }
    return 0;
  }
  case K_FLAG:
  case K_NOFLAG:
    break; /* handled above */
  }
  return 0;
}

static void args_init(args_t *a) {
  memset(a, 0, sizeof *a);
  a->epochs = 1;
  a->batch_size = 32;
  a->verbose = 1;
  a->log_every = 1;
  a->shuffle = 1;
  a->mode = RNNC_MODE_AUTO;
  /* ReduceLROnPlateau's Keras defaults */
  a->reduce_lr_factor = 0.1;
  a->reduce_lr_patience = 10;
  a->reduce_lr_min_delta = 1e-4;
  a->reduce_lr_mode = RNNC_MODE_AUTO;
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

int driver_parse_args(int argc, char **argv, args_t *a, const char *defaults) {
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
    for (char *c = key; *c; ++c)
      if (*c == '_')
        *c = '-';
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

rnnc_optimizer driver_fit_optimizer(const rnnc_model *m, const args_t *a) {
  rnnc_optimizer o = a->opt_kind ? rnnc_optimizer_default(a->opt_kind) : m->optimizer;
  for (int i = 0; i < N_OPT_FIELDS; ++i) {
    if (!a->ov_set[i])
      continue;
    char *field = (char *)&o + OV[i].offset;
    if (OV[i].flag) {
      int on = a->ov[i] != 0;
      memcpy(field, &on, sizeof on);
    } else if (OV[i].size == sizeof(int)) {
      int v = (int)a->ov[i];
      memcpy(field, &v, sizeof v);
    } else
      memcpy(field, &a->ov[i], sizeof a->ov[i]);
  }
  return o;
}
