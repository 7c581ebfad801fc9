"""Grading one submission: read it, plan its checks, run them in as many children as it takes,
and judge the answers.

:func:`grade_steps` is a generator that yields a :class:`Run` (what one child is to do) and
receives its :class:`~lossmod_instructor.grading.session.Outcome`. A child gets the public checks
of every exercise first, then the hidden ones: nothing it says once it may have seen a hidden
input reaches feedback but pass or fail in the grader's words. When a check times out or ends the
program, that check fails, the exercise's later checks are not run, and a fresh child runs the
other exercises' checks, within what is left of the notebook's time.

A submission's status is the first of ``forbidden``, ``broken``, ``timeout``, ``crash`` and
``error`` that happened, else ``ok``; ``invalid`` when it cannot be graded at all
(:data:`STATUS_MEANING` says what each means). A function that the assignment takes away and
that a lesson cell calls only stops that cell, with a note: it earns nothing to call it.
"""

from __future__ import annotations

import hashlib
import json
import signal
import stat
import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmod.exercises import notebook

from lossmod_instructor.grading import confine, library, sandbox
from lossmod_instructor.grading.plan import Options, Plan
from lossmod_instructor.grading.scoring import (
    Check,
    CheckResult,
    ExerciseResult,
    Verdict,
    clean,
    forbidden_names,
    judge,
    unavailable_text,
)
from lossmod_instructor.grading.session import CheckRequest, Outcome

STATUSES = ("ok", "error", "timeout", "crash", "invalid", "forbidden", "broken")
STATUS_MEANING = {
    "ok": "every cell the grader ran ran and no check raised: the score counts the checks passed",
    "error": "a check raised an exception (or the grader failed on this submission)",
    "timeout": "a check or the whole notebook ran out of time (wall clock or CPU)",
    "crash": "the program ended during the cells or a check: a signal, an exit, or too much "
    "memory, output or answer data",
    "invalid": "not gradable: not a readable notebook, no check of a registered exercise, or a "
    "link or another entry that is not a regular file",
    "forbidden": "a function called a library function that its assignment asks learners to "
    "write (or the reference solutions): that exercise earns nothing",
    "broken": "the notebook does not run: a cell the grader needs raised, a cell does not "
    "parse, or a cell imports what is not installed",
}
_PRECEDENCE = ("forbidden", "broken", "timeout", "crash", "error")


@dataclass(frozen=True)
class Submission:
    """A notebook to grade; ``problem`` says why it cannot be read."""

    path: Path
    student: str
    data: bytes
    sha256: str
    problem: str | None = None


@dataclass(frozen=True)
class Run:
    """What one child is to do: its setup line, its checks in the order to send them, how to
    judge an answer, its library, and what is left of the notebook's time."""

    setup: bytes
    checks: tuple[CheckRequest, ...]
    judge: Callable[[int, dict[str, Any]], Verdict]
    library: Path
    seconds: float


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


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        return str(number)


def _incident(outcome: Outcome, limits: sandbox.Limits) -> tuple[str, str, str]:
    """(status, what happened, the same for a hidden check) for a child that left checks
    unanswered; the hidden wording holds nothing the child chose (no exit code, no signal)."""
    if outcome.ended == "check-timeout":
        what = f"timed out after {limits.check_timeout:g} s"
        return "timeout", what, what
    if outcome.ended == "notebook-timeout":
        what = f"ran out of the notebook's time ({limits.notebook_timeout:g} s)"
        return "timeout", what, what
    if outcome.ended == "answers-too-large":
        what = "sent more answer data than the grader reads"
        return "crash", what, what
    if outcome.ended == "output-too-large":
        what = f"printed more than {limits.output_total >> 20} MB of output"
        return "crash", what, what
    code = outcome.returncode if outcome.returncode is not None else 0
    if code == -signal.SIGXCPU:
        return "timeout", "used up its CPU time", "used up its CPU time"
    if code < 0:
        return "crash", f"ended the program (signal {_signal_name(-code)})", "ended the program"
    return "crash", f"ended the program (exit code {code})", "ended the program"


def failed(submission: Submission, error: BaseException) -> Graded:
    """A submission the grader itself failed on: status ``error``, nothing scored."""
    why = f"{type(error).__name__}: {clean(str(error), 200)}"
    return Graded(submission, "error", [], [f"the grader failed on this submission ({why})"])


