"""h = g(a + b) and grad_a = grad_h ⊙ g'(a) against numpy, serial and row-parallel, NaN kept;
the accuracy of g and g' in ulp against long-double references; the ``activation`` parameter."""

from __future__ import annotations

import numpy as np
import pytest

from jitmlp import _activations
from jitmlp._activations import ACTIVATIONS, KEEPS_G_PRIME, activation_codes, g_kernels

from reference import G_PRIME as REFERENCE_G_PRIME
from reference import G as REFERENCE_G


def _kept(name):
    return ACTIVATIONS[name] in KEEPS_G_PRIME


def _d_for(a, name):
    """The d buffer the kernels take: a's shape for a kept activation, else no rows."""
    return np.full_like(a, np.nan) if _kept(name) else a[:0]


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
    a64 = a.astype(np.float64) + b.astype(np.float64)
    expected = REFERENCE_G[name](a64)
    g_only = a.copy()
    d = _d_for(a, name)
    table = g_kernels([ACTIVATIONS[name]], dtype)
    getattr(_activations, kernel)(table, 0, a, b, d)
    assert a.dtype == dtype
    assert np.isnan(a[1, 2]), "a NaN pre-activation must stay NaN"
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(a, expected, rtol=rtol, atol=rtol)
    # prediction's g only (d without rows) gives the same bits as the fit's g with g'
    getattr(_activations, kernel)(table, 0, g_only, b, g_only[:0])
    np.testing.assert_array_equal(g_only, a)
    if _kept(name):  # d = g'(a + b), from a
        assert np.isnan(d[1, 2])
        np.testing.assert_allclose(d, REFERENCE_G_PRIME[name](a64, expected), rtol=10 * rtol,
                                   atol=10 * rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("kernel", ["g_prime_serial", "g_prime"])
@pytest.mark.parametrize("n,m", [(7, 13), (400, 100)])
def test_g_prime(kernel, name, dtype, n, m):
    a, b = _inputs(dtype, n, m)
    h = REFERENCE_G[name](a).astype(dtype)
    h[3, 4] = 0  # a ReLU zero
    # the kept activations' d = g'(a), as the forward pass leaves it
    d = (REFERENCE_G_PRIME[name](a, h).astype(dtype) if _kept(name) else a[:0])
    grad_h = np.random.default_rng(1).standard_normal((n, m)).astype(dtype)
    factor = (d if _kept(name) else REFERENCE_G_PRIME[name](a, h.astype(np.float64)))
    expected = grad_h.astype(np.float64) * factor.astype(np.float64)
    grad_a = grad_h.copy()
    getattr(_activations, kernel)(g_kernels([ACTIVATIONS[name]], dtype), 0, h, d, grad_a)
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
        getattr(_activations, kernel)(g_kernels([ACTIVATIONS["relu"]], h.dtype), 0, h, h[:0],
                                      grad_a)


@pytest.mark.parametrize("name", ["elu", "silu", "gelu"])
def test_kept_g_prime_refuses_mismatched_shapes(name):
    table = g_kernels([ACTIVATIONS[name]], np.float64)
    a, b = np.ones((4, 5)), np.ones(5)
    with pytest.raises(ValueError, match="differ in shape"):
        _activations.bias_g_serial(table, 0, a, b, np.ones((3, 5)))
    with pytest.raises(ValueError, match="differ in shape"):
        _activations.g_prime_serial(table, 0, a, np.ones((3, 5)), np.ones((4, 5)))


# ---------------------------------------------------------------------------------------------
# accuracy in ulp against long-double (80-bit) references rounded to the dtype

LD = np.longdouble


def _sigma(z):
    return LD(1) / (LD(1) + np.exp(-z))


def _exact(name, a):
    """(g(a), g'(a)) in long double."""
    a = a.astype(LD)
    one = LD(1)
    if name == "silu":
        return a * _sigma(a), _sigma(a) * (one + a * _sigma(-a))
    if name == "gelu":  # a σ(z), z = 2c(a + k a³)
        c, k = np.sqrt(LD(2) / (4 * np.arctan(one))), LD(0.044715)
        z, dz = 2 * c * (a + k * a**3), 2 * c * (one + 3 * k * a**2)
        return a * _sigma(z), _sigma(z) * (one + a * dz * _sigma(-z))
    if name == "elu":
        neg = np.minimum(a, 0)
        return np.where(a > 0, a, np.expm1(neg)), np.where(a > 0, one, np.exp(neg))
    if name == "softplus":
        return np.maximum(a, 0) + np.log1p(np.exp(-abs(a))), _sigma(a)
    raise KeyError(name)


def _compiled(name, a):
    """(g(a), g'(a)) from the kernels: bias_g with b = 0, then g_prime with grad h = 1."""
    table = g_kernels([ACTIVATIONS[name]], a.dtype)
    h = a[None, :].copy()
    d = _d_for(h, name)
    _activations.bias_g_serial(table, 0, h, np.zeros(a.shape[0], a.dtype), d)
    grad = np.ones_like(h)
    _activations.g_prime_serial(table, 0, h, d, grad)
    return h[0], grad[0]


# name -> (max ulp of g, max ulp of g'), both dtypes; measured on the inputs below
# (docs/algorithm.md states them). gelu's tanh form, a σ(z), costs what its condition number
# |a g'/g| ≈ 3|z| costs for a one-ulp change of a: kept to a >= -3 here.
ULP_BOUNDS = {"softplus": (2, 3), "elu": (1, 1), "silu": (3, 16), "gelu": (16, 16)}
ZERO_OF_G_PRIME = {"silu": -1.2785, "gelu": -0.7525}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ULP_BOUNDS))
def test_g_and_g_prime_are_accurate_to_a_few_ulp(name, dtype):
    from test_elementary import ulp_distance

    rng = np.random.default_rng(7)
    low = -3.0 if name == "gelu" else -30.0
    a = np.concatenate([rng.uniform(low, 30, 200_000), rng.uniform(-3, 3, 200_000),
                        rng.uniform(-1e-3, 1e-3, 20_000), [0.0, -0.0]]).astype(dtype)
    h, gp = _compiled(name, a)
    ref_h, ref_gp = _exact(name, a)
    g_ulp, gp_ulp = ULP_BOUNDS[name]
    assert ulp_distance(h, ref_h.astype(dtype)).max() <= g_ulp
    # near a zero of g' the relative error has no bound: there, at most 2 ulp of 1 absolute
    away = np.abs(a - ZERO_OF_G_PRIME.get(name, np.inf)) > 0.1
    assert ulp_distance(gp[away], ref_gp.astype(dtype)[away]).max() <= gp_ulp
    eps = np.finfo(dtype).eps
    assert np.abs(gp.astype(LD) - ref_gp).max() <= 2 * eps


