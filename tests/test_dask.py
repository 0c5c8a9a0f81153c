"""Scaling out with Dask: a grid search on a distributed cluster, dask-ml's ``Incremental``,
and the threads a fit uses in a Dask worker (``jitmlp/_threads.py``)."""

import contextlib
import logging
import os
import sys
import types
import warnings

import numba
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import jitmlp._estimators as estimators
import jitmlp._threads as threads
from jitmlp import MLPClassifier, MLPRegressor

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
Incremental = pytest.importorskip("dask_ml.wrappers").Incremental
cloudpickle = pytest.importorskip("cloudpickle")

# the tasks below are functions of this file: sent by value, the workers need not import it
cloudpickle.register_pickle_by_value(sys.modules[__name__])

CORES = numba.config.NUMBA_DEFAULT_NUM_THREADS
rule_applies = pytest.mark.skipif(
    "NUMBA_NUM_THREADS" in os.environ,
    reason="NUMBA_NUM_THREADS is set: every fit takes that many threads, Dask worker or not")
quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = np.argmax(X[:, :3] + 0.3 * rng.normal(size=(n, 3)), axis=1)
    return X, y


@contextlib.contextmanager
def _cluster(**kwargs):
    """A LocalCluster; this process's environment as it was, afterwards: Dask's nannies set their
    ``pre-spawn-environ`` (``OMP_NUM_THREADS=1``...) in the process that starts them, for good."""
    environ = dict(os.environ)
    try:
        with distributed.LocalCluster(dashboard_address=":0", silence_logs=logging.ERROR,
                                      **kwargs) as cluster:
            yield cluster
    finally:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture(scope="module")
def client():
    """2 worker processes x 1 thread, the workers loading kernels that this process compiled."""
    X, y = _data()
    with warnings.catch_warnings():  # numba's on-disk cache holds these kernels from here on
        warnings.simplefilter("ignore", ConvergenceWarning)
        for dtype in (np.float64, np.float32):  # not compiled again in each worker
            MLPClassifier((4,), max_iter=1, random_state=0).fit(X.astype(dtype), y).predict(X)
    with _cluster(n_workers=2, threads_per_worker=1) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _kernel_counts():
    """(loaded from the cache, compiled) overloads of the fit and predict kernels here."""
    stats = [estimators.run_epoch.stats, estimators.predict_forward.stats]
    return (sum(sum(s.cache_hits.values()) for s in stats),
            sum(sum(s.cache_misses.values()) for s in stats))


def _assert_workers_compiled_nothing(client, before=None):
    """Each worker loaded the kernels its fits ran from numba's cache: none compiled there."""
    after = client.run(_kernel_counts)
    assert set(after) == set(client.scheduler_info()["workers"])
    before = before or {worker: (0, 0) for worker in after}
    assert sum(after[w][0] - before[w][0] for w in after) > 0  # some fits ran there
    assert all(compiled == 0 for _, compiled in after.values())


def _spy_on_threads():
    """From now on, note numba's threads at each compiled epoch (here, or on every worker)."""
    original = estimators.run_epoch

    def spy(*args):
        spy.seen.append(numba.get_num_threads())
        return original(*args)

    spy.original, spy.seen = original, []
    estimators.run_epoch = spy


def _threads_seen():
    """Stop noting; the threads noted since ``_spy_on_threads``."""
    spy = estimators.run_epoch
    estimators.run_epoch = spy.original
    return spy.seen


