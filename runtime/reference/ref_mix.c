/* The reference runtime's layers of several inputs (see ref_mix.h): merges,
 * Dot, Attention, AdditiveAttention, MultiHeadAttention. Written for
 * obviousness: plain loops over a sample's matrices, every backward the
 * transposed sums of its forward. */
#include "ref_mix.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Keras's l2 normalisation in Dot(normalize=True): x * rsqrt(max(sum x^2,
 * 1e-12)) along the reduced axis (tf.keras 2.x, tf.linalg.l2_normalize). */
#define L2_EPSILON 1e-12

#define MAX_SIZE 1e12

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", msg);
}

/* ------------------------------------------------------------------ matrices */

/* Element (r, c) of an R x C matrix, or of its transpose. */
static double at(const double *a, int cols, int r, int c, int transposed) {
  return transposed ? a[(size_t)c * (size_t)cols + (size_t)r]
                    : a[(size_t)r * (size_t)cols + (size_t)c];
}

/* out (m x n) (+)= A (m x k) @ B^T, B n x k; ta/tb: A or B given transposed
 * (stored k x m, k x n). */
static void mul_abt(const double *A, int ta, const double *B, int tb, int m, int n, int k,
                    double *out, int acc) {
  int i, j, p;
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++) {
      double s = acc ? out[(size_t)i * n + j] : 0.0;
      for (p = 0; p < k; p++)
        s += at(A, ta ? m : k, i, p, ta) * at(B, tb ? n : k, j, p, tb);
      out[(size_t)i * n + j] = s;
    }
}

/* Row-wise softmax of an m x n matrix (in place allowed). */
static void softmax_rows(const double *s, int m, int n, double *w) {
  int i, j;
  for (i = 0; i < m; i++) {
    double mx = s[(size_t)i * n], sum = 0.0;
    for (j = 1; j < n; j++)
      if (s[(size_t)i * n + j] > mx)
        mx = s[(size_t)i * n + j];
    for (j = 0; j < n; j++) {
      w[(size_t)i * n + j] = exp(s[(size_t)i * n + j] - mx);
      sum += w[(size_t)i * n + j];
    }
    for (j = 0; j < n; j++)
      w[(size_t)i * n + j] /= sum;
  }
}

/* Whether the score of query step i and value step j is kept (Keras's
 * masks joined by a logical and): the causal mask (j <= i), the value's
 * mask, and for MultiHeadAttention the query's and the key's
 * (_compute_attention_mask; Attention's _calculate_score_mask reads the
 * value's only). masks[k]: input k's step mask (1 kept, 0 masked) or NULL. */
static int kept(const mixer *X, const double *const *masks, int i, int j) {
  int mha = X->op == MIX_MULTI_HEAD_ATTENTION;
  if (X->causal && j > i)
    return 0;
  if (masks == NULL)
    return 1;
  if (masks[1] != NULL && masks[1][j] == 0.0)
    return 0;
  if (mha && masks[0] != NULL && masks[0][i] == 0.0)
    return 0;
  if (mha && X->has_key && masks[2] != NULL && masks[2][j] == 0.0)
    return 0;
  return 1;
}

/* Lowers the masked scores of a Tq x Tv block in place: Attention and
 * AdditiveAttention subtract 1e9 (_apply_scores), MultiHeadAttention's
 * Softmax puts -1e9 in their place (where(mask, scores, -1e9)). */
static void mask_scores(const mixer *X, const double *const *masks, double *s, int Tq, int Tv) {
  int i, j;
  for (i = 0; i < Tq; i++)
    for (j = 0; j < Tv; j++)
      if (!kept(X, masks, i, j)) {
        if (X->op == MIX_MULTI_HEAD_ATTENTION)
          s[(size_t)i * Tv + j] = -1e9;
        else
          s[(size_t)i * Tv + j] -= 1e9;
      }
}

/* ds = w * (dw - sum(dw * w)) row by row: the softmax's backward. */
static void softmax_rows_backward(const double *w, const double *dw, int m, int n, double *ds) {
  int i, j;
  for (i = 0; i < m; i++) {
    double dot = 0.0;
    for (j = 0; j < n; j++)
      dot += dw[(size_t)i * n + j] * w[(size_t)i * n + j];
    for (j = 0; j < n; j++)
      ds[(size_t)i * n + j] = w[(size_t)i * n + j] * (dw[(size_t)i * n + j] - dot);
  }
}

/* ------------------------------------------------------------------ building */

static int check_same(const mixer *X, char *err, size_t errlen) {
  int i;
  for (i = 1; i < X->n_in; i++)
    if (X->rows[i] != X->rows[0] || X->cols[i] != X->cols[0]) {
      set_err(err, errlen, "the inputs of an elementwise merge must have one shape");
      return -1;
    }
  return 0;
}

