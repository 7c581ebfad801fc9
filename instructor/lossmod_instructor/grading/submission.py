"""Grading one submission: read it, plan its checks, run them in as many children as it takes,
and judge the answers.

:func:`grade_steps` is a generator that yields requests for a child and receives each child's
:class:`~lossmod_instructor.grading.sandbox.Outcome`: when a check times out or ends the program,
that check
fails, the exercise's later checks are not run, and a fresh child runs the other exercises'
checks, within what is left of the notebook's time.
"""

from __future__ import annotations

import hashlib
import json
import signal
import stat
import time
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmod.exercises import notebook

from lossmod_instructor.grading import sandbox
from lossmod_instructor.grading.plan import Options, Plan
from lossmod_instructor.grading.scoring import (
    Check,
    CheckResult,
    ExerciseResult,
    Verdict,
    clean,
    forbidden_names,
    judge,
)

STATUSES = ("ok", "error", "timeout", "crash", "invalid")


@dataclass(frozen=True)
class Submission:
    """A notebook to grade; ``problem`` says why it cannot be read."""

    path: Path
    student: str
    data: bytes
    sha256: str
    problem: str | None = None


def load_submission(path: Path, student: str) -> Submission:
    """Read a submission (a regular file, size-capped), never following it into a device or
    a FIFO."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return Submission(path, student, b"", "", "not a regular file")
        with path.open("rb") as file:
            data = file.read(notebook.MAX_BYTES + 1)
    except OSError as error:
        return Submission(path, student, b"", "", f"cannot be read ({error.strerror})")
    return Submission(path, student, data, hashlib.sha256(data).hexdigest())


@dataclass
class Graded:
    """A graded submission."""

    submission: Submission
    status: str
    exercises: list[ExerciseResult]
    messages: list[str]
    output: str = ""
    sandbox: dict[str, Any] = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cell_errors: dict[int, str] = field(default_factory=dict)  # by cell number, from 1

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 4)

    @property
    def max_score(self) -> float:
        return float(sum(e.exercise.points for e in self.exercises))


def graded_exercises(submission: Submission, plan: Plan) -> list[str]:
    """The ids of the exercises a submission is graded on (none for an unreadable one)."""
    if submission.problem is not None:
        return []
    try:
        calls = notebook.exercise_calls(notebook.read_cells(submission.data))
    except notebook.NotebookError:
        return []
    return plan.exercises_for(calls)[0]


def _incident(outcome: sandbox.Outcome, limits: sandbox.Limits) -> tuple[str, str]:
    """(status, what happened) for a child that left checks unanswered."""
    if outcome.ended == "check-timeout":
        return "timeout", f"timed out after {limits.check_timeout:g} s"
    if outcome.ended == "notebook-timeout":
        return "timeout", f"ran out of the notebook's time ({limits.notebook_timeout:g} s)"
    if outcome.ended == "done":
        return "crash", "stopped before answering this check"
    if outcome.ended == "answers-too-large":
        return "crash", "sent more answer data than the grader reads"
    code = outcome.returncode if outcome.returncode is not None else 0
    if code == -signal.SIGXCPU:
        return "timeout", "used up its CPU time"
    if code < 0:
        return "crash", f"ended the program (signal {signal.Signals(-code).name})"
    return "crash", f"ended the program (exit code {code})"


def grade_steps(
    submission: Submission, plan: Plan, options: Options
) -> Generator[tuple[bytes, float], sandbox.Outcome, Graded]:
    """Grade one submission: yields (request, seconds left) for each child it needs, receives
    the child's outcome, returns the graded submission."""
    started, limits = time.monotonic(), options.limits
    if submission.problem is not None:
        return Graded(submission, "invalid", [], [f"the submission {submission.problem}"])
    try:
        cells = notebook.read_cells(submission.data)
    except notebook.NotebookError as error:
        return Graded(submission, "invalid", [], [f"not a readable notebook: {error}"])
    calls = notebook.exercise_calls(cells)
    ids, messages = plan.exercises_for(calls)
    if not ids:
        why = 'no check("<exercise id>", function) line of a registered exercise'
        return Graded(submission, "invalid", [], [f"nothing to grade: {why}"])
    functions = {i: plan.registry[i].function_name for i in ids}
    functions |= {c.exercise_id: c.function for c in calls if c.exercise_id in functions}
    counts = Counter(c.exercise_id for c in calls)
    numbered: list[tuple[str, list[tuple[int, Check, dict[str, Any]]]]] = []
    for exercise_id in ids:
        checks, encoded = plan.checks(exercise_id)
        start = sum(len(items) for _, items in numbered)
        numbered.append(
            (
                exercise_id,
                [(start + j, c, e) for j, (c, e) in enumerate(zip(checks, encoded, strict=True))],
            )
        )
    verdicts: dict[int, Verdict] = {}
    referenced: dict[str, str] = {}
    statuses: set[str] = set()
    graded = Graded(submission, "ok", [], messages)
    first = True
    while True:
        pending = [(i, [t for t in items if t[0] not in verdicts]) for i, items in numbered]
        pending = [(i, items) for i, items in pending if items]
        left = limits.notebook_timeout - (time.monotonic() - started)
        if not pending:
            break
        if left <= 0.05:
            statuses.add("timeout")
            for _, items in pending:
                verdicts |= {
                    k: Verdict(False, "not run: the notebook's time ran out") for k, _, _ in items
                }
            break
        request = {
            "notebook": sandbox.NOTEBOOK_NAME,
            "all_cells": options.all_cells,
            "exercises": [
                {
                    "id": i,
                    "function": functions[i],
                    "forbidden": list(forbidden_names(plan.registry[i])),
                    "cases": [{"case": k, **e} for k, _, e in items],
                }
                for i, items in pending
            ],
        }
        outcome = yield json.dumps(request).encode(), left
        graded.runs.append(round(outcome.seconds, 4))
        ready = _read_messages(outcome, pending, verdicts, referenced, graded, first)
        if first:
            graded.output = _output_text(outcome)
        first = False
        unanswered = [(i, k) for i, items in pending for k, _, _ in items if k not in verdicts]
        if not unanswered:
            continue
        status, what = _incident(outcome, limits)
        if graded.sandbox.get("error"):
            status, what = "crash", "could not be confined by the grader"
        statuses.add(status)
        if not ready:
            graded.messages.append(f"the notebook {what} while its cells ran")
            verdicts |= {k: Verdict(False, f"not run: the notebook {what}") for _, k in unanswered}
            break
        exercise_id, number = unanswered[0]
        verdicts[number] = Verdict(False, what)
        later = f"not run: an earlier check of this exercise {what}"
        verdicts |= {k: Verdict(False, later) for i, k in unanswered[1:] if i == exercise_id}
    for exercise_id, items in numbered:
        notes = []
        if counts[exercise_id] > 1:
            notes.append(
                f"the notebook checks this exercise in {counts[exercise_id]} places: "
                "the function as the notebook leaves it is graded"
            )
        name = referenced.get(exercise_id)
        forfeit = None
        if name is not None:
            forfeit = f"calls {name}, the reference this exercise asks you to write: no points"
        results = tuple(CheckResult(c, verdicts[k]) for k, c, _ in items)
        broken = [
            f"cell {c.cell + 1} could not run: {graded.cell_errors[c.cell + 1]}"
            for c in calls
            if c.exercise_id == exercise_id and c.cell + 1 in graded.cell_errors
        ]
        if broken and all(r.verdict.not_attempted for r in results):
            # the exercise's own cell failed, so its function is missing: not "not attempted"
            results = tuple(CheckResult(r.check, Verdict(False, broken[-1])) for r in results)
        graded.exercises.append(
            ExerciseResult(plan.registry[exercise_id], results, tuple(notes), forfeit)
        )
    raised = any(v.raised for v in verdicts.values())
    errors = raised or any(m.startswith("cell ") for m in graded.messages)
    graded.status = next(
        (s for s in ("timeout", "crash") if s in statuses), "error" if errors else "ok"
    )
    graded.seconds = round(time.monotonic() - started, 4)
    return graded


