"""``python -m jitmlp.precompile``, ``kernels_cached`` and the main job's one compile message."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest

import jitmlp
import jitmlp._config as config
import jitmlp.precompile as precompile
from jitmlp._precompile import Result, Task, default_jobs, run_task

MESSAGE = "Compiling jitmlp's kernels for float64 once"


def test_list_prints_every_task_without_compiling(capsys):
    assert precompile.main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [" ".join(line.split()[:2]) for line in lines]
    assert names == ["fit float64", "fit float32", "predict float64", "predict float32",
                     "lbfgs float64", "lbfgs float32", "sparse float64", "sparse float32",
                     "rows float64", "rows float32", "large float64", "large float32",
                     "functions float64", "functions float32"]
    assert "run_epoch, chunk, shuffle_in_place" in lines[0]
    assert lines[2].endswith("predict_forward, _predict_block")
    assert lines[4].endswith("batch_loss_and_grad")

    assert precompile.main(["--dtype", "float32", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["fit", "float32"], ["predict", "float32"],
                                                    ["lbfgs", "float32"], ["sparse", "float32"],
                                                    ["rows", "float32"], ["large", "float32"],
                                                    ["functions", "float32"]]


def test_jobs_at_most_one_per_task():
    assert default_jobs(1) == 1
    assert 1 <= default_jobs(6) <= 6


def test_failed_task_gives_non_zero_exit(monkeypatch, capsys):
    def run_tasks(tasks, jobs, on_result=None):
        results = [Result(task, 0.0, "failed", "boom") if task.entry == "lbfgs"
                   else Result(task, 1.0, "compiled") for task in tasks]
        for result in results:
            on_result(result)
        return results

    monkeypatch.setattr(precompile, "run_tasks", run_tasks)
    assert precompile.main(["--dtype", "float64", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: lbfgs float64" in out and "fit float64" in out


def test_failing_task_is_reported_not_raised():
    result = run_task(Task("no-such-entry", "float64"))
    assert result.status == "failed" and "no-such-entry" in result.error


def test_kernels_cached_is_false_without_a_cache_and_never_raises(monkeypatch):
    assert precompile.kernels_cached("not a dtype") is False
    monkeypatch.setattr(config, "CACHE", False)
    assert precompile.kernels_cached(np.float64) is False


# Run as ``python -m MODULE ARGS`` (runpy, as -m runs it), after printing a line "cached: A B",
# A and B kernels_cached(float64) and kernels_cached(float32) as this fresh process finds the
# cache before it runs the module: the state each step left, with no interpreter of its own.
AFTER_CACHED = """
import runpy, sys
import numpy as np
from jitmlp._precompile import kernels_cached
print("cached:", kernels_cached(np.float64), kernels_cached(np.float32), flush=True)
module = sys.argv.pop(1)
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


# Cold on purpose: what a fresh environment does can only be seen from an empty numba cache, so
# this test compiles jitmlp's float64 kernels (the main job's, then the rest with the precompile
# command) in subprocesses with their own NUMBA_CACHE_DIR, once. Deselect the cold tests with
# -m "not cold_compile" when iterating.
STEPS = [("jitmlp", "--epochs", "1", "--quiet"),
         ("jitmlp.precompile", "--dtype", "float64", "--jobs", "2"),
         ("jitmlp", "--epochs", "1", "--quiet")]


