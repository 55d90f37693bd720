/* Generated units against the reference runtime, on random models.
 *
 * tests/random/run.sh writes random model files (make_models.lua: Sequential
 * and functional chains of SimpleRNN, LSTM, GRU, Bidirectional, Dense and
 * TimeDistributed(Dense), some ending in a return_state layer, some taking
 * initial states as extra inputs), generates every model twice (float64 and
 * float32), and links the units with this file and a table of their
 * descriptors (models.h / models.c). One cmocka test per unit; its name and
 * every failure message name the unit and its model file.
 *
 * A unit's x per sample is the concatenation of its inputs (the main input,
 * then the initial states in layer order: descriptor inputs[]), its y the
 * concatenation of its outputs (outputs[]); the loss reads output 0 only. The
 * reference runtime takes the same layouts, so every comparison below covers
 * all inputs and outputs.
 *
 * Per unit:
 *   - the descriptor against its own spec: sizes, shapes, inputs[] and
 *     outputs[] (against rnnc_ref_input_part / rnnc_ref_output_part too),
 *     loss, tensor names (Bidirectional: <name>/forward_<inner>/..., then
 *     backward_), shapes, offsets in the reference runtime's parameter layout,
 *     and initializers (an LSTM bias's unit_forget_bias from the model file's
 *     header, which the spec does not carry);
 *   - init: reproducible from a seed, zeros / unit_forget_bias / glorot bounds
 *     / orthogonality (rows or columns, as Keras's Orthogonal);
 *   - the weights are then perturbed (rnnc_rng) so biases are non-zero (the
 *     biases of layers with hard_sigmoid by up to +-3, see
 *     spread_hard_sigmoid_biases), and inputs in [-1, 1] (initial states
 *     included) and targets are drawn (labels in range for sparse
 *     crossentropy); for a random n in 1..batch and for n = batch:
 *       forward, loss_grad (loss, every parameter tensor's gradient, dx,
 *       y_pred) and backward with a random dy on every output are compared
 *       with rnnc_ref_forward / rnnc_ref_loss_grad / rnnc_ref_backward;
 *       rows past n are never written; grad and dx are fully overwritten; the
 *       scratch is poisoned with NaN bytes before every call that must not
 *       read it (reads of unwritten scratch show up as NaN);
 *   - float64 units: central finite differences of loss_grad's loss for every
 *     parameter and every input element (initial states included) of the
 *     first n samples; for units with several outputs also of sum(dy * y)
 *     against backward(dy), which reaches the state outputs and the backward
 *     direction of merge_mode=None;
 *   - stream_step (when the unit streams): step by step over each sample,
 *     against forward's rows (check_stream);
 *   - train_step: two Adam steps equal (bitwise) loss_grad followed by
 *     rnnc_optimizer_step with the descriptor's optimizer; a NaN in x, a NaN
 *     target (mse) or an out-of-range label returns NaN and leaves the
 *     parameters and the optimizer state bitwise untouched.
 *
 * Tolerances. "relative error" of a tensor a against the reference r is
 *     max_i |a_i - r_i| / max(max_i |r_i|, 1e-30)
 * taken per tensor (the forward output, the loss, each parameter tensor's
 * gradient, dx); it must be <= 1e-12 for float64 units and <= 1e-5 for float32
 * units (the reference computes in double from the float32 unit's exact
 * parameters and inputs, so only the unit's arithmetic differs). One escape,
 * for ill-conditioned tensors (sums that cancel, as the one-element bias
 * gradient of a 1-unit layer summed over timesteps): a tensor also passes when
 * its error is at most 64 times the change of the reference itself under a
 * relative perturbation of every weight and input by one unit roundoff of the
 * unit's dtype (see SENS_FACTOR); the run's summary counts such passes.
 * Finite differences: fd = (L(p + h) - L(p - h)) / 2h with h = 1e-6 must
 * satisfy |fd - g| <= 1e-6 * max(|g|, |fd|, 1e-3) + the central difference's
 * own rounding noise, measured per unit (see check_finite_differences; with
 * h = 1e-6 a loss of 250 alone brings ~5e-8 of noise).
 *
 * Kinks (relu at 0, hard_sigmoid at -2.5 and 2.5) are avoided by design, not
 * skipped: before testing, a probe (probe_kinks: this file's own
 * double-precision forward of every layer up to the last one with relu or
 * hard_sigmoid, in any slot: a Dense's activation, a cell's activation and
 * recurrent_activation, an LSTM's act(c_t), a GRU's candidate with either
 * reset_after) computes every such pre-activation of the batch, and the
 * weight perturbation, inputs and targets are redrawn until every one is at
 * least KINK_MARGIN = 1e-4 from its kink (exact relu zeros are skipped: they
 * come from all-zero inputs without bias, or an LSTM's c = f * 0 + i * 0, and
 * stay zero under any perturbation). A step of 2e-6 then cannot cross a kink,
 * nor can float32 rounding flip one. Each probed layer's output is checked
 * against the reference runtime on the spec truncated after it (to 1e-9), so
 * the probe cannot silently compute something else. The summary prints the
 * redraws and how many hard_sigmoid pre-activations were on the slope and in
 * the flat parts (both must occur for the derivative's clipping to be tested).
 *
 * Usage: test_generated [SUBSTRING]   runs only the units whose name contains
 * SUBSTRING. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"
#include "rnnc_ref.h"
#include "models.h"

#define TOL_F64 1e-12
#define TOL_F32 1e-5
#define FD_H 1e-6
#define FD_TOL 1e-6
#define FD_FLOOR 1e-3
#define FD_NOISE_SIGMAS 6.0
#define KINK_MARGIN 1e-4
#define MAX_DRAWS 200
#define PERTURB 0.1
#define HS_BIAS_SPREAD 3.0
#define CANARY 7777.0
#define MAX_REPORTS 12
/* A tensor outside the tolerance still passes when its error is at most
 * SENS_FACTOR times the change of the reference itself when every weight and
 * input is perturbed by a random relative amount up to one unit roundoff of
 * the unit's dtype (2^-24 or 2^-53), maximised over N_PERTURBED draws: the
 * tensor is then ill-conditioned (a sum that cancels, e.g. the one-element
 * bias gradient of a 1-unit layer summed over timesteps), and the unit's own
 * rounding explains the error. The summary counts these passes. */
#define N_PERTURBED 2
#define SENS_FACTOR 64.0
/* In a float32 unit with a BatchNormalization that trains (batch
 * statistics), SENS_FACTOR_BN: its backward makes the gradient of a shift
 * before it sum to zero exactly (sum_t dx_t = 0), so a weight feeding it
 * through a near-linear map (a bias, then a sigmoid on nearly equal steps)
 * gets a sum that cancels; the float32 unit's dx_t sum to zero only to their
 * rounding, which survives the cancellation, while the probe above perturbs
 * weights and inputs and keeps the identity exact. Measured: seed 20240611's
 * f00 (Conv1D -> SpatialDropout1D -> BatchNormalization on one sample of 3
 * steps), conv1d/bias at 235 times the probe's change (4.4e-7 absolute on a
 * gradient of 2.5e-2, 230 float32 roundings of it). */
#define SENS_FACTOR_BN 1024.0
#define N_REF (1 + N_PERTURBED)

/* ------------------------------------------------------------------ bookkeeping */

typedef struct {
  double err;
  char where[200];
} worst_t;

static worst_t worst_ref[2];   /* [0] float32, [1] float64 */
static worst_t worst_fd;       /* relative, as the tolerance reads */
static worst_t worst_fd_score; /* |fd - g| / (tolerance + noise allowance); <= 1 passes */
static worst_t worst_cond[2];  /* error / sensitivity of the passes by conditioning */
static long fd_checked, kink_redraws, cond_passes[2];
/* the accepted draws of the float64 units (their float32 twins use the same
 * draws rounded): hard_sigmoid and relu pre-activations on each side */
static long hs_slope, hs_flat, relu_pos, relu_neg;
static double worst_probe;

