"""PyTorch side of the benchmark: a child process of bench/stream or
bench/train that answers one line per command on stdin.

  python3 torch_peer.py stream lstm|gru H FILE.safetensors
  python3 torch_peer.py train seed12|seed13|seed14|lstm128 FILE.safetensors

FILE holds the model's weights under their Keras names, in the unit's order,
and the data ("bench/x", "bench/target"). Commands:

  ready                  -> "ready" once the model is built
  verify N OUT (stream)  -> from a zero state, N steps over bench/x; OUT gets
                            the N outputs as little-endian float64
  verify OUT (train)     -> loss and gradients at the initial weights, in the
                            Keras layout and order, to OUT as float64
  time step K            -> K units of work, answered with the elapsed ns
                            (of the clock BENCH_CLOCK selects, as the harness)
                            (stream: K timesteps, the state carried on;
                            train: K steps of forward, backward and Adam)
  time fwdbwd K          -> (train) K forward + backward passes, no update
  time fwd K             -> (train) K forward passes and losses, recorded for
                            autograd as in training
  quit

Single-threaded (torch.set_num_threads(1)); the parent pins the core.
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

# The harness's clock (bench/bench.h): this thread's CPU time, or wall time.
clock_ns = time.perf_counter_ns if os.environ.get("BENCH_CLOCK") == "wall" else time.thread_time_ns


def read_safetensors(path):
    """Tensors of a safetensors file, in the file's order, as float32 tensors."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    header.pop("__metadata__", None)
    dtypes = {"F32": np.float32, "F64": np.float64}
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]])
        out[name] = torch.tensor(array.reshape(info["shape"]), dtype=torch.float32)
    return out


def weights_of(tensors):
    """The model's tensors (every name not under bench/), in file order."""
    return [t for name, t in tensors.items() if not name.startswith("bench/")]


def set_param(param, value):
    with torch.no_grad():
        param.copy_(value)


# Keras orders the GRU gate blocks z r h, PyTorch r z n.
def gru_blocks(t, units):
    z, r, h = t[..., :units], t[..., units:2 * units], t[..., 2 * units:]
    return torch.cat([r, z, h], dim=-1)


def load_recurrent(layer, kind, kernel, recurrent, bias):
    """Keras (in, G*H) kernels and bias into a PyTorch nn.RNN/LSTM/GRU."""
    units = recurrent.shape[0]
    if kind == "gru":
        kernel, recurrent, bias = (gru_blocks(t, units) for t in (kernel, recurrent, bias))
    set_param(layer.weight_ih_l0, kernel.T)
    set_param(layer.weight_hh_l0, recurrent.T)
    if bias.dim() == 2:  # GRU reset_after: input bias, recurrent bias
        set_param(layer.bias_ih_l0, bias[0])
        set_param(layer.bias_hh_l0, bias[1])
    else:  # one Keras bias: PyTorch's second bias stays zero
        set_param(layer.bias_ih_l0, bias)
        set_param(layer.bias_hh_l0, torch.zeros_like(bias))


def load_dense(linear, kernel, bias):
    set_param(linear.weight, kernel.T)
    set_param(linear.bias, bias)


def write_f64(path, values):
    np.asarray(values, dtype="<f8").tofile(path)


class Stream:
    """nn.LSTM / nn.GRU stepped one timestep per call, then nn.Linear."""

    def __init__(self, kind, units, tensors):
        kernel, recurrent, bias, dense_kernel, dense_bias = weights_of(tensors)
        self.cell = (nn.LSTM if kind == "lstm" else nn.GRU)(1, units)
        load_recurrent(self.cell, kind, kernel, recurrent, bias)
        self.dense = nn.Linear(units, 1)
        load_dense(self.dense, dense_kernel, dense_bias)
        signal = tensors["bench/x"]
        # inputs prepared once: (seq 1, batch 1, features 1) per step
        self.inputs = [signal[k].reshape(1, 1, 1) for k in range(signal.shape[0])]
        self.state = None
        self.position = 0

    def step(self, reps):
        cell, dense, inputs, n = self.cell, self.dense, self.inputs, len(self.inputs)
        state, k = self.state, self.position
        with torch.no_grad():
            start = clock_ns()
            for _ in range(reps):
                out, state = cell(inputs[k], state)
                y = dense(out)
                k = k + 1 if k + 1 < n else 0
            elapsed = clock_ns() - start
        self.state, self.position = state, k
        del y
        return elapsed

    def verify(self, steps, out):
        ys, state = [], None
        with torch.no_grad():
            for k in range(steps):
                o, state = self.cell(self.inputs[k], state)
                ys.append(float(self.dense(o).reshape(())))
        write_f64(out, ys)
        self.state, self.position = None, 0


class Timed:
    """What every training case times: self.forward, self.loss, self.x,
    self.optimizer and self.keras_grads() (the gradients in Keras's layouts)
    come from the case."""

    def verify(self, out):
        self.optimizer.zero_grad()
        loss = self.loss(self.forward(self.x))
        loss.backward()
        grads = torch.cat([g.reshape(-1) for g in self.keras_grads()])
        write_f64(out, [float(loss)] + grads.double().tolist())

    def fwdbwd(self, reps):
        start = clock_ns()
        for _ in range(reps):
            self.optimizer.zero_grad()
            self.loss(self.forward(self.x)).backward()
        return clock_ns() - start

    def fwd(self, reps):
        start = clock_ns()
        for _ in range(reps):
            loss = self.loss(self.forward(self.x))
        elapsed = clock_ns() - start
        del loss
        return elapsed

    def step(self, reps):
        start = clock_ns()
        for _ in range(reps):
            self.optimizer.zero_grad()
            self.loss(self.forward(self.x)).backward()
            self.optimizer.step()
        return clock_ns() - start


