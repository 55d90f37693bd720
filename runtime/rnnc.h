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

#include "rnnc_catalog.h"

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

/* Counter-based noise (Dropout, SpatialDropout1D, GaussianNoise,
 * GaussianDropout and the recurrent layers' dropout): 64 random bits that
 * are a pure function of (seed, salt, step, sample, index) -- the seed (the
 * layer's, else fit's), the salt (the layer's, rnnc_noise_salt of its name),
 * the optimizer step (iterations before this update), the sample's index in
 * the global batch and the element's index in the sample's mask -- so a mask
 * is the same however the batch is cut (micro-batches, threads, MPI ranks)
 * and a resumed fit continues the same stream. rnnc_noise_value turns them
 * into a value of a mask:
 *   RNNC_NOISE_DROPOUT           1 / (1 - p) with probability 1 - p, else 0
 *                                (u < 1 - p keeps, u the top 53 bits / 2^53)
 *   RNNC_NOISE_GAUSSIAN          p * N(0, 1) (GaussianNoise's stddev p, added)
 *   RNNC_NOISE_GAUSSIAN_DROPOUT  1 + sqrt(p / (1 - p)) * N(0, 1) (multiplied)
 * N(0, 1) by Box-Muller: sqrt(-2 log(1 - u1)) cos(2 pi u2), u1 from the
 * bits, u2 from mix(bits + G) (rng.c says the mixing). */
typedef enum {
  RNNC_NOISE_DROPOUT = 1,
  RNNC_NOISE_GAUSSIAN = 2,
  RNNC_NOISE_GAUSSIAN_DROPOUT = 3
} rnnc_noise_kind;
uint64_t rnnc_noise_bits(uint64_t seed, uint64_t salt, uint64_t step, uint64_t sample,
                         uint64_t index);
double rnnc_noise_value(int kind, double p, uint64_t seed, uint64_t salt, uint64_t step,
                        uint64_t sample, uint64_t index);

/* ---------------------------------------------------------------- initializers */
/* Keras's initializers: RNNC_INIT_ZEROS, RNNC_INIT_ONES, RNNC_INIT_GLOROT_UNIFORM,
 * RNNC_INIT_ORTHOGONAL, RNNC_INIT_UNIT_FORGET_BIAS, RNNC_INIT_GLOROT_NORMAL,
 * RNNC_INIT_HE_UNIFORM, RNNC_INIT_HE_NORMAL, RNNC_INIT_LECUN_UNIFORM,
 * RNNC_INIT_LECUN_NORMAL, RNNC_INIT_RANDOM_NORMAL, RNNC_INIT_RANDOM_UNIFORM
 * (the list and what each draws: RNNC_INITIALIZERS in rnnc_catalog.h). */
typedef enum {
#define RNNC_CATALOG_X_(id, NAME, name, doc) RNNC_INIT_##NAME = id,
  RNNC_INITIALIZERS(RNNC_CATALOG_X_)
#undef RNNC_CATALOG_X_
} rnnc_init_kind;

/* Fills a tensor of Keras shape `shape` (rank 1..4, row-major) with Keras's
 * initializer `kind`. Fans follow Keras: for rank 2 (in, out) fan_in = shape[0],
 * fan_out = shape[1]. Orthogonal works in place (no allocation). The truncated
 * normal redraws values beyond two standard deviations, as Keras's does. */
void rnnc_init_f32(float *w, rnnc_init_kind kind, int rank, const int *shape, rnnc_rng *rng);
void rnnc_init_f64(double *w, rnnc_init_kind kind, int rank, const int *shape, rnnc_rng *rng);

/* ---------------------------------------------------------------- losses */
/* RNNC_LOSS_NONE, RNNC_LOSS_MSE, RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
 * RNNC_LOSS_MAE, RNNC_LOSS_BINARY_CROSSENTROPY, RNNC_LOSS_CATEGORICAL_CROSSENTROPY,
 * RNNC_LOSS_HUBER, RNNC_LOSS_LOG_COSH, RNNC_LOSS_MAPE, RNNC_LOSS_MSLE,
 * RNNC_LOSS_KL_DIVERGENCE, RNNC_LOSS_POISSON, RNNC_LOSS_HINGE,
 * RNNC_LOSS_SQUARED_HINGE, RNNC_LOSS_CATEGORICAL_HINGE, RNNC_LOSS_COSINE_SIMILARITY
 * (RNNC_LOSSES in rnnc_catalog.h). */
typedef enum {
  RNNC_LOSS_NONE = 0,
#define RNNC_CATALOG_X_(id, NAME, name, sname, aliases, labels, fused, logits)                     \
  RNNC_LOSS_##NAME = id,
  RNNC_LOSSES(RNNC_CATALOG_X_)
#undef RNNC_CATALOG_X_
} rnnc_loss_kind;

/* A compiled loss: its kind, from_logits (the predictions are logits: the
 * crossentropies' stable forms), and its parameters (RNNC_LOSS_PARAMS:
 * double label_smoothing, delta). */
typedef struct {
  rnnc_loss_kind kind;
  int from_logits;
#define RNNC_CATALOG_X_(field, value, doc) double field;
  RNNC_LOSS_PARAMS(RNNC_CATALOG_X_)
#undef RNNC_CATALOG_X_
} rnnc_loss_config;

/* Keras's defaults of a loss's parameters (from_logits 0). */
rnnc_loss_config rnnc_loss_config_default(rnnc_loss_kind kind);

/* Keras's loss of `rows` rows of `cols` values (a row: the last axis of one
 * sample, or of one sample and timestep), Keras's sum_over_batch_size
 * reduction with per-row weights: sum_r w_r loss_r / denom. weights NULL is
 * 1 for every row; denom is the row count, or, under a mask, the count of the
 * rows it keeps (keras/src/losses/loss.py apply_mask: sum(loss sw mask) /
 * sum(mask)); denom 0 gives 0 (Keras's divide_no_nan). Targets: rows x cols,
 * or one class label per row (as a real) for sparse categorical
 * crossentropy. grad (may be NULL) receives d loss / d pred. Each loss's
 * rule: row_<name> in loss_impl.h, from keras/src/losses/losses.py (tf.keras
 * 2.x's where they differ: binary crossentropy's second epsilon,
 * cosine_similarity's l2_normalize). NaN for an unknown kind, no rows, or a
 * bad label (grad then all NaN). */
double rnnc_loss_eval_f32(const rnnc_loss_config *cfg, const float *pred, const float *target,
                          const float *weights, size_t rows, size_t cols, double denom,
                          float *grad);
