"""Prediction: ŷ for every row, in fixed blocks of rows spread over the threads.

The forward pass of the fit (``_epoch``), h_0 = x; a_k = b_k + W_k h_{k-1}, h_k = g(a_k) (k < L);
ŷ = O(a_L), with the fit's serial kernels and its views of θ, one block of rows at a time. Rows do
not interact, so the result does not depend on the thread count, and prediction compiles no
row-parallel kernel of its own.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._activations import bias_g_serial
from ._config import jit, jit_parallel
from ._epoch import (
    BIAS_O,
    PREDICT_BLOCK,
    W_k,
    _kernel_table,
    b_k,
    chunk_rows,
    first_layer_product,
    layer_product,
)
from ._native import address_of, call_native, kernel_at


@jit
def _predict_block(kernels, X, X_csr, rows, theta, net, r0, r1, y_hat):
    """y_hat[r0:r1] = ŷ of rows r0:r1 of X (dense), or of samples rows[r0:r1] (CSR in X_csr).

    The forward pass of one block of rows with the fit's serial kernels, in two buffers of the
    block's own used in turn as h_{k-1} and a_k. ``net``: the ``Network`` record;
    ``kernels``: ``predict_kernel_of``'s table.
    """
    nb = r1 - r0
    units = net.units
    L = units.shape[0] - 1
    width = 0
    for k in range(L + 1):
        width = max(width, units[k])
    bufs = (np.empty(nb * width, dtype=theta.dtype), np.empty(nb * width, dtype=theta.dtype))
    h_prev = chunk_rows(bufs[0], 0, units[0], 0, nb)
    if X_csr is None:  # dense input; sparse input is read where it is stored
        for r in range(nb):
            for i in range(units[0]):
                h_prev[r, i] = X[r0 + r, i]
    for k in range(1, L + 1):
        a = chunk_rows(bufs[k % 2], 0, units[k], 0, nb)  # a_k = W_k h_{k-1}
        W = W_k(theta, units, net.w_off, k)
        if k == 1:
            first_layer_product(kernels, X_csr, rows[r0:r1], h_prev, W, a, False)
        else:
            layer_product(kernels, h_prev, False, W, a, False)
        if k < L:  # h_k = g(a_k + b_k), g only: no d (act's row k - 1 is layer k's g)
            bias_g_serial(net.act, k - 1, a, b_k(theta, units, net.b_off, k), a[:0])
        else:  # ŷ = O(a_L + b_L)
            call_native(kernel_at(kernels, BIAS_O, 0), (a, b_k(theta, units, net.b_off, k)))
        h_prev = a
    for r in range(nb):  # explicit loops: a slice assignment compiles numba's shape errors
        for j in range(units[L]):
            y_hat[r0 + r, j] = h_prev[r, j]


@jit_parallel
def predict_forward(kernels, X, X_csr, rows, theta, net, y_hat, block):
    """y_hat = ŷ for every row of X (dense with X_csr None, or CSR in X_csr), ``block`` rows at a
    time.

    Fixed blocks of rows are spread over the threads, each through the forward pass with the
    serial kernels the fit runs (``_predict_block``, called through its address in ``kernels``
    = ``predict_kernel_of`` these arguments): rows do not interact, so the result does not
    depend on the thread count, and prediction compiles no row-parallel kernel. ``rows`` is
    0 .. n-1 (the sample indices for sparse input).
    """
    n = rows.shape[0]
    n_blocks = (n + block - 1) // block
    block_kernel = kernel_at(kernels, PREDICT_BLOCK, 0)
    if n_blocks > 1:
        for blk in prange(n_blocks):
            call_native(block_kernel, (kernels, X, X_csr, rows, theta, net,
                                       np.int64(blk * block), min(n, (blk + 1) * block), y_hat))
    else:
        call_native(block_kernel, (kernels, X, X_csr, rows, theta, net, np.int64(0), n, y_hat))


def predict_kernel_of(X, X_csr, rows, theta, net, y_hat):
    """The ``kernels`` table of ``predict_forward`` for these arguments and the output code
    ``net.out``: the output function's (BIAS_O), the serial layer product and
    ``_predict_block``'s."""
    kernels = _kernel_table(theta.dtype, net.out)
    kernels[PREDICT_BLOCK] = address_of(_predict_block,
                                        (kernels, X, X_csr, rows, theta, net, 0, 0, y_hat))
    return kernels
