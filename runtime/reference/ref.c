/* rnnc reference runtime: a plain interpreter of the spec in double precision.
 *
 * Written for obviousness, not speed: run-time sizes, one sample at a time,
 * one function per layer forward and one per layer backward, full
 * backpropagation through time for the recurrent layers. Every intermediate
 * value of a batch is kept (a "trace") so that backward can read it.
 *
 * Per-sample shapes: the input is (T, F) or (F). Dense maps the last axis,
 * (T, in) -> (T, U) or (in) -> (U). A recurrent layer (SimpleRNN, LSTM, GRU)
 * maps (T, in) to (T, U) with return_sequences=1, else to (U) (the last h);
 * with return_state=1 its states follow. Bidirectional runs two copies of a
 * recurrent layer (each a "direction") and merges their outputs.
 *
 * Only the last layer may have several outputs; a layer's per-sample output
 * is the concatenation of its outputs in Keras order.
 *
 * A SimpleRNN, LSTM or GRU layer with initial_state=1 reads its initial states
 * (h_0, and c_0 for an LSTM) from the model's per-sample input, after the main
 * input, and its backward writes d(loss)/d(initial states) there. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_mix.h"
#include "rnnc.h"
#include "rnnc_ref.h"

#define M_PI_REF 3.14159265358979323846

enum { LAYER_DENSE = 1, LAYER_SIMPLE_RNN, LAYER_LSTM, LAYER_GRU, LAYER_BIDIRECTIONAL };
/* The layers of several inputs (merges, Dot, attention): ref_mix.c computes
 * them, op MIX_* of ref_mix.h */
enum { LAYER_MIX = 100 };
/* The front-end layers: convolutions, pooling, shape and normalisation
 * layers ("front" below; their own block of this file). */
enum {
  LAYER_CONV1D = 32,
  LAYER_SEPARABLE_CONV1D,
  LAYER_DEPTHWISE_CONV1D,
  LAYER_MAX_POOLING1D,
  LAYER_AVERAGE_POOLING1D,
  LAYER_GLOBAL_MAX_POOLING1D,
  LAYER_GLOBAL_AVERAGE_POOLING1D,
  LAYER_ZERO_PADDING1D,
  LAYER_CROPPING1D,
  LAYER_UP_SAMPLING1D,
  LAYER_FLATTEN,
  LAYER_RESHAPE,
  LAYER_PERMUTE,
  LAYER_REPEAT_VECTOR,
  LAYER_LAYER_NORMALIZATION,
  LAYER_BATCH_NORMALIZATION,
  LAYER_EMBEDDING /* integer tokens (steps,) -> (steps, output_dim): rows of its table */
};
#define IS_FRONT(kind) ((kind) >= LAYER_CONV1D && (kind) < LAYER_MIX)
/* issue 13: layers that map every value of their input (their output has the
 * input's shape) */
enum { LAYER_ACTIVATION = 16, LAYER_RELU, LAYER_LEAKY_RELU, LAYER_ELU, LAYER_PRELU };
/* Masking (Keras 3 keras/src/layers/core/masking.py): the mask of a step is
 * any(x[t, :] != mask_value), the output x with the masked steps zeroed. The
 * mask travels with the tensors (propagate_masks below) to the recurrent
 * layers, which keep their states at a masked step, and to the loss, which
 * weighs the rows by it. */
enum { LAYER_MASKING = 24 };
/* the noise layers: the identity at inference; in training (loss_grad) a
 * mask of rnnc_noise_value (rnnc.h) multiplies (Dropout, GaussianDropout) or
 * is added to (GaussianNoise) the input */
enum { LAYER_DROPOUT = 21, LAYER_GAUSSIAN_NOISE, LAYER_GAUSSIAN_DROPOUT };
/* ACT_LINEAR, ACT_RELU, ... : the catalog's activations (rnnc_catalog.h) */
enum {
#define ACT(NAME, name, elementwise) ACT_##NAME,
  RNNC_ACTIVATIONS(ACT)
#undef ACT
};
enum { MERGE_CONCAT, MERGE_SUM, MERGE_MUL, MERGE_AVE, MERGE_NONE };

/* Largest dimension a spec may name, and largest per-sample or parameter size:
 * keeps every size computation far from overflow. */
#define MAX_DIM 1000000
#define MAX_SIZE 1e12

/* Most outputs a layer has: Bidirectional(LSTM, merge_mode=none,
 * return_state=1) gives 2 outputs and 2 x 2 states. */
#define MAX_OUTPUTS 6

/* Most inputs and outputs a model has. */
#define MAX_MODEL_IO 16

/* A tensor of the graph: model input `index` (node < 0), or output `index`
 * of node `node`. */
typedef struct {
  int node;
  int index;
} tref;

/* One direction of a recurrent layer: a SimpleRNN, LSTM or GRU cell run over a
 * (T, in) sequence, with its own weights. */
typedef struct {
  int cell;    /* LAYER_SIMPLE_RNN, LAYER_LSTM or LAYER_GRU */
  int units;   /* U */
  int gates;   /* blocks of U columns in every weight: 1, 4 (i f c o) or 3 (z r h) */
  int act;     /* activation */
  int rec_act; /* recurrent_activation (LSTM, GRU) */
  int use_bias;
  int reset_after; /* GRU only */
  int go_backwards;
  int T, in;     /* timesteps, input features */
  size_t record; /* reals per step record in the trace (see the cell's forward) */
  size_t kernel_off, recurrent_off, bias_off; /* offsets in the parameter vector */
  /* dropout (training only): in_masks masks of `in` values for the input
   * (0: none, 1: one for every gate, gates: one per gate) and rec_masks of
   * U for h[t-1] in the recurrent products, rnnc_noise_value dropout masks
   * of rate dropout / recurrent_dropout under the salts salt_in, salt_rec
   * (the seed the layer's when has_seed, else the call's); mask k's values
   * at indices k * width + i. They follow the step records in the trace. */
  int in_masks, rec_masks, has_seed;
  double dropout, recurrent_dropout;
  uint64_t seed, salt_in, salt_rec;
  size_t mask_size; /* in_masks * in + rec_masks * U */
} rnn;

/* A front-end layer's geometry and weights (sizes per sample). */
typedef struct {
  int T, C;   /* input: steps (1 for a vector) and channels */
  int To, Co; /* output: steps and channels */
  /* convolutions: kernel k, stride s, dilation d, zero rows before and after
   * the input; groups, depth multiplier; pooling: k the pool size, s its
   * stride */
  int k, s, d, before, after, groups, mult;
  int act, use_bias;
  int n;    /* RepeatVector's n, UpSampling1D's size */
  int swap; /* Permute: steps and channels swapped */
  int keepdims;
  int mask_zero;          /* Embedding: a mask of the tokens != 0 */
  int center, scale, rms; /* normalisation */
  double epsilon, momentum;
  int n_w;
  size_t w_off[4], w_size[4]; /* the weights, in Keras's order */
} front;

typedef struct {
  int kind;
  int line;      /* spec line, for messages */
  char name[64]; /* the layer's name (truncated), for messages */
  /* Dense */
  int units;
  int act;
  int use_bias;
  int in_features; /* last axis of the input */
  int rows;        /* rows of the input (T or 1) */
  size_t kernel_off, bias_off;
  /* recurrent layers: one direction, or two for Bidirectional (forward copy
   * first, then the backward copy with go_backwards flipped) */
  int n_dirs;
  rnn dir[2];
  int merge_mode; /* Bidirectional only */
  int return_sequences;
  /* with state= (one direction only), the initial states come from the
   * tensors state[] names: h_0, then c_0 for an LSTM (n_states of U reals
   * each); otherwise they are zero */
  int initial_state;
  int n_states;
  int legacy_state; /* initial_state=1: the states are further model inputs (below) */
  int return_state;
  /* the first output's shape (the next layer's input) and last axis */
  int out_rank;
  int out_shape[2];
  size_t out_cols;
  /* outputs in Keras order; per sample they are concatenated */
  int n_outputs;
  size_t out_part[MAX_OUTPUTS]; /* reals per sample of each output */
  size_t out_off[MAX_OUTPUTS];  /* its offset in the concatenation */
  size_t in_size;               /* reals per sample */
  size_t out_size;              /* reals per sample, all outputs */
  size_t work_size;             /* trace reals per sample: Dense z; recurrent step records */
  size_t scratch_size;          /* reals of scratch backward needs */
  size_t n_params;
  /* the graph: the tensors the node reads (in=, default the previous
   * node's first output), its initial states (state=: h_0, then c_0 for an
   * LSTM), and the node whose weights it shares (share=, -1: its own) */
  int n_in;
  tref in[MIX_MAX_INPUTS];
  tref state[2];
  int share;
  /* trainable=0 (a frozen layer, Keras's Layer.trainable = False): no
   * gradient for its weights [p_off, p_end), and BatchNormalization
   * normalises with its moving statistics in training too and never updates
   * them (Keras 3 batch_normalization.py: `if training and self.trainable`) */
  int frozen;
  size_t p_off, p_end;
  /* each output's shape per sample: rows x cols (a vector: 1 x n) */
  int part_rows[MAX_OUTPUTS], part_cols[MAX_OUTPUTS];
  mixer mx; /* LAYER_MIX */
  front fe; /* front-end layers */
  /* Dense: 0 when a loss after it cannot read its logits (TimeDistributed) */
  int keeps_logits;
  /* elementwise layers (is_elementwise): Activation's act; ReLU's max_value
   * (has_max), negative_slope and threshold; LeakyReLU's slope; ELU's alpha;
   * PReLU's alpha tensor (a_rows x a_cols, repeated along a shared axis) */
  double max_value, slope, threshold, alpha;
  int has_max;
  int a_rows, a_cols;
  size_t alpha_off;
  /* Masking: mask_value; its work holds the mask of every step (1 or 0) */
  double mask_value;
  /* masks: the Masking node whose mask each output carries (-1: none), and
   * the one the node's input carries (its recurrent steps read it) */
  int out_mask[MAX_OUTPUTS];
  int in_mask;
  /* a node of several inputs: the Masking node of each input's mask (-1:
   * none); the attention layers read them */
  int mix_mask[MIX_MAX_INPUTS];
  /* zero_output_for_mask=1 (a masked step's output is zeros; Bidirectional
   * with return_sequences sets it on both directions, as Keras 3 does) */
  int zero_output;
  /* noise layers (is_noise): kind (rnnc_noise_kind), rate or stddev, the
   * salt, the layer's seed (has_seed; else the call's), and along which axes
   * the mask varies (per_sample, per_step, per_feature; 0: one value
   * broadcast along it, Keras's noise_shape entry 1): the mask per sample
   * is mask_rows x mask_cols, kept in the trace (work) */
  int noise_kind, has_seed, per_sample, per_step, per_feature, mask_rows, mask_cols;
  double noise_p;
  uint64_t salt, seed;
  /* Keras's activity_regularizer of this call ('activity' line): l1 sum |y|
   * + l2 sum y^2 of output 0, over the samples / their count, in the loss */
  int has_act;
  double act_l1, act_l2;
} layer;

struct rnnc_ref {
  int n_layers; /* the nodes, one per call of a layer */
  layer *layers;
  int loss; /* rnnc_loss_kind of the first output that has one; RNNC_LOSS_NONE: none */
  size_t n_params;
  /* the model's inputs (the 'input' lines), one after the other per sample */
  int n_inputs;
  int in_rank[MAX_MODEL_IO], in_rows[MAX_MODEL_IO], in_cols[MAX_MODEL_IO];
  size_t in_off[MAX_MODEL_IO], in_size[MAX_MODEL_IO];
  size_t input_size;
  /* the model's outputs, one after the other per sample, and their losses */
  int n_outputs;
  tref out[MAX_MODEL_IO];
  size_t out_off[MAX_MODEL_IO], out_size[MAX_MODEL_IO];
  int out_rows[MAX_MODEL_IO], out_cols[MAX_MODEL_IO];
  int loss_kind[MAX_MODEL_IO], loss_logits[MAX_MODEL_IO];
  rnnc_loss_config loss_cfg[MAX_MODEL_IO]; /* each loss's parameters (label_smoothing, delta) */
  double loss_weight[MAX_MODEL_IO];
  size_t target_off[MAX_MODEL_IO], target_part[MAX_MODEL_IO];
  size_t output_size;
  size_t target_size;
  /* the weight regularizers ('regularize' lines): l1 sum |w| + l2 sum w^2 of
   * params[reg_off, reg_off + reg_size) added to the loss */
  int n_reg;
  size_t *reg_off, *reg_size;
  double *reg_l1, *reg_l2;
  /* the noise layers' key in training (rnnc_ref_set_noise; 0 0 0 at first) */
  uint64_t noise_seed;
  long noise_step, noise_first;
};

/* ------------------------------------------------------------------ errors */

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------------ parsing */

/* A decimal integer made only of digits, in [lo, hi]. Returns 0 on success. */
static int parse_int(const char *s, int lo, int hi, int *out) {
  long v = 0;
  size_t i, len = strlen(s);
  if (len == 0 || len > 9)
    return -1;
  for (i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi)
    return -1;
  *out = (int)v;
  return 0;
}

static int parse_activation(const char *s) {
#define ACT(NAME, name, elementwise)                                                               \
  if (strcmp(s, name) == 0)                                                                        \
    return ACT_##NAME;
  RNNC_ACTIVATIONS(ACT)
#undef ACT
  return -1;
}

/* " mse sparse_categorical_crossentropy ...", for messages */
#define LOSS_NAME(id, NAME, token, name, ...) " " name
static const char LOSS_NAMES[] = "" RNNC_LOSSES(LOSS_NAME);
#undef LOSS_NAME

/* The output activation Keras computes a loss from the logits of, or -1. */
static int fused_activation(rnnc_loss_kind loss) {
  switch (loss) {
#define LOSS(id, NAME, token, name, aliases, labels, fused, logits)                                \
  case RNNC_LOSS_##NAME:                                                                           \
    return parse_activation(fused);
    RNNC_LOSSES(LOSS)
#undef LOSS
  default:
    return -1;
  }
}

static int parse_merge_mode(const char *s) {
  if (strcmp(s, "concat") == 0)
    return MERGE_CONCAT;
  if (strcmp(s, "sum") == 0)
    return MERGE_SUM;
  if (strcmp(s, "mul") == 0)
    return MERGE_MUL;
  if (strcmp(s, "ave") == 0)
    return MERGE_AVE;
  if (strcmp(s, "none") == 0)
    return MERGE_NONE;
  return -1;
}

#define MAX_TOKENS 20
#define MAX_KEYS 16

/* The layer classes and their keys, in the order of the spec format; the last
 * n_optional keys may be absent (key_value then gives NULL). */
typedef struct {
  const char *name;
  int kind;
  int n_keys;
  int n_optional;
  const char *keys[MAX_KEYS];
} layer_class;

static const layer_class classes[] = {
    {"Dense", LAYER_DENSE, 4, 1, {"units", "activation", "use_bias", "logits"}},
    {"SimpleRNN",
     LAYER_SIMPLE_RNN,
     13,
     7,
     {"units", "activation", "use_bias", "return_sequences", "return_state", "go_backwards",
      "initial_state", "zero_output_for_mask", "dropout", "recurrent_dropout", "per_gate", "seed",
      "salts"}},
    {"LSTM",
     LAYER_LSTM,
     14,
     7,
     {"units", "activation", "recurrent_activation", "use_bias", "return_sequences", "return_state",
      "go_backwards", "initial_state", "zero_output_for_mask", "dropout", "recurrent_dropout",
      "per_gate", "seed", "salts"}},
    {"GRU",
     LAYER_GRU,
     15,
     7,
     {"units", "activation", "recurrent_activation", "use_bias", "reset_after", "return_sequences",
      "return_state", "go_backwards", "initial_state", "zero_output_for_mask", "dropout",
      "recurrent_dropout", "per_gate", "seed", "salts"}},
    {"Masking", LAYER_MASKING, 1, 0, {"mask_value"}},
    {"Bidirectional", LAYER_BIDIRECTIONAL, 1, 0, {"merge_mode"}},
    {"Add", LAYER_MIX, 0, 0, {""}},
    {"Subtract", LAYER_MIX, 0, 0, {""}},
    {"Multiply", LAYER_MIX, 0, 0, {""}},
    {"Average", LAYER_MIX, 0, 0, {""}},
    {"Maximum", LAYER_MIX, 0, 0, {""}},
    {"Minimum", LAYER_MIX, 0, 0, {""}},
    {"Concatenate", LAYER_MIX, 1, 0, {"axis"}},
    {"Dot", LAYER_MIX, 2, 0, {"axes", "normalize"}},
    {"Attention",
     LAYER_MIX,
     7,
     3,
     {"use_scale", "score_mode", "causal", "scores", "dropout", "salt", "seed"}},
    {"AdditiveAttention",
     LAYER_MIX,
     6,
     3,
     {"use_scale", "causal", "scores", "dropout", "salt", "seed"}},
    {"MultiHeadAttention",
     LAYER_MIX,
     10,
     3,
     {"num_heads", "key_dim", "value_dim", "output_dim", "use_bias", "causal", "scores", "dropout",
      "salt", "seed"}},
    {"Conv1D",
     LAYER_CONV1D,
     8,
     0,
     {"filters", "groups", "kernel_size", "strides", "padding", "dilation_rate", "activation",
      "use_bias"}},
    {"SeparableConv1D",
     LAYER_SEPARABLE_CONV1D,
     8,
     0,
     {"filters", "depth_multiplier", "kernel_size", "strides", "padding", "dilation_rate",
      "activation", "use_bias"}},
    {"DepthwiseConv1D",
     LAYER_DEPTHWISE_CONV1D,
     7,
     0,
     {"depth_multiplier", "kernel_size", "strides", "padding", "dilation_rate", "activation",
      "use_bias"}},
    {"MaxPooling1D", LAYER_MAX_POOLING1D, 3, 0, {"pool_size", "strides", "padding"}},
    {"AveragePooling1D", LAYER_AVERAGE_POOLING1D, 3, 0, {"pool_size", "strides", "padding"}},
    {"GlobalMaxPooling1D", LAYER_GLOBAL_MAX_POOLING1D, 1, 1, {"keepdims"}},
    {"GlobalAveragePooling1D", LAYER_GLOBAL_AVERAGE_POOLING1D, 1, 1, {"keepdims"}},
    {"ZeroPadding1D", LAYER_ZERO_PADDING1D, 2, 0, {"before", "after"}},
    {"Cropping1D", LAYER_CROPPING1D, 2, 0, {"before", "after"}},
    {"UpSampling1D", LAYER_UP_SAMPLING1D, 1, 0, {"size"}},
    {"Flatten", LAYER_FLATTEN, 0, 0, {""}},
    {"Reshape", LAYER_RESHAPE, 1, 0, {"target"}},
    {"Permute", LAYER_PERMUTE, 1, 0, {"swap"}},
    {"RepeatVector", LAYER_REPEAT_VECTOR, 1, 0, {"n"}},
    {"LayerNormalization",
     LAYER_LAYER_NORMALIZATION,
     4,
     0,
     {"epsilon", "center", "scale", "rms_scaling"}},
    {"BatchNormalization",
     LAYER_BATCH_NORMALIZATION,
     4,
     0,
     {"momentum", "epsilon", "center", "scale"}},
    {"Activation", LAYER_ACTIVATION, 1, 0, {"activation"}},
    {"ReLU", LAYER_RELU, 3, 0, {"max_value", "negative_slope", "threshold"}},
    {"LeakyReLU", LAYER_LEAKY_RELU, 1, 0, {"negative_slope"}},
    {"ELU", LAYER_ELU, 1, 0, {"alpha"}},
    {"PReLU", LAYER_PRELU, 1, 0, {"alpha_shape"}},
    {"Embedding", LAYER_EMBEDDING, 3, 1, {"input_dim", "output_dim", "mask_zero"}},
    {"Dropout",
     LAYER_DROPOUT,
     6,
     0,
     {"rate", "salt", "seed", "per_sample", "per_step", "per_feature"}},
    {"GaussianNoise", LAYER_GAUSSIAN_NOISE, 3, 0, {"stddev", "salt", "seed"}},
    {"GaussianDropout", LAYER_GAUSSIAN_DROPOUT, 3, 0, {"rate", "salt", "seed"}},
};
/* The op of each LAYER_MIX class, by name: names[i] is op i + 1 (ref_mix.h). */
static int mix_op(const char *class_name) {
  static const char *const names[] = {
      "Add",         "Subtract", "Multiply",  "Average",           "Maximum",           "Minimum",
      "Concatenate", "Dot",      "Attention", "AdditiveAttention", "MultiHeadAttention"};
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(class_name, names[i]) == 0)
      return MIX_ADD + (int)i;
  return 0;
}
#define N_CLASSES (int)(sizeof classes / sizeof classes[0])

/* The fields of one "layer" line. */
typedef struct {
  const layer_class *cls;
  const char *name;
  const char *value[MAX_KEYS]; /* in cls->keys order */
  int line;
  const char *in, *state, *share; /* the graph keys any class takes (NULL: absent) */
  const char *trainable;          /* trainable=0|1, any class (NULL: absent, 1) */
} layer_line;

/* The value of key k of a parsed line (k is one of the class's keys); NULL
 * for an absent optional key. */
static const char *key_value(const layer_line *ll, const char *key) {
  int k;
  for (k = 0; k < ll->cls->n_keys; k++)
    if (strcmp(ll->cls->keys[k], key) == 0)
      return ll->value[k];
  return NULL; /* not reached: callers ask only for the class's keys */
}

/* Splits the tokens after "layer" into class, name and key=value pairs, every
 * key of the class present exactly once (its optional keys at most once).
 * Returns 0, or -1 with a message. */
static int parse_layer_line(layer_line *ll, char **tok, int ntok, int line, char *err,
                            size_t errlen) {
  int i, k, c;
  memset(ll, 0, sizeof(*ll));
  ll->line = line;
  if (ntok < 1) {
    set_err(err, errlen, "line %d: 'layer' needs a class and a name", line);
    return -1;
  }
  for (c = 0; c < N_CLASSES; c++)
    if (strcmp(tok[0], classes[c].name) == 0)
      break;
  if (c == N_CLASSES) {
    set_err(err, errlen,
            "line %d: unknown layer class '%s' (known: Dense SimpleRNN LSTM GRU Bidirectional "
            "Conv1D SeparableConv1D DepthwiseConv1D MaxPooling1D AveragePooling1D "
            "GlobalMaxPooling1D GlobalAveragePooling1D ZeroPadding1D Cropping1D UpSampling1D "
            "Flatten Reshape Permute RepeatVector LayerNormalization BatchNormalization "
            "Activation ReLU LeakyReLU ELU PReLU Embedding Dropout GaussianNoise GaussianDropout "
            "Add Subtract Multiply Average Maximum Minimum "
            "Concatenate Dot Attention AdditiveAttention MultiHeadAttention Masking)",
            line, tok[0]);
    return -1;
  }
  ll->cls = &classes[c];
  if (ntok < 2 || strchr(tok[1], '=') != NULL) {
    set_err(err, errlen, "line %d: %s layer without a name", line, tok[0]);
    return -1;
  }
  ll->name = tok[1];
  for (i = 2; i < ntok; i++) {
    char *eq = strchr(tok[i], '=');
    if (eq == NULL) {
      set_err(err, errlen, "line %d: layer '%s': expected key=value, got '%s'", line, ll->name,
              tok[i]);
      return -1;
    }
    *eq = '\0';
    if (strcmp(tok[i], "in") == 0 || strcmp(tok[i], "state") == 0 || strcmp(tok[i], "share") == 0 ||
        strcmp(tok[i], "trainable") == 0) {
      const char **slot = tok[i][0] == 'i'   ? &ll->in
                          : tok[i][0] == 't' ? &ll->trainable
                          : tok[i][1] == 't' ? &ll->state
                                             : &ll->share;
      if (*slot != NULL) {
        set_err(err, errlen, "line %d: layer '%s': duplicate key '%s'", line, ll->name, tok[i]);
        return -1;
      }
      *slot = eq + 1;
      continue;
    }
    for (k = 0; k < ll->cls->n_keys; k++)
      if (strcmp(tok[i], ll->cls->keys[k]) == 0)
        break;
    if (k == ll->cls->n_keys) {
      set_err(err, errlen, "line %d: layer '%s': unknown key '%s' for %s", line, ll->name, tok[i],
              ll->cls->name);
      return -1;
    }
    if (ll->value[k] != NULL) {
      set_err(err, errlen, "line %d: layer '%s': duplicate key '%s'", line, ll->name, tok[i]);
      return -1;
    }
    ll->value[k] = eq + 1;
  }
  for (k = 0; k < ll->cls->n_keys - ll->cls->n_optional; k++) {
    if (ll->value[k] == NULL) {
      set_err(err, errlen, "line %d: layer '%s': missing key '%s'", line, ll->name,
              ll->cls->keys[k]);
      return -1;
    }
  }
  return 0;
}

