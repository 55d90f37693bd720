/* rnnc reference runtime: a plain interpreter of rnnc's layers with run-time
 * shapes, in double precision, forward and backward (BPTT) written out by hand
 * for obviousness, not speed. Generated code is diffed against it.
 *
 * It reads the serialised model description ("spec") that the generator embeds
 * in every generated unit (rnnc_model.spec). The format, one item per line:
 *
 *   rnnc-spec 1
 *   input <d1> [<d2>]            per-sample input shape: timesteps features, or features
 *   layer <Class> <name> key=value ...
 *   loss <keras loss name> [from_logits] [label_smoothing=S] [delta=D]
 *                                optional: a loss of the catalog (RNNC_LOSSES) by any of
 *                                its names; from_logits: the output is the logits; the
 *                                parameters of rnnc_loss_config (RNNC_LOSS_PARAMS), Keras's
 *                                defaults when absent. A crossentropy after a last Dense
 *                                (not logits=0) or Activation with softmax (categorical,
 *                                sparse) or sigmoid (binary) is computed from that layer's
 *                                logits, as tf.keras does.
 *   regularize <tensor> offset=O size=S l1=A l2=B
 *                                optional, after the layers: a weight regularizer
 *                                (Keras's L1L2) on params[O, O + S): rnnc_ref_loss_grad
 *                                adds A sum |w| + B sum w^2 to the loss and
 *                                A sign(w) + 2 B w to the gradient.
 *   activity n<j>.0 l1=A l2=B    optional, after the layers: Keras's activity_regularizer
 *                                on node j's (only) output y: rnnc_ref_loss_grad adds
 *                                (A sum |y| + B sum y^2) / n over the n samples to the
 *                                loss and (A sign(y) + 2 B y) / n to y's gradient.
 *
 * Any layer line may say trainable=0 (a frozen layer, Keras's trainable =
 * False): its weights get a zero gradient from rnnc_ref_backward and
 * rnnc_ref_loss_grad, and a frozen BatchNormalization normalises with its
 * moving statistics in training too, which rnnc_ref_update_stats leaves
 * alone. On the wrapped line of a Bidirectional it freezes both directions.
 *
 * Classes and keys (every key of the class present, in any order, booleans as
 * 0/1; keys in [brackets] are optional):
 *   Dense      units activation use_bias [logits]      (applies to the last axis)
 *              logits=0 (TimeDistributed's Dense): a crossentropy after it reads
 *              its probabilities, not its logits (tf.keras's reshape drops them)
 *   SimpleRNN  units activation use_bias return_sequences return_state go_backwards
 *              [initial_state] [zero_output_for_mask]
 *   LSTM       units activation recurrent_activation use_bias
 *              return_sequences return_state go_backwards [initial_state]
 *              [zero_output_for_mask]
 *   GRU        units activation recurrent_activation use_bias reset_after
 *              return_sequences return_state go_backwards [initial_state]
 *              [zero_output_for_mask]
 *   Masking    mask_value: a (T, F) input, the same shape out; the mask of
 *              step t is any(x[t, :] != mask_value), the output x * mask
 *              (Keras 3 keras/src/layers/core/masking.py). The mask goes
 *              with the tensors: Dense, the elementwise layers and
 *              LayerNormalization pass it on, a recurrent layer (and
 *              Bidirectional) reads it and passes it on with
 *              return_sequences, any other layer drops it. A recurrent
 *              layer keeps its states at a masked step and outputs the
 *              kept h there, or zeros with zero_output_for_mask=1 (which
 *              Bidirectional sets to return_sequences on both directions,
 *              as Keras 3 does, whatever its wrapped line says). The loss
 *              of a masked output is sum(rows * mask) / (sum(mask) + 1e-7)
 *              over the call's samples (Keras 3 keras/src/losses/loss.py
 *              apply_mask). No gradient flows through the mask.
 *   Bidirectional  merge_mode (concat sum mul ave none), and the next line is
 *              the "layer" line of the wrapped SimpleRNN, LSTM or GRU, named by
 *              its own name:
 *                layer Bidirectional bidirectional merge_mode=concat
 *                layer SimpleRNN simple_rnn units=8 activation=tanh use_bias=1 ...
 *              The wrapped line may not have initial_state=1 (rejected);
 *              initial_state=0 there is accepted and means the default.
 *   Conv1D     filters groups kernel_size strides padding dilation_rate activation use_bias
 *   SeparableConv1D  filters depth_multiplier kernel_size strides padding dilation_rate
 *              activation use_bias
 *   DepthwiseConv1D  depth_multiplier kernel_size strides padding dilation_rate activation
 *              use_bias
 *   MaxPooling1D, AveragePooling1D  pool_size strides padding
 *   GlobalMaxPooling1D, GlobalAveragePooling1D  [keepdims]
 *   ZeroPadding1D, Cropping1D  before after
 *   UpSampling1D  size
 *   Flatten    (no key)
 *   Reshape    target=A,B (two dimensions) or target=N (one)
 *   Permute    swap (1: steps and channels swapped, 0: unchanged)
 *   RepeatVector  n
 *   LayerNormalization  epsilon center scale rms_scaling
 *   BatchNormalization  momentum epsilon center scale
 *   initial_state (absent = 0): 1 makes the layer take its initial states from
 *              the model's input, as Keras's layer(x, initial_state=[...]);
 *              see "Inputs" below.
 * Activations: the catalog's (RNNC_ACTIVATIONS in rnnc_catalog.h), Keras 3's
 * definitions: linear relu tanh sigmoid softmax hard_sigmoid (Keras 3's
 * relu6(x + 3) / 6, derivative 1/6 strictly inside (-3, 3))
 * hard_sigmoid_keras2 (tf.keras 2.x's clip(0.2 x + 0.5, 0, 1), derivative 0.2
 * strictly inside (-2.5, 2.5)) elu selu gelu gelu_approximate (the tanh
 * form) swish silu softplus softsign exponential leaky_relu (slope 0.2) relu6
 * mish hard_silu hard_swish log_softmax; softmax and log_softmax are over the
 * last axis (not inside a recurrent cell).
 * Elementwise layers (their output has the input's shape, (T, F) or (F)):
 *   Activation activation
 *   ReLU       max_value (a number, or none) negative_slope threshold: Keras's
 *              ReLU.static_call (a slope alone: leaky relu)
 *   LeakyReLU  negative_slope
 *   ELU        alpha
 *   PReLU      alpha_shape=C (a (F) input) or RxC (a (T, F) input; R is T or 1,
 *              C is F or 1: 1 along a shared axis): one weight "alpha",
 *              relu(x) - alpha relu(-x)
 *   Dropout    rate salt seed (none or an integer) per_sample per_step per_feature:
 *              in training (rnnc_ref_loss_grad) y = x * mask, the mask's values
 *              rnnc_noise_value(RNNC_NOISE_DROPOUT, rate, seed (the layer's, else
 *              rnnc_ref_set_noise's), salt, step, sample, index), index r * C + c
 *              over the mask (R x C: R = T when per_step else 1, C = F when
 *              per_feature else 1; broadcast along the other axes), sample the
 *              call's first plus s (0 when per_sample=0: one mask for the batch);
 *              at inference (rnnc_ref_forward, rnnc_ref_backward) y = x.
 *              SpatialDropout1D is a Dropout with per_step=0.
 *   GaussianNoise  stddev salt seed: y = x + mask (RNNC_NOISE_GAUSSIAN) in training.
 *   GaussianDropout  rate salt seed: y = x * mask (RNNC_NOISE_GAUSSIAN_DROPOUT).
 *   A crossentropy after an Activation softmax (categorical, sparse) or
 *   sigmoid (binary) last layer is computed from that layer's input, as
 *   tf.keras does (Keras's Softmax layer is written "Activation softmax").
 * <name> is the layer's weight prefix, e.g. "simple_rnn" or "time_distributed/dense".
 *
 * The front-end layers read a (T, C) input (T = 1 for a vector):
 *   Conv1D     y[t, f] = act(sum_i sum_c x[t s + i d - before, g Cg + c] kernel[i, c, f]
 *              + bias[f]) for f in group g (C / groups = Cg channels, filters / groups
 *              filters per group); x outside [0, T) is zero; before = d (k - 1) for
 *              padding=causal, TensorFlow's SAME rule (before = total // 2) for same, 0
 *              for valid; the output has ceil(T / s) steps (valid: (T - d (k - 1) - 1) / s
 *              + 1). kernel (k, C / groups, filters), bias (filters).
 *   DepthwiseConv1D  y[t, c m + j] = act(sum_i x[t s + i d - before, c]
 *              depthwise_kernel[i, c, j] + bias[c m + j]); depthwise_kernel (k, C, m).
 *   SeparableConv1D  the depthwise convolution (no bias), then @ pointwise_kernel
 *              (1, C m, filters), + bias, act. Weights depthwise_kernel,
 *              pointwise_kernel, bias.
 *   With softmax or sigmoid a last convolution's pre-activation is the
 *   crossentropy's logits, as a last Dense's.
 *   MaxPooling1D, AveragePooling1D: windows of pool_size steps moved by strides;
 *              padding=same pads by TensorFlow's rule; a window's max (its first
 *              maximum takes the gradient) or mean over the steps inside [0, T).
 *   GlobalMaxPooling1D, GlobalAveragePooling1D: over all T steps -> (C), or (1, C)
 *              with keepdims=1.
 *   ZeroPadding1D, Cropping1D: `before` and `after` zero steps added, or steps
 *              dropped. UpSampling1D: every step `size` times. RepeatVector: a (C)
 *              vector n times -> (n, C). Flatten, Reshape: the same values in the
 *              same order, (T * C) or the target shape. Permute swap=1: (C, T).
 *   LayerNormalization: per step over C: (x - mean) / sqrt(var + epsilon) * gamma +
 *              beta (var biased); rms_scaling=1: x / sqrt(var + epsilon) * gamma.
 *              Weights gamma (scale or rms_scaling), beta (center, not rms_scaling).
 *   BatchNormalization: weights gamma (scale), beta (center), moving_mean,
 *              moving_variance; in training (rnnc_ref_loss_grad) the batch's mean and
 *              biased variance over every step of every sample, at inference
 *              (rnnc_ref_forward, rnnc_ref_backward) the moving ones; the moving
 *              statistics get no gradient (rnnc_ref_update_stats updates them).
 *
 * Recurrent layers read a (T, in) input; U is units; h_0 = c_0 = 0, or with
 * initial_state=1 the caller's (see "Inputs"); x_t is input step T-1-t at
 * processing step t when go_backwards=1, else step t (go_backwards does not
 * change which state is initial: h_0 is the state before the first processed
 * step either way).
 *   SimpleRNN  h_t = act(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).
 *              kernel (in, U), recurrent_kernel (U, U), bias (U).
 *   LSTM       gate blocks i f c o (each U columns) in every tensor:
 *              kernel (in, 4U), recurrent_kernel (U, 4U), bias (4U);
 *              z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias;
 *              i = rec(z_i), f = rec(z_f), g = act(z_c), o = rec(z_o);
 *              c_t = f c_{t-1} + i g; h_t = o act(c_t). States [h_T, c_T].
 *   GRU        gate blocks z r h: kernel (in, 3U), recurrent_kernel (U, 3U);
 *              reset_after=1: bias (2, 3U), row 0 input bias, row 1 recurrent bias;
 *                xz, xr, xh = split(x_t @ kernel + bias[0]);
 *                hz, hr, hh = split(h_{t-1} @ recurrent_kernel + bias[1]);
 *                z = rec(xz + hz); r = rec(xr + hr); cand = act(xh + r hh);
 *              reset_after=0: bias (3U);
 *                z = rec(x_t @ kernel_z + h_{t-1} @ recurrent_kernel_z + bias_z), r alike,
 *                cand = act(x_t @ kernel_h + (r h_{t-1}) @ recurrent_kernel_h + bias_h);
 *              h_t = z h_{t-1} + (1 - z) cand. States [h_T].
 *   use_bias=0 removes the bias tensor. The output is (T, U), the h of every
 *   processing step in processing order (with go_backwards=1 not reversed back,
 *   as in Keras), with return_sequences=1, else (U), h_T. return_state=1 adds
 *   the states as further outputs: [output, states...].
 *   Bidirectional runs a forward copy of the wrapped layer and a backward copy
 *   with go_backwards flipped (weights: first the forward copy's tensors,
 *   Keras's <name>/forward_<inner>/..., then the backward copy's, each in the
 *   wrapped layer's order and shapes). With return_sequences=1 the backward
 *   copy's output is reversed back in time so that step t of both directions
 *   lines up; with return_sequences=0 each direction gives its last h. Then
 *   concat (forward then backward along the last axis: 2U), sum, mul, ave
 *   ((f + b) / 2), or none (two outputs, forward then backward). With
 *   return_state=1 (the wrapped line's): [output(s)..., forward states...,
 *   backward states...].
 *
 * Inputs: the model's inputs are, in order, the main input (the 'input'
 * line's shape), then for each layer with initial_state=1, in spec order, its
 * initial states in Keras order, each a separate input of U reals: h_0 for
 * SimpleRNN and GRU; h_0 then c_0 for LSTM. x per sample is their
 * concatenation in that order (rnnc_ref_input_size is the total;
 * rnnc_ref_input_count and rnnc_ref_input_part describe the parts), and the dx
 * of rnnc_ref_backward and rnnc_ref_loss_grad covers the whole concatenation:
 * d(loss)/d(main input), then d(loss)/dh_0 (and dc_0) of each such layer.
 * Without initial_state=1 there is one input, the main one, as before.
 *
 * Outputs: a layer with several outputs (return_state=1, or Bidirectional
 * merge_mode=none) may only be the last layer. The model's outputs are the last
 * layer's, in Keras order; y per sample is their concatenation in that order
 * (rnnc_ref_output_size is the total; rnnc_ref_output_count and
 * rnnc_ref_output_part describe the parts), and rnnc_ref_backward takes dy for
 * the whole concatenation. The loss applies to the first output only (its
 * rows and its last axis; the target is sized for it: rnnc_ref_target_size);
 * the other outputs get zero gradient from the loss.
 *
 * Parameters are one flat vector of doubles in the order the layers appear,
 * each layer's tensors in Keras's order (kernel, recurrent_kernel, bias), each
 * tensor row-major in its Keras shape: the same layout as a generated unit. */
