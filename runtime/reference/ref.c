/* rnnc reference runtime: a plain interpreter of the spec in double precision.
 *
 * Written for obviousness, not speed: run-time sizes, one sample at a time,
 * one function per layer forward and one per layer backward, full
 * backpropagation through time for SimpleRNN. Every intermediate value of a
 * batch is kept (a "trace") so that backward can read it.
 *
 * Per-sample shapes: the input is (T, F) or (F). Dense maps the last axis,
 * (T, in) -> (T, U) or (in) -> (U). SimpleRNN maps (T, in) to (T, U) with
 * return_sequences=1, else to (U) (the last h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnc.h"
#include "rnnc_ref.h"

enum { LAYER_DENSE = 1, LAYER_SIMPLE_RNN = 2 };
enum { ACT_LINEAR, ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_SOFTMAX };

/* Largest dimension a spec may name, and largest per-sample or parameter size:
 * keeps every size computation far from overflow. */
#define MAX_DIM 1000000
#define MAX_SIZE 1e12

typedef struct {
  int kind;
  int units;
  int act;
  int use_bias;
  int return_sequences; /* SimpleRNN only */
  int go_backwards;     /* SimpleRNN only */
  int in_features;      /* last axis of the input */
  int rows;             /* Dense: rows of the input (T or 1); SimpleRNN: timesteps T */
  int out_rank;
  int out_shape[2];
  size_t in_size;                             /* reals per sample */
  size_t out_size;                            /* reals per sample */
  size_t z_size;                              /* pre-activation reals per sample: rows * units */
  size_t kernel_off, recurrent_off, bias_off; /* offsets in the parameter vector */
  size_t n_params;
} layer;

struct rnnc_ref {
  int n_layers;
  layer *layers;
  int loss; /* rnnc_loss_kind */
  int in_rank;
  int in_shape[2];
  size_t n_params;
  size_t input_size;
  size_t output_size;
  size_t target_size;
  size_t max_units;
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
  if (strcmp(s, "linear") == 0)
    return ACT_LINEAR;
  if (strcmp(s, "relu") == 0)
    return ACT_RELU;
  if (strcmp(s, "tanh") == 0)
    return ACT_TANH;
  if (strcmp(s, "sigmoid") == 0)
    return ACT_SIGMOID;
  if (strcmp(s, "softmax") == 0)
    return ACT_SOFTMAX;
  return -1;
}

#define MAX_TOKENS 16
#define N_KEYS 6

/* Keys of a layer line, in the order of the spec format. Dense uses the first 3. */
static const char *const layer_keys[N_KEYS] = {
    "units", "activation", "use_bias", "return_sequences", "return_state", "go_backwards"};

/* Parses one "layer" line (tokens after "layer") into L, given the shape of
 * its input; fills the output shape. Returns 0, or -1 with a message. */
