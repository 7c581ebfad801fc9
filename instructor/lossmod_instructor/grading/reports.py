"""What the grader writes for people to read: each student's feedback, and the class summary.

- :func:`feedback_markdown`, ``feedback/<folder>.md``: for the learner. Their score and status
  (with its meaning), the grader's warnings, then per exercise ("Exercise 3.2 (mse-2)"): the
  public checks passed, each public failure with what was expected, what came back and the
  inputs, and the hidden checks as passed or failed only, in the grader's own words. What the
  submission wrote (an error message, the inputs) is shown as code, never as Markdown.
- :func:`summary_csv` and :func:`summary_markdown`, ``summary.csv`` and ``summary.md``: per
  exercise, how many were graded on it, the mean points, the share with full marks and the share
  that attempted it, and a total; the Markdown file also counts the statuses, each with its
  meaning.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lossmod.exercises import catalogue, heading

from lossmod_instructor.grading.batch import Graded
from lossmod_instructor.grading.outputs import (
    Row,
    csv_line,
    hidden_feedback,
    points_text,
    spreadsheet_safe,
    status_meanings,
    text_bytes,
)

_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")


def escape(text: str) -> str:
    """Plain text that Markdown shows as it is (a student's name, a file name)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def code(text: str) -> str:
    """Text shown as code: inline when on one line, else a fenced block; the fence is longer
    than any run of backticks inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if "\n" not in text:
        pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
        return f"{fence}{pad}{text}{pad}{fence}"
    fence = "`" * max(3, longest + 1)
    return f"\n\n{fence}text\n{text}\n{fence}\n"


def _points(value: float) -> str:
    text = points_text(value)
    return f"{text} point" if text == "1" else f"{text} points"


def feedback_markdown(graded: Graded, notes: Sequence[str] = ()) -> str:
    """A learner's feedback on one submission, as Markdown."""
    meaning = status_meanings().get(graded.status, "")
    lines = [
        f"# Feedback for {escape(graded.submission.student)}",
        "",
        f"Score: **{points_text(graded.score)} of {_points(graded.max_score)}**. "
        if graded.exercises
        else "Not graded. ",
    ]
    lines[-1] += f"Status: **{graded.status}**" + (f" ({meaning})." if meaning else ".")
    remarks = [f"Warning: {escape(n)}" for n in notes]
    remarks += [f"The grader: {code(m)}" for m in graded.messages]
    if remarks:
        lines += ["", *(f"- {r}" for r in remarks)]
    for exercise in graded.exercises:
        earned = f"{points_text(exercise.score)} of {_points(exercise.exercise.points)}"
        lines += ["", f"## {heading(exercise.exercise.id)}: {exercise.status}, {earned}", ""]
        if exercise.forfeit:
            lines.append(f"No points for this exercise: {code(exercise.forfeit)}")
            lines.append("")
        lines += [f"- {escape(n)}" for n in exercise.notes]
        if exercise.status == "not attempted":
            said = dict.fromkeys(r.verdict.feedback for r in exercise.results)
            lines.append(f"- Not attempted yet: {'; '.join(code(s) for s in said)}")
            continue
        public = [r for r in exercise.results if not r.check.hidden]
        hidden = [r for r in exercise.results if r.check.hidden]
        passed = [escape(r.check.case.name) for r in public if r.verdict.passed]
        if passed:
            lines.append(f"- Public checks passed: {'; '.join(passed)}.")
        for result in public:
            verdict, case = result.verdict, result.check.case
            if verdict.passed:
                continue
            if verdict.not_attempted:
                lines.append(f"- Public check {escape(case.name)}: {code(verdict.feedback)}")
                continue
            lines.append(f"- Public check {escape(case.name)} failed: {code(verdict.feedback)}")
            lines.append(f"  - called with {code(case.describe())}")
        if hidden:
            count = sum(r.verdict.passed for r in hidden)
            lines.append(
                f"- Hidden checks: {count} of {len(hidden)} passed (their inputs and values are "
                "not shown):"
            )
            for result in hidden:
                lines.append(
                    f"  - {escape(result.check.case.name)}: "
                    + hidden_feedback(result.verdict, note=False)
                )
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


# ---------------------------------------------------------------------------------------------
# The class summary


@dataclass(frozen=True)
class ExerciseSummary:
    exercise_id: str
    heading: str
    points: float
    graded: int  # students graded on it
    mean: float
    full_marks: float  # share of those graded
    attempted: float  # share of those graded


def summarise(
    rows: Sequence[Row], columns: Sequence[str], assignment: Sequence[str] = ()
) -> list[ExerciseSummary]:
    """Per exercise in ``columns``, and a last line ``total`` over every student. A submission
    graded on no exercise (invalid) counts as 0 points, not attempted, on each exercise of the
    ``assignment``."""
    known = catalogue()
    found = []
    for exercise_id in columns:
        counted = exercise_id in assignment
        marks = [
            r.marks.get(exercise_id)
            for r in rows
            if exercise_id in r.marks or (counted and not r.marks)
        ]
        points = max((m.points for m in marks if m is not None), default=0.0)
        if not points and exercise_id in known:
            points = float(known[exercise_id].points)
        graded = len(marks)
        scores = [m.score if m is not None else 0.0 for m in marks]
        full = sum(m is not None and m.score >= m.points - 1e-9 for m in marks)
        attempted = sum(m is not None and m.status != "not attempted" for m in marks)
        found.append(
            ExerciseSummary(
                exercise_id,
                heading(exercise_id),
                points,
                graded,
                sum(scores) / graded if graded else 0.0,
                full / graded if graded else 0.0,
                attempted / graded if graded else 0.0,
            )
        )
    n = len(rows)
    top = max((r.max_score for r in rows), default=0.0)
    full = sum(r.max_score > 0 and r.score >= r.max_score - 1e-9 for r in rows)
    attempted = sum(any(m.status != "not attempted" for m in r.marks.values()) for r in rows)
    total = sum(r.score for r in rows) / n if n else 0.0
    share = (full / n, attempted / n) if n else (0.0, 0.0)
    found.append(ExerciseSummary("total", "Total", top, n, total, *share))
    return found


def summary_csv(
    rows: Sequence[Row], columns: Sequence[str], assignment: Sequence[str] = ()
) -> bytes:
    header = ["exercise", "heading", "points", "graded", "mean", "full_marks", "attempted"]
    lines = [csv_line(header)]
    for line in summarise(rows, columns, assignment):
        lines.append(
            csv_line(
                [
                    spreadsheet_safe(line.exercise_id),
                    spreadsheet_safe(line.heading),
                    points_text(line.points),
                    line.graded,
                    f"{line.mean:.4g}",
                    f"{line.full_marks:.4g}",
                    f"{line.attempted:.4g}",
                ]
            )
        )
    return text_bytes("".join(lines))


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def summary_markdown(
    rows: Sequence[Row], columns: Sequence[str], assignment: Sequence[str] = ()
) -> bytes:
    """The class summary as two Markdown tables: per exercise, then the statuses."""
    counts = Counter(r.status for r in rows)
    lines = [
        "# Class summary",
        "",
        f"{len(rows)} submissions. Per exercise: how many were graded on it, the mean points, "
        "the share with full marks and the share that attempted it.",
        "",
        "| Exercise | Points | Graded | Mean points | Full marks | Attempted |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for line in summarise(rows, columns, assignment):
        name = "**Total**" if line.exercise_id == "total" else escape(line.heading)
        lines.append(
            f"| {name} | {points_text(line.points)} | {line.graded} | {line.mean:.2f} "
            f"| {_percent(line.full_marks)} | {_percent(line.attempted)} |"
        )
    lines += ["", "| Status | Submissions | Meaning |", "| --- | ---: | --- |"]
    meanings: Mapping[str, str] = status_meanings()
    for status in [*meanings, *sorted(set(counts) - set(meanings))]:
        lines.append(f"| {status} | {counts[status]} | {escape(meanings.get(status, ''))} |")
    return text_bytes("\n".join(lines) + "\n")
