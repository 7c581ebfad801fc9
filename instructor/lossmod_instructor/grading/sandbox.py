"""Starting and ending one child (:mod:`~lossmod_instructor.grading.child`) without running
any of its code in the grader.

A child runs ``python -I -B`` with a scrubbed environment, in its own scratch directory holding
only the notebook, in its own session and process group, from its private copy of the library
(:mod:`~lossmod_instructor.grading.library`, first on its ``sys.path``), under resource limits
set before ``exec``: CPU seconds, address space, file size, processes (none beyond itself,
unless a test asks), no core files; as root it also moves to an IPC namespace of its own and
gives up every capability. Its stdout and stderr share one pipe; its answers come on a pipe of
their own. :func:`kill_group` ends the whole process group.

What the two say to each other, and the deadlines, are the business of
:mod:`~lossmod_instructor.grading.session`; removing the scratch folder is
:mod:`~lossmod_instructor.grading.cleanup`'s.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossmod_instructor.grading import confine

NOTEBOOK_NAME = "submission.ipynb"
# Puts the child's copy of the library first on its path, then runs the child from that copy.
BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from lossmod_instructor.grading.child import main; main(sys.argv[1:])"
)


@dataclass(frozen=True)
class Limits:
    """What one child may use. ``output`` is what the grader keeps of its printed output, and
    ``output_total`` what it may print at all; ``answers`` bounds the bytes of its answers.
    ``processes`` > 0 lets a child start that many processes (only for testing the process-group
    kill); by default it may start none."""

    check_timeout: float = 10.0
    notebook_timeout: float = 120.0
    memory: int = 1 << 30
    file_size: int = 16 << 20
    output: int = 16 << 10
    output_total: int = 8 << 20
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
            confine.new_ipc_namespace()
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


def start(
    scratch: Path, library: Path, limits: Limits, nproc: int
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a child in ``scratch`` from the copy of the library at ``library``: the process
    (stdin, and stdout with stderr, are pipes) and the read end of its answer pipe."""
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-B", "-u", "-c", BOOTSTRAP, str(library), str(write_end)],
            cwd=scratch,
            env=environment(scratch, limits),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            start_new_session=True,
            preexec_fn=_preexec(limits, nproc),
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return process, read_end


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
