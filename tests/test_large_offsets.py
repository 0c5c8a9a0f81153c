"""Index arithmetic past 2^31 elements: the kernels read and write at element offsets > 2^31.

Every offset the kernels compute is int64 (numba's intp): array indexing, the SIMD tiles'
element pointers (``_simd._element_pointer`` casts both indices to intp), θ's offsets (int64
arrays), the workspaces' row offsets, the CSR arrays (indices and indptr converted to int64 by
the estimator) and prange indices (uint64). These tests run the kernels that index X, the CSR
arrays and ŷ on arrays of more than 2^31 elements that cost neither memory nor disk: sparse
memory-mapped files, of which only the few pages touched become real.
"""

from __future__ import annotations

import numpy as np
import pytest

from jitmlp import MLPRegressor
from jitmlp._epoch import gather_rows
from jitmlp._estimators import _frozen
from jitmlp._network import Layout
from jitmlp._predict import _predict_block, predict_kernel_of
from jitmlp._sparse import _csr_tn_columns, csr_matmul_rows

N = 2**31 + 12  # rows of a one-feature X, elements of a CSR matrix: past 2^31
TAIL = np.array([0.25, -1.5, 2.0, 0.0, 3.5, -0.75, 1.0, -2.25, 0.5, 4.0, -3.0, 1.25])


def _huge(tmp_path, name, dtype, shape, tail=None):
    """A read-only array of ``shape`` on a sparse file: zeros, then ``tail`` as its last values."""
    path = tmp_path / name
    array = np.memmap(path, dtype=dtype, mode="w+", shape=shape)
    if tail is not None:
        array.reshape(-1)[-len(tail):] = tail
    array.flush()
    del array
    return _frozen(np.memmap(path, dtype=dtype, mode="r", shape=shape))


@pytest.fixture
def huge_X(tmp_path):
    return _huge(tmp_path, "X", np.float64, (N, 1), TAIL)


def test_the_arrays_are_past_2_31_elements(huge_X):
    assert huge_X.size > 2**31 and huge_X.flags.c_contiguous and not huge_X.flags.writeable


def test_gather_reads_rows_past_2_31(huge_X):
    idx = _frozen(np.array([N - 1, N - 5, 3, N - 12], dtype=np.int64))
    h0 = np.full((4, 1), np.nan)
    gather_rows(huge_X, idx, h0)
    np.testing.assert_array_equal(h0[:, 0], [TAIL[-1], TAIL[-5], 0.0, TAIL[0]])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_block_reads_and_writes_rows_past_2_31(tmp_path, huge_X):
    rng = np.random.default_rng(0)
    X_small = rng.normal(size=(40, 1))
    model = MLPRegressor(hidden_layer_sizes=(7,), max_iter=5, random_state=0)
    model.fit(X_small, X_small[:, 0] ** 2)
    layout = Layout.from_units([1, 7, 1])
    theta = layout.pack(model.coefs_, model.intercepts_, np.float64)
    y_hat = np.memmap(tmp_path / "y_hat", dtype=np.float64, mode="w+", shape=(N, 1))
    y_hat_view = y_hat.view(np.ndarray)
    rows = _frozen(np.arange(4, dtype=np.int64))  # read for sparse input only
    net = model._network(layout, np.float64)
    kernels = predict_kernel_of(huge_X, None, rows, theta, net, y_hat_view)
    _predict_block(kernels, huge_X, None, rows, theta, net, N - len(TAIL), N, y_hat_view)
    expected = model.predict(TAIL[:, None])
    np.testing.assert_array_equal(y_hat_view[N - len(TAIL):, 0], expected)


def test_sparse_first_layer_past_2_31_stored_values(tmp_path):
    # two rows; row 1 holds the last three of N stored values (row 0, all zeros, is not touched)
    columns = np.array([0, 2, 4], dtype=np.int64)
    values = np.array([1.5, -2.0, 3.0])
    data = _huge(tmp_path, "data", np.float64, (N,), values)
    indices = _huge(tmp_path, "indices", np.int64, (N,), columns)
    indptr = _frozen(np.array([0, N - 3, N], dtype=np.int64))
    idx = _frozen(np.array([1], dtype=np.int64))
    rng = np.random.default_rng(1)
    W = rng.normal(size=(5, 6))
    A = np.full((1, 6), np.nan)
    csr_matmul_rows(data, indices, indptr, idx, W, A, 0, 1)
    x = np.zeros(5)
    x[columns] = values
    np.testing.assert_allclose(A[0], x @ W, rtol=1e-15, atol=1e-15)

    grad_a = rng.normal(size=(1, 6))
    gW = np.full((5, 6), np.nan)
    _csr_tn_columns(data, indices, indptr, idx, grad_a, gW, 0, 6)
    np.testing.assert_array_equal(gW, np.outer(x, grad_a[0]))