static int parse_layer(layer *L, char **tok, int ntok, int line, int in_rank, const int *in_shape,
                       char *err, size_t errlen) {
  const char *value[N_KEYS] = {NULL, NULL, NULL, NULL, NULL, NULL};
  int flag[N_KEYS] = {0, 0, 0, 0, 0, 0};
  const char *cls, *name;
  int n_keys, i, k, return_state = 0;
  double in_size, out_size, n_params;

  if (ntok < 1) {
    set_err(err, errlen, "line %d: 'layer' needs a class and a name", line);
    return -1;
  }
  cls = tok[0];
  if (strcmp(cls, "Dense") == 0) {
    L->kind = LAYER_DENSE;
    n_keys = 3;
  } else if (strcmp(cls, "SimpleRNN") == 0) {
    L->kind = LAYER_SIMPLE_RNN;
    n_keys = 6;
  } else {
    set_err(err, errlen, "line %d: unknown layer class '%s' (known: Dense SimpleRNN)", line, cls);
    return -1;
  }
  if (ntok < 2 || strchr(tok[1], '=') != NULL) {
    set_err(err, errlen, "line %d: %s layer without a name", line, cls);
    return -1;
  }
  name = tok[1];

  for (i = 2; i < ntok; i++) {
    char *eq = strchr(tok[i], '=');
    if (eq == NULL) {
      set_err(err, errlen, "line %d: layer '%s': expected key=value, got '%s'", line, name, tok[i]);
      return -1;
    }
    *eq = '\0';
    for (k = 0; k < n_keys; k++)
      if (strcmp(tok[i], layer_keys[k]) == 0)
        break;
    if (k == n_keys) {
      set_err(err, errlen, "line %d: layer '%s': unknown key '%s' for %s", line, name, tok[i], cls);
      return -1;
    }
    if (value[k] != NULL) {
      set_err(err, errlen, "line %d: layer '%s': duplicate key '%s'", line, name, tok[i]);
      return -1;
    }
    value[k] = eq + 1;
  }
  for (k = 0; k < n_keys; k++) {
    if (value[k] == NULL) {
      set_err(err, errlen, "line %d: layer '%s': missing key '%s'", line, name, layer_keys[k]);
      return -1;
    }
  }

  if (parse_int(value[0], 1, MAX_DIM, &L->units) != 0) {
    set_err(err, errlen, "line %d: layer '%s': bad number '%s' for units (want 1..%d)", line, name,
            value[0], MAX_DIM);
    return -1;
  }
  L->act = parse_activation(value[1]);
  if (L->act < 0) {
    set_err(err, errlen,
            "line %d: layer '%s': unknown activation '%s' (known: linear relu tanh sigmoid "
            "softmax)",
            line, name, value[1]);
    return -1;
  }
  for (k = 2; k < n_keys; k++) {
    if (strcmp(value[k], "0") == 0) {
      flag[k] = 0;
    } else if (strcmp(value[k], "1") == 0) {
      flag[k] = 1;
    } else {
      set_err(err, errlen, "line %d: layer '%s': bad boolean '%s' for %s (want 0 or 1)", line, name,
              value[k], layer_keys[k]);
      return -1;
    }
  }
  L->use_bias = flag[2];
  L->return_sequences = flag[3];
  return_state = flag[4];
  L->go_backwards = flag[5];

  L->in_features = in_shape[in_rank - 1];
  if (L->kind == LAYER_DENSE) {
    L->rows = in_rank == 2 ? in_shape[0] : 1;
    L->out_rank = in_rank;
    L->out_shape[0] = in_shape[0];
    L->out_shape[in_rank - 1] = L->units;
    n_params = (double)L->in_features * L->units + (L->use_bias ? L->units : 0);
  } else {
    if (in_rank != 2) {
      set_err(err, errlen,
              "line %d: layer '%s': SimpleRNN needs a rank-2 (timesteps, features) input, got "
              "rank %d",
              line, name, in_rank);
      return -1;
    }
    if (return_state) {
      set_err(err, errlen,
              "line %d: layer '%s': return_state=1 is not supported by the reference runtime yet",
              line, name);
      return -1;
    }
    L->rows = in_shape[0];
    if (L->return_sequences) {
      L->out_rank = 2;
      L->out_shape[0] = in_shape[0];
      L->out_shape[1] = L->units;
    } else {
      L->out_rank = 1;
      L->out_shape[0] = L->units;
    }
    n_params = (double)L->in_features * L->units + (double)L->units * L->units +
               (L->use_bias ? L->units : 0);
  }
  in_size = (double)L->rows * L->in_features;
  out_size = (double)L->rows * L->units;
  if (in_size > MAX_SIZE || out_size > MAX_SIZE || n_params > MAX_SIZE) {
    set_err(err, errlen, "line %d: layer '%s': too large", line, name);
    return -1;
  }
  L->in_size = (size_t)L->rows * (size_t)L->in_features;
  L->z_size = (size_t)L->rows * (size_t)L->units;
  L->out_size = L->out_rank == 2 ? L->z_size : (size_t)L->units;
  L->n_params = (size_t)n_params;
  return 0;
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

static int parse_spec(rnnc_ref *m, char *text, char *err, size_t errlen) {
  char *line_start = text;
  int line = 0, have_header = 0, have_input = 0, have_loss = 0, cur_rank = 0;
  int cur_shape[2] = {0, 0};
  int cap = 0;
  size_t offset = 0;

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
      int i;
      if (have_input) {
        set_err(err, errlen, "line %d: duplicate 'input' line", line);
        return -1;
      }
      if (ntok != 2 && ntok != 3) {
        set_err(err, errlen, "line %d: 'input' wants 1 or 2 dimensions, got %d", line, ntok - 1);
        return -1;
      }
      for (i = 1; i < ntok; i++) {
        if (parse_int(tok[i], 1, MAX_DIM, &m->in_shape[i - 1]) != 0) {
          set_err(err, errlen, "line %d: bad number '%s' for an input dimension (want 1..%d)", line,
                  tok[i], MAX_DIM);
          return -1;
        }
      }
      m->in_rank = ntok - 1;
      m->input_size = m->in_rank == 2 ? (size_t)m->in_shape[0] * (size_t)m->in_shape[1]
                                      : (size_t)m->in_shape[0];
      cur_rank = m->in_rank;
      cur_shape[0] = m->in_shape[0];
      cur_shape[1] = m->in_shape[1];
      have_input = 1;
    } else if (strcmp(tok[0], "layer") == 0) {
      layer *L;
      if (!have_input) {
        set_err(err, errlen, "line %d: 'layer' before the 'input' line", line);
        return -1;
      }
      if (m->n_layers == cap) {
        layer *grown;
        cap = cap == 0 ? 4 : 2 * cap;
        grown = (layer *)realloc(m->layers, (size_t)cap * sizeof(layer));
        if (grown == NULL) {
          set_err(err, errlen, "out of memory");
          return -1;
        }
        m->layers = grown;
      }
      L = &m->layers[m->n_layers];
      memset(L, 0, sizeof(*L));
      if (parse_layer(L, tok + 1, ntok - 1, line, cur_rank, cur_shape, err, errlen) != 0)
        return -1;
      L->kernel_off = offset;
      offset += (size_t)L->in_features * (size_t)L->units;
      if (L->kind == LAYER_SIMPLE_RNN) {
        L->recurrent_off = offset;
        offset += (size_t)L->units * (size_t)L->units;
      }
      if (L->use_bias) {
        L->bias_off = offset;
        offset += (size_t)L->units;
      }
      if ((double)offset > MAX_SIZE) {
        set_err(err, errlen, "line %d: too many parameters", line);
        return -1;
      }
      if ((size_t)L->units > m->max_units)
        m->max_units = (size_t)L->units;
      cur_rank = L->out_rank;
      cur_shape[0] = L->out_shape[0];
      cur_shape[1] = L->out_shape[1];
      m->n_layers++;
    } else if (strcmp(tok[0], "loss") == 0) {
      if (have_loss) {
        set_err(err, errlen, "line %d: duplicate 'loss' line", line);
        return -1;
      }
      if (ntok != 2) {
        set_err(err, errlen, "line %d: 'loss' wants one name", line);
        return -1;
      }
      if (strcmp(tok[1], "mse") == 0 || strcmp(tok[1], "mean_squared_error") == 0) {
        m->loss = RNNC_LOSS_MSE;
      } else if (strcmp(tok[1], "sparse_categorical_crossentropy") == 0) {
        m->loss = RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
      } else {
        set_err(err, errlen,
                "line %d: unknown loss '%s' (known: mse mean_squared_error "
                "sparse_categorical_crossentropy)",
                line, tok[1]);
        return -1;
      }
      have_loss = 1;
    } else {
      set_err(err, errlen, "line %d: unknown item '%s' (known: input layer loss)", line, tok[0]);
      return -1;
    }
  }

  if (!have_header) {
    set_err(err, errlen, "empty spec (want the header 'rnnc-spec 1')");
    return -1;
  }
  if (!have_input) {
    set_err(err, errlen, "no 'input' line");
    return -1;
  }
  if (m->n_layers == 0) {
    set_err(err, errlen, "no 'layer' line");
    return -1;
  }
  m->n_params = offset;
  m->output_size = m->layers[m->n_layers - 1].out_size;
  if (m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    m->target_size = m->output_size / (size_t)m->layers[m->n_layers - 1].units;
  else
    m->target_size = m->output_size;
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
  free(m);
}

