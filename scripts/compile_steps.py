"""Cold-compile steps as a newcomer meets them.

Each step runs in a fresh process; one empty NUMBA_CACHE_DIR is carried from step to step, as
the cache on disk is between a user's sessions. Prints a markdown row per step: the seconds in
the call (and the CPU seconds of its thread, which compiles: the figure to compare where the
machine is busy), then of the whole process.

    python scripts/compile_steps.py .                        # this checkout
    python scripts/compile_steps.py /path/to/other/checkout  # another one, for a before/after
"""

import os
import subprocess
import sys
import tempfile
import time

PRELUDE = """
import pickle, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
import numpy as np, scipy.sparse as sp
from sklearn.datasets import load_digits
from jitmlp import MLPClassifier, MLPRegressor
X, y = load_digits(return_X_y=True)
X = X / 16
MODEL = {model!r}
"""
FIT = "MLPClassifier(max_iter=1, random_state=0)"
STEPS = [
    ("first MLPClassifier().fit on digits (float64, 1 epoch)",
     f"m = {FIT}; t = time.perf_counter(); m.fit(X, y); pickle.dump(m, open(MODEL, 'wb'))"),
    ("the same fit again, new process", f"m = {FIT}; t = time.perf_counter(); m.fit(X, y)"),
    ("predict_proba of that pickled model, new process",
     "m = pickle.load(open(MODEL, 'rb')); t = time.perf_counter(); m.predict_proba(X)"),
    ("float32 fit", f"t = time.perf_counter(); {FIT}.fit(X.astype(np.float32), y)"),
    ("read-only X",
     f"X.flags.writeable = False; t = time.perf_counter(); {FIT}.fit(X, y)"),
    ("MLPRegressor fit",
     "t = time.perf_counter(); MLPRegressor(max_iter=1).fit(X, y.astype(float))"),
    ("lbfgs fit",
     "t = time.perf_counter(); MLPClassifier(solver='lbfgs', max_iter=2).fit(X, y)"),
    ("Fortran X", f"t = time.perf_counter(); {FIT}.fit(np.asfortranarray(X), y)"),
    ("sparse CSR fit + predict",
     f"t = time.perf_counter(); {FIT}.fit(sp.csr_matrix(X), y).predict(sp.csr_matrix(X))"),
    ("sgd + tanh + early stopping",
     "t = time.perf_counter(); MLPClassifier(solver='sgd', activation='tanh', "
     "early_stopping=True, max_iter=2).fit(X, y)"),
    ("predict_proba, new process, after all of the above",
     "m = pickle.load(open(MODEL, 'rb')); t = time.perf_counter(); m.predict_proba(X)"),
]
REPORT = "\nprint(f'{time.perf_counter() - t:.2f} {time.thread_time() - c:.2f}')"


def main(repo: str) -> None:
    cache = tempfile.mkdtemp(prefix="compile-steps-")
    prelude = PRELUDE.format(model=os.path.join(cache, "model.pkl"))
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=repo)
    for name, code in STEPS:
        code = code.replace("t = time.perf_counter()",
                            "t = time.perf_counter(); c = time.thread_time()")
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", prelude + code + REPORT], env=env, cwd=repo,
                             capture_output=True, text=True)
        wall = time.perf_counter() - start
        if out.returncode:
            print(f"| {name} | failed: {out.stderr[-300:]} |")
        else:
            call, cpu = out.stdout.split()[-2:]
            print(f"| {name} | {call} s ({cpu} s CPU) / {wall:.1f} s |", flush=True)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "."))
