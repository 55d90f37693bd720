#!/usr/bin/python3
"""Writes the conformance suite's golden vectors from PyTorch (float64).

    /usr/bin/python3 tests/conformance/golden.py [--out DIR] [--table] [CASE...]

For every case below (or the ones named) it writes DIR/<case>/ (default
tests/conformance/cases/):

  model.lua            the rnnc model description (layers, compile{})
  weights.safetensors  the initial weights, F64, Keras names as rnnc uses them
  x.npy, x_1.npy ...   the inputs: the main input, then initial states
  y.npy                the training target of output 0
  out.npy, out_1.npy   every output of the model at the initial weights
  grad.safetensors     "loss" (shape [1]), d loss / d every weight (weight
                       names), d loss / d every input ("input", "input_1", ...)
  trained.safetensors  the weights after STEPS full-batch optimizer updates on
                       (x, y), and "loss_history": the loss before each update

and DIR/index.txt, one line per case: name, samples, sequence length, input
count, output count, then extra `rnnc generate` options. --table prints the README's case
table instead (--results CHECK_OUTPUT adds the errors a run measured), and
--float32-drift how far PyTorch itself strays in float32.

Every weight, input and target value is a float32 number (stored as
float64), so the float32 build of a case starts from exactly the same numbers.
"""

import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_torch import AttentionLayer, GraphModel, Merge  # noqa: E402
from keras_torch import Masking  # noqa: E402
from keras_torch import (GRU, LSTM, ActivationLayer, Bidirectional, Dense, Loss, Model,  # noqa: E402
                         Optimizer, Schedule, SimpleRNN, TimeDistributed, compile_line, loss_and_grads)
from keras_torch import KerasSchedule  # noqa: E402
from keras_torch import (AveragePooling1D, BatchNormalization, Conv1D, Cropping1D,  # noqa: E402
                         DepthwiseConv1D, Embedding, Flatten, GlobalAveragePooling1D, GlobalMaxPooling1D,
                         LayerNormalization, MaxPooling1D, Permute, RepeatVector, Reshape,
                         SeparableConv1D, UpSampling1D, ZeroPadding1D, apply_updates,
                         inference_outputs, non_trainable_weights)
from keras_torch import Constraint, Regularizer, apply_constraints  # noqa: E402
from keras_torch import (NOISE, Dropout, GaussianDropout, GaussianNoise,  # noqa: E402
                         SpatialDropout1D)

STEPS = 20  # optimizer updates of the trajectory
WEIGHT_RANGE = 0.6  # weights uniform in [-0.6, 0.6]


class Case:
    def __init__(self, name, layers, input_shape, loss, optimizer, n=3, steps=None, functional=False,
                 initial_state_layers=(), generate_options=(), weight_scale=None,
                 soft_targets=False, consistent_saturation=False, masked_steps=()):
        self.name = name
        # (sample, step) pairs whose input row is set to the Masking layer's
        # mask_value: padding and holes the mask removes
        self.masked_steps = list(masked_steps)
        self.model = Model(layers, input_shape, functional=functional,
                           initial_state_layers=initial_state_layers)
        self.loss, self.optimizer, self.n = loss, optimizer, n
        # the data's sequence length (a model of length None is generated for
        # up to --timesteps and run at this length)
        self.steps = steps if steps is not None else (input_shape[0] if len(input_shape) == 2 else 0)
        self.generate_options = list(generate_options)
        self.weight_scale = weight_scale or {}
        self.soft_targets = soft_targets
        self.consistent_saturation = consistent_saturation


class GraphCase(Case):
    """A functional graph (issue 15): inputs of the given shapes, nodes
    (outputs, layer, inputs) as GraphModel takes them, one output."""

    def __init__(self, name, input_shapes, nodes, output, loss, optimizer, n=3):
        self.name = name
        self.model = GraphModel(input_shapes, nodes, output)
        self.loss, self.optimizer, self.n = loss, optimizer, n
        self.steps = input_shapes[0][0] if len(input_shapes[0]) == 2 else 0
        self.generate_options = []
        self.weight_scale = {}
        self.soft_targets = False
        self.consistent_saturation = False
        self.masked_steps = []
        # (input, sample, step): rows set to 0, a Masking layer's mask_value
        self.masked_input_steps = []


def graph_cases():
    """The merge layers, fan-out, shared layers and several inputs."""
    d1, lstm, shared = Dense(3, activation="tanh"), LSTM(3, return_sequences=True), Dense(3, activation="tanh")
    gru, v1, v2 = GRU(3), Dense(3, activation="sigmoid"), Dense(3)
    rnn, srnn = SimpleRNN(2, return_state=True), SimpleRNN(2)
    return [
        GraphCase("merge_add_subtract_multiply", [(3, 2), (3, 2)], [
            (["a"], d1, ["in0"]), (["b"], lstm, ["in1"]),
            (["s"], Merge("Add"), ["a", "b"]), (["d"], Merge("Subtract"), ["a", "b"]),
            (["m"], Merge("Multiply"), ["s", "d", "a"]), (["y"], Dense(2), ["m"])],
            "y", L("mse"), O("Adam", learning_rate=0.01), n=3),
        GraphCase("merge_average_maximum_minimum_concatenate", [(4, 2), (3,)], [
            (["r"], gru, ["in0"]), (["v"], v1, ["in1"]), (["w"], v2, ["in1"]),
            (["mx"], Merge("Maximum"), ["r", "v"]), (["mn"], Merge("Minimum"), ["r", "v", "w"]),
            (["av"], Merge("Average"), ["mx", "mn"]), (["c"], Merge("Concatenate"), ["av", "r", "in1"]),
            (["y"], Dense(3, activation="softmax"), ["c"])],
            "y", L("sparse_categorical_crossentropy"), O("SGD", learning_rate=0.1), n=4),
        GraphCase("shared_dense_concatenate_time_states", [(3, 2), (2, 2)], [
            (["a"], shared, ["in0"]), (["b"], shared, ["in1"]),
            (["c"], Merge("Concatenate", axis=1), ["a", "b"]),
            (["h", "s"], rnn, ["c"]), (["g"], srnn, ["a", "s"]),
            (["e"], Merge("Add"), ["h", "g", "s"]), (["y"], Dense(2), ["e"])],
            "y", L("mae"), O("RMSprop", learning_rate=0.01), n=3),
        GraphCase("dot_axes_normalize", [(3, 2), (4, 2), (3,)], [
            (["q"], Dense(3, activation="tanh"), ["in0"]), (["k"], Dense(3), ["in1"]),
            (["s"], Merge("Dot", axes=2), ["q", "k"]),
            (["t"], Merge("Dot", axes=1, normalize=True), ["s", "q"]),
            (["u"], Dense(3, activation="tanh"), ["in2"]), (["w"], Dense(3), ["in2"]),
            (["v"], Merge("Dot", axes=(1, 1), normalize=True), ["u", "w"]),
            (["f"], Merge("Concatenate"), ["t", "t"]), (["r"], GRU(2), ["f"]),
            (["c"], Merge("Concatenate"), ["r", "v"]), (["y"], Dense(2), ["c"])],
            "y", L("mse"), O("Adam", learning_rate=0.01), n=3),
    ] + attention_cases()


