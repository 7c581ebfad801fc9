"""Reading notebooks without running them (lossmod.exercises.notebook): structure checked, check
lines found, IPython syntax never executed, and only definitions run outside exercise cells."""

from __future__ import annotations

import ast

import pytest
from grading_fixtures import notebook as build

from lossmod.exercises import notebook


def test_check_lines_name_the_exercise_and_the_function() -> None:
    cells = notebook.read_cells(
        build(
            [
                "x = 1",
                'def f(a):\n    return a\n\n\ncheck("mse-1", f)',
                "check('mse-2',g)\nassert check(\"mse-3\", h).passed",
            ]
        )
    )
    calls = [(c.cell, c.exercise_id, c.function) for c in notebook.exercise_calls(cells)]
    assert calls == [(1, "mse-1", "f"), (2, "mse-2", "g")]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not json", "the file is not JSON"),
        (b"[]", "not a notebook"),
        (b'{"cells": [], "nbformat": 3}', "not a version-4 notebook"),
        (
            b'{"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4}',
            "cell 0 has a source that is not text",
        ),
        (b'{"cells": ["x"], "nbformat": 4}', "cell 0 is not a notebook cell"),
        (b"[" * 100_000, "the file is not JSON"),
    ],
)
def test_malformed_notebooks_are_refused_with_a_reason(data: bytes, problem: str) -> None:
    with pytest.raises(notebook.NotebookError, match=problem):
        notebook.read_cells(data)


def test_ipython_syntax_is_never_run() -> None:
    """A cell magic skips its cell; line magics and shell lines become `pass`, keeping the
    indentation; valid Python is left alone, even with % and ! inside strings."""
    assert notebook.python_source("%%bash\nrm -rf /") is None
    source = "%matplotlib inline\nimport numpy\nif True:\n    !pip install x\nfiles = !ls\nnumpy?"
    assert notebook.python_source(source) == "pass\nimport numpy\nif True:\n    pass\npass\npass"
    text = 'x = """\n!not a shell line\n%s\n"""'
    assert notebook.python_source(text) == text


def test_only_needed_definitions_run_outside_exercise_cells() -> None:
    """Outside exercise cells, only the definitions (imports, defs, classes, constants assigned
    to names) that the exercise cells or the graded functions need, directly or through other
    definitions, are kept; exercise cells (and every cell with all_cells) run whole; a syntax
    error is reported."""
    cells = notebook.read_cells(
        build(
            [
                "import os\nimport matplotlib.pyplot as plt\nN = 3\nEPS = 1e-9\nx = compute()\n"
                "mask[0] = True\nplot()\ndef f():\n    return os.sep * N\ndef unused():\n    plt.show()",
                ('print("exercise")\ncheck("e-1", f)', []),
                ("print('tagged')", ["exercise-stub"]),
                "def broken(:",
                "import json\ndef graded():\n    return json",
            ]
        )
    )
    parts = notebook.runnable(cells, roots=["graded"])
    assert [(p.cell, p.full) for p in parts] == [
        (0, False),
        (1, True),
        (2, True),
        (3, True),
        (4, False),
    ]
    assert parts[0].module is not None and parts[4].module is not None
    assert ast.unparse(parts[0].module) == "import os\nN = 3\n\ndef f():\n    return os.sep * N"
    assert ast.unparse(parts[4].module).startswith("import json\n\ndef graded():")
    assert parts[3].error is not None and parts[3].error.startswith("SyntaxError")
    assert all(p.full for p in notebook.runnable(cells, all_cells=True))


def test_strings_from_a_notebook_are_valid_unicode() -> None:
    """A lone surrogate, which JSON can spell but no file can hold, becomes U+FFFD in a cell's
    source, its tags and the exercise ids it checks."""
    data = build([('check("mse-1\\ud800", f)\nx = "\\udc80"', ["tag\\ud800"])])
    data = data.replace(b"\\\\ud800", b"\\ud800").replace(b"\\\\udc80", b"\\udc80")
    (cell,) = notebook.read_cells(data)
    assert cell.source == 'check("mse-1\ufffd", f)\nx = "\ufffd"' and cell.tags == ("tag\ufffd",)
    assert [c.exercise_id for c in notebook.exercise_calls([cell])] == ["mse-1\ufffd"]


def test_runnable_lists_every_import_of_a_cell() -> None:
    """A cell's absolute imports are listed whether or not they run (what the cell needs
    installed), as (module, names)."""
    cells = notebook.read_cells(
        build(
            [
                "import os, numpy.linalg as la\nfrom lossmod import mse, mae\nfrom . import x\n"
                "import missing_module\ndef f():\n    return os.sep",
                ('check("e-1", f)', []),
            ]
        )
    )
    first = notebook.runnable(cells)[0]
    assert first.imports == (
        ("os", ()),
        ("numpy.linalg", ()),
        ("lossmod", ("mse", "mae")),
        ("missing_module", ()),
    )
    assert first.module is not None and "missing_module" not in ast.unparse(first.module)
