"""Test configuration: deterministic hypothesis runs, a seeded random generator, and the built book
(built once per test run, shared by the pytest-xdist workers)."""

# The numeric environment is set by the project's root conftest.py, which pytest loads first.
import fcntl
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import nbval.kernel
import numpy as np
import pytest
from hypothesis import settings

from tests.helpers.book import KERNEL_DIED, STRICT, build_book

ROOT = Path(__file__).resolve().parents[1]


def _start_kernel_with_retry(*args: Any, **kwargs: Any) -> Any:
    """nbval's kernel start, tried up to three times, with the dead kernel's stderr kept.

    In one run in seven here, a notebook's kernel died before its first reply while the book
    build, nbval and the rounding test started kernels at once. nbval sends kernel stderr to
    /dev/null; here it goes to a file shown in the run's warnings summary. A kernel that never
    starts still fails every cell of its notebook.
    """
    for attempt in range(3):
        with tempfile.TemporaryFile("w+") as stderr:
            try:
                return _nbval_start_new_kernel(*args, **{**kwargs, "stderr": stderr})
            except RuntimeError:
                stderr.seek(0)
                message = f"kernel start {attempt + 1} of 3 failed; its stderr:\n{stderr.read()}"
                warnings.warn(message, stacklevel=2)  # listed in the run's warnings summary
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")


_nbval_start_new_kernel = nbval.kernel.start_new_kernel
nbval.kernel.start_new_kernel = _start_kernel_with_retry

# Deterministic: the same examples on every run, no example database carried between runs.
settings.register_profile("course", derandomize=True, database=None, deadline=None)
settings.load_profile("course")


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed: every test that draws random inputs draws the same ones."""
    return np.random.default_rng(20261122)


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
            if result.returncode != 0 and KERNEL_DIED in result.stdout + result.stderr:
                # A kernel that died at start-up (see _start_kernel_with_retry), not the book.
                warnings.warn(f"book build retried: {KERNEL_DIED}", stacklevel=1)
                result = build_book(ROOT, *STRICT)
            assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
            stamp.write_text(run)
    return build_dir / "html"
