"""The exercises as the instructor holds them: reference solutions, oracles and hidden cases.

Each chapter's exercises live in a module of :mod:`lossmod_instructor.exercises`
(``<chapter>.py``, the chapter's file name with ``_`` for ``-``) as a tuple ``EXERCISES`` of
:class:`Exercise` (functions to write) and a mapping ``WRITTEN`` of the written exercises' ids to
their one-line tasks. An exercise's
reference solution is the single source of four things:

- the learner's starting cell, :func:`starter_cell`: the solution's signature and docstring with
  the body replaced by ``raise NotImplementedError`` (``python -m lossmod_instructor sync``
  writes it into the chapter notebooks; a test fails when a notebook's copy is stale);
- the solution shown in the instructor's book, by ``literalinclude`` of the solution function;
- the expected answers of the public checks, which ``python -m lossmod_instructor publish``
  stores in ``lossmod/exercises/catalogue.json`` for the learner's ``check``;
- the grader's expected answers, on the public cases and on hidden ones drawn from a seed.

Every solution is tested against an independent ``oracle`` (a ``lossmod`` loss, scipy,
scikit-learn or a numerical derivative) on the public cases and on hidden ones, so an expected
answer is never just the solution agreeing with itself. None of this package ships to learners.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossmod.exercises import Case

__all__ = [  # and EXERCISES, WRITTEN (built on first use)
    "Case",
    "Exercise",
    "library_oracle",
    "reduction_cases",
    "solution",
    "starter_cell",
    "stub_source",
]


@dataclass(frozen=True)
class Exercise:
    """An exercise: a function to write, its reference solution and the cases that check it.

    Attributes
    ----------
    id : str
        ``"<chapter>-<n>"``, the same as the exercise's label in the book.
    task : str
        One line: what the learner's function computes.
    solution : callable
        The reference solution, a top-level function of the chapter's module. Its name,
        signature and docstring are what the learner starts from.
    cases : tuple of Case
        The public check cases, shown in feedback (their expected answers are the solution's).
    oracle : callable
        An independent computation of the same result with the same arguments (a ``lossmod``
        function, scipy, scikit-learn, or a numerical derivative); the tests compare the solution
        with it on every case, public and hidden.
    hidden : callable, optional
        ``hidden(rng)`` returns further cases (extreme inputs among them) for the grader; never
        shown to learners.
    rtol, atol : float
        Tolerances of the comparison with the solution's answer.
    points : int
        What the exercise is worth; a submission earns the fraction of checks it passes.
    reimplements : tuple of str
        The ``lossmod`` functions the exercise asks the learner to write, e.g. ``("mse",)``: the
        grader's child gets a lossmod in which they and their gradients ``<name>_grad`` raise; an
        exercise whose function uses one earns nothing. Declare them whenever the text says from
        scratch, NumPy only or without lossmod (tests/test_grading_library.py checks).
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
        """The chapter the exercise belongs to: the id without its number."""
        return self.id.rsplit("-", 1)[0]

    @property
    def function_name(self) -> str:
        return self.solution.__name__


def reduction_cases(pred: NDArray[Any], target: NDArray[Any], array_case: str) -> tuple[Case, ...]:
    """The public cases of a regression loss with a ``reduction`` argument: four values reduced
    by "mean", "sum" and "none", then the same values as a (2, 2) array, named ``array_case``, by
    "mean"."""
    return (
        Case("four values, mean", (pred, target)),
        Case("four values, sum", (pred, target), {"reduction": "sum"}),
        Case("four values, none", (pred, target), {"reduction": "none"}),
        Case(array_case, (pred.reshape(2, 2), target.reshape(2, 2))),
    )


_BROADCAST_ROW = np.array([1.0, -2.0, 0.5])
_BROADCAST_ROW_TARGETS = np.array(
    [[0.0, 1.0, 2.0], [3.0, -1.0, 0.5], [-1.0, 0.0, 1.5], [2.0, -3.0, 0.0], [0.5, 2.5, -0.5]]
)


def broadcast_row_case(reduction: str) -> Case:
    """The public case of a regression gradient (mse-2, mae-2) where a (3,) row of predictions
    broadcasts against a (5, 3) target, reduced by ``reduction``: each prediction meets 5
    targets, a factor no other slip in the exercises multiplies by (one residual is 0)."""
    return Case(
        f"a (3,) row against a (5, 3) target, {reduction}",
        (_BROADCAST_ROW, _BROADCAST_ROW_TARGETS),
        {"reduction": reduction},
    )


def library_oracle(
    function: Callable[..., Any], /, *positional: str, **fixed: Any
) -> Callable[..., NDArray[np.float64]]:
    """An oracle that is a ``lossmod`` function: ``oracle(first, target, *extra, **options)`` calls
    ``function(first, target, **options)`` with the ``extra`` arguments passed by the keywords
    named in ``positional`` and the ``fixed`` options added, and returns the result as a float64
    array."""

    def oracle(first: Any, target: Any, *extra: Any, **options: Any) -> NDArray[np.float64]:
        named = dict(zip(positional, extra, strict=True))
        return np.asarray(function(first, target, **named, **options, **fixed), dtype=np.float64)

    oracle.__name__ = oracle.__qualname__ = f"library_oracle({function.__name__})"
    return oracle


# -------------------------------------------------------------------------------------------
# The registry: each module of lossmod_instructor.exercises contributes EXERCISES and WRITTEN


def _modules() -> list[Any]:
    package = importlib.import_module("lossmod_instructor.exercises")
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name)
        if not info.name.startswith("_")
    ]