double rnnc_loss_eval_f64(const rnnc_loss_config *cfg, const double *pred, const double *target,
                          const double *weights, size_t rows, size_t cols, double denom,
                          double *grad);

/* rnnc_loss_eval with per-sample weights too (Keras's fit(sample_weight=...),
 * or class_weight turned into them): row r's weight is weights[r] (1 when
 * weights is NULL) times sample_weight[r / rows_per_sample] (1 when
 * sample_weight is NULL), rows_per_sample the rows of one sample (its
 * timesteps for a sequence output: a sample's weight covers them all).
 * denom is unchanged: Keras 3's sum_over_batch_size divides the weighted sum
 * by the number of rows, not by the sum of the weights
 * (keras/src/losses/loss.py reduce_weighted_values, reduce_values). With
 * sample_weight NULL it is rnnc_loss_eval, bit for bit. */
double rnnc_loss_eval_sw_f32(const rnnc_loss_config *cfg, const float *pred, const float *target,
                             const float *weights, size_t rows, size_t cols, double denom,
                             const float *sample_weight, size_t rows_per_sample, float *grad);
double rnnc_loss_eval_sw_f64(const rnnc_loss_config *cfg, const double *pred, const double *target,
                             const double *weights, size_t rows, size_t cols, double denom,
                             const double *sample_weight, size_t rows_per_sample, double *grad);

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

/* mae: mean(|pred - target|) over cols; gradient sign(pred - target) / (rows * cols), 0 where
 * equal. binary crossentropy: target in [0, 1], rows x cols; from probabilities clipped to [1e-7, 1
 * - 1e-7] (gradient 0 where clipped), or `_logits` from pre-sigmoid values with the stable form
 * max(z, 0) - z * y + log(1 + exp(-|z|)), gradient (sigmoid(z) - y) / (rows * cols). categorical
 * crossentropy: target rows x cols (one-hot or probabilities); from probabilities Keras normalises
 * each row to sum 1, clips to [1e-7, 1 - 1e-7] and takes -sum(y log p);
 * `_logits` from pre-softmax values, gradient (softmax(z) * sum(y) - y) / rows. */
double rnnc_loss_mae_f32(const float *pred, const float *target, size_t rows, size_t cols,
                         float *grad);
double rnnc_loss_mae_f64(const double *pred, const double *target, size_t rows, size_t cols,
                         double *grad);
double rnnc_loss_binary_ce_f32(const float *probs, const float *target, size_t rows, size_t cols,
                               float *grad);
double rnnc_loss_binary_ce_f64(const double *probs, const double *target, size_t rows, size_t cols,
                               double *grad);
double rnnc_loss_binary_ce_logits_f32(const float *logits, const float *target, size_t rows,
                                      size_t cols, float *grad);
double rnnc_loss_binary_ce_logits_f64(const double *logits, const double *target, size_t rows,
                                      size_t cols, double *grad);
double rnnc_loss_categorical_ce_f32(const float *probs, const float *target, size_t rows,
                                    size_t cols, float *grad);
double rnnc_loss_categorical_ce_f64(const double *probs, const double *target, size_t rows,
                                    size_t cols, double *grad);
double rnnc_loss_categorical_ce_logits_f32(const float *logits, const float *target, size_t rows,
                                           size_t cols, float *grad);
double rnnc_loss_categorical_ce_logits_f64(const double *logits, const double *target, size_t rows,
                                           size_t cols, double *grad);

/* Fraction of rows whose argmax over cols equals the label (sparse accuracy). */
double rnnc_sparse_accuracy_f32(const float *probs, const float *labels, size_t rows, size_t cols);
double rnnc_sparse_accuracy_f64(const double *probs, const double *labels, size_t rows,
                                size_t cols);
/* Keras's other accuracies: categorical (argmax of pred equals argmax of the one-hot
 * target, per row) and binary (pred > 0.5 equals target > 0.5, per element, averaged). */
double rnnc_categorical_accuracy_f32(const float *probs, const float *target, size_t rows,
                                     size_t cols);
double rnnc_categorical_accuracy_f64(const double *probs, const double *target, size_t rows,
                                     size_t cols);
double rnnc_binary_accuracy_f32(const float *probs, const float *target, size_t rows, size_t cols);
double rnnc_binary_accuracy_f64(const double *probs, const double *target, size_t rows,
                                size_t cols);
/* Metrics mae and mse: the loss values without gradients. */

/* ---------------------------------------------------------------- optimizers */
/* RNNC_OPT_SGD, RNNC_OPT_ADAM, RNNC_OPT_RMSPROP, RNNC_OPT_ADAMW, RNNC_OPT_ADAGRAD,
 * RNNC_OPT_NADAM, RNNC_OPT_ADAMAX, RNNC_OPT_ADADELTA, RNNC_OPT_FTRL, RNNC_OPT_LION
 * (RNNC_OPTIMIZERS in rnnc_catalog.h). */
typedef enum {
#define RNNC_CATALOG_X_(id, NAME, name, cls) RNNC_OPT_##NAME = id,
  RNNC_OPTIMIZERS(RNNC_CATALOG_X_)
#undef RNNC_CATALOG_X_
} rnnc_optimizer_kind;

/* Keras's optimizers. Fields a kind does not use are ignored; new fields come
 * last so that positional initializers of older generated units stay valid
 * (a zero there means "off"). After `kind`, the fields of
 * RNNC_OPTIMIZER_FIELDS (rnnc_catalog.h), in order: double learning_rate,
 * momentum; int nesterov; double beta_1, beta_2, epsilon, rho; int centered,
 * legacy_epsilon, amsgrad; double weight_decay, initial_accumulator_value,
 * clipnorm, clipvalue, global_clipnorm, decay_steps, decay_rate; int
 * staircase; double learning_rate_power, l1_regularization_strength,
 * l2_regularization_strength, l2_shrinkage_regularization_strength, beta
 * (Ftrl); int schedule; double end_learning_rate, power; int cycle; double
 * alpha, warmup_target, warmup_steps, t_mul, m_mul; then PiecewiseConstantDecay's
 * n_boundaries, boundaries and values.
 *
 * The learning rate of an update is learning_rate, or the schedule's at i,
 * the number of updates before this one (Keras evaluates its schedules at
 * optimizer.iterations; keras/src/optimizers/schedules/learning_rate_schedule.py):
 *   0 none: ExponentialDecay when decay_steps > 0 (units before issue 13)
 *   1 ExponentialDecay: learning_rate decay_rate ^ (i / decay_steps), the
 *     ratio floored when staircase
 *   2 PiecewiseConstantDecay: values[0] for i <= boundaries[0], values[k] for
 *     boundaries[k-1] < i <= boundaries[k], values[n_boundaries] after
 *   3 InverseTimeDecay: learning_rate / (1 + decay_rate i / decay_steps)
 *     (the ratio floored when staircase)
 *   4 PolynomialDecay: (learning_rate - end_learning_rate) (1 - i / d) ^ power
 *     + end_learning_rate, i at most d = decay_steps (with cycle, d the first
 *     multiple of decay_steps >= i, at least decay_steps)
 *   5 CosineDecay: warmup_steps of a linear rise from learning_rate to
 *     warmup_target, then learning_rate' ((1 - alpha) (1 + cos(pi j /
 *     decay_steps)) / 2 + alpha) with j = min(i - warmup_steps, decay_steps)
 *     and learning_rate' warmup_target
 *   6 CosineDecayRestarts: periods of decay_steps (the first), each t_mul
 *     times the last, the rate m_mul times the last at each restart, alpha
 *     the floor. */
