"""Fork safety and thread safety: numba's threading layer as jitmlp chooses it (see _config).

A process that forked after a fit or predict (multiprocessing "fork" pools, pre-fork servers,
DataLoader workers) keeps working, and so do its children, which predict exactly as the parent
does. Fits in several Python threads at once give the model a fit alone gives. No wall-clock
assertions: a hang fails by a timeout instead of blocking.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import threading
import warnings

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from jitmlp import MLPClassifier, MLPRegressor

TIMEOUT = 240  # seconds for a whole subprocess (it loads its kernels from the cache)


def _run(code, env=None):
    """Run ``code`` in a fresh interpreter of its own process group; kill the group on timeout."""
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"timed out after {TIMEOUT} s (a hang)\nstdout:\n{out}\nstderr:\n{err[-3000:]}")
    assert proc.returncode == 0, (proc.returncode, out, err[-3000:])
    return out


FORK_AFTER_FIT_AND_PREDICT = """
import multiprocessing as mp, warnings
import numpy as np
from sklearn.datasets import make_classification
from jitmlp import MLPClassifier
warnings.simplefilter("ignore")
# batches of 200 rows run as two chunks side by side, and predicting 2,400 rows of 64 features
# through 128 units runs its layer products on all threads: both use numba's thread pool
X, y = make_classification(2400, 64, n_informative=20, n_classes=4, random_state=0)
model = MLPClassifier((128,), max_iter=3, random_state=0, batch_size=200).fit(X, y)

def child_predicts(part):
    return model.predict_proba(X[part::2])

def child_fits(seed):
    m = MLPClassifier((128,), max_iter=2, random_state=seed, batch_size=200).fit(X, y)
    return np.concatenate([w.ravel() for w in m.coefs_ + m.intercepts_])

def forked_pool(func, args):
    with mp.get_context("fork").Pool(2) as pool:
        return pool.map_async(func, args).get(timeout=120)

# 1: fork right after a fit; the children predict and fit
after_fit = forked_pool(child_predicts, range(2))
fitted_in_children = forked_pool(child_fits, [1, 2])
# 2: the parent predicts (its thread pool in use again), then forks once more
proba = model.predict_proba(X)
after_predict = forked_pool(child_predicts, range(2))
for part in range(2):
    assert np.array_equal(after_fit[part], proba[part::2]), "child after fit"
    assert np.array_equal(after_predict[part], proba[part::2]), "child after predict"
# the parent still fits, and as the children did
for seed, theirs in zip([1, 2], fitted_in_children):
    m = MLPClassifier((128,), max_iter=2, random_state=seed, batch_size=200).fit(X, y)
    assert np.array_equal(np.concatenate([w.ravel() for w in m.coefs_ + m.intercepts_]), theirs)
print("ok")
"""


def test_fork_after_fit_and_predict_children_predict_and_fit():
    assert _run(FORK_AFTER_FIT_AND_PREDICT).strip().splitlines()[-1] == "ok"


def _tbb_installed():
    try:
        importlib.metadata.distribution("tbb")
        return sys.platform.startswith("linux")
    except importlib.metadata.PackageNotFoundError:
        return False


LAYER_AFTER_FIT = """
import warnings, numba, numpy as np
from jitmlp import MLPRegressor
warnings.simplefilter("ignore")
X = np.random.default_rng(0).normal(size=(400, 8))
MLPRegressor(hidden_layer_sizes=(16,), max_iter=1).fit(X, X[:, 0])
print(numba.threading_layer())
"""


@pytest.mark.skipif(not _tbb_installed(), reason="the tbb wheel is a dependency on Linux x86-64")
def test_tbb_is_the_layer_where_the_wheel_is_installed():
    clean = {k: v for k, v in os.environ.items()
             if k not in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY")}
    out = subprocess.run([sys.executable, "-c", LAYER_AFTER_FIT], env=clean, capture_output=True,
                         text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "tbb"


def test_a_layer_the_user_chose_is_kept():
    out = _run(LAYER_AFTER_FIT, env={"NUMBA_THREADING_LAYER": "workqueue"})
    assert out.strip().splitlines()[-1] == "workqueue"


def _weights(model):
    return [w.copy() for w in model.coefs_ + model.intercepts_]


def test_concurrent_fits_from_threads_are_correct_and_identical_to_serial_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 64))
    y = (X[:, :4] @ rng.normal(size=4) > 0).astype(int) + (X[:, 4] > 1)
    Xw = rng.normal(size=(600, 96)).astype(np.float32)

    def make(i):
        if i % 2:  # batches of 256 x (96, 256, 128, 2): one chunk, row-parallel products
            model = MLPRegressor(hidden_layer_sizes=(256, 128), max_iter=2, random_state=i,
                                 batch_size=256)
            return model, Xw, Xw[:, :2]
        # batches of 200 x (64, 100, 3): two chunks side by side
        return MLPClassifier((100,), max_iter=3, random_state=i, batch_size=200), X, y

    def fit_and_predict(i):
        model, data, target = make(i)
        model.fit(data, target)
        return _weights(model), model.predict(data)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = [fit_and_predict(i) for i in range(4)]
        results = [None] * 4
        errors = []

        def work(i):
            try:
                for _ in range(2):
                    results[i] = fit_and_predict(i)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads), "concurrent fits hang"
    assert not errors, errors
    for (weights, predicted), (serial_weights, serial_predicted) in zip(results, serial):
        assert all(np.array_equal(a, b) for a, b in zip(weights, serial_weights))
        assert np.array_equal(predicted, serial_predicted)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
