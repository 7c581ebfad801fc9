"""The lesson notebooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(p for p in CHAPTERS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def cells(path: Path) -> list[dict[str, Any]]:
    """The cells of a notebook file, as stored (JSON)."""
    return list(json.loads(path.read_text())["cells"])
