"""The course's exercises: one registry, and the learner's checker.

Each chapter's exercises live in a module of this package
(``lossmod/exercises/<chapter>.py``) as a tuple ``EXERCISES`` of
:class:`Exercise`. An exercise is a function the learner writes; its
reference solution is the single source of three things:

- the learner's starting cell, :func:`starter_cell`: the solution's
  signature and docstring with the body replaced by
  ``raise NotImplementedError`` (``python -m lossmod.exercises sync``
  writes it into the chapter notebooks, and a test fails when a notebook's
  copy is stale);
- the solution shown in the book, by ``literalinclude`` of the solution
  function;
- the expected answers of :func:`check`, computed by the solution on the
  public check cases.

The solution is itself tested against an independent ``oracle`` (a
``lossmod`` loss, scipy, scikit-learn or a numerical derivative) on the
public cases and on hidden ones, so an expected answer is never just the
solution agreeing with itself. The instructor's grader uses the same
registry, with hidden cases drawn from a seed the learner never sees.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EXERCISES",
    "Case",
    "CaseResult",
    "CheckReport",
    "Exercise",
    "check",
    "compare",
    "solution",
    "starter_cell",
    "stub_source",
]


@dataclass(frozen=True)
class Case:
    """One set of arguments for an exercise's function, with a name that
    feedback shows."""

    name: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def call(self, function: Callable[..., Any]) -> Any:
        """``function(*args, **kwargs)`` on copies, so a function that
        writes into its inputs cannot change the case for the next
        caller."""
        args = tuple(
            np.array(a, copy=True) if isinstance(a, np.ndarray) else a
            for a in self.args
        )
        return function(*args, **dict(self.kwargs))

    def describe(self, width: int = 160) -> str:
        """The arguments, shortened to ``width`` characters, for
        feedback."""
        with np.printoptions(precision=4, threshold=8, edgeitems=2):
            parts = [_short(a) for a in self.args]
            parts += [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        text = ", ".join(parts)
        return text if len(text) <= width else text[: width - 3] + "..."


def reduction_cases(
    pred: NDArray[Any], target: NDArray[Any], array_case: str
) -> tuple[Case, ...]:
    """The public cases of a regression loss with a ``reduction``
    argument: four values reduced by "mean", "sum" and "none", then the
    same values as a (2, 2) array, named ``array_case``, by "mean"."""
    return (
        Case("four values, mean", (pred, target)),
        Case("four values, sum", (pred, target), {"reduction": "sum"}),
        Case("four values, none", (pred, target), {"reduction": "none"}),
        Case(array_case, (pred.reshape(2, 2), target.reshape(2, 2))),
    )


def _short(value: Any) -> str:
    return repr(value).replace("\n", " ").replace("       ", " ")


@dataclass(frozen=True)
class Exercise:
    """An exercise: a function to write, its reference solution and the
    cases that check it.

    Attributes
    ----------
    id : str
        ``"<chapter>-<n>"``, the same as the exercise's label in the book.
    task : str
        One line: what the learner's function computes.
    solution : callable
        The reference solution, a top-level function of the chapter's
        exercise module. Its name, signature and docstring are what the
        learner starts from.
    cases : tuple of Case
        The public check cases, shown in feedback.
    oracle : callable
        An independent computation of the same result with the same
        arguments (a ``lossmod`` function, scipy, scikit-learn, or a
        numerical derivative); the tests compare the solution with it on
        every case, public and hidden.
    hidden : callable, optional
        ``hidden(rng)`` returns further cases (extreme inputs among them)
        for the instructor's grader; never shown to learners.
    rtol, atol : float
        Tolerances of the comparison with the solution's answer.
    points : int
        What the exercise is worth; a submission earns the fraction of
        checks it passes.
    reimplements : tuple of str
        The ``lossmod`` functions the exercise asks the learner to write,
        e.g. ``("mse",)``: the instructor's grader gives no points for the
        exercise to a function that calls one of them
        (or the reference solution).
    """

    id: str
    task: str
    solution: Callable[..., Any]
    cases: tuple[Case, ...]
    oracle: Callable[..., Any]
    hidden: Callable[[np.random.Generator], tuple[Case, ...]] | None = None
    rtol: float = 1e-7
    atol: float = 1e-12
    points: int = 1
    reimplements: tuple[str, ...] = ()

    @property
    def chapter(self) -> str:
        """The chapter the exercise belongs to: the id without its
        number."""
        return self.id.rsplit("-", 1)[0]

    @property
    def function_name(self) -> str:
        return self.solution.__name__


# -------------------------------------------------------------------------
# Comparing one answer with the expected one


def compare(
    got: Any, expected: Any, *, rtol: float, atol: float
) -> str | None:
    """None when ``got`` matches ``expected`` (same shape, close values,
    NaN where NaN), else a sentence saying what is wrong."""
    expected_array = np.asarray(expected, dtype=np.float64)
    if got is None:
        return "returned None (is a `return` missing?)"
    try:
        got_array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError) as error:
        return (
            f"returned {type(got).__name__}, which is not a number or an "
            f"array ({error})"
        )
    if got_array.shape != expected_array.shape:
        return (
            f"returned shape {got_array.shape}, "
            f"expected shape {expected_array.shape}"
        )
    bad = ~np.isclose(
        got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True
    )
    if not bad.any():
        return None
    with np.printoptions(precision=6, threshold=8, edgeitems=2):
        if expected_array.ndim == 0:
            return (
                f"expected {float(expected_array)!r}, "
                f"got {float(got_array)!r}"
            )
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return (
            f"{int(bad.sum())} of {bad.size} values differ; "
            f"first at index {where}: "
            f"expected {float(expected_array[where])!r}, "
            f"got {float(got_array[where])!r}"
        )


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

    exercise: Exercise
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
        return (
            self.exercise.points
            * sum(r.passed for r in self.results)
            / len(self.results)
        )

    def __repr__(self) -> str:
        total = len(self.results)
        failed = [r for r in self.results if not r.passed]
        if self.status == "not attempted":
            return feedback_head(self.exercise, NOT_ATTEMPTED)
        if self.status == "passed":
            return feedback_head(
                self.exercise, f"passed all {total} checks."
            )
        lines = [
            feedback_head(
                self.exercise, f"{len(failed)} of {total} checks failed."
            )
        ]
        for result in failed:
            lines.append(f"  - {result.case.name}: {result.problem}")
            lines.append(f"      called with {result.case.describe()}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


FEEDBACK_WIDTH = 75
"""Feedback lines wrap at the width of a code cell's output in the book."""
NOT_ATTEMPTED = (
    "not attempted yet. Replace `raise NotImplementedError` with "
    "your code."
)


