"""Keras's layers, losses and optimizers written on PyTorch autograd in float64.

An implementation of tf.keras 2.x semantics that shares no code with rnnc:
weights in Keras's layouts (kernels (in, units * gates), LSTM gates i f c o,
GRU gates z r h, GRU reset_after bias (2, 3U)), Keras's default layer names,
Keras's losses (sum_over_batch_size) and Keras's optimizer update rules
(tf.keras >= 2.11, keras/optimizers/*.py). golden.py builds the conformance
cases on it; selftest.py checks its cells against torch.nn's modules.

Each model object also writes itself as an rnnc model description (Lua), so
the description rnnc compiles and the model computed here come from one
definition.
"""

import math

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

EPSILON = 1e-7  # keras.backend.epsilon()

# ---------------------------------------------------------------- activations


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def softplus(z):
    """log(1 + exp(z)) without overflow (torch's softplus turns linear past 20)."""
    return torch.log1p(torch.exp(-z.abs())) + torch.relu(z)


def hard_sigmoid(z):
    """Keras 3: relu6(z + 3) / 6 (keras/src/backend/tensorflow/nn.py)."""
    return torch.clamp(z + 3.0, 0.0, 6.0) / 6.0


def activation(name, z):
    """Keras 3's activations (keras/src/activations/activations.py) for every
    name rnnc has. hard_sigmoid is Keras 3's relu6(z + 3) / 6,
    hard_sigmoid_keras2 tf.keras 2.x's clip(0.2 z + 0.5, 0, 1); gelu_approximate
    is gelu(z, approximate=True)."""
    if name == "linear":
        return z
    if name == "relu":
        return torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "hard_sigmoid":
        return hard_sigmoid(z)
    if name == "hard_sigmoid_keras2":
        return torch.clamp(0.2 * z + 0.5, 0.0, 1.0)
    if name == "softmax":
        return torch.softmax(z, dim=-1)
    if name == "log_softmax":
        return torch.log_softmax(z, dim=-1)
    if name == "elu":
        return torch.where(z > 0, z, torch.exp(z) - 1.0)
    if name == "selu":
        return SELU_SCALE * torch.where(z > 0, z, SELU_ALPHA * (torch.exp(z) - 1.0))
    if name == "gelu":
        return 0.5 * z * (1.0 + torch.erf(z / math.sqrt(2.0)))
    if name == "gelu_approximate":
        return 0.5 * z * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))
    if name in ("swish", "silu"):
        return z * torch.sigmoid(z)
    if name == "softplus":
        return softplus(z)
    if name == "softsign":
        return z / (1.0 + z.abs())
    if name == "exponential":
        return torch.exp(z)
    if name == "leaky_relu":
        return torch.where(z > 0, z, 0.2 * z)
    if name == "relu6":
        return torch.clamp(z, 0.0, 6.0)
    if name == "mish":
        return z * torch.tanh(softplus(z))
    if name in ("hard_silu", "hard_swish"):
        return z * hard_sigmoid(z)
    raise ValueError("unknown activation " + name)


# ---------------------------------------------------------------- Lua text


def lua_value(v):
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, (tuple, list)):
        return "{ " + ", ".join(lua_value(x) for x in v) + " }"
    if hasattr(v, "lua"):
        return v.lua()
    raise TypeError("no Lua form for %r" % (v,))


def lua_call(cls, positional, kwargs):
    parts = [lua_value(p) for p in positional]
    parts += ["%s = %s" % (k, lua_value(v)) for k, v in kwargs.items()]
    return "%s { %s }" % (cls, ", ".join(parts))


# ---------------------------------------------------------------- layers


class Namer:
    """Keras's default layer names: the snake-case class name, then _1, _2, ...
    per class in creation order."""

    def __init__(self):
        self.counts = {}

    def name(self, base):
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return base if k == 0 else "%s_%d" % (base, k)


class Dense:
    base_name = "dense"
    n_states = 0
    recurrent = False

    def __init__(self, units, activation="linear", use_bias=True, **extra):
        self.units, self.activation, self.use_bias = units, activation, use_bias
        self.kwargs = {}
        if activation != "linear":
            self.kwargs["activation"] = activation
        if not use_bias:
            self.kwargs["use_bias"] = False
        self.kwargs.update(extra)  # input_shape and the like, written as given

    def lua(self):
        return lua_call("Dense", [self.units], self.kwargs)

    def assign_names(self, namer):
        self.name = namer.name(self.base_name)

    def weights(self, prefix, in_features):
        w = [(prefix + "/kernel", (in_features, self.units))]
        if self.use_bias:
            w.append((prefix + "/bias", (self.units,)))
        return w

    def call(self, P, prefix, x):
        """Returns (output, pre-activation)."""
        z = x @ P[prefix + "/kernel"]
        if self.use_bias:
            z = z + P[prefix + "/bias"]
        return activation(self.activation, z), z


class ActivationLayer:
    """Keras's activation layers (their output has the input's shape):
    Activation(name), ReLU(max_value, negative_slope, threshold) as Keras 3's
    ReLU.static_call, LeakyReLU(negative_slope=0.3), ELU(alpha=1),
    Softmax() and PReLU(shared_axes) with its alpha weight."""

    n_states = 0
    recurrent = False

    def __init__(self, cls, *positional, **kwargs):
        self.cls, self.positional, self.kw = cls, list(positional), dict(kwargs)
        self.kwargs = dict(kwargs)
        self.base_name = {"Activation": "activation", "ReLU": "re_lu", "LeakyReLU": "leaky_re_lu",
                          "ELU": "elu", "Softmax": "softmax", "PReLU": "p_re_lu",
                          "ActivityRegularization": "activity_regularization"}[cls]
        if cls == "ActivityRegularization":
            # keras/src/layers/regularization/activity_regularization.py: the
            # identity with activity_regularizer L1L2(l1, l2)
            self.activity = Regularizer("L1L2", l1=self.kw.get("l1", 0.0), l2=self.kw.get("l2", 0.0))

    def lua(self):
        return lua_call(self.cls, self.positional, self.kwargs)

    def assign_names(self, namer):
        self.name = namer.name(self.base_name)

    @property
    def activation(self):
        if self.cls == "Activation":
            return self.positional[0]
        return "softmax" if self.cls == "Softmax" else None

    def weights(self, prefix, in_features):
        self.units = in_features
        if self.cls != "PReLU":
            return []
        # the input's shape (rank 3: (T, F)), 1 along each shared axis
        shape = list(self.input_shape)
        for ax in self.kw.get("shared_axes", []):
            shape[ax - 1] = 1
        return [(prefix + "/alpha", tuple(shape))]

    def call(self, P, prefix, x):
        """Returns (output, the logits a crossentropy reads: the input of a
        softmax or sigmoid Activation or Softmax)."""
        if self.cls == "Activation":
            y = activation(self.positional[0], x)
            return y, (x if self.positional[0] in ("softmax", "sigmoid") else None)
        if self.cls == "Softmax":
            return torch.softmax(x, dim=-1), x
        if self.cls == "ActivityRegularization":
            return x, None
        if self.cls == "LeakyReLU":
            slope = self.kw.get("negative_slope", 0.3)
            return torch.where(x > 0, x, slope * x), None
        if self.cls == "ELU":
            alpha = self.kw.get("alpha", 1.0)
            return torch.where(x > 0, x, alpha * (torch.exp(x) - 1.0)), None
        if self.cls == "PReLU":
            alpha = P[prefix + "/alpha"]
            return torch.relu(x) - alpha * torch.relu(-x), None
        # ReLU: keras/src/activations/activations.py ReLU.static_call
        m = self.positional[0] if self.positional else self.kw.get("max_value")
        slope, th = self.kw.get("negative_slope", 0.0), self.kw.get("threshold", 0.0)
        if slope != 0 and m is None and th == 0:
            return torch.where(x > 0, x, slope * x), None
        y = x * (x > th).to(x.dtype) if th != 0 else torch.relu(x)
        if m is not None:
            y = torch.clamp(y, 0.0, m)
        if slope != 0:
            y = y - slope * torch.relu(th - x)
        return y, None


class TimeDistributed:
    """TimeDistributed(Dense): the Dense at every timestep. Weights keep the
    wrapper's path, as rnnc names them: time_distributed/dense/kernel."""

    base_name = "time_distributed"
    n_states = 0
    recurrent = False

    def __init__(self, inner, **extra):
        self.inner, self.kwargs = inner, extra

    def lua(self):
        return lua_call("TimeDistributed", [self.inner], self.kwargs)

    def assign_names(self, namer):
        self.inner.assign_names(namer)  # the inner layer is created first
        self.name = namer.name(self.base_name)

    def weights(self, prefix, in_features):
        return self.inner.weights(prefix + "/" + self.inner.name, in_features)

    def call(self, P, prefix, x):
        return self.inner.call(P, prefix + "/" + self.inner.name, x)

    @property
    def units(self):
        return self.inner.units


class Masking:
    """Keras 3 keras/src/layers/core/masking.py: the mask of a step is
    any(x[t, :] != mask_value) (compute_mask), the output x * mask (call).
    The mask goes on with the tensors (Model.forward) to the recurrent
    layers and the loss."""

    base_name = "masking"
    n_states = 0
    recurrent = False

    def __init__(self, mask_value=0.0, **extra):
        self.mask_value = mask_value
        self.kwargs = {"mask_value": mask_value} if mask_value != 0.0 else {}
        self.kwargs.update(extra)

    def lua(self):
        return lua_call("Masking", [], self.kwargs)

    def assign_names(self, namer):
        self.name = namer.name(self.base_name)

    def weights(self, prefix, in_features):
        self.units = in_features
        return []

    def mask_of(self, x):
        return (x != self.mask_value).any(dim=-1)

    def call(self, P, prefix, x):
        return x * self.mask_of(x).unsqueeze(-1).to(x.dtype), None


# ---------------------------------------------------------------- rnnc's counter-based noise
#
# The masks of Dropout, SpatialDropout1D, GaussianNoise, GaussianDropout and
# the recurrent layers' dropout are random; for the golden vectors to be
# comparable they must be the masks rnnc draws. rnnc's generator (its
# README, "Noise layers and dropout") is a pure function of (seed, salt,
# step, sample, index) through splitmix64's finaliser; here it is again, from
# that description. NOISE holds the key of the next training forward: the
# seed (the driver's fit and grad use 0) and the optimizer step (golden.py's
# trajectory sets it); the sample is its index in the batch, the salt
# FNV-1a of the layer's name (top bit cleared), the index the element's in
# the sample's mask.

NOISE = {"seed": 0, "step": 0}
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _absorb(h, v):
    return _mix(h ^ _mix((v + _GOLDEN) & _M64))


