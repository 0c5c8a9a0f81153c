"""Prediction throughput of jitmlp: ``predict_proba`` through the wide (512, 256) network."""

import time

from . import workloads as wl
from .bench_fit import _require_jitmlp


class PredictProba:
    """``predict_proba`` of 100,000 x 784 float32 rows (the ``predict-wide`` workload)."""

    number = 1
    repeat = (1, 5, 30.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 300

    def setup_cache(self):
        wl.load_predict_data(disk_cache=True)
        return str(wl.DATA_CACHE_DIR)  # not None: asv passes it to setup and benchmarks

    def setup(self, _cache):
        _require_jitmlp()
        X_fit, y_fit, self.X = wl.load_predict_data(disk_cache=True)
        self.model = wl.fit_quietly(wl.make_estimator("jitmlp", wl.PREDICT_WIDE), X_fit, y_fit)
        self.model.predict_proba(self.X)  # warm-up: compilation and first-touch memory

    def time_predict_proba(self, _cache):
        self.model.predict_proba(self.X)

    def track_rows_per_second(self, _cache):
        t0 = time.perf_counter()
        self.model.predict_proba(self.X)
        rate = self.X.shape[0] / (time.perf_counter() - t0)
        return float(f"{rate:.4g}")

    track_rows_per_second.unit = "rows/s"


class PredictFewRows:
    """Serving latency: ``predict_proba`` and ``predict`` of 1 and 10 rows of digits (a fitted
    (100,) network), jitmlp beside scikit-learn: per-call overhead, not arithmetic."""

    params = (["jitmlp", "sklearn"], [1, 10])
    param_names = ["library", "rows"]

    def setup(self, library, rows):
        import warnings

        from sklearn.datasets import load_digits
        from sklearn.exceptions import ConvergenceWarning

        if library == "jitmlp":
            _require_jitmlp()
            from jitmlp import MLPClassifier
        else:
            from sklearn.neural_network import MLPClassifier
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model = MLPClassifier(max_iter=20, random_state=0).fit(X, y)
        self.X = X[:rows].copy()
        self.model.predict_proba(self.X)  # warm-up: compilation or loading

    def time_predict_proba(self, library, rows):
        self.model.predict_proba(self.X)

    def time_predict(self, library, rows):
        self.model.predict(self.X)
