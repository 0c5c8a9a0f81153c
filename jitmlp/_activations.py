"""Hidden-layer activations g and their derivatives g', side by side, one compiled pair each.

Each derivative is written in terms of g's *output* h = g(a), as the lecture derives it
(σ'(a) = σ(a)(1 - σ(a)), tanh'(a) = 1 - tanh²(a)), so the backward pass needs only the stored
activations h_k, never the pre-activations a_k.

Every activation is its own pair of small kernels, ``bias_g_rows`` (h = g(a + b) for a block of
rows) and ``g_prime_rows`` (grad a = grad h ⊙ g'(a), from h), made by ``_kernels_for`` with the
activation's code a constant: numba prunes the other activations' branches, so each pair holds
the code of its own g only. The epoch and prediction call them through their addresses
(``_native``), read from the network's ``g_kernels`` table, one row per hidden layer: the epoch
is compiled once for every activation, and only the activations a fit uses are compiled.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import prange

from ._config import PARALLEL_MIN_ELEMENTS, jit, jit_parallel
from ._elementary import logistic, tanh
from ._native import address_of, call_native, kernel_at, kernel_table
from ._views import as_flat

IDENTITY, LOGISTIC, TANH, RELU = 0, 1, 2, 3
ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}

# Columns of a ``g_kernels`` row: the (address, digest) of bias_g_rows, then of g_prime_rows.
G, G_PRIME = 0, 2


def _kernels_for(code):
    """The compiled (bias_g_rows, g_prime_rows) of the activation ``code``."""

    @jit
    def bias_g_rows(a, b, r0, r1):
        """Rows r0:r1 of h = g(a + b), in place: the bias row by row, then g over the rows as
        one span (``a`` is C-contiguous, so the rows are one span; long spans vectorize better
        than row-by-row loops). ReLU is applied in the bias's pass: one pass over the memory."""
        m = a.shape[1]
        zero = a.dtype.type(0)
        if code == RELU:
            for r in range(r0, r1):
                row = a[r]
                for j in range(m):
                    x = row[j] + b[j]
                    # max(x, 0) that keeps NaN (a NaN compares false and is kept, as np.maximum)
                    row[j] = zero if x < zero else x
            return
        for r in range(r0, r1):
            row = a[r]
            for j in range(m):
                row[j] += b[j]
        span = as_flat(a)[r0 * m : r1 * m]
        if code == LOGISTIC:
            for p in range(span.shape[0]):
                span[p] = logistic(span[p])
        elif code == TANH:
            for p in range(span.shape[0]):
                span[p] = tanh(span[p])

    @jit
    def g_prime_rows(h, grad_a, r0, r1):
        """Rows r0:r1 of grad_a <- grad_h ⊙ g'(a), with g' computed from h = g(a)."""
        if h.shape != grad_a.shape:
            raise ValueError("g_prime: h and grad_a differ in shape")
        m = h.shape[1]
        hs = as_flat(h)[r0 * m : r1 * m]
        gs = as_flat(grad_a)[r0 * m : r1 * m]
        one = h.dtype.type(1)
        zero = h.dtype.type(0)
        if code == LOGISTIC:
            for p in range(hs.shape[0]):
                gs[p] *= hs[p] * (one - hs[p])
        elif code == TANH:
            for p in range(hs.shape[0]):
                gs[p] *= one - hs[p] * hs[p]
        elif code == RELU:
            for p in range(hs.shape[0]):
                gs[p] = zero if hs[p] == zero else gs[p]

    return bias_g_rows, g_prime_rows


KERNELS = {code: _kernels_for(code) for code in ACTIVATIONS.values()}


@functools.cache
def _g_kernels(codes: tuple, dtype: np.dtype):
    rows = []
    for code in codes:
        a, b = np.empty((1, 1), dtype), np.empty(1, dtype)
        bias_g_rows, g_prime_rows = KERNELS[code]
        rows.append((*address_of(bias_g_rows, (a, b, 0, 0)),
                     *address_of(g_prime_rows, (a, a, 0, 0))))
    return kernel_table(rows, 4)


def g_kernels(codes, dtype) -> np.ndarray:
    """The ``g_kernels`` table of a network: for each hidden layer, the addresses and digests of
    its activation's bias_g_rows and g_prime_rows (columns G and G_PRIME), compiled for ``dtype``.

    ``codes``: one activation code per hidden layer. Kept and reused per (codes, dtype): do not
    write to it.
    """
    return _g_kernels(tuple(int(c) for c in codes), np.dtype(dtype))


@jit
def _rows_per_block(a):
    return max(1, PARALLEL_MIN_ELEMENTS // (4 * a.shape[1]))


@jit
def bias_g_serial(g_kernels, k, a, b):
    """h = g(a + b) for every row with hidden layer k's activation, on the calling thread."""
    call_native(kernel_at(g_kernels, k, G), (a, b, np.int64(0), np.int64(a.shape[0])))


@jit
def g_prime_serial(g_kernels, k, h, grad_a):
    """grad_a <- grad_h ⊙ g'(a) for every row with hidden layer k's activation, on the calling
    thread."""
    call_native(kernel_at(g_kernels, k, G_PRIME), (h, grad_a, np.int64(0), np.int64(h.shape[0])))


@jit_parallel
def bias_g(g_kernels, k, a, b):
    """``bias_g_serial`` with fixed blocks of rows spread over threads for large a."""
    kernel = kernel_at(g_kernels, k, G)
    n = a.shape[0]
    step = _rows_per_block(a)
    if a.size >= PARALLEL_MIN_ELEMENTS:
        for blk in prange((n + step - 1) // step):
            call_native(kernel, (a, b, np.int64(blk * step), np.int64(min(n, (blk + 1) * step))))
    else:
        call_native(kernel, (a, b, np.int64(0), np.int64(n)))


@jit_parallel
def g_prime(g_kernels, k, h, grad_a):
    """``g_prime_serial`` with fixed blocks of rows spread over threads for large h."""
    kernel = kernel_at(g_kernels, k, G_PRIME)
    n = h.shape[0]
    step = _rows_per_block(h)
    if h.size >= PARALLEL_MIN_ELEMENTS:
        for blk in prange((n + step - 1) // step):
            call_native(kernel, (h, grad_a, np.int64(blk * step),
                                 np.int64(min(n, (blk + 1) * step))))
    else:
        call_native(kernel, (h, grad_a, np.int64(0), np.int64(n)))