typedef struct {
  rnnc_optimizer_kind kind;
#define RNNC_CATALOG_X_(type, field, option, flag, doc) type field;
  RNNC_OPTIMIZER_FIELDS(RNNC_CATALOG_X_)
#undef RNNC_CATALOG_X_
  int n_boundaries;
  double boundaries[RNNC_MAX_BOUNDARIES];
  double values[RNNC_MAX_BOUNDARIES + 1];
} rnnc_optimizer;

/* Keras defaults for a kind. */
rnnc_optimizer rnnc_optimizer_default(rnnc_optimizer_kind kind);

/* The catalog by name: an optimizer by its name in any case ("adam",
 * "Adam"), 0 when unknown; a loss by its name or one of Keras's aliases
 * ("mse", "mean_squared_error", "MSE", ...), RNNC_LOSS_NONE when unknown;
 * whether `word` is one of the space-separated words of `list` (the
 * catalog's lists of aliases). */
rnnc_optimizer_kind rnnc_optimizer_named(const char *name);
rnnc_loss_kind rnnc_loss_named(const char *name);
int rnnc_catalog_word_in(const char *word, const char *list);
/* Number of reals of optimizer state for n parameters (Adam 2n: m then v,
 * plus n for amsgrad's v_hat; SGD n when momentum != 0, else 0; RMSprop n,
 * plus n with momentum, plus n when centered; AdamW as Adam; Adagrad n;
 * Nadam 2n: m then v; Adamax 2n: m then u; Adadelta 2n: the accumulated
 * squared gradients then deltas; Ftrl 2n: accumulators then linears; Lion
 * n). */
size_t rnnc_optimizer_slots(const rnnc_optimizer *opt, size_t n);
/* One update of Keras's rule. `step` counts from 1. `slots` holds
 * rnnc_optimizer_slots() reals, zero before the first step (Adagrad and
 * Ftrl set their accumulators to initial_accumulator_value at step 1).
 * Applies the learning rate schedule but no clipping. The learning rate of
 * update `step`: rnnc_optimizer_learning_rate. Each element's arithmetic is
 * in double, rounded once to the real type, except Adam's and AdamW's: in
 * the real type, as Keras updates a float32 variable in float32 (and 2.2x
 * faster on a seed model's step: 8 float lanes of square root and division
 * to 4 of double). */
void rnnc_optimizer_step_f32(const rnnc_optimizer *opt, float *w, const float *g, float *slots,
                             size_t n, long step);
void rnnc_optimizer_step_f64(const rnnc_optimizer *opt, double *w, const double *g, double *slots,
                             size_t n, long step);
double rnnc_optimizer_learning_rate(const rnnc_optimizer *opt, long step);
/* Clipping as Keras applies it before an update (clipvalue, then clipnorm per
 * weight tensor, then global_clipnorm), in place on g; tensors as in the
 * model descriptor. Then rnnc_optimizer_step, on every element but those of
 * the tensors marked frozen (Keras's optimizer sees model.trainable_variables
 * only), which keep their values and slots bit for bit; tensors in the order
 * of their offsets, as a unit lists them. Then the trained tensors'
 * constraints (rnnc_constrain), as Keras 3's BaseOptimizer.apply applies each
 * variable's constraint after the update. `g` is modified. */
struct rnnc_tensor_desc_s;
void rnnc_optimizer_apply_f32(const rnnc_optimizer *opt, float *w, float *g, float *slots, size_t n,
                              long step, const struct rnnc_tensor_desc_s *tensors, int n_tensors);
void rnnc_optimizer_apply_f64(const rnnc_optimizer *opt, double *w, double *g, double *slots,
                              size_t n, long step, const struct rnnc_tensor_desc_s *tensors,
                              int n_tensors);

/* 1 when every value is finite (no NaN, no Inf). */
int rnnc_all_finite_f32(const float *v, size_t n);
int rnnc_all_finite_f64(const double *v, size_t n);

/* ---------------------------------------------------------------- model descriptor */
#define RNNC_MAX_RANK 4

/* Keras's constraints (keras/src/constraints/constraints.py), applied to a
 * weight after each optimizer update: */
typedef enum {
  RNNC_CONSTRAINT_NONE = 0,
  RNNC_CONSTRAINT_MAX_NORM = 1,     /* w * clip(norm, 0, max_value) / (eps + norm) */
  RNNC_CONSTRAINT_NON_NEG = 2,      /* max(w, 0) */
  RNNC_CONSTRAINT_UNIT_NORM = 3,    /* w / (eps + norm) */
  RNNC_CONSTRAINT_MIN_MAX_NORM = 4, /* w * (rate clip(norm, min_value, max_value) + (1 - rate)
                                     * norm) / (eps + norm) */
} rnnc_constraint_kind;

/* A weight's regularizer and constraint (Keras's kernel_regularizer,
 * kernel_constraint, ...). The regularizer adds l1 sum |w| + l2 sum w^2 to the
 * loss (Keras's L1, L2, L1L2) and l1 sign(w) + 2 l2 w to the gradient. The
 * norms of a constraint are sqrt of the sum of w^2 over the dimensions whose
 * bit is set in `axes` (bit d: dimension d of the tensor's shape, Keras's
 * `axis`), one per index of the other dimensions; eps is Keras's
 * backend.epsilon(), 1e-7. */
typedef struct {
  double l1, l2;
  int constraint; /* rnnc_constraint_kind */
  unsigned axes;
  double min_value, max_value, rate;
} rnnc_weight_rule;

