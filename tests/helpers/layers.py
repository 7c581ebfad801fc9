"""The test layers, as markers: `pytest -m fast` (or `make test-fast`) runs the library's unit and
property tests and the exercise registry in well under a minute; the others run the notebooks,
build the book, drive the browser or run the grader. A test file not listed here is fast, so a
new library test lands in the layer contributors run most."""

from __future__ import annotations

import re
from pathlib import Path

from _pytest.mark.expression import Expression

LAYERS = {
    "notebooks": {"test_notebooks.py", "test_notebook_rounding.py"},
    "book": {"test_book.py", "test_editions.py", "test_release.py"},
    "browser": {"test_browser.py", "test_lab.py"},
    "grading": {"test_check_notebook.py", "test_gradescope.py"},
}
NAMES = {"fast", *LAYERS}


def layer_of(path: Path) -> str:
    """The layer of a test file: notebooks (nbval items included), book, browser, grading or fast."""
    if path.suffix == ".ipynb":
        return "notebooks"
    if path.name.startswith("test_grading"):
        return "grading"
    return next((layer for layer, files in LAYERS.items() if path.name in files), "fast")


def layer_excluded(path: Path, marker_expression: str) -> bool:
    """Whether `-m marker_expression` deselects every test of the file at `path` by its layer
    alone, so that the file need not be collected (`-m fast` then reads no notebook and imports
    no book or browser test). An expression naming any other marker decides nothing here."""
    words = set(re.findall(r"[A-Za-z_][\w.]*", marker_expression)) - {"and", "or", "not"}
    if not marker_expression or not words <= NAMES:
        return False
    layer = layer_of(path)
    return not Expression.compile(marker_expression).evaluate(lambda name, **_: name == layer)
