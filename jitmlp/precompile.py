"""``python -m jitmlp.precompile``: compile every kernel the API can reach, ahead of time.

Fills numba's on-disk cache (``NUMBA_CACHE_DIR`` if set) for fit (sgd/adam), lbfgs and predict,
in float64 and float32, one worker process per core, and prints what each task compiled or loaded
from the cache and how long it took. For Docker images and CI: run once at build time, and no
later process compiles.
"""

from __future__ import annotations

import argparse
import sys
import time

from ._precompile import (
    DTYPES,
    ENTRIES,
    Task,
    cache_location,
    default_jobs,
    kernels_cached,
    run_tasks,
    tasks_for,
)

__all__ = ["Task", "kernels_cached", "main", "run_tasks", "tasks_for"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jitmlp.precompile",
                                     description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("--dtype", choices=[*DTYPES, "all"], default="all",
                        help="the float dtype to compile for (default: all)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default: the cores, at most one per task)")
    parser.add_argument("--list", action="store_true", help="print the tasks and exit")
    args = parser.parse_args(argv)
    tasks = tasks_for(DTYPES if args.dtype == "all" else (args.dtype,))
    if args.list:
        for task in tasks:
            what, entry_points = ENTRIES[task.entry]
            print(f"{task.name:18s}{what} -> {', '.join(entry_points)}")
        return 0
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    jobs = min(args.jobs, len(tasks)) if args.jobs is not None else default_jobs(len(tasks))
    location = cache_location()
    print(f"jitmlp: {len(tasks)} tasks in {jobs} process{'es' if jobs > 1 else ''}; cache: "
          f"{location or 'none (no writable cache location: nothing is kept)'}", flush=True)

    def report(result):
        print(f"  {result.task.name:16s}{result.seconds:7.1f} s  {result.status}", flush=True)
        if result.error:
            print(result.error, file=sys.stderr, flush=True)

    start = time.perf_counter()
    results = run_tasks(tasks, jobs, on_result=report)
    failed = [r.task.name for r in results if r.status == "failed"]
    print(f"total {time.perf_counter() - start:.1f} s wall"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
