"""`lossmod grade` end to end, through the command line: every hostile or broken fixture notebook
(tests/grading_fixtures) gets its status and score in one batch, which finishes; honest work in
the same batch keeps full marks; nothing outside the scratch folders changes; no process and no
kernel object is left; no hidden input reaches results.json; grading twice writes the same
results; an unchanged submission is not graded again."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lossmod_instructor.exercises
import numpy as np
import pytest
from grading_fixtures import EXERCISE_ID, FIXTURES, Fixture, expected_score
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading import cleanup
from lossmod_instructor.grading.scoring import exercise_checks

import lossmod
from tests.helpers.grading import leftover_processes, lossmod_cli

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261123
LIMITS = ["--timeout", "1", "--notebook-timeout", "5", "--memory", "512M", "--jobs", "2"]


def snapshot(folder: Path, skip: tuple[Path, ...]) -> dict[str, str]:
    """Every path under ``folder`` (outside ``skip``) with its mode and content hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        mode = path.lstat().st_mode
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path)] = f"{mode:o} {digest}"
    return found


def kernel_objects() -> set[str]:
    """The System V IPC objects and POSIX message queues of this IPC namespace."""
    found = set()
    for kind in ("shm", "msg", "sem"):
        table = Path("/proc/sysvipc") / kind
        if table.exists():
            found |= {f"{kind} {line.split()[1]}" for line in table.read_text().splitlines()[1:]}
    queues = Path("/dev/mqueue")
    if queues.is_dir():
        found |= {f"mq {path.name}" for path in queues.iterdir()}
    return found