#define RNNC_CONSTRAINT_EPSILON 1e-7

/* The weight regularizers' penalty of the tensors (each tensor's l1 and l2
 * of its rule; reaching past n: skipped), summed in double; when g is not
 * NULL their gradient is added into it (sign(0) = 0). loss_grad and
 * eval_loss of a unit with regularizers add it to their loss, as Keras's
 * Trainer.compute_loss adds the model's losses in training and evaluation. */
struct rnnc_tensor_desc_s;
/* Keras's activity_regularizer (L1, L2, L1L2 on a layer's output) of one
 * sample: l1 sum(|h|) + l2 sum(h^2) over a rows x cols view of h (row
 * stride rs, column stride cs), in double; when g is not NULL, scale times
 * its gradient is written into g, rows x cols packed (sign(0) = 0). The
 * generated loss_grad and eval_loss add the penalty of the call's samples
 * divided by their count, as tf.keras 2.x and Keras 3 (since keras PR
 * 22021) divide by the batch size. */
double rnnc_activity_penalty_f32(const float *h, size_t rows, size_t cols, size_t rs, size_t cs,
                                 double l1, double l2, double scale, float *g);
double rnnc_activity_penalty_f64(const double *h, size_t rows, size_t cols, size_t rs, size_t cs,
                                 double l1, double l2, double scale, double *g);
double rnnc_regularize_f32(const struct rnnc_tensor_desc_s *tensors, int n_tensors, const float *w,
                           float *g, size_t n);
double rnnc_regularize_f64(const struct rnnc_tensor_desc_s *tensors, int n_tensors, const double *w,
                           double *g, size_t n);
/* The tensors' constraints applied to w in place (rnnc_optimizer_apply calls
 * it after the update). */
void rnnc_constrain_f32(const struct rnnc_tensor_desc_s *tensors, int n_tensors, float *w,
                        size_t n);
void rnnc_constrain_f64(const struct rnnc_tensor_desc_s *tensors, int n_tensors, double *w,
                        size_t n);

typedef struct rnnc_tensor_desc_s {
  const char *name; /* Keras weight name, e.g. "simple_rnn/kernel" */
  int rank;
  int shape[RNNC_MAX_RANK];
  size_t offset; /* element offset in the flat parameter vector */
  size_t size;   /* element count */
  rnnc_init_kind init;
  /* 1: not trained (a frozen layer's weights, BatchNormalization's moving
   * statistics; Keras's non_trainable_weights): rnnc_optimizer_apply leaves
   * the tensor and its optimizer slots alone, weight decay included. 0 (a
   * zero-initialised descriptor): trained. */
  int frozen;
  /* its regularizer and constraint; all zero: none. A frozen tensor's are
   * not applied (Keras regularizes and constrains trainable_weights only). */
  rnnc_weight_rule rule;
} rnnc_tensor_desc;

#define RNNC_MAX_OUTPUTS 8

/* One input or output of a model. A model's inputs and its outputs are
 * stored per sample one after the other, in the model's order (Keras's
 * Model(inputs=[...], outputs=[...])). */
typedef struct {
  int rank;
  int shape[RNNC_MAX_RANK]; /* per sample */
  size_t offset;            /* reals into the sample's inputs or outputs */
  size_t size;              /* reals */
  const char *name; /* the Input's name; an output's Keras name (its layer's, made unique) */
} rnnc_output_desc;
typedef rnnc_output_desc rnnc_part_desc;
#define RNNC_MAX_INPUTS 8

/* The loss of one output (compile{}): a single loss applies to every
 * output, a list or dict of them per output, as in Keras. The loss trained
 * is the sum of weight * the output's loss; the targets of the outputs with
 * a loss are stored per sample one after the other. */
typedef struct {
  rnnc_loss_kind kind;               /* RNNC_LOSS_NONE: the output has no loss (and no targets) */
  int from_logits;                   /* the output is the logits (from_logits=True) */
  double weight;                     /* compile{loss_weights = ...}; 1 by default */
  size_t target_offset, target_size; /* reals into a sample's targets */
  size_t rows, cols; /* rows the loss averages over (per sample) and the last axis */
} rnnc_loss_part;

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
  /* Defaults for the driver's fit and evaluate from the description's
   * compile{metrics = ...} and model:fit{...}: the driver's command-line options
   * without their dashes, e.g. "metrics=accuracy epochs=1000 batch-size=1
   * early-stopping=1 monitor=loss patience=10"; options given on the command
   * line win. "" when the description has none. */
  const char *fit_defaults;
  /* Streaming inference (NAME_stream_step): one timestep of one sample, the
   * recurrent states kept in a caller-owned struct of stream_bytes. NULL
   * functions and zero sizes for a model that cannot stream (Bidirectional,
   * go_backwards, initial states as inputs, no time axis). */
  size_t stream_bytes;
  size_t stream_input_size;  /* reals of one timestep's input */
  size_t stream_output_size; /* reals of one step's output (all outputs, one row each) */
  void (*stream_reset)(void *stream);
  void (*stream_step)(const void *params, void *stream, const void *x_t, void *y_t);
  /* The loss of every output (n_outputs entries; all RNNC_LOSS_NONE for a
   * model without compile{}), and where loss_grad leaves each output's loss
   * of its last call: n_outputs doubles at this byte offset in the scratch
   * (NaN for an output without a loss). */
  const rnnc_loss_part *losses;
  size_t losses_offset;
  /* A unit whose layers compute differently in training and at inference
   * (BatchNormalization: the batch's statistics, or the moving ones):
   * loss_grad and train_step run the training computation, forward the
   * inference one; eval_loss is forward and the compiled loss, no gradient
   * (what evaluate and the validation loss use); update_stats writes the
   * moving statistics the last loss_grad on this scratch computed into the
   * parameters (after the optimizer's step; train_step calls it). A batch
   * then is one call: fit refuses a batch_size above `batch`. NULL for the
   * other units (their loss_grad is the loss at inference too). */
  double (*eval_loss)(const void *params, void *scratch, const void *x, const void *target,
                      void *y_pred, int n);
  void (*update_stats)(void *params, const void *scratch);
  /* loss_grad with per-sample weights: sample_weight holds n reals (NULL:
   * all 1, loss_grad itself), each sample's weight multiplying its rows'
   * loss and gradient in every output's loss (rnnc_loss_eval_sw; the
   * denominator stays the row count, as Keras's sum_over_batch_size). The
   * training computation, as loss_grad. NULL in units generated before it
   * (fit then refuses sample weights) and with -DRNNC_INFERENCE_ONLY. */
  double (*loss_grad_weighted)(const void *params, void *scratch, const void *x, const void *target,
                               const void *sample_weight, void *grad, void *dx, void *y_pred,
                               int n);
  /* 0: x holds reals of `dtype`. V > 0: the model starts with an Embedding
   * of V rows and x holds int32_t tokens, input_size per sample (stream_step:
   * one per step), each in [0, V); a token outside it gives NaN outputs (and
   * a NaN loss, which train_step refuses), never a read outside the table.
   * Such a unit has no input gradient: backward and loss_grad leave dx
   * unwritten. rnnc_x_bytes gives the bytes of one input value. */
  int input_vocab;
  /* 1: a loss weighs its output's rows by a mask (Masking) and divides by the
   * unmasked rows of the call (Keras 3's apply_mask): a batch is then one
   * call, on one process (fit and evaluate refuse a batch_size above `batch`
   * or the micro-batch, and several processes). */
  int masked_loss;
  /* A unit with noise layers (Dropout, GaussianNoise, ..., the recurrent
   * layers' dropout): the key of the masks its next loss_grad draws on this
   * scratch -- the seed (a layer's own seed wins), the optimizer step (the
   * updates before this one) and the index in the step's whole batch of the
   * call's first sample (a micro-batch's offset). loss_grad and train_step
   * train with the masks; forward, eval_loss and the stream are the
   * identity of those layers (Keras's training=False). NULL for a unit
   * without noise (and in units generated before it). */
  void (*set_noise)(void *scratch, uint64_t seed, long step, long first_sample);
  /* A unit with a masked output (masked_loss): the mask of output k in the
   * last loss_grad, loss_grad_weighted or eval_loss call on this scratch,
   * n x rows reals of the unit's dtype, 1 or 0 (rows: the rows the output's
   * loss averages over, the call's length L at a variable length), or NULL
   * for an output without a mask. What weighted_metrics need (Keras 3 masks
   * them with the sample weights). NULL for a unit without masks (and in
   * units generated before it). */
  const void *(*output_mask)(const void *scratch, int output);
  /* eval_loss with per-sample weights (n reals; NULL: all 1), as
   * loss_grad_weighted weighs loss_grad's: what evaluate and the validation
   * loss of a unit with eval_loss use with sample weights. NULL where
   * eval_loss is NULL (and in units generated before it). */
  double (*eval_loss_weighted)(const void *params, void *scratch, const void *x, const void *target,
                               const void *sample_weight, void *y_pred, int n);
} rnnc_model;

