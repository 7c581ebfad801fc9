"""Scoring in the grader: the reference answers, and the verdict on each of a child's answers.

Expected answers come from each exercise's reference solution, on its public cases and on hidden
ones drawn from the instructor's seed; a case where the solution disagrees with its independent
oracle (central differences for a gradient) is dropped with a warning rather than graded. An
answer passes when its dtype kind matches (floating point for a floating-point answer), its shape
is exactly the expected one, it is finite wherever the expected answer is, and its values are
within the exercise's tolerances. A check earns ``points / checks`` of its exercise; an
exercise whose function used a function the assignment takes away (:func:`forbidden_names`,
missing from the child's library) earns nothing.

Feedback on a hidden check is the grader's own wording only, from a fixed set of sentences:
never a value, a count, a shape, a type name, an exception's text or anything else the child
wrote, which could carry the hidden inputs out.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

import lossmod
import numpy as np
from lossmod.exercises import Case, compare, heading
from numpy.typing import NDArray

from lossmod_instructor.exercises import Exercise
from lossmod_instructor.grading import wire

_KINDS = {"f": "floating-point numbers", "i": "integers", "u": "integers", "b": "booleans"}
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Check:
    """One case of an exercise, with its reference answer."""

    exercise: Exercise
    case: Case
    hidden: bool
    expected: NDArray[Any]

    @property
    def name(self) -> str:
        return f"{heading(self.exercise.id)}: {'hidden: ' if self.hidden else ''}{self.case.name}"


def hidden_rng(seed: int, exercise_id: str) -> np.random.Generator:
    """The generator of an exercise's hidden cases: the seed and the id, nothing else."""
    return np.random.default_rng([seed, zlib.crc32(exercise_id.encode())])


def exercise_checks(exercise: Exercise, seed: int | None) -> tuple[list[Check], list[str]]:
    """The exercise's checks (public, then hidden when a seed is given), and a warning for each
    case dropped because its reference answer disagrees with the oracle."""
    cases = [(case, False) for case in exercise.cases]
    if seed is not None and exercise.hidden is not None:
        cases += [(case, True) for case in exercise.hidden(hidden_rng(seed, exercise.id))]
    checks, warnings = [], []
    for case, hidden in cases:
        where = f"{exercise.id}: case {case.name!r}"
        try:
            expected = np.asarray(case.call(exercise.solution))
        except Exception as error:
            warnings.append(f"{where} dropped: the reference raised {error!r}")
            continue
        try:
            oracle = case.call(exercise.oracle)
        except Exception as error:  # the case stays: the solution alone decides it
            warnings.append(f"{where}: the oracle raised {error!r}; the case is kept unverified")
        else:
            rtol, atol = max(exercise.rtol, 1e-6), max(exercise.atol, 1e-9)
            problem = compare(expected, oracle, rtol=rtol, atol=atol)
            if problem is not None:
                warnings.append(
                    f"{where} dropped: the reference disagrees with its oracle: {problem}"
                )
                continue
        checks.append(Check(exercise, case, hidden, expected))
    return checks, warnings


def forbidden_names(exercise: Exercise) -> tuple[str, ...]:
    """The ``lossmod`` functions the learner's function may not call: those the exercise says it
    re-implements, and its oracle when the oracle is one of lossmod's public functions (the
    child's library also lacks their gradients ``<name>_grad``)."""
    names = set(exercise.reimplements)
    names |= {n for n in lossmod.__all__ if getattr(lossmod, n) is exercise.oracle}
    # an alias is the same function under another name (mse_loss for mse): it goes too
    functions = [getattr(lossmod, n) for n in names if hasattr(lossmod, n)]
    names |= {n for n in lossmod.__all__ if any(getattr(lossmod, n) is f for f in functions)}
    return tuple(sorted(names))


