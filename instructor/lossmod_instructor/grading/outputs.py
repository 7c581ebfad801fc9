"""What the grader writes in its output folder, each file atomically (a temporary file in the
same folder, then ``os.replace``), so a reader never sees half a file:

- ``<folder>/results.json``: Gradescope's format (``score``, ``output``, ``tests[]`` with
  ``name``, ``score``, ``max_score``, ``status``, ``output``, ``visibility``), no timings, so
  that grading the same batch twice writes the same bytes. An exercise's points are shared
  among its checks on a binary grid (:func:`shares`), so the ``max_score`` values sum exactly to
  the points in floating point, in any order. A hidden check is ``after_published``, and says
  only whether it passed and, in the grader's own fixed words, how it failed: nothing the
  submission wrote about a hidden check reaches the file;
- ``feedback/<folder>.md``: the same, for a learner to read (:mod:`.reports`);
- ``grades.csv``: ``student,score,max,status``, then the points of each exercise (a column per
  exercise id, in the book's order; empty where the student was not graded on it); a cell that
  a spreadsheet would read as a formula is escaped (:func:`spreadsheet_safe`);
- ``summary.csv`` and ``summary.md``: the class, per exercise (:mod:`.reports`);
- ``grading.jsonl``: the audit log, appended to: a ``run`` line (versions, seed, options), a
  ``graded`` or ``skipped`` line per submission (its sha256, score, status, points per exercise,
  timings, the confinement applied) and an ``end`` line.

Each student's folder is named by :func:`folder_names`: one folder per student, never shared.
A submission whose sha256 and grading fingerprint (seed, options, lossmod's version, the source
of every exercise module, the notes on it and this module's format) match its last ``graded``
line is skipped unless forced.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lossmod
import numpy as np
from lossmod.exercises import catalogue, heading

from lossmod_instructor.exercises import Exercise
from lossmod_instructor.grading import submission as _submission
from lossmod_instructor.grading.batch import Graded, Options, Plan
from lossmod_instructor.grading.scoring import Check, Verdict

RESULTS, GRADES, AUDIT = "results.json", "grades.csv", "grading.jsonl"
SUMMARY_CSV, SUMMARY_MD, FEEDBACK = "summary.csv", "summary.md", "feedback"
RESERVED = frozenset({RESULTS, GRADES, AUDIT, SUMMARY_CSV, SUMMARY_MD, FEEDBACK})
FORMAT = 2  # of results.json and the audit records: a change regrades unchanged submissions


def status_meanings() -> dict[str, str]:
    """Every status the grader gives, with its one-line meaning."""
    return {s: _submission.STATUS_MEANING[s] for s in _submission.STATUSES}


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def text_bytes(text: str) -> bytes:
    """UTF-8, a stray surrogate (from a file name's invalid bytes) replaced rather than fatal."""
    return text.encode("utf-8", "replace")


def json_bytes(data: Any) -> bytes:
    return text_bytes(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# One folder per student


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _digest(student: str, length: int = 8) -> str:
    return hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def _safe(student: str) -> str:
    """Letters, digits, ``._-`` only, at most 81 characters, not starting with a dot."""
    safe = _UNSAFE.sub("_", student)[:80]
    return "_" + safe if not safe or safe.startswith(".") else safe


def folder_name(student: str) -> str:
    """A student's name as a safe folder name: the name itself when it is one already, else the
    name made safe with a short hash of the name: ``"a b"`` is ``a_b-<hash>``, never ``a_b``,
    which is the student ``"a_b"``'s."""
    safe = _safe(student)
    return f"{safe}-{_digest(student)}" if safe != student or safe in RESERVED else safe


def folder_names(students: Iterable[str]) -> dict[str, str]:
    """:func:`folder_name` of each student, made unique even where case does not count (macOS,
    Windows): names equal but for case get their hash too, and a repeated hash the full one."""
    names = {s: folder_name(s) for s in students}
    for length in (8, 64):
        seen: dict[str, list[str]] = {}
        for student, folder in names.items():
            seen.setdefault(folder.lower(), []).append(student)
        clashes = [s for group in seen.values() if len(group) > 1 for s in group]
        if not clashes:
            break
        for student in clashes:
            names[student] = f"{_safe(student)}-{_digest(student, length)}"
    return names


# ---------------------------------------------------------------------------------------------
# results.json (Gradescope)

_GRID = 2.0**20


def shares(points: float, count: int) -> list[float]:
    """``points`` shared among ``count`` checks: equal shares rounded to multiples of 2**-20
    (about 1e-6), the last taking what rounding left. Every share and every partial sum is then
    exact in floating point, so the shares sum to ``points`` exactly, in any order."""
    if count <= 0:
        return []
    unit = round(points / count * _GRID) / _GRID
    return [unit] * (count - 1) + [points - unit * (count - 1)]


# How a hidden check failed, in the grader's own words: the first whose prefix the verdict has.
_CRASHED = "the program ended during this check"
_WRONG_KIND = "returned the wrong kind of numbers"
_HIDDEN_FAILURES = (
    ("timed out", "timed out"),
    ("ran out of the notebook's time", "the notebook ran out of time"),
    ("used up its CPU time", "used up its CPU time"),
    ("not run", "not run (an earlier check stopped the program or ran out of time)"),
    ("ended the program", _CRASHED),
    ("stopped before answering", _CRASHED),
    ("sent more answer data", _CRASHED),
    ("returned NaN", "returned NaN where a finite value was expected"),
    ("returned an infinity", "returned an infinity where a finite value was expected"),
    ("returned shape", "returned an array of the wrong shape"),
    ("returned an array of the wrong shape", "returned an array of the wrong shape"),
    ("returned wrong values", "returned wrong values"),
    ("returned integers", _WRONG_KIND),
    ("returned floating-point numbers", _WRONG_KIND),
    ("returned booleans", _WRONG_KIND),
    ("returned numbers", _WRONG_KIND),
    ("returned ?", _WRONG_KIND),
    ("its answer could not be read", "its answer could not be read"),
    ("printed more than", "the program printed more output than the grader reads"),
)
FORFEITED = "earns nothing: this exercise used a function its assignment asks you to write"
HIDDEN_NOTE = "a hidden check: its inputs and values are not shown"


def hidden_feedback(verdict: Verdict, *, note: bool = True) -> str:
    """A hidden check's verdict in fixed words: pass or fail, and a fixed phrase for how it
    failed, never a word the submission chose (``note`` adds that its inputs are not shown)."""
    if verdict.passed:
        return "passed"
    if verdict.not_attempted:
        return "not attempted yet"
    if verdict.forbidden:
        return "failed: used a function this assignment asks you to write"
    said = "raised an exception" if verdict.raised else "a wrong answer"
    said = next((s for p, s in _HIDDEN_FAILURES if verdict.feedback.startswith(p)), said)
    return f"failed: {said}" + (f" ({HIDDEN_NOTE})" if note else "")


def _test(check: Check, share: float, passed: bool, output: str) -> dict[str, Any]:
    return {
        "name": check.name,
        "score": share if passed else 0.0,
        "max_score": share,
        "status": "passed" if passed else "failed",
        "output": output,
        "visibility": "after_published" if check.hidden else "visible",
    }


def results_json(graded: Graded, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The Gradescope results of one submission; ``notes`` (the grader's warnings on it) come
    after its status line."""
    tests = []
    for exercise in graded.exercises:
        weights = shares(exercise.exercise.points, len(exercise.results))
        for result, share in zip(exercise.results, weights, strict=True):
            verdict, check = result.verdict, result.check
            passed = verdict.passed and exercise.forfeit is None
            if check.hidden:
                lines = [hidden_feedback(verdict)]
                if exercise.forfeit and verdict.passed:
                    lines = [f"passed, but {FORFEITED}"]
            else:
                lines = [exercise.forfeit] if exercise.forfeit else []
                lines.append(verdict.feedback)
                if not verdict.passed and not verdict.not_attempted:
                    lines.append(f"called with {check.case.describe()}")
            tests.append(_test(check, share, passed, "\n".join(lines)))
    meaning = status_meanings().get(graded.status, "")
    summary = [
        f"status: {graded.status}"
        + (f" ({meaning})" if meaning else "")
        + f"; score {graded.score:g} of {graded.max_score:g}"
    ]
    summary += [f"warning: {note}" for note in notes]
    summary += graded.messages
    for exercise in graded.exercises:
        points = exercise.exercise.points
        name = heading(exercise.exercise.id)
        line = f"{name}: {exercise.status}, {exercise.score:.4g} of {points}"
        summary.append("; ".join([line, *exercise.notes]))
    if graded.output:
        summary.append(f"output of the notebook:\n{graded.output}")
    return {
        "score": graded.score,
        "output": "\n".join(summary),
        "tests": tests,
        "extra_data": {"status": graded.status, "max_score": graded.max_score},
    }


def ungraded_tests(plan: Plan, reason: str) -> list[dict[str, Any]]:
    """The tests of the plan's assignment, none passed, for a submission that could not be
    graded: Gradescope still sees the assignment's points."""
    tests = []
    for exercise_id in plan.assignment or []:
        checks = plan.checks(exercise_id)[0]
        weights = shares(plan.registry[exercise_id].points, len(checks))
        tests += [_test(c, s, False, reason) for c, s in zip(checks, weights, strict=True)]
    return tests


# ---------------------------------------------------------------------------------------------
# grades.csv


@dataclass(frozen=True)
class Mark:
    """What one exercise earned: points, out of how many, and ``passed``, ``failed`` or
    ``not attempted``."""

    score: float
    points: float
    status: str


@dataclass(frozen=True)
class Row:
    """A student's line of grades.csv, and what the class summary counts."""

    student: str
    score: float
    max_score: float
    status: str
    marks: Mapping[str, Mark] = field(default_factory=dict)  # by exercise id


def row(graded: Graded) -> Row:
    marks = {
        e.exercise.id: Mark(round(e.score, 4), float(e.exercise.points), e.status)
        for e in graded.exercises
    }
    student = graded.submission.student
    return Row(student, graded.score, graded.max_score, graded.status, marks)


def row_from_record(record: Mapping[str, Any]) -> Row | None:
    """The row of a ``graded`` audit record; None for a record of an older format."""
    try:
        marks = {
            str(i): Mark(float(s), float(p), str(t)) for i, (s, p, t) in record["marks"].items()
        }
        return Row(
            str(record["student"]),
            float(record["score"]),
            float(record["max_score"]),
            str(record["status"]),
            marks,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def book_order(exercise_ids: Iterable[str]) -> list[str]:
    """Exercise ids in the book's order (3.2 before 3.10), unknown ones last."""
    known = catalogue()

    def key(exercise_id: str) -> tuple[int, tuple[int, ...], str]:
        found = known.get(exercise_id)
        if found is None:
            return (1, (), exercise_id)
        return (0, tuple(int(n) for n in re.findall(r"\d+", found.number)), exercise_id)

    return sorted(set(exercise_ids), key=key)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet shows as text: one starting like a formula (``= + - @``, a tab
    or a carriage return) gets a leading ``'`` (OWASP's advice against CSV injection)."""
    return "'" + text if text.startswith(_FORMULA) else text


def csv_line(cells: Iterable[object]) -> str:
    """One CSV line (RFC 4180 quoting): a cell holding a comma, a quote, a carriage return or a
    newline is quoted (the csv module leaves a carriage return bare when lines end in \\n)."""
    shown = []
    for cell in cells:
        text = str(cell)
        if any(c in text for c in ',"\r\n'):
            text = '"' + text.replace('"', '""') + '"'
        shown.append(text)
    return ",".join(shown) + "\n"


def points_text(value: float) -> str:
    return f"{round(value, 4):g}"


def grades_csv(rows: Iterable[Row], columns: Sequence[str] = ()) -> bytes:
    """One line per student, by name: ``student,score,max,status``, then the points of each
    exercise in ``columns`` (empty where the student was not graded on it)."""
    lines = [csv_line(["student", "score", "max", "status", *columns])]
    for line in sorted(rows, key=lambda r: r.student):
        marks = [line.marks.get(c) for c in columns]
        lines.append(
            csv_line(
                [
                    spreadsheet_safe(line.student),
                    points_text(line.score),
                    points_text(line.max_score),
                    spreadsheet_safe(line.status),
                    *("" if m is None else points_text(m.score) for m in marks),
                ]
            )
        )
    return text_bytes("".join(lines))


# ---------------------------------------------------------------------------------------------
# The audit log


def fingerprint(options: Options, exercises: Iterable[Exercise], notes: Sequence[str] = ()) -> str:
    """What, besides the notebook, decides its results: the options, the seed, lossmod's version,
    the source of the modules of the exercises it is graded on, the notes on it and the format
    of the files written."""
    modules = sorted({e.solution.__module__ for e in exercises})
    sources = [inspect.getsource(sys.modules[m]) for m in modules]
    described = {
        "lossmod": lossmod.__version__,
        "seed": options.seed,
        "all_cells": options.all_cells,
        "assignment": list(options.assignment),
        "limits": asdict(options.limits),
        "exercises": hashlib.sha256("\0".join(sources).encode()).hexdigest(),
        "notes": list(notes),
        "format": FORMAT,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def describe(options: Options) -> dict[str, Any]:
    """The options of a run, for the audit log (the seed has its own field)."""
    return {
        "jobs": options.jobs,
        "all_cells": options.all_cells,
        "assignment": list(options.assignment),
        "limits": asdict(options.limits),
    }


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "lossmod": lossmod.__version__,
        "platform": platform.platform(),
    }


class Audit:
    """The audit log of an output folder, rewritten atomically at each new line."""

    def __init__(self, out: Path) -> None:
        self.path = out / AUDIT
        data = self.path.read_bytes() if self.path.exists() else b""
        self.lines = data.decode("utf-8", "replace").splitlines()

    def last_graded(self) -> dict[str, dict[str, Any]]:
        """The latest ``graded`` record of each student."""
        found: dict[str, dict[str, Any]] = {}
        for line in self.lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == "graded":
                found[str(record.get("student"))] = record
        return found

    def append(self, record: Mapping[str, Any]) -> None:
        record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **record}
        self.lines.append(json.dumps(record, sort_keys=False))
        write_atomic(self.path, text_bytes("\n".join(self.lines) + "\n"))


def graded_record(
    graded: Graded, fingerprint: str, folder: str, notes: Sequence[str] = ()
) -> dict[str, Any]:
    submission = graded.submission
    marks = row(graded).marks
    return {
        "event": "graded",
        "student": submission.student,
        "folder": folder,
        "file": str(submission.path),
        "sha256": submission.sha256,
        "fingerprint": fingerprint,
        "score": graded.score,
        "max_score": graded.max_score,
        "status": graded.status,
        "marks": {i: [m.score, m.points, m.status] for i, m in marks.items()},
        "notes": list(notes),
        "seconds": graded.seconds,
        "runs": graded.runs,
        "sandbox": graded.sandbox,
    }
