/* The reference runtime's layers of several inputs (internal to
 * librnnc_ref): Keras's merge layers, Dot, Attention, AdditiveAttention and
 * MultiHeadAttention, one sample at a time, in double precision, forward and
 * backward written out from their definitions. ref.c parses their spec
 * lines and wires them into the graph; this file only computes.
 *
 * A tensor per sample is a rows x cols row-major matrix (a vector: 1 x n). */
#ifndef RNNC_REF_MIX_H
#define RNNC_REF_MIX_H

#include <stddef.h>

enum {
  MIX_ADD = 1,
  MIX_SUBTRACT,
  MIX_MULTIPLY,
  MIX_AVERAGE,
  MIX_MAXIMUM,
  MIX_MINIMUM,
  MIX_CONCATENATE,
  MIX_DOT,
  MIX_ATTENTION,
  MIX_ADDITIVE_ATTENTION,
  MIX_MULTI_HEAD_ATTENTION
};

#define MIX_MAX_INPUTS 16

typedef struct {
  int op;
  int n_in;
  int rows[MIX_MAX_INPUTS], cols[MIX_MAX_INPUTS]; /* each input, per sample */
  int out_rows, out_cols;                         /* output 0 */
  /* Concatenate: along the rows (the time axis) or the columns */
  int concat_rows;
  /* Dot: whether each input is reduced along its rows (else its columns),
   * and normalize; the product is A @ B^T with A, B the inputs turned so
   * that the reduced axis is their columns */
  int dot_rows[2];
  int normalize;
  /* attention: query Tq x dq, value Tv x dv, key Tv x dk */
  int use_scale, score_concat, causal, scores_out, has_key;
  int heads, key_dim, value_dim, use_bias; /* MultiHeadAttention; out_cols its output size */
  /* attention: dropout on the weights (rate; 0: none); the caller fills
   * dropout_size reals at work + dropout_off with the mask (ones at
   * inference) before mix_forward */
  double dropout;
  size_t dropout_off, dropout_size;
  /* weights: offsets into the parameter vector, in Keras's order */
  int n_w;
  size_t w_off[8];
  size_t n_params;
  size_t work_size;    /* trace reals per sample */
  size_t scratch_size; /* reals of scratch for backward */
} mixer;

/* Fills the sizes, weights, outputs and trace of X from its op, options and
 * input shapes (X->rows, X->cols); n_outputs gets its output count. Returns
 * 0, or -1 with a message (naming no line: the caller adds it). */
int mix_build(mixer *X, int *n_outputs, char *err, size_t errlen);
/* Gives the weights their offsets from *offset on. */
void mix_assign_offsets(mixer *X, size_t *offset);
/* One sample: in[i] the inputs, masks[i] their Keras step masks (1 kept, 0
 * masked; masks or an entry NULL: none; the attention layers read them),
 * work the trace, y the outputs one after the other (output 0, then the
 * attention scores with scores_out). */
void mix_forward(const mixer *X, const double *params, const double *const *in,
                 const double *const *masks, double *work, double *y);
/* One sample: dy = d(loss)/d(y); adds to grad and to din[i] (each may be
 * NULL). scratch: X->scratch_size reals. */
void mix_backward(const mixer *X, const double *params, const double *const *in,
                  const double *const *masks, const double *work, const double *dy, double *grad,
                  double *const *din, double *scratch);

#endif