def noise_salt(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & _M64
    return h & 0x7FFFFFFFFFFFFFFF


def noise_value(kind, p, seed, salt, step, sample, index):
    """1 dropout (1 / (1 - p) kept, else 0), 2 p N(0, 1), 3 1 + sqrt(p / (1 - p)) N(0, 1)."""
    h = _mix((seed + _GOLDEN) & _M64)
    for v in (salt, step, sample, index):
        h = _absorb(h, v)
    u1 = (h >> 11) * 2.0 ** -53
    if kind == 1:
        keep = 1.0 - p
        return 1.0 / keep if u1 < keep else 0.0
    u2 = (_mix((h + _GOLDEN) & _M64) >> 11) * 2.0 ** -53
    normal = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(6.283185307179586476925286766559 * u2)
    return p * normal if kind == 2 else 1.0 + math.sqrt(p / (1.0 - p)) * normal


def noise_masks(kind, p, name, seed, n, size, per_sample=True):
    """(n, size) float64: each sample's mask values 0 .. size - 1."""
    salt = noise_salt(name)
    seed = NOISE["seed"] if seed is None else seed
    return torch.tensor([[noise_value(kind, p, seed, salt, NOISE["step"], s if per_sample else 0, i)
                          for i in range(size)] for s in range(n)])


class Recurrent:
    """SimpleRNN, LSTM and GRU: Keras's RNN loop over a cell.

    dropout and recurrent_dropout (Keras 3, keras/src/layers/rnn/
    dropout_rnn_cell.py and the cells): in training, masks drawn once per
    call multiply every step's input and h[t-1] in the recurrent products;
    LSTMCell and GRUCell take implementation 1 when recurrent_dropout > 0
    (one mask per gate), else one input mask for all gates."""

    recurrent = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 return_sequences=False, return_state=False, go_backwards=False, **extra):
        self.units = units
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.use_bias = use_bias
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards = go_backwards
        self.kwargs = {}
        defaults = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
                    "return_sequences": False, "return_state": False, "go_backwards": False}
        given = {"activation": activation, "recurrent_activation": recurrent_activation,
                 "use_bias": use_bias, "return_sequences": return_sequences,
                 "return_state": return_state, "go_backwards": go_backwards}
        for k, v in given.items():
            if v != defaults[k]:
                if k == "recurrent_activation" and self.cls == "SimpleRNN":
                    raise ValueError("SimpleRNN has no recurrent_activation")
                self.kwargs[k] = v
        self.zero_output_for_mask = bool(extra.get("zero_output_for_mask", False))
        self.kwargs.update(extra)
        self.initial_state = False  # set by the functional model for layer(x, initial_state)
        self.dropout = extra.get("dropout", 0.0)
        self.recurrent_dropout = extra.get("recurrent_dropout", 0.0)
        self.seed = extra.get("seed", None)
        self.implementation = extra.get("implementation", 2)
        self.training = False
        self.dp = self.rdp = None

    def lua(self):
        return lua_call(self.cls, [self.units], self.kwargs)

    def assign_names(self, namer):
        self.name = namer.name(self.base_name)

    def run(self, P, prefix, x, init, go_backwards, mask=None, zero_output=None):
        """Keras's RNN: returns [output, *final states]. x (n, T, in); init the
        initial states or None (zeros); the output is every step's h in
        processing order (reversed input order with go_backwards, not reversed
        back) with return_sequences, else the last h. With a mask (n, T) of
        booleans, keras/src/backend/jax/rnn.py's masked scan: a masked step
        keeps the states (where(mask, new, old)); its output is the previous
        state h, or zeros with zero_output_for_mask."""
        n, steps, _ = x.shape
        states = list(init) if init else [torch.zeros(n, self.units, dtype=x.dtype) for _ in range(self.n_states)]
        # this call's masks: lists of (n, width) tensors, one per gate or one
        gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[self.cls]
        count = gates if gates > 1 and (self.recurrent_dropout > 0 or self.implementation == 1) else 1
        self.dp = self.rdp = None
        if self.training and self.dropout > 0:
            m = noise_masks(1, self.dropout, prefix + "/dropout", self.seed, n, count * x.shape[2]).to(x.dtype)
            self.dp = [m[:, k * x.shape[2]:(k + 1) * x.shape[2]] for k in range(count)]
        if self.training and self.recurrent_dropout > 0:
            u = self.units
            m = noise_masks(1, self.recurrent_dropout, prefix + "/recurrent_dropout", self.seed, n,
                            count * u).to(x.dtype)
            self.rdp = [m[:, k * u:(k + 1) * u] for k in range(count)]
        order = range(steps - 1, -1, -1) if go_backwards else range(steps)
        if zero_output is None:
            zero_output = self.zero_output_for_mask
        outs = []
        for t in order:
            h, new = self.cell(P, prefix, x[:, t, :], states)
            if mask is not None:
                keep = mask[:, t:t + 1]
                out = torch.where(keep, h, torch.zeros_like(h) if zero_output else states[0])
                states = [torch.where(keep, a, b) for a, b in zip(new, states)]
                h = out
            else:
                states = new
            outs.append(h)
        output = torch.stack(outs, dim=1) if self.return_sequences else outs[-1]
        return [output] + (states if self.return_state else [])

    def call_all(self, P, prefix, x, init, mask=None):
        return self.run(P, prefix, x, init, self.go_backwards, mask)


class SimpleRNN(Recurrent):
    cls, base_name, n_states = "SimpleRNN", "simple_rnn", 1

    def weights(self, prefix, in_features):
        u = self.units
        w = [(prefix + "/kernel", (in_features, u)), (prefix + "/recurrent_kernel", (u, u))]
        if self.use_bias:
            w.append((prefix + "/bias", (u,)))
        return w

    def cell(self, P, prefix, x_t, states):
        h = states[0]
        if self.dp is not None:  # keras/src/layers/rnn/simple_rnn.py SimpleRNNCell.call
            x_t = x_t * self.dp[0]
        if self.rdp is not None:
            h = h * self.rdp[0]
        z = x_t @ P[prefix + "/kernel"] + h @ P[prefix + "/recurrent_kernel"]
        if self.use_bias:
            z = z + P[prefix + "/bias"]
        h = activation(self.activation, z)
        return h, [h]


class LSTM(Recurrent):
    cls, base_name, n_states = "LSTM", "lstm", 2

    def weights(self, prefix, in_features):
        u = self.units
        w = [(prefix + "/kernel", (in_features, 4 * u)), (prefix + "/recurrent_kernel", (u, 4 * u))]
        if self.use_bias:
            w.append((prefix + "/bias", (4 * u,)))
        return w

    def gate_input(self, P, prefix, x_t, h, gates):
        """x_t @ kernel + h @ recurrent_kernel with the masks: per gate block
        (implementation 1) or one input mask for all (implementation 2)."""
        kernel, rk, u = P[prefix + "/kernel"], P[prefix + "/recurrent_kernel"], self.units
        blocks = []
        for k in range(gates):
            xk = x_t if self.dp is None else x_t * self.dp[k if len(self.dp) > 1 else 0]
            hk = h if self.rdp is None else h * self.rdp[k if len(self.rdp) > 1 else 0]
            blocks.append(xk @ kernel[:, k * u:(k + 1) * u] + hk @ rk[:, k * u:(k + 1) * u])
        return torch.cat(blocks, dim=1)

    def cell(self, P, prefix, x_t, states):
        u = self.units
        h, c = states
        if self.dp is not None or self.rdp is not None:  # keras/src/layers/rnn/lstm.py LSTMCell.call
            z = self.gate_input(P, prefix, x_t, h, 4)
        else:
            z = x_t @ P[prefix + "/kernel"] + h @ P[prefix + "/recurrent_kernel"]
        if self.use_bias:
            z = z + P[prefix + "/bias"]
        zi, zf, zc, zo = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
        i = activation(self.recurrent_activation, zi)
        f = activation(self.recurrent_activation, zf)
        o = activation(self.recurrent_activation, zo)
        c = f * c + i * activation(self.activation, zc)
        h = o * activation(self.activation, c)
        return h, [h, c]


class GRU(Recurrent):
    cls, base_name, n_states = "GRU", "gru", 1

    def __init__(self, units, reset_after=True, **kw):
        super().__init__(units, **kw)
        self.reset_after = reset_after
        if not reset_after:
            self.kwargs["reset_after"] = False

    def weights(self, prefix, in_features):
        u = self.units
        w = [(prefix + "/kernel", (in_features, 3 * u)), (prefix + "/recurrent_kernel", (u, 3 * u))]
        if self.use_bias:
            w.append((prefix + "/bias", (2, 3 * u) if self.reset_after else (3 * u,)))
        return w

    def cell(self, P, prefix, x_t, states):
        u = self.units
        h = states[0]
        kernel, rk = P[prefix + "/kernel"], P[prefix + "/recurrent_kernel"]
        bias = P[prefix + "/bias"] if self.use_bias else None
        ract = self.recurrent_activation
        # keras/src/layers/rnn/gru.py GRUCell.call: per gate masks
        # (implementation 1) or one input mask (implementation 2)
        dp = self.dp or [None]
        rdp = self.rdp or [None]

        def xg(k):
            m = dp[k if len(dp) > 1 else 0]
            return x_t if m is None else x_t * m

        def hg(k):
            m = rdp[k if len(rdp) > 1 else 0]
            return h if m is None else h * m
        masked = self.dp is not None or self.rdp is not None
        if masked:
            xm = torch.cat([xg(k) @ kernel[:, k * u:(k + 1) * u] for k in range(3)], dim=1)
        else:
            xm = x_t @ kernel
        if self.reset_after:
            hm = torch.cat([hg(k) @ rk[:, k * u:(k + 1) * u] for k in range(3)], dim=1) if masked else h @ rk
            if bias is not None:
                xm = xm + bias[0]
                hm = hm + bias[1]
            z = activation(ract, xm[:, :u] + hm[:, :u])
            r = activation(ract, xm[:, u:2 * u] + hm[:, u:2 * u])
            cand = activation(self.activation, xm[:, 2 * u:] + r * hm[:, 2 * u:])
        else:
            if bias is not None:
                xm = xm + bias
            if masked:
                z = activation(ract, xm[:, :u] + hg(0) @ rk[:, :u])
                r = activation(ract, xm[:, u:2 * u] + hg(1) @ rk[:, u:2 * u])
                cand = activation(self.activation, xm[:, 2 * u:] + (r * hg(2)) @ rk[:, 2 * u:])
            else:
                z = activation(ract, xm[:, :u] + h @ rk[:, :u])
                r = activation(ract, xm[:, u:2 * u] + h @ rk[:, u:2 * u])
                cand = activation(self.activation, xm[:, 2 * u:] + (r * h) @ rk[:, 2 * u:])
        h = z * h + (1 - z) * cand
        return h, [h]


