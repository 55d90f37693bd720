"""The coefficients of rnnc_tanhf (runtime/rnnc_kernels.h).

tanh(x) ~ x P(s) / Q(s), s = x * x, P of degree 6 and Q of degree 3 in s
(13 and 6 in x), Q(0) = 1, on [0, 9] (beyond 9 tanh is 1 to within a float
ulp, and the kernel clamps x to [-9, 9]). The relative error is minimised by
Sanathanan-Koerner iterations of a weighted linear least-squares fit (the
denominator of the last iterate as the weight), then Lawson reweighting
towards the minimax solution. Prints the largest relative error in exact
arithmetic and the coefficients, lowest degree first.

Needs numpy only: python3 tests/units/fit_tanhf.py
"""
import numpy as np

NP, NQ = 7, 4  # coefficients of P and Q
x = np.sort(np.concatenate([np.linspace(0, 9, 40001)[1:], np.geomspace(1e-6, 1e-2, 200)]))
f = np.tanh(x) / x
t = x * x / 81.0  # s scaled to [0, 1] for conditioning
wq = np.ones_like(t)
lw = np.ones_like(t)
for it in range(60):
    a = np.hstack([np.vander(t, NP, increasing=True),
                   -(f[:, None] * np.vander(t, NQ, increasing=True)[:, 1:])])
    w = lw / (wq * f)  # relative error
    c, *_ = np.linalg.lstsq(a * w[:, None], f * w, rcond=None)
    p, q = c[:NP], np.concatenate([[1.0], c[NP:]])
    pv, qv = np.polyval(p[::-1], t), np.polyval(q[::-1], t)
    err = (pv / qv - f) / f
    wq = np.abs(qv)
    if it >= 10:
        lw = lw * np.sqrt(np.abs(err) / np.abs(err).max()) + 1e-12
        lw /= lw.max()
print("largest relative error on [0, 9]: %.3g" % np.abs(err).max())
for k in range(NP):
    print("P%d %.17g" % (k, p[k] / 81.0 ** k))
for k in range(NQ):
    print("Q%d %.17g" % (k, q[k] / 81.0 ** k))