size_t rnnc_ref_n_params(const rnnc_ref *m) {
  return m->n_params;
}

size_t rnnc_ref_input_size(const rnnc_ref *m) {
  return m->input_size;
}

size_t rnnc_ref_output_size(const rnnc_ref *m) {
  return m->output_size;
}

size_t rnnc_ref_target_size(const rnnc_ref *m) {
  return m->target_size;
}

/* ------------------------------------------------------------------ activations */

/* y = act(z) for one row of n reals (softmax over the row). */
static void activation_forward(int act, const double *z, double *y, int n) {
  int i;
  if (act == ACT_SOFTMAX) {
    double mx = z[0], sum = 0.0;
    for (i = 1; i < n; i++)
      if (z[i] > mx)
        mx = z[i];
    for (i = 0; i < n; i++) {
      y[i] = exp(z[i] - mx);
      sum += y[i];
    }
    for (i = 0; i < n; i++)
      y[i] /= sum;
    return;
  }
  for (i = 0; i < n; i++) {
    switch (act) {
    case ACT_RELU:
      y[i] = z[i] > 0.0 ? z[i] : 0.0;
      break;
    case ACT_TANH:
      y[i] = tanh(z[i]);
      break;
    case ACT_SIGMOID:
      y[i] = 1.0 / (1.0 + exp(-z[i]));
      break;
    default:
      y[i] = z[i];
      break;
    }
  }
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
  for (i = 0; i < n; i++) {
    switch (act) {
    case ACT_RELU:
      dz[i] = z[i] > 0.0 ? dy[i] : 0.0;
      break;
    case ACT_TANH:
      dz[i] = dy[i] * (1.0 - y[i] * y[i]);
      break;
    case ACT_SIGMOID:
      dz[i] = dy[i] * y[i] * (1.0 - y[i]);
      break;
    default:
      dz[i] = dy[i];
      break;
    }
  }
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

/* ------------------------------------------------------------------ SimpleRNN */

/* Input timestep read at processing step t. */
static int rnn_source_step(const layer *L, int t) {
  return L->go_backwards ? L->rows - 1 - t : t;
}

/* One sample. x: T x in; z, h: T x U in processing order (h[t] is the state
 * after t+1 steps); y: h (return_sequences) or h[T-1]. */
static void simple_rnn_forward(const layer *L, const double *params, const double *x, double *z,
                               double *h, double *y) {
  const double *kernel = params + L->kernel_off;
  const double *recurrent = params + L->recurrent_off;
  const double *bias = L->use_bias ? params + L->bias_off : NULL;
  int T = L->rows, in = L->in_features, U = L->units, t, i, u, v;
  for (t = 0; t < T; t++) {
    const double *xt = x + rnn_source_step(L, t) * in;
    const double *h_prev = t > 0 ? h + (t - 1) * U : NULL; /* h_0 = 0 */
    for (u = 0; u < U; u++) {
      double s = bias != NULL ? bias[u] : 0.0;
      for (i = 0; i < in; i++)
        s += xt[i] * kernel[i * U + u];
      if (h_prev != NULL)
        for (v = 0; v < U; v++)
          s += h_prev[v] * recurrent[v * U + u];
      z[t * U + u] = s;
    }
    activation_forward(L->act, z + t * U, h + t * U, U);
  }
  if (L->return_sequences)
    memcpy(y, h, (size_t)T * (size_t)U * sizeof(double));
  else
    memcpy(y, h + (T - 1) * U, (size_t)U * sizeof(double));
}

/* One sample, backpropagation through time. dy: d(loss)/d(y). Adds to grad;
 * dx (may be NULL) is overwritten. dh, dh_next, dz: U reals of scratch each. */
static void simple_rnn_backward(const layer *L, const double *params, const double *x,
                                const double *z, const double *h, const double *dy, double *grad,
                                double *dx, double *dh, double *dh_next, double *dz) {
  const double *kernel = params + L->kernel_off;
  const double *recurrent = params + L->recurrent_off;
  double *g_kernel = grad + L->kernel_off;
  double *g_recurrent = grad + L->recurrent_off;
  double *g_bias = L->use_bias ? grad + L->bias_off : NULL;
  int T = L->rows, in = L->in_features, U = L->units, t, i, u, v;

  for (u = 0; u < U; u++)
    dh_next[u] = 0.0; /* d(loss)/d(h[t]) through h[t+1]; nothing after the last step */
  for (t = T - 1; t >= 0; t--) {
    int src = rnn_source_step(L, t);
    const double *xt = x + src * in;
    const double *h_prev = t > 0 ? h + (t - 1) * U : NULL;
    for (u = 0; u < U; u++) {
      double direct = 0.0;
      if (L->return_sequences)
        direct = dy[t * U + u];
      else if (t == T - 1)
        direct = dy[u];
      dh[u] = dh_next[u] + direct;
    }
    activation_backward(L->act, z + t * U, h + t * U, dh, dz, U);
    for (i = 0; i < in; i++)
      for (u = 0; u < U; u++)
        g_kernel[i * U + u] += xt[i] * dz[u];
    if (h_prev != NULL)
      for (v = 0; v < U; v++)
        for (u = 0; u < U; u++)
          g_recurrent[v * U + u] += h_prev[v] * dz[u];
    if (g_bias != NULL)
      for (u = 0; u < U; u++)
        g_bias[u] += dz[u];
    if (dx != NULL) {
      for (i = 0; i < in; i++) {
        double s = 0.0;
        for (u = 0; u < U; u++)
          s += dz[u] * kernel[i * U + u];
        dx[src * in + i] = s; /* every input step is read exactly once */
      }
    }
    for (v = 0; v < U; v++) {
      double s = 0.0;
      for (u = 0; u < U; u++)
        s += dz[u] * recurrent[v * U + u];
      dh_next[v] = s;
    }
  }
}

/* ------------------------------------------------------------------ whole model */

/* Everything forward computes for a batch of n samples, per layer. */
typedef struct {
  double **z; /* n x z_size pre-activations */
  double **h; /* SimpleRNN: n x T x U states; NULL for Dense */
  double **y; /* n x out_size outputs */
} trace;

static double *alloc_reals(size_t count) {
  return (double *)calloc(count > 0 ? count : 1, sizeof(double));
}

static void trace_free(const rnnc_ref *m, trace *tr) {
  int l;
  for (l = 0; l < m->n_layers; l++) {
    if (tr->z != NULL)
      free(tr->z[l]);
    if (tr->h != NULL)
      free(tr->h[l]);
    if (tr->y != NULL)
      free(tr->y[l]);
  }
  free(tr->z);
  free(tr->h);
  free(tr->y);
  tr->z = tr->h = tr->y = NULL;
}

static int trace_alloc(const rnnc_ref *m, int n, trace *tr) {
  int l;
  size_t nn = (size_t)n;
  tr->z = (double **)calloc((size_t)m->n_layers, sizeof(double *));
  tr->h = (double **)calloc((size_t)m->n_layers, sizeof(double *));
  tr->y = (double **)calloc((size_t)m->n_layers, sizeof(double *));
  if (tr->z == NULL || tr->h == NULL || tr->y == NULL) {
    trace_free(m, tr);
    return -1;
  }
  for (l = 0; l < m->n_layers; l++) {
    const layer *L = &m->layers[l];
    tr->z[l] = alloc_reals(nn * L->z_size);
    tr->y[l] = alloc_reals(nn * L->out_size);
    if (L->kind == LAYER_SIMPLE_RNN)
      tr->h[l] = alloc_reals(nn * L->z_size);
    if (tr->z[l] == NULL || tr->y[l] == NULL || (L->kind == LAYER_SIMPLE_RNN && tr->h[l] == NULL)) {
      trace_free(m, tr);
      return -1;
    }
  }
  return 0;
}

/* Input of layer l for sample s. */
static const double *layer_input(const rnnc_ref *m, const trace *tr, const double *x, int l,
                                 int s) {
  if (l == 0)
    return x + (size_t)s * m->input_size;
  return tr->y[l - 1] + (size_t)s * m->layers[l - 1].out_size;
}

static void forward_all(const rnnc_ref *m, const double *params, const double *x, int n,
                        trace *tr) {
  int l, s;
  for (l = 0; l < m->n_layers; l++) {
    const layer *L = &m->layers[l];
    for (s = 0; s < n; s++) {
      const double *in = layer_input(m, tr, x, l, s);
      double *z = tr->z[l] + (size_t)s * L->z_size;
      double *y = tr->y[l] + (size_t)s * L->out_size;
      if (L->kind == LAYER_DENSE)
        dense_forward(L, params, in, z, y);
      else
        simple_rnn_forward(L, params, in, z, tr->h[l] + (size_t)s * L->z_size, y);
    }
  }
}

/* Backward through all layers from dtop: d(loss)/d(output of the last layer),
 * or d(loss)/d(its pre-activation) when from_logits. grad (not NULL) is
 * overwritten; dx may be NULL. Returns 0, or -1 on allocation failure. */
static int backward_all(const rnnc_ref *m, const double *params, const double *x, const trace *tr,
                        int n, const double *dtop, int from_logits, double *grad, double *dx) {
  size_t max_size = m->input_size, i;
  double *d_out, *d_in, *dh, *dh_next, *dz;
  int l, s, status = 0;

  for (l = 0; l < m->n_layers; l++)
    if (m->layers[l].out_size > max_size)
      max_size = m->layers[l].out_size;
  d_out = alloc_reals(max_size);
  d_in = alloc_reals(max_size);
  dh = alloc_reals(m->max_units);
  dh_next = alloc_reals(m->max_units);
  dz = alloc_reals(m->max_units);
  if (d_out == NULL || d_in == NULL || dh == NULL || dh_next == NULL || dz == NULL) {
    status = -1;
    goto done;
  }

  for (i = 0; i < m->n_params; i++)
    grad[i] = 0.0;
  for (s = 0; s < n; s++) {
    const layer *last = &m->layers[m->n_layers - 1];
    /* d_out holds d(loss)/d(output of layer l) for sample s */
    memcpy(d_out, dtop + (size_t)s * last->out_size, last->out_size * sizeof(double));
    for (l = m->n_layers - 1; l >= 0; l--) {
      const layer *L = &m->layers[l];
      const double *in = layer_input(m, tr, x, l, s);
      const double *z = tr->z[l] + (size_t)s * L->z_size;
      double *this_dx = d_in;
      double *swap;
      if (l == 0)
        this_dx = dx != NULL ? dx + (size_t)s * m->input_size : NULL;
      if (L->kind == LAYER_DENSE)
        dense_backward(L, params, in, z, tr->y[l] + (size_t)s * L->out_size, d_out,
                       from_logits && l == m->n_layers - 1, grad, this_dx, dz);
      else
        simple_rnn_backward(L, params, in, z, tr->h[l] + (size_t)s * L->z_size, d_out, grad,
                            this_dx, dh, dh_next, dz);
      swap = d_out;
      d_out = d_in;
      d_in = swap;
    }
  }

done:
  free(d_out);
  free(d_in);
  free(dh);
  free(dh_next);
  free(dz);
  return status;
}

int rnnc_ref_forward(rnnc_ref *m, const double *params, const double *x, int n, double *y) {
  trace tr;
  if (n < 0)
    return -1;
  if (trace_alloc(m, n, &tr) != 0)
    return -1;
  forward_all(m, params, x, n, &tr);
  if (n > 0)
    memcpy(y, tr.y[m->n_layers - 1], (size_t)n * m->output_size * sizeof(double));
  trace_free(m, &tr);
  return 0;
}

int rnnc_ref_backward(rnnc_ref *m, const double *params, const double *x, const double *dy, int n,
                      double *grad, double *dx) {
  trace tr;
  int status;
  if (n < 0)
    return -1;
  if (trace_alloc(m, n, &tr) != 0)
    return -1;
  forward_all(m, params, x, n, &tr);
  status = backward_all(m, params, x, &tr, n, dy, 0, grad, dx);
  trace_free(m, &tr);
  return status;
}

/* With no loss in the spec (or n <= 0, or an allocation failure) the loss is
 * NaN and grad and dx, when given, are filled with NaN. */
double rnnc_ref_loss_grad(rnnc_ref *m, const double *params, const double *x, const double *target,
                          int n, double *grad, double *dx, double *y_pred) {
  const layer *last = &m->layers[m->n_layers - 1];
  size_t cols = (size_t)last->units;
  size_t rows = (size_t)(n > 0 ? n : 0) * (m->output_size / cols);
  int fused = m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && last->kind == LAYER_DENSE &&
              last->act == ACT_SOFTMAX;
  double *dtop = NULL, *grad_buf = NULL, loss = NAN;
  trace tr;
  int ok = 0;

  if (n > 0 && trace_alloc(m, n, &tr) == 0) {
    forward_all(m, params, x, n, &tr);
    if (y_pred != NULL)
      memcpy(y_pred, tr.y[m->n_layers - 1], (size_t)n * m->output_size * sizeof(double));
    dtop = alloc_reals((size_t)n * m->output_size);
    grad_buf = grad != NULL ? grad : alloc_reals(m->n_params);
    if (m->loss != RNNC_LOSS_NONE && dtop != NULL && grad_buf != NULL) {
      if (fused)
        loss = rnnc_loss_sparse_cce_logits_f64(tr.z[m->n_layers - 1], target, rows, cols, dtop);
      else if (m->loss == RNNC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
        loss = rnnc_loss_sparse_cce_f64(tr.y[m->n_layers - 1], target, rows, cols, dtop);
      else
        loss = rnnc_loss_mse_f64(tr.y[m->n_layers - 1], target, rows, cols, dtop);
      if (grad != NULL || dx != NULL)
        ok = backward_all(m, params, x, &tr, n, dtop, fused, grad_buf, dx) == 0;
      else
        ok = 1;
    }
    if (grad_buf != grad)
      free(grad_buf);
    free(dtop);
    trace_free(m, &tr);
  }
  if (!ok) {
    size_t i;
    if (grad != NULL)
      for (i = 0; i < m->n_params; i++)
        grad[i] = NAN;
    if (dx != NULL)
      for (i = 0; i < (size_t)(n > 0 ? n : 0) * m->input_size; i++)
        dx[i] = NAN;
    return NAN;
  }
  return loss;
}