class Bidirectional:
    """A forward copy of the wrapped layer and a backward copy with
    go_backwards flipped; with return_sequences the backward output is
    reversed back in time; then the merge. Outputs [merged (or forward,
    backward for merge_mode None), *forward states, *backward states]."""

    base_name = "bidirectional"
    n_states = 0
    recurrent = True

    def __init__(self, inner, merge_mode="concat", **extra):
        self.inner, self.merge_mode = inner, merge_mode
        self.kwargs = {}
        if merge_mode != "concat":
            self.kwargs["merge_mode"] = merge_mode
        self.kwargs.update(extra)
        self.initial_state = False

    def lua(self):
        return lua_call("Bidirectional", [self.inner], self.kwargs)

    def assign_names(self, namer):
        self.inner.assign_names(namer)
        self.name = namer.name(self.base_name)

    def directions(self, prefix):
        return prefix + "/forward_" + self.inner.name, prefix + "/backward_" + self.inner.name

    def weights(self, prefix, in_features):
        fwd, bwd = self.directions(prefix)
        return self.inner.weights(fwd, in_features) + self.inner.weights(bwd, in_features)

    def call_all(self, P, prefix, x, init, mask=None):
        assert init is None
        fwd, bwd = self.directions(prefix)
        self.inner.training = getattr(self, "training", False)
        # Keras 3 Bidirectional.__init__: zero_output_for_mask = return_sequences
        # on both layers (force_zero_output_for_mask)
        zero = self.inner.return_sequences
        f = self.inner.run(P, fwd, x, None, self.inner.go_backwards, mask, zero)
        b = self.inner.run(P, bwd, x, None, not self.inner.go_backwards, mask, zero)
        fo, bo = f[0], b[0]
        if self.inner.return_sequences:
            bo = torch.flip(bo, dims=[1])
        mode = self.merge_mode
        if mode == "concat":
            merged = [torch.cat([fo, bo], dim=-1)]
        elif mode == "sum":
            merged = [fo + bo]
        elif mode == "mul":
            merged = [fo * bo]
        elif mode == "ave":
            merged = [(fo + bo) / 2]
        elif mode is None:
            merged = [fo, bo]
        else:
            raise ValueError("merge_mode " + str(mode))
        return merged + f[1:] + b[1:]

    @property
    def units(self):
        return self.inner.units * (2 if self.merge_mode == "concat" else 1)



# ---------------------------------------------------------------- front-end layers
#
# Convolutions, pooling, shape and normalisation layers, on PyTorch's own
# ops (F.conv1d, F.max_pool1d, ...) with Keras's weight layouts and padding
# rules: a convolution kernel is (kernel_size, in / groups, filters);
# causal padding puts dilation * (kernel_size - 1) zeros in front, same
# follows TensorFlow's SAME rule (pad_before = total // 2); average pooling
# with same padding divides by the steps inside the input
# (keras/src/backend/jax/nn.py average_pool), max pooling ignores the
# padding. BatchNormalization uses the batch's statistics (biased variance)
# in training and records the moving averages Keras would assign
# (keras/src/layers/normalization/batch_normalization.py); LayerNormalization
# is keras/src/ops/nn.py _layer_normalization (rms_scaling: x / sqrt(var +
# eps) * gamma with the centred variance).

import torch.nn.functional as F  # noqa: E402


