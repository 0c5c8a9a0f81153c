"""A kernel loaded from numba's on-disk cache runs in a fresh process, whatever was cached when.

numba's cache does not record, for a serial kernel compiled in a process where the parallel
kernel it calls was itself loaded from the cache, that loading it must start numba's thread pool
(numba issues #8578 and #9938). Run first in a later process, such a kernel crashes the
interpreter (seen with jitmlp's own ``_layers.matmul`` called directly, exit -11). jitmlp's
estimators run every kernel inside ``_threads.numba_threads``, which sets numba's thread count
and so starts the pool first. This test builds exactly that cache history with two small kernels
compiled with jitmlp's options and runs the serial one first in a third process, inside
``numba_threads``. (Starting the pool when jitmlp is imported was measured to slow PyTorch's
training 7-9x when torch is imported afterwards in the same process, so it is not done.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

MODULE = textwrap.dedent(
    """
    from numba import prange

    from jitmlp._config import jit, jit_parallel


    @jit_parallel
    def add_one(x):
        for i in prange(x.shape[0]):
            x[i] += 1.0


    @jit
    def add_one_serially_called(x):
        add_one(x)
    """
)

STEPS = [
    # 1: the parallel kernel is compiled and cached
    "import numpy as np, kernels; x = np.zeros(4); kernels.add_one(x); print(x.sum())",
    # 2: it is loaded from the cache; the serial caller is compiled (and cached) in that process
    "import numpy as np, kernels; x = np.zeros(4); kernels.add_one(x); "
    "kernels.add_one_serially_called(x); print(x.sum())",
    # 3: the serial caller, loaded from the cache, runs first, as the estimators run kernels
    "import numpy as np, kernels; from jitmlp._threads import numba_threads; "
    "x = np.zeros(4)\nwith numba_threads(None): kernels.add_one_serially_called(x)\n"
    "print(x.sum())",
]


def _run_steps(directory, popen):
    """The three processes in turn, with a cache of their own in ``directory``; started beside
    the other tests (tests/conftest.py, ``background``). (returncode, stdout, stderr) of each,
    and the names of the cached files."""
    (directory / "kernels.py").write_text(MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(directory / "cache"),
               PYTHONPATH=os.pathsep.join([str(directory), os.environ.get("PYTHONPATH", "")]))
    results = []
    for step in STEPS:
        process = popen([sys.executable, "-c", step], env=env, text=True,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate(timeout=300)
        results.append((process.returncode, out, err))
    cached = [name for _, _, names in os.walk(directory / "cache") for name in names]
    return results, cached


@pytest.mark.background(start=_run_steps)
def test_cached_caller_of_parallel_kernel_runs_first_in_fresh_process(background_run):
    results, cached = background_run
    expected = ["4.0", "8.0", "4.0"]
    for step, want, (returncode, out, err) in zip(STEPS, expected, results, strict=True):
        assert returncode == 0, (step, returncode, err[-2000:])
        assert out.strip().splitlines()[-1] == want
    assert any(name.startswith("kernels.add_one_serially_called") for name in cached), cached


KEPT_ACTIVATIONS = textwrap.dedent(
    """
    import json, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from jitmlp import MLPClassifier, _activations
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 4)), np.arange(30) % 3
    stats = {}
    for name in ("softplus", "elu", "silu", "gelu"):
        MLPClassifier((4,), activation=name, max_iter=2, random_state=0).fit(X, y)
        for kernel in _activations.KERNELS[_activations.ACTIVATIONS[name]]:
            s = kernel.stats
            stats[name + " " + kernel.py_func.__name__] = [sum(s.cache_hits.values()),
                                                           sum(s.cache_misses.values())]
    print(json.dumps(stats))
    """
)


def _kept_activations_twice(directory, popen):
    """Two fresh processes in turn, each fitting with the four activations whose g' is kept,
    with the suite's cache: (returncode, stdout, stderr) of each."""
    results = []
    for _ in range(2):
        process = popen([sys.executable, "-c", KEPT_ACTIVATIONS], text=True,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate(timeout=300)
        results.append((process.returncode, out, err))
    return results


@pytest.mark.background(start=_kept_activations_twice)
def test_kept_activation_kernels_load_from_the_cache_in_a_fresh_process(background_run):
    """The kernels of softplus, elu, silu and gelu are loaded from numba's cache by a later
    process, not compiled again (their closures hold plain values: numba's cache key pickles
    them, and a compiled function in a closure made the key differ in every process)."""
    for returncode, _, err in background_run:
        assert returncode == 0, err[-2000:]
    second = json.loads(background_run[1][1].strip().splitlines()[-1])
    assert len(second) == 8
    assert all(hits == 1 and misses == 0 for hits, misses in second.values()), second
