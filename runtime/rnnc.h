/* rnnc runtime: the C99 + libm library that generated model units link against.
 *
 * Every numeric routine exists for float (suffix _f32) and double (suffix _f64);
 * both are compiled from one source through the *_impl.h headers.
 * Nothing here allocates except the file loaders, the fit loop and the reference
 * runtime, which are not called from generated kernels. */
#ifndef RNNC_H
#define RNNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- dtypes */
typedef enum { RNNC_F32 = 1, RNNC_F64 = 2 } rnnc_dtype;
size_t rnnc_dtype_size(rnnc_dtype dtype);

/* ---------------------------------------------------------------- RNG */
/* xoshiro256** seeded through splitmix64: reproducible on every platform. */
typedef struct {
  uint64_t s[4];
} rnnc_rng;
void rnnc_rng_seed(rnnc_rng *rng, uint64_t seed);
uint64_t rnnc_rng_next(rnnc_rng *rng);
double rnnc_rng_uniform(rnnc_rng *rng); /* [0, 1) with 53 random bits */
double rnnc_rng_normal(rnnc_rng *rng);  /* standard normal (Box-Muller) */
/* uniform integer in [0, bound) without modulo bias; bound > 0 */
uint64_t rnnc_rng_below(rnnc_rng *rng, uint64_t bound);

/* ---------------------------------------------------------------- initializers */
typedef enum {
  RNNC_INIT_ZEROS = 0,
  RNNC_INIT_ONES,
  RNNC_INIT_GLOROT_UNIFORM,
  RNNC_INIT_ORTHOGONAL,
  RNNC_INIT_UNIT_FORGET_BIAS /* LSTM bias: zeros with the forget block (second quarter) = 1 */
} rnnc_init_kind;

/* Fills a tensor of Keras shape `shape` (rank 1..4, row-major) with Keras's
 * initializer `kind`. Fans follow Keras: for rank 2 (in, out) fan_in = shape[0],
 * fan_out = shape[1]. Orthogonal works in place (no allocation). */
void rnnc_init_f32(float *w, rnnc_init_kind kind, int rank, const int *shape, rnnc_rng *rng);
void rnnc_init_f64(double *w, rnnc_init_kind kind, int rank, const int *shape, rnnc_rng *rng);

/* ---------------------------------------------------------------- losses */
typedef enum {
  RNNC_LOSS_NONE = 0,
  RNNC_LOSS_MSE,
  RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
} rnnc_loss_kind;

/* All losses follow Keras's sum_over_batch_size reduction: the per-element loss
 * is averaged over the last axis (cols), giving one value per row (a row is one
 * sample, or one sample-timestep of a sequence output); the returned loss is the
 * mean over `rows`. `grad`, when not NULL, receives d(loss)/d(input) of that mean.
 *
 * mse: pred and target are rows x cols.
 * sparse categorical crossentropy: labels holds `rows` integer class indices
 * stored as reals. `_logits` takes the pre-softmax values (the fused softmax +
 * crossentropy Keras uses after a softmax output: stable log-softmax, gradient
 * (softmax - onehot) / rows); the other form takes probabilities, clipped to
 * [1e-7, 1 - 1e-7], gradient with respect to the probabilities.
 * A label outside [0, cols) makes the function return NaN. */
double rnnc_loss_mse_f32(const float *pred, const float *target, size_t rows, size_t cols,
                         float *grad);
double rnnc_loss_mse_f64(const double *pred, const double *target, size_t rows, size_t cols,
                         double *grad);
double rnnc_loss_sparse_cce_logits_f32(const float *logits, const float *labels, size_t rows,
                                       size_t cols, float *grad);
double rnnc_loss_sparse_cce_logits_f64(const double *logits, const double *labels, size_t rows,
                                       size_t cols, double *grad);
double rnnc_loss_sparse_cce_f32(const float *probs, const float *labels, size_t rows, size_t cols,
                                float *grad);
double rnnc_loss_sparse_cce_f64(const double *probs, const double *labels, size_t rows, size_t cols,
                                double *grad);

/* Fraction of rows whose argmax over cols equals the label (sparse accuracy). */
double rnnc_sparse_accuracy_f32(const float *probs, const float *labels, size_t rows, size_t cols);
double rnnc_sparse_accuracy_f64(const double *probs, const double *labels, size_t rows,
                                size_t cols);

/* ---------------------------------------------------------------- optimizers */
typedef enum { RNNC_OPT_SGD = 1, RNNC_OPT_ADAM } rnnc_optimizer_kind;

