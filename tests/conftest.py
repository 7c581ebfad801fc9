"""Test configuration: deterministic hypothesis runs, a seeded random generator, and the built book
(built once per test run, shared by the pytest-xdist workers)."""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")
STRICT = ["--warningiserror", "--nitpick", "--keep-going"]

# Deterministic: the same examples on every run, no example database carried between runs.
settings.register_profile("course", derandomize=True, database=None, deadline=None)
settings.load_profile("course")


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed: every test that draws random inputs draws the same ones."""
    return np.random.default_rng(20261122)


def build_book(source: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`jupyter-book build` of a book folder; the result, never raising on failure."""
    return subprocess.run(
        [JUPYTER_BOOK, "build", str(source), *options],
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip


@pytest.fixture(scope="session")
def html_dir() -> Path:
    """The book built as `make book` does (notebooks executed, warnings are errors), once per
    test run: the first pytest-xdist worker to ask builds it, under a lock, and the others reuse
    it."""
    build_dir = ROOT / "_build"
    build_dir.mkdir(exist_ok=True)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid-{os.getpid()}")
    stamp = build_dir / ".built-for-test-run"
    with open(build_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.is_file() and stamp.read_text() == run):
            stamp.unlink(missing_ok=True)
            result = build_book(ROOT, *STRICT)
            assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
            stamp.write_text(run)
    return build_dir / "html"
