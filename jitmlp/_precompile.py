"""Compile jitmlp's kernels ahead of time, into numba's on-disk cache, in parallel processes.

Every public call reaches one of four compiled entry points: ``_epoch.run_epoch`` (sgd and adam:
fit and partial_fit, dense and sparse input, early stopping, sample weights), the per-epoch
``_shuffle.shuffle_in_place``, ``_epoch.batch_loss_and_grad`` (lbfgs) and
``_predict.predict_forward`` (predict, predict_proba, score). Solvers are run-time codes, so each
entry point is compiled once per float dtype (the shuffle once); each activation and output
function is a small kernel of its own that these call through its address (the ``functions``
task compiles those a default fit does not use).
A task compiles an entry point the way users reach it: through the public API, on a few rows.

Each task runs in a worker process ("spawn"), so that several cores compile at once: numba
compiles on one thread. Compiled code lands in numba's cache (``NUMBA_CACHE_DIR`` if set), where
the next process loads it.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing import get_context

import numba
import numpy as np
import scipy.sparse
from numba.core import types

from . import _config

DTYPES = ("float64", "float32")

# entry -> (what the task runs, the compiled entry points it fills, in the order reported)
ENTRIES = {
    "fit": ("MLPClassifier(solver='adam').fit", ("run_epoch", "chunk", "shuffle_in_place")),
    "predict": ("MLPClassifier.predict_proba (untrained weights)",
                ("predict_forward", "_predict_block")),
    "lbfgs": ("MLPRegressor(solver='lbfgs').fit", ("batch_loss_and_grad",)),
    "sparse": ("fit, lbfgs fit and predict_proba of CSR input",
               ("run_epoch", "chunk", "batch_loss_and_grad", "predict_forward")),
    "rows": ("the row-parallel chunk (batches over CHUNKED_MAX_FLOPS), dense and CSR input",
             ("chunk_rows_parallel",)),
    "large": ("the blocked layer product of row-parallel batches, Adam's step from the sums "
              "(layers past L2)", ("product_large",)),
    "functions": ("fits and predictions with every other activation, output function, dropout",
                  ("activations", "outputs")),
    # the fit's kernels in two halves that compile side by side in two processes (the main job)
    "chunk": ("MLPClassifier(solver='adam').fit, its chunk only", ("chunk",)),
    "epoch": ("MLPClassifier(solver='adam').fit, all but its chunk",
              ("run_epoch", "shuffle_in_place")),
}

# Order of the tasks (the pool starts them in this order). The fit tasks come first, both dtypes
# side by side: they share no compiled code (other argument types), and they compile the kernels
# lbfgs and predict call too (chunk, reduce_chunks, the layer products), which the later tasks
# then load from the cache instead of compiling them a second time at the same moment
# (docs/performance.md).
ORDER = ("fit", "predict", "lbfgs", "sparse", "rows", "large", "functions")


@dataclass(frozen=True)
class Task:
    entry: str  # a key of ENTRIES
    dtype: str  # "float64" or "float32"

    @property
    def name(self) -> str:
        return f"{self.entry} {self.dtype}"


@dataclass
class Result:
    task: Task
    seconds: float  # the API call in the worker, without starting the process and imports
    status: str  # "compiled", "loaded from cache", "in memory" or "failed"
    error: str = ""


def tasks_for(dtypes=DTYPES) -> list[Task]:
    """Every task for these dtypes, in the order they are started (see ORDER)."""
    return [Task(entry, dtype) for entry in ORDER for dtype in dtypes]


def default_jobs(n_tasks: int) -> int:
    """The cores this process may use, but no more processes than tasks."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13
        cores = os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count()
    return max(1, min(cores or 1, n_tasks))


def _dispatchers():
    from . import _activations, _outputs
    from ._epoch import batch_loss_and_grad, chunk, chunk_rows_parallel, run_epoch
    from ._layers import product_large
    from ._predict import _predict_block, predict_forward
    from ._shuffle import shuffle_in_place

    def callee(dispatcher):  # what compiled code and ``_native``'s addresses use
        return getattr(dispatcher, "callee", None) or dispatcher

    return {"run_epoch": run_epoch, "chunk": chunk, "shuffle_in_place": shuffle_in_place,
            # each activation and output function is a kernel of its own: tanh's and exp's
            # stand for them all in a task's status
            "activations": _activations.KERNELS[_activations.TANH][0],
            "outputs": _outputs.KERNELS[_outputs.O_EXP][0],
            "chunk_rows_parallel": chunk_rows_parallel, "product_large": callee(product_large),
            "_predict_block": callee(_predict_block),
            "predict_forward": predict_forward, "batch_loss_and_grad": batch_loss_and_grad}


# ------------------------------------------------------------------------- is it cached?
def _cached_argument_types(dispatcher) -> list[tuple]:
    """Argument types of the overloads of ``dispatcher`` in numba's on-disk cache that this
    process would load: same source file stamp, code, numba version and CPU, data file present."""
    cache = dispatcher._cache
    cache_file = cache._cache_file
    codegen = dispatcher.targetctx.codegen()
    found = []
    for key, data_name in cache_file._load_index().items():  # {} if stale or absent
        sig = key[0]
        if cache._index_key(sig, codegen) != key:  # other code, numba or CPU features
            continue
        if not os.path.isfile(cache_file._data_path(data_name)):
            continue
        found.append(tuple(getattr(sig, "args", sig)))
    return found


