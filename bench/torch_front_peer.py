"""PyTorch side of the front-end benchmark cases (bench/run.sh, part 5): the
same line protocol as bench/torch_peer.py, whose helpers it uses.

  python3 torch_front_peer.py train conv_lstm FILE.safetensors
  python3 torch_front_peer.py stream conv_gru FILE.safetensors

conv_lstm: bench/models/conv_lstm_train.lua, nn.Conv1d(8, 32, 3) + ReLU on
(batch, channels, steps), nn.LSTM(32, 64), the last h into nn.Linear(64, 1),
mse_loss, Adam (Keras's defaults).

conv_gru: bench/models/conv_gru_stream.lua stepped one timestep per call as a
PyTorch programmer streams a causal dilated stack: each nn.Conv1d(dilation d,
no padding) keeps a window of its last (kernel_size - 1) * d + 1 inputs,
shifted by one step per call, and is applied to that window alone (one
output); then nn.GRU on one step with the carried h, and nn.Linear.

Keras's Conv1D kernel is (kernel_size, in, filters), PyTorch's weight
(filters, in, kernel_size): permute(2, 1, 0) both ways.
"""
import sys

import torch
from torch import nn

sys.dont_write_bytecode = True  # no __pycache__ beside the benchmark's sources
from torch_peer import (Timed, clock_ns, load_dense, load_recurrent, read_safetensors,
                        set_param, weights_of, write_f64)


def conv_from_keras(kernel, bias, dilation=1):
    k, cin, cout = kernel.shape
    conv = nn.Conv1d(cin, cout, k, dilation=dilation)
    set_param(conv.weight, kernel.permute(2, 1, 0))
    set_param(conv.bias, bias)
    return conv


class ConvLSTMTrain(Timed):
    def __init__(self, tensors):
        w = weights_of(tensors)
        self.x = tensors["bench/x"]
        target = tensors["bench/target"]
        self.conv = conv_from_keras(w[0], w[1])
        self.rnn = nn.LSTM(w[2].shape[0], w[3].shape[0], batch_first=True)
        load_recurrent(self.rnn, "lstm", w[2], w[3], w[4])
        self.dense = nn.Linear(w[5].shape[0], w[5].shape[1])
        load_dense(self.dense, w[5], w[6])
        self.modules = [self.conv, self.rnn, self.dense]
        self.loss = lambda y: nn.functional.mse_loss(y, target.reshape(y.shape))
        params = [p for m in self.modules for p in m.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    def forward(self, x):
        h = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        return self.dense(self.rnn(h)[0][:, -1])

    def keras_grads(self):
        return [self.conv.weight.grad.permute(2, 1, 0), self.conv.bias.grad,
                self.rnn.weight_ih_l0.grad.T, self.rnn.weight_hh_l0.grad.T,
                self.rnn.bias_ih_l0.grad, self.dense.weight.grad.T, self.dense.bias.grad]


class ConvGRUStream:
    DILATIONS = (1, 2, 4, 8)

    def __init__(self, tensors):
        w = weights_of(tensors)
        self.convs = []
        for i, d in enumerate(self.DILATIONS):
            self.convs.append(conv_from_keras(w[2 * i], w[2 * i + 1], d))
        n = 2 * len(self.DILATIONS)
        self.gru = nn.GRU(w[n].shape[0], w[n + 1].shape[0])
        load_recurrent(self.gru, "gru", w[n], w[n + 1], w[n + 2])
        self.dense = nn.Linear(w[n + 3].shape[0], 1)
        load_dense(self.dense, w[n + 3], w[n + 4])
        signal = tensors["bench/x"]
        # one (batch 1, channels 1, steps 1) tensor per step, prepared once
        self.inputs = [signal[k].reshape(1, 1, 1) for k in range(signal.shape[0])]
        self.reset()

    def reset(self):
        # each layer's window of its last (k - 1) * d + 1 inputs, zeros before the start
        self.windows = [torch.zeros(1, c.in_channels, (c.kernel_size[0] - 1) * c.dilation[0] + 1)
                        for c in self.convs]
        self.h = None
        self.position = 0

    def one(self, x):
        windows = self.windows
        for i, conv in enumerate(self.convs):
            windows[i] = torch.cat((windows[i][:, :, 1:], x), dim=2)
            x = torch.relu(conv(windows[i]))
        out, self.h = self.gru(x.reshape(1, 1, -1), self.h)
        return self.dense(out)

    def step(self, reps):
        inputs, n, k = self.inputs, len(self.inputs), self.position
        with torch.no_grad():
            start = clock_ns()
            for _ in range(reps):
                y = self.one(inputs[k])
                k = k + 1 if k + 1 < n else 0
            elapsed = clock_ns() - start
        self.position = k
        del y
        return elapsed

    def verify(self, steps, out):
        self.reset()
        with torch.no_grad():
            ys = [float(self.one(self.inputs[k]).reshape(())) for k in range(steps)]
        write_f64(out, ys)
        self.reset()


def main(argv):
    if len(argv) >= 4 and argv[1] == "train" and argv[2] == "conv_lstm":
        model = ConvLSTMTrain(read_safetensors(argv[3]))
    elif len(argv) >= 4 and argv[1] == "stream" and argv[2] == "conv_gru":
        model = ConvGRUStream(read_safetensors(argv[3]))
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
            if isinstance(model, ConvGRUStream):
                model.verify(int(words[1]), words[2])
            else:
                model.verify(words[1])
            reply = "ok"
        elif words[0] == "time" and words[1] in ("step", "fwdbwd", "fwd"):
            reply = str(getattr(model, words[1])(int(words[2])))
        else:
            reply = "error: unknown command " + line.strip()
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