@pytest.mark.parametrize("name", ["leaky_relu", "softplus", "elu", "silu", "gelu"])
def test_special_values(name):
    a = np.array([np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30, 50.0, -50.0])
    h, gp = _compiled(name, a)
    assert np.isnan(h[0])
    assert h[1] == np.inf and (gp[1] == 1.0 or name in ("silu", "gelu"))  # NaN: inf·0
    assert h[3] == (np.log(2.0) if name == "softplus" else 0.0)
    assert h[4] == 1e30 and gp[4] == 1.0
    assert np.isfinite(h[5:]).all() and np.isfinite(gp[4:]).all()
    assert gp[6] == 1.0 and abs(gp[7]) <= 0.01


# ---------------------------------------------------------------------------------------------
# the activation parameter


def test_activation_codes_per_layer():
    assert activation_codes("gelu", 2) == (ACTIVATIONS["gelu"],) * 2
    assert activation_codes(("relu", "silu"), 2) == (ACTIVATIONS["relu"], ACTIVATIONS["silu"])
    with pytest.raises(ValueError, match="2 entries for 3 hidden layer"):
        activation_codes(("relu", "silu"), 3)
    with pytest.raises(ValueError, match="'swish' is not one of"):
        activation_codes(("relu", "swish"), 2)


def _digits_like(n=120):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 8))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_same_name_for_every_layer_is_the_single_name():
    from jitmlp import MLPClassifier

    X, y = _digits_like()
    params = dict(hidden_layer_sizes=(7, 5), max_iter=3, random_state=0)
    for name in ("logistic", "gelu"):  # logistic: scikit-learn's init factor 2 holds for both
        one = MLPClassifier(activation=name, **params).fit(X, y)
        each = MLPClassifier(activation=(name, name), **params).fit(X, y)
        for w, v in zip(one.coefs_ + one.intercepts_, each.coefs_ + each.intercepts_):
            np.testing.assert_array_equal(w, v)


def test_estimators_refuse_bad_activations_clearly():
    from sklearn.utils._param_validation import InvalidParameterError

    from jitmlp import MLPClassifier, MLPRegressor

    X, y = _digits_like(30)
    with pytest.raises(ValueError, match="1 entries for 2 hidden layer"):
        MLPClassifier((4, 3), activation=("relu",), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="'swish' is not one of"):
        MLPRegressor(hidden_layer_sizes=(4, 3), activation=["relu", "swish"],
                     max_iter=1).fit(X, X[:, 0])
    with pytest.raises(InvalidParameterError, match="'activation' parameter"):
        MLPClassifier(activation="swish").fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_per_layer_activations_change_the_model_and_predict_consistently():
    """Per-layer codes reach the kernels: (gelu, relu) differs from gelu alone and from relu
    alone, and predict_proba equals the fit's own forward pass (g without g' in prediction)."""
    from jitmlp import MLPClassifier

    X, y = _digits_like()
    params = dict(hidden_layer_sizes=(7, 5), max_iter=3, random_state=0, solver="lbfgs")
    models = {act: MLPClassifier(activation=act, **params).fit(X, y)
              for act in ("gelu", "relu", ("gelu", "relu"))}
    coefs = [m.coefs_[1].tobytes() for m in models.values()]
    assert len(set(coefs)) == 3
    mixed = models[("gelu", "relu")]
    # the first hidden layer in numpy: gelu (tanh form), then relu, then softmax
    from reference import G
    h1 = G["gelu"](X @ mixed.coefs_[0] + mixed.intercepts_[0])
    h2 = G["relu"](h1 @ mixed.coefs_[1] + mixed.intercepts_[1])
    a3 = h2 @ mixed.coefs_[2] + mixed.intercepts_[2]
    p = np.exp(a3 - a3.max(axis=1, keepdims=True))
    np.testing.assert_allclose(mixed.predict_proba(X), p / p.sum(axis=1, keepdims=True),
                               rtol=1e-12, atol=1e-14)
