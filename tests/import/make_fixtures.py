#!/usr/bin/python3
"""Writes the SYNTHETIC Keras files of rnnc import's tests, and their golden vectors.

    /usr/bin/python3 tests/import/make_fixtures.py      (needs python3-h5py, python3-torch)

Real Keras files of every writer cannot be had here (no TensorFlow, no
Keras), so this script writes one file per layout the way each writer
lays it out, following ../shared/keras-formats.md: the configuration JSON
of that writer's form, the HDF5 groups, attributes (fixed-length strings
for Keras 2.x, variable-length for tf.keras >= 2.4 and Keras 3), weight
paths and optimizer variables (names and order). Which writer each file
stands for is in WRITERS below and in tests/import/fixtures/README.md.
The three real files from Keras users are in tests/import/real/.

For each fixture NAME it writes tests/import/fixtures/:
  NAME.h5 / NAME.keras / NAME.json + NAME.weights.h5    the Keras file(s)
  NAME.x.npy        inputs (float32 numbers, stored as float64)
  NAME.y.npy        training targets
  NAME.pred.npy     the model's output, computed here in float64 by
                    tests/conformance/keras_torch.py (Keras's equations on
                    PyTorch, sharing no code with rnnc) from the arrays
                    written into the file
  NAME.resumed.safetensors   the weights after 3 more full-batch updates of
                    the file's optimizer, starting from the optimizer state
                    written into the file (iterations and slots), Keras's
                    update rules (fixtures with a training configuration)
  NAME.steps        the sequence length the test builds for
"""

import io
import json
import os
import sys
import zipfile
import zlib

import h5py
import numpy as np

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
from keras_torch import AttentionLayer  # noqa: E402
from keras_torch import (GRU, LSTM, Bidirectional, Dense, Loss, Model, Optimizer,  # noqa: E402
                         SimpleRNN, TimeDistributed, loss_and_grads)
from keras_torch import (NON_TRAINABLE, AveragePooling1D, BatchNormalization, Conv1D,  # noqa: E402
                         Cropping1D, DepthwiseConv1D, Flatten, Front, GlobalAveragePooling1D,
                         GlobalMaxPooling1D, LayerNormalization, MaxPooling1D, Permute, RepeatVector,
                         Reshape, SeparableConv1D, UpSampling1D, ZeroPadding1D, apply_updates)
from keras_torch import Embedding  # noqa: E402
from keras_torch import Masking  # noqa: E402
from keras_torch import Dropout, GaussianNoise  # noqa: E402
from keras_torch import GraphModel, Merge  # noqa: E402
import torch  # noqa: E402
from golden import as_float32, write_safetensors  # noqa: E402

OUT = os.path.join(HERE, "fixtures")
RESUME_STEPS = 3


def f32(v):
    """A Python float holding the float32 nearest v, as Keras stores hyperparameters."""
    return float(np.float32(v))


# ---------------------------------------------------------------- configs


def init(cls, k3, **cfg):
    """An initializer object as the writer serializes it."""
    o = {"class_name": cls, "config": cfg}
    if k3:
        o = {"module": "keras.initializers", "class_name": cls, "config": cfg, "registered_name": None}
    return o


def recurrent_config(cls, name, units, writer, **kw):
    k3 = writer == "keras3"
    c = {"name": name, "trainable": True, "dtype": "float32", "return_sequences": kw.get("return_sequences", False),
         "return_state": False, "go_backwards": kw.get("go_backwards", False), "stateful": False, "unroll": False}
    if writer in ("tf", "tf-new"):
        c["time_major"] = False
    if k3:
        c["zero_output_for_mask"] = False
    c.update({"units": units, "activation": kw.get("activation", "tanh")})
    if cls != "SimpleRNN":
        c["recurrent_activation"] = kw.get("recurrent_activation", "sigmoid")
    c["use_bias"] = True
    if writer == "keras2":
        c["kernel_initializer"] = {"class_name": "VarianceScaling",
                                   "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform",
                                              "seed": None}}
    else:
        c["kernel_initializer"] = init("GlorotUniform", k3, seed=None)
    c["recurrent_initializer"] = init("OrthogonalInitializer" if k3 else "Orthogonal", k3, gain=1.0, seed=None)
    c["bias_initializer"] = init("Zeros", k3)
    if cls == "LSTM":
        c["unit_forget_bias"] = True
    for k in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint"):
        c[k] = None
    c["dropout"] = 0.0
    c["recurrent_dropout"] = 0.0
    if not k3:
        c["implementation"] = 1 if writer == "keras2" else 2
    if k3:
        c["seed"] = None
    if cls == "GRU":
        c["reset_after"] = kw.get("reset_after", True)
    return c


def dense_config(name, units, writer, activation="linear"):
    k3 = writer == "keras3"
    kinit = ({"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform",
                                                           "seed": None}}
             if writer == "keras2" else init("GlorotUniform", k3, seed=None))
    return {"name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation,
            "use_bias": True, "kernel_initializer": kinit, "bias_initializer": init("Zeros", k3),
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}


def entry(cls, config, writer="tf", **extra):
    if writer == "keras3":
        e = {"module": "keras.layers", "class_name": cls, "config": config, "registered_name": None}
    else:
        e = {"class_name": cls, "config": config}
    e.update(extra)
    return e


# ---------------------------------------------------------------- HDF5 writing


def put_strings(obj, name, values, vlen):
    """An attribute of strings: variable-length (tf.keras >= 2.4, Keras 3) or
    fixed-length bytes (Keras 2.x's numpy arrays of bytes)."""
    if isinstance(values, str):
        if vlen:
            obj.attrs.create(name, values, dtype=h5py.string_dtype("utf-8"))
        else:
            obj.attrs[name] = np.bytes_(values.encode())
        return
    if vlen:
        obj.attrs.create(name, values, dtype=h5py.string_dtype("utf-8"))
    else:
        obj.attrs[name] = np.array([v.encode() for v in values])


def write_layer_groups(parent, layers, vlen, extra_root_attrs=None):
    """layers: list of (group name, [(weight name, array)]) in model order;
    groups are created sorted by name, as Keras does."""
    put_strings(parent, "layer_names", [g for g, _ in layers], vlen)
    for k, v in (extra_root_attrs or {}).items():
        put_strings(parent, k, v, vlen)
    for gname, ws in sorted(layers, key=lambda t: t[0]):
        g = parent.create_group(gname)
        put_strings(g, "weight_names", [n for n, _ in ws], vlen)
        for n, a in ws:
            g.create_dataset(n, data=np.asarray(a, dtype=np.float32))


def write_optimizer_group(f, names_values, vlen):
    g = f.create_group("optimizer_weights")
    put_strings(g, "weight_names", [n for n, _ in names_values], vlen)
    for n, v in names_values:
        g.create_dataset(n, data=v)


# ---------------------------------------------------------------- the fixtures


class Fixture:
    def __init__(self, name, writer, layers, names, input_shape, steps, loss, optimizer, n=4, opt_config=None,
                 masked_steps=()):
        self.name, self.writer = name, writer
        self.model = Model(layers, input_shape)
        # the names the Keras file gives its layers (rnnc keeps them)
        for layer, nm in zip(layers, names):
            if isinstance(nm, tuple):
                layer.inner.name, layer.name = nm
            else:
                layer.name = nm
        self.model.weight_list = []
        shape = tuple(input_shape)
        for layer in layers:
            if isinstance(layer, Front):  # the front-end layers know their shapes
                self.model.weight_list += layer.weights_shape(layer.name, shape)
                shape = layer.out_shape(shape)
                continue
            self.model.weight_list += layer.weights(layer.name, shape[-1])
            if isinstance(layer, Masking):
                continue
            if isinstance(layer, (Dense, TimeDistributed)):
                shape = tuple(shape[:-1]) + (layer.units,)
            else:
                inner = layer.inner if isinstance(layer, Bidirectional) else layer
                shape = (shape[0], layer.units) if inner.return_sequences else (layer.units,)
        self.input_shape, self.steps, self.loss, self.optimizer, self.n = input_shape, steps, loss, optimizer, n
        self.opt_config = opt_config
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.rng = rng
        self.weights = {k: as_float32(rng.uniform(-0.7, 0.7, size=s)) for k, s in self.model.weight_list}
        for k in self.weights:  # a variance is positive
            if k.endswith("/moving_variance"):
                self.weights[k] = as_float32(np.abs(self.weights[k]) + 0.5)
        self.tokens = getattr(layers[0], "tokens", False)
        if self.tokens:  # an Embedding's integer tokens (n, steps)
            self.x = rng.integers(0, layers[0].vocab(), size=(n, steps)).astype(np.float64)
        else:
            self.x = as_float32(rng.uniform(-1, 1, size=(n, steps, input_shape[-1])))
        for sample, step in masked_steps:  # rows at a Masking layer's mask_value
            self.x[sample, step, :] = layers[0].mask_value
        with torch.no_grad():
            outs, _ = self.model.forward({k: torch.tensor(v) for k, v in self.weights.items()}, [torch.tensor(self.x)])
        self.pred = outs[0].numpy()
        kind = loss.kind if loss else "mse"
        if kind == "categorical_crossentropy":
            self.y = np.eye(self.pred.shape[-1])[rng.integers(0, self.pred.shape[-1], size=self.pred.shape[:-1])]
        elif kind == "binary_crossentropy":
            self.y = rng.integers(0, 2, size=self.pred.shape).astype(np.float64)
        else:
            self.y = as_float32(rng.uniform(-0.8, 0.8, size=self.pred.shape))
        # an optimizer state as after some training: iterations and slots
        self.iterations = 7
        self.slots = {}
        if optimizer:
            cfg = optimizer.cfg
            if optimizer.cls == "Adam":
                kinds = ["m", "v"] + (["vhat"] if cfg["amsgrad"] else [])
            elif optimizer.cls == "SGD":
                kinds = ["momentum"] if cfg["momentum"] else []
            else:
                kinds = (["velocity"] + (["momentum"] if cfg["momentum"] > 0 else [])
                         + (["average_gradient"] if cfg["centered"] else []))
            for s in kinds:
                for k, shape in self.model.weight_list:
                    if k.endswith(NON_TRAINABLE):
                        continue  # Keras keeps no slots for the moving statistics
                    if s in ("v", "vhat", "velocity"):
                        val = rng.uniform(0.01, 0.2, size=shape)  # second moments are positive
                    elif s == "average_gradient":
                        val = rng.uniform(-0.05, 0.05, size=shape)  # |mg|^2 < velocity
                    else:
                        val = rng.uniform(-0.1, 0.1, size=shape)
                    self.slots[(s, k)] = as_float32(val)
            if "vhat" in kinds:
                for k in [k for k, _ in self.model.weight_list if not k.endswith(NON_TRAINABLE)]:
                    # vhat >= v, as amsgrad keeps it
                    self.slots[("vhat", k)] = np.maximum(self.slots[("vhat", k)], self.slots[("v", k)])
        self.slot_kinds = sorted({s for s, _ in self.slots}, key=lambda s: ["m", "v", "vhat", "momentum",
                                                                               "velocity", "average_gradient"].index(s))

    def w(self, rnnc_name):
        return self.weights[rnnc_name]

    def slot(self, kind, rnnc_name):
        return self.slots[(kind, rnnc_name)]

    def resumed(self):
        """RESUME_STEPS full-batch updates from the file's optimizer state."""
        opt = self.optimizer
        trained = {k: v.copy() for k, v in self.weights.items()}
        opt.init_state(trained)
        opt.iterations = self.iterations
        for (s, k), v in self.slots.items():
            opt.slots[k][s] = v.copy()
        for _ in range(RESUME_STEPS):
            _, g, _, _ = loss_and_grads(self.model, self.loss, trained, [self.x], self.y)
            opt.apply(trained, g)
            apply_updates(self.model, trained)  # BatchNormalization's moving statistics
        return trained

    def save_vectors(self):
        # tokens as int64, as numpy gives them by default
        np.save(os.path.join(OUT, self.name + ".x.npy"), self.x.astype(np.int64) if self.tokens else self.x)
        np.save(os.path.join(OUT, self.name + ".y.npy"), self.y)
        np.save(os.path.join(OUT, self.name + ".pred.npy"), self.pred)
        with open(os.path.join(OUT, self.name + ".steps"), "w") as f:
            f.write("%d\n" % self.steps)
        if self.optimizer:
            trained = self.resumed()
            write_safetensors(os.path.join(OUT, self.name + ".resumed.safetensors"),
                              [(k, trained[k]) for k, _ in self.model.weight_list])


def training_config_tf(loss, opt_class, opt_cfg, metrics=None):
    return {"loss": loss, "metrics": metrics, "weighted_metrics": None, "loss_weights": None,
            "optimizer_config": {"class_name": opt_class, "config": opt_cfg}}


