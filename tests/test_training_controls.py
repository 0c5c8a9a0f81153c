"""lr_schedule, max_grad_norm and weight_decay: each against its defining property."""

import copy
import inspect
import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

import jitmlp
import jitmlp._estimators as estimators
from jitmlp import MLPClassifier, MLPRegressor
from jitmlp._activations import ACTIVATIONS
from jitmlp._config import UPDATE_BLOCK
from jitmlp._epoch import _sum_sq_span, reduce_chunks, update_theta
from jitmlp._gradcheck import compiled_objective
from jitmlp._network import Layout
from jitmlp._optimizers import (
    ADAM,
    SGD,
    OptimizerState,
    adam_span,
    adam_step_size,
    clip_factor,
    scale_span,
    sgd_span,
    step_record,
)
from jitmlp._outputs import OUTPUTS

from helpers import gradient_work, step_records, update_table


def regression(n=60):
    X, y = make_regression(n, 4, noise=0.5, random_state=0)
    return X, y / y.std()


def quiet(model, method, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(model, method)(X, y, **kwargs)


def theta_of(model):
    layout = Layout.from_units([model.coefs_[0].shape[0]] + [c.shape[1] for c in model.coefs_])
    return layout, layout.pack(model.coefs_, model.intercepts_, np.float64)


def gradient(model, X, y):
    """grad θ of the whole (X, y) at the model's θ, L2 term included (one full batch)."""
    layout, theta = theta_of(model)
    objective = compiled_objective(layout, X, y.reshape(len(y), -1), None,
                                   ACTIVATIONS[model.activation], OUTPUTS[model.out_activation_],
                                   model.alpha, np.float64)
    return objective(theta)[1]


@pytest.fixture
def rates(monkeypatch):
    """The learning rate each compiled epoch call receives."""
    seen = []
    original = estimators.run_epoch
    position = list(inspect.signature(original.py_func).parameters).index("step")

    def spy(*args):
        seen.append(args[position].learning_rate)
        return original(*args)

    monkeypatch.setattr(estimators, "run_epoch", spy)
    return seen


# ---------------------------------------------------------------- schedules
def test_sgd_step_sizes_follow_the_cosine_schedule_per_epoch():
    """sgd without momentum, one batch per epoch: Δθ = -η_e grad θ, so each step measures η_e;
    past max_iter (partial_fit calls) the rate stays 0."""
    X, y = regression()
    eta_0, max_iter = 0.05, 4
    model = MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, batch_size=len(y),
                         shuffle=False, lr_schedule="cosine", learning_rate_init=eta_0,
                         max_iter=max_iter, alpha=0.1, random_state=0)
    measured = []
    quiet(model, "partial_fit", X, y)
    for _ in range(6):
        g = gradient(model, X, y)
        before = theta_of(model)[1]
        quiet(model, "partial_fit", X, y)
        step = theta_of(model)[1] - before
        measured.append(-step @ g / (g @ g))
    expected = [eta_0 * (1 + math.cos(math.pi * min(e, max_iter) / max_iter)) / 2
                for e in range(1, 7)]
    np.testing.assert_allclose(measured, expected, rtol=1e-9, atol=1e-15)
    assert expected[-1] == 0.0 and model._optimizer.epoch == 7


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_cosine_and_invscaling_rates_per_epoch(rates, solver):
    X, y = regression()
    for schedule in ("cosine", "invscaling"):
        rates.clear()
        model = quiet(MLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=5,
                                   lr_schedule=schedule, learning_rate_init=0.01, power_t=0.25,
                                   tol=0.0, random_state=0), "fit", X, y)
        if schedule == "cosine":
            expected = [0.01 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(5)]
        else:  # after each epoch, from the samples seen (scikit-learn's t_)
            expected = [0.01] + [0.01 / (len(y) * e + 1) ** 0.25 for e in range(1, 5)]
        assert rates == expected
        assert model.n_iter_ == 5


