"""Training speed of jitmlp on every workload of the suite.

``scripts/compare.py`` times scikit-learn and PyTorch on the same workloads; this suite tracks
jitmlp itself from commit to commit.
"""

import time

from . import workloads as wl


def _require_jitmlp():
    try:
        wl.import_jitmlp()
    except ImportError as exc:  # asv reports a benchmark whose setup raises this as skipped
        raise NotImplementedError(f"jitmlp is not importable: {exc}") from exc


class Fit:
    """``fit`` of jitmlp, one parameter per workload (full epochs, every core)."""

    params = [list(wl.WORKLOADS)]
    param_names = ["workload"]
    number = 1
    repeat = (1, 3, 60.0)
    rounds = 1
    warmup_time = 0.0  # setup does the warm-up fit
    timeout = 600

    def setup_cache(self):
        # runs once, in its own process: writes the generated data to the on-disk cache
        for name in wl.WORKLOADS:
            wl.load_data(name, disk_cache=True)
        return str(wl.DATA_CACHE_DIR)  # not None: asv passes it to setup and benchmarks

    def setup(self, _cache, name):
        _require_jitmlp()
        self.workload = wl.WORKLOADS[name]
        self.X, self.y = wl.load_data(name, disk_cache=True)
        # warm-up: one epoch absorbs numba compilation (or loading numba's on-disk cache)
        wl.fit_quietly(wl.make_estimator("jitmlp", self.workload, epochs=1), self.X, self.y)

    def time_fit(self, _cache, name):
        wl.fit_quietly(wl.make_estimator("jitmlp", self.workload), self.X, self.y)

    def track_samples_per_second(self, _cache, name):
        est = wl.make_estimator("jitmlp", self.workload)
        t0 = time.perf_counter()
        wl.fit_quietly(est, self.X, self.y)
        rate = self.X.shape[0] * self.workload.epochs / (time.perf_counter() - t0)
        return float(f"{rate:.4g}")

    track_samples_per_second.unit = "samples/s"
