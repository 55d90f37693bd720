"""Independent references for tests/c/test_metrics.c: Keras 3's metrics
transcribed op by op into NumPy (keras/src/metrics: reduction_metrics.py
Mean, regression_metrics.py RootMeanSquaredError, losses.py
mean_absolute_percentage_error, accuracy_metrics.py top-k with the JAX
backend's in_top_k, confusion_metrics.py Precision/Recall/AUC with
metrics_utils.py update_confusion_matrix_variables on float32 variables).
Each case is the test's data, fed batch by batch to a stateful metric, and
the value printed is what Keras's result() gives; the C test hard-codes
them. Run: python3 tests/c/metrics_reference.py (NumPy only; no Keras
needed, nothing is written)."""

import numpy as np

F = np.float32
EPS = F(1e-7)  # keras.backend.epsilon()


class Mean:
    """reduction_metrics.Mean: total += sum of per-sample values (the mean
    over non-batch axes), count += batch size; result total / count."""

    def __init__(self, fn):
        self.fn, self.total, self.count = fn, 0.0, 0

    def update(self, y, p):
        v = np.asarray(self.fn(y, p), dtype=np.float64)
        v = v.reshape(v.shape[0], -1).mean(axis=1)
        self.total += v.sum()
        self.count += v.shape[0]

    def result(self):
        return self.total / self.count


class RMSE(Mean):
    def __init__(self):
        super().__init__(lambda y, p: np.square(p - y))

    def result(self):
        return np.sqrt(self.total / self.count)


def mape(y, p):
    diff = np.abs((y - p) / np.maximum(np.abs(y), 1e-7))
    return 100.0 * diff.mean(axis=-1)


def in_top_k(targets, predictions, k):
    # keras/src/backend/jax/math.py in_top_k
    at = np.take_along_axis(predictions, targets[:, None], axis=-1)
    at = np.where(np.isnan(at), -np.inf, at)
    rank = 1 + np.sum(predictions > at, axis=-1)
    return rank <= k


def top_k(y, p, k=5):
    shape = y.shape[:-1]
    labels = np.argmax(y, axis=-1).reshape(-1)
    return in_top_k(labels, p.reshape(-1, p.shape[-1]), k).reshape(shape).astype(float)


# A label outside the classes is not in the top k: TF's InTopK kernel's
# bounds check (tensorflow/core/kernels/in_topk_op.h), rnnc's rule too.
def sparse_top_k(y, p, k=5):
    shape = y.shape[:-1]
    labels = y.reshape(-1).astype(int)
    preds = p.reshape(-1, p.shape[-1])
    ok = (labels >= 0) & (labels < preds.shape[-1])
    hit = np.zeros(labels.shape, bool)
    hit[ok] = in_top_k(labels[ok], preds[ok], k)
    return hit.reshape(shape).astype(float)


class Confusion:
    """Precision/Recall (threshold 0.5, the non-optimized path) and AUC (200
    thresholds with epsilon ends, the optimized bucket path), on float32."""

    def __init__(self, kind):
        self.kind = kind
        n = 200 if kind == "auc" else 1
        self.tp, self.fp, self.tn, self.fn = (np.zeros(n, F) for _ in range(4))

    def update(self, y, p):
        y = y.astype(F).reshape(-1)
        p = p.astype(F).reshape(-1)
        if self.kind == "auc":
            n = 200
            p = np.clip(p, F(0), F(1))
            yb = (y != 0).astype(F)
            b = np.ceil(p * F(n - 1)) - F(1)
            b = np.maximum(b, F(0)).astype(np.int32)  # thresholds_with_epsilon
            tpb = np.zeros(n, F)
            fpb = np.zeros(n, F)
            np.add.at(tpb, b, yb)
            np.add.at(fpb, b, F(1) - yb)
            tp = np.flip(np.cumsum(np.flip(tpb)))
            fp = np.flip(np.cumsum(np.flip(fpb)))
            self.tp += tp
            self.fp += fp
            self.tn += yb.size - yb.sum() - fp
            self.fn += yb.sum() - tp
        else:
            pos = p > F(0.5)
            lab = y != 0
            self.tp += np.sum(pos & lab)
            self.fp += np.sum(pos & ~lab)
            self.fn += np.sum(~pos & lab)

    def result(self):
        def dnn(a, b):
            return np.where(b == 0, F(0), a / np.where(b == 0, F(1), b))

        if self.kind == "precision":
            return float(dnn(self.tp, self.tp + self.fp)[0])
        if self.kind == "recall":
            return float(dnn(self.tp, self.tp + self.fn)[0])
        recall = dnn(self.tp, self.tp + self.fn)
        fpr = dnn(self.fp, self.fp + self.tn)
        heights = (recall[:-1] + recall[1:]) / F(2)
        return float(np.sum((fpr[:-1] - fpr[1:]) * heights))