#ifndef RNNC_REF_H
#define RNNC_REF_H

#include <stddef.h>
#include <stdint.h>

typedef struct rnnc_ref rnnc_ref;

/* Parses a spec; NULL with a message in err on a malformed spec. */
rnnc_ref *rnnc_ref_new(const char *spec, char *err, size_t errlen);
void rnnc_ref_free(rnnc_ref *m);

size_t rnnc_ref_n_params(const rnnc_ref *m);
size_t rnnc_ref_input_size(const rnnc_ref *m);  /* reals per sample */
size_t rnnc_ref_output_size(const rnnc_ref *m); /* reals per sample */
size_t rnnc_ref_target_size(const rnnc_ref *m); /* reals per sample of the training target */

/* Number of model inputs: 1 (the main input) plus one per initial state of
 * the layers with initial_state=1 (SimpleRNN, GRU: h_0; LSTM: h_0 and c_0). */
size_t rnnc_ref_input_count(const rnnc_ref *m);

/* Reals per sample of input i (0-based: 0 the main input, then the initial
 * states in spec order, h_0 before c_0); *offset (may be NULL) gets its offset
 * in a sample's concatenated inputs. For i >= the count: returns 0 and sets
 * *offset to rnnc_ref_input_size. */
size_t rnnc_ref_input_part(const rnnc_ref *m, size_t i, size_t *offset);

