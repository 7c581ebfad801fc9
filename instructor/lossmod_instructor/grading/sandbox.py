"""Starting, watching and ending one child (:mod:`~lossmod_instructor.grading.child`) without
running any of its code in the grader.

A child runs ``python -I -B`` with a scrubbed environment, in its own scratch directory holding
only the notebook, in its own session and process group, under resource limits set before
``exec``: CPU seconds, address space, file size, processes (none beyond itself, unless a test
asks), no core files; as root it also gives up every capability. Its stdout and stderr share
one pipe, of which the grader keeps the first bytes as feedback and drains the rest; its answers
come on a pipe of their own, size-capped. A wall-clock deadline bounds the whole notebook and
another each check call; at the end the whole process group is killed.

:class:`Child` never blocks: the scheduler (:mod:`~lossmod_instructor.grading.batch`) multiplexes
many with ``selectors`` in one thread, so ``preexec_fn`` is safe to use.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmod_instructor.grading import confine, wire

NOTEBOOK_NAME = "submission.ipynb"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """What one child may use. ``processes`` > 0 lets a child start that many processes (only
    for testing the process-group kill); by default it may start none."""

    check_timeout: float = 10.0
    notebook_timeout: float = 120.0
    memory: int = 1 << 30
    file_size: int = 16 << 20
    output: int = 16 << 10
    answers: int = 64 << 20
    processes: int = 0


def _user_tasks() -> int:
    """How many tasks (threads included) the real user runs now: RLIMIT_NPROC counts them."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
    return count


def _preexec(limits: Limits, nproc: int) -> Any:
    cpu = math.ceil(limits.notebook_timeout) + 1

    def limit() -> None:  # in the forked child, before exec
        for which, value in (
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_AS, limits.memory),
            (resource.RLIMIT_FSIZE, limits.file_size),
            (resource.RLIMIT_NPROC, nproc),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NOFILE, 256),
        ):
            hard = resource.getrlimit(which)[1]
            soft = value if hard == resource.RLIM_INFINITY else min(value, hard)
            top = soft + 1 if which == resource.RLIMIT_CPU else soft  # SIGXCPU, then SIGKILL
            top = top if hard == resource.RLIM_INFINITY else min(top, hard)
            with contextlib.suppress(ValueError, OSError):  # a limit this system lacks
                resource.setrlimit(which, (soft, top))  # a lowered hard limit stays lowered
        if os.geteuid() == 0:
            confine.drop_capabilities()
        else:
            confine.no_new_privileges()

    return limit


def environment(scratch: Path, limits: Limits) -> dict[str, str]:
    """The child's whole environment: nothing of the grader's."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch)}
    env |= {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg"}
    env |= {"MPLCONFIGDIR": str(scratch), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env |= {"MKL_NUM_THREADS": "1"}
    if limits.processes > 0:
        env["LOSSMOD_GRADING_FORK"] = "1"
    return env


def make_scratch(root: Path, notebook: bytes) -> Path:
    """A new empty directory under ``root`` holding only the notebook."""
    scratch = Path(tempfile.mkdtemp(prefix="submission-", dir=root))
    (scratch / NOTEBOOK_NAME).write_bytes(notebook)
    return scratch


def remove_scratch(scratch: Path) -> None:
    for path in (scratch, *scratch.rglob("*")):  # a child may have left read-only modes
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o700)
    shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class Outcome:
    """What a child did: its protocol messages, its truncated output and how it ended.
    ``ended`` is ``"done"`` (it said so), ``"exited"``, ``"check-timeout"``,
    ``"notebook-timeout"`` or ``"answers-too-large"``."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    output: bytes = b""
    output_size: int = 0
    returncode: int | None = None
    ended: str = "exited"
    seconds: float = 0.0
    bad_messages: int = 0


