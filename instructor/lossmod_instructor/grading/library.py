"""The library a grading child imports: a private copy of ``lossmod`` without the functions the
assignment asks learners to write, and the child's own program beside it.

"From scratch" holds by construction, not by watching. In the copy, every top-level function or
class that an exercise of the assignment re-implements (:func:`expand`: its names and their
gradients ``<name>_grad``) is replaced, where it stood, by a placeholder of the same name that
raises :class:`Unavailable` when called, and the private helpers only it used are dropped. The
reference code is not in the copy, and the real package is unreadable to the child under
Landlock, so nothing the child can reach (a reload, a patched class, a walk over frames or over
the garbage collector) computes the reference. Whatever still refers to a placeholder (a registry
entry, a re-export, a function that calls it) raises too when used, and lesson code that only
imports the name still runs. The rewrite works on the source text around the AST of each module,
so it needs nothing of the library but that each public function is a top-level ``def`` (or
``class``, or a name assigned once).

Beside ``lossmod`` the copy holds ``lossmod._unavailable`` (the placeholders), a stand-in
``lossmod.exercises`` (a ``check`` that does nothing: the grader checks from outside; the reader
of notebooks and the data encoding beside it) and a bare ``lossmod_instructor`` holding the
child's modules (``child``, ``confine``, ``wire``) and a placeholder for ``solution``.

:func:`build` makes one copy per set of names in a process, compiled to bytecode (a child never
compiles it again), under a private temporary folder removed when the process ends.
"""

from __future__ import annotations

import ast
import atexit
import hashlib
import importlib.util
import py_compile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import lossmod

import lossmod_instructor
from lossmod_instructor.grading import cleanup

PACKAGE = Path(lossmod.__file__).resolve().parent
PLATFORM = Path(lossmod_instructor.__file__).resolve().parent
SOLUTION = "lossmod_instructor.solution"
CHILD_MODULES = ("child.py", "confine.py", "wire.py")  # of lossmod_instructor.grading
_EXERCISES_KEPT = ("notebook.py", "_data.py")  # of lossmod.exercises, beside the stand-in
_PLACEHOLDER = "_grading_placeholder"

_UNAVAILABLE = '''"""Placeholders for what the assignment asks learners to write (by the grader)."""

from typing import Any


class Unavailable(RuntimeError):
    """Raised by a function that this assignment asks you to write yourself."""

    def __init__(self, name: str) -> None:
        shown = name if "." in name else f"lossmod.{name}"
        super().__init__(
            f"{shown} is not available while grading: this assignment asks you to write it"
        )
        self.name = name


def placeholder(name: str, module: str, is_class: bool = False) -> Any:
    """A function (or class) named ``name`` that raises Unavailable when called."""
    label = name if module.startswith("lossmod.") or module == "lossmod" else f"{module}.{name}"
    doc = "Not available while grading: this assignment asks you to write it yourself."

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise Unavailable(label)

    if is_class:
        return type(name, (), {"__new__": unavailable, "__module__": module, "__doc__": doc})
    unavailable.__name__ = unavailable.__qualname__ = name
    unavailable.__module__, unavailable.__doc__ = module, doc
    return unavailable
'''

_EXERCISES_STAND_IN = '''"""The course's checker as a grading child runs it (made by the grader)."""

from collections.abc import Callable
from typing import Any


def check(exercise_id: str, function: Callable[..., Any]) -> None:
    """Does nothing: the grader calls your function itself."""
'''

_PLATFORM_STAND_IN = f'''"""The course platform as a grading child sees it: no solutions."""

from lossmod._unavailable import placeholder as {_PLACEHOLDER}

solution = {_PLACEHOLDER}("solution", __name__)
'''

_GRADING_STAND_IN = '"""The grading child\'s program (copied by the grader)."""\n'


@dataclass(frozen=True)
class Library:
    """A built copy: ``root`` goes first on the child's ``sys.path``; ``unavailable`` holds the
    names replaced by placeholders (and :data:`SOLUTION`)."""

    root: Path
    unavailable: frozenset[str]


