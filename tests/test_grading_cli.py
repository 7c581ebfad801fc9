"""The grader's command line (lossmod_instructor.grading.cli, `lossmod grade`): it names students,
reads sizes and refuses what it cannot do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from grading_fixtures import PRELUDE, notebook
from lossmod_instructor.grading.cli import parse_size, student_names
from test_grading import lossmod_cli


def test_grade_refuses_unknown_assignment_and_needs_a_seed(tmp_path: Path) -> None:
    """An unknown exercise or chapter is a usage error (exit 2), and so is a missing seed."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "a.ipynb").write_bytes(notebook([PRELUDE]))
    run = lossmod_cli(
        "grade",
        str(tmp_path / "a.ipynb"),
        "--out",
        str(tmp_path / "out"),
        "--seed",
        "1",
        "--assignment",
        "no-such-chapter",
        tmp=tmp_path / "tmp",
    )
    assert run.returncode == 2 and "no exercise or chapter named 'no-such-chapter'" in run.stderr
    run = lossmod_cli(
        "grade", str(tmp_path / "a.ipynb"), "--out", str(tmp_path / "out"), tmp=tmp_path / "tmp"
    )
    assert run.returncode == 2 and "--seed" in run.stderr


def test_student_names_from_files_then_folders() -> None:
    assert student_names([Path("x/ann.ipynb"), Path("x/bob.ipynb")]) == ["ann", "bob"]
    assert student_names([Path("s1/hw.ipynb"), Path("s2/hw.ipynb")]) == ["s1", "s2"]
    with pytest.raises(ValueError, match="two submissions have the same name: hw"):
        student_names([Path("a/s/hw.ipynb"), Path("b/s/hw.ipynb")])


@pytest.mark.parametrize(
    ("text", "size"), [("512M", 512 << 20), ("1G", 1 << 30), ("1.5GiB", 3 << 29), ("4096", 4096)]
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_benchmark_quick_mode_runs() -> None:
    """benchmarks/grading.py --quick grades a few lesson notebooks both ways and prints both
    figures, every submission ok."""
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, str(root / "benchmarks" / "grading.py"), "--quick"],
                         capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "per submission, graded alone: median" in run.stdout
    assert "statuses {'ok': 6}" in run.stdout
