"""The learner edition (book and notebooks) holds no solution code; the instructor's book does."""

from __future__ import annotations

import ast
import html
import inspect
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lossmod.exercises import EXERCISES, starter_cell

ROOT = Path(__file__).resolve().parents[1]


def solution_body(exercise_id: str) -> str:
    """The statements of a reference solution after its docstring, whitespace collapsed."""
    source = textwrap.dedent(inspect.getsource(EXERCISES[exercise_id].solution))
    definition = ast.parse(source).body[0]
    assert isinstance(definition, ast.FunctionDef)
    statements = definition.body[1:] if ast.get_docstring(definition) else definition.body
    lines = source.splitlines()[statements[0].lineno - 1 : statements[-1].end_lineno]
    return normalise("\n".join(lines))


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def page_text(page: Path) -> str:
    """What a reader sees of an HTML page: tags removed, entities decoded, whitespace collapsed."""
    return normalise(html.unescape(re.sub(r"<[^>]+>", "", page.read_text())))


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory, html_dir: Path) -> Path:
    """The learner edition, built (strictly) after the instructor's book, whose stored notebook
    outputs it reuses."""
    out = tmp_path_factory.mktemp("learner")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "learner_edition.py"), "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_learner_book_and_notebooks_hold_no_solution(learner: Path, html_dir: Path) -> None:
    """No learner page or notebook contains a reference solution's code, or a solution block;
    the instructor's book shows every solution (so the check is not vacuous)."""
    learner_pages = " ".join(page_text(p) for p in sorted((learner / "html").rglob("*.html")))
    instructor_pages = " ".join(page_text(p) for p in sorted(html_dir.rglob("*.html")))
    notebooks = sorted((learner / "notebooks" / "chapters").glob("*.ipynb"))
    assert len(notebooks) == len(list((ROOT / "chapters").glob("*.ipynb")))
    notebook_text = normalise(" ".join(n.read_text() for n in notebooks))
    for exercise_id in EXERCISES:
        body = solution_body(exercise_id)
        assert body in instructor_pages, exercise_id
        assert body not in learner_pages, exercise_id
        assert normalise(json.dumps(body))[1:-1] not in notebook_text, exercise_id
    assert "Solution to" in instructor_pages
    assert "Solution to" not in learner_pages
    assert "{solution}" not in notebook_text


def test_learner_notebooks_keep_every_starting_cell(learner: Path) -> None:
    """Each exercise's starting cell (stub and check) is in the learner's notebook."""
    for exercise_id, exercise in EXERCISES.items():
        notebook = learner / "notebooks" / "chapters" / f"{exercise.chapter}.ipynb"
        cells = json.loads(notebook.read_text())["cells"]
        assert starter_cell(exercise_id) in ["".join(c["source"]) for c in cells]
