"""The course's exercises as learners get them: the catalogue, and the checker.

Every exercise of the book is in the catalogue (``catalogue.json`` beside
this module): its number in the book ("Exercise 3.2"), its id (the
exercise's label, ``"mse-2"``), its chapter and a one-line task. An
exercise with code to write also names the function and carries its
public checks: inputs and the expected outputs, stored as data. A written
exercise (a derivation or an explanation) has nothing to check.

``check("mse-2", your_function)`` calls your function on each public
input and compares what it returns with the stored output, saying which
input failed, what was expected, what came back and, where it can tell,
the likely slip (a factor of n, a wrong sign, a transposed result).

The reference solutions are not here: they belong to the instructor's
course platform, which generates this catalogue from them.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossmod.exercises._data import decode

__all__ = [
    "CATALOGUE",
    "NOT_ATTEMPTED",
    "Case",
    "CaseResult",
    "CheckReport",
    "PublicExercise",
    "check",
    "compare",
    "feedback_head",
    "heading",
]


@dataclass(frozen=True)
class Case:
    """One set of arguments for an exercise's function, with a name that
    feedback shows, and (for a public check) the expected answer."""

    name: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None

    def call(self, function: Callable[..., Any]) -> Any:
        """``function(*args, **kwargs)`` on copies, so a function that
        writes into its inputs cannot change the case for the next
        caller."""
        args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in self.args)
        return function(*args, **dict(self.kwargs))

    def describe(self, width: int = 160) -> str:
        """The arguments, shortened to ``width`` characters, for
        feedback."""
        text = ", ".join(self.arguments())
        return text if len(text) <= width else text[: width - 3] + "..."

    def arguments(self, width: int = 1000) -> list[str]:
        """Each argument as feedback shows it (``name=value`` for keyword
        arguments), shortened to ``width`` characters."""
        with np.printoptions(precision=4, threshold=8, edgeitems=2):
            parts = [_short(a) for a in self.args]
            parts += [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return [p if len(p) <= width else p[: width - 3] + "..." for p in parts]


def _short(value: Any) -> str:
    return re.sub(r"\s+", " ", repr(value)).replace("[ ", "[")


@dataclass(frozen=True)
class PublicExercise:
    """What a learner sees of an exercise.

    Attributes
    ----------
    id : str
        ``"<chapter>-<n>"``, the exercise's label in the book.
    number : str
        Its number in the book, ``"3.2"``: chapter 3, second exercise.
    chapter, chapter_title : str
        The chapter's file name (``"mse"``) and title.
    kind : {"code", "written"}
        A function to write, checked by :func:`check`; or a derivation or
        explanation, which nothing checks.
    task : str
        One line: what to do.
    function : str or None
        The name of the function to write (code exercises).
    cases : tuple of Case
        The public checks, each with its expected answer.
    rtol, atol : float
        Tolerances of the comparison with the expected answer.
    points : int
        What the exercise is worth when graded.
    """

    id: str
    number: str
    chapter: str
    chapter_title: str
    kind: str
    task: str
    function: str | None = None
    cases: tuple[Case, ...] = ()
    rtol: float = 1e-7
    atol: float = 1e-12
    points: int = 1

    @property
    def heading(self) -> str:
        """``"Exercise 3.2 (mse-2)"``, as the book numbers it."""
        return f"Exercise {self.number} ({self.id})"


CATALOGUE_FILE = "catalogue.json"


def _read_catalogue(
    data: Mapping[str, Any],
) -> Mapping[str, PublicExercise]:
    chapters = {c["name"]: c for c in data["chapters"]}
    found: dict[str, PublicExercise] = {}
    for entry in data["exercises"]:
        chapter = chapters[entry["chapter"]]
        cases = tuple(
            Case(
                case["name"],
                tuple(decode(a) for a in case["args"]),
                MappingProxyType({k: decode(v) for k, v in case["kwargs"].items()}),
                decode(case["expected"]),
            )
            for case in entry.get("cases", ())
        )
        found[entry["id"]] = PublicExercise(
            id=entry["id"],
            number=entry["number"],
            chapter=entry["chapter"],
            chapter_title=chapter["title"],
            kind=entry["kind"],
            task=entry["task"],
            function=entry.get("function"),
            cases=cases,
            rtol=entry.get("rtol", 1e-7),
            atol=entry.get("atol", 1e-12),
            points=entry.get("points", 1),
        )
    return MappingProxyType(found)


@cache
def catalogue() -> Mapping[str, PublicExercise]:
    """Every exercise of the book, by id, in the book's order."""
    text = resources.files(__name__).joinpath(CATALOGUE_FILE).read_text("utf-8")
    return _read_catalogue(json.loads(text))