# A. standalone Keras 2.2.4: fixed-length string attributes, layer names
# from _1, weights model_weights/lstm_1/lstm_1/kernel:0, hard_sigmoid
# recurrent activations (Keras 2's: keras_torch's hard_sigmoid_keras2), GRU
# reset_after=False (bias (3U,)), Adam's config
# with `lr`, optimizer weights [iterations] + ms + vs + vhats (unnamed
# Variables, positional; vhats are (1,) placeholders without amsgrad).
def fixture_keras2():
    fx = Fixture("keras224_lstm_gru", "keras2",
                 [LSTM(3, recurrent_activation="hard_sigmoid_keras2", return_sequences=True),
                  GRU(4, reset_after=False, recurrent_activation="hard_sigmoid_keras2"),
                  Dense(2, activation="softmax")],
                 ["lstm_1", "gru_1", "dense_1"], (5, 2), 5, Loss("categorical_crossentropy"),
                 Optimizer("Adam", learning_rate=f32(0.001), beta_1=f32(0.9), beta_2=f32(0.999), epsilon=1e-07))
    w = "keras2"
    layers = [
        entry("LSTM", dict(recurrent_config("LSTM", "lstm_1", 3, w, return_sequences=True,
                                            recurrent_activation="hard_sigmoid"), batch_input_shape=[None, 5, 2])),
        entry("GRU", recurrent_config("GRU", "gru_1", 4, w, recurrent_activation="hard_sigmoid", reset_after=False)),
        entry("Dense", dense_config("dense_1", 2, w, "softmax")),
    ]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}
    training = training_config_tf("categorical_crossentropy", "Adam",
                                  {"lr": f32(0.001), "beta_1": f32(0.9), "beta_2": f32(0.999), "decay": 0.0,
                                   "epsilon": 1e-07, "amsgrad": False}, ["accuracy"])
    path = os.path.join(OUT, fx.name + ".h5")
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "2.2.4", False)
        put_strings(f, "backend", "tensorflow", False)
        put_strings(f, "model_config", json.dumps(model_config), False)
        put_strings(f, "training_config", json.dumps(training), False)
        mw = f.create_group("model_weights")
        groups = []
        for lname in ("lstm_1", "gru_1", "dense_1"):
            kinds = ["kernel", "recurrent_kernel", "bias"] if lname != "dense_1" else ["kernel", "bias"]
            groups.append((lname, [("%s/%s:0" % (lname, k), fx.w("%s/%s" % (lname, k))) for k in kinds]))
        write_layer_groups(mw, groups, False, {"keras_version": "2.2.4", "backend": "tensorflow"})
        names = [k for k, _ in fx.model.weight_list]
        ow = [("Adam/iterations:0", np.int64(fx.iterations))]
        i = 0
        for kind in ("m", "v"):
            for k in names:
                ow.append(("training/Adam/Variable%s:0" % ("_%d" % i if i else ""), np.float32(fx.slot(kind, k))))
                i += 1
        for k in names:
            ow.append(("training/Adam/Variable_%d:0" % i, np.zeros(1, np.float32)))
            i += 1
        write_optimizer_group(f, ow, False)
    fx.save_vectors()


# B. tf.keras 2.9 (optimizer_v2): variable-length strings, an InputLayer
# with None timesteps, Bidirectional weights under the cell scope (whose
# names differ from the group name), TimeDistributed weights
# time_distributed/kernel:0, RMSprop slots named <opt>/<variable>/<slot>:0.
def fixture_tf29():
    fx = Fixture("tfkeras29_bidir", "tf",
                 [Bidirectional(LSTM(3, return_sequences=True)), TimeDistributed(Dense(2))],
                 [("lstm", "bidirectional"), ("dense", "time_distributed")], (None, 3), 6, Loss("mse"),
                 Optimizer("RMSprop", learning_rate=f32(0.01), rho=f32(0.9), momentum=f32(0.5), epsilon=1e-07,
                           legacy=True), n=3)
    w = "tf"
    inner = entry("LSTM", recurrent_config("LSTM", "lstm", 3, w, return_sequences=True))
    layers = [
        entry("InputLayer", {"batch_input_shape": [None, None, 3], "dtype": "float32", "sparse": False,
                             "ragged": False, "name": "bidirectional_input"}),
        entry("Bidirectional", {"name": "bidirectional", "trainable": True, "dtype": "float32",
                                "batch_input_shape": [None, None, 3], "layer": inner, "merge_mode": "concat"}),
        entry("TimeDistributed", {"name": "time_distributed", "trainable": True, "dtype": "float32",
                                  "layer": entry("Dense", dense_config("dense", 2, w))}),
    ]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    training = training_config_tf("mse", "RMSprop", {"name": "RMSprop", "learning_rate": f32(0.01), "decay": 0.0,
                                                     "rho": f32(0.9), "momentum": f32(0.5), "epsilon": 1e-07,
                                                     "centered": False})
    path = os.path.join(OUT, fx.name + ".h5")
    # the weights' scope names differ from the rnnc names: file name -> rnnc name
    file_names = []
    for d, scope in (("forward", "forward_lstm_2/lstm_cell_26"), ("backward", "backward_lstm_2/lstm_cell_27")):
        for k in ("kernel", "recurrent_kernel", "bias"):
            file_names.append(("bidirectional/%s/%s:0" % (scope, k), "bidirectional/%s_lstm/%s" % (d, k)))
    td = [("time_distributed/%s:0" % k, "time_distributed/dense/%s" % k) for k in ("kernel", "bias")]
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "2.9.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        put_strings(f, "training_config", json.dumps(training), True)
        mw = f.create_group("model_weights")
        write_layer_groups(mw, [("bidirectional", [(a, fx.w(b)) for a, b in file_names]),
                                ("time_distributed", [(a, fx.w(b)) for a, b in td])], True,
                           {"keras_version": "2.9.0", "backend": "tensorflow"})
        ow = [("RMSprop/iter:0", np.int64(fx.iterations)), ("RMSprop/decay:0", np.float32(0)),
              ("RMSprop/learning_rate:0", np.float32(0.01)), ("RMSprop/momentum:0", np.float32(0.5)),
              ("RMSprop/rho:0", np.float32(0.9))]
        for a, b in file_names + td:
            ow.append(("RMSprop/%s/rms:0" % a[:-2], np.float32(fx.slot("velocity", b))))
        for a, b in file_names + td:
            ow.append(("RMSprop/%s/momentum:0" % a[:-2], np.float32(fx.slot("momentum", b))))
        write_optimizer_group(f, ow, True)
    fx.save_vectors()


# C. tf.keras 2.14 (the optimizer of 2.11-2.15): a functional chain
# (Keras 2 inbound_nodes), GRU reset_after=True (bias (2, 3U)),
# "Custom>Adam" with amsgrad, slots named Adam/m/<variable>:0, iteration:0,
# metrics as MeanMetricWrapper objects.
def fixture_tf214():
    fx = Fixture("tfkeras214_functional", "tf-new",
                 [SimpleRNN(4, return_sequences=True), GRU(3), Dense(1, activation="sigmoid")],
                 ["simple_rnn", "gru", "dense"], (6, 2), 6, Loss("binary_crossentropy"),
                 Optimizer("Adam", learning_rate=f32(0.002), beta_1=f32(0.9), beta_2=f32(0.999), epsilon=1e-07,
                           amsgrad=True), n=3)
    w = "tf-new"
    layers = [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6, 2], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "input_1"},
         "name": "input_1", "inbound_nodes": []},
        {"class_name": "SimpleRNN", "config": recurrent_config("SimpleRNN", "simple_rnn", 4, w, return_sequences=True),
         "name": "simple_rnn", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"class_name": "GRU", "config": recurrent_config("GRU", "gru", 3, w, reset_after=True), "name": "gru",
         "inbound_nodes": [[["simple_rnn", 0, 0, {}]]]},
        {"class_name": "Dense", "config": dense_config("dense", 1, w, "sigmoid"), "name": "dense",
         "inbound_nodes": [[["gru", 0, 0, {}]]]},
    ]
    model_config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                           "input_layers": [["input_1", 0, 0]],
                                                           "output_layers": [["dense", 0, 0]]}}
    opt = {"name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
           "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": False,
           "is_legacy_optimizer": False, "learning_rate": f32(0.002), "beta_1": 0.9, "beta_2": 0.999,
           "epsilon": 1e-07, "amsgrad": True}
    metrics = [[{"class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32",
                                                                "fn": "binary_accuracy"}}]]
    training = training_config_tf("binary_crossentropy", "Custom>Adam", opt, metrics)
    # the config's beta values are Python floats; Keras computes with them
    fx.optimizer.cfg["beta_1"], fx.optimizer.cfg["beta_2"] = 0.9, 0.999
    path = os.path.join(OUT, fx.name + ".h5")
    cells = {"simple_rnn": "simple_rnn/simple_rnn_cell", "gru": "gru/gru_cell", "dense": "dense"}
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "2.14.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        put_strings(f, "training_config", json.dumps(training), True)
        mw = f.create_group("model_weights")
        groups = [("input_1", [])]
        pairs = []
        for lname in ("simple_rnn", "gru", "dense"):
            kinds = ["kernel", "recurrent_kernel", "bias"] if lname != "dense" else ["kernel", "bias"]
            ws = [("%s/%s:0" % (cells[lname], k), "%s/%s" % (lname, k)) for k in kinds]
            pairs += ws
            groups.append((lname, [(a, fx.w(b)) for a, b in ws]))
        write_layer_groups(mw, groups, True, {"keras_version": "2.14.0", "backend": "tensorflow"})
        top = mw.create_group("top_level_model_weights")
        top.attrs["weight_names"] = np.array([], dtype=np.float64)
        ow = [("iteration:0", np.int64(fx.iterations))]
        for a, b in pairs:
            ow.append(("Adam/m/" + a, np.float32(fx.slot("m", b))))
            ow.append(("Adam/v/" + a, np.float32(fx.slot("v", b))))
        for a, b in pairs:
            ow.append(("Adam/vhat/" + a, np.float32(fx.slot("vhat", b))))
        write_optimizer_group(f, ow, True)
    fx.save_vectors()


# D. Keras 3 writing .h5 (legacy_h5_format.py): weight paths
# model_weights/lstm/sequential/lstm/lstm_cell/kernel (no :0, the model's
# name inserted), optimizer_weights in optimizer.variables order:
# iteration, learning_rate, then momentum and velocity interleaved per
# variable (keras/src/optimizers/adam.py build).
def fixture_keras3_h5():
    fx = Fixture("keras3_lstm", "keras3",
                 [LSTM(2, return_sequences=False), Dense(3)], ["lstm", "dense"], (4, 3), 4, Loss("mse"),
                 Optimizer("Adam", learning_rate=f32(0.001), beta_1=0.9, beta_2=0.999, epsilon=1e-07), n=5)
    w = "legacy3"
    layers = [
        entry("InputLayer", {"batch_input_shape": [None, 4, 3], "dtype": "float32", "sparse": False,
                             "name": "input_layer"}),
        entry("LSTM", recurrent_config("LSTM", "lstm", 2, w)),
        entry("Dense", dense_config("dense", 3, w)),
    ]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential", "trainable": True,
                                                           "dtype": "float32", "layers": layers}}
    opt = {"name": "adam", "learning_rate": f32(0.001), "weight_decay": None, "clipnorm": None,
           "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
           "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
           "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}
    training = {"loss": "mean_squared_error", "loss_weights": None, "metrics": None, "weighted_metrics": None,
                "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
                "optimizer_config": {"class_name": "Adam", "config": opt}}
    path = os.path.join(OUT, fx.name + ".h5")
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "3.3.3", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        put_strings(f, "training_config", json.dumps(training), True)
        mw = f.create_group("model_weights")
        pairs = [("sequential/lstm/lstm_cell/%s" % k, "lstm/%s" % k) for k in ("kernel", "recurrent_kernel", "bias")]
        pairs += [("sequential/dense/%s" % k, "dense/%s" % k) for k in ("kernel", "bias")]
        write_layer_groups(mw, [("input_layer", []), ("lstm", [(a, fx.w(b)) for a, b in pairs[:3]]),
                                ("dense", [(a, fx.w(b)) for a, b in pairs[3:]])], True,
                           {"keras_version": "3.3.3", "backend": "tensorflow"})
        top = mw.create_group("top_level_model_weights")
        put_strings(top, "weight_names", [], True)
        ow = [("adam/iteration", np.int64(fx.iterations)), ("adam/learning_rate", np.float32(0.001))]
        for a, b in pairs:
            ow.append(("adam/" + a.replace("/", "_") + "_momentum", np.float32(fx.slot("m", b))))
            ow.append(("adam/" + a.replace("/", "_") + "_velocity", np.float32(fx.slot("v", b))))
        write_optimizer_group(f, ow, True)
    fx.save_vectors()


def zip_keras(path, config, metadata, weights_writer):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h:
        weights_writer(h)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        # a fixed date: the same bytes on every run
        for name, data in (("metadata.json", json.dumps(metadata)), ("config.json", json.dumps(config)),
                           ("model.weights.h5", buf.getvalue())):
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)


# E. Keras 3 .keras archive: config.json with module/registered_name
# wrappers and a DTypePolicy, compile_config naming an RMSprop object,
# weights at layers/<snake_case class>/...: a Bidirectional GRU under
# forward_layer/cell/vars/N and backward_layer/cell/vars/N, TimeDistributed
# under layer/vars/N; optimizer/vars/N: iteration, learning_rate, then
# RMSprop's velocities, momentums and average gradients one group after
# another (keras/src/optimizers/rmsprop.py build).
def fixture_keras3_zip():
    fx = Fixture("keras3_bidir_gru", "keras3",
                 [Bidirectional(GRU(3, return_sequences=True), merge_mode="sum"), TimeDistributed(Dense(2))],
                 [("gru", "bidirectional"), ("dense", "time_distributed")], (5, 2), 5, Loss("mse"),
                 Optimizer("RMSprop", learning_rate=f32(0.005), rho=0.9, momentum=0.3, epsilon=1e-07,
                           centered=True), n=3)
    w = "keras3"
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    gru = recurrent_config("GRU", "gru", 3, w, return_sequences=True)
    gru["dtype"] = policy
    bgru = dict(gru, name="backward_gru", go_backwards=True)
    layers = [
        entry("InputLayer", {"batch_shape": [None, 5, 2], "dtype": "float32", "sparse": False,
                             "name": "input_layer"}, w),
        entry("Bidirectional", {"name": "bidirectional", "trainable": True, "dtype": policy, "merge_mode": "sum",
                                "layer": entry("GRU", gru, w), "backward_layer": entry("GRU", bgru, w)}, w,
              build_config={"input_shape": [None, 5, 2]}),
        entry("TimeDistributed", {"name": "time_distributed", "trainable": True, "dtype": policy,
                                  "layer": entry("Dense", dense_config("dense", 2, w), w)}, w),
    ]
    opt = {"name": "rmsprop", "learning_rate": f32(0.005), "weight_decay": None, "clipnorm": None,
           "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
           "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
           "rho": 0.9, "momentum": 0.3, "epsilon": 1e-07, "centered": True}
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "trainable": True, "dtype": policy, "layers": layers},
              "registered_name": None, "build_config": {"input_shape": [None, 5, 2]},
              "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "RMSprop", "config": opt,
                                               "registered_name": None},
                                 "loss": "mean_squared_error", "loss_weights": None, "metrics": ["mae"],
                                 "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                                 "jit_compile": False}}
    names = [k for k, _ in fx.model.weight_list]

    def weights(h):
        for d in ("forward", "backward"):
            for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
                h.create_dataset("layers/bidirectional/%s_layer/cell/vars/%d" % (d, i),
                                 data=np.float32(fx.w("bidirectional/%s_gru/%s" % (d, k))))
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/time_distributed/layer/vars/%d" % i,
                             data=np.float32(fx.w("time_distributed/dense/%s" % k)))
        h.create_group("layers/bidirectional/vars")
        h.create_group("vars")
        ov = [np.int64(fx.iterations), np.float32(0.005)]
        for kind in ("velocity", "momentum", "average_gradient"):
            ov += [np.float32(fx.slot(kind, k)) for k in names]
        for i, v in enumerate(ov):
            h.create_dataset("optimizer/vars/%d" % i, data=v)

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    # the same model as Keras 3's model.to_json() and save_weights("w.weights.h5")
    arch = {k: v for k, v in config.items() if k != "compile_config"}
    with open(os.path.join(OUT, fx.name + ".config.json"), "w") as f:
        json.dump(arch, f)
    with h5py.File(os.path.join(OUT, fx.name + ".weights.h5"), "w") as h:
        weights(h)
    fx.save_vectors()


