"""Accuracy, special values and dtype preservation of jitmlp._elementary (exp, tanh, logistic,
and expm1, log1p)."""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest
from scipy.special import expit

from jitmlp._config import jit
from jitmlp._elementary import exp, expm1, log1p, logistic, tanh

DTYPES = [np.float64, np.float32]


def _fill_of(function):
    """out[j] = function(x[j]) as a compiled loop, as the kernels run the elementary functions.

    Not cached on disk: numba checks only this file's timestamp, so a cached loop would keep an
    old ``_elementary`` after an edit there; uncached, its IR can also be inspected.
    """

    @jit(cache=False)
    def fill(x, out):
        for j in range(x.shape[0]):
            out[j] = function(x[j])

    return fill


FILLS = {name: _fill_of(f) for name, f in
         {"exp": exp, "tanh": tanh, "logistic": logistic, "expm1": expm1, "log1p": log1p}.items()}
IR_FILLS = FILLS  # compiled without the disk cache, so their IR can be inspected


def llvm_ir(name, dtype):
    fill = IR_FILLS[name]
    x = np.linspace(-3, 3, 64, dtype=dtype)
    fill(x, np.empty_like(x))
    sig = [s for s in fill.signatures if s[0].dtype == numba.from_dtype(np.dtype(dtype))][0]
    return fill.inspect_llvm(sig)
SCALARS = {"exp": exp, "tanh": tanh, "logistic": logistic}


def run(name, x):
    out = np.full_like(x, 12345.0)
    FILLS[name](x, out)
    return out


def ulp_distance(a, b):
    """|a - b| in ulps, for float arrays of one dtype (0 for equal infinities)."""
    assert a.dtype == b.dtype
    ity = np.int64 if a.dtype == np.float64 else np.int32
    mask = np.iinfo(ity).max

    def ordered(v):
        i = v.view(ity).astype(np.int64)
        return np.where(i < 0, -(i & mask), i)

    return np.abs(ordered(a) - ordered(b))


def exact(name, x):
    """Long-double (80-bit) reference rounded to x.dtype: the correctly rounded value."""
    xl = x.astype(np.longdouble)
    with np.errstate(over="ignore", under="ignore"):
        if name == "exp":
            r = np.exp(xl)
        elif name == "tanh":
            r = np.tanh(xl)
        elif name == "expm1":
            r = np.expm1(xl)
        elif name == "log1p":
            r = np.log1p(xl)
        else:
            r = 1 / (1 + np.exp(-xl))
    with np.errstate(over="ignore"):
        return r.astype(x.dtype)


def library(name, x):
    with np.errstate(over="ignore", under="ignore"):
        return {"exp": np.exp, "tanh": np.tanh, "logistic": expit, "expm1": np.expm1,
                "log1p": np.log1p}[name](x)


def points(dtype):
    rng = np.random.default_rng(12345)
    f64 = dtype == np.float64
    parts = [
        rng.uniform(-50.0, 50.0, 1_000_000),
        rng.uniform(-2.0, 2.0, 200_000),
        np.geomspace(1e-300 if f64 else 1e-37, 1.0, 50_000),
        np.linspace(0.62, 0.63, 20_000),  # tanh branch point
        np.linspace(18.0, 21.0, 20_000) if f64 else np.linspace(8.0, 10.0, 20_000),
        np.linspace(700.0, 712.0, 50_000) if f64 else np.linspace(85.0, 90.0, 50_000),
        np.linspace(-750.0, -700.0, 50_000) if f64 else np.linspace(-105.0, -85.0, 50_000),
        np.linspace(30.0, 40.0, 20_000) if f64 else np.linspace(14.0, 18.0, 20_000),
    ]
    x = np.concatenate(parts)
    return np.concatenate([x, -x]).astype(dtype)


@pytest.fixture(scope="module", params=DTYPES, ids=["float64", "float32"])
def grid(request):
    return points(request.param)


def _domain(name, x):
    return x[x > -1] if name == "log1p" else x  # log1p: NaN below -1 (tested apart)


@pytest.mark.parametrize("name", ["exp", "tanh", "logistic", "expm1", "log1p"])
def test_ulp_error_vs_correctly_rounded(name, grid):
    grid = _domain(name, grid)
    out = run(name, grid)
    assert out.dtype == grid.dtype
    d = ulp_distance(out, exact(name, grid))
    worst = grid[np.argmax(d)]
    assert d.max() <= 2, f"{name} {grid.dtype}: {d.max()} ulp at x={worst!r}"


@pytest.mark.parametrize("name", ["exp", "tanh", "logistic", "expm1", "log1p"])
def test_ulp_error_vs_numpy_scipy(name, grid):
    x = _domain(name, grid)
    if name == "logistic":
        # scipy's 1/(1+exp(-x)) underflows to 0 (and loses precision just before) for x << 0
        x = x[x > (-700.0 if x.dtype == np.float64 else -80.0)]
    d = ulp_distance(run(name, x), library(name, x))
    assert d.max() <= 3, f"{name} {x.dtype}: {d.max()} ulp at x={x[np.argmax(d)]!r}"


