"""A grid search on a local Dask cluster: each fit's share of the cores against every core.

    python scripts/bench_dask_threads.py                  # 2 workers x 1 thread, median of 3
    python scripts/bench_dask_threads.py --workers 1 --threads 2 --reps 5
    python scripts/bench_dask_threads.py --layer omp    # the workers on numba's OpenMP layer

Runs the same ``GridSearchCV`` (``joblib.parallel_config(backend="dask")``) on a
``LocalCluster`` of worker processes, interleaved (share, all, share, all, ...):

- ``share``: ``n_jobs=None``, each fit in a worker takes ``max(1, cores // T)`` numba threads,
  T = the task threads of the cluster's workers (``jitmlp/_threads.py``);
- ``all``: ``n_jobs=<cores>``, each fit takes every core, as ``n_jobs=None`` did in Dask workers
  before, with T fits running at once: T x cores threads on the cores.

and, for reference, the same search on joblib's own process pool (``n_jobs=T``, whose workers
get ``NUMBA_NUM_THREADS = cores // T``). Prints the wall seconds of each run, the CPU seconds
the Dask workers spent in it (threads that wait on each other spin and burn CPU time; this figure
is also less sensitive than wall time to other processes running) and the medians.
Needs ``pip install "jitmlp[dask]"``. Before each run it samples how busy the machine is
(``/proc/stat``, Linux) and prints it: figures taken while something else runs are noise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

try:
    import jitmlp  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numba
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from jitmlp import MLPClassifier


def busy_fraction(seconds=0.5):
    """Share of the machine's CPU time used over ``seconds`` (None where /proc/stat is absent)."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return None
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="task threads per worker")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--layer", choices=["tbb", "omp", "workqueue"], default=None,
                        help="NUMBA_THREADING_LAYER in the workers (default: jitmlp's choice)")
    args = parser.parse_args(argv)

    import dask
    from distributed import Client, LocalCluster
    from joblib import parallel_config

    cores = numba.config.NUMBA_NUM_THREADS
    tasks = args.workers * args.threads
    X, y = make_classification(20000, 200, n_informative=40, n_classes=5, random_state=0)
    grid = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}

    def search(fit_threads, n_jobs=None):
        model = MLPClassifier((256,), max_iter=10, random_state=0, n_jobs=fit_threads)
        return GridSearchCV(model, grid, cv=2, refit=False, n_jobs=n_jobs)

    warnings.simplefilter("ignore", ConvergenceWarning)
    search(None).fit(X[:200], y[:200])  # compile here: the workers load from numba's cache
    print(f"{args.workers} workers x {args.threads} threads, {cores} cores; "
          f"{len(grid['alpha'])} candidates x 2 folds, X {X.shape}"
          + (f"; workers on numba's {args.layer} layer" if args.layer else ""))
    if args.layer:  # the nannies put it in each worker's environment before it starts
        dask.config.set({"distributed.nanny.pre-spawn-environ.NUMBA_THREADING_LAYER": args.layer})
    times = {"share": [], "all": [], "joblib": []}
    cpu = {"share": [], "all": []}
    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                      dashboard_address=":0") as cluster, Client(cluster) as client:

        def workers_cpu():
            return sum(client.run(time.process_time).values())

        with parallel_config(backend="dask"):
            search(None).fit(X[:200], y[:200])  # the workers import jitmlp, load the kernels
            for rep in range(args.reps):
                for name, fit_threads in (("share", None), ("all", cores)):
                    busy = busy_fraction()
                    cpu_start, start = workers_cpu(), time.perf_counter()
                    search(fit_threads).fit(X, y)
                    times[name].append(time.perf_counter() - start)
                    cpu[name].append(workers_cpu() - cpu_start)
                    print(f"  {rep} {name:6s} {times[name][-1]:6.2f} s, "
                          f"workers' CPU {cpu[name][-1]:6.2f} s"
                          + (f"  (machine {busy:.0%} busy before)" if busy is not None else ""),
                          flush=True)
    for rep in range(args.reps):
        start = time.perf_counter()
        search(None, n_jobs=tasks).fit(X, y)
        times["joblib"].append(time.perf_counter() - start)
        print(f"  {rep} joblib {times['joblib'][-1]:6.2f} s", flush=True)
    print("median wall: " + ", ".join(f"{name} {statistics.median(t):.2f} s"
                                      for name, t in times.items()))
    print("median workers' CPU: " + ", ".join(f"{name} {statistics.median(t):.2f} s"
                                             for name, t in cpu.items()))


if __name__ == "__main__":
    main()