def expand(names: Iterable[str]) -> frozenset[str]:
    """The names an assignment takes away: each given name and its gradient ``<name>_grad``."""
    given = set(names)
    return frozenset(given | {f"{name}_grad" for name in given})


# ---------------------------------------------------------------------------------------------
# The rewrite of one package


@dataclass
class _Statement:
    node: ast.stmt
    binds: set[str]
    uses: set[str]
    action: str = "keep"  # "keep", "placeholder" or "drop"


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _binds(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return {t.id for t in targets if isinstance(t, ast.Name)}


def _uses(node: ast.AST) -> set[str]:
    """Every identifier a statement mentions: names, attributes, imported names (a superset of
    what it refers to, which only keeps more code)."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.alias):
            found.add(child.name.rsplit(".", 1)[-1])
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


_ANALYSED: dict[tuple[str, str], list[_Statement]] = {}  # parsed once per process


def _analyse(sources: dict[str, str]) -> dict[str, list[_Statement]]:
    modules = {}
    for relative, source in sources.items():
        key = (relative, hashlib.sha256(source.encode()).hexdigest())
        if key not in _ANALYSED:
            tree = ast.parse(source, filename=relative)
            _ANALYSED[key] = [_Statement(n, _binds(n), _uses(n)) for n in tree.body]
        modules[relative] = _ANALYSED[key]
        for statement in modules[relative]:
            statement.action = "keep"
    return modules


def _mark(modules: dict[str, list[_Statement]], names: frozenset[str]) -> frozenset[str]:
    """Mark the statements to replace and to drop; the names replaced."""
    replaced: set[str] = set()
    for statements in modules.values():
        for statement in statements:
            node = statement.node
            simple = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or (
                isinstance(node, ast.Assign | ast.AnnAssign) and len(statement.binds) == 1
            )
            if simple and statement.binds & names:
                statement.action = "placeholder"
                replaced |= statement.binds
    # private helpers whose every user was replaced or dropped go too, and so on
    lost = set().union(*(s.uses for ss in modules.values() for s in ss if s.action != "keep"))
    while True:
        alive = [s for ss in modules.values() for s in ss if s.action == "keep"]
        dropped = False
        for statement in alive:
            name = next(iter(statement.binds), "")
            if len(statement.binds) != 1 or not _private(name) or name not in lost:
                continue
            if not any(name in other.uses for other in alive if other is not statement):
                statement.action = "drop"
                lost |= statement.uses
                dropped = True
        if not dropped:
            return frozenset(replaced)


def _rewrite(source: str, statements: list[_Statement]) -> str:
    """The module's source with its marked statements replaced (line count kept, so that the
    line numbers of everything else stay as in the library)."""
    lines = source.splitlines(keepends=True)
    changed = False
    for statement in reversed(statements):
        if statement.action == "keep":
            continue
        changed = True
        node = statement.node
        start, end = _first_line(node) - 1, node.end_lineno or node.lineno
        text = ""
        if statement.action == "placeholder":
            (name,) = statement.binds
            kind = "True" if isinstance(node, ast.ClassDef) else "False"
            text = f"{name} = {_PLACEHOLDER}({name!r}, __name__, {kind})\n"
        lines[start:end] = [text, *["\n"] * (end - start - 1)] if text else ["\n"] * (end - start)
    if not changed:
        return source
    position = len(lines)  # the import goes after the docstring and the __future__ imports
    for statement in statements:
        node = statement.node
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if (statement is statements[0] and docstring) or future:
            continue
        position = _first_line(node) - 1
        break
    lines.insert(position, f"from lossmod._unavailable import placeholder as {_PLACEHOLDER}\n")
    return "".join(lines)


def strip(sources: dict[str, str], names: Iterable[str]) -> tuple[dict[str, str], frozenset[str]]:
    """The package's module sources (by relative path) rewritten without ``names`` (already
    expanded), and the names actually replaced."""
    modules = _analyse(sources)
    replaced = _mark(modules, frozenset(names))
    return {path: _rewrite(sources[path], modules[path]) for path in sources}, replaced


# ---------------------------------------------------------------------------------------------
# The copy on disk


def _library_sources() -> dict[str, str]:
    """The library's modules, by path relative to its folder (not ``__main__`` nor the learners'
    ``exercises``, which the copy replaces)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ("exercises", "__main__.py") or "__pycache__" in relative.parts:
            continue
        found[relative.as_posix()] = path.read_text(encoding="utf-8")
    return found


