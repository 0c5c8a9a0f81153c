"""scikit-learn's estimator contract, and use inside Pipeline and GridSearchCV."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from jitmlp import MLPClassifier, MLPRegressor


# max_iter=100 as scikit-learn's own test suite sets it for its MLPs
@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize(
    "estimator",
    # the instances scikit-learn's own suite uses for this check (instance_generator.py)
    [MLPClassifier(solver="lbfgs"), MLPRegressor(solver="sgd", tol=1e-2, random_state=42)],
    ids=["classifier-lbfgs", "regressor-sgd"],
)
def test_sample_weight_equivalence_as_sklearn_checks_it(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


def test_classifier_in_pipeline_and_grid_search_matches_sklearn():
    import sklearn.neural_network as sk

    X, y = load_digits(return_X_y=True)
    grid_params = {"mlp__hidden_layer_sizes": [(16,), (32,)], "mlp__activation": ["relu", "tanh"]}
    results = []
    for mlp in (MLPClassifier, sk.MLPClassifier):
        pipe = Pipeline([("scale", StandardScaler()), ("mlp", mlp(max_iter=20, random_state=0))])
        grid = GridSearchCV(pipe, grid_params, cv=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            grid.fit(X, y)
        results.append(grid)
    ours, theirs = results
    # same folds, same seeds -> the same models, so the same scores and the same choice
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=1e-12)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ > 0.85
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_regressor_in_pipeline_and_grid_search():
    X, y = make_regression(300, 8, noise=0.1, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPRegressor(max_iter=200, random_state=0))
    grid = GridSearchCV(pipe, {"mlpregressor__alpha": [1e-4, 1e-2],
                               "mlpregressor__learning_rate_init": [1e-2, 3e-2]}, cv=3,
                        n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y / y.std())
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.best_score_ > 0.9
    assert np.isfinite(grid.predict(X)).all()
