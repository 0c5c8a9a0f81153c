"""Safe model files: ``save(model, path)`` and ``load(path)``, arrays and JSON, never pickle.

A file is a numpy ``.npz`` archive (a zip of ``.npy`` arrays), written and read with
``allow_pickle=False``: loading one runs no code from the file, whoever wrote it. Member
``metadata`` holds UTF-8 JSON: the format name and version, the jitmlp version, the estimator's
class and parameters, its fitted scalars (``n_iter_``, ``t_``, ``loss_curve_``, ...), the label
binarizer's state and the optimizer's scalars. The other members are arrays: the weights, the
optimizer's moment or velocity vectors, ``classes_`` and ``feature_names_in_``. Everything
``predict``, ``partial_fit`` and a ``warm_start`` fit read is stored, so a loaded model predicts
and continues training exactly as the saved one would have.

``load`` checks the file against what the metadata says before it builds a model: a file that is
not a jitmlp model, written by a newer format version, truncated or corrupt (the zip's CRC),
with missing or unknown arrays or keys, arrays of the wrong dtype or shape, or weights that are
not finite, raises a ValueError that names the problem.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from numbers import Integral, Real

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from ._estimators import MLPClassifier, MLPRegressor
from ._network import Layout
from ._optimizers import SOLVERS, OptimizerState

FORMAT = "jitmlp-model"
FORMAT_VERSION = 1
_METADATA = "metadata"
_ESTIMATORS = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}
_SOLVER_NAMES = {code: name for name, code in SOLVERS.items()}

# fitted scalars and lists, with their JSON kind: "int", "str", "float" (None allowed where
# "?"), "floats" (a list of floats). REQUIRED come with every fit; STOCHASTIC with every sgd or
# adam fit (together or not at all); loss_ is missing only after a fit stopped before its end.
_REQUIRED = {"n_features_in_": "int", "n_outputs_": "int", "n_layers_": "int", "n_iter_": "int",
             "t_": "int", "out_activation_": "str"}
_OPTIONAL = {"loss_": "float"}
_STOCHASTIC = {"loss_curve_": "floats", "best_loss_": "float?", "validation_scores_": "floats?",
               "validation_loss_curve_": "floats?", "best_validation_score_": "float?",
               "_no_improvement_count": "int"}
SCALAR_ATTRIBUTES = {**_REQUIRED, **_OPTIONAL, **_STOCHASTIC}
# what a fit sets beyond those (each stored as arrays or as its own metadata entry), and what is
# not model state: _random_state is drawn again from the random_state parameter by every fit;
# callbacks (scikit-learn's set_callbacks) are not saved; the classifier's loss ("log_loss") is
# set by __init__ and is no parameter of it
_ARRAY_STATE = {"coefs_", "intercepts_", "_best_coefs", "_best_intercepts", "classes_",
                "_label_binarizer", "feature_names_in_", "_optimizer"}
_NOT_SAVED = {"_random_state", "loss"}
_NOT_SAVED_PREFIXES = ("_skl_callbacks", "_callback")
_BASE_KEYS = {"format", "format_version", "jitmlp_version", "estimator", "params", "fitted"}
_FITTED_KEYS = {"attributes", "feature_names", "optimizer", "best_weights"}
_CLASSIFIER_KEYS = {"label_binarizer", "classes_dtype"}
_BINARIZER_KEYS = {"y_type_": str, "sparse_input_": bool, "neg_label": int, "pos_label": int,
                   "sparse_output": bool}
_Y_TYPES = {"binary", "multiclass", "multilabel-indicator"}


# The optimizer state's name in pickles and skops files of jitmlp before it moved to _optimizers
# (``_estimators._OptimizerState`` is still an alias of it).
_LEGACY_OPTIMIZER_STATE = "jitmlp._estimators._OptimizerState"


def skops_trusted_types():
    """The jitmlp types to pass to ``skops.io.load(path, trusted=...)``.

    skops loads the estimator classes and the optimizer-state record only when trusted
    explicitly; everything else in a jitmlp model (numpy arrays, scikit-learn's LabelBinarizer,
    a RandomState) is among skops's default trusted types. The record's name in files written
    by jitmlp before it moved to ``jitmlp._optimizers`` is listed too, so those files load.

    Returns
    -------
    types : list of str
        Fully qualified type names, as ``skops.io.get_untrusted_types`` reports them.

    Examples
    --------
    >>> import jitmlp
    >>> jitmlp.skops_trusted_types()  # doctest: +NORMALIZE_WHITESPACE
    ['jitmlp._estimators.MLPClassifier', 'jitmlp._estimators.MLPRegressor',
     'jitmlp._optimizers.OptimizerState', 'jitmlp._estimators._OptimizerState']
    """
    types = [f"{t.__module__}.{t.__qualname__}" for t in (MLPClassifier, MLPRegressor,
                                                          OptimizerState)]
    return [*types, _LEGACY_OPTIMIZER_STATE]


# --------------------------------------------------------------------------- JSON values
def _encode_float(x):
    x = float(x)
    return x if math.isfinite(x) else {"float": repr(x)}  # JSON has no inf or nan


def _decode_float(x, where):
    if isinstance(x, dict) and set(x) == {"float"} and x["float"] in ("inf", "-inf", "nan"):
        return float(x["float"])
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise ValueError(f"{where}: expected a number, got {x!r}")


def _encode_value(name, value, arrays):
    """One parameter as JSON (a RandomState's key goes into ``arrays``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return _encode_float(value)
    if isinstance(value, (tuple, list, np.ndarray)) and all(
            isinstance(v, Integral) and not isinstance(v, (bool, np.bool_)) for v in value):
        values = [int(v) for v in value]
        return {"tuple": values} if isinstance(value, tuple) else values
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, str) for v in value):
        values = [str(v) for v in value]  # e.g. one activation per hidden layer
        return {"tuple": values} if isinstance(value, tuple) else values
    if type(value) is np.random.RandomState:
        kind, key, pos, has_gauss, cached = value.get_state()
        if kind == "MT19937":
            arrays["random_state_key"] = np.asarray(key, dtype=np.uint32)
            return {"RandomState": {"pos": int(pos), "has_gauss": int(has_gauss),
                                    "cached_gaussian": _encode_float(cached)}}
    raise ValueError(
        f"Cannot save parameter {name}={value!r} without pickle: a jitmlp model file holds "
        "numbers, strings, booleans, None, sequences of integers or of strings and numpy "
        "RandomState "
        "instances. Set the parameter to one of those, or use joblib/pickle for this model."
    )


