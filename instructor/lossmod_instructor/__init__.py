"""The course platform, for instructors only: the exercises' reference solutions, oracles and
hidden cases (:mod:`lossmod_instructor.exercises`), the catalogue they publish to learners
(:mod:`lossmod_instructor.publish`), the starting cells they derive (:mod:`lossmod_instructor.sync`)
and the grader (:mod:`lossmod_instructor.grading`). Nothing here ships to learners.

``python -m lossmod_instructor --help`` lists the commands. This ``__init__`` imports nothing, so
the grader's confined child can import its own modules without the solutions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lossmod_instructor._version import __version__ as __version__


def solution(exercise_id: str) -> Callable[..., Any]:
    """The reference solution of an exercise (a function of the chapter's module)."""
    from lossmod_instructor.exercises import solution as lookup

    return lookup(exercise_id)
