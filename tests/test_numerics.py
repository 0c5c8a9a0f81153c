"""Numerical trouble, for every solver and output function: a clear error or a correct model.

Divergence (a huge learning rate on large inputs), overflow in exp and softmax, all-constant
features and duplicated samples: jitmlp either raises scikit-learn's "non-finite parameter
weights" ValueError or returns finite weights, exactly where scikit-learn does the same, and
never NaN weights without a word.
"""

import warnings

import numpy as np
import pytest
import sklearn.neural_network as sk

import jitmlp

RNG = np.random.default_rng(0)
X_BIG = RNG.normal(size=(200, 5)) * 1e3
Y_CLASS = (X_BIG[:, 0] > 0).astype(int) + (X_BIG[:, 1] > 0)
TARGETS = {  # output function -> (estimator, y, extra parameters)
    "softmax": ("MLPClassifier", Y_CLASS, {}),
    "logistic": ("MLPClassifier", Y_CLASS > 0, {}),
    "logistic-multilabel": ("MLPClassifier", np.c_[Y_CLASS > 0, Y_CLASS > 1], {}),
    "identity": ("MLPRegressor", X_BIG[:, 0] * 10, {}),
    "exp": ("MLPRegressor", np.abs(X_BIG[:, 0]) / 100, {"loss": "poisson"}),
}


def _outcome(lib, cls, X, y, **params):
    """('error', message) or ('model', fitted estimator)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "model", getattr(lib, cls)(**params).fit(X, y)
        except ValueError as error:
            return "error", str(error)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("output", list(TARGETS))
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_huge_learning_rate_errors_or_finite_model_as_sklearn(solver, output, activation):
    cls, y, extra = TARGETS[output]
    params = dict(solver=solver, activation=activation, learning_rate_init=10.0, max_iter=20,
                  random_state=0, **extra)
    ours = _outcome(jitmlp, cls, X_BIG, y, **params)
    theirs = _outcome(sk, cls, X_BIG, y, **params)
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "error":
        assert "non-finite parameter weights" in ours[1]
    else:
        model = ours[1]
        assert all(np.isfinite(w).all() for w in model.coefs_ + model.intercepts_)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_softmax_and_logistic_do_not_overflow_on_huge_logits(solver):
    X, y = X_BIG, Y_CLASS
    for target in (y, y > 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = jitmlp.MLPClassifier(solver=solver, max_iter=5, random_state=0).fit(X, target)
        for w in clf.coefs_:
            w *= 1e4  # logits of order 1e10: exp would overflow without the shift / clipping
        proba = clf.predict_proba(X * 10)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("case", ["constant features", "duplicated samples"])
def test_degenerate_data_same_model_as_sklearn(solver, case):
    X = RNG.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    if case == "constant features":
        X[:, 1:] = 3.0
    else:
        X, y = np.r_[X, X[:20]], np.r_[y, y[:20]]
    params = dict(solver=solver, hidden_layer_sizes=(5,), max_iter=30, random_state=0)
    ours = _outcome(jitmlp, "MLPClassifier", X, y, **params)[1]
    theirs = _outcome(sk, "MLPClassifier", X, y, **params)[1]
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert np.isfinite(ours.predict_proba(X)).all()
