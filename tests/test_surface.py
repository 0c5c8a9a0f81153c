"""The rest of scikit-learn's MLP surface: lbfgs, early stopping, partial_fit, warm_start,
sample_weight, Poisson, sparse input, float32, verbose/warnings, persistence."""

import pickle
import subprocess
import sys
import warnings

import joblib
import numba
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.neural_network as sk
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import jitmlp
from jitmlp import MLPClassifier, MLPRegressor

from helpers import fit_pair
from helpers import weights_rel_diff as rel_diff

RTOL = 1e-6
RTOL_F32 = 1e-4  # float32: rounding differences of ~1e-7 per step grow over the epochs


def data(kind="multiclass", n=150, seed=0):
    if kind == "regression":
        X, y = make_regression(n, 6, noise=0.5, random_state=seed)
        return X, y / y.std()
    X, y = make_classification(n, 6, n_informative=4, n_classes=3 if kind == "multiclass" else 2,
                               random_state=seed)
    return X, y


# ---------------------------------------------------------------- lbfgs
@pytest.mark.parametrize("cls_name,kind", [("MLPClassifier", "multiclass"),
                                           ("MLPClassifier", "binary"),
                                           ("MLPRegressor", "regression")])
def test_lbfgs_same_model_as_sklearn(cls_name, kind):
    X, y = data(kind)
    ours, theirs = fit_pair(cls_name, X, y, solver="lbfgs", hidden_layer_sizes=(6,), max_iter=60,
                            random_state=0, activation="tanh")
    assert rel_diff(ours, theirs) < RTOL
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=RTOL)


def test_lbfgs_warns_when_stopping_short():
    X, y = data()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3 iteration"):
        MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)


def test_lbfgs_max_fun_limits_function_calls():
    X, y = data()
    with pytest.warns(ConvergenceWarning):
        ours = MLPClassifier(solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    assert ours.n_iter_ <= 5


# ---------------------------------------------------------------- early stopping
@pytest.mark.parametrize("cls_name,kind", [("MLPClassifier", "binary"),
                                           ("MLPRegressor", "regression")])
def test_early_stopping_same_as_sklearn(cls_name, kind):
    X, y = data(kind, n=300)
    ours, theirs = fit_pair(cls_name, X, y, early_stopping=True, hidden_layer_sizes=(8,),
                            max_iter=200, random_state=0, learning_rate_init=0.02,
                            n_iter_no_change=3)
    assert ours.n_iter_ == theirs.n_iter_ < 200
    assert rel_diff(ours, theirs) < RTOL
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=RTOL)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
    assert ours.best_loss_ is None


def test_early_stopping_restores_best_weights():
    X, y = data("binary", n=300)
    clf = MLPClassifier(early_stopping=True, hidden_layer_sizes=(8,), max_iter=200,
                        random_state=0, learning_rate_init=0.05, n_iter_no_change=3).fit(X, y)
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert best_epoch < clf.n_iter_ - 1  # the last epochs were worse ...
    again = MLPClassifier(hidden_layer_sizes=(8,), max_iter=best_epoch + 1, random_state=0,
                          learning_rate_init=0.05, early_stopping=True, n_iter_no_change=1000,
                          tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again.fit(X, y)
    # ... and the weights kept are those after the best epoch
    for a, b in zip(clf.coefs_, again.coefs_):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_split_is_stratified_for_multiclass():
    X, y = make_classification(400, 6, n_informative=4, n_classes=4, weights=[0.7, 0.1, 0.1, 0.1],
                               random_state=0)
    clf = MLPClassifier(early_stopping=True, validation_fraction=0.25, max_iter=1,
                        random_state=0)
    captured = {}
    original = clf._score

    def spy(X_val, y_val, sample_weight=None, **kwargs):
        captured["y_val"] = y_val
        return original(X_val, y_val, sample_weight, **kwargs)

    clf._score = spy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    expected = np.bincount(y) * 0.25
    np.testing.assert_allclose(np.bincount(captured["y_val"], minlength=4), expected, atol=1)


def test_early_stopping_rejects_tiny_validation_set():
    X, y = data("regression", n=10)  # 10% of 10 samples: a validation set of 1
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.1).fit(X, y)


def test_early_stopping_passes_sample_weight_to_the_split():
    X, y = data("regression", n=300)
    sw = np.random.default_rng(0).random(300) + 0.5
    ours, theirs = fit_pair("MLPRegressor", X, y, fit_kwargs={"sample_weight": sw},
                            early_stopping=True, hidden_layer_sizes=(8,), max_iter=20,
                            random_state=0)
    assert rel_diff(ours, theirs) < RTOL
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=RTOL)


# ---------------------------------------------------------------- partial_fit / warm_start
def test_partial_fit_same_as_sklearn():
    X, y = data()
    models = []
    for mod in (jitmlp, sk):
        clf = mod.MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
        for start in range(0, 150, 50):
            clf.partial_fit(X[start:start + 50], y[start:start + 50], classes=np.unique(y))
        models.append(clf)
    assert rel_diff(*models) < RTOL
    assert models[0].n_iter_ == models[1].n_iter_ and models[0].t_ == models[1].t_


