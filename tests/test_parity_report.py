"""scripts/parity_report.py (the figures quoted in issue notes) keeps running against the tests
whose configurations it borrows: it broke unnoticed once when those helpers moved."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "parity_report.py"


def test_parity_report_prints_small_differences():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         check=True).stdout
    parity = re.search(r"^parity: .*: ([0-9.e+-]+) at", out, re.M)
    gradient = re.search(r"^gradient check: .*: ([0-9.e+-]+) at", out, re.M)
    assert parity and gradient, out
    assert float(parity.group(1)) < 1e-6 and float(gradient.group(1)) < 1e-6
    surface = re.findall(r"relative difference to scikit-learn ([0-9.e+-]+)", out)
    assert len(surface) >= 10 and max(float(d) for d in surface) < 1e-5, out
