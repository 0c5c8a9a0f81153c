"""The explicit W_k[i, j] loops of one layer: the products of forward and backward passes.

Every layer product is one of two dense shapes, written here once as explicit loops (no BLAS):

* ``matmul(A, B, C)``      C = A @ B     forward a_k = h_{k-1} W_k; grad_h_{k-1} = grad_a_k W_kᵀ
                                          (the latter with a transposed copy of W_k, ``transpose``)
* ``matmul_tn(A, B, C)``   C = Aᵀ @ B    weight gradient  grad W_k = h_{k-1}ᵀ grad_a_k

Rows of the batch are samples, so ``W`` has scikit-learn's (fan_in, fan_out) layout and the
lecture's a_k = b_k + W_k h_{k-1} reads a[n, j] = b[j] + Σ_i h[n, i] W[i, j] here.

Kernels: C is computed in tiles held in registers for the whole sum over k, as explicit SIMD
vectors (``_simd``: V lanes each, 8 float64 or 16 float32 where AVX-512 is there). ``_tile_6x4``
is 6 rows x 4 vectors (24 accumulators; per k, 4 vector loads of B and 6 scalars of A feed 24
FMAs); rows left over by 6 go to a 4-row tile, then single rows. Columns left over by 4V go in
strips of two vectors (``_tile_6x2``) or one (``_tile_6x1``), the last vector masked, so no
column is ever computed by scalar code; strips have no 4-row tile (their leftover rows go one
at a time). Without AVX-512 (16 vector registers, ``TILE_VECTORS`` = 2) the 6x4 tile would
spill, and every column goes in 2-vector strips.

Why tiles: a kernel that goes over C a few rows at a time (vectorized by LLVM) reads and writes
C on every pass and pays LLVM's run-time alias checks and a scalar remainder per pass; the tiles
keep C in registers over the whole sum (figures: docs/performance.md).

Large operands (B or C past ``BLOCKED_MIN_BYTES``, weights of 1024 units and more): the sum over
k runs in blocks of ``BLOCK_K`` terms, one packed panel of B (BLOCK_K x 4V, contiguous, in L1) at
a time, each 6x4 tile of C continued from where the previous block left it (``_blocked_columns``).
B may also be the transposed view ``W.T`` of a C-contiguous W (grad_h = grad_a Wᵀ without a copy
of Wᵀ): each panel is then transposed from W's rows as it is packed (``_pack_Bt``).

Determinism: every element of C is owned by exactly one thread (threads split C's rows, or for
large operands its columns, in fixed blocks) and is the left-to-right FMA chain
fma(a_{K-1}, b_{K-1}, ... fma(a_0, b_0, 0)) over the inner index, whichever tile computes it, so
the result never depends on the number of threads or on scheduling.
"""

from __future__ import annotations

import numpy as np
from numba import prange
from numba.extending import overload

from ._config import (
    BLOCK_K,
    BLOCK_N,
    BLOCKED_MIN_BLOCKS,
    BLOCKED_MIN_BYTES,
    BLOCKED_MIN_M,
    NARROW_MIN_M,
    NARROW_N,
    PARALLEL_MIN_FLOPS,
    ROW_BLOCK,
    TILE_VECTORS,
    TRANSPOSE_ALIAS_BYTES,
    TRANSPOSE_BLOCK,
    jit,
    jit_parallel,
)
from ._simd import lanes, vfma, vload, vload_n, vstore, vstore_n, vzeros


@jit(inline="always")
def _load_4(B, k, j):
    """B[k, j:j+4V] as a row of four vectors (a tuple)."""
    V = lanes(B)
    return vload(B, k, j), vload(B, k, j + V), vload(B, k, j + 2 * V), vload(B, k, j + 3 * V)


@jit(inline="always")
def _fma_4(a, b, c):
    """c + a·b for rows of four vectors: one scalar of A times a row of B, into a row of C."""
    return vfma(a, b[0], c[0]), vfma(a, b[1], c[1]), vfma(a, b[2], c[2]), vfma(a, b[3], c[3])


@jit(inline="always")
def _store_4(C, i, j, c):
    """C[i, j:j+4V] = a row of four vectors."""
    V = lanes(C)
    vstore(C, i, j, c[0])
    vstore(C, i, j + V, c[1])
    vstore(C, i, j + 2 * V, c[2])
    vstore(C, i, j + 3 * V, c[3])