static void note_worst(worst_t *w, double err, const char *fmt, ...) {
  va_list ap;
  if (!(err > w->err)) /* callers map NaN to +Inf */
    return;
  w->err = err;
  va_start(ap, fmt);
  vsnprintf(w->where, sizeof w->where, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------ the spec */

#define MAX_LAYERS 16
#define MAX_LINE 512
#define MAX_OUTS 8

enum { K_DENSE, K_SIMPLE_RNN, K_LSTM, K_GRU, K_FRONT, K_ELEM };
/* the activations, in the order of act_names */
enum {
  A_LINEAR,
  A_RELU,
  A_TANH,
  A_SIGMOID,
  A_SOFTMAX,
  A_HARD_SIGMOID,
  A_HARD_SIGMOID_KERAS2,
  A_ELU,
  A_SELU,
  A_GELU,
  A_GELU_APPROXIMATE,
  A_SWISH,
  A_SILU,
  A_SOFTPLUS,
  A_SOFTSIGN,
  A_EXPONENTIAL,
  A_LEAKY_RELU,
  A_RELU6,
  A_MISH,
  A_HARD_SILU,
  A_HARD_SWISH,
  A_LOG_SOFTMAX,
  N_ACTS
};
/* the elementwise layers (K_ELEM) */
enum { E_ACTIVATION, E_RELU, E_LEAKY_RELU, E_ELU, E_PRELU, E_NOISE };
enum { M_CONCAT, M_SUM, M_MUL, M_AVE, M_NONE };

/* Where one direction's tensors start in the parameter vector. */
typedef struct {
  size_t kernel_off, recurrent_off, bias_off;
} sdir;

typedef struct {
  char line[MAX_LINE];  /* the layer's line (a Bidirectional's own line) */
  char inner[MAX_LINE]; /* a Bidirectional's wrapped-layer line, else "" */
  char name[128];       /* weight prefix; a Bidirectional's own name */
  char inner_name[128]; /* the wrapped layer's name */
  int kind;             /* K_DENSE or the cell */
  int bidir, merge;     /* Bidirectional and its merge mode */
  int units, act, rec_act, use_bias, reset_after;
  int return_sequences, return_state, go_backwards, initial_state;
  int gates, n_states, n_dirs;
  int rows;        /* timesteps of a sequence input, 1 for a vector input */
  int in_features; /* last axis of the input */
  int in_rank;     /* per sample: 2 (T, F) or 1 (F) */
  size_t in_size;
  int out_cols;  /* last axis of output 0 */
  int n_outputs; /* outputs, Keras order */
  int out_rank[MAX_OUTS], out_shape[MAX_OUTS][2];
  size_t out_size[MAX_OUTS]; /* reals per sample of each output */
  sdir dir[2];               /* forward copy, then backward copy */
  size_t init_off;           /* offset of its initial states in a sample's x */
  size_t end_off;
  /* K_FRONT (convolutions, pooling, shape and normalisation layers): the
   * class, its keys, and its tensors (name suffix, shape, initializer) */
  char cls[64];
  int fk, fs, fd, fgroups, ffilters, fmult, fbefore, fafter, fsize, fswap, fkeep, fcenter, fscale;
  int frms, ftarget[2], ftarget_rank;
  char fpadding[16];
  int n_ft, ft_rank[4], ft_shape[4][3], ft_init[4];
  char ft_name[4][32];
  size_t ft_off[4];
  /* K_ELEM: which layer, its parameters (ReLU: max_value when has_max,
   * negative_slope, threshold; LeakyReLU: slope; ELU: alpha), PReLU's alpha
   * (a_rows x a_cols at alpha_off, repeated along a shared axis) */
  int elem, has_max, a_rows, a_cols;
  double max_value, slope, threshold, alpha;
  size_t alpha_off;
  int frozen;  /* trainable=0: no gradient; a BatchNormalization in inference mode */
  int dropout; /* a recurrent layer with dropout or recurrent_dropout: masks in training */
} slayer;

typedef struct {
  char input_line[MAX_LINE];
  int in_rank, in_shape[2];
  int n_layers;
  slayer layers[MAX_LAYERS];
  size_t main_size, input_size; /* reals per sample: the main input, all inputs */
  char loss[64];                /* "" when none */
  /* a graph (make_graphs.lua: in=, state=, share=, output lines, merges,
   * attention): only the descriptor's generic checks against the reference
   * runtime, no probe (graph models use no kinked activation) */
  int graph;
  int masking;   /* a Masking layer (mask_value 0): draw_data zeroes rows of x */
  int mask_zero; /* an Embedding with mask_zero: token 0 masks its step */
  int n_loss;    /* loss lines */
  int loss_kind[16], loss_output[16]; /* each: rnnc_loss_kind, output (-1: every output) */
} sspec;

/* Points at the value of " key=" in a layer line, or NULL. */
static const char *key_value(const char *line, const char *key) {
  char pat[64];
  const char *p;
  snprintf(pat, sizeof pat, " %s=", key);
  p = strstr(line, pat);
  return p ? p + strlen(pat) : NULL;
}

static int key_int(const char *line, const char *key, int *out) {
  const char *v = key_value(line, key);
  char *end;
  long x;
  if (!v)
    return -1;
  x = strtol(v, &end, 10);
  if (end == v)
    return -1;
  *out = (int)x;
  return 0;
}

/* The word after " key=" mapped through names[] (index), -1 if absent or unknown. */
static int key_word(const char *line, const char *key, const char *const *names, int count) {
  const char *v = key_value(line, key);
  char word[32];
  int i;
  if (!v || sscanf(v, "%31s", word) != 1)
    return -1;
  for (i = 0; i < count; i++)
    if (strcmp(word, names[i]) == 0)
      return i;
  return -1;
}

static const char *const act_names[N_ACTS] = {"linear",
                                              "relu",
                                              "tanh",
                                              "sigmoid",
                                              "softmax",
                                              "hard_sigmoid",
                                              "hard_sigmoid_keras2",
                                              "elu",
                                              "selu",
                                              "gelu",
                                              "gelu_approximate",
                                              "swish",
                                              "silu",
                                              "softplus",
                                              "softsign",
                                              "exponential",
                                              "leaky_relu",
                                              "relu6",
                                              "mish",
                                              "hard_silu",
                                              "hard_swish",
                                              "log_softmax"};

/* A real after " key=", or NAN when absent. */
static double key_real(const char *line, const char *key) {
  const char *v = key_value(line, key);
  return v ? strtod(v, NULL) : NAN;
}
static const char *const merge_names[] = {"concat", "sum", "mul", "ave", "none"};

static const char *const front_classes[] = {"Conv1D",
                                            "SeparableConv1D",
                                            "DepthwiseConv1D",
                                            "MaxPooling1D",
                                            "AveragePooling1D",
                                            "GlobalMaxPooling1D",
                                            "GlobalAveragePooling1D",
                                            "ZeroPadding1D",
                                            "Cropping1D",
                                            "UpSampling1D",
                                            "Flatten",
                                            "Reshape",
                                            "Permute",
                                            "RepeatVector",
                                            "LayerNormalization",
                                            "BatchNormalization",
                                            "Embedding",
                                            "Masking"};

static int is_front_class(const char *cls) {
  size_t i;
  for (i = 0; i < sizeof front_classes / sizeof front_classes[0]; i++)
    if (strcmp(cls, front_classes[i]) == 0)
      return 1;
  return 0;
}

/* A front-end layer's line (format in rnnc_ref.h): its keys into L. The
 * shapes and tensors follow in finish_front, from Keras's definitions. */
static int parse_front_line(const char *line, const char *cls, slayer *L, char *err,
                            size_t errlen) {
  const char *v;
  L->kind = K_FRONT;
  snprintf(L->cls, sizeof L->cls, "%s", cls);
  L->act = A_LINEAR;
  L->fgroups = L->fmult = 1;
  L->fd = 1;
  if (key_int(line, "kernel_size", &L->fk) == 0) {
    if (key_int(line, "strides", &L->fs) || key_int(line, "dilation_rate", &L->fd) ||
        key_int(line, "use_bias", &L->use_bias) ||
        (L->act = key_word(line, "activation", act_names, N_ACTS)) < 0 ||
        sscanf(key_value(line, "padding") ? key_value(line, "padding") : "", "%15s", L->fpadding) !=
            1) {
      snprintf(err, errlen, "bad convolution line '%.120s'", line);
      return -1;
    }
    key_int(line, "filters", &L->ffilters);
    key_int(line, "groups", &L->fgroups);
    key_int(line, "depth_multiplier", &L->fmult);
  } else if (key_int(line, "pool_size", &L->fk) == 0) {
    if (key_int(line, "strides", &L->fs) ||
        sscanf(key_value(line, "padding") ? key_value(line, "padding") : "", "%15s", L->fpadding) !=
            1) {
      snprintf(err, errlen, "bad pooling line '%.120s'", line);
      return -1;
    }
  }
  key_int(line, "before", &L->fbefore);
  key_int(line, "after", &L->fafter);
  key_int(line, "size", &L->fsize);
  key_int(line, "n", &L->fsize);
  key_int(line, "swap", &L->fswap);
  key_int(line, "keepdims", &L->fkeep);
  key_int(line, "center", &L->fcenter);
  key_int(line, "scale", &L->fscale);
  key_int(line, "rms_scaling", &L->frms);
  key_int(line, "input_dim", &L->fsize);     /* Embedding: the table's rows */
  key_int(line, "output_dim", &L->ffilters); /* and its columns */
  v = key_value(line, "target");
  if (v) {
    L->ftarget_rank = sscanf(v, "%d,%d", &L->ftarget[0], &L->ftarget[1]);
    if (L->ftarget_rank < 1) {
      snprintf(err, errlen, "bad Reshape target in '%.120s'", line);
      return -1;
    }
  }
  return 0;
}

/* A layer's class line (Dense, SimpleRNN, LSTM, GRU) into L. */
static int parse_class_line(const char *line, slayer *L, char *name, size_t namelen, char *err,
                            size_t errlen) {
  char cls[64], nm[128];
  if (sscanf(line, "layer %63s %127s", cls, nm) != 2) {
    snprintf(err, errlen, "bad layer line '%.120s'", line);
    return -1;
  }
  snprintf(name, namelen, "%s", nm);
  if (key_value(line, "trainable") != NULL && key_value(line, "trainable")[0] == '0')
    L->frozen = 1;
  if (strcmp(cls, "Dense") == 0)
    L->kind = K_DENSE;
  else if (strcmp(cls, "SimpleRNN") == 0)
    L->kind = K_SIMPLE_RNN;
  else if (strcmp(cls, "LSTM") == 0)
    L->kind = K_LSTM;
  else if (strcmp(cls, "GRU") == 0)
    L->kind = K_GRU;
  else if (is_front_class(cls))
    return parse_front_line(line, cls, L, err, errlen);
  else if (strcmp(cls, "Dropout") == 0 || strcmp(cls, "GaussianNoise") == 0 ||
           strcmp(cls, "GaussianDropout") == 0) {
    /* a noise layer: the identity at inference; alpha its rate (stddev) */
    L->kind = K_ELEM;
    L->elem = E_NOISE;
    L->act = L->rec_act = A_LINEAR;
    L->alpha = key_real(line, strcmp(cls, "GaussianNoise") == 0 ? "stddev" : "rate");
    L->use_bias = 0;
    return 0;
  } else if (strcmp(cls, "Activation") == 0 || strcmp(cls, "ReLU") == 0 ||
             strcmp(cls, "LeakyReLU") == 0 || strcmp(cls, "ELU") == 0 ||
             strcmp(cls, "PReLU") == 0) {
    const char *shape = key_value(line, "alpha_shape");
    L->kind = K_ELEM;
    L->elem = cls[0] == 'A'   ? E_ACTIVATION
              : cls[0] == 'R' ? E_RELU
              : cls[0] == 'L' ? E_LEAKY_RELU
              : cls[0] == 'E' ? E_ELU
                              : E_PRELU;
    L->act = L->elem == E_ACTIVATION ? key_word(line, "activation", act_names, N_ACTS) : A_LINEAR;
    L->has_max = key_value(line, "max_value") && strncmp(key_value(line, "max_value"), "none", 4);
    L->max_value = key_real(line, "max_value");
    L->slope = key_real(line, "negative_slope");
    L->threshold = key_real(line, "threshold");
    L->alpha = key_real(line, "alpha");
    L->a_rows = L->a_cols = 0;
    if (shape && sscanf(shape, "%dx%d", &L->a_rows, &L->a_cols) != 2) {
      L->a_rows = 1;
      L->a_cols = atoi(shape);
    }
    L->use_bias = 0;
    L->rec_act = A_LINEAR;
    if (L->act < 0) {
      snprintf(err, errlen, "bad activation in '%.120s'", line);
      return -1;
    }
    return 0;
  } else {
    snprintf(err, errlen, "unknown layer class '%s'", cls);
    return -1;
  }
  L->act = key_word(line, "activation", act_names, N_ACTS);
  if (key_int(line, "units", &L->units) || key_int(line, "use_bias", &L->use_bias) || L->act < 0) {
    snprintf(err, errlen, "layer line without units/use_bias/activation: '%.120s'", line);
    return -1;
  }
  L->gates = L->kind == K_LSTM ? 4 : L->kind == K_GRU ? 3 : 1;
  L->dropout = key_real(line, "dropout") > 0 || key_real(line, "recurrent_dropout") > 0;
  L->n_states = L->kind == K_LSTM ? 2 : 1;
  L->rec_act = A_LINEAR;
  if (L->kind == K_DENSE)
    return 0;
  if (key_int(line, "return_sequences", &L->return_sequences) ||
      key_int(line, "return_state", &L->return_state) ||
      key_int(line, "go_backwards", &L->go_backwards)) {
    snprintf(err, errlen,
             "recurrent line without return_sequences/return_state/go_backwards: '%.120s'", line);
    return -1;
  }
  if (key_int(line, "initial_state", &L->initial_state))
    L->initial_state = 0;
  if (L->kind != K_SIMPLE_RNN &&
      (L->rec_act = key_word(line, "recurrent_activation", act_names, N_ACTS)) < 0) {
    snprintf(err, errlen, "line without recurrent_activation: '%.120s'", line);
    return -1;
  }
  if (L->kind == K_GRU && key_int(line, "reset_after", &L->reset_after)) {
    snprintf(err, errlen, "GRU line without reset_after: '%.120s'", line);
    return -1;
  }
  return 0;
}

static void front_tensor(slayer *L, const char *name, int rank, int a, int b, int c, int init) {
  int t = L->n_ft++;
  snprintf(L->ft_name[t], sizeof L->ft_name[t], "%s", name);
  L->ft_rank[t] = rank;
  L->ft_shape[t][0] = a;
  L->ft_shape[t][1] = b;
  L->ft_shape[t][2] = c;
  L->ft_init[t] = init;
}

/* Output steps of a window of `size` (dilated) steps moved by s. */
static int front_steps(int T, int size, int s, const char *padding) {
  if (strcmp(padding, "valid") == 0)
    return (T - size) / s + 1;
  return (T + s - 1) / s;
}

/* A front-end layer's output shape and tensors (Keras's weight names, shapes
 * and default initializers), from its keys. */
static void finish_front(slayer *L, int *cur_rank) {
  int T = L->rows, C = L->in_features, To = T, Co = C, rank = *cur_rank;
  const char *c = L->cls;
  L->n_ft = 0;
  if (strcmp(c, "Conv1D") == 0 || strcmp(c, "SeparableConv1D") == 0 ||
      strcmp(c, "DepthwiseConv1D") == 0) {
    To = front_steps(T, L->fd * (L->fk - 1) + 1, L->fs, L->fpadding);
    if (strcmp(c, "Conv1D") == 0) {
      Co = L->ffilters;
      front_tensor(L, "kernel", 3, L->fk, C / L->fgroups, Co, RNNC_INIT_GLOROT_UNIFORM);
    } else if (strcmp(c, "DepthwiseConv1D") == 0) {
      Co = C * L->fmult;
      front_tensor(L, "depthwise_kernel", 3, L->fk, C, L->fmult, RNNC_INIT_GLOROT_UNIFORM);
    } else {
      Co = L->ffilters;
      front_tensor(L, "depthwise_kernel", 3, L->fk, C, L->fmult, RNNC_INIT_GLOROT_UNIFORM);
      front_tensor(L, "pointwise_kernel", 3, 1, C * L->fmult, Co, RNNC_INIT_GLOROT_UNIFORM);
    }
    if (L->use_bias)
      front_tensor(L, "bias", 1, Co, 0, 0, RNNC_INIT_ZEROS);
  } else if (strcmp(c, "MaxPooling1D") == 0 || strcmp(c, "AveragePooling1D") == 0) {
    To = front_steps(T, L->fk, L->fs, L->fpadding);
  } else if (strcmp(c, "GlobalMaxPooling1D") == 0 || strcmp(c, "GlobalAveragePooling1D") == 0) {
    To = 1;
    rank = L->fkeep ? 2 : 1;
  } else if (strcmp(c, "ZeroPadding1D") == 0) {
    To = T + L->fbefore + L->fafter;
  } else if (strcmp(c, "Cropping1D") == 0) {
    To = T - L->fbefore - L->fafter;
  } else if (strcmp(c, "UpSampling1D") == 0) {
    To = T * L->fsize;
  } else if (strcmp(c, "Flatten") == 0) {
    To = 1;
    Co = T * C;
    rank = 1;
  } else if (strcmp(c, "Reshape") == 0) {
    rank = L->ftarget_rank;
    To = rank == 2 ? L->ftarget[0] : 1;
    Co = L->ftarget[rank - 1];
  } else if (strcmp(c, "Permute") == 0 && L->fswap) {
    To = C;
    Co = T;
  } else if (strcmp(c, "RepeatVector") == 0) {
    To = L->fsize;
    rank = 2;
  } else if (strcmp(c, "Embedding") == 0) {
    /* integer tokens (T,) -> (T, output_dim), the table (input_dim, output_dim) */
    To = C;
    Co = L->ffilters;
    rank = 2;
    front_tensor(L, "embeddings", 2, L->fsize, Co, 0, RNNC_INIT_RANDOM_UNIFORM);
  } else if (strcmp(c, "LayerNormalization") == 0) {
    if (L->fscale || L->frms)
      front_tensor(L, "gamma", 1, C, 0, 0, RNNC_INIT_ONES);
    if (L->fcenter && !L->frms)
      front_tensor(L, "beta", 1, C, 0, 0, RNNC_INIT_ZEROS);
  } else if (strcmp(c, "BatchNormalization") == 0) {
    if (L->fscale)
      front_tensor(L, "gamma", 1, C, 0, 0, RNNC_INIT_ONES);
    if (L->fcenter)
      front_tensor(L, "beta", 1, C, 0, 0, RNNC_INIT_ZEROS);
    front_tensor(L, "moving_mean", 1, C, 0, 0, RNNC_INIT_ZEROS);
    front_tensor(L, "moving_variance", 1, C, 0, 0, RNNC_INIT_ONES);
  }
  L->out_cols = Co;
  L->n_outputs = 1;
  L->out_rank[0] = rank;
  L->out_shape[0][0] = rank == 2 ? To : Co;
  L->out_shape[0][1] = Co;
  *cur_rank = rank;
}

/* Shapes, outputs and parameter offsets of layer L on a (rank, cur) input. */
static void finish_layer(sspec *s, slayer *L, int *cur_rank, int cur[2], size_t *offset) {
  int d, k = 0, U = L->units;
  L->in_rank = *cur_rank;
  L->in_features = cur[*cur_rank - 1];
  L->rows = *cur_rank == 2 ? cur[0] : 1;
  L->in_size = (size_t)L->rows * (size_t)L->in_features;
  if (L->kind == K_FRONT) {
    int t;
    finish_front(L, cur_rank);
    for (t = 0; t < L->n_ft; t++) {
      size_t size = (size_t)L->ft_shape[t][0];
      if (L->ft_rank[t] > 1)
        size *= (size_t)L->ft_shape[t][1];
      if (L->ft_rank[t] > 2)
        size *= (size_t)L->ft_shape[t][2];
      L->ft_off[t] = *offset;
      *offset += size;
    }
  } else if (L->kind == K_ELEM) {
    U = L->units = L->in_features;
    L->n_dirs = 0;
    if (L->elem == E_PRELU) {
      L->alpha_off = *offset;
      *offset += (size_t)L->a_rows * (size_t)L->a_cols;
    }
    L->out_cols = U;
    L->n_outputs = 1;
    L->out_rank[0] = *cur_rank;
    L->out_shape[0][0] = *cur_rank == 2 ? L->rows : U;
    L->out_shape[0][1] = U;
  } else if (L->kind == K_DENSE) {
    L->n_dirs = 0;
    L->dir[0].kernel_off = *offset;
    *offset += (size_t)L->in_features * (size_t)U;
    if (L->use_bias) {
      L->dir[0].bias_off = *offset;
      *offset += (size_t)U;
    }
    L->out_cols = U;
    L->n_outputs = 1;
    L->out_rank[0] = *cur_rank;
    L->out_shape[0][0] = *cur_rank == 2 ? L->rows : U;
    L->out_shape[0][1] = U;
  } else {
    size_t GU = (size_t)L->gates * (size_t)U;
    L->n_dirs = L->bidir ? 2 : 1;
    for (d = 0; d < L->n_dirs; d++) {
      L->dir[d].kernel_off = *offset;
      *offset += (size_t)L->in_features * GU;
      L->dir[d].recurrent_off = *offset;
      *offset += (size_t)U * GU;
      if (L->use_bias) {
        L->dir[d].bias_off = *offset;
        *offset += (L->kind == K_GRU && L->reset_after ? 2 : 1) * GU;
      }
    }
    L->out_cols = L->bidir && L->merge == M_CONCAT ? 2 * U : U;
    for (d = 0; d < (L->bidir && L->merge == M_NONE ? 2 : 1); d++, k++) {
      L->out_rank[k] = L->return_sequences ? 2 : 1;
      L->out_shape[k][0] = L->return_sequences ? L->rows : L->out_cols;
      L->out_shape[k][1] = L->out_cols;
    }
    if (L->return_state)
      for (d = 0; d < L->n_dirs * L->n_states; d++, k++) {
        L->out_rank[k] = 1;
        L->out_shape[k][0] = U;
      }
    L->n_outputs = k;
    if (L->initial_state) {
      L->init_off = s->input_size;
      s->input_size += (size_t)L->n_states * (size_t)U;
    }
  }
  for (k = 0; k < L->n_outputs; k++)
    L->out_size[k] = (size_t)L->out_shape[k][0] * (L->out_rank[k] == 2 ? (size_t)L->out_cols : 1);
  L->end_off = *offset;
  *cur_rank = L->out_rank[0];
  cur[0] = L->out_shape[0][0];
  cur[1] = L->out_shape[0][1];
}

/* The spec's loss lines: each loss and the output it applies to. */
static int parse_losses(const char *spec, sspec *s, char *err, size_t errlen) {
  const char *p = spec;
  while ((p = strstr(p, "\nloss ")) != NULL) {
    char name[64];
    const char *eol = strchr(p + 1, '\n'), *out = strstr(p + 1, " output=");
    if (s->n_loss == 16 || sscanf(p + 6, "%63s", name) != 1) {
      snprintf(err, errlen, "bad loss lines");
      return -1;
    }
    if (s->n_loss == 0)
      snprintf(s->loss, sizeof s->loss, "%s", name);
    s->loss_kind[s->n_loss] = rnnc_loss_named(name);
    s->loss_output[s->n_loss] = out != NULL && (eol == NULL || out < eol) ? atoi(out + 8) : -1;
    s->n_loss++;
    p += 6;
  }
  return 0;
}

/* Parses the spec (format in rnnc_ref.h); returns 0 or -1 with a message. */
static int parse_spec(const char *spec, sspec *s, char *err, size_t errlen) {
  const char *p = spec;
  int cur_rank = 0, cur[2] = {0, 0}, pending = 0;
  size_t offset = 0;
  memset(s, 0, sizeof *s);
  if (parse_losses(spec, s, err, errlen) != 0)
    return -1;
  s->masking = strstr(spec, "\nlayer Masking ") != NULL;
  s->mask_zero = strstr(spec, " mask_zero=1") != NULL;
  if (strstr(spec, " in=") || strstr(spec, " state=") || strstr(spec, " share=") ||
      strstr(spec, "\noutput ")) {
    s->graph = 1;
    return 0;
  }
  while (*p) {
    char line[MAX_LINE];
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len >= sizeof line) {
      snprintf(err, errlen, "spec line too long");
      return -1;
    }
    memcpy(line, p, len);
    line[len] = '\0';
    p += len + (nl ? 1 : 0);
    if (strncmp(line, "input ", 6) == 0) {
      int n = sscanf(line + 6, "%d %d", &s->in_shape[0], &s->in_shape[1]);
      if (n < 1) {
        snprintf(err, errlen, "bad input line '%.120s'", line);
        return -1;
      }
      s->in_rank = n;
      cur_rank = n;
      cur[0] = s->in_shape[0];
      cur[1] = s->in_shape[1];
      s->main_size = (size_t)s->in_shape[0] * (n == 2 ? (size_t)s->in_shape[1] : 1);
      s->input_size = s->main_size;
      memcpy(s->input_line, line, len + 1);
    } else if (strncmp(line, "layer ", 6) == 0) {
      slayer *L;
      if (pending) { /* the layer a Bidirectional wraps */
        L = &s->layers[s->n_layers - 1];
        memcpy(L->inner, line, len + 1);
        if (parse_class_line(line, L, L->inner_name, sizeof L->inner_name, err, errlen))
          return -1;
        if (L->kind == K_DENSE || L->initial_state) {
          snprintf(err, errlen, "Bidirectional wraps '%.120s'", line);
          return -1;
        }
        pending = 0;
        finish_layer(s, L, &cur_rank, cur, &offset);
        continue;
      }
      if (s->n_layers == MAX_LAYERS || cur_rank == 0) {
        snprintf(err, errlen, "too many layers or no input line");
        return -1;
      }
      L = &s->layers[s->n_layers++];
      memcpy(L->line, line, len + 1);
      if (strncmp(line, "layer Bidirectional ", 20) == 0) {
        L->bidir = 1;
        L->frozen = key_value(line, "trainable") != NULL && key_value(line, "trainable")[0] == '0';
        L->merge = key_word(line, "merge_mode", merge_names, 5);
        if (sscanf(line, "layer Bidirectional %127s", L->name) != 1 || L->merge < 0) {
          snprintf(err, errlen, "bad Bidirectional line '%.120s'", line);
          return -1;
        }
        pending = 1;
        continue;
      }
      if (parse_class_line(line, L, L->name, sizeof L->name, err, errlen))
        return -1;
      finish_layer(s, L, &cur_rank, cur, &offset);
    }
  }
  if (s->n_layers == 0 || pending) {
    snprintf(err, errlen, "spec without layers, or ending in a Bidirectional line");
    return -1;
  }
  return 0;
}

/* The spec of layers 0..k (no loss line). */
static char *truncated_spec(const sspec *s, int k) {
  size_t cap = 64 + strlen(s->input_line) + (size_t)(k + 1) * (2 * MAX_LINE + 32);
  char *out = (char *)malloc(cap);
  int l;
  assert_non_null(out);
  snprintf(out, cap, "rnnc-spec 1\n%s\n", s->input_line);
  for (l = 0; l <= k; l++) {
    const slayer *L = &s->layers[l];
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "%s\n%s%s", L->line, L->inner, L->inner[0] ? "\n" : "");
  }
  return out;
}