def _lookup(exercise_id: str) -> PublicExercise:
    known = catalogue()
    if not isinstance(exercise_id, str) or exercise_id not in known:
        raise ValueError(
            "exercise_id must be the id of an exercise of the book, such as "
            f"'mse-2'; got {exercise_id!r} (`lossmod exercises` lists them)"
        )
    return known[exercise_id]


def heading(exercise_id: str) -> str:
    """``"Exercise 3.2 (mse-2)"``; the bare id for an unknown one."""
    exercise = catalogue().get(exercise_id)
    return exercise.heading if exercise is not None else exercise_id


# -------------------------------------------------------------------------
# Comparing one answer with the expected one

_NOT_NUMBERS = "USOVMmc"


def compare(
    got: Any,
    expected: Any,
    *,
    rtol: float,
    atol: float,
    case: Case | None = None,
    about: str = "",
) -> str | None:
    """None when ``got`` matches ``expected`` (same shape, close values,
    NaN where NaN), else a sentence saying what is wrong and, where the
    numbers show it, the likely slip (``case`` gives the input shapes
    that the diagnosis names, ``about`` the exercise's task)."""
    expected_array = np.asarray(expected)
    if got is None:
        return "returned None (is a `return` missing?)"
    problem = _not_a_number(got)
    if problem is not None:
        return problem
    got_array = np.asarray(got)
    if got_array.dtype.kind == "b" and expected_array.dtype.kind != "b":
        return (
            f"returned {_kind_of(got)} True/False, expected numbers: "
            "return the value, not a comparison"
        )
    got_array = got_array.astype(np.float64)
    expected_array = expected_array.astype(np.float64)
    if got_array.shape != expected_array.shape:
        return _shape_problem(got_array, expected_array)
    bad = ~np.isclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return None
    slip = _diagnose(got_array, expected_array, rtol, atol, case, about)
    hint = f" {slip}" if slip else ""
    if expected_array.ndim == 0:
        want, have = _pair(float(expected_array), float(got_array), rtol)
        return f"expected {want}, got {have}.{hint}"
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    want, have = _pair(float(expected_array[where]), float(got_array[where]), rtol)
    return (
        f"{int(bad.sum())} of {bad.size} values differ; first at index "
        f"{where}: expected {want}, got {have}.{hint}"
    )


def _kind_of(value: Any) -> str:
    return f"a value of type {type(value).__name__}"


def _not_a_number(got: Any) -> str | None:
    """Why ``got`` is not a number or an array of numbers, or None."""
    if isinstance(got, (str, bytes)):
        return (
            f"returned the text {str(got)[:40]!r}, not a number: return "
            "the number itself (a float or a NumPy array), not a string"
        )
    try:
        array = np.asarray(got)
    except Exception:  # a ragged list, or an object NumPy cannot read
        return f"returned {_kind_of(got)}: not a number or an array of numbers"
    if array.dtype.kind == "c":
        return "returned complex numbers; the answer is real"
    if array.dtype.kind in _NOT_NUMBERS:
        held = "text" if array.dtype.kind in "US" else "objects"
        return f"returned {_kind_of(got)} holding {held}: not a number or an array of numbers"
    return None


def _shape_problem(got: NDArray[Any], expected: NDArray[Any]) -> str:
    text = f"returned shape {got.shape}, expected shape {expected.shape}"
    if got.size == expected.size and got.size > 1:
        if got.ndim == 2 and got.shape == expected.shape[::-1]:
            return f"{text}: transposed? (rows and columns swapped)"
        squeezed = tuple(n for n in got.shape if n != 1)
        if squeezed == tuple(n for n in expected.shape if n != 1):
            return (
                f"{text}: the same values with an extra or a missing axis "
                "of length 1 (keepdims, reshape or [:, None]?)"
            )
    if expected.ndim == 0 and got.size == 1:
        return f"{text}: return a single number (float(...)), not an array"
    if expected.ndim == 0:
        return f"{text}: the answer is one number (was it reduced?)"
    if got.ndim == 0:
        return f"{text}: an array is expected (reduced too much?)"
    return text


def _pair(expected: float, got: float, rtol: float) -> tuple[str, str]:
    """Both numbers at the fewest significant digits (4 at least, as many
    as the tolerance asks at most) that show them differ."""
    most = int(min(17, max(4, np.ceil(-np.log10(max(rtol, 1e-17))) + 2)))
    for digits in range(4, most + 1):
        want, have = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if want != have:
            return want, have
    return repr(expected), repr(got)


