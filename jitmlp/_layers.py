"""The explicit W_k[i, j] loops of one layer: the products of forward and backward passes.

Every layer product is one of two dense shapes, written here once as explicit loops (no BLAS):

* ``matmul(A, B, C)``      C = A @ B     forward  a_k = h_{k-1} W_k  and  grad_h_{k-1} = grad_a_k W_kᵀ
                                          (the latter with a transposed copy of W_k, ``transpose``)
* ``matmul_tn(A, B, C)``   C = Aᵀ @ B    weight gradient  grad W_k = h_{k-1}ᵀ grad_a_k

Rows of the batch are samples, so ``W`` has scikit-learn's (fan_in, fan_out) layout and the
lecture's a_k = b_k + W_k h_{k-1} reads a[n, j] = b[j] + Σ_i h[n, i] W[i, j] here.

Determinism: every element of C is owned by exactly one thread (threads split C's rows in fixed
blocks) and summed over the inner index in loop order, so the result never depends on the number
of threads or on scheduling.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._config import (
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


@jit
def _product_rows(A, a_transposed, B, C, i0, i1):
    """Rows i0:i1 of C = op(A) @ B, op(A) = Aᵀ if a_transposed else A: groups of 4 rows, then 1."""
    i = i0
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
    n_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK
    if 2.0 * M * B.shape[0] * N >= PARALLEL_MIN_FLOPS and n_blocks > 1:
        for blk in prange(n_blocks):
            _product_rows(A, a_transposed, B, C, blk * ROW_BLOCK, min(M, (blk + 1) * ROW_BLOCK))
    else:
        for blk in range(n_blocks):
            _product_rows(A, a_transposed, B, C, blk * ROW_BLOCK, min(M, (blk + 1) * ROW_BLOCK))


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
    for blk in range(0, M, ROW_BLOCK):
        _product_rows(A, a_transposed, B, C, blk, min(M, blk + ROW_BLOCK))


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
