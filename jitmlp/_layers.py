"""The explicit W_k[i, j] loops of one layer: the products of forward and backward passes.

Every layer product is one of two dense shapes, written here once as explicit loops (no BLAS):

* ``matmul(A, B, C)``      C = A @ B     forward a_k = h_{k-1} W_k; grad_h_{k-1} = grad_a_k W_kᵀ
                                          (the latter with a transposed copy of W_k, ``transpose``)
* ``matmul_tn(A, B, C)``   C = Aᵀ @ B    weight gradient  grad W_k = h_{k-1}ᵀ grad_a_k

Rows of the batch are samples, so ``W`` has scikit-learn's (fan_in, fan_out) layout and the
lecture's a_k = b_k + W_k h_{k-1} reads a[n, j] = b[j] + Σ_i h[n, i] W[i, j] here.

Kernels: float32 runs 8 rows x 4 consecutive k per pass over a C row (``_rows8``), float64 4 x 4
(``_rows4``); the choice is made at compile time from C's dtype (``_rows8_if_float32``).

Determinism: every element of C is owned by exactly one thread (threads split C's rows in fixed
blocks) and summed over the inner index in loop order, so the result never depends on the number
of threads or on scheduling.
"""

from __future__ import annotations

import numpy as np
from numba import prange, types
from numba.extending import overload

from ._config import (
    LAYER_ROW_BLOCK,
    NARROW_MIN_M,
    NARROW_N,
    PARALLEL_MIN_FLOPS,
    ROW_BLOCK,
    TRANSPOSE_BLOCK,
    jit,
    jit_parallel,
)


@jit
def _rows4(A, a_transposed, B, C, i):
    """Rows i:i+4 of C = op(A) @ B: the register-blocked kernel.

    The innermost loop runs over a row of B and four rows of C (contiguous, so LLVM vectorizes it
    into zmm/ymm FMAs); each of its iterations applies four consecutive k to four rows, so one
    load of B[k..k+3, j] feeds 16 FMAs and one load/store of C[r, j] carries a chain of 4 FMAs.
    The 16 factors A[i+r, k+q] are loop-invariant scalars (broadcast registers).

    Every C[r, j] is still the plain left-to-right sum ((C + a_0 b_0) + a_1 b_1) + ... over k, so
    the result does not depend on how rows are grouped (this kernel or ``_row1``), on the block
    split between threads, or on the thread count.
    """
    K = B.shape[0]
    N = B.shape[1]
    zero = C.dtype.type(0)
    C0 = C[i]
    C1 = C[i + 1]
    C2 = C[i + 2]
    C3 = C[i + 3]
    for j in range(N):
        C0[j] = zero
        C1[j] = zero
        C2[j] = zero
        C3[j] = zero
    k = 0
    while k + 4 <= K:
        if a_transposed:
            a00 = A[k, i]; a01 = A[k + 1, i]; a02 = A[k + 2, i]; a03 = A[k + 3, i]  # noqa: E702
            a10 = A[k, i + 1]; a11 = A[k + 1, i + 1]; a12 = A[k + 2, i + 1]; a13 = A[k + 3, i + 1]  # noqa: E702
            a20 = A[k, i + 2]; a21 = A[k + 1, i + 2]; a22 = A[k + 2, i + 2]; a23 = A[k + 3, i + 2]  # noqa: E702
            a30 = A[k, i + 3]; a31 = A[k + 1, i + 3]; a32 = A[k + 2, i + 3]; a33 = A[k + 3, i + 3]  # noqa: E702
        else:
            a00 = A[i, k]; a01 = A[i, k + 1]; a02 = A[i, k + 2]; a03 = A[i, k + 3]  # noqa: E702
            a10 = A[i + 1, k]; a11 = A[i + 1, k + 1]; a12 = A[i + 1, k + 2]; a13 = A[i + 1, k + 3]  # noqa: E702
            a20 = A[i + 2, k]; a21 = A[i + 2, k + 1]; a22 = A[i + 2, k + 2]; a23 = A[i + 2, k + 3]  # noqa: E702
            a30 = A[i + 3, k]; a31 = A[i + 3, k + 1]; a32 = A[i + 3, k + 2]; a33 = A[i + 3, k + 3]  # noqa: E702
        B0 = B[k]
        B1 = B[k + 1]
        B2 = B[k + 2]
        B3 = B[k + 3]
        for j in range(N):
            b0 = B0[j]
            b1 = B1[j]
            b2 = B2[j]
            b3 = B3[j]
            c = C0[j]
            c += a00 * b0
            c += a01 * b1
            c += a02 * b2
            c += a03 * b3
            C0[j] = c
            c = C1[j]
            c += a10 * b0
            c += a11 * b1
            c += a12 * b2
            c += a13 * b3
            C1[j] = c
            c = C2[j]
            c += a20 * b0
            c += a21 * b1
            c += a22 * b2
            c += a23 * b3
            C2[j] = c
            c = C3[j]
            c += a30 * b0
            c += a31 * b1
            c += a32 * b2
            c += a33 * b3
            C3[j] = c
        k += 4
    while k < K:
        if a_transposed:
            a0 = A[k, i]; a1 = A[k, i + 1]; a2 = A[k, i + 2]; a3 = A[k, i + 3]  # noqa: E702
        else:
            a0 = A[i, k]; a1 = A[i + 1, k]; a2 = A[i + 2, k]; a3 = A[i + 3, k]  # noqa: E702
        Bk = B[k]
        for j in range(N):
            b = Bk[j]
            C0[j] += a0 * b
            C1[j] += a1 * b
            C2[j] += a2 * b
            C3[j] += a3 * b
        k += 1


