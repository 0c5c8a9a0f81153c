"""The layer products of jitmlp._layers against numpy, and their determinism."""

from __future__ import annotations

from fractions import Fraction

import numba
import numpy as np
import pytest

from jitmlp import _layers

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}

# (M, K, N): C is (M, N). Edge sizes around the 6- and 4-row tiles and the 1-, 2- and 4-vector
# column blocks, the narrow path of matmul_tn (N < NARROW_N with M >= NARROW_MIN_M), the parallel
# threshold, and the workload shapes.
SHAPES = [
    (1, 1, 1), (1, 5, 3), (3, 1, 5), (5, 3, 1), (4, 4, 4), (5, 5, 5), (17, 17, 17),
    (3, 17, 5), (17, 3, 1), (1, 17, 33), (33, 1, 17), (7, 9, 15), (9, 7, 16), (21, 6, 3),
    (64, 64, 64), (65, 67, 63), (200, 10, 100), (200, 100, 10), (200, 256, 3), (200, 3, 256),
    (32, 20, 32), (32, 32, 4), (37, 131, 129), (128, 200, 96), (130, 45, 17),
]


def _check(C, ref, dtype):
    assert C.dtype == dtype
    scale = max(np.abs(ref).max(), np.finfo(dtype).tiny)
    # relative to the largest entry, per unit of K (rounding of a K-term sum)
    K = max(1, ref.shape[0])
    assert np.abs(C.astype(np.float64) - ref).max() / scale <= RTOL[dtype] * max(1, K / 64)


def _operands(kernel, M, K, N, dtype, seed=0):
    rng = np.random.default_rng(seed + 1000 * M + 100 * K + N)
    A = rng.standard_normal((K, M) if kernel == "matmul_tn" else (M, K)).astype(dtype)
    B = rng.standard_normal((K, N)).astype(dtype)
    return A, B


def _reference(kernel, A, B):
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    return A64.T @ B64 if kernel == "matmul_tn" else A64 @ B64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["matmul", "matmul_tn", "matmul_serial"])
@pytest.mark.parametrize("M,K,N", SHAPES)
def test_product_matches_numpy(kernel, M, K, N, dtype):
    A, B = _operands(kernel, M, K, N, dtype)
    C = np.full((M, N), np.nan, dtype=dtype)  # every entry must be written
    getattr(_layers, kernel)(A, B, C)
    _check(C, _reference(kernel, A, B), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,N", [(1, 1), (1, 7), (7, 1), (17, 5), (200, 256), (256, 512),
                                 (784, 100), (33, 64), (512, 256), (512, 300), (1024, 300)])
def test_transpose(M, N, dtype):
    """Every shape, including A whose rows of Aᵀ alias in the caches (1024 float32 or 512
    float64 rows: copied in blocks of TRANSPOSE_BLOCK columns, the last one partial)."""
    A = np.random.default_rng(M * N).standard_normal((M, N)).astype(dtype)
    AT = np.empty((N, M), dtype=dtype)
    _layers.transpose(A, AT)
    assert AT.dtype == dtype
    np.testing.assert_array_equal(AT, A.T)


@pytest.fixture
def restore_threads():
    n = numba.get_num_threads()
    yield numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["matmul", "matmul_tn"])
@pytest.mark.parametrize("M,K,N", [(200, 784, 100), (201, 97, 131), (256, 200, 3),
                                   (199, 64, 100), (64, 200, 10), (17, 17, 17)])