# E2. Keras 3 .keras archive with Masking (keras/src/layers/core/masking.py,
# no weights) in front of a Bidirectional LSTM whose saved layers say
# zero_output_for_mask = true, as Keras 3's Bidirectional sets it with
# return_sequences; the data has padded and masked steps, and the resumed
# steps train on the masked loss (loss.py apply_mask).
def fixture_keras3_masking():
    fx = Fixture("keras3_masking", "keras3",
                 [Masking(), Bidirectional(LSTM(2, return_sequences=True)), TimeDistributed(Dense(2))],
                 ["masking", ("lstm", "bidirectional"), ("dense", "time_distributed")], (5, 2), 5, Loss("mse"),
                 Optimizer("RMSprop", learning_rate=f32(0.005), rho=0.9, momentum=0.3, epsilon=1e-07,
                           centered=True), n=3, masked_steps=[(0, 3), (0, 4), (1, 0), (2, 2)])
    w = "keras3"
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    lstm = recurrent_config("LSTM", "lstm", 2, w, return_sequences=True)
    lstm["dtype"], lstm["zero_output_for_mask"] = policy, True
    blstm = dict(lstm, name="backward_lstm", go_backwards=True)
    layers = [
        entry("InputLayer", {"batch_shape": [None, 5, 2], "dtype": "float32", "sparse": False,
                             "name": "input_layer"}, w),
        entry("Masking", {"name": "masking", "trainable": True, "dtype": policy, "mask_value": 0.0}, w,
              build_config={"input_shape": [None, 5, 2]}),
        entry("Bidirectional", {"name": "bidirectional", "trainable": True, "dtype": policy, "merge_mode": "concat",
                                "layer": entry("LSTM", lstm, w), "backward_layer": entry("LSTM", blstm, w)}, w,
              build_config={"input_shape": [None, 5, 2]}),
        entry("TimeDistributed", {"name": "time_distributed", "trainable": True, "dtype": policy,
                                  "layer": entry("Dense", dense_config("dense", 2, w), w)}, w),
    ]
    opt = {"name": "rmsprop", "learning_rate": f32(0.005), "weight_decay": None, "clipnorm": None,
           "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
           "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
           "rho": 0.9, "momentum": 0.3, "epsilon": 1e-07, "centered": True}
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "trainable": True, "dtype": policy, "layers": layers},
              "registered_name": None, "build_config": {"input_shape": [None, 5, 2]},
              "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "RMSprop", "config": opt,
                                               "registered_name": None},
                                 "loss": "mean_squared_error", "loss_weights": None, "metrics": None,
                                 "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                                 "jit_compile": False}}
    names = [k for k, _ in fx.model.weight_list]

    def weights(h):
        h.create_group("layers/masking/vars")
        for d in ("forward", "backward"):
            for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
                h.create_dataset("layers/bidirectional/%s_layer/cell/vars/%d" % (d, i),
                                 data=np.float32(fx.w("bidirectional/%s_lstm/%s" % (d, k))))
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/time_distributed/layer/vars/%d" % i,
                             data=np.float32(fx.w("time_distributed/dense/%s" % k)))
        h.create_group("layers/bidirectional/vars")
        h.create_group("vars")
        ov = [np.int64(fx.iterations), np.float32(0.005)]
        for kind in ("velocity", "momentum", "average_gradient"):
            ov += [np.float32(fx.slot(kind, k)) for k in names]
        for i, v in enumerate(ov):
            h.create_dataset("optimizer/vars/%d" % i, data=v)

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    fx.save_vectors()


# F. tf.keras 2.15 .keras archive saved on Windows: weight group names with
# literal backslashes (layers\gru\cell/vars/0); SGD with Nesterov momentum,
# optimizer/vars/N: iteration, then the momentums.
def fixture_tf215_windows():
    fx = Fixture("tfkeras215_windows", "tf-new",
                 [GRU(3, reset_after=True), Dense(2, activation="relu")], ["gru", "dense"], (4, 2), 4, Loss("mae"),
                 Optimizer("SGD", learning_rate=f32(0.05), momentum=0.8, nesterov=True), n=3)
    w = "tf-new-zip"
    layers = [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_input_shape": [None, 4, 2], "dtype": "float32", "sparse": False, "ragged": False,
                    "name": "gru_input"}, "registered_name": None},
        {"module": "keras.layers", "class_name": "GRU", "config": recurrent_config("GRU", "gru", 3, "tf"),
         "registered_name": None, "build_config": {"input_shape": [None, 4, 2]}},
        {"module": "keras.layers", "class_name": "Dense", "config": dense_config("dense", 2, "tf", "relu"),
         "registered_name": None, "build_config": {"input_shape": [None, 3]}},
    ]
    opt = {"name": "SGD", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
           "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": False,
           "is_legacy_optimizer": False, "learning_rate": f32(0.05), "momentum": 0.8, "nesterov": True}
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": layers},
              "registered_name": None, "build_config": {"input_shape": [None, 4, 2]},
              "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "SGD", "config": opt,
                                               "registered_name": None},
                                 "loss": "mae", "metrics": None, "loss_weights": None, "weighted_metrics": None,
                                 "run_eagerly": None, "steps_per_execution": None, "jit_compile": None}}
    names = [k for k, _ in fx.model.weight_list]
    del w

    def weights(h):
        for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
            h.create_dataset("layers\\gru\\cell/vars/%d" % i, data=np.float32(fx.w("gru/%s" % k)))
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers\\dense/vars/%d" % i, data=np.float32(fx.w("dense/%s" % k)))
        ov = [np.int64(fx.iterations)] + [np.float32(fx.slot("momentum", k)) for k in names]
        for i, v in enumerate(ov):
            h.create_dataset("optimizer/vars/%d" % i, data=v)

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "2.15.0", "date_saved": "2024-01-05@10:01:02"}, weights)
    fx.save_vectors()


# G. tf.keras 2.12 model.to_json() + model.save_weights("w.h5"): the layer
# groups at the root with layer_names; no training configuration.
def fixture_json():
    fx = Fixture("tfkeras212_json", "tf",
                 [GRU(3, reset_after=False, go_backwards=True), Dense(2)], ["gru", "dense"], (None, 2), 7, None, None,
                 n=3)
    layers = [
        entry("InputLayer", {"batch_input_shape": [None, None, 2], "dtype": "float32", "sparse": False,
                             "ragged": False, "name": "gru_input"}),
        entry("GRU", recurrent_config("GRU", "gru", 3, "tf", reset_after=False, go_backwards=True)),
        entry("Dense", dense_config("dense", 2, "tf")),
    ]
    arch = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers},
            "keras_version": "2.12.0", "backend": "tensorflow"}
    with open(os.path.join(OUT, fx.name + ".json"), "w") as f:
        json.dump(arch, f)
    with h5py.File(os.path.join(OUT, fx.name + ".weights.h5"), "w") as f:
        gw = [("gru/gru_cell/%s:0" % k, fx.w("gru/%s" % k)) for k in ("kernel", "recurrent_kernel", "bias")]
        dw = [("dense/%s:0" % k, fx.w("dense/%s" % k)) for k in ("kernel", "bias")]
        write_layer_groups(f, [("gru", gw), ("dense", dw)], True, {"keras_version": "2.12.0", "backend": "tensorflow"})
    fx.save_vectors()


# K. Keras 1.2.2: the Sequential config is the list of layers, Keras 1
# argument names (output_dim, init, inner_activation, consume_less, bias),
# and the LSTM's arrays stored per gate and kind, gates in the order i, c,
# f, o (keras 1.1 recurrent.py; Keras 2's loader fuses them as
# concat(w[0], w[6], w[3], w[9]): engine/saving.py
# preprocess_weights_for_loading), weight names lstm_1_W_i and so on.
def fixture_keras1():
    fx = Fixture("keras122_lstm", "keras1",
                 [LSTM(3, recurrent_activation="hard_sigmoid_keras2"), Dense(1)], ["lstm_1", "dense_1"], (4, 2), 4,
                 Loss("mse"), Optimizer("RMSprop", learning_rate=0.001, rho=0.9, epsilon=1e-08, legacy=True), n=3)
    layers = [
        {"class_name": "LSTM", "config": {
            "name": "lstm_1", "trainable": True, "batch_input_shape": [None, 4, 2], "input_dtype": "float32",
            "output_dim": 3, "init": "glorot_uniform", "inner_init": "orthogonal", "forget_bias_init": "one",
            "activation": "tanh", "inner_activation": "hard_sigmoid", "W_regularizer": None, "U_regularizer": None,
            "b_regularizer": None, "dropout_W": 0.0, "dropout_U": 0.0, "return_sequences": False,
            "go_backwards": False, "stateful": False, "unroll": False, "consume_less": "cpu", "input_dim": 2,
            "input_length": 4}},
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "output_dim": 1, "init": "glorot_uniform", "activation": "linear",
            "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
            "b_constraint": None, "bias": True, "input_dim": 3}},
    ]
    model_config = {"class_name": "Sequential", "config": layers}
    training = {"optimizer_config": {"name": "RMSprop", "lr": 0.0010000000474974513, "rho": 0.8999999761581421,
                                     "epsilon": 1e-08, "decay": 0.0},
                "loss": "mse", "metrics": [], "sample_weight_mode": None, "loss_weights": None}
    fx.optimizer.cfg["learning_rate"], fx.optimizer.cfg["rho"] = 0.0010000000474974513, 0.8999999761581421
    u = 3
    kernel, rec, bias = fx.w("lstm_1/kernel"), fx.w("lstm_1/recurrent_kernel"), fx.w("lstm_1/bias")
    blocks = {"i": 0, "f": 1, "c": 2, "o": 3}  # rnnc's (Keras 2's) column blocks
    per_gate = []
    for g in ("i", "c", "f", "o"):  # Keras 1's order of the arrays
        k = blocks[g]
        per_gate += [("lstm_1_W_%s" % g, kernel[:, k * u:(k + 1) * u]), ("lstm_1_U_%s" % g, rec[:, k * u:(k + 1) * u]),
                     ("lstm_1_b_%s" % g, bias[k * u:(k + 1) * u])]
    path = os.path.join(OUT, fx.name + ".h5")
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "1.2.2", False)
        put_strings(f, "model_config", json.dumps(model_config), False)
        put_strings(f, "training_config", json.dumps(training), False)
        mw = f.create_group("model_weights")
        write_layer_groups(mw, [("lstm_1", per_gate),
                                ("dense_1", [("dense_1_W", fx.w("dense_1/kernel")), ("dense_1_b", fx.w("dense_1/bias"))])],
                           False)
    fx.optimizer = None  # Keras 1 files: no optimizer state is imported
    fx.save_vectors()



# ---------------------------------------------------------------- front-end layers


def conv_config(cls, name, writer, **kw):
    """Conv1D / SeparableConv1D / DepthwiseConv1D as tf.keras 2.x, Keras 2.2.4
    (no groups) and Keras 3 write them: lists for kernel_size, strides,
    dilation_rate."""
    k3 = writer == "keras3"
    c = {"name": name, "trainable": True, "dtype": "float32"}
    if cls != "DepthwiseConv1D":
        c["filters"] = kw["filters"]
    c.update({"kernel_size": [kw["kernel_size"]], "strides": [kw.get("strides", 1)],
              "padding": kw.get("padding", "valid"), "data_format": "channels_last",
              "dilation_rate": [kw.get("dilation_rate", 1)]})
    if cls == "Conv1D" and writer != "keras2":
        c["groups"] = kw.get("groups", 1)
    if cls != "Conv1D":
        c["depth_multiplier"] = kw.get("depth_multiplier", 1)
    c.update({"activation": kw.get("activation", "linear"), "use_bias": kw.get("use_bias", True)})
    glorot = init("GlorotUniform", k3, seed=None)
    kinds = {"Conv1D": ["kernel"], "SeparableConv1D": ["depthwise", "pointwise"], "DepthwiseConv1D": ["depthwise"]}
    for k in kinds[cls]:
        c[k + "_initializer"] = glorot
    c["bias_initializer"] = init("Zeros", k3)
    for k in kinds[cls] + ["bias"]:
        c[k + "_regularizer"] = None
        c[k + "_constraint"] = None
    c["activity_regularizer"] = None
    return c


