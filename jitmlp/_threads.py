"""How many threads a fit or predict uses: ``n_jobs``, or (None) one share of the cores.

``numba_threads(n_jobs)`` sets numba's thread count around every compiled call of a fit or a
predict (and restores it), so that the estimators' ``n_jobs`` applies to their kernels alone.

Outside Dask: all of numba's threads, ``NUMBA_NUM_THREADS`` (the cores this process may run on,
unless set). joblib's own worker processes (``GridSearchCV(n_jobs=k)``) get it set to
``cores // k``, so a parallel search does not oversubscribe the cores.

In a task on a ``dask.distributed`` worker nothing sets it: Dask's nanny limits OpenMP and BLAS to
one thread per task (``OMP_NUM_THREADS=1``...), but not numba. Every worker process would give each
fit all the cores, while each of its ``nthreads`` task threads runs a fit of its own, beside the
tasks of the other workers on the same host: 2 workers x 1 thread on 2 cores ran 4 numba threads
on 2 cores. There a fit uses instead

    max(1, C // T)

threads, where C is the cores this process may run on (``numba.config.NUMBA_NUM_THREADS``) and T
is the number of task threads of all the Dask workers on this host (the sum of their
``nthreads``, as the scheduler reports them): the worker's share of the host's cores, C * N / T
for a worker of N task threads, split between its N tasks. One worker of 1 thread on 2 cores:
2 threads per fit; 2 workers x 1 thread, or 1 worker x 2 threads, on 2 cores: 1.

``NUMBA_NUM_THREADS`` set in a worker's environment is taken as the threads of each fit there
(the same as outside Dask), and an explicit ``n_jobs`` wins over both.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numba

# The scheduler is asked for the workers on this host at most once per worker and this many
# seconds (one round trip to it; docs/performance.md): a cluster that grows or shrinks is seen
# within that time.
HOST_THREADS_TTL = 5.0
_SCHEDULER_TIMEOUT = 2.0  # seconds; past it, the worker is taken to be alone on its host
_host_threads: dict[str, tuple[float, int]] = {}  # worker address -> (time.monotonic(), T)


@contextlib.contextmanager
def numba_threads(n_jobs):
    """Run the block with numba's thread count set from ``n_jobs``; restore it afterwards.

    None: ``default_threads()``; a negative ``n_jobs`` counts back from all of numba's threads
    (-1: all of them), as joblib's does; a larger one than numba has is cut to what it has.
    Setting the count also starts numba's thread pool, which a kernel loaded from the cache may
    need started before it runs (``tests/test_cache_reload.py``).
    """
    previous = numba.get_num_threads()
    if n_jobs is None:
        wanted = default_threads()  # all of numba's threads; a share of them in a Dask task
    elif n_jobs < 0:
        wanted = max(1, numba.config.NUMBA_NUM_THREADS + 1 + n_jobs)
    else:
        wanted = min(n_jobs, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(wanted)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def default_threads() -> int:
    """numba threads for a fit or predict with ``n_jobs=None`` (module docstring: the rule)."""
    cores = numba.config.NUMBA_NUM_THREADS
    if "NUMBA_NUM_THREADS" in os.environ:
        return cores
    worker = _dask_worker()
    if worker is None:
        return cores
    try:
        return max(1, cores // _host_task_threads(worker))
    except Exception:  # noqa: BLE001 - an unknown worker API never fails a fit: all threads
        return cores


def _dask_worker():
    """The ``distributed.Worker`` running the current task, or None (not in a Dask task)."""
    distributed = sys.modules.get("distributed")  # a worker has imported it; never import it here
    if distributed is None:
        return None
    try:
        return distributed.get_worker()
    except ValueError:  # "No worker found": not in a task of a worker
        return None


def _host_task_threads(worker) -> int:
    """T: the task threads of all Dask workers on ``worker``'s host (its own if unknown)."""
    now = time.monotonic()
    cached = _host_threads.get(worker.address)
    if cached is not None and now - cached[0] < HOST_THREADS_TTL:
        return cached[1]
    threads = worker.state.nthreads
    try:
        from distributed.utils import sync

        workers = sync(worker.loop, worker.scheduler.identity,
                       callback_timeout=_SCHEDULER_TIMEOUT)["workers"]
        host = workers[worker.address]["host"]
        threads = sum(w["nthreads"] for w in workers.values() if w["host"] == host)
    except Exception:  # noqa: BLE001 - no answer (timeout, an older scheduler): this worker alone
        pass
    _host_threads[worker.address] = (now, max(1, threads))
    return max(1, threads)
