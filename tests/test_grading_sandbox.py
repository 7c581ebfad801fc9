"""The child's confinement and the end of its processes (lossmod_instructor.grading.sandbox,
.confine): processes a submission starts are all killed, including one that left its process
group; a fork bomb meets RLIMIT_NPROC (as a non-root user) and the group kill; a confined
process reaches no other process of its user and makes no kernel object that would outlive it,
nor links or pipes in its scratch folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from grading_fixtures import PRELUDE, Fixture, exercise_cell
from lossmod_instructor.grading import confine, sandbox

from tests.helpers.grading import leftover_processes, lossmod_cli

_FORK_TREE = """
import os, time
global forked
if not globals().get("forked"):
    forked = True
    for _ in range(3):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    if os.fork() == 0:
        os.setsid()  # leaves the process group: only the subreaper grader can find it
        if os.fork() == 0:
            time.sleep(60)
        os._exit(0)
return _honest(*args, **kwargs)
"""


def submission(body: str) -> bytes:
    return Fixture("test", "ok", "full", (PRELUDE, exercise_cell(body))).build({})


def grade_one(tmp_path: Path, data: bytes, *options: str) -> dict[str, object]:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "s.ipynb").write_bytes(data)
    run = lossmod_cli(
        "grade",
        str(tmp_path / "s.ipynb"),
        "--out",
        str(tmp_path / "out"),
        "--seed",
        "1",
        "--quiet",
        "--timeout",
        "2",
        "--notebook-timeout",
        "10",
        *options,
        tmp=tmp_path / "tmp",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results: dict[str, object] = json.loads((tmp_path / "out" / "s" / "results.json").read_text())
    return results


def test_every_process_a_submission_starts_is_killed(tmp_path: Path) -> None:
    """With processes allowed (a test-only setting), a submission's forked children and a
    double-forked grandchild in a session of its own are all gone when grading ends; the
    honest answer still gets its points."""
    results = grade_one(tmp_path, submission(_FORK_TREE), "--processes", "16")
    assert (results["score"], results["extra_data"]) == (1.0, {"status": "ok", "max_score": 1.0})
    assert leftover_processes(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="RLIMIT_NPROC does not bind root")
def test_fork_bomb_meets_nproc_and_the_group_kill(tmp_path: Path) -> None:
    """A real fork bomb, with processes allowed up to 30 more than the user runs: it stops at
    RLIMIT_NPROC, the check times out, and nothing of it is left."""
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    results = grade_one(tmp_path, submission(bomb), "--processes", "30")
    assert results["score"] == 0.0
    assert leftover_processes(tmp_path) == []


def test_confinement_in_a_plain_child(tmp_path: Path) -> None:
    """Landlock and seccomp as the child applies them: reading inside the allowed trees works,
    reading lossmod's exercises or writing outside the scratch folder does not, and neither does
    fork, exec, a socket or chmod."""
    if not confine.landlock_abi():
        pytest.skip("Landlock is not available")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (tmp_path / "outside.txt").write_text("x")
    probe = f"""
import os, socket, sys
from pathlib import Path
import lossmod
from lossmod_instructor.grading import confine
package = Path(lossmod.__file__).parent
trees = confine.readable_trees([Path(sys.prefix), Path(sys.base_prefix), package], [package / "exercises"])
confine.landlock(trees, [Path({str(scratch)!r})])
confine.seccomp()
def attempt(f):
    try:
        f()
        return "allowed"
    except OSError:
        return "denied"
print(attempt(lambda: (package / "regression.py").read_text()),
      attempt(lambda: Path({str(scratch)!r}, "f").write_text("x")),
      attempt(lambda: (package / "exercises" / "__init__.py").read_text()),
      attempt(lambda: Path({str(tmp_path / "outside.txt")!r}).write_text("y")),
      attempt(lambda: Path({str(tmp_path / "outside.txt")!r}).read_text()),
      attempt(os.fork), attempt(lambda: os.execv("/bin/true", ["true"])),
      attempt(socket.socket), attempt(lambda: os.chmod({str(tmp_path / "outside.txt")!r}, 0o777)))