def test_grid_search_on_a_dask_cluster_scores_the_models_of_a_local_search(client):
    from joblib import parallel_config

    X, y = _data()
    search = GridSearchCV(MLPClassifier((8,), max_iter=5, random_state=0),
                          {"alpha": [1e-4, 1e-1], "activation": ["relu", "tanh"]},
                          cv=2, scoring="neg_log_loss")  # log loss: any change in a weight shows
    before = client.run(_kernel_counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with parallel_config(backend="dask"):
            remote = clone(search).fit(X, y)
        local = clone(search).fit(X, y)
    for key in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_params_ == local.best_params_
    _assert_workers_compiled_nothing(client, before)  # the fits ran on the workers


@rule_applies
def test_fits_in_dask_workers_take_their_share_of_the_cores(client):
    from joblib import parallel_config

    X, y = _data()
    search = GridSearchCV(MLPClassifier((4,), max_iter=2, random_state=0),
                          {"alpha": [1e-4, 1e-2]}, cv=2, refit=False)
    client.run(_spy_on_threads)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with parallel_config(backend="dask"):
                search.fit(X, y)
    finally:
        seen = client.run(_threads_seen)
    # 2 workers x 1 task thread, all on this host: cores // 2 threads for each of the 4 fits
    assert sorted(t for threads in seen.values() for t in threads) == [max(1, CORES // 2)] * 8
    _spy_on_threads()
    try:  # here, not in a worker: every thread
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clone(search.estimator).fit(X, y)
    finally:
        seen_here = _threads_seen()
    assert seen_here == [CORES] * 2


@rule_applies
@pytest.mark.parametrize("n_workers, threads_per_worker", [(1, 1), (1, 2)])
def test_threads_per_fit_are_the_cores_over_the_task_threads_of_the_host(
        n_workers, threads_per_worker):
    threads._host_threads.clear()  # no answer cached from another cluster's worker
    with _cluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                  processes=False) as cluster, distributed.Client(cluster) as client:
        answers = client.gather([client.submit(threads.default_threads, pure=False, key=f"t{i}")
                                 for i in range(2)])
    assert answers == [max(1, CORES // (n_workers * threads_per_worker))] * 2


def test_a_worker_the_scheduler_does_not_answer_counts_its_own_threads(monkeypatch):
    threads._host_threads.clear()
    worker = types.SimpleNamespace(address="tcp://192.0.2.1:1", loop=None, scheduler=None,
                                   state=types.SimpleNamespace(nthreads=3))
    assert threads._host_task_threads(worker) == 3
    monkeypatch.setattr(distributed, "get_worker", lambda: worker)
    assert threads.default_threads() == max(1, numba.config.NUMBA_NUM_THREADS // 3)
    monkeypatch.setenv("NUMBA_NUM_THREADS", str(numba.config.NUMBA_NUM_THREADS))
    assert threads.default_threads() == numba.config.NUMBA_NUM_THREADS  # set: honoured
    threads._host_threads.clear()


@quiet
@pytest.mark.parametrize("model, dtype, shuffle_blocks", [
    (MLPClassifier((8,), batch_size=8, random_state=0), np.float64, True),
    (MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", random_state=0), np.float32, False),
])
def test_incremental_fits_the_model_of_partial_fit_block_by_block(client, model, dtype,
                                                                  shuffle_blocks):
    X, y = _data(240)
    X = X.astype(dtype)
    if isinstance(model, MLPRegressor):
        y = X[:, 0] - 2 * X[:, 1]
        kwargs = {}
    else:
        kwargs = {"classes": np.unique(y)}
    blocks, rows = 12, 20
    X_dask = da.from_array(X, chunks=(rows, X.shape[1]))
    y_dask = da.from_array(y, chunks=rows)
    assert X_dask.numblocks == (blocks, 1)
    incremental = Incremental(model, shuffle_blocks=shuffle_blocks, random_state=0)
    incremental.fit(X_dask, y_dask, **kwargs)
    order = list(range(blocks))
    if shuffle_blocks:  # dask-ml's order: RandomState(random_state).shuffle
        np.random.RandomState(0).shuffle(order)
        assert order != sorted(order)
    by_hand = clone(model)
    for block in order:
        part = slice(block * rows, (block + 1) * rows)
        by_hand.partial_fit(X[part], y[part], **kwargs)
    fitted = incremental.estimator_
    assert fitted.coefs_[0].dtype == dtype
    for a, b in zip(fitted.coefs_ + fitted.intercepts_, by_hand.coefs_ + by_hand.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert fitted.loss_curve_ == by_hand.loss_curve_
    assert (fitted.n_iter_, fitted.t_) == (by_hand.n_iter_, by_hand.t_)
    assert fitted.t_ == blocks * rows  # every block, once
    np.testing.assert_array_equal(incremental.predict(X_dask).compute(), by_hand.predict(X))
    _assert_workers_compiled_nothing(client)