/* ------------------------------------------------------------------ the unit under test */

typedef struct {
  const rnnc_model *m;
  const char *file;
  int index;
} entry;

typedef struct {
  const rnnc_model *m;
  const char *file;
  int f64;
  size_t dsize;
  sspec spec;
  rnnc_ref *ref;
  int failures;
  /* worst relative errors of this unit, for its summary line */
  double w_fwd, w_loss, w_grad, w_dx, w_bwd, w_fd, w_fd_dy, w_stream;
  double fd_noise, fd_noise_dy; /* the finite differences' rounding noise allowances */
} ctx;

static void report(ctx *c, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  c->failures++;
  if (c->failures > MAX_REPORTS)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  print_error("%s (model file %s): %s\n", c->m->name, c->file, msg);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n > 0 ? n : 1);
  assert_non_null(p);
  return p;
}

static double *reals(size_t n) {
  double *p = (double *)calloc(n > 0 ? n : 1, sizeof(double));
  assert_non_null(p);
  return p;
}

/* Reals of the unit's dtype, as void *. */
static void *mreals(const ctx *c, size_t n) {
  void *p = calloc(n > 0 ? n : 1, c->dsize);
  assert_non_null(p);
  return p;
}

static double mget(const ctx *c, const void *a, size_t i) {
  return c->f64 ? ((const double *)a)[i] : (double)((const float *)a)[i];
}

static void mset(const ctx *c, void *a, size_t i, double v) {
  if (c->f64)
    ((double *)a)[i] = v;
  else
    ((float *)a)[i] = (float)v;
}

static void to_double(const ctx *c, const void *a, double *out, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    out[i] = mget(c, a, i);
}

/* Draws into the unit's dtype and keeps the exact values as doubles. */
static void draw_uniform(const ctx *c, rnnc_rng *rng, void *a, double *d, size_t n, double lo,
                         double hi) {
  size_t i;
  for (i = 0; i < n; i++) {
    mset(c, a, i, lo + (hi - lo) * rnnc_rng_uniform(rng));
    d[i] = mget(c, a, i);
  }
}

static void fill_value(const ctx *c, void *a, size_t from, size_t to, double v) {
  size_t i;
  for (i = from; i < to; i++)
    mset(c, a, i, v);
}

/* Entries [from, to) still hold the canary. */
static void check_untouched(ctx *c, const char *what, const void *a, size_t from, size_t to) {
  size_t i;
  for (i = from; i < to; i++) {
    if (mget(c, a, i) != CANARY) {
      report(c, "%s: wrote element %zu, past the n samples it was given (value %.17g)", what, i,
             mget(c, a, i));
      return;
    }
  }
}

static void poison(void *p, size_t bytes) {
  memset(p, 0xFF, bytes); /* all-ones: a NaN in float and in double */
}

/* The key of the noise layers' masks in every comparison with the
 * reference (rnnc_ref_set_noise in main): not the zeroed scratch's. */
#define NOISE_SEED 1234
#define NOISE_STEP 5

/* A poisoned scratch with the comparisons' noise key. */
static void poison_scratch(const rnnc_model *m, void *scratch) {
  poison(scratch, m->scratch_bytes);
  if (m->set_noise != NULL)
    m->set_noise(scratch, NOISE_SEED, NOISE_STEP, 0);
}

/* Relative error (see the head of the file); NaN anywhere gives +Inf. */
static double rel_error(const double *a, const double *r, size_t n, size_t *at) {
  double md = 0.0, mr = 0.0;
  size_t i;
  *at = 0;
  for (i = 0; i < n; i++) {
    double d = fabs(a[i] - r[i]);
    if (d != d || fabs(a[i]) == INFINITY)
      d = INFINITY;
    if (d > md) {
      md = d;
      *at = i;
    }
    if (fabs(r[i]) > mr)
      mr = fabs(r[i]);
  }
  if (md == INFINITY)
    return INFINITY;
  return md / (mr > 1e-30 ? mr : 1e-30);
}

static double dmax(double a, double b) {
  return a > b ? a : b;
}

/* A BatchNormalization that trains: not frozen (a frozen one computes what
 * inference does). */
static int trains_batch_norm(const sspec *s) {
  int l;
  for (l = 0; l < s->n_layers; l++)
    if (s->layers[l].kind == K_FRONT && strcmp(s->layers[l].cls, "BatchNormalization") == 0 &&
        !s->layers[l].frozen)
      return 1;
  return 0;
}

/* Compares a tensor with the reference r[0] (r[1..N_PERTURBED]: the reference
 * at weights and inputs perturbed by one rounding, see draw_perturbed);
 * returns the relative error. */
static double check_close(ctx *c, const char *what, int n, const double *a, const double *const *r,
                          size_t offset, size_t count) {
  size_t at, i;
  int k;
  double tol = c->f64 ? TOL_F64 : TOL_F32;
  double e = rel_error(a, r[0] + offset, count, &at);
  double diff = count ? fabs(a[at] - r[0][offset + at]) : 0.0, sens = 0.0;
  double factor = !c->f64 && trains_batch_norm(&c->spec) ? SENS_FACTOR_BN : SENS_FACTOR;
  note_worst(&worst_ref[c->f64], e, "%s (%s) %s n=%d", c->m->name, c->file, what, n);
  if (e <= tol)
    return e;
  for (k = 1; k <= N_PERTURBED; k++)
    for (i = 0; i < count; i++)
      sens = dmax(sens, fabs(r[k][offset + i] - r[0][offset + i]));
  if (diff <= factor * sens) {
    /* ill-conditioned (cancellation): within what rounding does to the reference */
    cond_passes[c->f64]++;
    note_worst(&worst_cond[c->f64], diff / sens, "%s (%s) %s n=%d: relative error %.3g", c->m->name,
               c->file, what, n, e);
    return e;
  }
  report(c,
         "%s (n=%d): relative error %.3g > %.0e (and %.3g times the reference's own change "
         "under one rounding of weights and inputs, > %g); worst element %zu of %zu: unit "
         "%.17g, reference %.17g",
         what, n, e, tol, sens > 0 ? diff / sens : INFINITY, factor, at, count, count ? a[at] : 0.0,
         count ? r[0][offset + at] : 0.0);
  return e;
}

/* Each parameter tensor of a gradient against the reference. */
static double check_grad_tensors(ctx *c, const char *what, int n, const double *g,
                                 const double *const *gref) {
  int t;
  double worst = 0.0;
  for (t = 0; t < c->m->n_tensors; t++) {
    const rnnc_tensor_desc *d = &c->m->tensors[t];
    char label[256];
    snprintf(label, sizeof label, "%s d/d %s", what, d->name);
    worst = dmax(worst, check_close(c, label, n, g + d->offset, gref, d->offset, d->size));
  }
  return worst;
}

/* ------------------------------------------------------------------ descriptor checks */

/* One part (input or output) against what the spec says and the reference. */
static void check_part(ctx *c, const char *what, int i, const rnnc_part_desc *d, int rank,
                       const int *shape, size_t offset, size_t size, size_t ref_size,
                       size_t ref_offset) {
  int same = d->rank == rank && d->offset == offset && d->size == size, j;
  for (j = 0; same && j < rank; j++)
    same = d->shape[j] == shape[j];
  if (!same)
    report(c,
           "%s[%d]: rank %d shape (%d, %d) offset %zu size %zu; the spec says rank %d shape (%d, "
           "%d) offset %zu size %zu",
           what, i, d->rank, d->shape[0], d->rank > 1 ? d->shape[1] : 0, d->offset, d->size, rank,
           shape[0], rank > 1 ? shape[1] : 0, offset, size);
  if (ref_size != size || ref_offset != offset)
    report(c, "%s[%d]: the reference runtime has offset %zu size %zu, the spec says %zu / %zu",
           what, i, ref_offset, ref_size, offset, size);
}

/* The model file's "-- rnnc-random: ... unit_forget_bias=1,0" header: the
 * LSTM layers' bias initializers, which the spec does not carry. Returns the
 * count read, or -1 when the header has no such key. */
static int read_unit_forget_bias(const char *file, int *ufb, int max) {
  FILE *f = fopen(file, "r");
  char line[512];
  int n = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f)) {
    const char *v;
    if (strncmp(line, "-- rnnc-random:", 15) != 0)
      continue;
    v = strstr(line, "unit_forget_bias=");
    if (!v)
      break;
    v += strlen("unit_forget_bias=");
    n = 0;
    while ((*v == '0' || *v == '1') && n < max) {
      ufb[n++] = *v - '0';
      v++;
      if (*v == ',')
        v++;
    }
    break;
  }
  fclose(f);
  return n;
}

/* The losses of the descriptor against the spec's loss lines, and the
 * targets' layout against the reference runtime's. */
