"""The exercise registry: every solution agrees with an independent oracle, the checker tells
right from wrong from untouched, and the notebooks' starting cells are derived from the
solutions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lossmod.exercises import EXERCISES, Case, Exercise, check, compare, starter_cell, stub_source
from lossmod.exercises._sync import stale_cells, stub_cells

ROOT = Path(__file__).resolve().parents[1]
IDS = sorted(EXERCISES)


def notebook_of(exercise: Exercise) -> Path:
    return ROOT / "chapters" / f"{exercise.chapter}.ipynb"


def all_cases(exercise: Exercise) -> tuple[Case, ...]:
    hidden = exercise.hidden(np.random.default_rng(20261122)) if exercise.hidden else ()
    return (*exercise.cases, *hidden)


def test_there_are_exercises() -> None:
    assert EXERCISES


@pytest.mark.parametrize("exercise_id", IDS)
def test_solution_agrees_with_its_oracle(exercise_id: str) -> None:
    """On every public and hidden case the reference solution equals an independent computation
    (a lossmod loss, scipy, scikit-learn or a numerical derivative), within the exercise's
    tolerances: expected answers are not the solution agreeing with itself."""
    exercise = EXERCISES[exercise_id]
    for case in all_cases(exercise):
        problem = compare(case.call(exercise.solution), case.call(exercise.oracle),
                          rtol=max(exercise.rtol, 1e-6), atol=max(exercise.atol, 1e-9))  # fmt: skip
        assert problem is None, f"{case.name}: {problem}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_exercise_is_well_formed(exercise_id: str) -> None:
    """Id `<chapter>-<n>` of an existing chapter notebook; at least two public cases; hidden
    cases, which have names of their own."""
    exercise = EXERCISES[exercise_id]
    assert re.fullmatch(r"[a-z0-9-]+-\d+", exercise.id)
    assert notebook_of(exercise).is_file()
    assert len(exercise.cases) >= 2 and exercise.hidden is not None
    names = [case.name for case in all_cases(exercise)]
    assert len(set(names)) == len(names)
    assert exercise.points >= 1


@pytest.mark.parametrize("exercise_id", IDS)
def test_checker_tells_right_wrong_and_untouched(exercise_id: str) -> None:
    """The solution passes; the untouched stub is 'not attempted'; an answer off by one fails
    every case; a function that raises is reported with the error's name."""
    exercise = EXERCISES[exercise_id]
    assert check(exercise_id, exercise.solution).passed
    namespace: dict[str, Any] = {"np": np}
    exec(stub_source(exercise_id), namespace)
    stub = namespace[exercise.function_name]
    assert check(exercise_id, stub).status == "not attempted"
    report = repr(check(exercise_id, stub))
    assert "not attempted yet" in report
    assert all(len(line) <= 75 for line in report.splitlines())  # a notebook output's width

    def off_by_one(*args: Any, **kwargs: Any) -> Any:
        return np.asarray(exercise.solution(*args, **kwargs), dtype=float) + 1.0

    report = check(exercise_id, off_by_one)
    assert report.status == "failed" and not any(r.passed for r in report.results)
    assert report.score == 0.0

    def raises(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("oops")

    assert "raised KeyError" in repr(check(exercise_id, raises))


@pytest.mark.parametrize("exercise_id", IDS)
def test_notebook_has_the_exercise_its_starting_cell_and_its_solution(exercise_id: str) -> None:
    """The chapter notebook labels the exercise, holds exactly one starting cell for it (equal to
    the one derived from the solution), and shows the solution by literalinclude."""
    exercise = EXERCISES[exercise_id]
    notebook = notebook_of(exercise)
    text = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"])
    assert f":label: {exercise_id}\n" in text
    assert f":pyobject: {exercise.function_name}\n" in text
    starting = [source for _, ex_id, source in stub_cells(notebook) if ex_id == exercise_id]
    assert starting == [starter_cell(exercise_id)]


def test_every_starting_cell_is_up_to_date() -> None:
    """No notebook holds a stale starting cell (run `make execute` after changing a solution)."""
    stale = {
        str(nb.relative_to(ROOT)): stale_cells(nb) for nb in sorted(ROOT.glob("chapters/*.ipynb"))
    }
    assert not {nb: ids for nb, ids in stale.items() if ids}


def test_unknown_exercise_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"^exercise_id must be one of the registered exercises"):
        check("no-such-exercise-1", lambda: None)


def test_compare_explains_each_kind_of_mismatch() -> None:
    """compare() returns None for a match (lists, NaN in place of NaN) and a specific sentence
    otherwise."""
    assert compare([1.0, 2.0], np.array([1.0, 2.0]), rtol=1e-7, atol=0) is None
    assert compare([np.nan], [np.nan], rtol=1e-7, atol=0) is None
    assert "returned None" in str(compare(None, 1.0, rtol=1e-7, atol=0))
    assert "shape (2, 1), expected shape (2,)" in str(
        compare(np.zeros((2, 1)), np.zeros(2), rtol=1e-7, atol=0)
    )
    assert "expected 2.0, got 3.0" in str(compare(3.0, 2.0, rtol=1e-7, atol=0))
    assert "1 of 2 values differ; first at index (1,)" in str(
        compare([1.0, 5.0], [1.0, 2.0], rtol=1e-7, atol=0)
    )
    assert "not a number" in str(compare("abc", 1.0, rtol=1e-7, atol=0))
    assert compare([np.inf], [1.0], rtol=1e-7, atol=0) is not None