/* Number of model outputs (1, or the last layer's outputs with return_state=1
 * or merge_mode=none). */
size_t rnnc_ref_output_count(const rnnc_ref *m);

/* Reals per sample of output i (0-based, Keras order); *offset (may be NULL)
 * gets its offset in a sample's concatenated outputs. For i >= the count:
 * returns 0 and sets *offset to rnnc_ref_output_size. */
size_t rnnc_ref_output_part(const rnnc_ref *m, size_t i, size_t *offset);

/* x: n x input_size (every input); y: n x output_size. Returns 0, or -1 on
 * allocation failure. */
int rnnc_ref_forward(rnnc_ref *m, const double *params, const double *x, int n, double *y);

/* Backward from dy = d(loss)/d(y) (n x output_size: every output, states
 * included): grad (n_params) is overwritten with the gradient summed over
 * samples; dx (may be NULL, n x input_size) gets d(loss)/d(x), every input
 * (initial states included). */
int rnnc_ref_backward(rnnc_ref *m, const double *params, const double *x, const double *dy, int n,
                      double *grad, double *dx);

/* Forward, the spec's loss on the first output (with Keras's fused softmax +
 * crossentropy when the last layer is a Dense with activation softmax),
 * backward. target: n x target_size. Returns the loss; grad, dx and y_pred
 * (n x output_size, all outputs) may be NULL. */