def _broadcast_factor(
    case: Case, about: str, shape: tuple[int, ...]
) -> list[tuple[float, str, str]]:
    """In a gradient exercise whose first two array inputs broadcast to
    more elements than the first has (``shape``, the answer's, is the
    first input's): the number of targets each prediction meets, named
    for the slip each way (dividing by pred.size instead of every pair;
    a mean over the broadcast axes where their sum is meant)."""
    arrays = [a for a in case.args if isinstance(a, np.ndarray) and a.ndim]
    if len(arrays) < 2 or "gradient" not in about.lower():
        return []
    first, second = arrays[0], arrays[1]
    if shape != first.shape:
        return []
    try:
        pairs = int(np.prod(np.broadcast_shapes(first.shape, second.shape)))
    except ValueError:
        return []
    meets = pairs // first.size
    if meets <= 1:
        return []
    return [
        (
            float(meets),
            f"each prediction meets {meets} targets (dividing by the "
            f"{first.size} predictions instead of all {pairs} pairs?)",
            f"each prediction meets {meets} targets (a mean over the "
            "broadcast axes where their sum is meant?)",
        )
    ]


def _sizes(
    case: Case | None, about: str, shape: tuple[int, ...] = ()
) -> list[tuple[float, str, str]]:
    """Factors a slip multiplies by, named (for a result too large, and
    too small): the targets each prediction meets when the inputs
    broadcast, then the number of elements, the batch size and the number
    of classes of the first array input (``about``, the exercise's task,
    tells "batchmean" apart; ``shape`` is the answer's)."""
    if case is None:
        return []
    first = next(
        (a for a in case.args if isinstance(a, np.ndarray) and a.ndim),
        None,
    )
    if first is None:
        return []
    broadcast = _broadcast_factor(case, about, shape)
    batchmean = "batchmean" in (str(case.kwargs.get("reduction")) + about)
    # the last axis holds classes only in a classification exercise
    words = ("class", "logit", "softmax", "entropy", "label")
    classes_axis = batchmean or any(w in about.lower() for w in words)
    named: list[tuple[float, str]] = []
    if first.ndim >= 2:
        classes = first.shape[-1]
        if batchmean:
            named.append(
                (
                    classes,
                    f'C = {classes} ("mean" divides by N C, "batchmean" by the batch size N)',
                )
            )
        elif classes_axis:
            named.append((classes, f"the number of classes C = {classes}"))
        else:
            named.append((classes, f"the size of the last axis, {classes}"))
        rows = first.shape[0]
        if classes_axis:
            named.append((rows, f"the batch size N = {rows}"))
        else:
            named.append((rows, f"the number of rows, {rows}"))
    named.append(
        (
            first.size,
            f"the number of elements n = {first.size} (a sum where the "
            "mean is asked, or the reverse?)",
        )
    )
    return broadcast + [(float(k), text, text) for k, text in named if k > 1]


def _diagnose(
    got: NDArray[np.float64],
    expected: NDArray[np.float64],
    rtol: float,
    atol: float,
    case: Case | None,
    about: str,
) -> str | None:
    """The slip that turns ``expected`` into ``got``, when every value
    shows the same one."""
    usable = np.isfinite(got) & np.isfinite(expected) & (expected != 0)
    if not usable.any():
        return None
    ratios = got[usable] / expected[usable]
    ratio = float(ratios[0])
    if ratio == 0:
        # all zeros where values were expected: not a scaling slip
        return None
    if np.all(got == np.round(got)) and np.all(expected == np.round(expected)):
        # counts and indices: an off-by-one is not a factor
        return None
    tolerance = max(rtol, 1e-9) * 10
    if not np.allclose(ratios, ratio, rtol=tolerance, atol=0):
        return None
    if not np.allclose(got, ratio * expected, rtol=tolerance, atol=atol):
        return None  # the zeros or non-finite values do not follow
    sign = "the wrong sign, and " if ratio < 0 else ""
    size = abs(ratio)
    if np.isclose(size, 1.0, rtol=tolerance):
        return "Every value has the wrong sign." if ratio < 0 else None
    if np.isclose(size, 1.0, rtol=1e-4):
        return (
            f"Hint: {sign}every value is off by the same relative "
            f"{abs(size - 1):.1e}: rounding (float32, or a formula that "
            "loses digits)?"
        )
    for factor, large, small in [*_sizes(case, about, got.shape), (2.0, "2", "2")]:
        if np.isclose(size, factor, rtol=tolerance):
            return f"Hint: {sign}every value is {factor:g} times too large: {large}."
        if np.isclose(size, 1.0 / factor, rtol=tolerance):
            return f"Hint: {sign}every value is {factor:g} times too small: {small}."
    return f"Hint: every value is {ratio:.6g} times the expected one."


