"""Hidden-layer activations g and their derivatives g', side by side.

Each derivative is written in terms of g's *output* h = g(a), as the lecture derives it
(σ'(a) = σ(a)(1 - σ(a)), tanh'(a) = 1 - tanh²(a)), so the backward pass needs only the stored
activations h_k, never the pre-activations a_k.

The public names map to small integer codes (``ACTIVATIONS``) because compiled code branches on
an integer once per row, outside the inner loops.
"""

from __future__ import annotations

from numba import prange

from ._config import PARALLEL_MIN_ELEMENTS, jit, jit_parallel
from ._elementary import logistic, tanh
from ._views import as_flat

IDENTITY, LOGISTIC, TANH, RELU = 0, 1, 2, 3
ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}


@jit
def g_span(a, code):
    """h <- g(a) in place over a 1-D span of pre-activations (a_k is overwritten by h_k)."""
    zero = a.dtype.type(0)
    if code == LOGISTIC:
        for j in range(a.shape[0]):
            a[j] = logistic(a[j])
    elif code == TANH:
        for j in range(a.shape[0]):
            a[j] = tanh(a[j])
    elif code == RELU:
        for j in range(a.shape[0]):
            # max(a, 0) that keeps NaN (a NaN compares false and is kept, as np.maximum does)
            a[j] = zero if a[j] < zero else a[j]


@jit
def g_prime_span(h, grad_a, code):
    """grad_a <- grad_h ⊙ g'(a) over a 1-D span, with g' computed from h = g(a)."""
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
            grad_a[j] = zero if h[j] == zero else grad_a[j]


@jit
def bias_g_rows(a, b, code, r0, r1):
    """Rows r0:r1 of h = g(a + b): bias added row by row, then g over the rows as one span.

    ``a`` is C-contiguous (a view of a workspace), so rows r0:r1 are one contiguous span; long
    spans vectorize better than row-by-row loops (logistic and tanh). ReLU is applied in the
    same pass as the bias: one pass over the memory instead of two.
    """
    m = a.shape[1]
    if code == RELU:  # cheap enough to fuse with the bias: one pass over the rows, not two
        zero = a.dtype.type(0)
        for r in range(r0, r1):
            row = a[r]
            for j in range(m):
                x = row[j] + b[j]
                row[j] = zero if x < zero else x  # keeps NaN, as g_span does
        return
    for r in range(r0, r1):
        row = a[r]
        for j in range(m):
            row[j] += b[j]
    g_span(as_flat(a)[r0 * m : r1 * m], code)


@jit
def bias_g_serial(a, b, code):
    """h = g(a + b) for every row, on the calling thread (``bias_g``'s serial twin)."""
    bias_g_rows(a, b, code, 0, a.shape[0])


@jit
def _check_same_shape(h, grad_a):
    """g' pairs h and grad_a element by element, over their flat spans: the shapes must agree."""
    if h.shape != grad_a.shape:
        raise ValueError("g_prime: h and grad_a differ in shape")


@jit
def g_prime_serial(h, grad_a, code):
    """``g_prime`` on the calling thread: one span over all rows."""
    _check_same_shape(h, grad_a)
    g_prime_span(as_flat(h), as_flat(grad_a), code)


@jit
def _rows_per_block(a):
    return max(1, PARALLEL_MIN_ELEMENTS // (4 * a.shape[1]))


@jit_parallel
def bias_g(a, b, code):
    """h = g(a + b) for every row; fixed blocks of rows are spread over threads for large a."""
    n = a.shape[0]
    step = _rows_per_block(a)
    if a.size >= PARALLEL_MIN_ELEMENTS:
        for blk in prange((n + step - 1) // step):
            bias_g_rows(a, b, code, blk * step, min(n, (blk + 1) * step))
    else:
        bias_g_rows(a, b, code, 0, n)


@jit_parallel
def g_prime(h, grad_a, code):
    """grad_a <- grad_h ⊙ g'(a) for every row (grad_a holds grad_h on entry)."""
    _check_same_shape(h, grad_a)
    if code == IDENTITY:
        return
    n, m = h.shape
    hf = as_flat(h)
    gf = as_flat(grad_a)
    step = _rows_per_block(h) * m
    if h.size >= PARALLEL_MIN_ELEMENTS:
        for blk in prange((n * m + step - 1) // step):
            p0, p1 = blk * step, min(n * m, (blk + 1) * step)
            g_prime_span(hf[p0:p1], gf[p0:p1], code)
    else:
        g_prime_span(hf, gf, code)