@jit
def _rows8(A, a_transposed, B, C, i):
    """Rows i:i+8 of C = op(A) @ B, four k per pass: the float32 kernel.

    As ``_rows4`` with eight rows: one load of B[k..k+3, j] feeds 32 FMAs, which halves the B
    traffic per FMA (measured 1.1-1.6x faster than ``_rows4`` on the float32 shapes of
    scripts/bench_layers.py; for float64 it was mixed to slower, so float64 keeps ``_rows4``).
    The same left-to-right sum over k per element, so the result is bit-identical to
    ``_rows4``/``_row1``.
    """
    K = B.shape[0]
    N = B.shape[1]
    zero = C.dtype.type(0)
    C0 = C[i + 0]
    C1 = C[i + 1]
    C2 = C[i + 2]
    C3 = C[i + 3]
    C4 = C[i + 4]
    C5 = C[i + 5]
    C6 = C[i + 6]
    C7 = C[i + 7]
    for j in range(N):
        C0[j] = zero
        C1[j] = zero
        C2[j] = zero
        C3[j] = zero
        C4[j] = zero
        C5[j] = zero
        C6[j] = zero
        C7[j] = zero
    k = 0
    while k + 4 <= K:
        if a_transposed:
            a0_0 = A[k + 0, i + 0]
            a0_1 = A[k + 1, i + 0]
            a0_2 = A[k + 2, i + 0]
            a0_3 = A[k + 3, i + 0]
            a1_0 = A[k + 0, i + 1]
            a1_1 = A[k + 1, i + 1]
            a1_2 = A[k + 2, i + 1]
            a1_3 = A[k + 3, i + 1]
            a2_0 = A[k + 0, i + 2]
            a2_1 = A[k + 1, i + 2]
            a2_2 = A[k + 2, i + 2]
            a2_3 = A[k + 3, i + 2]
            a3_0 = A[k + 0, i + 3]
            a3_1 = A[k + 1, i + 3]
            a3_2 = A[k + 2, i + 3]
            a3_3 = A[k + 3, i + 3]
            a4_0 = A[k + 0, i + 4]
            a4_1 = A[k + 1, i + 4]
            a4_2 = A[k + 2, i + 4]
            a4_3 = A[k + 3, i + 4]
            a5_0 = A[k + 0, i + 5]
            a5_1 = A[k + 1, i + 5]
            a5_2 = A[k + 2, i + 5]
            a5_3 = A[k + 3, i + 5]
            a6_0 = A[k + 0, i + 6]
            a6_1 = A[k + 1, i + 6]
            a6_2 = A[k + 2, i + 6]
            a6_3 = A[k + 3, i + 6]
            a7_0 = A[k + 0, i + 7]
            a7_1 = A[k + 1, i + 7]
            a7_2 = A[k + 2, i + 7]
            a7_3 = A[k + 3, i + 7]
        else:
            a0_0 = A[i + 0, k + 0]
            a0_1 = A[i + 0, k + 1]
            a0_2 = A[i + 0, k + 2]
            a0_3 = A[i + 0, k + 3]
            a1_0 = A[i + 1, k + 0]
            a1_1 = A[i + 1, k + 1]
            a1_2 = A[i + 1, k + 2]
            a1_3 = A[i + 1, k + 3]
            a2_0 = A[i + 2, k + 0]
            a2_1 = A[i + 2, k + 1]
            a2_2 = A[i + 2, k + 2]
            a2_3 = A[i + 2, k + 3]
            a3_0 = A[i + 3, k + 0]
            a3_1 = A[i + 3, k + 1]
            a3_2 = A[i + 3, k + 2]
            a3_3 = A[i + 3, k + 3]
            a4_0 = A[i + 4, k + 0]
            a4_1 = A[i + 4, k + 1]
            a4_2 = A[i + 4, k + 2]
            a4_3 = A[i + 4, k + 3]
            a5_0 = A[i + 5, k + 0]
            a5_1 = A[i + 5, k + 1]
            a5_2 = A[i + 5, k + 2]
            a5_3 = A[i + 5, k + 3]
            a6_0 = A[i + 6, k + 0]
            a6_1 = A[i + 6, k + 1]
            a6_2 = A[i + 6, k + 2]
            a6_3 = A[i + 6, k + 3]
            a7_0 = A[i + 7, k + 0]
            a7_1 = A[i + 7, k + 1]
            a7_2 = A[i + 7, k + 2]
            a7_3 = A[i + 7, k + 3]
        B0 = B[k + 0]
        B1 = B[k + 1]
        B2 = B[k + 2]
        B3 = B[k + 3]
        for j in range(N):
            b0 = B0[j]
            b1 = B1[j]
            b2 = B2[j]
            b3 = B3[j]
            c = C0[j]
            c += a0_0 * b0
            c += a0_1 * b1
            c += a0_2 * b2
            c += a0_3 * b3
            C0[j] = c
            c = C1[j]
            c += a1_0 * b0
            c += a1_1 * b1
            c += a1_2 * b2
            c += a1_3 * b3
            C1[j] = c
            c = C2[j]
            c += a2_0 * b0
            c += a2_1 * b1
            c += a2_2 * b2
            c += a2_3 * b3
            C2[j] = c
            c = C3[j]
            c += a3_0 * b0
            c += a3_1 * b1
            c += a3_2 * b2
            c += a3_3 * b3
            C3[j] = c
            c = C4[j]
            c += a4_0 * b0
            c += a4_1 * b1
            c += a4_2 * b2
            c += a4_3 * b3
            C4[j] = c
            c = C5[j]
            c += a5_0 * b0
            c += a5_1 * b1
            c += a5_2 * b2
            c += a5_3 * b3
            C5[j] = c
            c = C6[j]
            c += a6_0 * b0
            c += a6_1 * b1
            c += a6_2 * b2
            c += a6_3 * b3
            C6[j] = c
            c = C7[j]
            c += a7_0 * b0
            c += a7_1 * b1
            c += a7_2 * b2
            c += a7_3 * b3
            C7[j] = c
        k += 4
    while k < K:
        if a_transposed:
            a0_0 = A[k + 0, i + 0]
            a1_0 = A[k + 0, i + 1]
            a2_0 = A[k + 0, i + 2]
            a3_0 = A[k + 0, i + 3]
            a4_0 = A[k + 0, i + 4]
            a5_0 = A[k + 0, i + 5]
            a6_0 = A[k + 0, i + 6]
            a7_0 = A[k + 0, i + 7]
        else:
            a0_0 = A[i + 0, k + 0]
            a1_0 = A[i + 1, k + 0]
            a2_0 = A[i + 2, k + 0]
            a3_0 = A[i + 3, k + 0]
            a4_0 = A[i + 4, k + 0]
            a5_0 = A[i + 5, k + 0]
            a6_0 = A[i + 6, k + 0]
            a7_0 = A[i + 7, k + 0]
        B0 = B[k + 0]
        for j in range(N):
            b0 = B0[j]
            c = C0[j]
            c += a0_0 * b0
            C0[j] = c
            c = C1[j]
            c += a1_0 * b0
            C1[j] = c
            c = C2[j]
            c += a2_0 * b0
            C2[j] = c
            c = C3[j]
            c += a3_0 * b0
            C3[j] = c
            c = C4[j]
            c += a4_0 * b0
            C4[j] = c
            c = C5[j]
            c += a5_0 * b0
            C5[j] = c
            c = C6[j]
            c += a6_0 * b0
            C6[j] = c
            c = C7[j]
            c += a7_0 * b0
            C7[j] = c
        k += 1


