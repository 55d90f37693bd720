#!/usr/bin/python3
"""Checks golden.py's own layers (keras_torch.py) against torch.nn's modules.

    /usr/bin/python3 tests/conformance/selftest.py

keras_torch writes Keras's equations itself; where they coincide with
PyTorch's built-in modules, the two must agree after the weights are mapped:

  SimpleRNN            nn.RNN (tanh and relu)
  LSTM                 nn.LSTM: Keras's gates i f c o are PyTorch's i f g o
  GRU(reset_after)     nn.GRU: Keras's gates z r h are PyTorch's r z n; the
                       (2, 3U) bias is PyTorch's (bias_ih, bias_hh)
  go_backwards         the module run on the time-reversed input
  Bidirectional concat nn.LSTM / nn.GRU / nn.RNN (bidirectional=True)

kernels (in, gates * U) are the transposes of PyTorch's weight_ih (gates * U,
in). Each comparison covers the sequence output, the final states and the
gradients of a fixed random objective of all of them with respect to every
weight (in Keras's layout), the input and the initial states, in float64, and
must agree to 1e-12 relative (max |a - b| / max |b|). Exit status 1 otherwise.
"""

import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_torch import GRU, LSTM, Bidirectional, SimpleRNN  # noqa: E402

TOLERANCE = 1e-12
failures = []
worst = [0.0, ""]
count = [0]


def check(what, got, want):
    count[0] += 1
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), np.finfo(float).tiny)
    if not err <= TOLERANCE:
        failures.append("%s: %.3g" % (what, err))
    if err > worst[0]:
        worst[:] = [err, what]
    return err


# Column blocks of a Keras weight in PyTorch's gate order.
GATE_ORDER = {"SimpleRNN": [0], "LSTM": [0, 1, 2, 3], "GRU": [1, 0, 2]}


def to_torch_order(w, cls, units):
    """Keras's (..., gates * U) columns reordered to PyTorch's gate order."""
    blocks = [w[..., g * units:(g + 1) * units] for g in GATE_ORDER[cls]]
    return torch.cat(blocks, dim=-1)


def from_torch_order(w, cls, units):
    """The inverse of to_torch_order (every permutation here is its own inverse)."""
    return to_torch_order(w, cls, units)


def torch_module(cls, in_features, units, activation, bidirectional):
    kw = dict(batch_first=True, bidirectional=bidirectional)
    if cls == "SimpleRNN":
        return torch.nn.RNN(in_features, units, nonlinearity=activation, **kw)
    return getattr(torch.nn, cls)(in_features, units, **kw)


def load_direction(module, sfx, cls, units, kernel, recurrent_kernel, bias):
    """Copies one direction's Keras weights into the module's parameters."""
    with torch.no_grad():
        getattr(module, "weight_ih_l0" + sfx).copy_(to_torch_order(kernel, cls, units).T)
        getattr(module, "weight_hh_l0" + sfx).copy_(to_torch_order(recurrent_kernel, cls, units).T)
        if cls == "GRU":
            getattr(module, "bias_ih_l0" + sfx).copy_(to_torch_order(bias[0], cls, units))
            getattr(module, "bias_hh_l0" + sfx).copy_(to_torch_order(bias[1], cls, units))
        else:  # one Keras bias: PyTorch's two biases are summed, the second set to 0
            getattr(module, "bias_ih_l0" + sfx).copy_(to_torch_order(bias, cls, units))
            getattr(module, "bias_hh_l0" + sfx).zero_()


def direction_grads(module, sfx, cls, units):
    """d objective / d the Keras weights of one direction, from the module's."""
    g = {"kernel": from_torch_order(getattr(module, "weight_ih_l0" + sfx).grad.T, cls, units),
         "recurrent_kernel": from_torch_order(getattr(module, "weight_hh_l0" + sfx).grad.T, cls, units)}
    b_ih = from_torch_order(getattr(module, "bias_ih_l0" + sfx).grad, cls, units)
    b_hh = from_torch_order(getattr(module, "bias_hh_l0" + sfx).grad, cls, units)
    if cls == "GRU":
        g["bias"] = torch.stack([b_ih, b_hh])
    else:
        check("%s: PyTorch's two bias gradients agree" % cls, b_hh.numpy(), b_ih.numpy())
        g["bias"] = b_ih
    return g


