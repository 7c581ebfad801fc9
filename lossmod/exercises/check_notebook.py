"""``lossmod check NOTEBOOK``: the public checks of every exercise a notebook checks, from a
terminal, with the same feedback as the notebook's ``check(...)`` cells.

The notebook's exercise cells run in full, and from its other cells the definitions they need
(:func:`lossmod.exercises.notebook.runnable`): a lesson's demos and plots are not re-run. This is
the learner's own code on the learner's machine, so it runs in this process, with a time limit
per cell and per check where the system has ``SIGALRM``.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lossmod.exercises import (
    CheckReport,
    catalogue,
    check,
    feedback_head,
)
from lossmod.exercises import notebook as nb


class TimeLimit(BaseException):
    """A cell or a check ran longer than its time limit (a BaseException, so that a learner's
    ``except Exception`` does not swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`TimeLimit` in the block after ``seconds`` (where SIGALRM exists)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeLimit(f"ran for more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _where(error: BaseException, cell: int) -> str:
    """``cell 12, line 3``: the line of the cell where a learner's code failed (cells and lines
    counted from 1, as Jupyter shows them)."""
    frames = traceback.extract_tb(error.__traceback__)
    lines = [f.lineno for f in frames if f.filename == f"<cell {cell}>"]
    line = lines[-1] if lines else None
    return f"cell {cell}" + (f", line {line}" if line else "")


@dataclass
class NotebookReport:
    """What ``lossmod check`` found in one notebook."""

    path: Path
    problems: list[str] = field(default_factory=list)
    reports: dict[str, CheckReport | str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = list(self.problems)
        for report in self.reports.values():
            out.append(report if isinstance(report, str) else repr(report))
        out.append(self.summary())
        return out

    def summary(self) -> str:
        if not self.reports:
            return f"{self.path.name}: nothing checked."
        counts = {"passed": 0, "failed": 0, "not attempted": 0}
        for report in self.reports.values():
            status = report.status if isinstance(report, CheckReport) else "failed"
            counts[status] += 1
        total = len(self.reports)
        chapters = {catalogue()[i].chapter for i in self.reports if i in catalogue()}
        written = sum(
            1 for e in catalogue().values() if e.chapter in chapters and e.kind == "written"
        )
        text = (
            f"{self.path.name}: {counts['passed']} of {total} exercises pass, "
            f"{counts['failed']} fail, {counts['not attempted']} not attempted"
        )
        if written:
            text += f"; {written} written exercise{'s' * (written > 1)} not checked"
        return text + "."

    @property
    def ok(self) -> bool:
        return bool(self.reports) and all(
            isinstance(r, CheckReport) and r.passed for r in self.reports.values()
        )


def check_notebook(path: Path, *, timeout: float = 10.0, all_cells: bool = False) -> NotebookReport:
    """Run a notebook's exercise cells (and the definitions they need) and check every exercise
    it checks on the public cases."""
    result = NotebookReport(path)
    try:
        cells = nb.read_cells(path.read_bytes())
    except (OSError, nb.NotebookError) as error:
        result.problems.append(f"{path}: cannot be read: {error}")
        return result
    calls = [c for c in nb.exercise_calls(cells) if c.exercise_id in catalogue()]
    unknown = sorted({c.exercise_id for c in nb.exercise_calls(cells)} - set(catalogue()))
    if unknown:
        result.problems.append(f"unknown exercise ids, not checked: {', '.join(unknown)}")
    if not calls:
        result.problems.append(
            f'{path.name}: no check("<exercise id>", function) line of an exercise of the book'
        )
        return result
    namespace: dict[str, Any] = {"__name__": "__main__"}
    broken: dict[int, str] = {}
    roots = [c.function for c in calls]
    with _checks_deferred():
        _run_cells(nb.runnable(cells, all_cells=all_cells, roots=roots), namespace, broken, timeout)
    exercise_cells = {c.cell for c in calls}
    for cell, problem in sorted(broken.items()):
        if cell not in exercise_cells:
            result.problems.append(f"{problem} (the checks go on without this cell)")
    for call in calls:  # the function as the notebook leaves it: the last check line counts
        result.reports[call.exercise_id] = _check_one(call, namespace, broken, timeout)
    return result


@contextlib.contextmanager
def _checks_deferred() -> Iterator[None]:
    """While the cells run, their ``check(...)`` lines do nothing: each exercise is checked once
    afterwards, under a time limit per call."""
    import lossmod.exercises as exercises

    real = exercises.check
    exercises.check = lambda exercise_id, function: None  # type: ignore[assignment,return-value]
    try:
        yield
    finally:
        exercises.check = real


def _run_cells(
    parts: list[nb.Runnable], namespace: dict[str, Any], broken: dict[int, str], timeout: float
) -> None:
    for part in parts:
        number = part.cell + 1
        if part.module is None:
            line = f", line {part.line}" if part.line else ""
            broken[part.cell] = f"cell {number}{line}: {part.error}"
            continue
        try:
            with _quiet(), time_limit(timeout * 3):
                exec(
                    compile(part.module, f"<cell {number}>", "exec"),
                    namespace,
                )
        except (Exception, TimeLimit) as error:
            broken[part.cell] = f"{_where(error, number)}: {type(error).__name__}: {error}"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The learner's prints and the check cells' own reports are not repeated here."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _check_one(
    call: nb.ExerciseCall,
    namespace: dict[str, Any],
    broken: dict[int, str],
    timeout: float,
) -> CheckReport | str:
    exercise_id = call.exercise_id
    if call.cell in broken:
        return feedback_head(exercise_id, f"cannot run: {broken[call.cell]}")
    function = namespace.get(call.function)
    if not callable(function):
        return feedback_head(
            exercise_id,
            f"no function named {call.function} in the notebook",
        )
    guarded = _guarded(function, timeout)
    with _quiet():
        return check(exercise_id, guarded)


def _guarded(function: Callable[..., Any], timeout: float) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            with time_limit(timeout):
                return function(*args, **kwargs)
        except TimeLimit as error:
            raise TimeoutError(str(error)) from None

    return call


def main(
    path: Path,
    *,
    timeout: float,
    all_cells: bool,
    out: TextIO = sys.stdout,
) -> int:
    """Print the feedback on every exercise of a notebook, then a summary line."""
    report = check_notebook(path, timeout=timeout, all_cells=all_cells)
    for line in report.lines():
        print(line, file=out)
    return 0 if report.ok else 1


__all__ = [
    "NotebookReport",
    "check_notebook",
    "main",
    "time_limit",
]
