"""The digits demo (python -m jitmlp, no command): jitmlp beside scikit-learn on their digits.

Prints jitmlp's per-epoch progress, the test accuracy of both, and both fit times. In a fresh
environment jitmlp's float64 fit and predict kernels are not in numba's cache yet: the job says
so, compiles them up front (tasks of ``jitmlp.precompile``: with two cores and a cache, the fit's
chunk in this process and the rest of the fit and predict in a worker; else all of them in this
process) and reports how long that took, so nothing compiles later without a word. A one-epoch
warm-up fit then runs them, timed separately.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from . import MLPClassifier, _config
from ._precompile import Task, default_jobs, kernels_cached, run_task, run_tasks

# The wait to expect, printed: the median of compile_kernels_once's "Compiled in" figure from an
# empty NUMBA_CACHE_DIR on a 2-core machine, nothing else running (docs/performance.md).
COMPILE_SECONDS = 9


def compile_kernels_once(dtype=np.float64, file=None) -> None:
    """Compile the fit and predict kernels of ``dtype`` now, saying so, unless they are cached.

    The messages go to ``file`` (default: standard output).
    """
    file = sys.stdout if file is None else file
    name = np.dtype(dtype).name
    if kernels_cached(dtype):
        return
    # with a cache to share and two cores, the fit's chunk compiles in this process while the
    # rest of the fit and predict compile in a worker (neither needs the other: the chunk is
    # called through its address); this process then loads them. Else all of it here.
    jobs = default_jobs(2) if _config.CACHE else 1
    if _config.CACHE:
        what = "once (cached for later runs"
    else:
        what = "(no writable cache location: every run compiles them"
    print(f"Compiling jitmlp's kernels for {name} {what}; about {COMPILE_SECONDS} s on a "
          f"2-core machine) ...", file=file, flush=True)
    start = time.perf_counter()
    if jobs > 1:
        results = run_tasks([Task("epoch", name), Task("predict", name)], 1,
                            here=[Task("chunk", name)])
    else:
        results = [run_task(Task("fit", name)), run_task(Task("predict", name))]
    for result in results:  # a failed task's kernels are compiled by the fit below, here
        if result.status == "failed":
            print(f"compiling {result.task.name} ahead failed:\n{result.error}", file=file,
                  flush=True)
    print(f"Compiled in {time.perf_counter() - start:.1f} s.", file=file, flush=True)


def run(args) -> int:
    """Run the demo with the parsed options ``epochs``, ``hidden``, ``activation``, ``quiet``."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    params = dict(hidden_layer_sizes=tuple(args.hidden), activation=args.activation,
                  solver="adam", batch_size=200, max_iter=args.epochs, tol=0.0,
                  n_iter_no_change=args.epochs + 1, random_state=0)
    print(f"digits: {X_train.shape[0]} train / {X_test.shape[0]} test samples, "
          f"{X.shape[1]} features, 10 classes; hidden={params['hidden_layer_sizes']}, "
          f"{args.activation}, adam, batch 200, {args.epochs} epochs")
    compile_kernels_once()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        MLPClassifier(**{**params, "max_iter": 1}).fit(X_train, y_train)
        warmup = time.perf_counter() - start
        print(f"jitmlp warm-up fit (1 epoch, includes loading the kernels): {warmup:.2f} s")

        ours = MLPClassifier(**params, verbose=not args.quiet)
        start = time.perf_counter()
        ours.fit(X_train, y_train)
        t_ours = time.perf_counter() - start

        theirs = SkMLPClassifier(**params)
        start = time.perf_counter()
        theirs.fit(X_train, y_train)
        t_theirs = time.perf_counter() - start

    acc_ours, acc_theirs = ours.score(X_test, y_test), theirs.score(X_test, y_test)
    print()
    print(f"{'':14s}{'fit time (s)':>14s}{'test accuracy':>16s}")
    print(f"{'jitmlp':14s}{t_ours:14.3f}{acc_ours:16.4f}")
    print(f"{'scikit-learn':14s}{t_theirs:14.3f}{acc_theirs:16.4f}")
    print(f"speed-up: {t_theirs / t_ours:.1f}x")
    return 0

