"""The command line (lossmod.grading.cli, `python -m lossmod`): the learner's `check` says per
exercise what passed, what failed and on which input; `grade` names students, reads sizes and
refuses what it cannot do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from grading_fixtures import EXERCISE_ID, PRELUDE, Fixture, exercise_cell, notebook
from test_grading import lossmod_cli

from lossmod.exercises import EXERCISES, starter_cell
from lossmod.grading.cli import parse_size, student_names


def check(tmp_path: Path, data: bytes) -> tuple[int, str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    (tmp_path / "mine.ipynb").write_bytes(data)
    run = lossmod_cli("check", str(tmp_path / "mine.ipynb"), "--timeout", "2", tmp=tmp_path / "tmp")
    return run.returncode, run.stdout


def test_check_reports_passed_untouched_and_failed(tmp_path: Path) -> None:
    """An honest notebook passes (exit 0); an untouched one is "not attempted yet"; a wrong one
    lists each failing public check with its inputs (exit 1)."""
    exercise = EXERCISES[EXERCISE_ID]
    code, out = check(
        tmp_path, Fixture("h", "ok", "full", (PRELUDE, exercise_cell(None))).build({})
    )
    lines = out.strip().splitlines()  # wrapped to the width of a notebook's output
    assert (code, " ".join(line.strip() for line in lines)) == (
        0,
        f"{EXERCISE_ID} ({exercise.task}): passed all {len(exercise.cases)} checks.",
    )
    assert all(len(line) <= 75 for line in lines)
    code, out = check(tmp_path, notebook([PRELUDE, starter_cell(EXERCISE_ID)]))
    assert code == 1 and "not attempted yet" in out
    wrong = Fixture(
        "w",
        "ok",
        "zero",
        (PRELUDE, exercise_cell("return np.asarray(_honest(*args, **kwargs)) + 1")),
    ).build({})
    code, out = check(tmp_path, wrong)
    assert code == 1
    assert f"{len(exercise.cases)} of {len(exercise.cases)} checks failed" in out
    assert out.count("called with") == len(exercise.cases) and "hidden" not in out


def test_check_of_a_broken_notebook_says_why(tmp_path: Path) -> None:
    code, out = check(tmp_path, b"{ not json")
    assert code == 1 and "not a readable notebook: the file is not JSON" in out


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