/* The bytes of one value of x: sizeof(int32_t) for a unit whose input is
 * tokens (input_vocab > 0), else the unit's real. */
static inline size_t rnnc_x_bytes(const rnnc_model *m) {
  return m->input_vocab > 0 ? 4 : (m->dtype == RNNC_F64 ? sizeof(double) : sizeof(float));
}

/* ---------------------------------------------------------------- memory */
/* Zeroed memory aligned to 64 bytes (a cache line; an AVX-512 vector), NULL
 * when out of memory; release it with rnnc_free. A unit's functions take
 * params, scratch, gradients and stream state anywhere, but its products
 * read and write whole vectors: from malloc's 16-byte alignment every other
 * AVX2 load straddles two cache lines (measured on AVX2: the products of an
 * LSTM(128) training step take up to 1.45x the time, the whole step 1.05x).
 * Every buffer of a unit that the runtime allocates comes from here. */
void *rnnc_alloc(size_t bytes);
void rnnc_free(void *p);

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

/* The same readers over a file already in memory, data[0..len) (never read
 * past len); `name` stands for the file in messages (NULL: "(memory)"). */
int rnnc_safetensors_read_memory(const void *data, size_t len, const char *name, rnnc_dtype dtype,
                                 const rnnc_tensor_dest *tensors, int count, char *err,
                                 size_t errlen);
int rnnc_weights_load_memory(const void *data, size_t len, const char *name,
                             const rnnc_model *model, void *params, char *err, size_t errlen);

/* A .npy array (format 1.0/2.0/3.0, C order, dtypes <f4 <f8 <i4 <i8 |u1 |i1 |b1),
 * converted to double on load. */
typedef struct {
  int rank;
  size_t shape[8];
  size_t count;
  double *data; /* malloc'd, count reals */
} rnnc_array;
int rnnc_npy_load(const char *path, rnnc_array *out, char *err, size_t errlen);
int rnnc_npy_load_memory(const void *data, size_t len, const char *name, rnnc_array *out, char *err,
                         size_t errlen);
void rnnc_array_free(rnnc_array *a);
/* The same array converted to float (for a float32 unit: x and y straight
 * into its API), with the same checks and messages. */
typedef struct {
  int rank;
  size_t shape[8];
  size_t count;
  float *data; /* malloc'd, count reals */
} rnnc_array_f32;
int rnnc_npy_load_f32(const char *path, rnnc_array_f32 *out, char *err, size_t errlen);
int rnnc_npy_load_memory_f32(const void *data, size_t len, const char *name, rnnc_array_f32 *out,
                             char *err, size_t errlen);
void rnnc_array_f32_free(rnnc_array_f32 *a);
/* Writes reals of `dtype` as <f4 or <f8. */
int rnnc_npy_save(const char *path, rnnc_dtype dtype, int rank, const size_t *shape,
                  const void *data, char *err, size_t errlen);

/* ---------------------------------------------------------------- training loop */
/* Keras's fit() and evaluate() over a descriptor, with the callbacks
 * EarlyStopping, ModelCheckpoint and CSVLogger, a History and its SVG plot.
 * Training uses model->loss_grad and rnnc_optimizer_apply_<dtype>; the
 * optimizer state (step counter and slots) belongs to fit, not to the unit. */

#define RNNC_MAX_SERIES 32  /* loss, the outputs' losses, metrics, and their val_ */
#define RNNC_MAX_METRICS 15 /* series besides the loss: the outputs' losses and the metrics */
#define RNNC_SERIES_NAME 48 /* longest series name + 1 */

/* Keras's `logs` of one epoch (or of evaluate): "loss", the metrics, then
 * "val_loss" and the validation metrics, in that order. A model with losses
 * on several outputs also logs each output's loss (unweighted) after "loss",
 * and its metrics per output, with tf.keras's names: "dense_loss",
 * "dense_1_loss", "dense_accuracy", "val_dense_1_loss", ... */