def _decode_value(name, value, arrays):
    where = f"parameter {name!r}"
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list) and (all(isinstance(v, int) and not isinstance(v, bool)
                                        for v in value) or all(isinstance(v, str) for v in value)):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (kind, inner), = value.items()
        if kind == "float":
            return _decode_float(value, where)
        if kind == "tuple" and isinstance(inner, list) and (all(
                isinstance(v, int) and not isinstance(v, bool) for v in inner)
                or all(isinstance(v, str) for v in inner)):
            return tuple(inner)
        if kind == "RandomState" and isinstance(inner, dict) and set(inner) == {
                "pos", "has_gauss", "cached_gaussian"}:
            key = arrays["random_state_key"]
            _check_array(f"{where}", "random_state_key", key, np.uint32, (624,))
            state = np.random.RandomState()
            try:
                state.set_state(("MT19937", key, int(inner["pos"]),
                                 int(inner["has_gauss"]),
                                 _decode_float(inner["cached_gaussian"], where)))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: invalid RandomState state ({exc})") from None
            return state
    raise ValueError(f"{where}: cannot decode {value!r}")


def _encode_attribute(kind, value):
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "str":
        return str(value)
    if kind.startswith("floats"):
        return [_encode_float(v) for v in value]
    return _encode_float(value)


