"""The learner's hand-out, built from the same sources as the instructor's book, with no answers.

``<out>/`` (``_build/learner`` by default) holds:

- ``README.md``: the two commands a learner runs (install, open Jupyter Lab), and what is here;
- ``notebooks/``: every lesson notebook with every exercise: the questions kept, the
  ``{solution}`` blocks removed, and the cells tagged ``instructor-only`` (hidden checks that use
  the reference solutions or reveal an exercise's answer) dropped;
- ``html/``: the learner's HTML book, built strictly from those notebooks (their stored outputs;
  so the pages' sources and download buttons serve the learner notebooks too);
- ``lossmod-<version>-py3-none-any.whl``: the library and the learner's checker, without the
  course platform, and ``constraints.txt``: the exact versions the course is tested with.

Usage: ``make learner``, or ``python tools/learner_edition.py --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from lossmod_instructor.grading.gradescope import build_wheels

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR_TAG = "instructor-only"
_FENCE = re.compile(r"^(:{3,})\{(\w[\w-]*)\}")


def without_solutions(markdown: str) -> str:
    """A markdown cell with every ``{solution}`` directive block (colon fences) removed, and the
    blank lines left where a block was collapsed (only there: blank lines elsewhere, such as two
    between functions in an exercise's code, stay as written)."""
    lines = markdown.split("\n")
    kept: list[str] = []
    closing: str | None = None
    after_removal = False
    for line in lines:
        if closing is not None:
            if line.strip() == closing:
                closing = None
                after_removal = True
            continue
        match = _FENCE.match(line)
        if match and match.group(2) == "solution":
            closing = match.group(1)
            if kept and not kept[-1].strip():
                kept.pop()
            continue
        if after_removal and not line.strip() and (not kept or not kept[-1].strip()):
            continue
        after_removal = after_removal and not line.strip()
        kept.append(line)
    if closing is not None:
        raise ValueError(f"a {{solution}} block is not closed:\n{markdown[:300]}")
    return "\n".join(kept).strip("\n")


HIDDEN_TAGS = {"remove-cell": True, "remove-input": False, "hide-input": False}


def learner_cells(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cells a learner gets: instructor-only cells dropped, solution blocks cut out of the
    markdown cells (a cell left empty is dropped), and what the book hides collapsed in Jupyter
    Lab too (the source of a hidden cell, and the outputs of a removed one)."""
    out = []
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INSTRUCTOR_TAG in tags:
            continue
        hidden = [HIDDEN_TAGS[t] for t in tags if t in HIDDEN_TAGS]
        if cell["cell_type"] == "code" and hidden:
            collapsed = {"source_hidden": True, "outputs_hidden": any(hidden)}
            cell = {**cell, "metadata": {**cell["metadata"], "jupyter": collapsed}}
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            if "{solution}" in source:
                source = without_solutions(source)
                if not source.strip():
                    continue
                cell = {**cell, "source": source.splitlines(keepends=True)}
        out.append(cell)
    return out


def learner_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of a notebook as learners get it."""
    return {**notebook, "cells": learner_cells(notebook["cells"])}


def write_notebooks(folder: Path) -> list[Path]:
    """The learner notebooks of every chapter, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted((ROOT / "chapters").glob("*.ipynb")):
        target = folder / source.name
        notebook = learner_notebook(json.loads(source.read_text()))
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    # the book's figure rule, which matplotlib reads from the notebooks' folder
    shutil.copy2(ROOT / "chapters" / "matplotlibrc", folder / "matplotlibrc")
    return written


def stage_book(stage: Path) -> Path:
    """The book's sources as learners get them, in ``stage``: configuration, Markdown pages,
    bibliography and images as they are, learner notebooks, and the library the pages include
    code from. Returns the learner configuration."""
    if stage.exists():
        shutil.rmtree(stage)
    chapters = stage / "chapters"
    shutil.copytree(ROOT / "chapters", chapters, ignore=shutil.ignore_patterns("*.ipynb", ".*"))
    write_notebooks(chapters)
    shutil.copy2(ROOT / "_toc.yml", stage / "_toc.yml")
    shutil.copytree(
        ROOT / "lossmod", stage / "lossmod", ignore=shutil.ignore_patterns("__pycache__")
    )
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["title"] = f"{config['title']} (learner edition)"
    config["execute"]["execute_notebooks"] = "off"  # their stored outputs, which the tests check
    config["sphinx"]["config"]["hide_solutions"] = True
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()
    }
    target = stage / "_config.yml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def build_html(stage: Path, out: Path) -> Path:
    """Build the learner book strictly from ``stage``; returns ``out/html``."""
    stage_book(stage)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(stage), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError((result.stdout + result.stderr)[-4000:])
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(stage / "_build" / "html", html)
    return html


def build_wheel(out: Path) -> Path:
    """The ``lossmod`` wheel, built as the Gradescope autograder builds it: from a copy of the
    project files and the package alone (the course platform is not in the copy, and the
    repository gets no ``build/`` folder)."""
    with tempfile.TemporaryDirectory(prefix="lossmod-wheel-") as temporary:
        (wheel,) = build_wheels([(ROOT, ["lossmod"])], Path(temporary))
        for old in out.glob("lossmod-*.whl"):
            old.unlink()
        return Path(shutil.copy2(wheel, out / wheel.name))


README = """\
# Loss Functions in Neural Networks: the learner's hand-out

Version {version}. What is here:

- `html/index.html`: the book. Open it in a browser; it needs no network.
- `notebooks/`: the lessons, one notebook per chapter. Each ends with exercises: write the
  function in the exercise's cell and run it; its `check(...)` line says which input fails, and
  why. Written exercises (derivations and explorations) have no check.
- `{wheel}`: `lossmod`, the course's library and checker.
- `constraints.txt`: the exact versions of every package the course is tested with.

## The two commands

With Python 3.11 or newer, in this folder:

```console
python3 -m venv .venv && .venv/bin/python -m pip install -c constraints.txt "./{wheel}[lab]"
.venv/bin/jupyter lab notebooks
```

The first creates a virtual environment `.venv` and installs `lossmod` with Jupyter Lab and what
the lessons use (about a minute). The second opens the lessons in Jupyter Lab, which shows them as
the book does: definitions, numbered equations and cross-references rendered. (On Windows, write
`.venv\\Scripts\\python` and `.venv\\Scripts\\jupyter`. As root, add `--allow-root`.)

From a terminal, `.venv/bin/lossmod check notebooks/mse.ipynb` runs the checks of a whole notebook
and ends with a summary, and `.venv/bin/lossmod exercises` lists every exercise of the book with
its number, kind and task.
"""


def write_readme(out: Path, wheel: Path) -> Path:
    version = wheel.name.split("-")[1]
    target = out / "README.md"
    target.write_text(README.format(version=version, wheel=wheel.name))
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "learner")
    parser.add_argument(
        "--stage", type=Path, default=None, help="where the learner book's sources are staged"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    out: Path = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    notebooks = write_notebooks(out / "notebooks")
    stage = args.stage or out.parent / f".{out.name}-source"
    html = build_html(stage.resolve(), out)
    shutil.rmtree(stage, ignore_errors=True)
    wheel = build_wheel(out)
    shutil.copy2(ROOT / "requirements" / "constraints.txt", out / "constraints.txt")
    write_readme(out, wheel)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"{out}: the learner's hand-out, {size / 1e6:.1f} MB, in {time.monotonic() - started:.0f} s"
    )
    print(
        f"  README.md, {html.relative_to(out)}/index.html, {len(notebooks)} notebooks, {wheel.name}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