typedef struct {
  rnnc_optimizer_kind kind;
  double learning_rate; /* SGD 0.01, Adam 0.001 */
  double momentum;      /* SGD: 0 */
  int nesterov;         /* SGD: 0 */
  double beta_1;        /* Adam: 0.9 */
  double beta_2;        /* Adam: 0.999 */
  double epsilon;       /* Adam: 1e-7 */
} rnnc_optimizer;

/* Keras defaults for a kind. */
rnnc_optimizer rnnc_optimizer_default(rnnc_optimizer_kind kind);
/* Number of reals of optimizer state for n parameters (Adam 2n: m then v;
 * SGD n when momentum != 0, else 0). */
size_t rnnc_optimizer_slots(const rnnc_optimizer *opt, size_t n);
/* One update of Keras's rule. `step` counts from 1. `slots` holds
 * rnnc_optimizer_slots() reals, zero before the first step. */
void rnnc_optimizer_step_f32(const rnnc_optimizer *opt, float *w, const float *g, float *slots,
                             size_t n, long step);
void rnnc_optimizer_step_f64(const rnnc_optimizer *opt, double *w, const double *g, double *slots,
                             size_t n, long step);

/* 1 when every value is finite (no NaN, no Inf). */
int rnnc_all_finite_f32(const float *v, size_t n);
int rnnc_all_finite_f64(const double *v, size_t n);

/* ---------------------------------------------------------------- model descriptor */
#define RNNC_MAX_RANK 4

typedef struct {
  const char *name; /* Keras weight name, e.g. "simple_rnn/kernel" */
  int rank;
  int shape[RNNC_MAX_RANK];
  size_t offset; /* element offset in the flat parameter vector */
  size_t size;   /* element count */
  rnnc_init_kind init;
} rnnc_tensor_desc;

#define RNNC_MAX_OUTPUTS 8

/* One input or output of a model. A model's inputs (the main input, then
 * the initial states of the layers that take them) and its outputs (the loss
 * applies to output 0) are stored per sample one after the other. */
typedef struct {
  int rank;
  int shape[RNNC_MAX_RANK]; /* per sample */
  size_t offset;            /* reals into the sample's inputs or outputs */
  size_t size;              /* reals */
} rnnc_output_desc;
typedef rnnc_output_desc rnnc_part_desc;
#define RNNC_MAX_INPUTS 8

/* Everything the runtime needs to drive a generated unit generically. All
 * pointers to reals are float * or double * according to `dtype`. Arrays of a
 * batch are row-major with the sample index first. */
typedef struct rnnc_model {
  const char *name;
  rnnc_dtype dtype;
  int batch; /* most samples one call takes */
  int input_rank;
  int input_shape[RNNC_MAX_RANK]; /* the main input, per sample, e.g. {timesteps, features} */
  int output_rank;
  int output_shape[RNNC_MAX_RANK]; /* output 0, per sample */
  size_t input_size;               /* reals per sample, all inputs */
  size_t output_size;              /* reals per sample, all outputs */
  size_t target_size;              /* reals per sample of the training target */
  size_t output_rows;              /* rows of output 0 the loss averages over, per sample */
  size_t output_cols;              /* the last dimension of output 0 */
  int n_outputs;
  rnnc_output_desc outputs[RNNC_MAX_OUTPUTS];
  int n_inputs;
  rnnc_part_desc inputs[RNNC_MAX_INPUTS];
  int variable_steps; /* 1: generated for any sequence length up to max_steps */
  int max_steps;      /* the (maximum) sequence length; 1 for inputs without time */
  size_t n_params;
  int n_tensors;
  const rnnc_tensor_desc *tensors;
  rnnc_loss_kind loss;
  int metric_accuracy; /* compile{metrics = {"accuracy"}} */
  rnnc_optimizer optimizer;
  size_t params_bytes;    /* n_params reals */
  size_t scratch_bytes;   /* the caller-owned scratch struct */
  size_t opt_state_bytes; /* optimizer state: step counter and slots, zeroed to start */
  const char *spec;       /* serialised description for the reference runtime */
  const char *summary;    /* Keras's model.summary() text */
  void (*init)(void *params, uint64_t seed);
  /* y: n x output_size */
  void (*forward)(const void *params, void *scratch, const void *x, void *y, int n);
  /* after forward on the same scratch: dy is d(loss)/d(y); grad (n_params reals)
   * is overwritten with the gradient summed over the n samples; dx (may be NULL)
   * receives d(loss)/d(x). */
  void (*backward)(const void *params, void *scratch, const void *dy, void *grad, void *dx, int n);
  /* forward, compiled loss, backward: returns the loss, fills grad and dx (may be
   * NULL) and y_pred (may be NULL). */
  double (*loss_grad)(const void *params, void *scratch, const void *x, const void *target,
                      void *grad, void *dx, void *y_pred, int n);
  /* loss_grad then one optimizer update. Returns the loss; when the loss or any
   * gradient is not finite, returns NaN and leaves params and state untouched. */
  double (*train_step)(void *params, void *opt_state, void *scratch, const void *x,
                       const void *target, void *y_pred, int n);
  /* The sequence length of the next calls on this scratch (1..max_steps for a
   * unit of variable length, else max_steps only); arrays keep the layout of
   * max_steps. 0 on success, -1 when out of range. */
  int (*set_steps)(void *scratch, int steps);
} rnnc_model;

