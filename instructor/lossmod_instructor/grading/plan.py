"""What a batch grades and how: the options, and the plan of checks with their reference answers
(the grader's only calls of the reference solutions), computed once per batch; and which
notebooks are of another chapter than the assignment's, or than most of the batch's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lossmod.exercises import notebook

from lossmod_instructor.exercises import EXERCISES, Exercise
from lossmod_instructor.grading import sandbox, wire
from lossmod_instructor.grading.scoring import Check, exercise_checks


@dataclass(frozen=True)
class Options:
    """How to grade. ``seed`` None runs the public checks only (the learner's ``check``);
    ``assignment`` lists exercise ids or chapters (empty: the chapters a notebook checks);
    ``registry`` replaces the course's exercises (tests); ``reap_orphans`` kills any child of
    this process the scheduler did not start (for a grader that became a subreaper)."""

    seed: int | None = None
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    jobs: int = 1
    all_cells: bool = False
    assignment: tuple[str, ...] = ()
    registry: Mapping[str, Exercise] | None = None
    reap_orphans: bool = False


class Plan:
    """The checks of every exercise to grade, with their reference answers, computed once per
    batch (the parent's only calls of the reference solutions)."""

    def __init__(self, options: Options) -> None:
        self.registry = options.registry if options.registry is not None else EXERCISES
        self.seed = options.seed
        self.warnings: list[str] = []
        self._checks: dict[str, tuple[list[Check], list[dict[str, Any]]]] = {}
        self.assignment = self._resolve(options.assignment) if options.assignment else None

    def _resolve(self, names: Sequence[str]) -> list[str]:
        ids = []
        for name in names:
            found = [i for i, e in self.registry.items() if name in (i, e.chapter)]
            if not found:
                raise ValueError(f"assignment: no exercise or chapter named {name!r}")
            ids += [i for i in found if i not in ids]
        return ids

    def checks(self, exercise_id: str) -> tuple[list[Check], list[dict[str, Any]]]:
        """The exercise's checks, and their inputs as the wire sends them."""
        if exercise_id not in self._checks:
            checks, warnings = exercise_checks(self.registry[exercise_id], self.seed)
            self.warnings += warnings
            encoded = [
                {
                    "args": [wire.encode_input(a) for a in c.case.args],
                    "kwargs": {k: wire.encode_input(v) for k, v in c.case.kwargs.items()},
                }
                for c in checks
            ]
            self._checks[exercise_id] = (checks, encoded)
        return self._checks[exercise_id]

    def exercises_for(self, calls: list[notebook.ExerciseCall]) -> tuple[list[str], list[str]]:
        """The exercises a notebook is graded on, and notes on the ids it checks."""
        notes, seen = [], [c.exercise_id for c in calls]
        unknown = sorted({i for i in seen if i not in self.registry})
        if unknown:
            notes.append(f"unknown exercise ids, not graded: {', '.join(unknown)}")
        if self.assignment is not None:
            extra = sorted({i for i in seen if i in self.registry} - set(self.assignment))
            if extra:
                notes.append(f"not part of this assignment, not graded: {', '.join(extra)}")
            return self.assignment, notes
        chapters = {self.registry[i].chapter for i in seen if i in self.registry}
        return [i for i, e in self.registry.items() if e.chapter in chapters], notes

    def chapters(self, calls: list[notebook.ExerciseCall]) -> set[str]:
        """The chapters of the registered exercises a notebook checks."""
        known = self.registry
        return {known[c.exercise_id].chapter for c in calls if c.exercise_id in known}

    def off_chapter(self, checked: Mapping[str, set[str]]) -> dict[str, str]:
        """A warning for each notebook (by student) of another chapter than the assignment's,
        or, without an assignment, than the chapter more than half the batch's notebooks check;
        ``checked`` holds the chapters of each notebook (empty for one that checks none)."""
        notes = {}
        if self.assignment is not None:
            wanted = {self.registry[i].chapter for i in self.assignment}
            for student, chapters in checked.items():
                if chapters and not chapters & wanted:
                    notes[student] = (
                        f"the notebook checks exercises of {_chapters(chapters)}, not of this "
                        f"assignment ({_chapters(wanted)}): it is graded on the assignment's "
                        "exercises"
                    )
            return notes
        with_chapters = [c for c in checked.values() if c]
        counts = Counter(chapter for chapters in with_chapters for chapter in sorted(chapters))
        if not counts:
            return notes
        chapter, count = counts.most_common(1)[0]
        if 2 * count <= len(with_chapters):
            return notes
        for student, chapters in checked.items():
            if chapters and chapter not in chapters:
                points = sum(e.points for e in self.registry.values() if e.chapter in chapters)
                notes[student] = (
                    f"the notebook checks exercises of {_chapters(chapters)}, while "
                    f"{count} of {len(with_chapters)} notebooks of this batch check "
                    f"{_chapters({chapter})}: it is graded on its own chapter's exercises, "
                    f"out of {points:g} points"
                )
        return notes


def _chapters(chapters: set[str]) -> str:
    names = sorted(chapters)
    return f"chapter {names[0]}" if len(names) == 1 else f"chapters {', '.join(names)}"
