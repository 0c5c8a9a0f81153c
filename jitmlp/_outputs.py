"""Output function O, its loss, and grad a_L, in canonical pairs.

Each pair is chosen so that the gradient of the loss w.r.t. the output pre-activation is
grad a_L = ŷ - y (the lecture's -(e(y) - ŷ)):

=============  ===========  ========================================  ==================
public loss    O (a_L)      per-sample loss                            used for
=============  ===========  ========================================  ==================
log_loss       softmax      -Σ_o y_o log ŷ_o                            multiclass
log_loss       logistic     -Σ_o [y_o log ŷ_o + (1-y_o) log(1-ŷ_o)]     binary, multilabel
squared_error  identity     ½ Σ_o (y_o - ŷ_o)²  (reported ÷ n_outputs)   regression
poisson        exp          Σ_o [y_o log(y_o/ŷ_o) - y_o + ŷ_o]          count regression
=============  ===========  ========================================  ==================

Probabilities are clipped to [eps, 1 - eps] inside the log exactly as scikit-learn clips them,
and softmax is shifted by the row maximum. The reported squared error is divided by the number
of outputs, as scikit-learn reports it, while the gradient is that of the sum over outputs (also
as scikit-learn computes it); the two agree for a single output.
"""

from __future__ import annotations

import numpy as np

from ._config import jit
from ._elementary import exp, logistic
from ._views import as_flat

O_IDENTITY, O_LOGISTIC, O_SOFTMAX, O_EXP = 0, 1, 2, 3
OUTPUTS = {"identity": O_IDENTITY, "logistic": O_LOGISTIC, "softmax": O_SOFTMAX, "exp": O_EXP}


@jit
def O_rows(a, code):
    """ŷ = O(a_L) in place for a C-contiguous block of rows.

    The elementwise part (exp, logistic) runs as one loop over the whole block, which LLVM
    vectorizes (a row of a few outputs alone would leave it mostly scalar). Softmax: each row is
    shifted by its maximum first, and after the exp divided by its sum, taken left to right.
    """
    flat = as_flat(a)
    if code == O_LOGISTIC:
        for p in range(flat.shape[0]):
            flat[p] = logistic(flat[p])
    elif code == O_SOFTMAX:
        for r in range(a.shape[0]):
            row = a[r]
            m = row[0]
            for j in range(1, row.shape[0]):
                if row[j] > m:
                    m = row[j]
            for j in range(row.shape[0]):
                row[j] -= m
        for p in range(flat.shape[0]):
            flat[p] = exp(flat[p])
        for r in range(a.shape[0]):
            row = a[r]
            s = row.dtype.type(0)
            for j in range(row.shape[0]):
                s += row[j]
            for j in range(row.shape[0]):
                row[j] /= s
    elif code == O_EXP:
        for p in range(flat.shape[0]):
            flat[p] = exp(flat[p])


@jit(inline="always")  # per-row helper: inlined, no per-call array refcounting
def _xlogy(x, y):
    """x log y with 0 log y = 0, as scipy.special.xlogy (float64)."""
    if x == 0.0:
        return 0.0
    return x * np.log(y)


@jit(inline="always")
def sample_loss(y_hat, r, Y, n, code, eps):
    """The loss of sample n (row r of ŷ) summed over outputs, in float64 (the table above).

    Rows are indexed in place, never taken as views: a row view is a reference-counted object,
    and with the output function chosen per row its counting stayed inside the loop.
    """
    total = 0.0
    m = y_hat.shape[1]
    if code == O_IDENTITY:
        for j in range(m):
            d = float(Y[n, j]) - float(y_hat[r, j])
            total += 0.5 * d * d
    elif code == O_SOFTMAX:
        for j in range(m):
            p = min(max(float(y_hat[r, j]), eps), 1.0 - eps)
            total -= _xlogy(float(Y[n, j]), p)
    elif code == O_LOGISTIC:
        for j in range(m):
            p = min(max(float(y_hat[r, j]), eps), 1.0 - eps)
            t = float(Y[n, j])
            total -= _xlogy(t, p) + _xlogy(1.0 - t, 1.0 - p)
    else:  # O_EXP with the Poisson deviance
        for j in range(m):
            t = float(Y[n, j])
            p = float(y_hat[r, j])
            total += _xlogy(t, t / p) - t + p
    return total


@jit(inline="always")
def _loss_and_grad_rows(Y, sw, idx, y_hat, grad_a, code, eps):
    total = 0.0
    for r in range(idx.shape[0]):
        n = idx[r]
        total += float(sw[n]) * sample_loss(y_hat, r, Y, n, code, eps)
        grad_a_L_row(y_hat, r, Y, n, sw[n], grad_a)
    return total


@jit
def loss_and_grad_a_L(Y, sw, idx, y_hat, grad_a, code, eps):
    """Σ_r w_n·loss_n (float64, n = idx[r]) and grad a_L = (ŷ - y)·w, the canonical pairs'
    shared gradient, row by row.

    One row loop per output function, each with its code as a constant (inlined): a run-time
    code inside the loop keeps the loop from being optimized for the function (a several-fold
    slowdown, docs/performance.md).
    """
    if code == O_SOFTMAX:
        return _loss_and_grad_rows(Y, sw, idx, y_hat, grad_a, O_SOFTMAX, eps)
    if code == O_LOGISTIC:
        return _loss_and_grad_rows(Y, sw, idx, y_hat, grad_a, O_LOGISTIC, eps)
    if code == O_IDENTITY:
        return _loss_and_grad_rows(Y, sw, idx, y_hat, grad_a, O_IDENTITY, eps)
    return _loss_and_grad_rows(Y, sw, idx, y_hat, grad_a, O_EXP, eps)


@jit(inline="always")
def grad_a_L_row(y_hat, r, Y, n, w, grad_a):
    """Row r of grad a_L = (ŷ - y)·w for sample n of weight w, in ŷ's dtype."""
    T = y_hat.dtype.type
    for j in range(y_hat.shape[1]):
        grad_a[r, j] = (y_hat[r, j] - T(Y[n, j])) * w