static void check_losses(ctx *c) {
  const rnnc_model *m = c->m;
  const sspec *s = &c->spec;
  size_t t_off = 0;
  int k, l, first = RNNC_LOSS_NONE;
  for (k = 0; k < m->n_outputs; k++) {
    const rnnc_loss_part *lp = &m->losses[k];
    const rnnc_output_desc *o = &m->outputs[k];
    int want = RNNC_LOSS_NONE;
    size_t rows, cols;
    for (l = 0; l < s->n_loss; l++)
      if (s->loss_output[l] < 0 || s->loss_output[l] == k)
        want = s->loss_kind[l];
    if ((int)lp->kind != want)
      report(c, "output %d (%s): descriptor loss %d, the spec %d", k, o->name, (int)lp->kind, want);
    cols = o->rank == 2 ? (size_t)o->shape[1] : o->size;
    rows = o->size / cols;
    if (lp->rows != rows || lp->cols != cols)
      report(c, "output %d: loss rows x cols %zu x %zu, the output is %zu x %zu", k, lp->rows,
             lp->cols, rows, cols);
    if (want == RNNC_LOSS_NONE)
      continue;
    if (first == RNNC_LOSS_NONE)
      first = want;
    if (lp->target_offset != t_off ||
        lp->target_size != (want == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? rows : o->size))
      report(c, "output %d: targets at %zu, %zu reals; expected %zu, %zu", k, lp->target_offset,
             lp->target_size, t_off,
             want == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? rows : o->size);
    t_off += lp->target_size;
  }
  if ((int)m->loss != first)
    report(c, "descriptor loss %d, the spec's first %d", (int)m->loss, first);
  if (m->target_size != t_off || m->target_size != rnnc_ref_target_size(c->ref))
    report(c, "target_size %zu; the losses' %zu, the reference %zu", m->target_size, t_off,
           rnnc_ref_target_size(c->ref));
  if (first != RNNC_LOSS_MSE && first != RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    report(c, "spec loss '%s' is not one the random models use", s->loss);
  if (m->losses_offset == 0 || m->losses_offset + m->n_outputs * sizeof(double) > m->scratch_bytes)
    report(c, "losses_offset %zu in a scratch of %zu bytes", m->losses_offset, m->scratch_bytes);
}

/* A graph's descriptor: every input and output, the sizes and the weights'
 * layout against the reference runtime. */
static void check_graph_descriptor(ctx *c) {
  const rnnc_model *m = c->m;
  size_t off = 0, ref_off;
  int i;
  if ((size_t)m->n_inputs != rnnc_ref_input_count(c->ref) ||
      (size_t)m->n_outputs != rnnc_ref_output_count(c->ref) ||
      m->input_size != rnnc_ref_input_size(c->ref) ||
      m->output_size != rnnc_ref_output_size(c->ref) || m->n_params != rnnc_ref_n_params(c->ref)) {
    report(c,
           "%d inputs (%zu reals), %d outputs (%zu), %zu params; the reference %zu (%zu), %zu "
           "(%zu), %zu",
           m->n_inputs, m->input_size, m->n_outputs, m->output_size, m->n_params,
           rnnc_ref_input_count(c->ref), rnnc_ref_input_size(c->ref), rnnc_ref_output_count(c->ref),
           rnnc_ref_output_size(c->ref), rnnc_ref_n_params(c->ref));
    return;
  }
  for (i = 0; i < m->n_inputs; i++) {
    size_t size = rnnc_ref_input_part(c->ref, (size_t)i, &ref_off);
    if (m->inputs[i].size != size || m->inputs[i].offset != ref_off || m->inputs[i].name == NULL)
      report(c, "input %d: %zu reals at %zu; the reference %zu at %zu", i, m->inputs[i].size,
             m->inputs[i].offset, size, ref_off);
  }
  for (i = 0; i < m->n_outputs; i++) {
    size_t size = rnnc_ref_output_part(c->ref, (size_t)i, &ref_off);
    if (m->outputs[i].size != size || m->outputs[i].offset != ref_off || m->outputs[i].name == NULL)
      report(c, "output %d: %zu reals at %zu; the reference %zu at %zu", i, m->outputs[i].size,
             m->outputs[i].offset, size, ref_off);
  }
  for (i = 0; i < m->n_tensors; i++) {
    if (m->tensors[i].offset != off)
      report(c, "tensor %s at %zu, expected %zu", m->tensors[i].name, m->tensors[i].offset, off);
    off = m->tensors[i].offset + m->tensors[i].size;
  }
  if (off != m->n_params)
    report(c, "the tensors cover %zu of %zu params", off, m->n_params);
  check_losses(c);
}

static void check_descriptor(ctx *c) {
  const rnnc_model *m = c->m;
  const sspec *s = &c->spec;
  const slayer *last = s->layers + (s->n_layers > 0 ? s->n_layers - 1 : 0); /* none in a graph */
  size_t prod = 1, off = 0, total = 0, ref_size, ref_off;
  int i, t = 0, l, n_in = 1, lstm = 0, ufb[MAX_LAYERS];
  int n_ufb = read_unit_forget_bias(c->file, ufb, MAX_LAYERS);

  if ((c->f64 && m->dtype != RNNC_F64) || (!c->f64 && m->dtype != RNNC_F32))
    report(c, "dtype %d does not match the unit's name", (int)m->dtype);
  if (m->batch < 1)
    report(c, "batch %d", m->batch);
  if (s->graph) {
    check_graph_descriptor(c);
    return;
  }

  /* Inputs: the main input, then the initial states in layer order. */
  if (m->input_rank != s->in_rank)
    report(c, "input_rank %d, spec input rank %d", m->input_rank, s->in_rank);
  for (i = 0; i < m->input_rank && i < 2; i++) {
    if (m->input_shape[i] != s->in_shape[i])
      report(c, "input_shape[%d] = %d, spec says %d", i, m->input_shape[i], s->in_shape[i]);
    prod *= (size_t)m->input_shape[i];
  }
  if (prod != s->main_size || m->input_size != s->input_size ||
      m->input_size != rnnc_ref_input_size(c->ref))
    report(c,
           "input_size %zu (main input shape product %zu); the spec says %zu (main %zu), the "
           "reference %zu",
           m->input_size, prod, s->input_size, s->main_size, rnnc_ref_input_size(c->ref));
  for (l = 0; l < s->n_layers; l++)
    if (s->layers[l].initial_state)
      n_in += s->layers[l].n_states;
  if (m->n_inputs != n_in || (size_t)n_in != rnnc_ref_input_count(c->ref) ||
      n_in > RNNC_MAX_INPUTS) {
    report(c, "n_inputs %d; the spec has %d inputs, the reference %zu", m->n_inputs, n_in,
           rnnc_ref_input_count(c->ref));
  } else {
    ref_size = rnnc_ref_input_part(c->ref, 0, &ref_off);
    check_part(c, "inputs", 0, &m->inputs[0], s->in_rank, s->in_shape, 0, s->main_size, ref_size,
               ref_off);
    i = 1;
    for (l = 0; l < s->n_layers; l++) {
      const slayer *L = &s->layers[l];
      int j;
      if (!L->initial_state)
        continue;
      for (j = 0; j < L->n_states; j++, i++) {
        size_t o = L->init_off + (size_t)j * (size_t)L->units;
        ref_size = rnnc_ref_input_part(c->ref, (size_t)i, &ref_off);
        check_part(c, "inputs", i, &m->inputs[i], 1, &L->units, o, (size_t)L->units, ref_size,
                   ref_off);
      }
    }
  }

  /* Outputs: the last layer's, in Keras order. */
  for (i = 0; i < last->n_outputs; i++)
    total += last->out_size[i];
  if (m->n_outputs != last->n_outputs || (size_t)m->n_outputs != rnnc_ref_output_count(c->ref) ||
      m->n_outputs > RNNC_MAX_OUTPUTS) {
    report(c, "n_outputs %d; the spec's last layer has %d, the reference %zu", m->n_outputs,
           last->n_outputs, rnnc_ref_output_count(c->ref));
  } else {
    size_t o = 0;
    for (i = 0; i < m->n_outputs; i++) {
      ref_size = rnnc_ref_output_part(c->ref, (size_t)i, &ref_off);
      check_part(c, "outputs", i, &m->outputs[i], last->out_rank[i], last->out_shape[i], o,
                 last->out_size[i], ref_size, ref_off);
      o += last->out_size[i];
    }
  }
  if (m->output_size != total || m->output_size != rnnc_ref_output_size(c->ref))
    report(c, "output_size %zu; the spec says %zu, the reference %zu", m->output_size, total,
           rnnc_ref_output_size(c->ref));
  if (m->output_rank != last->out_rank[0] || m->output_shape[0] != last->out_shape[0][0] ||
      (m->output_rank == 2 && m->output_shape[1] != last->out_shape[0][1]))
    report(c, "output_rank %d shape (%d, %d); output 0 of the spec is rank %d (%d, %d)",
           m->output_rank, m->output_shape[0], m->output_rank > 1 ? m->output_shape[1] : 0,
           last->out_rank[0], last->out_shape[0][0],
           last->out_rank[0] > 1 ? last->out_shape[0][1] : 0);
  if (m->output_cols != (size_t)last->out_cols ||
      m->output_rows * (size_t)last->out_cols != last->out_size[0])
    report(c, "output_rows %zu x output_cols %zu; output 0 of the spec has %zu reals, %d columns",
           m->output_rows, m->output_cols, last->out_size[0], last->out_cols);
  check_losses(c);
  if (m->n_params != rnnc_ref_n_params(c->ref) || m->n_params != last->end_off)
    report(c, "n_params %zu; the reference %zu, the spec %zu", m->n_params,
           rnnc_ref_n_params(c->ref), last->end_off);
  if (m->params_bytes != m->n_params * c->dsize)
    report(c, "params_bytes %zu for %zu params", m->params_bytes, m->n_params);
  {
    /* frozen: the tensors of a layer the spec says trainable=0, and
     * BatchNormalization's moving statistics; no other */
    int ft;
    for (ft = 0; ft < m->n_tensors; ft++) {
      const rnnc_tensor_desc *d = &m->tensors[ft];
      const char *leaf = strrchr(d->name, '/');
      int want = 0;
      size_t start = 0;
      leaf = leaf ? leaf + 1 : d->name;
      want = strcmp(leaf, "moving_mean") == 0 || strcmp(leaf, "moving_variance") == 0;
      for (l = 0; l < s->n_layers; start = s->layers[l].end_off, l++)
        if (d->offset >= start && d->offset < s->layers[l].end_off && s->layers[l].frozen)
          want = 1;
      if (d->frozen != want)
        report(c, "tensor %s: frozen %d, the spec says %d", d->name, d->frozen, want);
    }
  }
  if (m->optimizer.kind != RNNC_OPT_ADAM)
    report(c, "optimizer kind %d, the model file asks for Adam", (int)m->optimizer.kind);
  if (m->init == NULL || m->forward == NULL || m->backward == NULL || m->loss_grad == NULL ||
      m->train_step == NULL || m->summary == NULL)
    report(c, "a descriptor function or text is NULL");
  {
    int bn = 0, noise = 0;
    for (l = 0; l < s->n_layers; l++) {
      bn |= s->layers[l].kind == K_FRONT && strcmp(s->layers[l].cls, "BatchNormalization") == 0 &&
            !s->layers[l].frozen; /* a frozen one computes what inference does */
      noise |= s->layers[l].kind == K_ELEM && s->layers[l].elem == E_NOISE &&
               s->layers[l].alpha > 0; /* rate 0: the identity in training too */
      noise |= s->layers[l].dropout;
    }
    if ((m->update_stats != NULL) != bn || (m->eval_loss != NULL) != (bn || noise))
      report(c, "update_stats %s and eval_loss %s, yet the model %s trainable BatchNormalization",
             m->update_stats ? "set" : "NULL", m->eval_loss ? "set" : "NULL",
             bn ? "has" : "has no");
    if ((m->set_noise != NULL) != noise)
      report(c, "set_noise %s, yet the model %s noise layers", m->set_noise ? "set" : "NULL",
             noise ? "has" : "has no");
  }

  /* Tensors: the reference runtime's layout, in Keras's names, order, shapes
   * and initializers. */
  for (l = 0; l < s->n_layers; l++) {
    const slayer *L = &s->layers[l];
    int d, k, n_dirs = L->kind == K_DENSE ? 1 : L->n_dirs, ufb_want = -1;
    if (L->kind == K_FRONT) {
      for (k = 0; k < L->n_ft; k++) {
        char name[300];
        const rnnc_tensor_desc *td;
        int j, same;
        snprintf(name, sizeof name, "%s/%s", L->name, L->ft_name[k]);
        if (t >= m->n_tensors) {
          report(c, "tensor %s missing (%d tensors)", name, m->n_tensors);
          return;
        }
        td = &m->tensors[t++];
        same = strcmp(td->name, name) == 0 && td->rank == L->ft_rank[k] &&
               td->offset == L->ft_off[k] && td->offset == off;
        for (j = 0; j < L->ft_rank[k]; j++)
          same = same && td->shape[j] == L->ft_shape[k][j];
        if (!same)
          report(c,
                 "tensor %d is %s rank %d offset %zu; expected %s rank %d (%d, %d, %d) offset %zu",
                 t - 1, td->name, td->rank, td->offset, name, L->ft_rank[k], L->ft_shape[k][0],
                 L->ft_shape[k][1], L->ft_shape[k][2], L->ft_off[k]);
        if ((int)td->init != L->ft_init[k])
          report(c, "tensor %s has initializer %d, expected %d", name, (int)td->init,
                 L->ft_init[k]);
        off = td->offset + td->size;
      }
      continue;
    }
    if (L->kind == K_ELEM) {
      /* PReLU's alpha: the input's shape, 1 along shared axes; zeros */
      char name[300];
      const rnnc_tensor_desc *td;
      int rank = L->in_rank, s0 = rank == 2 ? L->a_rows : L->a_cols, s1 = L->a_cols;
      if (L->elem != E_PRELU)
        continue;
      snprintf(name, sizeof name, "%s/alpha", L->name);
      if (t >= m->n_tensors) {
        report(c, "tensor %s missing (%d tensors)", name, m->n_tensors);
        return;
      }
      td = &m->tensors[t++];
      if (strcmp(td->name, name) != 0 || td->rank != rank || td->shape[0] != s0 ||
          (rank == 2 && td->shape[1] != s1) || td->offset != L->alpha_off || td->offset != off ||
          td->size != (size_t)L->a_rows * (size_t)L->a_cols || td->init != RNNC_INIT_ZEROS)
        report(c,
               "tensor %d is %s rank %d shape (%d, %d) offset %zu; expected %s rank %d (%d, %d) "
               "offset %zu, zeros",
               t - 1, td->name, td->rank, td->shape[0], td->rank > 1 ? td->shape[1] : 0, td->offset,
               name, rank, s0, s1, L->alpha_off);
      off = td->offset + td->size;
      continue;
    }
    if (L->kind == K_LSTM) {
      if (n_ufb >= 0 && lstm >= n_ufb)
        report(c,
               "the model file's header lists %d unit_forget_bias values; the spec has more "
               "LSTM layers",
               n_ufb);
      else if (n_ufb >= 0)
        ufb_want = ufb[lstm];
      lstm++;
    }
    for (d = 0; d < n_dirs; d++) {
      char prefix[300];
      int GU = L->gates * L->units;
      if (L->bidir)
        snprintf(prefix, sizeof prefix, "%s/%s_%s", L->name, d ? "backward" : "forward",
                 L->inner_name);
      else
        snprintf(prefix, sizeof prefix, "%s", L->name);
      for (k = 0; k < 3; k++) {
        char name[400];
        const rnnc_tensor_desc *td;
        int rank = 2, s0, s1, init;
        size_t want_off;
        if ((k == 1 && L->kind == K_DENSE) || (k == 2 && !L->use_bias))
          continue;
        if (k == 0) {
          s0 = L->in_features, s1 = GU, init = RNNC_INIT_GLOROT_UNIFORM;
          want_off = L->dir[d].kernel_off;
        } else if (k == 1) {
          s0 = L->units, s1 = GU, init = RNNC_INIT_ORTHOGONAL;
          want_off = L->dir[d].recurrent_off;
        } else {
          rank = L->kind == K_GRU && L->reset_after ? 2 : 1;
          s0 = rank == 2 ? 2 : GU, s1 = rank == 2 ? GU : 0, init = RNNC_INIT_ZEROS;
          if (L->kind == K_LSTM)
            init = ufb_want < 0 ? -1 : ufb_want ? RNNC_INIT_UNIT_FORGET_BIAS : RNNC_INIT_ZEROS;
          want_off = L->dir[d].bias_off;
        }
        snprintf(name, sizeof name, "%s/%s", prefix,
                 k == 0   ? "kernel"
                 : k == 1 ? "recurrent_kernel"
                          : "bias");
        if (t >= m->n_tensors) {
          report(c, "tensor %s missing (%d tensors)", name, m->n_tensors);
          return;
        }
        td = &m->tensors[t++];
        if (strcmp(td->name, name) != 0 || td->rank != rank || td->shape[0] != s0 ||
            (rank == 2 && td->shape[1] != s1) || td->offset != want_off ||
            td->size != (size_t)s0 * (rank == 2 ? (size_t)s1 : 1) || td->offset != off)
          report(c,
                 "tensor %d is %s rank %d shape (%d, %d) offset %zu size %zu; expected %s rank %d "
                 "shape (%d, %d) offset %zu",
                 t - 1, td->name, td->rank, td->shape[0], td->rank > 1 ? td->shape[1] : 0,
                 td->offset, td->size, name, rank, s0, rank == 2 ? s1 : 0, want_off);
        if (init >= 0 ? (int)td->init != init
                      : td->init != RNNC_INIT_ZEROS && td->init != RNNC_INIT_UNIT_FORGET_BIAS)
          report(c, "tensor %s has initializer %d, expected %d (%s)", name, (int)td->init, init,
                 init == RNNC_INIT_UNIT_FORGET_BIAS ? "unit_forget_bias"
                 : L->kind == K_LSTM                ? "zeros: unit_forget_bias = false"
                                                    : "Keras's default");
        off = td->offset + td->size;
      }
    }
  }
  if (t != m->n_tensors || off != m->n_params)
    report(c, "%d tensors covering %zu params; expected %d covering %zu", m->n_tensors, off, t,
           m->n_params);
}

/* init: reproducible, and each tensor what its initializer promises. */
static void check_init(ctx *c, void *p, uint64_t seed) {
  const rnnc_model *m = c->m;
  void *q = xmalloc(m->params_bytes);
  int t;
  m->init(p, seed);
  m->init(q, seed);
  if (memcmp(p, q, m->params_bytes) != 0)
    report(c, "init is not reproducible from its seed");
  for (t = 0; t < m->n_tensors; t++) {
    const rnnc_tensor_desc *d = &m->tensors[t];
    size_t i;
    if (d->init == RNNC_INIT_ONES) {
      for (i = 0; i < d->size; i++)
        if (mget(c, p, d->offset + i) != 1.0) {
          report(c, "init: %s (ones) element %zu is %g", d->name, i, mget(c, p, d->offset + i));
          break;
        }
    } else if (d->init == RNNC_INIT_ZEROS || d->init == RNNC_INIT_UNIT_FORGET_BIAS) {
      size_t q4 = d->size / 4;
      for (i = 0; i < d->size; i++) {
        double want = d->init == RNNC_INIT_UNIT_FORGET_BIAS && i >= q4 && i < 2 * q4 ? 1.0 : 0.0;
        if (mget(c, p, d->offset + i) != want) {
          report(c, "init: %s (%s) element %zu is %g, not %g", d->name,
                 d->init == RNNC_INIT_ZEROS ? "zeros" : "unit_forget_bias", i,
                 mget(c, p, d->offset + i), want);
          break;
        }
      }
    } else if (d->init == RNNC_INIT_GLOROT_UNIFORM && d->rank == 2) {
      double limit = sqrt(6.0 / (double)(d->shape[0] + d->shape[1])) * (1 + 1e-6);
      int nonzero = 0;
      for (i = 0; i < d->size; i++) {
        double v = mget(c, p, d->offset + i);
        nonzero |= v != 0.0;
        if (!(fabs(v) <= limit)) {
          report(c, "init: %s element %zu = %g outside the glorot limit %g", d->name, i, v, limit);
          break;
        }
      }
      if (!nonzero)
        report(c, "init: %s is all zeros", d->name);
    } else if (d->init == RNNC_INIT_ORTHOGONAL && d->rank == 2) {
      /* Keras's Orthogonal: orthonormal rows when rows <= cols (an LSTM's
       * (U, 4U) recurrent kernel), else orthonormal columns */
      int R = d->shape[0], C = d->shape[1], by_rows = R <= C, N = by_rows ? R : C;
      int L = by_rows ? C : R, a, b, k;
      double worst = 0.0;
      for (a = 0; a < N; a++)
        for (b = 0; b < N; b++) {
          double dot = 0.0;
          for (k = 0; k < L; k++) {
            size_t ia = by_rows ? (size_t)a * C + k : (size_t)k * C + a;
            size_t ib = by_rows ? (size_t)b * C + k : (size_t)k * C + b;
            dot += mget(c, p, d->offset + ia) * mget(c, p, d->offset + ib);
          }
          worst = dmax(worst, fabs(dot - (a == b ? 1.0 : 0.0)));
        }
      if (!(worst <= (c->f64 ? 1e-12 : 1e-5) * L))
        report(c, "init: %s is not orthogonal (|W W^T - I| = %g)", d->name, worst);
    }
  }
  free(q);
}

/* ------------------------------------------------------------------ kinks (relu, hard_sigmoid) */

/* A probe: this file's own double-precision forward of every layer up to the
 * last one with a kinked activation, noting each pre-activation that goes
 * through relu (kink at 0) or hard_sigmoid (kinks at -2.5 and 2.5). Each
 * layer's output is checked against the reference runtime on the truncated
 * spec, so the probe cannot silently diverge from what the units compute. */
typedef struct {
  double margin;           /* smallest distance of a pre-activation to its kink */
  long hs_slope, hs_flat;  /* hard_sigmoid pre-activations inside / outside (-2.5, 2.5) */
  long relu_pos, relu_neg; /* relu pre-activations > 0 / < 0 (exact zeros skipped) */
  double probe_err;        /* worst relative difference of the probe to the reference */
} kinks;

static double hs3(double z) { /* Keras 3's hard_sigmoid */
  return z <= -3.0 ? 0.0 : z >= 3.0 ? 1.0 : (z + 3.0) / 6.0;
}

static double act_value(int act, double z) {
  const double sa = 1.6732632423543772848170429916717, ss = 1.0507009873554804934193349852946;
  switch (act) {
  case A_RELU:
    return z > 0.0 ? z : 0.0;
  case A_TANH:
    return tanh(z);
  case A_SIGMOID:
    return 1.0 / (1.0 + exp(-z));
  case A_HARD_SIGMOID:
    return hs3(z);
  case A_HARD_SIGMOID_KERAS2:
    return z <= -2.5 ? 0.0 : z >= 2.5 ? 1.0 : 0.2 * z + 0.5;
  case A_ELU:
    return z > 0.0 ? z : exp(z) - 1.0;
  case A_SELU:
    return ss * (z > 0.0 ? z : sa * (exp(z) - 1.0));
  case A_GELU:
    return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
  case A_GELU_APPROXIMATE:
    return 0.5 * z * (1.0 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)));
  case A_SWISH:
  case A_SILU:
    return z / (1.0 + exp(-z));
  case A_SOFTPLUS:
    return log1p(exp(-fabs(z))) + (z > 0.0 ? z : 0.0);
  case A_SOFTSIGN:
    return z / (1.0 + fabs(z));
  case A_EXPONENTIAL:
    return exp(z);
  case A_LEAKY_RELU:
    return z > 0.0 ? z : 0.2 * z;
  case A_RELU6:
    return z <= 0.0 ? 0.0 : z >= 6.0 ? 6.0 : z;
  case A_MISH:
    return z * tanh(log1p(exp(-fabs(z))) + (z > 0.0 ? z : 0.0));
  case A_HARD_SILU:
  case A_HARD_SWISH:
    return z * hs3(z);
  default:
    return z;
  }
}

