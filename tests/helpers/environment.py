"""The numeric environment every run shares: ``requirements/numeric.env``, which the Makefile
includes too."""

from __future__ import annotations

import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NUMERIC_ENV_FILE = ROOT / "requirements" / "numeric.env"


def numeric_environment() -> dict[str, str]:
    """The variables of ``requirements/numeric.env`` (``OPENBLAS_CORETYPE`` on x86-64 only, as in
    the Makefile), and ``IPYTHONDIR``, the project's IPython profile."""
    found = {}
    for line in NUMERIC_ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    if platform.machine() not in ("x86_64", "AMD64"):
        found.pop("OPENBLAS_CORETYPE", None)
    found["IPYTHONDIR"] = str(ROOT / ".ipython")
    return found


def apply_numeric_environment() -> None:
    """Set the numeric environment in this process, so every kernel and subprocess started from
    it inherits it. Called by the root conftest.py before NumPy is imported (OpenBLAS reads its
    variables when it loads)."""
    os.environ.update(numeric_environment())