typedef struct {
  int count;
  char names[RNNC_MAX_SERIES][RNNC_SERIES_NAME];
  double values[RNNC_MAX_SERIES];
} rnnc_logs;
/* Index of a series in logs, or -1. */
int rnnc_logs_find(const rnnc_logs *logs, const char *name);

/* Direction of a monitored quantity. AUTO: maximise when the name contains
 * "acc", else minimise (Keras's rule). */
typedef enum { RNNC_MODE_AUTO = 0, RNNC_MODE_MIN, RNNC_MODE_MAX } rnnc_monitor_mode;

/* keras.callbacks.EarlyStopping (Keras 3 rules): after each epoch from
 * start_from_epoch on, wait += 1; a value better than the best by more than
 * min_delta becomes the best and resets wait to 0 (only when it also beats
 * the baseline, when there is one); otherwise training stops when
 * wait >= patience and the epoch is not the first (index 0). With
 * restore_best_weights the weights of the best epoch are restored when
 * training ends, stopped early or not. */
typedef struct {
  int enabled;
  const char *monitor; /* NULL: "val_loss" */
  double min_delta;    /* its absolute value is used */
  int patience;
  rnnc_monitor_mode mode;
  int has_baseline;
  double baseline;
  int restore_best_weights;
  int start_from_epoch;
  int verbose; /* 1: print "Epoch N: early stopping" and the restore message */
} rnnc_early_stopping;

/* keras.callbacks.ReduceLROnPlateau (Keras 3,
 * keras/src/callbacks/reduce_lr_on_plateau.py). After each epoch: the logs
 * get "learning_rate", the rate the epoch trained with (the last series;
 * the history and the CSV log show it, the progress line does not, as
 * Keras's progress bar comes first and its History last). Then, when
 * cooldown is running, it counts down and wait = 0; a value better than best
 * by more than min_delta (min: v < best - min_delta, max: v > best +
 * min_delta, min_delta as given) becomes the best and wait = 0; otherwise,
 * out of cooldown, wait += 1 and at wait >= patience, when the rate is above
 * min_lr (compared in float32, as Keras's np.float32(min_lr)), the rate
 * becomes max(rate * factor, min_lr), cooldown starts and wait = 0. mode
 * AUTO maximises a monitor whose name contains "acc" (Keras 3's rule here:
 * not EarlyStopping's, precision, recall and auc are minimised). The rate is
 * the optimizer's learning_rate variable, of the model's dtype (float32
 * units round it, as Keras's float32 variable). factor >= 1 and an optimizer
 * with a learning-rate schedule are refused (Keras raises). */
typedef struct {
  int enabled;
  const char *monitor; /* NULL: "val_loss" */
  double factor;       /* Keras 0.1 (rnnc_fit_defaults) */
  int patience;        /* Keras 10 */
  rnnc_monitor_mode mode;
  double min_delta; /* Keras 1e-4 */
  int cooldown;
  double min_lr;
  int verbose; /* 1: "Epoch N: ReduceLROnPlateau reducing learning rate to X." */
} rnnc_reduce_lr;

/* keras.callbacks.ModelCheckpoint(save_weights_only=True) that also saves the
 * optimizer state (see rnnc_checkpoint_save). The path may hold "{epoch}",
 * "{epoch:03d}", "{val_loss:.4f}", ... (epoch counted from 1). With
 * save_best_only the file is written when the monitored value is strictly
 * better than the best so far (a NaN never is). Files are replaced
 * atomically (temporary file, then rename) and only with finite weights. */
typedef struct {
  const char *path;    /* NULL: off */
  const char *monitor; /* NULL: "val_loss" */
  int save_best_only;
  rnnc_monitor_mode mode;
  int verbose; /* 1: Keras's "Epoch N: val_loss improved from ..." lines */
} rnnc_checkpoint;

/* Optimizer state: the number of updates done and rnnc_optimizer_slots()
 * reals of the model's dtype. */
typedef struct {
  long iterations;
  size_t n_slots;
  void *slots;
  /* the learning rate ReduceLROnPlateau set (Keras's optimizer.learning_rate
   * variable); 0: the optimizer's own. rnnc_fit_history trains with it,
   * checkpoints save it as "optimizer/learning_rate" when it is set. */
  double learning_rate;
} rnnc_optimizer_state;
/* Zeroed state for `opt` on the model's parameters. 0, or -1 (out of memory). */
int rnnc_optimizer_state_init(rnnc_optimizer_state *state, const rnnc_model *model,
                              const rnnc_optimizer *opt);
void rnnc_optimizer_state_free(rnnc_optimizer_state *state);

/* The weights, plus (state not NULL) the tensors "optimizer/iterations"
 * (shape [1]) and "optimizer/slots" (shape [n_slots]), and
 * "optimizer/learning_rate" (shape [1]) when state->learning_rate is set,
 * in one safetensors file,
 * written atomically. rnnc_weights_load reads such files (it ignores the
 * extra tensors). */
int rnnc_checkpoint_save(const char *path, const rnnc_model *model, const void *params,
                         const rnnc_optimizer_state *state, char *err, size_t errlen);
/* Reads the optimizer state saved by rnnc_checkpoint_save into `state`
 * (initialised for the optimizer in use: its n_slots must match; its
 * learning_rate 0 when the file has none). Returns 1
 * when read, 0 when the file holds no optimizer state, -1 on error. */
int rnnc_checkpoint_load_state(const char *path, const rnnc_model *model,
                               rnnc_optimizer_state *state, char *err, size_t errlen);

/* Keras's History: one row of values per epoch run. */
typedef struct {
  int n_series;
  char names[RNNC_MAX_SERIES][RNNC_SERIES_NAME];
  int n_epochs;
  int *epoch;        /* per row, the epoch index (from 0, as history.epoch) */
  double *values;    /* n_epochs x n_series */
  int stopped_epoch; /* 1-based epoch after which EarlyStopping stopped training; 0: it did not */
  int best_epoch;    /* 1-based epoch of EarlyStopping's best value; 0: none */
  double best_value;
  int restored;    /* 1: the weights of best_epoch were restored */
  int diverged;    /* 1: stopped on a non-finite loss, gradient or update */
  long iterations; /* optimizer updates at the end */
  int capacity;    /* rows allocated */
} rnnc_history;
/* A value by series name and row, NaN when absent. */
double rnnc_history_value(const rnnc_history *history, const char *name, int row);
void rnnc_history_free(rnnc_history *history); /* and zeroes it */
/* A self-contained SVG of the curves: one panel per quantity (loss and
 * val_loss together, accuracy and val_accuracy, ...), axes, ticks, labels,
 * one polyline per series and a legend; a loss spanning more than two decades
 * is drawn on a log scale. */