def _read_messages(
    outcome: sandbox.Outcome,
    pending: list[tuple[str, list[tuple[int, Check, dict[str, Any]]]]],
    verdicts: dict[int, Verdict],
    referenced: dict[str, str],
    graded: Graded,
    first: bool,
) -> bool:
    """Take in a child's messages (the first answer to each case counts); whether it got ready."""
    owner = {k: (i, c) for i, items in pending for k, c, _ in items}
    ready = False
    for position, message in enumerate(outcome.messages):
        kind, number = message["t"], message.get("case")
        if kind == "sandbox" and position == 0 and first:
            graded.sandbox = {k: v for k, v in message.items() if k != "t"}
        elif kind == "cell" and first and not ready:
            error = clean(str(message.get("error")))
            graded.messages.append(f"cell {message.get('cell')} raised {error}")
            if isinstance(message.get("cell"), int):
                graded.cell_errors[message["cell"]] = error
        elif kind == "ready":
            ready = True
        elif kind == "answer" and ready and isinstance(number, int) and number in owner:
            if number not in verdicts:
                verdicts[number] = judge(owner[number][1], message)
        elif kind == "reference" and isinstance(number, int) and number in owner:
            referenced.setdefault(owner[number][0], clean(str(message.get("name")), 80))
    return ready


def _output_text(outcome: sandbox.Outcome) -> str:
    text = clean(outcome.output.decode("utf-8", "replace"), len(outcome.output) + 1)
    hidden = outcome.output_size - len(outcome.output)
    return text + (f"\n[... {hidden} more bytes of output not kept]" if hidden > 0 else "")