def attention_cases():
    """Attention, AdditiveAttention and MultiHeadAttention: every option, the
    key given or not, causal masks (Tq != Tv), the scores as an output."""
    A = AttentionLayer
    mha = GraphCase("multi_head_attention", [(4, 3), (5, 2), (5, 3)], [
        (["c"], A("MultiHeadAttention", num_heads=2, key_dim=2), ["in0", "in1"]),
        (["d"], A("MultiHeadAttention", causal=True, num_heads=2, key_dim=3, value_dim=2, use_bias=False,
                  output_shape=4), ["in0", "in1", "in2"]),
        (["e"], A("MultiHeadAttention", causal=True, num_heads=1, key_dim=2), ["c", "c"]),
        (["j"], Merge("Concatenate"), ["c", "d", "e"]), (["y"], Dense(2), ["j"])],
        # SGD: the key biases' gradients are exact zeros seen through
        # rounding, which Adam would scale up to steps of its rate
        "y", L("mse"), O("SGD", learning_rate=0.1), n=3)
    # larger scores for the self-attention of c: on near-uniform weights its
    # query gradient is a difference of near-equal terms (float32 drift 7e-6)
    mha.weight_scale = {"multi_head_attention_2/query/kernel": 3.0, "multi_head_attention_2/key/kernel": 3.0}
    # Keras masks (Masking) into every attention layer: the value's mask
    # and the causal one joined, the query's rows zeroed (Attention), the
    # query's and key's masks too and -1e9 in place (MultiHeadAttention);
    # the output carries the query's mask to the loss. No row masks every
    # value step it may see (Keras then averages scores lowered by 1e9, whose
    # rounding no finite difference or relative tolerance compares).
    masked = GraphCase("attention_masked", [(4, 3), (5, 2), (5, 3)], [
        (["mq"], Masking(), ["in0"]), (["mv"], Masking(), ["in1"]), (["mk"], Masking(), ["in2"]),
        (["q"], LSTM(3, return_sequences=True), ["mq"]),
        (["c"], A("Attention", causal=True, use_scale=True), ["q", "mv", "mk"]),
        (["d"], A("AdditiveAttention"), ["c", "mv"]),
        (["e"], A("MultiHeadAttention", causal=True, num_heads=2, key_dim=2), ["d", "mv", "mk"]),
        (["y"], Dense(2), ["e"])],
        "y", L("mse"), O("SGD", learning_rate=0.1), n=3)
    masked.masked_input_steps = [(0, 0, 3), (0, 1, 2), (0, 1, 3), (0, 2, 0), (1, 0, 4), (1, 1, 1), (1, 2, 2),
                                 (2, 0, 3), (2, 2, 4)]
    return [
        GraphCase("attention_dot_scale_causal_scores", [(4, 3), (5, 3)], [
            (["q"], LSTM(3, return_sequences=True), ["in0"]),
            (["c", "w"], A("Attention", causal=True, scores=True, use_scale=True), ["q", "in1"]),
            (["j"], Merge("Concatenate"), ["c", "w"]), (["y"], Dense(2), ["j"])],
            "y", L("mse"), O("Adam", learning_rate=0.01), n=3),
        GraphCase("attention_concat_key", [(4, 3), (5, 2), (5, 3)], [
            (["q"], Dense(3, activation="tanh"), ["in0"]),
            (["c"], A("Attention", score_mode="concat", use_scale=True), ["q", "in1", "in2"]),
            (["d"], A("Attention", score_mode="concat", causal=True), ["q", "q"]),
            (["j"], Merge("Concatenate"), ["c", "d"]), (["y"], Dense(2), ["j"])],
            "y", L("mse"), O("SGD", learning_rate=0.1), n=3),
        GraphCase("additive_attention", [(4, 3), (5, 2), (5, 3)], [
            (["q"], GRU(3, return_sequences=True), ["in0"]),
            (["c"], A("AdditiveAttention"), ["q", "in1", "in2"]),
            (["d", "w"], A("AdditiveAttention", causal=True, scores=True, use_scale=False), ["q", "in2"]),
            (["j"], Merge("Concatenate"), ["c", "d", "w"]), (["y"], Dense(2), ["j"])],
            "y", L("mse"), O("Adam", learning_rate=0.01), n=3),
        mha,
        masked,
        # dropout on the weights in training (rnnc's counter-based masks,
        # as the Dropout layer's), a seed of the layer's own on one
        GraphCase("attention_dropout", [(4, 3), (5, 3)], [
            (["q"], GRU(3, return_sequences=True), ["in0"]),
            (["c"], A("Attention", causal=True, use_scale=True, dropout=0.3), ["q", "in1"]),
            (["d"], A("AdditiveAttention", dropout=0.2, seed=7), ["q", "in1"]),
            (["e"], A("MultiHeadAttention", num_heads=2, key_dim=2, dropout=0.25), ["c", "in1"]),
            (["j"], Merge("Concatenate"), ["c", "d", "e"]), (["y"], Dense(2), ["j"])],
            "y", L("mse"), O("SGD", learning_rate=0.1), n=3),
    ]


L = Loss
O = Optimizer
ED = Schedule


def Activation(name, **kw):
    return ActivationLayer("Activation", name, **kw)


def ReLU(*max_value, **kw):
    return ActivationLayer("ReLU", *max_value, **kw)


def LeakyReLU(**kw):
    return ActivationLayer("LeakyReLU", **kw)


def ELU(**kw):
    return ActivationLayer("ELU", **kw)


def PReLU(**kw):
    return ActivationLayer("PReLU", **kw)


def Softmax(**kw):
    return ActivationLayer("Softmax", **kw)