# -------------------------------------------------------------------------
# The learner's checker


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one check case: ``problem`` is None when it
    passed."""

    case: Case
    problem: str | None

    @property
    def passed(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check` found; shown in a notebook as the feedback
    text."""

    exercise: PublicExercise
    status: str  # "passed", "failed" or "not attempted"
    results: tuple[CaseResult, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def score(self) -> float:
        """The fraction of the exercise's points earned: passed cases / all
        cases."""
        if not self.results:
            return 0.0
        return self.exercise.points * sum(r.passed for r in self.results) / len(self.results)

    def __repr__(self) -> str:
        total = len(self.results)
        failed = [r for r in self.results if not r.passed]
        if self.status == "not attempted":
            return feedback_head(self.exercise.id, NOT_ATTEMPTED)
        if self.status == "passed":
            return feedback_head(self.exercise.id, f"passed all {total} checks.")
        lines = [
            feedback_head(
                self.exercise.id,
                f"{len(failed)} of {total} checks failed.",
            )
        ]
        for result in failed:
            lines += failure_lines(result.case, str(result.problem))
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


FEEDBACK_WIDTH = 75
"""Feedback lines wrap at the width of a code cell's output in the book."""
NOT_ATTEMPTED = "not attempted yet. Replace `raise NotImplementedError` with your code."


def feedback_head(exercise_id: str, verdict: str) -> str:
    """``"Exercise 3.2 (mse-2), <task>: <verdict>"`` on one line if it fits
    in :data:`FEEDBACK_WIDTH` columns; otherwise the heading, wrapped, and
    the verdict on a line of its own."""
    exercise = catalogue().get(exercise_id)
    task = f", {exercise.task}" if exercise is not None else ""
    head = f"{heading(exercise_id)}{task}:"
    line = f"{head} {verdict}"
    if len(line) <= FEEDBACK_WIDTH:
        return line
    # whole words only: "label-smoothed" is not split after its hyphen
    wrapped = textwrap.fill(head, FEEDBACK_WIDTH, subsequent_indent="  ", break_on_hyphens=False)
    return f"{wrapped}\n  {verdict}"


def failure_lines(case: Case, problem: str) -> list[str]:
    """A failed check as feedback: the case and the problem, then the
    input, wrapped at :data:`FEEDBACK_WIDTH` columns."""
    lines = textwrap.wrap(
        f"- {case.name}: {problem}",
        FEEDBACK_WIDTH,
        initial_indent="  ",
        subsequent_indent="      ",
        break_on_hyphens=False,
    )
    arguments = case.arguments(FEEDBACK_WIDTH - 8)
    lines.append("      called with:" if len(arguments) > 1 else "      called with")
    lines += [f"        {a}" for a in arguments]
    return lines


def _run(
    exercise: PublicExercise, function: Callable[..., Any], case: Case
) -> tuple[str | None, bool]:
    """(problem or None, whether the function said it is not written
    yet)."""
    try:
        got = case.call(function)
    except NotImplementedError:
        return "not implemented", True
    except Exception as error:
        # the learner's code may raise anything: report it
        return f"raised {type(error).__name__}: {error}", False
    about = f"{exercise.task} {exercise.function}"
    return compare(
        got,
        case.expected,
        rtol=exercise.rtol,
        atol=exercise.atol,
        case=case,
        about=about,
    ), False


def check(exercise_id: str, function: Callable[..., Any]) -> CheckReport:
    """Check a learner's function for an exercise on its public cases.

    Returns a :class:`CheckReport`, which a notebook displays as feedback:
    for each failing case, which input it was, what was expected and what
    came back. A function that raises ``NotImplementedError`` (the
    untouched starting cell) is reported as "not attempted yet", not as an
    error.
    """
    exercise = _lookup(exercise_id)
    if exercise.kind != "code":
        raise ValueError(
            f"exercise_id {exercise_id!r} is a written exercise "
            f"({exercise.heading}): there is no function to check"
        )
    if not callable(function):
        raise TypeError(
            f"function must be the function you wrote for {exercise.heading}; "
            f"got {_kind_of(function)}"
        )
    outcomes = [(case, *_run(exercise, function, case)) for case in exercise.cases]
    if all(not_written for _, _, not_written in outcomes):
        return CheckReport(exercise, "not attempted")
    results = tuple(CaseResult(case, problem) for case, problem, _ in outcomes)
    status = "passed" if all(r.passed for r in results) else "failed"
    return CheckReport(exercise, status, results)


def __getattr__(name: str) -> Any:
    # The catalogue is read on first use, so `import lossmod` stays fast.
    if name == "CATALOGUE":
        return catalogue()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
