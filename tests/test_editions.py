"""The learner's hand-out (`make learner`): every exercise, no answers, and it installs and runs on
its own; the instructor's book shows what the hand-out leaves out (so the checks are not
vacuous)."""

from __future__ import annotations

import ast
import html
import inspect
import itertools
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lossmod_instructor.exercises import EXERCISES, stub_source

from lossmod.exercises import CATALOGUE
from tests.helpers.grading import points
from tests.helpers.notebooks import cells

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
_FENCE = re.compile(r"^(:{3,})\{(\w[\w-]*)\}[^\n]*$")


def letters(text: str) -> str:
    """Only the letters and digits of a text, lower case: markup, spacing and punctuation (Markdown,
    HTML, JSON escapes, math delimiters) differ between a source and its renderings."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def page_text(page: Path) -> str:
    """What a reader sees of an HTML page: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(errors="replace")))


def directive_blocks(markdown: str, name: str) -> list[tuple[str, str]]:
    """(label or argument, body) of each colon-fenced ``{name}`` block of a markdown text."""
    found, lines, index = [], markdown.split("\n"), 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match and match.group(2) == name:
            closing, body, index = match.group(1), [], index + 1
            while index < len(lines) and lines[index].strip() != closing:
                body.append(lines[index])
                index += 1
            label = lines[index - len(body) - 1].split("}", 1)[1].strip()
            # the directive's own options open its body (a labelled equation inside has its own)
            options = list(itertools.takewhile(lambda b: b.startswith(":"), body))
            labels = [b.split(":label:")[1].strip() for b in options if b.startswith(":label:")]
            found.append((labels[0] if labels else label, "\n".join(body)))
        index += 1
    return found


def instructor_markdown(path: Path) -> str:
    return "\n\n".join("".join(c["source"]) for c in cells(path) if c["cell_type"] == "markdown")


def solution_body(function: Any) -> list[str]:
    """The lines of a function after its signature and docstring."""
    source = textwrap.dedent(inspect.getsource(function))
    definition = ast.parse(source).body[0]
    assert isinstance(definition, ast.FunctionDef)
    first = definition.body[1] if ast.get_docstring(definition) else definition.body[0]
    return source.split("\n")[first.lineno - 1 : definition.end_lineno]


def answer_lines() -> dict[str, list[str]]:
    """Per exercise, the lines of its answer: the reference solution's code after its signature
    and docstring (less any line the stub shows too), and the text of its ``{solution}`` block; trivial lines (shorter than 20 letters, such
    as ``import numpy as np`` or ``return x``) and lines the lesson itself shows outside its
    solutions are left out."""
    answers: dict[str, list[str]] = {}
    for path in CHAPTERS:
        markdown = instructor_markdown(path)
        lesson = letters(
            "\n".join(
                "".join(c["source"])
                for c in cells(path)
                if "instructor-only" not in c.get("metadata", {}).get("tags", [])
                and "{solution}" not in "".join(c["source"])
            )
        )
        for label, body in directive_blocks(markdown, "solution"):
            lines = [line for line in body.split("\n") if not line.startswith(":")]
            answers[label] = [line for line in lines if len(letters(line)) >= 20]
        for exercise_id, exercise in EXERCISES.items():
            if exercise.chapter != path.stem:
                continue
            stub = letters(stub_source(exercise_id))
            code = [
                line
                for line in solution_body(exercise.solution)
                if len(letters(line)) >= 20 and letters(line) not in stub
            ]
            answers[exercise_id] = answers.get(exercise_id, []) + code
        for exercise_id, lines in answers.items():
            if exercise_id.rsplit("-", 1)[0] == path.stem:
                answers[exercise_id] = [line for line in lines if letters(line) not in lesson]
    # What learners have anyway is no leak: the library's own source (the wheel ships it, and an
    # exercise may rebuild what lossmod does) and every lesson's text outside its solutions.
    public = letters(
        "\n".join(
            [p.read_text() for p in sorted((ROOT / "lossmod").rglob("*.py"))]
            + [
                "".join(c["source"])
                for path in CHAPTERS
                for c in cells(path)
                if "instructor-only" not in c.get("metadata", {}).get("tags", [])
                and "{solution}" not in "".join(c["source"])
            ]
        )
    )
    return {
        exercise_id: [line for line in lines if letters(line) not in public]
        for exercise_id, lines in answers.items()
    }


