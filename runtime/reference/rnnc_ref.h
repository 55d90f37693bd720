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
 *   loss <keras loss name>       optional
 *
 * Classes and keys (all keys always present, booleans as 0/1):
 *   Dense      units activation use_bias               (applies to the last axis)
 *   SimpleRNN  units activation use_bias return_sequences return_state go_backwards
 * Activations: linear relu tanh sigmoid softmax.
 * <name> is the layer's weight prefix, e.g. "simple_rnn" or "time_distributed/dense".
 *
 * Parameters are one flat vector of doubles in the order the layers appear,
 * each layer's tensors in Keras's order (kernel, recurrent_kernel, bias), each
 * tensor row-major in its Keras shape: the same layout as a generated unit. */
#ifndef RNNC_REF_H
#define RNNC_REF_H

#include <stddef.h>

typedef struct rnnc_ref rnnc_ref;

/* Parses a spec; NULL with a message in err on a malformed spec. */
rnnc_ref *rnnc_ref_new(const char *spec, char *err, size_t errlen);
void rnnc_ref_free(rnnc_ref *m);

size_t rnnc_ref_n_params(const rnnc_ref *m);
size_t rnnc_ref_input_size(const rnnc_ref *m);  /* reals per sample */
size_t rnnc_ref_output_size(const rnnc_ref *m); /* reals per sample */
size_t rnnc_ref_target_size(const rnnc_ref *m); /* reals per sample of the training target */

/* y: n x output_size. Returns 0, or -1 on allocation failure. */
int rnnc_ref_forward(rnnc_ref *m, const double *params, const double *x, int n, double *y);

/* Backward from dy = d(loss)/d(y): grad (n_params) is overwritten with the
 * gradient summed over samples; dx (may be NULL) gets d(loss)/d(x). */
int rnnc_ref_backward(rnnc_ref *m, const double *params, const double *x, const double *dy, int n,
                      double *grad, double *dx);

/* Forward, the spec's loss (with Keras's fused softmax + crossentropy when the
 * last layer's activation is softmax), backward. Returns the loss; grad, dx and
 * y_pred may be NULL. */
double rnnc_ref_loss_grad(rnnc_ref *m, const double *params, const double *x, const double *target,
                          int n, double *grad, double *dx, double *y_pred);

#endif