int rnnc_history_plot_svg(const rnnc_history *history, const char *path, const char *title,
                          char *err, size_t errlen);

/* A custom callback's on_epoch_end: called once the epoch's logs are complete
 * and before the callbacks (EarlyStopping, ModelCheckpoint, CSVLogger, the
 * history) see them; it may change the values. A nonzero return stops
 * training after this epoch (model.stop_training = True). */
typedef int (*rnnc_epoch_hook)(void *user, int epoch, rnnc_logs *logs, const void *params);

/* Processes that train one model together (data parallelism across
 * machines): each computes its share of every step's micro-batches, the
 * gradients are summed in micro-batch order (a pipelined chain through the
 * ranks, then a broadcast), every process applies the same update. The
 * runtime knows no transport: these functions are the group's, e.g. MPI's
 * (runtime/mpi/rnnc_mpi.h). Each returns 0, or nonzero on failure. Every
 * process passes the same options and data (or a reader over the same
 * files); only rank 0 prints, writes the callbacks' files and the plot. */
typedef struct {
  int rank, size;
  void *user;
  int (*send)(void *user, int to, const void *buf, size_t bytes);
  int (*recv)(void *user, int from, void *buf, size_t bytes);
  int (*bcast)(void *user, void *buf, size_t bytes, int root);
  /* in place: rank r's bytes[r] bytes at buf + displs[r] go to every rank */
  int (*allgatherv)(void *user, void *buf, const size_t *bytes, const size_t *displs);
  void (*abort)(void *user, int status); /* ends every process (a rank that cannot go on) */
} rnnc_fit_group;

/* Training samples read on demand instead of held in memory (x and y NULL):
 * each step, each process reads the samples of its own micro-batches.
 * read copies samples[0..count) (indices into the n training samples) into
 * x (count x input_size) and y (count x target_size), of the model's dtype;
 * 0, or -1 with a message. The data checks are then the reader's. */
typedef struct {
  int (*read)(void *user, const size_t *samples, int count, void *x, void *y, char *err,
              size_t errlen);
  void *user;
} rnnc_fit_reader;

typedef struct {
  int epochs;     /* Keras default 1 */
  int batch_size; /* Keras default 32; above model->batch a step sums the gradients of
                     chunks of model->batch samples: the same step as one batch */
  int shuffle;    /* reshuffle the samples every epoch (Keras default: yes) */
  uint64_t seed;  /* shuffling seed; epoch e's order is the same whatever initial_epoch is */
  int verbose;    /* 0 silent, 1 Keras's progress bar (live on a terminal, else one line per
                     epoch), 2 one line per epoch */
  int log_every;  /* print epochs 1, every log_every-th and the last (1: all) */
  int initial_epoch;
  int steps; /* the sequence length of the data, for a unit of variable length (0: the maximum) */
  /* --- fields below: zero (NULL) means off / the model's own */
  double validation_split; /* the LAST n - floor(n * (1 - split)) samples, before shuffling */
  const void *val_x;       /* explicit validation data (wins over validation_split) */
  const void *val_y;
  size_t val_n;
  rnnc_optimizer optimizer; /* kind 0: model->optimizer */
  const char *metrics;      /* NULL: the model's compile metrics; else a list such as
                               "accuracy,mae" ("" = none): accuracy/acc (the variant from the
                               loss), sparse_categorical_accuracy, categorical_accuracy,
                               binary_accuracy, mae/mean_absolute_error, mse/mean_squared_error,
                               root_mean_squared_error, mape/mean_absolute_percentage_error,
                               top_k_categorical_accuracy, sparse_top_k_categorical_accuracy
                               (k = 5), precision, recall, auc (Keras's defaults; the catalog's
                               aliases too);
                               with losses on several outputs each applies to every such output,
                               or "OUTPUT:metric" to one (the output's name) */
  rnnc_early_stopping early_stopping;
  rnnc_checkpoint checkpoint;
  const char *csv_path;  /* CSVLogger: header epoch + sorted keys, a row per epoch (0-based) */
  int csv_append;        /* CSVLogger(append=True): no header when the file has content */
  const char *plot_path; /* rnnc_history_plot_svg at the end of training */
  rnnc_epoch_hook on_epoch_end;
  void *hook_user;
  /* --- data parallelism (runtime/parallel.c): none of these changes a result */
  int threads;     /* threads that compute each step's micro-batches (0, 1: the caller alone) */
  int micro_batch; /* samples per loss_grad call, 1..model->batch (0: model->batch). A step's
                      gradient is the sum, in micro-batch order, of each micro-batch's gradient
                      weighted by its share of the step's samples: the result depends on
                      batch_size and micro_batch, never on threads or the group's size */
  const rnnc_fit_group *group; /* processes sharing every step (MPI: rnnc_mpi.h); NULL: one */
  rnnc_fit_reader reader;      /* read NULL: x and y are in memory */
  rnnc_reduce_lr reduce_lr;    /* ReduceLROnPlateau (enabled 0: off) */
  /* Keras's fit(sample_weight=...) (and evaluate's): one weight per sample,
   * n reals of the model's dtype, finite and >= 0; NULL: all 1. Each
   * sample's loss and gradient are multiplied by its weight, the loss still
   * divided by the number of rows (sum_over_batch_size); of the metrics only
   * weighted_metrics take them: the Mean metrics become sum(w v) / sum(w)
   * and the confusion counts sums of w, as Keras's
   * (keras/src/metrics/reduction_metrics.py). The weights follow their
   * samples through shuffling; validation_split takes the last samples'
   * weights too. class_weight is turned into these (rnnc_class_weights).
   * Refused with a reader, with a group of several processes, and for a
   * unit without loss_grad_weighted (or with eval_loss but without
   * eval_loss_weighted: generated before them). */
  const void *sample_weight;
  const void *val_sample_weight; /* val_n reals for val_x, val_y; NULL: all 1 */
  /* Keras's fit(class_weight=...) as text, "CLASS=WEIGHT,..." (e.g.
   * "0=1,1=5": classes whole numbers >= 0, weights finite and >= 0):
   * rnnc_fit_history turns it into sample weights of the training data
   * (rnnc_class_weights; the validation data stays unweighted, as in Keras).
   * Refused with sample_weight (as Keras refuses both) and with a reader.
   * rnnc_evaluate ignores it (Keras's evaluate has no class_weight). */
  const char *class_weight;
  /* Keras's compile(weighted_metrics=[...]): metrics (the names of
   * `metrics`) that take the sample weights (and class_weight); `metrics`
   * never do, as in Keras (keras/src/trainers/compile_utils.py
   * CompileMetrics.update_state). NULL: the model's compile
   * weighted_metrics; "" none. On a masked output they weigh each row by
   * its sample's weight times the mask, as Keras 3's
   * MeanMetricWrapper.update_state (apply_mask) does when sample weights
   * are given. A weighted metric named as a metric logs as
   * "weighted_NAME" (Keras 3's CompileMetrics.result). */
  const char *weighted_metrics;
} rnnc_fit_options;

