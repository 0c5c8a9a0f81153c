"""Fit time of each workload at 1, 2, 4, ... threads: jitmlp, scikit-learn and PyTorch side by side.

    python scripts/scaling.py                       # every workload, 1 .. all cores
    python scripts/scaling.py --only digits,regression --threads 1,2,4,8 --plot scaling.png

jitmlp gets its thread count from ``n_jobs``, scikit-learn's BLAS from threadpoolctl, PyTorch
from ``torch.set_num_threads``. Each cell is the median of ``--reps`` fits after a warm-up fit
(compiling and first-touch memory excluded). The table prints seconds per fit and, in
parentheses, the speed-up over the same library on one thread; ``--plot`` draws the speed-ups
(matplotlib, ``pip install "jitmlp[plot]"``). On a 2-core machine it shows 1 against 2 threads;
the script is meant for machines with many cores. Workloads are those of scripts/compare.py
(benchmarks/benchmarks/workloads.py); predict-wide is left out (a prediction, not a fit).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import compare  # noqa: E402  (puts this checkout's jitmlp and benchmarks/ on the path)
from compare import wl  # noqa: E402


def _thread_counts(cores: int) -> list[int]:
    counts, t = [], 1
    while t < cores:
        counts.append(t)
        t *= 2
    return [*counts, cores]


def fit_seconds(lib, w, X, y, threads: int) -> float:
    """One fit of workload ``w`` by ``lib`` on ``threads`` threads, in seconds."""
    start = time.perf_counter()
    if lib.name == "jitmlp":
        wl.fit_quietly(wl.make_estimator("jitmlp", w, n_jobs=threads), X, y)
    elif lib.name == "sklearn":
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads):
            lib.fit(w, X, y)
    else:
        lib.torch.set_num_threads(threads)
        lib.fit(w, X, y)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma separated workloads (default: all)")
    parser.add_argument("--threads", default="", help="comma separated thread counts "
                        "(default: 1, 2, 4, ... up to the cores of this machine)")
    parser.add_argument("--libs", default=",".join(compare.ALL_LIBS))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--plot", default="", help="write the speed-ups to this image file")
    args = parser.parse_args(argv)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = ([int(t) for t in args.threads.split(",")] if args.threads
               else _thread_counts(cores or 1))
    names = [n for n in args.only.split(",") if n] or list(wl.WORKLOADS)
    workloads = [wl.WORKLOADS[n] for n in names]
    libs, missing = compare.load_libs(args.libs.split(","))
    for name, why in missing.items():
        print(f"(skipping {name}: {why})")
    print(f"{cores} cores; threads {threads}; median of {args.reps} fits per cell")

    results = {}  # (workload, library) -> {threads: seconds}
    for w in workloads:
        X, y = wl.load_data(w.name)
        for lib in libs:
            fit_seconds(lib, w, X, y, threads[-1])  # warm-up: compile, first touch
            results[w.name, lib.name] = {
                t: statistics.median(fit_seconds(lib, w, X, y, t) for _ in range(args.reps))
                for t in threads}
            row = results[w.name, lib.name]
            cells = "  ".join(f"{row[t]:8.3f} ({row[threads[0]] / row[t]:4.2f}x)" for t in threads)
            print(f"{w.name:16s} {lib.name:8s} {cells}", flush=True)

    print("\n| workload | library | " + " | ".join(f"{t} threads" for t in threads) + " |")
    print("|---|---|" + "---|" * len(threads))
    for (name, lib), row in results.items():
        print(f"| {name} | {lib} | " + " | ".join(
            f"{row[t]:.3f} s ({row[threads[0]] / row[t]:.2f}x)" for t in threads) + " |")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(workloads), figsize=(4 * len(workloads), 3.5),
                                 squeeze=False)
        for ax, w in zip(axes[0], workloads):
            for lib in libs:
                row = results[w.name, lib.name]
                ax.plot(threads, [row[threads[0]] / row[t] for t in threads], marker="o",
                        label=lib.name)
            ax.plot(threads, [t / threads[0] for t in threads], "k:", label="linear")
            ax.set(title=w.name, xlabel="threads", ylabel="speed-up over 1 thread")
            ax.set_xscale("log", base=2)
        axes[0][0].legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
