"""The fused optimizer step (_epoch.update_theta) against its parts run one after another."""

from __future__ import annotations

import numpy as np
import pytest

from jitmlp._config import UPDATE_BLOCK, UPDATE_PARALLEL_MIN, jit
from jitmlp._epoch import _sum_sq_span, reduce_chunks, sum_sq_weights, update_theta
from jitmlp._network import Layout
from jitmlp._optimizers import (
    _HAS_FMA,
    ADAM,
    ADAM_TILE,
    SGD,
    adam_part_span,
    adam_span,
    adam_step_size,
    sgd_span,
)

from helpers import gradient_work, step_records, update_table


@jit
def adam_part_span_(theta, parts, step, eta, sw_sum, p0, p1):
    """adam_part_span, from Python (it is compiled without a Python wrapper)."""
    return adam_part_span(theta, parts, step, eta, sw_sum, p0, p1)


# θ of several UPDATE_BLOCKs and a partial one, below and above UPDATE_PARALLEL_MIN
UNITS = {"serial": [61, 37, 5], "parallel": [97, 41, 7]}


def _setup(dtype, n_chunks, units=UNITS["parallel"], seed=3):
    layout = Layout.from_units(units)
    assert layout.size > 2 * UPDATE_BLOCK and layout.size % UPDATE_BLOCK != 0
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(layout.size).astype(dtype)
    parts = rng.standard_normal((n_chunks, layout.size)).astype(dtype)
    state_1 = rng.standard_normal(layout.size).astype(dtype)
    state_2 = rng.random(layout.size).astype(dtype)
    return layout, theta, parts, state_1, state_2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", [ADAM, SGD])
@pytest.mark.parametrize("n_chunks", [1, 2])
@pytest.mark.parametrize("size", ["serial", "parallel"])
@pytest.mark.parametrize("fused", [False, True], ids=["grad stored", "adam from parts"])
def test_fused_step_equals_reduce_then_update(size, solver, n_chunks, dtype, fused):
    layout, theta, parts, s1, s2 = _setup(dtype, n_chunks, UNITS[size])
    assert (layout.size >= UPDATE_PARALLEL_MIN) == (size == "parallel")
    alpha, sw_sum, lr, mu, b1, b2, eps, t = 0.3, 17.0, 1e-2, 0.9, 0.9, 0.999, 1e-8, 7
    n_weights = int(layout.b_off[0])

    # reference: the gradient in full, then the update rule over all of θ
    ref_theta, ref_s1, ref_s2 = theta.copy(), s1.copy(), s2.copy()
    ref_grad = np.empty_like(theta)
    reduce_chunks(ref_theta, gradient_work(layout, parts, ref_grad), n_weights, alpha, sw_sum)
    ref_sq = sum_sq_weights(ref_theta, layout.units, layout.w_off)
    T = dtype
    if solver == ADAM:
        eta = T(adam_step_size(t, lr, b1, b2))
        adam_span(ref_theta, ref_grad, ref_s1, ref_s2, T(b1), T(b2), eta, T(eps), 0, theta.size)
    else:
        sgd_span(ref_theta, ref_grad, ref_s1, T(mu), T(lr), True, 0, theta.size)

    net, work, step = step_records(layout, theta, parts, s1, s2, solver, lr, mu, True, b1, b2,
                                   eps, alpha)
    work.grad[:] = np.nan
    sq = update_theta(update_table(theta, work, step, fused), theta, net, work, step, t, sw_sum)
    grad = work.grad

    if fused and solver == ADAM and n_chunks <= 2:  # Adam straight from the groups' sums where
        whole = n_weights // UPDATE_BLOCK * UPDATE_BLOCK  # a block is weights only: no grad
        assert whole > 0 and np.isnan(grad[:whole]).all()
        assert np.array_equal(grad[whole:], ref_grad[whole:])
    else:
        assert np.array_equal(grad, ref_grad)
    assert np.array_equal(theta, ref_theta)
    assert np.array_equal(s1, ref_s1)
    if solver == ADAM:
        assert np.array_equal(s2, ref_s2)
    # ‖W‖² of θ before the step, summed per block: equal up to the grouping of the sum
    assert sq == pytest.approx(ref_sq, rel=1e-12)