def test_partial_fit_regressor_same_as_sklearn():
    X, y = data("regression")
    models = []
    for mod in (jitmlp, sk):
        reg = mod.MLPRegressor(hidden_layer_sizes=(8,), random_state=0, solver="sgd")
        for _ in range(3):
            reg.partial_fit(X, y)
        models.append(reg)
    assert rel_diff(*models) < RTOL


def test_partial_fit_needs_classes_and_rejects_unseen_labels():
    X, y = data()
    clf = MLPClassifier()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, np.where(y == 2, 7, y))


def test_partial_fit_not_available_for_lbfgs_and_rejects_early_stopping():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    X, y = data("regression")
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y)


def test_warm_start_same_as_sklearn_and_checks_classes():
    X, y = data()
    models = []
    for mod in (jitmlp, sk):
        clf = mod.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0,
                                warm_start=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y).fit(X, y)
        models.append(clf)
    assert rel_diff(*models) < RTOL
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        models[0].fit(X[y < 2], y[y < 2])


def test_continuing_a_fit_on_another_dtype_is_refused():
    X, y = data()
    clf = MLPClassifier(max_iter=2, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        with pytest.raises(ValueError, match="fitted on float64 data"):
            clf.fit(X.astype(np.float32), y)


# ---------------------------------------------------------------- sample_weight
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sample_weight_same_as_sklearn(solver):
    X, y = data()
    sw = np.random.default_rng(0).random(len(y)) * 3
    ours, theirs = fit_pair("MLPClassifier", X, y, fit_kwargs={"sample_weight": sw},
                            solver=solver, hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    assert rel_diff(ours, theirs) < RTOL


def test_integer_sample_weight_equals_repetition():
    X, y = data("regression", n=60)
    sw = np.random.default_rng(1).integers(0, 3, 60)
    kw = dict(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=30, random_state=0, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = MLPRegressor(**kw).fit(X, y, sample_weight=sw)
        repeated = MLPRegressor(**kw).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    assert rel_diff(weighted, repeated) < 1e-6


# ---------------------------------------------------------------- Poisson
def test_poisson_same_as_sklearn():
    X, _ = data("regression")
    y = np.random.default_rng(0).poisson(np.exp(X[:, 0] / 3))
    ours, theirs = fit_pair("MLPRegressor", X, y, loss="poisson", hidden_layer_sizes=(8,),
                            max_iter=10, random_state=0)
    assert ours.out_activation_ == "exp"
    assert rel_diff(ours, theirs) < RTOL
    assert (ours.predict(X) > 0).all()


@pytest.mark.parametrize("y_bad", [[-1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
def test_poisson_rejects_invalid_targets(y_bad):
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match="out of the valid range of the loss 'poisson'"):
        MLPRegressor(loss="poisson").fit(X, y_bad)


# ---------------------------------------------------------------- sparse
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sparse_input_same_model_as_dense_and_sklearn(fmt, solver):
    X, y = data(n=200)
    X[np.abs(X) < 0.8] = 0.0
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    kw = dict(solver=solver, hidden_layer_sizes=(9,), max_iter=8, random_state=0)
    ours, theirs = fit_pair("MLPClassifier", Xs, y, **kw)
    dense, _ = fit_pair("MLPClassifier", X, y, **kw)
    assert rel_diff(ours, theirs) < RTOL
    assert rel_diff(ours, dense) < 1e-12
    np.testing.assert_allclose(ours.predict_proba(Xs), dense.predict_proba(X), rtol=1e-12)


def test_sparse_input_same_as_dense_when_the_batch_runs_row_parallel():
    """A batch this large runs as one chunk whose sparse first layer splits rows/columns over
    threads (see _epoch.regime_of); it must still give the dense model."""
    rng = np.random.default_rng(0)
    X = np.where(rng.random((400, 300)) < 0.1, rng.normal(size=(400, 300)), 0.0)
    y = rng.integers(0, 3, 400)
    kw = dict(hidden_layer_sizes=(256,), max_iter=2, random_state=0, batch_size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sparse = MLPClassifier(**kw).fit(sp.csr_matrix(X), y)
        dense = MLPClassifier(**kw).fit(X, y)
    assert rel_diff(sparse, dense) < 1e-12


def test_sparse_input_is_never_densified(monkeypatch):
    X, y = data(n=100)
    Xs = sp.csr_matrix(np.where(np.abs(X) < 0.8, 0.0, X))

    def refuse(*args, **kwargs):
        raise AssertionError("sparse input was densified")

    monkeypatch.setattr(sp.csr_matrix, "toarray", refuse)
    monkeypatch.setattr(sp.csr_matrix, "todense", refuse)
    clf = MLPClassifier(max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xs, y)
    assert clf.predict(Xs).shape == (100,)


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("cls_name,kind", [("MLPClassifier", "multiclass"),
                                           ("MLPRegressor", "regression")])
def test_float32_trains_in_float32_close_to_sklearn(cls_name, kind):
    X, y = data(kind)
    X32 = X.astype(np.float32)
    ours, theirs = fit_pair(cls_name, X32, y.astype(np.float32) if kind == "regression" else y,
                            hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    assert all(c.dtype == np.float32 for c in ours.coefs_ + ours.intercepts_)
    assert rel_diff(ours, theirs) < RTOL_F32
    assert ours.predict(X32).dtype == (np.float32 if kind == "regression" else y.dtype)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, bool])
def test_other_numeric_input_trains_in_float64(dtype):
    X, y = data()
    Xc = (X * 3).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(max_iter=2, random_state=0).fit(Xc, y)
    assert clf.coefs_[0].dtype == np.float64


def test_float32_kernels_do_no_float64_arithmetic():
    """The float32 specializations of the hot loops contain no double-precision arithmetic.

    Each kernel is recompiled uncached (cached code cannot be inspected) for float32 arrays and
    its LLVM IR, which includes the inlined callees, is searched for double arithmetic.
    """
    from numba import types as nt

    from jitmlp import _activations, _layers, _optimizers, _outputs, _sparse

    f32, i64, boolean = nt.float32, nt.int64, nt.boolean
    A1, A2, I1 = nt.Array(f32, 1, "C"), nt.Array(f32, 2, "C"), nt.Array(i64, 1, "C")
    cases = [
        *[(g, (A2, A1, A2, i64, i64)) for g, _ in _activations.KERNELS.values()],
        *[(g_prime, (A2, A2, A2, i64, i64)) for _, g_prime in _activations.KERNELS.values()],
        (_optimizers.adam_span, (A1, A1, A1, A1, f32, f32, f32, f32, i64, i64)),
        (_optimizers.sgd_span, (A1, A1, A1, f32, f32, boolean, i64, i64)),
        (_sparse.csr_matmul_rows, (A1, I1, I1, I1, A2, A2, i64, i64)),
        *[(bias_O, (A2, A1)) for bias_O, _ in _outputs.KERNELS.values()],
        (_layers.matmul_serial, (A2, A2, A2)),
        (_layers.matmul, (A2, A2, A2)),
        (_layers.matmul_tn, (A2, A2, A2)),
    ]
    for kernel, sig in cases:
        options = {k: v for k, v in kernel.targetoptions.items() if k not in ("cache", "nopython")}
        fresh = numba.njit(**options)(kernel.py_func)
        fresh.compile(sig)
        ir = fresh.inspect_llvm(sig)
        for op in ("fadd double", "fmul double", "fsub double", "fdiv double", "fpext float"):
            assert op not in ir, f"{kernel.__name__}{sig} contains '{op}'"


# ---------------------------------------------------------------- verbose, warnings, divergence
def test_verbose_prints_like_sklearn(capsys):
    X, y = data("binary", n=300)
    kw = dict(early_stopping=True, hidden_layer_sizes=(8,), max_iter=200, random_state=0,
              learning_rate_init=0.02, n_iter_no_change=3, verbose=True)
    MLPClassifier(**kw).fit(X, y)
    ours = capsys.readouterr().out
    sk.MLPClassifier(**kw).fit(X, y)
    theirs = capsys.readouterr().out
    assert "Iteration 1, loss = " in ours and "Validation score: " in ours
    assert "Validation score did not improve more than tol" in ours
    assert ours == theirs


def test_convergence_warning_text_like_sklearn():
    X, y = data()
    with pytest.warns(ConvergenceWarning, match=r"Stochastic Optimizer: Maximum iterations \(2\) "
                      r"reached and the optimization hasn't converged yet."):
        MLPClassifier(max_iter=2).fit(X, y)


def test_diverging_fit_raises_non_finite_error():
    X, y = data("regression")
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPRegressor(solver="sgd", learning_rate_init=1e6, max_iter=5).fit(X * 1e10, y)


# ---------------------------------------------------------------- persistence
@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_round_trip_gives_identical_predictions(tmp_path, dump):
    X, y = data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    path = tmp_path / "model.bin"
    if dump == "pickle":
        path.write_bytes(pickle.dumps(clf))
        loaded = pickle.loads(path.read_bytes())
    else:
        joblib.dump(clf, path)
        loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # the optimizer state travels too: one more partial_fit gives the same weights
    clf.partial_fit(X, y)
    loaded.partial_fit(X, y)
    for a, b in zip(clf.coefs_, loaded.coefs_):
        np.testing.assert_array_equal(a, b)


def test_fitted_model_loads_in_fresh_process_without_recompiling(tmp_path):
    X, y = data()
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.predict(X)  # compiles (or loads) predict's kernel and writes numba's cache
    joblib.dump((clf, X, clf.predict_proba(X)), tmp_path / "m.joblib")
    code = (
        "import sys, joblib, numpy as np\n"
        f"clf, X, expected = joblib.load({str(tmp_path / 'm.joblib')!r})\n"
        "np.testing.assert_array_equal(clf.predict_proba(X), expected)\n"
        "from jitmlp._predict import predict_forward\n"
        "stats = predict_forward.stats\n"
        "print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    hits, misses = map(int, out.stdout.split()[-2:])
    assert (hits, misses) == (1, 0)