def test_adam_adaptive_divides_by_five_as_sklearns_sgd_does(rates):
    """With no improvement (tol=10), sgd's adaptive rule divides by 5 every 2 epochs and stops
    below 1e-6; adam with lr_schedule='adaptive' takes the same rates; plain adam stops."""
    X, y = regression()
    params = dict(hidden_layer_sizes=(4,), tol=10.0, n_iter_no_change=1, max_iter=50,
                  random_state=0)
    quiet(MLPRegressor(solver="sgd", learning_rate="adaptive", **params), "fit", X, y)
    sgd_rates, rates[:] = list(rates), []
    adam = quiet(MLPRegressor(solver="adam", lr_schedule="adaptive", **params), "fit", X, y)
    # epoch 1 improves (on inf), no later one does: every second epoch after it ends in the rule,
    # which divides by 5, or stops once the rate is <= 1e-6
    expected, rate = [1e-3], 1e-3
    while True:
        expected += [rate, rate]
        if rate <= 1e-6:
            break
        rate /= 5.0
    assert rates == sgd_rates == expected
    assert adam.n_iter_ == len(expected) == 13
    rates.clear()
    assert quiet(MLPRegressor(solver="adam", **params), "fit", X, y).n_iter_ == 3  # stops


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_lr_schedule_for_sgd_is_sklearns_learning_rate(schedule):
    X, y = regression()
    params = dict(hidden_layer_sizes=(4,), solver="sgd", max_iter=8, tol=0.1, n_iter_no_change=1,
                  random_state=0)
    ours = quiet(MLPRegressor(lr_schedule=schedule, **params), "fit", X, y)
    theirs = quiet(MLPRegressor(learning_rate=schedule, **params), "fit", X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert ours.loss_curve_ == theirs.loss_curve_


def test_lr_schedule_and_learning_rate_both_set_is_refused():
    X, y = regression()
    with pytest.raises(ValueError, match="both set a schedule"):
        MLPRegressor(solver="sgd", learning_rate="adaptive", lr_schedule="cosine").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'lr_schedule' parameter"):
        MLPRegressor(lr_schedule="linear").fit(X, y)


def test_cosine_epoch_survives_save_and_load(tmp_path):
    X, y = regression()
    model = MLPRegressor(hidden_layer_sizes=(4,), lr_schedule="cosine", max_iter=5,
                         random_state=0)
    for _ in range(3):
        model.partial_fit(X, y)
    jitmlp.save(model, tmp_path / "m.jitmlp")
    loaded = jitmlp.load(tmp_path / "m.jitmlp")
    assert loaded._optimizer.epoch == model._optimizer.epoch == 3
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.coefs_[0], model.coefs_[0])


# ---------------------------------------------------------------- clipping
@pytest.mark.parametrize("max_grad_norm_share", [0.3, 2.0])
def test_clipped_sgd_step_has_norm_eta_times_max_grad_norm(max_grad_norm_share):
    """sgd, momentum 0, one batch: Δθ = -η g min(1, c/‖g‖), g the full gradient, L2 included
    (alpha=1 makes the L2 term a large share of it)."""
    X, y = regression()
    eta = 0.05
    params = dict(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, batch_size=len(y),
                  shuffle=False, learning_rate_init=eta, alpha=1.0, random_state=0, max_iter=1)
    model = quiet(MLPRegressor(**params), "fit", X, y)
    g = gradient(model, X, y)
    c = max_grad_norm_share * float(np.linalg.norm(g))
    clipped = copy.deepcopy(model).set_params(max_grad_norm=c)  # the same θ and state
    before = theta_of(model)[1]
    quiet(model, "partial_fit", X, y)
    quiet(clipped, "partial_fit", X, y)
    step = theta_of(clipped)[1] - before
    if max_grad_norm_share < 1:
        assert np.linalg.norm(step) == pytest.approx(eta * c, rel=1e-10)
        np.testing.assert_allclose(step, -eta * c * g / np.linalg.norm(g), rtol=1e-9,
                                   atol=1e-14)
    else:  # under the threshold: the unclipped step, bit for bit
        np.testing.assert_array_equal(theta_of(clipped)[1], theta_of(model)[1])


# ---------------------------------------------------------------- weight decay
def test_adamw_step_against_numpy():
    """One adam step with decoupled weight decay: θ ← (1 - η λ) θ - η_t m̂/(√v̂ + ε) on the
    weights, without the decay on the biases; η the rate, η_t adam's bias-corrected step."""
    X, y = regression()
    eta, lam, b1, b2, eps = 0.01, 0.5, 0.9, 0.999, 1e-8
    params = dict(hidden_layer_sizes=(5,), batch_size=len(y), shuffle=False, alpha=1e-3,
                  learning_rate_init=eta, random_state=0, max_iter=2)
    model = quiet(MLPRegressor(**params, weight_decay=lam), "fit", X, y)
    layout, theta = theta_of(model)
    opt = model._optimizer
    m, v, t = opt.state_1.copy(), opt.state_2.copy(), opt.t + 1
    g = gradient(model, X, y)
    quiet(model, "partial_fit", X, y)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    eta_t = eta * np.sqrt(1 - b2**t) / (1 - b1**t)
    keep = np.where(np.arange(layout.size) < layout.n_weights, 1 - eta * lam, 1.0)
    expected = keep * theta - eta_t * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(theta_of(model)[1], expected, rtol=1e-12, atol=1e-15)
    assert np.abs((1 - keep) * theta).max() > 100 * np.abs(expected - theta_of(model)[1]).max()