@dataclass
class Batch:
    root: Path
    out: Path
    run: subprocess.CompletedProcess[str]
    seconds: float
    ended: float
    before: dict[str, str]
    listener: socket.socket
    objects: set[str]
    scratch: Path

    def results(self, name: str, out: Path | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (out or self.out).joinpath(name, "results.json").read_text()
        )
        return data

    def grades(self, out: Path | None = None) -> dict[str, dict[str, str]]:
        with (out or self.out).joinpath("grades.csv").open() as file:
            return {row["student"]: row for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the grader's scratch folders go: a memory file system where there is one, so that
    the fixtures that make thousands of files and folders are decided by their limits, not by
    the speed of a disk (metadata operations take milliseconds on some virtual disks)."""
    memory = Path("/dev/shm")
    if memory.is_dir() and os.access(memory, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="lossmod-test-", dir=memory))
        yield folder
        cleanup.remove_tree(folder)
    else:
        yield tmp_path_factory.mktemp("scratch")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, scratch_root: Path) -> Batch:
    """Every fixture graded in one batch, two at a time."""
    root = tmp_path_factory.mktemp("grading")
    submissions, out, scratch = root / "submissions", root / "out", scratch_root
    for folder in (submissions, out):
        folder.mkdir()
    (root / "canary.txt").write_text("must not change\n")
    (root / "seed.txt").write_text(f"{SEED}\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    values = {
        "__TARGET__": str(out / "written-by-a-submission.txt"),
        "__CANARY__": str(root / "canary.txt"),
        "__SECRETS__": repr(
            [
                str(root / "seed.txt"),
                str(submissions / "honest.ipynb"),
                str(out / "grading.jsonl"),
                str(out / "honest" / "results.json"),
            ]
        ),
        "__PORT__": str(listener.getsockname()[1]),
        "__REFERENCE__": repr(str(Path(lossmod_instructor.exercises.__file__).parent)),
        "__LIBRARY__": repr(str(Path(lossmod.__file__).resolve().parent)),
    }
    for fixture in FIXTURES:
        (submissions / f"{fixture.name}.ipynb").write_bytes(fixture.build(values))
    before = snapshot(root, (out, scratch))
    objects = kernel_objects()
    started = time.monotonic()
    run = lossmod_cli(
        "grade",
        str(submissions),
        "--out",
        str(out),
        "--seed-file",
        str(root / "seed.txt"),
        "--quiet",
        *LIMITS,
        tmp=scratch,
    )
    ended = time.monotonic()
    assert run.returncode == 0, run.stderr[-3000:]
    return Batch(root, out, run, ended - started, ended, before, listener, objects, scratch)


def fractions() -> dict[str, int]:
    """How many checks what-is-a-loss-4 has with the test seed, and how many pass in float32."""
    exercise = EXERCISES[EXERCISE_ID]
    checks, _ = exercise_checks(exercise, SEED)
    in_float32 = sum(
        bool(
            np.isclose(
                c.expected.astype(np.float32).astype(np.float64),
                c.expected,
                rtol=exercise.rtol,
                atol=exercise.atol,
            ).all()
        )
        for c in checks
    )
    return {
        "checks": len(checks),
        "public": sum(not c.hidden for c in checks),
        "float32": in_float32,
    }


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_fixture_gets_its_status_and_score(batch: Batch, fixture: Fixture) -> None:
    """Each fixture's status in grades.csv and score in results.json are exactly the expected
    ones: never more than the honest work in it earns."""
    row = batch.grades()[fixture.name]
    results = batch.results(fixture.name)
    expected = expected_score(fixture, EXERCISES[EXERCISE_ID].points, fractions())
    assert (row["status"], results["score"]) == (
        fixture.status,
        pytest.approx(expected, abs=1e-4),
    ), results["output"][-2000:]
    assert float(row["score"]) == pytest.approx(results["score"], abs=1e-4)
    assert sum(t["score"] for t in results["tests"]) == pytest.approx(results["score"], abs=1e-4)


def test_batch_finishes_fast_and_leaves_nothing_behind(batch: Batch) -> None:
    """The batch ends (timeouts included) well within its limits; no child process is left;
    nothing outside the output folder changed, even a second after grading (when a detached
    writer would strike); the test's port got no connection."""
    assert batch.seconds < 45
    time.sleep(max(0.0, 1.5 - (time.monotonic() - batch.ended)))
    assert leftover_processes(batch.scratch) == []
    assert snapshot(batch.root, (batch.out,)) == batch.before
    assert not (batch.out / "written-by-a-submission.txt").exists()
    assert list(batch.scratch.iterdir()) == []  # deep, wide, linked: all removed
    assert kernel_objects() <= batch.objects
    with pytest.raises(BlockingIOError):
        batch.listener.accept()


def test_feedback_is_specific_and_hides_hidden_inputs(batch: Batch) -> None:
    """Public failures say what was expected and with which inputs; hidden ones are named but
    show neither inputs nor values; feedback of hostile fixtures says what happened."""
    tests = {t["name"]: t for t in batch.results("wrong_shape")["tests"]}
    public = [t for n, t in tests.items() if ": hidden: " not in n]
    hidden = [t for n, t in tests.items() if ": hidden: " in n]
    assert public and hidden
    assert all("called with" in t["output"] and "expected shape" in t["output"] for t in public)
    assert all("called with" not in t["output"] and "[" not in t["output"] for t in hidden)
    nan = [t["output"] for t in batch.results("nan")["tests"]]
    assert all("NaN where a finite value was expected" in o for o in nan)
    assert "timed out after 1 s" in batch.results("infinite_loop")["tests"][0]["output"]
    assert "timed out after 1 s" in batch.results("keepalive_messages")["tests"][0]["output"]
    assert "signal SIGSEGV" in batch.results("segfault")["tests"][0]["output"]
    assert "signal 40" in batch.results("realtime_signal")["tests"][0]["output"]
    assert "reference solutions" in batch.results("calls_reference_solution")["tests"][0]["output"]
    stripped = batch.results("calls_stripped_function")["tests"][0]["output"]
    assert stripped.startswith("uses lossmod.mse_grad, which this assignment asks you to write")
    assert "returned integers" in batch.results("integers")["tests"][0]["output"]
    assert "not attempted yet" in batch.results("untouched")["tests"][0]["output"]
    assert "2 places" in batch.results("duplicated_id_stub_last")["output"]
    assert "read: 0" in batch.results("reads_secrets")["output"]
    network = batch.results("network")["output"]
    assert "network: blocked" in network and "network: reached" not in network
    exits = [
        t for t in batch.results("exit_code_of_hidden_input")["tests"] if "hidden" in t["name"]
    ]
    assert exits and all("exit code" not in t["output"] for t in exits)
    gigabyte = batch.results("gigabyte_output")["output"]
    assert "printed more than 8 MB of output" in gigabyte
    megabyte = batch.results("megabyte_output")["output"]
    assert len(megabyte) < 40_000 and "more bytes of output not kept" in megabyte


def test_broken_and_forbidden_say_why(batch: Batch) -> None:
    """A notebook that does not run names the cell and the reason; a lesson line that calls a
    function taken away is only noted, and stops its own cell."""
    assert "No module named 'lossmod_no_such_module'" in batch.results("fails_at_import")["output"]
    missing = batch.results("imports_a_missing_name")["output"]
    assert "cannot import name 'no_such_function' from 'lossmod'" in missing
    assert "raised ZeroDivisionError" in batch.results("definition_raises")["output"]
    lesson = batch.results("lesson_calls_stripped_function")["output"]
    assert "stopped at lossmod.mse, which this assignment asks you to write" in lesson
    assert "after" not in lesson.split("output of the notebook")[-1]
    assert "unknown exercise ids" in batch.results("surrogate_in_exercise_id")["output"]


@pytest.mark.parametrize(
    ("fixture", "line"),
    [
        ("other_processes", "other processes reached: 0"),
        ("kernel_objects", "kernel objects created: 0"),
        ("symlink_chain", "symbolic links made: 0"),
        ("reads_real_library", "files of the real lossmod read: 0"),
        ("frames_at_cell_time", "check inputs at cell time: 0"),
        ("stdin_at_cell_time", "requests at cell time: 0 [0]"),
    ],
)
def test_the_child_reaches_nothing(batch: Batch, fixture: str, line: str) -> None:
    """What a child tries on other processes, kernel objects, links, the real library or the
    check inputs while its cells run, it reports itself: nothing is reached."""
    assert line in batch.results(fixture)["output"]


def hidden_input_texts() -> set[str]:
    """Ways a hidden input's numbers could be spelled, none of which a public input spells."""
    checks, _ = exercise_checks(EXERCISES[EXERCISE_ID], SEED)

    def spellings(values: np.ndarray) -> set[str]:
        found = set()
        for v in np.ravel(values)[:8].astype(float):
            found |= {repr(v), f"{v:.6f}", f"{v:.4f}", f"{v:.3f}", str(abs(int(v * 1e6)))}
        return {t for t in found if len(t.strip("-0.")) >= 4}

    def arrays(check: Any) -> list[np.ndarray]:
        return [np.asarray(a) for a in check.case.args if np.asarray(a).dtype.kind == "f"]

    public = set().union(*(spellings(a) for c in checks if not c.hidden for a in arrays(c)))
    hidden = set().union(*(spellings(a) for c in checks if c.hidden for a in arrays(c)))
    return hidden - public


def test_no_hidden_input_reaches_results(batch: Batch) -> None:
    """Printed during a hidden check, raised, put in a type name or a forged problem, or looked
    for at cell time: no hidden input's numbers appear in any results.json; the public inputs a
    function printed do."""
    texts = hidden_input_texts()
    assert len(texts) > 20
    for fixture in FIXTURES:
        if fixture.raw is None:
            content = (batch.out / fixture.name / "results.json").read_text()
            leaked = sorted(t for t in texts if t in content)
            assert leaked == [], (fixture.name, leaked[:5])
    printed = batch.results("prints_inputs")["output"]
    checks, _ = exercise_checks(EXERCISES[EXERCISE_ID], SEED)
    assert printed.count("inputs:") == sum(not c.hidden for c in checks)


def test_grading_twice_gives_the_same_results(batch: Batch, tmp_path: Path) -> None:
    """A second run of the same batch into a fresh folder writes byte-identical results.json
    files and grades.csv (timings live only in the audit log)."""
    again = tmp_path / "again"
    run = lossmod_cli(
        "grade",
        str(batch.root / "submissions"),
        "--out",
        str(again),
        "--seed",
        str(SEED),
        "--quiet",
        *LIMITS,
        tmp=batch.scratch,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for fixture in FIXTURES:
        first = (batch.out / fixture.name / "results.json").read_bytes()
        assert (again / fixture.name / "results.json").read_bytes() == first, fixture.name
    assert (again / "grades.csv").read_bytes() == (batch.out / "grades.csv").read_bytes()


def test_rerun_skips_unchanged_submissions_and_audits(batch: Batch) -> None:
    """Re-running on the same output folder grades nothing again (same hashes, same
    fingerprint) and leaves every results.json as it was; the audit log records versions, the
    seed, and each submission's sha256."""
    before = {f.name: (batch.out / f.name / "results.json").read_bytes() for f in FIXTURES}
    run = lossmod_cli(
        "grade",
        str(batch.root / "submissions"),
        "--out",
        str(batch.out),
        "--seed",
        str(SEED),
        "--quiet",
        *LIMITS,
        tmp=batch.scratch,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in (batch.out / "grading.jsonl").read_text().splitlines()]
    runs = [r for r in records if r["event"] == "run"]
    assert len(runs) == 2 and runs[0]["seed"] == SEED and runs[0]["versions"]["numpy"]
    graded = [r for r in records if r["event"] == "graded"]
    assert len(graded) == len(FIXTURES)
    honest = next(r for r in graded if r["student"] == "honest")
    data = (batch.root / "submissions" / "honest.ipynb").read_bytes()
    assert honest["sha256"] == hashlib.sha256(data).hexdigest()
    assert honest["sandbox"]["seccomp"] is True
    assert len([r for r in records if r["event"] == "skipped"]) == len(FIXTURES)
    assert {f.name: (batch.out / f.name / "results.json").read_bytes() for f in FIXTURES} == before
    assert set(batch.grades()) == {f.name for f in FIXTURES}