def _decode_attribute(name, kind, value):
    where = f"attribute {name!r}"
    if value is None and kind.endswith("?"):
        return None
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise ValueError(f"{where}: expected a non-negative integer, got {value!r}")
    if kind == "str":
        if isinstance(value, str):
            return value
        raise ValueError(f"{where}: expected a string, got {value!r}")
    if kind.startswith("floats"):
        if isinstance(value, list):
            return [_decode_float(v, where) for v in value]
        raise ValueError(f"{where}: expected a list of numbers, got {value!r}")
    return _decode_float(value, where)


# --------------------------------------------------------------------------- labels
def _label_array(values, what):
    """(array storable without pickle, whether it was of object dtype) for classes_ and names."""
    values = np.asarray(values)
    if values.dtype != object:
        if values.dtype.kind not in "biufUS":
            raise ValueError(f"Cannot save {what} of dtype {values.dtype} without pickle.")
        return values, False
    kinds = {type(v) for v in values.ravel()}
    for python_types, dtype in (((str,), str), ((bool, np.bool_), bool)):
        if kinds and all(issubclass(k, python_types) for k in kinds):
            return np.asarray(values.tolist(), dtype=dtype), True
    if kinds and all(issubclass(k, (Integral, Real)) for k in kinds):
        return np.asarray(values.tolist()), True
    raise ValueError(
        f"Cannot save {what} of object dtype holding {sorted(k.__name__ for k in kinds)} "
        "without pickle: labels must be all strings, all booleans or all numbers."
    )


def _unknown_attributes(model):
    """Names of set attributes that this format does not know (so cannot store)."""
    known = set(model.get_params(deep=False)) | set(SCALAR_ATTRIBUTES) | _ARRAY_STATE | _NOT_SAVED
    return sorted(name for name in vars(model)
                  if name not in known and not name.startswith(_NOT_SAVED_PREFIXES))


# --------------------------------------------------------------------------- save
def _state(model):
    """(metadata, arrays) of a jitmlp estimator."""
    from . import __version__

    name = type(model).__name__
    if _ESTIMATORS.get(name) is not type(model):
        raise TypeError(
            f"jitmlp.save saves jitmlp.MLPClassifier and jitmlp.MLPRegressor, got "
            f"{type(model).__module__}.{type(model).__qualname__}."
        )
    unknown = _unknown_attributes(model)
    if unknown:
        raise ValueError(
            f"Cannot save attribute(s) {unknown}: not part of jitmlp's model file format "
            f"(version {FORMAT_VERSION})."
        )
    arrays = {}
    params = {k: _encode_value(k, v, arrays)
              for k, v in sorted(model.get_params(deep=False).items())}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "jitmlp_version": __version__,
            "estimator": name, "params": params, "fitted": hasattr(model, "coefs_")}
    if not meta["fitted"]:
        return meta, arrays
    meta["attributes"] = {k: _encode_attribute(kind, getattr(model, k))
                          for k, kind in SCALAR_ATTRIBUTES.items() if hasattr(model, k)}
    for k, (coef, intercept) in enumerate(zip(model.coefs_, model.intercepts_)):
        arrays[f"coefs_{k}"], arrays[f"intercepts_{k}"] = coef, intercept
    # after any fit the best weights are the weights, or (no early stopping) never read again
    best = list(zip(getattr(model, "_best_coefs", model.coefs_),
                    getattr(model, "_best_intercepts", model.intercepts_)))
    meta["best_weights"] = not all(
        np.array_equal(c, bc) and np.array_equal(i, bi)
        for (bc, bi), c, i in zip(best, model.coefs_, model.intercepts_))
    if meta["best_weights"]:
        for k, (coef, intercept) in enumerate(best):
            arrays[f"best_coefs_{k}"], arrays[f"best_intercepts_{k}"] = coef, intercept
    meta["feature_names"] = hasattr(model, "feature_names_in_")
    if meta["feature_names"]:
        arrays["feature_names_in_"], _ = _label_array(model.feature_names_in_,
                                                      "feature_names_in_")
    if isinstance(model, MLPClassifier):
        binarizer = model._label_binarizer
        meta["label_binarizer"] = {k: getattr(binarizer, k) for k in _BINARIZER_KEYS}
        arrays["classes_"], as_object = _label_array(model.classes_, "classes_")
        meta["classes_dtype"] = "object" if as_object else None
    optimizer = getattr(model, "_optimizer", None)
    meta["optimizer"] = None
    if optimizer is not None:
        meta["optimizer"] = {"solver": _SOLVER_NAMES[optimizer.solver],
                             "learning_rate": _encode_float(optimizer.learning_rate),
                             "t": int(optimizer.t), "epoch": int(optimizer.epoch)}
        arrays["optimizer_state_1"] = optimizer.state_1
        arrays["optimizer_state_2"] = optimizer.state_2
    return meta, arrays


