"""First-layer products for sparse (CSR) input, as explicit loops over the stored non-zeros.

Only the first layer touches X, so only its two products change for sparse input:

* forward         a_1[r] = Σ_{(i, v) stored in row idx[r]} v · W_1[i, :]
* weight gradient grad W_1 = X[idx]ᵀ grad a_1, accumulated row of X by row of X

Determinism: in the forward product each output row belongs to one thread; in the weight
gradient threads own fixed *column* blocks of grad W_1 and walk all samples in batch order, so
no two threads ever write the same element and every sum runs in a fixed order.
"""

from __future__ import annotations

from numba import prange

from ._config import PARALLEL_MIN_FLOPS, ROW_BLOCK, jit, jit_parallel

_COL_BLOCK = 64


@jit
def csr_matmul_rows(data, indices, indptr, idx, W, A, r0, r1):
    """A[r] = X[idx[r]] @ W for r in r0:r1 (X given by CSR arrays)."""
    N = W.shape[1]
    zero = A.dtype.type(0)
    for r in range(r0, r1):
        Ar = A[r]
        for j in range(N):
            Ar[j] = zero
        row = idx[r]
        for p in range(indptr[row], indptr[row + 1]):
            v = data[p]
            Wi = W[indices[p]]
            for j in range(N):
                Ar[j] += v * Wi[j]


@jit_parallel(internal=True)
def csr_matmul(data, indices, indptr, idx, W, A):
    """A = X[idx] @ W, rows of A spread over threads in fixed blocks when the work is large."""
    M = idx.shape[0]
    n_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK
    nnz = indptr[idx[0] + 1] - indptr[idx[0]] if M > 0 else 0
    if 2.0 * nnz * M * W.shape[1] >= PARALLEL_MIN_FLOPS and n_blocks > 1:
        for blk in prange(n_blocks):
            csr_matmul_rows(data, indices, indptr, idx, W, A, blk * ROW_BLOCK,
                            min(M, (blk + 1) * ROW_BLOCK))
    else:
        csr_matmul_rows(data, indices, indptr, idx, W, A, 0, M)


@jit
def _csr_tn_columns(data, indices, indptr, idx, G, C, j0, j1):
    zero = C.dtype.type(0)
    for i in range(C.shape[0]):
        for j in range(j0, j1):
            C[i, j] = zero
    for r in range(idx.shape[0]):
        row = idx[r]
        Gr = G[r]
        for p in range(indptr[row], indptr[row + 1]):
            v = data[p]
            Ci = C[indices[p]]
            for j in range(j0, j1):
                Ci[j] += v * Gr[j]


@jit_parallel(internal=True)
def csr_matmul_tn(data, indices, indptr, idx, G, C):
    """C = X[idx]ᵀ @ G; C is (n_features, N), threads own fixed column blocks of C."""
    N = C.shape[1]
    n_blocks = (N + _COL_BLOCK - 1) // _COL_BLOCK
    if n_blocks > 1 and 2.0 * C.shape[0] * N >= PARALLEL_MIN_FLOPS:
        for cb in prange(n_blocks):
            _csr_tn_columns(data, indices, indptr, idx, G, C, cb * _COL_BLOCK,
                            min(N, (cb + 1) * _COL_BLOCK))
    else:
        _csr_tn_columns(data, indices, indptr, idx, G, C, 0, N)