def feedback_head(exercise: Exercise, verdict: str) -> str:
    """``"<id> (<task>): <verdict>"`` on one line if it fits in
    :data:`FEEDBACK_WIDTH` columns; otherwise the heading, wrapped, and the
    verdict on a line of its own."""
    line = f"{exercise.id} ({exercise.task}): {verdict}"
    if len(line) <= FEEDBACK_WIDTH:
        return line
    head = textwrap.fill(
        f"{exercise.id} ({exercise.task}):",
        FEEDBACK_WIDTH,
        subsequent_indent="  ",
    )
    return f"{head}\n  {verdict}"


def _run(
    exercise: Exercise, function: Callable[..., Any], case: Case
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
    expected = case.call(exercise.solution)
    return compare(
        got, expected, rtol=exercise.rtol, atol=exercise.atol
    ), False


def check(exercise_id: str, function: Callable[..., Any]) -> CheckReport:
    """Check a learner's function for an exercise on its public cases.

    Returns a :class:`CheckReport`, which a notebook displays as feedback:
    for each failing case, which input it was and what was expected. A
    function that raises ``NotImplementedError``
    (the untouched starting cell) is reported as "not attempted yet", not
    as an error.
    """
    exercise = _lookup(exercise_id)
    outcomes = [
        (case, *_run(exercise, function, case)) for case in exercise.cases
    ]
    if all(not_written for _, _, not_written in outcomes):
        return CheckReport(exercise, "not attempted")
    results = tuple(
        CaseResult(case, problem) for case, problem, _ in outcomes
    )
    status = "passed" if all(r.passed for r in results) else "failed"
    return CheckReport(exercise, status, results)


def solution(exercise_id: str) -> Callable[..., Any]:
    """The reference solution of an exercise."""
    return _lookup(exercise_id).solution


# -------------------------------------------------------------------------
# The learner's starting cell, derived from the solution


def stub_source(exercise_id: str) -> str:
    """The solution's ``def`` line and docstring, without type annotations
    (a notebook cell need not import the typing names), its body replaced
    by ``raise NotImplementedError``."""
    exercise = _lookup(exercise_id)
    source = textwrap.dedent(inspect.getsource(exercise.solution))
    definition = ast.parse(source).body[0]
    assert isinstance(definition, ast.FunctionDef)
    arguments = definition.args
    for argument in [
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
    ]:
        argument.annotation = None
    for variadic in (arguments.vararg, arguments.kwarg):
        if variadic is not None:
            variadic.annotation = None
    definition.returns = None
    definition.decorator_list = []
    first = definition.body[0]
    has_docstring = isinstance(first, ast.Expr) and isinstance(
        first.value, ast.Constant
    )
    definition.body = [first] if has_docstring else [ast.Pass()]
    text = ast.unparse(definition)
    if not has_docstring:
        text = text.removesuffix("\n    pass")
    return f"{text}\n    raise NotImplementedError  # your code here"


def starter_cell(exercise_id: str) -> str:
    """The source of the learner's cell for an exercise: the stub, then the
    check."""
    exercise = _lookup(exercise_id)
    return (
        f"{stub_source(exercise_id)}\n\n\n"
        f'check("{exercise_id}", {exercise.function_name})'
    )


# -------------------------------------------------------------------------
# The registry: every module of this package contributes its EXERCISES


def _collect() -> Mapping[str, Exercise]:
    found: dict[str, Exercise] = {}
    for module_info in sorted(
        pkgutil.iter_modules(__path__), key=lambda m: m.name
    ):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for exercise in getattr(module, "EXERCISES", ()):
            if exercise.id in found:
                raise ValueError(
                    f"exercise id {exercise.id!r} is registered twice"
                )
            found[exercise.id] = exercise
    return MappingProxyType(found)


_REGISTRY: Mapping[str, Exercise] | None = None


def _registry() -> Mapping[str, Exercise]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _collect()
    return _REGISTRY


def _lookup(exercise_id: str) -> Exercise:
    registry = _registry()
    if exercise_id not in registry:
        raise ValueError(
            "exercise_id must be one of the registered exercises; "
            f"got {exercise_id!r} "
            f"(known: {', '.join(sorted(registry)) or 'none'})"
        )
    return registry[exercise_id]


def __getattr__(name: str) -> Any:
    # EXERCISES is built on first use, so importing this package does not
    # import every chapter's module (and a chapter module may import this
    # one for Case and Exercise).
    if name == "EXERCISES":
        return _registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
