"""Peak memory of a fit on mnist-shape-f64, jitmlp next to scikit-learn.

asv's ``peakmem`` is the maximum resident set size of the whole benchmark process: it includes
the imports and the 60,000 x 784 float64 data (~376 MB). So that the two parameters differ only
by the fit, setup gives both processes the same baseline: both libraries imported and jitmlp's
compiled kernels loaded (a one-epoch fit on 300 rows). Compare the two libraries with each other,
not with zero.
"""

from . import workloads as wl

WORKLOAD = "mnist-shape-f64"


class PeakMemFit:
    params = [list(wl.LIBRARIES)]
    param_names = ["library"]
    rounds = 1
    timeout = 600

    def setup_cache(self):
        # generate the data in a separate process, so that generating it never sets the peak
        wl.load_data(WORKLOAD, disk_cache=True)
        return str(wl.DATA_CACHE_DIR)  # not None: asv passes it to setup and benchmarks

    def setup(self, _cache, library):
        try:
            wl.estimator_class(library, "classification")
        except ImportError as exc:
            raise NotImplementedError(f"{library} is not importable: {exc}") from exc
        self.workload = wl.WORKLOADS[WORKLOAD]
        self.X, self.y = wl.load_data(WORKLOAD, disk_cache=True)
        # same baseline for both libraries: both imported, jitmlp's kernels loaded
        for name in wl.LIBRARIES:
            try:
                warm = wl.make_estimator(name, self.workload, epochs=1)
            except ImportError:
                continue
            if name == "jitmlp":
                wl.fit_quietly(warm, self.X[:300], self.y[:300])

    def peakmem_fit(self, _cache, library):
        wl.fit_quietly(wl.make_estimator(library, self.workload), self.X, self.y)
