"""Hidden-layer activations g and their derivatives g', side by side.

Each derivative is written in terms of g's *output* h = g(a), as the lecture derives it
(σ'(a) = σ(a)(1 - σ(a)), tanh'(a) = 1 - tanh²(a)), so the backward pass needs only the stored
activations h_k, never the pre-activations a_k.

The public names map to small integer codes (``ACTIVATIONS``) because compiled code branches on
an integer once per row, outside the inner loops.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._config import PARALLEL_MIN_ELEMENTS, jit, jit_parallel
from ._elementary import logistic, tanh

IDENTITY, LOGISTIC, TANH, RELU = 0, 1, 2, 3
ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}


@jit
def g_row(h, code):
    """h <- g(h) in place for one row of pre-activations (a_k is overwritten by h_k)."""
    zero = h.dtype.type(0)
    if code == LOGISTIC:
        for j in range(h.shape[0]):
            h[j] = logistic(h[j])
    elif code == TANH:
        for j in range(h.shape[0]):
            h[j] = tanh(h[j])
    elif code == RELU:
        for j in range(h.shape[0]):
            # max(a, 0) that keeps NaN (a NaN compares false and is kept, as np.maximum does)
            h[j] = zero if h[j] < zero else h[j]


@jit
def g_prime_row(h, grad_a, code):
    """grad_a <- grad_h ⊙ g'(a), with g' computed from h = g(a); grad_a holds grad_h on entry."""
    one = h.dtype.type(1)
    zero = h.dtype.type(0)
    if code == LOGISTIC:
        for j in range(h.shape[0]):
            grad_a[j] *= h[j] * (one - h[j])
    elif code == TANH:
        for j in range(h.shape[0]):
            grad_a[j] *= one - h[j] * h[j]
    elif code == RELU:
        for j in range(h.shape[0]):
            if h[j] == zero:
                grad_a[j] = zero


@jit
def bias_g_rows(a, b, code, r0, r1):
    """Rows r0:r1 of h = g(a + b): the bias add fused with the activation."""
    for r in range(r0, r1):
        row = a[r]
        for j in range(row.shape[0]):
            row[j] += b[j]
        g_row(row, code)


@jit_parallel
def bias_g(a, b, code):
    """h = g(a + b) row by row; rows are spread over threads when there is enough work."""
    n = a.shape[0]
    if a.size >= PARALLEL_MIN_ELEMENTS:
        for r in prange(n):
            bias_g_rows(a, b, code, r, r + 1)
    else:
        bias_g_rows(a, b, code, 0, n)


@jit_parallel
def g_prime(h, grad_a, code):
    """grad_a <- grad_h ⊙ g'(a) for every row (grad_a holds grad_h on entry)."""
    n = h.shape[0]
    if code == IDENTITY:
        return
    if h.size >= PARALLEL_MIN_ELEMENTS:
        for r in prange(n):
            g_prime_row(h[r], grad_a[r], code)
    else:
        for r in range(n):
            g_prime_row(h[r], grad_a[r], code)


def g_numpy(a: np.ndarray, name: str) -> np.ndarray:
    """Reference g in numpy (tests only): the definition the compiled code must match."""
    if name == "identity":
        return a
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-a))
    if name == "tanh":
        return np.tanh(a)
    return np.maximum(a, 0)