def norm_config(cls, name, writer, **kw):
    k3 = writer == "keras3"
    c = {"name": name, "trainable": True, "dtype": "float32",
         "axis": kw.get("axis", -1), "epsilon": kw.get("epsilon", 0.001), "center": kw.get("center", True),
         "scale": kw.get("scale", True)}
    if cls == "BatchNormalization":
        c["momentum"] = kw.get("momentum", 0.99)
        c["moving_mean_initializer"] = init("Zeros", k3)
        c["moving_variance_initializer"] = init("Ones", k3)
        if k3:
            c["synchronized"] = False
    elif k3:
        c["rms_scaling"] = kw.get("rms_scaling", False)
    c["beta_initializer"] = init("Zeros", k3)
    c["gamma_initializer"] = init("Ones", k3)
    for k in ("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"):
        c[k] = None
    return c


def simple_config(name, **kw):
    c = {"name": name, "trainable": True, "dtype": "float32"}
    c.update(kw)
    return c


# H. Keras 1.2.2: Convolution1D (nb_filter, filter_length, border_mode,
# subsample_length; the kernel (k, 1, in, out), keras 1.2 convolutional.py),
# MaxPooling1D (pool_length, stride None: the pool length), Flatten. The
# file names no backend: Keras 2's loader then takes its kernels as they are.
# With `theano`, the same model saved by the Theano backend, which stores
# kernels flipped along their steps (Keras 2's loader flips them back:
# engine/saving.py preprocess_weights_for_loading, convert_kernel).
def fixture_keras1_conv(theano=False):
    name = "keras122_conv_theano" if theano else "keras122_conv"
    fx = Fixture(name, "keras1",
                 [Conv1D(3, 2, activation="tanh"), MaxPooling1D(2), Flatten(), Dense(1)],
                 ["convolution1d_1", "maxpooling1d_1", "flatten_1", "dense_1"], (6, 2), 6, Loss("mse"), None, n=3)
    layers = [
        {"class_name": "Convolution1D", "config": {
            "name": "convolution1d_1", "trainable": True, "batch_input_shape": [None, 6, 2], "input_dtype": "float32",
            "nb_filter": 3, "filter_length": 2, "init": "glorot_uniform", "activation": "tanh",
            "border_mode": "valid", "subsample_length": 1, "W_regularizer": None, "b_regularizer": None,
            "activity_regularizer": None, "W_constraint": None, "b_constraint": None, "bias": True,
            "input_dim": 2, "input_length": 6}},
        {"class_name": "MaxPooling1D", "config": {"name": "maxpooling1d_1", "trainable": True, "pool_length": 2,
                                                  "stride": None, "border_mode": "valid"}},
        {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True}},
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "output_dim": 1, "init": "glorot_uniform", "activation": "linear",
            "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
            "b_constraint": None, "bias": True, "input_dim": 6}},
    ]
    model_config = {"class_name": "Sequential", "config": layers}
    kernel = fx.w("convolution1d_1/kernel").reshape(2, 1, 2, 3)
    if theano:
        kernel = kernel[::-1].copy()
    path = os.path.join(OUT, fx.name + ".h5")
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "1.2.2", False)
        if theano:
            put_strings(f, "backend", "theano", False)
        put_strings(f, "model_config", json.dumps(model_config), False)
        mw = f.create_group("model_weights")
        write_layer_groups(mw, [("convolution1d_1", [("convolution1d_1_W", kernel),
                                                     ("convolution1d_1_b", fx.w("convolution1d_1/bias"))]),
                                ("maxpooling1d_1", []), ("flatten_1", []),
                                ("dense_1", [("dense_1_W", fx.w("dense_1/kernel")), ("dense_1_b", fx.w("dense_1/bias"))])],
                           False)
    fx.save_vectors()


# I. standalone Keras 2.2.4: a causal Conv1D without bias, then
# BatchNormalization (its moving statistics: non-trainable weights after
# gamma and beta), a GRU and a softmax Dense; Adam's optimizer weights
# [iterations] + ms + vs + vhats over the TRAINABLE weights only (Keras 2.2.4
# optimizers.py: params = model.trainable_weights). The resumed steps move the
# moving statistics too (Keras assigns them in each training forward).
def fixture_keras2_conv_bn():
    fx = Fixture("keras224_conv_bn", "keras2",
                 [Conv1D(4, 3, padding="causal", use_bias=False), BatchNormalization(momentum=0.9),
                  GRU(3, reset_after=False, recurrent_activation="hard_sigmoid"), Dense(2, activation="softmax")],
                 ["conv1d_1", "batch_normalization_1", "gru_1", "dense_1"], (5, 2), 5,
                 Loss("categorical_crossentropy"),
                 Optimizer("Adam", learning_rate=f32(0.001), beta_1=f32(0.9), beta_2=f32(0.999), epsilon=1e-07), n=4)
    w = "keras2"
    layers = [
        entry("Conv1D", dict(conv_config("Conv1D", "conv1d_1", w, filters=4, kernel_size=3, padding="causal",
                                         use_bias=False), batch_input_shape=[None, 5, 2])),
        entry("BatchNormalization", norm_config("BatchNormalization", "batch_normalization_1", w, momentum=0.9)),
        entry("GRU", recurrent_config("GRU", "gru_1", 3, w, recurrent_activation="hard_sigmoid", reset_after=False)),
        entry("Dense", dense_config("dense_1", 2, w, "softmax")),
    ]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}
    training = training_config_tf("categorical_crossentropy", "Adam",
                                  {"lr": f32(0.001), "beta_1": f32(0.9), "beta_2": f32(0.999), "decay": 0.0,
                                   "epsilon": 1e-07, "amsgrad": False}, ["accuracy"])
    groups = [("conv1d_1", ["kernel"]), ("batch_normalization_1", ["gamma", "beta", "moving_mean", "moving_variance"]),
              ("gru_1", ["kernel", "recurrent_kernel", "bias"]), ("dense_1", ["kernel", "bias"])]
    path = os.path.join(OUT, fx.name + ".h5")
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "2.2.4", False)
        put_strings(f, "backend", "tensorflow", False)
        put_strings(f, "model_config", json.dumps(model_config), False)
        put_strings(f, "training_config", json.dumps(training), False)
        mw = f.create_group("model_weights")
        write_layer_groups(mw, [(g, [("%s/%s:0" % (g, k), fx.w("%s/%s" % (g, k))) for k in ks]) for g, ks in groups],
                           False, {"keras_version": "2.2.4", "backend": "tensorflow"})
        trainable = [k for k, _ in fx.model.weight_list if not k.endswith(NON_TRAINABLE)]
        ow = [("Adam/iterations:0", np.int64(fx.iterations))]
        i = 0
        for kind in ("m", "v"):
            for k in trainable:
                ow.append(("training/Adam/Variable%s:0" % ("_%d" % i if i else ""), np.float32(fx.slot(kind, k))))
                i += 1
        for k in trainable:
            ow.append(("training/Adam/Variable_%d:0" % i, np.zeros(1, np.float32)))
            i += 1
        write_optimizer_group(f, ow, False)
    fx.save_vectors()


# J. tf.keras 2.14 (no training configuration): DepthwiseConv1D,
# SeparableConv1D, LayerNormalization, MaxPooling1D with same padding, the
# two global poolings' (average) shape change, RepeatVector into an LSTM
# autoencoder's decoder, TimeDistributed(Dense); an InputLayer with None
# steps would not do for Flatten-free models? It would: this one has 6 steps.
def fixture_tf214_front():
    fx = Fixture("tfkeras214_front", "tf-new",
                 [DepthwiseConv1D(2, depth_multiplier=2, padding="same"),
                  SeparableConv1D(3, 2, padding="causal", activation="tanh"), LayerNormalization(),
                  MaxPooling1D(2, padding="same"), GlobalAveragePooling1D(), RepeatVector(3),
                  LSTM(2, return_sequences=True), TimeDistributed(Dense(1))],
                 ["depthwise_conv1d", "separable_conv1d", "layer_normalization", "max_pooling1d",
                  "global_average_pooling1d", "repeat_vector", "lstm", ("dense", "time_distributed")],
                 (5, 2), 5, None, None, n=3)
    w = "tf-new"
    layers = [
        entry("InputLayer", {"batch_input_shape": [None, 5, 2], "dtype": "float32", "sparse": False,
                             "ragged": False, "name": "depthwise_conv1d_input"}),
        entry("DepthwiseConv1D", conv_config("DepthwiseConv1D", "depthwise_conv1d", w, kernel_size=2,
                                             depth_multiplier=2, padding="same")),
        entry("SeparableConv1D", conv_config("SeparableConv1D", "separable_conv1d", w, filters=3, kernel_size=2,
                                             padding="causal", activation="tanh")),
        entry("LayerNormalization", norm_config("LayerNormalization", "layer_normalization", w, axis=[2])),
        entry("MaxPooling1D", simple_config("max_pooling1d", strides=[2], pool_size=[2], padding="same",
                                            data_format="channels_last")),
        entry("GlobalAveragePooling1D", simple_config("global_average_pooling1d", data_format="channels_last",
                                                      keepdims=False)),
        entry("RepeatVector", simple_config("repeat_vector", n=3)),
        entry("LSTM", recurrent_config("LSTM", "lstm", 2, w, return_sequences=True)),
        entry("TimeDistributed", {"name": "time_distributed", "trainable": True, "dtype": "float32",
                                  "layer": entry("Dense", dense_config("dense", 1, w))}),
    ]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    groups = [("depthwise_conv1d", [("depthwise_conv1d/depthwise_kernel:0", "depthwise_conv1d/depthwise_kernel"),
                                    ("depthwise_conv1d/bias:0", "depthwise_conv1d/bias")]),
              ("separable_conv1d", [("separable_conv1d/%s:0" % k, "separable_conv1d/%s" % k)
                                    for k in ("depthwise_kernel", "pointwise_kernel", "bias")]),
              ("layer_normalization", [("layer_normalization/%s:0" % k, "layer_normalization/%s" % k)
                                       for k in ("gamma", "beta")]),
              ("max_pooling1d", []), ("global_average_pooling1d", []), ("repeat_vector", []),
              ("lstm", [("lstm/lstm_cell/%s:0" % k, "lstm/%s" % k) for k in ("kernel", "recurrent_kernel", "bias")]),
              ("time_distributed", [("time_distributed/%s:0" % k, "time_distributed/dense/%s" % k)
                                    for k in ("kernel", "bias")])]
    path = os.path.join(OUT, fx.name + ".h5")
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "2.14.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        mw = f.create_group("model_weights")
        write_layer_groups(mw, [(g, [(a, fx.w(b)) for a, b in ws]) for g, ws in groups], True,
                           {"keras_version": "2.14.0", "backend": "tensorflow"})
    fx.save_vectors()


# K. Keras 3 .keras archive: Conv1D with groups and dilation (causal, no
# bias), BatchNormalization, AveragePooling1D (same: windows over the ends),
# ZeroPadding1D, Cropping1D, UpSampling1D, LayerNormalization with
# rms_scaling, GlobalMaxPooling1D with keepdims, Permute, Reshape, Flatten,
# Dense. Weights at layers/<snake_case class>[_n]/vars/N (conv1d, not
# conv1_d: keras/src/utils/naming.py); optimizer/vars/N: iteration,
# learning_rate, then Adam's momentum and velocity interleaved per
# TRAINABLE variable (the moving statistics have none).
def fixture_keras3_front():
    fx = Fixture("keras3_front", "keras3",
                 [Conv1D(4, 2, dilation_rate=2, groups=2, padding="causal", use_bias=False),
                  BatchNormalization(), AveragePooling1D(2, padding="same"), ZeroPadding1D((1, 0)),
                  Cropping1D((0, 1)), UpSampling1D(2), LayerNormalization(rms_scaling=True),
                  Conv1D(2, 1, activation="tanh"), GlobalMaxPooling1D(keepdims=True), Permute((2, 1)),
                  Reshape((2, 1)), Flatten(), Dense(2)],
                 ["conv1d", "batch_normalization", "average_pooling1d", "zero_padding1d", "cropping1d",
                  "up_sampling1d", "layer_normalization", "conv1d_1", "global_max_pooling1d", "permute", "reshape",
                  "flatten", "dense"],
                 (5, 2), 5, Loss("mse"),
                 Optimizer("Adam", learning_rate=f32(0.002), beta_1=0.9, beta_2=0.999, epsilon=1e-07), n=3)
    w = "keras3"
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    layers = [
        entry("InputLayer", {"batch_shape": [None, 5, 2], "dtype": "float32", "sparse": False,
                             "name": "input_layer"}, w),
        entry("Conv1D", dict(conv_config("Conv1D", "conv1d", w, filters=4, kernel_size=2, dilation_rate=2, groups=2,
                                         padding="causal", use_bias=False), dtype=policy), w),
        entry("BatchNormalization", norm_config("BatchNormalization", "batch_normalization", w), w),
        entry("AveragePooling1D", simple_config("average_pooling1d", pool_size=[2], padding="same", strides=[2],
                                                data_format="channels_last"), w),
        entry("ZeroPadding1D", simple_config("zero_padding1d", padding=[1, 0]), w),
        entry("Cropping1D", simple_config("cropping1d", cropping=[0, 1]), w),
        entry("UpSampling1D", simple_config("up_sampling1d", size=2), w),
        entry("LayerNormalization", norm_config("LayerNormalization", "layer_normalization", w, rms_scaling=True), w),
        entry("Conv1D", conv_config("Conv1D", "conv1d_1", w, filters=2, kernel_size=1, activation="tanh"), w),
        entry("GlobalMaxPooling1D", simple_config("global_max_pooling1d", data_format="channels_last",
                                                  keepdims=True), w),
        entry("Permute", simple_config("permute", dims=[2, 1]), w),
        entry("Reshape", simple_config("reshape", target_shape=[2, 1]), w),
        entry("Flatten", simple_config("flatten", data_format="channels_last"), w),
        entry("Dense", dense_config("dense", 2, w), w),
    ]
    opt = {"name": "adam", "learning_rate": f32(0.002), "weight_decay": None, "clipnorm": None,
           "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
           "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
           "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "trainable": True, "dtype": policy, "layers": layers},
              "registered_name": None, "build_config": {"input_shape": [None, 5, 2]},
              "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": opt,
                                               "registered_name": None},
                                 "loss": "mse", "loss_weights": None, "metrics": None, "weighted_metrics": None,
                                 "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}}
    trainable = [k for k, _ in fx.model.weight_list if not k.endswith(NON_TRAINABLE)]
    groups = {"conv1d": ["kernel"], "batch_normalization": ["gamma", "beta", "moving_mean", "moving_variance"],
              "layer_normalization": ["gamma"], "conv1d_1": ["kernel", "bias"], "dense": ["kernel", "bias"]}

    def weights(h):
        for g, ks in groups.items():
            for i, k in enumerate(ks):
                h.create_dataset("layers/%s/vars/%d" % (g, i), data=np.float32(fx.w("%s/%s" % (g, k))))
        for g in ("average_pooling1d", "zero_padding1d", "cropping1d", "up_sampling1d", "global_max_pooling1d",
                  "permute", "reshape", "flatten"):
            h.create_group("layers/%s/vars" % g)
        h.create_group("vars")
        ov = [np.int64(fx.iterations), np.float32(0.002)]
        for k in trainable:
            ov += [np.float32(fx.slot("m", k)), np.float32(fx.slot("v", k))]
        for i, v in enumerate(ov):
            h.create_dataset("optimizer/vars/%d" % i, data=v)

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.4.1", "date_saved": "2024-08-01@12:00:00"}, weights)
    fx.save_vectors()