int mix_build(mixer *X, int *n_outputs, char *err, size_t errlen) {
  double work = 0, scratch = 0, params = 0;
  int i;
  *n_outputs = 1;
  X->n_w = 0;
  if (X->n_in < 1 || X->n_in > MIX_MAX_INPUTS) {
    set_err(err, errlen, "too few or too many inputs");
    return -1;
  }
  switch (X->op) {
  case MIX_ADD:
  case MIX_MULTIPLY:
  case MIX_AVERAGE:
  case MIX_MAXIMUM:
  case MIX_MINIMUM:
  case MIX_SUBTRACT:
    if (X->n_in < 2 || (X->op == MIX_SUBTRACT && X->n_in != 2)) {
      set_err(err, errlen,
              X->op == MIX_SUBTRACT ? "Subtract takes exactly 2 inputs"
                                    : "a merge takes at least 2 inputs");
      return -1;
    }
    if (check_same(X, err, errlen) != 0)
      return -1;
    X->out_rows = X->rows[0];
    X->out_cols = X->cols[0];
    break;
  case MIX_CONCATENATE:
    X->out_rows = X->rows[0];
    X->out_cols = X->cols[0];
    for (i = 1; i < X->n_in; i++) {
      if (X->concat_rows ? X->cols[i] != X->cols[0] : X->rows[i] != X->rows[0]) {
        set_err(err, errlen, "Concatenate: the inputs differ outside the concatenation axis");
        return -1;
      }
      if (X->concat_rows)
        X->out_rows += X->rows[i];
      else
        X->out_cols += X->cols[i];
    }
    break;
  case MIX_DOT: {
    int k0 = X->dot_rows[0] ? X->rows[0] : X->cols[0],
        k1 = X->dot_rows[1] ? X->rows[1] : X->cols[1];
    if (X->n_in != 2 || k0 != k1) {
      set_err(err, errlen, "Dot takes 2 inputs whose reduced axes have one size");
      return -1;
    }
    X->out_rows = X->dot_rows[0] ? X->cols[0] : X->rows[0];
    X->out_cols = X->dot_rows[1] ? X->cols[1] : X->rows[1];
    /* the normalised A and B, and their inverse norms */
    work = (double)(X->out_rows + X->out_cols) * (k0 + 1);
    scratch = (double)(X->out_rows + X->out_cols) * k0;
    break;
  }
  case MIX_ATTENTION:
  case MIX_ADDITIVE_ATTENTION: {
    int Tq = X->rows[0], d = X->cols[0], Tv = X->rows[1];
    int dk = X->has_key ? X->cols[2] : X->cols[1];
    if (X->n_in != (X->has_key ? 3 : 2) || (X->has_key && X->rows[2] != Tv)) {
      set_err(err, errlen,
              "attention takes [query, value] or [query, value, key], key and value of one length");
      return -1;
    }
    if (dk != d) {
      set_err(err, errlen, "the query and the key must have the same last dimension");
      return -1;
    }
    X->out_rows = Tq;
    X->out_cols = X->cols[1];
    *n_outputs = X->scores_out ? 2 : 1;
    if (X->op == MIX_ATTENTION) {
      if (X->use_scale)
        X->n_w++, params += 1;
      if (X->score_concat)
        X->n_w++, params += 1;
    } else if (X->use_scale) {
      X->n_w++, params += d;
    }
    /* raw scores and weights; tanh values of the concat and additive forms */
    work = 2.0 * Tq * Tv;
    if (X->score_concat || X->op == MIX_ADDITIVE_ATTENTION)
      work += (double)Tq * Tv * d;
    /* and dy with the masked query rows zeroed */
    scratch = 3.0 * Tq * Tv + (double)Tq * X->cols[1];
    break;
  }
  case MIX_MULTI_HEAD_ATTENTION: {
    int Tq = X->rows[0], dq = X->cols[0], Tv = X->rows[1], dv = X->cols[1];
    int dk = X->has_key ? X->cols[2] : dv;
    double NH = (double)X->heads * X->key_dim, NV = (double)X->heads * X->value_dim;
    if (X->n_in != (X->has_key ? 3 : 2) || (X->has_key && X->rows[2] != Tv) || X->heads < 1 ||
        X->key_dim < 1 || X->value_dim < 1 || X->out_cols < 1) {
      set_err(err, errlen, "MultiHeadAttention: bad inputs or sizes");
      return -1;
    }
    X->out_rows = Tq;
    *n_outputs = X->scores_out ? 2 : 1;
    params = dq * NH + dk * NH + dv * NV + NV * X->out_cols;
    if (X->use_bias)
      params += 2 * NH + NV + X->out_cols;
    X->n_w = X->use_bias ? 8 : 4;
    /* Q, K, V, the weights of every head, the heads' outputs */
    work = Tq * NH + Tv * NH + Tv * NV + (double)X->heads * Tq * Tv + Tq * NV;
    scratch = work + 2.0 * Tq * Tv;
    break;
  }
  default:
    set_err(err, errlen, "unknown layer");
    return -1;
  }
  if (work > MAX_SIZE || scratch > MAX_SIZE || params > MAX_SIZE ||
      (double)X->out_rows * X->out_cols > MAX_SIZE) {
    set_err(err, errlen, "too large");
    return -1;
  }
  X->dropout_off = X->dropout_size = 0;
  if (X->dropout > 0.0) {
    /* after the trace: the dropout mask of the weights, then the weights
     * times it (every head's for MultiHeadAttention) */
    double weights = (X->op == MIX_MULTI_HEAD_ATTENTION ? (double)X->heads : 1.0) *
                     (double)X->rows[0] * (double)X->rows[1];
    if (work + 2.0 * weights > MAX_SIZE) {
      set_err(err, errlen, "too large");
      return -1;
    }
    X->dropout_off = (size_t)work;
    X->dropout_size = (size_t)weights;
    work += 2.0 * weights;
  }
  X->work_size = (size_t)work;
  X->scratch_size = (size_t)scratch;
  X->n_params = (size_t)params;
  return 0;
}

