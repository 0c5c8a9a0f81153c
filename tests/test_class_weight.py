"""MLPClassifier's class_weight: the fit with the matching sample weights, bit for bit."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight

from jitmlp import MLPClassifier

BASE = dict(hidden_layer_sizes=(7,), max_iter=4, random_state=0, batch_size=32)


def data(n_classes=3, n=120, labels=None):
    X, y = make_classification(n, 5, n_informative=3, n_classes=n_classes,
                               weights=[0.6] + [0.4 / (n_classes - 1)] * (n_classes - 1),
                               random_state=0)
    return X, (y if labels is None else np.asarray(labels)[y])


def fit(X, y, fit_kwargs=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(**{**BASE, **params}).fit(X, y, **(fit_kwargs or {}))


def assert_same_model(a, b):
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(x, y)
    assert a.loss_ == b.loss_
    assert getattr(a, "loss_curve_", None) == getattr(b, "loss_curve_", None)  # lbfgs: none


CASES = [
    ("balanced", 3, None),
    ("balanced", 2, ["no", "yes"]),
    ({0: 3.0, 2: 0.25}, 3, None),  # class 1 not in the dict: weight 1
    ({"ant": 0.5, "bee": 4.0}, 2, ["ant", "bee"]),
]


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("class_weight,n_classes,labels", CASES)
def test_class_weight_is_the_matching_sample_weight(class_weight, n_classes, labels, solver):
    X, y = data(n_classes, labels=labels)
    expected = compute_sample_weight(class_weight, y)
    assert len(np.unique(expected)) > 1  # the weights do weigh
    ours = fit(X, y, class_weight=class_weight, solver=solver)
    assert_same_model(ours, fit(X, y, {"sample_weight": expected}, solver=solver))
    assert not np.array_equal(ours.coefs_[0], fit(X, y, solver=solver).coefs_[0])


def test_class_weight_multiplies_sample_weight_with_early_stopping():
    X, y = data(3, n=200)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    cw = {0: 0.5, 1: 2.0, 2: 3.0}
    params = dict(early_stopping=True, n_iter_no_change=2, max_iter=30, learning_rate_init=0.02)
    ours = fit(X, y, {"sample_weight": sw}, class_weight=cw, **params)
    theirs = fit(X, y, {"sample_weight": sw * compute_sample_weight(cw, y)}, **params)
    assert_same_model(ours, theirs)
    assert ours.validation_scores_ == theirs.validation_scores_  # weighted alike
    assert ours.validation_loss_curve_ == theirs.validation_loss_curve_


def test_balanced_is_computed_on_the_whole_y_of_fit():
    """Before early stopping's split: the weights are those of the y given to fit."""
    X, y = data(3, n=200)
    params = dict(early_stopping=True, max_iter=3)
    assert_same_model(fit(X, y, class_weight="balanced", **params),
                      fit(X, y, {"sample_weight": compute_sample_weight("balanced", y)},
                          **params))


def test_partial_fit_with_a_dict_weighs_every_batch_alike():
    X, y = data(3)
    cw = {0: 0.5, 1: 2.0, 2: 3.0}
    ours = MLPClassifier(**BASE, class_weight=cw)
    theirs = MLPClassifier(**BASE)
    classes = np.unique(y)
    for batch in (slice(0, 40), slice(40, 80), slice(80, 120)):
        yb = y[batch]
        ours.partial_fit(X[batch], yb, classes=classes)
        theirs.partial_fit(X[batch], yb, classes=classes,
                           sample_weight=np.array([cw[c] for c in yb]))
    only_two = y != 2  # a batch without class 2: weights still from the dict
    ours.partial_fit(X[only_two], y[only_two])
    theirs.partial_fit(X[only_two], y[only_two],
                       sample_weight=np.array([cw[c] for c in y[only_two]]))
    assert_same_model(ours, theirs)


def test_partial_fit_refuses_balanced_with_sgdclassifiers_message():
    X, y = data(3)
    with pytest.raises(ValueError) as theirs:
        SGDClassifier(class_weight="balanced").partial_fit(X, y, classes=np.unique(y))
    with pytest.raises(ValueError) as ours:
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=np.unique(y))
    assert str(ours.value) == str(theirs.value)
    assert "compute_class_weight('balanced', classes=classes, y=y)" in str(ours.value)


def test_a_dict_missing_no_class_but_naming_unknown_ones_raises_sklearns_error():
    X, y = data(3)
    with pytest.raises(ValueError, match=r"The classes, \[1, 2\], are not in class_weight"):
        fit(X, y, class_weight={0: 1.0, 7: 2.0})


# ---------------------------------------------------------------- multilabel
def multilabel():
    return make_multilabel_classification(150, 5, n_classes=3, random_state=0)


@pytest.mark.parametrize("class_weight", ["balanced",
                                          [{0: 1.0, 1: 3.0}, {0: 0.5, 1: 1.0}, {1: 2.0}]])
def test_multilabel_weights_are_sklearns_multi_output_sample_weights(class_weight):
    X, Y = multilabel()
    expected = compute_sample_weight(class_weight, Y)  # a product over the labels
    assert len(np.unique(expected)) > 2
    assert_same_model(fit(X, Y, class_weight=class_weight),
                      fit(X, Y, {"sample_weight": expected}))


def test_multilabel_refuses_a_plain_dict_and_multiclass_refuses_a_list():
    X, Y = multilabel()
    with pytest.raises(ValueError, match="For multi-output, class_weight should be a list of"):
        fit(X, Y, class_weight={0: 2.0})
    with pytest.raises(ValueError, match="number of elements in class_weight should match"):
        fit(X, Y, class_weight=[{1: 2.0}])
    X, y = data(3)
    with pytest.raises(ValueError, match="list of dicts .* is for multilabel targets"):
        fit(X, y, class_weight=[{0: 1.0, 1: 2.0, 2: 1.0}])


def test_class_weight_is_validated_as_a_parameter():
    X, y = data(2)
    with pytest.raises(InvalidParameterError, match="'class_weight' parameter"):
        fit(X, y, class_weight="balanced_subsample")
    assert "class_weight" in MLPClassifier._parameter_constraints
    assert MLPClassifier().class_weight is None