class Child:
    """A running child, fed and drained by the scheduler's ``selectors`` loop."""

    def __init__(self, scratch: Path, request: bytes, limits: Limits, *, nproc: int = 1) -> None:
        self.limits = limits
        self.started = time.monotonic()
        self.notebook_deadline = self.started + limits.notebook_timeout
        self.check_deadline = math.inf
        self.outcome = Outcome()
        self._ready = False
        self._said_done = False
        self._pending = request
        self._answers = b""
        self._answer_bytes = 0
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-B",
                    "-u",
                    "-m",
                    "lossmod_instructor.grading.child",
                    str(write_end),
                ],
                cwd=scratch,
                env=environment(scratch, limits),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                start_new_session=True,
                preexec_fn=_preexec(limits, nproc),
            )
        finally:
            os.close(write_end)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: int | None = self.process.stdin.fileno()
        self.stdout: int | None = self.process.stdout.fileno()
        self.answers: int | None = read_end
        for fd in (self.stdin, self.stdout, self.answers):
            os.set_blocking(fd, False)
        self.pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.pidfd = os.pidfd_open(self.process.pid)
        self.done = False

    # -- the scheduler's interface -----------------------------------------------------------

    def readers(self) -> list[int]:
        return [fd for fd in (self.stdout, self.answers, self.pidfd) if fd is not None]

    def writers(self) -> list[int]:
        return [self.stdin] if self.stdin is not None else []

    def deadline(self) -> float:
        return min(self.notebook_deadline, self.check_deadline)

    def handle(self, fd: int) -> None:
        """Move data on ``fd``, which the poller reported ready."""
        stop = None
        if fd == self.stdin:
            self._feed()
        elif fd == self.stdout:
            self._drain_output()
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
        """Kill the whole process group, read what it wrote before it died, close everything."""
        if self.done:
            return
        self.done = True
        self.outcome.ended = ended
        self.outcome.returncode = kill_group(self.process)
        while self.answers is not None and self._read_answers() is None:
            pass
        while self.stdout is not None and self._drain_output():
            pass
        if self._said_done:  # however the end was noticed first, it said it was done
            self.outcome.ended = "done"
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
        if not self._pending:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            self.stdin = None

    def _drain_output(self) -> bool:
        """Read a chunk of output, keeping the first bytes; False when none was waiting."""
        assert self.stdout is not None
        try:
            data = os.read(self.stdout, _CHUNK)
        except BlockingIOError:
            return False
        if not data:
            self.stdout = None  # the file object is closed by finish()
            return False
        self.outcome.output_size += len(data)
        room = self.limits.output - len(self.outcome.output)
        if room > 0:
            self.outcome.output += data[:room]
        return True

    def _read_answers(self) -> str | None:
        """Read a chunk of answers; why the child should end now (``"done"`` once it said so,
        ``"answers-too-large"``), or ``""`` when nothing was waiting, None otherwise."""
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
        self._answers += data
        *lines, self._answers = self._answers.split(b"\n")
        stop = None
        for line in lines:
            if self._said_done:
                break  # nothing after "done" counts, however fast it came
            try:
                message = wire.parse_message(line)
            except wire.WireError:
                self.outcome.bad_messages += 1
                continue
            self.outcome.messages.append(message)
            if message["t"] == "ready":
                self._ready = True
            if self._ready:  # each answer restarts the clock of the next check
                self.check_deadline = time.monotonic() + self.limits.check_timeout
            if message["t"] == "done":
                self._said_done = True
                stop = "done"
        return stop

    def _exited(self) -> bool:
        """Whether the main process has ended (not reaped yet, so its group id stays ours)."""
        if not hasattr(os, "waitid"):  # macOS: reaped at once; the group kill may miss a fork
            return self.process.poll() is not None
        try:
            result = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return result is not None


def kill_group(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL the process's whole group, reap the process, then kill whatever is left of the
    group (a process forked at the last moment) until none is; the process's return code.

    The group id cannot be reused meanwhile: Linux keeps a pid allocated while a group uses it.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    returncode = process.wait()
    for _ in range(400):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            break
        with contextlib.suppress(ChildProcessError):  # members adopted by a subreaper grader
            while os.waitpid(-process.pid, os.WNOHANG)[0] > 0:
                pass
        time.sleep(0.005)
    return returncode


# ---------------------------------------------------------------------------------------------
# Processes that left their group (only possible when a test lets children fork)

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make the grader adopt its children's orphans, so that a double-forked process that left
    its process group can still be found and killed (Linux); False elsewhere."""
    libc = ctypes.CDLL(None, use_errno=True)
    return sys.platform == "linux" and int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def kill_orphans(keep: set[int]) -> int:
    """Kill and reap every child of this process except ``keep``: in a grader that became a
    subreaper and starts nothing else, those are escaped descendants of its children."""
    me, killed = os.getpid(), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in keep:
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
                os.waitpid(int(entry.name), 0)
                killed += 1
    return killed


def nproc_limit(limits: Limits) -> int:
    """RLIMIT_NPROC for the children: 1 (no new task at all) unless a test allows processes."""
    if limits.processes <= 0:
        return 1
    return _user_tasks() + limits.processes
