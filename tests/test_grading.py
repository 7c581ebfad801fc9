"""`lossmod grade` end to end, through the command line: every hostile or broken fixture notebook
(tests/grading_fixtures) gets its status and score in one batch, which finishes; honest work in
the same batch keeps full marks; nothing outside the scratch folders changes; no process is left;
grading twice writes the same results; an unchanged submission is not graded again."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lossmod_instructor.exercises
import numpy as np
import pytest
from grading_fixtures import EXERCISE_ID, FIXTURES, Fixture, expected_score
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading.scoring import exercise_checks

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261123
LIMITS = ["--timeout", "1", "--notebook-timeout", "5", "--memory", "512M", "--jobs", "2"]


def lossmod_cli(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """`python -m lossmod ...`, its scratch folders under ``tmp``."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run(
        [sys.executable, "-m", "lossmod", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=env,
        cwd=ROOT,
    )


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


def leftover_processes(folder: Path) -> list[int]:
    """Processes whose HOME (a child's scratch folder) lies under ``folder``."""
    marker = f"HOME={folder}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                environ = Path(f"/proc/{entry.name}/environ").read_bytes()
            except OSError:
                continue
            if any(v.startswith(marker) for v in environ.split(b"\0")):
                found.append(int(entry.name))
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

    def results(self, name: str, out: Path | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (out or self.out).joinpath(name, "results.json").read_text()
        )
        return data

    def grades(self, out: Path | None = None) -> dict[str, dict[str, str]]:
        with (out or self.out).joinpath("grades.csv").open() as file:
            return {row["student"]: row for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Every fixture graded in one batch, two at a time."""
    root = tmp_path_factory.mktemp("grading")
    submissions, out, scratch = root / "submissions", root / "out", root / "tmp"
    for folder in (submissions, out, scratch):
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
    }
    for fixture in FIXTURES:
        (submissions / f"{fixture.name}.ipynb").write_bytes(fixture.build(values))
    before = snapshot(root, (out, scratch))
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
    return Batch(root, out, run, ended - started, ended, before, listener)


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
    return {"checks": len(checks), "float32": in_float32}


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
    assert leftover_processes(batch.root) == []
    assert snapshot(batch.root, (batch.out, batch.root / "tmp")) == batch.before
    assert not (batch.out / "written-by-a-submission.txt").exists()
    assert list((batch.root / "tmp").iterdir()) == []
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
    assert "signal SIGSEGV" in batch.results("segfault")["tests"][0]["output"]
    assert "reference" in batch.results("calls_reference_solution")["tests"][0]["output"]
    assert "returned integers" in batch.results("integers")["tests"][0]["output"]
    assert "not attempted yet" in batch.results("untouched")["tests"][0]["output"]
    assert "2 places" in batch.results("duplicated_id_stub_last")["output"]
    assert "read: 0" in batch.results("reads_secrets")["output"]
    network = batch.results("network")["output"]
    assert "network: blocked" in network and "network: reached" not in network
    gigabyte = batch.results("gigabyte_output")["output"]
    assert len(gigabyte) < 40_000 and "more bytes of output not kept" in gigabyte


def test_grading_twice_gives_the_same_results(batch: Batch, tmp_path: Path) -> None:
    """A second run of the same batch into a fresh folder writes byte-identical results.json
    files and grades.csv (timings live only in the audit log)."""
    again = tmp_path / "again"
    (tmp_path / "tmp").mkdir()
    run = lossmod_cli(
        "grade",
        str(batch.root / "submissions"),
        "--out",
        str(again),
        "--seed",
        str(SEED),
        "--quiet",
        *LIMITS,
        tmp=tmp_path / "tmp",
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
        tmp=batch.root / "tmp",
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