@jit
def _row1(A, a_transposed, B, C, i):
    """Row i of C = op(A) @ B (the rows left over by ``_rows4``), four k per pass over C[i]."""
    K = B.shape[0]
    N = B.shape[1]
    zero = C.dtype.type(0)
    Ci = C[i]
    for j in range(N):
        Ci[j] = zero
    k = 0
    while k + 4 <= K:
        if a_transposed:
            a0 = A[k, i]; a1 = A[k + 1, i]; a2 = A[k + 2, i]; a3 = A[k + 3, i]  # noqa: E702
        else:
            a0 = A[i, k]; a1 = A[i, k + 1]; a2 = A[i, k + 2]; a3 = A[i, k + 3]  # noqa: E702
        B0 = B[k]
        B1 = B[k + 1]
        B2 = B[k + 2]
        B3 = B[k + 3]
        for j in range(N):
            c = Ci[j]
            c += a0 * B0[j]
            c += a1 * B1[j]
            c += a2 * B2[j]
            c += a3 * B3[j]
            Ci[j] = c
        k += 4
    while k < K:
        a = A[k, i] if a_transposed else A[i, k]
        Bk = B[k]
        for j in range(N):
            Ci[j] += a * Bk[j]
        k += 1


def _rows8_if_float32(A, a_transposed, B, C, i0, i1):
    """Rows i0:i0 + 8n of C by ``_rows8`` if C is float32 (else none); returns the next row."""
    raise NotImplementedError("only callable from compiled code")