/* The weights the output reads: W, or with dropout W times the mask the
 * caller drew (kept in the trace for the backward pass). */
static const double *dropped(const mixer *X, const double *W, double *work, size_t count) {
  size_t i;
  double *mask, *out;
  if (X->dropout <= 0.0)
    return W;
  mask = work + X->dropout_off;
  out = mask + X->dropout_size;
  for (i = 0; i < count; i++)
    out[i] = W[i] * mask[i];
  return out;
}

void mix_assign_offsets(mixer *X, size_t *offset) {
  int Tq = X->rows[0], d = X->cols[0];
  int w = 0;
  (void)Tq;
  if (X->op == MIX_ATTENTION) {
    if (X->use_scale)
      X->w_off[w++] = (*offset)++;
    if (X->score_concat)
      X->w_off[w++] = (*offset)++;
  } else if (X->op == MIX_ADDITIVE_ATTENTION) {
    if (X->use_scale) {
      X->w_off[w++] = *offset;
      *offset += (size_t)d;
    }
  } else if (X->op == MIX_MULTI_HEAD_ATTENTION) {
    size_t NH = (size_t)X->heads * (size_t)X->key_dim, NV = (size_t)X->heads * (size_t)X->value_dim;
    size_t dq = (size_t)X->cols[0], dv = (size_t)X->cols[1];
    size_t dk = X->has_key ? (size_t)X->cols[2] : dv;
    size_t sizes[8];
    int i, k = 0;
    sizes[k++] = dq * NH;
    if (X->use_bias)
      sizes[k++] = NH;
    sizes[k++] = dk * NH;
    if (X->use_bias)
      sizes[k++] = NH;
    sizes[k++] = dv * NV;
    if (X->use_bias)
      sizes[k++] = NV;
    sizes[k++] = NV * (size_t)X->out_cols;
    if (X->use_bias)
      sizes[k++] = (size_t)X->out_cols;
    for (i = 0; i < k; i++) {
      X->w_off[w++] = *offset;
      *offset += sizes[i];
    }
  }
}

/* ------------------------------------------------------------------ merges */

static void merge_forward(const mixer *X, const double *const *in, double *y) {
  size_t S = (size_t)X->rows[0] * (size_t)X->cols[0], e;
  int i;
  for (e = 0; e < S; e++) {
    double v = in[0][e];
    for (i = 1; i < X->n_in; i++) {
      double b = in[i][e];
      switch (X->op) {
      case MIX_ADD:
      case MIX_AVERAGE:
        v += b;
        break;
      case MIX_SUBTRACT:
        v -= b;
        break;
      case MIX_MULTIPLY:
        v *= b;
        break;
      case MIX_MAXIMUM: /* max(a, b) is a when a >= b (TensorFlow's tie rule) */
        v = v >= b ? v : b;
        break;
      default: /* MIX_MINIMUM: a when a <= b */
        v = v <= b ? v : b;
        break;
      }
    }
    y[e] = X->op == MIX_AVERAGE ? v / X->n_in : v;
  }
}

