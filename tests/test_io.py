"""jitmlp.save / jitmlp.load: safe model files that predict and continue training identically.

Every tampered file below is built from a real saved file by changing one thing, and must be
refused by a ValueError that names the problem. Pickle, joblib and skops keep working too.
"""

import contextlib
import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import jitmlp

_DATA = {}


def _data(task):
    if task not in _DATA:
        if task == "multilabel":
            X, y = make_multilabel_classification(60, 5, n_classes=3, random_state=0)
        elif task in ("regression", "multioutput", "poisson"):
            X, y = make_regression(60, 5, n_targets=1 if task != "multioutput" else 2,
                                   noise=0.5, random_state=0)
            y = y / y.std(axis=0)
            if task == "poisson":
                y = np.abs(y)
        else:
            X, y = make_classification(60, 5, n_informative=3, random_state=0,
                                       n_classes=2 if task == "binary" else 3)
        _DATA[task] = (X, y)
    return _DATA[task]


def _fit(task="multiclass", labels=None, dtype=np.float64, **params):
    X, y = _data(task)
    X = X.astype(dtype)
    if labels is not None:
        y = labels(y)
    params = {"hidden_layer_sizes": (4, 3), "max_iter": 3, "random_state": 0, **params}
    if task in ("regression", "multioutput", "poisson"):
        cls = jitmlp.MLPRegressor
        params.setdefault("loss", "poisson" if task == "poisson" else "squared_error")
    else:
        cls = jitmlp.MLPClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**params).fit(X, y), X, y


def _roundtrip(model, tmp_path):
    path = tmp_path / "model.jitmlp"
    jitmlp.save(model, path)
    return jitmlp.load(path)


def _assert_same_state(loaded, model):
    """Same attributes, same values and dtypes (the RandomState drawn by each fit aside)."""
    names = set(vars(model)) - {"_random_state"}
    assert set(vars(loaded)) - {"_random_state"} == names
    for name in sorted(names):
        a, b = getattr(loaded, name), getattr(model, name)
        if name in ("coefs_", "intercepts_", "_best_coefs", "_best_intercepts"):
            assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b)), name
        elif name == "_optimizer":
            assert ((a.solver, a.learning_rate, a.t, a.epoch)
                    == (b.solver, b.learning_rate, b.t, b.epoch))
            assert np.array_equal(a.state_1, b.state_1) and np.array_equal(a.state_2, b.state_2)
            assert a.state_1.dtype == b.state_1.dtype
        elif name == "_label_binarizer":
            assert vars(a).keys() == vars(b).keys() and a.y_type_ == b.y_type_
            assert a.classes_.dtype == b.classes_.dtype
        elif isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), name
        elif name == "random_state" and isinstance(b, np.random.RandomState):
            assert a is not b and a.randint(1 << 30) == b.randint(1 << 30)
        else:
            assert a == b or (a != a and b != b), name  # nan == nan for scores