def run(metric, p, y, sizes, rows=1, cols=1, tcols=None):
    tcols = cols if tcols is None else tcols
    p = np.asarray(p, float).reshape(-1, rows, cols)
    y = np.asarray(y, float).reshape(-1, rows, tcols)
    if rows == 1:
        p, y = p[:, 0], y[:, 0]
    at = 0
    for s in sizes:
        metric.update(y[at:at + s], p[at:at + s])
        at += s
    return metric.result()


def show(name, got, want):
    flag = "ok" if abs(got - want) <= 1e-6 * max(1.0, abs(want)) else "DIFFERS"
    print(f"{name:55s} {got:.17g} (test: {want!r}) {flag}")


show("rmse", run(RMSE(), [1, 1, 1, -1, 0, 2, 3, 3], [0] * 8, [3, 1], cols=2), np.sqrt(13 / 4))
show("mse", run(Mean(lambda y, p: np.square(p - y)), [1, 1, 1, -1, 0, 2, 3, 3], [0] * 8, [3, 1],
                cols=2), 13 / 4)
show("mape", run(Mean(mape), [1, 1e-8, -3, 1], [2, 0, -4, 1], [3, 1]), 21.25)
P7 = [.1, .2, .3, .4, .5, .6, .7, .1, .2, .3, .4, .5, .6, .7,
      .9, .8, .7, .6, .3, .3, .3, .5, .5, .5, .5, .5, .5, .5]
Y7 = np.zeros(28)
for r, c in enumerate([1, 2, 6, 3]):
    Y7[r * 7 + c] = 1
show("top_k", run(Mean(top_k), P7, Y7, [3, 1], cols=7), 0.75)
show("sparse_top_k", run(Mean(sparse_top_k), P7, [1, 2, 6, 3], [3, 1], cols=7, tcols=1), 0.75)
show("sparse_top_k label 7", run(Mean(sparse_top_k), P7, [1, 2, 7, 3], [3, 1], cols=7, tcols=1), 0.5)
show("top_k k >= classes", run(Mean(top_k), [.9, .05, .05], [0, 0, 1], [1], cols=3), 1.0)
show("sparse_top_k rows", run(Mean(sparse_top_k), P7, [2, 1, 6, 3], [1, 1], rows=2, cols=7, tcols=1),
     0.75)
PP = [.9, .6, .5, .7, .55, .8, .3]
YP = [1, 0, 1, 1, 0, 1, 1]
show("precision", run(Confusion("precision"), PP, YP, [3, 4]), 0.6)
show("recall", run(Confusion("recall"), PP, YP, [3, 4]), 0.6)
PP2 = [.9, .5, .7, .55, .8, .3]
YP2 = [1, 1, 1, 0, 1, 1]
show("precision split 2", run(Confusion("precision"), PP2, YP2, [1, 5]), 0.75)
show("recall split 2", run(Confusion("recall"), PP2, YP2, [1, 5]), 0.6)
show("precision none positive", run(Confusion("precision"), [.1, .2], [1, 0], [2]), 0.0)
show("precision 2x2", run(Confusion("precision"), [.9, .2, .6, .7], [1, 0, 0, 1], [1], rows=2, cols=2),
     2 / 3)
show("recall 2x2", run(Confusion("recall"), [.9, .2, .6, .7], [1, 0, 0, 1], [1], rows=2, cols=2), 1.0)
show("auc", run(Confusion("auc"), [.1, .35, .4, .8], [0, 1, 0, 1], [2, 2]), 0.75)
show("auc one bucket", run(Confusion("auc"), [.5024, .501], [1, 0], [2]), 0.5)
show("auc two buckets", run(Confusion("auc"), [.503, .501], [1, 0], [2]), 1.0)
show("auc on a threshold", run(Confusion("auc"), [1.0, .999], [1, 0], [2]), 0.5)
show("auc clipped", run(Confusion("auc"), [1.3, -0.2], [1, 0], [2]), 1.0)
show("auc no negative", run(Confusion("auc"), [.503, .501], [1, 1], [2]), 0.0)
show("binary_accuracy", run(Mean(lambda y, p: ((p > .5) == (y > .5)).astype(float)),
                            [.9, .1, .9, .9], [1, 0, 0, 0], [3, 1]), 0.5)
show("mae", run(Mean(lambda y, p: np.abs(p - y)), [.9, .1, .9, .9], [1, 0, 0, 0], [3, 1]), 0.5)
