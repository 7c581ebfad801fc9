"""Grading a batch: many submissions, at most ``jobs`` children at a time, in one thread.

:func:`run` drives each submission's :func:`~lossmod_instructor.grading.submission.grade_steps` and
multiplexes the children with ``select.poll``. The names a caller needs (``Options``, ``Plan``,
``Submission``, ``load_submission``, ``Graded``, ``graded_exercises``) are importable from here.
"""

from __future__ import annotations

import dataclasses
import select
import tempfile
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

from lossmod_instructor.grading import sandbox
from lossmod_instructor.grading.plan import Options, Plan
from lossmod_instructor.grading.submission import (
    STATUSES,
    Graded,
    Submission,
    grade_steps,
    graded_exercises,
    load_submission,
)

__all__ = [
    "STATUSES",
    "Graded",
    "Options",
    "Plan",
    "Submission",
    "grade_steps",
    "graded_exercises",
    "load_submission",
    "run",
]


def run(
    submissions: Sequence[Submission],
    options: Options,
    done: Callable[[Graded], None] = lambda graded: None,
    plan: Plan | None = None,
) -> list[Graded]:
    """Grade every submission, ``options.jobs`` children at a time; ``done`` is told of each
    graded submission as it completes. Results come back in the order of ``submissions``."""
    plan = plan or Plan(options)
    nproc = sandbox.nproc_limit(options.limits)
    results: dict[int, Graded] = {}
    waiting = list(enumerate(submissions))[::-1]
    active: dict[
        sandbox.Child, tuple[int, Generator[tuple[bytes, float], sandbox.Outcome, Graded], Path]
    ] = {}
    with tempfile.TemporaryDirectory(prefix="lossmod-grading-") as root:
        Path(root).chmod(0o700)

        def advance(index: int, steps: Generator[Any, sandbox.Outcome, Graded], send: Any) -> None:
            try:
                request, left = steps.send(send)
            except StopIteration as stop:
                results[index] = stop.value
                done(stop.value)
                return
            scratch = sandbox.make_scratch(Path(root), submissions[index].data)
            budget = dataclasses.replace(options.limits, notebook_timeout=left)
            child = sandbox.Child(scratch, request, budget, nproc=nproc)
            active[child] = (index, steps, scratch)

        try:
            while waiting or active:
                while waiting and len(active) < max(options.jobs, 1):
                    index, submission = waiting.pop()
                    advance(index, grade_steps(submission, plan, options), None)
                _poll(list(active))
                for child in [c for c in active if c.done]:
                    index, steps, scratch = active.pop(child)
                    child.outcome.output = child.outcome.output.replace(str(scratch).encode(), b".")
                    sandbox.remove_scratch(scratch)
                    if options.reap_orphans:
                        sandbox.kill_orphans({c.process.pid for c in active})
                    advance(index, steps, child.outcome)
        finally:
            for child, (_, _, scratch) in active.items():
                child.finish("exited")
                sandbox.remove_scratch(scratch)
    return [results[i] for i in range(len(submissions))]


def _poll(children: list[sandbox.Child]) -> None:
    """Wait for the first event or deadline among the children, and handle what happened."""
    poller = select.poll()
    owners: dict[int, sandbox.Child] = {}
    for child in children:
        for fd in child.readers():
            poller.register(fd, select.POLLIN | select.POLLHUP)
            owners[fd] = child
        for fd in child.writers():
            poller.register(fd, select.POLLOUT)
            owners[fd] = child
    now = time.monotonic()
    wait = min((c.deadline() for c in children), default=now) - now
    for fd, _ in poller.poll(max(0, min(wait, 0.1)) * 1000):
        child = owners[fd]
        if not child.done and (fd in child.readers() or fd in child.writers()):
            child.handle(fd)
    now = time.monotonic()
    for child in children:
        child.tick(now)