def kernels_cached(dtype) -> bool:
    """Best effort, never raises: are the fit and predict kernels for ``dtype`` in numba's cache?

    True if ``run_epoch``, ``chunk``, ``predict_forward`` and ``_predict_block`` compiled for
    ``dtype`` input, and the shuffle, are in numba's on-disk cache, so a fit and a predict of that
    dtype in this process load them instead of compiling. False when caching is off (no writable
    cache location, ``CACHE``) or on any error (numba's cache index is read through its private
    API).
    """
    try:
        if not _config.CACHE:
            return False
        want = numba.from_dtype(np.dtype(dtype))
        dispatchers = _dispatchers()

        def has(name):  # an overload whose first float array (X or θ) holds ``dtype``
            return any(next((a.dtype for a in args if isinstance(a, types.Array)
                             and isinstance(a.dtype, types.Float)), None) == want
                       for args in _cached_argument_types(dispatchers[name]))

        return (has("run_epoch") and has("chunk") and has("predict_forward")
                and has("_predict_block")
                and bool(_cached_argument_types(dispatchers["shuffle_in_place"])))
    except Exception:  # noqa: BLE001 - a guess about the cache must never break a run
        return False


def cache_location() -> str:
    """The directory numba writes jitmlp's compiled kernels to ("" if caching is off)."""
    try:
        if _config.CACHE:
            return _dispatchers()["run_epoch"]._cache._cache_path
    except Exception:  # noqa: BLE001
        pass
    return ""


# ---------------------------------------------------------------------------- the tasks
def _tiny_data(dtype):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((12, 4)).astype(dtype)
    y = np.arange(12) % 3
    return X, y


class _Compiled(Exception):
    """Ends a fit of the "chunk" and "epoch" tasks once their kernels are compiled."""


def _fit_half(X, y, half: str) -> None:
    """Compile one half of a fit's kernels: its chunk, or everything else (the chunk is called
    through its address, so neither half needs the other compiled)."""
    from unittest import mock

    from . import _estimators
    from ._epoch import N_KERNELS, run_epoch
    from ._estimators import MLPClassifier

    def stop_before_epoch(*args):
        if half == "epoch":  # compiled (or loaded) for exactly the arguments of the fit
            run_epoch.compile(tuple(numba.typeof(a) for a in args))
        raise _Compiled

    try:
        with ExitStack() as patched:
            patched.enter_context(mock.patch.object(_estimators, "run_epoch", stop_before_epoch))
            if half == "chunk":  # the epoch's own item is the other half's
                patched.enter_context(mock.patch.object(
                    _estimators, "epoch_kernels_of", lambda kernels, *args: kernels))
            if half == "epoch":  # no chunk: a table of stand-in addresses, never called
                patched.enter_context(mock.patch.object(
                    _estimators, "chunk_kernels_of",
                    lambda *args: np.zeros((N_KERNELS, 2), dtype=np.int64)))
            MLPClassifier((5,), batch_size=5, max_iter=1, random_state=0).fit(X, y)
    except _Compiled:
        pass


def _rows_parallel_chunks(X, y, **option) -> None:
    """Compile the row-parallel chunk for dense and CSR input (``rows_parallel=True``), or the
    blocked product (``large=True``): tiny fits that take the address of the kernels a batch
    over CHUNKED_MAX_FLOPS, or one with layers past L2, would run."""
    from unittest import mock

    from . import _estimators
    from ._estimators import MLPClassifier

    original = _estimators.chunk_kernels_of

    def with_option(*args):
        return original(*args, **option)

    inputs = (X, scipy.sparse.csr_matrix(X)) if "rows_parallel" in option else (X,)
    original_epoch = _estimators.epoch_kernels_of

    def epoch_with_option(*args):  # large: Adam's step from the sums too
        return original_epoch(*args, large="large" in option)

    with mock.patch.object(_estimators, "chunk_kernels_of", with_option), \
            mock.patch.object(_estimators, "epoch_kernels_of", epoch_with_option):
        for X_in in inputs:
            MLPClassifier((5,), batch_size=5, max_iter=1, random_state=0).fit(X_in, y)