static void merge_backward(const mixer *X, const double *const *in, const double *dy,
                           double *const *din) {
  size_t S = (size_t)X->rows[0] * (size_t)X->cols[0], e;
  int i, j;
  for (e = 0; e < S; e++) {
    if (X->op == MIX_MAXIMUM || X->op == MIX_MINIMUM) {
      /* the gradient goes to the first input that holds the extreme */
      int best = 0;
      for (i = 1; i < X->n_in; i++)
        if (X->op == MIX_MAXIMUM ? in[i][e] > in[best][e] : in[i][e] < in[best][e])
          best = i;
      if (din[best] != NULL)
        din[best][e] += dy[e];
      continue;
    }
    for (i = 0; i < X->n_in; i++) {
      double d = dy[e];
      if (din[i] == NULL)
        continue;
      if (X->op == MIX_SUBTRACT && i == 1)
        d = -d;
      else if (X->op == MIX_AVERAGE)
        d /= X->n_in;
      else if (X->op == MIX_MULTIPLY)
        for (j = 0; j < X->n_in; j++)
          if (j != i)
            d *= in[j][e];
      din[i][e] += d;
    }
  }
}

static void concat_forward(const mixer *X, const double *const *in, double *y, const double *dy,
                           double *const *din) {
  int i, r, c, first = 0;
  for (i = 0; i < X->n_in; i++) {
    for (r = 0; r < X->rows[i]; r++)
      for (c = 0; c < X->cols[i]; c++) {
        size_t o = X->concat_rows ? (size_t)(first + r) * X->out_cols + c
                                  : (size_t)r * X->out_cols + (size_t)(first + c);
        size_t k = (size_t)r * X->cols[i] + c;
        if (y != NULL)
          y[o] = in[i][k];
        else if (din[i] != NULL)
          din[i][k] += dy[o];
      }
    first += X->concat_rows ? X->rows[i] : X->cols[i];
  }
}

/* ------------------------------------------------------------------ Dot */

/* Dot's work: A (m x k) and B (n x k) normalised (or copied), then 1/norm of
 * each row (m + n). */
static void dot_forward(const mixer *X, const double *const *in, double *work, double *y) {
  int m = X->out_rows, n = X->out_cols, k = X->dot_rows[0] ? X->rows[0] : X->cols[0];
  double *A = work, *B = work + (size_t)m * k, *inv = B + (size_t)n * k;
  int r, p;
  for (r = 0; r < m; r++)
    for (p = 0; p < k; p++)
      A[(size_t)r * k + p] =
          at(in[0], X->cols[0], X->dot_rows[0] ? p : r, X->dot_rows[0] ? r : p, 0);
  for (r = 0; r < n; r++)
    for (p = 0; p < k; p++)
      B[(size_t)r * k + p] =
          at(in[1], X->cols[1], X->dot_rows[1] ? p : r, X->dot_rows[1] ? r : p, 0);
  for (r = 0; r < m + n; r++) {
    double *row = r < m ? A + (size_t)r * k : B + (size_t)(r - m) * k, s = 0.0;
    inv[r] = 1.0;
    if (!X->normalize)
      continue;
    for (p = 0; p < k; p++)
      s += row[p] * row[p];
    inv[r] = 1.0 / sqrt(s >= L2_EPSILON ? s : L2_EPSILON);
    for (p = 0; p < k; p++)
      row[p] *= inv[r];
    if (s < L2_EPSILON)
      inv[r] = -inv[r]; /* clipped: the norm is the constant epsilon */
  }
  mul_abt(A, 0, B, 0, m, n, k, y, 0);
}

static void dot_backward(const mixer *X, const double *work, const double *dy, double *const *din,
                         double *scratch) {
  int m = X->out_rows, n = X->out_cols, k = X->dot_rows[0] ? X->rows[0] : X->cols[0];
  const double *A = work, *B = work + (size_t)m * k, *inv = B + (size_t)n * k;
  double *dA = scratch, *dB = scratch + (size_t)m * k;
  int r, p, side;
  mul_abt(dy, 0, B, 1, m, k, n, dA, 0); /* dA = dy @ B */
  mul_abt(dy, 1, A, 1, n, k, m, dB, 0); /* dB = dy^T @ A */
  for (side = 0; side < 2; side++) {
    int rows = side == 0 ? m : n;
    double *d = side == 0 ? dA : dB;
    const double *hat = side == 0 ? A : B;
    for (r = 0; r < rows; r++) {
      double *dr = d + (size_t)r * k, ir = inv[side == 0 ? r : m + r];
      const double *h = hat + (size_t)r * k;
      if (X->normalize) {
        /* a_hat = a * ir, ir = max(s, eps)^(-1/2) with s = sum a^2:
         * da = ir (da_hat - a_hat (a_hat . da_hat)) where s >= eps, ir da_hat
         * where the norm is clipped (stored as a negative ir) */
        double dot = 0.0;
        int clipped = ir < 0;
        if (clipped)
          ir = -ir;
        for (p = 0; p < k; p++)
          dot += h[p] * dr[p];
        for (p = 0; p < k; p++)
          dr[p] = ir * (dr[p] - (clipped ? 0.0 : h[p] * dot));
      }
      if (din[side] == NULL)
        continue;
      for (p = 0; p < k; p++) {
        int rr = X->dot_rows[side] ? p : r, cc = X->dot_rows[side] ? r : p;
        din[side][(size_t)rr * X->cols[side] + cc] += dr[p];
      }
    }
  }
}

