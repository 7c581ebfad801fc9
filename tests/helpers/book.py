"""Building the book from a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")
STRICT = ["--warningiserror", "--nitpick", "--keep-going"]
KERNEL_DIED = "Kernel died before replying to kernel_info"


def build_book(source: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`jupyter-book build` of a book folder; the result, never raising on failure."""
    return subprocess.run(
        [JUPYTER_BOOK, "build", str(source), *options],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
