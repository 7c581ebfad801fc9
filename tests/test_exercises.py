"""The exercises: every reference solution agrees with an independent oracle; the learners'
catalogue holds every exercise of the book with the solutions' public answers and nothing else;
the checker tells right from wrong from untouched and names the likely slip; the notebooks'
starting cells are derived from the solutions."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lossmod_instructor import publish
from lossmod_instructor.exercises import EXERCISES, Exercise, starter_cell, stub_source
from lossmod_instructor.sync import stale_cells, stub_cells

from lossmod.exercises import CATALOGUE, Case, check, compare
from lossmod.exercises._data import encode

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
        problem = compare(
            case.call(exercise.solution),
            case.call(exercise.oracle),
            rtol=max(exercise.rtol, 1e-6),
            atol=max(exercise.atol, 1e-9),
        )
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
    every case with a finite answer (NaN + 1 is NaN, which a NaN answer expects); a function that
    raises is reported with the error's name."""
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
    finite = [
        bool(np.isfinite(np.asarray(c.call(exercise.solution), float)).any())
        for c in exercise.cases
    ]
    assert report.status == "failed"
    assert not any(r.passed for r, f in zip(report.results, finite, strict=True) if f)

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
    with pytest.raises(ValueError, match=r"^exercise_id must be the id of an exercise of the book"):
        check("no-such-exercise-1", lambda: None)
    with pytest.raises(ValueError, match=r"'mse-5' is a written exercise \(Exercise 3.5"):
        check("mse-5", lambda: None)
    with pytest.raises(TypeError, match=r"^function must be the function you wrote"):
        check("mse-1", "mean_squared_error")  # type: ignore[arg-type]


def test_catalogue_is_published_from_the_solutions() -> None:
    """lossmod/exercises/catalogue.json is what `python -m lossmod_instructor publish` writes
    now: run it after changing an exercise or its chapter."""
    assert publish.TARGET.read_text() == publish.render()


def test_catalogue_holds_every_exercise_of_the_book_in_order() -> None:
    """Every `{exercise}` of the book is in the catalogue, numbered as the book numbers it
    (chapter, then rank), code exercises with their function and public cases, the written ones
    with a task; the registry's code exercises are exactly the catalogue's."""
    labels = []
    for _, number, path in publish.numbered_chapters():
        found = re.findall(r"\{exercise\}\n:label: (\S+)", publish.chapter_text(path))
        labels += [(label, f"{number}.{rank}") for rank, label in enumerate(found, start=1)]
    assert [(e.id, e.number) for e in CATALOGUE.values()] == labels
    assert len(labels) >= 52
    assert ("mse-2", "3.2") in labels and ("what-is-a-loss-1", "2.1") in labels
    assert {e.id for e in CATALOGUE.values() if e.kind == "code"} == set(EXERCISES)
    for exercise in CATALOGUE.values():
        assert exercise.task and exercise.chapter_title
        if exercise.kind == "code":
            assert exercise.function == EXERCISES[exercise.id].function_name
            assert [c.name for c in exercise.cases] == [
                c.name for c in EXERCISES[exercise.id].cases
            ]
        else:
            assert exercise.kind == "written" and not exercise.cases


def test_catalogue_holds_no_hidden_case_and_no_solution_source() -> None:
    """The catalogue's public cases are the registry's public cases; no hidden case name and no
    line of a solution's body is in the file."""
    text = publish.TARGET.read_text()
    stored = {e["id"]: e for e in json.loads(text)["exercises"]}
    for exercise in EXERCISES.values():
        public = [c.name for c in exercise.cases]
        assert [c["name"] for c in stored[exercise.id]["cases"]] == public
        assert exercise.hidden is not None
        hidden = {c.name for c in exercise.hidden(np.random.default_rng(1))} - set(public)
        assert hidden, exercise.id
        source = inspect.getsource(exercise.solution).splitlines()
        body = [line.strip() for line in source if len(line.strip()) > 30]
        assert not [line for line in body if line in text and not line.startswith(('"', "'"))]