# L. The real tf.keras 2.14 file of tests/import/real/ (a causal Conv1D, three
# LSTMs, three Dense): Keras's prediction for 3 sequences of 12 steps,
# computed here from the file's own arrays by keras_torch.py, as
# real/sunspot_conv1d_lstm.{x,pred}.npy and .steps.
def real_sunspot():
    real = os.path.join(HERE, "real")
    path = os.path.join(real, "sunspot_conv1d_lstm.h5")
    layers = [Conv1D(64, 3, padding="causal", activation="relu"), LSTM(128, return_sequences=True),
              LSTM(64, return_sequences=True), LSTM(64), Dense(30, activation="relu"), Dense(10, activation="relu"),
              Dense(1)]
    model = Model(layers, (12, 1))
    names = ["conv1d_3", "lstm_9", "lstm_10", "lstm_11", "dense_9", "dense_10", "dense_11"]
    P = {}
    with h5py.File(path, "r") as f:
        for layer, nm in zip(layers, names):
            layer.name = nm
            g = f["model_weights"][nm]
            arrays = [np.asarray(g[n.decode() if isinstance(n, bytes) else n], dtype=np.float64)
                      for n in g.attrs["weight_names"]]
            kinds = ["kernel", "bias"] if not isinstance(layer, LSTM) else ["kernel", "recurrent_kernel", "bias"]
            for k, a in zip(kinds, arrays):
                P["%s/%s" % (nm, k)] = torch.tensor(a)
    rng = np.random.default_rng(zlib.crc32(b"sunspot"))
    x = as_float32(rng.uniform(0, 1, size=(3, 12, 1)))
    with torch.no_grad():
        outs, _ = model.forward(P, [torch.tensor(x)])
    np.save(os.path.join(real, "sunspot_conv1d_lstm.x.npy"), x)
    np.save(os.path.join(real, "sunspot_conv1d_lstm.pred.npy"), outs[0].numpy())
    with open(os.path.join(real, "sunspot_conv1d_lstm.steps"), "w") as f:
        f.write("12\n")


# Negative fixtures: files that must be refused with a message.
# L. Embedding (issue 13), tf.keras 2.9 whole-model .h5: the Sequential's
# InputLayer (batch_input_shape [None, 5]), Embedding with input_length,
# weight embedding/embeddings:0 (input_dim, output_dim), RandomUniform as
# tf.keras serializes "uniform"; the legacy RMSprop's slots.
def embedding_config(name, input_dim, output_dim, writer, **extra):
    k3 = writer == "keras3"
    c = {"name": name, "trainable": True, "dtype": "float32", "input_dim": input_dim, "output_dim": output_dim,
         "embeddings_initializer": init("RandomUniform", k3, minval=-0.05, maxval=0.05, seed=None),
         "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None,
         "mask_zero": False}
    c.update(extra)
    return c


def fixture_tf29_embedding():
    fx = Fixture("tfkeras29_embedding", "tf", [Embedding(8, 3), LSTM(4), Dense(2)],
                 ["embedding", "lstm", "dense"], (5,), 5, Loss("mse"),
                 Optimizer("RMSprop", learning_rate=f32(0.01), rho=f32(0.9), momentum=f32(0.5), epsilon=1e-07,
                           legacy=True), n=4)
    w = "tf"
    layers = [
        entry("InputLayer", {"batch_input_shape": [None, 5], "dtype": "float32", "sparse": False,
                             "ragged": False, "name": "embedding_input"}),
        entry("Embedding", embedding_config("embedding", 8, 3, w, batch_input_shape=[None, 5], input_length=5)),
        entry("LSTM", recurrent_config("LSTM", "lstm", 4, w)),
        entry("Dense", dense_config("dense", 2, w)),
    ]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    training = training_config_tf("mse", "RMSprop", {"name": "RMSprop", "learning_rate": f32(0.01), "decay": 0.0,
                                                     "rho": f32(0.9), "momentum": f32(0.5), "epsilon": 1e-07,
                                                     "centered": False})
    file_names = [("embedding/embeddings:0", "embedding/embeddings")]
    file_names += [("lstm/lstm_cell/%s:0" % k, "lstm/%s" % k) for k in ("kernel", "recurrent_kernel", "bias")]
    file_names += [("dense/%s:0" % k, "dense/%s" % k) for k in ("kernel", "bias")]
    with h5py.File(os.path.join(OUT, fx.name + ".h5"), "w") as f:
        put_strings(f, "keras_version", "2.9.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        put_strings(f, "training_config", json.dumps(training), True)
        mw = f.create_group("model_weights")
        groups = [(g, [(a, fx.w(b)) for a, b in file_names if a.startswith(g + "/")])
                  for g in ("embedding", "lstm", "dense")]
        write_layer_groups(mw, groups, True, {"keras_version": "2.9.0", "backend": "tensorflow"})
        ow = [("RMSprop/iter:0", np.int64(fx.iterations)), ("RMSprop/decay:0", np.float32(0)),
              ("RMSprop/learning_rate:0", np.float32(0.01)), ("RMSprop/momentum:0", np.float32(0.5)),
              ("RMSprop/rho:0", np.float32(0.9))]
        for a, b in file_names:
            ow.append(("RMSprop/%s/rms:0" % a[:-2], np.float32(fx.slot("velocity", b))))
        for a, b in file_names:
            ow.append(("RMSprop/%s/momentum:0" % a[:-2], np.float32(fx.slot("momentum", b))))
        write_optimizer_group(f, ow, True)
    fx.save_vectors()


# N. The noise layers (issue 13), tf.keras 2.9 whole-model .h5 without a
# training config: LSTM(dropout=0.2, recurrent_dropout=0.3) -> Dropout(0.5)
# -> GaussianNoise(0.1) -> Dense, as tf.keras 2.9 serializes them (Dropout:
# rate, noise_shape, seed). Imported with its arguments; the predictions are
# Keras's equations at inference, where the noise is the identity.
def fixture_tf29_dropout():
    lstm = LSTM(4, return_sequences=True, dropout=0.2, recurrent_dropout=0.3)
    fx = Fixture("tfkeras29_dropout", "tf", [lstm, Dropout(0.5), GaussianNoise(0.1), Dense(2)],
                 ["lstm", "dropout", "gaussian_noise", "dense"], (5, 3), 5, None, None, n=4)
    w = "tf"
    rc = recurrent_config("LSTM", "lstm", 4, w, return_sequences=True)
    rc.update({"dropout": 0.2, "recurrent_dropout": 0.3, "batch_input_shape": [None, 5, 3]})
    layers = [
        entry("InputLayer", {"batch_input_shape": [None, 5, 3], "dtype": "float32", "sparse": False,
                             "ragged": False, "name": "lstm_input"}),
        entry("LSTM", rc),
        entry("Dropout", {"name": "dropout", "trainable": True, "dtype": "float32", "rate": 0.5,
                          "noise_shape": None, "seed": None}),
        entry("GaussianNoise", {"name": "gaussian_noise", "trainable": True, "dtype": "float32", "stddev": 0.1}),
        entry("Dense", dense_config("dense", 2, w)),
    ]
    model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    file_names = [("lstm/lstm_cell/%s:0" % k, "lstm/%s" % k) for k in ("kernel", "recurrent_kernel", "bias")]
    file_names += [("dense/%s:0" % k, "dense/%s" % k) for k in ("kernel", "bias")]
    with h5py.File(os.path.join(OUT, fx.name + ".h5"), "w") as f:
        put_strings(f, "keras_version", "2.9.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        mw = f.create_group("model_weights")
        groups = [(g, [(a, fx.w(b)) for a, b in file_names if a.startswith(g + "/")])
                  for g in ("lstm", "dropout", "gaussian_noise", "dense")]
        write_layer_groups(mw, groups, True, {"keras_version": "2.9.0", "backend": "tensorflow"})
    fx.save_vectors()


# M. Embedding, Keras 3 .keras: an InputLayer of int32 tokens of any length
# (batch_shape [None, None]), Embedding without input_length (Keras 3 pops
# it), weights at layers/embedding/vars/0; Adam's optimizer/vars: iteration,
# learning_rate, then momentum and velocity interleaved per variable.
def fixture_keras3_embedding():
    fx = Fixture("keras3_embedding", "keras3", [Embedding(6, 2), GRU(3, return_sequences=True), Dense(2)],
                 ["embedding", "gru", "dense"], (None,), 4, Loss("mse"),
                 Optimizer("Adam", learning_rate=f32(0.01), beta_1=0.9, beta_2=0.999, epsilon=1e-07,
                           amsgrad=False), n=3)
    w = "keras3"
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    emb = embedding_config("embedding", 6, 2, w)
    emb["dtype"] = policy
    gru = recurrent_config("GRU", "gru", 3, w, return_sequences=True)
    gru["dtype"] = policy
    dense = dense_config("dense", 2, w)
    dense["dtype"] = policy
    layers = [
        entry("InputLayer", {"batch_shape": [None, None], "dtype": "int32", "sparse": False, "name": "input_layer"},
              w),
        entry("Embedding", emb, w, build_config={"input_shape": [None, None]}),
        entry("GRU", gru, w, build_config={"input_shape": [None, None, 2]}),
        entry("Dense", dense, w, build_config={"input_shape": [None, None, 3]}),
    ]
    opt = {"name": "adam", "learning_rate": f32(0.01), "weight_decay": None, "clipnorm": None,
           "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
           "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
           "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "trainable": True, "dtype": policy, "layers": layers},
              "registered_name": None, "build_config": {"input_shape": [None, None]},
              "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": opt,
                                               "registered_name": None},
                                 "loss": "mean_squared_error", "loss_weights": None, "metrics": None,
                                 "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                                 "jit_compile": False}}
    names = [k for k, _ in fx.model.weight_list]

    def weights(h):
        h.create_dataset("layers/embedding/vars/0", data=np.float32(fx.w("embedding/embeddings")))
        for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
            h.create_dataset("layers/gru/cell/vars/%d" % i, data=np.float32(fx.w("gru/%s" % k)))
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/dense/vars/%d" % i, data=np.float32(fx.w("dense/%s" % k)))
        h.create_group("vars")
        ov = [np.int64(fx.iterations), np.float32(0.01)]
        for k in names:
            ov += [np.float32(fx.slot("m", k)), np.float32(fx.slot("v", k))]
        for i, v in enumerate(ov):
            h.create_dataset("optimizer/vars/%d" % i, data=v)

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    # the same model as Keras 3's model.to_json() and save_weights("w.weights.h5")
    arch = {k: v for k, v in config.items() if k != "compile_config"}
    with open(os.path.join(OUT, fx.name + ".config.json"), "w") as f:
        json.dump(arch, f)
    with h5py.File(os.path.join(OUT, fx.name + ".weights.h5"), "w") as h:
        weights(h)
    fx.save_vectors()


def fixture_refused():
    # Keras 3's hard_sigmoid (relu6(x + 3) / 6) is not rnnc's (tf.keras 2.x's)
    cfg = recurrent_config("LSTM", "lstm", 2, "keras3", recurrent_activation="hard_sigmoid")
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "layers": [
                  entry("InputLayer", {"batch_shape": [None, 3, 2], "dtype": "float32", "sparse": False,
                                       "name": "input_layer"}, "keras3"),
                  entry("LSTM", cfg, "keras3"),
                  # (AlphaDropout: rnnc imports Dropout since issue 13, not it)
                  entry("AlphaDropout", {"name": "alpha_dropout", "trainable": True, "dtype": "float32",
                                         "rate": 0.5, "seed": None, "noise_shape": None}, "keras3"),
                  entry("Dense", dict(dense_config("dense", 1, "keras3"), kernel_regularizer={
                      "module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
                      "registered_name": None}), "keras3")]},
              "registered_name": None}

    def weights(h):
        h.create_group("layers/lstm/cell/vars")

    zip_keras(os.path.join(OUT, "refused_keras3.keras"), config, {"keras_version": "3.3.3"}, weights)
    # Embedding with mask_zero (masking) and sparse gradients: refused by name
    emb = embedding_config("embedding", 10, 3, "keras3", mask_zero=True, sparse=True)
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "layers": [
                  entry("InputLayer", {"batch_shape": [None, 4], "dtype": "int32", "sparse": False,
                                       "name": "input_layer"}, "keras3"),
                  entry("Embedding", emb, "keras3"),
                  entry("LSTM", recurrent_config("LSTM", "lstm", 2, "keras3"), "keras3")]},
              "registered_name": None}
    zip_keras(os.path.join(OUT, "refused_embedding.keras"), config, {"keras_version": "3.3.3"}, weights)
    # a weight whose shape does not fit the configuration
    src = os.path.join(OUT, "keras224_lstm_gru.h5")
    dst = os.path.join(OUT, "bad_shape.h5")
    with open(src, "rb") as a, open(dst, "wb") as b:
        b.write(a.read())
    with h5py.File(dst, "r+") as f:
        del f["model_weights/gru_1/gru_1/kernel:0"]
        f["model_weights/gru_1/gru_1/kernel:0"] = np.zeros((3, 11), np.float32)
    dst = os.path.join(OUT, "nan_weight.h5")
    with open(src, "rb") as a, open(dst, "wb") as b:
        b.write(a.read())
    with h5py.File(dst, "r+") as f:
        f["model_weights/dense_1/dense_1/bias:0"][1] = np.nan


