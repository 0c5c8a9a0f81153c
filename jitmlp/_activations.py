"""Hidden-layer activations g and their derivatives g', side by side, one compiled pair each.

Most derivatives are written in terms of g's *output* h = g(a), as the lecture derives it
(σ'(a) = σ(a)(1 - σ(a)), tanh'(a) = 1 - tanh²(a)), so the backward pass needs only the stored
activations h_k, never the pre-activations a_k. softplus, elu, gelu and silu are not: gelu
and silu are not monotonic, elu's g' = h + 1 would cancel for a << 0, softplus's
σ(a) = -expm1(-h) would cost a second exponential. For them the forward pass computes g'(a_k)
beside g(a_k), from the same exponential, and keeps it in a buffer d_k that only networks with
such a layer allocate (``KEEPS_G_PRIME``); their backward pass multiplies by it.

    identity    g = a                           g' = 1
    logistic    g = σ(a) = 1/(1 + e^-a)         g' = h (1 - h)
    tanh        g = tanh(a)                     g' = 1 - h²
    relu        g = max(a, 0)                   g' = [h > 0]
    leaky_relu  g = a if a > 0 else s a         g' = 1 if h > 0 else s        (s = 0.01)
    softplus    g = max(a, 0) + log1p(e^-|a|)   g' = σ(a)                     (kept)
    elu         g = a if a > 0 else expm1(a)    g' = 1 if a > 0 else e^a      (kept; α = 1)
    silu        g = a σ(a)                      g' = σ(a) (1 + a σ(-a))       (kept)
    gelu        g = a σ(z), z = 2c(a + k a³)    g' = σ(z) (1 + a z' σ(-z))    (kept; tanh form)

gelu is the tanh form ½a(1 + tanh(c(a + k a³))), c = √(2/π), k = 0.044715, written as
a σ(z) since 1 + tanh(z/2) = 2σ(z) (no cancellation for a << 0); z' = 2c(1 + 3k a²).

Every activation is its own pair of small kernels, ``bias_g_rows`` (h = g(a + b) for a block of
rows, and d = g'(a) for the kept ones) and ``g_prime_rows`` (grad a = grad h ⊙ g'(a), from h or
d), made by ``_kernels_for`` with the activation's code a constant: numba prunes the other
activations' branches, so each pair holds the code of its own g only. The epoch and prediction
call them through their addresses (``_native``), read from the network's ``g_kernels`` table,
one row per hidden layer: the epoch is compiled once for every activation, and only the
activations a fit uses are compiled.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import prange
from numba.extending import register_jitable

from ._config import PARALLEL_MIN_ELEMENTS, function_copy, jit, jit_parallel
from ._elementary import _make_dispatch, exp, expm1, log1p, logistic, tanh
from ._native import address_of, call_native, kernel_at, kernel_table
from ._views import as_flat

IDENTITY, LOGISTIC, TANH, RELU = 0, 1, 2, 3
LEAKY_RELU, SOFTPLUS, ELU, SILU, GELU = 4, 5, 6, 7, 8
ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU,
               "leaky_relu": LEAKY_RELU, "softplus": SOFTPLUS, "elu": ELU, "silu": SILU,
               "gelu": GELU}
# the activations whose g' the forward pass computes from a and keeps in d
KEEPS_G_PRIME = frozenset({SOFTPLUS, ELU, SILU, GELU})
LEAKY_SLOPE = 0.01  # leaky_relu's s, PyTorch's default

# Columns of a ``g_kernels`` row: the (address, digest) of bias_g_rows, then of g_prime_rows.
G, G_PRIME = 0, 2


def activation_codes(activation, n_hidden: int) -> tuple:
    """One activation code per hidden layer from the estimators' ``activation`` parameter: a
    name (every hidden layer) or a tuple/list of names, one per hidden layer. Raises ValueError
    for an unknown name or a sequence of the wrong length."""
    names = ([activation] * n_hidden if isinstance(activation, str)
             else list(activation))
    if len(names) != n_hidden:
        raise ValueError(f"activation has {len(names)} entries for {n_hidden} hidden layer(s): "
                         "give one name per hidden layer, or one name for all.")
    for name in names:
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise ValueError(f"activation {name!r} is not one of {sorted(ACTIVATIONS)}.")
    return tuple(ACTIVATIONS[name] for name in names)


def keeps_g_prime(codes) -> bool:
    """Whether a network with these hidden activation codes needs the d_k buffers."""
    return any(int(c) in KEEPS_G_PRIME for c in codes)


# --------------------------------------------------------------------------------------------
# g and g' of the kept activations, from one exponential: (h, d) = (g(a), g'(a))

_SQRT_2_OVER_PI = 0.7978845608028654
_GELU_K = 0.044715


def _pair_factory(code):
    """Factory (float type -> implementation) of (a) -> (g(a), g'(a)) for a kept activation,
    with its constants typed for that float type (``_elementary._make_dispatch``)."""

    def factory(ft):
        ONE, ZERO = ft(1.0), ft(0.0)
        C1 = ft(2.0 * _SQRT_2_OVER_PI)
        C3 = ft(2.0 * _SQRT_2_OVER_PI * _GELU_K)
        C3x3 = ft(3.0 * 2.0 * _SQRT_2_OVER_PI * _GELU_K)

        @register_jitable(inline="always")
        def sigmoid_pair(z):
            """(σ(z), σ(-z)) from one e^-|z| and one reciprocal: no overflow, no
            cancellation. The reciprocal is explicit: with fast-math's "arcp", two divisions
            by 1 + e would become it anyway, but only where both are used, so g alone
            (prediction) would round differently from g beside g' (fit)."""
            e = exp(-abs(z))
            r = ONE / (ONE + e)
            er = e * r
            pos = z >= ZERO
            return (r if pos else er), (er if pos else r)

        def elu(x):
            pos = x > ZERO
            return (x if pos else expm1(x)), (ONE if pos else exp(x))

        # no clamp of a for g' (a select more stops LLVM vectorizing these loops): g' is NaN
        # only where a z' overflows, a = ±inf (silu) or |a| > 1e102 (1e12 in float32, gelu)
        def silu(x):
            s_pos, s_neg = sigmoid_pair(x)
            return x * s_pos, s_pos * (ONE + x * s_neg)

        def gelu(x):
            a2 = x * x
            s_pos, s_neg = sigmoid_pair(x * (C1 + C3 * a2))  # σ(z), σ(-z)
            return x * s_pos, s_pos * (ONE + x * (C1 + C3x3 * a2) * s_neg)

        def softplus(x):
            e = exp(-abs(x))  # σ(a) from the same e^-|a| as g
            pos = x > ZERO
            return (x if pos else ZERO) + log1p(e), (ONE if pos else e) / (ONE + e)

        return {SOFTPLUS: softplus, ELU: elu, SILU: silu, GELU: gelu}[code]

    return factory


def _pair_of(code):
    stub = _make_dispatch(_pair_factory(code))

    @jit(inline="always")
    def pair(a):
        return stub(a)

    return pair


# (g(a), g'(a)) of the kept activations, for float32 and float64 scalars
PAIRS = {code: _pair_of(code) for code in sorted(KEEPS_G_PRIME)}


kept_pair = None  # (g(a), g'(a)) in a kept activation's kernels: bound there by _with_kept_pair


def _with_kept_pair(func, code):
    """``func`` with the global ``kept_pair`` bound to PAIRS[code] (None for the others).

    Not a closure variable: numba's cache key hashes the pickled values of a kernel's closure,
    and a compiled function pickles with an id of its process, so a kernel closing over one
    was compiled again in every process. numba reads a global's value when it compiles."""
    return function_copy(func, kept_pair=PAIRS.get(code))


def _kernels_for(code):
    """The compiled (bias_g_rows, g_prime_rows) of the activation ``code``; its closure holds
    plain values only (the code and whether g' is kept), which numba's cache key pickles."""
    kept = code in KEEPS_G_PRIME

    def bias_g_rows(a, b, d, r0, r1):
        """Rows r0:r1 of h = g(a + b), in place: the bias row by row, then g over the rows as
        one span (``a`` is C-contiguous, so the rows are one span; long spans vectorize better
        than row-by-row loops). ReLU and leaky ReLU are applied in the bias's pass: one pass
        over the memory. For the kept activations, also d = g'(a + b) in rows r0:r1 of ``d``
        (shape of a), unless d has no rows (prediction: g only)."""
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
        if code == LEAKY_RELU:
            slope = a.dtype.type(LEAKY_SLOPE)
            for r in range(r0, r1):
                row = a[r]
                for j in range(m):
                    x = row[j] + b[j]
                    row[j] = slope * x if x < zero else x  # NaN kept
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
        elif kept:
            if d.shape[0] == 0:  # g only
                for p in range(span.shape[0]):
                    span[p] = kept_pair(span[p])[0]
            else:
                if d.shape != a.shape:
                    raise ValueError("bias_g: a and d differ in shape")
                ds = as_flat(d)[r0 * m : r1 * m]
                for p in range(span.shape[0]):
                    span[p], ds[p] = kept_pair(span[p])

    def g_prime_rows(h, d, grad_a, r0, r1):
        """Rows r0:r1 of grad_a <- grad_h ⊙ g'(a), with g' computed from h = g(a), or read
        from d = g'(a) for the kept activations."""
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
        elif code == LEAKY_RELU:
            slope = h.dtype.type(LEAKY_SLOPE)
            for p in range(hs.shape[0]):
                gs[p] = gs[p] if hs[p] > zero else slope * gs[p]
        elif kept:
            if d.shape != h.shape:
                raise ValueError("g_prime: h and the kept g'(a) differ in shape")
            ds = as_flat(d)[r0 * m : r1 * m]
            for p in range(hs.shape[0]):
                gs[p] *= ds[p]

    # called through their addresses only
    return (jit(_with_kept_pair(bias_g_rows, code), internal=True),
            jit(_with_kept_pair(g_prime_rows, code), internal=True))


KERNELS = {code: _kernels_for(code) for code in ACTIVATIONS.values()}


@functools.cache
def _g_kernels(codes: tuple, dtype: np.dtype):
    rows = []
    for code in codes:
        a, b = np.empty((1, 1), dtype), np.empty(1, dtype)
        bias_g_rows, g_prime_rows = KERNELS[code]
        rows.append((*address_of(bias_g_rows, (a, b, a, 0, 0)),
                     *address_of(g_prime_rows, (a, a, a, 0, 0))))
    return kernel_table(rows, 4)


def g_kernels(codes, dtype) -> np.ndarray:
    """The ``g_kernels`` table of a network: for each hidden layer, the addresses and digests of
    its activation's bias_g_rows and g_prime_rows (columns G and G_PRIME), compiled for ``dtype``.

    ``codes``: one activation code per hidden layer. Kept and reused per (codes, dtype): do not
    write to it.
    """
    return _g_kernels(tuple(int(c) for c in codes), np.dtype(dtype))


@jit(internal=True)
def _rows_per_block(a):
    return max(1, PARALLEL_MIN_ELEMENTS // (4 * a.shape[1]))


@jit
def bias_g_serial(g_kernels, k, a, b, d):
    """h = g(a + b) for every row with hidden layer k's activation, on the calling thread (and
    d = g'(a + b) for a kept activation, if d has rows)."""
    call_native(kernel_at(g_kernels, k, G), (a, b, d, np.int64(0), np.int64(a.shape[0])))


@jit
def g_prime_serial(g_kernels, k, h, d, grad_a):
    """grad_a <- grad_h ⊙ g'(a) for every row with hidden layer k's activation, on the calling
    thread (g' from h, or from d for a kept activation)."""
    call_native(kernel_at(g_kernels, k, G_PRIME),
                (h, d, grad_a, np.int64(0), np.int64(h.shape[0])))


@jit_parallel
def bias_g(g_kernels, k, a, b, d):
    """``bias_g_serial`` with fixed blocks of rows spread over threads for large a."""
    kernel = kernel_at(g_kernels, k, G)
    n = a.shape[0]
    step = _rows_per_block(a)
    if a.size >= PARALLEL_MIN_ELEMENTS:
        for blk in prange((n + step - 1) // step):
            call_native(kernel, (a, b, d, np.int64(blk * step),
                                 np.int64(min(n, (blk + 1) * step))))
    else:
        call_native(kernel, (a, b, d, np.int64(0), np.int64(n)))


@jit_parallel
def g_prime(g_kernels, k, h, d, grad_a):
    """``g_prime_serial`` with fixed blocks of rows spread over threads for large h."""
    kernel = kernel_at(g_kernels, k, G_PRIME)
    n = h.shape[0]
    step = _rows_per_block(h)
    if h.size >= PARALLEL_MIN_ELEMENTS:
        for blk in prange((n + step - 1) // step):
            call_native(kernel, (h, d, grad_a, np.int64(blk * step),
                                 np.int64(min(n, (blk + 1) * step))))
    else:
        call_native(kernel, (h, d, grad_a, np.int64(0), np.int64(n)))
