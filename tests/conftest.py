"""Test-session setup, and the subprocesses of the cold-compile and background tests, started
beside the suite."""

import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path

import numba
import pytest

import jitmlp  # noqa: F401  (first: it loads TBB, numba's threading layer, before the pool starts)


def pytest_configure(config):
    # Tests call compiled kernels directly, not only through the estimators (which start numba's
    # thread pool before any kernel runs, see tests/test_cache_reload.py). A kernel loaded from
    # numba's cache with a history numba does not record (issues #8578, #9938) crashes the
    # process if the pool has not been started: start it before any test runs.
    numba.get_num_threads()


# ------------------------------------------------------------------- cold compiles, in the back
# A test marked ``@pytest.mark.cold_compile(start=function)`` compiles jitmlp's kernels cold in
# subprocesses of its own (their own NUMBA_CACHE_DIR, or none): nothing they do reads or writes
# the suite's cache, so they need not wait their turn. ``function(directory, popen)`` starts them
# and returns what the test asserts on; it runs in a thread from the end of collection on, while
# the other tests run (numba compiles on one thread, most tests use one core: the two cores of
# these machines are rarely both busy), and the test itself, moved to the end of the session,
# asserts on its result (the fixture ``cold_run``). The checks are the test's own, unchanged.
#
# ``@pytest.mark.background(start=function)`` is the same for a test whose subprocesses use the
# suite's cache (warm, or filled as they go): they too run from the end of collection on, beside
# the other tests, and the test asserts at the end (the fixture ``background_run``).
_runs: dict[str, Future] = {}
_processes: list[subprocess.Popen] = []
_lock = threading.Lock()


def _start_of(item):
    marker = item.get_closest_marker("cold_compile") or item.get_closest_marker("background")
    return None if marker is None else marker.kwargs.get("start")


def _popen(args, **kwargs):
    """subprocess.Popen, killed at the end of the session if still running (e.g. after -x)."""
    process = subprocess.Popen(args, **kwargs)
    with _lock:
        _processes.append(process)
    return process


def _run_in_thread(start, directory: Path) -> Future:
    future = Future()

    def target():
        try:
            future.set_result(start(directory, _popen))
        except BaseException as error:  # noqa: BLE001 - handed to the test, which raises it
            future.set_exception(error)

    threading.Thread(target=target, name=f"cold-compile {directory.name}", daemon=True).start()
    return future


def _tail_rank(item):
    """0: no background part; 1: ``background`` (warm, done first); 2: ``cold_compile``."""
    if _start_of(item) is None:
        return 0
    return 1 if item.get_closest_marker("background") else 2


def pytest_collection_modifyitems(session, config, items):
    # the tests with a background part last, so that it runs beside all the others; of those,
    # first the ones whose subprocesses load the suite's cache (they end first), so that what
    # such a test does in this process overlaps the cold compiles still running
    items.sort(key=_tail_rank)  # stable: order kept otherwise


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    started = [(item, _start_of(item)) for item in session.items if _start_of(item)]
    if not started:
        return
    root = Path(tempfile.mkdtemp(prefix="jitmlp-cold-compile-"))
    session.config._cold_compile_root = root
    for number, (item, start) in enumerate(started):
        directory = root / f"{number}-{item.name}"[:60]
        directory.mkdir()
        _runs[item.nodeid] = _run_in_thread(start, directory)


def pytest_sessionfinish(session):
    with _lock:
        for process in _processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    root = getattr(session.config, "_cold_compile_root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cold_run(request, tmp_path):
    """What this ``cold_compile`` test's ``start`` returned (run here if it was not started)."""
    future = _runs.get(request.node.nodeid)
    if future is None:
        return _start_of(request.node)(tmp_path, _popen)
    return future.result()


background_run = cold_run  # what a ``background`` test's ``start`` returned
