"""The README's module table (section "How it works") names every module of the package, once."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _table_rows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| module | what it holds |")
    end = readme.index("\n\n", start)
    return readme[start:end].splitlines()[2:]


def test_the_readme_module_table_lists_every_module_and_only_those():
    named = [name for row in _table_rows()
             for name in re.findall(r"`jitmlp/([\w.]+\.py)`", row.split("|")[1])]
    modules = sorted(path.name for path in (ROOT / "jitmlp").glob("*.py"))
    assert sorted(named) == modules


def test_every_row_says_what_its_module_is_for():
    for row in _table_rows():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 2 and len(cells[1]) > 20, row