/* Notes how far z is from the nearest of n kinks. */
static void near_kink(kinks *k, double z, const double *at, int n) {
  int i;
  for (i = 0; i < n; i++)
    k->margin = fmin(k->margin, fabs(z - at[i]));
}

/* Notes z, the input of activation act, and returns act(z). */
static double kinked(kinks *k, int act, double z) {
  static const double zero[1] = {0.0}, hs2[2] = {-2.5, 2.5}, hs[2] = {-3.0, 3.0},
                      r6[2] = {0.0, 6.0};
  if ((act == A_RELU || act == A_LEAKY_RELU || act == A_SELU || act == A_RELU6) && z != 0.0) {
    /* exact zeros come from all-zero inputs without bias (or an LSTM's
     * c = f * 0 + i * relu(z <= 0)) and stay zero under any perturbation */
    near_kink(k, z, act == A_RELU6 ? r6 : zero, act == A_RELU6 ? 2 : 1);
    if (z > 0)
      k->relu_pos++;
    else
      k->relu_neg++;
  } else if (act == A_HARD_SIGMOID_KERAS2) {
    near_kink(k, z, hs2, 2);
    if (fabs(z) < 2.5)
      k->hs_slope++;
    else
      k->hs_flat++;
  } else if (act == A_HARD_SIGMOID || act == A_HARD_SILU || act == A_HARD_SWISH) {
    near_kink(k, z, hs, 2);
    if (fabs(z) < 3.0)
      k->hs_slope++;
    else
      k->hs_flat++;
  }
  return act_value(act, z);
}

/* An elementwise layer's value at z (PReLU with slope a), noting its kinks. */
static double elem_kinked(kinks *k, const slayer *L, double z, double a) {
  double y;
  if (L->elem == E_ACTIVATION)
    return kinked(k, L->act, z);
  if (z != 0.0) {
    k->margin = fmin(k->margin, fabs(z));
    if (L->elem == E_RELU) {
      k->margin = fmin(k->margin, fabs(z - L->threshold));
      if (L->has_max)
        k->margin = fmin(k->margin, fabs(z - L->max_value));
    }
  }
  switch (L->elem) {
  case E_NOISE: /* the identity at inference, what the probe runs */
    return z;
  case E_LEAKY_RELU:
    return z > 0.0 ? z : L->slope * z;
  case E_ELU:
    return z > 0.0 ? z : L->alpha * (exp(z) - 1.0);
  case E_PRELU:
    return (z > 0.0 ? z : 0.0) - a * (z < 0.0 ? -z : 0.0);
  default: /* ReLU, as Keras's ReLU.static_call */
    if (L->slope != 0.0 && !L->has_max && L->threshold == 0.0)
      return z > 0.0 ? z : L->slope * z;
    y = z > L->threshold ? z : 0.0;
    if (L->has_max)
      y = fmin(fmax(y, 0.0), L->max_value);
    if (L->slope != 0.0)
      y -= L->slope * fmax(L->threshold - z, 0.0);
    return y;
  }
}

/* xW: y[0..m) += a[0..n) @ W[:, col0 .. col0 + m) of a row-major (n, stride) W. */
static void vec_mat(const double *a, int n, const double *W, int stride, int col0, int m,
                    double *y) {
  int i, j;
  for (i = 0; i < n; i++)
    for (j = 0; j < m; j++)
      y[j] += a[i] * W[(size_t)i * stride + col0 + j];
}

/* One direction of recurrent layer L over one sample's (T, F) input xs,
 * from h0 / c0 (NULL: zeros): the h of every processing step into hs (T x U). */
static void probe_cell(const slayer *L, const sdir *D, int go_backwards, const double *p,
                       const double *xs, const double *h0, const double *c0, double *hs, kinks *k) {
  int T = L->rows, F = L->in_features, U = L->units, GU = L->gates * U, t, u, j;
  const double *K = p + D->kernel_off, *R = p + D->recurrent_off;
  const double *b = L->use_bias ? p + D->bias_off : NULL;
  double *h = reals((size_t)U), *cst = reals((size_t)U), *xp = reals((size_t)GU);
  double *hp = reals((size_t)GU), *gate = reals((size_t)GU), *rh = reals((size_t)U);
  for (u = 0; u < U; u++) {
    h[u] = h0 ? h0[u] : 0.0;
    cst[u] = c0 ? c0[u] : 0.0;
  }
  for (t = 0; t < T; t++) {
    const double *xt = xs + (size_t)(go_backwards ? T - 1 - t : t) * F;
    int two_bias = L->kind == K_GRU && L->reset_after;
    for (j = 0; j < GU; j++) {
      xp[j] = b ? b[j] : 0.0;
      hp[j] = b && two_bias ? b[GU + j] : 0.0;
    }
    vec_mat(xt, F, K, GU, 0, GU, xp);
    if (L->kind == K_GRU && !L->reset_after)
      vec_mat(h, U, R, GU, 0, 2 * U, hp); /* the z and r blocks */
    else
      vec_mat(h, U, R, GU, 0, GU, hp);
    if (L->kind == K_SIMPLE_RNN) {
      for (u = 0; u < U; u++)
        h[u] = kinked(k, L->act, xp[u] + hp[u]);
    } else if (L->kind == K_LSTM) { /* i f c o */
      for (j = 0; j < GU; j++)
        gate[j] = kinked(k, j / U == 2 ? L->act : L->rec_act, xp[j] + hp[j]);
      for (u = 0; u < U; u++) {
        cst[u] = gate[U + u] * cst[u] + gate[u] * gate[2 * U + u];
        h[u] = gate[3 * U + u] * kinked(k, L->act, cst[u]);
      }
    } else { /* GRU: z r h */
      for (j = 0; j < 2 * U; j++)
        gate[j] = kinked(k, L->rec_act, xp[j] + hp[j]);
      if (L->reset_after) {
        for (u = 0; u < U; u++)
          gate[2 * U + u] = kinked(k, L->act, xp[2 * U + u] + gate[U + u] * hp[2 * U + u]);
      } else {
        for (u = 0; u < U; u++)
          rh[u] = gate[U + u] * h[u];
        vec_mat(rh, U, R, GU, 2 * U, U, hp + 2 * U);
        for (u = 0; u < U; u++)
          gate[2 * U + u] = kinked(k, L->act, xp[2 * U + u] + hp[2 * U + u]);
      }
      for (u = 0; u < U; u++)
        h[u] = gate[u] * h[u] + (1.0 - gate[u]) * gate[2 * U + u];
    }
    memcpy(hs + (size_t)t * U, h, (size_t)U * sizeof(double));
  }
  free(h);
  free(cst);
  free(xp);
  free(hp);
  free(gate);
  free(rh);
}

/* Output 0 of layer L for one sample: xin (its input), init (the sample's
 * initial states, or NULL), y (L->out_size[0] reals). */
static void probe_layer(const slayer *L, const double *p, const double *xin, const double *init,
                        double *y, kinks *k) {
  int U = L->units, T = L->rows, r, u, t, d;
  if (L->kind == K_ELEM) {
    for (r = 0; r < L->rows; r++) {
      const double *xr = xin + (size_t)r * U;
      double *yr = y + (size_t)r * U, mx = -INFINITY, sum = 0.0;
      if (L->elem == E_ACTIVATION && (L->act == A_SOFTMAX || L->act == A_LOG_SOFTMAX)) {
        for (u = 0; u < U; u++)
          mx = fmax(mx, xr[u]);
        for (u = 0; u < U; u++)
          sum += exp(xr[u] - mx);
        for (u = 0; u < U; u++)
          yr[u] = L->act == A_SOFTMAX ? exp(xr[u] - mx) / sum : (xr[u] - mx) - log(sum);
        continue;
      }
      for (u = 0; u < U; u++) {
        double a = 0.0;
        if (L->elem == E_PRELU)
          a = p[L->alpha_off + (size_t)(L->a_rows == 1 ? 0 : r) * (size_t)L->a_cols +
                (size_t)(L->a_cols == 1 ? 0 : u)];
        yr[u] = elem_kinked(k, L, xr[u], a);
      }
    }
    return;
  }
  if (L->kind == K_DENSE) {
    const double *K = p + L->dir[0].kernel_off, *b = L->use_bias ? p + L->dir[0].bias_off : NULL;
    for (r = 0; r < L->rows; r++) {
      double *yr = y + (size_t)r * U, mx = -INFINITY, sum = 0.0;
      for (u = 0; u < U; u++)
        yr[u] = b ? b[u] : 0.0;
      vec_mat(xin + (size_t)r * L->in_features, L->in_features, K, U, 0, U, yr);
      if (L->act != A_SOFTMAX && L->act != A_LOG_SOFTMAX) {
        for (u = 0; u < U; u++)
          yr[u] = kinked(k, L->act, yr[u]);
        continue;
      }
      for (u = 0; u < U; u++)
        mx = fmax(mx, yr[u]);
      for (u = 0; u < U; u++)
        sum += exp(yr[u] - mx);
      for (u = 0; u < U; u++)
        yr[u] = L->act == A_SOFTMAX ? exp(yr[u] - mx) / sum : (yr[u] - mx) - log(sum);
    }
    return;
  }
  {
    double *hs[2] = {NULL, NULL};
    int steps = L->return_sequences ? T : 1;
    for (d = 0; d < L->n_dirs; d++) {
      hs[d] = reals((size_t)T * U);
      probe_cell(L, &L->dir[d], d ? !L->go_backwards : L->go_backwards, p, xin, init ? init : NULL,
                 init && L->n_states == 2 ? init + U : NULL, hs[d], k);
    }
    for (t = 0; t < steps; t++) {
      /* forward step t (or the last), the backward copy aligned back in time */
      int tf = L->return_sequences ? t : T - 1, tb = L->return_sequences ? T - 1 - t : T - 1;
      const double *f = hs[0] + (size_t)tf * U;
      double *row = y + (size_t)t * L->out_cols;
      for (u = 0; u < U; u++) {
        double bv = L->bidir ? hs[1][(size_t)tb * U + u] : 0.0;
        if (!L->bidir || L->merge == M_NONE)
          row[u] = f[u];
        else if (L->merge == M_CONCAT)
          row[u] = f[u], row[U + u] = bv;
        else if (L->merge == M_SUM)
          row[u] = f[u] + bv;
        else if (L->merge == M_MUL)
          row[u] = f[u] * bv;
        else
          row[u] = 0.5 * (f[u] + bv);
      }
    }
    free(hs[0]);
    free(hs[1]);
  }
}

static int kinked_act(int act) {
  return act == A_RELU || act == A_HARD_SIGMOID || act == A_HARD_SIGMOID_KERAS2 ||
         act == A_LEAKY_RELU || act == A_SELU || act == A_RELU6 || act == A_HARD_SILU ||
         act == A_HARD_SWISH;
}

static int has_kink(const slayer *L) {
  if (L->kind == K_FRONT) /* the random models give these smooth activations only */
    return 0;
  if (L->kind == K_ELEM)
    return (L->elem != E_ACTIVATION && L->elem != E_NOISE) || kinked_act(L->act);
  return kinked_act(L->act) || (L->kind != K_DENSE && kinked_act(L->rec_act));
}

/* Runs the probe over the first n samples (x: all inputs, p: parameters). */
static kinks probe_kinks(ctx *c, const double *p, const double *x, int n) {
  const sspec *s = &c->spec;
  kinks k;
  int l, upto = -1, smp;
  double *in = NULL, *out;
  size_t in_cols = s->main_size;
  memset(&k, 0, sizeof k);
  k.margin = INFINITY;
  for (l = 0; l < s->n_layers; l++)
    if (has_kink(&s->layers[l]))
      upto = l;
  in = reals((size_t)n * s->main_size);
  for (smp = 0; smp < n; smp++)
    memcpy(in + (size_t)smp * s->main_size, x + (size_t)smp * s->input_size,
           s->main_size * sizeof(double));
  for (l = 0; l <= upto; l++) {
    const slayer *L = &s->layers[l];
    char *text = truncated_spec(s, l), err[256];
    rnnc_ref *r = rnnc_ref_new(text, err, sizeof err);
    size_t rin, rout, o0 = L->out_size[0], i;
    double *xr, *yr, md = 0.0, mr = 0.0;
    if (!r)
      fail_msg("probe spec: %s\n%s", err, text);
    rin = rnnc_ref_input_size(r);
    rout = rnnc_ref_output_size(r);
    xr = reals((size_t)n * rin);
    yr = reals((size_t)n * rout);
    for (smp = 0; smp < n; smp++)
      memcpy(xr + (size_t)smp * rin, x + (size_t)smp * s->input_size, rin * sizeof(double));
    assert_int_equal(rnnc_ref_forward(r, p, xr, n, yr), 0);
    out = reals((size_t)n * o0);
    for (smp = 0; smp < n; smp++) {
      const double *init = L->initial_state ? x + (size_t)smp * s->input_size + L->init_off : NULL;
      if (L->kind == K_FRONT) /* no kink inside: the reference's output goes on */
        memcpy(out + (size_t)smp * o0, yr + (size_t)smp * rout, o0 * sizeof(double));
      else
        probe_layer(L, p, in + (size_t)smp * in_cols, init, out + (size_t)smp * o0, &k);
      for (i = 0; i < o0; i++) {
        md = dmax(md, fabs(out[(size_t)smp * o0 + i] - yr[(size_t)smp * rout + i]));
        mr = dmax(mr, fabs(yr[(size_t)smp * rout + i]));
      }
    }
    md = md / dmax(mr, 1e-300);
    if (!(md <= 1e-9))
      report(c,
             "the test's kink probe disagrees with the reference runtime at layer %d (%s): "
             "relative difference %.3g",
             l, L->name, md);
    k.probe_err = dmax(k.probe_err, md);
    rnnc_ref_free(r);
    free(text);
    free(xr);
    free(yr);
    free(in);
    in = out;
    in_cols = o0;
  }
  free(in);
  return k;
}

/* ------------------------------------------------------------------ one unit */