/* ------------------------------------------------------------------ Attention, AdditiveAttention
 */

/* work: raw scores S (Tq x Tv: q.k, or the sums of tanh), the weights W
 * (Tq x Tv), the tanh values of the concat and additive forms
 * (Tq x Tv x d). */
static void attention_forward(const mixer *X, const double *params, const double *const *in,
                              const double *const *masks, double *work, double *y) {
  int Tq = X->rows[0], d = X->cols[0], Tv = X->rows[1], dv = X->cols[1];
  const double *q = in[0], *v = in[1], *k = X->has_key ? in[2] : in[1];
  double *S = work, *W = work + (size_t)Tq * Tv, *tv = W + (size_t)Tq * Tv;
  double scale = 1.0, csw = 1.0, *scores;
  const double *wvec = NULL;
  int i, j, p;
  if (X->op == MIX_ATTENTION) {
    int w = 0;
    if (X->use_scale)
      scale = params[X->w_off[w++]];
    if (X->score_concat)
      csw = params[X->w_off[w++]];
  } else if (X->use_scale) {
    wvec = params + X->w_off[0];
  }
  for (i = 0; i < Tq; i++)
    for (j = 0; j < Tv; j++) {
      double s = 0.0;
      if (X->op == MIX_ATTENTION && !X->score_concat) {
        for (p = 0; p < d; p++)
          s += q[(size_t)i * d + p] * k[(size_t)j * d + p];
      } else {
        for (p = 0; p < d; p++) {
          double u = q[(size_t)i * d + p] + k[(size_t)j * d + p];
          double t = tanh(X->op == MIX_ATTENTION ? scale * u : u);
          tv[((size_t)i * Tv + j) * d + p] = t;
          s += wvec != NULL ? wvec[p] * t : t;
        }
      }
      S[(size_t)i * Tv + j] = s;
    }
  /* the scores the softmax takes: scale * q.k, or csw * sum tanh(...) */
  scores = W; /* computed in place into W, then normalised */
  for (i = 0; i < Tq * Tv; i++)
    scores[i] = X->op == MIX_ATTENTION ? (X->score_concat ? csw * S[i] : scale * S[i]) : S[i];
  mask_scores(X, masks, scores, Tq, Tv);
  softmax_rows(scores, Tq, Tv, W);
  mul_abt(dropped(X, W, work, (size_t)Tq * Tv), 0, v, 1, Tq, dv, Tv, y, 0);
  /* the rows of masked query steps zeroed (Attention.call) */
  if (masks != NULL && masks[0] != NULL)
    for (i = 0; i < Tq; i++)
      for (p = 0; p < dv; p++)
        y[(size_t)i * dv + p] *= masks[0][i];
  if (X->scores_out)
    memcpy(y + (size_t)Tq * dv, W, (size_t)Tq * Tv * sizeof(double));
}