class ReluLSTM(nn.Module):
    """Keras's LSTM(activation="relu"): nn.LSTM has tanh built in, so this is
    the cell written out with the Keras-layout tensors, batch first."""

    def __init__(self, kernel, recurrent, bias):
        super().__init__()
        self.kernel = nn.Parameter(kernel.clone())
        self.recurrent_kernel = nn.Parameter(recurrent.clone())
        self.bias = nn.Parameter(bias.clone())

    def forward(self, x):
        units = self.recurrent_kernel.shape[0]
        batch, steps, _ = x.shape
        h = x.new_zeros(batch, units)
        c = x.new_zeros(batch, units)
        projected = x @ self.kernel + self.bias
        for t in range(steps):
            z = projected[:, t] + h @ self.recurrent_kernel
            i, f, g, o = z.split(units, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.relu(g)
            h = torch.sigmoid(o) * torch.relu(c)
        return h


class Train(Timed):
    """The training models: forward, the Keras loss, backward, Adam."""

    def __init__(self, name, tensors):
        w = weights_of(tensors)
        self.x = tensors["bench/x"]
        target = tensors["bench/target"]
        if name in ("seed12", "seed13"):
            kind = "rnn" if name == "seed12" else "lstm"
            cls = nn.RNN if kind == "rnn" else nn.LSTM
            self.rnn = cls(w[0].shape[0], w[1].shape[0], batch_first=True)
            load_recurrent(self.rnn, kind, w[0], w[1], w[2])
            self.dense = nn.Linear(w[3].shape[0], w[3].shape[1])
            load_dense(self.dense, w[3], w[4])
            self.modules = [self.rnn, self.dense]
            # logits of every timestep; Keras fuses softmax into the crossentropy
            self.forward = lambda x: self.dense(self.rnn(x)[0])
            labels = target.reshape(-1).long()
            self.loss = lambda logits: nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels)
            self.keras_grads = lambda: [self.rnn.weight_ih_l0.grad.T, self.rnn.weight_hh_l0.grad.T,
                                        self.rnn.bias_ih_l0.grad, self.dense.weight.grad.T,
                                        self.dense.bias.grad]
        elif name == "seed14":
            self.lstm = ReluLSTM(w[0], w[1], w[2])
            self.dense = nn.Linear(w[3].shape[0], w[3].shape[1])
            load_dense(self.dense, w[3], w[4])
            self.dense_1 = nn.Linear(w[5].shape[0], w[5].shape[1])
            load_dense(self.dense_1, w[5], w[6])
            self.modules = [self.lstm, self.dense, self.dense_1]
            self.forward = lambda x: self.dense_1(torch.relu(self.dense(self.lstm(x))))
            self.loss = lambda y: nn.functional.mse_loss(y, target.reshape(y.shape))
            self.keras_grads = lambda: [self.lstm.kernel.grad, self.lstm.recurrent_kernel.grad,
                                        self.lstm.bias.grad, self.dense.weight.grad.T,
                                        self.dense.bias.grad, self.dense_1.weight.grad.T,
                                        self.dense_1.bias.grad]
        elif name == "lstm128":
            self.rnn = nn.LSTM(w[0].shape[0], w[1].shape[0], batch_first=True)
            load_recurrent(self.rnn, "lstm", w[0], w[1], w[2])
            self.dense = nn.Linear(w[3].shape[0], w[3].shape[1])
            load_dense(self.dense, w[3], w[4])
            self.modules = [self.rnn, self.dense]
            self.forward = lambda x: self.dense(self.rnn(x)[0][:, -1])
            labels = target.reshape(-1).long()
            self.loss = lambda logits: nn.functional.cross_entropy(logits, labels)
            self.keras_grads = lambda: [self.rnn.weight_ih_l0.grad.T, self.rnn.weight_hh_l0.grad.T,
                                        self.rnn.bias_ih_l0.grad, self.dense.weight.grad.T,
                                        self.dense.bias.grad]
        else:
            raise SystemExit(f"torch_peer: unknown training model {name}")
        params = [p for m in self.modules for p in m.parameters()]
        # Keras's Adam defaults (epsilon 1e-7)
        self.optimizer = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)


def main(argv):
    if len(argv) >= 5 and argv[1] == "stream":
        model = Stream(argv[2], int(argv[3]), read_safetensors(argv[4]))
    elif len(argv) >= 4 and argv[1] == "train":
        model = Train(argv[2], read_safetensors(argv[3]))
    else:
        raise SystemExit(__doc__)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "ready":
            reply = "ready"
        elif words[0] == "verify":
            if isinstance(model, Stream):
                model.verify(int(words[1]), words[2])
            else:
                model.verify(words[1])
            reply = "ok"
        elif words[0] == "time" and words[1] == "step":
            reply = str(model.step(int(words[2])))
        elif words[0] == "time" and words[1] == "fwdbwd":
            reply = str(model.fwdbwd(int(words[2])))
        elif words[0] == "time" and words[1] == "fwd":
            reply = str(model.fwd(int(words[2])))
        else:
            reply = "error: unknown command " + line.strip()
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
