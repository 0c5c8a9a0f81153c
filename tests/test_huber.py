"""The Huber loss (jitmlp's own, ``MLPRegressor(loss="huber", huber_delta=δ)``): its defining
properties, beyond the reference and gradient checks (tests/test_reference.py,
tests/test_gradcheck.py)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning

import jitmlp
from jitmlp import MLPRegressor
from jitmlp._loss_curve import huber_loss

SMALL = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(200, 4, noise=0.1, random_state=0)
    return X, y / y.std()


def fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPRegressor(**{**SMALL, **params}).fit(X, y)


def test_a_delta_larger_than_every_residual_is_the_squared_error_bit_for_bit(data):
    """No residual reaches δ: ρ_δ(r) = r²/2 and the clip does nothing, so the fit is the squared
    error's, to the last bit (weights and every loss)."""
    X, y = data
    huber = fit(X, y, loss="huber", huber_delta=1e12)
    squared = fit(X, y)
    for a, b in zip(huber.coefs_ + huber.intercepts_, squared.coefs_ + squared.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert huber.loss_curve_ == squared.loss_curve_


def test_the_output_gradient_is_the_clipped_residual(data):
    """With δ small every residual is clipped: an outlier moves the fit no more than any other
    sample, so gross outliers in y hurt the squared error's fit far more than Huber's."""
    X, y = data
    rng = np.random.default_rng(0)
    y_dirty = y.copy()
    outliers = rng.choice(len(y), 20, replace=False)
    y_dirty[outliers] += rng.choice([-1, 1], 20) * 50  # 10% gross outliers
    clean = np.setdiff1d(np.arange(len(y)), outliers)
    params = dict(max_iter=200, learning_rate_init=0.01)
    err_huber = np.abs(fit(X, y_dirty, loss="huber", huber_delta=0.5, **params).predict(X)[clean]
                       - y[clean]).mean()
    err_squared = np.abs(fit(X, y_dirty, **params).predict(X)[clean] - y[clean]).mean()
    assert err_huber < 0.5 * err_squared, (err_huber, err_squared)


def test_loss_and_validation_loss_are_the_huber_loss(data):
    """loss_ is the mean Huber loss (÷ n_outputs, as the squared error is reported) plus the L2
    term; the early-stopping curve is the same function on the held-out split."""
    X, y = data
    Y = np.c_[y, -2 * y]
    model = fit(X, Y, loss="huber", huber_delta=0.3, solver="lbfgs", max_iter=5, alpha=0.0)
    loss = huber_loss(Y, model.predict(X), 0.3)
    # lbfgs's loss_ is that of the last θ it evaluated, which may differ from the final one by
    # the last line-search step: compare with a fresh evaluation at the final θ instead
    from jitmlp._gradcheck import compiled_objective
    from jitmlp._network import Layout
    layout = Layout.from_units([4, 8, 2])
    objective = compiled_objective(layout, X, Y, None, 3, 4, 0.0, np.float64, 0.3)
    theta = layout.pack(model.coefs_, model.intercepts_, np.float64)
    assert objective(theta)[0] == pytest.approx(loss, rel=1e-12)
    stopped = fit(X, Y, loss="huber", huber_delta=0.3, early_stopping=True, max_iter=3)
    assert all(np.isfinite(stopped.validation_loss_curve_))


@pytest.mark.parametrize("delta", [0, -1.0, np.nan, "1"])
def test_huber_delta_must_be_a_positive_number(data, delta):
    X, y = data
    with pytest.raises(ValueError, match="huber_delta"):
        MLPRegressor(loss="huber", huber_delta=delta).fit(X, y)


def test_scikit_learn_has_no_huber_loss_to_convert_to(data):
    X, y = data
    model = fit(X, y, loss="huber", max_iter=2)
    with pytest.raises(ValueError, match="no loss 'huber'"):
        model.to_sklearn()
    assert fit(X, y, max_iter=2).to_sklearn().loss == "squared_error"


def test_saved_and_loaded_with_its_delta(tmp_path, data):
    X, y = data
    model = fit(X, y, loss="huber", huber_delta=0.25, max_iter=2)
    jitmlp.save(model, tmp_path / "m")
    loaded = jitmlp.load(tmp_path / "m")
    assert loaded.loss == "huber" and loaded.huber_delta == 0.25
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