static void attention_backward(const mixer *X, const double *params, const double *const *in,
                               const double *const *masks, const double *work, const double *dy,
                               double *grad, double *const *din, double *scratch) {
  int Tq = X->rows[0], d = X->cols[0], Tv = X->rows[1], dv = X->cols[1];
  const double *q = in[0], *v = in[1], *k = X->has_key ? in[2] : in[1];
  const double *S = work, *W = work + (size_t)Tq * Tv, *tv = W + (size_t)Tq * Tv;
  double *dW = scratch, *dS = scratch + (size_t)Tq * Tv;
  double *dq = din[0], *dv_ = din[1], *dk = X->has_key ? din[2] : din[1];
  double scale = 1.0, csw = 1.0, *g_scale = NULL, *g_csw = NULL, *g_w = NULL;
  const double *wvec = NULL;
  int i, j, p, w = 0;
  if (X->op == MIX_ATTENTION) {
    if (X->use_scale) {
      scale = params[X->w_off[w]];
      g_scale = grad + X->w_off[w++];
    }
    if (X->score_concat) {
      csw = params[X->w_off[w]];
      g_csw = grad + X->w_off[w++];
    }
  } else if (X->use_scale) {
    wvec = params + X->w_off[0];
    g_w = grad + X->w_off[0];
  }
  /* out = (W @ v) * query mask: dW = dy' @ v^T (+ the scores output's
   * gradient), dv += W^T @ dy', dy' = dy with the masked query rows zeroed
   * (after the scratch's 3 Tq x Tv blocks) */
  const double *dyq = dy;
  if (masks != NULL && masks[0] != NULL) {
    double *t = scratch + 3 * (size_t)Tq * Tv;
    for (i = 0; i < Tq; i++)
      for (p = 0; p < dv; p++)
        t[(size_t)i * dv + p] = dy[(size_t)i * dv + p] * masks[0][i];
    dyq = t;
  }
  mul_abt(dyq, 0, v, 0, Tq, Tv, dv, dW, 0);
  if (X->dropout > 0.0) /* out = (W * mask) @ v */
    for (i = 0; i < Tq * Tv; i++)
      dW[i] *= work[X->dropout_off + (size_t)i];
  if (X->scores_out)
    for (i = 0; i < Tq * Tv; i++)
      dW[i] += dy[(size_t)Tq * dv + i];
  if (dv_ != NULL)
    mul_abt(X->dropout > 0.0 ? work + X->dropout_off + X->dropout_size : W, 1, dyq, 1, Tv, dv, Tq,
            dv_, 1);
  softmax_rows_backward(W, dW, Tq, Tv, dS);
  for (i = 0; i < Tq; i++)
    for (j = 0; j < Tv; j++) {
      double ds = dS[(size_t)i * Tv + j];
      if (X->op == MIX_ATTENTION && !X->score_concat) {
        /* scores = scale * q.k */
        if (g_scale != NULL)
          *g_scale += ds * S[(size_t)i * Tv + j];
        ds *= scale;
        for (p = 0; p < d; p++) {
          if (dq != NULL)
            dq[(size_t)i * d + p] += ds * k[(size_t)j * d + p];
          if (dk != NULL)
            dk[(size_t)j * d + p] += ds * q[(size_t)i * d + p];
        }
        continue;
      }
      /* scores = csw * sum tanh(scale * (q + k)), or sum w * tanh(q + k) */
      if (g_csw != NULL)
        *g_csw += ds * S[(size_t)i * Tv + j];
      if (X->op == MIX_ATTENTION)
        ds *= csw;
      for (p = 0; p < d; p++) {
        double t = tv[((size_t)i * Tv + j) * d + p];
        double du = ds * (wvec != NULL ? wvec[p] : 1.0) * (1.0 - t * t);
        if (g_w != NULL)
          g_w[p] += ds * t;
        if (X->op == MIX_ATTENTION) {
          if (g_scale != NULL)
            *g_scale += du * (q[(size_t)i * d + p] + k[(size_t)j * d + p]);
          du *= scale;
        }
        if (dq != NULL)
          dq[(size_t)i * d + p] += du;
        if (dk != NULL)
          dk[(size_t)j * d + p] += du;
      }
    }
}

/* ------------------------------------------------------------------ MultiHeadAttention */

/* y (rows x n) = x (rows x k) @ W (k x n) + b. */
static void project(const double *x, int rows, int k, const double *W, const double *b, int n,
                    double *y) {
  int r, j, p;
  for (r = 0; r < rows; r++)
    for (j = 0; j < n; j++) {
      double s = b != NULL ? b[j] : 0.0;
      for (p = 0; p < k; p++)
        s += x[(size_t)r * k + p] * W[(size_t)p * n + j];
      y[(size_t)r * n + j] = s;
    }
}

/* The backward of project: gW += x^T dy, gb += sum of dy's rows, dx += dy W^T. */
static void project_backward(const double *x, int rows, int k, const double *W, int n,
                             const double *dy, double *gW, double *gb, double *dx) {
  int r, j, p;
  for (r = 0; r < rows; r++)
    for (j = 0; j < n; j++) {
      double g = dy[(size_t)r * n + j];
      if (gb != NULL)
        gb[j] += g;
      for (p = 0; p < k; p++) {
        gW[(size_t)p * n + j] += x[(size_t)r * k + p] * g;
        if (dx != NULL)
          dx[(size_t)r * k + p] += g * W[(size_t)p * n + j];
      }
    }
}

/* The weights of MultiHeadAttention in Keras's order: query kernel (dq, N, H)
 * and bias (N, H), key, value, attention_output kernel (N, Hv, O) and bias
 * (O). */
typedef struct {
  size_t wq, bq, wk, bk, wv, bv, wo, bo;
} mha_weights;