@jit(internal=True)
def _tile_6x4(A, B, C, i, j, jb, first):
    """C[i:i+6, j:j+4V] = A[i:i+6] @ B[:, jb:jb+4V] (A the strided operand view of ``_operand``:
    as stored, or Aᵀ for the weight gradient). 24 vector accumulators (six rows of four) stay
    in registers over all k. Unless ``first``, the sums continue from C's tile (the blocked
    product: B a packed panel of the next terms, A the same columns of op(A))."""
    z = vzeros(C)
    c0 = c1 = c2 = c3 = c4 = c5 = (z, z, z, z)
    if not first:
        c0, c1, c2 = _load_4(C, i, j), _load_4(C, i + 1, j), _load_4(C, i + 2, j)
        c3, c4, c5 = _load_4(C, i + 3, j), _load_4(C, i + 4, j), _load_4(C, i + 5, j)
    for k in range(B.shape[0]):
        b = _load_4(B, k, jb)
        c0 = _fma_4(A[i, k], b, c0)
        c1 = _fma_4(A[i + 1, k], b, c1)
        c2 = _fma_4(A[i + 2, k], b, c2)
        c3 = _fma_4(A[i + 3, k], b, c3)
        c4 = _fma_4(A[i + 4, k], b, c4)
        c5 = _fma_4(A[i + 5, k], b, c5)
    _store_4(C, i, j, c0)
    _store_4(C, i + 1, j, c1)
    _store_4(C, i + 2, j, c2)
    _store_4(C, i + 3, j, c3)
    _store_4(C, i + 4, j, c4)
    _store_4(C, i + 5, j, c5)


@jit(internal=True)
def _tile_6x2(A, B, C, i, j, m):
    """C[i:i+6, j:j+V+m] for 0 < m <= V: one full vector and one of m lanes (masked)."""
    K = B.shape[0]
    j1 = j + lanes(C)
    c00 = c01 = c10 = c11 = c20 = c21 = vzeros(C)
    c30 = c31 = c40 = c41 = c50 = c51 = vzeros(C)
    for k in range(K):
        b0, b1 = vload(B, k, j), vload_n(B, k, j1, m)
        a = A[i, k]
        c00, c01 = vfma(a, b0, c00), vfma(a, b1, c01)
        a = A[i + 1, k]
        c10, c11 = vfma(a, b0, c10), vfma(a, b1, c11)
        a = A[i + 2, k]
        c20, c21 = vfma(a, b0, c20), vfma(a, b1, c21)
        a = A[i + 3, k]
        c30, c31 = vfma(a, b0, c30), vfma(a, b1, c31)
        a = A[i + 4, k]
        c40, c41 = vfma(a, b0, c40), vfma(a, b1, c41)
        a = A[i + 5, k]
        c50, c51 = vfma(a, b0, c50), vfma(a, b1, c51)
    vstore(C, i, j, c00), vstore(C, i + 1, j, c10), vstore(C, i + 2, j, c20)
    vstore(C, i + 3, j, c30), vstore(C, i + 4, j, c40), vstore(C, i + 5, j, c50)
    vstore_n(C, i, j1, c01, m), vstore_n(C, i + 1, j1, c11, m), vstore_n(C, i + 2, j1, c21, m)
    vstore_n(C, i + 3, j1, c31, m), vstore_n(C, i + 4, j1, c41, m), vstore_n(C, i + 5, j1, c51, m)


@jit(internal=True)
def _tile_6x1(A, B, C, i, j, m):
    """C[i:i+6, j:j+m] for m <= V columns (one vector, masked when m < V)."""
    K = B.shape[0]
    c0 = c1 = c2 = c3 = c4 = c5 = vzeros(C)
    for k in range(K):
        b = vload_n(B, k, j, m)
        c0, c1, c2 = vfma(A[i, k], b, c0), vfma(A[i + 1, k], b, c1), vfma(A[i + 2, k], b, c2)
        c3, c4, c5 = vfma(A[i + 3, k], b, c3), vfma(A[i + 4, k], b, c4), vfma(A[i + 5, k], b, c5)
    vstore_n(C, i, j, c0, m), vstore_n(C, i + 1, j, c1, m), vstore_n(C, i + 2, j, c2, m)
    vstore_n(C, i + 3, j, c3, m), vstore_n(C, i + 4, j, c4, m), vstore_n(C, i + 5, j, c5, m)