CASES = [
    # ---- Dense on (batch, features): every activation, every loss form
    Case("dense_mse_sgd", [Dense(4, activation="relu"), Dense(3, activation="tanh"), Dense(2)], (3,),
         L("mse"), O("SGD", name_only="sgd"), n=4),
    Case("dense_hard_sigmoid_bce", [Dense(4, activation="sigmoid"),
                                    Dense(3, activation="hard_sigmoid_keras2", use_bias=False)], (3,),
         L("binary_crossentropy"), O("SGD", learning_rate=0.1, momentum=0.9), n=4,
         weight_scale={"dense_1/kernel": 8.0}, consistent_saturation=True),
    Case("dense_sigmoid_bce_fused", [Dense(3, activation="tanh", use_bias=False),
                                     Dense(2, activation="sigmoid")], (3,),
         L("binary_crossentropy"), O("SGD", learning_rate=0.05, momentum=0.9, nesterov=True), n=3),
    Case("dense_softmax_cce_fused", [Dense(4, activation="relu"), Dense(3, activation="softmax")], (3,),
         L("categorical_crossentropy"), O("Adam", name_only="adam"), n=4),
    Case("dense_cce_probabilities", [Dense(3, activation="sigmoid")], (4,),
         L("categorical_crossentropy", as_class=True), O("Adagrad", learning_rate=0.1), n=3,
         soft_targets=True),
    Case("dense_cce_from_logits", [Dense(3, activation="tanh"), Dense(3)], (3,),
         L("categorical_crossentropy", from_logits=True), O("Adagrad", name_only="adagrad"), n=2),
    Case("dense_bce_from_logits", [Dense(2)], (3,),
         L("binary_crossentropy", from_logits=True), O("AdamW", name_only="adamw"), n=4),
    Case("dense_sparse_probabilities", [Dense(4, activation="sigmoid")], (3,),
         L("sparse_categorical_crossentropy", as_class=True), O("RMSprop", name_only="rmsprop"), n=4),
    Case("dense_sparse_from_logits", [Dense(3, activation="relu"), Dense(4)], (3,),
         L("sparse_categorical_crossentropy", from_logits=True), None, n=3),
    Case("dense_mae_clipvalue", [Dense(3, activation="hard_sigmoid_keras2"), Dense(2, activation="sigmoid")], (3,),
         L("mae", as_class=True), O("Adagrad", learning_rate=0.2, clipvalue=0.01), n=3),
    # ---- SimpleRNN
    Case("simple_rnn_last", [SimpleRNN(3), Dense(2)], (3, 2),
         L("mse"), O("RMSprop", learning_rate=0.005, rho=0.8), n=3),
    Case("simple_rnn_seq_relu_nobias", [SimpleRNN(4, activation="relu", use_bias=False, return_sequences=True),
                                        TimeDistributed(Dense(3, activation="softmax"))], (4, 3),
         L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.01), n=3),
    Case("simple_rnn_backwards_hard_sigmoid", [SimpleRNN(3, activation="hard_sigmoid_keras2", go_backwards=True,
                                                         return_sequences=True), Dense(2)], (3, 2),
         L("mae", as_class=True), O("RMSprop", learning_rate=0.01, momentum=0.5), n=2),
    Case("simple_rnn_stack", [SimpleRNN(3, activation="sigmoid", return_sequences=True),
                              SimpleRNN(2, activation="linear")], (4, 2),
         L("mean_squared_error"), O("SGD", learning_rate=0.1, clipvalue=0.02), n=3),
    # ---- LSTM
    Case("lstm_last", [LSTM(3), Dense(1)], (3, 2),
         L("mse"), O("Adam", learning_rate=0.01, amsgrad=True), n=4),
    Case("lstm_seq_backwards", [LSTM(3, activation="relu", recurrent_activation="hard_sigmoid_keras2",
                                     return_sequences=True, go_backwards=True),
                                TimeDistributed(Dense(2))], (3, 3),
         L("mae"), O("RMSprop", learning_rate=0.005, momentum=0.9), n=3),
    Case("lstm_nobias_softmax", [LSTM(2, activation="sigmoid", recurrent_activation="tanh", use_bias=False),
                                 Dense(3, activation="softmax")], (4, 2),
         L("categorical_crossentropy"), O("RMSprop", learning_rate=0.01, centered=True), n=3),
    Case("lstm_stack_linear", [LSTM(4, activation="hard_sigmoid_keras2", recurrent_activation="linear",
                                    return_sequences=True), LSTM(2)], (3, 2),
         L("mse"), O("Adam", learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-5), n=2),
    # ---- GRU, reset_after true (Keras's default) and false
    Case("gru_last", [GRU(3), Dense(2, activation="sigmoid")], (3, 2),
         L("binary_crossentropy"), O("AdamW", learning_rate=0.01, weight_decay=0.1), n=4),
    Case("gru_seq_backwards_nobias", [GRU(3, activation="relu", recurrent_activation="hard_sigmoid_keras2",
                                          use_bias=False, return_sequences=True, go_backwards=True),
                                      Dense(3, activation="softmax")], (4, 2),
         L("sparse_categorical_crossentropy"),
         O("Adagrad", learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-6), n=3),
    Case("gru_before_last", [GRU(3, reset_after=False), Dense(2)], (3, 3),
         L("mse"), O("SGD", learning_rate=0.1, clipnorm=0.1), n=3),
    Case("gru_before_seq_backwards_nobias", [GRU(3, reset_after=False, use_bias=False, go_backwards=True,
                                                 return_sequences=True, activation="hard_sigmoid_keras2",
                                                 recurrent_activation="linear"),
                                             TimeDistributed(Dense(2))], (3, 2),
         L("mean_absolute_error"), O("Adam", learning_rate=0.05, global_clipnorm=0.1), n=2),
    Case("lstm_gru_stack_schedule", [LSTM(3, return_sequences=True),
                                     GRU(3, reset_after=False, activation="sigmoid", recurrent_activation="tanh",
                                         return_sequences=True),
                                     TimeDistributed(Dense(2, activation="softmax"))], (3, 2),
         L("categorical_crossentropy"),
         O("Adam", learning_rate=ED(initial_learning_rate=0.05, decay_steps=5, decay_rate=0.5)), n=3),
    # ---- Bidirectional: every merge mode
    Case("bidir_lstm_concat_seq", [Bidirectional(LSTM(2, return_sequences=True)), TimeDistributed(Dense(2))],
         (3, 2), L("mse"), O("AdamW", learning_rate=0.01, weight_decay=0.05, amsgrad=True), n=3),
    Case("bidir_gru_concat_last_nobias", [Bidirectional(GRU(2, use_bias=False)), Dense(1)], (3, 3),
         L("mse"), O("SGD", learning_rate=0.05, momentum=0.8), n=3),
    Case("bidir_gru_sum", [Bidirectional(GRU(3), merge_mode="sum"), Dense(3, activation="softmax")], (4, 2),
         L("sparse_categorical_crossentropy"), O("RMSprop", learning_rate=0.01, legacy=True), n=3),
    Case("bidir_simple_rnn_mul_backwards",
         [Bidirectional(SimpleRNN(3, return_sequences=True, go_backwards=True), merge_mode="mul"), Dense(1)],
         (3, 2), L("mse"),
         O("SGD", learning_rate=ED(initial_learning_rate=0.2, decay_steps=4, decay_rate=0.7, staircase=True)),
         n=3),
    Case("bidir_gru_before_ave",
         [Bidirectional(GRU(2, reset_after=False, activation="relu", return_sequences=True), merge_mode="ave"),
          TimeDistributed(Dense(2, activation="sigmoid"))], (3, 3),
         L("binary_crossentropy"), O("RMSprop", learning_rate=0.01, centered=True, momentum=0.5), n=2),
    Case("bidir_lstm_none_state", [Bidirectional(LSTM(2, return_state=True), merge_mode=None)], (3, 2),
         L("mse"), O("RMSprop", learning_rate=0.01, centered=True, legacy=True), n=3, functional=True),
    # ---- functional: return_state, initial_state
    Case("simple_rnn_return_state", [SimpleRNN(3, return_sequences=True, return_state=True)], (3, 2),
         L("mse"), O("SGD", learning_rate=0.05), n=2, functional=True),
    Case("lstm_initial_state", [LSTM(3, return_sequences=True), Dense(2)], (4, 3),
         L("mse", as_class=True), O("Adam", learning_rate=0.01), n=3, initial_state_layers=(0,)),
    Case("gru_initial_state_return_state", [GRU(3, go_backwards=True, return_state=True)], (3, 2),
         L("mae"), O("Adagrad", learning_rate=0.05), n=3, initial_state_layers=(0,)),
    Case("simple_rnn_initial_state_lstm_state",
         [SimpleRNN(3, return_sequences=True), LSTM(2, return_state=True)], (3, 2),
         L("mse"), O("RMSprop", learning_rate=0.01, rho=0.95, epsilon=1e-6), n=2, initial_state_layers=(0,)),
    Case("gru_before_initial_state",
         [GRU(3, reset_after=False, return_sequences=True), TimeDistributed(Dense(3, activation="softmax"))],
         (3, 2), L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.02, amsgrad=True), n=3,
         initial_state_layers=(0,)),
    # ---- issue 13: Keras 3's activations and the activation layers
    Case("dense_activations_smooth", [Dense(4, activation="elu"), Dense(4, activation="selu"),
                                      Dense(4, activation="gelu"), Dense(4, activation="gelu_approximate"),
                                      Dense(3, activation="softplus")], (3,),
         L("mse"), O("Adam", learning_rate=0.01), n=4),
    Case("dense_activations_more", [Dense(4, activation="swish"), Dense(4, activation="softsign"),
                                    Dense(4, activation="mish"), Dense(4, activation="silu"),
                                    Dense(4, activation="exponential"), Dense(2, activation="log_softmax")], (3,),
         L("mae"), O("SGD", learning_rate=0.05, momentum=0.5), n=3),
    Case("dense_activations_kinked", [Dense(5, activation="leaky_relu"), Dense(5, activation="relu6"),
                                      Dense(5, activation="hard_silu"), Dense(4, activation="hard_swish"),
                                      Dense(3, activation="hard_sigmoid")], (3,),
         L("mse"), O("RMSprop", learning_rate=0.01), n=4, weight_scale={"dense/kernel": 4.0}),
    Case("lstm_hard_sigmoid_gelu", [LSTM(3, recurrent_activation="hard_sigmoid", activation="gelu",
                                         return_sequences=True),
                                    GRU(2, activation="softsign", recurrent_activation="hard_sigmoid")], (3, 2),
         L("mse"), O("Adam", learning_rate=0.01), n=3),
    Case("activation_layers", [Dense(4), ReLU(2.0, negative_slope=0.1, threshold=0.3), LeakyReLU(),
                               ELU(alpha=0.6), PReLU(shared_axes=[1]), Activation("selu"),
                               TimeDistributed(Dense(2))], (3, 2),
         L("mse"), O("Adam", learning_rate=0.02), n=3),
    Case("prelu_per_step_leaky", [SimpleRNN(3, return_sequences=True), PReLU(), LeakyReLU(negative_slope=0.1),
                                  ReLU(), Dense(2)], (3, 2),
         L("mae"), O("SGD", learning_rate=0.1), n=3),
    Case("activation_softmax_fused", [LSTM(3, return_sequences=True), Dense(3), Activation("softmax")], (3, 2),
         L("categorical_crossentropy"), O("Adam", learning_rate=0.01), n=3),
    Case("softmax_layer_sparse", [GRU(4), Dense(3), Softmax()], (3, 2),
         L("sparse_categorical_crossentropy"), O("RMSprop", learning_rate=0.01), n=3),
    Case("activation_sigmoid_bce", [SimpleRNN(3), Activation("sigmoid")], (3, 2),
         L("binary_crossentropy"), O("Adam", learning_rate=0.01), n=4),
    # ---- issue 13: Keras's other losses, label smoothing
    Case("loss_huber", [LSTM(3), Dense(2)], (3, 2), L("huber", delta=0.4), O("Adam", learning_rate=0.02), n=3),
    Case("loss_log_cosh_seq", [GRU(3, return_sequences=True), Dense(2)], (3, 2),
         L("log_cosh"), O("SGD", learning_rate=0.2), n=3),
    Case("loss_mape", [Dense(3, activation="tanh"), Dense(2)], (3,), L("mape"), O("Adam", learning_rate=0.01), n=4),
    Case("loss_msle", [SimpleRNN(3), Dense(2, activation="softplus")], (3, 2), L("msle", as_class=True),
         O("Adam", learning_rate=0.05), n=3),
    Case("loss_kld", [LSTM(3), Dense(3, activation="softmax")], (3, 2), L("kl_divergence"),
         O("Adam", learning_rate=0.02), n=3),
    Case("loss_poisson", [Dense(3, activation="exponential")], (4,), L("poisson", as_class=True),
         O("SGD", learning_rate=0.05), n=4),
    Case("loss_hinge", [Dense(3, activation="tanh"), Dense(2)], (3,), L("hinge"), O("SGD", learning_rate=0.1), n=4),
    Case("loss_squared_hinge_pm1", [GRU(3), Dense(2, activation="tanh")], (3, 2), L("squared_hinge"),
         O("Adam", learning_rate=0.02), n=3, soft_targets=True),
    Case("loss_categorical_hinge", [SimpleRNN(4, return_sequences=True), Dense(3)], (3, 2),
         L("categorical_hinge"), O("RMSprop", learning_rate=0.01), n=3),
    Case("loss_cosine_similarity", [LSTM(3), Dense(3)], (3, 2), L("cosine_similarity", as_class=True),
         O("Adam", learning_rate=0.02), n=3),
    Case("bce_label_smoothing", [Dense(3, activation="tanh"), Dense(2, activation="sigmoid")], (3,),
         L("binary_crossentropy", label_smoothing=0.2), O("Adam", learning_rate=0.01), n=4),
    Case("cce_label_smoothing_logits", [GRU(3), Dense(3)], (3, 2),
         L("categorical_crossentropy", from_logits=True, label_smoothing=0.1), O("Adam", learning_rate=0.01), n=3),
    Case("cce_label_smoothing_probs", [Dense(3, activation="sigmoid")], (4,),
         L("categorical_crossentropy", label_smoothing=0.3), O("SGD", learning_rate=0.1), n=3),
    # ---- issue 13: Keras's other optimizers and learning-rate schedules
    Case("opt_nadam_piecewise", [SimpleRNN(3), Dense(2)], (3, 2), L("mse"),
         O("Nadam", learning_rate=KerasSchedule("PiecewiseConstantDecay", boundaries=[4, 11],
                                                 values=[0.05, 0.02, 0.005])), n=3),
    Case("opt_adamax_inverse_time", [Dense(3, activation="tanh"), Dense(2)], (3,), L("mae"),
         O("Adamax", learning_rate=KerasSchedule("InverseTimeDecay", initial_learning_rate=0.05,
                                                  decay_steps=3, decay_rate=0.5, staircase=True)), n=3),
    Case("opt_adadelta_polynomial", [GRU(2), Dense(2)], (3, 2), L("mse"),
         O("Adadelta", learning_rate=KerasSchedule("PolynomialDecay", initial_learning_rate=1.0,
                                                    decay_steps=6, end_learning_rate=0.1, power=2.0,
                                                    cycle=True)), n=3),
    Case("opt_ftrl_cosine_warmup", [Dense(3, activation="relu"), Dense(2)], (3,), L("mse"),
         O("Ftrl", learning_rate=KerasSchedule("CosineDecay", initial_learning_rate=0.05, decay_steps=10,
                                                alpha=0.1, warmup_target=0.2, warmup_steps=4),
           l1_regularization_strength=0.01, l2_regularization_strength=0.02,
           l2_shrinkage_regularization_strength=0.03, beta=0.5, learning_rate_power=-0.6), n=3),
    Case("opt_lion_cosine_restarts", [LSTM(2), Dense(2)], (3, 2), L("mse"),
         O("Lion", learning_rate=KerasSchedule("CosineDecayRestarts", initial_learning_rate=0.01,
                                                first_decay_steps=3, t_mul=1.5, m_mul=0.8, alpha=0.05)), n=3),
    Case("opt_adam_cosine", [Dense(2)], (3,), L("mse"),
         O("Adam", learning_rate=KerasSchedule("CosineDecay", initial_learning_rate=0.05, decay_steps=8)), n=3),
    # ---- a sequence length chosen at run time (--timesteps 5, data of length 3)
    Case("variable_length_gru", [GRU(3, return_sequences=True), TimeDistributed(Dense(2, activation="softmax"))],
         (None, 2), L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.01), n=3, steps=3,
         generate_options=("--timesteps", "5")),
    # ---- convolutional front ends, pooling, shape and normalisation layers
    Case("conv1d_causal_dilated_lstm",
         [Conv1D(3, 2, padding="causal", dilation_rate=2, activation="relu"), LSTM(3), Dense(1)], (5, 2),
         L("mse"), O("Adam", learning_rate=0.01), n=3),
    Case("conv1d_same_groups_strides_flatten",
         [Conv1D(4, 3, padding="same", strides=2, groups=2, activation="tanh"), Flatten(),
          Dense(3, activation="softmax")], (5, 4),
         L("sparse_categorical_crossentropy"), O("RMSprop", learning_rate=0.01), n=3),
    Case("depthwise_separable_global_average",
         [DepthwiseConv1D(2, depth_multiplier=2, padding="same", activation="sigmoid"),
          SeparableConv1D(3, 2, use_bias=False), GlobalAveragePooling1D(), Dense(2)], (5, 2),
         L("mse"), O("SGD", learning_rate=0.1, momentum=0.9), n=3),
    Case("conv1d_valid_softmax_fused",
         [Conv1D(3, 2, activation="softmax")], (4, 2),
         L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.02), n=3),
    Case("pooling_max_average_global_max",
         [Conv1D(4, 1, activation="tanh"), MaxPooling1D(2, padding="same"),
          AveragePooling1D(3, strides=1, padding="same"), GlobalMaxPooling1D(), Dense(2, activation="sigmoid")],
         (5, 2), L("binary_crossentropy"), O("Adagrad", learning_rate=0.1), n=3),
    Case("padding_cropping_upsampling_permute_reshape",
         [ZeroPadding1D((1, 2)), Cropping1D((2, 1)), UpSampling1D(2), Permute((2, 1)), Reshape((3, -1)),
          GRU(3), Dense(2)], (3, 2),
         L("mae"), O("Adam", learning_rate=0.01), n=3),
    Case("lstm_autoencoder_repeat_vector",
         [LSTM(3), RepeatVector(4), LSTM(2, return_sequences=True), TimeDistributed(Dense(2))], (4, 2),
         L("mse"), O("Adam", learning_rate=0.01), n=3),
    Case("layer_normalization_rms",
         [LayerNormalization(), SimpleRNN(3, return_sequences=True), LayerNormalization(rms_scaling=True, epsilon=0.01),
          Dense(2)], (3, 3),
         L("mse"), O("AdamW", learning_rate=0.01, weight_decay=0.1), n=3),
    Case("batch_normalization_conv_lstm",
         [Conv1D(3, 2, padding="causal", use_bias=False), BatchNormalization(momentum=0.9), LSTM(3),
          BatchNormalization(center=False, epsilon=0.01), Dense(2, activation="softmax")], (4, 2),
         L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.01), n=4),
    Case("batch_normalization_dense",
         [Dense(4, activation="tanh"), BatchNormalization(scale=False), Dense(2)], (3,),
         L("mse"), O("SGD", learning_rate=0.05), n=4),
    # ---- the noise layers and the recurrent layers' dropout: trained with
    # masks of rnnc's counter-based generator (keras_torch.py noise_value),
    # one mask per call, the identity at inference (the outputs)
    Case("dropout_dense_fit",
         [Dense(4, activation="tanh"), Dropout(0.5), Dense(2)], (3,),
         L("mse"), O("SGD", learning_rate=0.1), n=4),
    Case("spatial_dropout_lstm",
         [SpatialDropout1D(0.3), LSTM(3, return_sequences=True), Dropout(0.4, noise_shape=[None, 1, None]),
          Dense(2)], (4, 2),
         L("mse"), O("Adam", learning_rate=0.01), n=4),
    Case("lstm_dropout_recurrent_dropout",
         [LSTM(3, return_sequences=True, dropout=0.3, recurrent_dropout=0.4), LSTM(2, dropout=0.2), Dense(2)],
         (4, 2), L("mse"), O("Adam", learning_rate=0.01), n=4),
    Case("gru_dropout",
         [GRU(3, return_sequences=True, dropout=0.25, recurrent_dropout=0.3),
          GRU(3, reset_after=False, return_sequences=True, dropout=0.2, recurrent_dropout=0.5),
          Bidirectional(SimpleRNN(2, dropout=0.3, recurrent_dropout=0.2)), Dense(3, activation="softmax")],
         (4, 2), L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.01), n=4),
    Case("gaussian_noise_dropout",
         [Dense(4, activation="tanh"), GaussianNoise(0.2), GaussianDropout(0.3, seed=5), Dense(1)], (3,),
         L("mse"), O("Adam", learning_rate=0.02), n=5),
    # ---- trainable=False: no gradient, no update, the gradient flows through
    # to the trainable layer before; a frozen BatchNormalization in inference
    # mode in training
    Case("frozen_dense_lstm",
         [TimeDistributed(Dense(3, activation="tanh")), LSTM(3, return_sequences=True, trainable=False),
          BatchNormalization(momentum=0.9, trainable=False), Dense(2)], (4, 2),
         L("mse"), O("Adam", learning_rate=0.01), n=3),
    Case("frozen_wrappers_adamw",
         [Bidirectional(GRU(2, return_sequences=True), trainable=False), BatchNormalization(momentum=0.9),
          TimeDistributed(Dense(3, activation="tanh", trainable=False)),
          Bidirectional(SimpleRNN(2, trainable=False), merge_mode="sum"), Dense(3, activation="softmax")], (4, 2),
         L("sparse_categorical_crossentropy"), O("AdamW", learning_rate=0.01, weight_decay=0.1), n=4),
    # weight regularizers in the loss and its gradient, constraints after
    # every update (keras_torch.py: Regularizer, Constraint)
    Case("regularizers_constraints_lstm",
         [LSTM(3, kernel_regularizer=Regularizer("L1L2", l1=0.01, l2=0.02),
               recurrent_regularizer=Regularizer("L2", l2=0.05),
               kernel_constraint=Constraint("MaxNorm", max_value=0.5), bias_constraint=Constraint("NonNeg")),
          Dense(2, kernel_regularizer=Regularizer("L1", l1=0.03), bias_regularizer=Regularizer("L2", l2=0.1),
                kernel_constraint=Constraint("MinMaxNorm", min_value=0.2, max_value=0.6, rate=0.7, axis=[0, 1]),
                bias_constraint=Constraint("UnitNorm", axis=0))],
         (3, 2), L("mse"), O("Adam", learning_rate=0.02), n=3),
    # activity regularizers: the penalty of a layer's output over the batch
    # size, its gradient into the layers before (a relu's zeros: sign(0) = 0)
    Case("activity_regularizers",
         [Dense(4, activation="relu", activity_regularizer=Regularizer("L1L2", l1=0.01, l2=0.02)),
          LSTM(3, return_sequences=True, activity_regularizer=Regularizer("L2", l2=0.05)),
          GRU(2, activity_regularizer=Regularizer("L1", l1=0.03)),
          Dense(3, activation="softmax", activity_regularizer=Regularizer("L2", l2=0.04))],
         (3, 2), L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.02), n=3),
    # the ActivityRegularization layer: the identity with that penalty, on
    # the model's input too (its gradient reaches dx only)
    Case("activity_regularization_layer",
         [ActivationLayer("ActivityRegularization", l1=0.01), GRU(3, return_sequences=True),
          ActivationLayer("ActivityRegularization", l1=0.02, l2=0.03), Dense(2)],
         (4, 2), L("mse"), O("RMSprop", learning_rate=0.01), n=3),
    # ---- issue 13: integer tokens in (Embedding: a gather forward, a
    # scatter-add into the table's gradient; token rows repeat within and
    # across samples)
    Case("embedding_lstm_sparse", [Embedding(7, 3), LSTM(4, return_sequences=True), Dense(3, activation="softmax")],
         (5,), L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.02), n=4, steps=5),
    Case("embedding_gru_seq_fit",
         [Embedding(5, 2, embeddings_regularizer=Regularizer("L2", l2=0.05),
                    embeddings_constraint=Constraint("MaxNorm", max_value=0.8, axis=1)),
          GRU(3, return_sequences=True), TimeDistributed(Dense(2))],
         (4,), L("mse"), O("SGD", learning_rate=0.1, momentum=0.5), n=3, steps=4),
    Case("embedding_functional_simple_rnn", [Embedding(9, 4), SimpleRNN(3), Dense(2, activation="tanh")], (3,),
         L("mae"), O("RMSprop", learning_rate=0.01), n=5, steps=3, functional=True),
]
CASES += [
    # ---- Masking and Keras's masks (keras/src/layers/core/masking.py, the
    # masked rnn() of keras/src/backend/*/rnn.py, loss.py apply_mask): right
    # padding, holes, a sample masked throughout; states kept at a masked
    # step, zeros out of Bidirectional (return_sequences) and
    # zero_output_for_mask, go_backwards reading the mask reversed, the loss
    # over the unmasked steps
    Case("masking_lstm_seq", [Masking(), LSTM(3, return_sequences=True), TimeDistributed(Dense(3, activation="softmax"))],
         (5, 2), L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.02), n=3,
         masked_steps=[(0, 3), (0, 4), (1, 0), (1, 2)]),
    Case("masking_gru_last", [Masking(mask_value=0.5), GRU(3), Dense(2)], (4, 2), L("mse"),
         O("Adam", learning_rate=0.02), n=4,
         masked_steps=[(0, 2), (0, 3), (1, 3), (2, 0), (3, 0), (3, 1), (3, 2), (3, 3)]),
    Case("masking_bidirectional_lstm", [Masking(), Bidirectional(LSTM(2, return_sequences=True)), Dense(2)], (4, 2),
         L("mse"), O("RMSprop", learning_rate=0.01), n=3, masked_steps=[(0, 3), (1, 0), (1, 1), (2, 2)]),
    Case("masking_simple_rnn_backwards",
         [Masking(), SimpleRNN(3, go_backwards=True, return_sequences=True), Dense(2, activation="tanh")], (4, 2),
         L("mae"), O("SGD", learning_rate=0.1, momentum=0.5), n=3, masked_steps=[(0, 0), (0, 3), (2, 1)]),
    Case("masking_zero_output_stack",
         [Masking(mask_value=-1.0), LSTM(3, return_sequences=True, zero_output_for_mask=True),
          GRU(2, go_backwards=True, reset_after=False), Dense(2)], (4, 2),
         L("mse"), O("Adam", learning_rate=0.02), n=3, masked_steps=[(0, 3), (1, 1), (2, 0), (2, 3)]),
    # Embedding(mask_zero=True) makes the mask (Keras 3 Embedding.compute_mask):
    # padding after, before and a hole (the other tokens, drawn from
    # [0, input_dim), may hold more zeros: masked as well)
    Case("embedding_mask_zero_bidirectional_lstm",
         [Embedding(6, 3, mask_zero=True), Bidirectional(LSTM(2, return_sequences=True)),
          TimeDistributed(Dense(3, activation="softmax"))], (5,), L("sparse_categorical_crossentropy"),
         O("Adam", learning_rate=0.02), n=3, steps=5, masked_steps=[(0, 3), (0, 4), (1, 0), (2, 2)]),
    Case("embedding_mask_zero_gru_last", [Embedding(5, 2, mask_zero=True), GRU(3), Dense(2)], (4,), L("mse"),
         O("SGD", learning_rate=0.1), n=3, steps=4, masked_steps=[(0, 3), (1, 0), (1, 1), (2, 2)]),
    # a mask and the dropout masks together (the padded tagger's case): the
    # cell's input and state dropped, the masked steps keeping the state
    Case("embedding_mask_zero_bidirectional_lstm_dropout",
         [Embedding(7, 3, mask_zero=True),
          Bidirectional(LSTM(2, return_sequences=True, dropout=0.3, recurrent_dropout=0.4)),
          Dropout(0.25), TimeDistributed(Dense(3, activation="softmax"))], (5,),
         L("sparse_categorical_crossentropy"), O("Adam", learning_rate=0.02), n=3, steps=5,
         masked_steps=[(0, 3), (0, 4), (1, 0), (2, 2)]),
    Case("masking_gru_dropout_last", [Masking(), GRU(3, dropout=0.2, recurrent_dropout=0.3), Dense(2)], (4, 2),
         L("mse"), O("SGD", learning_rate=0.1), n=3, masked_steps=[(0, 3), (1, 0), (1, 1), (2, 2)]),
    Case("masking_bidirectional_gru_sum_last",
         [Masking(), Bidirectional(GRU(2), merge_mode="sum"), Dense(2, activation="sigmoid")], (4, 3),
         L("binary_crossentropy"), O("Adam", learning_rate=0.02), n=3, masked_steps=[(0, 2), (0, 3), (1, 0)]),
]
CASES += graph_cases()