def _same_pad(steps, size, stride):
    out = -(-steps // stride)
    total = max((out - 1) * stride + size - steps, 0)
    return total // 2, total - total // 2


class Front:
    """A layer on (n, T, C) or (n, C) tensors with weights of any shape."""

    recurrent = False
    n_states = 0
    positional = ()

    def __init__(self, *args, **kwargs):
        self.args = list(args)
        self.kwargs = dict(kwargs)
        self.training = False

    def lua(self):
        return lua_call(self.cls, self.args, self.kwargs)

    def assign_names(self, namer):
        self.name = namer.name(self.base_name)

    def weights_shape(self, prefix, shape):
        return []

    def arg(self, i, key, default):
        if i < len(self.args):
            return self.args[i]
        return self.kwargs.get(key, default)


class _Conv(Front):
    def setup(self, shape):
        self.k = self.arg(self.k_index, "kernel_size", None)
        self.s = self.kwargs.get("strides", 1)
        self.d = self.kwargs.get("dilation_rate", 1)
        self.padding = self.kwargs.get("padding", "valid")
        self.activation = self.kwargs.get("activation", "linear")
        self.use_bias = self.kwargs.get("use_bias", True)
        self.mult = self.kwargs.get("depth_multiplier", 1)
        self.groups = self.kwargs.get("groups", 1)
        T, C = shape
        size = self.d * (self.k - 1) + 1
        if self.padding == "causal":
            self.pad = (size - 1, 0)
        elif self.padding == "same":
            self.pad = _same_pad(T, size, self.s)
        else:
            self.pad = (0, 0)
        self.T_out = (T + sum(self.pad) - size) // self.s + 1
        self.C = C

    def out_shape(self, shape):
        self.setup(shape)
        return (self.T_out, self.out_channels())

    def padded(self, x):
        """(n, C, T + pad) for torch's convolutions."""
        return F.pad(x, (0, 0) + self.pad).transpose(1, 2)

    def finish(self, P, prefix, z):
        if self.use_bias:
            z = z + P[prefix + "/bias"]
        return activation(self.activation, z), z

    def depthwise(self, P, prefix, x):
        w = P[prefix + "/depthwise_kernel"]  # (k, C, m)
        tw = w.permute(1, 2, 0).reshape(self.C * self.mult, 1, self.k)
        return F.conv1d(self.padded(x), tw, stride=self.s, dilation=self.d, groups=self.C).transpose(1, 2)


class Conv1D(_Conv):
    cls, base_name, k_index = "Conv1D", "conv1d", 1

    def out_channels(self):
        return self.args[0]

    def weights_shape(self, prefix, shape):
        self.setup(shape)
        w = [(prefix + "/kernel", (self.k, self.C // self.groups, self.args[0]))]
        return w + ([(prefix + "/bias", (self.args[0],))] if self.use_bias else [])

    def call(self, P, prefix, x):
        w = P[prefix + "/kernel"].permute(2, 1, 0)  # torch: (out, in / groups, k)
        z = F.conv1d(self.padded(x), w, stride=self.s, dilation=self.d, groups=self.groups).transpose(1, 2)
        return self.finish(P, prefix, z)


class DepthwiseConv1D(_Conv):
    cls, base_name, k_index = "DepthwiseConv1D", "depthwise_conv1d", 0

    def out_channels(self):
        return self.C * self.mult

    def weights_shape(self, prefix, shape):
        self.setup(shape)
        w = [(prefix + "/depthwise_kernel", (self.k, self.C, self.mult))]
        return w + ([(prefix + "/bias", (self.C * self.mult,))] if self.use_bias else [])

    def call(self, P, prefix, x):
        return self.finish(P, prefix, self.depthwise(P, prefix, x))


class SeparableConv1D(_Conv):
    cls, base_name, k_index = "SeparableConv1D", "separable_conv1d", 1

    def out_channels(self):
        return self.args[0]

    def weights_shape(self, prefix, shape):
        self.setup(shape)
        w = [(prefix + "/depthwise_kernel", (self.k, self.C, self.mult)),
             (prefix + "/pointwise_kernel", (1, self.C * self.mult, self.args[0]))]
        return w + ([(prefix + "/bias", (self.args[0],))] if self.use_bias else [])

    def call(self, P, prefix, x):
        z = self.depthwise(P, prefix, x) @ P[prefix + "/pointwise_kernel"][0]
        return self.finish(P, prefix, z)


class _Pool(Front):
    def setup(self, shape):
        self.p = self.arg(0, "pool_size", 2)
        self.s = self.arg(1, "strides", None) or self.p
        self.padding = self.arg(2, "padding", "valid")
        T = shape[0]
        self.pad = _same_pad(T, self.p, self.s) if self.padding == "same" else (0, 0)
        self.T_out = (T + sum(self.pad) - self.p) // self.s + 1

    def out_shape(self, shape):
        self.setup(shape)
        return (self.T_out, shape[1])


class MaxPooling1D(_Pool):
    cls, base_name = "MaxPooling1D", "max_pooling1d"

    def call(self, P, prefix, x):
        xp = F.pad(x, (0, 0) + self.pad, value=-math.inf).transpose(1, 2)
        return F.max_pool1d(xp, self.p, self.s).transpose(1, 2), None


class AveragePooling1D(_Pool):
    cls, base_name = "AveragePooling1D", "average_pooling1d"

    def call(self, P, prefix, x):
        xp = F.pad(x, (0, 0) + self.pad).transpose(1, 2)
        ones = F.pad(torch.ones_like(x[:1, :, :1]), (0, 0) + self.pad).transpose(1, 2)
        sums = F.avg_pool1d(xp, self.p, self.s) * self.p
        counts = F.avg_pool1d(ones, self.p, self.s) * self.p
        return (sums / counts).transpose(1, 2), None


class _Global(Front):
    def out_shape(self, shape):
        return (1, shape[1]) if self.kwargs.get("keepdims") else (shape[1],)

    def call(self, P, prefix, x):
        y = x.amax(dim=1) if self.cls == "GlobalMaxPooling1D" else x.mean(dim=1)
        return (y.unsqueeze(1) if self.kwargs.get("keepdims") else y), None


class GlobalMaxPooling1D(_Global):
    cls, base_name = "GlobalMaxPooling1D", "global_max_pooling1d"


class GlobalAveragePooling1D(_Global):
    cls, base_name = "GlobalAveragePooling1D", "global_average_pooling1d"


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class ZeroPadding1D(Front):
    cls, base_name = "ZeroPadding1D", "zero_padding1d"

    def out_shape(self, shape):
        a, b = _pair(self.arg(0, "padding", 1))
        return (shape[0] + a + b, shape[1])

    def call(self, P, prefix, x):
        return F.pad(x, (0, 0) + _pair(self.arg(0, "padding", 1))), None


class Cropping1D(Front):
    cls, base_name = "Cropping1D", "cropping1d"

    def out_shape(self, shape):
        a, b = _pair(self.arg(0, "cropping", (1, 1)))
        return (shape[0] - a - b, shape[1])

    def call(self, P, prefix, x):
        a, b = _pair(self.arg(0, "cropping", (1, 1)))
        return x[:, a:x.shape[1] - b, :], None


class UpSampling1D(Front):
    cls, base_name = "UpSampling1D", "up_sampling1d"

    def out_shape(self, shape):
        return (shape[0] * self.arg(0, "size", 2), shape[1])

    def call(self, P, prefix, x):
        return torch.repeat_interleave(x, self.arg(0, "size", 2), dim=1), None


class Flatten(Front):
    cls, base_name = "Flatten", "flatten"

    def out_shape(self, shape):
        return (int(np.prod(shape)),)

    def call(self, P, prefix, x):
        return x.reshape(x.shape[0], -1), None


class Reshape(Front):
    cls, base_name = "Reshape", "reshape"

    def out_shape(self, shape):
        target = list(self.args[0])
        if -1 in target:
            known = int(np.prod([d for d in target if d != -1]))
            target[target.index(-1)] = int(np.prod(shape)) // known
        self.target = tuple(target)
        return self.target

    def call(self, P, prefix, x):
        return x.reshape((x.shape[0],) + self.target), None


class Permute(Front):
    cls, base_name = "Permute", "permute"

    def out_shape(self, shape):
        return tuple(shape[d - 1] for d in self.args[0])

    def call(self, P, prefix, x):
        return x.permute(0, *self.args[0]), None


class RepeatVector(Front):
    cls, base_name = "RepeatVector", "repeat_vector"

    def out_shape(self, shape):
        return (self.args[0], shape[0])

    def call(self, P, prefix, x):
        return x.unsqueeze(1).expand(x.shape[0], self.args[0], x.shape[1]), None


class Embedding(Front):
    """Integer tokens (n, T) -> (n, T, output_dim): Keras 3
    keras/src/layers/core/embedding.py Embedding.call, ops.take(embeddings,
    inputs, axis=0); the tokens arrive as whole float64 numbers and have no
    gradient (torch's indexing adds each step's gradient into its row)."""

    cls, base_name = "Embedding", "embedding"
    tokens = True

    def vocab(self):
        return self.arg(0, "input_dim", None)

    def weights_shape(self, prefix, shape):
        return [(prefix + "/embeddings", (self.vocab(), self.arg(1, "output_dim", None)))]

    def out_shape(self, shape):
        return tuple(shape) + (self.arg(1, "output_dim", None),)

    def call(self, P, prefix, x):
        return P[prefix + "/embeddings"][x.detach().long()], None


class LayerNormalization(Front):
    cls, base_name = "LayerNormalization", "layer_normalization"

    def out_shape(self, shape):
        return shape

    def weights_shape(self, prefix, shape):
        C, kw = shape[-1], self.kwargs
        rms = kw.get("rms_scaling", False)
        w = []
        if kw.get("scale", True) or rms:
            w.append((prefix + "/gamma", (C,)))
        if kw.get("center", True) and not rms:
            w.append((prefix + "/beta", (C,)))
        return w

    def call(self, P, prefix, x):
        kw = self.kwargs
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        inv = torch.rsqrt(var + kw.get("epsilon", 1e-3))
        y = (x if kw.get("rms_scaling", False) else x - mean) * inv
        if prefix + "/gamma" in P:
            y = y * P[prefix + "/gamma"]
        if prefix + "/beta" in P:
            y = y + P[prefix + "/beta"]
        return y, None


class BatchNormalization(Front):
    """training: the batch's mean and biased variance over every axis but
    the last, and `updates` gets the moving averages Keras assigns; else the
    moving statistics."""

    cls, base_name = "BatchNormalization", "batch_normalization"

    def out_shape(self, shape):
        return shape

    def weights_shape(self, prefix, shape):
        C, kw = shape[-1], self.kwargs
        w = []
        if kw.get("scale", True):
            w.append((prefix + "/gamma", (C,)))
        if kw.get("center", True):
            w.append((prefix + "/beta", (C,)))
        return w + [(prefix + "/moving_mean", (C,)), (prefix + "/moving_variance", (C,))]

    def call(self, P, prefix, x):
        kw = self.kwargs
        mm, mv = P[prefix + "/moving_mean"], P[prefix + "/moving_variance"]
        if self.training:
            axes = tuple(range(x.dim() - 1))
            mean = x.mean(dim=axes)
            var = ((x - mean) ** 2).mean(dim=axes)
            m = kw.get("momentum", 0.99)
            self.updates = {prefix + "/moving_mean": (mm * m + mean * (1 - m)).detach(),
                            prefix + "/moving_variance": (mv * m + var * (1 - m)).detach()}
        else:
            mean, var = mm, mv
        y = (x - mean) * torch.rsqrt(var + kw.get("epsilon", 1e-3))
        if prefix + "/gamma" in P:
            y = y * P[prefix + "/gamma"]
        if prefix + "/beta" in P:
            y = y + P[prefix + "/beta"]
        return y, None


class _Noise(Front):
    """Keras 3's noise layers (keras/src/layers/regularization/): the
    identity at inference; in training a mask of rnnc's generator (NOISE)."""

    def out_shape(self, shape):
        return shape

    def weights_shape(self, prefix, shape):
        return []

    def mask_shape(self, x):
        return tuple(x.shape)  # the mask's shape, 1 along a broadcast axis

    def call(self, P, prefix, x):
        p = self.args[0] if self.args else self.kwargs[self.param]
        if not self.training or p == 0:
            return x, None
        shape = self.mask_shape(x)
        per_sample = shape[0] != 1
        n = x.shape[0]
        size = int(np.prod(shape[1:]))
        m = noise_masks(self.kind, p, prefix, self.kwargs.get("seed"), n if per_sample else 1, size, per_sample)
        m = m.reshape((m.shape[0],) + tuple(shape[1:])).to(x.dtype)
        return (x + m if self.kind == 2 else x * m), None


class Dropout(_Noise):
    """x * mask, the mask 1 / (1 - rate) with probability 1 - rate, else 0
    (backend.random.dropout); noise_shape: 1 along an axis broadcasts."""

    cls, base_name, kind, param = "Dropout", "dropout", 1, "rate"

    def mask_shape(self, x):
        ns = self.kwargs.get("noise_shape")
        if ns is None:
            return tuple(x.shape)
        return tuple(x.shape[i] if d is None else d for i, d in enumerate(ns))



class SpatialDropout1D(Dropout):
    """Dropout with noise_shape (batch, 1, channels)."""

    cls, base_name = "SpatialDropout1D", "spatial_dropout1d"

    def mask_shape(self, x):
        return (x.shape[0], 1, x.shape[2])


class GaussianNoise(_Noise):
    """x + stddev N(0, 1)."""

    cls, base_name, kind, param = "GaussianNoise", "gaussian_noise", 2, "stddev"


class GaussianDropout(_Noise):
    """x * N(1, rate / (1 - rate))."""

    cls, base_name, kind, param = "GaussianDropout", "gaussian_dropout", 3, "rate"


NON_TRAINABLE = ("/moving_mean", "/moving_variance")


# trainable=False (a keyword of any layer, written into the description as
# trainable = false): Keras's Layer.trainable. The layer's weights are not
# trained (PyTorch: requires_grad=False, a zero gradient; the optimizer
# skips them, as Keras's optimizer sees model.trainable_variables only); a
# wrapper's flag freezes the layer it wraps, and a wrapped layer's its
# copies; a frozen BatchNormalization normalises with its moving statistics
# in training too and records no update (keras/src/layers/normalization/
# batch_normalization.py: `if training and self.trainable`).
def is_frozen(layer):
    kw = getattr(layer, "kwargs", {})
    inner = getattr(layer, "inner", None)
    return kw.get("trainable") is False or (inner is not None and inner.kwargs.get("trainable") is False)


def frozen_weights(model):
    """The names of the weights of the model's frozen layers."""
    out = set()
    for layer in model.layers:
        if is_frozen(layer):
            prefix = set()
            for name, _ in model.weight_list:
                if name == layer.name or name.startswith(layer.name + "/"):
                    prefix.add(name)
            out |= prefix
    return out


def non_trainable_weights(model):
    """Every weight training does not update with the optimizer: the frozen
    layers' and BatchNormalization's moving statistics."""
    return frozen_weights(model) | {k for k, _ in model.weight_list if k.endswith(NON_TRAINABLE)}

# ---------------------------------------------------------------- models


class Model:
    """A chain of layers: Sequential, or functional (Input, layer(x), Model)
    when a layer takes initial states or the last layer has several outputs.
    input_shape is the per-sample shape, (T, F) or (F,); T may be None."""

    def __init__(self, layers, input_shape, functional=False, initial_state_layers=()):
        self.layers = layers
        self.input_shape = tuple(input_shape)
        self.functional = functional or bool(initial_state_layers)
        for i in initial_state_layers:
            layers[i].initial_state = True
        namer = Namer()
        for layer in layers:
            layer.assign_names(namer)
        self.weight_list = []
        shape = self.input_shape
        for layer in layers:
            if isinstance(layer, Front):
                self.weight_list += layer.weights_shape(layer.name, shape)
                shape = layer.out_shape(shape)
                continue
            if isinstance(layer, Masking):  # keeps the shape
                self.weight_list += layer.weights(layer.name, shape[-1])
                continue
            if isinstance(layer, ActivationLayer):  # keeps the shape
                layer.input_shape = tuple(shape)
                self.weight_list += layer.weights(layer.name, shape[-1])
                continue
            self.weight_list += layer.weights(layer.name, shape[-1])
            if isinstance(layer, (Dense, TimeDistributed)):
                shape = tuple(shape[:-1]) + (layer.units,)
            else:
                inner = layer.inner if isinstance(layer, Bidirectional) else layer
                shape = (shape[0], layer.units) if inner.return_sequences else (layer.units,)
        self.training = False
        self.updates = {}

    def state_inputs(self):
        """(layer index, state count) of each layer taking initial states."""
        return [(i, l.n_states) for i, l in enumerate(self.layers) if getattr(l, "initial_state", False)]

    def forward(self, P, inputs):
        """inputs: [x, *initial states]. Returns (the last layer's outputs,
        the last layer's pre-activation when it is a Dense, else None)."""
        h = inputs[0]
        rest = list(inputs[1:])
        outs, logits = None, None
        self.updates = {}
        # Keras's mask along the chain: Masking makes it, Dense,
        # TimeDistributed, the activation layers and LayerNormalization pass
        # it (supports_masking), a recurrent layer reads it and keeps it with
        # return_sequences (RNN.compute_mask); self.mask: the output's
        mask = None
        # Keras's activity_regularizer: (regularizer, output) of each call
        # (Layer.__call__ adds its penalty to the layer's losses)
        self.activity = []
        for layer in self.layers:
            if isinstance(layer, Front):
                layer.training = self.training and not is_frozen(layer)
                y, logits = layer.call(P, layer.name, h)
                self.updates.update(getattr(layer, "updates", {}) if self.training else {})
                if isinstance(layer, Embedding) and layer.kwargs.get("mask_zero", False):
                    mask = h != 0  # Keras 3 Embedding.compute_mask: ops.not_equal(inputs, 0)
                elif not isinstance(layer, (LayerNormalization, _Noise)):  # supports_masking: kept
                    mask = None
                outs, h = [y], y
                continue
            if isinstance(layer, Masking):
                mask = layer.mask_of(h)
            if layer.recurrent:
                init = None
                if getattr(layer, "initial_state", False):
                    init, rest = rest[:layer.n_states], rest[layer.n_states:]
                layer.training = self.training  # the dropout masks
                if mask is not None:
                    outs, logits = layer.call_all(P, layer.name, h, init, mask), None
                else:
                    outs, logits = layer.call_all(P, layer.name, h, init), None
                inner = layer.inner if isinstance(layer, Bidirectional) else layer
                if not inner.return_sequences:
                    mask = None
            else:
                y, logits = layer.call(P, layer.name, h)
                outs = [y]
            reg = getattr(layer, "activity", None) or getattr(layer, "kwargs", {}).get("activity_regularizer")
            if reg is not None:
                self.activity.append((reg, outs[0]))
            h = outs[0]
        self.mask = mask
        return outs, logits

    def last_activation(self):
        """The activation whose logits a crossentropy reads: a last Dense's or
        activation layer's; not TimeDistributed's, whose reshape drops the
        logits tf.keras caches (keras/layers/rnn/time_distributed.py,
        keras/backend.py _get_logits)."""
        last = self.layers[-1]
        if isinstance(last, _Conv):
            return last.activation
        if isinstance(last, (Dense, ActivationLayer)):
            return last.activation
        return None

    def lua(self, compile_line):
        """The rnnc model description."""
        lines = []
        if not self.functional:
            first = self.layers[0]
            first.kwargs = dict({"input_shape": self.input_shape}, **first.kwargs)
            lines.append("local model = Sequential {")
            for layer in self.layers:
                lines.append("  %s," % layer.lua())
            lines.append("}")
        else:
            lines.append("local x = Input { shape = %s }" % lua_value(self.input_shape))
            inputs = ["x"]
            for i, count in self.state_inputs():
                for k in range(count):
                    name = "s%d_%d" % (i, k)
                    lines.append("local %s = Input { shape = { %d } }" % (name, self.layers[i].units))
                    inputs.append(name)
            cur = "x"
            for i, layer in enumerate(self.layers):
                last = i == len(self.layers) - 1
                call_args = cur
                if getattr(layer, "initial_state", False):
                    names = ["s%d_%d" % (i, k) for k in range(layer.n_states)]
                    call_args += ", { initial_state = { %s } }" % ", ".join(names)
                if last:
                    n_out = self.output_count()
                    outs = ["y%d" % k for k in range(n_out)]
                    lines.append("local %s = %s(%s)" % (", ".join(outs), layer.lua(), call_args))
                else:
                    lines.append("local h%d = %s(%s)" % (i, layer.lua(), call_args))
                    cur = "h%d" % i
            lines.append("local model = Model { inputs = { %s }, outputs = { %s } }"
                         % (", ".join(inputs), ", ".join("y%d" % k for k in range(self.output_count()))))
        lines.append(compile_line)
        lines.append("return model")
        return "\n".join(lines) + "\n"

    def output_count(self):
        last = self.layers[-1]
        if isinstance(last, Bidirectional):
            inner = last.inner
            return (2 if last.merge_mode is None else 1) + (2 * inner.n_states if inner.return_state else 0)
        if isinstance(last, Recurrent):
            return 1 + (last.n_states if last.return_state else 0)
        return 1


class Merge:
    """Keras's merge layers (keras/src/layers/merging/): Add, Subtract,
    Multiply, Average, Maximum, Minimum (elementwise over inputs of one shape,
    reduced left to right as Keras's _merge_function does) and Concatenate
    (along `axis`, -1 by default)."""
    recurrent = False
    n_states = 0

    def __init__(self, cls, axis=None, axes=None, normalize=False):
        self.cls, self.axis, self.axes, self.normalize = cls, axis, axes, normalize
        self.base_name = "".join("_" + c.lower() if c.isupper() else c for c in cls).lstrip("_")

    def lua(self):
        if self.cls == "Dot":
            axes = self.axes if isinstance(self.axes, int) else "{ %d, %d }" % tuple(self.axes)
            return "Dot { axes = %s%s }" % (axes, ", normalize = true" if self.normalize else "")
        if self.axis is None:
            return "%s {}" % self.cls
        return "%s { axis = %d }" % (self.cls, self.axis)

    def dot(self, a, b):
        """keras/src/layers/merging/dot.py: l2_normalize along the axes when
        normalize, then batch_dot: a's other axes, then b's."""
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else tuple(self.axes)
        axes = [ax % x.dim() for ax, x in zip(axes, (a, b))]
        if self.normalize:  # tf.math.l2_normalize: x / sqrt(max(sum x^2, 1e-12))
            a = a / torch.sqrt(torch.clamp((a * a).sum(dim=axes[0], keepdim=True), min=1e-12))
            b = b / torch.sqrt(torch.clamp((b * b).sum(dim=axes[1], keepdim=True), min=1e-12))
        am, bm = torch.movedim(a, axes[0], -1), torch.movedim(b, axes[1], 1)
        n, k = a.shape[0], am.shape[-1]
        out = am.reshape(n, -1, k) @ bm.reshape(n, k, -1)
        rest = tuple(am.shape[1:-1]) + tuple(bm.shape[2:])
        return out.reshape((n,) + rest) if rest else out.reshape(n, 1)

    def assign_names(self, namer):
        self.name = namer.name(self.base_name)

    def merge(self, xs):
        if self.cls == "Dot":
            return self.dot(xs[0], xs[1])
        if self.cls == "Concatenate":
            # axis counts the batch axis, as Keras's does
            return torch.cat(xs, dim=self.axis if self.axis is not None else -1)
        out = xs[0]
        for x in xs[1:]:
            if self.cls == "Add" or self.cls == "Average":
                out = out + x
            elif self.cls == "Subtract":
                out = out - x
            elif self.cls == "Multiply":
                out = out * x
            elif self.cls == "Maximum":
                out = torch.maximum(out, x)
            elif self.cls == "Minimum":
                out = torch.minimum(out, x)
        if self.cls == "Average":
            out = out / len(xs)
        return out


class AttentionLayer:
    """Keras's attention layers (keras/src/layers/attention/): Attention
    (attention.py: scores q @ k^T times `scale`, or with score_mode "concat"
    concat_score_weight * sum tanh(scale * (q_i + k_j)); _apply_scores
    subtracts 1e9 where the causal mask is 0, softmax, @ v),
    AdditiveAttention (additive_attention.py: sum scale * tanh(q_i + k_j))
    and MultiHeadAttention (multi_head_attention.py: EinsumDense projections
    "abc,cde->abde", the query times 1 / sqrt(key_dim), per-head softmax,
    output EinsumDense "abcd,cde->abe"). Called on [query, value(, key)];
    `causal` is the call's use_causal_mask, `scores` its
    return_attention_scores."""
    recurrent = False
    n_states = 0

    def __init__(self, cls, causal=False, scores=False, **kwargs):
        self.cls, self.causal, self.scores, self.kwargs = cls, causal, scores, kwargs
        self.base_name = "".join("_" + c.lower() if c.isupper() else c for c in cls).lstrip("_")
        if cls == "Attention":
            self.use_scale = kwargs.get("use_scale", False)
            self.score_mode = kwargs.get("score_mode", "dot")
        elif cls == "AdditiveAttention":
            self.use_scale = kwargs.get("use_scale", True)
        else:
            self.heads, self.key_dim = kwargs["num_heads"], kwargs["key_dim"]
            self.value_dim = kwargs.get("value_dim") or self.key_dim
            self.use_bias = kwargs.get("use_bias", True)
            self.out_dim = kwargs.get("output_shape")

    def lua(self):
        return lua_call(self.cls, [], self.kwargs)

    def call_lua(self, ins):
        opts = []
        if self.causal:
            opts.append("use_causal_mask = true")
        if self.scores:
            opts.append("return_attention_scores = true")
        tail = (", { %s }" % ", ".join(opts)) if opts else ""
        if self.cls == "MultiHeadAttention":
            return "(%s%s)" % (", ".join(ins), tail)
        return "({ %s }%s)" % (", ".join(ins), tail)

    def assign_names(self, namer):
        self.name = namer.name(self.base_name)

    def weights_for(self, prefix, shapes):
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) > 2 else v
        if self.cls == "Attention":
            w = [(prefix + "/scale", ())] if self.use_scale else []
            if self.score_mode == "concat":
                w.append((prefix + "/concat_score_weight", ()))
            return w
        if self.cls == "AdditiveAttention":
            return [(prefix + "/scale", (q[-1],))] if self.use_scale else []
        N, H, Hv = self.heads, self.key_dim, self.value_dim
        O = self.out_dim or q[-1]
        w = []
        for part, d, size in (("query", q[-1], H), ("key", k[-1], H), ("value", v[-1], Hv)):
            w.append((prefix + "/%s/kernel" % part, (d, N, size)))
            if self.use_bias:
                w.append((prefix + "/%s/bias" % part, (N, size)))
        w.append((prefix + "/attention_output/kernel", (N, Hv, O)))
        if self.use_bias:
            w.append((prefix + "/attention_output/bias", (O,)))
        return w

    def out_shapes(self, shapes):
        q, v = shapes[0], shapes[1]
        if self.cls == "MultiHeadAttention":
            return [(q[0], self.out_dim or q[-1])]
        return [(q[0], v[-1])] + ([(q[0], v[0])] if self.scores else [])

    def softmax(self, scores, masks):
        """Keras's masks joined by a logical and (Attention._calculate_score_mask:
        causal & the value's; MultiHeadAttention._compute_attention_mask: the
        query's, the value's, the key's, causal), then Attention's
        scores -= 1e9 * ~keep, or MultiHeadAttention's Softmax
        where(keep, scores, -1e9)."""
        tq, tv = scores.shape[-2], scores.shape[-1]
        keep = torch.ones(scores.shape[0], tq, tv, dtype=torch.bool)
        if self.causal:
            ones = torch.ones(tq, tv, dtype=torch.int64)
            keep = keep & (ones.cumsum(0) >= ones.cumsum(1))
        mha = self.cls == "MultiHeadAttention"
        qm, vm = masks[0], masks[1]
        km = masks[2] if len(masks) > 2 else None
        if vm is not None:
            keep = keep & vm[:, None, :]
        if mha and qm is not None:
            keep = keep & qm[:, :, None]
        if mha and km is not None:
            keep = keep & km[:, None, :]
        if mha:
            scores = torch.where(keep[:, None], scores, torch.tensor(-1e9, dtype=scores.dtype))
        else:
            scores = scores - 1e9 * (~keep).to(scores.dtype)
        return torch.softmax(scores, dim=-1)

    def dropout(self, w):
        """In training, the weights times a dropout mask (Attention's
        backend.random.dropout, MultiHeadAttention's _dropout_layer) drawn
        by rnnc's generator (NOISE), as the Dropout layer's: keyed by the
        layer's name, the step, the sample and the element of the weights."""
        rate = self.kwargs.get("dropout", 0.0)
        if not getattr(self, "training", False) or rate == 0:
            return w
        n = w.shape[0]
        m = noise_masks(1, rate, self.name, self.kwargs.get("seed"), n, int(np.prod(w.shape[1:])))
        return w * m.reshape(w.shape).to(w.dtype)

    def attend(self, P, xs, masks=None):
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) > 2 else v
        masks = list(masks) if masks is not None else [None] * len(xs)
        p = self.name
        if self.cls == "MultiHeadAttention":
            def dense(x, part):
                y = torch.einsum("abc,cde->abde", x, P[p + "/%s/kernel" % part])
                return y + P[p + "/%s/bias" % part] if self.use_bias else y
            Q = dense(q, "query") * (1.0 / math.sqrt(float(self.key_dim)))
            K, V = dense(k, "key"), dense(v, "value")
            w = self.softmax(torch.einsum("aecd,abcd->acbe", K, Q), masks)
            o = torch.einsum("acbe,aecd->abcd", self.dropout(w), V)
            y = torch.einsum("abcd,cde->abe", o, P[p + "/attention_output/kernel"])
            if self.use_bias:
                y = y + P[p + "/attention_output/bias"]
            return [y]
        if self.cls == "Attention" and self.score_mode == "dot":
            scores = q @ k.transpose(-1, -2)
            if self.use_scale:
                scores = scores * P[p + "/scale"]
        else:
            u = q.unsqueeze(-2) + k.unsqueeze(-3)
            if self.cls == "Attention":
                t = torch.tanh(P[p + "/scale"] * u) if self.use_scale else torch.tanh(u)
                scores = P[p + "/concat_score_weight"] * t.sum(-1)
            else:
                scores = (P[p + "/scale"] * torch.tanh(u)).sum(-1) if self.use_scale else torch.tanh(u).sum(-1)
        w = self.softmax(scores, masks)
        out = self.dropout(w) @ v
        if masks[0] is not None:  # Attention.call: result *= q_mask
            out = out * masks[0][:, :, None].to(out.dtype)
        return [out] + ([w] if self.scores else [])


class GraphModel:
    """A functional graph: inputs of the given per-sample shapes (named
    in0, in1, ...), nodes (out_vars, layer, in_vars) in call order (a layer in
    several nodes is shared: one set of weights), one output variable. Its
    interface is Model's (forward, weight_list, lua, ...)."""

    def __init__(self, input_shapes, nodes, output):
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.input_shape = self.input_shapes[0]
        self.nodes, self.output = nodes, output
        self.functional = True
        namer = Namer()
        self.layers = []
        for _, layer, _ in nodes:
            if layer not in self.layers:
                self.layers.append(layer)
                layer.assign_names(namer)
        shapes = {"in%d" % i: s for i, s in enumerate(self.input_shapes)}
        self.weight_list = []
        seen = set()
        for outs, layer, ins in nodes:
            shape = shapes[ins[0]]
            if isinstance(layer, AttentionLayer):
                out_shapes = layer.out_shapes([shapes[v] for v in ins])
                if id(layer) not in seen:
                    self.weight_list += layer.weights_for(layer.name, [shapes[v] for v in ins])
                    seen.add(id(layer))
            elif isinstance(layer, Merge):
                if layer.cls == "Dot":
                    a, b = shapes[ins[0]], shapes[ins[1]]
                    axes = (layer.axes, layer.axes) if isinstance(layer.axes, int) else tuple(layer.axes)
                    axes = [(ax % (len(sh) + 1)) - 1 for ax, sh in zip(axes, (a, b))]
                    rest = tuple(d for i, d in enumerate(a) if i != axes[0]) + \
                        tuple(d for i, d in enumerate(b) if i != axes[1])
                    shape = rest or (1,)
                elif layer.cls == "Concatenate":
                    axis = layer.axis if layer.axis is not None else -1
                    axis = axis - 1 if axis > 0 else len(shape) + axis
                    shape = list(shape)
                    shape[axis] = sum(shapes[v][axis] for v in ins)
                    shape = tuple(shape)
                out_shapes = [shape]
            elif isinstance(layer, Dense):
                out_shapes = [tuple(shape[:-1]) + (layer.units,)]
            elif isinstance(layer, Masking):
                out_shapes = [shape]
            else:
                main = (shape[0], layer.units) if layer.return_sequences else (layer.units,)
                out_shapes = [main] + ([(layer.units,)] * layer.n_states if layer.return_state else [])
            if not isinstance(layer, (Merge, AttentionLayer)) and id(layer) not in seen:
                self.weight_list += layer.weights(layer.name, shape[-1])
                seen.add(id(layer))
            for v, sh in zip(outs, out_shapes):
                shapes[v] = sh
        self.training = False
        self.updates = {}

    def state_inputs(self):
        return []

    def forward(self, P, inputs):
        """The output and its logits; self.mask the output's Keras mask (the
        loss's). Masks as Keras 3 moves them: Masking makes one, Dense
        passes it on, a recurrent layer reads it (and passes it on with
        return_sequences), an attention layer reads its inputs' and gives
        the query's to its output."""
        values = {"in%d" % i: x for i, x in enumerate(inputs)}
        masks = {}
        logits = {}
        for outs, layer, ins in self.nodes:
            xs = [values[v] for v in ins]
            ms = [masks.get(v) for v in ins]
            out_mask = None
            if isinstance(layer, AttentionLayer):
                layer.training = self.training  # the dropout masks
                ys = layer.attend(P, xs, ms)
                out_mask = ms[0]
            elif isinstance(layer, Merge):
                assert all(m is None for m in ms), "masks into merges are not modelled"
                ys = [layer.merge(xs)]
            elif isinstance(layer, Masking):
                ys = [layer.call(P, layer.name, xs[0])[0]]
                out_mask = layer.mask_of(xs[0])
            elif layer.recurrent:
                if ms[0] is not None:
                    ys = layer.call_all(P, layer.name, xs[0], xs[1:] or None, ms[0])
                    out_mask = ms[0] if layer.return_sequences else None
                else:
                    ys = layer.call_all(P, layer.name, xs[0], xs[1:] or None)
            else:
                y, z = layer.call(P, layer.name, xs[0])
                ys = [y]
                logits[outs[0]] = z
                out_mask = ms[0]
            for v, y in zip(outs, ys):
                values[v] = y
            if out_mask is not None:
                masks[outs[0]] = out_mask
        self.mask = masks.get(self.output)
        return [values[self.output]], logits.get(self.output)

    def last_activation(self):
        for outs, layer, _ in self.nodes:
            if outs[0] == self.output and isinstance(layer, Dense):
                return layer.activation
        return None

    def lua(self, compile_line):
        lines = []
        for i, s in enumerate(self.input_shapes):
            lines.append("local in%d = Input { shape = %s }" % (i, lua_value(s)))
        made = {}
        for k, (outs, layer, ins) in enumerate(self.nodes):
            if id(layer) in made:
                callee = made[id(layer)]
            else:
                callee = layer.lua()
                if sum(1 for _, l, _ in self.nodes if l is layer) > 1:
                    lines.append("local layer%d = %s" % (k, callee))
                    callee = made[id(layer)] = "layer%d" % k
            if isinstance(layer, AttentionLayer):
                args = layer.call_lua(ins)
            elif isinstance(layer, Merge):
                args = "({ %s })" % ", ".join(ins)
            elif len(ins) > 1:
                args = "(%s, { initial_state = { %s } })" % (ins[0], ", ".join(ins[1:]))
            else:
                args = "(%s)" % ins[0]
            lines.append("local %s = %s%s" % (", ".join(outs), callee, args))
        lines.append("local model = Model { inputs = { %s }, outputs = { %s } }"
                     % (", ".join("in%d" % i for i in range(len(self.input_shapes))), self.output))
        lines.append(compile_line)
        lines.append("return model")
        return "\n".join(lines) + "\n"

    def output_count(self):
        return 1


# ---------------------------------------------------------------- losses


class Loss:
    """A compiled loss: the Keras name (string form) or class with
    from_logits."""

    CLASSES = {"mse": "MeanSquaredError", "mae": "MeanAbsoluteError",
               "binary_crossentropy": "BinaryCrossentropy",
               "categorical_crossentropy": "CategoricalCrossentropy",
               "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
               "huber": "Huber", "log_cosh": "LogCosh", "mape": "MeanAbsolutePercentageError",
               "msle": "MeanSquaredLogarithmicError", "kl_divergence": "KLDivergence", "poisson": "Poisson",
               "hinge": "Hinge", "squared_hinge": "SquaredHinge", "categorical_hinge": "CategoricalHinge",
               "cosine_similarity": "CosineSimilarity"}
    LONG = {"mean_squared_error": "mse", "mean_absolute_error": "mae",
            "mean_absolute_percentage_error": "mape", "mean_squared_logarithmic_error": "msle",
            "kld": "kl_divergence", "logcosh": "log_cosh"}

    def __init__(self, name, as_class=False, from_logits=False, **params):
        self.written = name
        self.kind = self.LONG.get(name, name)
        self.as_class, self.from_logits = as_class or from_logits or bool(params), from_logits
        self.params = params  # label_smoothing, delta

    def lua(self):
        if not self.as_class:
            return lua_value(self.written)
        kw = {"from_logits": True} if self.from_logits else {}
        kw.update(self.params)
        return lua_call(self.CLASSES[self.kind], [], kw)

    def describe(self):
        text = self.CLASSES[self.kind] if self.as_class else self.written
        extra = ", ".join("%s=%s" % kv for kv in self.params.items())
        return text + (" (from_logits)" if self.from_logits else "") + ("(%s)" % extra if extra else "")


def loss_value(loss, model, outputs, logits, target):
    """Keras's loss (sum_over_batch_size) on the first output. A softmax
    (categorical, sparse) or sigmoid (binary) last Dense is computed from its
    logits, as tf.keras does when it can trace the output back to them; the
    other outputs do not enter the loss (rnnc's rule for several outputs)."""
    y = outputs[0]
    kind = loss.kind
    act = model.last_activation()
    fused = (not loss.from_logits and logits is not None
             and ((act == "softmax" and kind in ("categorical_crossentropy",
                                                  "sparse_categorical_crossentropy"))
                  or (act == "sigmoid" and kind == "binary_crossentropy")))
    z = logits if fused else y
    from_logits = fused or loss.from_logits
    ls = loss.params.get("label_smoothing", 0.0)
    if ls and kind == "binary_crossentropy":  # keras/src/losses/losses.py binary_crossentropy
        target = target * (1.0 - ls) + 0.5 * ls
    elif ls and kind == "categorical_crossentropy":
        target = target * (1.0 - ls) + ls / target.shape[-1]
    eps = EPSILON
    if kind == "huber":
        delta = loss.params.get("delta", 1.0)
        e = y - target
        rows = torch.where(e.abs() <= delta, 0.5 * e * e, delta * e.abs() - 0.5 * delta * delta).mean(dim=-1)
    elif kind == "log_cosh":
        x = y - target
        rows = (x + softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)
    elif kind == "mape":
        rows = 100.0 * ((target - y) / torch.clamp(target.abs(), min=eps)).abs().mean(dim=-1)
    elif kind == "msle":
        d = torch.log(torch.clamp(y, min=eps) + 1.0) - torch.log(torch.clamp(target, min=eps) + 1.0)
        rows = (d * d).mean(dim=-1)
    elif kind == "kl_divergence":
        t, p = torch.clamp(target, eps, 1.0), torch.clamp(y, eps, 1.0)
        rows = (t * torch.log(t / p)).sum(dim=-1)
    elif kind == "poisson":
        rows = (y - target * torch.log(y + eps)).mean(dim=-1)
    elif kind in ("hinge", "squared_hinge"):
        if bool(((target == 0) | (target == 1)).all()):  # convert_binary_labels_to_hinge
            target = 2.0 * target - 1.0
        m = torch.relu(1.0 - target * y)
        rows = (m if kind == "hinge" else m * m).mean(dim=-1)
    elif kind == "categorical_hinge":
        pos = (target * y).sum(dim=-1)
        neg = ((1.0 - target) * y).max(dim=-1).values
        rows = torch.relu(neg - pos + 1.0)
    elif kind == "cosine_similarity":  # tf.linalg.l2_normalize (tf.keras 2.x)
        def l2n(v):
            return v * torch.rsqrt(torch.clamp((v * v).sum(dim=-1, keepdim=True), min=1e-12))
        rows = -(l2n(target) * l2n(y)).sum(dim=-1)
    elif kind == "mse":
        rows = ((target - y) ** 2).mean(dim=-1)
    elif kind == "mae":
        rows = (target - y).abs().mean(dim=-1)
    elif kind == "binary_crossentropy":
        if from_logits:  # tf.nn.sigmoid_cross_entropy_with_logits
            per = torch.relu(z) - z * target + torch.log1p(torch.exp(-z.abs()))
        else:  # keras/backend.py binary_crossentropy (tf.keras 2.x)
            q = torch.clamp(y, EPSILON, 1 - EPSILON)
            per = -(target * torch.log(q + EPSILON) + (1 - target) * torch.log(1 - q + EPSILON))
        rows = per.mean(dim=-1)
    elif kind == "categorical_crossentropy":
        if from_logits:
            rows = -(target * torch.log_softmax(z, dim=-1)).sum(dim=-1)
        else:
            q = torch.clamp(y / y.sum(dim=-1, keepdim=True), EPSILON, 1 - EPSILON)
            rows = -(target * torch.log(q)).sum(dim=-1)
    elif kind == "sparse_categorical_crossentropy":
        if from_logits:
            logp = torch.log_softmax(z, dim=-1)
        else:  # clip, log, then sparse_softmax_cross_entropy_with_logits
            logp = torch.log_softmax(torch.log(torch.clamp(y, EPSILON, 1 - EPSILON)), dim=-1)
        rows = -logp.gather(-1, target.long().unsqueeze(-1)).squeeze(-1)
    else:
        raise ValueError(kind)
    mask = getattr(model, "mask", None)
    if mask is not None:
        # Keras 3 keras/src/losses/loss.py apply_mask: the mask scaled by
        # total / (valid + epsilon) as the rows' weights, then the mean over
        # all rows: sum(rows * mask) / (valid + 1e-7)
        m = mask.to(rows.dtype)
        return (rows * m).sum() / (m.sum() + 1e-7)
    return rows.mean()


# ---------------------------------------------------------------- optimizers


class Schedule:
    """ExponentialDecay: lr = initial * rate ^ (iterations / decay_steps),
    the exponent floored when staircase; iterations = updates already done."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial, self.steps, self.rate, self.staircase = (initial_learning_rate, decay_steps,
                                                               decay_rate, staircase)

    def __call__(self, iterations):
        p = iterations / self.steps
        if self.staircase:
            p = math.floor(p)
        return self.initial * self.rate ** p

    def lua(self):
        kw = {"initial_learning_rate": self.initial, "decay_steps": self.steps, "decay_rate": self.rate}
        if self.staircase:
            kw["staircase"] = True
        return lua_call("ExponentialDecay", [], kw)

    def describe(self):
        return "ExponentialDecay(%g, decay_steps=%g, decay_rate=%g%s)" % (
            self.initial, self.steps, self.rate, ", staircase=True" if self.staircase else "")


class KerasSchedule(Schedule):
    """Keras 3's other schedules (keras/src/optimizers/schedules/
    learning_rate_schedule.py), at iterations = updates already done."""

    DEFAULTS = {
        "PiecewiseConstantDecay": dict(boundaries=None, values=None),
        "InverseTimeDecay": dict(initial_learning_rate=None, decay_steps=None, decay_rate=None,
                                 staircase=False),
        "PolynomialDecay": dict(initial_learning_rate=None, decay_steps=None, end_learning_rate=0.0001,
                                power=1.0, cycle=False),
        "CosineDecay": dict(initial_learning_rate=None, decay_steps=None, alpha=0.0, warmup_target=None,
                            warmup_steps=0),
        "CosineDecayRestarts": dict(initial_learning_rate=None, first_decay_steps=None, t_mul=2.0,
                                    m_mul=1.0, alpha=0.0),
    }

    def __init__(self, cls, **kwargs):
        self.cls, self.given = cls, kwargs
        cfg = dict(self.DEFAULTS[cls])
        for k in kwargs:
            if k not in cfg:
                raise ValueError("%s has no argument %s" % (cls, k))
        cfg.update(kwargs)
        self.cfg = cfg

    def __call__(self, step):
        c, step = self.cfg, float(step)
        if self.cls == "PiecewiseConstantDecay":
            b, v = c["boundaries"], c["values"]
            # values[0] while step <= boundaries[0], ..., values[-1] past the last
            for k, x in enumerate(b):
                if step <= x:
                    return v[k]
            return v[-1]
        lr = c["initial_learning_rate"]
        if self.cls == "InverseTimeDecay":
            p = step / c["decay_steps"]
            if c["staircase"]:
                p = math.floor(p)
            return lr / (1 + c["decay_rate"] * p)
        if self.cls == "PolynomialDecay":
            decay_steps = c["decay_steps"]
            if c["cycle"]:
                multiplier = 1.0 if step == 0 else math.ceil(step / decay_steps)
                decay_steps = decay_steps * multiplier
            else:
                step = min(step, decay_steps)
            p = step / decay_steps
            return (lr - c["end_learning_rate"]) * (1 - p) ** c["power"] + c["end_learning_rate"]
        if self.cls == "CosineDecay":
            def decay(s, steps, start):
                cosine = 0.5 * (1.0 + math.cos(math.pi * s / steps))
                return start * ((1 - c["alpha"]) * cosine + c["alpha"])
            if c["warmup_target"] is None:
                return decay(min(step, c["decay_steps"]), c["decay_steps"], lr)
            w = c["warmup_steps"]
            step = min(step, c["decay_steps"] + w)
            if step < w:
                return (c["warmup_target"] - lr) * (step / w) + lr
            return decay(step - w, c["decay_steps"], c["warmup_target"])
        if self.cls == "CosineDecayRestarts":
            frac, t_mul = step / c["first_decay_steps"], c["t_mul"]
            if t_mul == 1.0:
                i_restart = math.floor(frac)
                frac -= i_restart
            else:
                i_restart = math.floor(math.log(1.0 - frac * (1.0 - t_mul)) / math.log(t_mul))
                sum_r = (1.0 - t_mul ** i_restart) / (1.0 - t_mul)
                frac = (frac - sum_r) / t_mul ** i_restart
            cosine = 0.5 * c["m_mul"] ** i_restart * (1.0 + math.cos(math.pi * frac))
            return lr * ((1 - c["alpha"]) * cosine + c["alpha"])
        raise ValueError(self.cls)

    def lua(self):
        return lua_call(self.cls, [], self.given)

    def describe(self):
        return "%s(%s)" % (self.cls, ", ".join("%s=%s" % kv for kv in self.given.items()))


class Optimizer:
    """Keras's optimizers with their defaults. `name_only` writes the string
    form ("adam") in the description."""

    DEFAULTS = {
        "SGD": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
        "RMSprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                        legacy=False),
        "Adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
        "AdamW": dict(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                      amsgrad=False),
        "Adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
        # issue 13, Keras 3's keras/src/optimizers/{nadam,adamax,adadelta,ftrl,lion}.py
        "Nadam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        "Adamax": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        "Adadelta": dict(learning_rate=0.001, rho=0.95, epsilon=1e-7),
        "Ftrl": dict(learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                     l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                     l2_shrinkage_regularization_strength=0.0, beta=0.0),
        "Lion": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.99),
    }
    CLIPS = ("clipnorm", "clipvalue", "global_clipnorm")

    def __init__(self, cls, name_only=None, **kwargs):
        self.cls, self.name_only, self.given = cls, name_only, kwargs
        cfg = dict(self.DEFAULTS[cls])
        for k in kwargs:
            if k not in cfg and k not in self.CLIPS:
                raise ValueError("%s has no argument %s" % (cls, k))
        cfg.update(kwargs)
        self.cfg = cfg
        if sum(1 for c in self.CLIPS if cfg.get(c)) > 1:
            raise ValueError("Keras takes one of clipnorm, clipvalue, global_clipnorm")

    def lua(self):
        if self.name_only:
            return lua_value(self.name_only)
        return lua_call(self.cls, [], self.given)

    def describe(self):
        if self.name_only:
            return '"%s"' % self.name_only
        parts = []
        for k, v in self.given.items():
            parts.append("%s=%s" % (k, v.describe() if isinstance(v, Schedule) else v))
        return "%s(%s)" % (self.cls, ", ".join(parts))

    def learning_rate(self, iterations):
        lr = self.cfg["learning_rate"]
        return lr(iterations) if isinstance(lr, Schedule) else lr

    def clip(self, grads):
        """tf.keras >= 2.11 Optimizer._clip_gradients."""
        cfg = self.cfg
        if cfg.get("clipnorm"):
            c = cfg["clipnorm"]
            out = {}
            for k, g in grads.items():  # tf.clip_by_norm per variable
                norm = np.sqrt(np.sum(g * g))
                out[k] = g * c / max(norm, c)
            return out
        if cfg.get("global_clipnorm"):
            c = cfg["global_clipnorm"]
            norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
            scale = c * min(1.0 / norm, 1.0 / c)  # tf.clip_by_global_norm
            return {k: g * scale for k, g in grads.items()}
        if cfg.get("clipvalue"):
            c = cfg["clipvalue"]
            return {k: np.clip(g, -c, c) for k, g in grads.items()}
        return grads

    def init_state(self, weights):
        self.iterations = 0
        self.slots = {k: {} for k in weights}
        self.u_product = 1.0  # Nadam's variable

    def slot(self, name, key, like, value=0.0):
        s = self.slots[name]
        if key not in s:
            s[key] = np.full_like(like, value)
        return s[key]

    def apply(self, weights, grads, skip=()):
        """One update of every weight (numpy float64 arrays, in place) but
        those named in `skip` (the non-trainable ones, which Keras's
        optimizer never sees)."""
        grads = self.clip({k: g for k, g in grads.items() if k not in skip})
        weights = {k: w for k, w in weights.items() if k not in skip}
        lr = self.learning_rate(self.iterations)
        t = self.iterations + 1
        cfg = self.cfg
        if self.cls == "Nadam":  # Nadam._backend_update_step, before the updates
            u_product_t = self.u_product * cfg["beta_1"] * (1.0 - 0.5 * 0.96 ** t)
            self.u_product = u_product_t
        for name, w in weights.items():
            g = grads[name]
            if self.cls == "SGD":
                mu = cfg["momentum"]
                if mu == 0:
                    w -= lr * g
                else:
                    m = self.slot(name, "momentum", w)
                    m[...] = -g * lr + m * mu
                    if cfg["nesterov"]:
                        w += -g * lr + m * mu
                    else:
                        w += m
            elif self.cls in ("Adam", "AdamW"):
                if self.cls == "AdamW":
                    w -= w * cfg["weight_decay"] * lr
                b1, b2 = cfg["beta_1"], cfg["beta_2"]
                m, v = self.slot(name, "m", w), self.slot(name, "v", w)
                alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                m += (g - m) * (1 - b1)
                v += (g * g - v) * (1 - b2)
                denom = v
                if cfg["amsgrad"]:
                    vhat = self.slot(name, "vhat", w)
                    np.maximum(vhat, v, out=vhat)
                    denom = vhat
                w -= (m * alpha) / (np.sqrt(denom) + cfg["epsilon"])
            elif self.cls == "RMSprop":
                rho, mu, eps = cfg["rho"], cfg["momentum"], cfg["epsilon"]
                vel = self.slot(name, "velocity", w)
                vel[...] = rho * vel + (1 - rho) * g * g
                denom = vel
                if cfg["centered"]:
                    mg = self.slot(name, "average_gradient", w)
                    mg[...] = rho * mg + (1 - rho) * g
                    denom = vel - mg * mg
                if cfg["legacy"] and mu == 0:
                    # tf.keras <= 2.10 optimizer_v2 RMSprop without momentum
                    inc = lr * g / (np.sqrt(denom) + eps)
                else:
                    inc = lr * g / np.sqrt(denom + eps)
                if mu > 0:
                    mom = self.slot(name, "momentum", w)
                    mom[...] = mu * mom + inc
                    w -= mom
                else:
                    w -= inc
            elif self.cls == "Adagrad":
                acc = self.slot(name, "accumulator", w, cfg["initial_accumulator_value"])
                acc += g * g
                w -= lr * g / np.sqrt(acc + cfg["epsilon"])
            elif self.cls == "Nadam":
                b1, b2, eps = cfg["beta_1"], cfg["beta_2"], cfg["epsilon"]
                m, v = self.slot(name, "m", w), self.slot(name, "v", w)
                u_t = b1 * (1.0 - 0.5 * 0.96 ** t)
                u_t_1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
                u_product_t_1 = u_product_t * u_t_1
                m += (g - m) * (1 - b1)
                v += (g * g - v) * (1 - b2)
                m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t)
                v_hat = v / (1 - b2 ** t)
                w -= m_hat * lr / (np.sqrt(v_hat) + eps)
            elif self.cls == "Adamax":
                b1, b2, eps = cfg["beta_1"], cfg["beta_2"], cfg["epsilon"]
                m, u = self.slot(name, "m", w), self.slot(name, "u", w)
                m += (g - m) * (1 - b1)
                np.maximum(b2 * u, np.abs(g), out=u)
                w -= lr * m / ((1 - b1 ** t) * (u + eps))
            elif self.cls == "Adadelta":
                rho, eps = cfg["rho"], cfg["epsilon"]
                acc_g, acc_d = self.slot(name, "grad", w), self.slot(name, "delta", w)
                acc_g[...] = rho * acc_g + (1 - rho) * g * g
                delta = -np.sqrt(acc_d + eps) * g / np.sqrt(acc_g + eps)
                acc_d[...] = rho * acc_d + (1 - rho) * delta * delta
                w += lr * delta
            elif self.cls == "Ftrl":
                accum = self.slot(name, "accumulator", w, cfg["initial_accumulator_value"])
                linear = self.slot(name, "linear", w)
                p = -cfg["learning_rate_power"]
                l1 = cfg["l1_regularization_strength"]
                l2 = cfg["l2_regularization_strength"] + cfg["beta"] / (2.0 * lr)
                g2 = g + 2 * cfg["l2_shrinkage_regularization_strength"] * w
                new_accum = accum + g * g
                linear += g2 - (new_accum ** p - accum ** p) / lr * w
                quadratic = new_accum ** p / lr + 2 * l2
                w[...] = (np.clip(linear, -l1, l1) - linear) / quadratic
                accum[...] = new_accum
            elif self.cls == "Lion":
                b1, b2 = cfg["beta_1"], cfg["beta_2"]
                m = self.slot(name, "m", w)
                w -= lr * np.sign(m * b1 + g * (1.0 - b1))
                m[...] = m * b2 + g * (1.0 - b2)
            else:
                raise ValueError(self.cls)
        self.iterations += 1


def compile_line(loss, optimizer):
    parts = []
    if optimizer is not None:
        parts.append("optimizer = " + optimizer.lua())
    parts.append("loss = " + loss.lua())
    return "model:compile { %s }" % ", ".join(parts)


# ---------------------------------------------------------------- evaluation


# ---------------------------------------------------------------- weight regularizers and constraints
# Keras's keras/src/regularizers/regularizers.py (L1, L2, L1L2: l1 *
# sum(abs(w)) + l2 * sum(square(w)), summed into the loss by
# Trainer.compute_loss) and keras/src/constraints/constraints.py (applied
# to the weights after each optimizer update), given to a layer as its
# `<weight>_regularizer` and `<weight>_constraint` arguments.

RULE_WEIGHT = {"kernel": "kernel", "recurrent": "recurrent_kernel", "bias": "bias",
               "depthwise": "depthwise_kernel", "pointwise": "pointwise_kernel", "gamma": "gamma",
               "beta": "beta", "alpha": "alpha", "embeddings": "embeddings"}


class Regularizer:
    def __init__(self, cls, l1=0.0, l2=0.0):
        self.cls, self.l1, self.l2 = cls, l1, l2

    def lua(self):
        args = {"L1": ["l1"], "L2": ["l2"], "L1L2": ["l1", "l2"]}[self.cls]
        return "%s { %s }" % (self.cls, ", ".join("%s = %r" % (a, getattr(self, a)) for a in args))

    def penalty(self, w):
        return self.l1 * torch.sum(torch.abs(w)) + self.l2 * torch.sum(torch.square(w))


class Constraint:
    def __init__(self, cls, **config):
        self.cls, self.config = cls, config

    def lua(self):
        return "%s { %s }" % (self.cls, ", ".join("%s = %s" % (k, lua_value(v)) for k, v in self.config.items()))

    def __call__(self, w):
        c = self.config
        if self.cls == "NonNeg":
            return np.maximum(w, 0.0)
        axis = c.get("axis", 0)
        axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
        norms = np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))
        if self.cls == "MaxNorm":
            return w * (np.clip(norms, 0, c.get("max_value", 2.0)) / (EPSILON + norms))
        if self.cls == "UnitNorm":
            return w / (EPSILON + norms)
        if self.cls == "MinMaxNorm":
            rate = c.get("rate", 1.0)
            desired = rate * np.clip(norms, c.get("min_value", 0.0), c.get("max_value", 1.0)) + (1 - rate) * norms
            return w * (desired / (EPSILON + norms))
        raise ValueError(self.cls)


def weight_rules(model, kind):
    """(weight name, rule) of every `<weight>_<kind>` argument of the model's layers."""
    out = []
    for layer in model.layers:
        for k, v in getattr(layer, "kwargs", {}).items():
            if k.endswith("_" + kind) and k != "activity_regularizer":
                name = layer.name + "/" + RULE_WEIGHT[k[: -len(kind) - 1]]
                assert name in dict(model.weight_list), name
                out.append((name, v))
    return out


def apply_constraints(model, trained):
    """Keras 3's BaseOptimizer.apply: each variable's constraint after the update."""
    for name, c in weight_rules(model, "constraint"):
        trained[name] = c(trained[name])


def loss_and_grads(model, loss, weights, inputs, target):
    """The loss, d loss / d every weight and d loss / d every input, and the
    outputs, at numpy weights and inputs (computed in their dtype: float64, or
    float32 to measure float32's own drift)."""
    frozen = frozen_weights(model)
    P = {k: torch.tensor(v, requires_grad=k not in frozen) for k, v in weights.items()}
    xs = [torch.tensor(x, requires_grad=True) for x in inputs]
    # the training computation (BatchNormalization: the batch's statistics;
    # model.updates then holds the moving averages Keras would assign)
    model.training = True
    try:
        outs, logits = model.forward(P, xs)
    finally:
        model.training = False
    t = torch.tensor(target)
    if t.is_floating_point():
        t = t.to(xs[0].dtype)
    value = loss_value(loss, model, outs, logits, t)
    for name, r in weight_rules(model, "regularizer"):
        value = value + r.penalty(P[name])
    # the activity regularizers: each call's penalty divided by the batch
    # size (tf.keras 2.x base_layer._handle_activity_regularization; Keras 3
    # Layer.__call__ since keras PR 22021)
    for r, y in getattr(model, "activity", []):
        value = value + r.penalty(y) / y.shape[0]
    value.backward()
    # a weight or input the loss does not reach (an output outside the loss)
    # has no .grad: its gradient is zero
    grads = {k: np.zeros_like(v) if P[k].grad is None else P[k].grad.numpy().copy()
             for k, v in weights.items()}
    input_grads = [np.zeros_like(x) if t.grad is None else t.grad.numpy().copy()
                   for x, t in zip(inputs, xs)]
    return value.item(), grads, input_grads, [o.detach().numpy().copy() for o in outs]


def inference_outputs(model, weights, inputs):
    """The outputs at inference (what predict gives: BatchNormalization with
    its moving statistics)."""
    with torch.no_grad():
        outs, _ = model.forward({k: torch.tensor(v) for k, v in weights.items()}, [torch.tensor(x) for x in inputs])
    return [o.numpy().copy() for o in outs]


def apply_updates(model, trained):
    """Sets the moving statistics the last training forward computed."""
    for k, v in model.updates.items():
        trained[k] = v.numpy().astype(trained[k].dtype)