def test_weight_decay_leaves_biases_to_the_optimizer():
    """Biases step exactly as without decay (one step from the same state)."""
    X, y = regression()
    params = dict(hidden_layer_sizes=(5,), batch_size=len(y), shuffle=False, random_state=0,
                  max_iter=1, solver="sgd")
    plain = quiet(MLPRegressor(**params), "fit", X, y)
    decayed = quiet(MLPRegressor(**params, weight_decay=0.3), "fit", X, y)
    for b_plain, b_decayed in zip(plain.intercepts_, decayed.intercepts_):
        np.testing.assert_array_equal(b_plain, b_decayed)  # first step: same gradient
    assert not np.array_equal(plain.coefs_[0], decayed.coefs_[0])


# ---------------------------------------------------------------- the fused kernel
@pytest.mark.parametrize("solver", [ADAM, SGD])
@pytest.mark.parametrize("units", [[61, 37, 5], [97, 41, 7]], ids=["serial", "parallel"])
def test_clipped_decayed_step_equals_its_parts_in_order(units, solver):
    """update_theta with clipping and decay = reduce, ‖grad‖ summed per block in block order,
    scale, decay the weights, step; bit for bit."""
    layout = Layout.from_units(units)
    rng = np.random.default_rng(5)
    theta = rng.standard_normal(layout.size)
    parts = rng.standard_normal((2, layout.size))
    s1, s2 = rng.standard_normal(layout.size), rng.random(layout.size)
    alpha, sw_sum, lr, mu, b1, b2, eps, t = 0.3, 17.0, 1e-2, 0.9, 0.9, 0.999, 1e-8, 7
    n_weights = layout.n_weights
    n_blocks = -(-layout.size // UPDATE_BLOCK)
    ref_theta, ref_s1, ref_s2, ref_grad = theta.copy(), s1.copy(), s2.copy(), np.empty_like(theta)
    reduce_chunks(ref_theta, gradient_work(layout, parts, ref_grad), n_weights, alpha, sw_sum)
    grad_sq = 0.0
    for blk in range(n_blocks):
        grad_sq += _sum_sq_span(ref_grad, blk * UPDATE_BLOCK,
                                min(layout.size, (blk + 1) * UPDATE_BLOCK))
    c = 0.5 * math.sqrt(grad_sq)
    scale_span(ref_grad, clip_factor(grad_sq, c), 0, layout.size)
    scale_span(ref_theta, 1.0 - lr * 0.2, 0, n_weights)
    if solver == ADAM:
        adam_span(ref_theta, ref_grad, ref_s1, ref_s2, b1, b2, adam_step_size(t, lr, b1, b2),
                  eps, 0, layout.size)
    else:
        sgd_span(ref_theta, ref_grad, ref_s1, mu, lr, True, 0, layout.size)
    net, work, step = step_records(layout, theta, parts, s1, s2, solver, lr, mu, True, b1, b2,
                                   eps, alpha, max_grad_norm=c, weight_decay=0.2)
    update_theta(update_table(theta, work, step), theta, net, work, step, t, sw_sum)
    grad = work.grad
    assert np.linalg.norm(grad) == pytest.approx(c, rel=1e-12)
    np.testing.assert_array_equal(grad, ref_grad)
    np.testing.assert_array_equal(theta, ref_theta)
    np.testing.assert_array_equal(s1, ref_s1)
    # both controls are off by default
    default = step_record(MLPRegressor(), OptimizerState.create("adam", 1e-3, theta), 1)
    assert (default.max_grad_norm, default.weight_decay) == (math.inf, 0.0)


def test_parameters_validated_and_documented():
    X, y = make_classification(40, 4, random_state=0)
    for bad in (dict(max_grad_norm=0.0), dict(weight_decay=-1.0)):
        with pytest.raises(InvalidParameterError):
            MLPClassifier(**bad).fit(X, y)
    for cls in (MLPClassifier, MLPRegressor):
        for name in ("lr_schedule", "max_grad_norm", "weight_decay"):
            assert f"{name} :" in cls.__doc__
            assert name in cls._parameter_constraints


def test_to_sklearn_refuses_jitmlp_only_settings():
    X, y = make_classification(40, 4, random_state=0)
    model = quiet(MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, weight_decay=0.1), "fit",
                  X, y)
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['weight_decay'\].*"
                                         r"set_params\(weight_decay=0.0\)"):
        model.to_sklearn()
    model.set_params(weight_decay=0.0)
    assert model.to_sklearn().coefs_[0].shape == (4, 3)
