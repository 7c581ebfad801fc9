"""The learner edition of the course, built from the same sources as the instructor's book.

- ``<out>/html``: the HTML book without any exercise solution (sphinx-exercise's
  ``hide_solutions``), built from the notebooks' stored outputs;
- ``<out>/notebooks/chapters``: the lesson notebooks without solution cells and without the
  hidden cells that call the reference solutions, ready to hand out.

Usage: ``make learner`` (writes ``_build/learner``), or
``python tools/learner_edition.py --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def is_solution_cell(cell: dict[str, Any]) -> bool:
    """A markdown cell holding a ``{solution}`` directive, or a hidden cell that calls the
    reference solutions."""
    source = "".join(cell["source"])
    if cell["cell_type"] == "markdown":
        return "{solution}" in source
    hidden = "remove-cell" in cell.get("metadata", {}).get("tags", [])
    return hidden and "solution(" in source


def learner_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of a notebook without its solution cells."""
    stripped = dict(notebook)
    stripped["cells"] = [c for c in notebook["cells"] if not is_solution_cell(c)]
    return stripped


def write_notebooks(out: Path) -> list[Path]:
    written = []
    for source in sorted((ROOT / "chapters").glob("*.ipynb")):
        target = out / "notebooks" / "chapters" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = learner_notebook(json.loads(source.read_text()))
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written


def learner_config(out: Path) -> Path:
    """The book's _config.yml with solutions hidden and notebooks not re-executed (their stored
    outputs, which the tests check, are used)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["title"] = f"{config['title']} (learner edition)"
    config["execute"]["execute_notebooks"] = "off"
    config["sphinx"]["config"]["hide_solutions"] = True
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()
    }
    config["bibtex_bibfiles"] = [str(ROOT / f) for f in config["bibtex_bibfiles"]]
    target = out / "_config.yml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def build_html(out: Path) -> Path:
    """Build the learner book strictly; returns the HTML folder."""
    config = learner_config(out)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--config", str(config), "--path-output",
         str(out), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError((result.stdout + result.stderr)[-4000:])
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    (out / "_build" / "html").rename(html)
    shutil.rmtree(out / "_build")
    return html


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "learner")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    notebooks = write_notebooks(args.out)
    html = build_html(args.out)
    print(f"{html}/index.html: the learner book")
    print(f"{args.out / 'notebooks'}: {len(notebooks)} learner notebooks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
