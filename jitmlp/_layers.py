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

from numba import prange

from ._config import PARALLEL_MIN_FLOPS, ROW_BLOCK, jit, jit_parallel


@jit
def _product_rows(A, a_transposed, B, C, i0, i1):
    """Rows i0:i1 of C = op(A) @ B, op(A) = Aᵀ if a_transposed else A; innermost loop over C's row."""
    K = B.shape[0]
    N = B.shape[1]
    zero = C.dtype.type(0)
    for i in range(i0, i1):
        for j in range(N):
            C[i, j] = zero
    for k in range(K):
        Bk = B[k]
        for i in range(i0, i1):
            a = A[k, i] if a_transposed else A[i, k]
            Ci = C[i]
            for j in range(N):
                Ci[j] += a * Bk[j]


@jit_parallel
def _product(A, a_transposed, B, C):
    M = C.shape[0]
    n_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK
    if 2.0 * M * B.shape[0] * B.shape[1] >= PARALLEL_MIN_FLOPS and n_blocks > 1:
        for blk in prange(n_blocks):
            _product_rows(A, a_transposed, B, C, blk * ROW_BLOCK, min(M, (blk + 1) * ROW_BLOCK))
    else:
        for blk in range(n_blocks):
            _product_rows(A, a_transposed, B, C, blk * ROW_BLOCK, min(M, (blk + 1) * ROW_BLOCK))


@jit
def matmul(A, B, C):
    """C = A @ B with explicit loops; A (M, K), B (K, N), C (M, N), all C-contiguous."""
    _product(A, False, B, C)


@jit
def matmul_tn(A, B, C):
    """C = Aᵀ @ B with explicit loops; A (K, M), B (K, N), C (M, N), all C-contiguous."""
    _product(A, True, B, C)


@jit
def matmul_serial(A, B, C):
    """C = A @ B on the calling thread only (used inside loops that are already parallel)."""
    M = C.shape[0]
    for blk in range(0, M, ROW_BLOCK):
        _product_rows(A, False, B, C, blk, min(M, blk + ROW_BLOCK))


@jit
def transpose(A, AT):
    """AT = Aᵀ, copied so that grad_h = grad_a Wᵀ can run with a contiguous innermost loop."""
    M, N = A.shape
    for i in range(M):
        for j in range(N):
            AT[j, i] = A[i, j]
