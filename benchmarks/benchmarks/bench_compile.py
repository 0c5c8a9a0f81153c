"""Compile time of jitmlp: the first fit of a fresh Python process, cold and warm.

numba compiles jitmlp's kernels at the first fit and caches them on disk (``cache=True``); a
later process only loads them. Both are what a user meets before the first result, so both are
tracked as the wall time of a whole fresh process (``python -c SCRIPT``: interpreter start,
imports, the digits data, the fit, ``predict_proba``), and a compile-time regression shows in
``asv compare`` as a slower epoch does.

SCRIPT is the first result of the main job (``python -m jitmlp``): a one-epoch adam fit of a
(100,) network on ``load_digits()`` X/16 (float64), then ``predict_proba`` on the same rows.
The child process gets the benchmark process's environment plus ``NUMBA_CACHE_DIR`` (numba's
cache goes there instead of the package's ``__pycache__``) and the folder holding the benchmark
process's ``jitmlp`` first on ``PYTHONPATH``, and checks that it imported that same jitmlp.

With ``--show-stderr`` each run also prints the child's own in-process times (import, fit,
predict), which are not tracked.
"""

import os
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bench_fit import _require_jitmlp

#: The timed child process. Prints one line ``JITMLP_FIRST_FIT <jitmlp file> <import s> <fit s>
#: <predict s>`` for the parent to check and report.
SCRIPT = """\
import time
t0 = time.perf_counter()
import warnings
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
import jitmlp
t1 = time.perf_counter()
X, y = load_digits(return_X_y=True)
X = X / 16.0
clf = jitmlp.MLPClassifier(hidden_layer_sizes=(100,), solver="adam", batch_size=200,
                           max_iter=1, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=1 on purpose
    clf.fit(X, y)
t2 = time.perf_counter()
clf.predict_proba(X)
t3 = time.perf_counter()
print("JITMLP_FIRST_FIT", jitmlp.__file__, t1 - t0, t2 - t1, t3 - t2)
"""

MARKER = "JITMLP_FIRST_FIT"


def _jitmlp_file() -> str:
    """``__file__`` of the jitmlp the benchmark process imports (NotImplementedError if none)."""
    _require_jitmlp()
    return sys.modules["jitmlp"].__file__


def _run_first_fit(numba_cache_dir: str, jitmlp_file: str) -> float:
    """Wall seconds of a fresh ``python -c SCRIPT`` caching numba's kernels in the given folder."""
    env = dict(os.environ, NUMBA_CACHE_DIR=numba_cache_dir)
    # the child must import the same jitmlp as this process (asv puts ASV_PYTHONPATH on sys.path,
    # which a child does not inherit): the folder holding the package goes first on PYTHONPATH,
    # unless it is a site-packages folder (an installed jitmlp), which the child has anyway
    root = str(Path(jitmlp_file).resolve().parent.parent)
    if root not in {str(Path(p).resolve()) for p in site.getsitepackages()}:
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"first-fit process failed ({proc.returncode}):\n{proc.stderr}")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"first-fit process printed no result:\n{proc.stdout}\n{proc.stderr}")
    child_file, t_import, t_fit, t_predict = line.split()[1:]
    if Path(child_file).resolve() != Path(jitmlp_file).resolve():
        raise RuntimeError(f"the child imported {child_file}, this process {jitmlp_file}")
    print(f"process {seconds:.2f} s; in the process: import {float(t_import):.2f} s, "
          f"fit {float(t_fit):.2f} s, predict_proba {float(t_predict):.3f} s ({child_file})",
          file=sys.stderr)
    return seconds


class ColdFirstFit:
    """A fresh process with an empty numba cache: compiles every kernel the first fit needs."""

    number = 1  # number and repeat matter to time_ benchmarks only: a track_ runs once a round
    repeat = 1
    rounds = 1  # ~25 s of compiling per sample on 2 cores
    timeout = 600

    def setup(self):
        self.jitmlp_file = _jitmlp_file()

    def track_cold_first_fit(self):
        with tempfile.TemporaryDirectory(prefix="jitmlp-cold-numba-cache-") as cache:
            return _run_first_fit(cache, self.jitmlp_file)

    track_cold_first_fit.unit = "seconds"


class WarmFirstFit:
    """A fresh process whose numba cache setup_cache filled: import + loading the kernels."""

    number = 1
    repeat = 1
    rounds = 2
    timeout = 600

    def setup_cache(self):
        # runs once, in asv's temporary folder (the working directory of this class's
        # benchmarks, removed after them): one cold run fills a numba cache kept there
        try:
            jitmlp_file = _jitmlp_file()
        except NotImplementedError:
            return ""  # setup skips the benchmark
        cache = os.path.abspath("numba-cache")
        os.makedirs(cache, exist_ok=True)
        _run_first_fit(cache, jitmlp_file)
        return cache

    def setup(self, cache):
        self.jitmlp_file = _jitmlp_file()

    def track_warm_import_and_first_fit(self, cache):
        return _run_first_fit(cache, self.jitmlp_file)

    track_warm_import_and_first_fit.unit = "seconds"
