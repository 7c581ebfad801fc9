"""Grading a batch: many submissions, at most ``jobs`` children at a time, in one thread.

:func:`run` drives each submission's :func:`~lossmod_instructor.grading.submission.grade_steps`
and multiplexes the children (:class:`~lossmod_instructor.grading.session.Child`) with
``select.poll``; between two polls it removes a bounded part of the scratch folders of finished
children (:mod:`~lossmod_instructor.grading.cleanup`), so no tree a child left can hold up the
others. Whatever goes wrong in the handling of one submission (starting its child, reading what
the child sent, judging, removing its folder, recording it) becomes that submission's status
``error``, never the batch's.

The names a caller needs (``Options``, ``Plan``, ``Submission``, ``load_submission``,
``Graded``, ``graded_exercises``, ``STATUSES``, ``STATUS_MEANING``) are importable from here.
"""

from __future__ import annotations

import dataclasses
import functools
import select
import tempfile
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

from lossmod_instructor.grading import cleanup, sandbox, session
from lossmod_instructor.grading.plan import Options, Plan
from lossmod_instructor.grading.submission import (
    STATUS_MEANING,
    STATUSES,
    Graded,
    Run,
    Submission,
    failed,
    grade_steps,
    graded_exercises,
    load_submission,
)

__all__ = [
    "STATUSES",
    "STATUS_MEANING",
    "Graded",
    "Options",
    "Plan",
    "Submission",
    "grade_steps",
    "graded_exercises",
    "load_submission",
    "run",
]

_REMOVAL_SECONDS = 0.005  # spent removing scratch folders between two polls
_Steps = Generator[Run, session.Outcome, Graded]


class _Scheduler:
    def __init__(
        self,
        submissions: Sequence[Submission],
        options: Options,
        plan: Plan,
        done: Callable[[Graded], None],
        root: Path,
    ) -> None:
        self.submissions, self.options, self.plan, self.done = submissions, options, plan, done
        self.root = root
        self.nproc = sandbox.nproc_limit(options.limits)
        self.results: dict[int, Graded] = {}
        self.active: dict[session.Child, tuple[int, _Steps, Path]] = {}
        self.removals: list[cleanup.Removal] = []

    def start(self, index: int) -> None:
        submission = self.submissions[index]
        try:
            steps = grade_steps(submission, self.plan, self.options)
        except Exception as error:
            self.record(index, failed(submission, error))
            return
        self.advance(index, steps, None)

    def advance(self, index: int, steps: _Steps, outcome: session.Outcome | None) -> None:
        """Give the submission's grading what its last child did; start its next child."""
        scratch = None
        try:
            run = steps.send(outcome) if outcome is not None else next(steps)
            scratch = sandbox.make_scratch(self.root, self.submissions[index].data)
            budget = dataclasses.replace(self.options.limits, notebook_timeout=run.seconds)
            child = session.Child(
                scratch, run.library, run.setup, run.checks, budget, run.judge, nproc=self.nproc
            )
        except StopIteration as stop:
            self.record(index, stop.value)
            return
        except Exception as error:
            steps.close()
            if scratch is not None:
                self.removals.append(cleanup.Removal(scratch))
            self.record(index, failed(self.submissions[index], error))
            return
        self.active[child] = (index, steps, scratch)

    def record(self, index: int, graded: Graded) -> None:
        self.results[index] = graded
        try:
            self.done(graded)
        except Exception as error:  # recording this one failed: record that instead
            self.results[index] = failed(graded.submission, error)
            self.done(self.results[index])

    def finished(self, child: session.Child) -> None:
        index, steps, scratch = self.active.pop(child)
        output = child.outcome.output.replace(str(scratch).encode(), b".")
        child.outcome.output = output.replace(str(child.library).encode(), b"<library>")
        self.removals.append(cleanup.Removal(scratch))
        if self.options.reap_orphans:
            sandbox.kill_orphans({c.process.pid for c in self.active})
        self.advance(index, steps, child.outcome)

    def handle(self, child: session.Child, act: Callable[[], None]) -> None:
        """Let ``child`` act; anything that goes wrong ends it, and its submission's grading."""
        try:
            act()
        except Exception as error:
            index, steps, scratch = self.active.pop(child)
            steps.close()
            try:
                child.finish("exited")
            except Exception:
                pass
            self.removals.append(cleanup.Removal(scratch))
            self.record(index, failed(self.submissions[index], error))
            return
        if child.done:
            self.finished(child)

    def remove(self, seconds: float) -> None:
        """Remove scratch entries of finished children for about ``seconds``."""
        for removal in list(self.removals):
            if removal.step(seconds):
                self.removals.remove(removal)
                if removal.problem is not None:
                    self.plan.warnings.append(f"could not remove {removal.path}: {removal.problem}")
            return

    def poll(self) -> None:
        """Wait for the first event or deadline among the children, and handle what happened."""
        children = list(self.active)
        poller = select.poll()
        owners: dict[int, session.Child] = {}
        for child in children:
            for fd in child.readers():
                poller.register(fd, select.POLLIN | select.POLLHUP)
                owners[fd] = child
            for fd in child.writers():
                poller.register(fd, select.POLLOUT)
                owners[fd] = child
        now = time.monotonic()
        wait = min((c.deadline() for c in children), default=now + 0.1) - now
        wait = 0 if self.removals else max(0.0, min(wait, 0.1))
        for fd, _ in poller.poll(wait * 1000):
            child = owners[fd]
            if child in self.active and (fd in child.readers() or fd in child.writers()):
                self.handle(child, functools.partial(child.handle, fd))
        now = time.monotonic()
        for child in children:
            if child in self.active:
                self.handle(child, functools.partial(child.tick, now))


def run(
    submissions: Sequence[Submission],
    options: Options,
    done: Callable[[Graded], None] = lambda graded: None,
    plan: Plan | None = None,
) -> list[Graded]:
    """Grade every submission, ``options.jobs`` children at a time; ``done`` is told of each
    graded submission as it completes. Results come back in the order of ``submissions``."""
    plan = plan or Plan(options)
    root = Path(tempfile.mkdtemp(prefix="lossmod-grading-"))
    root.chmod(0o700)
    scheduler = _Scheduler(submissions, options, plan, done, root)
    waiting = list(range(len(submissions)))[::-1]
    try:
        while waiting or scheduler.active:
            while waiting and len(scheduler.active) < max(options.jobs, 1):
                scheduler.start(waiting.pop())
            if scheduler.active:
                scheduler.poll()
            scheduler.remove(_REMOVAL_SECONDS)
    finally:
        for child, (_, _, scratch) in list(scheduler.active.items()):
            child.finish("exited")
            scheduler.removals.append(cleanup.Removal(scratch))
        while scheduler.removals:
            scheduler.remove(1.0)
        problem = cleanup.remove_tree(root)
        if problem is not None:
            plan.warnings.append(f"could not remove {root}: {problem}")
    return [scheduler.results[i] for i in range(len(submissions))]