@jit(internal=True)
def _tile_4x4(A, B, C, i, j):
    """C[i:i+4, j:j+4V]: four rows left over by the 6-row tiles (16 accumulators)."""
    z = vzeros(C)
    c0 = c1 = c2 = c3 = (z, z, z, z)
    for k in range(B.shape[0]):
        b = _load_4(B, k, j)
        c0 = _fma_4(A[i, k], b, c0)
        c1 = _fma_4(A[i + 1, k], b, c1)
        c2 = _fma_4(A[i + 2, k], b, c2)
        c3 = _fma_4(A[i + 3, k], b, c3)
    _store_4(C, i, j, c0)
    _store_4(C, i + 1, j, c1)
    _store_4(C, i + 2, j, c2)
    _store_4(C, i + 3, j, c3)


@jit(internal=True)
def _tile_1x4(A, B, C, i, j):
    """C[i, j:j+4V]: one row left over by the 6-row tiles."""
    z = vzeros(C)
    c = (z, z, z, z)
    for k in range(B.shape[0]):
        c = _fma_4(A[i, k], _load_4(B, k, j), c)
    _store_4(C, i, j, c)


@jit(internal=True)
def _tile_1x1(A, B, C, i, j, m):
    """C[i, j:j+m] for m <= V columns: the corner left over by both."""
    K = B.shape[0]
    c = vzeros(C)
    for k in range(K):
        c = vfma(A[i, k], vload_n(B, k, j, m), c)
    vstore_n(C, i, j, c, m)


@jit(internal=True)
def _strip(A, B, C, i0, i1, j, n):
    """Rows i0:i1, columns j:j+n of C for n <= 2V: two vectors (6x2) or one (6x1), the last
    masked; rows left over by 6 one vector at a time."""
    V = lanes(C)
    i = i0
    while i + 6 <= i1:
        if n > V:
            _tile_6x2(A, B, C, i, j, n - V)
        else:
            _tile_6x1(A, B, C, i, j, n)
        i += 6
    while i < i1:
        _tile_1x1(A, B, C, i, j, min(n, V))
        if n > V:
            _tile_1x1(A, B, C, i, j + V, n - V)
        i += 1


@jit(internal=True)
def _product_rows(A, B, C, i0, i1):
    """Rows i0:i1 of C = A @ B (A the strided operand view of ``_operand``), tile by tile:
    column blocks of 4 vectors (6-row tiles, then a 4-row one, then single rows), then strips
    of up to 2 vectors."""
    N = C.shape[1]
    V = lanes(C)
    j = 0
    while TILE_VECTORS == 4 and j + 4 * V <= N:
        i = i0
        while i + 6 <= i1:
            _tile_6x4(A, B, C, i, j, j, True)
            i += 6
        if i + 4 <= i1:
            _tile_4x4(A, B, C, i, j)
            i += 4
        while i < i1:
            _tile_1x4(A, B, C, i, j)
            i += 1
        j += 4 * V
    while j < N:
        n = min(2 * V, N - j)
        _strip(A, B, C, i0, i1, j, n)
        j += n


@jit(inline="always")
def _operand(A, a_transposed):
    """op(A) as a view of layout 'A' (strides known only at run time), for A and Aᵀ alike.

    The tiles read A one scalar at a time, so a run-time stride costs nothing there, and with one
    operand type every tile is compiled once per dtype instead of once per layout.
    """
    if a_transposed:
        return A.T[::1, ::1]
    return A[::1, ::1]


@jit(internal=True)
def _check_shapes(A, a_transposed, B, C):
    """op(A) (M, K), B (K, N), C (M, N): the tiles take K from B and N from C and load whole
    vectors, so a mismatch raises here instead of reading past a row."""
    M, K = (A.shape[1], A.shape[0]) if a_transposed else (A.shape[0], A.shape[1])
    if B.shape[0] != K or C.shape[0] != M or C.shape[1] != B.shape[1]:
        raise ValueError("layer product: operand shapes do not match")


@jit(internal=True)
def _is_narrow_tn(a_transposed, C):
    """A weight gradient with few columns (the output layer's): computed transposed."""
    return a_transposed and C.shape[1] < NARROW_N and C.shape[0] >= NARROW_MIN_M


