"""The grader's command line, run from a test, and what it leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


def points(chapter: str) -> float:
    """An assignment's points: one per code exercise of the chapter."""
    from lossmod_instructor.exercises import EXERCISES

    return float(sum(e.chapter == chapter for e in EXERCISES.values()))
