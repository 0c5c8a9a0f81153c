"""Numba options for every compiled kernel of jitmlp, in one place.

Every kernel is compiled with ``jit(...)`` or ``jit_parallel(...)`` from this module, never with a
bare ``numba.njit``; changing an option here changes it everywhere.

fastmath
    Only flags that keep NaN and inf detectable: no ``nnan``/``ninf``, so a diverging fit is
    still caught by the finiteness check. ``contract`` lets LLVM fuse multiply-add (FMA);
    ``nsz`` and ``arcp`` are harmless for training. No ``reassoc``: every sum is evaluated in
    the order the loop is written, which keeps results independent of thread count.
cache
    Compiled kernels are written to numba's on-disk cache so a fresh process does not
    recompile. Where the package directory is not writable numba falls back to its user-wide
    cache directory (``NUMBA_CACHE_DIR`` overrides); if no location is writable numba warns and
    keeps working without a cache.
"""

from __future__ import annotations

import numba

FASTMATH = frozenset({"nsz", "arcp", "contract"})
CACHE = True
ERROR_MODEL = "numpy"  # no ZeroDivisionError checks in hot loops; IEEE results as numpy gives


def jit(func=None, **overrides):
    """Compile ``func`` as a serial nopython kernel with the project's options."""
    options = dict(nogil=True, cache=CACHE, fastmath=set(FASTMATH), error_model=ERROR_MODEL)
    options.update(overrides)
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)


def jit_parallel(func=None, **overrides):
    """Compile ``func`` as a parallel (prange) nopython kernel with the project's options."""
    return jit(func, parallel=True, **overrides)


# Tuning of the parallel kernels (not numba options, but kept beside them so the whole compile and
# threading policy reads in one file).
# A layer product smaller than this many flops runs on one thread: waking the thread pool costs
# microseconds, more than a tiny product takes.
PARALLEL_MIN_FLOPS = 2.0e5
# An elementwise pass over fewer elements than this runs on one thread.
PARALLEL_MIN_ELEMENTS = 32768
# Rows of the output handled together by one thread (the unit of work split across threads).
ROW_BLOCK = 4
# Rows per chunk in predict: each chunk runs the whole forward pass on one thread.
PREDICT_CHUNK = 128
