"""Bad input gets scikit-learn's error types with a message that says what is wrong."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from jitmlp import MLPClassifier, MLPRegressor

pd = pytest.importorskip("pandas")

X = np.random.default_rng(0).normal(size=(40, 3))
y = np.arange(40) % 2


def fitted(est, X_fit=X, y_fit=y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X_fit, y_fit)


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("bad,match", [(np.nan, "Input X contains NaN"),
                                       (np.inf, "Input X contains infinity")])
def test_non_finite_X_is_rejected(Est, bad, match):
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match=match):
        Est(max_iter=2).fit(Xb, y)
    model = fitted(Est(max_iter=2))
    with pytest.raises(ValueError, match=match):
        model.predict(Xb)


def test_non_finite_y_is_rejected_for_regression():
    yb = y.astype(float)
    yb[0] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        MLPRegressor().fit(X, yb)


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_wrong_number_of_features_at_predict(Est):
    model = fitted(Est(max_iter=2))
    with pytest.raises(ValueError, match="X has 2 features, but .* is expecting 3 features"):
        model.predict(X[:, :2])


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_empty_input(Est):
    with pytest.raises(ValueError, match="0 sample"):
        Est().fit(X[:0], y[:0])


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_one_dimensional_X(Est):
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        Est().fit(X[:, 0], y)


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_non_numeric_X(Est):
    Xs = np.array([["a", "b"], ["c", "d"]] * 5, dtype=object)
    with pytest.raises(ValueError, match="could not convert string to float"):
        Est().fit(Xs, np.arange(10) % 2)


@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("method", ["predict", "score"])
def test_predict_before_fit(Est, method):
    args = (X,) if method == "predict" else (X, y)
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        getattr(Est(), method)(*args)


def test_predict_proba_before_fit():
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        MLPClassifier().predict_proba(X)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier().fit(X, y[:-1])


def test_bad_hyper_parameters_are_rejected_with_the_parameter_named():
    with pytest.raises(ValueError, match="'activation' parameter of MLPClassifier must be"):
        MLPClassifier(activation="swish").fit(X, y)
    with pytest.raises(ValueError, match="'learning_rate_init' parameter"):
        MLPRegressor(learning_rate_init=0).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(hidden_layer_sizes=(3, 0)).fit(X, y)
    with pytest.raises(ValueError, match="'loss' parameter of MLPRegressor"):
        MLPRegressor(loss="absolute_error").fit(X, y)


def test_regressor_rejects_string_targets():
    # scikit-learn's own MLPRegressor fails later with a numpy UFuncTypeError
    with pytest.raises(ValueError, match="could not convert string to float"):
        MLPRegressor().fit(X, np.array(["a", "b"] * 20))


def test_regressor_rejects_continuous_target_in_classifier():
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, np.linspace(0, 1, 40))


def test_dataframe_input_keeps_feature_names_and_checks_them():
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    model = fitted(MLPClassifier(max_iter=2), df, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    assert model.n_features_in_ == 3
    with pytest.raises(ValueError, match="The feature names should match"):
        model.predict(df.rename(columns={"a": "z"}))


_ANIMALS = ["cat", "dog", "emu"]


@pytest.mark.parametrize("labels", [np.array(_ANIMALS)[np.arange(40) % 3],
                                    np.array(_ANIMALS, dtype=object)[np.arange(40) % 3]],
                         ids=["strings", "string-objects"])
def test_string_and_object_labels(labels):
    model = fitted(MLPClassifier(max_iter=5, random_state=0), X, labels)
    assert set(model.classes_) == set(labels)
    assert set(model.predict(X)) <= set(labels)
    assert model.predict_proba(X).shape == (40, 3)


def test_mixed_type_labels_are_rejected_with_a_clear_message():
    labels = np.array([1, "b", 2.5], dtype=object)[np.arange(40) % 3]
    with pytest.raises(ValueError, match=r"Mix of label input types \(string and number\)"):
        MLPClassifier().fit(X, labels)


def test_multilabel_indicator_targets():
    Y = np.stack([y, 1 - y, (np.arange(40) % 3 == 0)], axis=1).astype(int)
    model = fitted(MLPClassifier(max_iter=20, random_state=0), X, Y)
    assert model.out_activation_ == "logistic"
    assert model.predict(X).shape == (40, 3)
    assert set(np.unique(model.predict(X))) <= {0, 1}


def _outcome(call):
    """("ok", result) or (error type, message), and the warnings raised, of ``call()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", call())
        except Exception as error:  # noqa: BLE001 - compared between the two libraries
            result = (type(error).__name__, str(error).replace("MLPClassifier", "<est>"))
    messages = sorted(str(w.message).replace("MLPClassifier", "<est>") for w in caught
                      if not issubclass(w.category, ConvergenceWarning))
    return result, messages


PREDICT_INPUTS = {
    "NaN": lambda A: np.where(np.arange(A.size).reshape(A.shape) == 4, np.nan, A),
    "inf": lambda A: np.where(np.arange(A.size).reshape(A.shape) == 4, -np.inf, A),
    "sum overflows": lambda A: np.full_like(A, 1e308),
    "wrong features": lambda A: A[:, :2],
    "1-D": lambda A: A[:, 0],
    "no rows": lambda A: A[:0],
    "float16": lambda A: A.astype(np.float16),
    "int": lambda A: (A * 10).astype(np.int64),
    "Fortran": np.asfortranarray,
    "strided": lambda A: np.repeat(A, 2, axis=1)[:, ::2],
    "DataFrame": lambda A: pd.DataFrame(A, columns=["a", "b", "c"]),
}


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("case", list(PREDICT_INPUTS))
def test_predict_checks_its_input_as_sklearn_does(case, method):
    """predict's shortcut for plain float arrays (no validate_data) keeps every check: the same
    result, error and warnings as scikit-learn for each kind of input."""
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    Xp = PREDICT_INPUTS[case](X[:6])
    outcomes = []
    for Est in (MLPClassifier, SkMLPClassifier):
        model = fitted(Est(hidden_layer_sizes=(4,), max_iter=3, random_state=0))
        result, messages = _outcome(lambda: getattr(model, method)(Xp))
        if result[0] == "ok":
            result = ("ok", np.asarray(result[1]).shape)
        outcomes.append((result, messages))
    assert outcomes[0] == outcomes[1]
