"""What the grader writes in its output directory, each file atomically (a temporary file in the
same directory, then ``os.replace``), so a reader never sees half a file:

- ``<student>/results.json``: Gradescope's format (``score``, ``output``, ``tests[]`` with
  ``name``, ``score``, ``max_score``, ``status``, ``output``, ``visibility``), no timings, so
  that grading the same batch twice writes the same bytes;
- ``grades.csv``: one row per student: ``student,score,max,status``;
- ``grading.jsonl``: the audit log, appended to: a ``run`` line (versions, seed, options), a
  ``graded`` or ``skipped`` line per submission (its sha256, score, status, timings, the
  confinement applied) and an ``end`` line.

A submission whose sha256 and grading fingerprint (seed, options, lossmod's version and the
source of every exercise module) match its last ``graded`` line is skipped unless forced.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import io
import json
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lossmod
import numpy as np
from lossmod.exercises import heading

from lossmod_instructor.exercises import Exercise
from lossmod_instructor.grading.batch import Graded, Options

RESULTS, GRADES, AUDIT = "results.json", "grades.csv", "grading.jsonl"


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


def folder_name(student: str) -> str:
    """A student's name as a safe directory name."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", student) or "_"
    return "_" + name if name.startswith(".") or name in (GRADES, AUDIT) else name


def results_json(graded: Graded) -> dict[str, Any]:
    """The Gradescope results of one submission."""
    tests = []
    for exercise in graded.exercises:
        share = round(exercise.share, 6)
        for result in exercise.results:
            verdict, check = result.verdict, result.check
            passed = verdict.passed and exercise.forfeit is None
            lines = [exercise.forfeit] if exercise.forfeit else []
            lines.append(verdict.feedback)
            if not verdict.passed and not check.hidden and not verdict.not_attempted:
                lines.append(f"called with {check.case.describe()}")
            tests.append(
                {
                    "name": check.name,
                    "score": share if passed else 0.0,
                    "max_score": share,
                    "status": "passed" if passed else "failed",
                    "output": "\n".join(lines),
                    "visibility": "visible",
                }
            )
    summary = [f"status: {graded.status}; score {graded.score:g} of {graded.max_score:g}"]
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


def grades_csv(rows: list[tuple[str, float, float, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max", "status"])
    for student, score, maximum, status in sorted(rows):
        writer.writerow([student, f"{score:g}", f"{maximum:g}", status])
    return buffer.getvalue().encode()


def fingerprint(options: Options, exercises: Iterable[Exercise]) -> str:
    """What, besides the notebook, decides its grade: the options, the seed, lossmod's version
    and the source of the modules of the exercises it is graded on."""
    modules = sorted({e.solution.__module__ for e in exercises})
    sources = [inspect.getsource(sys.modules[m]) for m in modules]
    described = {
        "lossmod": lossmod.__version__,
        "seed": options.seed,
        "all_cells": options.all_cells,
        "assignment": list(options.assignment),
        "limits": asdict(options.limits),
        "exercises": hashlib.sha256("\0".join(sources).encode()).hexdigest(),
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
    """The audit log of an output directory, rewritten atomically at each new line."""

    def __init__(self, out: Path) -> None:
        self.path = out / AUDIT
        self.lines = self.path.read_text().splitlines() if self.path.exists() else []

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
        write_atomic(self.path, ("\n".join(self.lines) + "\n").encode())


def graded_record(graded: Graded, fingerprint: str) -> dict[str, Any]:
    submission = graded.submission
    return {
        "event": "graded",
        "student": submission.student,
        "file": str(submission.path),
        "sha256": submission.sha256,
        "fingerprint": fingerprint,
        "score": graded.score,
        "max_score": graded.max_score,
        "status": graded.status,
        "seconds": graded.seconds,
        "runs": graded.runs,
        "sandbox": graded.sandbox,
    }