typedef struct {
  void *p;                 /* unit parameters */
  double *pd;              /* the same, as doubles */
  void *x, *target;        /* batch x input_size, batch x target_size */
  double *xd, *td;         /* the same, as doubles */
  void *scratch, *opt;     /* scratch_bytes, opt_state_bytes */
  void *y, *dx, *ypred;    /* batch + 1 samples: the extra one holds canaries */
  void *grad, *grad2, *dy; /* n_params, n_params, batch x output_size */
  double *yd, *dxd, *gd, *dyd;
  /* reference results: [0] exact, [1..N_PERTURBED] perturbed by one rounding */
  double *ry[N_REF], *rdx[N_REF], *rg[N_REF], rloss[N_REF];
  double *pp, *xp, *dyp; /* perturbed weights, inputs and dy */
} bufs;

/* Targets for every output with a loss: class labels of its rows for the
 * sparse crossentropy, values in [-1, 1] else. */
static void draw_targets(ctx *c, rnnc_rng *rng, bufs *b) {
  const rnnc_model *m = c->m;
  size_t i, s;
  int k;
  for (s = 0; s < (size_t)m->batch; s++)
    for (k = 0; k < m->n_outputs; k++) {
      const rnnc_loss_part *lp = &m->losses[k];
      for (i = 0; i < lp->target_size; i++) {
        size_t at = s * m->target_size + lp->target_offset + i;
        double v = lp->kind == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
                       ? (double)rnnc_rng_below(rng, lp->cols)
                       : 2.0 * rnnc_rng_uniform(rng) - 1.0;
        mset(c, b->target, at, v);
        b->td[at] = mget(c, b->target, at);
      }
    }
}

/* The biases of every layer with a hard_sigmoid get HS_BIAS_SPREAD on top
 * of the perturbation: without it, pre-activations beyond +-2.5 (the flat
 * parts) almost never occur with inputs in [-1, 1] and Keras's initializers. */
static void spread_hard_sigmoid_biases(const ctx *c, double *p, rnnc_rng *rng) {
  int l, d;
  for (l = 0; l < c->spec.n_layers; l++) {
    const slayer *L = &c->spec.layers[l];
    size_t size =
        (size_t)L->gates * (size_t)L->units * (L->kind == K_GRU && L->reset_after ? 2 : 1);
    if (!L->use_bias || L->kind == K_ELEM ||
        !(L->act == A_HARD_SIGMOID || L->rec_act == A_HARD_SIGMOID ||
          L->act == A_HARD_SIGMOID_KERAS2 || L->rec_act == A_HARD_SIGMOID_KERAS2))
      continue;
    for (d = 0; d < (L->kind == K_DENSE ? 1 : L->n_dirs); d++) {
      size_t i;
      for (i = 0; i < size; i++)
        p[L->dir[d].bias_off + i] += HS_BIAS_SPREAD * (2.0 * rnnc_rng_uniform(rng) - 1.0);
    }
  }
}

/* A model behind Masking (make_models.lua's mNN): rows of every sample's
 * (T, F) input set to 0, the mask value, each with probability 0.3, all of
 * a sample's with probability 0.15. The perturbations multiply x, so the
 * rows stay at the mask value. */
static void mask_rows(const ctx *c, rnnc_rng *rng, bufs *b) {
  const rnnc_model *m = c->m;
  int T = c->spec.in_shape[0], F = c->spec.in_shape[1], smp, t, f;
  for (smp = 0; smp < m->batch; smp++) {
    int all = rnnc_rng_uniform(rng) < 0.15;
    for (t = 0; t < T; t++) {
      if (!all && rnnc_rng_uniform(rng) >= 0.3)
        continue;
      for (f = 0; f < F; f++) {
        size_t i = (size_t)smp * m->input_size + (size_t)t * (size_t)F + (size_t)f;
        mset(c, b->x, i, 0.0);
        b->xd[i] = 0.0;
      }
    }
  }
}

/* Parameters p0 plus a perturbation, inputs and targets; redrawn until no
 * relu or hard_sigmoid pre-activation is within KINK_MARGIN of a kink. */
static void draw_data(ctx *c, bufs *b, const void *p0, uint64_t seed) {
  const rnnc_model *m = c->m;
  int attempt;
  kinks k;
  memset(&k, 0, sizeof k);
  for (attempt = 0; attempt < MAX_DRAWS; attempt++) {
    rnnc_rng rng;
    size_t i;
    rnnc_rng_seed(&rng, seed + 1000003ULL * (uint64_t)attempt);
    for (i = 0; i < m->n_params; i++)
      b->pd[i] = mget(c, p0, i) + PERTURB * (2.0 * rnnc_rng_uniform(&rng) - 1.0);
    spread_hard_sigmoid_biases(c, b->pd, &rng);
    for (i = 0; i < m->n_params; i++) {
      mset(c, b->p, i, b->pd[i]);
      b->pd[i] = mget(c, b->p, i);
    }
    if (m->input_vocab > 0) /* an Embedding's tokens: int32, every row of the table */
      for (i = 0; i < (size_t)m->batch * m->input_size; i++) {
        int32_t tok = (int32_t)rnnc_rng_below(&rng, (uint64_t)m->input_vocab);
        ((int32_t *)b->x)[i] = tok;
        b->xd[i] = (double)tok;
      }
    else
      draw_uniform(c, &rng, b->x, b->xd, (size_t)m->batch * m->input_size, -1.0, 1.0);
    if (c->spec.masking) /* steps at Masking's mask_value 0: padding, holes, whole samples */
      mask_rows(c, &rng, b);
    draw_targets(c, &rng, b);
    k = probe_kinks(c, b->pd, b->xd, m->batch);
    if (k.margin >= KINK_MARGIN)
      break;
    kink_redraws++;
  }
  if (k.margin < KINK_MARGIN)
    report(c,
           "no draw in %d keeps the relu / hard_sigmoid pre-activations %g away from their "
           "kinks (last %g)",
           MAX_DRAWS, KINK_MARGIN, k.margin);
  if (c->f64) {
    hs_slope += k.hs_slope;
    hs_flat += k.hs_flat;
    relu_pos += k.relu_pos;
    relu_neg += k.relu_neg;
  }
  worst_probe = dmax(worst_probe, k.probe_err);
}

/* Weights, inputs and dy times (1 + u r), r uniform in [-1, 1], u the unit
 * roundoff of the unit's dtype. */
static void draw_perturbed(const ctx *c, bufs *b, rnnc_rng *rng, size_t nx, size_t ndy) {
  double u = c->f64 ? DBL_EPSILON / 2 : FLT_EPSILON / 2;
  size_t i;
  for (i = 0; i < c->m->n_params; i++)
    b->pp[i] = b->pd[i] * (1.0 + u * (2.0 * rnnc_rng_uniform(rng) - 1.0));
  for (i = 0; i < nx; i++) /* (tokens are exact) */
    b->xp[i] = c->m->input_vocab > 0 ? b->xd[i]
                                     : b->xd[i] * (1.0 + u * (2.0 * rnnc_rng_uniform(rng) - 1.0));
  for (i = 0; i < ndy; i++)
    b->dyp[i] = b->dyd[i] * (1.0 + u * (2.0 * rnnc_rng_uniform(rng) - 1.0));
}

static void check_forward(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t out = (size_t)n * m->output_size;
  int k;
  fill_value(c, b->y, 0, (size_t)(m->batch + 1) * m->output_size, CANARY);
  poison_scratch(m, b->scratch);
  m->forward(b->p, b->scratch, b->x, b->y, n);
  check_untouched(c, "forward y", b->y, out, (size_t)(m->batch + 1) * m->output_size);
  to_double(c, b->y, b->yd, out);
  for (k = 0; k < N_REF; k++) {
    if (k > 0)
      draw_perturbed(c, b, rng, (size_t)n * m->input_size, 0);
    assert_int_equal(rnnc_ref_forward(c->ref, k ? b->pp : b->pd, k ? b->xp : b->xd, n, b->ry[k]),
                     0);
  }
  c->w_fwd =
      dmax(c->w_fwd, check_close(c, "forward y", n, b->yd, (const double *const *)b->ry, 0, out));
}

/* The streaming API, step by step over each of the first n samples, against
 * the unit's forward (just checked against the reference): an output with a
 * row per timestep matches at every step, one with a single row (the last
 * step's) after the last step. Same tolerance as against the reference. */
static void check_stream(ctx *c, bufs *b, int n) {
  const rnnc_model *m = c->m;
  size_t steps = (size_t)m->max_steps, cols_in, out_off = 0, t, k;
  void *st, *yt;
  char *xstep;
  double *got, *want;
  int s, o;
  if (!m->stream_step) {
    if (m->stream_bytes || m->stream_reset || m->stream_input_size || m->stream_output_size)
      report(c, "no stream_step, yet stream sizes or stream_reset are set");
    return;
  }
  /* one timestep of every input, side by side (every input is a sequence) */
  cols_in = 0;
  for (o = 0; o < m->n_inputs; o++) {
    if (m->inputs[o].size % steps != 0) {
      report(c, "input %d of %zu reals is not a sequence of %zu steps, yet the unit streams", o,
             m->inputs[o].size, steps);
      return;
    }
    cols_in += m->inputs[o].size / steps;
  }
  if (m->stream_input_size != cols_in) {
    report(c, "stream_input_size %zu does not match one timestep of the inputs (%zu)",
           m->stream_input_size, cols_in);
    return;
  }
  xstep = xmalloc(cols_in * rnnc_x_bytes(m) + 1);
  st = xmalloc(m->stream_bytes);
  yt = mreals(c, m->stream_output_size + 1);
  got = reals(m->stream_output_size);
  want = reals(m->stream_output_size);
  for (s = 0; s < n; s++) {
    poison(st, m->stream_bytes);
    m->stream_reset(st);
    for (t = 0; t < steps; t++) {
      const char *xt = xstep;
      size_t used = 0, at_in = 0;
      for (o = 0; o < m->n_inputs; o++) {
        size_t cols_k = m->inputs[o].size / steps;
        memcpy(xstep + at_in * rnnc_x_bytes(m),
               (const char *)b->x +
                   ((size_t)s * m->input_size + m->inputs[o].offset + t * cols_k) * rnnc_x_bytes(m),
               cols_k * rnnc_x_bytes(m));
        at_in += cols_k;
      }
      int compare = 0;
      fill_value(c, yt, 0, m->stream_output_size + 1, CANARY);
      m->stream_step(b->p, st, xt, yt);
      check_untouched(c, "stream_step y_t", yt, m->stream_output_size, m->stream_output_size + 1);
      to_double(c, yt, got, m->stream_output_size);
      out_off = 0;
      for (o = 0; o < m->n_outputs; o++) {
        const rnnc_output_desc *d = &m->outputs[o];
        size_t cols = d->shape[d->rank - 1], rows = d->size / cols;
        for (k = 0; k < cols; k++) {
          if (rows == steps) {
            want[out_off + k] = b->yd[(size_t)s * m->output_size + d->offset + t * cols + k];
            compare = 1;
          } else {
            want[out_off + k] = got[out_off + k];
            if (t + 1 == steps) {
              want[out_off + k] = b->yd[(size_t)s * m->output_size + d->offset + k];
              compare = 1;
            }
          }
        }
        out_off += cols;
      }
      used = out_off;
      if (used != m->stream_output_size) {
        report(c, "stream_output_size %zu, the outputs' rows make %zu", m->stream_output_size,
               used);
        break;
      }
      if (compare) {
        size_t at = 0;
        double e = rel_error(got, want, used, &at);
        if (e > (c->f64 ? 1e-12 : 1e-5))
          report(c,
                 "stream_step at sample %d step %zu: relative error %.3g against forward (at %zu)",
                 s, t, e, at);
        c->w_stream = dmax(c->w_stream, e);
      }
    }
  }
  free(xstep);
  free(st);
  free(yt);
  free(got);
  free(want);
}

static double check_loss_grad(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t in = (size_t)n * m->input_size, out = (size_t)n * m->output_size;
  size_t in_all = (size_t)(m->batch + 1) * m->input_size;
  size_t out_all = (size_t)(m->batch + 1) * m->output_size;
  double loss, loss2, e;
  size_t i;
  int k;

  fill_value(c, b->grad, 0, m->n_params, NAN);
  fill_value(c, b->dx, 0, in_all, CANARY);
  fill_value(c, b->ypred, 0, out_all, CANARY);
  for (i = 0; m->input_vocab <= 0 && i < in; i++)
    mset(c, b->dx, i, NAN);
  poison_scratch(m, b->scratch);
  loss = m->loss_grad(b->p, b->scratch, b->x, b->target, b->grad, b->dx, b->ypred, n);
  /* tokens have no gradient: dx is not written at all */
  check_untouched(c, "loss_grad dx", b->dx, m->input_vocab > 0 ? 0 : in, in_all);
  check_untouched(c, "loss_grad y_pred", b->ypred, out, out_all);

  for (k = 0; k < N_REF; k++) {
    if (k > 0)
      draw_perturbed(c, b, rng, in, 0);
    b->rloss[k] = rnnc_ref_loss_grad(c->ref, k ? b->pp : b->pd, k ? b->xp : b->xd, b->td, n,
                                     b->rg[k], b->rdx[k], b->ry[k]);
  }
  {
    const double *rl[N_REF];
    for (k = 0; k < N_REF; k++)
      rl[k] = &b->rloss[k];
    e = check_close(c, "loss_grad loss", n, &loss, rl, 0, 1);
  }
  c->w_loss = dmax(c->w_loss, e);
  to_double(c, b->ypred, b->yd, out);
  c->w_fwd = dmax(
      c->w_fwd, check_close(c, "loss_grad y_pred", n, b->yd, (const double *const *)b->ry, 0, out));
  to_double(c, b->grad, b->gd, m->n_params);
  c->w_grad =
      dmax(c->w_grad, check_grad_tensors(c, "loss_grad", n, b->gd, (const double *const *)b->rg));
  /* a frozen tensor's gradient: zero in both runtimes, exactly */
  for (k = 0; k < m->n_tensors; k++) {
    const rnnc_tensor_desc *d = &m->tensors[k];
    for (i = 0; d->frozen && i < d->size; i++)
      if (b->gd[d->offset + i] != 0.0 || b->rg[0][d->offset + i] != 0.0) {
        report(c, "loss_grad: the frozen tensor %s has a gradient (%g, reference %g)", d->name,
               b->gd[d->offset + i], b->rg[0][d->offset + i]);
        break;
      }
  }
  to_double(c, b->dx, b->dxd, in);
  if (m->input_vocab <= 0)
    c->w_dx = dmax(c->w_dx,
                   check_close(c, "loss_grad dx", n, b->dxd, (const double *const *)b->rdx, 0, in));

  /* Without dx and y_pred: the same loss and gradient, bit for bit. */
  fill_value(c, b->grad2, 0, m->n_params, NAN);
  poison_scratch(m, b->scratch);
  loss2 = m->loss_grad(b->p, b->scratch, b->x, b->target, b->grad2, NULL, NULL, n);
  if (memcmp(&loss, &loss2, sizeof loss) != 0 ||
      memcmp(b->grad, b->grad2, m->n_params * c->dsize) != 0)
    report(c, "loss_grad with dx = y_pred = NULL differs from loss_grad with them (n=%d)", n);

  /* Sample weights in [0, 2) (fit's sample_weight): loss_grad_weighted
   * against the reference runtime's, on float64 units (every output, every
   * timestep of a sequence output, weighted per sample). */
  if (m->loss_grad_weighted != NULL && m->dtype == RNNC_F64) {
    double wl, rl, worst = 0, top = 0;
    draw_uniform(c, rng, b->dy, b->dyd, (size_t)n, 0.0, 2.0);
    fill_value(c, b->grad2, 0, m->n_params, NAN);
    poison_scratch(m, b->scratch);
    wl = m->loss_grad_weighted(b->p, b->scratch, b->x, b->target, b->dy, b->grad2, NULL, NULL, n);
    rl = rnnc_ref_loss_grad_weighted(c->ref, b->pd, b->xd, b->td, b->dyd, n, b->rg[0], NULL, NULL);
    to_double(c, b->grad2, b->gd, m->n_params);
    for (i = 0; i < m->n_params; i++) {
      worst = dmax(worst, fabs(b->gd[i] - b->rg[0][i]));
      top = dmax(top, fabs(b->rg[0][i]));
    }
    if (!(fabs(wl - rl) <= 1e-9 * dmax(fabs(rl), 1e-300)) || !(worst <= 1e-8 * dmax(top, 1e-300)))
      report(c,
             "loss_grad_weighted: loss %.17g, reference %.17g; worst gradient difference %g of %g "
             "(n=%d)",
             wl, rl, worst, top, n);
  }
  return loss;
}