@pytest.fixture(scope="module")
def handout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-out, built as `make learner` builds it."""
    out = tmp_path_factory.mktemp("handout") / "learner"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "learner_edition.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_handout_has_every_part(handout: Path) -> None:
    """README, the HTML book, one notebook per chapter, the wheel and the pinned versions."""
    assert (handout / "html" / "index.html").is_file()
    assert sorted(p.name for p in (handout / "notebooks").glob("*.ipynb")) == [
        p.name for p in CHAPTERS
    ]
    (wheel,) = handout.glob("lossmod-*-py3-none-any.whl")
    readme = (handout / "README.md").read_text()
    assert wheel.name in readme and "jupyter lab notebooks" in readme
    assert (handout / "constraints.txt").read_text() == (
        ROOT / "requirements" / "constraints.txt"
    ).read_text()


def test_learner_notebooks_keep_every_exercise_question(handout: Path) -> None:
    """The learner and instructor notebooks have the same exercises (labels, in order) with the
    same question text, every starting cell, and no solution block or instructor-only cell."""
    total = 0
    for path in CHAPTERS:
        learner = handout / "notebooks" / path.name
        given = [("".join(c["source"]), c) for c in cells(learner)]
        text = "\n\n".join(source for source, c in given if c["cell_type"] == "markdown")
        assert directive_blocks(text, "exercise") == directive_blocks(
            instructor_markdown(path), "exercise"
        )
        assert not directive_blocks(text, "solution") and "{solution}" not in text
        total += len(directive_blocks(text, "exercise"))
        for source, cell in given:
            assert "instructor-only" not in cell.get("metadata", {}).get("tags", [])
            assert "lossmod_instructor" not in source and "solution(" not in source
        stubs = [
            "".join(c["source"])
            for c in cells(path)
            if "exercise-stub" in c["metadata"].get("tags", [])
        ]
        assert all(stub in [s for s, _ in given] for stub in stubs)
    assert total == len(CATALOGUE)


def handout_texts(handout: Path) -> dict[str, str]:
    """Every file of the hand-out that a learner can read, as text: notebooks, HTML pages (as a
    reader sees them) and their sources and downloads, the README, and every file inside the
    wheel."""
    texts = {}
    for path in sorted(handout.rglob("*")):
        if not path.is_file() or path.suffix in (".png", ".svg", ".woff", ".woff2", ".ttf", ".ico"):
            continue
        name = str(path.relative_to(handout))
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                for member in wheel.namelist():
                    texts[f"{name}/{member}"] = wheel.read(member).decode("utf-8", "replace")
        elif path.suffix == ".html":
            texts[name] = page_text(path)
        else:
            texts[name] = path.read_text(errors="replace")
    return texts


def test_no_answer_anywhere_in_the_handout(handout: Path, html_dir: Path) -> None:
    """No line of a reference solution (beyond the stub's own and trivial lines) and no line of a
    written solution is in any notebook, HTML page, page source, download or wheel file of the
    hand-out; the instructor's book shows each (so the check is not vacuous)."""
    answers = answer_lines()
    assert set(answers) >= set(EXERCISES) and len(answers) == len(CATALOGUE)
    learner = {name: letters(text) for name, text in handout_texts(handout).items()}
    instructor = letters(" ".join(page_text(p) for p in sorted(html_dir.rglob("*.html"))))
    leaks = []
    for exercise_id, lines in sorted(answers.items()):
        assert lines, f"{exercise_id}: no line to look for"
        shown = [line for line in lines if letters(line) in instructor]
        assert len(shown) >= len(lines) / 2, (exercise_id, lines[:3])
        for line in lines:
            where = [name for name, text in learner.items() if letters(line) in text]
            if where:
                leaks.append(f"{exercise_id}: {line.strip()[:70]!r} in {where[:3]}")
    assert not leaks, "\n".join(leaks)


@pytest.fixture(scope="module")
def learner_python(handout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment outside the repository, set up by the hand-out README's first
    command (the wheel with its `lab` extra, at the pinned versions)."""
    readme = (handout / "README.md").read_text()
    (command,) = re.findall(r"^python3 -m venv .*$", readme, re.M)
    env_dir = tmp_path_factory.mktemp("learner-env")
    for name in ("notebooks", "README.md", "constraints.txt"):
        source = handout / name
        target = env_dir / name
        target.symlink_to(source, target_is_directory=source.is_dir())
    for wheel in handout.glob("*.whl"):
        (env_dir / wheel.name).symlink_to(wheel)
    command = command.replace("python3 ", f"{sys.base_prefix}/bin/python3 ", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    result = subprocess.run(
        command,
        shell=True,
        cwd=env_dir,
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
        env=env,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return env_dir / ".venv" / "bin" / "python"


def test_handout_installs_without_the_course_platform(learner_python: Path) -> None:
    """In the learner's environment lossmod and its checker import, the course platform does not
    exist, and `lossmod grade` says it is for instructors."""
    probe = (
        "import importlib.util, lossmod, lossmod.exercises as e; "
        "assert importlib.util.find_spec('lossmod_instructor') is None; "
        f"assert len(e.CATALOGUE) == {len(CATALOGUE)}; print(lossmod.__file__)"
    )
    elsewhere = learner_python.parents[2]  # not the repository, whose lossmod `-c` would import
    run = subprocess.run(
        [learner_python, "-c", probe], capture_output=True, text=True, check=False, cwd=elsewhere
    )
    assert run.returncode == 0 and str(ROOT) not in run.stdout, run.stdout + run.stderr
    grade = subprocess.run(
        [learner_python, "-m", "lossmod", "grade", "x"],
        capture_output=True,
        text=True,
        check=False,
        cwd=elsewhere,
    )
    assert grade.returncode == 2 and "for instructors" in grade.stderr


RUN_NOTEBOOK = """
import sys
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
for cell in notebook.cells:
    if "exercise-stub" in cell.metadata.get("tags", []):
        shown = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        assert "not attempted yet" in shown, (cell.source[:80], shown)
print("ok")
"""


def test_every_learner_notebook_runs_and_every_stub_is_not_attempted(learner_python: Path) -> None:
    """Every learner notebook runs in the learner's environment (its own kernel) without error,
    its hidden claim checks included, and every exercise cell reports "not attempted yet"."""
    folder = learner_python.parents[2] / "notebooks"
    failed = {}
    for path in sorted(folder.glob("*.ipynb")):
        run = subprocess.run(
            [learner_python, "-c", RUN_NOTEBOOK, path.name],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        if run.returncode != 0 or run.stdout.strip() != "ok":
            failed[path.name] = (run.stdout + run.stderr)[-2000:]
    assert not failed, failed


def test_lossmod_check_runs_in_the_learner_environment(learner_python: Path) -> None:
    """`lossmod check` on an untouched learner notebook reports every exercise as not attempted
    and ends with a summary line."""
    notebook = learner_python.parents[2] / "notebooks" / "mse.ipynb"
    run = subprocess.run(
        [learner_python.parent / "lossmod", "check", str(notebook)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 1, run.stdout + run.stderr
    n = int(points("mse"))
    assert lines[-1] == (
        f"mse.ipynb: 0 of {n} exercises pass, 0 fail, {n} not attempted; "
        "1 written exercise not checked."
    )
    assert run.stdout.count("not attempted yet") == n