/* Keras's class_weight turned into per-sample weights
 * (keras/src/trainers/data_adapters/data_adapter_utils.py
 * class_weight_to_sample_weights): each sample's class is its sparse label
 * (a target of one value per sample) or the argmax of its one-hot target,
 * and its weight class_weight[class], 1 for a class not in the table
 * (n_classes entries; has[c] 0: class c not given). Refused (-1 and a
 * message) as Keras refuses it: a model with losses on several outputs
 * ("class_weight is only supported for Models with a single output"),
 * targets of more than one row per sample (per-timestep targets: Keras's
 * "3+ dimensional targets"). sw receives n reals of the model's dtype. */
int rnnc_class_weights(const rnnc_model *model, const void *y, size_t n, const double *class_weight,
                       const int *has, int n_classes, void *sw, char *err, size_t errlen);

/* Keras's defaults (fit's arguments without any given). */
rnnc_fit_options rnnc_fit_defaults(void);

/* The model's own defaults: Keras's, then its compile{metrics = ...} and
 * model:fit{epochs = ..., batch_size = ..., callbacks = {...}} (the words of
 * model->fit_defaults). String options point into `text`, a buffer of
 * text_size bytes (strlen(model->fit_defaults) + 1 suffice) the caller keeps
 * while it uses the options. 0, or -1 with a message in err.
 * rnnc_fit, rnnc_fit_history and rnnc_evaluate take options NULL to mean
 * these. */
#define RNNC_FIT_DEFAULTS_TEXT 4096
int rnnc_fit_model_defaults(const rnnc_model *model, rnnc_fit_options *options, char *text,
                            size_t text_size, char *err, size_t errlen);

/* Trains `params` (model->dtype reals) on n samples: x is n x input_size,
 * with `options`, or the model's defaults when options is NULL (see
 * rnnc_fit_model_defaults; options->metrics NULL is the model's compile
 * metrics either way).
 * y is n x target_size (sparse labels as reals), both of the model's dtype.
 * Prints progress to stdout. Returns 0, or -1 with a message in err when a
 * loss or gradient stops being finite (the weights are then those after the
 * last good step) or memory runs out. final_loss/final_accuracy (may be NULL)
 * receive the last epoch's figures. */
int rnnc_fit(const rnnc_model *model, void *params, const void *x, const void *y, size_t n,
             const rnnc_fit_options *options, double *final_loss, double *final_accuracy, char *err,
             size_t errlen);

/* rnnc_fit with everything: `state` (may be NULL: a fresh one) is the
 * optimizer state to start from (resume) and receives the final one; when
 * state->slots is NULL it is initialised here (free it with
 * rnnc_optimizer_state_free). `history` (may be NULL; zero it before the first
 * use, an earlier history is freed) receives the epochs run. Returns 0, or -1
 * with a message in err: divergence ("epoch E/EPOCHS, batch B/STEPS: ...",
 * history->diverged set; params are those after the last good update and no
 * checkpoint holds later ones), bad options, a callback's file that cannot be
 * written, or no memory. */
int rnnc_fit_history(const rnnc_model *model, void *params, const void *x, const void *y, size_t n,
                     const rnnc_fit_options *options, rnnc_optimizer_state *state,
                     rnnc_history *history, char *err, size_t errlen);

/* Keras's evaluate(): the loss and metrics (options->metrics) over n samples
 * in batches of options->batch_size (size-weighted means of the batch
 * values); options->verbose 1 prints Keras's progress line. */
int rnnc_evaluate(const rnnc_model *model, const void *params, const void *x, const void *y,
                  size_t n, const rnnc_fit_options *options, rnnc_logs *logs, char *err,
                  size_t errlen);

/* ---------------------------------------------------------------- threads */
/* A pool of POSIX threads: the caller's and threads - 1 workers, which wait
 * between runs. rnnc_pool_run calls fn(user, thread, threads) once on each
 * thread (thread 0 is the caller's) and returns when all have returned.
 * rnnc_pool_new returns NULL when out of memory or when a thread cannot be
 * started; threads <= 1 makes a pool that runs fn on the caller alone. */
typedef struct rnnc_pool rnnc_pool;
rnnc_pool *rnnc_pool_new(int threads);
void rnnc_pool_free(rnnc_pool *pool);
int rnnc_pool_threads(const rnnc_pool *pool);
void rnnc_pool_run(rnnc_pool *pool, void (*fn)(void *user, int thread, int threads), void *user);

/* The outputs of n samples (x: n x input_size, y: n x output_size), in calls
 * of model->batch samples spread over `threads` threads, each with its own
 * scratch: the same bytes as one thread (the calls are the same). steps:
 * the sequence length of a unit of variable length (0: the maximum). 0, or -1
 * with a message. */
int rnnc_predict(const rnnc_model *model, const void *params, const void *x, void *y, size_t n,
                 int steps, int threads, char *err, size_t errlen);

/* One timestep of `count` independent streams (model->stream_step on each):
 * streams holds count structs of model->stream_bytes, x_t count x
 * stream_input_size reals, y_t count x stream_output_size; the streams are
 * split over the pool's threads (pool NULL: the caller's). Each stream's
 * result is the same whatever the split. Worth it when a call holds tens of
 * microseconds of work: waking the threads costs a few. */
void rnnc_stream_step_many(const rnnc_model *model, const void *params, void *streams,
                           const void *x_t, void *y_t, size_t count, rnnc_pool *pool);

/* The generated driver's main: init, predict, grad, fit, diff, gradcheck, summary. */
int rnnc_main(const rnnc_model *model, int argc, char **argv);
/* The same with a group of processes (an MPI build of the driver:
 * runtime/mpi/rnnc_mpi.h); NULL: one process. */
int rnnc_main_group(const rnnc_model *model, int argc, char **argv, const rnnc_fit_group *group);

#ifdef __cplusplus
}
#endif
#endif