static void check_backward(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t in = (size_t)n * m->input_size, out = (size_t)n * m->output_size;
  size_t in_all = (size_t)(m->batch + 1) * m->input_size;
  int k;
  draw_uniform(c, rng, b->dy, b->dyd, out, -1.0, 1.0);
  poison_scratch(m, b->scratch);
  m->forward(b->p, b->scratch, b->x, b->y, n);
  fill_value(c, b->grad, 0, m->n_params, NAN);
  fill_value(c, b->dx, 0, in_all, CANARY);
  if (m->input_vocab <= 0)
    fill_value(c, b->dx, 0, in, NAN);
  m->backward(b->p, b->scratch, b->dy, b->grad, b->dx, n);
  check_untouched(c, "backward dx", b->dx, m->input_vocab > 0 ? 0 : in, in_all);
  for (k = 0; k < N_REF; k++) {
    if (k > 0)
      draw_perturbed(c, b, rng, in, out);
    assert_int_equal(rnnc_ref_backward(c->ref, k ? b->pp : b->pd, k ? b->xp : b->xd,
                                       k ? b->dyp : b->dyd, n, b->rg[k], b->rdx[k]),
                     0);
  }
  to_double(c, b->grad, b->gd, m->n_params);
  c->w_bwd =
      dmax(c->w_bwd, check_grad_tensors(c, "backward(dy)", n, b->gd, (const double *const *)b->rg));
  to_double(c, b->dx, b->dxd, in);
  if (m->input_vocab <= 0)
    c->w_bwd = dmax(c->w_bwd, check_close(c, "backward(dy) dx", n, b->dxd,
                                          (const double *const *)b->rdx, 0, in));
}

/* "x[i]" named by the model input it belongs to. */
static void x_label(const rnnc_model *m, size_t i, char *buf, size_t len) {
  size_t smp = i / m->input_size, e = i % m->input_size;
  int k = 0;
  while (k + 1 < m->n_inputs && e >= m->inputs[k + 1].offset)
    k++;
  if (k == 0)
    snprintf(buf, len, "x[%zu] (sample %zu, main input element %zu)", i, smp, e);
  else
    snprintf(buf, len, "x[%zu] (sample %zu, input %d (an initial state) element %zu)", i, smp, k,
             e - m->inputs[k].offset);
}

/* The objective the finite differences check: loss_grad's loss, or with dy
 * (units with several outputs) J = sum(dy * y) over every output, whose
 * gradient is backward(dy): this reaches the state outputs (return_state) and
 * the second direction of merge_mode=None, which the loss (on output 0 only)
 * does not. g and dx (may be NULL) get the unit's gradient. */
static double objective(ctx *c, bufs *b, const double *dy, int n, double *g, double *dx) {
  const rnnc_model *m = c->m;
  const double *p = (const double *)b->p, *x = (const double *)b->x;
  double *y = (double *)b->y, j = 0.0;
  size_t i;
  if (!dy)
    return m->loss_grad(p, b->scratch, x, b->target, g ? (void *)g : b->grad2, dx, NULL, n);
  m->forward(p, b->scratch, x, y, n);
  for (i = 0; i < (size_t)n * m->output_size; i++)
    j += dy[i] * y[i];
  if (g)
    m->backward(p, b->scratch, dy, g, dx, n);
  return j;
}

/* float64 only: central differences of the objective (the loss, or
 * sum(dy * y)). Every element is also evaluated at +-2h: the fourth difference
 *   L(+2h) - 4 L(+h) + 6 L(0) - 4 L(-h) + L(-2h)
 * is h^4 times the fourth derivative (negligible) plus the loss's rounding
 * noise, with variance 70 sigma^2 for a noise of deviation sigma. Pooled over
 * the unit's elements it estimates sigma (taken at least eps |L|, one rounding
 * of the loss itself), and the central difference's own noise,
 * sigma / (h sqrt 2), is allowed FD_NOISE_SIGMAS times on top of the
 * tolerance: a unit with a large loss (a linear SimpleRNN over 29 steps has a
 * loss ~250, so eps L / h ~ 5e-8) cannot be checked to 1e-9 with h = 1e-6.
 * The noise is not the same for every element (perturbing a weight of the
 * last layer leaves the earlier layers' roundings bitwise unchanged, one of
 * the first layer does not), so each tensor (and x) is allowed the larger of
 * the unit's pooled estimate and its own. The fourth difference does not
 * depend on the analytic gradient, so no gradient error can raise it. Each
 * unit's summary line shows the largest allowance. */
static void check_finite_differences(ctx *c, bufs *b, int n, const double *dy) {
  const rnnc_model *m = c->m;
  double *p = (double *)b->p, *x = (double *)b->x;
  /* (tokens, an Embedding's input, have no gradient: not differenced) */
  const int tokens = m->input_vocab > 0;
  size_t in = (size_t)n * m->input_size, total = m->n_params + (tokens ? 0 : in), i, k = 0;
  double *g = reals(m->n_params), *dx = reals(in);
  double *fd = reals(total), *gk = reals(total), *d4 = reals(total);
  double l0, sum4 = 0.0, unit_noise, *w_fd = dy ? &c->w_fd_dy : &c->w_fd;
  const char *what = dy ? "sum(dy * y)" : "loss", *by = dy ? "backward(dy)" : "loss_grad";
  int t, reported = 0;

  l0 = objective(c, b, dy, n, g, dx);
  for (t = 0; t <= m->n_tensors - tokens; t++) {
    /* the parameter tensors, then (t == n_tensors) the input; a frozen
     * tensor has no gradient by definition (compare_reference checks that
     * it is zero in both runtimes): not differenced */
    int is_x = t == m->n_tensors;
    double *v;
    const double *gv;
    size_t count;
    if (!is_x && m->tensors[t].frozen) {
      total -= m->tensors[t].size;
      continue;
    }
    v = is_x ? x : p + m->tensors[t].offset;
    gv = is_x ? dx : g + m->tensors[t].offset;
    count = is_x ? in : m->tensors[t].size;
    for (i = 0; i < count; i++, k++) {
      static const double at[4] = {1.0, -1.0, 2.0, -2.0};
      double save = v[i], l[4];
      int j;
      if (is_x && c->spec.masking && save == 0.0) {
        /* at Masking's mask value the mask is a step: no derivative to
         * difference; the analytic one must be 0 (x * mask) */
        fd[k] = 0.0;
        gk[k] = gv[i];
        d4[k] = 0.0;
        continue;
      }
      for (j = 0; j < 4; j++) {
        v[i] = save + at[j] * FD_H;
        l[j] = objective(c, b, dy, n, NULL, NULL);
      }
      v[i] = save;
      fd[k] = (l[0] - l[1]) / (2 * FD_H);
      gk[k] = gv[i];
      d4[k] = l[2] - 4 * l[0] + 6 * l0 - 4 * l[1] + l[3];
      sum4 += d4[k] * d4[k];
    }
  }
  unit_noise =
      dmax(sqrt(sum4 / (70.0 * (double)total)), DBL_EPSILON * fabs(l0)) / (FD_H * sqrt(2.0));

  k = 0;
  for (t = 0; t <= m->n_tensors - tokens; t++) {
    int is_x = t == m->n_tensors;
    const char *tname;
    size_t count;
    double tsum4 = 0.0, noise;
    if (!is_x && m->tensors[t].frozen)
      continue;
    tname = is_x ? "x" : m->tensors[t].name;
    count = is_x ? in : m->tensors[t].size;
    for (i = 0; i < count; i++)
      tsum4 += d4[k + i] * d4[k + i];
    noise = FD_NOISE_SIGMAS *
            dmax(unit_noise, count ? sqrt(tsum4 / (70.0 * (double)count)) / (FD_H * sqrt(2.0)) : 0);
    if (noise != noise)
      noise = INFINITY;
    if (dy)
      c->fd_noise_dy = dmax(c->fd_noise_dy, noise);
    else
      c->fd_noise = dmax(c->fd_noise, noise);
    for (i = 0; i < count; i++, k++) {
      double diff = fabs(fd[k] - gk[k]);
      double scale = dmax(dmax(fabs(gk[k]), fabs(fd[k])), FD_FLOOR);
      double e = diff / scale, score = diff / (FD_TOL * scale + noise);
      char label[200];
      if (is_x)
        x_label(m, i, label, sizeof label);
      else
        snprintf(label, sizeof label, "%s[%zu]", tname, i);
      if (e != e || score != score)
        e = score = INFINITY;
      fd_checked++;
      *w_fd = dmax(*w_fd, e);
      note_worst(&worst_fd, e, "%s (%s) d %s / d %s n=%d", m->name, c->file, what, label, n);
      note_worst(&worst_fd_score, score, "%s (%s) d %s / d %s n=%d", m->name, c->file, what, label,
                 n);
      if (!(score <= 1.0) && reported++ < 4)
        report(c,
               "finite differences (n=%d): d %s / d %s: %s %.12g, central "
               "difference %.12g: |difference| %.3g > %.0e x %.3g + rounding noise allowance "
               "%.3g",
               n, what, label, by, gk[k], fd[k], diff, FD_TOL, scale, noise);
    }
  }
  free(g);
  free(dx);
  free(fd);
  free(gk);
  free(d4);
}

/* The update train_step makes: rnnc_optimizer_apply with the unit's tensors
 * (clipping, no update of the frozen ones, then the weights' constraints). */
static void optimizer_step(ctx *c, void *w, void *g, void *slots, long step) {
  if (c->f64)
    rnnc_optimizer_apply_f64(&c->m->optimizer, (double *)w, (double *)g, (double *)slots,
                             c->m->n_params, step, c->m->tensors, c->m->n_tensors);
  else
    rnnc_optimizer_apply_f32(&c->m->optimizer, (float *)w, (float *)g, (float *)slots,
                             c->m->n_params, step, c->m->tensors, c->m->n_tensors);
}

/* A frozen layer's weights (not BatchNormalization's moving statistics,
 * which a training step sets) are bit for bit those before the steps. */
static void check_frozen_kept(ctx *c, const void *before, const void *after, const char *what) {
  int t;
  for (t = 0; t < c->m->n_tensors; t++) {
    const rnnc_tensor_desc *d = &c->m->tensors[t];
    const char *leaf = strrchr(d->name, '/');
    leaf = leaf ? leaf + 1 : d->name;
    if (!d->frozen || strcmp(leaf, "moving_mean") == 0 || strcmp(leaf, "moving_variance") == 0)
      continue;
    if (memcmp((const char *)before + d->offset * c->dsize,
               (const char *)after + d->offset * c->dsize, d->size * c->dsize) != 0)
      report(c, "%s changed the frozen tensor %s", what, d->name);
  }
}

/* Whether an output of the model has no loss (a graph's output for
 * inference only). */
static int has_output_without_loss(const rnnc_model *m) {
  int k;
  for (k = 0; k < m->n_outputs; k++)
    if (m->losses[k].kind == RNNC_LOSS_NONE)
      return 1;
  return 0;
}

static int has_front(const sspec *s) {
  int l;
  for (l = 0; l < s->n_layers; l++)
    if (s->layers[l].kind == K_FRONT)
      return 1;
  return 0;
}

/* Expects train_step to return NaN and leave params and state alone. */
static void expect_refused(ctx *c, bufs *b, void *pw, const void *x, const void *target, int n,
                           const char *what) {
  const rnnc_model *m = c->m;
  void *p_before = xmalloc(m->params_bytes), *o_before = xmalloc(m->opt_state_bytes);
  double r;
  memcpy(p_before, pw, m->params_bytes);
  memcpy(o_before, b->opt, m->opt_state_bytes);
  r = m->train_step(pw, b->opt, b->scratch, x, target, NULL, n);
  if (r == r)
    report(c, "train_step with %s returned %.17g, not NaN (n=%d)", what, r, n);
  if (memcmp(p_before, pw, m->params_bytes) != 0)
    report(c, "train_step with %s changed the parameters (n=%d)", what, n);
  if (memcmp(o_before, b->opt, m->opt_state_bytes) != 0)
    report(c, "train_step with %s changed the optimizer state (n=%d)", what, n);
  free(p_before);
  free(o_before);
}

static void check_train_step(ctx *c, bufs *b, int n, rnnc_rng *rng) {
  const rnnc_model *m = c->m;
  size_t P = m->n_params, out = (size_t)n * m->output_size, i, changed = 0, nonzero = 0;
  size_t slots_n = rnnc_optimizer_slots(&m->optimizer, P);
  void *pw = xmalloc(m->params_bytes), *pe = xmalloc(m->params_bytes);
  void *slots = mreals(c, slots_n), *g = mreals(c, P);
  void *xbad = mreals(c, (size_t)m->batch * m->input_size);
  void *tbad = mreals(c, (size_t)m->batch * m->target_size);
  long step;

  memset(b->opt, 0, m->opt_state_bytes);
  memcpy(pw, b->p, m->params_bytes);
  memcpy(pe, b->p, m->params_bytes);
  for (step = 1; step <= 2; step++) {
    double expect, got;
    poison_scratch(m, b->scratch);
    if (m->set_noise != NULL) /* train_step's masks: keyed by the updates before it */
      m->set_noise(b->scratch, NOISE_SEED, step - 1, 0);
    expect = m->loss_grad(pe, b->scratch, b->x, b->target, g, NULL, b->y, n);
    optimizer_step(c, pe, g, slots, step);
    if (m->update_stats != NULL) /* BatchNormalization: the moving statistics of the batch */
      m->update_stats(pe, b->scratch);
    poison_scratch(m, b->scratch);
    fill_value(c, b->ypred, 0, (size_t)(m->batch + 1) * m->output_size, CANARY);
    got = m->train_step(pw, b->opt, b->scratch, b->x, b->target, b->ypred, n);
    if (memcmp(&got, &expect, sizeof got) != 0)
      report(c, "train_step %ld returned %.17g, loss_grad says %.17g (n=%d)", step, got, expect, n);
    if (memcmp(pw, pe, m->params_bytes) != 0)
      report(c,
             "train_step %ld: parameters differ from loss_grad + rnnc_optimizer_step + "
             "rnnc_constrain (n=%d)",
             step, n);
    check_untouched(c, "train_step y_pred", b->ypred, out, (size_t)(m->batch + 1) * m->output_size);
    if (step == 1) {
      /* y_pred is the forward output at the parameters before the step
       * (the training forward's, which loss_grad gave above, for a unit
       * with BatchNormalization) */
      if (m->eval_loss == NULL)
        m->forward(b->p, b->scratch, b->x, b->y, n);
      if (memcmp(b->y, b->ypred, out * c->dsize) != 0)
        report(c, "train_step y_pred differs from forward (n=%d)", n);
      /* (a one-unit softmax has an all-zero gradient: nothing moves) */
      for (i = 0; i < P; i++) {
        changed += mget(c, pw, i) != mget(c, b->p, i);
        nonzero += mget(c, g, i) != 0.0;
      }
      if (changed == 0 && nonzero > 0)
        report(c, "train_step did not change any parameter (n=%d)", n);
    }
  }
  check_frozen_kept(c, b->p, pw, "train_step");

  /* NaN in x: refused. (A model that crops or skips steps ignores some of
   * a sample's input, and a graph with an output without a loss may read an
   * input for that output only: a model without front-end layers and with
   * a loss on every output gets one NaN, the others a sample of NaN.) */
  memcpy(xbad, b->x, (size_t)m->batch * m->input_size * c->dsize);
  i = (size_t)rnnc_rng_below(rng, (uint64_t)n * m->input_size);
  if (m->input_vocab > 0) {
    /* tokens: one outside the table, then a negative one */
    ((int32_t *)xbad)[i] = m->input_vocab;
    expect_refused(c, b, pw, xbad, b->target, n, "a token equal to input_dim");
    ((int32_t *)xbad)[i] = -1;
    expect_refused(c, b, pw, xbad, b->target, n, "the token -1");
    memcpy(xbad, b->x, (size_t)m->batch * m->input_size * c->dsize);
    /* and the generated code alone: NaN outputs, no read outside the table
     * (ASan would see it), train_step's NaN */
    ((int32_t *)xbad)[i] = m->input_vocab + 1000000;
    fill_value(c, b->y, 0, (size_t)n * m->output_size, 0.0);
    m->forward(b->p, b->scratch, xbad, b->y, n);
    {
      size_t j, nan_seen = 0;
      for (j = 0; j < (size_t)n * m->output_size; j++)
        nan_seen += mget(c, b->y, j) != mget(c, b->y, j);
      if (nan_seen == 0)
        report(c, "forward with a token outside the table gave no NaN output");
    }
  } else if (has_front(&c->spec) || has_output_without_loss(m)) {
    size_t first = i - i % m->input_size, j;
    for (j = 0; j < m->input_size; j++)
      mset(c, xbad, first + j, NAN);
  } else {
    mset(c, xbad, i, NAN);
  }
  expect_refused(c, b, pw, xbad, b->target, n, "a NaN in x");
  /* A NaN target (mse) or a label out of range (of the first loss's
   * targets): refused. */
  memcpy(tbad, b->target, (size_t)m->batch * m->target_size * c->dsize);
  {
    const rnnc_loss_part *lp = &m->losses[0];
    int k;
    for (k = 0; k < m->n_outputs && lp->kind == RNNC_LOSS_NONE; k++)
      lp = &m->losses[k];
    i = (size_t)rnnc_rng_below(rng, (uint64_t)n) * m->target_size + lp->target_offset +
        (size_t)rnnc_rng_below(rng, lp->target_size);
    if ((c->spec.masking || c->spec.mask_zero) && lp->kind == RNNC_LOSS_MSE &&
        lp->rows == (size_t)c->spec.in_shape[0] && lp->rows > 1) {
      /* a masked loss weighs a masked step 0, and a row of weight 0 adds
       * nothing, not even a NaN (rnnc_loss_eval_sw): the NaN goes to a step
       * the mask keeps, if there is one (a feature not at the mask value, or
       * a token that is not 0) */
      int T = c->spec.in_shape[0], F = c->spec.mask_zero ? 1 : c->spec.in_shape[1], smp, t, f,
          kept = 0;
      for (smp = 0; smp < n && !kept; smp++)
        for (t = 0; t < T && !kept; t++)
          for (f = 0; f < F; f++)
            if (b->xd[(size_t)smp * m->input_size + (size_t)t * (size_t)F + (size_t)f] != 0.0) {
              i = (size_t)smp * m->target_size + lp->target_offset + (size_t)t * lp->cols;
              kept = 1;
              break;
            }
      if (!kept)
        i = (size_t)-1; /* every step masked: the loss is 0, whatever the targets */
    }
    if (i == (size_t)-1) {
      /* nothing to check */
    } else if (lp->kind == RNNC_LOSS_MSE) {
      mset(c, tbad, i, NAN);
      expect_refused(c, b, pw, b->x, tbad, n, "a NaN target");
    } else {
      mset(c, tbad, i, (double)lp->cols);
      expect_refused(c, b, pw, b->x, tbad, n, "a label equal to the class count");
      mset(c, tbad, i, -1.0);
      expect_refused(c, b, pw, b->x, tbad, n, "the label -1");
    }
  }
  free(pw);
  free(pe);
  free(slots);
  free(g);
  free(xbad);
  free(tbad);
}

