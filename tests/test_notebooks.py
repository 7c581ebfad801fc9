"""Every lesson notebook is collected by nbval and checks its own claims."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.notebooks import CHAPTERS, NOTEBOOKS, cells

ROOT = Path(__file__).resolve().parents[1]


def test_there_are_notebooks() -> None:
    """The course has lesson notebooks (an empty glob would make the next tests vacuous)."""
    assert NOTEBOOKS


def test_every_notebook_is_collected_by_nbval() -> None:
    """`pytest` (the README's test command) collects every notebook under chapters/ with nbval."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "chapters"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
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
    stored = cells(path)
    checks = [c for c in stored if "remove-cell" in c.get("metadata", {}).get("tags", [])]
    assert any("assert" in "".join(c["source"]) for c in checks), "no hidden assert cells"
    code = [c for c in stored if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "notebook stored unexecuted"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_claim_checks_show_their_numbers(path: Path) -> None:
    """No claim is checked with a bare `assert np.isclose(...)` or `assert np.allclose(...)`:
    even with the profile's assert rewriting such a check fails showing only `False =
    isclose(...)`, not how far apart the numbers are; np.testing.assert_allclose prints both and
    their difference."""
    bare = re.compile(r"^\s*assert[\s(]+(not[\s(]+)?np\.(is|all)close\(", re.MULTILINE)
    found = [i for i, c in enumerate(cells(path)) if bare.search("".join(c["source"]))]
    assert not found, f"cells {found} assert np.isclose/np.allclose"


def test_a_broken_claim_fails_with_both_numbers(tmp_path: Path) -> None:
    """A hidden claim check that fails under nbval shows the computed and the expected number:
    np.testing.assert_allclose prints both, and a plain `assert` shows its operands, as the
    project's IPython profile rewrites the asserts of every cell as pytest does (.ipython/
    profile_default/startup)."""
    sources = [
        "import numpy as np\ncomputed = np.sqrt(2.0)\n"
        "np.testing.assert_allclose(computed, 1.5, rtol=1e-9)",
        "gap = abs(computed - 1.5)\nassert gap < 1e-9",
        "assert 0.25 < computed / 8, 'the share is above a quarter'",
    ]
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": k + 1,
                "id": f"claim-{k}",
                "metadata": {"tags": ["remove-cell"]},
                "outputs": [],
                "source": source,
            }
            for k, source in enumerate(sources)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "broken.ipynb"
    path.write_text(json.dumps(notebook))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert result.returncode == 1, output
    assert "3 failed" in output, output
    assert "ACTUAL: array(1.414214)" in output, output
    assert "DESIRED: array(1.5)" in output, output
    assert "assert np.float64(0.08578643762690485) < 1e-09" in output, output
    assert "the share is above a quarter" in output, output
    assert "assert 0.25 < (np.float64(1.4142135623730951) / 8)" in output, output