# ---------------------------------------------------------------- functional graphs (issue 15)
#
# Graph fixtures: a functional model of several inputs, merges, shared
# layers or initial states, as each writer serializes it (see keras.lua's
# read_graph for the sources). Vectors: NAME.x.npy, NAME.x1.npy, ... (one
# per input, in input_layers order), NAME.inputs (the input names, one a
# line), NAME.pred.npy (the first output), NAME.y.npy, NAME.steps and, with
# an optimizer, NAME.resumed.safetensors.


class GraphFixture:
    def __init__(self, name, model, steps, loss, optimizer, n=3, onehot=()):
        self.name, self.model, self.steps, self.loss, self.optimizer, self.n = name, model, steps, loss, optimizer, n
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.weights = {k: as_float32(rng.uniform(-0.7, 0.7, size=s)) for k, s in model.weight_list}
        self.x = []
        for i, s in enumerate(model.input_shapes):
            if i in onehot:  # one-hot characters, as the seq2seq example feeds them
                self.x.append(np.eye(s[-1])[rng.integers(0, s[-1], size=(n,) + tuple(s[:-1]))])
            else:
                self.x.append(as_float32(rng.uniform(-1, 1, size=(n,) + tuple(s))))
        with torch.no_grad():
            outs, _ = model.forward({k: torch.tensor(v) for k, v in self.weights.items()},
                                    [torch.tensor(x) for x in self.x])
        self.pred = outs[0].numpy()
        if loss and loss.kind == "categorical_crossentropy":
            self.y = np.eye(self.pred.shape[-1])[rng.integers(0, self.pred.shape[-1], size=self.pred.shape[:-1])]
        else:
            self.y = as_float32(rng.uniform(-0.8, 0.8, size=self.pred.shape))
        self.iterations = 7
        self.slots = {}
        if optimizer:
            assert optimizer.cls == "RMSprop" and not optimizer.cfg["momentum"] and not optimizer.cfg["centered"]
            for k, shape in model.weight_list:
                self.slots[("velocity", k)] = as_float32(rng.uniform(0.01, 0.2, size=shape))

    def w(self, k):
        return self.weights[k]

    def slot(self, kind, k):
        return self.slots[(kind, k)]

    def save_vectors(self, input_names):
        for i, x in enumerate(self.x):
            np.save(os.path.join(OUT, self.name + (".x.npy" if i == 0 else ".x%d.npy" % i)), x)
        with open(os.path.join(OUT, self.name + ".inputs"), "w") as f:
            f.write("".join(n + "\n" for n in input_names))
        np.save(os.path.join(OUT, self.name + ".y.npy"), self.y)
        np.save(os.path.join(OUT, self.name + ".pred.npy"), self.pred)
        with open(os.path.join(OUT, self.name + ".steps"), "w") as f:
            f.write("%d\n" % self.steps)
        if self.optimizer:
            opt = self.optimizer
            trained = {k: v.copy() for k, v in self.weights.items()}
            opt.init_state(trained)
            opt.iterations = self.iterations
            for (s, k), v in self.slots.items():
                opt.slots[k][s] = v.copy()
            for _ in range(RESUME_STEPS):
                _, g, _, _ = loss_and_grads(self.model, self.loss, trained, self.x, self.y)
                opt.apply(trained, g)
            write_safetensors(os.path.join(OUT, self.name + ".resumed.safetensors"),
                              [(k, trained[k]) for k, _ in self.model.weight_list])


def seq2seq(enc_tokens, dec_tokens, latent, steps):
    """Keras's character-level sequence-to-sequence TRAINING model
    (keras-io examples/nlp/lstm_seq2seq.py): the encoder LSTM's states are
    the decoder LSTM's initial_state (teacher forcing), a softmax Dense."""
    encoder = LSTM(latent, return_state=True)
    decoder = LSTM(latent, return_sequences=True, return_state=True)
    dense = Dense(dec_tokens, activation="softmax")
    return GraphModel([(steps, enc_tokens), (steps, dec_tokens)], [
        (["enc_out", "h", "c"], encoder, ["in0"]),
        (["dec_out", "dh", "dc"], decoder, ["in1", "h", "c"]),
        (["y"], dense, ["dec_out"])], "y")


def input_entry(name, shape, writer):
    if writer == "keras3":
        return {"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": shape, "dtype": "float32", "sparse": False, "name": name},
                "registered_name": None, "name": name, "inbound_nodes": []}
    return {"class_name": "InputLayer", "config": {"batch_input_shape": shape, "dtype": "float32", "sparse": False,
                                                   "ragged": False, "name": name},
            "name": name, "inbound_nodes": []}


def k3_tensor(shape, layer, node=0, tensor=0):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, node, tensor]}}


# H. tf.keras 2.14 .h5 of the seq2seq training model: inbound_nodes as
# Keras 2 lists; the decoder LSTM's node lists its input, then the
# encoder's states h and c (tensors 1 and 2 of lstm's node 0), as
# RNN.__call__ serializes initial_state given as Keras tensors (full_input
# = [inputs] + additional_inputs, keras/layers/rnn/base_rnn.py); RMSprop of
# 2.11-2.15 with its velocity slots by name.
def fixture_tf214_seq2seq():
    fx = GraphFixture("tfkeras214_seq2seq", seq2seq(5, 6, 4, 4), 4, Loss("categorical_crossentropy"),
                      Optimizer("RMSprop", learning_rate=f32(0.001), rho=0.9, momentum=0.0, epsilon=1e-07,
                                centered=False), n=3, onehot=(0, 1))
    w = "tf-new"
    enc = recurrent_config("LSTM", "lstm", 4, w)
    enc["return_state"] = True
    dec = recurrent_config("LSTM", "lstm_1", 4, w, return_sequences=True)
    dec["return_state"] = True
    layers = [
        input_entry("input_1", [None, None, 5], w),
        input_entry("input_2", [None, None, 6], w),
        {"class_name": "LSTM", "config": enc, "name": "lstm", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"class_name": "LSTM", "config": dec, "name": "lstm_1",
         "inbound_nodes": [[["input_2", 0, 0, {}], ["lstm", 0, 1, {}], ["lstm", 0, 2, {}]]]},
        {"class_name": "Dense", "config": dense_config("dense", 6, w, "softmax"), "name": "dense",
         "inbound_nodes": [[["lstm_1", 0, 0, {}]]]},
    ]
    model_config = {"class_name": "Functional", "config": {
        "name": "model", "layers": layers, "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
        "output_layers": [["dense", 0, 0]]}}
    opt = {"name": "RMSprop", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
           "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": 100, "jit_compile": False,
           "is_legacy_optimizer": False, "learning_rate": f32(0.001), "rho": 0.9, "momentum": 0.0,
           "epsilon": 1e-07, "centered": False}
    training = training_config_tf("categorical_crossentropy", "Custom>RMSprop", opt)
    path = os.path.join(OUT, fx.name + ".h5")
    cells = {"lstm": "lstm/lstm_cell", "lstm_1": "lstm_1/lstm_cell_1", "dense": "dense"}
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "2.14.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        put_strings(f, "training_config", json.dumps(training), True)
        mw = f.create_group("model_weights")
        groups = [("input_1", []), ("input_2", [])]
        pairs = []
        for lname in ("lstm", "lstm_1", "dense"):
            kinds = ["kernel", "recurrent_kernel", "bias"] if lname != "dense" else ["kernel", "bias"]
            ws = [("%s/%s:0" % (cells[lname], k), "%s/%s" % (lname, k)) for k in kinds]
            pairs += ws
            groups.append((lname, [(a, fx.w(b)) for a, b in ws]))
        write_layer_groups(mw, groups, True, {"keras_version": "2.14.0", "backend": "tensorflow"})
        top = mw.create_group("top_level_model_weights")
        top.attrs["weight_names"] = np.array([], dtype=np.float64)
        ow = [("iteration:0", np.int64(fx.iterations))]
        for a, b in pairs:
            ow.append(("RMSprop/velocity/" + a, np.float32(fx.slot("velocity", b))))
        write_optimizer_group(f, ow, True)
    fx.save_vectors(["input_1", "input_2"])
    # the same file listing its layers in another order than Keras's
    # model.layers (dense first): rnnc builds its own order, so the weights
    # and the optimizer slots mapped in the file's order must be reordered
    dst = os.path.join(OUT, fx.name + "_reordered.h5")
    with open(path, "rb") as a, open(dst, "wb") as b:
        b.write(a.read())
    with h5py.File(dst, "r+") as f:
        reordered = dict(model_config, config=dict(model_config["config"], layers=[layers[i] for i in (0, 1, 4, 3, 2)]))
        put_strings(f, "model_config", json.dumps(reordered), True)
    # the same architecture as JSON with the decoder's initial_state in the
    # node's kwargs, [name, node, tensor] lists, the form tf.keras's reader
    # also takes (keras/engine/functional.py _deserialize_keras_tensors)
    layers[3]["inbound_nodes"] = [[["input_2", 0, 0, {"initial_state": [["lstm", 0, 1], ["lstm", 0, 2]]}]]]
    with open(os.path.join(OUT, fx.name + "_kwargs.json"), "w") as f:
        json.dump(dict(model_config, keras_version="2.14.0", backend="tensorflow"), f)


# I. Keras 3 .keras archive of the same seq2seq training model: nodes as
# {args, kwargs} with __keras_tensor__ objects, the decoder called with
# kwargs initial_state = [h, c] (keras/src/models/functional.py
# serialize_node), and training = False, LSTM.call's default, which Keras
# 3's Layer.__call__ puts in every node's kwargs (with mask = None for a
# call on one tensor: keras/src/layers/layer.py __call__, steps 5 and 6); weights at layers/lstm/cell/vars/N, layers/lstm_1/...,
# layers/dense/vars/N (saving_lib: snake-case class names numbered over
# model.layers); optimizer/vars/N: iteration, learning_rate, then one
# velocity per variable (keras/src/optimizers/rmsprop.py build).
def fixture_keras3_seq2seq():
    fx = GraphFixture("keras3_seq2seq", seq2seq(5, 6, 4, 4), 4, Loss("categorical_crossentropy"),
                      Optimizer("RMSprop", learning_rate=f32(0.001), rho=0.9, momentum=0.0, epsilon=1e-07,
                                centered=False), n=3, onehot=(0, 1))
    w = "keras3"
    enc = recurrent_config("LSTM", "lstm", 4, w)
    enc["return_state"] = True
    dec = recurrent_config("LSTM", "lstm_1", 4, w, return_sequences=True)
    dec["return_state"] = True
    layers = [
        input_entry("input_layer", [None, None, 5], w),
        input_entry("input_layer_1", [None, None, 6], w),
        dict(entry("LSTM", enc, w), name="lstm", build_config={"input_shape": [None, None, 5]},
             inbound_nodes=[{"args": [k3_tensor([None, None, 5], "input_layer")],
                             "kwargs": {"training": False, "mask": None}}]),
        dict(entry("LSTM", dec, w), name="lstm_1", build_config={"input_shape": [None, None, 6]},
             inbound_nodes=[{"args": [k3_tensor([None, None, 6], "input_layer_1")],
                             "kwargs": {"initial_state": [k3_tensor([None, 4], "lstm", 0, 1),
                                                          k3_tensor([None, 4], "lstm", 0, 2)],
                                        "training": False}}]),
        dict(entry("Dense", dense_config("dense", 6, w, "softmax"), w), name="dense",
             build_config={"input_shape": [None, None, 4]},
             inbound_nodes=[{"args": [k3_tensor([None, None, 4], "lstm_1")], "kwargs": {}}]),
    ]
    opt = {"name": "rmsprop", "learning_rate": f32(0.001), "weight_decay": None, "clipnorm": None,
           "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
           "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
           "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07, "centered": False}
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": "functional", "trainable": True, "layers": layers,
                         "input_layers": [["input_layer", 0, 0], ["input_layer_1", 0, 0]],
                         "output_layers": [["dense", 0, 0]]},
              "registered_name": "Functional", "build_config": {"input_shape": None},
              "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "RMSprop", "config": opt,
                                               "registered_name": None},
                                 "loss": "categorical_crossentropy", "loss_weights": None, "metrics": ["accuracy"],
                                 "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                                 "jit_compile": False}}
    names = [k for k, _ in fx.model.weight_list]

    def weights(h):
        for lname in ("lstm", "lstm_1"):
            for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
                h.create_dataset("layers/%s/cell/vars/%d" % (lname, i), data=np.float32(fx.w("%s/%s" % (lname, k))))
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/dense/vars/%d" % i, data=np.float32(fx.w("dense/%s" % k)))
        h.create_group("layers/input_layer/vars")
        h.create_group("layers/input_layer_1/vars")
        ov = [np.int64(fx.iterations), np.float32(0.001)] + [np.float32(fx.slot("velocity", k)) for k in names]
        for i, v in enumerate(ov):
            h.create_dataset("optimizer/vars/%d" % i, data=v)

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    fx.save_vectors(["input_layer", "input_layer_1"])
    # model.to_json() and save_weights("w.weights.h5") of the same model
    with open(os.path.join(OUT, fx.name + ".config.json"), "w") as f:
        json.dump({k: v for k, v in config.items() if k != "compile_config"}, f)
    with h5py.File(os.path.join(OUT, fx.name + ".weights.h5"), "w") as h:
        weights(h)