def test_ulp_helper_counts_ulps():
    a = np.array([1.0, -0.0, 0.0, 1.0], np.float64)
    b = np.array([np.nextafter(1.0, 2.0), 0.0, 5e-324, np.nextafter(1.0, 0.0)])
    assert ulp_distance(a, b).tolist() == [1, 0, 1, 1]


inf, nan = np.inf, np.nan
SPECIAL = {
    # name: [(x, expected), ...], valid for both dtypes
    "exp": [(0.0, 1.0), (-0.0, 1.0), (inf, inf), (-inf, 0.0), (1e30, inf), (-1e30, 0.0),
            (1000.0, inf), (-1000.0, 0.0), (1.0, np.e)],
    "tanh": [(0.0, 0.0), (inf, 1.0), (-inf, -1.0), (1e30, 1.0), (-1e30, -1.0),
             (50.0, 1.0), (-50.0, -1.0), (1e-30, 1e-30), (-1e-30, -1e-30)],
    "logistic": [(0.0, 0.5), (-0.0, 0.5), (inf, 1.0), (-inf, 0.0), (1e30, 1.0),
                 (-1e30, 0.0), (1000.0, 1.0), (-1000.0, 0.0)],
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["exp", "tanh", "logistic"])
def test_special_values(name, dtype):
    xs = np.array([x for x, _ in SPECIAL[name]] + [nan], dtype)
    expected = np.array([e for _, e in SPECIAL[name]] + [nan], dtype)
    out = run(name, xs)
    np.testing.assert_array_equal(out, expected)
    # scalar calls (compiled scalar entry point) agree with the loop
    for x, o in zip(xs, out, strict=True):
        s = SCALARS[name](x)
        assert (np.isnan(s) and np.isnan(o)) or s == o


@pytest.mark.parametrize("dtype", DTYPES)
def test_signed_zero_and_nan_sign_free(dtype):
    out = run("tanh", np.array([-0.0, 0.0], dtype))
    assert np.signbit(out[0]) and not np.signbit(out[1])
    for name in FILLS:
        assert np.isnan(run(name, np.array([nan, -nan], dtype))).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_subnormal_results(dtype):
    # gradual underflow: exp of values just above the underflow limit is subnormal, not 0
    lo = -740.0 if dtype == np.float64 else -100.0
    x = np.linspace(lo, lo + 20.0, 1001).astype(dtype)
    out = run("exp", x)
    assert (out > 0).all()
    assert ulp_distance(out, exact("exp", x)).max() <= 1
    out = run("logistic", x)
    assert (out > 0).all()
    assert ulp_distance(out, exact("logistic", x)).max() <= 2


@pytest.mark.parametrize("name", ["exp", "tanh", "logistic"])
def test_dtype_preserved_in_compiled_code(name):
    f = SCALARS[name]
    f(np.float32(0.3))
    f(np.float64(0.3))
    ret = {sig.args[0]: sig.return_type for sig in f.nopython_signatures}
    assert ret[numba.float32] == numba.float32
    assert ret[numba.float64] == numba.float64
    # the float32 loop contains no float64 arithmetic at all (no promotion anywhere)
    assert run(name, np.linspace(-3, 3, 64, dtype=np.float32)).dtype == np.float32
    ir = llvm_ir(name, np.float32)
    assert "float" in ir and "double" not in ir


def test_integer_input_gives_float64():
    assert tanh(1) == np.tanh(1.0)
    assert exp(2) == pytest.approx(np.exp(2.0), rel=2e-16)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["exp", "tanh", "logistic", "log1p"])  # expm1: not yet
def test_loop_vectorizes(name, dtype):
    """The fill loop compiles to SIMD vector arithmetic (no scalar libm call per element)."""
    ir = llvm_ir(name, dtype)
    elem = "double" if dtype == np.float64 else "float"
    assert re.search(rf"fmul (?:\w+ )*<\d+ x {elem}>", ir), "loop was not vectorized"
    assert not re.search(r"call [^\n]*@(?:tanh|exp|llvm\.exp)", ir)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["exp", "tanh", "logistic"])
def test_accuracy_kept_in_fastmath_caller(name, dtype):
    """A caller compiled with fastmath=True (reassoc, nnan, ...) must not degrade the kernels:
    they are compiled with the project's flags and LLVM keeps fast-math flags per instruction."""
    f = jit(FILLS[name].py_func, fastmath=True, cache=False)
    lim = 700.0 if dtype == np.float64 else 85.0
    x = np.linspace(-lim, lim, 200_001).astype(dtype)
    out = np.empty_like(x)
    f(x, out)
    assert ulp_distance(out, exact(name, x)).max() <= 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_expm1_and_log1p_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0, -2.0, 1e-30, -1e-30], dtype=dtype)
    e, lg = run("expm1", x), run("log1p", x)
    assert np.isnan(e[0]) and e[1] == np.inf and e[2] == -1.0 and e[3] == 0.0
    assert e[6] == x[6] and e[7] == x[7]  # expm1(x) = x to rounding for tiny x
    assert np.isnan(lg[0]) and lg[1] == np.inf and np.isnan(lg[2]) and lg[3] == 0.0
    assert lg[4] == -np.inf and np.isnan(lg[5])
    assert lg[6] == x[6] and lg[7] == x[7]
