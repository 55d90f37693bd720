/* What the rooms of the command-line driver share (driver.c: the commands;
 * driver_args.c: the option table, its parser and the usage text;
 * driver_data.c: loading and converting the data and weights;
 * driver_checks.c: diff and gradcheck). Internal to the driver, which is in
 * librnnc_ref with the reference runtime diff runs. */
#ifndef RNNC_DRIVER_H
#define RNNC_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "rnnc.h"
#include "rnnc_ref.h"

#define ERRLEN 512

/* The optimizer's fields the command line can override: every field of the
 * catalog (RNNC_OPTIMIZER_FIELDS). */
#define N_OPT_FIELDS (0 RNNC_OPTIMIZER_FIELDS(DRIVER_COUNT_))
#define DRIVER_COUNT_(type, field, option, flag, doc) +1

/* The parsed command line (after the model's fit defaults). */
typedef struct {
  const char *weights, *x, *y, *out;
  const char *xk[RNNC_MAX_INPUTS]; /* --x1 ... : inputs after the main one */
  const char *val_x, *val_y;
  const char *val_xk[RNNC_MAX_INPUTS];
  const char *yk[RNNC_MAX_OUTPUTS]; /* --y0 ... : the targets of output k (--y: the first with a
                                       loss) */
  const char *val_yk[RNNC_MAX_OUTPUTS];
  /* NAME=FILE given to --x, --y, --val-x, --val-y (in that order): an input
   * or output by its name */
  const char *named[4][RNNC_MAX_INPUTS + RNNC_MAX_OUTPUTS];
  int n_named[4];
  int epochs, batch_size, verbose, log_every, shuffle, n, steps;
  int sample, have_sample; /* gradcheck: entries checked per tensor (0: all) */
  int have_batch_size;
  uint64_t seed;
  double tol;
  int have_tol;
  /* fit and evaluate */
  int initial_epoch;
  double validation_split;
  const char *metrics;
  const char *weighted_metrics;
  int early_stopping, patience, restore_best_weights, start_from_epoch, has_baseline;
  const char *monitor;
  double min_delta, baseline;
  rnnc_monitor_mode mode;
  const char *checkpoint, *checkpoint_monitor;
  int save_best_only, have_checkpoint_mode;
  rnnc_monitor_mode checkpoint_mode;
  const char *csv, *plot;
  int csv_append, resume;
  /* ReduceLROnPlateau */
  int reduce_lr, reduce_lr_patience, reduce_lr_cooldown, reduce_lr_verbose;
  const char *reduce_lr_monitor;
  double reduce_lr_factor, reduce_lr_min_delta, reduce_lr_min_lr;
  rnnc_monitor_mode reduce_lr_mode;
  rnnc_optimizer_kind opt_kind; /* 0: the model's */
  double ov[N_OPT_FIELDS];
  int ov_set[N_OPT_FIELDS];
  char defaults_buf[4096]; /* the model's fit defaults, split into tokens */
  /* data parallelism (runtime/parallel.c) */
  int threads, micro_batch;
  /* Keras's fit(sample_weight=...) from a .npy, and class_weight ("0=1,1=5") */
  const char *sample_weight, *class_weight;
  const rnnc_fit_group *group; /* rnnc_main_group's: the processes of an MPI run, or NULL */
} args_t;

/* ---------------------------------------------------------------- driver_args.c */
/* The usage text, from the option table; returns 2 (the exit status). */
int driver_usage(const rnnc_model *m);
/* Parses argv[2..] after `defaults` (the model's fit defaults, or NULL).
 * 0, or -1 after printing the error. */
int driver_parse_args(int argc, char **argv, args_t *a, const char *defaults);
/* 1 when `value` is there, else prints "this command needs WHAT" and returns 0. */
int driver_need(const char *what, const char *value);
/* The optimizer of a fit: --optimizer (Keras's defaults for that kind) or
 * the model's compiled one, then the field overrides. */
