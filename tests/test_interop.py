"""to_sklearn / from_sklearn: the same model on the other side, continuing as it would have.

Continuing is checked against the other library continuing its own model: jitmlp has parity
with scikit-learn (tests/test_parity.py), so a converted model that continues from the converted
optimizer state must give the same model to rounding; a fresh optimizer (Adam's t = 0, SGD's zero
velocity) would not.
"""

import warnings

import numpy as np
import pytest
import sklearn.neural_network as sk
from sklearn.exceptions import ConvergenceWarning

import jitmlp

from helpers import assert_same_model, task_data

CLASSIFICATION = ("multiclass", "binary", "multilabel")


def _classes(task):
    return (jitmlp.MLPClassifier, sk.MLPClassifier) if task in CLASSIFICATION else (
        jitmlp.MLPRegressor, sk.MLPRegressor)


def _fit(cls, task, **params):
    X, y = task_data(task)
    if task == "poisson":
        y = np.abs(y)
    params = {"hidden_layer_sizes": (6, 4), "max_iter": 4, "batch_size": 32, "random_state": 0,
              "learning_rate_init": 0.01, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**params).fit(X, y), X, y


def _continue(model, X, y, how):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if how == "partial_fit":
            for _ in range(3):
                model.partial_fit(X, y)
        else:
            model.set_params(warm_start=True, max_iter=3).fit(X, y)
    return model


def _assert_same_weights(a, b):
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def _assert_same_predictions(ours, theirs, X):
    """Labels equal; values to rounding.

    The weights are the same bits, but the products are summed in another order (BLAS against
    jitmlp's register tiles), so probabilities and regression values agree to a few ulps.
    """
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    if hasattr(ours, "predict_proba"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12,
                                   atol=1e-15)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12, atol=1e-15)


TASKS = ["multiclass", "binary", "multilabel", "regression", "multioutput", "poisson"]


def _params(task, solver):
    params = {"solver": solver}
    if task == "poisson":
        params["loss"] = "poisson"
    if solver == "sgd":
        params["learning_rate"] = "invscaling"
    return params


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_to_sklearn_same_model_and_continues_alike(task, solver):
    jit_cls, sk_cls = _classes(task)
    ours, X, y = _fit(jit_cls, task, **_params(task, solver))
    theirs = ours.to_sklearn()
    assert type(theirs) is sk_cls
    assert theirs.get_params() == {k: v for k, v in ours.get_params().items()
                                   if k in theirs.get_params()}
    _assert_same_weights(theirs, ours)
    assert theirs.classes_.dtype == ours.classes_.dtype if task in CLASSIFICATION else True
    _assert_same_predictions(ours, theirs, X)
    how = "partial_fit" if solver != "lbfgs" else "warm_start"
    assert_same_model(_continue(ours, X, y, how), _continue(theirs, X, y, how))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_from_sklearn_same_model_and_continues_alike(task, solver):
    jit_cls, sk_cls = _classes(task)
    theirs, X, y = _fit(sk_cls, task, **_params(task, solver))
    ours = jit_cls.from_sklearn(theirs)
    assert type(ours) is jit_cls
    _assert_same_weights(ours, theirs)
    _assert_same_predictions(ours, theirs, X)
    how = "partial_fit" if solver != "lbfgs" else "warm_start"
    assert_same_model(_continue(ours, X, y, how), _continue(theirs, X, y, how))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_warm_start_continues_from_converted_model(solver):
    theirs, X, y = _fit(sk.MLPClassifier, "binary", solver=solver, learning_rate="adaptive",
                        tol=0.5, n_iter_no_change=1)
    ours = jitmlp.MLPClassifier.from_sklearn(theirs)
    assert ours._no_improvement_count == theirs._no_improvement_count
    assert_same_model(_continue(ours, X, y, "warm_start"), _continue(theirs, X, y, "warm_start"))
    back = ours.to_sklearn()
    assert_same_model(_continue(ours, X, y, "partial_fit"), _continue(back, X, y, "partial_fit"))


def test_string_labels_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = task_data("multiclass")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = np.array(["ant", "bee", "cat"], dtype=object)[y]
    ours, _, _ = _fit(jitmlp.MLPClassifier, "multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(frame, labels)
    theirs = ours.to_sklearn()
    assert list(theirs.feature_names_in_) == list(frame.columns)
    assert theirs.classes_.dtype == ours.classes_.dtype
    _assert_same_predictions(ours, theirs, frame)
    assert theirs._label_binarizer is not ours._label_binarizer  # copies, not shared


def test_unfitted_models_convert_their_parameters():
    ours = jitmlp.MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), alpha=0.5, n_jobs=1)
    theirs = ours.to_sklearn()
    assert not hasattr(theirs, "coefs_") and theirs.loss == "poisson" and theirs.alpha == 0.5
    back = jitmlp.MLPRegressor.from_sklearn(theirs)
    assert back.get_params() == {**ours.get_params(), "n_jobs": None}


def test_to_sklearn_refuses_activations_scikit_learn_lacks():
    for activation in ["gelu", ("relu", "tanh"), ("relu", "silu")]:
        model = jitmlp.MLPClassifier((3, 2), activation=activation)
        with pytest.raises(ValueError, match="has no activation"):
            model.to_sklearn()
    theirs = jitmlp.MLPClassifier((3, 2), activation=("tanh", "tanh")).to_sklearn()
    assert theirs.activation == "tanh"


def test_conversions_refuse_what_they_cannot_convert():
    with pytest.raises(TypeError, match="converts a sklearn.neural_network.MLPClassifier"):
        jitmlp.MLPClassifier.from_sklearn(sk.MLPRegressor())
    with pytest.raises(TypeError, match="converts a sklearn.neural_network.MLPRegressor"):
        jitmlp.MLPRegressor.from_sklearn(jitmlp.MLPRegressor())
    theirs, _, _ = _fit(sk.MLPClassifier, "binary", solver="sgd")
    theirs.set_params(momentum=0.5)  # the fitted optimizer keeps 0.9
    with pytest.raises(ValueError, match="uses momentum=0.9 but the estimator's momentum is 0.5"):
        jitmlp.MLPClassifier.from_sklearn(theirs)
    theirs.set_params(momentum=0.9, solver="adam")  # an SGDOptimizer under solver="adam"
    with pytest.raises(ValueError, match="Cannot convert the optimizer state SGDOptimizer"):
        jitmlp.MLPClassifier.from_sklearn(theirs)
    theirs.set_params(solver="sgd")
    theirs.intercepts_[0] = theirs.intercepts_[0].astype(np.float32)
    with pytest.raises(ValueError, match="jitmlp needs all float64 or all float32"):
        jitmlp.MLPClassifier.from_sklearn(theirs)


def test_early_stopping_model_from_sklearn_keeps_one_validation_loss_per_epoch():
    X, y = task_data("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = sk.MLPClassifier((8,), early_stopping=True, max_iter=3, random_state=0).fit(X, y)
        model = jitmlp.MLPClassifier.from_sklearn(est)
        # scikit-learn keeps no validation loss: unknown for its epochs
        assert len(model.validation_loss_curve_) == len(est.validation_scores_)
        assert np.isnan(model.validation_loss_curve_).all()
        model.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert len(model.validation_loss_curve_) == len(model.validation_scores_)
    assert np.isfinite(model.validation_loss_curve_[-1])