def merge_entry(cls, name, writer, inbound, **cfg):
    c = {"name": name, "trainable": True, "dtype": "float32"}
    c.update(cfg)
    e = entry(cls, c, writer)
    e["name"], e["inbound_nodes"] = name, inbound
    return e


# J. tf.keras 2.9 .h5, branches and merges: a GRU and a SimpleRNN read the
# same sequence (fan-out), Add joins them, a Dense reads the second input,
# Concatenate joins that and the sum (Keras 2 node lists of two tensors);
# no training configuration.
def fixture_tf29_branch():
    gru, rnn, d1, d2 = GRU(3), SimpleRNN(3), Dense(3, activation="tanh"), Dense(2)
    model = GraphModel([(4, 3), (2,)], [
        (["r"], gru, ["in0"]), (["s"], rnn, ["in0"]), (["a"], Merge("Add"), ["r", "s"]),
        (["d"], d1, ["in1"]), (["c"], Merge("Concatenate"), ["a", "d"]), (["y"], d2, ["c"])], "y")
    fx = GraphFixture("tfkeras29_branch", model, 4, None, None, n=3)
    w = "tf"
    layers = [
        input_entry("input_1", [None, 4, 3], w),
        dict(entry("GRU", recurrent_config("GRU", "gru", 3, w)), name="gru", inbound_nodes=[[["input_1", 0, 0, {}]]]),
        dict(entry("SimpleRNN", recurrent_config("SimpleRNN", "simple_rnn", 3, w)), name="simple_rnn",
             inbound_nodes=[[["input_1", 0, 0, {}]]]),
        input_entry("input_2", [None, 2], w),
        merge_entry("Add", "add", w, [[["gru", 0, 0, {}], ["simple_rnn", 0, 0, {}]]]),
        dict(entry("Dense", dense_config("dense", 3, w, "tanh")), name="dense",
             inbound_nodes=[[["input_2", 0, 0, {}]]]),
        merge_entry("Concatenate", "concatenate", w, [[["add", 0, 0, {}], ["dense", 0, 0, {}]]], axis=-1),
        dict(entry("Dense", dense_config("dense_1", 2, w)), name="dense_1",
             inbound_nodes=[[["concatenate", 0, 0, {}]]]),
    ]
    model_config = {"class_name": "Functional", "config": {
        "name": "model", "layers": layers, "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
        "output_layers": [["dense_1", 0, 0]]}}
    path = os.path.join(OUT, fx.name + ".h5")
    with h5py.File(path, "w") as f:
        put_strings(f, "keras_version", "2.9.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        mw = f.create_group("model_weights")
        groups = [("input_1", []), ("input_2", []), ("add", []), ("concatenate", [])]
        cells = {"gru": "gru/gru_cell", "simple_rnn": "simple_rnn/simple_rnn_cell", "dense": "dense",
                 "dense_1": "dense_1"}
        for lname in ("gru", "simple_rnn", "dense", "dense_1"):
            kinds = ["kernel", "recurrent_kernel", "bias"] if lname in ("gru", "simple_rnn") else ["kernel", "bias"]
            groups.append((lname, [("%s/%s:0" % (cells[lname], k), fx.w("%s/%s" % (lname, k))) for k in kinds]))
        write_layer_groups(mw, groups, True, {"keras_version": "2.9.0", "backend": "tensorflow"})
    fx.save_vectors(["input_1", "input_2"])


# K. Keras 3 .keras, a shared layer: one Dense called on both inputs (two
# nodes; the second call's output is keras_history ["dense", 1, 0]),
# Concatenate along time (axis=1), a SimpleRNN whose return_state output
# (tensor 1) is multiplied with its output, then a Dense; the model's
# second output is that state (["simple_rnn", 0, 1], NAME.pred1.npy); no
# training configuration.
def fixture_keras3_shared():
    shared, rnn, out = Dense(3, activation="tanh"), SimpleRNN(2, return_state=True), Dense(2)
    model = GraphModel([(3, 2), (2, 2)], [
        (["a"], shared, ["in0"]), (["b"], shared, ["in1"]), (["c"], Merge("Concatenate", axis=1), ["a", "b"]),
        (["h", "s"], rnn, ["c"]), (["m"], Merge("Multiply"), ["h", "s"]), (["y"], out, ["m"])], "y")
    fx = GraphFixture("keras3_shared", model, 3, None, None, n=3)
    w = "keras3"
    rc = recurrent_config("SimpleRNN", "simple_rnn", 2, w)
    rc["return_state"] = True
    layers = [
        input_entry("input_layer", [None, 3, 2], w),
        input_entry("input_layer_1", [None, 2, 2], w),
        dict(entry("Dense", dense_config("dense", 3, w, "tanh"), w), name="dense",
             inbound_nodes=[{"args": [k3_tensor([None, 3, 2], "input_layer")], "kwargs": {}},
                            {"args": [k3_tensor([None, 2, 2], "input_layer_1")], "kwargs": {}}]),
        merge_entry("Concatenate", "concatenate", w, [{"args": [[k3_tensor([None, 3, 3], "dense", 0, 0),
                                                                 k3_tensor([None, 2, 3], "dense", 1, 0)]],
                                                       "kwargs": {}}], axis=1),
        dict(entry("SimpleRNN", rc, w), name="simple_rnn",
             inbound_nodes=[{"args": [k3_tensor([None, 5, 3], "concatenate")],
                             "kwargs": {"training": False, "mask": None}}]),
        merge_entry("Multiply", "multiply", w, [{"args": [[k3_tensor([None, 2], "simple_rnn", 0, 0),
                                                           k3_tensor([None, 2], "simple_rnn", 0, 1)]],
                                                 "kwargs": {}}]),
        dict(entry("Dense", dense_config("dense_1", 2, w), w), name="dense_1",
             inbound_nodes=[{"args": [k3_tensor([None, 2], "multiply")], "kwargs": {}}]),
    ]
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": "functional", "trainable": True, "layers": layers,
                         "input_layers": [["input_layer", 0, 0], ["input_layer_1", 0, 0]],
                         "output_layers": [["dense_1", 0, 0], ["simple_rnn", 0, 1]]},
              "registered_name": "Functional", "build_config": {"input_shape": None}}

    def weights(h):
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/dense/vars/%d" % i, data=np.float32(fx.w("dense/%s" % k)))
        for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
            h.create_dataset("layers/simple_rnn/cell/vars/%d" % i, data=np.float32(fx.w("simple_rnn/%s" % k)))
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/dense_1/vars/%d" % i, data=np.float32(fx.w("dense_1/%s" % k)))

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    fx.save_vectors(["input_layer", "input_layer_1"])
    # model.to_json() and save_weights("w.weights.h5") of the same model
    with open(os.path.join(OUT, fx.name + ".config.json"), "w") as f:
        json.dump({k: v for k, v in config.items() if k != "compile_config"}, f)
    with h5py.File(os.path.join(OUT, fx.name + ".weights.h5"), "w") as h:
        weights(h)
    # the second output, the SimpleRNN's state
    model.output = "s"
    with torch.no_grad():
        outs, _ = model.forward({k: torch.tensor(v) for k, v in fx.weights.items()}, [torch.tensor(x) for x in fx.x])
    np.save(os.path.join(OUT, fx.name + ".pred1.npy"), outs[0].numpy())


# L. a model used as a layer: a functional "encoder" (an LSTM returning
# its output and its cell state c, tensors 0 and 2) called in an outer
# functional model whose Concatenate reads both, then a Dense. The outer
# configuration refers to the nested model's call as node 1 (its node 0 is
# its own construction, left out: tf.keras functional.py
# get_network_config / _should_skip_first_node, Keras 3 functional.py
# get_config). tf.keras 2.14 .h5: the encoder's weights in its group,
# named by layer scope (lstm/lstm_cell/kernel:0); Keras 3 .keras: under
# layers/functional/layers/lstm/cell/vars/N. No training configuration.
def nested_golden(name):
    lstm, dense = LSTM(3, return_state=True), Dense(2)
    model = GraphModel([(4, 3)], [
        (["o", "h", "c"], lstm, ["in0"]), (["cat"], Merge("Concatenate"), ["o", "c"]), (["y"], dense, ["cat"])], "y")
    return GraphFixture(name, model, 4, None, None, n=3)


