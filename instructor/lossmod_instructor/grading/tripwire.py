"""In the child: the references a learner's function may not call, made unavailable or watched.

- ``lossmod.exercises`` is replaced, before any learner code runs, by a stand-in whose
  ``check`` does nothing (learners' notebooks call it; the grader checks from outside), and the
  platform's ``solution`` by one that refuses; the reference solutions are never imported in the
  child (and Landlock keeps their files unreadable).
- The ``lossmod`` functions an exercise asks the learner to re-implement keep their identity but
  get a new code object: outside the exercise's checks they behave as before (a lesson's demo may
  use them); during them, a call is reported to the grader at once and raises.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import lossmod


class ReferenceCalled(RuntimeError):
    """Raised in the child when a learner's function calls a forbidden reference."""


class Watch:
    """Which names are forbidden now, and whom to tell when one is called."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report
        self.forbidden: frozenset[str] = frozenset()
        self._originals: dict[str, Callable[..., Any]] = {}

    def tripped(self, name: str) -> None:
        """Called by every watched function: report and raise when it is forbidden now."""
        if name in self.forbidden:
            self.report(name)
            raise ReferenceCalled(f"{name} is the reference this exercise asks you to write")

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.tripped(f"lossmod.{name}")
        return self._originals[name](*args, **kwargs)

    def watch(self, name: str) -> None:
        """Swap the code of ``lossmod.<name>`` for a trampoline through :meth:`call`; every
        reference to the function (registry entries, earlier imports) sees the change."""
        function = getattr(lossmod, name, None)
        if name in self._originals or not isinstance(function, types.FunctionType):
            return
        if function.__closure__:
            return  # a closure cannot take a code object without its free variables
        original = types.FunctionType(
            function.__code__, function.__globals__, name, function.__defaults__
        )
        original.__kwdefaults__ = function.__kwdefaults__
        self._originals[name] = original
        namespace: dict[str, Any] = {}
        exec(  # a trampoline of the function's own name, in its own module's globals
            f"def {name}(*args, **kwargs):\n"
            f"    return __lossmod_grading_watch__.call({name!r}, args, kwargs)\n",
            namespace,
        )
        function.__globals__["__lossmod_grading_watch__"] = self
        function.__code__ = namespace[name].__code__
        function.__defaults__ = None
        function.__kwdefaults__ = None


def stand_in_exercises(watch: Watch) -> types.ModuleType:
    """Stand-ins installed in ``sys.modules`` before learner code runs: ``lossmod.exercises``
    with a ``check`` that does nothing (learners' notebooks call it; the grader checks from
    outside), and the course platform's ``solution`` and ``exercises``, which refuse."""
    module = types.ModuleType("lossmod.exercises", "The course's checker, as the grader runs it.")

    def check(exercise_id: str, function: Callable[..., Any]) -> None:
        """Does nothing: the grader calls your function itself."""

    def solution(exercise_id: str) -> Callable[..., Any]:
        watch.tripped("lossmod_instructor.solution")
        raise ReferenceCalled("the reference solutions are not available to graded code")

    module.check = check  # type: ignore[attr-defined]
    sys.modules["lossmod.exercises"] = module
    lossmod.exercises = module  # type: ignore[attr-defined]
    platform = sys.modules.get("lossmod_instructor")
    if platform is not None:
        platform.solution = solution  # type: ignore[attr-defined]
    solutions = types.ModuleType("lossmod_instructor.exercises", "Not available to graded code.")
    solutions.solution = solution  # type: ignore[attr-defined]
    solutions.EXERCISES = types.MappingProxyType({})  # type: ignore[attr-defined]
    sys.modules["lossmod_instructor.exercises"] = solutions
    watch.forbidden = frozenset()
    return module