# ---------------------------------------------------------------- files


def write_safetensors(path, tensors):
    """tensors: list of (name, float64 array), written as F64 in that order."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors:
        data = np.ascontiguousarray(a, dtype="<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(np.shape(a)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def as_float32(a):
    """The nearest float32 numbers, as float64."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------- one case


def case_data(case):
    """The case's initial weights, inputs and target (float32 numbers)."""
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    model, n = case.model, case.n
    weights = {}
    for name, shape in model.weight_list:
        scale = case.weight_scale.get(name, 1.0)
        weights[name] = as_float32(rng.uniform(-WEIGHT_RANGE, WEIGHT_RANGE, size=shape) * scale)
        if name.endswith("/moving_variance"):  # a variance is positive
            weights[name] = as_float32(np.abs(weights[name]) + 0.5)
    feat = model.input_shape[-1]
    x_shape = (n, case.steps, feat) if len(model.input_shape) == 2 else (n, feat)
    first = getattr(model, "layers", [None])[0]
    if getattr(first, "tokens", False):  # an Embedding's integer tokens (n, T), every row of its table used
        inputs = [rng.integers(0, first.vocab(), size=(n, model.input_shape[0])).astype(np.float64)]
    else:
        inputs = [as_float32(rng.uniform(-1, 1, size=x_shape))]
    for sample, step in case.masked_steps:
        if getattr(first, "tokens", False):  # Embedding(mask_zero=True): the padding token
            inputs[0][sample, step] = 0
            continue
        mask_value = next(layer.mask_value for layer in model.layers if isinstance(layer, Masking))
        inputs[0][sample, step, :] = mask_value
    for shape in getattr(model, "input_shapes", [])[1:]:  # a graph's other inputs
        inputs.append(as_float32(rng.uniform(-1, 1, size=(n,) + tuple(shape))))
    for i, sample, step in getattr(case, "masked_input_steps", []):
        inputs[i][sample, step, :] = 0.0
    for i, count in model.state_inputs():
        for _ in range(count):
            inputs.append(as_float32(rng.uniform(-0.8, 0.8, size=(n, model.layers[i].units))))

    # the target of output 0, by loss
    with torch.no_grad():
        outs, _ = model.forward({k: torch.tensor(v) for k, v in weights.items()},
                                [torch.tensor(x) for x in inputs])
    y0 = outs[0].numpy()
    kind = case.loss.kind
    if kind in ("mse", "mae", "huber", "log_cosh", "cosine_similarity"):
        target = as_float32(rng.uniform(-0.8, 0.8, size=y0.shape))
    elif kind == "mape":  # away from zero: the loss divides by |y|
        target = as_float32(rng.uniform(0.3, 1.0, size=y0.shape) * rng.choice([-1.0, 1.0], size=y0.shape))
    elif kind in ("msle", "poisson"):  # counts, or positive values
        target = as_float32(rng.integers(0, 4, size=y0.shape) if kind == "poisson" else
                            rng.uniform(0.0, 2.0, size=y0.shape))
    elif kind == "kl_divergence":
        target = as_float32(rng.dirichlet(np.ones(y0.shape[-1]), size=y0.shape[:-1]))
    elif kind in ("hinge", "squared_hinge"):
        target = rng.integers(0, 2, size=y0.shape).astype(np.float64)
        if case.soft_targets:  # -1 and 1, read as they are
            target = 2.0 * target - 1.0
    elif kind == "categorical_hinge":
        target = np.eye(y0.shape[-1])[rng.integers(0, y0.shape[-1], size=y0.shape[:-1])]
    elif kind == "binary_crossentropy":
        target = rng.integers(0, 2, size=y0.shape).astype(np.float64)
        if case.consistent_saturation:
            # a saturated hard_sigmoid output gets the target it reached, so
            # that the loss does not hinge on the clip bounds' float32 rounding
            target[y0 == 1.0] = 1.0
            target[y0 == 0.0] = 0.0
    elif kind == "categorical_crossentropy":
        classes = y0.shape[-1]
        if case.soft_targets:
            target = rng.dirichlet(np.ones(classes), size=y0.shape[:-1])
            target = as_float32(target)
        else:
            target = np.eye(classes)[rng.integers(0, classes, size=y0.shape[:-1])]
    else:
        target = rng.integers(0, y0.shape[-1], size=y0.shape[:-1]).astype(np.int64)
    return weights, inputs, target