def test_bit_identical_across_thread_counts(kernel, M, K, N, dtype, restore_threads):
    A, B = _operands(kernel, M, K, N, dtype, seed=7)
    results = []
    for nt in sorted({1, restore_threads}):
        numba.set_num_threads(nt)
        C = np.empty((M, N), dtype=dtype)
        getattr(_layers, kernel)(A, B, C)
        results.append(C)
    for C in results[1:]:
        np.testing.assert_array_equal(C, results[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,K,N", [(200, 784, 100), (129, 33, 77), (128, 100, 10), (5, 3, 2)])
def test_serial_path_is_bit_identical(M, K, N, dtype, restore_threads):
    """matmul (parallel or serial branch), matmul_serial and matmul_tn on Aᵀ agree bit for bit."""
    A, B = _operands("matmul", M, K, N, dtype, seed=3)
    C_par = np.empty((M, N), dtype=dtype)
    _layers.matmul(A, B, C_par)
    numba.set_num_threads(1)
    C_one = np.empty((M, N), dtype=dtype)
    _layers.matmul(A, B, C_one)
    C_ser = np.empty((M, N), dtype=dtype)
    _layers.matmul_serial(A, B, C_ser)
    C_tn = np.empty((M, N), dtype=dtype)
    _layers.matmul_tn(np.ascontiguousarray(A.T), B, C_tn)
    np.testing.assert_array_equal(C_par, C_one)
    np.testing.assert_array_equal(C_par, C_ser)
    np.testing.assert_array_equal(C_par, C_tn)


def _round(x, dtype):
    """The exact rational x rounded to the nearest ``dtype`` (ties to even), as IEEE rounds it."""
    f64 = float(x)  # int / int true division: correctly rounded to float64
    if dtype == np.float64:
        return np.float64(f64)
    c = np.float32(f64)  # may be off by one ulp (double rounding): pick among c and neighbours
    candidates = [np.nextafter(c, np.float32(-np.inf)), c, np.nextafter(c, np.float32(np.inf))]

    def key(v):
        return abs(Fraction(float(v)) - x), int(np.array(v).view(np.int32)) & 1

    return min(candidates, key=key)


def _fma_chain(op_A, B, dtype):
    """C[i, j] = fma(a_{K-1}, b_{K-1}, ... fma(a_0, b_0, 0)): each step rounded once, in order."""
    M, K = op_A.shape
    N = B.shape[1]
    A_q = [[Fraction(float(v)) for v in row] for row in op_A]
    B_q = [[Fraction(float(v)) for v in row] for row in B]
    C = np.empty((M, N), dtype=dtype)
    for i in range(M):
        for j in range(N):
            c = dtype(0)
            for k in range(K):
                c = _round(A_q[i][k] * B_q[k][j] + Fraction(float(c)), dtype)
            C[i, j] = c
    return C


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["matmul", "matmul_tn", "matmul_serial"])
@pytest.mark.parametrize("M,K,N", [(17, 7, 43), (17, 23, 85), (11, 5, 10), (20, 9, 3), (3, 4, 40),
                                   (30, 6, 12), (0, 3, 5), (4, 0, 9), (5, 3, 0)])
def test_exact_fma_chain(kernel, M, K, N, dtype):
    """Every C[i, j] is exactly the left-to-right FMA chain over k, whichever tile computes it:
    M = 17 takes 6-, 4- and 1-row tiles, N = 43 (float64) and 85 (float32) full 4-vector blocks
    and a 2-vector strip with a masked vector (with AVX-512 lanes); matmul_tn with N < NARROW_N
    and M >= NARROW_MIN_M, (20, 9, 3), goes through the transposed narrow path."""
    A, B = _operands(kernel, M, K, N, dtype, seed=11)
    op_A = A.T if kernel == "matmul_tn" else A
    C = np.full((M, N), np.nan, dtype=dtype)
    getattr(_layers, kernel)(A, B, C)
    np.testing.assert_array_equal(C, _fma_chain(op_A, B, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["matmul", "matmul_tn"])
@pytest.mark.parametrize("M,K,N", [(17, 7, 43), (17, 7, 85), (5, 3, 5), (40, 6, 10)])
def test_no_write_outside_C(kernel, M, K, N, dtype):
    """The masked vector stores at the end of each row write nothing past C (C is a view at the
    start of a larger buffer, as the layers' activations are views into one workspace)."""
    A, B = _operands(kernel, M, K, N, dtype, seed=5)
    buf = np.full(M * N + 64, -7.0, dtype=dtype)
    C = buf[: M * N].reshape(M, N)
    getattr(_layers, kernel)(A, B, C)
    assert np.all(buf[M * N:] == -7.0)
    _check(C, _reference(kernel, A, B), dtype)


@pytest.mark.parametrize("kernel", ["matmul", "matmul_tn", "matmul_serial"])
def test_mismatched_shapes_raise(kernel):
    """A B narrower or shorter than C asks for, or a C of the wrong height, raises ValueError
    (the tiles would otherwise load whole vectors past B's rows)."""
    A, B = _operands(kernel, 12, 5, 20, np.float64)
    for B_bad, C in [(B[:, :10].copy(), np.empty((12, 20))), (B[:4].copy(), np.empty((12, 20))),
                     (B, np.empty((11, 20)))]:
        with pytest.raises(ValueError, match="shapes do not match"):
            getattr(_layers, kernel)(A, B_bad, C)


# The blocked product (large layers): small shapes with small blocks, so that several blocks of
# the sum over k, several column blocks and the edge tiles (rows left over by 6, columns by 4V)
# all occur. kc is a run-time argument of product_blocked, so these compile what a fit runs.
BLOCKED_CASES = [  # (M, K, N, kc, nc)
    (17, 7, 43, 3, 1), (13, 11, 85, 4, 64), (6, 5, 32, 5, 32), (8, 9, 65, 2, 200), (1, 4, 3, 1, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("M,K,N,kc,nc", BLOCKED_CASES)
def test_blocked_product_is_the_exact_fma_chain(M, K, N, kc, nc, a_transposed, dtype):
    """Blocking the sum over k continues each element's chain (the partial tile of C is loaded
    and added to in k order): every element is still the left-to-right FMA chain over k."""
    A, B = _operands("matmul_tn" if a_transposed else "matmul", M, K, N, dtype, seed=13)
    C = np.full((M, N), np.nan, dtype=dtype)
    _layers.product_blocked(A, a_transposed, B, C, kc, nc)
    np.testing.assert_array_equal(C, _fma_chain(A.T if a_transposed else A, B, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,K,N,kc,nc", BLOCKED_CASES + [(31, 300, 150, 256, 128)])
def test_blocked_product_packs_B_from_its_transpose(M, K, N, kc, nc, dtype, restore_threads):
    """B = Wᵀ passed as a view of W (grad_h = grad_a W_kᵀ without a transposed copy of W_k): the
    panels are packed from W's rows, and every element is still the left-to-right FMA chain,
    for any blocks (``product_blocked``) and thread count (``product_large``)."""
    A, _ = _operands("matmul", M, K, N, dtype, seed=23)
    W = np.random.default_rng(29).standard_normal((N, K)).astype(dtype)
    Bt = W.T  # (K, N), F-contiguous: rows of W are columns of B
    expected = _fma_chain(A, Bt, dtype) if M * N * K < 20000 else None
    if expected is None:  # too long for the exact chain: the tiles on a contiguous copy of Wᵀ
        expected = np.empty((M, N), dtype=dtype)
        _layers.matmul_serial(A, np.ascontiguousarray(Bt), expected)
    C = np.full((M, N), np.nan, dtype=dtype)
    _layers.product_blocked(A, False, Bt, C, kc, nc)
    np.testing.assert_array_equal(C, expected)
    for nt in sorted({1, restore_threads}):
        numba.set_num_threads(nt)
        C = np.full((M, N), np.nan, dtype=dtype)
        _layers.product_large(A, False, Bt, C)
        np.testing.assert_array_equal(C, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("M,K,N", [(200, 300, 160), (61, 517, 99), (24, 64, 200)])
def test_blocked_product_matches_unblocked_bits_for_any_blocks(M, K, N, dtype):
    """The blocked product gives the unblocked tiles' bits (``matmul_serial`` never blocks), for
    any block sizes, and writes nothing past C."""
    A, B = _operands("matmul", M, K, N, dtype, seed=17)
    ref = np.empty((M, N), dtype=dtype)
    _layers.matmul_serial(A, B, ref)
    for kc, nc in [(256, 128), (100, 64), (K, N), (7, 1)]:
        buf = np.full(M * N + 64, -7.0, dtype=dtype)
        C = buf[: M * N].reshape(M, N)
        _layers.product_blocked(A, False, B, C, kc, nc)
        np.testing.assert_array_equal(C, ref)
        assert np.all(buf[M * N:] == -7.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["matmul", "matmul_tn"])
def test_large_product_takes_the_blocked_path_with_the_same_bits(kernel, dtype, restore_threads):
    """A product past BLOCKED_MIN_BYTES (a 1024-wide layer, M not a multiple of 6) goes through
    the blocked product, its column blocks split over the threads, and gives the bits of the
    unblocked tiles (``matmul_serial`` on op(A) as stored) for any thread count."""
    from jitmlp._config import BLOCKED_MIN_BYTES, TILE_VECTORS

    M, K, N = (1021, 40, 1024) if kernel == "matmul_tn" else (31, 1024, 1027)
    A, B = _operands(kernel, M, K, N, dtype, seed=19)
    C = np.empty((M, N), dtype=dtype)
    assert max(K * N, M * N) * C.itemsize >= BLOCKED_MIN_BYTES
    assert _layers._is_large(B, C) == (TILE_VECTORS == 4)
    assert (N + _layers._column_block(C, 128) - 1) // _layers._column_block(C, 128) >= 2
    assert not _layers._is_large(B[:, :100].copy(), C[:100, :100].copy())  # a small product
    ref = np.empty((M, N), dtype=dtype)
    _layers.matmul_serial(np.ascontiguousarray(A.T) if kernel == "matmul_tn" else A, B, ref)
    for nt in sorted({1, restore_threads}):
        numba.set_num_threads(nt)
        buf = np.full(M * N + 64, -7.0, dtype=dtype)
        C = buf[: M * N].reshape(M, N)
        getattr(_layers, kernel)(A, B, C)
        np.testing.assert_array_equal(C, ref)
        assert np.all(buf[M * N:] == -7.0)
