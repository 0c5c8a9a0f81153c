#!/usr/bin/env python
"""The digits workload (benchmarks/benchmarks/workloads.py: adam, (100,), relu, batch 200,
50 epochs, float64) without and with dropout, fits interleaved in one process.

Usage: ``python scripts/bench_dropout.py [--reps 9] [--rates 0,0.2,0.5]``. Prints the min and
median wall time of each rate's fit and the training accuracy. A rate of 0 on a checkout
without the ``dropout`` parameter times the plain fit (to compare the default path before/after).
"""

import argparse
import statistics
import time
import warnings

from sklearn.datasets import load_digits

from jitmlp import MLPClassifier


def fit(X, y, rate):
    extra = {"dropout": rate} if rate else {}
    model = MLPClassifier((100,), activation="relu", batch_size=200, max_iter=50, tol=0.0,
                          n_iter_no_change=10**9, random_state=0, **extra)
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start, model.score(X, y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--rates", default="0,0.2,0.5")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X = X / 16
    for rate in rates:  # warm-up: compiles (or loads) the kernels
        fit(X[:200], y[:200], rate)
    times = {rate: [] for rate in rates}
    scores = {}
    for _ in range(args.reps):
        for rate in rates:
            seconds, scores[rate] = fit(X, y, rate)
            times[rate].append(seconds)
    for rate in rates:
        t = times[rate]
        print(f"dropout={rate:<4} min {min(t) * 1e3:6.1f} ms  median "
              f"{statistics.median(t) * 1e3:6.1f} ms  train accuracy {scores[rate]:.4f}")


if __name__ == "__main__":
    main()
