"""Threads: results independent of the thread count; n_jobs sets and restores numba's threads."""

import io
import os
import subprocess
import sys
import warnings
from contextlib import redirect_stdout

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import jitmlp._estimators as estimators
from jitmlp import MLPClassifier, MLPRegressor

FIT_AND_HASH = """
import hashlib, sys, warnings
import numpy as np, scipy.sparse as sp
from sklearn.datasets import make_classification
from jitmlp import MLPClassifier, MLPRegressor
warnings.simplefilter("ignore")
X, y = make_classification(1200, 120, n_informative=30, n_classes=5, random_state=0)


def fits(dtype):
    Xd = X.astype(dtype)
    return [
        (MLPClassifier((160, 96), max_iter=3, random_state=0, batch_size=300), Xd, y),
        (MLPClassifier((512, 256), max_iter=1, random_state=0, batch_size=256), Xd, y),
        (MLPClassifier((64,), activation="tanh", solver="sgd", max_iter=2, random_state=1),
         Xd, y),
        (MLPRegressor(hidden_layer_sizes=(128,), max_iter=2, random_state=0),
         Xd, X[:, :3].astype(dtype)),
        (MLPClassifier((100,), max_iter=2, random_state=0),
         sp.csr_matrix(np.where(np.abs(Xd) > 1, Xd, 0)), y),
        (MLPClassifier((8,), activation="tanh", max_iter=2, random_state=0, batch_size=32),
         Xd[:, :10], y),
        # gradient clipping (its norm summed over blocks) and weight decay, parallel update
        (MLPClassifier((160, 96), max_iter=2, random_state=0, batch_size=300, max_grad_norm=0.05,
                       weight_decay=0.01, lr_schedule="cosine"), Xd, y),
        (MLPClassifier((64,), activation="tanh", solver="sgd", max_iter=2, random_state=1,
                       max_grad_norm=0.05, weight_decay=1e-3), Xd, y),
        # dropout: masks keyed by sample, the same in row chunks run on either thread
        (MLPClassifier((160, 96), max_iter=1, random_state=0, batch_size=300,
                       dropout=(0.2, 0.5)), Xd, y),
        # issue 14's activations, one per layer: row chunks, and rows split over the threads
        (MLPClassifier((160, 96), activation=("gelu", "silu"), max_iter=2, random_state=0,
                       batch_size=300), Xd, y),
        (MLPClassifier((512, 256), activation=("elu", "softplus"), max_iter=1, random_state=0,
                       batch_size=256), Xd, y),
    ]


for n_jobs in N_JOBS:  # numba threads of each fit (None: all of them), given before this script
    digest = hashlib.sha256()
    for dtype in (np.float64, np.float32):
        for model, Xf, target in fits(dtype):
            model.set_params(n_jobs=n_jobs).fit(Xf, target)
            for w in model.coefs_ + model.intercepts_:
                digest.update(np.ascontiguousarray(w).tobytes())
            digest.update(np.ascontiguousarray(model.predict(Xf[:500])).tobytes())
    print(n_jobs, digest.hexdigest())
"""


THREAD_COUNTS = (1, 2, 3, 8, 16)


def _hashes_at_thread_counts(directory, popen):
    """The hash of FIT_AND_HASH at each thread count (more threads than cores is fine: the
    schedule hands out more units, the sums keep their order), in two fresh processes: one
    with a pool of one thread, then one with a pool of 16 whose fits ask for 2, 3, 8 and 16
    threads in turn (``n_jobs``; one process for four counts saves three imports and cache
    loads of the suite's CPU). The first alone: on a cold cache it compiles what the other
    then loads. Started beside the other tests (tests/conftest.py, ``background``)."""
    hashes = {}
    for pool, counts in ((1, THREAD_COUNTS[:1]), (16, THREAD_COUNTS[1:])):
        process = popen([sys.executable, "-c", f"N_JOBS = {list(counts)}\n" + FIT_AND_HASH],
                        text=True, env={**os.environ, "NUMBA_NUM_THREADS": str(pool)},
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"fits with a pool of {pool} threads failed:\n{err}")
        for line in out.strip().splitlines()[-len(counts):]:
            threads, digest = line.split()
            hashes[int(threads)] = digest
    return hashes


def _run_here():
    """The same fits in this process (all of numba's threads), which has run other tests."""
    with redirect_stdout(io.StringIO()) as printed, warnings.catch_warnings():
        exec("N_JOBS = [None]\n" + FIT_AND_HASH, {})
    return printed.getvalue().strip().splitlines()[-1].split()[1]


