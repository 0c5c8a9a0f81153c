"""h = g(a + b) and grad_a = grad_h ⊙ g'(a) against numpy, serial and row-parallel, NaN kept."""

from __future__ import annotations

import numpy as np
import pytest

from jitmlp import _activations
from jitmlp._activations import ACTIVATIONS, g_kernels

from reference import G_PRIME as REFERENCE_G_PRIME
from reference import G as REFERENCE_G


def _inputs(dtype, n, m):
    rng = np.random.default_rng(n * m)
    a = rng.standard_normal((n, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    a[1, 2] = np.nan
    return a, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("kernel", ["bias_g_serial", "bias_g"])
@pytest.mark.parametrize("n,m", [(7, 13), (400, 100)])  # the second is large enough to run parallel
def test_bias_g(kernel, name, dtype, n, m):
    a, b = _inputs(dtype, n, m)
    expected = REFERENCE_G[name](a.astype(np.float64) + b.astype(np.float64))
    getattr(_activations, kernel)(g_kernels([ACTIVATIONS[name]], dtype), 0, a, b)
    assert a.dtype == dtype
    assert np.isnan(a[1, 2]), "a NaN pre-activation must stay NaN"
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(a, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("kernel", ["g_prime_serial", "g_prime"])
@pytest.mark.parametrize("n,m", [(7, 13), (400, 100)])
def test_g_prime(kernel, name, dtype, n, m):
    a, b = _inputs(dtype, n, m)
    h = REFERENCE_G[name](a).astype(dtype)
    h[3, 4] = 0  # a ReLU zero
    grad_h = np.random.default_rng(1).standard_normal((n, m)).astype(dtype)
    expected = grad_h.astype(np.float64) * REFERENCE_G_PRIME[name](h.astype(np.float64))
    grad_a = grad_h.copy()
    getattr(_activations, kernel)(g_kernels([ACTIVATIONS[name]], dtype), 0, h, grad_a)
    assert grad_a.dtype == dtype
    np.testing.assert_array_equal(np.isnan(grad_a), np.isnan(expected))
    # 1 - h² cancels near |h| = 1: the kernel may round h² (or fuse it) differently from float64,
    # one rounding of a value <= 1, so the error is bounded by eps·|grad_h|, not by rtol alone
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(grad_a, expected, rtol=4 * eps, atol=2 * eps * np.abs(grad_h).max())


@pytest.mark.parametrize("kernel", ["g_prime_serial", "g_prime"])
@pytest.mark.parametrize("shape_h,shape_g", [((4, 5), (5, 4)), ((4, 5), (4, 6)), ((4, 5), (3, 5))])
def test_g_prime_refuses_mismatched_shapes(kernel, shape_h, shape_g):
    """h and grad_a are paired over their flat spans: a shape mismatch raises instead of pairing
    the wrong elements (or reading past the shorter one)."""
    h = np.ones(shape_h)
    grad_a = np.ones(shape_g)
    with pytest.raises(ValueError, match="differ in shape"):
        getattr(_activations, kernel)(g_kernels([ACTIVATIONS["relu"]], h.dtype), 0, h, grad_a)