def trajectory(case, weights, inputs, target):
    """STEPS full-batch updates: the weights after them and the loss before each."""
    opt = case.optimizer or Optimizer("RMSprop")  # Keras's default optimizer
    trained = {k: v.copy() for k, v in weights.items()}
    opt.init_state(trained)
    history = []
    for step in range(STEPS):
        # the noise layers' masks of this update: keyed by the updates before
        # it (rnnc's fit: the optimizer's iterations), seed 0 (the driver's)
        NOISE["step"] = step
        value, g, _, _ = loss_and_grads(case.model, case.loss, trained, inputs, target)
        history.append(value)
        opt.apply(trained, g, skip=non_trainable_weights(case.model))
        apply_constraints(case.model, trained)
        # BatchNormalization: Keras's moving averages of this step's batch
        apply_updates(case.model, trained)
    NOISE["step"] = 0
    return trained, history


EXACT_ZERO = 1e-14


def rel_error(got, want):
    """check.c's error: max |got - want| / max |want|, or absolute when every
    value of want is below EXACT_ZERO (an exact zero seen through rounding)."""
    scale = np.max(np.abs(want))
    diff = np.max(np.abs(got - want))
    return diff if scale < EXACT_ZERO else diff / scale


def float32_drift(case):
    """The same computation in float32 (PyTorch and the optimizers in float32)
    against float64: how far float32 itself strays, the yardstick for the
    float32 units' errors. Returns (worst error of outputs, loss and gradients;
    of the weights and losses after the trajectory)."""
    weights, inputs, target = case_data(case)
    loss0, grads, input_grads, outputs = loss_and_grads(case.model, case.loss, weights, inputs, target)
    trained, history = trajectory(case, weights, inputs, target)

    def f32(a):
        return np.asarray(a).astype(np.float32) if np.asarray(a).dtype == np.float64 else a
    w32, in32 = {k: f32(v) for k, v in weights.items()}, [f32(x) for x in inputs]
    l32, g32, ig32, o32 = loss_and_grads(case.model, case.loss, w32, in32, f32(target))
    t32, h32 = trajectory(case, w32, in32, f32(target))
    first = [rel_error(np.float64(l32), loss0)]
    first += [rel_error(g32[k].astype(np.float64), grads[k]) for k in grads]
    first += [rel_error(a.astype(np.float64), b) for a, b in zip(ig32 + o32, input_grads + outputs)]
    after = [rel_error(t32[k].astype(np.float64), trained[k]) for k in trained]
    after.append(rel_error(np.array(h32, dtype=np.float64), np.array(history)))
    return max(first), max(after)


