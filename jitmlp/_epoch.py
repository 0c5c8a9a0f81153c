"""One compiled epoch: minibatches -> forward -> backward -> update, and the pieces it composes.

The lecture's algorithm, for each minibatch:

    h_0 = x;  a_k = b_k + W_k h_{k-1},  h_k = g(a_k)  (k < L);  ŷ = O(a_L)        forward
    grad a_L = ŷ - y                                                               output gradient
    grad W_k = grad a_k h_{k-1}ᵀ,  grad b_k = grad a_k                             weight gradients
    grad h_{k-1} = W_kᵀ grad a_k,  grad a_{k-1} = grad h_{k-1} ⊙ g'(a_{k-1})         talk to the layer below
    θ ← update(θ, grad θ)

with scikit-learn's conventions on top: per-sample weights multiply grad a_L, gradients are
divided by the batch's weight sum, and the L2 term α‖W‖²/2 is added to the loss (α·W to grad W).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._activations import bias_g, bias_g_rows, g_prime
from ._config import jit, jit_parallel
from ._layers import matmul, matmul_serial, matmul_tn, transpose
from ._optimizers import ADAM, adam_update, sgd_update
from ._outputs import O_IDENTITY, O_row, grad_a_L_row, sample_loss
from ._sparse import csr_matmul, csr_matmul_rows, csr_matmul_tn


@jit
def W_k(theta, units, w_off, k):
    """View of W_{k+1} (scikit-learn's coefs_[k]) inside θ, shape (fan_in, fan_out)."""
    return theta[w_off[k] : w_off[k] + units[k] * units[k + 1]].reshape((units[k], units[k + 1]))


@jit
def b_k(theta, units, b_off, k):
    """View of b_{k+1} (scikit-learn's intercepts_[k]) inside θ."""
    return theta[b_off[k] : b_off[k] + units[k + 1]]


@jit
def rows(buf, off, n_rows, width):
    """View of the first n_rows rows of a (rows, width) block of a flat workspace."""
    return buf[off : off + n_rows * width].reshape((n_rows, width))


@jit
def gather_rows(X, idx, h0):
    """h_0 = X[idx]: the minibatch, copied contiguous (the order of idx is the shuffle)."""
    for r in range(idx.shape[0]):
        src = X[idx[r]]
        dst = h0[r]
        for i in range(src.shape[0]):
            dst[i] = src[i]


@jit
def bias_O(a, b, out):
    """ŷ = O(a_L + b_L) row by row."""
    for r in range(a.shape[0]):
        row = a[r]
        for j in range(row.shape[0]):
            row[j] += b[j]
        O_row(row, out)


@jit
def forward(theta, units, w_off, b_off, act, out, h_buf, h_off, nb, X_csr, idx):
    """Forward pass of nb rows; leaves ŷ in h_L.

    Dense input has been gathered into h_0; sparse input (X_csr = (data, indices, indptr), not
    empty) is read from its stored non-zeros by the first layer directly.
    """
    L = units.shape[0] - 1
    sparse = X_csr[2].shape[0] > 0
    for k in range(L):
        h_prev = rows(h_buf, h_off[k], nb, units[k])
        a = rows(h_buf, h_off[k + 1], nb, units[k + 1])
        if k == 0 and sparse:
            csr_matmul(X_csr[0], X_csr[1], X_csr[2], idx, W_k(theta, units, w_off, k), a)
        else:
            matmul(h_prev, W_k(theta, units, w_off, k), a)
        if k < L - 1:
            bias_g(a, b_k(theta, units, b_off, k), act)
        else:
            bias_O(a, b_k(theta, units, b_off, k), out)


@jit
def loss_and_grad_a_L(Y, sw, idx, y_hat, grad_a, out, eps):
    """Σ_n w_n·loss_n (float64) and grad a_L = (ŷ - y)·w, row by row."""
    total = 0.0
    for r in range(idx.shape[0]):
        n = idx[r]
        total += float(sw[n]) * sample_loss(y_hat[r], Y[n], out, eps)
        grad_a_L_row(y_hat[r], Y[n], sw[n], grad_a[r])
    return total


@jit
def backward(theta, grad, units, w_off, b_off, act, alpha, sw_sum, h_buf, h_off, ga_buf, wt, nb,
             X_csr, idx):
    """Backward pass from grad a_L (already in the workspace) down to grad W_1, grad b_1."""
    L = units.shape[0] - 1
    T = theta.dtype.type
    alpha_t = T(alpha)
    sw_sum_t = T(sw_sum)
    zero = T(0)
    ga0 = h_off[1]
    for k in range(L - 1, -1, -1):
        fan_in, fan_out = units[k], units[k + 1]
        h_prev = rows(h_buf, h_off[k], nb, fan_in)
        grad_a = rows(ga_buf, h_off[k + 1] - ga0, nb, fan_out)
        W = W_k(theta, units, w_off, k)
        gW = W_k(grad, units, w_off, k)
        gb = b_k(grad, units, b_off, k)
        # grad W_k = (h_{k-1}ᵀ grad a_k + α W_k) / Σw
        if k == 0 and X_csr[2].shape[0] > 0:
            csr_matmul_tn(X_csr[0], X_csr[1], X_csr[2], idx, grad_a, gW)
        else:
            matmul_tn(h_prev, grad_a, gW)
        gW_flat = gW.reshape(fan_in * fan_out)
        W_flat = W.reshape(fan_in * fan_out)
        for p in range(fan_in * fan_out):
            gW_flat[p] = (gW_flat[p] + alpha_t * W_flat[p]) / sw_sum_t
        # grad b_k = Σ_n grad a_k[n] / Σw
        for j in range(fan_out):
            gb[j] = zero
        for r in range(nb):
            grad_a_r = grad_a[r]
            for j in range(fan_out):
                gb[j] += grad_a_r[j]
        for j in range(fan_out):
            gb[j] /= sw_sum_t
        if k > 0:
            # grad h_{k-1} = grad a_k W_kᵀ, then grad a_{k-1} = grad h_{k-1} ⊙ g'(a_{k-1})
            WT = wt[: fan_in * fan_out].reshape((fan_out, fan_in))
            transpose(W, WT)
            grad_a_below = rows(ga_buf, h_off[k] - ga0, nb, fan_in)
            matmul(grad_a, WT, grad_a_below)
            g_prime(h_prev, grad_a_below, act)


@jit
def sum_sq_weights(theta, units, w_off):
    """‖W‖² over all weight matrices (biases are not regularized), in float64.

    Eight running sums over interleaved elements, added in a fixed order at the end: a single
    running sum is bound by the latency of one addition per element.
    """
    n = 0
    for k in range(units.shape[0] - 1):
        n += units[k] * units[k + 1]
    w = theta[w_off[0] : w_off[0] + n]
    s = np.zeros(8)
    n8 = n - n % 8
    for p in range(0, n8, 8):
        for q in range(8):
            x = float(w[p + q])
            s[q] += x * x
    total = 0.0
    for q in range(8):
        total += s[q]
    for p in range(n8, n):
        total += float(w[p]) * float(w[p])
    return total


@jit
def batch_loss_and_grad(X, X_csr, Y, sw, idx, theta, grad, units, w_off, b_off, act, out, eps,
                        alpha, h_buf, h_off, ga_buf, wt):
    """Loss of one minibatch (scikit-learn's definition) and its gradient into ``grad``.

    X is dense (n, n_features) with X_csr = three empty arrays, or X is empty and X_csr holds
    the CSR (data, indices, indptr) of the input.
    """
    nb = idx.shape[0]
    if X_csr[2].shape[0] == 0:
        gather_rows(X, idx, rows(h_buf, h_off[0], nb, units[0]))
    forward(theta, units, w_off, b_off, act, out, h_buf, h_off, nb, X_csr, idx)
    L = units.shape[0] - 1
    y_hat = rows(h_buf, h_off[L], nb, units[L])
    ga_L = rows(ga_buf, h_off[L] - h_off[1], nb, units[L])
    data_loss = loss_and_grad_a_L(Y, sw, idx, y_hat, ga_L, out, eps)
    sw_sum = 0.0
    for r in range(nb):
        sw_sum += float(sw[idx[r]])
    if out == O_IDENTITY:
        data_loss /= units[L]  # scikit-learn reports the squared error averaged over outputs
    backward(theta, grad, units, w_off, b_off, act, alpha, sw_sum, h_buf, h_off, ga_buf, wt, nb,
             X_csr, idx)
    return data_loss / sw_sum + 0.5 * alpha * sum_sq_weights(theta, units, w_off) / sw_sum


@jit
def run_epoch(X, X_csr, Y, sw, sample_idx, theta, grad, units, w_off, b_off, act, out, eps, alpha,
              batch_size, solver, learning_rate, momentum, nesterov, beta_1, beta_2, epsilon,
              state_1, state_2, t, h_buf, h_off, ga_buf, wt):
    """One pass over the samples in ``sample_idx`` order, updating θ after every minibatch.

    state_1/state_2 are the optimizer's arrays (Adam: m, v; SGD: velocity and unused), t is
    Adam's update count. Returns (Σ batch_loss · batch_size, t) for scikit-learn's loss_.
    """
    n = sample_idx.shape[0]
    accumulated_loss = 0.0
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        idx = sample_idx[start:stop]
        loss = batch_loss_and_grad(X, X_csr, Y, sw, idx, theta, grad, units, w_off, b_off, act, out,
                                   eps, alpha, h_buf, h_off, ga_buf, wt)
        accumulated_loss += loss * (stop - start)
        if solver == ADAM:
            t += 1
            adam_update(theta, grad, state_1, state_2, t, learning_rate, beta_1, beta_2, epsilon)
        else:
            sgd_update(theta, grad, state_1, learning_rate, momentum, nesterov)
    return accumulated_loss, t


@jit_parallel
def predict_forward(X, X_csr, n, theta, units, w_off, b_off, act, out, chunk):
    """ŷ for the n rows of X (dense, or CSR in X_csr): row chunks in parallel, one thread each."""
    sparse = X_csr[2].shape[0] > 0
    all_rows = np.arange(n)
    L = units.shape[0] - 1
    y_hat = np.empty((n, units[L]), dtype=theta.dtype)
    width = 0
    for k in range(L + 1):
        width = max(width, units[k])
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        r0 = c * chunk
        nb = min(n, r0 + chunk) - r0
        # two buffers used in turn as h_{k-1} and a_k (per chunk, not per row)
        bufs = (np.empty(nb * width, dtype=theta.dtype), np.empty(nb * width, dtype=theta.dtype))
        h_prev = rows(bufs[0], 0, nb, units[0])
        if not sparse:
            for r in range(nb):
                for i in range(units[0]):
                    h_prev[r, i] = X[r0 + r, i]
        for k in range(L):
            a = rows(bufs[(k + 1) % 2], 0, nb, units[k + 1])
            if k == 0 and sparse:
                csr_matmul_rows(X_csr[0], X_csr[1], X_csr[2], all_rows[r0 : r0 + nb],
                                W_k(theta, units, w_off, k), a, 0, nb)
            else:
                matmul_serial(h_prev, W_k(theta, units, w_off, k), a)
            if k < L - 1:
                bias_g_rows(a, b_k(theta, units, b_off, k), act, 0, nb)
            else:
                bias_O(a, b_k(theta, units, b_off, k), out)
            h_prev = a
        for r in range(nb):
            for j in range(units[L]):
                y_hat[r0 + r, j] = h_prev[r, j]
    return y_hat