static mha_weights mha_offsets(const mixer *X) {
  mha_weights o;
  int w = 0;
  o.wq = X->w_off[w++];
  o.bq = X->use_bias ? X->w_off[w++] : 0;
  o.wk = X->w_off[w++];
  o.bk = X->use_bias ? X->w_off[w++] : 0;
  o.wv = X->w_off[w++];
  o.bv = X->use_bias ? X->w_off[w++] : 0;
  o.wo = X->w_off[w++];
  o.bo = X->use_bias ? X->w_off[w++] : 0;
  return o;
}

/* work: Q (Tq x NH), K (Tv x NH), V (Tv x NHv), the weights of head n
 * (N x Tq x Tv), the heads' outputs side by side (Tq x NHv). */
static void mha_forward(const mixer *X, const double *params, const double *const *in,
                        const double *const *masks, double *work, double *y) {
  int Tq = X->rows[0], dq = X->cols[0], Tv = X->rows[1], dv = X->cols[1];
  int dk = X->has_key ? X->cols[2] : dv, N = X->heads, H = X->key_dim, Hv = X->value_dim,
      O = X->out_cols;
  const double *key = X->has_key ? in[2] : in[1];
  mha_weights o = mha_offsets(X);
  double *Q = work, *K = Q + (size_t)Tq * N * H, *V = K + (size_t)Tv * N * H;
  double *P = V + (size_t)Tv * N * Hv, *Oc = P + (size_t)N * Tq * Tv;
  const double *Pd;
  double inv = 1.0 / sqrt((double)H);
  int n, i, j, p;
  project(in[0], Tq, dq, params + o.wq, X->use_bias ? params + o.bq : NULL, N * H, Q);
  project(key, Tv, dk, params + o.wk, X->use_bias ? params + o.bk : NULL, N * H, K);
  project(in[1], Tv, dv, params + o.wv, X->use_bias ? params + o.bv : NULL, N * Hv, V);
  for (n = 0; n < N; n++) {
    double *Pn = P + (size_t)n * Tq * Tv;
    /* scores = (q / sqrt(H)) . k, the query scaled first as Keras does */
    for (i = 0; i < Tq; i++)
      for (j = 0; j < Tv; j++) {
        double s = 0.0;
        for (p = 0; p < H; p++)
          s += Q[(size_t)i * N * H + (size_t)n * H + p] * inv *
               K[(size_t)j * N * H + (size_t)n * H + p];
        Pn[(size_t)i * Tv + j] = s;
      }
    mask_scores(X, masks, Pn, Tq, Tv);
    softmax_rows(Pn, Tq, Tv, Pn);
  }
  /* the weights the heads read: P, or P times the dropout mask */
  Pd = dropped(X, P, work, (size_t)N * Tq * Tv);
  for (n = 0; n < N; n++) {
    const double *Pn = Pd + (size_t)n * Tq * Tv;
    for (i = 0; i < Tq; i++)
      for (p = 0; p < Hv; p++) {
        double s = 0.0;
        for (j = 0; j < Tv; j++)
          s += Pn[(size_t)i * Tv + j] * V[(size_t)j * N * Hv + (size_t)n * Hv + p];
        Oc[(size_t)i * N * Hv + (size_t)n * Hv + p] = s;
      }
  }
  project(Oc, Tq, N * Hv, params + o.wo, X->use_bias ? params + o.bo : NULL, O, y);
  if (X->scores_out)
    memcpy(y + (size_t)Tq * O, P, (size_t)N * Tq * Tv * sizeof(double));
}

