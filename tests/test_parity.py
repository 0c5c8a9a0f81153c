"""Same hyper-parameters and random_state as scikit-learn -> the same model, in float64.

jitmlp draws the initial weights and shuffles exactly as scikit-learn does, so after several
epochs coefs_, intercepts_ and loss_curve_ must agree to a relative 1e-6 (in practice the
difference is rounding, ~1e-14).
"""

import numpy as np
import pytest

from helpers import assert_same_model, fit_pair, task_data

RTOL = 1e-6


def fit_both(task, **params):
    X, y = task_data(task)
    cls = "MLPClassifier" if task in ("multiclass", "binary", "multilabel") else "MLPRegressor"
    return (*fit_pair(cls, X, y, **params), X)


TASKS = ["multiclass", "binary", "multilabel", "regression", "multioutput"]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_same_model_as_sklearn(task, activation, solver):
    ours, theirs, X = fit_both(task, hidden_layer_sizes=(7, 5), activation=activation,
                               solver=solver, max_iter=8, batch_size=32, random_state=3,
                               learning_rate_init=0.01)
    assert_same_model(ours, theirs, RTOL)
    if task in ("multiclass", "binary", "multilabel"):
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6,
                                   atol=1e-12)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", learning_rate="invscaling", power_t=0.3),
        dict(solver="sgd", learning_rate="adaptive", tol=0.5, n_iter_no_change=1),
        dict(solver="sgd", nesterovs_momentum=False, momentum=0.5),
        dict(solver="sgd", momentum=0.0),
        dict(solver="adam", beta_1=0.5, beta_2=0.9, epsilon=1e-6, alpha=0.1),
        dict(solver="adam", shuffle=False),
        dict(solver="adam", batch_size=1000),
        dict(solver="adam", tol=1e-2, n_iter_no_change=2),
    ],
    ids=["invscaling", "adaptive", "classical-momentum", "no-momentum", "adam-hyper",
         "no-shuffle", "full-batch", "converges-early"],
)
def test_optimizer_options_same_as_sklearn(params):
    ours, theirs, _ = fit_both("multiclass", hidden_layer_sizes=(9,), max_iter=15,
                               random_state=0, **params)
    assert_same_model(ours, theirs, RTOL)


def test_stopping_rule_stops_at_the_same_epoch():
    ours, theirs, _ = fit_both("binary", hidden_layer_sizes=(5,), max_iter=500, tol=1e-3,
                               random_state=1, learning_rate_init=0.05)
    assert ours.n_iter_ < 500
    assert_same_model(ours, theirs, RTOL)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=RTOL)