@jit(internal=True)
def _product_narrow_tn(A, B, C):
    """C = Aᵀ @ B for a narrow C (few columns), computed as Cᵀ = Bᵀ A, then copied.

    With N < NARROW_N the tiles of C would be one or two vectors wide over a long sum; in Cᵀ they
    run along M in full 4-vector tiles, and A (K x M) is already Cᵀ's right operand as stored.
    Every element is the same left-to-right FMA chain over k (products commute exactly), so the
    result is bit-identical to the direct path. Scratch: Cᵀ (N x M), once per call. For
    op(A) = A the direct path is faster: A would need a transposed copy.
    """
    M = C.shape[0]
    N = C.shape[1]
    CT = np.empty((N, M), dtype=C.dtype)
    _product_rows(_operand(B, True), A, CT, np.int64(0), N)
    transpose(CT, C)


# ------------------------------------------------------------------------------------------------
# Large products: the sum over k in blocks, B packed
#
# When B (the weights, K x N) is larger than L2, the tiles read every panel of B (K x 4V, its rows
# N elements apart) from L3 once per 6 rows of C, and rows a power of two apart fall into the same
# few cache sets, so not even one panel stays in L1 or L2. The blocked product (GotoBLAS's loops,
# with A and B in the tiles' roles) packs one panel of B at a time, kc terms of the sum by 4V
# columns, contiguous: it stays in L1 while the 6-row tiles of C pass over it, each reading its kc
# scalars of op(A) in place. Each tile of C is loaded, continued over the next kc terms and stored
# again, so every element is still the same left-to-right FMA chain over k as on the unblocked
# path. Threads own column blocks of C.
# ------------------------------------------------------------------------------------------------


@jit(internal=True)
def _pack_B(B, k0, k1, j, Bp):
    """B[k0:k1, j:j+4V] into Bp (k1-k0 x 4V, contiguous), zeros past B's last column."""
    W = Bp.shape[1]
    n = min(W, B.shape[1] - j)
    if n == W:
        for k in range(k0, k1):
            _store_4(Bp, k - k0, 0, _load_4(B, k, j))
    else:
        for k in range(k0, k1):
            src = B[k]
            dst = Bp[k - k0]
            for c in range(n):
                dst[c] = src[j + c]
            for c in range(n, W):
                dst[c] = 0.0


@jit(internal=True)
def _pack_Bt(B, k0, k1, j, Bp):
    """``_pack_B`` for B = Wᵀ given as W (N x K, rows contiguous): the panel is transposed from 4V
    rows of W as it is packed, so that grad_h = grad_a W_kᵀ needs no transposed copy of W_k."""
    W = Bp.shape[1]
    n = min(W, B.shape[0] - j)
    _transpose_columns(B[j:j + n, k0:k1], Bp, 0, k1 - k0)
    for k in range(k1 - k0):
        for c in range(n, W):
            Bp[k, c] = 0.0


def _pack(B, k0, k1, j, Bp):
    """The panel B[k0:k1, j:j+4V] into Bp: ``_pack_B``, or for B a transposed view (Wᵀ of a
    C-contiguous W, numba layout 'F') ``_pack_Bt`` from W's rows; chosen from B's type when
    compiling, so each layout compiles only its own packing."""
    raise NotImplementedError("only callable from compiled code")


@overload(_pack)
def _pack_impl(B, k0, k1, j, Bp):
    if B.layout == "F":
        return lambda B, k0, k1, j, Bp: _pack_Bt(B.T, k0, k1, j, Bp)
    return lambda B, k0, k1, j, Bp: _pack_B(B, k0, k1, j, Bp)


@jit(internal=True)
def _edge_rows(op_A, wanted):
    """The last M mod 6 rows of op(A) above rows of zeros, as a 6 x K operand view (of
    ``_operand``'s type): the tiles of C's last rows read it, computing zeros in the rows past
    M. Empty (6 x 0) unless ``wanted``."""
    M, K = op_A.shape
    if not wanted:
        K = 0
    E = np.zeros((6, K), dtype=op_A.dtype)
    i0 = M - M % 6
    for r in range(M - i0):
        for k in range(K):
            E[r, k] = op_A[i0 + r, k]
    return E[::1, ::1]


