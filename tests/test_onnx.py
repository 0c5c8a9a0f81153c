"""ONNX export: ``import jitmlp.onnx``, then skl2onnx's ``to_onnx`` works; run by onnxruntime.

Every output function is checked (softmax multiclass, logistic binary and multilabel, identity
single and multi-output, exp for the Poisson loss): onnxruntime's outputs within 1e-5 of
jitmlp's in float32, the labels equal, the declared output shapes those of the arrays.
"""

import importlib
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import jitmlp

to_onnx = pytest.importorskip("skl2onnx").to_onnx
ort = pytest.importorskip("onnxruntime")
importlib.import_module("jitmlp.onnx")  # registers jitmlp's converters with skl2onnx


def _data(task, dtype=np.float32):
    if task == "multilabel":
        X, y = make_multilabel_classification(80, 5, n_classes=3, random_state=0)
    elif task in ("multiclass", "binary"):
        X, y = make_classification(80, 5, n_informative=3, random_state=0,
                                   n_classes=3 if task == "multiclass" else 2)
    else:
        X, y = make_regression(80, 5, n_targets=2 if task == "multioutput" else 1, noise=0.5,
                               random_state=0)
        y = y / y.std(axis=0)
        if task == "poisson":
            y = np.abs(y)
    return X.astype(dtype), y


def _fit(task, dtype=np.float32, labels=None, **params):
    X, y = _data(task, dtype)
    if labels is not None:
        y = labels(y)
    params = {"hidden_layer_sizes": (6, 4), "max_iter": 20, "random_state": 0,
              "learning_rate_init": 0.01, **params}
    if task in ("multiclass", "binary", "multilabel"):
        model = jitmlp.MLPClassifier(**params)
    else:
        model = jitmlp.MLPRegressor(loss="poisson" if task == "poisson" else "squared_error",
                                    **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y), X


def _run(model, X, **kwargs):
    onx = to_onnx(model, X[:1], **kwargs)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    declared = [o.shape for o in session.get_outputs()]
    return [o.name for o in session.get_outputs()], outputs, declared


@pytest.mark.parametrize("task, activation, out", [
    ("multiclass", "relu", "softmax"),
    ("binary", "tanh", "logistic"),
    ("multilabel", "logistic", "logistic"),
    # jitmlp's own activations (issue 14), one per layer
    ("multiclass", ("gelu", "silu"), "softmax"),
    ("multiclass", ("leaky_relu", "elu"), "softmax"),
    ("binary", ("softplus", "gelu"), "logistic"),
])
def test_classifier_probabilities_and_labels(task, activation, out):
    model, X = _fit(task, activation=activation)
    assert model.out_activation_ == out
    names, (label, proba), declared = _run(model, X, options={"zipmap": False})
    assert names == ["label", "probabilities"]
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(label, model.predict(X))
    n_columns = 2 if task == "binary" else 3
    assert proba.shape == (len(X), n_columns) and declared[1][1] == n_columns
    assert label.shape == model.predict(X).shape and len(declared[0]) == label.ndim


@pytest.mark.parametrize("task", ["regression", "multioutput", "poisson"])
@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_regressor_values(task, activation):
    model, X = _fit(task, activation=activation)
    assert model.out_activation_ == ("exp" if task == "poisson" else "identity")
    names, (values,), declared = _run(model, X)
    assert names == ["variable"]
    n_outputs = 2 if task == "multioutput" else 1
    assert values.shape == (len(X), n_outputs) and declared[0][1] == n_outputs
    np.testing.assert_allclose(values, model.predict(X).reshape(len(X), -1), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("labels, dtype", [
    (lambda y: np.array(["ant", "bee", "cat"])[y], object),
    (lambda y: y * 2 - 1, np.int64),
    (lambda y: (y * 2 - 1).astype(np.float64), np.int64),
])
def test_labels_keep_their_values(labels, dtype):
    model, X = _fit("multiclass", labels=labels)
    _, (label, _), _ = _run(model, X, options={"zipmap": False})
    assert label.dtype == dtype
    np.testing.assert_array_equal(label, model.predict(X))


def test_boolean_labels_become_int64():
    model, X = _fit("binary", labels=lambda y: y.astype(bool))
    _, (label, _), _ = _run(model, X, options={"zipmap": False})
    np.testing.assert_array_equal(label, model.predict(X).astype(np.int64))


def test_nocl_gives_class_indices():
    model, X = _fit("multiclass", labels=lambda y: np.array(["ant", "bee", "cat"])[y])
    _, (label, _), _ = _run(model, X, options={"zipmap": False, "nocl": True})
    assert label.dtype == np.int64
    np.testing.assert_array_equal(model.classes_[label], model.predict(X))


def test_float64_input_computes_in_double():
    model, X = _fit("multiclass", dtype=np.float64)
    _, (label, proba), _ = _run(model, X, options={"zipmap": False})
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(label, model.predict(X))


def test_zipmap_default_and_pipeline():
    model, X = _fit("multiclass")
    pipeline = make_pipeline(StandardScaler(), model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, model.predict(X))
    names, (label, zipped), _ = _run(pipeline, X)
    assert names == ["output_label", "output_probability"]
    expected = pipeline.predict_proba(X)
    np.testing.assert_array_equal(label, pipeline.predict(X))
    np.testing.assert_allclose([[row[c] for c in range(3)] for row in zipped], expected,
                               rtol=1e-5, atol=1e-5)


def test_missing_extra_names_it(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "jitmlp.onnx")
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "jitmlp\[onnx\]"'):
        importlib.import_module("jitmlp.onnx")
