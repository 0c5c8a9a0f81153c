"""The layer products give the same bits with 256-bit vectors and 2-vector tiles (code for a CPU
without AVX-512) as in this process, whatever width it runs with.

``_config`` picks the SIMD width and the tile width from the CPU numba compiles for. A second
process compiles for Haswell (AVX2, FMA, no AVX-512: ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``)
and computes the same products; every element is the same FMA chain over k in both, so the
results must be equal bit for bit.

The second process uses numba's ordinary cache: numba keys each cached overload by the CPU name
and features it was compiled for (``Cache._index_key``), so the Haswell code sits beside this
CPU's and neither loads the other's. The first run compiles the Haswell products (about 10 s of
CPU here); later runs load them, as every other test loads its kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jitmlp import _layers
from jitmlp._config import TILE_VECTORS, VECTOR_BITS

AVX2_FEATURES = ",".join(
    ["+sse", "+sse2", "+sse3", "+ssse3", "+sse4.1", "+sse4.2", "+avx", "+avx2", "+fma", "+popcnt",
     "+cx16", "+fxsr", "+xsave", "-avx512f", "-avx512dq", "-avx512bw", "-avx512vl", "-avx512cd"]
)
# (kernel, M, K, N): 4-vector blocks, 2- and 1-vector strips, masked lanes, leftover rows, the
# narrow transposed path, for both dtypes
CASES = [("matmul", 37, 19, 100), ("matmul_tn", 23, 31, 85), ("matmul_serial", 13, 7, 10),
         ("matmul_tn", 40, 9, 3), ("matmul", 6, 5, 33)]

CHILD = textwrap.dedent(
    """
    import sys
    import numba
    import numpy as np
    from jitmlp import _layers
    from jitmlp._config import TILE_VECTORS, VECTOR_BITS
    assert (VECTOR_BITS, TILE_VECTORS) == (256, 2), (VECTOR_BITS, TILE_VECTORS)
    assert numba.config.CPU_NAME == "haswell"  # compiled (or cached) for Haswell, not this CPU
    # the kernels are called directly and may come from numba's cache: start numba's thread
    # pool first, as tests/conftest.py does (see tests/test_cache_reload.py)
    numba.get_num_threads()
    data = np.load(sys.argv[1])
    out = {}
    for key in sorted({k[:-2] for k in data.files}):
        kernel = key.split("-")[0]
        A, B = data[key + "-A"], data[key + "-B"]
        C = np.full((A.shape[1] if kernel == "matmul_tn" else A.shape[0], B.shape[1]), np.nan,
                    dtype=A.dtype)
        getattr(_layers, kernel)(A, B, C)
        out[key] = C
    np.savez(sys.argv[2], **out)
    """
)


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64",
                    reason="compiles for an x86-64 CPU (Haswell)")
def test_avx2_code_gives_the_same_bits(tmp_path):
    rng = np.random.default_rng(0)
    operands, expected = {}, {}
    for dtype in (np.float64, np.float32):
        for kernel, M, K, N in CASES:
            key = f"{kernel}-{M}-{K}-{N}-{np.dtype(dtype).name}"
            A = rng.standard_normal((K, M) if kernel == "matmul_tn" else (M, K)).astype(dtype)
            B = rng.standard_normal((K, N)).astype(dtype)
            C = np.full((M, N), np.nan, dtype=dtype)
            getattr(_layers, kernel)(A, B, C)
            operands[key + "-A"], operands[key + "-B"], expected[key] = A, B, C
    np.savez(tmp_path / "in.npz", **operands)
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES=AVX2_FEATURES)
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "in.npz"),
                          str(tmp_path / "out.npz")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got = np.load(tmp_path / "out.npz")
    for key, C in expected.items():
        assert got[key].dtype == C.dtype
        np.testing.assert_array_equal(got[key], C, err_msg=f"{key} (this process: "
                                      f"{VECTOR_BITS}-bit vectors, {TILE_VECTORS}-vector tiles)")
