"""Scoring (lossmod_instructor.grading.scoring): hidden cases depend on the seed and the exercise
only; an answer passes on dtype kind, exact shape, finiteness and the exercise's tolerances;
hidden feedback is the grader's own fixed wording, with nothing the child wrote; a function the
assignment takes away fails its check as "forbidden"; the references a function may not call are
the right ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from grading_fixtures import EXERCISE_ID, SYNTHETIC
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading import scoring, wire


def verdict(value: Any, hidden: bool = False) -> scoring.Verdict:
    checks, _ = scoring.exercise_checks(EXERCISES[EXERCISE_ID], 5)
    check = next(c for c in checks if c.hidden == hidden)
    answer = value(check.expected) if callable(value) else value
    message = {"t": "answer", "case": 0, "value": wire.encode_answer(answer)}
    return scoring.judge(check, message, function="f")


def test_hidden_cases_come_from_the_seed_and_the_id() -> None:
    exercise = EXERCISES[EXERCISE_ID]
    first, _ = scoring.exercise_checks(exercise, 7)
    again, _ = scoring.exercise_checks(exercise, 7)
    other, _ = scoring.exercise_checks(exercise, 8)
    public, _ = scoring.exercise_checks(exercise, None)
    assert len(public) == len(exercise.cases) < len(first)
    assert all(np.array_equal(a.expected, b.expected) for a, b in zip(first, again, strict=True))
    assert not all(
        np.array_equal(a.expected, b.expected) for a, b in zip(first, other, strict=True)
    )


@pytest.mark.parametrize(
    ("answer", "passed", "feedback"),
    [
        (lambda e: e, True, "passed"),
        (lambda e: e.tolist(), True, "passed"),
        (
            lambda e: e.astype(int),
            False,
            "returned integers (int64), expected floating-point numbers",
        ),
        (lambda e: e[:, None], False, "returned shape"),
        (
            lambda e: np.full_like(e, np.nan),
            False,
            "returned NaN where a finite value was expected",
        ),
        (lambda e: e + 1.0, False, "differ"),
        (lambda e: e > 0, False, "returned booleans"),
    ],
)
def test_public_verdicts(answer: Any, passed: bool, feedback: str) -> None:
    result = verdict(answer)
    assert result.passed is passed and feedback in result.feedback


def test_hidden_feedback_shows_no_values() -> None:
    result = verdict(lambda e: e + 1.0, hidden=True)
    assert not result.passed and "not shown" in result.feedback
    assert not any(ch.isdigit() for ch in result.feedback)


@pytest.mark.parametrize(
    "answer",
    [
        {"raised": "ValueError: the input was 0.123456"},
        {"problem": "returned Inputs_123456, which is not a number"},
        {"value": {"dtype": "float64", "shape": [7], "data": "x"}},
        {"value": wire.encode_answer(np.zeros((3, 7)))},
        {"value": wire.encode_answer(np.arange(5))},
    ],
)
def test_hidden_feedback_holds_nothing_the_child_wrote(answer: dict[str, Any]) -> None:
    """On a hidden check, an exception's text, a problem, a malformed answer, a shape or a dtype
    come back as a fixed sentence without a digit."""
    checks, _ = scoring.exercise_checks(EXERCISES[EXERCISE_ID], 5)
    check = next(c for c in checks if c.hidden)
    result = scoring.judge(check, answer, function="f")
    assert not result.passed and "not shown" in result.feedback
    assert not any(ch.isdigit() for ch in result.feedback), result.feedback


def test_non_value_answers() -> None:
    checks, _ = scoring.exercise_checks(EXERCISES[EXERCISE_ID], None)
    check = checks[0]

    def judge(answer: dict[str, Any]) -> scoring.Verdict:
        return scoring.judge(check, answer, function="f", unavailable=frozenset({"mse_grad"}))

    assert judge({"raised": "NotImplementedError: ", "not_implemented": True}).not_attempted
    assert judge({"raised": "KeyError: 'x' at 0x7f00deadbeef"}).feedback == (
        "raised KeyError: 'x' at 0x…"
    )
    assert "could not be read" in judge({"value": {"dtype": "?"}}).feedback
    assert judge({"missing": "anything"}).feedback == "no function named f in the notebook"
    forbidden = judge({"raised": "Unavailable: ...", "unavailable": "mse_grad"})
    assert (forbidden.passed, forbidden.forbidden) == (False, "mse_grad")
    assert forbidden.feedback.startswith("uses lossmod.mse_grad, which this assignment asks you")
    solutions = judge({"raised": "ModuleNotFoundError", "unavailable": "lossmod_instructor.x"})
    assert solutions.forbidden == "lossmod_instructor.x"
    other = judge({"raised": "Unavailable: ...", "unavailable": "mae"})  # not taken away here
    assert (other.forbidden, other.raised) == (None, True)
    assert scoring.clean("a" + chr(0xD800)) == "a\ufffd"


def test_forbidden_references() -> None:
    """The oracle when it is a public lossmod function, plus what the exercise lists, each with
    its aliases (mse_loss is mse)."""
    assert scoring.forbidden_names(SYNTHETIC["synthetic-1"]) == ("mse", "mse_loss")
    assert scoring.forbidden_names(SYNTHETIC["synthetic-2"]) == ("mse_grad", "mse_loss_grad")
    assert scoring.forbidden_names(EXERCISES[EXERCISE_ID]) == ("mse", "mse_loss")  # "NumPy only"