def run_case(cls, units, in_features, steps, batch, seed, activation="tanh", go_backwards=False,
             with_initial=False, bidirectional=False):
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return (torch.rand(*shape, generator=gen) * 1.2 - 0.6)

    n_states = 2 if cls == "LSTM" else 1
    gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[cls]
    directions = ["forward", "backward"] if bidirectional else ["forward"]
    weights = {}
    for d in directions:
        weights[d] = {"kernel": rand(in_features, gates * units), "recurrent_kernel": rand(units, gates * units),
                      "bias": rand(2, gates * units) if cls == "GRU" else rand(gates * units)}
    x = rand(batch, steps, in_features)
    init = [rand(batch, units) for _ in range(n_states)] if with_initial else None
    label = "%s(units=%d%s%s%s%s) T=%d batch=%d" % (
        cls, units, ", activation=%s" % activation if cls == "SimpleRNN" else "",
        ", go_backwards" if go_backwards else "", ", initial states" if with_initial else "",
        ", Bidirectional concat" if bidirectional else "", steps, batch)

    # ---- keras_torch
    kw = dict(return_sequences=True, return_state=True)
    if cls == "SimpleRNN":
        layer = SimpleRNN(units, activation=activation, go_backwards=go_backwards, **kw)
    elif cls == "LSTM":
        layer = LSTM(units, go_backwards=go_backwards, **kw)
    else:
        layer = GRU(units, reset_after=True, go_backwards=go_backwards, **kw)
    P = {}
    for d in directions:
        for k, v in weights[d].items():
            P["%s/%s" % (d, k)] = v.clone().requires_grad_(True)
    xk = x.clone().requires_grad_(True)
    initk = [s.clone().requires_grad_(True) for s in init] if init else None
    if bidirectional:
        wrapper = Bidirectional(layer)
        wrapper.inner.name = "inner"
        # the weight prefixes Bidirectional uses, mapped onto the names above
        P = {k.replace("forward/", "net/forward_inner/").replace("backward/", "net/backward_inner/"): v
             for k, v in P.items()}
        outs = wrapper.call_all(P, "net", xk, None)
        seq_k = outs[0]
        states_k = [torch.stack([outs[1 + i], outs[1 + n_states + i]]) for i in range(n_states)]
    else:
        outs = layer.run(P, "forward", xk, initk, go_backwards)
        seq_k, states_k = outs[0], [s.unsqueeze(0) for s in outs[1:]]

    # ---- torch.nn
    module = torch_module(cls, in_features, units, activation, bidirectional).double()
    load_direction(module, "", cls, units, **weights["forward"])
    if bidirectional:
        load_direction(module, "_reverse", cls, units, **weights["backward"])
    xt = x.clone().requires_grad_(True)
    initt = [s.clone().unsqueeze(0).requires_grad_(True) for s in init] if init else None
    xin = torch.flip(xt, dims=[1]) if go_backwards else xt  # Keras's order of processing
    if cls == "LSTM":
        seq_t, (h_t, c_t) = module(xin, tuple(initt) if initt else None)
        states_t = [h_t, c_t]
    else:
        seq_t, h_t = module(xin, initt[0] if initt else None)
        states_t = [h_t]

    check(label + ": sequence output", seq_k.detach().numpy(), seq_t.detach().numpy())
    for i in range(n_states):
        check(label + ": final state %d" % i, states_k[i].detach().numpy(), states_t[i].detach().numpy())

    # ---- gradients of one random objective of every output
    probes = [torch.randn(seq_t.shape, generator=gen)] + [torch.randn(s.shape, generator=gen) for s in states_t]

    def objective(seq, states):
        return (probes[0] * seq).sum() + sum((p * s).sum() for p, s in zip(probes[1:], states))

    objective(seq_k, states_k).backward()
    objective(seq_t, states_t).backward()
    for d, sfx in zip(directions, ["", "_reverse"]):
        grads_t = direction_grads(module, sfx, cls, units)
        for k in ("kernel", "recurrent_kernel", "bias"):
            name = ("net/%s_inner/%s" % (d, k)) if bidirectional else "forward/" + k
            check(label + ": d/d %s %s" % (d, k), P[name].grad.numpy(), grads_t[k].numpy())
    check(label + ": d/d input", xk.grad.numpy(), xt.grad.numpy())
    if init:
        for i in range(n_states):
            check(label + ": d/d initial state %d" % i, initk[i].grad.numpy(), initt[i].grad.squeeze(0).numpy())


def check_noise():
    """keras_torch's copy of rnnc's counter-based generator draws the values
    tests/c/test_reference.c pins for rnnc_noise_value, and its masks have
    the distributions: dropout keeps 1 - rate scaled by 1 / (1 - rate)."""
    from keras_torch import noise_masks, noise_salt, noise_value
    check("noise: value of the gaussian kind", np.array([noise_value(2, 1.0, 42, 7, 3, 5, 11)]),
          np.array([0.84605282406734417]))
    check("noise: value of the gaussian dropout kind", np.array([noise_value(3, 0.5, 42, 7, 3, 5, 12)]),
          np.array([-0.23271633668682568]))
    check("noise: FNV-1a salt of 'a'", np.array([float(noise_salt("a"))]), np.array([float(0x2f63dc4c8601ec8c)]))
    m = noise_masks(1, 0.25, "dropout", 1, 40, 100).numpy()
    kept = np.mean(m != 0)
    if not (abs(kept - 0.75) < 0.03 and np.all((m == 0) | (m == 1 / 0.75))):
        failures.append("noise: a dropout mask keeps %.3f, not 0.75 scaled by 4/3" % kept)


def main():
    torch.set_default_dtype(torch.float64)
    seed = 0
    shapes = [(3, 2, 4, 3), (5, 4, 2, 2), (2, 3, 6, 4)]  # units, in, T, batch
    for cls in ("SimpleRNN", "LSTM", "GRU"):
        activations = ("tanh", "relu") if cls == "SimpleRNN" else ("tanh",)
        for units, in_features, steps, batch in shapes:
            for activation in activations:
                for go_backwards in (False, True):
                    for with_initial in (False, True):
                        seed += 1
                        run_case(cls, units, in_features, steps, batch, seed, activation=activation,
                                 go_backwards=go_backwards, with_initial=with_initial)
                seed += 1
                run_case(cls, units, in_features, steps, batch, seed, activation=activation, bidirectional=True)
    check_noise()
    for f in failures:
        print("FAIL " + f)
    print("selftest: %d comparisons against torch.nn (RNN, LSTM, GRU, bidirectional), worst %.2e (%s); "
          "tolerance %g: %s" % (count[0], worst[0], worst[1], TOLERANCE, "FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