double rnnc_ref_loss_grad(rnnc_ref *m, const double *params, const double *x, const double *target,
                          int n, double *grad, double *dx, double *y_pred);
/* The same with per-sample weights (sample_weight: n reals, NULL: all 1),
 * as the generated loss_grad_weighted: each sample's weight multiplies its
 * rows' loss and gradient in every output's loss (rnnc_loss_eval_sw). */
double rnnc_ref_loss_grad_weighted(rnnc_ref *m, const double *params, const double *x,
                                   const double *target, const double *sample_weight, int n,
                                   double *grad, double *dx, double *y_pred);

/* BatchNormalization's moving statistics after one training step on the n
 * samples x (Keras: moving = moving * momentum + batch * (1 - momentum), the
 * batch statistics from the given params): updates params in place (the
 * moving_mean and moving_variance tensors only). Returns 0, or -1 for n <= 0
 * or on allocation failure. A model without BatchNormalization is left as
 * it is. */
int rnnc_ref_update_stats(rnnc_ref *m, double *params, const double *x, int n);

/* The key of the noise layers' masks in the next rnnc_ref_loss_grad calls
 * (rnnc_model.set_noise's): seed, optimizer step and the index of the call's
 * first sample in the step's batch; 0, 0, 0 after rnnc_ref_new. */
void rnnc_ref_set_noise(rnnc_ref *m, uint64_t seed, long step, long first_sample);

#endif