def make_case(case, out_dir):
    model, n = case.model, case.n
    weights, inputs, target = case_data(case)
    loss0, grads, input_grads, _ = loss_and_grads(model, case.loss, weights, inputs, target)
    outputs = inference_outputs(model, weights, inputs)
    trained, history = trajectory(case, weights, inputs, target)

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.lua"), "w") as f:
        f.write("-- conformance case %s (written by tests/conformance/golden.py)\n" % case.name)
        f.write(model.lua(compile_line(case.loss, case.optimizer)))
    names = [name for name, _ in model.weight_list]
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), [(k, weights[k]) for k in names])
    tokens = getattr(getattr(model, "layers", [None])[0], "tokens", False)
    for i, x in enumerate(inputs):  # (tokens as int32, as a user's data would be)
        np.save(os.path.join(out_dir, "x.npy" if i == 0 else "x_%d.npy" % i), x.astype(np.int32) if tokens else x)
    np.save(os.path.join(out_dir, "y.npy"), target)
    for i, o in enumerate(outputs):
        np.save(os.path.join(out_dir, "out.npy" if i == 0 else "out_%d.npy" % i), o)
    grad_tensors = [("loss", np.array([loss0]))] + [(k, grads[k]) for k in names]
    if not tokens:  # integer tokens have no gradient
        grad_tensors += [("input" if i == 0 else "input_%d" % i, g) for i, g in enumerate(input_grads)]
    write_safetensors(os.path.join(out_dir, "grad.safetensors"), grad_tensors)
    write_safetensors(os.path.join(out_dir, "trained.safetensors"),
                      [(k, trained[k]) for k in names] + [("loss_history", np.array(history))])
    moved = max(np.max(np.abs(trained[k] - weights[k])) for k in names)
    print("%-40s loss %.6f -> %.6f, largest weight change %.3g" % (case.name, history[0], history[-1], moved))
    return "%s %d %d %d %d %s" % (case.name, n, case.steps, len(inputs), len(outputs),
                                  " ".join(case.generate_options))