def _exercise(entry: str, dtype: str) -> None:
    """Call the public API on a few rows so that it compiles (or loads) ``entry``'s kernels."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state

    from ._estimators import MLPClassifier, MLPRegressor

    X, y = _tiny_data(np.dtype(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if entry == "fit":
            MLPClassifier((5,), batch_size=5, max_iter=1, random_state=0).fit(X, y)
        elif entry in ("chunk", "epoch"):
            _fit_half(X, y, entry)
        elif entry == "sparse":
            X_csr = scipy.sparse.csr_matrix(X)
            model = MLPClassifier((5,), batch_size=5, max_iter=1, random_state=0).fit(X_csr, y)
            model.predict_proba(X_csr)
            MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=2,
                         random_state=0).fit(X_csr, y.astype(X.dtype))
        elif entry == "rows":
            _rows_parallel_chunks(X, y, rows_parallel=True)
        elif entry == "large":
            _rows_parallel_chunks(X, y, large=True)
        elif entry == "functions":  # after "fit", "lbfgs": only the functions' kernels compile
            from ._activations import ACTIVATIONS

            small = dict(hidden_layer_sizes=(5,), batch_size=5, max_iter=1, random_state=0)
            models = [MLPClassifier(activation=name, **small).fit(X, y)
                      for name in ACTIVATIONS if name != "relu"]
            models.append(MLPClassifier(dropout=0.5, **small).fit(X, y))  # dropout's kernels
            models.append(MLPClassifier(**small).fit(X, y % 2))  # logistic output
            models.append(MLPRegressor(**small).fit(X, y.astype(X.dtype)))  # identity output
            models.append(MLPRegressor(loss="poisson", **small).fit(X, y.astype(X.dtype)))
            models.append(MLPRegressor(loss="huber", **small).fit(X, y.astype(X.dtype)))
            for model in models:
                model.predict(X)
        elif entry == "lbfgs":
            MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=2,
                         random_state=0).fit(X, y.astype(X.dtype))
        elif entry == "predict":
            # the weights of a fit that has not trained yet: predicting compiles no fit kernel
            model = MLPClassifier((5,), random_state=0)
            X_valid, Y = model._validate_input(X, y, incremental=False, reset=True)
            model._random_state = check_random_state(0)
            model._initialize(Y, [X.shape[1], 5, Y.shape[1]], X_valid.dtype)
            model.predict_proba(X)
        else:
            raise ValueError(f"unknown entry {entry!r}")


def _counts(dispatcher):
    stats = dispatcher.stats
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())


def run_task(task: Task) -> Result:
    """Run one task in this process; report whether its entry point was compiled or loaded."""
    try:
        entry_point = _dispatchers()[ENTRIES[task.entry][1][0]]
        hits, misses = _counts(entry_point)
        start = time.perf_counter()
        _exercise(task.entry, task.dtype)
        seconds = time.perf_counter() - start
        new_hits, new_misses = _counts(entry_point)
    except Exception:  # noqa: BLE001 - reported, and the exit code says so
        return Result(task, 0.0, "failed", traceback.format_exc())
    if new_misses > misses:
        status = "compiled"
    elif new_hits > hits:
        status = "loaded from cache"
    else:
        status = "in memory"
    return Result(task, seconds, status)


# --------------------------------------------------------------- several processes at once
def _lock_cache_files(lock_path: str):
    """Serialize numba's cache index updates between the worker processes (and this one).

    numba updates a function's index by read, modify, write without a lock
    (``IndexDataCacheFile.save``): two processes saving overloads of one function at the same
    moment (the float64 and float32 tasks compile the same helpers for other types) can drop
    each other's entry or number two entries' data files alike, so that one signature's entry
    points at another's code. An exclusive ``flock`` on one file shared by the workers makes each
    save and load whole (numba's maintainers proposed a file lock for a like race of its
    gufunc cache, numba issue #10128). Where ``fcntl`` is missing (Windows) the workers run
    without it. Returns a function that puts numba's own methods back.
    """
    try:
        import fcntl

        from numba.core.caching import IndexDataCacheFile
    except ImportError:
        return lambda: None
    save, load = IndexDataCacheFile.save, IndexDataCacheFile.load

    def locked(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    return method(self, *args, **kwargs)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

        return wrapper

    IndexDataCacheFile.save = locked(save)
    IndexDataCacheFile.load = locked(load)

    def undo():
        IndexDataCacheFile.save, IndexDataCacheFile.load = save, load

    return undo


def run_tasks(tasks, jobs: int, on_result=None, here=()) -> list[Result]:
    """Run ``tasks`` in ``jobs`` worker processes; ``on_result(result)`` as each one finishes.

    The tasks in ``here`` run in this process meanwhile, one after another, while the workers
    start and work (this process has already imported everything: no start-up to wait for).

    The workers are started with "spawn" (no copy of this process's numba state or threads), which
    imports the ``__main__`` module again in each worker: a script calling this needs the
    ``if __name__ == "__main__":`` guard.
    """
    results = []
    with tempfile.TemporaryDirectory(prefix="jitmlp-precompile-") as tmp:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                                   initializer=_lock_cache_files,
                                   initargs=(os.path.join(tmp, "cache.lock"),))
        with pool:
            futures = {pool.submit(run_task, task): task for task in tasks}
            if here:
                undo = _lock_cache_files(os.path.join(tmp, "cache.lock"))
                try:
                    for task in here:
                        results.append(run_task(task))
                        if on_result is not None:
                            on_result(results[-1])
                finally:
                    undo()
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception:  # noqa: BLE001 - e.g. a worker process that died
                    result = Result(futures[future], 0.0, "failed", traceback.format_exc())
                results.append(result)
                if on_result is not None:
                    on_result(result)
    return results
