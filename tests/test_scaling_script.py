"""scripts/scaling.py (issue 15: what anyone with a bigger machine runs, the README shows how)
keeps running: one workload, jitmlp alone, 1 and 2 threads, one fit each. The figures are
the script's business; here, that it prints a row per library with a time and a speed-up for
each thread count asked for."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "scaling.py"


def test_scaling_script_prints_a_time_per_thread_count():
    out = subprocess.run([sys.executable, str(SCRIPT), "--only", "digits", "--libs", "jitmlp",
                          "--threads", "1,2", "--reps", "1"],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    assert "| workload | library | 1 threads | 2 threads |" in out, out
    row = re.search(r"^\| digits \| jitmlp \| ([0-9.]+) s \(1\.00x\) \| ([0-9.]+) s "
                    r"\(([0-9.]+)x\) \|$", out, re.M)
    assert row, out
    one, two, speedup = (float(v) for v in row.groups())
    assert one > 0 and two > 0
    # the times are printed to 1 ms and the speed-up (from the unrounded times) to 0.01
    low, high = (one - 0.0005) / (two + 0.0005), (one + 0.0005) / (two - 0.0005)
    assert low - 0.005 <= speedup <= high + 0.005
