"""The row views of flat workspaces: the same elements as numpy's reshape, and they own nothing."""

import gc
import sys

import numba
import numpy as np
import pytest

from jitmlp._views import as_flat, as_rows


@numba.njit
def _rows_of(flat, start, rows, cols):
    return as_rows(flat[start : start + rows * cols], rows, cols)


@numba.njit
def _flat_of(block):
    return as_flat(block)


@numba.njit
def _write_through(flat, rows, cols):
    view = as_rows(flat, rows, cols)
    view[rows - 1, cols - 1] = -1.0
    as_flat(view)[0] = -2.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
@pytest.mark.parametrize("start,rows,cols", [(0, 1, 1), (3, 4, 5), (7, 1, 9), (0, 9, 1), (2, 0, 4)])
def test_as_rows_matches_reshape(start, rows, cols, dtype):
    flat = np.arange(64).astype(dtype)
    view = _rows_of(flat, start, rows, cols)
    expected = flat[start : start + rows * cols].reshape(rows, cols)
    assert view.dtype == dtype and view.shape == (rows, cols) and view.flags.c_contiguous
    np.testing.assert_array_equal(view, expected)
    np.testing.assert_array_equal(_flat_of(view), expected.ravel())


def test_views_write_into_the_buffer():
    flat = np.zeros(12)
    _write_through(flat, 3, 4)
    assert flat[11] == -1.0 and flat[0] == -2.0


def test_wrong_size_raises():
    flat = np.zeros(10)
    with pytest.raises(ValueError, match="rows x cols"):
        _rows_of(flat, 5, 2, 3)  # the slice holds 5 elements, not 6
    with pytest.raises(ValueError, match="rows x cols"):
        _rows_of(flat, 8, 2, 3)  # past the end: the slice is cut to 2 elements


def test_view_keeps_its_buffer_alive():
    """Like a reshape, the view holds a reference to the buffer's memory: the buffer may be
    dropped by its owner and the view still reads it."""
    flat = np.arange(20.0)
    view = _rows_of(flat, 0, 4, 5)
    del flat
    gc.collect()
    np.testing.assert_array_equal(view, np.arange(20.0).reshape(4, 5))
    flat2 = np.arange(6.0)
    count = sys.getrefcount(flat2)
    for _ in range(100):
        _flat_of(_rows_of(flat2, 0, 2, 3))
    assert sys.getrefcount(flat2) == count  # no reference leaked per view
