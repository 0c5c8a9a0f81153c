"""The layer products of jitmlp._layers against numpy, and their determinism."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from jitmlp import _layers
from jitmlp._config import NARROW_N, ROW_BLOCK

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}

# (M, K, N): C is (M, N). Edge sizes around the 4-row / 4-k blocking, the narrow-N path
# (N < NARROW_N with M >= NARROW_MIN_M), the parallel threshold, and the workload shapes.
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
                                 (784, 100), (33, 64), (512, 256)])
def test_transpose(M, N, dtype):
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


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential_sum_order(dtype):
    """Every C[i, j] is the left-to-right FMA chain over k, whatever path computes it: equal to a
    plain one-row-at-a-time loop, for wide and narrow C (N below and above NARROW_N)."""

    @numba.njit(fastmath={"contract"})
    def naive(A, B, C):
        for i in range(C.shape[0]):
            for j in range(C.shape[1]):
                C[i, j] = 0
            for k in range(B.shape[0]):
                a = A[i, k]
                for j in range(C.shape[1]):
                    C[i, j] += a * B[k, j]

    for M, K, N in [(ROW_BLOCK * 5 + 3, 23, NARROW_N + 9), (ROW_BLOCK * 3 + 7, 23, 40),
                    (40, 23, NARROW_N - 3)]:
        A, B = _operands("matmul", M, K, N, dtype, seed=11)
        C = np.empty((M, N), dtype=dtype)
        ref = np.empty((M, N), dtype=dtype)
        _layers.matmul(A, B, C)
        naive(A, B, ref)
        # FMA contraction of the naive loop is up to LLVM; allow one rounding per term if it did not
        np.testing.assert_allclose(C, ref, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("K,N", [(1, 1), (3, 17), (4, 16), (23, 40), (64, 100), (7, 3), (10, 100)])
def test_row_kernels_agree_bitwise(K, N, a_transposed, dtype):
    """The 7-row, 6-row, 4-row and 1-row kernels give the same bits, for A as stored and for
    the transpose view the weight gradient hands them."""
    M = 14
    rng = np.random.default_rng(K * 100 + N)
    A = rng.standard_normal((K, M) if a_transposed else (M, K)).astype(dtype)
    op_A = A.T if a_transposed else A
    B = rng.standard_normal((K, N)).astype(dtype)
    C7, C6, C4, C1 = (np.full((M, N), np.nan, dtype=dtype) for _ in range(4))
    _layers._rows7(op_A, B, C7, 0)
    _layers._rows7(op_A, B, C7, 7)
    _layers._rows6(op_A, B, C6, 0)
    _layers._rows6(op_A, B, C6, 6)
    for i in range(0, 12, 4):
        _layers._rows4(op_A, B, C4, i)
    for i in range(M):
        _layers._row1(op_A, B, C1, i)
    for i in (12, 13):
        _layers._row1(op_A, B, C6, i)
        _layers._row1(op_A, B, C4, i)
    for other in (C6, C4, C1):
        assert np.array_equal(C7.view(np.uint8), other.view(np.uint8))
    tol = RTOL[dtype] * max(K, 1)
    np.testing.assert_allclose(C7, op_A @ B, rtol=tol, atol=tol)