@pytest.mark.parametrize("exercise_id", IDS)
def test_public_answers_survive_the_catalogue_exactly(exercise_id: str) -> None:
    """Each public case reads back from the JSON with the same inputs and the reference
    solution's answer to the last bit (dtype and shape included)."""
    for stored, case in zip(
        CATALOGUE[exercise_id].cases, EXERCISES[exercise_id].cases, strict=True
    ):
        expected = np.asarray(case.call(EXERCISES[exercise_id].solution))
        assert stored.expected.dtype == expected.dtype and stored.expected.shape == expected.shape
        np.testing.assert_array_equal(stored.expected, expected)
        assert encode(stored.args) == encode(case.args)  # the same bits, types and shapes
        assert encode(dict(stored.kwargs)) == encode(dict(case.kwargs))


def test_compare_explains_each_kind_of_mismatch() -> None:
    """compare() returns None for a match (lists, NaN in place of NaN) and a specific sentence
    otherwise."""
    assert compare([1.0, 2.0], np.array([1.0, 2.0]), rtol=1e-7, atol=0) is None
    assert compare([np.nan], [np.nan], rtol=1e-7, atol=0) is None
    assert "returned None" in str(compare(None, 1.0, rtol=1e-7, atol=0))
    assert "shape (2, 1), expected shape (2,)" in str(
        compare(np.zeros((2, 1)), np.zeros(2), rtol=1e-7, atol=0)
    )
    assert "expected 2, got 3." in str(compare(3.0, 2.0, rtol=1e-7, atol=0))
    assert "1 of 2 values differ; first at index (1,)" in str(
        compare([1.0, 5.0], [1.0, 2.0], rtol=1e-7, atol=0)
    )
    assert compare([np.inf], [1.0], rtol=1e-7, atol=0) is not None


@pytest.mark.parametrize("answer", ["0.2875", b"0.2875", ["0.2875"], {"a": 1}, [1.0, None], 1j])
def test_compare_rejects_what_is_not_a_number(answer: Any) -> None:
    """Text (even of the right number), objects and complex numbers are refused with a sentence
    saying so, never converted."""
    problem = compare(answer, 0.2875, rtol=1e-7, atol=0)
    assert (problem is not None and "not a number" in problem) or "complex" in str(problem)
    assert "text" in str(compare("0.2875", 0.2875, rtol=1e-7, atol=0))
    assert "True/False" in str(compare(True, 1.0, rtol=1e-7, atol=0))


def test_compare_prints_the_digits_that_differ() -> None:
    """Numbers are shown with the fewest digits (at least 4) that tell them apart: no float
    noise such as 0.2874999999999999."""
    assert "expected 0.2875, got 0.3." in str(compare(0.3, 0.2874999999999999, rtol=1e-10, atol=0))
    assert "expected 1.000001, got 1.000002" in str(compare(1.000002, 1.000001, rtol=1e-10, atol=0))


def test_compare_names_the_slip() -> None:
    """A constant factor that is the number of elements, the batch size, the number of classes
    (or "mean" for "batchmean"), 2, or a sign, is named; a transposed or column-shaped answer
    too. The expected values are built by hand from the slip."""
    x = np.arange(1.0, 7.0).reshape(2, 3)
    case = Case("c", (x, x))
    expected = np.array([0.5, -1.5, 2.0])
    hint = compare(6 * expected, expected, rtol=1e-9, atol=0, case=case)
    assert "6 times too large: the number of elements n = 6" in str(hint)
    about = "softmax cross-entropy of logits"
    assert "2 times too small: the batch size N = 2" in str(
        compare(expected / 2, expected, rtol=1e-9, atol=0, case=case, about=about)
    )
    assert "3 times too large: the number of classes C = 3" in str(
        compare(3 * expected, expected, rtol=1e-9, atol=0, case=case, about=about)
    )
    # in a regression exercise the axes are not classes and rows
    assert "3 times too large: the size of the last axis, 3" in str(
        compare(3 * expected, expected, rtol=1e-9, atol=0, case=case, about="squared error")
    )
    assert "off by the same relative 1.0e-06" in str(
        compare((1 + 1e-6) * expected, expected, rtol=1e-9, atol=0, case=case)
    )
    batchmean = Case("c", (x, x), {"reduction": "batchmean"})
    assert '"batchmean" by the batch size N' in str(
        compare(expected / 3, expected, rtol=1e-9, atol=0, case=batchmean)
    )
    assert "wrong sign" in str(compare(-expected, expected, rtol=1e-9, atol=0, case=case))
    assert "transposed" in str(compare(x.T, x, rtol=1e-9, atol=0))
    assert "axis of length 1" in str(compare(expected[:, None], expected, rtol=1e-9, atol=0))
    assert "Hint" not in str(compare(expected + 1, expected, rtol=1e-9, atol=0, case=case))


