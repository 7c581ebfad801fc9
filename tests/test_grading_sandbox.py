"""The child's confinement and the end of its processes (lossmod_instructor.grading.sandbox, .confine):
processes a submission starts are all killed, including one that left its process group; a
fork bomb meets RLIMIT_NPROC (as a non-root user) and the group kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from grading_fixtures import PRELUDE, Fixture, exercise_cell
from lossmod_instructor.grading import confine, sandbox
from test_grading import leftover_processes, lossmod_cli

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