def table(results):
    """The README's case table; with the output of `conformance check`
    (results), the errors it measured, and the float32 drift of PyTorch."""
    measured = {}
    if results:
        with open(results) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 5 and parts[4] in ("ok", "FAIL"):
                    measured[parts[0]] = parts[1:4]
    head = "| case | data | layers | loss | optimizer |"
    rule = "| --- | --- | --- | --- | --- |"
    if measured:
        head += " gen-f64 | gen-f32 | ref | PyTorch f32 |"
        rule += " --- | --- | --- | --- |"
    print(head)
    print(rule)
    for c in CASES:
        shape = "(%d, %s)" % (c.n, ", ".join("None" if d is None else str(d) for d in c.model.input_shape))
        if c.generate_options:
            shape += " at length %d, `%s`" % (c.steps, " ".join(c.generate_options))
        layers = []
        for layer in c.model.layers:
            text = "`%s`" % layer.lua()
            if getattr(layer, "initial_state", False):
                text += " with `initial_state`"
            layers.append(text)
        opt = c.optimizer.describe() if c.optimizer else "none (Keras's default RMSprop)"
        row = "| %s | %s | %s | %s | %s |" % (c.name, shape, " → ".join(layers), c.loss.describe(), opt)
        if measured:
            errs = measured.get(c.name, ["-", "-", "-"])
            row += " %s | %s | %s | %.1e |" % (errs[0], errs[1], errs[2], max(float32_drift(c)))
        print(row)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "cases"))
    ap.add_argument("--table", action="store_true", help="print the README's case table")
    ap.add_argument("--results", help="with --table: the output of `conformance check`, for error columns")
    ap.add_argument("--float32-drift", action="store_true",
                    help="measure how far a float32 PyTorch run strays from the float64 golden vectors")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.table:
        table(args.results)
        return 0
    chosen = [c for c in CASES if not args.cases or c.name in args.cases]
    unknown = set(args.cases) - {c.name for c in CASES}
    if unknown:
        print("golden.py: unknown case(s): " + ", ".join(sorted(unknown)), file=sys.stderr)
        return 2
    if len({c.name for c in CASES}) != len(CASES):
        print("golden.py: duplicate case names", file=sys.stderr)
        return 2
    if args.float32_drift:
        print("%-36s %-22s %s" % ("case", "outputs, loss, grads", "after %d steps" % STEPS))
        for c in chosen:
            print("%-36s %-22.2e %.2e" % ((c.name,) + float32_drift(c)))
        return 0
    lines = [make_case(c, os.path.join(args.out, c.name)) for c in chosen]
    if not args.cases:
        with open(os.path.join(args.out, "index.txt"), "w") as f:
            f.write("# name samples steps inputs outputs [rnnc generate options] "
                    "(written by tests/conformance/golden.py)\n")
            f.write("\n".join(line.rstrip() for line in lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