def _main_job_cold_then_precompile_then_warm(directory, popen):
    """Each of STEPS in a fresh process, one after the other, in one empty cache: their
    (returncode, stdout, stderr)."""
    source_root = str(Path(jitmlp.__file__).resolve().parents[1])
    env = dict(os.environ, NUMBA_CACHE_DIR=str(directory / "numba-cache"),
               PYTHONPATH=os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")]))
    outputs = []
    for module, *args in STEPS:
        process = popen([sys.executable, "-c", AFTER_CACHED, module, *args], env=env,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = process.communicate(timeout=900)  # killed at the session's end
        outputs.append((process.returncode, stdout, stderr))
    return outputs


# runs beside the rest of the suite, from the end of collection on (tests/conftest.py)
@pytest.mark.cold_compile(start=_main_job_cold_then_precompile_then_warm)
def test_cold_cache_compiles_once_with_a_message_and_warm_cache_is_silent(cold_run):
    outputs = iter(zip(STEPS, cold_run))

    def run(module, *args):
        """(kernels_cached of float64 and float32 before, the module's output) of a process."""
        step, (returncode, stdout, stderr) = next(outputs)
        assert step == (module, *args)
        assert returncode == 0, (args, stdout[-2000:], stderr[-4000:])
        first, _, rest = stdout.partition("\n")
        assert first.startswith("cached: "), stdout
        return first.split()[1:], rest

    # cold: nothing cached; the main job says it compiles, compiles fit and predict up front,
    # says how long
    cached, cold = run("jitmlp", "--epochs", "1", "--quiet")
    assert cached == ["False", "False"]
    lines = cold.splitlines()
    assert sum(MESSAGE in line for line in lines) == 1, cold
    start = next(i for i, line in enumerate(lines) if MESSAGE in line)
    assert lines[start + 1].startswith("Compiled in "), cold
    assert "speed-up" in cold

    # the precompile command finds what the main job compiled, loads it and compiles the rest
    cached, filled = run("jitmlp.precompile", "--dtype", "float64", "--jobs", "2")
    assert cached == ["True", "False"]
    status = {" ".join(line.split()[:2]): line.split(" s  ")[-1] for line in filled.splitlines()
              if line.startswith("  ")}
    assert status == {"fit float64": "loaded from cache", "predict float64": "loaded from cache",
                      "lbfgs float64": "compiled", "sparse float64": "compiled",
                      "rows float64": "compiled", "large float64": "compiled",
                      "functions float64": "compiled"}, filled
    assert filled.splitlines()[-1].startswith("total ")

    # warm: float64 still cached (float32 never asked for), and not a word about compiling
    cached, warm = run("jitmlp", "--epochs", "1", "--quiet")
    assert cached == ["True", "False"]
    assert "ompil" not in warm and "speed-up" in warm, warm


# The grid search's parent refits the best candidate after the workers' fits: the kernels it
# runs come from what the workers left in the cache (run_epoch loaded, none compiled), and its
# model's bits are printed to compare with the same search in the test's own process.
GRID = """
import hashlib, json, sys, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from jitmlp import MLPClassifier
from jitmlp._epoch import run_epoch
X, y = load_digits(return_X_y=True)
g = GridSearchCV(MLPClassifier(max_iter=3, random_state=0), {"alpha": [1e-4, 1e-3]}, cv=2,
                 n_jobs=int(sys.argv[1])).fit(X / 16, y)
model = g.best_estimator_
digest = hashlib.sha256(b"".join(w.tobytes() for w in model.coefs_ + model.intercepts_))
stats = run_epoch.stats
print(json.dumps([g.best_score_, g.best_params_, digest.hexdigest(),
                  sum(stats.cache_hits.values()), sum(stats.cache_misses.values())]))
"""


# Cold on purpose: two joblib workers compiling into one empty cache at the same moment (what a
# GridSearchCV(n_jobs=2) does on a fresh machine) can only be seen from an empty cache.
def _grid_search_in_an_empty_cache(directory, popen):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(directory / "numba-cache"))
    process = popen([sys.executable, "-c", GRID, "2"], env=env, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate(timeout=900)  # killed at the session's end
    return process.returncode, stdout, stderr


# runs beside the rest of the suite, from the end of collection on (tests/conftest.py)
@pytest.mark.cold_compile(start=_grid_search_in_an_empty_cache)
def test_grid_search_workers_compile_into_one_empty_cache_at_once(request):
    # the same search here (one process, this suite's own cache), while the cold one may still
    # run; then the cold one's output (the fixture waits for it)
    with patch.object(sys, "argv", ["-c", "1"]), redirect_stdout(io.StringIO()) as printed, \
            warnings.catch_warnings():
        exec(GRID, {})
    warm_score, warm_params, warm_digest, _, _ = json.loads(printed.getvalue())
    returncode, stdout, stderr = request.getfixturevalue("cold_run")
    assert returncode == 0, stderr[-4000:]
    # both workers compiled the same kernels side by side; the parent's refit loaded them
    cold_score, cold_params, cold_digest, loaded, compiled = json.loads(
        stdout.strip().splitlines()[-1])
    assert loaded >= 1 and compiled == 0  # run_epoch loaded from that cache, not compiled again
    # the same scores and model as here
    assert (warm_score, warm_params, warm_digest) == (cold_score, cold_params, cold_digest)


def test_tasks_here_run_beside_the_workers_and_numba_is_restored_after():
    from numba.core.caching import IndexDataCacheFile

    from jitmlp._precompile import run_tasks

    save, load = IndexDataCacheFile.save, IndexDataCacheFile.load
    seen = []
    results = run_tasks([Task("no-such-entry", "float64")], 1,
                        here=[Task("no-such-entry", "float32")], on_result=seen.append)
    assert sorted(r.task.dtype for r in results) == ["float32", "float64"]
    assert all(r.status == "failed" for r in results) and len(seen) == 2
    assert seen[0].task.dtype == "float32"  # the task here ends before the worker has started
    assert (IndexDataCacheFile.save, IndexDataCacheFile.load) == (save, load)