rnnc_optimizer driver_fit_optimizer(const rnnc_model *m, const args_t *a);
/* --sample-weight FILE: one finite weight >= 0 per sample of x_path's n,
 * shape (n,) or (n, 1), into *sw (n reals of the model's dtype, to free);
 * *sw NULL without it. Refused with --class-weight (fit applies that one,
 * rnnc_fit_options.class_weight), as Keras refuses both. 0, or -1 with a
 * message naming the file and sample. */
int driver_sample_weights(const rnnc_model *m, const args_t *a, const char *x_path, size_t n,
                          void **sw, char *err);
/* Prints "error: MSG" and returns 1. */
int driver_fail(const char *msg);

/* ---------------------------------------------------------------- driver_data.c */
void *driver_to_model(const rnnc_model *m, const double *src, size_t count);
/* driver_to_model for x: int32_t tokens for a unit whose input is tokens. */
void *driver_x_to_model(const rnnc_model *m, const double *src, size_t count);
double driver_get(const rnnc_model *m, const void *v, size_t i);
void driver_set(const rnnc_model *m, void *v, size_t i, double value);
/* The sequence length of the data at hand (0 until a file sets it). */
extern int driver_steps;
int driver_steps_now(const rnnc_model *m);
int driver_is_seq(const rnnc_model *m, const rnnc_part_desc *d);
size_t driver_part_now(const rnnc_model *m, const rnnc_part_desc *d);
void driver_repack(const rnnc_model *m, const rnnc_part_desc *parts, int count, size_t full,
                   size_t n, const double *src, double *dst, int to_compact);
void *driver_new_scratch(const rnnc_model *m);
/* The inputs (val: the validation inputs) side by side per sample:
 * --x (or --val-x), --x1 ..., NAME=FILE. */
int driver_load_x(const rnnc_model *m, const args_t *a, int val, rnnc_array *x, char *err);
/* The targets of every output with a loss, one after the other per sample
 * (n samples): --y (the first output with a loss), --yK (output K),
 * NAME=FILE. */
int driver_load_y(const rnnc_model *m, const args_t *a, int val, size_t n, rnnc_array *y,
                  char *err);
/* Whether any input (target) file is given (val: validation data). */
int driver_have_x(const args_t *a, int val);
int driver_have_y(const args_t *a, int val);
/* The file of the first input given, for messages. */
const char *driver_x_name(const args_t *a, int val);
void *driver_load_weights(const rnnc_model *m, const char *path, char *err);
void driver_predict_all(const rnnc_model *m, const void *p, void *scratch, const void *x, void *y,
                        size_t n);
double driver_probe(size_t k);
double driver_loss_grad_all(const rnnc_model *m, const void *p, void *scratch, const void *x,
                            const void *y, size_t n, double *grad, double *dx);
double driver_probe_grad_all(const rnnc_model *m, const void *p, void *scratch, const void *x,
                             size_t n, double *grad, double *dx);

/* Rows of the data files the loaders read (driver_shard.c sets them): all
 * of them, or when driver_rows_on the rows [first, first + count). */
extern int driver_rows_on;
extern size_t driver_rows_first, driver_rows_count;

/* ---------------------------------------------------------------- driver_shard.c */
/* The training data of one process of a group (an MPI run), for fit: the
 * shapes of the files checked, the values of this rank's share of the rows
 * checked (the ranks' results combined: every rank fails alike, the first
 * bad sample's rank prints it), validation data read whole (--val-x, or the
 * last rows of --validation-split), and a reader of the training samples
 * each step asks for. NULL after a failure (printed, on one rank). */
typedef struct driver_shard driver_shard;
driver_shard *driver_shard_open(const rnnc_model *m, const args_t *a, size_t *n_train,
                                rnnc_fit_reader *reader, void **val_x, void **val_y, size_t *n_val);
void driver_shard_close(driver_shard *s);

/* ---------------------------------------------------------------- driver_checks.c */
int driver_cmd_diff(const rnnc_model *m, const args_t *a);
int driver_cmd_gradcheck(const rnnc_model *m, const args_t *a);

#endif