def save(model, path):
    """Write a jitmlp model to a file that loads without pickle.

    The file is a numpy ``.npz`` archive of arrays (weights, optimizer state, ``classes_``,
    ``feature_names_in_``) plus JSON metadata (format version, jitmlp version, parameters,
    fitted scalars). Loading it with :func:`load` runs no code from the file. Callbacks set
    with ``set_callbacks`` are not saved.

    Parameters
    ----------
    model : jitmlp.MLPClassifier or jitmlp.MLPRegressor
        A fitted or unfitted model.
    path : str, path-like or binary file object
        Where to write. A path is written as given (no suffix is added), through a temporary
        file in the same folder that replaces it at the end, so a failed save leaves no
        partial file.

    Raises
    ------
    TypeError
        If ``model`` is not a jitmlp estimator.
    ValueError
        If a parameter or attribute cannot be stored without pickle (a parameter that is an
        arbitrary object, labels of object dtype mixing types).

    See Also
    --------
    load : read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import jitmlp
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1]
    >>> clf = jitmlp.MLPClassifier((4,), solver="lbfgs", random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.jitmlp")
    >>> jitmlp.save(clf, path)
    >>> same = jitmlp.load(path)
    >>> bool((same.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    meta, arrays = _state(model)
    blob = json.dumps(meta, allow_nan=False, sort_keys=True).encode("utf-8")
    members = {_METADATA: np.frombuffer(blob, dtype=np.uint8), **arrays}
    if hasattr(path, "write"):
        np.savez(path, **members)
        return
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=".jitmlp-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **members)
        os.chmod(tmp, mode)  # mkstemp's file is 0600: give it the mode open() would have
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _file_mode(path) -> int:
    """The permissions ``open(path, "wb")`` would leave: an existing file's own, else those of a
    new file under the process's umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0o022)  # the only way to read it: set and put back
        os.umask(umask)
        return 0o666 & ~umask


# --------------------------------------------------------------------------- load
class _File:
    """The members of an opened file, read one by one, every failure a ValueError."""

    def __init__(self, npz, where):
        self.npz, self.where = npz, where

    def read(self, name):
        try:
            return self.npz[name]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise ValueError(f"{self.where}: array {name!r} cannot be read: corrupt, truncated "
                             f"or pickled ({type(exc).__name__}: {exc})") from None


def _open(path):
    where = "jitmlp model file"
    if not hasattr(path, "read"):
        where += f" {os.fspath(path)!r}"
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"{where}: not a jitmlp model file, or truncated or corrupt "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: not a jitmlp model file (a single .npy array, not an "
                         ".npz archive)")
    return npz, where