def test_listing_and_help_are_plain_and_complete() -> None:
    """`lossmod exercises` lists every exercise (written ones too) with its number, chapter and
    task; `--help` prints plain text and exits 0."""
    run = subprocess.run(
        [sys.executable, "-m", "lossmod", "exercises"], capture_output=True, text=True, check=True
    )
    for exercise in CATALOGUE.values():
        assert f"Exercise {exercise.number}" in run.stdout and exercise.id in run.stdout
    assert "Chapter 3, Mean squared error (mse)" in run.stdout
    assert f"{len(CATALOGUE)} exercises" in run.stdout
    for command in (
        ["lossmod.exercises", "--help"],
        ["lossmod", "--help"],
        ["lossmod", "check", "-h"],
    ):
        run = subprocess.run(
            [sys.executable, "-m", *command], capture_output=True, text=True, check=False
        )
        assert run.returncode == 0 and run.stdout.startswith("usage: lossmod")
        assert "``" not in run.stdout and ":func:" not in run.stdout


def _sgd_step_without_the_2(
    design: Any, target: Any, theta: Any, eta: float, weights: Any = None
) -> Any:
    a, y, t = (np.asarray(v, dtype=float) for v in (design, target, theta))
    s = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    return t - eta * a.T @ (s * (a @ t - y)) / s.sum()


def _bisect_g_itself(threshold: float) -> float:
    low, high = np.log(threshold / 2) - 1.0, -np.log(2.0)
    while (middle := 0.5 * (low + high)) not in (low, high):
        g = 2 * np.exp(middle) / (1 + np.exp(middle)) ** 3
        low, high = (middle, high) if g < threshold else (low, middle)
    return float(high)


def _mean_over_broadcast_axes(
    exercise_id: str,
) -> Any:
    """The reference gradient with each sum over a broadcast axis taken as a mean."""

    def wrong(pred: Any, target: Any, reduction: str = "mean") -> Any:
        pred = np.asarray(pred, float)
        summed = EXERCISES[exercise_id].solution(pred, target, reduction)
        pairs = np.broadcast(pred, np.asarray(target)).size
        return summed * pred.size / pairs

    return wrong


def _divide_by_pred_size(exercise_id: str) -> Any:
    """The reference gradient of the sum, divided by pred.size (not by every pair) for "mean"."""

    def wrong(pred: Any, target: Any, reduction: str = "mean") -> Any:
        pred = np.asarray(pred, float)
        summed = EXERCISES[exercise_id].solution(pred, target, "sum")
        return summed / pred.size if reduction == "mean" else summed

    return wrong