"""
    run = subprocess.run(
        [sys.executable, "-I", "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        env={"OPENBLAS_NUM_THREADS": "1"},
        timeout=60,
    )
    assert run.stdout.split() == ["allowed", "allowed"] + ["denied"] * 7, run.stderr
    assert (tmp_path / "outside.txt").read_text() == "x"


def test_readable_trees_go_around_a_secret(tmp_path: Path) -> None:
    """A tree holding a secret is granted entry by entry, without the secret."""
    for name in ("a/secret/key", "a/public/x", "a/file", "b/y"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    trees = confine.readable_trees([tmp_path], [tmp_path / "a" / "secret"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in trees) == ["a/file", "a/public", "b"]


def test_limits_are_scrubbed_into_the_environment(tmp_path: Path) -> None:
    """The child's environment holds nothing of the grader's."""
    os.environ["LOSSMOD_SECRET_FOR_TEST"] = "x"
    try:
        env = sandbox.environment(tmp_path, sandbox.Limits())
    finally:
        del os.environ["LOSSMOD_SECRET_FOR_TEST"]
    assert "LOSSMOD_SECRET_FOR_TEST" not in env and env["HOME"] == str(tmp_path)
    assert set(env) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_ALL",
        "MPLBACKEND",
        "MPLCONFIGDIR",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
    }


_OTHERS = """
import ctypes, os, resource, signal, sys, threading
from lossmod_instructor.grading import confine
confine.seccomp()
libc = ctypes.CDLL(None, use_errno=True)
parent = os.getppid()
def attempt(f):
    try:
        result = f()
    except OSError:
        return "denied"
    return "denied" if isinstance(result, int) and result < 0 else "allowed"
print(
    attempt(lambda: resource.prlimit(parent, resource.RLIMIT_CORE)),
    attempt(lambda: resource.prlimit(1, resource.RLIMIT_NOFILE)),
    attempt(lambda: os.kill(parent, 0)),
    attempt(lambda: os.kill(-1, 0)),
    attempt(lambda: os.sched_setaffinity(parent, os.sched_getaffinity(parent))),
    attempt(lambda: os.setpriority(os.PRIO_PROCESS, parent, os.getpriority(os.PRIO_PROCESS, parent))),
    attempt(lambda: os.pidfd_open(parent)),
    attempt(lambda: libc.shmget(0, 1 << 20, 0o1600)),
    attempt(lambda: libc.msgget(0, 0o1600)),
    attempt(lambda: libc.semget(0, 1, 0o1600)),
    attempt(lambda: libc.syscall(240 if os.uname().machine == "x86_64" else 180, b"/q", 0o100, 0o600, None)),
    attempt(lambda: resource.prlimit(0, resource.RLIMIT_CORE)),
    attempt(lambda: resource.prlimit(os.getpid(), resource.RLIMIT_CORE)),
    attempt(lambda: os.kill(os.getpid(), 0)),
    attempt(lambda: signal.pthread_kill(threading.get_ident(), 0)),
)
"""


def test_the_filter_keeps_other_processes_and_kernel_objects_out_of_reach() -> None:
    """Under the seccomp filter, a process changes no limit, scheduling or priority of another
    process of its user, signals none, takes no pidfd, and makes no System V segment, queue or
    semaphore nor POSIX message queue; on itself, all of it still works."""
    if not confine.seccomp_supported():
        pytest.skip("seccomp is not available here")
    run = subprocess.run(
        [sys.executable, "-I", "-c", _OTHERS],
        capture_output=True,
        text=True,
        check=False,
        env={"OPENBLAS_NUM_THREADS": "1"},
        timeout=60,
    )
    assert run.stdout.split() == ["denied"] * 11 + ["allowed"] * 4, run.stderr


def test_no_link_pipe_or_socket_in_the_scratch_folder(tmp_path: Path) -> None:
    """Under Landlock the scratch folder takes files and folders, no link, pipe or device node
    (a chain of links there could tie up the grader's cleanup)."""
    if not confine.landlock_abi():
        pytest.skip("Landlock is not available")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    probe = f"""
import os, sys
from pathlib import Path
from lossmod_instructor.grading import confine
confine.landlock(confine.readable_trees([Path(sys.prefix), Path(sys.base_prefix)], []), [Path({str(scratch)!r})])
os.chdir({str(scratch)!r})
def attempt(f):
    try:
        f()
        return "allowed"
    except OSError:
        return "denied"
print(attempt(lambda: os.mkdir("d")), attempt(lambda: open("d/f", "w").close()),
      attempt(lambda: os.symlink("d", "l")), attempt(lambda: os.mkfifo("p")),
      attempt(lambda: os.link("d/f", "h")))
"""
    run = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    assert run.stdout.split() == ["allowed", "allowed", "denied", "denied", "allowed"], run.stderr
    assert not (scratch / "l").exists() and not (scratch / "p").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="a new IPC namespace needs CAP_SYS_ADMIN")
def test_as_root_a_child_has_an_ipc_namespace_of_its_own(tmp_path: Path) -> None:
    """A grader running as root gives each child its own IPC namespace, and says so."""
    results = grade_one(tmp_path, submission("return _honest(*args, **kwargs)"))
    assert results["score"] == 1.0
    records = (tmp_path / "out" / "grading.jsonl").read_text().splitlines()
    graded = [r for r in map(json.loads, records) if r["event"] == "graded"]
    assert graded[-1]["sandbox"]["ipc_namespace"] is True
