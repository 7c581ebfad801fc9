"""The learners' catalogue of exercises, ``lossmod/exercises/catalogue.json``, generated from the
book and the reference solutions.

For every exercise of the book (a ``{exercise}`` directive with a ``:label:`` in a chapter of
``_toc.yml``) the catalogue holds its number as the book prints it (chapter number, then the
exercise's rank in the chapter), its chapter, a one-line task and its kind; for an exercise with
code, the function's name, the tolerances, the points and the public checks: each case's inputs
and the reference solution's answer. Hidden cases, oracles and solutions stay here.

``python -m lossmod_instructor publish`` rewrites the file; a test fails when it is stale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml  # type: ignore[import-untyped]

from lossmod.exercises import CATALOGUE_FILE
from lossmod.exercises._data import encode
from lossmod_instructor.exercises import EXERCISES, WRITTEN

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "lossmod" / "exercises" / CATALOGUE_FILE
_LABEL = re.compile(r"^:{3,}\{exercise\}[^\n]*\n:label: (\S+)", re.M)
_TITLE = re.compile(r"^# (.+)$", re.M)


def chapter_text(path: Path) -> str:
    """The text of a chapter: a Markdown file, or a notebook's cells joined."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells)
    return path.read_text()


def numbered_chapters(root: Path = ROOT) -> list[tuple[str, int | None, Path]]:
    """(name, number or None, file) of every chapter, in the book's order; numbers run on across
    numbered parts, as the book prints them."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: list[tuple[str, int | None, Path]] = []
    number = 0
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            stem = root / entry["file"]
            path = next(
                p for p in (stem.with_suffix(".ipynb"), stem.with_suffix(".md")) if p.is_file()
            )
            if part.get("numbered"):
                number += 1
            found.append((path.stem, number if part.get("numbered") else None, path))
    return found


def book_exercises(root: Path = ROOT) -> list[dict[str, Any]]:
    """Every exercise of the book, in order: id, number, chapter, and its chapter's title."""
    found = []
    for name, number, path in numbered_chapters(root):
        text = chapter_text(path)
        labels = _LABEL.findall(text)
        if labels and number is None:
            raise ValueError(f"{path}: exercises in an unnumbered chapter")
        title = _TITLE.search(text)
        for rank, label in enumerate(labels, start=1):
            found.append(
                {
                    "id": label,
                    "number": f"{number}.{rank}",
                    "chapter": name,
                    "chapter_title": title.group(1).strip() if title else name,
                }
            )
    return found


def catalogue(root: Path = ROOT) -> dict[str, Any]:
    """The catalogue's content. Raises ValueError when the book and the registry disagree."""
    in_book = book_exercises(root)
    ids = [e["id"] for e in in_book]
    registered = set(EXERCISES) | set(WRITTEN)
    missing = sorted(set(ids) - registered)
    unused = sorted(registered - set(ids))
    if missing or unused:
        raise ValueError(
            f"the book's exercises and the registry differ: in the book only: {missing}; "
            f"registered only: {unused}"
        )
    chapters: dict[str, dict[str, Any]] = {}
    exercises = []
    for entry in in_book:
        chapters.setdefault(
            entry["chapter"],
            {
                "name": entry["chapter"],
                "number": int(entry["number"].split(".")[0]),
                "title": entry["chapter_title"],
            },
        )
        record: dict[str, Any] = {
            "id": entry["id"],
            "number": entry["number"],
            "chapter": entry["chapter"],
        }
        exercise = EXERCISES.get(entry["id"])
        if exercise is None:
            record |= {"kind": "written", "task": WRITTEN[entry["id"]]}
        else:
            record |= {
                "kind": "code",
                "task": exercise.task,
                "function": exercise.function_name,
                "points": exercise.points,
                "rtol": exercise.rtol,
                "atol": exercise.atol,
                "cases": [
                    {
                        "name": case.name,
                        "args": [encode(a) for a in case.args],
                        "kwargs": {k: encode(v) for k, v in case.kwargs.items()},
                        "expected": encode(np.asarray(case.call(exercise.solution))),
                    }
                    for case in exercise.cases
                ],
            }
        exercises.append(record)
    return {
        "about": (
            "Generated by `python -m lossmod_instructor publish` from the book and the "
            "reference solutions; do not edit."
        ),
        "chapters": list(chapters.values()),
        "exercises": exercises,
    }


def render(root: Path = ROOT) -> str:
    """The catalogue as the file holds it: one exercise per block, stable bytes."""
    return json.dumps(catalogue(root), indent=1, ensure_ascii=False) + "\n"


def publish(root: Path = ROOT, target: Path = TARGET) -> bool:
    """Rewrite the catalogue; whether it changed."""
    text = render(root)
    if target.is_file() and target.read_text() == text:
        return False
    target.write_text(text)
    return True