@jit(internal=True)
def _blocked_columns(op_A, E, B, C, j0, j1, kc):
    """Columns j0:j1 of C = op(A) @ B, the sum over k in blocks of kc terms, one packed panel of B
    at a time; E the edge rows of op(A) (``_edge_rows``).

    Tiles at the edges of C (fewer than 6 rows or 4V columns) are computed in T (6 x 4V): the
    part of C copied in, the tile continued there, copied back.
    """
    M = C.shape[0]
    K = B.shape[0]
    W = 4 * lanes(C)
    Bp = np.empty((min(kc, K), W), dtype=C.dtype)
    T = np.empty((6, W), dtype=C.dtype)
    for k0 in range(0, K, kc):
        k1 = min(K, k0 + kc)
        first = k0 == 0
        Bk = Bp[: k1 - k0]
        A_k = op_A[:, k0:k1]
        for j in range(j0, j1, W):
            _pack(B, k0, k1, j, Bk)
            cols = min(W, j1 - j)
            for i in range(0, M, 6):
                rows = min(6, M - i)
                edge = rows < 6 or cols < W
                if edge and not first:
                    for r in range(rows):
                        for c in range(cols):
                            T[r, c] = C[i + r, j + c]
                # one call of the tile (each call site would be compiled again)
                _tile_6x4(A_k[i:i + 6] if rows == 6 else E[:, k0:k1], Bk,
                          T if edge else C[i:i + 6], 0, 0 if edge else j, 0, first)
                if edge:
                    for r in range(rows):
                        for c in range(cols):
                            C[i + r, j + c] = T[r, c]


