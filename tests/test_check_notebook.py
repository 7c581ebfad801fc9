"""The learner's `lossmod check NOTEBOOK`: per exercise what passed, what failed on which input,
or why it could not run (the cell and line, counted from 1 as Jupyter shows them), then a summary
line; the exit status says whether everything passed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from grading_fixtures import EXERCISE_ID, PRELUDE, Fixture, exercise_cell, notebook
from lossmod_instructor.exercises import starter_cell

from lossmod.exercises import CATALOGUE

HEADING = "Exercise 2.4 (what-is-a-loss-4)"
SUMMARY = "mine.ipynb: {} of 1 exercises pass, {} fail, {} not attempted; 3 written exercises not checked."


def check(tmp_path: Path, data: bytes) -> tuple[int, list[str]]:
    (tmp_path / "mine.ipynb").write_bytes(data)
    run = subprocess.run(
        [sys.executable, "-m", "lossmod", "check", str(tmp_path / "mine.ipynb"), "--timeout", "2"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )
    assert not run.stderr, run.stderr
    return run.returncode, run.stdout.strip().splitlines()


def test_passed_untouched_and_failed(tmp_path: Path) -> None:
    """An honest notebook passes (exit 0); an untouched one is "not attempted yet"; a wrong one
    lists each failing public check with its inputs (exit 1); every line fits a notebook's
    output (75 columns) and the last is the summary."""
    exercise = CATALOGUE[EXERCISE_ID]
    assert exercise.heading == HEADING
    code, lines = check(
        tmp_path, Fixture("h", "ok", "full", (PRELUDE, exercise_cell(None))).build({})
    )
    passed = f"{HEADING}, {exercise.task}: passed all {len(exercise.cases)} checks."
    assert (code, " ".join(line.strip() for line in lines[:-1])) == (0, passed)
    assert lines[-1] == SUMMARY.format(1, 0, 0)
    code, lines = check(tmp_path, notebook([PRELUDE, starter_cell(EXERCISE_ID)]))
    assert (
        code == 1
        and "not attempted yet" in " ".join(lines)
        and lines[-1] == SUMMARY.format(0, 0, 1)
    )
    wrong = Fixture(
        "w",
        "ok",
        "zero",
        (PRELUDE, exercise_cell("return np.asarray(_honest(*args, **kwargs)) + 1")),
    ).build({})
    code, lines = check(tmp_path, wrong)
    text = "\n".join(lines)
    assert code == 1 and lines[-1] == SUMMARY.format(0, 1, 0)
    assert f"{len(exercise.cases)} of {len(exercise.cases)} checks failed" in text
    assert text.count("called with") == len(exercise.cases) and "hidden" not in text
    assert all(len(line) <= 75 for line in lines[:-1])


def test_a_syntax_error_names_the_exercise_cell_and_line(tmp_path: Path) -> None:
    """A syntax error in an exercise cell is not "not attempted": the exercise, the cell (the
    second of the notebook) and the line of the error are named; an error raised while a cell
    runs is placed the same way."""
    broken = starter_cell(EXERCISE_ID).replace("raise NotImplementedError", "return (1 +", 1)
    code, lines = check(tmp_path, notebook([PRELUDE, broken]))
    text = " ".join(line.strip() for line in lines)
    line = broken.split("\n").index(next(s for s in broken.split("\n") if "return (1 +" in s)) + 1
    assert code == 1 and "not attempted" not in text.replace("0 not attempted", "")
    assert f"{HEADING}" in text and f"cannot run: cell 2, line {line}: SyntaxError" in text
    uses_helper = f"{starter_cell(EXERCISE_ID)}\n\ntry:\n    helper\nexcept NameError:\n    pass"
    raising = notebook([PRELUDE, "x = 1\n\nfrom no_such_module import helper", uses_helper])
    code, lines = check(tmp_path, raising)
    assert lines[0] == (
        "cell 2, line 3: ModuleNotFoundError: No module named 'no_such_module' "
        "(the checks go on without this cell)"
    )
    assert "not attempted yet" in " ".join(lines)


def test_a_broken_notebook_says_why(tmp_path: Path) -> None:
    code, lines = check(tmp_path, b"{ not json")
    assert code == 1 and "cannot be read: the file is not JSON" in lines[0]
    assert lines[-1] == "mine.ipynb: nothing checked."


def test_an_endless_function_is_stopped(tmp_path: Path) -> None:
    """A function that never returns fails its checks after --timeout seconds each."""
    endless = Fixture("e", "ok", "zero", (PRELUDE, exercise_cell("while True:\n    pass"))).build(
        {}
    )
    code, lines = check(tmp_path, endless)
    assert code == 1 and "raised TimeoutError: ran for more than 2 s" in " ".join(lines)