/* ---------------------------------------------------------------- files */
/* Error strings: every function below that can fail returns 0 on success and -1
 * on failure with a message naming the file (and tensor) written to err. */

/* A tensor to write: data holds size(shape) reals of `dtype`. */
typedef struct {
  const char *name;
  int rank;
  int shape[RNNC_MAX_RANK];
  const void *data;
} rnnc_tensor_ref;

/* Writes a safetensors file (8-byte little-endian header length, JSON header,
 * raw little-endian data; tensors in the order given). */
int rnnc_safetensors_write(const char *path, rnnc_dtype dtype, const rnnc_tensor_ref *tensors,
                           int count, char *err, size_t errlen);

/* A tensor to read: data receives size(shape) reals of `dtype` (converted from
 * F32 or F64 in the file); the file's shape must equal `shape`. */
typedef struct {
  const char *name;
  int rank;
  int shape[RNNC_MAX_RANK];
  void *data;
} rnnc_tensor_dest;

/* Reads the named tensors from a safetensors file. Validates the whole header
 * (length, JSON syntax, dtypes, shapes, offsets inside the data area, no
 * overlap, sizes that match shape x dtype) before copying anything. */
int rnnc_safetensors_read(const char *path, rnnc_dtype dtype, const rnnc_tensor_dest *tensors,
                          int count, char *err, size_t errlen);

/* Weights of a generated model, tensor names from the descriptor. */
int rnnc_weights_save(const char *path, const rnnc_model *model, const void *params, char *err,
                      size_t errlen);
int rnnc_weights_load(const char *path, const rnnc_model *model, void *params, char *err,
                      size_t errlen);

/* A .npy array (format 1.0/2.0/3.0, C order, dtypes <f4 <f8 <i4 <i8 |u1 |i1 |b1),
 * converted to double on load. */
typedef struct {
  int rank;
  size_t shape[8];
  size_t count;
  double *data; /* malloc'd, count reals */
} rnnc_array;
int rnnc_npy_load(const char *path, rnnc_array *out, char *err, size_t errlen);
void rnnc_array_free(rnnc_array *a);
/* Writes reals of `dtype` as <f4 or <f8. */
int rnnc_npy_save(const char *path, rnnc_dtype dtype, int rank, const size_t *shape,
                  const void *data, char *err, size_t errlen);

/* ---------------------------------------------------------------- training loop */
typedef struct {
  int epochs;     /* Keras default 1 */
  int batch_size; /* Keras default 32; at most model->batch */
  int shuffle;    /* reshuffle the samples every epoch (Keras default: yes) */
  uint64_t seed;  /* shuffling seed */
  int verbose;    /* 0 silent, 1 Keras's progress bar line, 2 one line per epoch */
  int log_every;  /* print epochs 1, every log_every-th and the last (1: all) */
  int initial_epoch;
  int steps; /* the sequence length of the data, for a unit of variable length (0: the maximum) */
} rnnc_fit_options;

rnnc_fit_options rnnc_fit_defaults(void);

/* Trains `params` (model->dtype reals) on n samples: x is n x input_size,
 * y is n x target_size (sparse labels as reals), both of the model's dtype.
 * Prints progress to stdout. Returns 0, or -1 with a message in err when a
 * loss or gradient stops being finite (the weights are then those after the
 * last good step) or memory runs out. final_loss/final_accuracy (may be NULL)
 * receive the last epoch's figures. */
int rnnc_fit(const rnnc_model *model, void *params, const void *x, const void *y, size_t n,
             const rnnc_fit_options *options, double *final_loss, double *final_accuracy, char *err,
             size_t errlen);

/* The generated driver's main: init, predict, grad, fit, diff, gradcheck, summary. */
int rnnc_main(const rnnc_model *model, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
