"""Every lesson notebook is collected by nbval and checks its own claims."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.notebooks import CHAPTERS, NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]


def test_there_are_notebooks() -> None:
    """The course has lesson notebooks (an empty glob would make the next tests vacuous)."""
    assert NOTEBOOKS


def test_every_notebook_is_collected_by_nbval() -> None:
    """`pytest` (the README's test command) collects every notebook under chapters/ with nbval."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "chapters"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    missing = [
        str(p.relative_to(ROOT)) for p in NOTEBOOKS if str(p.relative_to(ROOT)) not in collected
    ]
    assert not missing, f"not collected by nbval: {missing}"


def test_no_markdown_notebooks_escape_nbval() -> None:
    """Chapters are .ipynb: a MyST-Markdown notebook (.md with a kernelspec) would be executed by
    the book build but never by nbval."""
    escaped = [p.name for p in CHAPTERS.rglob("*.md") if "kernelspec:" in p.read_text()]
    assert not escaped


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_checks_its_claims(path: Path) -> None:
    """Each notebook has hidden cells (tag remove-cell) that assert, and stores its outputs so
    nbval has something to compare."""
    cells = json.loads(path.read_text())["cells"]
    checks = [c for c in cells if "remove-cell" in c.get("metadata", {}).get("tags", [])]
    assert any("assert" in "".join(c["source"]) for c in checks), "no hidden assert cells"
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "notebook stored unexecuted"