@jit
def _column_block(C, nc):
    """Columns of C per block of the blocked product: at most nc (a multiple of 4V), fewer where
    C has fewer than BLOCKED_MIN_BLOCKS blocks of nc (work for more threads; a function of the
    shapes, as every split is, and any split gives the same bits)."""
    W = 4 * lanes(C)
    return max(W, min(nc // W, -(-C.shape[1] // (W * BLOCKED_MIN_BLOCKS))) * W)


@jit
def product_blocked(A, a_transposed, B, C, kc, nc):
    """C = op(A) @ B blocked (kc terms of the sum, column blocks of nc), on the calling thread:
    what ``product`` runs for large operands, each column block on some thread."""
    _check_shapes(A, a_transposed, B, C)
    op_A = _operand(A, a_transposed)
    E = _edge_rows(op_A, True)
    nc = _column_block(C, nc)
    for j0 in range(0, C.shape[1], nc):
        _blocked_columns(op_A, E, B, C, j0, min(C.shape[1], j0 + nc), kc)


@jit
def _is_large(B, C):
    """A product whose B or C does not fit in L2 (weights, or a weight gradient), with enough rows
    of C to reuse the packed panels of B."""
    big = max(B.shape[0] * B.shape[1], C.shape[0] * C.shape[1]) * C.itemsize >= BLOCKED_MIN_BYTES
    return TILE_VECTORS == 4 and big and C.shape[0] >= BLOCKED_MIN_M and B.shape[0] > 0


@jit
def runs_blocked(a_transposed, B, C):
    """Whether ``product`` computes C = op(A) @ B with ``product_large`` (operands past L2, not a
    narrow weight gradient) rather than ``product_rows``."""
    return not _is_narrow_tn(a_transposed, C) and _is_large(B, C)


@jit_parallel(internal=True)
def product_rows(A, a_transposed, B, C):
    """C = op(A) @ B, C's rows split over threads in fixed blocks when the product is large
    enough (a narrow weight gradient on the calling thread). Never blocked: see ``product``."""
    _check_shapes(A, a_transposed, B, C)
    M = C.shape[0]
    if _is_narrow_tn(a_transposed, C):
        _product_narrow_tn(A, B, C)
        return
    op_A = _operand(A, a_transposed)
    rb = ROW_BLOCK
    n_blocks = (M + rb - 1) // rb
    if 2.0 * M * B.shape[0] * C.shape[1] >= PARALLEL_MIN_FLOPS and n_blocks > 1:
        for blk in prange(n_blocks):
            i0 = np.int64(blk) * rb
            _product_rows(op_A, B, C, i0, min(M, i0 + rb))
    else:
        _product_rows(op_A, B, C, np.int64(0), M)


@jit_parallel
def product_large(A, a_transposed, B, C):
    """C = op(A) @ B blocked (``product_blocked``), C's column blocks split over threads: for
    operands past L2 (``runs_blocked``). B is C-contiguous, or the view W.T of a C-contiguous W
    (packed from W's rows; a compiled version of its own). A kernel of its own, so that fits
    without such layers never compile it."""
    _check_shapes(A, a_transposed, B, C)
    N = C.shape[1]
    op_A = _operand(A, a_transposed)
    E = _edge_rows(op_A, True)
    nc = _column_block(C, BLOCK_N)
    for blk in prange((N + nc - 1) // nc):
        j0 = np.int64(blk) * nc
        _blocked_columns(op_A, E, B, C, j0, min(N, j0 + nc), BLOCK_K)


@jit
def product(A, a_transposed, B, C):
    """C = op(A) @ B, split over threads in fixed blocks when the product is large: blocks of rows
    (``product_rows``), or for operands past L2 blocks of columns of the blocked product
    (``product_large``). The epoch calls the two through its kernel table instead."""
    if runs_blocked(a_transposed, B, C):
        product_large(A, a_transposed, B, C)
    else:
        product_rows(A, a_transposed, B, C)


@jit
def product_serial(A, a_transposed, B, C):
    """C = op(A) @ B on the calling thread only (for code that is already inside a parallel loop).

    The same kernels as ``product``, so the result is bit-identical to it.
    """
    product_span(A, a_transposed, B, C, np.int64(0), np.int64(C.shape[0]))


@jit(internal=True)
def product_span(A, a_transposed, B, C, i0, i1):
    """Rows i0:i1 of C = op(A) @ B on the calling thread: the serial product of the epoch, whole
    (i0 = 0, i1 = M: ``product_serial``) or one block of C's rows of a
    product whose blocks other threads compute (the weight gradients, ``_epoch.schedule``).
    Every element is the same FMA chain either way (a narrow weight gradient is computed
    transposed only whole), so any split gives the same bits."""
    _check_shapes(A, a_transposed, B, C)
    if i0 == 0 and i1 == C.shape[0] and _is_narrow_tn(a_transposed, C):
        _product_narrow_tn(A, B, C)
    else:
        _product_rows(_operand(A, a_transposed), B, C, i0, i1)


@jit
def matmul(A, B, C):
    """C = A @ B with explicit loops; A (M, K), B (K, N), C (M, N), all C-contiguous."""
    product(A, False, B, C)


@jit
def matmul_tn(A, B, C):
    """C = Aᵀ @ B with explicit loops; A (K, M), B (K, N), C (M, N), all C-contiguous."""
    product(A, True, B, C)


@jit
def matmul_serial(A, B, C):
    """C = A @ B on the calling thread only (used inside loops that are already parallel)."""
    product_serial(A, False, B, C)


@jit(inline="always")
def _transpose_columns(A, AT, j0, j1):
    """AT[j0:j1] = A[:, j0:j1]ᵀ, eight rows of A at a time: for each column j the eight values
    land side by side in row j of AT (one cache line in float64), instead of eight scattered
    stores one row of A apart."""
    M = A.shape[0]
    i = 0
    while i + 8 <= M:
        A0, A1, A2, A3 = A[i], A[i + 1], A[i + 2], A[i + 3]
        A4, A5, A6, A7 = A[i + 4], A[i + 5], A[i + 6], A[i + 7]
        for j in range(j0, j1):
            ATj = AT[j]
            ATj[i] = A0[j]
            ATj[i + 1] = A1[j]
            ATj[i + 2] = A2[j]
            ATj[i + 3] = A3[j]
            ATj[i + 4] = A4[j]
            ATj[i + 5] = A5[j]
            ATj[i + 6] = A6[j]
            ATj[i + 7] = A7[j]
        i += 8
    while i < M:
        Ai = A[i]
        for j in range(j0, j1):
            AT[j, i] = Ai[j]
        i += 1


@jit
def transpose(A, AT):
    """AT = Aᵀ, copied so that grad_h = grad_a Wᵀ reads B = W_kᵀ in contiguous vectors.

    Eight rows of A at a time (``_transpose_columns``). Where AT's rows are a multiple of
    TRANSPOSE_ALIAS_BYTES apart (A with 1024 float32 or 512 float64 rows, and their multiples),
    the lines of AT that one pass over all columns writes share a few cache sets and are evicted
    before the next eight rows complete them: such an A goes in blocks of TRANSPOSE_BLOCK columns.
    Elsewhere one block of all columns is faster (the loop over j from 0 to N vectorizes better).
    """
    M, N = A.shape
    width = TRANSPOSE_BLOCK if M * A.itemsize % TRANSPOSE_ALIAS_BYTES == 0 else max(N, 1)
    for j0 in range(0, N, width):  # one inlined body (each call site is compiled again)
        _transpose_columns(A, AT, j0, min(N, j0 + width))