def test_fused_step_penalty_ignores_biases():
    layout, theta, parts, s1, s2 = _setup(np.float64, 1)
    n_weights = int(layout.b_off[0])
    theta[n_weights:] = 1e6  # biases are not regularized: they must not enter ‖W‖²
    expected = float(np.sum(theta[:n_weights].astype(np.longdouble) ** 2))
    net, work, step = step_records(layout, theta, parts, s1, s2, SGD)
    sq = update_theta(update_table(theta, work, step), theta, net, work, step, 1, 1.0)
    assert sq == pytest.approx(expected, rel=1e-13)


def test_adam_moments_round_as_one_fma_where_the_target_has_it():
    # m ← (1 − β₁) g + β₁ m and v ← (1 − β₂) g² + β₂ v, each sum with (1 − β) g (resp. g²) fused
    # into one FMA on FMA targets, β m and g² rounded on their own; else every step rounded.
    # float32, emulated in float64: a product of two float32 is exact there.
    rng = np.random.default_rng(5)
    n, f32, f64 = 4000, np.float32, np.float64
    g = (rng.standard_normal(n) * 1e-3).astype(f32)
    m0 = (rng.standard_normal(n) * 1e-3).astype(f32)
    v0 = (rng.random(n) * 1e-6).astype(f32)
    b1, b2 = f32(0.9), f32(0.999)
    c1, c2, gg = f32(1) - b1, f32(1) - b2, g * g
    if _HAS_FMA:
        m_ref = (f64(c1) * g.astype(f64) + (b1 * m0).astype(f64)).astype(f32)
        v_ref = (f64(c2) * gg.astype(f64) + (b2 * v0).astype(f64)).astype(f32)
    else:
        m_ref, v_ref = c1 * g + b1 * m0, c2 * gg + b2 * v0
    for fused in (False, True):
        theta, m, v = np.zeros(n, f32), m0.copy(), v0.copy()
        if fused:  # grad = (part + 0·θ)/1 = g
            step = step_records(Layout.from_units([n - 1, 1]), theta, g[None], m, v, ADAM,
                                beta_1=b1, beta_2=b2)[2]
            adam_part_span_(theta, g[None], step, f32(1e-3), 1.0, 0, n)
        else:
            adam_span(theta, g, m, v, b1, b2, f32(1e-3), f32(1e-8), 0, n)
        np.testing.assert_array_equal(m, m_ref)
        np.testing.assert_array_equal(v, v_ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_from_the_part_sums_squares_as_the_separate_pass(dtype):
    # ‖θ[p0:p1]‖² before the step, taken tile by tile beside it: the bits of _sum_sq_span,
    # for spans of every remainder mod 4, within a tile and across tiles
    layout, theta, parts, s1, s2 = _setup(dtype, 1)
    step = step_records(layout, theta, parts, s1, s2, ADAM, alpha=0.3)[2]
    eta = dtype(1e-2)
    for p0, p1 in [(0, 1024), (1024, 1024 + 333), (2048, 2050), (5, 6), (7, 8 + 4 * ADAM_TILE),
                   (100, 103 + 4 * ADAM_TILE)]:
        expected = _sum_sq_span(theta, p0, p1)
        before = theta.copy()
        sq = adam_part_span_(theta, parts, step, eta, 17.0, p0, p1)
        assert sq == expected
        assert np.array_equal(theta[:p0], before[:p0]) and np.array_equal(theta[p1:], before[p1:])
        assert (theta[p0:p1] != before[p0:p1]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_from_parts_in_a_fit_gives_the_same_model(dtype, monkeypatch):
    """A fit whose θ is past ADAM_FROM_PARTS_MIN_BYTES takes Adam's step from the sums; the
    same fit without that kernel (threshold out of reach) is the same model, bit for bit."""
    import jitmlp
    from jitmlp import _epoch

    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 300)).astype(dtype)
    y = np.arange(64) % 3
    models = {}
    for name, threshold in (("fused", 0), ("stored", 1 << 62)):
        monkeypatch.setattr(_epoch, "ADAM_FROM_PARTS_MIN_BYTES", threshold)
        model = jitmlp.MLPClassifier((40,), batch_size=32, max_iter=3, random_state=0)
        models[name] = model.fit(X, y)
    for a, b in zip(models["fused"].coefs_ + models["fused"].intercepts_,
                    models["stored"].coefs_ + models["stored"].intercepts_):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)
    assert models["fused"].loss_curve_ == models["stored"].loss_curve_
