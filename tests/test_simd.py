"""The SIMD vector operations of jitmlp._simd, lane by lane."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from jitmlp._config import VECTOR_BITS, jit
from jitmlp._simd import lanes, vfma, vload, vload_n, vstore, vstore_n, vzeros

DTYPES = [np.float64, np.float32]
W = {np.float64: VECTOR_BITS // 64, np.float32: VECTOR_BITS // 32}  # lanes


@jit
def _lanes(C):
    return lanes(C)


@jit
def _copy_row(B, C, k, j, i, jc):
    vstore(C, i, jc, vload(B, k, j))


@jit
def _copy_row_n(B, C, k, j, i, jc, m):
    vstore_n(C, i, jc, vload_n(B, k, j, m), m)


@jit
def _load_n_store_all(B, C, m):
    vstore(C, 0, 0, vload_n(B, 0, 0, m))


@jit
def _fma_row(a, B, C):
    vstore(C, 0, 0, vfma(a, vload(B, 0, 0), vload(C, 0, 0)))


@jit
def _zeros(C):
    vstore(C, 0, 0, vzeros(C))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lanes_fill_a_vector(dtype):
    assert _lanes(np.empty((1, 1), dtype=dtype)) == W[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_load_store_at_offsets(dtype):
    w = W[dtype]
    B = np.arange(3 * (w + 5), dtype=dtype).reshape(3, w + 5)
    C = np.full((2, w + 3), -1, dtype=dtype)
    _copy_row(B, C, 2, 4, 1, 2)
    expected = np.full_like(C, -1)
    expected[1, 2 : 2 + w] = B[2, 4 : 4 + w]
    np.testing.assert_array_equal(C, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_rows_do_not_compile(dtype):
    """A vector is W consecutive elements: arrays whose rows are strided (the transpose view)
    are refused at compile time instead of being read as if contiguous."""
    B = np.arange(4 * W[dtype], dtype=dtype).reshape(W[dtype], 4).T
    with pytest.raises(numba.core.errors.TypingError):
        _copy_row(B, np.zeros((1, W[dtype]), dtype=dtype), 1, 0, 0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_lanes_are_left_alone(dtype):
    """vload_n reads lanes < m (zeros in the rest); vstore_n writes lanes < m, nothing else."""
    w = W[dtype]
    B = np.arange(1, w + 1, dtype=dtype).reshape(1, w)
    for m in range(w + 1):
        C = np.full((1, w), -1, dtype=dtype)
        _copy_row_n(B, C, 0, 0, 0, 0, m)
        np.testing.assert_array_equal(C[0, :m], B[0, :m])
        np.testing.assert_array_equal(C[0, m:], -1)
        Z = np.full((1, w), -1, dtype=dtype)
        _load_n_store_all(B, Z, m)
        np.testing.assert_array_equal(Z[0, :m], B[0, :m])
        np.testing.assert_array_equal(Z[0, m:], 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fma_rounds_once(dtype):
    """c + a·b with a single rounding: (1 + ε)(1 - ε) - 1 is -ε² fused, 0 if a·b were rounded."""
    w = W[dtype]
    eps = np.finfo(dtype).eps
    a = dtype(1 + eps)
    B = np.full((1, w), 1 - eps, dtype=dtype)
    C = np.full((1, w), -1, dtype=dtype)
    _fma_row(a, B, C)
    np.testing.assert_array_equal(C, np.full((1, w), -(eps * eps), dtype=dtype))
    assert C[0, 0] != 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeros(dtype):
    C = np.full((1, W[dtype]), np.nan, dtype=dtype)
    _zeros(C)
    np.testing.assert_array_equal(C, 0)


def test_fma_refuses_mixed_dtypes():
    """No silent conversion: a float64 scalar with a float32 vector does not compile."""
    B = np.ones((1, 16), dtype=np.float32)
    with pytest.raises(numba.core.errors.TypingError):
        _fma_row(1.0, B, B.copy())


def test_stores_refuse_read_only_arrays():
    """A read-only C does not compile (as numba's own item assignment refuses it)."""
    B = np.ones((1, 8))
    C = np.zeros((1, 8))
    C.setflags(write=False)
    with pytest.raises(numba.core.errors.TypingError):
        _copy_row(B, C, 0, 0, 0, 0)
    with pytest.raises(numba.core.errors.TypingError):
        _copy_row_n(B, C, 0, 0, 0, 0, 3)


def test_indices_must_be_integers():
    """A float index or lane count does not compile (no silent truncation)."""
    B = np.ones((2, 16))
    C = np.zeros((2, 16))
    with pytest.raises(numba.core.errors.TypingError):
        _copy_row(B, C, 0.5, 0, 0, 0)
    with pytest.raises(numba.core.errors.TypingError):
        _copy_row_n(B, C, 0, 0, 0, 0, 3.9)