@pytest.mark.background(start=_hashes_at_thread_counts)
def test_bit_identical_weights_for_any_thread_count_and_between_runs(request):
    # the same fits in this process, while the fresh processes (1 thread; then 2, 3, 8 and 16)
    # may still run; then their hashes (the fixture waits for them)
    here = _run_here()
    hashes = request.getfixturevalue("background_run")
    assert sorted(hashes) == list(THREAD_COUNTS)
    assert len(hashes[1]) == 64
    assert set(hashes.values()) == {here}, hashes


def test_hashed_fits_cover_every_way_of_running_a_batch():
    """The fits above include batches run as row groups side by side (each group's rows,
    then its weight gradients, on one thread: 1 and 2 threads; on 2, each group's thread with
    its own copy of W_kᵀ), as units of rows side by side
    then blocks of the weight gradients (3 threads and more), batches run as one pass whose
    layer products split their rows over the threads, and batches too small for threads, run
    on the calling thread; all but the last on more than one unit where there are threads."""
    from jitmlp._config import MIN_UNIT_ROWS
    from jitmlp._epoch import ROWS_PARALLEL, SERIAL, UNITS, regime_of, schedule

    assert regime_of(300, np.array([120, 160, 96, 5])) == UNITS
    assert regime_of(256, np.array([120, 512, 256, 5])) == ROWS_PARALLEL
    assert regime_of(200, np.array([120, 64, 5])) == UNITS
    assert regime_of(32, np.array([10, 8, 5])) == SERIAL
    for threads in (1, 2, 3, 8, 16):
        for nb, units, sparse in ((300, [120, 160, 96, 5], False), (100, [120, 100, 5], True)):
            row_units, grad_blocks = schedule(nb, np.array(units), threads, sparse)
            if threads <= 2:  # the two row groups, each whole on a thread
                assert (row_units, grad_blocks) == (2, 0)
            else:
                assert row_units >= min(threads, 2 * (nb // 2 // MIN_UNIT_ROWS))
                assert grad_blocks >= threads


@pytest.fixture
def threads_seen(monkeypatch):
    """numba's thread count at each compiled-epoch call of the fits in the test."""
    seen = []
    original = estimators.run_epoch

    def spy(*args):
        seen.append(numba.get_num_threads())
        return original(*args)

    monkeypatch.setattr(estimators, "run_epoch", spy)
    return seen


def test_n_jobs_sets_threads_during_fit_and_restores_them(threads_seen):
    seen = threads_seen
    before = numba.get_num_threads()
    X = np.random.default_rng(0).normal(size=(50, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPRegressor(max_iter=2, n_jobs=1).fit(X, X[:, 0])
    assert seen == [1, 1]
    assert numba.get_num_threads() == before


def test_threads_restored_when_fit_fails(monkeypatch):
    def boom(*args):
        assert numba.get_num_threads() == 1
        raise RuntimeError("kernel failed")

    monkeypatch.setattr(estimators, "run_epoch", boom)
    before = numba.get_num_threads()
    X = np.random.default_rng(0).normal(size=(50, 4))
    with pytest.raises(RuntimeError, match="kernel failed"):
        MLPRegressor(n_jobs=1).fit(X, X[:, 0])
    assert numba.get_num_threads() == before


def test_n_jobs_none_means_all_of_numbas_threads_and_negative_counts_back(threads_seen):
    seen = threads_seen
    X = np.random.default_rng(0).normal(size=(50, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPRegressor(max_iter=1).fit(X, X[:, 0])
        MLPRegressor(max_iter=1, n_jobs=-1).fit(X, X[:, 0])
    assert seen == [numba.config.NUMBA_NUM_THREADS] * 2


def _numba_threads_in_worker():
    return numba.config.NUMBA_NUM_THREADS


def test_grid_search_workers_do_not_oversubscribe():
    """joblib's process workers get NUMBA_NUM_THREADS = cores // n_jobs; n_jobs=None honours it."""
    from joblib import Parallel, delayed

    in_workers = Parallel(n_jobs=2)(delayed(_numba_threads_in_worker)() for _ in range(2))
    cores = os.cpu_count() or 1
    assert in_workers == [max(1, cores // 2)] * 2
    X = np.random.default_rng(0).normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    grid = GridSearchCV(MLPClassifier(max_iter=5), {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