def _files(names: frozenset[str]) -> tuple[dict[str, str], frozenset[str]]:
    """Every file of the copy, by path relative to its root, and the names replaced."""
    stripped, replaced = strip(_library_sources(), names)
    files = {f"lossmod/{path}": text for path, text in stripped.items()}
    files["lossmod/_unavailable.py"] = _UNAVAILABLE
    files["lossmod/exercises/__init__.py"] = _EXERCISES_STAND_IN
    for name in _EXERCISES_KEPT:
        text = (PACKAGE / "exercises" / name).read_text(encoding="utf-8")
        files[f"lossmod/exercises/{name}"] = text
    files["lossmod_instructor/__init__.py"] = _PLATFORM_STAND_IN
    files["lossmod_instructor/grading/__init__.py"] = _GRADING_STAND_IN
    for name in CHILD_MODULES:
        text = (PLATFORM / "grading" / name).read_text(encoding="utf-8")
        files[f"lossmod_instructor/grading/{name}"] = text
    return files, replaced


def _sources_signature() -> tuple[tuple[str, int, int], ...]:
    """What the copy is made from, cheaply: every source file's path, size and mtime."""
    paths = [*PACKAGE.rglob("*.py"), *(PLATFORM / "grading" / n for n in CHILD_MODULES)]
    stats = [(str(p), p.stat()) for p in sorted(paths) if "__pycache__" not in p.parts]
    return tuple((p, s.st_size, s.st_mtime_ns) for p, s in stats)


_BYTECODE: dict[str, bytes] = {}  # by the source's hash: compiled once per process


def _write_module(target: Path, text: str) -> None:
    """Write a module and its bytecode (which holds the source's hash and is used unchecked:
    nothing changes a copy once written)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    cached = Path(importlib.util.cache_from_source(str(target)))
    key = hashlib.sha256(text.encode()).hexdigest()
    if key in _BYTECODE:
        cached.parent.mkdir(exist_ok=True)
        cached.write_bytes(_BYTECODE[key])
        return
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    py_compile.compile(str(target), str(cached), doraise=True, invalidation_mode=mode)
    _BYTECODE[key] = cached.read_bytes()


_ROOT: Path | None = None
_BUILT: dict[tuple[frozenset[str], tuple[tuple[str, int, int], ...]], Library] = {}


def build(names: Iterable[str]) -> Library:
    """The copy without ``names`` (expanded by :func:`expand`), built on first use in this
    process (for these names and these sources) and kept until the process ends."""
    global _ROOT
    wanted = expand(names)
    memo = (wanted, _sources_signature())
    if memo in _BUILT and _BUILT[memo].root.is_dir():
        return _BUILT[memo]
    files, replaced = _files(wanted)
    digest = hashlib.sha256()
    for path, text in sorted(files.items()):
        digest.update(f"{path}\0{len(text)}\0{text}".encode())
    key = digest.hexdigest()[:16]
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="lossmod-library-"))
        atexit.register(cleanup.remove_tree, _ROOT)
    root = _ROOT / key
    if not root.exists():  # else the same files under other names, or sources changed back
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_ROOT))
        for path, text in files.items():
            _write_module(staging / path, text)
        staging.rename(root)
    _BUILT[memo] = Library(root, replaced | {SOLUTION})
    return _BUILT[memo]