def fixture_tf214_nested():
    fx = nested_golden("tfkeras214_nested")
    w = "tf-new"
    lc = recurrent_config("LSTM", "lstm", 3, w)
    lc["return_state"] = True
    inner = {"name": "encoder", "layers": [
        input_entry("enc_in", [None, 4, 3], w),
        {"class_name": "LSTM", "config": lc, "name": "lstm", "inbound_nodes": [[["enc_in", 0, 0, {}]]]}],
        "input_layers": [["enc_in", 0, 0]], "output_layers": [["lstm", 0, 0], ["lstm", 0, 2]]}
    layers = [
        input_entry("input_1", [None, 4, 3], w),
        {"class_name": "Functional", "config": inner, "name": "encoder", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        merge_entry("Concatenate", "concatenate", w, [[["encoder", 1, 0, {}], ["encoder", 1, 1, {}]]], axis=-1),
        dict(entry("Dense", dense_config("dense", 2, w)), name="dense", inbound_nodes=[[["concatenate", 0, 0, {}]]]),
    ]
    model_config = {"class_name": "Functional", "config": {
        "name": "model", "layers": layers, "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}}
    with h5py.File(os.path.join(OUT, fx.name + ".h5"), "w") as f:
        put_strings(f, "keras_version", "2.14.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        mw = f.create_group("model_weights")
        groups = [("input_1", []),
                  ("encoder", [("lstm/lstm_cell/%s:0" % k, fx.w("lstm/%s" % k))
                               for k in ("kernel", "recurrent_kernel", "bias")]),
                  ("concatenate", []),
                  ("dense", [("dense/%s:0" % k, fx.w("dense/%s" % k)) for k in ("kernel", "bias")])]
        write_layer_groups(mw, groups, True, {"keras_version": "2.14.0", "backend": "tensorflow"})
    fx.save_vectors(["input_1"])


def fixture_keras3_nested():
    fx = nested_golden("keras3_nested")
    w = "keras3"
    lc = recurrent_config("LSTM", "lstm", 3, w)
    lc["return_state"] = True
    inner = {"name": "encoder", "trainable": True, "layers": [
        input_entry("input_layer", [None, 4, 3], w),
        dict(entry("LSTM", lc, w), name="lstm",
             inbound_nodes=[{"args": [k3_tensor([None, 4, 3], "input_layer")],
                             "kwargs": {"training": False, "mask": None}}])],
        "input_layers": [["input_layer", 0, 0]], "output_layers": [["lstm", 0, 0], ["lstm", 0, 2]]}
    layers = [
        input_entry("input_layer_1", [None, 4, 3], w),
        {"module": "keras.src.models.functional", "class_name": "Functional", "config": inner,
         "registered_name": "Functional", "name": "encoder",
         "inbound_nodes": [{"args": [k3_tensor([None, 4, 3], "input_layer_1")], "kwargs": {"mask": None}}]},
        merge_entry("Concatenate", "concatenate", w, [{"args": [[k3_tensor([None, 3], "encoder", 1, 0),
                                                                 k3_tensor([None, 3], "encoder", 1, 1)]],
                                                       "kwargs": {}}], axis=-1),
        dict(entry("Dense", dense_config("dense", 2, w), w), name="dense",
             inbound_nodes=[{"args": [k3_tensor([None, 6], "concatenate")], "kwargs": {}}]),
    ]
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": "functional_1", "trainable": True, "layers": layers,
                         "input_layers": [["input_layer_1", 0, 0]], "output_layers": [["dense", 0, 0]]},
              "registered_name": "Functional", "build_config": {"input_shape": None}}

    def weights(h):
        for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
            h.create_dataset("layers/functional/layers/lstm/cell/vars/%d" % i, data=np.float32(fx.w("lstm/%s" % k)))
        h.create_group("layers/functional/layers/input_layer/vars")
        h.create_group("layers/functional/vars")
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/dense/vars/%d" % i, data=np.float32(fx.w("dense/%s" % k)))

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    fx.save_vectors(["input_layer_1"])
    with open(os.path.join(OUT, fx.name + ".config.json"), "w") as f:
        json.dump(config, f)
    with h5py.File(os.path.join(OUT, fx.name + ".weights.h5"), "w") as h:
        weights(h)


# M. a Sequential model used as a layer: "features" (an InputLayer, then
# a Dense on each step) called in an outer functional model, then a
# SimpleRNN and a Dense. tf.keras 2.14 .h5: a Sequential built on an
# InputLayer has a construction node, so its call is node 1
# (_should_skip_first_node); Keras 3 .keras: Keras 3's Sequential is no
# Functional, its call is node 0; weights under
# layers/sequential/layers/dense/vars/N.
def nested_sequential_golden(name):
    model = GraphModel([(4, 3)], [
        (["a"], Dense(3, activation="tanh"), ["in0"]), (["r"], SimpleRNN(2), ["a"]), (["y"], Dense(1), ["r"])], "y")
    return GraphFixture(name, model, 4, None, None, n=3)


def fixture_nested_sequential(writer):
    k3 = writer == "keras3"
    fx = nested_sequential_golden("keras3_nested_seq" if k3 else "tfkeras214_nested_seq")
    w = "keras3" if k3 else "tf-new"
    inner_layers = [dict(input_entry("features_input", [None, 4, 3], w)),
                    entry("Dense", dense_config("dense", 3, w, "tanh"), w)]
    del inner_layers[0]["inbound_nodes"], inner_layers[0]["name"]
    inner = {"name": "features", "layers": inner_layers}
    node = 0 if k3 else 1
    if k3:
        seq = {"module": "keras", "class_name": "Sequential", "config": dict(inner, trainable=True),
               "registered_name": None, "name": "features",
               "inbound_nodes": [{"args": [k3_tensor([None, 4, 3], "input_layer")], "kwargs": {"mask": None}}]}
        rnn = dict(entry("SimpleRNN", recurrent_config("SimpleRNN", "simple_rnn", 2, w), w), name="simple_rnn",
                   inbound_nodes=[{"args": [k3_tensor([None, 4, 3], "features", node, 0)],
                                   "kwargs": {"training": False, "mask": None}}])
        out = dict(entry("Dense", dense_config("dense_1", 1, w), w), name="dense_1",
                   inbound_nodes=[{"args": [k3_tensor([None, 2], "simple_rnn")], "kwargs": {}}])
        first = "input_layer"
    else:
        seq = {"class_name": "Sequential", "config": inner, "name": "features",
               "inbound_nodes": [[["input_1", 0, 0, {}]]]}
        rnn = dict(entry("SimpleRNN", recurrent_config("SimpleRNN", "simple_rnn", 2, w)), name="simple_rnn",
                   inbound_nodes=[[["features", node, 0, {}]]])
        out = dict(entry("Dense", dense_config("dense_1", 1, w)), name="dense_1",
                   inbound_nodes=[[["simple_rnn", 0, 0, {}]]])
        first = "input_1"
    layers = [input_entry(first, [None, 4, 3], w), seq, rnn, out]
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [[first, 0, 0]],
                                                     "output_layers": [["dense_1", 0, 0]]}}
    if k3:
        config.update(module="keras.src.models.functional", registered_name="Functional")

        def weights(h):
            for i, k in enumerate(("kernel", "bias")):
                h.create_dataset("layers/sequential/layers/dense/vars/%d" % i, data=np.float32(fx.w("dense/%s" % k)))
            for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
                h.create_dataset("layers/simple_rnn/cell/vars/%d" % i, data=np.float32(fx.w("simple_rnn/%s" % k)))
            for i, k in enumerate(("kernel", "bias")):
                h.create_dataset("layers/dense/vars/%d" % i, data=np.float32(fx.w("dense_1/%s" % k)))

        zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
                  {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    else:
        with h5py.File(os.path.join(OUT, fx.name + ".h5"), "w") as f:
            put_strings(f, "keras_version", "2.14.0", True)
            put_strings(f, "backend", "tensorflow", True)
            put_strings(f, "model_config", json.dumps(config), True)
            mw = f.create_group("model_weights")
            groups = [("input_1", []),
                      ("features", [("dense/%s:0" % k, fx.w("dense/%s" % k)) for k in ("kernel", "bias")]),
                      ("simple_rnn", [("simple_rnn/simple_rnn_cell/%s:0" % k, fx.w("simple_rnn/%s" % k))
                                      for k in ("kernel", "recurrent_kernel", "bias")]),
                      ("dense_1", [("dense_1/%s:0" % k, fx.w("dense_1/%s" % k)) for k in ("kernel", "bias")])]
            write_layer_groups(mw, groups, True, {"keras_version": "2.14.0", "backend": "tensorflow"})
    fx.save_vectors([first])


# M. the attention layers in a graph: an LSTM's sequence is the query of a
# causal Attention (use_scale; call argument use_causal_mask, tf.keras >=
# 2.10 and Keras 3), of an AdditiveAttention and of a MultiHeadAttention
# (two heads, key_dim 2) over the second input, Concatenate, a Dense. As
# tf.keras 2.14 writes it (.h5: Attention's node lists [query, value] with
# the call's kwargs on each, MultiHeadAttention's lists the query with
# value as a keyword, Node.serialize; weights by name, attention/scale:0,
# multi_head_attention/query/kernel:0, ...) and as Keras 3 (.keras: args
# [[q, v]] or (q, v), kwargs use_causal_mask and the masks it records;
# MultiHeadAttention's EinsumDense sublayers under _query_dense, ...). No
# training configuration.
def attention_golden(name):
    lstm, out = LSTM(3, return_sequences=True), Dense(2)
    model = GraphModel([(4, 3), (5, 3)], [
        (["q"], lstm, ["in0"]),
        (["c"], AttentionLayer("Attention", causal=True, use_scale=True), ["q", "in1"]),
        (["d"], AttentionLayer("AdditiveAttention"), ["q", "in1"]),
        (["e"], AttentionLayer("MultiHeadAttention", num_heads=2, key_dim=2), ["q", "in1"]),
        (["j"], Merge("Concatenate"), ["c", "d", "e"]), (["y"], out, ["j"])], "y")
    return GraphFixture(name, model, 4, None, None, n=3)


MHA_PARTS = (("query", "_query_dense"), ("key", "_key_dense"), ("value", "_value_dense"),
             ("attention_output", "_output_dense"))


def mha_config(writer):
    k3 = writer == "keras3"
    c = {"name": "multi_head_attention", "trainable": True, "dtype": "float32", "num_heads": 2, "key_dim": 2,
         "value_dim": 2, "dropout": 0.0, "use_bias": True, "output_shape": None, "attention_axes": [1],
         "kernel_initializer": init("GlorotUniform", k3, seed=None), "bias_initializer": init("Zeros", k3),
         "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
         "kernel_constraint": None, "bias_constraint": None}
    if k3:
        c.update({"seed": None, "query_shape": [None, 4, 3], "value_shape": [None, 5, 3], "key_shape": [None, 5, 3]})
    else:
        c.update({"query_shape": [None, 4, 3], "value_shape": [None, 5, 3], "key_shape": None})
    return c


def fixture_tf214_attention():
    fx = attention_golden("tfkeras214_attention")
    w = "tf-new"
    lc = recurrent_config("LSTM", "lstm", 3, w)
    lc["return_sequences"] = True
    base = {"trainable": True, "dtype": "float32", "dropout": 0.0}
    layers = [
        input_entry("input_1", [None, 4, 3], w),
        dict(entry("LSTM", lc), name="lstm", inbound_nodes=[[["input_1", 0, 0, {}]]]),
        input_entry("input_2", [None, 5, 3], w),
        dict(entry("Attention", dict(base, name="attention", use_scale=True, score_mode="dot")), name="attention",
             inbound_nodes=[[["lstm", 0, 0, {"use_causal_mask": True}], ["input_2", 0, 0, {"use_causal_mask": True}]]]),
        dict(entry("AdditiveAttention", dict(base, name="additive_attention", use_scale=True)),
             name="additive_attention", inbound_nodes=[[["lstm", 0, 0, {}], ["input_2", 0, 0, {}]]]),
        dict(entry("MultiHeadAttention", mha_config(w)), name="multi_head_attention",
             inbound_nodes=[[["lstm", 0, 0, {"value": ["input_2", 0, 0]}]]]),
        merge_entry("Concatenate", "concatenate", w, [[["attention", 0, 0, {}], ["additive_attention", 0, 0, {}],
                                                       ["multi_head_attention", 0, 0, {}]]], axis=-1),
        dict(entry("Dense", dense_config("dense", 2, w)), name="dense", inbound_nodes=[[["concatenate", 0, 0, {}]]]),
    ]
    model_config = {"class_name": "Functional", "config": {
        "name": "model", "layers": layers, "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
        "output_layers": [["dense", 0, 0]]}}
    with h5py.File(os.path.join(OUT, fx.name + ".h5"), "w") as f:
        put_strings(f, "keras_version", "2.14.0", True)
        put_strings(f, "backend", "tensorflow", True)
        put_strings(f, "model_config", json.dumps(model_config), True)
        mw = f.create_group("model_weights")
        mha = []
        for part, _ in MHA_PARTS:
            for k in ("kernel", "bias"):
                mha.append(("multi_head_attention/%s/%s:0" % (part, k), fx.w("multi_head_attention/%s/%s" % (part, k))))
        groups = [("input_1", []),
                  ("lstm", [("lstm/lstm_cell/%s:0" % k, fx.w("lstm/%s" % k))
                            for k in ("kernel", "recurrent_kernel", "bias")]),
                  ("input_2", []),
                  ("attention", [("attention/scale:0", fx.w("attention/scale"))]),
                  ("additive_attention", [("additive_attention/scale:0", fx.w("additive_attention/scale"))]),
                  ("multi_head_attention", mha),
                  ("concatenate", []),
                  ("dense", [("dense/%s:0" % k, fx.w("dense/%s" % k)) for k in ("kernel", "bias")])]
        write_layer_groups(mw, groups, True, {"keras_version": "2.14.0", "backend": "tensorflow"})
    fx.save_vectors(["input_1", "input_2"])
    # model.to_json() of the same model (the tests edit it)
    with open(os.path.join(OUT, fx.name + ".json"), "w") as f:
        json.dump(dict(model_config, keras_version="2.14.0", backend="tensorflow"), f)


def fixture_keras3_attention():
    fx = attention_golden("keras3_attention")
    w = "keras3"
    lc = recurrent_config("LSTM", "lstm", 3, w)
    lc["return_sequences"] = True
    base = {"trainable": True, "dtype": "float32", "dropout": 0.0, "seed": None}
    q, v = k3_tensor([None, 4, 3], "lstm"), k3_tensor([None, 5, 3], "input_layer_1")
    call = {"training": False, "mask": [None, None], "return_attention_scores": False}
    layers = [
        input_entry("input_layer", [None, 4, 3], w),
        dict(entry("LSTM", lc, w), name="lstm",
             inbound_nodes=[{"args": [k3_tensor([None, 4, 3], "input_layer")],
                             "kwargs": {"training": False, "mask": None}}]),
        input_entry("input_layer_1", [None, 5, 3], w),
        dict(entry("Attention", dict(base, name="attention", use_scale=True, score_mode="dot"), w), name="attention",
             inbound_nodes=[{"args": [[q, v]], "kwargs": dict(call, use_causal_mask=True)}]),
        dict(entry("AdditiveAttention", dict(base, name="additive_attention", use_scale=True), w),
             name="additive_attention", inbound_nodes=[{"args": [[q, v]], "kwargs": dict(call, use_causal_mask=False)}]),
        dict(entry("MultiHeadAttention", mha_config(w), w), name="multi_head_attention",
             inbound_nodes=[{"args": [q, v], "kwargs": {}}]),
        merge_entry("Concatenate", "concatenate", w, [{"args": [[k3_tensor([None, 4, 3], "attention"),
                                                                 k3_tensor([None, 4, 3], "additive_attention"),
                                                                 k3_tensor([None, 4, 3], "multi_head_attention")]],
                                                       "kwargs": {}}], axis=-1),
        dict(entry("Dense", dense_config("dense", 2, w), w), name="dense",
             inbound_nodes=[{"args": [k3_tensor([None, 4, 9], "concatenate")], "kwargs": {}}]),
    ]
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": "functional", "trainable": True, "layers": layers,
                         "input_layers": [["input_layer", 0, 0], ["input_layer_1", 0, 0]],
                         "output_layers": [["dense", 0, 0]]},
              "registered_name": "Functional", "build_config": {"input_shape": None}}

    def weights(h):
        for i, k in enumerate(("kernel", "recurrent_kernel", "bias")):
            h.create_dataset("layers/lstm/cell/vars/%d" % i, data=np.float32(fx.w("lstm/%s" % k)))
        h.create_dataset("layers/attention/vars/0", data=np.float32(fx.w("attention/scale")))
        h.create_dataset("layers/additive_attention/vars/0", data=np.float32(fx.w("additive_attention/scale")))
        for part, sub in MHA_PARTS:
            for i, k in enumerate(("kernel", "bias")):
                h.create_dataset("layers/multi_head_attention/%s/vars/%d" % (sub, i),
                                 data=np.float32(fx.w("multi_head_attention/%s/%s" % (part, k))))
        for i, k in enumerate(("kernel", "bias")):
            h.create_dataset("layers/dense/vars/%d" % i, data=np.float32(fx.w("dense/%s" % k)))

    zip_keras(os.path.join(OUT, fx.name + ".keras"), config,
              {"keras_version": "3.3.3", "date_saved": "2024-06-15@17:08:44"}, weights)
    fx.save_vectors(["input_layer", "input_layer_1"])


def graph_fixtures():
    fixture_tf214_attention()
    fixture_keras3_attention()
    fixture_tf214_seq2seq()
    fixture_keras3_seq2seq()
    fixture_tf29_branch()
    fixture_keras3_shared()
    fixture_tf214_nested()
    fixture_keras3_nested()
    fixture_nested_sequential("tf")
    fixture_nested_sequential("keras3")


def main():
    os.makedirs(OUT, exist_ok=True)
    fixture_keras2()
    fixture_tf29()
    fixture_tf214()
    fixture_keras3_h5()
    fixture_keras3_zip()
    fixture_tf215_windows()
    fixture_json()
    fixture_keras1()
    fixture_keras1_conv()
    fixture_keras1_conv(theano=True)
    fixture_keras2_conv_bn()
    fixture_tf214_front()
    fixture_keras3_front()
    fixture_keras3_masking()
    fixture_tf29_embedding()
    fixture_keras3_embedding()
    fixture_tf29_dropout()
    real_sunspot()
    fixture_refused()
    graph_fixtures()
    print("wrote", OUT)


if __name__ == "__main__":
    if sys.argv[1:] == ["graphs"]:
        # only the functional-graph fixtures (the others' bytes stay as committed)
        os.makedirs(OUT, exist_ok=True)
        graph_fixtures()
    else:
        main()
