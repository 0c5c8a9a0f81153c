"""The workload suite of jitmlp, defined once.

Shared by the asv benchmarks in this package and by ``scripts/compare.py`` (which puts the
``benchmarks/`` folder on ``sys.path`` and imports ``benchmarks.workloads``). The definitions
follow the project's WORKLOADS.md:

========================  ============  =========  ======  =====  ======  =======  ==============
name                      data          hidden     act.    batch  epochs  dtype    task
========================  ============  =========  ======  =====  ======  =======  ==============
digits                    digits / 16   (100,)     relu    200    50      float64  classification
mnist-shape-f64           mnist-shape   (100,)     relu    200    2       float64  classification
mnist-shape-f32           mnist-shape   (100,)     relu    200    2       float32  classification
wide-f32                  mnist[:20000] (512,256)  relu    256    1       float32  classification
tiny-batch                tiny          (32,)      tanh    32     5       float64  classification
regression                regression    (256,256)  tanh    200    3       float64  3-output regr.
========================  ============  =========  ======  =====  ======  =======  ==============

and the large layers, weight matrices of 3 to 32 MiB (past L2, which the products block for):

========================  =============  ===========  ====  =====  ======  =======  ==============
name                      data           hidden       act.  batch  epochs  dtype    task
========================  =============  ===========  ====  =====  ======  =======  ==============
large-f64                 mnist[:10000]  (1024,1024)  relu  200    1       float64  classification
large-f32                 mnist[:10000]  (1024,1024)  relu  200    1       float32  classification
large-2048-f32            mnist[:5000]   (2048,2048)  relu  200    1       float32  classification
large-4096-f64            mnist[:10000]  (4096,)      relu  200    1       float64  classification
========================  =============  ===========  ====  =====  ======  =======  ==============

Every workload uses ``solver="adam"``, ``alpha=1e-4``, ``learning_rate_init=1e-3``,
``shuffle=True``, ``random_state=0``, ``tol=0.0`` and a huge ``n_iter_no_change`` so that every
library runs exactly ``max_iter = epochs`` epochs.

Plus one prediction workload, ``predict-wide``: ``predict_proba`` of 100,000 x 784 float32 rows
through a (512, 256) relu network fitted briefly (1 epoch on 2,000 rows).

Nothing in this module may be named ``time_*``, ``track_*``, ``peakmem_*`` or ``mem_*``: asv would
take it for a benchmark.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Root of the repository (the folder holding ``jitmlp/``, ``benchmarks/``, ``scripts/``).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Where :func:`load_data` keeps generated data on disk when asked to (asv runs every benchmark
#: in a fresh process; generating the 60,000 x 784 data set takes ~4 s each time).
DATA_CACHE_DIR = Path(
    os.environ.get("JITMLP_BENCH_DATA_CACHE", REPO_ROOT / "benchmarks" / ".asv" / "data")
)

#: Estimator parameters shared by every workload (and by the PyTorch loop of compare.py).
COMMON_PARAMS: dict = dict(
    solver="adam",
    alpha=1e-4,
    learning_rate_init=1e-3,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    shuffle=True,
    random_state=0,
    tol=0.0,
    n_iter_no_change=10**9,
    early_stopping=False,
)

LIBRARIES = ("jitmlp", "sklearn")


@dataclass(frozen=True)
class Workload:
    """One training workload of the suite."""

    name: str
    data: str  # key of DATASETS
    hidden_layer_sizes: tuple[int, ...]
    activation: str
    batch_size: int
    epochs: int
    dtype: type
    task: str  # "classification" or "regression"
    description: str = ""

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"

    def estimator_params(self, epochs: int | None = None) -> dict:
        """Constructor keyword arguments common to jitmlp and scikit-learn."""
        return dict(
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            batch_size=self.batch_size,
            max_iter=self.epochs if epochs is None else epochs,
            **COMMON_PARAMS,
        )


@dataclass(frozen=True)
class PredictWorkload:
    """The prediction throughput workload: predict_proba on many rows through a wide network."""

    name: str = "predict-wide"
    hidden_layer_sizes: tuple[int, ...] = (512, 256)
    activation: str = "relu"
    n_rows: int = 100_000
    n_features: int = 784
    n_classes: int = 10
    fit_rows: int = 2_000
    fit_epochs: int = 1
    batch_size: int = 200
    dtype: type = np.float32
    task: str = "classification"
    description: str = (
        "predict_proba on 100,000 x 784 float32 rows, (512, 256) relu network fitted for 1 epoch "
        "on 2,000 rows"
    )

    is_classifier = True

    def estimator_params(self) -> dict:
        return dict(
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            batch_size=self.batch_size,
            max_iter=self.fit_epochs,
            **COMMON_PARAMS,
        )


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload("digits", "digits", (100,), "relu", 200, 50, np.float64, "classification",
                 "load_digits(), X/16 (1797 x 64, 10 classes)"),
        Workload("mnist-shape-f64", "mnist-shape", (100,), "relu", 200, 2, np.float64,
                 "classification",
                 "make_classification(60000, 784, n_informative=60, n_classes=10, random_state=0)"),
        Workload("mnist-shape-f32", "mnist-shape", (100,), "relu", 200, 2, np.float32,
                 "classification", "the mnist-shape data as float32"),
        Workload("wide-f32", "mnist-shape-20k", (512, 256), "relu", 256, 1, np.float32,
                 "classification", "first 20000 rows of the mnist-shape data, float32"),
        Workload("tiny-batch", "tiny", (32,), "tanh", 32, 5, np.float64, "classification",
                 "make_classification(20000, 20, n_informative=10, n_classes=4, random_state=0)"),
        Workload("regression", "regression", (256, 256), "tanh", 200, 3, np.float64,
                 "regression",
                 "make_regression(20000, 100, n_targets=3, noise=1.0, random_state=0), "
                 "each target divided by its std"),
        Workload("large-f64", "mnist-shape-10k", (1024, 1024), "relu", 200, 1, np.float64,
                 "classification", "first 10000 rows of the mnist-shape data"),
        Workload("large-f32", "mnist-shape-10k", (1024, 1024), "relu", 200, 1, np.float32,
                 "classification", "first 10000 rows of the mnist-shape data, float32"),
        Workload("large-2048-f32", "mnist-shape-5k", (2048, 2048), "relu", 200, 1, np.float32,
                 "classification", "first 5000 rows of the mnist-shape data, float32"),
        Workload("large-4096-f64", "mnist-shape-10k", (4096,), "relu", 200, 1, np.float64,
                 "classification", "first 10000 rows of the mnist-shape data"),
    ]
}

PREDICT_WIDE = PredictWorkload()

#: All workload names, training workloads first, in the order of WORKLOADS.md.
ALL_NAMES: tuple[str, ...] = (*WORKLOADS, PREDICT_WIDE.name)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _mnist_shape():
    from sklearn.datasets import make_classification

    return make_classification(60000, 784, n_informative=60, n_classes=10, random_state=0)


def _tiny():
    from sklearn.datasets import make_classification

    return make_classification(20000, 20, n_informative=10, n_classes=4, random_state=0)


def _regression():
    from sklearn.datasets import make_regression

    X, y = make_regression(20000, 100, n_targets=3, noise=1.0, random_state=0)
    return X, y / y.std(axis=0)


def _predict_fit():
    from sklearn.datasets import make_classification

    w = PREDICT_WIDE
    return make_classification(w.fit_rows, w.n_features, n_informative=60,
                               n_classes=w.n_classes, random_state=0)


def _predict_rows():
    w = PREDICT_WIDE
    X = np.random.default_rng(0).standard_normal((w.n_rows, w.n_features), dtype=np.float32)
    return X, None


_GENERATORS = {
    "digits": _digits,
    "mnist-shape": _mnist_shape,
    "tiny": _tiny,
    "regression": _regression,
    "predict-fit": _predict_fit,
    "predict-rows": _predict_rows,
}


def _cache_key(name: str) -> str:
    import sklearn

    # make_* output may change with the versions that generate it
    src = f"{name}|numpy={np.__version__}|sklearn={sklearn.__version__}|v1"
    return f"{name}-{hashlib.sha1(src.encode()).hexdigest()[:12]}"


@functools.cache
def _base_data(name: str, disk_cache: bool):
    if name.startswith("mnist-shape-") and name.endswith("k"):  # the first rows, in thousands
        n = 1000 * int(name[len("mnist-shape-"):-1])
        X, y = _base_data("mnist-shape", disk_cache)
        return X[:n], y[:n]
    if not disk_cache:
        return _GENERATORS[name]()
    key = _cache_key(name)
    fx, fy = DATA_CACHE_DIR / f"{key}-X.npy", DATA_CACHE_DIR / f"{key}-y.npy"
    try:
        X = np.load(fx)
        y = np.load(fy) if fy.exists() else None
        return X, y
    except (OSError, ValueError):
        pass
    X, y = _GENERATORS[name]()
    try:
        DATA_CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for arr, f in ((X, fx), (y, fy)):
            if arr is not None:
                tmp = f.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, arr)
                os.replace(tmp, f)
    except OSError:
        pass  # a read-only checkout: just don't cache
    return X, y


@functools.cache
def load_data(name: str, disk_cache: bool = False):
    """``(X, y)`` of a training workload, in the workload's dtype (C-contiguous, cached).

    ``disk_cache=True`` also keeps the generated arrays as ``.npy`` files in
    :data:`DATA_CACHE_DIR` (used by the asv suite, which starts a process per benchmark).
    """
    w = WORKLOADS[name]
    X, y = _base_data(w.data, disk_cache)
    X = np.ascontiguousarray(X, dtype=w.dtype)
    if not w.is_classifier:
        y = np.ascontiguousarray(y, dtype=w.dtype)
    return X, y


@functools.cache
def load_predict_data(disk_cache: bool = False):
    """``(X_fit, y_fit, X_rows)`` of the ``predict-wide`` workload, all float32."""
    w = PREDICT_WIDE
    X_fit, y_fit = _base_data("predict-fit", disk_cache)
    X_rows, _ = _base_data("predict-rows", disk_cache)
    return (np.ascontiguousarray(X_fit, dtype=w.dtype), y_fit,
            np.ascontiguousarray(X_rows, dtype=w.dtype))


# --------------------------------------------------------------------------------------------
# estimators
# --------------------------------------------------------------------------------------------

def import_jitmlp():
    """Import jitmlp; when it is not installed, fall back to the repository's working tree.

    The fallback is skipped inside an environment that asv built for one commit (there the
    installed jitmlp *is* the one to benchmark). Raises ImportError when jitmlp is unavailable.
    """
    try:
        import jitmlp
    except ImportError:
        if os.environ.get("ASV_ENV_TYPE", "existing") != "existing":
            raise
        root = str(REPO_ROOT)
        if root not in sys.path:
            sys.path.insert(0, root)
        import jitmlp
    # a package that imports but is not finished yet counts as unavailable
    for attr in ("MLPClassifier", "MLPRegressor"):
        if not hasattr(jitmlp, attr):
            raise ImportError(f"jitmlp has no {attr} yet")
    return jitmlp


def estimator_class(library: str, task: str):
    """The MLPClassifier/MLPRegressor class of ``library`` ("jitmlp" or "sklearn")."""
    if library == "sklearn":
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    elif library == "jitmlp":
        mod = import_jitmlp()
        MLPClassifier, MLPRegressor = mod.MLPClassifier, mod.MLPRegressor
    else:
        raise ValueError(f"unknown library {library!r}")
    return MLPClassifier if task == "classification" else MLPRegressor


def make_estimator(library: str, workload, *, epochs: int | None = None, n_jobs=None):
    """An unfitted estimator of ``library`` for ``workload`` (jitmlp gets ``n_jobs``)."""
    if isinstance(workload, str):
        workload = WORKLOADS[workload]
    params = (workload.estimator_params() if isinstance(workload, PredictWorkload)
              else workload.estimator_params(epochs))
    if library == "jitmlp":
        params["n_jobs"] = n_jobs
    return estimator_class(library, workload.task)(**params)


def _convergence_warning_classes():
    classes = []
    try:
        from sklearn.exceptions import ConvergenceWarning
        classes.append(ConvergenceWarning)
    except ImportError:  # pragma: no cover
        pass
    mod = sys.modules.get("jitmlp")
    for name in ("ConvergenceWarning",):
        cls = getattr(mod, name, None) if mod is not None else None
        if isinstance(cls, type) and issubclass(cls, Warning):
            classes.append(cls)
    return tuple(classes)


def fit_quietly(estimator, X, y):
    """``estimator.fit(X, y)`` with ConvergenceWarning silenced (max_iter is reached on purpose)."""
    with warnings.catch_warnings():
        for cls in _convergence_warning_classes():
            warnings.simplefilter("ignore", cls)
        return estimator.fit(X, y)


# --------------------------------------------------------------------------------------------
# yardsticks
# --------------------------------------------------------------------------------------------

def n_outputs(workload, y) -> int:
    """Width of the output layer (as scikit-learn builds it)."""
    if workload.is_classifier:
        k = len(np.unique(y))
        return 1 if k == 2 else k
    return 1 if y.ndim == 1 else y.shape[1]


def layer_shapes(n_features: int, hidden: tuple[int, ...], n_out: int) -> list[tuple[int, int]]:
    """Shapes ``(fan_in, fan_out)`` of every weight matrix W_1 .. W_L."""
    sizes = [n_features, *hidden, n_out]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def workload_shapes(workload, X, y) -> list[tuple[int, int]]:
    return layer_shapes(X.shape[1], workload.hidden_layer_sizes, n_outputs(workload, y))


def train_flops_per_sample(shapes) -> int:
    """FLOPs of one training pass per sample: 6 x sum(|W_k|) - 2 x |W_1|.

    Forward 2, weight gradient 2 and gradient to the layer below 2 per weight; no gradient below
    the first layer. Biases and activations are not counted.
    """
    return 6 * sum(a * b for a, b in shapes) - 2 * shapes[0][0] * shapes[0][1]


def predict_flops_per_sample(shapes) -> int:
    """FLOPs of one forward pass per sample: 2 x sum(|W_k|)."""
    return 2 * sum(a * b for a, b in shapes)
