"""Test-session setup."""

import numba

import jitmlp  # noqa: F401  (first: it loads TBB, numba's threading layer, before the pool starts)


def pytest_configure(config):
    # Tests call compiled kernels directly, not only through the estimators (which start numba's
    # thread pool before any kernel runs, see tests/test_cache_reload.py). A kernel loaded from
    # numba's cache with a history numba does not record (issues #8578, #9938) crashes the
    # process if the pool has not been started: start it before any test runs.
    numba.get_num_threads()
