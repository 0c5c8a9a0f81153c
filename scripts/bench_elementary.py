"""Speed (and optionally accuracy) of jitmlp._elementary against numpy's libm calls.

    python scripts/bench_elementary.py              # ns/element, 10**6 elements, f32 and f64
    python scripts/bench_elementary.py --accuracy   # also max ulp error on ~1.5e7 points

Speed: each function fills a 10**6 array inside a jitted loop ``out[j] = f(x[j])``, against
the same loop with ``np.tanh`` / ``np.exp`` / ``1/(1+np.exp(-x))`` (scalar libm calls in numba
>= 0.62, which has no SVML). Best of ``--repeat`` runs.

Accuracy: distance in ulp of the dtype to an 80-bit long-double reference rounded to the
dtype (i.e. to the correctly rounded result), and to numpy / scipy.special.expit computed in
the same dtype.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

try:
    import jitmlp  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jitmlp._config import jit
from jitmlp._elementary import exp, logistic, tanh


@jit
def fill_tanh(x, out):
    for j in range(x.shape[0]):
        out[j] = tanh(x[j])


@jit
def fill_exp(x, out):
    for j in range(x.shape[0]):
        out[j] = exp(x[j])


@jit
def fill_logistic(x, out):
    for j in range(x.shape[0]):
        out[j] = logistic(x[j])


@jit
def fill_np_tanh(x, out):
    for j in range(x.shape[0]):
        out[j] = np.tanh(x[j])


@jit
def fill_np_exp(x, out):
    for j in range(x.shape[0]):
        out[j] = np.exp(x[j])


@jit
def fill_np_logistic(x, out):
    one = x.dtype.type(1)  # keeps float32 arithmetic in float32
    for j in range(x.shape[0]):
        out[j] = one / (one + np.exp(-x[j]))


PAIRS = {
    "tanh": (fill_tanh, fill_np_tanh),
    "exp": (fill_exp, fill_np_exp),
    "logistic": (fill_logistic, fill_np_logistic),
}


def best_time(fn, x, out, repeat):
    fn(x, out)  # compile / warm up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x, out)
        best = min(best, time.perf_counter() - t0)
    return best


def bench(n, repeat):
    rng = np.random.default_rng(0)
    print(f"fill of {n} elements, best of {repeat}; ns/element")
    print(f"{'function':10s} {'dtype':8s} {'jitmlp':>8s} {'np (libm)':>10s} {'speedup':>8s}")
    for dtype in (np.float32, np.float64):
        x = rng.uniform(-5.0, 5.0, n).astype(dtype)
        out = np.empty_like(x)
        for name, (ours, ref) in PAIRS.items():
            t_ours = best_time(ours, x, out, repeat) * 1e9 / n
            t_ref = best_time(ref, x, out, repeat) * 1e9 / n
            print(f"{name:10s} {np.dtype(dtype).name:8s} {t_ours:8.3f} {t_ref:10.3f} "
                  f"{t_ref / t_ours:7.1f}x")


# ---------------------------------------------------------------------------------------------
# accuracy


def ulp_distance(a, b):
    """|a - b| in units in the last place, for two arrays of the same float dtype."""
    a = np.asarray(a)
    b = np.asarray(b)
    ity = np.int64 if a.dtype == np.float64 else np.int32
    mask = np.iinfo(ity).max

    def ordered(v):
        i = v.view(ity).astype(np.int64)
        return np.where(i < 0, -(i & mask), i)

    return np.abs(ordered(a) - ordered(b))


def accuracy_points(dtype, n_random, seed=0):
    rng = np.random.default_rng(seed)
    f64 = dtype == np.float64
    tiny = 1e-300 if f64 else 1e-37
    parts = [
        rng.uniform(-50.0, 50.0, n_random),
        rng.uniform(-1.0, 1.0, n_random // 10),
        np.geomspace(tiny, 1.0, 200_000),  # near 0, both signs below
        # tanh branch point 0.625; tanh -> 1; exp overflow; exp underflow; expit -> 1
        np.linspace(0.6, 0.65, 100_000),
        np.linspace(18.0, 21.0, 100_000) if f64 else np.linspace(8.0, 10.0, 100_000),
        np.linspace(700.0, 712.0, 100_000) if f64 else np.linspace(85.0, 90.0, 100_000),
        np.linspace(-750.0, -700.0, 100_000) if f64 else np.linspace(-105.0, -85.0, 100_000),
        np.linspace(30.0, 40.0, 100_000) if f64 else np.linspace(14.0, 18.0, 100_000),
    ]
    x = np.concatenate(parts)
    x = np.concatenate([x, -x]).astype(dtype)
    return x


def references(x):
    """Long-double references (rounded to x.dtype) and numpy/scipy results in x.dtype."""
    from scipy.special import expit

    xl = x.astype(np.longdouble)
    with np.errstate(over="ignore", under="ignore"):
        return {
            "exp": (np.exp(xl).astype(x.dtype), np.exp(x)),
            "tanh": (np.tanh(xl).astype(x.dtype), np.tanh(x)),
            "logistic": ((1 / (1 + np.exp(-xl))).astype(x.dtype), expit(x)),
        }


def accuracy(n_random):
    print(f"\nmax ulp error ({n_random} uniform points in [-50, 50] + dense grids, both signs)")
    print("(the last two columns: our distance to numpy/scipy where their own error is <= 1 ulp,")
    print(" and numpy/scipy's own max error: scipy's 1/(1+exp(-x)) underflows early for x << 0)")
    print(f"{'function':10s} {'dtype':8s} {'vs exact':>9s} {'worst x':>22s} {'vs lib':>7s} "
          f"{'lib vs exact':>13s}")
    for dtype in (np.float64, np.float32):
        x = accuracy_points(dtype, n_random)
        out = np.empty_like(x)
        refs = references(x)
        for name, (ours, _) in PAIRS.items():
            ours(x, out)
            exact, lib = refs[name]
            d_exact = ulp_distance(out, exact)
            lib_err = ulp_distance(lib, exact)
            d_lib = ulp_distance(out, lib)[lib_err <= 1]
            worst = x[np.argmax(d_exact)]
            print(f"{name:10s} {np.dtype(dtype).name:8s} {d_exact.max():9d} {worst!s:>22s} "
                  f"{d_lib.max():7d} {lib_err.max():13d}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10**6, help="array length for timing")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--accuracy", action="store_true", help="also measure ulp errors")
    parser.add_argument("--n-accuracy", type=int, default=10**7)
    args = parser.parse_args()
    bench(args.n, args.repeat)
    if args.accuracy:
        accuracy(args.n_accuracy)


if __name__ == "__main__":
    main()
