"""Reading a learner's notebook without running it: its code cells, the exercises it checks, and
the code that ``lossmod check`` and the instructor's grader run from it.

They run, in order and in one namespace, every *exercise cell* (a cell with a
``check("<id>", function)`` line, or tagged ``exercise-stub``) in full and, from every other
code cell, the definitions (imports, functions, classes, constants assigned to names) that the
exercise cells and the graded functions need, directly or through other definitions: a lesson's
demos, plots, experiments and the imports only they use are not re-run, so a submission costs a
fraction of a second. With ``all_cells``, every code cell runs in full, as in Jupyter.

IPython syntax is never executed: a cell magic (``%%bash``) skips its cell, and a line magic,
``!command`` or ``x = !command`` becomes ``pass``. Cells are only rewritten when they are not
valid Python as they stand.

A notebook is untrusted text: every string read from it is valid Unicode (a lone surrogate,
which JSON can spell but no file can hold, becomes U+FFFD), and its size is capped.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_BYTES = 32 << 20
EXERCISE_TAG = "exercise-stub"
_CHECK_CALL = re.compile(r"""^check\(\s*(["'])([^"'\n]+)\1\s*,\s*([A-Za-z_]\w*)\s*\)""", re.M)
_IPYTHON_LINE = re.compile(r"^(\s*)(?:[!%]|[\w.]+\s*=\s*[!%]|.*\?\s*$)")
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotebookError(ValueError):
    """A file that is not a readable version-4 notebook."""


@dataclass(frozen=True)
class Cell:
    """A code cell: its index among all cells, its source and tags."""

    index: int
    source: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExerciseCall:
    """A ``check("<id>", function)`` line: which exercise, which function, in which cell."""

    cell: int
    exercise_id: str
    function: str


def read_cells(data: bytes) -> list[Cell]:
    """The code cells of a version-4 notebook; NotebookError saying what is wrong otherwise."""
    if len(data) > MAX_BYTES:
        raise NotebookError(f"the file is larger than {MAX_BYTES >> 20} MB")
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise NotebookError(f"the file is not JSON ({str(error)[:100]})") from error
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError("the file is JSON but not a notebook (no list of cells)")
    if notebook.get("nbformat") != 4:
        raise NotebookError(f"not a version-4 notebook (nbformat {notebook.get('nbformat')!r})")
    cells = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError(f"cell {index} is not a notebook cell")
        if cell["cell_type"] != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"cell {index} has a source that is not text")
        metadata = cell.get("metadata", {})
        tags = metadata.get("tags", []) if isinstance(metadata, dict) else []
        tags = (
            tuple(_valid(t) for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
        )
        cells.append(Cell(index, _valid(source), tags))
    return cells


def _valid(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def exercise_calls(cells: list[Cell]) -> list[ExerciseCall]:
    """Every ``check("<id>", function)`` line, in notebook order."""
    return [
        ExerciseCall(cell.index, match.group(2), match.group(3))
        for cell in cells
        for match in _CHECK_CALL.finditer(cell.source)
    ]


def is_exercise_cell(cell: Cell) -> bool:
    return EXERCISE_TAG in cell.tags or _CHECK_CALL.search(cell.source) is not None


def python_source(source: str) -> str | None:
    """The cell as plain Python: None for a cell magic, IPython lines replaced by ``pass``."""
    if source.lstrip().startswith("%%"):
        return None
    try:
        ast.parse(source)
        return source
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    lines = source.split("\n")
    for number, line in enumerate(lines):
        match = _IPYTHON_LINE.match(line)
        if match:
            lines[number] = match.group(1) + "pass"
    return "\n".join(lines)


@dataclass(frozen=True)
class Runnable:
    """What runs of one cell: the whole cell, or some of its definitions. ``error`` says why a
    cell cannot run (a syntax error, at ``line`` of the cell, counted from 1). ``imports`` lists
    every top-level absolute import of the whole cell, run or not, as (module, names imported
    from it): what the cell needs installed."""

    cell: int
    module: ast.Module | None
    full: bool
    error: str | None = None
    line: int | None = None
    imports: tuple[tuple[str, tuple[str, ...]], ...] = ()


def runnable(
    cells: list[Cell],
    *,
    all_cells: bool = False,
    roots: Iterable[str] = (),
) -> list[Runnable]:
    """What the grader runs of each code cell, in order: exercise cells whole, and from the
    other cells the definitions that the exercise cells and the names in ``roots`` (the graded
    functions) need, directly or through other definitions."""
    parsed: list[tuple[Cell, ast.Module | None, str | None]] = []
    lines: dict[int, int | None] = {}
    for cell in cells:
        source = python_source(cell.source)
        if source is None:
            continue
        try:
            parsed.append(
                (
                    cell,
                    ast.parse(source, filename=f"<cell {cell.index + 1}>"),
                    None,
                )
            )
        except SyntaxError as error:
            parsed.append((cell, None, f"{type(error).__name__}: {error.msg}"))
            lines[cell.index] = error.lineno
        except (ValueError, RecursionError, MemoryError) as error:
            parsed.append((cell, None, f"{type(error).__name__}: {error}"))
    whole = {c.index for c, m, _ in parsed if m is not None and (all_cells or is_exercise_cell(c))}
    needed = set(roots)
    candidates: list[tuple[int, ast.stmt, set[str], set[str]]] = []
    for cell, module, _ in parsed:
        if module is None:
            continue
        if cell.index in whole:
            needed |= _names(module)
            continue
        for node in module.body:
            binds = _binds(node)
            if binds:
                candidates.append((cell.index, node, binds, _names(node)))
    kept: set[int] = set()
    grew = True
    while grew:  # every definition a needed name comes from, and what those need in turn
        grew = False
        for number, (_, _, binds, uses) in enumerate(candidates):
            if number not in kept and (binds & needed or "*" in binds):
                kept.add(number)
                needed |= uses
                grew = True
    out = []
    for cell, module, problem in parsed:
        if module is None:
            out.append(
                Runnable(cell.index, None, full=True, error=problem, line=lines.get(cell.index))
            )
        elif cell.index in whole:
            out.append(Runnable(cell.index, module, full=True, imports=_imports(module)))
        else:
            body = [c[1] for n, c in enumerate(candidates) if c[0] == cell.index and n in kept]
            if body:
                module_kept = ast.Module(body=body, type_ignores=[])
                out.append(Runnable(cell.index, module_kept, full=False, imports=_imports(module)))
    return out


def _imports(module: ast.Module) -> tuple[tuple[str, tuple[str, ...]], ...]:
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in module.body:
        if isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, tuple(alias.name for alias in node.names)))
    return tuple(found)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _binds(node: ast.stmt) -> set[str]:
    """The names a definition binds: none for a statement that is not a definition (an import,
    a def or class, or a constant assigned to plain names)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {a.asname or a.name.split(".")[0] for a in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [n for t in targets for n in (t.elts if isinstance(t, ast.Tuple) else [t])]
        if not all(isinstance(n, ast.Name) for n in names):
            return set()
        try:
            ast.literal_eval(node.value)
        except (
            ValueError,
            TypeError,
            SyntaxError,
            RecursionError,
            MemoryError,
        ):
            return set()
        return {n.id for n in names if isinstance(n, ast.Name)}
    return set()