static int get_units(const layer_line *ll, int *out, char *err, size_t errlen) {
  const char *v = key_value(ll, "units");
  if (parse_int(v, 1, MAX_DIM, out) != 0) {
    set_err(err, errlen, "line %d: layer '%s': bad number '%s' for units (want 1..%d)", ll->line,
            ll->name, v, MAX_DIM);
    return -1;
  }
  return 0;
}

static int get_bool(const layer_line *ll, const char *key, int *out, char *err, size_t errlen) {
  const char *v = key_value(ll, key);
  if (strcmp(v, "0") == 0) {
    *out = 0;
  } else if (strcmp(v, "1") == 0) {
    *out = 1;
  } else {
    set_err(err, errlen, "line %d: layer '%s': bad boolean '%s' for %s (want 0 or 1)", ll->line,
            ll->name, v, key);
    return -1;
  }
  return 0;
}

/* An optional boolean key: 0 when absent. */
static int get_optional_bool(const layer_line *ll, const char *key, int *out, char *err,
                             size_t errlen) {
  if (key_value(ll, key) == NULL) {
    *out = 0;
    return 0;
  }
  return get_bool(ll, key, out, err, errlen);
}

/* " linear relu ...", for messages */
#define ACT_NAME(NAME, name, elementwise) " " name
static const char ACT_NAMES[] = "" RNNC_ACTIVATIONS(ACT_NAME);
#undef ACT_NAME

static int get_activation(const layer_line *ll, const char *key, int *out, char *err,
                          size_t errlen) {
  const char *v = key_value(ll, key);
  *out = parse_activation(v);
  if (*out < 0) {
    set_err(err, errlen, "line %d: layer '%s': unknown %s '%s' (known:%s)", ll->line, ll->name, key,
            v, ACT_NAMES);
    return -1;
  }
  return 0;
}

static int build_front(layer *L, const layer_line *ll, int in_rank, const int *in_shape, char *err,
                       size_t errlen);
static void assign_front_offsets(layer *L, size_t *offset);

/* A finite real number. Returns 0 on success. */
static int parse_real(const char *s, double *out) {
  char *end = NULL;
  double v;
  if (s == NULL || *s == '\0')
    return -1;
  v = strtod(s, &end);
  if (end == NULL || *end != '\0' || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

static int get_real(const layer_line *ll, const char *key, double *out, char *err, size_t errlen) {
  const char *v = key_value(ll, key);
  if (parse_real(v, out) != 0) {
    set_err(err, errlen, "line %d: layer '%s': bad number '%s' for %s", ll->line, ll->name, v, key);
    return -1;
  }
  return 0;
}

static int is_elementwise(int kind) {
  return kind >= LAYER_ACTIVATION && kind <= LAYER_GAUSSIAN_DROPOUT;
}

static int is_noise(int kind) {
  return kind >= LAYER_DROPOUT && kind <= LAYER_GAUSSIAN_DROPOUT;
}

/* The salt (an unsigned integer) and seed (none or one) of a layer's noise
 * masks. */
static int noise_keys(layer *L, const layer_line *ll, const char *salt, const char *seed, char *err,
                      size_t errlen) {
  char *end;
  L->salt = strtoull(salt, &end, 10);
  if (*salt == '\0' || *salt == '-' || *end != '\0') {
    set_err(err, errlen, "line %d: layer '%s': bad salt '%s'", ll->line, ll->name, salt);
    return -1;
  }
  L->has_seed = strcmp(seed, "none") != 0;
  if (L->has_seed) {
    L->seed = strtoull(seed, &end, 10);
    if (*seed == '\0' || *seed == '-' || *end != '\0') {
      set_err(err, errlen, "line %d: layer '%s': bad seed '%s'", ll->line, ll->name, seed);
      return -1;
    }
  }
  return 0;
}

/* A noise layer's keys: its rate (or stddev), salt, seed (none or an
 * unsigned integer) and Dropout's axes. */
static int build_noise(layer *L, const layer_line *ll, char *err, size_t errlen) {
  const char *seed = key_value(ll, "seed"), *salt = key_value(ll, "salt");
  L->noise_kind = L->kind == LAYER_DROPOUT          ? RNNC_NOISE_DROPOUT
                  : L->kind == LAYER_GAUSSIAN_NOISE ? RNNC_NOISE_GAUSSIAN
                                                    : RNNC_NOISE_GAUSSIAN_DROPOUT;
  if (get_real(ll, L->kind == LAYER_GAUSSIAN_NOISE ? "stddev" : "rate", &L->noise_p, err, errlen) !=
      0)
    return -1;
  if (L->kind == LAYER_GAUSSIAN_NOISE ? !(L->noise_p >= 0.0 && L->noise_p < 1e300)
                                      : !(L->noise_p >= 0.0 && L->noise_p < 1.0)) {
    set_err(err, errlen, "line %d: layer '%s': %s %g out of range", ll->line, ll->name,
            L->kind == LAYER_GAUSSIAN_NOISE ? "stddev" : "rate", L->noise_p);
    return -1;
  }
  if (noise_keys(L, ll, salt, seed, err, errlen) != 0)
    return -1;
  L->per_sample = L->per_step = L->per_feature = 1;
  if (L->kind == LAYER_DROPOUT && (get_bool(ll, "per_sample", &L->per_sample, err, errlen) != 0 ||
                                   get_bool(ll, "per_step", &L->per_step, err, errlen) != 0 ||
                                   get_bool(ll, "per_feature", &L->per_feature, err, errlen) != 0))
    return -1;
  L->mask_rows = L->per_step ? L->rows : 1;
  L->mask_cols = L->per_feature ? L->in_features : 1;
  L->work_size = (size_t)L->mask_rows * (size_t)L->mask_cols;
  return 0;
}

/* Fills an elementwise layer (output shape = input shape) from its line. */
static int build_elementwise(layer *L, const layer_line *ll, int in_rank, const int *in_shape,
                             char *err, size_t errlen) {
  const char *v;
  L->in_features = in_shape[in_rank - 1];
  L->rows = in_rank == 2 ? in_shape[0] : 1;
  L->out_rank = in_rank;
  L->out_shape[0] = in_shape[0];
  L->out_shape[1] = in_shape[1];
  L->out_cols = (size_t)L->in_features;
  L->in_size = L->out_size = (size_t)L->rows * (size_t)L->in_features;
  L->n_outputs = 1;
  L->out_part[0] = L->out_size;
  L->work_size = 0;
  L->scratch_size = 1;
  switch (L->kind) {
  case LAYER_ACTIVATION:
    return get_activation(ll, "activation", &L->act, err, errlen);
  case LAYER_RELU:
    v = key_value(ll, "max_value");
    L->has_max = strcmp(v, "none") != 0;
    if ((L->has_max && get_real(ll, "max_value", &L->max_value, err, errlen) != 0) ||
        get_real(ll, "negative_slope", &L->slope, err, errlen) != 0 ||
        get_real(ll, "threshold", &L->threshold, err, errlen) != 0)
      return -1;
    return 0;
  case LAYER_LEAKY_RELU:
    return get_real(ll, "negative_slope", &L->slope, err, errlen);
  case LAYER_ELU:
    return get_real(ll, "alpha", &L->alpha, err, errlen);
  case LAYER_DROPOUT:
  case LAYER_GAUSSIAN_NOISE:
  case LAYER_GAUSSIAN_DROPOUT:
    return build_noise(L, ll, err, errlen);
  default: { /* PReLU: alpha_shape=C or 1 (a vector input) or RxC */
    const char *shape = key_value(ll, "alpha_shape");
    char buf[32];
    const char *x = strchr(shape, 'x');
    int ok;
    if (x == NULL) {
      L->a_rows = 1;
      /* a vector input: a slope per feature, or one for all (shared_axes={1}) */
      ok = parse_int(shape, 1, MAX_DIM, &L->a_cols) == 0 && in_rank == 1 &&
           (L->a_cols == 1 || L->a_cols == L->in_features);
    } else {
      size_t len = (size_t)(x - shape);
      ok = len < sizeof buf;
      if (ok) {
        memcpy(buf, shape, len);
        buf[len] = '\0';
        ok = parse_int(buf, 1, MAX_DIM, &L->a_rows) == 0 &&
             parse_int(x + 1, 1, MAX_DIM, &L->a_cols) == 0 && in_rank == 2 &&
             (L->a_rows == 1 || L->a_rows == L->rows) &&
             (L->a_cols == 1 || L->a_cols == L->in_features);
      }
    }
    if (!ok) {
      set_err(err, errlen, "line %d: layer '%s': alpha_shape '%s' does not fit the input", ll->line,
              ll->name, shape);
      return -1;
    }
    L->n_params = (size_t)L->a_rows * (size_t)L->a_cols;
    return 0;
  }
  }
}

/* Fills a Masking layer: a (T, F) input, the same shape out; its work is
 * the mask of the T steps. */
static int build_masking(layer *L, const layer_line *ll, int in_rank, const int *in_shape,
                         char *err, size_t errlen) {
  if (in_rank != 2) {
    set_err(err, errlen, "line %d: layer '%s': Masking needs a (timesteps, features) input",
            ll->line, ll->name);
    return -1;
  }
  if (get_real(ll, "mask_value", &L->mask_value, err, errlen) != 0)
    return -1;
  L->rows = in_shape[0];
  L->in_features = in_shape[1];
  L->out_rank = 2;
  L->out_shape[0] = in_shape[0];
  L->out_shape[1] = in_shape[1];
  L->out_cols = (size_t)in_shape[1];
  L->in_size = L->out_size = (size_t)L->rows * (size_t)L->in_features;
  L->n_outputs = 1;
  L->out_part[0] = L->out_size;
  L->work_size = (size_t)L->rows;
  L->scratch_size = 1;
  return 0;
}

/* Fills a Dense layer from its line, given the shape of its input. */
static int build_dense(layer *L, const layer_line *ll, int in_rank, const int *in_shape, char *err,
                       size_t errlen) {
  double in_size, out_size, n_params;
  int no_logits = 0;
  if (get_units(ll, &L->units, err, errlen) != 0 ||
      get_activation(ll, "activation", &L->act, err, errlen) != 0 ||
      get_bool(ll, "use_bias", &L->use_bias, err, errlen) != 0)
    return -1;
  if (key_value(ll, "logits") != NULL) {
    if (get_bool(ll, "logits", &no_logits, err, errlen) != 0)
      return -1;
    no_logits = !no_logits;
  }
  L->keeps_logits = !no_logits;
  L->in_features = in_shape[in_rank - 1];
  L->rows = in_rank == 2 ? in_shape[0] : 1;
  L->out_rank = in_rank;
  L->out_shape[0] = in_shape[0];
  L->out_shape[in_rank - 1] = L->units;
  L->out_cols = (size_t)L->units;
  in_size = (double)L->rows * L->in_features;
  out_size = (double)L->rows * L->units;
  n_params = (double)L->in_features * L->units + (L->use_bias ? L->units : 0);
  if (in_size > MAX_SIZE || out_size > MAX_SIZE || n_params > MAX_SIZE) {
    set_err(err, errlen, "line %d: layer '%s': too large", ll->line, ll->name);
    return -1;
  }
  L->in_size = (size_t)L->rows * (size_t)L->in_features;
  L->out_size = (size_t)L->rows * (size_t)L->units;
  L->n_outputs = 1;
  L->out_part[0] = L->out_size;
  L->work_size = L->out_size; /* z */
  L->scratch_size = (size_t)L->units;
  L->n_params = (size_t)n_params;
  return 0;
}

/* Fills direction R and the layer's recurrent options from a SimpleRNN, LSTM
 * or GRU line, given the shape of its input. */
/* An unsigned integer, all of s. */
static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  *out = strtoull(s, &end, 10);
  return *end == '\0' ? 0 : -1;
}

/* A recurrent line's dropout keys (absent: none): dropout, recurrent_dropout
 * (rates in [0, 1)), per_gate (1: a mask per gate), seed (none or an
 * integer) and salts (input, recurrent; then the backward copy's two for a
 * Bidirectional's line). Direction d takes salts 2d and 2d + 1. */
static int parse_rnn_dropout(rnn *R, const layer_line *ll, int d, char *err, size_t errlen) {
  const char *salts = key_value(ll, "salts"), *seed = key_value(ll, "seed");
  int per_gate = 0, k;
  R->dropout = R->recurrent_dropout = 0.0;
  R->in_masks = R->rec_masks = R->has_seed = 0;
  if ((key_value(ll, "dropout") != NULL &&
       get_real(ll, "dropout", &R->dropout, err, errlen) != 0) ||
      (key_value(ll, "recurrent_dropout") != NULL &&
       get_real(ll, "recurrent_dropout", &R->recurrent_dropout, err, errlen) != 0) ||
      get_optional_bool(ll, "per_gate", &per_gate, err, errlen) != 0)
    return -1;
  if (!(R->dropout >= 0.0 && R->dropout < 1.0) ||
      !(R->recurrent_dropout >= 0.0 && R->recurrent_dropout < 1.0)) {
    set_err(err, errlen, "line %d: layer '%s': a dropout rate outside [0, 1)", ll->line, ll->name);
    return -1;
  }
  if (R->dropout > 0.0)
    R->in_masks = per_gate ? R->gates : 1;
  if (R->recurrent_dropout > 0.0)
    R->rec_masks = per_gate ? R->gates : 1;
  if (R->in_masks + R->rec_masks > 0) {
    const char *p = salts;
    uint64_t v[4];
    char buf[32];
    for (k = 0; k < 4 && p != NULL; k++) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      if (len >= sizeof buf)
        break;
      memcpy(buf, p, len);
      buf[len] = '\0';
      if (parse_u64(buf, &v[k]) != 0)
        break;
      p = comma ? comma + 1 : NULL;
    }
    if (salts == NULL || p != NULL || k < 2 * d + 2) {
      set_err(err, errlen,
              "line %d: layer '%s': dropout needs salts=IN,REC (a Bidirectional's "
              "line: four)",
              ll->line, ll->name);
      return -1;
    }
    R->salt_in = v[2 * d];
    R->salt_rec = v[2 * d + 1];
    if (seed != NULL && strcmp(seed, "none") != 0) {
      if (parse_u64(seed, &R->seed) != 0) {
        set_err(err, errlen, "line %d: layer '%s': bad seed '%s'", ll->line, ll->name, seed);
        return -1;
      }
      R->has_seed = 1;
    }
  }
  R->mask_size = (size_t)R->in_masks * (size_t)R->in + (size_t)R->rec_masks * (size_t)R->units;
  return 0;
}

static int build_rnn(layer *L, rnn *R, const layer_line *ll, int in_rank, const int *in_shape,
                     char *err, size_t errlen) {
  double n_params, work, out;
  R->cell = ll->cls->kind;
  if (get_units(ll, &R->units, err, errlen) != 0 ||
      get_activation(ll, "activation", &R->act, err, errlen) != 0 ||
      get_bool(ll, "use_bias", &R->use_bias, err, errlen) != 0 ||
      get_bool(ll, "return_sequences", &L->return_sequences, err, errlen) != 0 ||
      get_bool(ll, "return_state", &L->return_state, err, errlen) != 0 ||
      get_bool(ll, "go_backwards", &R->go_backwards, err, errlen) != 0 ||
      get_optional_bool(ll, "initial_state", &L->legacy_state, err, errlen) != 0 ||
      get_optional_bool(ll, "zero_output_for_mask", &L->zero_output, err, errlen) != 0)
    return -1;
  L->n_states = R->cell == LAYER_LSTM ? 2 : 1;
  R->rec_act = ACT_LINEAR; /* unused by SimpleRNN */
  if (R->cell != LAYER_SIMPLE_RNN &&
      get_activation(ll, "recurrent_activation", &R->rec_act, err, errlen) != 0)
    return -1;
  R->reset_after = 0;
  if (R->cell == LAYER_GRU && get_bool(ll, "reset_after", &R->reset_after, err, errlen) != 0)
    return -1;
  if (in_rank != 2) {
    set_err(err, errlen,
            "line %d: layer '%s': %s needs a rank-2 (timesteps, features) input, got rank %d",
            ll->line, ll->name, ll->cls->name, in_rank);
    return -1;
  }
  R->T = in_shape[0];
  R->in = in_shape[1];
  if (R->cell == LAYER_SIMPLE_RNN) {
    R->gates = 1;
    R->record = 2 * (size_t)R->units;
  } else if (R->cell == LAYER_LSTM) {
    R->gates = 4;
    R->record = 11 * (size_t)R->units;
  } else {
    R->gates = 3;
    R->record = 14 * (size_t)R->units;
  }
  if (parse_rnn_dropout(R, ll, 0, err, errlen) != 0)
    return -1;
  n_params = (double)R->gates * R->units * ((double)R->in + R->units) +
             (R->use_bias ? (R->reset_after ? 2.0 : 1.0) * R->gates * R->units : 0.0);
  work = 2.0 * ((double)R->T + 1) * 14.0 * R->units;
  out = 2.0 * (double)R->T * R->units;
  if (n_params > MAX_SIZE || work > MAX_SIZE || out > MAX_SIZE || (double)R->T * R->in > MAX_SIZE) {
    set_err(err, errlen, "line %d: layer '%s': too large", ll->line, ll->name);
    return -1;
  }
  return 0;
}

/* Parameters of one direction. */
static size_t rnn_n_params(const rnn *R) {
  size_t G = (size_t)R->gates, U = (size_t)R->units;
  size_t n = (size_t)R->in * G * U + U * G * U;
  if (R->use_bias)
    n += (R->reset_after ? 2 : 1) * G * U;
  return n;
}

/* Sizes and outputs of a recurrent layer whose directions are filled. */
static void finish_recurrent(layer *L) {
  size_t T = (size_t)L->dir[0].T, U = (size_t)L->dir[0].units;
  size_t steps = L->return_sequences ? T : 1, off = 0;
  int d, k = 0;
  L->in_size = T * (size_t)L->dir[0].in;
  L->out_cols = L->n_dirs == 2 && L->merge_mode == MERGE_CONCAT ? 2 * U : U;
  if (L->n_dirs == 2 && L->merge_mode == MERGE_NONE) {
    L->out_part[k++] = steps * U;
    L->out_part[k++] = steps * U;
  } else {
    L->out_part[k++] = steps * L->out_cols;
  }
  if (L->return_state) {
    for (d = 0; d < L->n_dirs; d++) {
      L->out_part[k++] = U; /* h */
      if (L->dir[d].cell == LAYER_LSTM)
        L->out_part[k++] = U; /* c */
    }
  }
  L->n_outputs = k;
  for (k = 0; k < L->n_outputs; k++) {
    L->out_off[k] = off;
    off += L->out_part[k];
  }
  L->out_size = off;
  if (L->return_sequences) {
    L->out_rank = 2;
    L->out_shape[0] = L->dir[0].T;
    L->out_shape[1] = (int)L->out_cols;
  } else {
    L->out_rank = 1;
    L->out_shape[0] = (int)L->out_cols;
  }
  /* record 0 of each direction is the initial state (zero, or copied from the
   * input with initial_state=1), records 1..T its steps */
  L->work_size = (size_t)L->n_dirs * ((T + 1) * L->dir[0].record + L->dir[0].mask_size);
  /* per direction: d(loss)/dh of every step and d(loss)/dc_T; then 16 U for one step */
  L->scratch_size = (size_t)L->n_dirs * (T * U + U) + 16 * U;
  L->n_params = 0;
  for (d = 0; d < L->n_dirs; d++)
    L->n_params += rnn_n_params(&L->dir[d]);
}

/* Gives the layer's tensors their places in the parameter vector. */
static void assign_offsets(layer *L, size_t *offset) {
  int d;
  if (IS_FRONT(L->kind)) {
    assign_front_offsets(L, offset);
    return;
  }
  if (L->kind == LAYER_PRELU) {
    L->alpha_off = *offset;
    *offset += L->n_params;
    return;
  }
  if (is_elementwise(L->kind) || L->kind == LAYER_MASKING)
    return;
  if (L->kind == LAYER_DENSE) {
    L->kernel_off = *offset;
    *offset += (size_t)L->in_features * (size_t)L->units;
    if (L->use_bias) {
      L->bias_off = *offset;
      *offset += (size_t)L->units;
    }
    return;
  }
  for (d = 0; d < L->n_dirs; d++) { /* forward copy, then backward copy */
    rnn *R = &L->dir[d];
    size_t GU = (size_t)R->gates * (size_t)R->units;
    R->kernel_off = *offset;
    *offset += (size_t)R->in * GU;
    R->recurrent_off = *offset;
    *offset += (size_t)R->units * GU;
    if (R->use_bias) {
      R->bias_off = *offset;
      *offset += (R->reset_after ? 2 : 1) * GU;
    }
  }
}

/* Splits a line in place into whitespace-separated tokens; -1 when too many. */
static int tokenize(char *s, char **tok) {
  int n = 0;
  char *p = s;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r')
      p++;
    if (*p == '\0')
      return n;
    if (n == MAX_TOKENS)
      return -1;
    tok[n++] = p;
    while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r')
      p++;
    if (*p != '\0')
      *p++ = '\0';
  }
}

/* A tensor reference of the spec: "x<i>" (model input i) or "n<j>.<k>"
 * (output k of node j), naming something already defined. */
static int parse_ref(const rnnc_ref *m, const char *text, tref *r) {
  char buf[32];
  const char *dot;
  int a, b;
  if (strlen(text) >= sizeof buf)
    return -1;
  if (text[0] == 'x') {
    if (parse_int(text + 1, 0, MAX_MODEL_IO - 1, &a) != 0 || a >= m->n_inputs)
      return -1;
    r->node = -1;
    r->index = a;
    return 0;
  }
  dot = strchr(text, '.');
  if (text[0] != 'n' || dot == NULL)
    return -1;
  memcpy(buf, text + 1, (size_t)(dot - text - 1));
  buf[dot - text - 1] = '\0';
  if (parse_int(buf, 0, MAX_DIM, &a) != 0 || parse_int(dot + 1, 0, MAX_OUTPUTS - 1, &b) != 0 ||
      a >= m->n_layers || b >= m->layers[a].n_outputs)
    return -1;
  r->node = a;
  r->index = b;
  return 0;
}