def clean(text: str, limit: int = 600) -> str:
    """A child's text fit for feedback: valid Unicode, no control characters or memory
    addresses, shortened."""
    text = _ADDRESS.sub("0x…", _CONTROL.sub("?", wire.valid_text(text)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unavailable_text(name: str) -> str:
    """How feedback names what the child's library lacks, and why."""
    if name.startswith("lossmod_instructor"):
        return f"{name}, the course's reference solutions"
    return f"lossmod.{name}, which this assignment asks you to write yourself"


@dataclass(frozen=True)
class Verdict:
    """The verdict on one check. ``forbidden`` names the function the answer used that the
    assignment takes away (the check then fails, and its exercise earns nothing)."""

    passed: bool
    feedback: str
    not_attempted: bool = False
    raised: bool = False
    forbidden: str | None = None


_HIDDEN = "(hidden check: not shown)"


def judge(
    check: Check,
    answer: dict[str, Any],
    *,
    function: str,
    unavailable: frozenset[str] = frozenset(),
) -> Verdict:
    """The verdict on one answer message of the child, about a call of ``function``;
    ``unavailable``: what the child's library lacks (see :mod:`.library`)."""
    hidden = check.hidden
    if "missing" in answer:
        return Verdict(False, f"no function named {function} in the notebook", True)
    if "raised" in answer:
        name = answer.get("unavailable")
        if isinstance(name, str) and (name in unavailable or name.startswith("lossmod_instructor")):
            shown = f"uses {unavailable_text(name)}: not available while grading"
            return Verdict(False, shown, forbidden=name)
        if answer.get("not_implemented") is True:
            return Verdict(False, "not attempted yet (raises NotImplementedError)", True)
        if hidden:
            return Verdict(False, f"raised an exception {_HIDDEN}", raised=True)
        return Verdict(False, f"raised {clean(str(answer['raised']))}", raised=True)
    if "problem" in answer:
        return Verdict(
            False,
            f"its answer could not be read {_HIDDEN}" if hidden else clean(str(answer["problem"])),
        )
    try:
        got = wire.decode_answer(answer.get("value"))
    except wire.WireError as error:
        why = _HIDDEN if hidden else f"({error})"
        return Verdict(False, f"its answer could not be read {why}")
    problem = _problem(got, check.expected, check)
    return Verdict(problem is None, problem or "passed")


def _problem(got: NDArray[Any], expected: NDArray[Any], check: Check) -> str | None:
    want, have = _KINDS.get(expected.dtype.kind, "numbers"), _KINDS.get(got.dtype.kind, "?")
    hidden = check.hidden
    if want != have:
        if hidden:
            return f"returned {have}, expected {want} {_HIDDEN}"
        return f"returned {have} ({got.dtype}), expected {want}"
    if got.shape != expected.shape:
        if hidden:
            return f"returned shape other than expected {_HIDDEN}"
        return f"returned shape {got.shape}, expected shape {expected.shape}"
    got_f, expected_f = got.astype(np.float64), expected.astype(np.float64)
    bad = np.isfinite(expected_f) & ~np.isfinite(got_f)
    if bad.any():
        kind = "NaN" if np.isnan(got_f[bad]).any() else "an infinity"
        count = _HIDDEN if hidden else f"({int(bad.sum())} of {bad.size})"
        return f"returned {kind} where a finite value was expected {count}"
    if hidden:
        close = np.isclose(
            got_f, expected_f, rtol=check.exercise.rtol, atol=check.exercise.atol, equal_nan=True
        )
        return None if close.all() else f"returned wrong values {_HIDDEN}"
    exercise = check.exercise
    about = f"{exercise.task} {exercise.function_name}"
    return compare(
        got_f, expected_f, rtol=exercise.rtol, atol=exercise.atol, case=check.case, about=about
    )


@dataclass(frozen=True)
class CheckResult:
    check: Check
    verdict: Verdict


@dataclass(frozen=True)
class ExerciseResult:
    """An exercise's checks and what they earned; ``forfeit`` says why it earns nothing."""

    exercise: Exercise
    results: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()
    forfeit: str | None = None

    @property
    def share(self) -> float:
        return self.exercise.points / max(len(self.results), 1)

    @property
    def forbidden(self) -> str | None:
        """The first function its checks used that the assignment takes away."""
        return next((r.verdict.forbidden for r in self.results if r.verdict.forbidden), None)

    @property
    def score(self) -> float:
        if self.forfeit is not None or not self.results:
            return 0.0
        return (
            self.exercise.points * sum(r.verdict.passed for r in self.results) / len(self.results)
        )

    @property
    def status(self) -> str:
        """``passed``, ``failed`` or ``not attempted``, as the learner's checker says."""
        if self.results and all(r.verdict.not_attempted for r in self.results):
            return "not attempted"
        passed = self.forfeit is None and all(r.verdict.passed for r in self.results)
        return "passed" if passed else "failed"
