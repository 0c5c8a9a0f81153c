"""No out-of-bounds access in compiled code: the parity and fuzz tests with bounds checking on.

jitmlp's kernels are compiled without bounds checks, so a wrong index would be a silent memory
corruption or a segfault. ``NUMBA_BOUNDSCHECK=1`` makes every array index in every kernel checked
(an IndexError instead). The kernels are compiled again for it, in a subprocess with a numba cache
of its own (the checked code must neither come from nor go into the ordinary cache). Not checked:
the explicit SIMD loads and stores of ``_simd.py``, which are LLVM vector IR on raw pointers.

Cold compile of every kernel with the checks, then the parity tests and the fuzz test as CI runs
it (JITMLP_FUZZ_EXAMPLES passes through); its cost is in docs/testing.md ("Bounds checking").
numba applies NUMBA_BOUNDSCHECK in its lowering context to every function it compiles, whatever
the function's own ``boundscheck`` option, so jitmlp's kernels are checked too.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import jitmlp

CHILD = """
import sys
import numba
import numpy as np
import pytest

# the environment variable really is in force, and an index out of bounds raises
assert numba.config.BOUNDSCHECK == 1, numba.config.BOUNDSCHECK

@numba.njit
def _past_the_end(a):
    return a[a.shape[0]]

try:
    _past_the_end(np.zeros(3))
except IndexError:
    pass
else:
    raise SystemExit("NUMBA_BOUNDSCHECK=1 did not make an out-of-bounds index raise")
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-W", "ignore",
                      "tests/test_parity.py", "tests/test_fuzz.py"]))
"""


# Slow on purpose (a cold compile of every kernel, with checks): 63-72 s here. Opt-in: with it,
# the warm suite took 4 min 6 s on a fresh clone, over the 3 minutes the suite is held to
# (docs/testing.md, "Bounds checking"); JITMLP_BOUNDSCHECK=1 runs it.
@pytest.mark.cold_compile
@pytest.mark.skipif(os.environ.get("JITMLP_BOUNDSCHECK") != "1",
                    reason="bounds-checked run is opt-in: set JITMLP_BOUNDSCHECK=1 (about 70 s)")
def test_parity_and_fuzz_pass_with_bounds_checking(tmp_path):
    source_root = Path(jitmlp.__file__).resolve().parents[1]
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"),
               PYTHONPATH=os.pathsep.join([str(source_root), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=source_root, env=env,
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, (out.stdout[-6000:], out.stderr[-4000:])
    assert " passed" in out.stdout and "failed" not in out.stdout, out.stdout[-3000:]