/* A comma-separated list of references; count in *n. */
static int parse_refs(const rnnc_ref *m, const char *text, tref *out, int max, int *n, int line,
                      const char *name, char *err, size_t errlen) {
  char item[32];
  const char *p = text;
  *n = 0;
  while (*p) {
    size_t len = strcspn(p, ",");
    if (len == 0 || len >= sizeof item || *n == max) {
      set_err(err, errlen, "line %d: layer '%s': bad list of tensors '%s'", line, name, text);
      return -1;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    if (parse_ref(m, item, &out[*n]) != 0) {
      set_err(err, errlen,
              "line %d: layer '%s': '%s' names no tensor defined before (x<input> or "
              "n<node>.<output>)",
              line, name, item);
      return -1;
    }
    ++*n;
    p += len;
    if (*p == ',')
      p++;
  }
  if (*n == 0) {
    set_err(err, errlen, "line %d: layer '%s': an empty list of tensors", line, name);
    return -1;
  }
  return 0;
}

/* The per-sample shape of a tensor: rank, rows, cols (rank 1: rows 1). */
static void ref_shape(const rnnc_ref *m, tref r, int *rank, int *rows, int *cols) {
  if (r.node < 0) {
    *rank = m->in_rank[r.index];
    *rows = m->in_rows[r.index];
    *cols = m->in_cols[r.index];
    return;
  }
  *rows = m->layers[r.node].part_rows[r.index];
  *cols = m->layers[r.node].part_cols[r.index];
  *rank = r.index == 0 ? m->layers[r.node].out_rank : (*rows > 1 ? 2 : 1);
}

/* Each output's shape and offset, from the sizes the builders set. */
static void finish_outputs(layer *L) {
  int k;
  size_t off = 0;
  for (k = 0; k < L->n_outputs; k++) {
    if (k == 0) {
      L->part_rows[0] = L->out_rank == 2 ? L->out_shape[0] : 1;
      L->part_cols[0] = L->out_rank == 2 ? L->out_shape[1] : L->out_shape[0];
    } else if (L->kind != LAYER_MIX) {
      /* Bidirectional merge_mode=none's second output is the first's shape;
       * states are vectors */
      int second = k == 1 && L->kind == LAYER_BIDIRECTIONAL && L->merge_mode == MERGE_NONE;
      L->part_rows[k] = second ? L->part_rows[0] : 1;
      L->part_cols[k] = second ? L->part_cols[0] : (int)L->out_part[k];
    }
    L->out_off[k] = off;
    off += L->out_part[k];
  }
  L->out_size = off;
}

/* A node of several inputs: ref_mix.c's layer, from its line. */
static int build_mix(layer *L, const layer_line *ll, const rnnc_ref *m, char *err, size_t errlen) {
  mixer *X = &L->mx;
  int i, rank = 0, n_out = 1, ranks[MIX_MAX_INPUTS] = {0};
  char msg[160];
  memset(X, 0, sizeof *X);
  X->op = mix_op(ll->cls->name);
  X->n_in = L->n_in;
  for (i = 0; i < L->n_in; i++)
    ref_shape(m, L->in[i], &ranks[i], &X->rows[i], &X->cols[i]);
  rank = ranks[0];
  L->out_rank = rank; /* the first input's, unless set below */
  if (X->op == MIX_CONCATENATE) {
    const char *axis = key_value(ll, "axis");
    if (strcmp(axis, "rows") != 0 && strcmp(axis, "cols") != 0) {
      set_err(err, errlen, "line %d: layer '%s': axis must be rows or cols, got '%s'", ll->line,
              ll->name, axis);
      return -1;
    }
    X->concat_rows = axis[0] == 'r';
  } else if (X->op == MIX_DOT) {
    const char *axes = key_value(ll, "axes");
    if (strlen(axes) != 9 || axes[4] != ',' ||
        (strncmp(axes, "rows", 4) != 0 && strncmp(axes, "cols", 4) != 0) ||
        (strcmp(axes + 5, "rows") != 0 && strcmp(axes + 5, "cols") != 0)) {
      set_err(err, errlen, "line %d: layer '%s': axes must be two of rows, cols (as 'cols,rows')",
              ll->line, ll->name);
      return -1;
    }
    X->dot_rows[0] = axes[0] == 'r';
    X->dot_rows[1] = axes[5] == 'r';
    if (get_bool(ll, "normalize", &X->normalize, err, errlen) != 0)
      return -1;
  } else if (X->op == MIX_ATTENTION || X->op == MIX_ADDITIVE_ATTENTION ||
             X->op == MIX_MULTI_HEAD_ATTENTION) {
    X->has_key = L->n_in == 3;
    if (get_bool(ll, "causal", &X->causal, err, errlen) != 0 ||
        get_bool(ll, "scores", &X->scores_out, err, errlen) != 0)
      return -1;
    /* dropout on the weights in training: the keys of a Dropout layer */
    if (key_value(ll, "dropout") != NULL) {
      const char *seed = key_value(ll, "seed"), *salt = key_value(ll, "salt");
      if (get_real(ll, "dropout", &X->dropout, err, errlen) != 0)
        return -1;
      if (!(X->dropout >= 0.0 && X->dropout < 1.0) || salt == NULL || seed == NULL) {
        set_err(err, errlen,
                "line %d: layer '%s': dropout needs a rate in [0, 1), salt= and seed=", ll->line,
                ll->name);
        return -1;
      }
      L->noise_p = X->dropout;
      if (noise_keys(L, ll, salt, seed, err, errlen) != 0)
        return -1;
    }
    if (X->op == MIX_ATTENTION) {
      const char *mode = key_value(ll, "score_mode");
      if (get_bool(ll, "use_scale", &X->use_scale, err, errlen) != 0)
        return -1;
      if (strcmp(mode, "dot") != 0 && strcmp(mode, "concat") != 0) {
        set_err(err, errlen, "line %d: layer '%s': score_mode must be dot or concat, got '%s'",
                ll->line, ll->name, mode);
        return -1;
      }
      X->score_concat = mode[0] == 'c';
    } else if (X->op == MIX_ADDITIVE_ATTENTION) {
      if (get_bool(ll, "use_scale", &X->use_scale, err, errlen) != 0)
        return -1;
    } else {
      const char *keys[] = {"num_heads", "key_dim", "value_dim", "output_dim"};
      int *dst[] = {&X->heads, &X->key_dim, &X->value_dim, &X->out_cols};
      for (i = 0; i < 4; i++)
        if (parse_int(key_value(ll, keys[i]), 1, MAX_DIM, dst[i]) != 0) {
          set_err(err, errlen, "line %d: layer '%s': bad number '%s' for %s", ll->line, ll->name,
                  key_value(ll, keys[i]), keys[i]);
          return -1;
        }
      if (get_bool(ll, "use_bias", &X->use_bias, err, errlen) != 0)
        return -1;
    }
  }
  if (mix_build(X, &n_out, msg, sizeof msg) != 0) {
    set_err(err, errlen, "line %d: layer '%s': %s", ll->line, ll->name, msg);
    return -1;
  }
  if (X->op == MIX_DOT) {
    /* each input keeps its axes but the reduced one: two matrices give a
     * matrix, a matrix and a vector a vector, two vectors (1,) */
    L->out_rank = ranks[0] == 2 && ranks[1] == 2 ? 2 : 1;
  }
  L->out_shape[0] = L->out_rank == 2 ? X->out_rows : X->out_rows * X->out_cols;
  L->out_shape[1] = X->out_cols;
  L->out_cols = (size_t)X->out_cols;
  L->n_outputs = n_out;
  L->out_part[0] = (size_t)X->out_rows * (size_t)X->out_cols;
  if (n_out == 2) {
    /* the attention scores: Tq x Tv (MultiHeadAttention: heads x Tq x Tv) */
    int heads = X->op == MIX_MULTI_HEAD_ATTENTION ? X->heads : 1;
    L->part_rows[1] = heads * X->rows[0];
    L->part_cols[1] = X->rows[1];
    L->out_part[1] = (size_t)heads * (size_t)X->rows[0] * (size_t)X->rows[1];
  }
  L->work_size = X->work_size;
  L->scratch_size = X->scratch_size;
  L->n_params = X->n_params;
  return 0;
}

/* A later call of a shared layer takes the weights of node `share`: the
 * same class and the same parameter count, at the same offsets. */
static int share_offsets(layer *L, const layer *J, int line, char *err, size_t errlen) {
  int d;
  if (J->kind != L->kind || J->n_params != L->n_params || J->n_dirs != L->n_dirs ||
      (L->kind == LAYER_MIX && J->mx.op != L->mx.op)) {
    set_err(
        err, errlen,
        "line %d: layer '%s' shares the weights of node '%s' (line %d), which has another class "
        "or other weight shapes",
        line, L->name, J->name, J->line);
    return -1;
  }
  L->kernel_off = J->kernel_off;
  L->bias_off = J->bias_off;
  for (d = 0; d < L->n_dirs; d++) {
    L->dir[d].kernel_off = J->dir[d].kernel_off;
    L->dir[d].recurrent_off = J->dir[d].recurrent_off;
    L->dir[d].bias_off = J->dir[d].bias_off;
  }
  memcpy(L->mx.w_off, J->mx.w_off, sizeof L->mx.w_off);
  memcpy(L->fe.w_off, J->fe.w_off, sizeof L->fe.w_off);
  L->alpha_off = J->alpha_off;
  return 0;
}

/* The graph keys of a node's line: the tensors it reads (default: the
 * previous node's first output, or input 0), its initial states. */
static int parse_wiring(rnnc_ref *m, layer *L, const layer_line *ll, char *err, size_t errlen) {
  L->share = -1;
  if (ll->in != NULL) {
    if (parse_refs(m, ll->in, L->in, MIX_MAX_INPUTS, &L->n_in, ll->line, ll->name, err, errlen) !=
        0)
      return -1;
  } else {
    L->n_in = 1;
    L->in[0].node = m->n_layers - 1; /* input 0 (node -1) for the first node */
    L->in[0].index = 0;
  }
  if (ll->state != NULL) {
    int n;
    if (parse_refs(m, ll->state, L->state, 2, &n, ll->line, ll->name, err, errlen) != 0)
      return -1;
    L->initial_state = n;
  }
  if (ll->share != NULL &&
      (parse_int(ll->share, 0, MAX_DIM, &L->share) != 0 || L->share >= m->n_layers)) {
    set_err(err, errlen, "line %d: layer '%s': share=%s names no node before it", ll->line,
            ll->name, ll->share);
    return -1;
  }
  if (L->kind != LAYER_MIX && L->n_in != 1) {
    set_err(err, errlen, "line %d: layer '%s': %s reads one tensor, in= names %d", ll->line,
            ll->name, ll->cls->name, L->n_in);
    return -1;
  }
  return 0;
}

/* The initial states a recurrent node names: as many as it has, vectors of
 * its units. */
static int check_states(const rnnc_ref *m, const layer *L, int line, char *err, size_t errlen) {
  int k, rank, rows, cols;
  if (!L->initial_state)
    return 0;
  if (L->n_dirs != 1 || L->initial_state != L->n_states) {
    set_err(err, errlen, "line %d: layer '%s': state= names %d tensor(s), the layer takes %d%s",
            line, L->name, L->initial_state, L->n_dirs == 1 ? L->n_states : 0,
            L->n_dirs == 1 ? "" : " (initial states are not supported inside Bidirectional)");
    return -1;
  }
  for (k = 0; k < L->n_states; k++) {
    ref_shape(m, L->state[k], &rank, &rows, &cols);
    if (rows != 1 || cols != L->dir[0].units) {
      set_err(err, errlen, "line %d: layer '%s': initial state %d is %d x %d, the layer needs %d",
              line, L->name, k, rows, cols, L->dir[0].units);
      return -1;
    }
  }
  return 0;
}

/* Parses one "layer" line into m: a node of the graph. A Bidirectional line
 * opens a node that the next line (its wrapped layer) completes: *pending is
 * then 1. */
static int parse_layer(rnnc_ref *m, int *cap, int *pending, char **tok, int ntok, int line,
                       size_t *offset, char *err, size_t errlen) {
  layer_line ll;
  layer *L;
  int in_rank, in_shape[2], rows, cols;
  if (parse_layer_line(&ll, tok, ntok, line, err, errlen) != 0)
    return -1;
  if (ll.trainable != NULL && strcmp(ll.trainable, "0") != 0 && strcmp(ll.trainable, "1") != 0) {
    set_err(err, errlen, "line %d: layer '%s': trainable=%s is not 0 or 1", line, ll.name,
            ll.trainable);
    return -1;
  }
  if (*pending) {
    /* the layer a Bidirectional wraps: its forward copy and a backward copy */
    L = &m->layers[m->n_layers];
    if (ll.cls->kind != LAYER_SIMPLE_RNN && ll.cls->kind != LAYER_LSTM &&
        ll.cls->kind != LAYER_GRU) {
      set_err(err, errlen,
              "line %d: Bidirectional '%s' wraps a recurrent layer (SimpleRNN, LSTM, GRU), got %s",
              line, L->name, ll.cls->name);
      return -1;
    }
    if (ll.in != NULL || ll.state != NULL || ll.share != NULL) {
      set_err(err, errlen,
              "line %d: layer '%s': the graph keys (in, state, share) go on the Bidirectional line",
              line, ll.name);
      return -1;
    }
    ref_shape(m, L->in[0], &in_rank, &rows, &cols);
    in_shape[0] = in_rank == 2 ? rows : cols;
    in_shape[1] = cols;
    if (build_rnn(L, &L->dir[0], &ll, in_rank, in_shape, err, errlen) != 0)
      return -1;
    if (L->legacy_state) {
      set_err(err, errlen,
              "line %d: layer '%s': initial_state=1 is not supported inside Bidirectional '%s' "
              "(line %d)",
              line, ll.name, L->name, L->line);
      return -1;
    }
    L->dir[1] = L->dir[0];
    L->dir[1].go_backwards = !L->dir[0].go_backwards;
    if (parse_rnn_dropout(&L->dir[1], &ll, 1, err, errlen) != 0)
      return -1;
    L->n_dirs = 2;
    /* Keras 3 Bidirectional.__init__ force_zero_output_for_mask */
    L->zero_output = L->return_sequences;
    /* a frozen wrapped layer freezes both directions */
    if (ll.trainable != NULL && ll.trainable[0] == '0')
      L->frozen = 1;
    *pending = 0;
  } else {
    if (m->n_layers == *cap) {
      layer *grown;
      *cap = *cap == 0 ? 4 : 2 * *cap;
      grown = (layer *)realloc(m->layers, (size_t)*cap * sizeof(layer));
      if (grown == NULL) {
        set_err(err, errlen, "out of memory");
        return -1;
      }
      m->layers = grown;
    }
    L = &m->layers[m->n_layers];
    memset(L, 0, sizeof(*L));
    L->kind = ll.cls->kind;
    L->line = line;
    snprintf(L->name, sizeof L->name, "%s", ll.name);
    L->frozen = ll.trainable != NULL && ll.trainable[0] == '0';
    if (parse_wiring(m, L, &ll, err, errlen) != 0)
      return -1;
    if (L->kind == LAYER_BIDIRECTIONAL) {
      L->merge_mode = parse_merge_mode(key_value(&ll, "merge_mode"));
      if (L->merge_mode < 0) {
        set_err(err, errlen,
                "line %d: layer '%s': unknown merge_mode '%s' (known: concat sum mul ave none)",
                line, ll.name, key_value(&ll, "merge_mode"));
        return -1;
      }
      if (L->initial_state) {
        set_err(err, errlen,
                "line %d: layer '%s': initial states are not supported inside Bidirectional", line,
                ll.name);
        return -1;
      }
      *pending = 1;
      return 0;
    }
    ref_shape(m, L->in[0], &in_rank, &rows, &cols);
    in_shape[0] = in_rank == 2 ? rows : cols;
    in_shape[1] = cols;
    if (L->kind == LAYER_DENSE) {
      if (build_dense(L, &ll, in_rank, in_shape, err, errlen) != 0)
        return -1;
    } else if (L->kind == LAYER_MIX) {
      if (build_mix(L, &ll, m, err, errlen) != 0)
        return -1;
    } else if (IS_FRONT(L->kind)) {
      if (build_front(L, &ll, in_rank, in_shape, err, errlen) != 0)
        return -1;
    } else if (is_elementwise(L->kind)) {
      if (build_elementwise(L, &ll, in_rank, in_shape, err, errlen) != 0)
        return -1;
    } else if (L->kind == LAYER_MASKING) {
      if (build_masking(L, &ll, in_rank, in_shape, err, errlen) != 0)
        return -1;
    } else {
      if (build_rnn(L, &L->dir[0], &ll, in_rank, in_shape, err, errlen) != 0)
        return -1;
      L->n_dirs = 1;
    }
  }
  if (L->kind != LAYER_DENSE && L->kind != LAYER_MIX && !IS_FRONT(L->kind) &&
      !is_elementwise(L->kind) && L->kind != LAYER_MASKING)
    finish_recurrent(L);
  finish_outputs(L);
  if (L->legacy_state && L->n_dirs == 1) {
    /* initial_state=1, the form before state=: the layer's states are the
     * model's next inputs, in spec order (h_0, then c_0 for an LSTM) */
    int k;
    if (L->initial_state) {
      set_err(err, errlen, "line %d: layer '%s': give state= or initial_state=1, not both", line,
              L->name);
      return -1;
    }
    for (k = 0; k < L->n_states; k++) {
      int n = m->n_inputs;
      if (n == MAX_MODEL_IO) {
        set_err(err, errlen, "line %d: layer '%s': too many inputs", line, L->name);
        return -1;
      }
      m->in_rank[n] = 1;
      m->in_rows[n] = 1;
      m->in_cols[n] = L->dir[0].units;
      m->in_size[n] = (size_t)L->dir[0].units;
      m->in_off[n] = m->input_size;
      m->input_size += m->in_size[n];
      m->n_inputs++;
      L->state[k].node = -1;
      L->state[k].index = n;
    }
    L->initial_state = L->n_states;
  }
  if (check_states(m, L, line, err, errlen) != 0)
    return -1;
  L->p_off = *offset;
  if (L->share >= 0) {
    if (share_offsets(L, &m->layers[L->share], line, err, errlen) != 0)
      return -1;
    if (L->frozen != m->layers[L->share].frozen) {
      set_err(err, errlen, "line %d: layer '%s': trainable= differs from the call it shares", line,
              L->name);
      return -1;
    }
  } else if (L->kind == LAYER_MIX) {
    mix_assign_offsets(&L->mx, offset);
  } else {
    assign_offsets(L, offset);
  }
  L->p_end = *offset;
  if ((double)*offset > MAX_SIZE) {
    set_err(err, errlen, "line %d: too many parameters", line);
    return -1;
  }
  m->n_layers++;
  return 0;
}

/* An "output" line: one more model output. */
static int parse_output(rnnc_ref *m, char **tok, int ntok, int line, char *err, size_t errlen) {
  if (ntok != 2 || m->n_outputs == MAX_MODEL_IO ||
      parse_ref(m, tok[1], &m->out[m->n_outputs]) != 0) {
    set_err(err, errlen,
            "line %d: 'output' wants one tensor defined before (x<input> or n<node>.<output>), at "
            "most %d outputs",
            line, MAX_MODEL_IO);
    return -1;
  }
  m->n_outputs++;
  return 0;
}

/* A "loss" line: loss <name> [from_logits] [output=K] [weight=W]; without
 * output= it applies to every output (Keras's one loss for all outputs). */
static int parse_loss(rnnc_ref *m, char **tok, int ntok, int line, int *out_k, int *logits,
                      double *weight, int *kind, rnnc_loss_config *cfg, char *err, size_t errlen) {
  int i;
  *out_k = -1;
  *logits = 0;
  *weight = 1.0;
  if (ntok < 2) {
    set_err(err, errlen, "line %d: 'loss' wants a name", line);
    return -1;
  }
  *kind = rnnc_loss_named(tok[1]);
  if (*kind == RNNC_LOSS_NONE) {
    set_err(err, errlen, "line %d: unknown loss '%s' (known:%s)", line, tok[1], LOSS_NAMES);
    return -1;
  }
  *cfg = rnnc_loss_config_default((rnnc_loss_kind)*kind);
  for (i = 2; i < ntok; i++) {
    char *end = NULL;
    char *eq = strchr(tok[i], '=');
    double v;
    if (eq != NULL && strncmp(tok[i], "output=", 7) != 0 && strncmp(tok[i], "weight=", 7) != 0) {
      /* a parameter of the loss (label_smoothing=S, delta=D) */
      *eq = '\0';
      if (parse_real(eq + 1, &v) != 0) {
        *eq = '=';
        break;
      }
#define PARAM(field, value, doc)                                                                   \
  if (strcmp(tok[i], #field) == 0) {                                                               \
    cfg->field = v;                                                                                \
    continue;                                                                                      \
  }
      RNNC_LOSS_PARAMS(PARAM)
#undef PARAM
      *eq = '=';
      break;
    }
    if (strcmp(tok[i], "from_logits") == 0) {
      *logits = 1;
    } else if (strncmp(tok[i], "output=", 7) == 0) {
      if (parse_int(tok[i] + 7, 0, MAX_MODEL_IO - 1, out_k) != 0)
        break;
    } else if (strncmp(tok[i], "weight=", 7) == 0) {
      *weight = strtod(tok[i] + 7, &end);
      if (end == tok[i] + 7 || *end != '\0' || !isfinite(*weight))
        break;
    } else {
      break;
    }
  }
  if (i < ntok) {
    set_err(err, errlen,
            "line %d: 'loss' wants a name, then from_logits, output=K, weight=W and parameters "
            "(label_smoothing=S, delta=D) (got '%s')",
            line, tok[i]);
    return -1;
  }
  (void)m;
  return 0;
}

#define MAX_LOSS_LINES MAX_MODEL_IO

/* A "regularize" line: regularize <tensor name> offset=O size=S l1=A l2=B
 * (a weight regularizer of the tensor at params[O, O + S); checked against
 * the parameter count once the layers are read). */
static int parse_regularize(rnnc_ref *m, char **tok, int ntok, int line, char *err, size_t errlen) {
  double v[4];
  const char *keys[4] = {"offset=", "size=", "l1=", "l2="};
  int i, n = m->n_reg;
  void *a, *b, *c, *d;
  if (ntok != 6) {
    set_err(err, errlen, "line %d: 'regularize' wants a name, offset= size= l1= l2=", line);
    return -1;
  }
  for (i = 0; i < 4; i++) {
    size_t len = strlen(keys[i]);
    if (strncmp(tok[2 + i], keys[i], len) != 0 || parse_real(tok[2 + i] + len, &v[i]) != 0 ||
        v[i] < 0 || (i < 2 && (v[i] != floor(v[i]) || v[i] > 1e15))) {
      set_err(err, errlen, "line %d: regularize %s: bad '%s' (want %s<number >= 0>)", line, tok[1],
              tok[2 + i], keys[i]);
      return -1;
    }
  }
  a = realloc(m->reg_off, (size_t)(n + 1) * sizeof *m->reg_off);
  if (a != NULL)
    m->reg_off = (size_t *)a;
  b = realloc(m->reg_size, (size_t)(n + 1) * sizeof *m->reg_size);
  if (b != NULL)
    m->reg_size = (size_t *)b;
  c = realloc(m->reg_l1, (size_t)(n + 1) * sizeof *m->reg_l1);
  if (c != NULL)
    m->reg_l1 = (double *)c;
  d = realloc(m->reg_l2, (size_t)(n + 1) * sizeof *m->reg_l2);
  if (d != NULL)
    m->reg_l2 = (double *)d;
  if (a == NULL || b == NULL || c == NULL || d == NULL) {
    set_err(err, errlen, "line %d: out of memory", line);
    return -1;
  }
  m->reg_off[n] = (size_t)v[0];
  m->reg_size[n] = (size_t)v[1];
  m->reg_l1[n] = v[2];
  m->reg_l2[n] = v[3];
  m->n_reg = n + 1;
  return 0;
}

/* An "activity" line: activity n<j>.0 l1=A l2=B (Keras's
 * activity_regularizer on output 0 of node j). */
static int parse_activity(rnnc_ref *m, char **tok, int ntok, int line, char *err, size_t errlen) {
  double v[2];
  const char *keys[2] = {"l1=", "l2="};
  tref r;
  int i;
  if (ntok != 4 || parse_ref(m, tok[1], &r) != 0 || r.node < 0 || r.index != 0 ||
      m->layers[r.node].n_outputs != 1) {
    set_err(err, errlen, "line %d: 'activity' wants n<node>.0 of a one-output node, l1= l2=", line);
    return -1;
  }
  for (i = 0; i < 2; i++) {
    size_t len = strlen(keys[i]);
    if (strncmp(tok[2 + i], keys[i], len) != 0 || parse_real(tok[2 + i] + len, &v[i]) != 0 ||
        !(v[i] >= 0) || v[i] > 1e300) {
      set_err(err, errlen, "line %d: activity %s: bad '%s' (want %s<number >= 0>)", line, tok[1],
              tok[2 + i], keys[i]);
      return -1;
    }
  }
  m->layers[r.node].has_act = 1;
  m->layers[r.node].act_l1 = v[0];
  m->layers[r.node].act_l2 = v[1];
  return 0;
}

/* Keras's masks along the graph (keras/src/layers/layer.py: a layer that
 * supports masking gives its output its input's mask unless it computes
 * its own): Masking makes one; Dense, the elementwise layers and
 * LayerNormalization pass it on (supports_masking); a recurrent layer
 * (and Bidirectional) reads it and passes it on with return_sequences
 * (RNN.compute_mask, Bidirectional.compute_mask); every other layer drops
 * it (the generator refuses those after a mask). */
static void propagate_masks(rnnc_ref *m) {
  int l, k;
  for (l = 0; l < m->n_layers; l++) {
    layer *L = &m->layers[l];
    tref r = L->in[0];
    L->in_mask = L->kind != LAYER_MIX && r.node >= 0 ? m->layers[r.node].out_mask[r.index] : -1;
    for (k = 0; k < MAX_OUTPUTS; k++)
      L->out_mask[k] = -1;
    for (k = 0; k < MIX_MAX_INPUTS; k++)
      L->mix_mask[k] = -1;
    if (L->kind == LAYER_MIX) {
      for (k = 0; k < L->n_in; k++)
        if (L->in[k].node >= 0)
          L->mix_mask[k] = m->layers[L->in[k].node].out_mask[L->in[k].index];
      /* attention: the query's mask is the output's (Attention.compute_mask,
       * MultiHeadAttention.call) */
      if (L->mx.op == MIX_ATTENTION || L->mx.op == MIX_ADDITIVE_ATTENTION ||
          L->mx.op == MIX_MULTI_HEAD_ATTENTION)
        L->out_mask[0] = L->mix_mask[0];
    } else if (L->kind == LAYER_MASKING || (L->kind == LAYER_EMBEDDING && L->fe.mask_zero))
      L->out_mask[0] = l;
    else if (L->kind == LAYER_DENSE || is_elementwise(L->kind) || is_noise(L->kind) ||
             L->kind == LAYER_LAYER_NORMALIZATION)
      L->out_mask[0] = L->in_mask;
    else if (L->kind == LAYER_SIMPLE_RNN || L->kind == LAYER_LSTM || L->kind == LAYER_GRU ||
             L->kind == LAYER_BIDIRECTIONAL) {
      if (L->return_sequences) {
        L->out_mask[0] = L->in_mask;
        if (L->n_dirs == 2 && L->merge_mode == MERGE_NONE)
          L->out_mask[1] = L->in_mask;
      }
    }
  }
}

static int parse_spec(rnnc_ref *m, char *text, char *err, size_t errlen) {
  char *line_start = text;
  int line = 0, have_header = 0, pending = 0, n_loss = 0, l_line[MAX_LOSS_LINES];
  int cap = 0, k;
  int l_out[MAX_LOSS_LINES], l_logits[MAX_LOSS_LINES], l_kind[MAX_LOSS_LINES];
  double l_weight[MAX_LOSS_LINES];
  rnnc_loss_config l_cfg[MAX_LOSS_LINES];
  size_t offset = 0;
  double total;

  while (line_start != NULL) {
    char *tok[MAX_TOKENS];
    char *next = strchr(line_start, '\n');
    int ntok;
    if (next != NULL)
      *next++ = '\0';
    line++;
    ntok = tokenize(line_start, tok);
    line_start = next;
    if (ntok < 0) {
      set_err(err, errlen, "line %d: too many fields", line);
      return -1;
    }
    if (ntok == 0)
      continue;
    if (pending && strcmp(tok[0], "layer") != 0) {
      const layer *B = &m->layers[m->n_layers];
      set_err(err, errlen,
              "line %d: Bidirectional '%s' (line %d) must be followed by the line of the layer "
              "it wraps, got '%s'",
              line, B->name, B->line, tok[0]);
      return -1;
    }

    if (!have_header) {
      if (strcmp(tok[0], "rnnc-spec") != 0) {
        set_err(err, errlen, "line %d: expected the header 'rnnc-spec 1', got '%s'", line, tok[0]);
        return -1;
      }
      if (ntok != 2 || strcmp(tok[1], "1") != 0) {
        set_err(err, errlen, "line %d: unsupported spec version (want 'rnnc-spec 1')", line);
        return -1;
      }
      have_header = 1;
    } else if (strcmp(tok[0], "input") == 0) {
      int i, d[2], n = m->n_inputs;
      if (m->n_layers > 0 || n == MAX_MODEL_IO) {
        set_err(err, errlen, "line %d: 'input' lines come before the layers, at most %d", line,
                MAX_MODEL_IO);
        return -1;
      }
      if (ntok != 2 && ntok != 3) {
        set_err(err, errlen, "line %d: 'input' wants 1 or 2 dimensions, got %d", line, ntok - 1);
        return -1;
      }
      for (i = 1; i < ntok; i++) {
        if (parse_int(tok[i], 1, MAX_DIM, &d[i - 1]) != 0) {
          set_err(err, errlen, "line %d: bad number '%s' for an input dimension (want 1..%d)", line,
                  tok[i], MAX_DIM);
          return -1;
        }
      }
      m->in_rank[n] = ntok - 1;
      m->in_rows[n] = ntok == 3 ? d[0] : 1;
      m->in_cols[n] = d[ntok - 2];
      m->in_size[n] = (size_t)m->in_rows[n] * (size_t)m->in_cols[n];
      m->in_off[n] = m->input_size;
      m->input_size += m->in_size[n];
      m->n_inputs++;
    } else if (strcmp(tok[0], "layer") == 0) {
      if (m->n_inputs == 0) {
        set_err(err, errlen, "line %d: 'layer' before the 'input' line", line);
        return -1;
      }
      if (n_loss > 0 || m->n_outputs > 0) {
        set_err(err, errlen, "line %d: 'layer' after the 'output' or 'loss' lines", line);
        return -1;
      }
      if (parse_layer(m, &cap, &pending, tok + 1, ntok - 1, line, &offset, err, errlen) != 0)
        return -1;
    } else if (strcmp(tok[0], "output") == 0) {
      if (n_loss > 0) {
        set_err(err, errlen, "line %d: 'output' after the 'loss' lines", line);
        return -1;
      }
      if (parse_output(m, tok, ntok, line, err, errlen) != 0)
        return -1;
    } else if (strcmp(tok[0], "loss") == 0) {
      if (n_loss == MAX_LOSS_LINES) {
        set_err(err, errlen, "line %d: too many 'loss' lines", line);
        return -1;
      }
      if (parse_loss(m, tok, ntok, line, &l_out[n_loss], &l_logits[n_loss], &l_weight[n_loss],
                     &l_kind[n_loss], &l_cfg[n_loss], err, errlen) != 0)
        return -1;
      l_line[n_loss++] = line;
    } else if (strcmp(tok[0], "regularize") == 0) {
      if (parse_regularize(m, tok, ntok, line, err, errlen) != 0)
        return -1;
    } else if (strcmp(tok[0], "activity") == 0) {
      if (parse_activity(m, tok, ntok, line, err, errlen) != 0)
        return -1;
    } else {
      set_err(err, errlen,
              "line %d: unknown item '%s' (known: input layer output loss regularize activity)",
              line, tok[0]);
      return -1;
    }
  }

  if (!have_header) {
    set_err(err, errlen, "empty spec (want the header 'rnnc-spec 1')");
    return -1;
  }
  if (pending) {
    const layer *B = &m->layers[m->n_layers];
    set_err(err, errlen,
            "Bidirectional '%s' (line %d) must be followed by the line of the layer it wraps, "
            "got the end of the spec",
            B->name, B->line);
    return -1;
  }
  if (m->n_inputs == 0) {
    set_err(err, errlen, "no 'input' line");
    return -1;
  }
  if (m->n_layers == 0) {
    set_err(err, errlen, "no 'layer' line");
    return -1;
  }
  propagate_masks(m);
  m->n_params = offset;
  for (k = 0; k < m->n_reg; k++)
    if (m->reg_off[k] > offset || m->reg_size[k] > offset - m->reg_off[k]) {
      set_err(err, errlen, "regularize: offset %zu size %zu reach past the %zu parameters",
              m->reg_off[k], m->reg_size[k], offset);
      return -1;
    }
  /* the outputs: the 'output' lines, else every output of the last node */
  if (m->n_outputs == 0) {
    const layer *last = &m->layers[m->n_layers - 1];
    for (k = 0; k < last->n_outputs; k++) {
      m->out[k].node = m->n_layers - 1;
      m->out[k].index = k;
    }
    m->n_outputs = last->n_outputs;
  }
  total = 0;
  for (k = 0; k < m->n_outputs; k++) {
    int rank;
    ref_shape(m, m->out[k], &rank, &m->out_rows[k], &m->out_cols[k]);
    m->out_size[k] = (size_t)m->out_rows[k] * (size_t)m->out_cols[k];
    m->out_off[k] = (size_t)total;
    total += (double)m->out_size[k];
    m->loss_kind[k] = RNNC_LOSS_NONE;
  }
  m->output_size = (size_t)total;
  for (k = 0; k < n_loss; k++) {
    int o;
    if (l_out[k] >= m->n_outputs) {
      set_err(err, errlen, "line %d: loss output=%d, the model has %d output(s)", l_line[k],
              l_out[k], m->n_outputs);
      return -1;
    }
    for (o = 0; o < m->n_outputs; o++)
      if (l_out[k] < 0 || l_out[k] == o) {
        if (m->loss_kind[o] != RNNC_LOSS_NONE) {
          set_err(err, errlen, "line %d: duplicate 'loss' line for output %d", l_line[k], o);
          return -1;
        }
        m->loss_kind[o] = l_kind[k];
        m->loss_logits[o] = l_logits[k];
        m->loss_weight[o] = l_weight[k];
        m->loss_cfg[o] = l_cfg[k];
      }
  }
  /* each loss's targets, one after the other: class labels of the
   * output's rows for the sparse crossentropy, else the output's shape */
  m->loss = RNNC_LOSS_NONE;
  for (k = 0; k < m->n_outputs; k++) {
    if (m->loss_kind[k] == RNNC_LOSS_NONE)
      continue;
    if (m->loss == RNNC_LOSS_NONE)
      m->loss = m->loss_kind[k];
    m->target_off[k] = m->target_size;
    m->target_part[k] = m->loss_kind[k] == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
                            ? (size_t)m->out_rows[k]
                            : m->out_size[k];
    m->target_size += m->target_part[k];
  }
  return 0;
}

rnnc_ref *rnnc_ref_new(const char *spec, char *err, size_t errlen) {
  rnnc_ref *m;
  char *text;
  size_t len;
  if (spec == NULL) {
    set_err(err, errlen, "no spec");
    return NULL;
  }
  len = strlen(spec);
  m = (rnnc_ref *)calloc(1, sizeof(*m));
  text = (char *)malloc(len + 1);
  if (m == NULL || text == NULL) {
    free(m);
    free(text);
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  memcpy(text, spec, len + 1);
  m->loss = RNNC_LOSS_NONE;
  if (parse_spec(m, text, err, errlen) != 0) {
    free(text);
    rnnc_ref_free(m);
    return NULL;
  }
  free(text);
  return m;
}

void rnnc_ref_free(rnnc_ref *m) {
  if (m == NULL)
    return;
  free(m->layers);
  free(m->reg_off);
  free(m->reg_size);
  free(m->reg_l1);
  free(m->reg_l2);
  free(m);
}

size_t rnnc_ref_n_params(const rnnc_ref *m) {
  return m->n_params;
}

size_t rnnc_ref_input_size(const rnnc_ref *m) {
  return m->input_size;
}

size_t rnnc_ref_input_count(const rnnc_ref *m) {
  return (size_t)m->n_inputs;
}

size_t rnnc_ref_input_part(const rnnc_ref *m, size_t i, size_t *offset) {
  if (i >= (size_t)m->n_inputs) {
    if (offset != NULL)
      *offset = m->input_size;
    return 0;
  }
  if (offset != NULL)
    *offset = m->in_off[i];
  return m->in_size[i];
}

size_t rnnc_ref_output_size(const rnnc_ref *m) {
  return m->output_size;
}

size_t rnnc_ref_target_size(const rnnc_ref *m) {
  return m->target_size;
}

size_t rnnc_ref_output_count(const rnnc_ref *m) {
  return (size_t)m->n_outputs;
}

size_t rnnc_ref_output_part(const rnnc_ref *m, size_t i, size_t *offset) {
  if (i >= (size_t)m->n_outputs) {
    if (offset != NULL)
      *offset = m->output_size;
    return 0;
  }
  if (offset != NULL)
    *offset = m->out_off[i];
  return m->out_size[i];
}

/* ------------------------------------------------------------------ activations */

/* The elementwise activations, as Keras 3 defines them
 * (keras/src/activations/activations.py): one value, and its derivative at z
 * given y = act(z). hard_sigmoid is Keras 3's relu6(z + 3) / 6,
 * hard_sigmoid_keras2 tf.keras 2.x's clip(0.2 z + 0.5, 0, 1). At a kink the
 * derivative is the one the generated code's expressions give (relu, relu6:
 * 0 at 0; leaky_relu and elu: the left one at 0, as TensorFlow's). */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
#define SQRT_2_OVER_PI 0.7978845608028654

static double softplus(double z) {
  return (z > 0.0 ? z : 0.0) + log1p(exp(-fabs(z)));
}

static double sigmoid(double z) {
  return 1.0 / (1.0 + exp(-z));
}

static double act_value(int act, double z) {
  switch (act) {
  case ACT_RELU: /* a NaN passes through */
    return z < 0.0 ? 0.0 : z;
  case ACT_TANH:
    return tanh(z);
  case ACT_SIGMOID:
    return sigmoid(z);
  case ACT_HARD_SIGMOID:
    return z <= -3.0 ? 0.0 : z >= 3.0 ? 1.0 : (z + 3.0) / 6.0;
  case ACT_HARD_SIGMOID_KERAS2:
    return z <= -2.5 ? 0.0 : z >= 2.5 ? 1.0 : 0.2 * z + 0.5;
  case ACT_ELU:
    return z > 0.0 ? z : exp(z) - 1.0;
  case ACT_SELU:
    return SELU_SCALE * (z > 0.0 ? z : SELU_ALPHA * (exp(z) - 1.0));
  case ACT_GELU:
    return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
  case ACT_GELU_APPROXIMATE:
    return 0.5 * z * (1.0 + tanh(SQRT_2_OVER_PI * (z + 0.044715 * z * z * z)));
  case ACT_SWISH:
  case ACT_SILU:
    return z * sigmoid(z);
  case ACT_SOFTPLUS:
    return softplus(z);
  case ACT_SOFTSIGN:
    return z / (1.0 + fabs(z));
  case ACT_EXPONENTIAL:
    return exp(z);
  case ACT_LEAKY_RELU:
    return z > 0.0 ? z : 0.2 * z;
  case ACT_RELU6:
    return z <= 0.0 ? 0.0 : z >= 6.0 ? 6.0 : z;
  case ACT_MISH:
    return z * tanh(softplus(z));
  case ACT_HARD_SILU:
  case ACT_HARD_SWISH:
    return z * (z <= -3.0 ? 0.0 : z >= 3.0 ? 1.0 : (z + 3.0) / 6.0);
  default:
    return z;
  }
}

static double act_derivative(int act, double z, double y) {
  switch (act) {
  case ACT_RELU:
    return z > 0.0 ? 1.0 : 0.0;
  case ACT_TANH:
    return 1.0 - y * y;
  case ACT_SIGMOID:
    return y * (1.0 - y);
  case ACT_HARD_SIGMOID: /* slope 1/6 strictly inside (-3, 3) */
    return z > -3.0 && z < 3.0 ? 1.0 / 6.0 : 0.0;
  case ACT_HARD_SIGMOID_KERAS2: /* slope 0.2 strictly inside (-2.5, 2.5) */
    return z > -2.5 && z < 2.5 ? 0.2 : 0.0;
  case ACT_ELU:
    return z > 0.0 ? 1.0 : exp(z);
  case ACT_SELU:
    return SELU_SCALE * (z > 0.0 ? 1.0 : SELU_ALPHA * exp(z));
  case ACT_GELU:
    return 0.5 * (1.0 + erf(z / sqrt(2.0))) + z * exp(-0.5 * z * z) / sqrt(2.0 * M_PI_REF);
  case ACT_GELU_APPROXIMATE: {
    double t = tanh(SQRT_2_OVER_PI * (z + 0.044715 * z * z * z));
    return 0.5 * (1.0 + t) +
           0.5 * z * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * z * z);
  }
  case ACT_SWISH:
  case ACT_SILU: {
    double s = sigmoid(z);
    return s + z * s * (1.0 - s);
  }
  case ACT_SOFTPLUS:
    return sigmoid(z);
  case ACT_SOFTSIGN:
    return 1.0 / ((1.0 + fabs(z)) * (1.0 + fabs(z)));
  case ACT_EXPONENTIAL:
    return y;
  case ACT_LEAKY_RELU:
    return z > 0.0 ? 1.0 : 0.2;
  case ACT_RELU6:
    return z > 0.0 && z <= 6.0 ? 1.0 : 0.0;
  case ACT_MISH: {
    double t = tanh(softplus(z));
    return t + z * (1.0 - t * t) * sigmoid(z);
  }
  case ACT_HARD_SILU:
  case ACT_HARD_SWISH:
    return z <= -3.0 ? 0.0 : z >= 3.0 ? 1.0 : (2.0 * z + 3.0) / 6.0;
  default:
    return 1.0;
  }
}

/* y = act(z) for one row of n reals (softmax and log_softmax over the row). */
static void activation_forward(int act, const double *z, double *y, int n) {
  int i;
  if (act == ACT_SOFTMAX || act == ACT_LOG_SOFTMAX) {
    double mx = z[0], sum = 0.0;
    for (i = 1; i < n; i++)
      if (z[i] > mx)
        mx = z[i];
    for (i = 0; i < n; i++)
      sum += exp(z[i] - mx);
    for (i = 0; i < n; i++)
      y[i] = act == ACT_SOFTMAX ? exp(z[i] - mx) / sum : (z[i] - mx) - log(sum);
    return;
  }
  for (i = 0; i < n; i++)
    y[i] = act_value(act, z[i]);
}

/* dz = d(loss)/dz from dy = d(loss)/dy for one row of n reals, given z and y = act(z). */
static void activation_backward(int act, const double *z, const double *y, const double *dy,
                                double *dz, int n) {
  int i;
  if (act == ACT_SOFTMAX) {
    /* dz_i = y_i (dy_i - sum_k dy_k y_k) */
    double dot = 0.0;
    for (i = 0; i < n; i++)
      dot += dy[i] * y[i];
    for (i = 0; i < n; i++)
      dz[i] = y[i] * (dy[i] - dot);
    return;
  }
  if (act == ACT_LOG_SOFTMAX) {
    /* dz_i = dy_i - softmax_i sum_k dy_k */
    double sum = 0.0;
    for (i = 0; i < n; i++)
      sum += dy[i];
    for (i = 0; i < n; i++)
      dz[i] = dy[i] - exp(y[i]) * sum;
    return;
  }
  for (i = 0; i < n; i++)
    dz[i] = dy[i] * act_derivative(act, z[i], y[i]);
}

/* ------------------------------------------------------------------ Dense */

/* One sample. x: rows x in; z, y: rows x U. */
static void dense_forward(const layer *L, const double *params, const double *x, double *z,
                          double *y) {
  const double *kernel = params + L->kernel_off;
  const double *bias = L->use_bias ? params + L->bias_off : NULL;
  int in = L->in_features, U = L->units, r, i, u;
  for (r = 0; r < L->rows; r++) {
    for (u = 0; u < U; u++) {
      double s = bias != NULL ? bias[u] : 0.0;
      for (i = 0; i < in; i++)
        s += x[r * in + i] * kernel[i * U + u];
      z[r * U + u] = s;
    }
    activation_forward(L->act, z + r * U, y + r * U, U);
  }
}

/* One sample. dy = d(loss)/d(y), or d(loss)/d(z) when from_logits (the fused
 * softmax + crossentropy: the activation's own backward is skipped). Adds to
 * grad; dx (may be NULL) is overwritten. dz: U reals of scratch. */
static void dense_backward(const layer *L, const double *params, const double *x, const double *z,
                           const double *y, const double *dy, int from_logits, double *grad,
                           double *dx, double *dz) {
  const double *kernel = params + L->kernel_off;
  double *g_kernel = grad + L->kernel_off;
  double *g_bias = L->use_bias ? grad + L->bias_off : NULL;
  int in = L->in_features, U = L->units, r, i, u;
  for (r = 0; r < L->rows; r++) {
    if (from_logits) {
      for (u = 0; u < U; u++)
        dz[u] = dy[r * U + u];
    } else {
      activation_backward(L->act, z + r * U, y + r * U, dy + r * U, dz, U);
    }
    for (i = 0; i < in; i++)
      for (u = 0; u < U; u++)
        g_kernel[i * U + u] += x[r * in + i] * dz[u];
    if (g_bias != NULL)
      for (u = 0; u < U; u++)
        g_bias[u] += dz[u];
    if (dx != NULL) {
      for (i = 0; i < in; i++) {
        double s = 0.0;
        for (u = 0; u < U; u++)
          s += dz[u] * kernel[i * U + u];
        dx[r * in + i] = s;
      }
    }
  }
}

/* ------------------------------------------------------------------ elementwise layers */

static double relu_of(double z) { /* a NaN passes through */
  return z < 0.0 ? 0.0 : z;
}

/* The function of an elementwise layer at z (Activation's elementwise
 * activations, ReLU, LeakyReLU, ELU, PReLU with slope a) and, in *d, its
 * derivative as the generated code's expression gives it: ReLU is Keras's
 * ReLU.static_call (tf.nn.leaky_relu with a slope alone; else x > threshold,
 * clipped to [0, max_value], minus slope * relu(threshold - x)), and at a kink
 * the derivative is that of the expression rnnc differentiates. */
static double elementwise_value(const layer *L, double z, double a, double *d) {
  double y, y0, d0;
  switch (L->kind) {
  case LAYER_ACTIVATION:
    y = act_value(L->act, z);
    *d = act_derivative(L->act, z, y);
    return y;
  case LAYER_LEAKY_RELU:
    *d = z > 0.0 ? 1.0 : L->slope;
    return z > 0.0 ? z : L->slope * z;
  case LAYER_ELU:
    *d = z > 0.0 ? 1.0 : L->alpha * exp(z);
    return z > 0.0 ? z : L->alpha * (exp(z) - 1.0);
  case LAYER_PRELU: /* relu(z) - a relu(-z) */
    *d = (z > 0.0 ? 1.0 : 0.0) + (z < 0.0 ? a : 0.0);
    return relu_of(z) - a * relu_of(-z);
  default: /* ReLU */
    if (L->slope != 0.0 && !L->has_max && L->threshold == 0.0) {
      *d = z > 0.0 ? 1.0 : L->slope;
      return z > 0.0 ? z : L->slope * z;
    }
    y0 = z > L->threshold ? z : 0.0;
    d0 = z > L->threshold ? 1.0 : 0.0;
    y = y0;
    *d = d0;
    if (L->has_max) { /* relu(y0) (y0 itself without a threshold) - relu(y0 - max) */
      double r = L->threshold != 0.0 ? relu_of(y0) : y0;
      double dr = L->threshold != 0.0 ? (y0 > 0.0 ? d0 : 0.0) : d0;
      y = r - relu_of(y0 - L->max_value);
      *d = dr - (y0 - L->max_value > 0.0 ? d0 : 0.0);
    }
    if (L->slope != 0.0) {
      y -= L->slope * relu_of(L->threshold - z);
      *d += L->threshold - z > 0.0 ? L->slope : 0.0;
    }
    return y;
  }
}

/* PReLU's slope for element (r, c): its alpha, repeated along shared axes. */
static double prelu_alpha(const layer *L, const double *params, int r, int c) {
  if (L->kind != LAYER_PRELU)
    return 0.0;
  return params[L->alpha_off + (size_t)(L->a_rows == 1 ? 0 : r) * (size_t)L->a_cols +
                (size_t)(L->a_cols == 1 ? 0 : c)];
}

/* One sample: x and y rows x in_features. */
static void elementwise_forward(const layer *L, const double *params, const double *x, double *y) {
  int r, c, F = L->in_features;
  double d;
  for (r = 0; r < L->rows; r++) {
    if (L->kind == LAYER_ACTIVATION && (L->act == ACT_SOFTMAX || L->act == ACT_LOG_SOFTMAX)) {
      activation_forward(L->act, x + r * F, y + r * F, F);
      continue;
    }
    for (c = 0; c < F; c++)
      y[r * F + c] = elementwise_value(L, x[r * F + c], prelu_alpha(L, params, r, c), &d);
  }
}

/* One sample. dy = d(loss)/d(y), or d(loss)/d(x) itself when from_logits (a
 * softmax or sigmoid Activation whose input the loss used). Adds PReLU's
 * alpha gradient to grad; dx (may be NULL) is overwritten. */
static void elementwise_backward(const layer *L, const double *params, const double *x,
                                 const double *y, const double *dy, int from_logits, double *grad,
                                 double *dx) {
  int r, c, F = L->in_features;
  double d;
  for (r = 0; r < L->rows; r++) {
    if (from_logits) {
      if (dx != NULL)
        memcpy(dx + r * F, dy + r * F, (size_t)F * sizeof(double));
      continue;
    }
    if (L->kind == LAYER_ACTIVATION && (L->act == ACT_SOFTMAX || L->act == ACT_LOG_SOFTMAX)) {
      if (dx != NULL)
        activation_backward(L->act, x + r * F, y + r * F, dy + r * F, dx + r * F, F);
      continue;
    }
    for (c = 0; c < F; c++) {
      double z = x[r * F + c];
      elementwise_value(L, z, prelu_alpha(L, params, r, c), &d);
      if (dx != NULL)
        dx[r * F + c] = d * dy[r * F + c];
      if (L->kind == LAYER_PRELU) /* d/d alpha of -alpha relu(-z) */
        grad[L->alpha_off + (size_t)(L->a_rows == 1 ? 0 : r) * (size_t)L->a_cols +
             (size_t)(L->a_cols == 1 ? 0 : c)] -= relu_of(-z) * dy[r * F + c];
    }
  }
}

/* ------------------------------------------------------------------ recurrent cells
 *
 * A direction keeps T + 1 step records of R->record reals per sample: record 0
 * is the initial state h_0 (and c_0, after h in an LSTM record): zero (by the
 * allocation, never written) or, with initial_state=1, copied from the input
 * by recurrent_forward; record t + 1 holds what processing step t computes. h is at the
 * start of every record, so record(t) is always "the state before step t".
 *
 * Weights are (rows, G*U) row-major with the gate blocks side by side in the
 * columns; the three helpers below are the only matrix arithmetic. */

/* y[k] += sum_i a[i] * W[i * stride + k] for k < m: y += a @ W[:, :m]. */
static void add_vec_mat(const double *a, int n, const double *W, int stride, int m, double *y) {
  int i, k;
  for (i = 0; i < n; i++)
    for (k = 0; k < m; k++)
      y[k] += a[i] * W[i * stride + k];
}

/* G[i * stride + k] += a[i] * d[k]: the gradient of W[:, :m] in y = a @ W[:, :m]
 * given d = d(loss)/dy. */
static void add_outer(const double *a, int n, const double *d, int m, double *G, int stride) {
  int i, k;
  for (i = 0; i < n; i++)
    for (k = 0; k < m; k++)
      G[i * stride + k] += a[i] * d[k];
}

/* out[i] += sum_k W[i * stride + k] * d[k] for k < m: the gradient of a in
 * y = a @ W[:, :m] given d = d(loss)/dy. */
static void add_mat_vec(const double *W, int n, int stride, const double *d, int m, double *out) {
  int i, k;
  for (i = 0; i < n; i++)
    for (k = 0; k < m; k++)
      out[i] += W[i * stride + k] * d[k];
}

static void add_to(double *a, const double *b, int n) {
  int i;
  for (i = 0; i < n; i++)
    a[i] += b[i];
}

/* The dropout of the recurrent layers: `masks` holds nm rows of n values
 * (NULL: none; 1: one for every gate block; else one per block). The gate
 * blocks g0 .. g0 + nb - 1 of W (columns g U .. g U + U - 1, row stride
 * `stride`) multiply a masked by its block's mask: */

/* a times mask row k (masks NULL: a itself), into buf. */
static const double *masked(const double *a, const double *masks, int nm, int k, int n,
                            double *buf) {
  int i;
  if (masks == NULL)
    return a;
  for (i = 0; i < n; i++)
    buf[i] = a[i] * masks[(nm > 1 ? k : 0) * n + i];
  return buf;
}

/* y[j U + u] += (a * mask of block g0 + j) @ W[:, (g0 + j) U + u], j < nb. */
static void add_gates(const double *a, int n, const double *masks, int nm, const double *W,
                      int stride, int U, int g0, int nb, double *y, double *buf) {
  int j;
  if (masks == NULL) {
    add_vec_mat(a, n, W + g0 * U, stride, nb * U, y);
    return;
  }
  for (j = 0; j < nb; j++)
    add_vec_mat(masked(a, masks, nm, g0 + j, n, buf), n, W + (g0 + j) * U, stride, U, y + j * U);
}

/* Its weight gradient: G[:, (g0 + j) U + u] += (a * mask) d[j U + u]. */
static void add_outer_gates(const double *a, int n, const double *masks, int nm, const double *d,
                            int U, int g0, int nb, double *G, int stride, double *buf) {
  int j;
  if (masks == NULL) {
    add_outer(a, n, d, nb * U, G + g0 * U, stride);
    return;
  }
  for (j = 0; j < nb; j++)
    add_outer(masked(a, masks, nm, g0 + j, n, buf), n, d + j * U, U, G + (g0 + j) * U, stride);
}

/* And a's: out[i] += sum_j mask_j[i] sum_u W[i, (g0 + j) U + u] d[j U + u]. */
static void add_mat_vec_gates(const double *W, int n, int stride, const double *d, int U, int g0,
                              int nb, const double *masks, int nm, double *out, double *buf) {
  int i, j;
  if (masks == NULL) {
    add_mat_vec(W + g0 * U, n, stride, d, nb * U, out);
    return;
  }
  for (j = 0; j < nb; j++) {
    for (i = 0; i < n; i++)
      buf[i] = 0.0;
    add_mat_vec(W + (g0 + j) * U, n, stride, d + j * U, U, buf);
    for (i = 0; i < n; i++)
      out[i] += buf[i] * masks[(nm > 1 ? g0 + j : 0) * n + i];
  }
}

/* A buffer of n reals for masked vectors when there are masks (else NULL). */
static double *mask_buffer(const double *mi, const double *mr, int n) {
  return mi != NULL || mr != NULL ? (double *)calloc((size_t)(n > 0 ? n : 1), sizeof(double))
                                  : NULL;
}

/* Input timestep read at processing step t. */
static int source_step(const rnn *R, int t) {
  return R->go_backwards ? R->T - 1 - t : t;
}

/* Whether processing step t is masked (mask: the input's mask, T reals, or
 * NULL). A masked step keeps its states: record t + 1 is a copy of record t
 * (its first `keep` reals, the states), and the backward passes the
 * gradient of the states straight to the step before. Keras: the masked
 * rnn() of keras/src/backend/jax/rnn.py (and tensorflow/rnn.py), states =
 * where(mask, new, old). */
static int masked_step(const rnn *R, const double *mask, int t) {
  return mask != NULL && mask[source_step(R, t)] == 0.0;
}

/* Step record r (0: initial state, t + 1: after processing step t). */
static double *step_record(const rnn *R, double *work, int r) {
  return work + (size_t)r * R->record;
}

static void keep_states(const rnn *R, double *work, int t, size_t keep) {
  memcpy(step_record(R, work, t + 1), step_record(R, work, t), keep * sizeof(double));
}

/* ---- SimpleRNN: record = h[U] z[U]; h_t = act(x_t @ K + h_{t-1} @ R + b). */

static void simple_rnn_forward(const rnn *R, const double *params, const double *x,
                               const double *mask, double *work, const double *mi,
                               const double *mr) {
  const double *kernel = params + R->kernel_off;
  const double *recurrent = params + R->recurrent_off;
  const double *bias = R->use_bias ? params + R->bias_off : NULL;
  int T = R->T, in = R->in, U = R->units, t, u;
  double *buf = mask_buffer(mi, mr, in > U ? in : U);
  for (t = 0; t < T; t++) {
    const double *xt = x + source_step(R, t) * in;
    const double *h_prev = step_record(R, work, t);
    double *h = step_record(R, work, t + 1), *z = h + U;
    if (masked_step(R, mask, t)) {
      keep_states(R, work, t, (size_t)U);
      continue;
    }
    for (u = 0; u < U; u++)
      z[u] = bias != NULL ? bias[u] : 0.0;
    add_gates(xt, in, mi, R->in_masks, kernel, U, U, 0, 1, z, buf);
    add_gates(h_prev, U, mr, R->rec_masks, recurrent, U, U, 0, 1, z, buf);
    activation_forward(R->act, z, h, U);
  }
  free(buf);
}

/* Backpropagation through time. dh_out: T x U, d(loss)/dh of every processing
 * step from outside the cell (the layer's outputs). Adds to grad and, when not
 * NULL, to dx; dh0 (may be NULL) is overwritten with d(loss)/dh_0. scratch:
 * 3 U reals. */
static void simple_rnn_backward(const rnn *R, const double *params, const double *x,
                                const double *mask, double *work, const double *dh_out,
                                double *grad, double *dx, double *dh0, double *scratch,
                                const double *mi, const double *mr) {
  const double *kernel = params + R->kernel_off;
  const double *recurrent = params + R->recurrent_off;
  double *g_kernel = grad + R->kernel_off;
  double *g_recurrent = grad + R->recurrent_off;
  double *g_bias = R->use_bias ? grad + R->bias_off : NULL;
  int T = R->T, in = R->in, U = R->units, t, u;
  double *dh = scratch, *dh_next = scratch + U, *dz = scratch + 2 * U;
  double *buf = mask_buffer(mi, mr, in > U ? in : U);

  for (u = 0; u < U; u++)
    dh_next[u] = 0.0; /* d(loss)/dh[t] through step t+1; nothing after the last step */
  for (t = T - 1; t >= 0; t--) {
    int src = source_step(R, t);
    const double *h_prev = step_record(R, work, t);
    const double *h = step_record(R, work, t + 1), *z = h + U;
    for (u = 0; u < U; u++)
      dh[u] = dh_next[u] + dh_out[t * U + u];
    if (masked_step(R, mask, t)) { /* h[t] = h[t-1] */
      memcpy(dh_next, dh, (size_t)U * sizeof(double));
      continue;
    }
    activation_backward(R->act, z, h, dh, dz, U);
    add_outer_gates(x + src * in, in, mi, R->in_masks, dz, U, 0, 1, g_kernel, U, buf);
    add_outer_gates(h_prev, U, mr, R->rec_masks, dz, U, 0, 1, g_recurrent, U, buf);
    if (g_bias != NULL)
      add_to(g_bias, dz, U);
    if (dx != NULL)
      add_mat_vec_gates(kernel, in, U, dz, U, 0, 1, mi, R->in_masks, dx + src * in, buf);
    for (u = 0; u < U; u++)
      dh_next[u] = 0.0;
    add_mat_vec_gates(recurrent, U, U, dz, U, 0, 1, mr, R->rec_masks, dh_next, buf);
  }
  if (dh0 != NULL) /* dh_next is now d(loss)/dh of record 0 */
    memcpy(dh0, dh_next, (size_t)U * sizeof(double));
  free(buf);
}

/* ---- LSTM: record = h[U] c[U] tc[U] pre[4U] gate[4U], blocks i f c o.
 * pre = x_t @ K + h_{t-1} @ R + b; gate = (rec(pre_i), rec(pre_f), act(pre_c),
 * rec(pre_o)) = (i, f, g, o); c_t = f c_{t-1} + i g; tc = act(c_t); h_t = o tc. */

static void lstm_forward(const rnn *R, const double *params, const double *x, const double *mask,
                         double *work, const double *mi, const double *mr) {
  const double *kernel = params + R->kernel_off;
  const double *recurrent = params + R->recurrent_off;
  const double *bias = R->use_bias ? params + R->bias_off : NULL;
  int T = R->T, in = R->in, U = R->units, t, u, k;
  double *buf = mask_buffer(mi, mr, in > U ? in : U);
  for (t = 0; t < T; t++) {
    const double *xt = x + source_step(R, t) * in;
    const double *h_prev = step_record(R, work, t), *c_prev = h_prev + U;
    double *h = step_record(R, work, t + 1), *c = h + U, *tc = h + 2 * U, *pre = h + 3 * U;
    double *gate = h + 7 * U;
    const double *i_ = gate, *f_ = gate + U, *g_ = gate + 2 * U, *o_ = gate + 3 * U;
    if (masked_step(R, mask, t)) { /* h and c kept */
      keep_states(R, work, t, 2 * (size_t)U);
      continue;
    }
    for (k = 0; k < 4 * U; k++)
      pre[k] = bias != NULL ? bias[k] : 0.0;
    add_gates(xt, in, mi, R->in_masks, kernel, 4 * U, U, 0, 4, pre, buf);
    add_gates(h_prev, U, mr, R->rec_masks, recurrent, 4 * U, U, 0, 4, pre, buf);
    activation_forward(R->rec_act, pre, gate, U);                 /* i */
    activation_forward(R->rec_act, pre + U, gate + U, U);         /* f */
    activation_forward(R->act, pre + 2 * U, gate + 2 * U, U);     /* g */
    activation_forward(R->rec_act, pre + 3 * U, gate + 3 * U, U); /* o */
    for (u = 0; u < U; u++)
      c[u] = f_[u] * c_prev[u] + i_[u] * g_[u];
    activation_forward(R->act, c, tc, U);
    for (u = 0; u < U; u++)
      h[u] = o_[u] * tc[u];
  }
  free(buf);
}

/* As simple_rnn_backward; dc_last (may be NULL): d(loss)/dc_T from outside
 * (the c state output); dc0 (may be NULL) is overwritten with d(loss)/dc_0.
 * scratch: 13 U reals. */
static void lstm_backward(const rnn *R, const double *params, const double *x, const double *mask,
                          double *work, const double *dh_out, const double *dc_last, double *grad,
                          double *dx, double *dh0, double *dc0, double *scratch, const double *mi,
                          const double *mr) {
  const double *kernel = params + R->kernel_off;
  const double *recurrent = params + R->recurrent_off;
  double *g_kernel = grad + R->kernel_off;
  double *g_recurrent = grad + R->recurrent_off;
  double *g_bias = R->use_bias ? grad + R->bias_off : NULL;
  int T = R->T, in = R->in, U = R->units, t, u;
  double *dh = scratch, *dh_next = scratch + U, *dc = scratch + 2 * U, *dc_next = scratch + 3 * U;
  double *dtc = scratch + 4 * U, *dgate = scratch + 5 * U, *dpre = scratch + 9 * U;
  double *buf = mask_buffer(mi, mr, in > U ? in : U);

  for (u = 0; u < U; u++) {
    dh_next[u] = 0.0;                                /* through step t+1 */
    dc_next[u] = dc_last != NULL ? dc_last[u] : 0.0; /* c_T: only the state output */
  }
  for (t = T - 1; t >= 0; t--) {
    int src = source_step(R, t);
    const double *h_prev = step_record(R, work, t), *c_prev = h_prev + U;
    const double *h = step_record(R, work, t + 1), *c = h + U, *tc = h + 2 * U, *pre = h + 3 * U;
    const double *gate = h + 7 * U;
    const double *i_ = gate, *f_ = gate + U, *g_ = gate + 2 * U, *o_ = gate + 3 * U;
    if (masked_step(R, mask, t)) { /* h[t] = h[t-1], c[t] = c[t-1]: dc_next passes as it is */
      for (u = 0; u < U; u++)
        dh_next[u] += dh_out[t * U + u];
      continue;
    }
    for (u = 0; u < U; u++) {
      dh[u] = dh_next[u] + dh_out[t * U + u];
      dgate[3 * U + u] = dh[u] * tc[u]; /* do */
      dtc[u] = dh[u] * o_[u];
    }
    activation_backward(R->act, c, tc, dtc, dc, U); /* dc through h_t */
    for (u = 0; u < U; u++) {
      dc[u] += dc_next[u];              /* and through c_{t+1} */
      dgate[u] = dc[u] * g_[u];         /* di */
      dgate[U + u] = dc[u] * c_prev[u]; /* df */
      dgate[2 * U + u] = dc[u] * i_[u]; /* dg */
      dc_next[u] = dc[u] * f_[u];       /* d c_{t-1} */
    }
    activation_backward(R->rec_act, pre, gate, dgate, dpre, U);
    activation_backward(R->rec_act, pre + U, gate + U, dgate + U, dpre + U, U);
    activation_backward(R->act, pre + 2 * U, gate + 2 * U, dgate + 2 * U, dpre + 2 * U, U);
    activation_backward(R->rec_act, pre + 3 * U, gate + 3 * U, dgate + 3 * U, dpre + 3 * U, U);
    add_outer_gates(x + src * in, in, mi, R->in_masks, dpre, U, 0, 4, g_kernel, 4 * U, buf);
    add_outer_gates(h_prev, U, mr, R->rec_masks, dpre, U, 0, 4, g_recurrent, 4 * U, buf);
    if (g_bias != NULL)
      add_to(g_bias, dpre, 4 * U);
    if (dx != NULL)
      add_mat_vec_gates(kernel, in, 4 * U, dpre, U, 0, 4, mi, R->in_masks, dx + src * in, buf);
    for (u = 0; u < U; u++)
      dh_next[u] = 0.0;
    add_mat_vec_gates(recurrent, U, 4 * U, dpre, U, 0, 4, mr, R->rec_masks, dh_next, buf);
  }
  free(buf);
  if (dh0 != NULL) /* dh_next and dc_next are now d(loss)/d(record 0) */
    memcpy(dh0, dh_next, (size_t)U * sizeof(double));
  if (dc0 != NULL)
    memcpy(dc0, dc_next, (size_t)U * sizeof(double));
}

/* ---- GRU: record = h[U] xp[3U] hp[3U] pre[3U] gate[3U] rh[U], blocks z r h.
 * xp = x_t @ K + b_in (reset_after: b_in = bias row 0, else bias).
 * reset_after=1: hp = h_{t-1} @ R + bias row 1; pre_h = xp_h + r hp_h.
 * reset_after=0: hp_zr = h_{t-1} @ R_zr; rh = r h_{t-1}; hp_h = rh @ R_h;
 *                pre_h = xp_h + hp_h.
 * pre_z = xp_z + hp_z, pre_r = xp_r + hp_r; gate = (z, r, cand) =
 * (rec(pre_z), rec(pre_r), act(pre_h)); h_t = z h_{t-1} + (1 - z) cand. */

static void gru_forward(const rnn *R, const double *params, const double *x, const double *mask,
                        double *work, const double *mi, const double *mr) {
  const double *kernel = params + R->kernel_off;
  const double *recurrent = params + R->recurrent_off;
  const double *bias = R->use_bias ? params + R->bias_off : NULL;
  const double *b_in = bias;
  const double *b_rec = bias != NULL && R->reset_after ? bias + 3 * R->units : NULL;
  int T = R->T, in = R->in, U = R->units, t, u, k;
  double *buf = mask_buffer(mi, mr, in > U ? in : U);
  for (t = 0; t < T; t++) {
    const double *xt = x + source_step(R, t) * in;
    const double *h_prev = step_record(R, work, t);
    double *h = step_record(R, work, t + 1), *xp = h + U, *hp = h + 4 * U, *pre = h + 7 * U;
    double *gate = h + 10 * U, *rh = h + 13 * U;
    const double *z_ = gate, *r_ = gate + U, *cand = gate + 2 * U;
    if (masked_step(R, mask, t)) {
      keep_states(R, work, t, (size_t)U);
      continue;
    }
    for (k = 0; k < 3 * U; k++) {
      xp[k] = b_in != NULL ? b_in[k] : 0.0;
      hp[k] = b_rec != NULL ? b_rec[k] : 0.0;
    }
    add_gates(xt, in, mi, R->in_masks, kernel, 3 * U, U, 0, 3, xp, buf);
    if (R->reset_after)
      add_gates(h_prev, U, mr, R->rec_masks, recurrent, 3 * U, U, 0, 3, hp, buf);
    else /* z and r blocks only */
      add_gates(h_prev, U, mr, R->rec_masks, recurrent, 3 * U, U, 0, 2, hp, buf);
    for (k = 0; k < 2 * U; k++)
      pre[k] = xp[k] + hp[k];
    activation_forward(R->rec_act, pre, gate, U);         /* z */
    activation_forward(R->rec_act, pre + U, gate + U, U); /* r */
    if (R->reset_after) {
      for (u = 0; u < U; u++)
        pre[2 * U + u] = xp[2 * U + u] + r_[u] * hp[2 * U + u];
    } else {
      /* Keras 3 implementation 1: r (h_{t-1} times the candidate block's mask) */
      const double *hm = masked(h_prev, mr, R->rec_masks, 2, U, buf);
      for (u = 0; u < U; u++)
        rh[u] = r_[u] * hm[u];
      add_vec_mat(rh, U, recurrent + 2 * U, 3 * U, U, hp + 2 * U);
      for (u = 0; u < U; u++)
        pre[2 * U + u] = xp[2 * U + u] + hp[2 * U + u];
    }
    activation_forward(R->act, pre + 2 * U, gate + 2 * U, U); /* cand */
    for (u = 0; u < U; u++)
      h[u] = z_[u] * h_prev[u] + (1.0 - z_[u]) * cand[u];
  }
  free(buf);
}

/* As simple_rnn_backward. scratch: 12 U reals. */
static void gru_backward(const rnn *R, const double *params, const double *x, const double *mask,
                         double *work, const double *dh_out, double *grad, double *dx, double *dh0,
                         double *scratch, const double *mi, const double *mr) {
  const double *kernel = params + R->kernel_off;
  const double *recurrent = params + R->recurrent_off;
  double *g_kernel = grad + R->kernel_off;
  double *g_recurrent = grad + R->recurrent_off;
  double *g_b_in = R->use_bias ? grad + R->bias_off : NULL;
  double *g_b_rec = R->use_bias && R->reset_after ? grad + R->bias_off + 3 * R->units : NULL;
  int T = R->T, in = R->in, U = R->units, t, u;
  double *dh = scratch, *dh_next = scratch + U, *dgate = scratch + 2 * U, *dpre = scratch + 5 * U;
  double *dhp = scratch + 8 * U, *drh = scratch + 11 * U;
  double *buf = mask_buffer(mi, mr, in > U ? in : U);

  for (u = 0; u < U; u++)
    dh_next[u] = 0.0;
  for (t = T - 1; t >= 0; t--) {
    int src = source_step(R, t);
    const double *h_prev = step_record(R, work, t);
    const double *h = step_record(R, work, t + 1), *hp = h + 4 * U, *pre = h + 7 * U;
    const double *gate = h + 10 * U, *rh = h + 13 * U;
    const double *z_ = gate, *r_ = gate + U, *cand = gate + 2 * U;
    if (masked_step(R, mask, t)) {
      for (u = 0; u < U; u++)
        dh_next[u] += dh_out[t * U + u];
      continue;
    }
    for (u = 0; u < U; u++) {
      dh[u] = dh_next[u] + dh_out[t * U + u];
      dgate[u] = dh[u] * (h_prev[u] - cand[u]); /* dz */
      dgate[2 * U + u] = dh[u] * (1.0 - z_[u]); /* dcand */
    }
    activation_backward(R->act, pre + 2 * U, cand, dgate + 2 * U, dpre + 2 * U, U);
    if (R->reset_after) {
      for (u = 0; u < U; u++)
        dgate[U + u] = dpre[2 * U + u] * hp[2 * U + u]; /* dr */
    } else {
      for (u = 0; u < U; u++)
        drh[u] = 0.0;
      add_mat_vec(recurrent + 2 * U, U, 3 * U, dpre + 2 * U, U, drh);
      for (u = 0; u < U; u++) /* dr: rh = r (h_{t-1} times its mask) */
        dgate[U + u] =
            drh[u] * h_prev[u] * (mr != NULL ? mr[(R->rec_masks > 1 ? 2 : 0) * U + u] : 1.0);
    }
    activation_backward(R->rec_act, pre, z_, dgate, dpre, U);
    activation_backward(R->rec_act, pre + U, r_, dgate + U, dpre + U, U);

    /* xp = x_t @ K + b_in: d xp = dpre in all three blocks */
    add_outer_gates(x + src * in, in, mi, R->in_masks, dpre, U, 0, 3, g_kernel, 3 * U, buf);
    if (g_b_in != NULL)
      add_to(g_b_in, dpre, 3 * U);
    if (dx != NULL)
      add_mat_vec_gates(kernel, in, 3 * U, dpre, U, 0, 3, mi, R->in_masks, dx + src * in, buf);

    /* hp, and h_{t-1} through h_t = z h_{t-1} + ... directly */
    for (u = 0; u < 2 * U; u++)
      dhp[u] = dpre[u];
    for (u = 0; u < U; u++) {
      dhp[2 * U + u] = R->reset_after ? dpre[2 * U + u] * r_[u] : dpre[2 * U + u];
      dh_next[u] = dh[u] * z_[u];
    }
    if (R->reset_after) { /* hp = h_{t-1} @ R + b_rec */
      add_outer_gates(h_prev, U, mr, R->rec_masks, dhp, U, 0, 3, g_recurrent, 3 * U, buf);
      if (g_b_rec != NULL)
        add_to(g_b_rec, dhp, 3 * U);
      add_mat_vec_gates(recurrent, U, 3 * U, dhp, U, 0, 3, mr, R->rec_masks, dh_next, buf);
    } else { /* hp_zr = h_{t-1} @ R_zr, hp_h = (r h_{t-1}) @ R_h */
      add_outer_gates(h_prev, U, mr, R->rec_masks, dhp, U, 0, 2, g_recurrent, 3 * U, buf);
      add_outer(rh, U, dhp + 2 * U, U, g_recurrent + 2 * U, 3 * U);
      add_mat_vec_gates(recurrent, U, 3 * U, dhp, U, 0, 2, mr, R->rec_masks, dh_next, buf);
      for (u = 0; u < U; u++)
        dh_next[u] += drh[u] * r_[u] * (mr != NULL ? mr[(R->rec_masks > 1 ? 2 : 0) * U + u] : 1.0);
    }
  }
  if (dh0 != NULL) /* dh_next is now d(loss)/dh of record 0 */
    memcpy(dh0, dh_next, (size_t)U * sizeof(double));
  free(buf);
}

/* ------------------------------------------------------------------ recurrent layers */

/* Step records of direction d of a recurrent layer, for one sample. */
static double *dir_work(const layer *L, double *work, int d) {
  return work + (size_t)d * (((size_t)L->dir[0].T + 1) * L->dir[0].record + L->dir[0].mask_size);
}

/* Direction d's dropout masks (after its step records): the input's, then
 * the recurrent state's; NULL when it has none or not training. */
static double *input_masks(const layer *L, double *work, int d, int training) {
  const rnn *R = &L->dir[d];
  if (!training || R->in_masks == 0)
    return NULL;
  return dir_work(L, work, d) + ((size_t)R->T + 1) * R->record;
}

static double *recurrent_masks(const layer *L, double *work, int d, int training) {
  const rnn *R = &L->dir[d];
  if (!training || R->rec_masks == 0)
    return NULL;
  return dir_work(L, work, d) + ((size_t)R->T + 1) * R->record + (size_t)R->in_masks * R->in;
}

/* The processing step of direction d whose h is step t of the layer's output:
 * the last step without return_sequences; with it, the backward copy of a
 * Bidirectional is reversed back in time so that step t of both line up (a
 * plain go_backwards layer is not). */
static int output_step(const layer *L, int d, int t) {
  int T = L->dir[0].T;
  if (!L->return_sequences)
    return T - 1;
  return d == 1 ? T - 1 - t : t;
}

/* The output h of direction d at output step t: its step's h, or NULL for
 * zeros at a masked step with zero_output_for_mask (Keras: where(mask, h,
 * zeros)). */
static const double *output_h(const layer *L, double *work, const double *mask, int d, int t) {
  int p = output_step(L, d, t);
  if (L->zero_output && masked_step(&L->dir[d], mask, p))
    return NULL;
  return step_record(&L->dir[d], dir_work(L, work, d), p + 1);
}

/* One sample. x: T x in; mask: the input's mask (T reals) or NULL; init: with initial_state=1, the
 * sample's initial states (h_0, then c_0 for an LSTM), else NULL; work: the trace; y: all the
 * layer's outputs. */
static void recurrent_forward(const rnnc_ref *m, const layer *L, const double *params,
                              const double *x, const double *mask, const double *init, double *work,
                              double *y, int s, int training) {
  int U = L->dir[0].units, T = L->dir[0].T, steps = L->return_sequences ? T : 1;
  int d, t, u, k;
  if (init != NULL) /* one direction: record 0 gets h_0 (then c_0, as in a record) */
    memcpy(step_record(&L->dir[0], dir_work(L, work, 0), 0), init,
           (size_t)L->n_states * (size_t)U * sizeof(double));
  for (d = 0; d < L->n_dirs; d++) {
    const rnn *R = &L->dir[d];
    double *mi = input_masks(L, work, d, training), *mr = recurrent_masks(L, work, d, training);
    uint64_t seed = R->has_seed ? R->seed : m->noise_seed;
    uint64_t sample = (uint64_t)(m->noise_first + s);
    size_t i;
    /* the masks of this call (Keras's DropoutRNNCell: drawn once, every step) */
    for (i = 0; mi != NULL && i < (size_t)R->in_masks * R->in; i++)
      mi[i] = rnnc_noise_value(RNNC_NOISE_DROPOUT, R->dropout, seed, R->salt_in,
                               (uint64_t)m->noise_step, sample, (uint64_t)i);
    for (i = 0; mr != NULL && i < (size_t)R->rec_masks * R->units; i++)
      mr[i] = rnnc_noise_value(RNNC_NOISE_DROPOUT, R->recurrent_dropout, seed, R->salt_rec,
                               (uint64_t)m->noise_step, sample, (uint64_t)i);
    if (R->cell == LAYER_SIMPLE_RNN)
      simple_rnn_forward(R, params, x, mask, dir_work(L, work, d), mi, mr);
    else if (R->cell == LAYER_LSTM)
      lstm_forward(R, params, x, mask, dir_work(L, work, d), mi, mr);
    else
      gru_forward(R, params, x, mask, dir_work(L, work, d), mi, mr);
  }
#define AV(u) (a != NULL ? a[u] : 0.0)
#define BV(u) (b != NULL ? b[u] : 0.0)
  for (t = 0; t < steps; t++) {
    const double *a = output_h(L, work, mask, 0, t);
    const double *b;
    if (L->n_dirs == 1) {
      for (u = 0; u < U; u++)
        y[t * U + u] = AV(u);
      continue;
    }
    b = output_h(L, work, mask, 1, t);
    for (u = 0; u < U; u++) {
      switch (L->merge_mode) {
      case MERGE_CONCAT:
        y[t * 2 * U + u] = AV(u);
        y[t * 2 * U + U + u] = BV(u);
        break;
      case MERGE_SUM:
        y[t * U + u] = AV(u) + BV(u);
        break;
      case MERGE_MUL:
        y[t * U + u] = AV(u) * BV(u);
        break;
      case MERGE_AVE:
        y[t * U + u] = (AV(u) + BV(u)) / 2.0;
        break;
      default: /* none: two outputs */
        y[L->out_off[0] + t * U + u] = AV(u);
        y[L->out_off[1] + t * U + u] = BV(u);
        break;
      }
    }
  }
#undef AV
#undef BV
  if (L->return_state) { /* [h_T (, c_T)] of each direction, forward first */
    k = L->n_dirs == 2 && L->merge_mode == MERGE_NONE ? 2 : 1;
    for (d = 0; d < L->n_dirs; d++) {
      const double *last = step_record(&L->dir[d], dir_work(L, work, d), T);
      memcpy(y + L->out_off[k++], last, (size_t)U * sizeof(double));
      if (L->dir[d].cell == LAYER_LSTM)
        memcpy(y + L->out_off[k++], last + U, (size_t)U * sizeof(double));
    }
  }
}

/* One sample. dy: d(loss)/d(all the layer's outputs). Adds to grad; dx (may be
 * NULL) is overwritten; so is dinit (NULL, or with initial_state=1 the
 * sample's d(loss)/d(initial states): dh_0, then dc_0 for an LSTM). scratch:
 * L->scratch_size reals. */
static void recurrent_backward(const layer *L, const double *params, const double *x,
                               const double *mask, double *work, const double *dy, double *grad,
                               double *dx, double *dinit, double *scratch, int training) {
  int U = L->dir[0].units, T = L->dir[0].T, steps = L->return_sequences ? T : 1;
  int d, t, u, k;
  /* per direction d: dh_out[d] (T x U, processing order) and dc_last[d] (U) */
  double *dh_out[2], *dc_last[2], *step_scratch;
  size_t i;
  for (d = 0; d < L->n_dirs; d++) {
    dh_out[d] = scratch + (size_t)d * ((size_t)T * U + U);
    dc_last[d] = dh_out[d] + (size_t)T * U;
  }
  step_scratch = scratch + (size_t)L->n_dirs * ((size_t)T * U + U);
  for (i = 0; i < (size_t)L->n_dirs * ((size_t)T * U + U); i++)
    scratch[i] = 0.0;

  /* the outputs' gradients onto the steps' h (+= : several outputs may read one step) */
  for (t = 0; t < steps; t++) {
    double *da = dh_out[0] + output_step(L, 0, t) * U, *db;
    const double *a, *b;
    if (L->n_dirs == 1) {
      for (u = 0; u < U; u++)
        da[u] += dy[t * U + u];
      continue;
    }
    db = dh_out[1] + output_step(L, 1, t) * U;
    a = output_h(L, work, mask, 0, t);
    b = output_h(L, work, mask, 1, t);
    for (u = 0; u < U; u++) {
      switch (L->merge_mode) {
      case MERGE_CONCAT:
        da[u] += dy[t * 2 * U + u];
        db[u] += dy[t * 2 * U + U + u];
        break;
      case MERGE_SUM:
        da[u] += dy[t * U + u];
        db[u] += dy[t * U + u];
        break;
      case MERGE_MUL: /* a zeroed output (NULL) is 0 */
        da[u] += dy[t * U + u] * (b != NULL ? b[u] : 0.0);
        db[u] += dy[t * U + u] * (a != NULL ? a[u] : 0.0);
        break;
      case MERGE_AVE:
        da[u] += dy[t * U + u] / 2.0;
        db[u] += dy[t * U + u] / 2.0;
        break;
      default: /* none */
        da[u] += dy[L->out_off[0] + t * U + u];
        db[u] += dy[L->out_off[1] + t * U + u];
        break;
      }
    }
  }
  /* zero_output_for_mask: a masked step's output is a constant 0 */
  for (d = 0; d < L->n_dirs && L->zero_output; d++)
    for (t = 0; t < steps; t++)
      if (output_h(L, work, mask, d, t) == NULL)
        memset(dh_out[d] + output_step(L, d, t) * U, 0, (size_t)U * sizeof(double));
  if (L->return_state) { /* h_T is the last step's h; c_T the last c */
    k = L->n_dirs == 2 && L->merge_mode == MERGE_NONE ? 2 : 1;
    for (d = 0; d < L->n_dirs; d++) {
      for (u = 0; u < U; u++)
        dh_out[d][(T - 1) * U + u] += dy[L->out_off[k] + u];
      k++;
      if (L->dir[d].cell == LAYER_LSTM) {
        for (u = 0; u < U; u++)
          dc_last[d][u] = dy[L->out_off[k] + u];
        k++;
      }
    }
  }

  if (dx != NULL)
    for (i = 0; i < L->in_size; i++)
      dx[i] = 0.0; /* both directions add to it */
  for (d = 0; d < L->n_dirs; d++) {
    const rnn *R = &L->dir[d];
    /* initial_state=1 layers have one direction */
    double *dh0 = d == 0 ? dinit : NULL, *dc0 = dh0 != NULL ? dh0 + U : NULL;
    const double *mi = input_masks(L, work, d, training),
                 *mr = recurrent_masks(L, work, d, training);
    if (R->cell == LAYER_SIMPLE_RNN)
      simple_rnn_backward(R, params, x, mask, dir_work(L, work, d), dh_out[d], grad, dx, dh0,
                          step_scratch, mi, mr);
    else if (R->cell == LAYER_LSTM)
      lstm_backward(R, params, x, mask, dir_work(L, work, d), dh_out[d], dc_last[d], grad, dx, dh0,
                    dc0, step_scratch, mi, mr);
    else
      gru_backward(R, params, x, mask, dir_work(L, work, d), dh_out[d], grad, dx, dh0, step_scratch,
                   mi, mr);
  }
}

/* ------------------------------------------------------------------ front-end layers
 *
 * Convolutions, pooling, shape and normalisation layers on a sample's (T, C)
 * input (T = 1 for a vector), written as their definitions: every output
 * element a sum over the input elements it reads, every gradient the
 * transposed sum. Nothing here is shared with the generator's lowering. */

/* An integer key in lo..hi. */
static int get_int(const layer_line *ll, const char *key, int lo, int hi, int *out, char *err,
                   size_t errlen) {
  const char *v = key_value(ll, key);
  if (v == NULL || parse_int(v, lo, hi, out) != 0) {
    set_err(err, errlen, "line %d: layer '%s': bad number '%s' for %s (want %d..%d)", ll->line,
            ll->name, v ? v : "", key, lo, hi);
    return -1;
  }
  return 0;
}

/* The input rows an output step reads: TensorFlow's SAME rule, causal
 * padding, or none (valid). Sets F->before, F->after, F->To. */
static int front_window(front *F, const char *padding, int size) {
  if (strcmp(padding, "valid") == 0) {
    if (F->T < size)
      return -1;
    F->To = (F->T - size) / F->s + 1;
    F->before = F->after = 0;
  } else if (strcmp(padding, "same") == 0) {
    int total;
    F->To = (F->T + F->s - 1) / F->s;
    total = (F->To - 1) * F->s + size - F->T;
    if (total < 0)
      total = 0;
    F->before = total / 2;
    F->after = total - total / 2;
  } else if (strcmp(padding, "causal") == 0) {
    F->To = (F->T + F->s - 1) / F->s;
    F->before = size - 1;
    F->after = 0;
  } else {
    return -2;
  }
  return 0;
}

static void front_weight(layer *L, size_t size) {
  L->fe.w_size[L->fe.n_w++] = size;
}

/* Fills a front-end layer from its line, given its input's shape. */
static int build_front(layer *L, const layer_line *ll, int in_rank, const int *in_shape, char *err,
                       size_t errlen) {
  front *F = &L->fe;
  int kind = L->kind, size, status, filters = 0;
  const char *padding = NULL;
  memset(F, 0, sizeof *F);
  F->T = in_rank == 2 ? in_shape[0] : 1;
  F->C = in_shape[in_rank - 1];
  F->To = F->T;
  F->Co = F->C;
  L->out_rank = in_rank;
  if (kind == LAYER_CONV1D || kind == LAYER_SEPARABLE_CONV1D || kind == LAYER_DEPTHWISE_CONV1D ||
      kind == LAYER_MAX_POOLING1D || kind == LAYER_AVERAGE_POOLING1D ||
      kind == LAYER_GLOBAL_MAX_POOLING1D || kind == LAYER_GLOBAL_AVERAGE_POOLING1D ||
      kind == LAYER_ZERO_PADDING1D || kind == LAYER_CROPPING1D || kind == LAYER_UP_SAMPLING1D) {
    if (in_rank != 2) {
      set_err(err, errlen, "line %d: layer '%s': %s needs a rank-2 (steps, channels) input",
              ll->line, ll->name, ll->cls->name);
      return -1;
    }
  }
  if (kind == LAYER_CONV1D || kind == LAYER_SEPARABLE_CONV1D || kind == LAYER_DEPTHWISE_CONV1D) {
    F->groups = 1;
    F->mult = 1;
    if (get_int(ll, "kernel_size", 1, MAX_DIM, &F->k, err, errlen) != 0 ||
        get_int(ll, "strides", 1, MAX_DIM, &F->s, err, errlen) != 0 ||
        get_int(ll, "dilation_rate", 1, MAX_DIM, &F->d, err, errlen) != 0 ||
        get_activation(ll, "activation", &F->act, err, errlen) != 0 ||
        get_bool(ll, "use_bias", &F->use_bias, err, errlen) != 0)
      return -1;
    if (kind != LAYER_DEPTHWISE_CONV1D &&
        get_int(ll, "filters", 1, MAX_DIM, &filters, err, errlen) != 0)
      return -1;
    if (kind == LAYER_CONV1D && get_int(ll, "groups", 1, MAX_DIM, &F->groups, err, errlen) != 0)
      return -1;
    if (kind != LAYER_CONV1D &&
        get_int(ll, "depth_multiplier", 1, MAX_DIM, &F->mult, err, errlen) != 0)
      return -1;
    if (F->C % F->groups != 0 || filters % F->groups != 0) {
      set_err(err, errlen, "line %d: layer '%s': groups %d must divide %d channels and %d filters",
              ll->line, ll->name, F->groups, F->C, filters);
      return -1;
    }
    if ((double)F->d * (F->k - 1) + 1 > MAX_DIM) {
      set_err(err, errlen, "line %d: layer '%s': too large", ll->line, ll->name);
      return -1;
    }
    size = F->d * (F->k - 1) + 1;
    padding = key_value(ll, "padding");
    status = front_window(F, padding, size);
    if (kind == LAYER_CONV1D) {
      F->Co = filters;
      front_weight(L, (size_t)F->k * (size_t)(F->C / F->groups) * (size_t)filters);
    } else if (kind == LAYER_DEPTHWISE_CONV1D) {
      F->Co = F->C * F->mult;
      front_weight(L, (size_t)F->k * (size_t)F->C * (size_t)F->mult);
    } else {
      F->Co = filters;
      front_weight(L, (size_t)F->k * (size_t)F->C * (size_t)F->mult);
      front_weight(L, (size_t)F->C * (size_t)F->mult * (size_t)filters);
    }
    if (F->use_bias)
      front_weight(L, (size_t)F->Co);
  } else if (kind == LAYER_MAX_POOLING1D || kind == LAYER_AVERAGE_POOLING1D) {
    if (get_int(ll, "pool_size", 1, MAX_DIM, &F->k, err, errlen) != 0 ||
        get_int(ll, "strides", 1, MAX_DIM, &F->s, err, errlen) != 0)
      return -1;
    F->d = 1;
    padding = key_value(ll, "padding");
    status = strcmp(padding, "causal") == 0 ? -2 : front_window(F, padding, F->k);
  } else {
    status = 0;
    switch (kind) {
    case LAYER_GLOBAL_MAX_POOLING1D:
    case LAYER_GLOBAL_AVERAGE_POOLING1D:
      F->keepdims = 0;
      if (key_value(ll, "keepdims") != NULL && get_bool(ll, "keepdims", &F->keepdims, err, errlen))
        return -1;
      F->To = 1;
      L->out_rank = F->keepdims ? 2 : 1;
      break;
    case LAYER_ZERO_PADDING1D:
    case LAYER_CROPPING1D: {
      int a, b;
      if (get_int(ll, "before", 0, MAX_DIM, &a, err, errlen) != 0 ||
          get_int(ll, "after", 0, MAX_DIM, &b, err, errlen) != 0)
        return -1;
      F->before = a;
      F->after = b;
      if (kind == LAYER_ZERO_PADDING1D)
        F->To = F->T + a + b;
      else if (a + b >= F->T)
        status = -1;
      else
        F->To = F->T - a - b;
      break;
    }
    case LAYER_UP_SAMPLING1D:
      if (get_int(ll, "size", 1, MAX_DIM, &F->n, err, errlen) != 0)
        return -1;
      F->To = F->T * F->n;
      break;
    case LAYER_FLATTEN:
      F->To = 1;
      F->Co = F->T * F->C;
      L->out_rank = 1;
      break;
    case LAYER_RESHAPE: {
      const char *v = key_value(ll, "target");
      const char *comma = strchr(v, ',');
      int a = 0, b = 0;
      char first[16];
      if (comma != NULL && (size_t)(comma - v) < sizeof first) {
        memcpy(first, v, (size_t)(comma - v));
        first[comma - v] = '\0';
        if (parse_int(first, 1, MAX_DIM, &a) != 0 || parse_int(comma + 1, 1, MAX_DIM, &b) != 0)
          status = -3;
        F->To = a;
        F->Co = b;
        L->out_rank = 2;
      } else if (comma == NULL && parse_int(v, 1, MAX_DIM, &b) == 0) {
        F->To = 1;
        F->Co = b;
        L->out_rank = 1;
      } else {
        status = -3;
      }
      if (status == 0 && (double)F->To * F->Co != (double)F->T * F->C)
        status = -3;
      if (status != 0) {
        set_err(err, errlen, "line %d: layer '%s': bad target '%s' for %d x %d values", ll->line,
                ll->name, v, F->T, F->C);
        return -1;
      }
      break;
    }
    case LAYER_PERMUTE:
      if (get_bool(ll, "swap", &F->swap, err, errlen) != 0)
        return -1;
      if (F->swap) {
        if (in_rank != 2)
          status = -1;
        F->To = F->C;
        F->Co = F->T;
      }
      break;
    case LAYER_REPEAT_VECTOR:
      if (in_rank != 1) {
        set_err(err, errlen, "line %d: layer '%s': RepeatVector needs a rank-1 input", ll->line,
                ll->name);
        return -1;
      }
      if (get_int(ll, "n", 1, MAX_DIM, &F->n, err, errlen) != 0)
        return -1;
      F->To = F->n;
      L->out_rank = 2;
      break;
    case LAYER_EMBEDDING:
      /* the model's tokens, one per step: (T,) in, (T, output_dim) out;
       * n: the table's rows (input_dim) */
      if (in_rank != 1) {
        set_err(err, errlen, "line %d: layer '%s': Embedding needs rank-1 tokens (steps,)",
                ll->line, ll->name);
        return -1;
      }
      if (get_int(ll, "input_dim", 1, MAX_DIM, &F->n, err, errlen) != 0 ||
          get_int(ll, "output_dim", 1, MAX_DIM, &F->Co, err, errlen) != 0 ||
          get_optional_bool(ll, "mask_zero", &F->mask_zero, err, errlen) != 0)
        return -1;
      F->T = F->To = in_shape[0];
      F->C = 1;
      L->out_rank = 2;
      front_weight(L, (size_t)F->n * (size_t)F->Co); /* embeddings (input_dim, output_dim) */
      break;
    case LAYER_LAYER_NORMALIZATION:
      if (get_real(ll, "epsilon", &F->epsilon, err, errlen) != 0 ||
          get_bool(ll, "center", &F->center, err, errlen) != 0 ||
          get_bool(ll, "scale", &F->scale, err, errlen) != 0 ||
          get_bool(ll, "rms_scaling", &F->rms, err, errlen) != 0)
        return -1;
      if (F->scale || F->rms)
        front_weight(L, (size_t)F->C); /* gamma */
      if (F->center && !F->rms)
        front_weight(L, (size_t)F->C); /* beta */
      break;
    case LAYER_BATCH_NORMALIZATION:
      if (get_real(ll, "momentum", &F->momentum, err, errlen) != 0 ||
          get_real(ll, "epsilon", &F->epsilon, err, errlen) != 0 ||
          get_bool(ll, "center", &F->center, err, errlen) != 0 ||
          get_bool(ll, "scale", &F->scale, err, errlen) != 0)
        return -1;
      if (F->scale)
        front_weight(L, (size_t)F->C); /* gamma */
      if (F->center)
        front_weight(L, (size_t)F->C); /* beta */
      front_weight(L, (size_t)F->C);   /* moving_mean */
      front_weight(L, (size_t)F->C);   /* moving_variance */
      break;
    default:
      break;
    }
  }
  if (status == -2) {
    set_err(err, errlen, "line %d: layer '%s': unknown padding '%s'", ll->line, ll->name, padding);
    return -1;
  }
  if (status != 0) {
    set_err(err, errlen, "line %d: layer '%s': the input (%d, %d) is too short for the layer",
            ll->line, ll->name, F->T, F->C);
    return -1;
  }
  if (L->out_rank == 2) {
    L->out_shape[0] = F->To;
    L->out_shape[1] = F->Co;
  } else {
    L->out_shape[0] = F->Co;
  }
  if ((double)F->To * F->Co > MAX_SIZE || (double)F->T * F->C > MAX_SIZE) {
    set_err(err, errlen, "line %d: layer '%s': too large", ll->line, ll->name);
    return -1;
  }
  L->in_size = (size_t)F->T * (size_t)F->C;
  L->out_size = (size_t)F->To * (size_t)F->Co;
  L->out_cols = (size_t)F->Co;
  L->n_outputs = 1;
  L->out_part[0] = L->out_size;
  L->out_off[0] = 0;
  /* work: the pre-activation (convolutions; for SeparableConv1D then the
   * depthwise output), a normalised input and per-row statistics */
  L->work_size = 1;
  if (kind == LAYER_CONV1D || kind == LAYER_DEPTHWISE_CONV1D)
    L->work_size = L->out_size;
  else if (kind == LAYER_SEPARABLE_CONV1D)
    L->work_size = L->out_size + (size_t)F->To * (size_t)F->C * (size_t)F->mult;
  else if (kind == LAYER_LAYER_NORMALIZATION)
    L->work_size = L->in_size + 2 * (size_t)F->T;
  else if (kind == LAYER_BATCH_NORMALIZATION)
    L->work_size = L->in_size + 2 * (size_t)F->C;
  else if (kind == LAYER_EMBEDDING && F->mask_zero)
    L->work_size = (size_t)F->T; /* the mask of every step */
  L->scratch_size = (size_t)F->Co + (size_t)F->C * (size_t)F->mult + 4 * (size_t)F->C + 1;
  L->n_params = 0;
  for (int w = 0; w < F->n_w; w++)
    L->n_params += F->w_size[w];
  return 0;
}

static void assign_front_offsets(layer *L, size_t *offset) {
  for (int w = 0; w < L->fe.n_w; w++) {
    L->fe.w_off[w] = *offset;
    *offset += L->fe.w_size[w];
  }
}

/* Whether the layer's output is act(pre-activation) with the pre-activation
 * first in its work (a crossentropy may start from those logits). */
static int front_has_logits(const layer *L) {
  return L->kind == LAYER_CONV1D || L->kind == LAYER_DEPTHWISE_CONV1D ||
         L->kind == LAYER_SEPARABLE_CONV1D;
}

/* Input row of output step t and tap i, or -1 when it falls in the padding. */
static int front_row(const front *F, int t, int i) {
  int r = t * F->s + i * F->d - F->before;
  return r >= 0 && r < F->T ? r : -1;
}

/* A depthwise convolution: out[t][c * m + j] += x[row][c] * w[i][c][j]. */
static void depthwise_forward(const front *F, const double *w, const double *x, double *out) {
  int t, i, c, j, m = F->mult;
  for (t = 0; t < F->To; t++)
    for (i = 0; i < F->k; i++) {
      int r = front_row(F, t, i);
      if (r < 0)
        continue;
      for (c = 0; c < F->C; c++)
        for (j = 0; j < m; j++)
          out[(size_t)t * F->C * m + c * m + j] +=
              x[(size_t)r * F->C + c] * w[(i * F->C + c) * m + j];
    }
}

static void depthwise_backward(const front *F, const double *w, const double *x, const double *dout,
                               double *gw, double *dx) {
  int t, i, c, j, m = F->mult;
  for (t = 0; t < F->To; t++)
    for (i = 0; i < F->k; i++) {
      int r = front_row(F, t, i);
      if (r < 0)
        continue;
      for (c = 0; c < F->C; c++)
        for (j = 0; j < m; j++) {
          double d = dout[(size_t)t * F->C * m + c * m + j];
          gw[(i * F->C + c) * m + j] += x[(size_t)r * F->C + c] * d;
          if (dx != NULL)
            dx[(size_t)r * F->C + c] += w[(i * F->C + c) * m + j] * d;
        }
    }
}

/* One sample of a front-end layer (not BatchNormalization in training).
 * x: T x C; work: see build_front; y: To x Co. */
static void front_forward(const layer *L, const double *params, const double *x, double *work,
                          double *y) {
  const front *F = &L->fe;
  int t, c, i, f, T = F->T, C = F->C, To = F->To, Co = F->Co;
  switch (L->kind) {
  case LAYER_CONV1D: {
    const double *w = params + F->w_off[0];
    const double *b = F->use_bias ? params + F->w_off[1] : NULL;
    int Cg = C / F->groups, Fg = Co / F->groups;
    for (t = 0; t < To; t++) {
      for (f = 0; f < Co; f++) {
        int g = f / Fg;
        double s = b != NULL ? b[f] : 0.0;
        for (i = 0; i < F->k; i++) {
          int r = front_row(F, t, i);
          if (r < 0)
            continue;
          for (c = 0; c < Cg; c++)
            s += x[(size_t)r * C + g * Cg + c] * w[((size_t)i * Cg + c) * Co + f];
        }
        work[(size_t)t * Co + f] = s;
      }
      activation_forward(F->act, work + (size_t)t * Co, y + (size_t)t * Co, Co);
    }
    break;
  }
  case LAYER_DEPTHWISE_CONV1D:
  case LAYER_SEPARABLE_CONV1D: {
    int sep = L->kind == LAYER_SEPARABLE_CONV1D, CM = C * F->mult;
    double *z = work, *dz = sep ? work + L->out_size : work;
    const double *b = F->use_bias ? params + F->w_off[sep ? 2 : 1] : NULL;
    memset(dz, 0, (size_t)To * CM * sizeof(double));
    depthwise_forward(F, params + F->w_off[0], x, dz);
    if (sep) {
      const double *pw = params + F->w_off[1];
      for (t = 0; t < To; t++)
        for (f = 0; f < Co; f++) {
          double s = 0.0;
          for (c = 0; c < CM; c++)
            s += dz[(size_t)t * CM + c] * pw[(size_t)c * Co + f];
          z[(size_t)t * Co + f] = s;
        }
    }
    for (t = 0; t < To; t++) {
      if (b != NULL)
        for (f = 0; f < Co; f++)
          z[(size_t)t * Co + f] += b[f];
      activation_forward(F->act, z + (size_t)t * Co, y + (size_t)t * Co, Co);
    }
    break;
  }
  case LAYER_MAX_POOLING1D:
  case LAYER_AVERAGE_POOLING1D:
    for (t = 0; t < To; t++)
      for (c = 0; c < C; c++) {
        double v = 0.0;
        int n = 0;
        for (i = 0; i < F->k; i++) {
          int r = front_row(F, t, i);
          double e;
          if (r < 0)
            continue; /* outside the input: not in the window */
          e = x[(size_t)r * C + c];
          if (L->kind == LAYER_AVERAGE_POOLING1D)
            v += e;
          else if (n == 0 || e > v)
            v = e;
          n++;
        }
        y[(size_t)t * C + c] = L->kind == LAYER_AVERAGE_POOLING1D ? v / n : v;
      }
    break;
  case LAYER_GLOBAL_MAX_POOLING1D:
  case LAYER_GLOBAL_AVERAGE_POOLING1D:
    for (c = 0; c < C; c++) {
      double v = x[c];
      for (t = 1; t < T; t++) {
        double e = x[(size_t)t * C + c];
        if (L->kind == LAYER_GLOBAL_AVERAGE_POOLING1D)
          v += e;
        else if (e > v)
          v = e;
      }
      y[c] = L->kind == LAYER_GLOBAL_AVERAGE_POOLING1D ? v / T : v;
    }
    break;
  case LAYER_ZERO_PADDING1D:
    for (t = 0; t < To; t++)
      for (c = 0; c < C; c++) {
        int r = t - F->before;
        y[(size_t)t * C + c] = r >= 0 && r < T ? x[(size_t)r * C + c] : 0.0;
      }
    break;
  case LAYER_CROPPING1D:
    memcpy(y, x + (size_t)F->before * C, L->out_size * sizeof(double));
    break;
  case LAYER_UP_SAMPLING1D:
    for (t = 0; t < To; t++)
      memcpy(y + (size_t)t * C, x + (size_t)(t / F->n) * C, (size_t)C * sizeof(double));
    break;
  case LAYER_REPEAT_VECTOR:
    for (t = 0; t < To; t++)
      memcpy(y + (size_t)t * C, x, (size_t)C * sizeof(double));
    break;
  case LAYER_EMBEDDING: {
    /* y[t] = embeddings[x[t]] (Keras 3 Embedding.call: ops.take(embeddings,
     * inputs, axis=0)); a token that is not a whole number in [0, input_dim)
     * gives a row of NaN, as the generated code does */
    const double *w = params + F->w_off[0];
    for (t = 0; t < T; t++) {
      double v = x[t];
      if (F->mask_zero) /* Keras 3 Embedding.compute_mask: tokens != 0 */
        work[t] = v != 0.0;
      if (v >= 0 && v < F->n && v == floor(v))
        memcpy(y + (size_t)t * Co, w + (size_t)v * Co, (size_t)Co * sizeof(double));
      else
        for (c = 0; c < Co; c++)
          y[(size_t)t * Co + c] = NAN;
    }
    break;
  }
  case LAYER_PERMUTE:
    if (F->swap) {
      for (t = 0; t < T; t++)
        for (c = 0; c < C; c++)
          y[(size_t)c * T + t] = x[(size_t)t * C + c];
    } else {
      memcpy(y, x, L->out_size * sizeof(double));
    }
    break;
  case LAYER_FLATTEN:
  case LAYER_RESHAPE:
    memcpy(y, x, L->out_size * sizeof(double));
    break;
  case LAYER_LAYER_NORMALIZATION: {
    /* work: the normalised x (T x C), then each row's mean and 1/sqrt(var + eps) */
    const double *gamma = F->scale || F->rms ? params + F->w_off[0] : NULL;
    const double *beta = F->center && !F->rms ? params + F->w_off[gamma ? 1 : 0] : NULL;
    double *xhat = work, *mean = work + L->in_size, *inv = mean + T;
    for (t = 0; t < T; t++) {
      const double *xr = x + (size_t)t * C;
      double m = 0.0, v = 0.0;
      for (c = 0; c < C; c++)
        m += xr[c];
      m /= C;
      for (c = 0; c < C; c++)
        v += (xr[c] - m) * (xr[c] - m);
      v /= C;
      mean[t] = m;
      inv[t] = 1.0 / sqrt(v + F->epsilon);
      for (c = 0; c < C; c++) {
        /* rms_scaling (Keras 3): x / sqrt(var + eps) * gamma, not centred */
        xhat[(size_t)t * C + c] = (F->rms ? xr[c] : xr[c] - m) * inv[t];
        y[(size_t)t * C + c] =
            xhat[(size_t)t * C + c] * (gamma ? gamma[c] : 1.0) + (beta ? beta[c] : 0.0);
      }
    }
    break;
  }
  case LAYER_BATCH_NORMALIZATION: {
    /* inference: the moving statistics. work: xhat, then the mean and the
     * variance used */
    const double *gamma = F->scale ? params + F->w_off[0] : NULL;
    const double *beta = F->center ? params + F->w_off[F->scale ? 1 : 0] : NULL;
    const double *mm = params + F->w_off[F->n_w - 2], *mv = params + F->w_off[F->n_w - 1];
    double *xhat = work, *mean = work + L->in_size, *var = mean + C;
    for (c = 0; c < C; c++) {
      mean[c] = mm[c];
      var[c] = mv[c];
    }
    for (t = 0; t < T; t++)
      for (c = 0; c < C; c++) {
        size_t e = (size_t)t * C + c;
        xhat[e] = (x[e] - mean[c]) / sqrt(var[c] + F->epsilon);
        y[e] = xhat[e] * (gamma ? gamma[c] : 1.0) + (beta ? beta[c] : 0.0);
      }
    break;
  }
  default:
    break;
  }
}

/* BatchNormalization in training: the statistics of the whole batch, every
 * step of every sample (Keras's moments over all axes but the last; the
 * biased variance). x: n inputs `in_stride` apart; each sample's work gets
 * xhat and the batch's mean and variance. */
static void batchnorm_train_forward(const layer *L, const double *params, const double *const *xs,
                                    int n, double *work, double *ys) {
  const front *F = &L->fe;
  const double *gamma = F->scale ? params + F->w_off[0] : NULL;
  const double *beta = F->center ? params + F->w_off[F->scale ? 1 : 0] : NULL;
  int T = F->T, C = F->C, s, t, c;
  double N = (double)n * T;
  for (c = 0; c < C; c++) {
    double m = 0.0, v = 0.0, inv;
    for (s = 0; s < n; s++)
      for (t = 0; t < T; t++)
        m += xs[s][(size_t)t * C + c];
    m /= N;
    for (s = 0; s < n; s++)
      for (t = 0; t < T; t++) {
        double u = xs[s][(size_t)t * C + c] - m;
        v += u * u;
      }
    v /= N;
    inv = 1.0 / sqrt(v + F->epsilon);
    for (s = 0; s < n; s++) {
      double *w = work + (size_t)s * L->work_size;
      w[L->in_size + c] = m;
      w[L->in_size + C + c] = v;
      for (t = 0; t < T; t++) {
        size_t e = (size_t)t * C + c;
        w[e] = (xs[s][e] - m) * inv;
        ys[(size_t)s * L->out_size + e] = w[e] * (gamma ? gamma[c] : 1.0) + (beta ? beta[c] : 0.0);
      }
    }
  }
}

/* Its backward through the batch statistics. dys, dxs: n arrays (dxs[s] may
 * be NULL); adds to grad. */
static void batchnorm_train_backward(const layer *L, const double *params, const double *work,
                                     int n, const double *const *dys, double *const *dxs,
                                     double *grad) {
  const front *F = &L->fe;
  const double *gamma = F->scale ? params + F->w_off[0] : NULL;
  double *ggamma = F->scale ? grad + F->w_off[0] : NULL;
  double *gbeta = F->center ? grad + F->w_off[F->scale ? 1 : 0] : NULL;
  int T = F->T, C = F->C, s, t, c;
  double N = (double)n * T;
  for (c = 0; c < C; c++) {
    /* y = xhat g + b, xhat = (x - m) inv: dx = inv (dxhat - mean(dxhat) -
     * xhat mean(dxhat xhat)) */
    double var = work[L->in_size + C + c], inv = 1.0 / sqrt(var + F->epsilon);
    double sum_d = 0.0, sum_dx = 0.0;
    for (s = 0; s < n; s++)
      for (t = 0; t < T; t++) {
        size_t e = (size_t)t * C + c;
        double dy = dys[s][e], xhat = work[(size_t)s * L->work_size + e];
        double dxhat = dy * (gamma ? gamma[c] : 1.0);
        if (ggamma)
          ggamma[c] += dy * xhat;
        if (gbeta)
          gbeta[c] += dy;
        sum_d += dxhat;
        sum_dx += dxhat * xhat;
      }
    for (s = 0; s < n; s++) {
      if (dxs[s] == NULL)
        continue;
      for (t = 0; t < T; t++) {
        size_t e = (size_t)t * C + c;
        double xhat = work[(size_t)s * L->work_size + e];
        double dxhat = dys[s][e] * (gamma ? gamma[c] : 1.0);
        dxs[s][e] = inv * (dxhat - sum_d / N - xhat * sum_dx / N);
      }
    }
  }
}

/* One sample's backward: dy = d(loss)/d(y) (of the pre-activation when
 * from_logits); adds to grad; dx (may be NULL) is overwritten. scratch:
 * L->scratch_size reals. */
static void front_backward(const layer *L, const double *params, const double *x,
                           const double *work, const double *y, const double *dy, int from_logits,
                           double *grad, double *dx, double *scratch) {
  const front *F = &L->fe;
  int t, c, i, f, T = F->T, C = F->C, To = F->To, Co = F->Co;
  if (dx != NULL)
    memset(dx, 0, L->in_size * sizeof(double));
  switch (L->kind) {
  case LAYER_CONV1D: {
    const double *w = params + F->w_off[0];
    double *gw = grad + F->w_off[0], *gb = F->use_bias ? grad + F->w_off[1] : NULL;
    double *dz = scratch;
    int Cg = C / F->groups, Fg = Co / F->groups;
    for (t = 0; t < To; t++) {
      if (from_logits)
        memcpy(dz, dy + (size_t)t * Co, (size_t)Co * sizeof(double));
      else
        activation_backward(F->act, work + (size_t)t * Co, y + (size_t)t * Co, dy + (size_t)t * Co,
                            dz, Co);
      for (f = 0; f < Co; f++) {
        int g = f / Fg;
        if (gb != NULL)
          gb[f] += dz[f];
        for (i = 0; i < F->k; i++) {
          int r = front_row(F, t, i);
          if (r < 0)
            continue;
          for (c = 0; c < Cg; c++) {
            size_t wi = ((size_t)i * Cg + c) * Co + f, xi = (size_t)r * C + g * Cg + c;
            gw[wi] += x[xi] * dz[f];
            if (dx != NULL)
              dx[xi] += w[wi] * dz[f];
          }
        }
      }
    }
    break;
  }
  case LAYER_DEPTHWISE_CONV1D:
  case LAYER_SEPARABLE_CONV1D: {
    int sep = L->kind == LAYER_SEPARABLE_CONV1D, CM = C * F->mult;
    const double *z = work, *dw_out = sep ? work + L->out_size : work;
    double *gb = F->use_bias ? grad + F->w_off[sep ? 2 : 1] : NULL;
    double *dz = scratch, *ddw = scratch + Co;
    double *ddw_all = (double *)calloc((size_t)To * CM, sizeof(double));
    if (ddw_all == NULL)
      return;
    for (t = 0; t < To; t++) {
      if (from_logits)
        memcpy(dz, dy + (size_t)t * Co, (size_t)Co * sizeof(double));
      else
        activation_backward(F->act, z + (size_t)t * Co, y + (size_t)t * Co, dy + (size_t)t * Co, dz,
                            Co);
      if (gb != NULL)
        for (f = 0; f < Co; f++)
          gb[f] += dz[f];
      if (sep) {
        const double *pw = params + F->w_off[1];
        double *gpw = grad + F->w_off[1];
        for (c = 0; c < CM; c++) {
          double s = 0.0;
          for (f = 0; f < Co; f++) {
            gpw[(size_t)c * Co + f] += dw_out[(size_t)t * CM + c] * dz[f];
            s += pw[(size_t)c * Co + f] * dz[f];
          }
          ddw[c] = s;
        }
        memcpy(ddw_all + (size_t)t * CM, ddw, (size_t)CM * sizeof(double));
      } else {
        memcpy(ddw_all + (size_t)t * CM, dz, (size_t)CM * sizeof(double));
      }
    }
    depthwise_backward(F, params + F->w_off[0], x, ddw_all, grad + F->w_off[0], dx);
    free(ddw_all);
    break;
  }
  case LAYER_MAX_POOLING1D:
  case LAYER_AVERAGE_POOLING1D:
    if (dx == NULL)
      break;
    for (t = 0; t < To; t++)
      for (c = 0; c < C; c++) {
        int n = 0, best = -1;
        double v = 0.0;
        for (i = 0; i < F->k; i++) {
          int r = front_row(F, t, i);
          if (r < 0)
            continue;
          /* the first maximum of the window takes the gradient */
          if (n == 0 || x[(size_t)r * C + c] > v) {
            v = x[(size_t)r * C + c];
            best = r;
          }
          n++;
        }
        if (L->kind == LAYER_MAX_POOLING1D) {
          dx[(size_t)best * C + c] += dy[(size_t)t * C + c];
        } else {
          for (i = 0; i < F->k; i++) {
            int r = front_row(F, t, i);
            if (r >= 0)
              dx[(size_t)r * C + c] += dy[(size_t)t * C + c] / n;
          }
        }
      }
    break;
  case LAYER_GLOBAL_MAX_POOLING1D:
  case LAYER_GLOBAL_AVERAGE_POOLING1D:
    if (dx == NULL)
      break;
    for (c = 0; c < C; c++) {
      if (L->kind == LAYER_GLOBAL_AVERAGE_POOLING1D) {
        for (t = 0; t < T; t++)
          dx[(size_t)t * C + c] = dy[c] / T;
      } else {
        int best = 0;
        for (t = 1; t < T; t++)
          if (x[(size_t)t * C + c] > x[(size_t)best * C + c])
            best = t;
        dx[(size_t)best * C + c] = dy[c];
      }
    }
    break;
  case LAYER_ZERO_PADDING1D:
    if (dx != NULL)
      memcpy(dx, dy + (size_t)F->before * C, L->in_size * sizeof(double));
    break;
  case LAYER_CROPPING1D:
    if (dx != NULL)
      memcpy(dx + (size_t)F->before * C, dy, L->out_size * sizeof(double));
    break;
  case LAYER_UP_SAMPLING1D:
    if (dx != NULL)
      for (t = 0; t < To; t++)
        for (c = 0; c < C; c++)
          dx[(size_t)(t / F->n) * C + c] += dy[(size_t)t * C + c];
    break;
  case LAYER_REPEAT_VECTOR:
    if (dx != NULL)
      for (t = 0; t < To; t++)
        for (c = 0; c < C; c++)
          dx[c] += dy[(size_t)t * C + c];
    break;
  case LAYER_EMBEDDING: {
    /* the table's gradient: row x[t] += dy[t] (a scatter-add); the tokens
     * have none (dx stays zero) */
    double *gw = grad + F->w_off[0];
    for (t = 0; t < T; t++) {
      double v = x[t];
      if (v >= 0 && v < F->n && v == floor(v))
        for (c = 0; c < Co; c++)
          gw[(size_t)v * Co + c] += dy[(size_t)t * Co + c];
    }
    break;
  }
  case LAYER_PERMUTE:
    if (dx != NULL) {
      if (F->swap) {
        for (t = 0; t < T; t++)
          for (c = 0; c < C; c++)
            dx[(size_t)t * C + c] = dy[(size_t)c * T + t];
      } else {
        memcpy(dx, dy, L->in_size * sizeof(double));
      }
    }
    break;
  case LAYER_FLATTEN:
  case LAYER_RESHAPE:
    if (dx != NULL)
      memcpy(dx, dy, L->in_size * sizeof(double));
    break;
  case LAYER_LAYER_NORMALIZATION: {
    /* y = xhat * gamma + beta, xhat = (x - mean) * inv (rms: x * inv),
     * inv = 1/sqrt(var + eps), var = mean((x - mean)^2) */
    const double *gamma = F->scale || F->rms ? params + F->w_off[0] : NULL;
    double *ggamma = gamma ? grad + F->w_off[0] : NULL;
    double *gbeta = F->center && !F->rms ? grad + F->w_off[gamma ? 1 : 0] : NULL;
    const double *xhat = work, *mean = work + L->in_size, *inv = mean + T;
    double *dxhat = scratch;
    for (t = 0; t < T; t++) {
      const double *xr = x + (size_t)t * C;
      double dinv = 0.0, dvar, dmean = 0.0;
      for (c = 0; c < C; c++) {
        double d = dy[(size_t)t * C + c];
        if (ggamma)
          ggamma[c] += d * xhat[(size_t)t * C + c];
        if (gbeta)
          gbeta[c] += d;
        dxhat[c] = d * (gamma ? gamma[c] : 1.0);
        /* xhat = u * inv with u = x - mean (or x) */
        dinv += dxhat[c] * (F->rms ? xr[c] : xr[c] - mean[t]);
      }
      /* inv = (var + eps)^-1/2: d var = dinv * -1/2 inv^3 */
      dvar = dinv * -0.5 * inv[t] * inv[t] * inv[t];
      if (dx == NULL)
        continue;
      for (c = 0; c < C; c++) {
        /* var = mean((x - m)^2): d x_c += dvar * 2 (x_c - m) / C (its term
         * through m sums to zero) */
        double du = F->rms ? 0.0 : dxhat[c] * inv[t];
        dx[(size_t)t * C + c] =
            (F->rms ? dxhat[c] * inv[t] : du) + dvar * 2.0 * (xr[c] - mean[t]) / C;
        dmean -= du;
      }
      for (c = 0; c < C; c++)
        dx[(size_t)t * C + c] += dmean / C;
    }
    break;
  }
  case LAYER_BATCH_NORMALIZATION: {
    /* inference: y = (x - moving_mean) / sqrt(moving_variance + eps) * gamma
     * + beta; the moving statistics are not trained (no gradient) */
    const double *gamma = F->scale ? params + F->w_off[0] : NULL;
    double *ggamma = F->scale ? grad + F->w_off[0] : NULL;
    double *gbeta = F->center ? grad + F->w_off[F->scale ? 1 : 0] : NULL;
    const double *xhat = work, *var = work + L->in_size + C;
    for (t = 0; t < T; t++)
      for (c = 0; c < C; c++) {
        size_t e = (size_t)t * C + c;
        if (ggamma)
          ggamma[c] += dy[e] * xhat[e];
        if (gbeta)
          gbeta[c] += dy[e];
        if (dx != NULL)
          dx[e] = dy[e] * (gamma ? gamma[c] : 1.0) / sqrt(var[c] + F->epsilon);
      }
    break;
  }
  default:
    break;
  }
}

/* ------------------------------------------------------------------ whole model */

/* Everything forward computes for a batch of n samples, per node. */
typedef struct {
  double **work; /* n x work_size: Dense pre-activations, recurrent step records, ... */
  double **y;    /* n x out_size outputs */
} trace;

static double *alloc_reals(size_t count) {
  return (double *)calloc(count > 0 ? count : 1, sizeof(double));
}

/* Frees the per-node arrays of a list (NULL entries allowed). */
static void free_list(const rnnc_ref *m, double **list) {
  int l;
  if (list == NULL)
    return;
  for (l = 0; l < m->n_layers; l++)
    free(list[l]);
  free(list);
}

/* A zeroed array per node, of n x (work_size or out_size) reals. */
static double **alloc_list(const rnnc_ref *m, int n, int work) {
  double **list = (double **)calloc((size_t)m->n_layers, sizeof(double *));
  int l;
  if (list == NULL)
    return NULL;
  for (l = 0; l < m->n_layers; l++) {
    list[l] = alloc_reals((size_t)n * (work ? m->layers[l].work_size : m->layers[l].out_size));
    if (list[l] == NULL) {
      free_list(m, list);
      return NULL;
    }
  }
  return list;
}

static void trace_free(const rnnc_ref *m, trace *tr) {
  free_list(m, tr->work);
  free_list(m, tr->y);
  tr->work = tr->y = NULL;
}

/* Allocates a zeroed trace (the recurrent initial-state records rely on it). */
static int trace_alloc(const rnnc_ref *m, int n, trace *tr) {
  tr->work = alloc_list(m, n, 1);
  tr->y = alloc_list(m, n, 0);
  if (tr->work == NULL || tr->y == NULL) {
    trace_free(m, tr);
    return -1;
  }
  return 0;
}

/* The value of a tensor for sample s: a model input in x, or a node's
 * output in the trace. */
static const double *ref_value(const rnnc_ref *m, const trace *tr, const double *x, tref r, int s) {
  if (r.node < 0)
    return x + (size_t)s * m->input_size + m->in_off[r.index];
  return tr->y[r.node] + (size_t)s * m->layers[r.node].out_size +
         m->layers[r.node].out_off[r.index];
}

/* The gradient accumulator of a tensor for sample s: in dxacc (the model's
 * inputs) or in d_node. */
static double *ref_grad(const rnnc_ref *m, double *dxacc, double **d_node, tref r, int s) {
  if (r.node < 0)
    return dxacc + (size_t)s * m->input_size + m->in_off[r.index];
  return d_node[r.node] + (size_t)s * m->layers[r.node].out_size +
         m->layers[r.node].out_off[r.index];
}

/* The mask node L's input carries for sample s (T reals), or NULL. */
static const double *node_mask(const rnnc_ref *m, const trace *tr, const layer *L, int s) {
  if (L->in_mask < 0)
    return NULL;
  return tr->work[L->in_mask] + (size_t)s * m->layers[L->in_mask].work_size;
}

/* The mask input k of node L carries for sample s, or NULL. */
static const double *mix_mask(const rnnc_ref *m, const trace *tr, const layer *L, int k, int s) {
  if (L->mix_mask[k] < 0)
    return NULL;
  return tr->work[L->mix_mask[k]] + (size_t)s * m->layers[L->mix_mask[k]].work_size;
}

/* Masking, one sample: mask[t] = any(x[t, :] != mask_value), y = x * mask. */
static void masking_forward(const layer *L, const double *x, double *mask, double *y) {
  int t, c, F = L->in_features;
  for (t = 0; t < L->rows; t++) {
    mask[t] = 0.0;
    for (c = 0; c < F; c++)
      if (x[t * F + c] != L->mask_value)
        mask[t] = 1.0;
    for (c = 0; c < F; c++)
      y[t * F + c] = x[t * F + c] * mask[t];
  }
}

/* A noise layer's sample s: the identity unless training; in training its
 * mask (kept in work) from the call's key, the sample's index in the step's
 * batch (the call's first plus s; 0 for a mask shared by the samples) and
 * the element's index in the mask, as the generated code draws it. */
/* count values of node L's noise mask of kind for sample s (0: one mask
 * for the call's samples) into mask: the layer's seed or the call's, its
 * salt, the step, the sample, each element's index. */
static void draw_noise(const rnnc_ref *m, const layer *L, int kind, int per_sample, int s,
                       double *mask, size_t count) {
  size_t i;
  for (i = 0; i < count; i++)
    mask[i] = rnnc_noise_value(kind, L->noise_p, L->has_seed ? L->seed : m->noise_seed, L->salt,
                               (uint64_t)m->noise_step,
                               per_sample ? (uint64_t)(m->noise_first + s) : 0, (uint64_t)i);
}

static void noise_forward(const rnnc_ref *m, const layer *L, const double *x, double *work,
                          double *y, int s, int training) {
  int r, c, F = L->in_features;
  if (!training) {
    memcpy(y, x, L->in_size * sizeof(double));
    return;
  }
  draw_noise(m, L, L->noise_kind, L->per_sample, s, work, L->work_size);
  for (r = 0; r < L->rows; r++)
    for (c = 0; c < F; c++) {
      double v = work[(L->per_step ? r : 0) * L->mask_cols + (L->per_feature ? c : 0)];
      y[r * F + c] = L->noise_kind == RNNC_NOISE_GAUSSIAN ? x[r * F + c] + v : x[r * F + c] * v;
    }
}

/* Its backward: dx = dy times the mask (dy itself for the additive noise, or
 * at inference). dx is overwritten. */
static void noise_backward(const layer *L, const double *work, const double *dy, double *dx,
                           int training) {
  int r, c, F = L->in_features;
  for (r = 0; r < L->rows; r++)
    for (c = 0; c < F; c++)
      dx[r * F + c] =
          !training || L->noise_kind == RNNC_NOISE_GAUSSIAN
              ? dy[r * F + c]
              : dy[r * F + c] *
                    work[(L->per_step ? r : 0) * L->mask_cols + (L->per_feature ? c : 0)];
}

/* Forward through every node, node by node over the n samples. With
 * `training`, BatchNormalization normalises with the statistics of the
 * batch (Keras's training=True); else every node is per sample. Returns 0,
 * or -1 on allocation failure. */
static int forward_all(const rnnc_ref *m, const double *params, const double *x, int n, trace *tr,
                       int training) {
  int l, s, i;
  for (l = 0; l < m->n_layers; l++) {
    const layer *L = &m->layers[l];
    if (L->kind == LAYER_BATCH_NORMALIZATION && training && !L->frozen) {
      const double **xs = (const double **)calloc((size_t)(n > 0 ? n : 1), sizeof(double *));
      if (xs == NULL)
        return -1;
      for (s = 0; s < n; s++)
        xs[s] = ref_value(m, tr, x, L->in[0], s);
      batchnorm_train_forward(L, params, xs, n, tr->work[l], tr->y[l]);
      free((void *)xs);
      continue;
    }
    for (s = 0; s < n; s++) {
      const double *in = ref_value(m, tr, x, L->in[0], s);
      double *work = tr->work[l] + (size_t)s * L->work_size;
      double *y = tr->y[l] + (size_t)s * L->out_size;
      if (L->kind == LAYER_DENSE) {
        dense_forward(L, params, in, work, y);
      } else if (IS_FRONT(L->kind)) {
        front_forward(L, params, in, work, y);
      } else if (is_noise(L->kind)) {
        noise_forward(m, L, in, work, y, s, training);
      } else if (is_elementwise(L->kind)) {
        elementwise_forward(L, params, in, y);
      } else if (L->kind == LAYER_MASKING) {
        masking_forward(L, in, work, y);
      } else if (L->kind == LAYER_MIX) {
        const double *ins[MIX_MAX_INPUTS], *masks[MIX_MAX_INPUTS];
        for (i = 0; i < L->n_in; i++) {
          ins[i] = ref_value(m, tr, x, L->in[i], s);
          masks[i] = mix_mask(m, tr, L, i, s);
        }
        if (L->mx.dropout > 0.0) {
          /* the dropout mask of the weights: drawn in training as the
           * generated code draws it, ones at inference */
          double *dm = work + L->mx.dropout_off;
          size_t e;
          if (training)
            draw_noise(m, L, RNNC_NOISE_DROPOUT, 1, s, dm, L->mx.dropout_size);
          else
            for (e = 0; e < L->mx.dropout_size; e++)
              dm[e] = 1.0;
        }
        mix_forward(&L->mx, params, ins, masks, work, y);
      } else {
        double *buf = NULL;
        size_t U = (size_t)L->dir[0].units;
        if (L->initial_state) {
          /* h_0 (then c_0) side by side, as a step record holds them */
          buf = alloc_reals((size_t)L->n_states * U);
          if (buf == NULL)
            return -1;
          for (i = 0; i < L->n_states; i++)
            memcpy(buf + (size_t)i * U, ref_value(m, tr, x, L->state[i], s), U * sizeof(double));
        }
        recurrent_forward(m, L, params, in, node_mask(m, tr, L, s), buf, work, y, s, training);
        free(buf);
      }
    }
  }
  return 0;
}

/* Adds n reals of b to a. */
static void add_into(double *a, const double *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    a[i] += b[i];
}

/* One sample's backward of a node of one input from dy (of its output, or,
 * from_logits, of its pre-activation); dx (not NULL) is overwritten. */
static void node_backward(const layer *L, const double *params, const double *in, double *work,
                          const double *y, const double *dy, int from_logits, double *grad,
                          double *dx, double *scratch) {
  if (L->kind == LAYER_DENSE)
    dense_backward(L, params, in, work, y, dy, from_logits, grad, dx, scratch);
  else if (IS_FRONT(L->kind))
    front_backward(L, params, in, work, y, dy, from_logits, grad, dx, scratch);
  else
    elementwise_backward(L, params, in, y, dy, from_logits, grad, dx);
}

/* Backward through every node, last first. d_node[l] holds d(loss)/d(the
 * outputs of node l) (the seeds, then what later nodes add) and d_logits[l]
 * (may be NULL, or its entries) d(loss)/d(the pre-activation) of a node
 * whose loss is computed from its logits. With `training`,
 * BatchNormalization's backward goes through the batch statistics. grad (not
 * NULL) is overwritten; dx may be NULL. Returns 0, or -1 on allocation
 * failure. */
static int backward_all(const rnnc_ref *m, const double *params, const double *x, const trace *tr,
                        int n, double **d_node, double **d_logits, double *grad, double *dx,
                        int training) {
  size_t max_in = 1, max_scratch = 1, i, nn = (size_t)(n > 0 ? n : 1);
  double *tmp, *tmp2, *scratch, *dxacc, *bn_dx = NULL;
  const double **dys = NULL;
  double **dxs = NULL;
  int l, s, k, status = 0;

  for (l = 0; l < m->n_layers; l++) {
    const layer *L = &m->layers[l];
    if (L->in_size > max_in)
      max_in = L->in_size;
    if (L->scratch_size > max_scratch)
      max_scratch = L->scratch_size;
    if (L->kind != LAYER_DENSE && L->kind != LAYER_MIX && !IS_FRONT(L->kind) &&
        !is_elementwise(L->kind) && L->kind != LAYER_MASKING &&
        2 * (size_t)L->dir[0].units > max_in)
      max_in = 2 * (size_t)L->dir[0].units;
  }
  tmp = alloc_reals(max_in);
  tmp2 = alloc_reals(max_in);
  scratch = alloc_reals(max_scratch);
  dxacc = alloc_reals(nn * m->input_size);
  bn_dx = alloc_reals(nn * max_in);
  dys = (const double **)calloc(nn, sizeof(double *));
  dxs = (double **)calloc(nn, sizeof(double *));
  if (tmp == NULL || tmp2 == NULL || scratch == NULL || dxacc == NULL || bn_dx == NULL ||
      dys == NULL || dxs == NULL) {
    status = -1;
    goto done;
  }
  for (i = 0; i < m->n_params; i++)
    grad[i] = 0.0;
  for (l = m->n_layers - 1; l >= 0; l--) {
    const layer *L = &m->layers[l];
    if (L->kind == LAYER_BATCH_NORMALIZATION && training && !L->frozen) {
      for (s = 0; s < n; s++) {
        dys[s] = d_node[l] + (size_t)s * L->out_size;
        dxs[s] = bn_dx + (size_t)s * L->in_size;
      }
      batchnorm_train_backward(L, params, tr->work[l], n, dys, dxs, grad);
      for (s = 0; s < n; s++)
        add_into(ref_grad(m, dxacc, d_node, L->in[0], s), dxs[s], L->in_size);
      continue;
    }
    for (s = 0; s < n; s++) {
      const double *in = ref_value(m, tr, x, L->in[0], s);
      double *work = tr->work[l] + (size_t)s * L->work_size;
      const double *dy = d_node[l] + (size_t)s * L->out_size;
      double *din = ref_grad(m, dxacc, d_node, L->in[0], s);
      if (is_noise(L->kind)) {
        noise_backward(L, work, dy, tmp, training);
        add_into(din, tmp, L->in_size);
      } else if (L->kind == LAYER_DENSE || IS_FRONT(L->kind) || is_elementwise(L->kind)) {
        const double *y = tr->y[l] + (size_t)s * L->out_size;
        node_backward(L, params, in, work, y, dy, 0, grad, tmp, scratch);
        add_into(din, tmp, L->in_size);
        if (d_logits != NULL && d_logits[l] != NULL) {
          /* the loss of this output, from its logits */
          node_backward(L, params, in, work, y, d_logits[l] + (size_t)s * L->out_size, 1, grad, tmp,
                        scratch);
          add_into(din, tmp, L->in_size);
        }
      } else if (L->kind == LAYER_MASKING) { /* dx = dy * mask; no gradient through the mask */
        for (i = 0; i < L->in_size; i++)
          din[i] += dy[i] * work[i / (size_t)L->in_features];
      } else if (L->kind == LAYER_MIX) {
        const double *ins[MIX_MAX_INPUTS], *masks[MIX_MAX_INPUTS];
        double *dins[MIX_MAX_INPUTS];
        for (k = 0; k < L->n_in; k++) {
          ins[k] = ref_value(m, tr, x, L->in[k], s);
          dins[k] = ref_grad(m, dxacc, d_node, L->in[k], s);
          masks[k] = mix_mask(m, tr, L, k, s);
        }
        mix_backward(&L->mx, params, ins, masks, work, dy, grad, dins, scratch);
      } else {
        size_t U = (size_t)L->dir[0].units;
        recurrent_backward(L, params, in, node_mask(m, tr, L, s), work, dy, grad, tmp,
                           L->initial_state ? tmp2 : NULL, scratch, training);
        add_into(din, tmp, L->in_size);
        for (k = 0; k < L->initial_state; k++)
          add_into(ref_grad(m, dxacc, d_node, L->state[k], s), tmp2 + (size_t)k * U, U);
      }
    }
  }
  if (dx != NULL)
    memcpy(dx, dxacc, (size_t)n * m->input_size * sizeof(double));

done:
  free(tmp);
  free(tmp2);
  free(scratch);
  free(dxacc);
  free(bn_dx);
  free((void *)dys);
  free(dxs);
  return status;
}

/* The model's outputs of every sample, one after the other. */
static void gather_outputs(const rnnc_ref *m, const trace *tr, const double *x, int n, double *y) {
  int s, k;
  for (s = 0; s < n; s++)
    for (k = 0; k < m->n_outputs; k++)
      memcpy(y + (size_t)s * m->output_size + m->out_off[k], ref_value(m, tr, x, m->out[k], s),
             m->out_size[k] * sizeof(double));
}

int rnnc_ref_forward(rnnc_ref *m, const double *params, const double *x, int n, double *y) {
  trace tr;
  if (n < 0)
    return -1;
  if (trace_alloc(m, n, &tr) != 0)
    return -1;
  if (forward_all(m, params, x, n, &tr, 0) != 0) {
    trace_free(m, &tr);
    return -1;
  }
  gather_outputs(m, &tr, x, n, y);
  trace_free(m, &tr);
  return 0;
}

/* Backward from dy (every output) or from the losses' seeds: the model
 * outputs' gradients go to the nodes (or inputs) they come from. */
static int backward_from(rnnc_ref *m, const double *params, const double *x, const trace *tr, int n,
                         const double *dy, double **d_logits, double **d_act, double *grad,
                         double *dx, int training) {
  double **d_node = alloc_list(m, n, 0);
  double *dxacc = NULL;
  int s, k, status;
  if (d_node == NULL)
    return -1;
  /* an output that is a model input passes its gradient straight to dx */
  dxacc = alloc_reals((size_t)n * m->input_size);
  if (dxacc == NULL) {
    free_list(m, d_node);
    return -1;
  }
  for (s = 0; s < n; s++)
    for (k = 0; k < m->n_outputs; k++)
      add_into(ref_grad(m, dxacc, d_node, m->out[k], s),
               dy + (size_t)s * m->output_size + m->out_off[k], m->out_size[k]);
  /* the activity regularizers' gradients, into their nodes' outputs */
  for (k = 0; d_act != NULL && k < m->n_layers; k++)
    if (d_act[k] != NULL) {
      tref r;
      size_t size = (size_t)m->layers[k].part_rows[0] * (size_t)m->layers[k].part_cols[0];
      r.node = k;
      r.index = 0;
      for (s = 0; s < n; s++)
        add_into(ref_grad(m, dxacc, d_node, r, s), d_act[k] + (size_t)s * size, size);
    }
  status = backward_all(m, params, x, tr, n, d_node, d_logits, grad, dx, training);
  if (status == 0 && grad != NULL) /* frozen layers: no gradient for their weights */
    for (k = 0; k < m->n_layers; k++)
      if (m->layers[k].frozen)
        memset(grad + m->layers[k].p_off, 0,
               (m->layers[k].p_end - m->layers[k].p_off) * sizeof(double));
  if (status == 0 && dx != NULL)
    add_into(dx, dxacc, (size_t)n * m->input_size);
  free(dxacc);
  free_list(m, d_node);
  return status;
}

int rnnc_ref_backward(rnnc_ref *m, const double *params, const double *x, const double *dy, int n,
                      double *grad, double *dx) {
  trace tr;
  int status;
  if (n < 0)
    return -1;
  if (trace_alloc(m, n, &tr) != 0)
    return -1;
  status = forward_all(m, params, x, n, &tr, 0);
  if (status == 0)
    status = backward_from(m, params, x, &tr, n, dy, NULL, NULL, grad, dx, 0);
  trace_free(m, &tr);
  return status;
}

/* How output k's loss reads logits tf.keras keeps (a crossentropy after a
 * softmax or sigmoid: the categorical ones after softmax, the binary one
 * after sigmoid): 0 none; 1 a Dense node's pre-activation (its work); 2 an
 * Activation node's input; 3 a convolution's pre-activation (first in its
 * work). */
static int fused_output(const rnnc_ref *m, int k) {
  const tref r = m->out[k];
  const layer *L;
  int act = fused_activation((rnnc_loss_kind)m->loss_kind[k]);
  if (m->loss_logits[k] || r.node < 0 || r.index != 0)
    return 0;
  L = &m->layers[r.node];
  if (L->kind == LAYER_DENSE && L->keeps_logits && L->act == act)
    return 1;
  if (L->kind == LAYER_ACTIVATION && L->act == act)
    return 2;
  if (front_has_logits(L) && L->fe.act == act)
    return 3;
  return 0;
}

/* Every output with a loss: its loss (of its rows and last axis, the target
 * sized for it), times its weight, summed; the other outputs get a zero
 * gradient. In training: BatchNormalization normalises with the batch's
 * statistics. With no loss in the spec (or n <= 0, or an allocation failure)
 * the loss is NaN and grad and dx, when given, are filled with NaN. */
double rnnc_ref_loss_grad(rnnc_ref *m, const double *params, const double *x, const double *target,
                          int n, double *grad, double *dx, double *y_pred) {
  return rnnc_ref_loss_grad_weighted(m, params, x, target, NULL, n, grad, dx, y_pred);
}

double rnnc_ref_loss_grad_weighted(rnnc_ref *m, const double *params, const double *x,
                                   const double *target, const double *sample_weight, int n,
                                   double *grad, double *dx, double *y_pred) {
  size_t nn = (size_t)(n > 0 ? n : 0), s;
  double *dtop = NULL, *pred = NULL, *dpred = NULL, *tgt = NULL, *grad_buf = NULL, loss = NAN;
  double *wrow = NULL; /* a masked output's row weights */
  double **d_logits = NULL, **d_act = NULL;
  trace tr;
  int ok = 0, k;

  if (n > 0 && trace_alloc(m, n, &tr) == 0) {
    int forward_failed = forward_all(m, params, x, n, &tr, 1) != 0;
    if (y_pred != NULL)
      gather_outputs(m, &tr, x, n, y_pred);
    dtop = alloc_reals(nn * m->output_size); /* zero: outputs without a loss */
    pred = alloc_reals(nn * m->output_size);
    dpred = alloc_reals(nn * m->output_size);
    tgt = alloc_reals(nn * m->target_size);
    wrow = alloc_reals(nn * m->output_size);
    d_logits = (double **)calloc((size_t)m->n_layers, sizeof(double *));
    grad_buf = grad != NULL ? grad : alloc_reals(m->n_params);
    if (!forward_failed && m->loss != RNNC_LOSS_NONE && dtop != NULL && pred != NULL &&
        dpred != NULL && tgt != NULL && wrow != NULL && d_logits != NULL && grad_buf != NULL) {
      loss = 0.0;
      ok = 1;
      for (k = 0; k < m->n_outputs && ok; k++) {
        size_t part = m->out_size[k], cols = (size_t)m->out_cols[k];
        size_t rows = nn * (size_t)m->out_rows[k], i;
        int fused = fused_output(m, k), logits = fused || m->loss_logits[k];
        int node = m->out[k].node, mask_node;
        rnnc_loss_config cfg = m->loss_cfg[k];
        double l;
        if (m->loss_kind[k] == RNNC_LOSS_NONE)
          continue;
        /* the output (or its logits) and the targets of every sample, gathered */
        for (s = 0; s < nn; s++) {
          const double *src = fused == 1 || fused == 3
                                  ? tr.work[node] + s * m->layers[node].work_size
                              : fused == 2 ? ref_value(m, &tr, x, m->layers[node].in[0], (int)s)
                                           : ref_value(m, &tr, x, m->out[k], (int)s);
          memcpy(pred + s * part, src, part * sizeof(double));
          memcpy(tgt + s * m->target_part[k], target + s * m->target_size + m->target_off[k],
                 m->target_part[k] * sizeof(double));
        }
        cfg.from_logits = logits;
        mask_node = node >= 0 ? m->layers[node].out_mask[m->out[k].index] : -1;
        if (mask_node >= 0) {
          /* Keras 3's apply_mask (keras/src/losses/loss.py): the rows
           * weighted by the mask, the sum divided by the unmasked rows of the
           * batch + backend.epsilon() (1e-7) */
          const layer *J = &m->layers[mask_node];
          double valid = 0.0;
          size_t R = (size_t)m->out_rows[k];
          for (s = 0; s < nn; s++)
            for (i = 0; i < R; i++) {
              wrow[s * R + i] = tr.work[mask_node][s * J->work_size + i];
              valid += wrow[s * R + i];
            }
          l = rnnc_loss_eval_sw_f64(&cfg, pred, tgt, wrow, rows, cols, valid + 1e-7, sample_weight,
                                    R, dpred);
        } else {
          l = rnnc_loss_eval_sw_f64(&cfg, pred, tgt, NULL, rows, cols, (double)rows, sample_weight,
                                    (size_t)m->out_rows[k], dpred);
        }
        loss += m->loss_weight[k] * l;
        for (i = 0; i < nn * part; i++)
          dpred[i] *= m->loss_weight[k];
        if (fused) {
          if (d_logits[node] == NULL)
            d_logits[node] = alloc_reals(nn * m->layers[node].out_size);
          if (d_logits[node] == NULL) {
            ok = 0;
            break;
          }
          add_into(d_logits[node], dpred, nn * part);
        } else {
          for (s = 0; s < nn; s++)
            memcpy(dtop + s * m->output_size + m->out_off[k], dpred + s * part,
                   part * sizeof(double));
        }
      }
      /* the activity regularizers: Keras's L1L2 of a call's output, summed
       * over the samples and divided by their count (tf.keras 2.x; Keras 3
       * since keras PR 22021); d/dy = (l1 sign(y) + 2 l2 y) / n */
      for (k = 0; ok && k < m->n_layers; k++) {
        const layer *L = &m->layers[k];
        size_t size = (size_t)L->part_rows[0] * (size_t)L->part_cols[0], i;
        tref r;
        double penalty = 0.0;
        if (!L->has_act)
          continue;
        if (d_act == NULL)
          d_act = (double **)calloc((size_t)m->n_layers, sizeof(double *));
        if (d_act == NULL || (d_act[k] = alloc_reals(nn * size)) == NULL) {
          ok = 0;
          break;
        }
        r.node = k;
        r.index = 0;
        for (s = 0; s < nn; s++) {
          const double *y = ref_value(m, &tr, x, r, (int)s);
          for (i = 0; i < size; i++) {
            penalty += L->act_l1 * fabs(y[i]) + L->act_l2 * y[i] * y[i];
            d_act[k][s * size + i] = (L->act_l1 * (y[i] > 0   ? 1.0
                                                   : y[i] < 0 ? -1.0
                                                              : 0.0) +
                                      2.0 * L->act_l2 * y[i]) /
                                     (double)nn;
          }
        }
        loss += penalty / (double)nn;
      }
      if (ok && (grad != NULL || dx != NULL))
        ok = backward_from(m, params, x, &tr, n, dtop, d_logits, d_act, grad_buf, dx, 1) == 0;
      /* the weight regularizers: Keras's L1L2, l1 * sum(abs(w)) + l2 *
       * sum(square(w)), added to the loss; d/dw = l1 sign(w) + 2 l2 w */
      for (k = 0; ok && k < m->n_reg; k++) {
        size_t i;
        for (i = m->reg_off[k]; i < m->reg_off[k] + m->reg_size[k]; i++) {
          double w = params[i];
          loss += m->reg_l1[k] * fabs(w) + m->reg_l2[k] * w * w;
          if (grad != NULL)
            grad[i] += m->reg_l1[k] * (w > 0 ? 1.0 : w < 0 ? -1.0 : 0.0) + 2.0 * m->reg_l2[k] * w;
        }
      }
    }
    if (grad_buf != grad)
      free(grad_buf);
    if (d_logits != NULL)
      free_list(m, d_logits);
    if (d_act != NULL)
      free_list(m, d_act);
    free(dtop);
    free(pred);
    free(dpred);
    free(tgt);
    free(wrow);
    trace_free(m, &tr);
  }
  if (!ok) {
    size_t i;
    if (grad != NULL)
      for (i = 0; i < m->n_params; i++)
        grad[i] = NAN;
    if (dx != NULL)
      for (i = 0; i < nn * m->input_size; i++)
        dx[i] = NAN;
    return NAN;
  }
  return loss;
}

void rnnc_ref_set_noise(rnnc_ref *m, uint64_t seed, long step, long first_sample) {
  m->noise_seed = seed;
  m->noise_step = step;
  m->noise_first = first_sample;
}

int rnnc_ref_update_stats(rnnc_ref *m, double *params, const double *x, int n) {
  trace tr;
  int l, c;
  if (n <= 0)
    return -1;
  if (trace_alloc(m, n, &tr) != 0)
    return -1;
  if (forward_all(m, params, x, n, &tr, 1) != 0) {
    trace_free(m, &tr);
    return -1;
  }
  for (l = 0; l < m->n_layers; l++) {
    const layer *L = &m->layers[l];
    const front *F = &L->fe;
    double *mm, *mv;
    const double *w = tr.work[l];
    if (L->kind != LAYER_BATCH_NORMALIZATION || L->frozen)
      continue;
    /* Keras: moving = moving * momentum + batch * (1 - momentum) */
    mm = params + F->w_off[F->n_w - 2];
    mv = params + F->w_off[F->n_w - 1];
    for (c = 0; c < F->C; c++) {
      mm[c] = mm[c] * F->momentum + w[L->in_size + c] * (1.0 - F->momentum);
      mv[c] = mv[c] * F->momentum + w[L->in_size + F->C + c] * (1.0 - F->momentum);
    }
  }
  trace_free(m, &tr);
  return 0;
}