@overload(_rows8_if_float32)
def _rows8_if_float32_impl(A, a_transposed, B, C, i0, i1):
    # Chosen at compile time from C's dtype, so the float64 kernels do not even contain the
    # 8-row path (a run-time dtype test there changed LLVM's inlining and cost float64 speed).
    if C.dtype == types.float32:
        def impl(A, a_transposed, B, C, i0, i1):
            i = i0
            while i + 8 <= i1:
                _rows8(A, a_transposed, B, C, i)
                i += 8
            return i
    else:
        def impl(A, a_transposed, B, C, i0, i1):
            return i0
    return impl


def _row_block(C):
    """Rows of C per parallel work unit: LAYER_ROW_BLOCK for float32, ROW_BLOCK for float64."""
    raise NotImplementedError("only callable from compiled code")


@overload(_row_block)
def _row_block_impl(C):
    rb = LAYER_ROW_BLOCK if C.dtype == types.float32 else ROW_BLOCK
    return lambda C: rb


@jit
def _product_rows(A, a_transposed, B, C, i0, i1):
    """Rows i0:i1 of C = op(A) @ B, op(A) = Aᵀ if a_transposed else A: groups of 8 (float32) or 4
    rows, then 1."""
    i = _rows8_if_float32(A, a_transposed, B, C, i0, i1)
    while i + 4 <= i1:
        _rows4(A, a_transposed, B, C, i)
        i += 4
    while i < i1:
        _row1(A, a_transposed, B, C, i)
        i += 1


