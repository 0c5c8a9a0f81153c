"""jitmlp.check_gradients: backprop against finite differences, as a public tool."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import jitmlp._gradcheck as gradcheck
from jitmlp import MLPClassifier, MLPRegressor, check_gradients


def problem(task, n=40):
    if task == "multiclass":
        return make_classification(n, 5, n_informative=3, n_classes=3, random_state=0)
    if task == "binary":
        return make_classification(n, 5, n_informative=3, random_state=0)
    if task == "multilabel":  # counts up to ~20: scaled, or the outputs saturate (see below)
        X, Y = make_multilabel_classification(n, 5, n_classes=3, random_state=0)
        return X / X.max(), Y
    X, y = make_regression(n, 5, n_targets=1 if task == "regression" else 3, random_state=0)
    if task == "poisson":
        return X, np.random.default_rng(0).poisson(2.0, size=n).astype(float)
    return X, y / y.std()


def fitted(task, dtype=np.float64, **params):
    X, y = problem(task)
    cls = (MLPRegressor if task in ("regression", "multi-output", "poisson", "huber")
           else MLPClassifier)
    if task in ("poisson", "huber"):
        params["loss"] = task
    if task == "huber":  # residuals on both sides of δ (targets have unit std)
        params["huber_delta"] = 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = cls(**{"hidden_layer_sizes": (6, 4), "max_iter": 20, "random_state": 0,
                       "alpha": 0.01, **params}).fit(X.astype(dtype), y)
    return model, X, y


TASKS = ["multiclass", "binary", "multilabel", "regression", "multi-output", "poisson", "huber"]


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("task", TASKS)
def test_correct_backprop_agrees_with_finite_differences(task, activation):
    model, X, y = fitted(task, activation=activation)
    assert check_gradients(model, X, y) < 1e-4


@pytest.mark.parametrize("activation", ["leaky_relu", "softplus", "elu", "silu", "gelu",
                                        ("gelu", "softplus"), ("elu", "leaky_relu")])
@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_issue_14_activations_agree_with_finite_differences(task, activation):
    model, X, y = fitted(task, activation=activation)
    assert check_gradients(model, X, y) < 1e-4


@pytest.mark.parametrize("activation", ["gelu", "silu", "elu"])
def test_float32_models_with_kept_derivatives(activation):
    model, X, y = fitted("multiclass", np.float32, activation=activation)
    assert check_gradients(model, X, y) < 1e-3


@pytest.mark.parametrize("task", ["multiclass", "multi-output"])
def test_float32_models_and_sparse_input(task):
    model, X, y = fitted(task, np.float32, activation="tanh")
    assert check_gradients(model, X, y) < 1e-3
    model, X, y = fitted(task, activation="tanh")
    assert check_gradients(model, sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0)), y) < 1e-4


def test_sample_weight_and_class_weight_enter_the_objective(monkeypatch):
    model, X, y = fitted("multiclass", activation="tanh", class_weight={0: 3.0, 2: 0.5})
    sw = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    assert check_gradients(model, X, y, sample_weight=sw) < 1e-4
    seen = []
    original = gradcheck.compiled_objective
    monkeypatch.setattr(gradcheck, "compiled_objective",
                        lambda *args: seen.append(args[3]) or original(*args))
    check_gradients(model, X, y, sample_weight=sw)
    np.testing.assert_array_equal(seen[0], sw * np.array([3.0, 1.0, 0.5])[y])


def test_a_wrong_gradient_is_reported(monkeypatch):
    """1% too much on one layer's weight gradients: the check says about 0.01."""
    model, X, y = fitted("multiclass", activation="tanh")
    original = gradcheck.compiled_objective

    def wrong(layout, *args):
        objective = original(layout, *args)

        def with_error(theta):
            loss, grad = objective(theta)
            grad[layout.w_off[1]:layout.b_off[0]] *= 1.01
            return loss, grad

        return with_error

    monkeypatch.setattr(gradcheck, "compiled_objective", wrong)
    assert check_gradients(model, X, y) == pytest.approx(0.01 / 1.01, rel=1e-3)


def test_multi_output_squared_error_is_the_sum_over_outputs():
    """scikit-learn reports the mean over outputs and follows the gradient of the sum: without
    the sum, finite differences of the reported loss would be a third of backprop's."""
    model, X, y = fitted("multi-output", activation="tanh", alpha=0.5)
    assert check_gradients(model, X, y) < 1e-4


def test_leaves_the_model_alone_and_checks_its_input():
    model, X, y = fitted("multiclass")
    before = [w.copy() for w in model.coefs_ + model.intercepts_]
    check_gradients(model, X, y)
    for a, b in zip(before, model.coefs_ + model.intercepts_):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(NotFittedError):
        check_gradients(MLPClassifier(), X, y)
    with pytest.raises(TypeError, match="checks a jitmlp MLPClassifier or MLPRegressor"):
        check_gradients(object(), X, y)
    with pytest.raises(ValueError, match="eps must be > 0"):
        check_gradients(model, X, y, eps=0.0)
    with pytest.raises(ValueError, match="has classes not in"):
        check_gradients(model, X, y + 7)
    with pytest.raises(ValueError, match="features"):
        check_gradients(model, X[:, :3], y)


def test_saturated_outputs_are_reported():
    """Probabilities within ~1e-14 of 1 (here: unscaled counts through identity layers) leave
    scikit-learn's loss, log(1 - ŷ) computed from ŷ, only a few significant bits (and it is
    clipped at eps beyond), while backprop's ŷ - y keeps them: the check reports the
    difference; on scaled input it is gone."""
    X, Y = make_multilabel_classification(40, 5, n_classes=3, random_state=0)  # unscaled counts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier((6, 4), activation="identity", max_iter=20, random_state=0).fit(X, Y)
    assert check_gradients(model, X, Y) > 0.1
    assert check_gradients(model, X / X.max(), Y) < 1e-4
