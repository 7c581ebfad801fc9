"""Keep the learners' starting cells in the chapter notebooks equal to
:func:`starter_cell`.

A starting cell is a code cell tagged ``exercise-stub``; the exercise it
belongs to is read from its ``check("<id>", ...)`` line. Run ``python -m
lossmod_instructor sync`` after changing a solution, then re-execute the
notebook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lossmod_instructor.exercises import starter_cell

_CHECK_CALL = re.compile(r'^check\("([^"]+)"', re.MULTILINE)
TAG = "exercise-stub"


def stub_cells(notebook: Path) -> list[tuple[int, str, str]]:
    """(cell index, exercise id, current source) of every starting cell of
    a notebook."""
    cells = json.loads(notebook.read_text())["cells"]
    found = []
    for index, cell in enumerate(cells):
        if TAG in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"])
            match = _CHECK_CALL.search(source)
            if match is None:
                raise ValueError(f"{notebook}: cell {index} is tagged {TAG} but has no check(...)")
            found.append((index, match.group(1), source))
    return found


def stale_cells(notebook: Path) -> list[str]:
    """The ids of the exercises whose starting cell differs from what the
    solution gives."""
    return [ex_id for _, ex_id, source in stub_cells(notebook) if source != starter_cell(ex_id)]


def sync(notebook: Path) -> list[str]:
    """Rewrite the stale starting cells of a notebook
    (keeping its JSON layout); their ids."""
    data = json.loads(notebook.read_text())
    changed = []
    for index, exercise_id, source in stub_cells(notebook):
        fresh = starter_cell(exercise_id)
        if source != fresh:
            data["cells"][index]["source"] = fresh.splitlines(keepends=True)
            changed.append(exercise_id)
    if changed:
        notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return changed
