"""``python -m jitmlp.precompile``, ``kernels_cached`` and the main job's one compile message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
                     "rows float64", "rows float32", "functions float64", "functions float32"]
    assert "run_epoch, chunk, shuffle_in_place" in lines[0]
    assert lines[2].endswith("predict_forward, _predict_block")
    assert lines[4].endswith("batch_loss_and_grad")

    assert precompile.main(["--dtype", "float32", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["fit", "float32"], ["predict", "float32"],
                                                    ["lbfgs", "float32"], ["sparse", "float32"],
                                                    ["rows", "float32"],
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


# Slow on purpose: what a fresh environment does can only be seen from an empty numba cache, so
# this test compiles jitmlp's float64 kernels once in subprocesses with their own NUMBA_CACHE_DIR
# (about 30-45 s on 2 cores). It is the only test that compiles cold; deselect it with
# -m "not cold_compile" when iterating.
@pytest.mark.cold_compile
def test_cold_cache_compiles_once_with_a_message_and_warm_cache_is_silent(tmp_path):
    source_root = str(Path(jitmlp.__file__).resolve().parents[1])
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"),
               PYTHONPATH=os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")]))

    def run(*args):
        out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                             timeout=900)
        assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-4000:])
        return out.stdout

    cached = ("-c", "import numpy as np; from jitmlp.precompile import kernels_cached; "
                    "print(kernels_cached(np.float64), kernels_cached(np.float32))")
    assert run(*cached).split() == ["False", "False"]

    # cold: the main job says it compiles, compiles fit and predict up front, says how long
    cold = run("-m", "jitmlp", "--epochs", "1", "--quiet")
    lines = cold.splitlines()
    assert sum(MESSAGE in line for line in lines) == 1, cold
    start = next(i for i, line in enumerate(lines) if MESSAGE in line)
    assert lines[start + 1].startswith("Compiled in "), cold
    assert "speed-up" in cold
    assert run(*cached).split() == ["True", "False"]

    # the precompile command loads what the main job compiled and compiles the rest
    filled = run("-m", "jitmlp.precompile", "--dtype", "float64", "--jobs", "2")
    status = {" ".join(line.split()[:2]): line.split(" s  ")[-1] for line in filled.splitlines()
              if line.startswith("  ")}
    assert status == {"fit float64": "loaded from cache", "predict float64": "loaded from cache",
                      "lbfgs float64": "compiled", "sparse float64": "compiled",
                      "rows float64": "compiled", "functions float64": "compiled"}, filled
    assert filled.splitlines()[-1].startswith("total ")
    assert run(*cached).split() == ["True", "False"]

    # warm: not a word about compiling
    warm = run("-m", "jitmlp", "--epochs", "1", "--quiet")
    assert "ompil" not in warm and "speed-up" in warm, warm


GRID = """
import json, sys, warnings
warnings.simplefilter("ignore")
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from jitmlp import MLPClassifier
from jitmlp._epoch import run_epoch
X, y = load_digits(return_X_y=True)
g = GridSearchCV(MLPClassifier(max_iter=3, random_state=0), {"alpha": [1e-4, 1e-3]}, cv=2,
                 n_jobs=int(sys.argv[1])).fit(X / 16, y)
print(json.dumps([g.best_score_, sum(run_epoch.stats.cache_misses.values())]))
"""


# Slow on purpose: two joblib workers compiling into one empty cache at the same moment (what a
# GridSearchCV(n_jobs=2) does on a fresh machine) can only be seen from an empty cache.
@pytest.mark.cold_compile
def test_grid_search_workers_compile_into_one_empty_cache_at_once(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))

    def grid(n_jobs):
        out = subprocess.run([sys.executable, "-c", GRID, str(n_jobs)], env=env,
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-4000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold_score, _ = grid(2)  # both workers compile the same kernels side by side
    warm_score, compiled_here = grid(1)  # in this process: what they left in the cache
    assert compiled_here == 0  # run_epoch loaded, not compiled again
    assert warm_score == cold_score


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
