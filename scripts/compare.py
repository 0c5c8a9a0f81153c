#!/usr/bin/env python
"""Time jitmlp, scikit-learn and PyTorch CPU side by side on the workload suite.

Usage (from the repository root; unset the OpenBLAS overrides in the benchmark command only)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/compare.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/compare.py --reps 5 --only digits
    python scripts/compare.py --libs sklearn,torch --only regression --json out.json

For every workload (definitions in ``benchmarks/benchmarks/workloads.py``, shared with the asv
suite) each library first does a warm-up fit (one epoch on the full data; absorbs JIT compilation
and first-touch memory), then the timed fits run interleaved (A B C A B C ...) and the median of
``--reps`` runs is reported, together with the ratios scikit-learn/jitmlp and PyTorch/jitmlp,
jitmlp's achieved GFLOP/s, the roof measured in the same run (numpy ``@`` on the same shapes, batch
and dtype) and every library's training score (accuracy, or R^2 for regression).

All libraries use every core: jitmlp ``n_jobs=None``, ``torch.set_num_threads(os.cpu_count())``,
numpy/BLAS at their default. PyTorch is a benchmark peer only (``pip install torch==2.13.0``); it
is used when importable and never required.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
# jitmlp from this working tree (unless an installed copy shadows it), workloads from benchmarks/
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from benchmarks import workloads as wl  # noqa: E402

ALL_LIBS = ("jitmlp", "sklearn", "torch")
N_CORES = os.cpu_count() or 1
BUSY_WARN = 0.10  # warn when other processes use more than this share of all cores


# --------------------------------------------------------------------------------------------
# libraries
# --------------------------------------------------------------------------------------------

class EstimatorLib:
    """jitmlp or scikit-learn, through their (identical) estimator API."""

    def __init__(self, name: str):
        self.name = name
        wl.estimator_class(name, "classification")  # raises ImportError if unavailable

    def fit(self, w, X, y, epochs=None):
        return wl.fit_quietly(wl.make_estimator(self.name, w, epochs=epochs, n_jobs=None), X, y)

    def score(self, model, w, X, y) -> float:
        return float(model.score(X, y))

    def predict_model(self, ref_coefs, ref_intercepts, w, X_fit, y_fit):
        """A model for predict-wide; with ``ref_*`` given, carrying exactly those weights."""
        model = wl.fit_quietly(wl.make_estimator(self.name, w), X_fit, y_fit)
        if ref_coefs is not None:
            model.coefs_ = [np.ascontiguousarray(c, dtype=w.dtype) for c in ref_coefs]
            model.intercepts_ = [np.ascontiguousarray(b, dtype=w.dtype) for b in ref_intercepts]
        return model

    def predict_proba(self, model, X):
        return model.predict_proba(X)


class TorchLib:
    """The equivalent PyTorch CPU loop: nn.Sequential(Linear, act, ...), Adam, same batches."""

    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch
        torch.set_num_threads(N_CORES)

    def _dtype(self, dtype):
        return self.torch.float32 if np.dtype(dtype) == np.float32 else self.torch.float64

    def _model(self, shapes, activation, dtype, gen=None, coefs=None, intercepts=None):
        torch, nn = self.torch, self.torch.nn
        act = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid,
               "identity": nn.Identity}[activation]
        layers = []
        for k, (fan_in, fan_out) in enumerate(shapes):
            lin = nn.Linear(fan_in, fan_out, dtype=dtype)
            with torch.no_grad():
                if coefs is not None:
                    lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(coefs[k].T)))
                    lin.bias.copy_(torch.from_numpy(np.asarray(intercepts[k])))
                else:
                    # scikit-learn's Glorot-uniform initialisation (weights and biases)
                    factor = 2.0 if activation == "logistic" else 6.0
                    bound = math.sqrt(factor / (fan_in + fan_out))
                    lin.weight.uniform_(-bound, bound, generator=gen)
                    lin.bias.uniform_(-bound, bound, generator=gen)
            layers.append(lin)
            if k < len(shapes) - 1:
                layers.append(act())
        return nn.Sequential(*layers)

    def fit(self, w, X, y, epochs=None):
        torch = self.torch
        p = wl.COMMON_PARAMS
        epochs = w.epochs if epochs is None else epochs
        dtype = self._dtype(w.dtype)
        gen = torch.Generator().manual_seed(p["random_state"])
        shapes = wl.workload_shapes(w, X, y)
        n_out = shapes[-1][1]
        Xt = torch.from_numpy(X)
        classes = None
        if w.is_classifier:
            classes, yi = np.unique(y, return_inverse=True)
            if n_out == 1:
                yt = torch.from_numpy(yi.astype(X.dtype)).reshape(-1, 1)
                loss_fn = torch.nn.BCEWithLogitsLoss()
            else:
                yt = torch.from_numpy(yi.astype(np.int64))
                loss_fn = torch.nn.CrossEntropyLoss()  # softmax + log-loss, mean over batch
        else:
            yt = torch.from_numpy(np.ascontiguousarray(y.reshape(len(y), -1), dtype=X.dtype))

            def loss_fn(out, target):  # scikit-learn's gradient: 0.5 * sum over outputs, batch mean
                return 0.5 * (out - target).pow(2).sum(dim=1).mean()

        model = self._model(shapes, w.activation, dtype, gen)
        weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
        opt = torch.optim.Adam(model.parameters(), lr=p["learning_rate_init"],
                               betas=(p["beta_1"], p["beta_2"]), eps=p["epsilon"])
        alpha = p["alpha"]
        n = X.shape[0]
        bs = min(w.batch_size, n)
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen) if p["shuffle"] else torch.arange(n)
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                out = model(Xt[idx])
                loss = loss_fn(out, yt[idx])
                # scikit-learn's L2: + 0.5*alpha*||W||^2 / n_batch, weights only (no biases)
                l2 = sum((W * W).sum() for W in weights)
                loss = loss + (0.5 * alpha / idx.shape[0]) * l2
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return model, classes

    def _forward(self, model, X):
        with self.torch.no_grad():
            return model(self.torch.from_numpy(X))

    def score(self, fitted, w, X, y) -> float:
        model, classes = fitted
        out = self._forward(model, X).numpy()
        if w.is_classifier:
            idx = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
            return float(np.mean(classes[idx] == y))
        from sklearn.metrics import r2_score

        return float(r2_score(y, out.reshape(y.shape)))

    def predict_model(self, ref_coefs, ref_intercepts, w, X_fit, y_fit):
        if ref_coefs is None:
            raise RuntimeError("torch predict-wide needs the weights of jitmlp or scikit-learn")
        shapes = [c.shape for c in ref_coefs]
        return self._model(shapes, w.activation, self._dtype(w.dtype),
                           coefs=ref_coefs, intercepts=ref_intercepts).eval()

    def predict_proba(self, model, X):
        with self.torch.no_grad():
            return self.torch.softmax(model(self.torch.from_numpy(X)), dim=1).numpy()


def load_libs(requested):
    libs, missing = [], {}
    for name in requested:
        try:
            libs.append(TorchLib() if name == "torch" else EstimatorLib(name))
        except Exception as exc:  # ImportError, or a package that is half written
            missing[name] = f"{type(exc).__name__}: {exc}"
    return libs, missing


# --------------------------------------------------------------------------------------------
# roof: numpy matmul GFLOP/s at the workload's shapes
# --------------------------------------------------------------------------------------------

def matmul_roof(shapes, batch, dtype, *, training=True, min_time=0.2, repeats=5):
    """GFLOP/s of numpy ``@`` on the products of one batch through every layer.

    Training: forward ``H @ W``, weight gradient ``H.T @ D`` and input gradient ``D @ W.T`` for
    each layer, except the first layer's input gradient (the FLOP count of
    :func:`workloads.train_flops_per_sample`). Prediction: forward products only.
    """
    rng = np.random.default_rng(0)
    ops = []
    for k, (n_in, n_out) in enumerate(shapes):
        H = rng.standard_normal((batch, n_in)).astype(dtype)
        W = rng.standard_normal((n_in, n_out)).astype(dtype)
        ops.append((H, W, np.empty((batch, n_out), dtype)))
        if training:
            D = rng.standard_normal((batch, n_out)).astype(dtype)
            ops.append((H.T, D, np.empty((n_in, n_out), dtype)))
            if k > 0:
                ops.append((D, W.T, np.empty((batch, n_in), dtype)))
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b, _ in ops)

    def run(n):
        t0 = time.perf_counter()
        for _ in range(n):
            for a, b, out in ops:
                np.matmul(a, b, out=out)
        return time.perf_counter() - t0

    run(1)
    n = 1
    while (t := run(n)) < min_time and n < 1 << 20:
        n *= 2
    best = min([t] + [run(n) for _ in range(repeats - 1)])
    return flops * n / best / 1e9


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------

def _try(label, func, *args):
    try:
        return func(*args), None
    except Exception as exc:
        print(f"    !! {label}: {type(exc).__name__}: {exc}", flush=True)
        if os.environ.get("COMPARE_TRACEBACK"):
            traceback.print_exc()
        return None, f"{type(exc).__name__}: {exc}"


def _print_run(r, times):
    done = "  ".join(f"{n}={ts[-1]:.3f}s" for n, ts in times.items() if len(ts) == r + 1)
    print(f"    run {r + 1}: {done}", flush=True)


# Pause before each timed run: OpenBLAS and OpenMP worker threads busy-wait for a while after a
# library's last parallel call, and would otherwise steal a core from whichever library runs next.
COOLDOWN_S = 3.0


def _timed(func, *args):
    time.sleep(COOLDOWN_S)
    t0 = time.perf_counter()
    out = func(*args)
    return time.perf_counter() - t0, out


def run_training(w, libs, reps):
    X, y = wl.load_data(w.name)
    shapes = wl.workload_shapes(w, X, y)
    flops = wl.train_flops_per_sample(shapes) * X.shape[0] * w.epochs
    res = {"workload": w.name, "kind": "fit", "n_samples": X.shape[0], "epochs": w.epochs,
           "dtype": np.dtype(w.dtype).name, "shapes": shapes, "gflop": flops / 1e9,
           "times": {}, "median": {}, "score": {}, "gflops": {}, "errors": {}}
    print(f"\n== {w.name}: {X.shape[0]} x {X.shape[1]} {np.dtype(w.dtype).name}, "
          f"hidden={w.hidden_layer_sizes} {w.activation}, batch={w.batch_size}, "
          f"epochs={w.epochs}, {flops / 1e9:.2f} GFLOP per fit", flush=True)

    active = []
    for lib in libs:
        t, err = _try(f"{lib.name} warm-up", _timed, lib.fit, w, X, y, min(1, w.epochs))
        if err:
            res["errors"][lib.name] = err
        else:
            print(f"    warm-up {lib.name:7s} {t[0]:8.3f} s (1 epoch)", flush=True)
            active.append(lib)

    res["roof_gflops"] = matmul_roof(shapes, min(w.batch_size, X.shape[0]), w.dtype)
    print(f"    numpy matmul roof at these shapes: {res['roof_gflops']:.1f} GFLOP/s", flush=True)

    models = {}
    for r in range(reps):
        for lib in list(active):
            out, err = _try(f"{lib.name} run {r + 1}", _timed, lib.fit, w, X, y)
            if err:
                res["errors"][lib.name] = err
                active.remove(lib)
                continue
            res["times"].setdefault(lib.name, []).append(out[0])
            models[lib.name] = out[1]
        _print_run(r, res["times"])

    for lib in active:
        name = lib.name
        med = statistics.median(res["times"][name])
        res["median"][name] = med
        res["gflops"][name] = flops / med / 1e9
        score, err = _try(f"{name} score", lib.score, models[name], w, X, y)
        res["score"][name] = score
    return res


def run_predict(libs, reps):
    w = wl.PREDICT_WIDE
    X_fit, y_fit, X = wl.load_predict_data()
    shapes = wl.layer_shapes(X.shape[1], w.hidden_layer_sizes, w.n_classes)
    flops = wl.predict_flops_per_sample(shapes) * X.shape[0]
    res = {"workload": w.name, "kind": "predict_proba", "n_samples": X.shape[0], "epochs": None,
           "dtype": np.dtype(w.dtype).name, "shapes": shapes, "gflop": flops / 1e9,
           "times": {}, "median": {}, "score": {}, "gflops": {}, "errors": {}}
    print(f"\n== {w.name}: predict_proba of {X.shape[0]} x {X.shape[1]} float32 rows, "
          f"hidden={w.hidden_layer_sizes} {w.activation} (fitted {w.fit_epochs} epoch on "
          f"{w.fit_rows} rows), {flops / 1e9:.2f} GFLOP per call", flush=True)

    # one set of weights for everybody: jitmlp's if it fits, else scikit-learn's
    ref_coefs = ref_intercepts = None
    ref_name = None
    models = {}
    order = sorted(libs, key=lambda lib: ["jitmlp", "sklearn", "torch"].index(lib.name))
    for lib in order:
        m, err = _try(f"{lib.name} fit", lib.predict_model, ref_coefs, ref_intercepts, w,
                      X_fit, y_fit)
        if err:
            res["errors"][lib.name] = err
            continue
        models[lib.name] = m
        if ref_coefs is None and lib.name != "torch":
            ref_coefs = [np.asarray(c) for c in m.coefs_]
            ref_intercepts = [np.asarray(b) for b in m.intercepts_]
            ref_name = lib.name
    res["reference"] = ref_name

    active = []
    outputs = {}
    for lib in libs:
        if lib.name not in models:
            continue
        t, err = _try(f"{lib.name} warm-up", _timed, lib.predict_proba, models[lib.name], X)
        if err:
            res["errors"][lib.name] = err
            continue
        print(f"    warm-up {lib.name:7s} {t[0]:8.3f} s", flush=True)
        outputs[lib.name] = t[1]
        active.append(lib)

    res["roof_gflops"] = matmul_roof(shapes, X.shape[0], w.dtype, training=False, repeats=3)
    print(f"    numpy matmul roof at these shapes: {res['roof_gflops']:.1f} GFLOP/s", flush=True)

    for r in range(reps):
        for lib in list(active):
            out, err = _try(f"{lib.name} run {r + 1}", _timed, lib.predict_proba,
                            models[lib.name], X)
            if err:
                res["errors"][lib.name] = err
                active.remove(lib)
                continue
            res["times"].setdefault(lib.name, []).append(out[0])
        _print_run(r, res["times"])

    ref_out = outputs.get(ref_name)
    for lib in active:
        med = statistics.median(res["times"][lib.name])
        res["median"][lib.name] = med
        res["gflops"][lib.name] = flops / med / 1e9
        if ref_out is not None:
            res["score"][lib.name] = float(np.max(np.abs(
                outputs[lib.name].astype(np.float64) - ref_out)))
    return res


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

def _f(x, fmt):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt % x


def markdown_table(results, lib_names):
    libs = [n for n in ALL_LIBS if n in lib_names]
    head = (["workload"] + [f"{n} s" for n in libs]
            + [f"{n}/jitmlp" for n in libs if n != "jitmlp"]
            + ["jitmlp GFLOP/s", "numpy roof GFLOP/s", "jitmlp % roof"]
            + [f"{n} score" for n in libs])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        med = r["median"]
        jit = med.get("jitmlp")
        row = [r["workload"]]
        row += [_f(med.get(n), "%.3f") for n in libs]
        row += [_f(med[n] / jit if (n in med and jit) else None, "%.2f")
                for n in libs if n != "jitmlp"]
        g = r["gflops"].get("jitmlp")
        row += [_f(g, "%.1f"), _f(r.get("roof_gflops"), "%.1f"),
                _f(100 * g / r["roof_gflops"] if g and r.get("roof_gflops") else None, "%.0f%%")]
        for n in libs:
            s = r["score"].get(n)
            row.append(_f(s, "Δp %.1e") if r["kind"] == "predict_proba" else _f(s, "%.4f"))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def environment_report(libs, missing):
    import numba
    import sklearn

    info = {
        "python": platform.python_version(), "machine": platform.machine(),
        "processor": _cpu_name(), "cores": N_CORES,
        "numpy": np.__version__, "sklearn": sklearn.__version__, "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "libs": [lib.name for lib in libs], "missing": missing,
        "loadavg_at_start": _loadavg(),
        "cpu_busy_at_start": _cpu_busy(),
    }
    for lib in libs:
        if lib.name == "torch":
            info["torch"] = lib.torch.__version__
            info["torch_threads"] = lib.torch.get_num_threads()
        elif lib.name == "jitmlp":
            mod = sys.modules["jitmlp"]
            info["jitmlp"] = f"{getattr(mod, '__version__', '?')} ({Path(mod.__file__).parent})"
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [f"{p.get('internal_api')} {p.get('version')} "
                        f"{p.get('architecture', '')} threads={p.get('num_threads')}"
                        for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        pass
    return info


def _cpu_busy(seconds=0.5):
    """Fraction of the machine's CPU time used by other processes over ``seconds`` (we sleep).

    Read from /proc/stat; None where it does not exist.
    """
    import resource

    hz = os.sysconf("SC_CLK_TCK")

    def sample():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
        own = resource.getrusage(resource.RUSAGE_SELF)  # our threads (spinning pools) excluded
        return sum(vals[:8]), idle, (own.ru_utime + own.ru_stime) * hz

    try:
        t0, i0, o0 = sample()
        time.sleep(seconds)
        t1, i1, o1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = max(t1 - t0, 1)
    return round(max(0.0, (total - (i1 - i0) - (o1 - o0)) / total), 3)


def _loadavg():
    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:
        return None


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="workloads: " + ", ".join(wl.ALL_NAMES))
    ap.add_argument("--reps", type=int, default=3,
                    help="timed runs per library and workload; the median is reported (default 3)")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="run only these workloads (repeatable, or a comma separated list)")
    ap.add_argument("--libs", default=",".join(ALL_LIBS),
                    help=f"comma separated subset of {','.join(ALL_LIBS)} "
                    "(default: all that import)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args(argv)

    if args.list:
        for w in wl.WORKLOADS.values():
            print(f"{w.name:16s} {w.description}; hidden={w.hidden_layer_sizes} {w.activation} "
                  f"batch={w.batch_size} epochs={w.epochs} {np.dtype(w.dtype).name} {w.task}")
        print(f"{wl.PREDICT_WIDE.name:16s} {wl.PREDICT_WIDE.description}")
        return 0

    names = list(wl.ALL_NAMES)
    if args.only:
        names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
        unknown = [n for n in names if n not in wl.ALL_NAMES]
        if unknown:
            ap.error(f"unknown workload(s) {unknown}; choose from {list(wl.ALL_NAMES)}")
    requested = [n.strip() for n in args.libs.split(",") if n.strip()]
    bad = [n for n in requested if n not in ALL_LIBS]
    if bad:
        ap.error(f"unknown library(ies) {bad}; choose from {list(ALL_LIBS)}")
    if args.reps < 1:
        ap.error("--reps must be >= 1")

    libs, missing = load_libs(requested)
    info = environment_report(libs, missing)
    print("# jitmlp vs scikit-learn vs PyTorch CPU")
    for k, v in info.items():
        print(f"  {k}: {v}")
    if info["OPENBLAS_CORETYPE"]:
        print("  NOTE: OPENBLAS_CORETYPE is set, numpy's BLAS (the roof and scikit-learn) runs an "
              "older kernel; for real figures run\n"
              "        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/compare.py")
    busy = info["cpu_busy_at_start"]
    if busy is not None and busy > BUSY_WARN:
        print(f"  WARNING: other processes use {100 * busy:.0f}% of the {N_CORES} cores; timings "
              "(PyTorch's and numba's spinning threads above all) will be noisy")
    if not libs:
        print("no library available", file=sys.stderr)
        return 1
    if args.reps < 3:
        print(f"  NOTE: --reps {args.reps}: a median of fewer than 3 runs is a rough figure")

    results = []
    t_start = time.perf_counter()
    for name in names:
        busy = _cpu_busy()
        if name == wl.PREDICT_WIDE.name:
            res = run_predict(libs, args.reps)
        else:
            res = run_training(wl.WORKLOADS[name], libs, args.reps)
        res["cpu_busy_before"] = busy
        if busy is not None and busy > BUSY_WARN:
            print(f"    (other processes used {100 * busy:.0f}% of the cores just before)")
        results.append(res)

    lib_names = [lib.name for lib in libs]
    print(f"\n## Results (median of {args.reps} interleaved run(s); "
          f"{N_CORES} threads per library; total {time.perf_counter() - t_start:.0f} s)\n")
    print(markdown_table(results, lib_names))
    ref = next((r["reference"] for r in results if r.get("reference")), None)
    print("\nTimes are seconds per fit (per predict_proba call for predict-wide); X/jitmlp > 1 "
          "means jitmlp is faster. GFLOP/s counts 6*sum|W| - 2*|W_1| FLOPs per sample and epoch "
          "(2*sum|W| for prediction); the roof is numpy `@` on the same products at the same "
          "batch and dtype, measured in this run. Score: training accuracy (R^2 for regression)"
          + (f"; for predict-wide the max |p - p_{ref}| over all probabilities, every library "
             "running the same weights." if ref else "."))
    noisy = [f"{r['workload']} ({100 * r['cpu_busy_before']:.0f}%)" for r in results
             if r.get("cpu_busy_before") is not None and r["cpu_busy_before"] > BUSY_WARN]
    if noisy:
        print("\nWARNING: other processes were busy before: " + ", ".join(noisy)
              + "; rerun those on an idle machine")
    errors = {(r["workload"], n): e for r in results for n, e in r["errors"].items()}
    if errors:
        print("\nFailures:")
        for (wname, lib), e in errors.items():
            print(f"  {wname} / {lib}: {e}")
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": info, "reps": args.reps,
                                               "results": results}, indent=1, default=str))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