def _continue(model, X, y):
    """The model after two more partial_fit calls (stochastic) or a warm_start fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if model.solver != "lbfgs" and not model.early_stopping:
            model.partial_fit(X, y)
            return model.partial_fit(X, y)
        return model.set_params(warm_start=True, max_iter=2).fit(X, y)


CASES = {
    "multiclass-adam": dict(),
    "binary-sgd-invscaling": dict(task="binary", solver="sgd", learning_rate="invscaling"),
    "adaptive-sgd": dict(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1),
    "multilabel": dict(task="multilabel"),
    "string-labels": dict(labels=lambda y: np.array(["ant", "bee", "cat"])[y]),
    "object-labels": dict(labels=lambda y: np.array(["ant", "bee", "cat"], dtype=object)[y]),
    "pandas-labels": dict(labels=lambda y: __import__("pandas").Categorical.from_codes(
        y, ["ant", "bee", "cat"])),
    "bool-labels": dict(task="binary", labels=lambda y: y.astype(bool)),
    "float-labels": dict(labels=lambda y: y * 2.0 - 1.0),
    "early-stopping": dict(early_stopping=True, validation_fraction=0.2, max_iter=6),
    "lbfgs": dict(solver="lbfgs"),
    "float32": dict(dtype=np.float32),
    "regression": dict(task="regression"),
    "multioutput-sgd": dict(task="multioutput", solver="sgd"),
    "poisson": dict(task="poisson"),
    "randomstate-param": dict(random_state=np.random.RandomState(7)),
    "list-hidden": dict(hidden_layer_sizes=[3], n_iter_no_change=np.inf, alpha=np.float64(0.1)),
    "per-layer-activations": dict(hidden_layer_sizes=(4, 3), activation=("gelu", "elu")),
    "activation-list": dict(hidden_layer_sizes=[4, 3], activation=["silu", "softplus"]),
}


@pytest.mark.parametrize("case", CASES)
def test_loaded_model_predicts_and_continues_identically(case, tmp_path):
    model, X, y = _fit(**CASES[case])
    loaded = _roundtrip(model, tmp_path)
    assert type(loaded) is type(model)
    assert loaded.get_params().keys() == model.get_params().keys()
    _assert_same_state(loaded, model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).dtype == model.predict(X).dtype
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    _continue(model, X, y)
    _continue(loaded, X, y)
    _assert_same_state(loaded, model)  # bit for bit: same weights, optimizer, history


def test_feature_names_and_file_objects(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = _data("multiclass")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = jitmlp.MLPClassifier((3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(frame, y)
    buffer = io.BytesIO()
    jitmlp.save(model, buffer)
    buffer.seek(0)
    loaded = jitmlp.load(buffer)
    _assert_same_state(loaded, model)
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


@pytest.mark.parametrize("labels", [["ant", "bee", "cat"], [-1, 4, 7], [0.5, 1.5, 2.5]])
def test_object_dtype_classes_keep_their_dtype(labels, tmp_path):
    model, X, _ = _fit()
    classes = np.array(labels, dtype=object)  # scikit-learn keeps what a LabelBinarizer holds
    model._label_binarizer.classes_ = model.classes_ = classes
    loaded = _roundtrip(model, tmp_path)
    assert loaded.classes_.dtype == object and list(loaded.classes_) == labels
    assert [type(c) for c in loaded.classes_] == [type(c) for c in labels]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_object_labels_of_mixed_types_are_refused(tmp_path):
    model, _, _ = _fit()
    model._label_binarizer.classes_ = model.classes_ = np.array([1, "b", 2.5], dtype=object)
    with pytest.raises(ValueError, match="classes_ of object dtype holding .* all strings"):
        jitmlp.save(model, tmp_path / "x")


def test_unfitted_model_keeps_its_parameters(tmp_path):
    model = jitmlp.MLPRegressor(loss="poisson", hidden_layer_sizes=(5, 2), solver="sgd",
                                random_state=3, n_jobs=1)
    loaded = _roundtrip(model, tmp_path)
    assert loaded.get_params() == model.get_params()
    assert not hasattr(loaded, "coefs_")


def test_save_writes_the_path_as_given(tmp_path):
    model, _, _ = _fit()
    jitmlp.save(model, tmp_path / "no-suffix")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no-suffix"]


def test_save_refuses_what_it_cannot_store(tmp_path):
    from sklearn.neural_network import MLPClassifier

    with pytest.raises(TypeError, match="saves jitmlp.MLPClassifier"):
        jitmlp.save(MLPClassifier(), tmp_path / "x")
    with pytest.raises(ValueError, match="Cannot save parameter random_state"):
        jitmlp.save(jitmlp.MLPClassifier(random_state=np.random.default_rng(0)), tmp_path / "x")
    model, _, _ = _fit()
    model.extra_state_ = 1
    with pytest.raises(ValueError, match=r"Cannot save attribute\(s\) \['extra_state_'\]"):
        jitmlp.save(model, tmp_path / "x")
    assert not list(tmp_path.iterdir())  # nothing left behind


# ---------------------------------------------------------------- tampered files
def _read(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays.pop("metadata").tobytes())
    return meta, arrays


def _write(path, meta, arrays):
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, metadata=blob, **arrays)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model, _, _ = _fit(task="multiclass", hidden_layer_sizes=(4,))
    path = tmp_path_factory.mktemp("saved") / "model.jitmlp"
    jitmlp.save(model, path)
    return path


def _tampered(saved, tmp_path, change):
    meta, arrays = _read(saved)
    change(meta, arrays)
    path = tmp_path / "tampered.jitmlp"
    _write(path, meta, arrays)
    return path


TAMPERED = {
    "newer-format": (lambda m, a: m.update(format_version=2),
                     r"format version 2, written by .* reads format versions up to 1"),
    "other-format": (lambda m, a: m.update(format="something-else"), "not a jitmlp model"),
    "bad-version": (lambda m, a: m.update(format_version="1"), "invalid format_version"),
    "missing-array": (lambda m, a: a.pop("intercepts_1"), r"missing array\(s\) \['intercepts_1'"),
    "unknown-array": (lambda m, a: a.update(payload=np.zeros(3)), r"unknown array\(s\) \['payl"),
    "wrong-dtype": (lambda m, a: a.update(coefs_1=a["coefs_1"].astype(np.float16)),
                    "'coefs_1' has dtype float16, expected float64"),
    "mixed-dtype": (lambda m, a: a.update(intercepts_0=a["intercepts_0"].astype(np.float32)),
                    "'intercepts_0' has dtype float32, expected float64"),
    "wrong-shape": (lambda m, a: a.update(coefs_1=a["coefs_1"][:-1]),
                    r"'coefs_1' has shape \(3, 3\), expected \(4, 3\)"),
    "not-finite": (lambda m, a: a["coefs_0"].__setitem__((0, 0), np.nan), "NaN or infinity"),
    "outputs-vs-classes": (lambda m, a: a.update(classes_=a["classes_"][:2]),
                           "2 classes of y_type_ 'multiclass'"),
    "unsorted-classes": (lambda m, a: a.update(classes_=a["classes_"][::-1].copy()),
                         "not sorted and unique"),
    "optimizer-shape": (lambda m, a: a.update(optimizer_state_2=a["optimizer_state_2"][1:]),
                        "'optimizer_state_2' has shape"),
    "unknown-key": (lambda m, a: m.update(extra=1), r"unknown metadata keys \['extra'\]"),
    "missing-key": (lambda m, a: m.pop("optimizer"), r"missing metadata keys \['optimizer'\]"),
    "unknown-parameter": (lambda m, a: m["params"].update(evil=1),
                          r"unknown parameter\(s\) \['evil'\]"),
    "invalid-parameter": (lambda m, a: m["params"].update(activation="swish"),
                          "invalid parameter: The 'activation' parameter"),
    "undecodable-parameter": (lambda m, a: m["params"].update(alpha={"object": "os.system"}),
                              "parameter 'alpha': cannot decode"),
    "unknown-attribute": (lambda m, a: m["attributes"].update(__class__="str"),
                          r"unknown attribute\(s\) \['__class__'\]"),
    "wrong-attribute-type": (lambda m, a: m["attributes"].update(n_iter_=-1),
                             "attribute 'n_iter_': expected a non-negative integer"),
    "missing-stochastic-attribute": (lambda m, a: m["attributes"].pop("loss_curve_"),
                                     r"missing attribute\(s\) \['loss_curve_'\]"),
    "huge-n-layers": (lambda m, a: m["attributes"].update(n_layers_=10**9),
                      "n_layers_ = 1000000000, but the file holds only"),
    "unknown-estimator": (lambda m, a: m.update(estimator="Pipeline"),
                          "unknown estimator 'Pipeline'"),
    "unknown-solver": (lambda m, a: m["optimizer"].update(solver="lbfgs"),
                       "optimizer solver 'lbfgs' is not one of"),
    "bad-y-type": (lambda m, a: m["label_binarizer"].update(y_type_="continuous"),
                   "y_type_ 'continuous' is not one of"),
}


@pytest.mark.parametrize("case", TAMPERED)
def test_tampered_file_is_refused(case, saved, tmp_path):
    change, message = TAMPERED[case]
    path = _tampered(saved, tmp_path, change)
    with pytest.raises(ValueError, match=message):
        jitmlp.load(path)


def test_tampered_metadata_json_is_refused(saved, tmp_path):
    _, arrays = _read(saved)
    path = tmp_path / "bad-json.jitmlp"
    with open(path, "wb") as f:
        np.savez(f, metadata=np.frombuffer(b"{not json", dtype=np.uint8), **arrays)
    with pytest.raises(ValueError, match="metadata is not valid UTF-8 JSON"):
        jitmlp.load(path)


def test_truncated_file_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    for length in (0, 10, len(data) // 2, len(data) - 1):
        path = tmp_path / f"truncated-{length}"
        path.write_bytes(data[:length])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            jitmlp.load(path)


def test_corrupt_array_payload_is_refused(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("coefs_0.npy")
    # the member's data begins after its local header (30 bytes + name + extra), then the
    # .npy header; flip a byte of the last weight
    end = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size
    data[end - 1] ^= 0xFF
    path = tmp_path / "corrupt.jitmlp"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="'coefs_0' cannot be read: corrupt.*CRC"):
        jitmlp.load(path)


class _Exploit:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('EXPLOITED').write_text('x')",))


def test_pickled_payloads_never_run(saved, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(ValueError, match="not a jitmlp model file"):
        jitmlp.load(pickled)
    meta, arrays = _read(saved)
    arrays["classes_"] = np.array([_Exploit()] * 3, dtype=object)
    path = tmp_path / "object-array.jitmlp"
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, metadata=blob, **arrays)  # np.savez pickles object arrays
    with pytest.raises(ValueError, match="'classes_' cannot be read: corrupt, truncated or pick"):
        jitmlp.load(path)
    assert not (tmp_path / "EXPLOITED").exists()


def test_other_files_are_refused(tmp_path):
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    npz = tmp_path / "arrays.npz"
    np.savez(npz, x=np.zeros(3))
    text = tmp_path / "text.txt"
    text.write_text("hello")
    for path in (npy, npz, text):
        with pytest.raises(ValueError, match="not a jitmlp model file"):
            jitmlp.load(path)
    with pytest.raises(FileNotFoundError):
        jitmlp.load(tmp_path / "missing")


# ---------------------------------------------------------------- pickle, joblib, skops
@pytest.mark.parametrize("case", ["multiclass-adam", "multioutput-sgd"])
def test_pickle_and_joblib_keep_working(case, tmp_path):
    model, X, y = _fit(**CASES[case])
    joblib.dump(model, tmp_path / "model.joblib")
    for copy in (pickle.loads(pickle.dumps(model)), joblib.load(tmp_path / "model.joblib")):
        _assert_same_state(copy, model)
        np.testing.assert_array_equal(copy.predict(X), model.predict(X))


def test_skops_loads_with_the_listed_trusted_types(tmp_path):
    sio = pytest.importorskip("skops.io")
    model, X, y = _fit(solver="sgd")
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted and set(untrusted) <= set(jitmlp.skops_trusted_types())
    with pytest.raises(Exception, match="Untrusted types found"):
        sio.load(path)
    loaded = sio.load(path, trusted=jitmlp.skops_trusted_types())
    _assert_same_state(loaded, model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    _continue(model, X, y)
    _continue(loaded, X, y)
    _assert_same_state(loaded, model)


@contextlib.contextmanager
def _optimizer_state_named_as_before():
    """Within the block, the optimizer state's class carries the name it had before it moved to
    ``jitmlp._optimizers``, so pickle and skops write files as earlier versions of jitmlp did."""
    from jitmlp._optimizers import OptimizerState

    names = OptimizerState.__module__, OptimizerState.__name__, OptimizerState.__qualname__
    OptimizerState.__module__ = "jitmlp._estimators"
    OptimizerState.__name__ = OptimizerState.__qualname__ = "_OptimizerState"
    try:
        yield
    finally:
        OptimizerState.__module__, OptimizerState.__name__, OptimizerState.__qualname__ = names


def test_pickles_naming_the_old_optimizer_state_load_and_continue():
    from jitmlp._optimizers import OptimizerState

    model, X, y = _fit(**CASES["multiclass-adam"])
    with _optimizer_state_named_as_before():
        old = pickle.dumps(model)
    assert b"_OptimizerState" in old and b"jitmlp._optimizers" not in old
    loaded = pickle.loads(old)
    assert type(loaded._optimizer) is OptimizerState
    _assert_same_state(loaded, model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    _continue(model, X, y)
    _continue(loaded, X, y)
    _assert_same_state(loaded, model)
    assert b"jitmlp._optimizers" in pickle.dumps(loaded)  # saved again under the new name


def test_skops_files_naming_the_old_optimizer_state_load_with_the_trusted_types(tmp_path):
    sio = pytest.importorskip("skops.io")
    model, X, y = _fit(solver="sgd")
    path = tmp_path / "old.skops"
    with _optimizer_state_named_as_before():
        sio.dump(model, path)
    assert "jitmlp._estimators._OptimizerState" in sio.get_untrusted_types(file=path)
    loaded = sio.load(path, trusted=jitmlp.skops_trusted_types())
    _assert_same_state(loaded, model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))

def test_a_saved_file_has_the_permissions_open_would_give(tmp_path):
    """Written atomically through a temporary file (0600), but left as open() would leave it:
    a new file under the umask, an overwritten one with its own mode."""
    import os
    import stat

    model = jitmlp.MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=2,
                                random_state=0)
    model.fit(np.arange(12.0).reshape(6, 2), np.arange(6.0))
    umask = os.umask(0o027)
    try:
        jitmlp.save(model, tmp_path / "new.jitmlp")
        assert stat.S_IMODE(os.stat(tmp_path / "new.jitmlp").st_mode) == 0o640
        (tmp_path / "old.jitmlp").write_bytes(b"")
        os.chmod(tmp_path / "old.jitmlp", 0o604)
        jitmlp.save(model, tmp_path / "old.jitmlp")
        assert stat.S_IMODE(os.stat(tmp_path / "old.jitmlp").st_mode) == 0o604
    finally:
        os.umask(umask)