@jit
def _product_narrow(A, a_transposed, B, C):
    """C = op(A) @ B for a narrow C (few columns), computed as Cᵀ = Bᵀ op(A)ᵀ then copied.

    With N < NARROW_N the row kernels' innermost loop (length N) would hardly vectorize; in Cᵀ it
    runs over M instead. Every element is the same left-to-right sum over k as in ``_rows4``
    (products commute exactly), so the result is bit-identical to the direct path. Scratch: Cᵀ
    (N x M) and, for op(A) = A, a transposed copy of A (K x M), once per call.
    """
    M = C.shape[0]
    N = C.shape[1]
    CT = np.empty((N, M), dtype=C.dtype)
    if a_transposed:
        _product_rows(B, True, A, CT, 0, N)
    else:
        AT = np.empty((A.shape[1], M), dtype=A.dtype)
        transpose(A, AT)
        _product_rows(B, True, AT, CT, 0, N)
    transpose(CT, C)


@jit_parallel
def _product(A, a_transposed, B, C):
    M = C.shape[0]
    N = C.shape[1]
    if N < NARROW_N and M >= NARROW_MIN_M:
        _product_narrow(A, a_transposed, B, C)
        return
    rb = _row_block(C)
    n_blocks = (M + rb - 1) // rb
    if 2.0 * M * B.shape[0] * N >= PARALLEL_MIN_FLOPS and n_blocks > 1:
        for blk in prange(n_blocks):
            _product_rows(A, a_transposed, B, C, blk * rb, min(M, (blk + 1) * rb))
    else:
        for blk in range(n_blocks):
            _product_rows(A, a_transposed, B, C, blk * rb, min(M, (blk + 1) * rb))


@jit
def product(A, a_transposed, B, C):
    """C = op(A) @ B, rows split over threads in fixed blocks when the product is large."""
    _product(A, a_transposed, B, C)


@jit
def matmul(A, B, C):
    """C = A @ B with explicit loops; A (M, K), B (K, N), C (M, N), all C-contiguous."""
    _product(A, False, B, C)


@jit
def matmul_tn(A, B, C):
    """C = Aᵀ @ B with explicit loops; A (K, M), B (K, N), C (M, N), all C-contiguous."""
    _product(A, True, B, C)


@jit
def product_serial(A, a_transposed, B, C):
    """C = op(A) @ B on the calling thread only (for code that is already inside a parallel loop).

    The same per-block code as ``matmul``/``matmul_tn``, so the result is bit-identical to them.
    """
    M = C.shape[0]
    if C.shape[1] < NARROW_N and M >= NARROW_MIN_M:
        _product_narrow(A, a_transposed, B, C)
        return
    rb = _row_block(C)
    for blk in range(0, M, rb):
        _product_rows(A, a_transposed, B, C, blk, min(M, blk + rb))


@jit
def matmul_serial(A, B, C):
    """C = A @ B on the calling thread only (used inside loops that are already parallel)."""
    product_serial(A, False, B, C)


@jit
def transpose(A, AT):
    """AT = Aᵀ, copied so that grad_h = grad_a Wᵀ can run with a contiguous innermost loop.

    Row by row of A, unless AT's rows are a multiple of 512 bytes long: then the stores of one row
    of A (one column of AT) all land in the same few L1 sets and evict each other, so the copy goes
    in panels of TRANSPOSE_BLOCK rows of A, each column of AT then written as one short run.
    """
    M, N = A.shape
    if (M * A.itemsize) % 512 != 0:
        for i in range(M):
            Ai = A[i]
            for j in range(N):
                AT[j, i] = Ai[j]
        return
    T = TRANSPOSE_BLOCK
    for i0 in range(0, M, T):
        i1 = min(M, i0 + T)
        for j in range(N):
            ATj = AT[j]
            for i in range(i0, i1):
                ATj[i] = A[i, j]