def _collect() -> tuple[Mapping[str, Exercise], Mapping[str, str]]:
    code: dict[str, Exercise] = {}
    written: dict[str, str] = {}
    for module in _modules():
        for exercise in getattr(module, "EXERCISES", ()):
            if exercise.id in code:
                raise ValueError(f"exercise id {exercise.id!r} is registered twice")
            code[exercise.id] = exercise
        for exercise_id, task in getattr(module, "WRITTEN", {}).items():
            if exercise_id in code or exercise_id in written:
                raise ValueError(f"exercise id {exercise_id!r} is registered twice")
            written[exercise_id] = task
    return MappingProxyType(code), MappingProxyType(written)


_REGISTRY: tuple[Mapping[str, Exercise], Mapping[str, str]] | None = None


def _registry() -> tuple[Mapping[str, Exercise], Mapping[str, str]]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _collect()
    return _REGISTRY


def _lookup(exercise_id: str) -> Exercise:
    registry = _registry()[0]
    if exercise_id not in registry:
        raise ValueError(
            "exercise_id must be one of the registered exercises; "
            f"got {exercise_id!r} (known: {', '.join(sorted(registry)) or 'none'})"
        )
    return registry[exercise_id]


def solution(exercise_id: str) -> Callable[..., Any]:
    """The reference solution of an exercise."""
    return _lookup(exercise_id).solution


def __getattr__(name: str) -> Any:
    # Built on first use, so importing this package does not import every chapter's module (a
    # chapter module imports this one for Case and Exercise).
    if name == "EXERCISES":
        return _registry()[0]
    if name == "WRITTEN":
        return _registry()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -------------------------------------------------------------------------------------------
# The learner's starting cell, derived from the solution


def stub_source(exercise_id: str) -> str:
    """The solution's ``def`` line and docstring, without type annotations (a notebook cell need
    not import the typing names), its body replaced by ``raise NotImplementedError``."""
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
    has_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    definition.body = [first] if has_docstring else [ast.Pass()]
    text = ast.unparse(definition)
    if not has_docstring:
        text = text.removesuffix("\n    pass")
    return f"{text}\n    raise NotImplementedError  # your code here"


def starter_cell(exercise_id: str) -> str:
    """The source of the learner's cell for an exercise: the stub, then the check."""
    exercise = _lookup(exercise_id)
    return f'{stub_source(exercise_id)}\n\n\ncheck("{exercise_id}", {exercise.function_name})'