def grade_steps(
    submission: Submission, plan: Plan, options: Options
) -> Generator[Run, Outcome, Graded]:
    """Grade one submission: yields a :class:`Run` for each child it needs, receives the
    child's outcome, returns the graded submission."""
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
    numbered: list[tuple[str, list[tuple[int, Check]]]] = []
    lines: dict[int, bytes] = {}
    owner: dict[int, str] = {}
    for exercise_id in ids:
        items = []
        for check, encoded in zip(*plan.checks(exercise_id), strict=True):
            number = len(lines)
            message = {"t": "check", "case": number, "function": functions[exercise_id]}
            lines[number] = json.dumps({**message, **encoded}, allow_nan=False).encode()
            owner[number] = exercise_id
            items.append((number, check))
        numbered.append((exercise_id, items))
    by_case = {k: c for _, items in numbered for k, c in items}
    order = sorted(by_case, key=lambda k: (by_case[k].hidden, k))  # public first, then hidden
    built = library.build(n for i in ids for n in forbidden_names(plan.registry[i]))
    setup = {
        "t": "setup",
        "notebook": sandbox.NOTEBOOK_NAME,
        "all_cells": options.all_cells,
        "functions": sorted(set(functions.values())),
        "hidden": [str(library.PACKAGE), str(library.PLATFORM)],
        "ipc": confine.ipc_namespace(),
    }

    def judge_case(case: int, message: dict[str, Any]) -> Verdict:
        function = functions[owner[case]]
        return judge(by_case[case], message, function=function, unavailable=built.unavailable)

    verdicts: dict[int, Verdict] = {}
    statuses: set[str] = set()
    graded = Graded(submission, "ok", [], messages)
    first = True
    while True:
        pending = [k for k in order if k not in verdicts]
        left = limits.notebook_timeout - (time.monotonic() - started)
        if not pending:
            break
        if left <= 0.05:
            statuses.add("timeout")
            verdicts |= {k: Verdict(False, "not run: the notebook's time ran out") for k in pending}
            break
        checks = tuple(CheckRequest(k, lines[k], by_case[k].hidden) for k in pending)
        outcome = yield Run(json.dumps(setup).encode(), checks, judge_case, built.root, left)
        graded.runs.append(round(outcome.seconds, 4))
        answered = set(outcome.verdicts) - set(verdicts)
        verdicts |= {k: v for k, v in outcome.verdicts.items() if k in by_case}
        if first:
            graded.sandbox = _sandbox(outcome.sandbox)
            statuses |= _take_cells(outcome, graded, built.unavailable)
            graded.output = _output_text(outcome)
        first = False
        unanswered = [k for k in pending if k not in verdicts]
        if not unanswered:
            continue
        status, what, hidden_what = _incident(outcome, limits)
        if graded.sandbox.get("error"):
            status, what = "crash", "could not be confined by the grader"
            hidden_what = what
        statuses.add(status)
        if not outcome.ready:
            graded.messages.append(f"the notebook {what} while its cells ran")
            verdicts |= {k: Verdict(False, f"not run: the notebook {what}") for k in unanswered}
            break
        asked = outcome.asked
        if asked is None and not answered:
            asked = unanswered[0]
        if asked is None or asked not in by_case:
            continue  # it ended between two checks: a fresh child takes the rest
        shown = hidden_what if by_case[asked].hidden else what
        verdicts[asked] = Verdict(False, shown)
        later = Verdict(False, f"not run: an earlier check of this exercise {shown}")
        verdicts |= {k: later for k in unanswered if owner[k] == owner[asked] and k != asked}
    for exercise_id, items in numbered:
        graded.exercises.append(
            _exercise_result(plan, exercise_id, items, verdicts, calls, counts, graded)
        )
    if any(e.forbidden for e in graded.exercises):
        statuses.add("forbidden")
    if any(v.raised for v in verdicts.values()):
        statuses.add("error")
    graded.status = next((s for s in _PRECEDENCE if s in statuses), "ok")
    graded.seconds = round(time.monotonic() - started, 4)
    return graded


def _sandbox(reported: dict[str, Any]) -> dict[str, Any]:
    """The confinement a child reported, its plain values only."""
    kept: dict[str, Any] = {}
    for key in ("landlock", "seccomp", "capabilities", "ipc_namespace", "error"):
        value = reported.get(key)
        if isinstance(value, bool | int):
            kept[key] = value
        elif isinstance(value, str):
            kept[key] = clean(value, 200)
    return kept


def _take_cells(outcome: Outcome, graded: Graded, unavailable: frozenset[str]) -> set[str]:
    """Record the cells that did not run; ``{"broken"}`` when any did not for a reason of its
    own (a cell stopped by a function the assignment takes away is only noted)."""
    broken, seen = False, set()
    for message in outcome.cells:
        number, error = message.get("cell"), clean(str(message.get("error")))
        if type(number) is not int or number in seen:
            continue  # a cell raises once: a second message about it is not the child's own
        seen.add(number)
        name = message.get("unavailable")
        if isinstance(name, str) and (name in unavailable or name.startswith("lossmod_instr")):
            graded.messages.append(
                f"cell {number} stopped at {unavailable_text(name)} (not available while "
                "grading): the rest of that cell did not run"
            )
            continue
        broken = True
        happened = "raised" if message.get("ran") is not False else "cannot run:"
        graded.messages.append(f"cell {number} {happened} {error}")
        graded.cell_errors[number] = error
    return {"broken"} if broken else set()


def _exercise_result(
    plan: Plan,
    exercise_id: str,
    items: list[tuple[int, Check]],
    verdicts: dict[int, Verdict],
    calls: list[notebook.ExerciseCall],
    counts: Counter[str],
    graded: Graded,
) -> ExerciseResult:
    notes = []
    if counts[exercise_id] > 1:
        notes.append(
            f"the notebook checks this exercise in {counts[exercise_id]} places: "
            "the function as the notebook leaves it is graded"
        )
    results = tuple(CheckResult(c, verdicts[k]) for k, c in items)
    broken = [
        f"cell {c.cell + 1} could not run: {graded.cell_errors[c.cell + 1]}"
        for c in calls
        if c.exercise_id == exercise_id and c.cell + 1 in graded.cell_errors
    ]
    if broken and all(r.verdict.not_attempted for r in results):
        # the exercise's own cell failed, so its function is missing: not "not attempted"
        results = tuple(CheckResult(r.check, Verdict(False, broken[-1])) for r in results)
    forbidden = next((r.verdict.forbidden for r in results if r.verdict.forbidden), None)
    forfeit = None
    if forbidden is not None:
        forfeit = f"uses {unavailable_text(forbidden)}: no points for this exercise"
    return ExerciseResult(plan.registry[exercise_id], results, tuple(notes), forfeit)


def _output_text(outcome: Outcome) -> str:
    text = clean(outcome.output.decode("utf-8", "replace"), len(outcome.output) + 1)
    printed = outcome.output_size if outcome.output_public is None else outcome.output_public
    hidden = printed - len(outcome.output)  # never counting what came after a hidden check
    return text + (f"\n[... {hidden} more bytes of output not kept]" if hidden > 0 else "")
