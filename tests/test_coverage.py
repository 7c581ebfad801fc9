"""The library is the single source, and the book documents all of it (STYLE.md 9): every public
name of `lossmod` appears in some chapter, as code the chapter runs or shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lossmod

ROOT = Path(__file__).resolve().parents[1]


def book_text() -> str:
    """The source of every page of the book: Markdown pages and every notebook cell."""
    parts = [p.read_text() for p in sorted((ROOT / "chapters").glob("*.md"))]
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        parts += ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]]
    return "\n".join(parts)


def test_every_public_name_is_documented_in_the_book() -> None:
    """Each name in lossmod.__all__ is used as `lossmod.<name>` or shown with
    `:pyobject: <name>` somewhere in the chapters."""
    text = book_text()
    missing = [
        name
        for name in lossmod.__all__
        if not re.search(rf"lossmod\.{re.escape(name)}\b|:pyobject: {re.escape(name)}\b", text)
    ]
    assert not missing, f"documented nowhere in the book: {missing}"
