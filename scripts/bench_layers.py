"""Speed of the layer products in jitmlp._layers against numpy's ``@`` (the machine's roof).

    python scripts/bench_layers.py                       # every shape, f64 and f32, 1 and 2 threads
    python scripts/bench_layers.py --layers /tmp/old.py  # the same for another copy of _layers.py
    python scripts/bench_layers.py --filter tn --dtype f32
    python scripts/bench_layers.py --large               # layers of 1024 to 4096 units

For each kernel and shape: GFLOP/s of the jitmlp kernel with 1 and with all threads
(``numba.set_num_threads``), numpy's GFLOP/s for the same product with 1 and with all BLAS threads
(threadpoolctl), and whether the kernel's results are bit-identical for 1 vs all threads and equal
to numpy within rounding. Median of ``--repeat`` timings, each a loop of enough calls to last
``--min-time`` seconds. ``matmul_serial`` ignores the thread count by design (it is called inside
an outer prange).

Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this command only, so numpy's roof is the real one:
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_layers.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

try:
    import jitmlp  # noqa: F401
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numba

# (kernel, M, K, N, dtypes): C (M, N) = op(A) (M, K) @ B (K, N); for matmul_tn A is (K, M).
SHAPES = [
    # forward a_k = h_{k-1} W_k
    ("matmul", 200, 784, 100, "f64 f32"),
    ("matmul", 256, 784, 512, "f32"),
    ("matmul", 256, 512, 256, "f32"),
    ("matmul", 200, 100, 256, "f64"),
    ("matmul", 200, 256, 256, "f64"),
    ("matmul", 200, 256, 3, "f64"),
    ("matmul", 200, 64, 100, "f64"),
    ("matmul", 200, 100, 10, "f64"),
    ("matmul", 32, 20, 32, "f64"),
    ("matmul", 32, 32, 4, "f64"),
    # gradient to the layer below, grad_a W_kᵀ
    ("matmul", 200, 10, 100, "f64"),
    ("matmul", 256, 256, 512, "f32"),
    ("matmul", 256, 512, 784, "f32"),
    ("matmul", 200, 3, 256, "f64"),
    ("matmul", 32, 4, 32, "f64"),
    # weight gradients h_{k-1}ᵀ grad_a_k (K = batch rows)
    ("matmul_tn", 784, 200, 100, "f64 f32"),
    ("matmul_tn", 784, 256, 512, "f32"),
    ("matmul_tn", 512, 256, 256, "f32"),
    ("matmul_tn", 100, 200, 10, "f64"),
    ("matmul_tn", 64, 200, 100, "f64"),
    ("matmul_tn", 256, 200, 256, "f64"),
    ("matmul_tn", 256, 200, 3, "f64"),
    ("matmul_tn", 100, 200, 256, "f64"),
    ("matmul_tn", 20, 32, 32, "f64"),
    ("matmul_tn", 32, 32, 4, "f64"),
    # predict: one chunk of rows per thread
    ("matmul_serial", 128, 784, 512, "f32"),
    ("matmul_serial", 128, 512, 256, "f32"),
    ("matmul_serial", 128, 784, 100, "f64 f32"),
    ("matmul_serial", 128, 256, 256, "f64"),
]
# Large layers (``--large``): weight matrices that do not fit in L2, batch 200 (1024 to 4096 units).
LARGE_SHAPES = [
    ("matmul", 200, 784, 1024, "f64 f32"),     # a_1 = h_0 W_1, W_1 784 x 1024
    ("matmul", 200, 1024, 1024, "f64 f32"),    # a_2 = h_1 W_2; grad_h_1 = grad_a_2 W_2ᵀ
    ("matmul_tn", 1024, 200, 1024, "f64 f32"),  # grad W_2
    ("matmul_tn", 784, 200, 1024, "f64 f32"),   # grad W_1
    ("matmul", 200, 2048, 2048, "f32"),
    ("matmul_tn", 2048, 200, 2048, "f32"),
    ("matmul", 200, 784, 4096, "f64"),
    ("matmul_tn", 784, 200, 4096, "f64"),
    ("matmul", 200, 4096, 1024, "f64"),
    ("matmul", 200, 1024, 4096, "f64"),
]
DTYPES = {"f64": np.float64, "f32": np.float32}


def load_layers(path):
    if path is None:
        from jitmlp import _layers

        return _layers
    # imported by name from its directory (numba's cache needs an importable module)
    path = os.path.abspath(path)
    sys.path.insert(0, os.path.dirname(path))
    return importlib.import_module(os.path.splitext(os.path.basename(path))[0])


def timeit(fn, min_time, repeat):
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4:
            break
        n *= 4
    n = max(1, int(n * min_time / max(dt, 1e-9)))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return float(np.median(times))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--layers", help="path of a _layers.py copy to time instead of jitmlp._layers")
    p.add_argument("--filter", default="", help="only kernels whose name contains this")
    p.add_argument("--dtype", choices=["f64", "f32"], help="only this dtype")
    p.add_argument("--min-time", type=float, default=0.05)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-numpy", action="store_true", help="skip numpy's timings")
    p.add_argument("--large", action="store_true",
                   help="the large-layer shapes (weights past L2) instead of the usual ones")
    args = p.parse_args()

    layers = load_layers(args.layers)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    n_threads = numba.config.NUMBA_NUM_THREADS
    rng = np.random.default_rng(0)
    print(f"numba threads: {n_threads}; kernels from {layers.__file__}")
    hdr = (f"{'kernel':14s} {'M':>4s} {'K':>4s} {'N':>4s} {'dt':3s} | {'jit 1T':>7s} {'jit':>3s}"
           f"{n_threads}T | {'np 1T':>7s} {'np':>4s}{n_threads}T | {'us':>8s} | bit-eq  err")
    print(hdr)
    print("-" * len(hdr))
    for name, M, K, N, dts in LARGE_SHAPES if args.large else SHAPES:
        if args.filter not in name:
            continue
        for dt in dts.split():
            if args.dtype and dt != args.dtype:
                continue
            dtype = DTYPES[dt]
            kern = getattr(layers, name)
            A = rng.standard_normal((K, M) if name == "matmul_tn" else (M, K)).astype(dtype)
            B = rng.standard_normal((K, N)).astype(dtype)
            ref = (A.T @ B) if name == "matmul_tn" else (A @ B)
            flops = 2.0 * M * K * N
            res = {}
            outs = {}
            for nt in (1, n_threads):
                numba.set_num_threads(nt)
                C = np.empty((M, N), dtype=dtype)
                t = timeit(lambda: kern(A, B, C), args.min_time, args.repeat)
                res[nt] = flops / t / 1e9
                outs[nt] = C.copy()
                if nt == n_threads:
                    us = t * 1e6
            numba.set_num_threads(n_threads)
            np_res = {}
            if not args.no_numpy:
                A2 = np.ascontiguousarray(A.T) if name == "matmul_tn" else A
                Cn = np.empty((M, N), dtype=dtype)
                for nt in (1, n_threads):
                    if threadpool_limits is not None:
                        with threadpool_limits(limits=nt, user_api="blas"):
                            t = timeit(lambda: np.matmul(A2, B, out=Cn), args.min_time, args.repeat)
                    else:
                        t = timeit(lambda: np.matmul(A2, B, out=Cn), args.min_time, args.repeat)
                    np_res[nt] = flops / t / 1e9
            same = np.array_equal(outs[1], outs[n_threads])
            err = np.abs(outs[n_threads] - ref).max() / max(np.abs(ref).max(), 1e-300)
            npc = (f"{np_res[1]:7.1f} {np_res[n_threads]:7.1f}" if np_res
                   else f"{'-':>7s} {'-':>7s}")
            print(f"{name:14s} {M:4d} {K:4d} {N:4d} {dt:3s} | "
                  f"{res[1]:7.2f} {res[n_threads]:7.2f} | "
                  f"{npc} | {us:8.1f} | {str(same):6s} {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
