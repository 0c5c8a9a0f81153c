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
huber          identity     Σ_o ρ_δ(y_o - ŷ_o)  (reported ÷ n_outputs)   regression, outliers
=============  ===========  ========================================  ==================

with the Huber function ρ_δ(r) = ½ r² for |r| <= δ, δ (|r| - ½ δ) beyond: quadratic near zero,
linear in the tails, so that an outlier pulls on the fit with at most δ. Its gradient is the
clipped residual, grad a_L = clip(ŷ - y, -δ, δ) (times the sample's weight), the one pair whose
gradient is not ŷ - y itself.

The loss kernel takes one parameter, ``loss_param``: the ``eps`` of the log losses, δ of the
Huber loss. Probabilities are clipped to [eps, 1 - eps] inside the log exactly as scikit-learn
clips them, and softmax is shifted by the row maximum. The reported squared error (and Huber
loss) is divided by the number of outputs, as scikit-learn reports it, while the gradient is
that of the sum over outputs (also as scikit-learn computes it); the two agree for a single
output.
"""

from __future__ import annotations

import numpy as np

from ._config import jit
from ._elementary import exp, logistic
from ._views import as_flat

O_IDENTITY, O_LOGISTIC, O_SOFTMAX, O_EXP, O_HUBER = 0, 1, 2, 3, 4
# out_activation_ -> code; the Huber loss has the identity output (out_activation_ "identity")
OUTPUTS = {"identity": O_IDENTITY, "logistic": O_LOGISTIC, "softmax": O_SOFTMAX, "exp": O_EXP}
MEAN_OVER_OUTPUTS = (O_IDENTITY, O_HUBER)  # losses reported ÷ n_outputs, as scikit-learn does


def output_code(out_activation: str, loss: str) -> int:
    """The code of an estimator's (output function, loss) pair."""
    return O_HUBER if loss == "huber" else OUTPUTS[out_activation]


@jit(inline="always")  # per-row helper: inlined, no per-call array refcounting
def _xlogy(x, y):
    """x log y with 0 log y = 0, as scipy.special.xlogy (float64)."""
    if x == 0.0:
        return 0.0
    return x * np.log(y)


def _kernels_for(code):
    """The compiled (bias_O_rows, loss_and_grad_a_L) of the output function ``code``."""

    @jit(internal=True)  # called through its address only
    def bias_O_rows(a, b):
        """ŷ = O(a_L + b_L) in place for a C-contiguous block of rows.

        The elementwise part (exp, logistic) runs as one loop over the whole block, which LLVM
        vectorizes (a row of a few outputs alone would leave it mostly scalar). Softmax: each
        row is shifted by its maximum first, and after the exp divided by its sum, taken left
        to right.
        """
        for r in range(a.shape[0]):
            row = a[r]
            for j in range(row.shape[0]):
                row[j] += b[j]
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

    @jit(internal=True)  # called through its address only
    def loss_and_grad_a_L(Y, sw, idx, y_hat, grad_a, loss_param, losses, r0):
        """losses[r0 + r] = loss_n (float64, n = idx[r], the loss summed over outputs: the table
        above; the caller adds up w_n·loss_n in row order) and grad a_L = (ŷ - y)·w, the
        canonical pairs' shared gradient (for Huber clipped to [-δ, δ] before the weight), in
        ŷ's dtype, row by row. ``loss_param``: eps (log losses) or δ (Huber).

        Rows are indexed in place, never taken as views: a row view is a reference-counted
        object, and its counting stayed inside the loop.
        """
        T = y_hat.dtype.type
        m = y_hat.shape[1]
        eps = delta = loss_param
        delta_t = T(delta)
        for r in range(idx.shape[0]):
            n = idx[r]
            loss = 0.0
            if code == O_IDENTITY:
                for j in range(m):
                    d = float(Y[n, j]) - float(y_hat[r, j])
                    loss += 0.5 * d * d
            elif code == O_SOFTMAX:
                for j in range(m):
                    p = min(max(float(y_hat[r, j]), eps), 1.0 - eps)
                    loss -= _xlogy(float(Y[n, j]), p)
            elif code == O_LOGISTIC:
                for j in range(m):
                    p = min(max(float(y_hat[r, j]), eps), 1.0 - eps)
                    t = float(Y[n, j])
                    loss -= _xlogy(t, p) + _xlogy(1.0 - t, 1.0 - p)
            elif code == O_HUBER:
                for j in range(m):
                    d = abs(float(Y[n, j]) - float(y_hat[r, j]))
                    loss += 0.5 * d * d if d <= delta else delta * (d - 0.5 * delta)
            else:  # O_EXP with the Poisson deviance
                for j in range(m):
                    t = float(Y[n, j])
                    p = float(y_hat[r, j])
                    loss += _xlogy(t, t / p) - t + p
            w = sw[n]
            losses[r0 + r] = loss
            for j in range(m):
                g = y_hat[r, j] - T(Y[n, j])
                if code == O_HUBER:  # the clipped residual (a NaN stays NaN)
                    if g > delta_t:
                        g = delta_t
                    elif g < -delta_t:
                        g = -delta_t
                grad_a[r, j] = g * w

    return bias_O_rows, loss_and_grad_a_L


KERNELS = {code: _kernels_for(code) for code in (*OUTPUTS.values(), O_HUBER)}
