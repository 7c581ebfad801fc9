"""Execute chapter notebooks in place and store their outputs (what nbval then compares).

Usage: ``make execute`` (every notebook) or ``make execute NB=chapters/mse.ipynb``. The starting
cells of exercises are first brought up to date with their solutions, and the learners' catalogue
of public checks is republished.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from lossmod_instructor.publish import publish
from lossmod_instructor.sync import sync
from nbclient import NotebookClient


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths] or sorted(Path("chapters").rglob("*.ipynb"))
    publish()
    for notebook in notebooks:
        sync(notebook)
        start = time.perf_counter()
        content = nbformat.read(notebook, as_version=4)
        _, content = nbformat.validator.normalize(content)  # adds missing cell ids
        content = nbformat.from_dict(content)
        client = NotebookClient(
            content,
            timeout=300,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(notebook.parent)}},
        )
        client.execute()
        for cell in content.cells:
            cell.metadata.pop("execution", None)  # timings recorded by an earlier run
        nbformat.write(content, notebook)
        print(f"{notebook}: executed in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