static void mha_backward(const mixer *X, const double *params, const double *const *in,
                         const double *const *masks, const double *work, const double *dy,
                         double *grad, double *const *din, double *scratch) {
  int Tq = X->rows[0], dq = X->cols[0], Tv = X->rows[1], dv = X->cols[1];
  int dk = X->has_key ? X->cols[2] : dv, N = X->heads, H = X->key_dim, Hv = X->value_dim,
      O = X->out_cols;
  const double *key = X->has_key ? in[2] : in[1];
  double *dkey = X->has_key ? din[2] : din[1];
  mha_weights o = mha_offsets(X);
  const double *Q = work, *K = Q + (size_t)Tq * N * H, *V = K + (size_t)Tv * N * H;
  const double *P = V + (size_t)Tv * N * Hv, *Oc = P + (size_t)N * Tq * Tv;
  double *dQ = scratch, *dK = dQ + (size_t)Tq * N * H, *dV = dK + (size_t)Tv * N * H;
  double *dOc = dV + (size_t)Tv * N * Hv, *dP = dOc + (size_t)Tq * N * Hv,
         *dS = dP + (size_t)Tq * Tv;
  double inv = 1.0 / sqrt((double)H);
  int n, i, j, p;
  memset(scratch, 0,
         ((size_t)Tq * N * H + (size_t)Tv * N * H + (size_t)Tv * N * Hv + (size_t)Tq * N * Hv) *
             sizeof(double));
  project_backward(Oc, Tq, N * Hv, params + o.wo, O, dy, grad + o.wo,
                   X->use_bias ? grad + o.bo : NULL, dOc);
  for (n = 0; n < N; n++) {
    const double *Pn = P + (size_t)n * Tq * Tv;
    /* with dropout, the weights read and the mask (else P and ones) */
    const double *Pdn = X->dropout > 0.0 ? work + X->dropout_off + X->dropout_size : P;
    const double *Mn = X->dropout > 0.0 ? work + X->dropout_off : NULL;
    Pdn += (size_t)n * Tq * Tv;
    if (Mn != NULL)
      Mn += (size_t)n * Tq * Tv;
    /* Oc_n = (P_n * M_n) @ V_n: dP_n = (dOc_n @ V_n^T) * M_n (+ the scores
     * output's), dV_n += (P_n * M_n)^T @ dOc_n */
    for (i = 0; i < Tq; i++)
      for (j = 0; j < Tv; j++) {
        double s = 0.0;
        for (p = 0; p < Hv; p++) {
          s += dOc[(size_t)i * N * Hv + (size_t)n * Hv + p] *
               V[(size_t)j * N * Hv + (size_t)n * Hv + p];
          dV[(size_t)j * N * Hv + (size_t)n * Hv + p] +=
              Pdn[(size_t)i * Tv + j] * dOc[(size_t)i * N * Hv + (size_t)n * Hv + p];
        }
        if (Mn != NULL)
          s *= Mn[(size_t)i * Tv + j];
        if (X->scores_out)
          s += dy[(size_t)Tq * O + (size_t)n * Tq * Tv + (size_t)i * Tv + j];
        dP[(size_t)i * Tv + j] = s;
      }
    softmax_rows_backward(Pn, dP, Tq, Tv, dS);
    for (i = 0; i < Tq; i++)
      for (j = 0; j < Tv; j++) {
        /* a masked score is the constant -1e9: no gradient */
        double ds = kept(X, masks, i, j) ? dS[(size_t)i * Tv + j] * inv : 0.0;
        for (p = 0; p < H; p++) {
          dQ[(size_t)i * N * H + (size_t)n * H + p] +=
              ds * K[(size_t)j * N * H + (size_t)n * H + p];
          dK[(size_t)j * N * H + (size_t)n * H + p] +=
              ds * Q[(size_t)i * N * H + (size_t)n * H + p];
        }
      }
  }
  project_backward(in[0], Tq, dq, params + o.wq, N * H, dQ, grad + o.wq,
                   X->use_bias ? grad + o.bq : NULL, din[0]);
  project_backward(key, Tv, dk, params + o.wk, N * H, dK, grad + o.wk,
                   X->use_bias ? grad + o.bk : NULL, dkey);
  project_backward(in[1], Tv, dv, params + o.wv, N * Hv, dV, grad + o.wv,
                   X->use_bias ? grad + o.bv : NULL, din[1]);
}

/* ------------------------------------------------------------------ dispatch */

void mix_forward(const mixer *X, const double *params, const double *const *in,
                 const double *const *masks, double *work, double *y) {
  switch (X->op) {
  case MIX_CONCATENATE:
    concat_forward(X, in, y, NULL, NULL);
    break;
  case MIX_DOT:
    dot_forward(X, in, work, y);
    break;
  case MIX_ATTENTION:
  case MIX_ADDITIVE_ATTENTION:
    attention_forward(X, params, in, masks, work, y);
    break;
  case MIX_MULTI_HEAD_ATTENTION:
    mha_forward(X, params, in, masks, work, y);
    break;
  default:
    merge_forward(X, in, y);
    break;
  }
}

void mix_backward(const mixer *X, const double *params, const double *const *in,
                  const double *const *masks, const double *work, const double *dy, double *grad,
                  double *const *din, double *scratch) {
  switch (X->op) {
  case MIX_CONCATENATE:
    concat_forward(X, in, NULL, dy, din);
    break;
  case MIX_DOT:
    dot_backward(X, work, dy, din, scratch);
    break;
  case MIX_ATTENTION:
  case MIX_ADDITIVE_ATTENTION:
    attention_backward(X, params, in, masks, work, dy, grad, din, scratch);
    break;
  case MIX_MULTI_HEAD_ATTENTION:
    mha_backward(X, params, in, masks, work, dy, grad, din, scratch);
    break;
  default:
    merge_backward(X, in, dy, din);
    break;
  }
}