WRONG_ANSWERS: list[tuple[str, Any, str, str]] = [
    # (exercise, a plausible wrong answer, a case it fails, what the feedback says there)
    (
        "what-is-a-loss-4",
        lambda a, y, t: np.asarray(a).T @ (np.asarray(a) @ t - y) / len(y),
        "at zero",
        "every value is 2 times too small: 2.",
    ),
    (
        "what-is-a-loss-4",
        lambda a, y, t: np.asarray(a).T @ (np.asarray(a) @ t - y) / len(y),
        "one feature",
        "every value is 2 times too small: 2.",
    ),
    (
        "what-is-a-loss-4",
        lambda a, y, t: 2 * np.asarray(a).T @ (np.asarray(a) @ t - y),
        "at zero",
        "4 times too large: the number of rows, 4.",
    ),
    ("training-1", _sgd_step_without_the_2, "from zero", "every value is 2 times too small: 2."),
    ("training-1", _sgd_step_without_the_2, "weights 1, 2, 3, 4", "2 times too small: 2."),
    (
        "training-4",
        lambda a, lam: (
            2 / np.linalg.eigvalsh(np.asarray(a).T @ a / len(a) + lam * np.eye(len(a[0])))[-1]
        ),
        "two features and an intercept, penalty 0.5",
        "every value is 2 times too large: 2.",
    ),
    (
        "training-4",
        lambda a, lam: 2 / np.linalg.eigvalsh(2 * np.asarray(a).T @ a / len(a))[-1],
        "two features and an intercept, penalty 0.5",
        "expected 0.2126, got 0.2379.",
    ),
    (
        "bce-1",
        lambda z, y: np.logaddexp(0, z) - y * z,
        "confident logits +-40",
        "expected 4.248e-18, got 0.",
    ),
    (
        "bce-1",
        lambda z, y: np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z))),
        "a soft label 1 - 1e-10 at z = 37.7",
        "a formula that loses digits",
    ),
    (
        "loss-landscapes-4",
        lambda h, tol=1e-8: EXERCISES["loss-landscapes-4"].solution(h, 0.0),
        "eigenvalues 1e-12 and 3, default tol",
        "expected nan, got 1.",
    ),
    (
        "loss-landscapes-4",
        lambda h, tol=1e-8: EXERCISES["loss-landscapes-4"].solution(h, 0.0),
        "eigenvalues -1e-12 and 3, default tol",
        "expected nan, got 0.",
    ),
    (
        "why-cross-entropy-3",
        _bisect_g_itself,
        "threshold 1e-320, a subnormal number",
        "a formula that loses digits",
    ),
]


@pytest.mark.parametrize(("exercise_id", "wrong", "case", "says"), WRONG_ANSWERS)
def test_public_checks_fail_plausible_wrong_answers_and_say_why(
    exercise_id: str, wrong: Any, case: str, says: str
) -> None:
    """Wrong answers that second readers found passing, or hinted at with the wrong cause (a
    missing factor 2 blamed on an axis of length 2), fail the named case with the right hint;
    the reference solution agrees with its oracle there within the exercise's own tolerances."""
    with np.errstate(all="ignore"):
        report = check(exercise_id, wrong)
    failed = {r.case.name: str(r.problem) for r in report.results if not r.passed}
    assert case in failed and says in " ".join(failed[case].split()), failed
    exercise = EXERCISES[exercise_id]
    (public,) = [c for c in exercise.cases if c.name == case]
    assert (
        compare(
            public.call(exercise.solution),
            public.call(exercise.oracle),
            rtol=exercise.rtol,
            atol=exercise.atol,
        )
        is None
    )


@pytest.mark.parametrize("exercise_id", ["mse-2", "mae-2"])
def test_broadcast_slips_are_named_as_such(exercise_id: str) -> None:
    """Where pred and target broadcast, a gradient that takes a mean over the broadcast axes, or
    divides by pred.size instead of every pair, is off by the number of targets each prediction
    meets, and the hint says so (not "2", the factor of d(r^2)/dr, which MAE has not)."""
    row = {
        "mse-2": "a (3,) row against a (5, 3) target, none",
        "mae-2": "a (3,) row against a (5, 3) target, sum",
    }[exercise_id]
    says = {
        (_mean_over_broadcast_axes, row): "5 times too small: each prediction meets 5 targets "
        "(a mean over the broadcast axes where their sum is meant?)",
        (_divide_by_pred_size, "a (3, 1) column against 4 targets, mean"): "4 times too large: "
        "each prediction meets 4 targets (dividing by the 3 predictions instead of all 12 pairs?)",
    }
    for (slip, case), hint in says.items():
        report = check(exercise_id, slip(exercise_id))
        failed = {r.case.name: str(r.problem) for r in report.results if not r.passed}
        assert case in failed and hint in failed[case], failed