def _metadata(file):
    if _METADATA not in file.npz.files:
        raise ValueError(f"{file.where}: not a jitmlp model file (no {_METADATA!r} member)")
    blob = file.read(_METADATA)
    try:
        if blob.dtype != np.uint8 or blob.ndim != 1:
            raise ValueError(f"dtype {blob.dtype}, ndim {blob.ndim}")
        meta = json.loads(blob.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file.where}: its metadata is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{file.where}: not a jitmlp model file (format is not {FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{file.where}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{file.where}: format version {version}, written by jitmlp "
            f"{meta.get('jitmlp_version')!r}; this jitmlp reads format versions up to "
            f"{FORMAT_VERSION}. Upgrade jitmlp to load it."
        )
    return meta


def _check_keys(where, what, found, required, optional=()):
    missing = sorted(set(required) - set(found))
    unknown = sorted(set(found) - set(required) - set(optional))
    if missing:
        raise ValueError(f"{where}: missing {what} {missing}")
    if unknown:
        raise ValueError(f"{where}: unknown {what} {unknown}")


def _expected_arrays(meta):
    names = set()
    if isinstance(meta["params"].get("random_state"), dict):
        names.add("random_state_key")
    if not meta["fitted"]:
        return names
    n_layers = meta["attributes"]["n_layers_"]
    for k in range(n_layers - 1):
        names |= {f"coefs_{k}", f"intercepts_{k}"}
        if meta["best_weights"]:
            names |= {f"best_coefs_{k}", f"best_intercepts_{k}"}
    if meta["feature_names"]:
        names.add("feature_names_in_")
    if meta["estimator"] == "MLPClassifier":
        names.add("classes_")
    if meta["optimizer"] is not None:
        names |= {"optimizer_state_1", "optimizer_state_2"}
    return names


def _check_array(where, name, a, dtype, shape):
    if a.dtype != dtype:
        raise ValueError(f"{where}: array {name!r} has dtype {a.dtype}, expected {dtype}")
    if a.shape != shape:
        raise ValueError(f"{where}: array {name!r} has shape {a.shape}, expected {shape}")


def _weights(where, arrays, prefix, units, dtype):
    coefs, intercepts = [], []
    for k in range(len(units) - 1):
        coef, intercept = arrays[f"{prefix}coefs_{k}"], arrays[f"{prefix}intercepts_{k}"]
        _check_array(where, f"{prefix}coefs_{k}", coef, dtype, (units[k], units[k + 1]))
        _check_array(where, f"{prefix}intercepts_{k}", intercept, dtype, (units[k + 1],))
        for name, a in ((f"{prefix}coefs_{k}", coef), (f"{prefix}intercepts_{k}", intercept)):
            if not np.isfinite(a).all():
                raise ValueError(f"{where}: array {name!r} holds NaN or infinity")
        coefs.append(coef)
        intercepts.append(intercept)
    return coefs, intercepts


def _units(where, arrays, attributes):
    """[n_features, hidden..., n_outputs] from the coefs_ arrays, checked against metadata."""
    n_layers = attributes["n_layers_"]
    if n_layers < 2:
        raise ValueError(f"{where}: n_layers_ = {n_layers}, expected at least 2")
    units = [attributes["n_features_in_"]]
    for k in range(n_layers - 1):
        coef = arrays[f"coefs_{k}"]
        if coef.ndim != 2:
            raise ValueError(f"{where}: array 'coefs_{k}' has shape {coef.shape}, expected 2-D")
        units.append(coef.shape[1])
    if units[-1] != attributes["n_outputs_"]:
        raise ValueError(f"{where}: the last layer has {units[-1]} outputs, n_outputs_ = "
                         f"{attributes['n_outputs_']}")
    if min(units) < 1:
        raise ValueError(f"{where}: a layer of size 0 in {units}")
    return units


def _classifier_state(where, meta, arrays, attributes):
    binarizer_meta = meta["label_binarizer"]
    if not isinstance(binarizer_meta, dict):
        raise ValueError(f"{where}: label_binarizer is {binarizer_meta!r}, expected an object")
    _check_keys(where, "label_binarizer keys", binarizer_meta, _BINARIZER_KEYS)
    for key, kind in _BINARIZER_KEYS.items():
        value = binarizer_meta[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{where}: label_binarizer {key!r} is {value!r}, "
                             f"expected {kind.__name__}")
    y_type = binarizer_meta["y_type_"]
    if y_type not in _Y_TYPES:
        raise ValueError(f"{where}: label_binarizer y_type_ {y_type!r} is not one of "
                         f"{sorted(_Y_TYPES)}")
    classes = arrays["classes_"]
    if classes.ndim != 1 or classes.dtype.kind not in "biufUS":
        raise ValueError(f"{where}: array 'classes_' has shape {classes.shape} and dtype "
                         f"{classes.dtype}, expected 1-D labels")
    if not np.array_equal(np.unique(classes), classes):
        raise ValueError(f"{where}: array 'classes_' is not sorted and unique")
    n_classes, n_outputs = len(classes), attributes["n_outputs_"]
    if n_classes == 0:
        raise ValueError(f"{where}: array 'classes_' is empty")
    out = attributes["out_activation_"]
    expected = {"binary": (n_classes <= 2, 1, "logistic"),
                "multiclass": (n_classes >= 3, n_classes, "softmax"),
                "multilabel-indicator": (np.array_equal(classes, np.arange(n_classes)),
                                         n_classes, "logistic")}[y_type]
    if not expected[0] or n_outputs != expected[1] or out != expected[2]:
        raise ValueError(
            f"{where}: {n_classes} classes of y_type_ {y_type!r} need {expected[1]} output(s) "
            f"through {expected[2]!r}; the file has {n_outputs} through {out!r}"
        )
    if meta["classes_dtype"] not in (None, "object"):
        raise ValueError(f"{where}: classes_dtype {meta['classes_dtype']!r} is not None or "
                         "'object'")
    if meta["classes_dtype"] == "object":
        classes = classes.astype(object)
    binarizer = LabelBinarizer(neg_label=binarizer_meta["neg_label"],
                               pos_label=binarizer_meta["pos_label"],
                               sparse_output=binarizer_meta["sparse_output"])
    binarizer.y_type_ = y_type
    binarizer.sparse_input_ = binarizer_meta["sparse_input_"]
    binarizer.classes_ = classes
    return binarizer


def _build(meta, arrays, where):
    cls = _ESTIMATORS[meta["estimator"]]
    known = cls().get_params(deep=False)
    _check_keys(where, "parameter(s)", meta["params"], (), known)  # missing ones: defaults
    params = {k: _decode_value(k, v, arrays) for k, v in meta["params"].items()}
    model = cls(**params)
    try:
        model._validate_params()
    except ValueError as exc:
        raise ValueError(f"{where}: invalid parameter: {exc}") from None
    if not meta["fitted"]:
        return model
    attributes = meta["attributes"]
    for name, kind in SCALAR_ATTRIBUTES.items():
        if name in attributes:
            setattr(model, name, _decode_attribute(name, kind, attributes[name]))
    units = _units(where, arrays, attributes)
    dtype = arrays["coefs_0"].dtype
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"{where}: array 'coefs_0' has dtype {dtype}, expected float64 or "
                         "float32")
    model.coefs_, model.intercepts_ = _weights(where, arrays, "", units, dtype)
    if meta["best_weights"]:
        model._best_coefs, model._best_intercepts = _weights(where, arrays, "best_", units,
                                                              dtype)
    else:
        model._best_coefs = [c.copy() for c in model.coefs_]
        model._best_intercepts = [i.copy() for i in model.intercepts_]
    if cls is MLPClassifier:
        model._label_binarizer = _classifier_state(where, meta, arrays, attributes)
        model.classes_ = model._label_binarizer.classes_
    elif model.out_activation_ not in ("identity", "exp"):
        raise ValueError(f"{where}: out_activation_ {model.out_activation_!r} of a regressor "
                         "is not 'identity' or 'exp'")
    if meta["feature_names"]:
        names = arrays["feature_names_in_"]
        if names.dtype.kind != "U" or names.shape != (units[0],):
            raise ValueError(f"{where}: array 'feature_names_in_' has dtype {names.dtype} and "
                             f"shape {names.shape}, expected {units[0]} strings")
        model.feature_names_in_ = names.astype(object)
    if meta["optimizer"] is not None:
        model._optimizer = _optimizer(where, meta["optimizer"], arrays, units, dtype)
    return model