/* A unit with BatchNormalization: update_stats after loss_grad gives the
 * reference's moving statistics (rnnc_ref_update_stats), and eval_loss is
 * the compiled loss of the reference's inference forward. */
static void check_stats(ctx *c, bufs *b, int n) {
  const rnnc_model *m = c->m;
  size_t P = m->n_params, i, out = (size_t)n * m->output_size;
  void *pu = xmalloc(m->params_bytes);
  double *pr = reals(P), *want = reals(P), *got = reals(P), *ry = reals(out), worst = 0, scale = 0;
  double loss, rloss, e;
  if (m->eval_loss == NULL) {
    free(pu), free(pr), free(want), free(got), free(ry);
    return;
  }
  memcpy(pu, b->p, m->params_bytes);
  if (m->update_stats == NULL) /* noise layers only: no statistics */
    goto eval;
  poison_scratch(m, b->scratch);
  m->loss_grad(pu, b->scratch, b->x, b->target, b->grad, NULL, NULL, n);
  m->update_stats(pu, b->scratch);
  memcpy(pr, b->pd, P * sizeof(double));
  assert_int_equal(rnnc_ref_update_stats(c->ref, pr, b->xd, n), 0);
  to_double(c, pu, got, P);
  for (i = 0; i < P; i++) {
    worst = dmax(worst, fabs(got[i] - pr[i]));
    scale = dmax(scale, fabs(pr[i]));
  }
  e = worst / dmax(scale, 1e-30);
  if (!(e <= (c->f64 ? TOL_F64 : TOL_F32)))
    report(c, "update_stats: moving statistics %.3g (relative) from the reference's (n=%d)", e, n);
/* eval_loss: the loss at inference (of the one output; a model with
 * several outputs sums their losses, which the check does not rebuild) */
eval:
  /* (a model with activity regularizers adds their penalties, which the
   * check does not rebuild: diff and the conformance case check them) */
  if (m->n_outputs != 1 || strstr(m->spec, "\nactivity ") != NULL) {
    free(pu), free(pr), free(want), free(got), free(ry);
    return;
  }
  poison_scratch(m, b->scratch);
  loss = m->eval_loss(b->p, b->scratch, b->x, b->target, NULL, n);
  assert_int_equal(rnnc_ref_forward(c->ref, b->pd, b->xd, n, ry), 0);
  if (m->loss == RNNC_LOSS_MSE)
    rloss = rnnc_loss_mse_f64(ry, b->td, (size_t)n * m->output_rows, m->output_cols, NULL);
  else
    rloss = rnnc_loss_sparse_cce_f64(ry, b->td, (size_t)n * m->output_rows, m->output_cols, NULL);
  /* and the weight regularizers' penalty (Keras's compute_loss adds it in
   * evaluation too) */
  rloss += rnnc_regularize_f64(m->tensors, m->n_tensors, b->pd, NULL, m->n_params);
  e = fabs(loss - rloss) / dmax(fabs(rloss), 1e-30);
  if (!(e <= (c->f64 ? 1e-10 : TOL_F32)))
    report(c, "eval_loss %.17g, the reference's inference loss %.17g (n=%d)", loss, rloss, n);
  /* eval_loss_weighted: each sample's loss times its weight (1, 2, ..., n),
   * still over the rows of the batch (sum_over_batch_size) */
  if (m->eval_loss_weighted != NULL && !m->masked_loss) {
    double *wd = malloc((size_t)n * sizeof *wd), wsum = 0;
    float *wf = malloc((size_t)n * sizeof *wf);
    assert_non_null(wd);
    assert_non_null(wf);
    for (int i = 0; i < n; ++i) {
      wd[i] = wf[i] = (float)(i + 1);
      const double *yi = ry + (size_t)i * m->output_size, *ti = b->td + (size_t)i * m->target_size;
      double li = m->loss == RNNC_LOSS_MSE
                      ? rnnc_loss_mse_f64(yi, ti, m->output_rows, m->output_cols, NULL)
                      : rnnc_loss_sparse_cce_f64(yi, ti, m->output_rows, m->output_cols, NULL);
      wsum += wd[i] * li;
    }
    rloss = wsum / n + rnnc_regularize_f64(m->tensors, m->n_tensors, b->pd, NULL, m->n_params);
    poison_scratch(m, b->scratch);
    loss = m->eval_loss_weighted(b->p, b->scratch, b->x, b->target,
                                 c->f64 ? (const void *)wd : (const void *)wf, NULL, n);
    e = fabs(loss - rloss) / dmax(fabs(rloss), 1e-30);
    if (!(e <= (c->f64 ? 1e-10 : TOL_F32)))
      report(c, "eval_loss_weighted %.17g, the reference's weighted loss %.17g (n=%d)", loss, rloss,
             n);
    free(wd), free(wf);
  }
  free(pu), free(pr), free(want), free(got), free(ry);
}

static uint64_t hash_str(const char *s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static void test_model(void **state) {
  const entry *en = (const entry *)*state;
  const rnnc_model *m = en->m;
  ctx c;
  bufs b;
  char err[256];
  void *p0;
  rnnc_rng rng;
  /* from the model file's base name: the data depend on SEED and the model
   * only (not OUTDIR), and the float32 and float64 twins share them */
  const char *base = strrchr(en->file, '/');
  uint64_t seed = hash_str(base ? base + 1 : en->file);
  int ns[2], k, n_count;
  size_t out_all, in_all;

  memset(&c, 0, sizeof c);
  memset(&b, 0, sizeof b);
  c.m = m;
  c.file = en->file;
  c.f64 = m->dtype == RNNC_F64;
  c.dsize = c.f64 ? sizeof(double) : sizeof(float);
  if (parse_spec(m->spec, &c.spec, err, sizeof err) != 0)
    fail_msg("%s (model file %s): cannot parse its spec: %s\n%s", m->name, en->file, err, m->spec);
  c.ref = rnnc_ref_new(m->spec, err, sizeof err);
  if (c.ref != NULL)
    rnnc_ref_set_noise(c.ref, NOISE_SEED, NOISE_STEP, 0);
  if (!c.ref)
    fail_msg("%s (model file %s): the reference runtime refuses its spec: %s\n%s", m->name,
             en->file, err, m->spec);
  check_descriptor(&c);
  if (c.failures)
    fail_msg("%s (model file %s): the descriptor does not match the spec; not running it", m->name,
             en->file);

  out_all = (size_t)(m->batch + 1) * m->output_size;
  in_all = (size_t)(m->batch + 1) * m->input_size;
  b.p = xmalloc(m->params_bytes);
  b.pd = reals(m->n_params);
  b.x = mreals(&c, in_all);
  b.xd = reals(in_all);
  b.target = mreals(&c, (size_t)m->batch * m->target_size);
  b.td = reals((size_t)m->batch * m->target_size);
  b.scratch = xmalloc(m->scratch_bytes);
  b.opt = xmalloc(m->opt_state_bytes);
  b.y = mreals(&c, out_all);
  b.ypred = mreals(&c, out_all);
  b.dx = mreals(&c, in_all);
  b.grad = mreals(&c, m->n_params);
  b.grad2 = mreals(&c, m->n_params);
  b.dy = mreals(&c, out_all);
  b.yd = reals(out_all);
  b.dxd = reals(in_all);
  b.gd = reals(m->n_params);
  b.dyd = reals(out_all);
  for (k = 0; k < N_REF; k++) {
    b.ry[k] = reals(out_all);
    b.rdx[k] = reals(in_all);
    b.rg[k] = reals(m->n_params);
  }
  b.pp = reals(m->n_params);
  b.xp = reals(in_all);
  b.dyp = reals(out_all);
  p0 = xmalloc(m->params_bytes);

  check_init(&c, p0, seed);
  draw_data(&c, &b, p0, seed ^ 0x5DEECE66DULL);

  rnnc_rng_seed(&rng, seed + 17);
  ns[0] = 1 + (int)rnnc_rng_below(&rng, (uint64_t)m->batch);
  ns[1] = m->batch;
  n_count = ns[0] == ns[1] ? 1 : 2;
  for (k = 0; k < n_count; k++) {
    check_forward(&c, &b, ns[k], &rng);
    check_stream(&c, &b, ns[k]);
    check_loss_grad(&c, &b, ns[k], &rng);
    check_backward(&c, &b, ns[k], &rng);
  }
  if (c.f64) {
    check_finite_differences(&c, &b, ns[0], NULL);
    if (m->n_outputs > 1) {
      /* every output, states included, through backward(dy) */
      double *dy = reals((size_t)ns[0] * m->output_size);
      size_t i;
      for (i = 0; i < (size_t)ns[0] * m->output_size; i++)
        dy[i] = 2.0 * rnnc_rng_uniform(&rng) - 1.0;
      check_finite_differences(&c, &b, ns[0], dy);
      free(dy);
    }
  }
  check_train_step(&c, &b, ns[0], &rng);
  check_stats(&c, &b, ns[0]);

  print_message("      %s: %zu params, batch %d, n = %d%s%s: relative errors forward %.1e loss "
                "%.1e grad %.1e dx %.1e backward %.1e stream %s%.1e%s",
                m->name, m->n_params, m->batch, ns[0], n_count > 1 ? " and " : "",
                n_count > 1 ? "batch" : "", c.w_fwd, c.w_loss, c.w_grad, c.w_dx, c.w_bwd,
                m->stream_step ? "" : "(none) ", c.w_stream, c.f64 ? "" : "\n");
  if (c.f64 && m->n_outputs > 1)
    print_message(
        ", finite differences of the loss %.1e (noise allowance up to %.1e) and of sum(dy * "
        "y) %.1e (%.1e)\n",
        c.w_fd, c.fd_noise, c.w_fd_dy, c.fd_noise_dy);
  else if (c.f64)
    print_message(", finite differences %.1e (noise allowance up to %.1e)\n", c.w_fd, c.fd_noise);

  rnnc_ref_free(c.ref);
  {
    void *all[] = {p0,    b.p,  b.pd,    b.x,  b.xd,   b.target, b.td, b.scratch,
                   b.opt, b.y,  b.ypred, b.dx, b.grad, b.grad2,  b.dy, b.yd,
                   b.dxd, b.gd, b.dyd,   b.pp, b.xp,   b.dyp};
    size_t i;
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
      free(all[i]);
    for (k = 0; k < N_REF; k++) {
      free(b.ry[k]);
      free(b.rdx[k]);
      free(b.rg[k]);
    }
  }
  if (c.failures)
    fail_msg("%s (model file %s): %d check(s) failed%s", m->name, en->file, c.failures,
             c.failures > MAX_REPORTS ? " (only the first ones are shown)" : "");
}

int main(int argc, char **argv) {
  struct CMUnitTest *tests;
  entry *entries;
  int i, count = 0, status;
  const char *filter = argc > 1 ? argv[1] : NULL;

  tests = (struct CMUnitTest *)calloc((size_t)rnnc_test_model_count + 1, sizeof *tests);
  entries = (entry *)calloc((size_t)rnnc_test_model_count + 1, sizeof *entries);
  if (!tests || !entries)
    return 2;
  for (i = 0; i < rnnc_test_model_count; i++) {
    const rnnc_model *m = rnnc_test_models[i];
    const char *file = rnnc_test_model_files[i];
    size_t len = strlen(m->name) + strlen(file) + 16;
    char *name;
    if (filter && !strstr(m->name, filter))
      continue;
    name = (char *)malloc(len);
    if (!name)
      return 2;
    snprintf(name, len, "%s (%s)", m->name, file);
    entries[count].m = m;
    entries[count].file = file;
    entries[count].index = i;
    tests[count].name = name;
    tests[count].test_func = test_model;
    tests[count].initial_state = &entries[count];
    count++;
  }
  status = _cmocka_run_group_tests("rnnc_random_models", tests, (size_t)count, NULL, NULL);
  printf("worst relative error against the reference, float64: %.3g (tolerance %.0e) at %s\n",
         worst_ref[1].err, TOL_F64, worst_ref[1].where[0] ? worst_ref[1].where : "-");
  printf("worst relative error against the reference, float32: %.3g (tolerance %.0e) at %s\n",
         worst_ref[0].err, TOL_F32, worst_ref[0].where[0] ? worst_ref[0].where : "-");
  printf("worst finite-difference error (float64, %ld elements): %.3g (tolerance %.0e) at %s\n",
         fd_checked, worst_fd.err, FD_TOL, worst_fd.where[0] ? worst_fd.where : "-");
  printf("worst finite-difference score |fd - g| / (tolerance + noise allowance): %.3g (passes "
         "<= 1) at %s\n",
         worst_fd_score.err, worst_fd_score.where[0] ? worst_fd_score.where : "-");
  for (i = 1; i >= 0; i--) {
    printf("%s tensors outside the tolerance but within %g x (float32 with a training "
           "BatchNormalization: %g x) the reference's sensitivity to one rounding: %ld",
           i ? "float64" : "float32", SENS_FACTOR, SENS_FACTOR_BN, cond_passes[i]);
    if (cond_passes[i])
      printf(" (worst error / sensitivity %.3g at %s)", worst_cond[i].err, worst_cond[i].where);
    printf("\n");
  }
  printf("kinks: %ld redraws; float64 data: hard_sigmoid pre-activations %ld on the slope, %ld "
         "flat (|z| > 2.5); relu pre-activations %ld > 0, %ld < 0; the probe's worst relative "
         "difference to the reference %.2g\n",
         kink_redraws, hs_slope, hs_flat, relu_pos, relu_neg, worst_probe);
  for (i = 0; i < count; i++)
    free((void *)tests[i].name);
  free(tests);
  free(entries);
  return status;
}
