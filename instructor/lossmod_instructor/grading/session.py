"""One child's conversation with the grader, moved on without blocking by the scheduler
(:mod:`~lossmod_instructor.grading.batch` multiplexes many with ``select.poll`` in one thread).

The grader writes the setup line; the child runs the notebook's cells and says ``ready``; only
then does the grader send the checks, one at a time, each when the previous one is answered
(:mod:`~lossmod_instructor.grading.wire`). So no check input exists in the child while its cells
run, and the clock of a check starts when the grader sends it: the check timeout counts from
there to that check's answer, and nothing the child says restarts it. The notebook timeout
bounds the whole child.

Everything the child sends is hostile. Messages are parsed within bounds; only the answer to the
check asked counts, and it is judged at once (the :class:`Outcome` keeps verdicts, never
messages); at most :data:`MAX_CELL_MESSAGES` cell errors are kept, their scalars only, strings
shortened to :data:`MAX_TEXT` characters; answers are capped in bytes,
and output in bytes kept (``Limits.output``) and printed (``Limits.output_total``, beyond which
the child is stopped). Output is kept only until the first hidden check is sent: what a child
prints once it may have seen a hidden input never reaches feedback.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmod_instructor.grading import sandbox, wire

MAX_CELL_MESSAGES = 50
MAX_TEXT = 2000  # characters kept of a string in a cell or sandbox message
_CHUNK = 1 << 16
_DRAIN_CHUNKS = 8  # read at most this much waiting output before the first hidden check


@dataclass(frozen=True)
class CheckRequest:
    """A check for the child: its case number, its message line, whether it is hidden."""

    case: int
    line: bytes
    hidden: bool


@dataclass
class Outcome:
    """What a child did. ``verdicts`` holds what the judge said of each answered case;
    ``asked`` is the case asked and left unanswered when the child ended; ``output`` holds the
    first bytes it printed before the first hidden check. ``ended`` is
    ``"answered"`` (every check was answered), ``"exited"``, ``"check-timeout"``,
    ``"notebook-timeout"``, ``"answers-too-large"`` or ``"output-too-large"``."""

    verdicts: dict[int, Any] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    sandbox: dict[str, Any] = field(default_factory=dict)
    ready: bool = False
    asked: int | None = None
    output: bytes = b""
    output_size: int = 0
    output_public: int | None = None  # bytes printed before the first hidden check was sent
    returncode: int | None = None
    ended: str = "exited"
    seconds: float = 0.0
    bad_messages: int = 0


class Child:
    """A running child, fed and drained by the scheduler: ``judge(case, message)`` turns the
    answer to a check into whatever the caller keeps of it."""

    def __init__(
        self,
        scratch: Path,
        library: Path,
        setup: bytes,
        checks: Sequence[CheckRequest],
        limits: sandbox.Limits,
        judge: Callable[[int, dict[str, Any]], Any],
        *,
        nproc: int = 1,
    ) -> None:
        self.limits, self.judge, self.library = limits, judge, library
        self.started = time.monotonic()
        self.notebook_deadline = self.started + limits.notebook_timeout
        self.check_deadline = math.inf
        self.outcome = Outcome()
        self.done = False
        self._checks, self._next = list(checks), 0
        self._asked: CheckRequest | None = None
        self._pending = setup.rstrip(b"\n") + b"\n"
        self._buffer, self._skipping = bytearray(), False
        self._answer_bytes = 0
        self._messages = 0
        self._keep_output = True
        self.process, answers = sandbox.start(scratch, library, limits, nproc)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: int | None = self.process.stdin.fileno()
        self.stdout: int | None = self.process.stdout.fileno()
        self.answers: int | None = answers
        for fd in (self.stdin, self.stdout, self.answers):
            os.set_blocking(fd, False)
        self.pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.pidfd = os.pidfd_open(self.process.pid)

    # -- the scheduler's interface -----------------------------------------------------------

    def readers(self) -> list[int]:
        return [fd for fd in (self.stdout, self.answers, self.pidfd) if fd is not None]

    def writers(self) -> list[int]:
        return [self.stdin] if self.stdin is not None and self._pending else []

    def deadline(self) -> float:
        return min(self.notebook_deadline, self.check_deadline)

    def handle(self, fd: int) -> None:
        """Move data on ``fd``, which the poller reported ready."""
        stop = None
        if fd == self.stdin:
            self._feed()
        elif fd == self.stdout:
            stop = self._drain_output()
        elif fd == self.answers:
            stop = self._read_answers()
        if stop:
            self.finish(stop)
        elif self._exited():
            self.finish("exited")

    def tick(self, now: float) -> None:
        """Enforce the deadlines; notice an exit without a pidfd."""
        if self.done:
            return
        if now >= self.check_deadline:
            self.finish("check-timeout")
        elif now >= self.notebook_deadline:
            self.finish("notebook-timeout")
        elif self.pidfd is None and self._exited():
            self.finish("exited")

    def finish(self, ended: str) -> None:
        """Kill the whole process group, take in what it wrote before it died, close all."""
        if self.done:
            return
        self.done = True  # from now on, no check is asked
        self.outcome.ended = ended
        self.outcome.returncode = sandbox.kill_group(self.process)
        while self.answers is not None and self._read_answers() is None:
            pass
        while self.stdout is not None and self._drain_output() is None:
            pass
        if self._asked is None and self._next >= len(self._checks) and self.outcome.ready:
            self.outcome.ended = "answered"  # however the end was noticed, all was answered
        self.outcome.asked = self._asked.case if self._asked is not None else None
        self.outcome.seconds = time.monotonic() - self.started
        for fd in (self.answers, self.pidfd):
            if fd is not None:
                os.close(fd)
        self.answers = self.pidfd = None
        self._close_stdin()
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.stdout = None

    # -- internals ---------------------------------------------------------------------------

    def _feed(self) -> None:
        assert self.stdin is not None
        try:
            written = os.write(self.stdin, self._pending[:_CHUNK])
            self._pending = self._pending[written:]
        except BlockingIOError:
            return
        except OSError:
            self._pending = b""
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            self.stdin = None

    def _drain_output(self) -> str | None:
        """Read a chunk of output, keeping the first bytes until the first hidden check; ""
        when none was waiting, ``"output-too-large"`` past the limit, None otherwise."""
        assert self.stdout is not None
        try:
            data = os.read(self.stdout, _CHUNK)
        except BlockingIOError:
            return ""
        if not data:
            self.stdout = None  # the file object is closed by finish()
            return ""
        self.outcome.output_size += len(data)
        room = self.limits.output - len(self.outcome.output)
        if self._keep_output and room > 0:
            self.outcome.output += data[:room]
        if self.outcome.output_size > self.limits.output_total:
            return "output-too-large"
        return None

    def _read_answers(self) -> str | None:
        """Read a chunk of messages; why the child should end now (``"answered"``,
        ``"answers-too-large"``, ``"output-too-large"``), "" when nothing was waiting, None
        otherwise."""
        assert self.answers is not None
        try:
            data = os.read(self.answers, _CHUNK)
        except BlockingIOError:
            return ""
        if not data:
            os.close(self.answers)
            self.answers = None
            return ""
        self._answer_bytes += len(data)
        if self._answer_bytes > self.limits.answers:
            os.close(self.answers)
            self.answers = None
            return "answers-too-large"
        if self._skipping:  # the rest of a line too long to be a message
            if b"\n" not in data:
                return None
            data, self._skipping = data[data.index(b"\n") + 1 :], False
        if b"\n" not in data:  # part of a line: no scan of what came before
            self._buffer += data
            if len(self._buffer) > wire.MAX_LINE:
                self._buffer, self._skipping = bytearray(), True
                self.outcome.bad_messages += 1
            return None
        parts = data.split(b"\n")
        lines = [bytes(self._buffer) + parts[0], *parts[1:-1]]
        self._buffer = bytearray(parts[-1])
        for line in lines:
            stop = self._take(line)
            if stop:
                return stop
        return None

    def _take(self, line: bytes) -> str | None:
        """Take in one message line; why the child should end now, if it should."""
        try:
            message = wire.parse_message(line)
        except wire.WireError:
            self.outcome.bad_messages += 1
            return None
        kind, first = message["t"], self._messages == 0
        self._messages += 1
        if kind == "sandbox" and first:
            self.outcome.sandbox = {k: _small(v) for k, v in message.items() if k != "t"}
        elif kind == "cell" and not self.outcome.ready:
            if len(self.outcome.cells) < MAX_CELL_MESSAGES:
                self.outcome.cells.append({k: _small(v) for k, v in message.items()})
        elif kind == "ready" and not self.outcome.ready:
            self.outcome.ready = True
            return self._ask()
        elif (
            kind == "answer"
            and self._asked is not None
            and message.get("case") == (self._asked.case)
        ):
            self.outcome.verdicts[self._asked.case] = self.judge(self._asked.case, message)
            self._asked, self.check_deadline = None, math.inf
            return self._ask()
        else:
            self.outcome.bad_messages += 1
        return None

    def _ask(self) -> str | None:
        """Send the next check, starting its clock; ``"answered"`` when none is left."""
        if self._next >= len(self._checks):
            return "answered"
        if self.done:
            return None
        check = self._checks[self._next]
        if check.hidden and self._keep_output:
            for _ in range(_DRAIN_CHUNKS):  # what was printed before this moment counts
                if self.stdout is None or self._drain_output() is not None:
                    break
            self._keep_output = False
            self.outcome.output_public = self.outcome.output_size
        self._next += 1
        self._asked = check
        self._pending += check.line.rstrip(b"\n") + b"\n"
        self.check_deadline = time.monotonic() + self.limits.check_timeout
        return None

    def _exited(self) -> bool:
        """Whether the main process has ended (not reaped yet, so its group id stays ours)."""
        if not hasattr(os, "waitid"):  # macOS: reaped at once; the group kill may miss a fork
            return self.process.poll() is not None
        try:
            result = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return result is not None


def _small(value: Any) -> Any:
    """A value of a kept message, its strings shortened; None for anything but a scalar."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    return value if isinstance(value, bool | int | float) or value is None else None