def _optimizer(where, opt, arrays, units, dtype):
    if not isinstance(opt, dict):
        raise ValueError(f"{where}: optimizer is {opt!r}, expected an object")
    _check_keys(where, "optimizer keys", opt, ("solver", "learning_rate", "t"), ("epoch",))
    if opt["solver"] not in SOLVERS:
        raise ValueError(f"{where}: optimizer solver {opt['solver']!r} is not one of "
                         f"{sorted(SOLVERS)}")
    size = Layout.from_units(units).size
    adam = opt["solver"] == "adam"
    _check_array(where, "optimizer_state_1", arrays["optimizer_state_1"], dtype, (size,))
    _check_array(where, "optimizer_state_2", arrays["optimizer_state_2"], dtype,
                 (size if adam else 0,))
    t = _decode_attribute("optimizer t", "int", opt["t"])
    rate = _decode_float(opt["learning_rate"], "optimizer learning_rate")
    epoch = _decode_attribute("optimizer epoch", "int", opt.get("epoch", 0))  # absent: 0
    return OptimizerState(SOLVERS[opt["solver"]], rate, arrays["optimizer_state_1"].copy(),
                          arrays["optimizer_state_2"].copy(), t, epoch)


def load(path):
    """Read a model written by :func:`save`, without unpickling anything.

    Parameters
    ----------
    path : str, path-like or binary file object
        The file.

    Returns
    -------
    model : jitmlp.MLPClassifier or jitmlp.MLPRegressor
        The model as it was saved: it predicts the same values and continues ``partial_fit``
        and ``warm_start`` fits exactly as the saved model would have.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a jitmlp model file, was written by a newer format version, is
        truncated or corrupt, or has missing or unknown arrays or keys, arrays of the wrong
        dtype or shape, or invalid parameters. The message names the problem.

    See Also
    --------
    save : write a model; its example loads one too.
    skops_trusted_types : loading with skops instead.
    """
    npz, where = _open(path)
    with npz:
        file = _File(npz, where)
        meta = _metadata(file)
        if meta.get("estimator") not in _ESTIMATORS:
            raise ValueError(f"{where}: unknown estimator {meta.get('estimator')!r}, expected "
                             f"one of {sorted(_ESTIMATORS)}")
        required = set(_BASE_KEYS)
        if meta.get("fitted") is True:
            required |= _FITTED_KEYS
            if meta.get("estimator") == "MLPClassifier":
                required |= _CLASSIFIER_KEYS
        _check_keys(where, "metadata keys", meta, required)
        if not isinstance(meta["fitted"], bool):
            raise ValueError(f"{where}: 'fitted' is {meta['fitted']!r}, expected a boolean")
        if meta["fitted"]:
            attributes = meta["attributes"]
            if not isinstance(attributes, dict):
                raise ValueError(f"{where}: attributes is {attributes!r}, expected an object")
            stochastic = _STOCHASTIC if set(_STOCHASTIC) & set(attributes) else {}
            _check_keys(where, "attribute(s)", attributes, {**_REQUIRED, **stochastic},
                        _OPTIONAL)
            n_layers = _decode_attribute("n_layers_", "int", attributes["n_layers_"])
            if n_layers > len(npz.files):  # 2 arrays a layer: checked below, name by name
                raise ValueError(f"{where}: n_layers_ = {n_layers}, but the file holds only "
                                 f"{len(npz.files)} members")
            for key in ("best_weights", "feature_names"):
                if not isinstance(meta[key], bool):
                    raise ValueError(f"{where}: {key!r} is {meta[key]!r}, expected a boolean")
        if not isinstance(meta["params"], dict):
            raise ValueError(f"{where}: params is {meta['params']!r}, expected an object")
        members = set(npz.files) - {_METADATA}
        _check_keys(where, "array(s)", members, _expected_arrays(meta))
        arrays = {name: file.read(name) for name in sorted(members)}
    return _build(meta, arrays, where)

