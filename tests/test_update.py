"""The fused optimizer step (_epoch.update_theta) against its parts run one after another."""

from __future__ import annotations

import numpy as np
import pytest

from jitmlp._config import UPDATE_BLOCK, UPDATE_PARALLEL_MIN
from jitmlp._epoch import reduce_chunks, sum_sq_weights, update_theta
from jitmlp._network import Layout
from jitmlp._optimizers import ADAM, SGD, adam_span, adam_step_size, sgd_span

from helpers import gradient_work, step_records

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
def test_fused_step_equals_reduce_then_update(size, solver, n_chunks, dtype):
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
    sq = update_theta(theta, net, work, step, t, sw_sum)
    grad = work.grad

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
    sq = update_theta(theta, net, work, step, 1, 1.0)
    assert sq == pytest.approx(expected, rel=1e-13)
