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

import os
import subprocess
import sys
import textwrap

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


def test_cached_caller_of_parallel_kernel_runs_first_in_fresh_process(tmp_path):
    (tmp_path / "kernels.py").write_text(MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    expected = ["4.0", "8.0", "4.0"]
    for step, want in zip(STEPS, expected):
        out = subprocess.run([sys.executable, "-c", step], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, (step, out.returncode, out.stderr[-2000:])
        assert out.stdout.strip().splitlines()[-1] == want
    cached = [name for _, _, names in os.walk(tmp_path / "cache") for name in names]
    assert any(name.startswith("kernels.add_one_serially_called") for name in cached), cached
