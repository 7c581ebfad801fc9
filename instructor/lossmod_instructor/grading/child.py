"""The child that runs one submission, started by :mod:`~lossmod_instructor.grading.sandbox` as
``python -I -B -u -c BOOTSTRAP LIBRARY FD`` in the submission's scratch directory (its working
directory, holding only the notebook).

It runs from its private copy of the library (:mod:`~lossmod_instructor.grading.library`, first
on ``sys.path``): the ``lossmod`` it and the notebook import lacks what the assignment asks
learners to write, and this program is the copy's. It reads the setup line from stdin, confines
itself (:mod:`~lossmod_instructor.grading.confine`) before touching learner code, runs the
notebook's code (:mod:`lossmod.exercises.notebook`) and says it is ready; only then does it read
the checks, one line each, and answer each with plain data on the pipe FD
(:mod:`~lossmod_instructor.grading.wire`). It decides nothing: the grader judges the answers
against the references, which this process never holds.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import importlib.util
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
from lossmod.exercises import notebook

from lossmod_instructor.grading import confine, wire

# what a placeholder of the child's library raises (the module exists only in that copy)
Unavailable: type[BaseException] = importlib.import_module("lossmod._unavailable").Unavailable

MAX_LINE = 256 << 20
# bound before learner code runs
_write, _read, _exit, _seed = os.write, os.read, os._exit, np.random.seed
_message_line, _encode_answer = wire.message_line, wire.encode_answer
_stdout, _stderr = sys.stdout, sys.stderr


class Channel:
    """The answer pipe: whole lines, written at once."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **message: Any) -> None:
        data = _message_line(message)
        while data:
            data = data[_write(self.fd, data) :]


class Requests:
    """The grader's lines on stdin, read from the file descriptor (learner code may replace
    ``sys.stdin``, not this)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def next(self) -> dict[str, Any] | None:
        """The next request; None at the end of the input."""
        while b"\n" not in self.buffer:
            data = _read(self.fd, 1 << 20)
            if not data or len(self.buffer) > MAX_LINE:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        request = json.loads(line)
        return request if isinstance(request, dict) else None


def _text(error: BaseException) -> str:
    """``Type: message`` of a learner's exception (its ``__str__`` is learner code too)."""
    try:
        message = str(error)
    except BaseException:
        message = "(its message could not be shown)"
    return f"{type(error).__name__}: {message}"[:2000]


def _unavailable(error: BaseException) -> str | None:
    """The name of what was not available, when ``error`` (or an exception it came from) says
    that the code used a function this assignment takes away, or the reference solutions."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(seen) < 20 and not any(current is s for s in seen):
        seen.append(current)
        name = getattr(current, "name", None)
        if isinstance(current, Unavailable) and isinstance(name, str):
            return name[:80]
        module = getattr(current, "name", None) if isinstance(current, ImportError) else None
        if isinstance(module, str) and module.startswith("lossmod_instructor."):
            return module[:80]
        current = current.__cause__ or current.__context__
    return None


def _confine(scratch: Path, library: Path, setup: dict[str, Any]) -> dict[str, Any]:
    roots = {Path(p) for p in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix)}
    roots |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    roots |= {library, Path("/usr"), Path("/lib"), Path("/lib64"), Path("/lib32")}
    roots |= {Path("/etc/ld.so.cache"), Path("/etc/localtime"), Path(f"/proc/{os.getpid()}")}
    secrets = [Path(p) for p in setup.get("hidden", []) if isinstance(p, str)]
    read = confine.readable_trees(sorted(roots), secrets)
    devices = [Path("/dev") / name for name in ("null", "zero", "full", "random", "urandom")]
    abi = confine.landlock(read, [scratch], devices)
    filtered = confine.seccomp(forbid_processes=os.environ.get("LOSSMOD_GRADING_FORK") != "1")
    ipc = confine.ipc_namespace()
    return {
        "landlock": abi,
        "seccomp": filtered,
        "capabilities": confine.effective_capabilities(),
        "ipc_namespace": bool(ipc) and ipc != setup.get("ipc"),
    }


def _missing_import(module: str, names: tuple[str, ...]) -> str | None:
    """Why ``from module import names`` (or ``import module``) would fail, found without
    importing anything new: a top-level module that cannot be found, or a name that a module
    already imported does not have. None when it looks fine."""
    top = module.split(".")[0]
    if top not in sys.modules and importlib.util.find_spec(top) is None:
        return f"ModuleNotFoundError: No module named {top!r}"
    loaded = sys.modules.get(module)
    for name in names if loaded is not None else ():
        if name == "*" or hasattr(loaded, name):
            continue
        locations = list(getattr(loaded, "__path__", []) or [])
        if locations and importlib.machinery.PathFinder.find_spec(f"{module}.{name}", locations):
            continue
        return f"ImportError: cannot import name {name!r} from {module!r}"
    return None


def run_cells(setup: dict[str, Any], out: Channel) -> dict[str, Any]:
    """Run the notebook's code as the grader needs it; its namespace. A cell that raises, does
    not parse or imports what is not installed is reported, and the others still run."""
    cells = notebook.read_cells(Path(str(setup["notebook"])).read_bytes())
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    roots = [str(name) for name in setup.get("functions", [])]
    for part in notebook.runnable(cells, all_cells=bool(setup.get("all_cells")), roots=roots):
        if part.error is not None:
            line = f" (line {part.line})" if part.line else ""
            error = part.error + line
            out.send(t="cell", cell=part.cell + 1, error=error, unavailable=None, ran=False)
            continue
        try:
            assert part.module is not None
            exec(compile(part.module, f"<cell {part.cell + 1}>", "exec"), namespace)
        except BaseException as error:
            name = _unavailable(error)
            out.send(t="cell", cell=part.cell + 1, error=_text(error), unavailable=name, ran=True)
            continue
        for module, names in part.imports:
            try:
                problem = _missing_import(module, names)
            except Exception:  # a module's __getattr__ that raises: the cell may still work
                problem = None
            if problem is not None:
                out.send(t="cell", cell=part.cell + 1, error=problem, unavailable=None, ran=False)
                break
    return namespace


def _flush() -> None:
    for stream in (_stdout, _stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def answer(namespace: dict[str, Any], request: dict[str, Any], out: Channel) -> None:
    """Call the learner's function on one check (fresh inputs, seeded generators) and send its
    answer, or what went wrong."""
    number = request["case"]
    function = namespace.get(str(request["function"]))
    if not callable(function):
        out.send(t="answer", case=number, missing=True)
        return
    random.seed(0)
    _seed(0)
    args = wire.decode_input(request["args"])
    kwargs = {k: wire.decode_input(v) for k, v in request["kwargs"].items()}
    try:
        value = function(*args, **kwargs)
    except BaseException as error:  # SystemExit and KeyboardInterrupt too
        _flush()
        not_implemented = isinstance(error, NotImplementedError)
        name = _unavailable(error)
        out.send(
            t="answer",
            case=number,
            raised=_text(error),
            not_implemented=not_implemented,
            unavailable=name,
        )
        return
    message: dict[str, Any]
    try:
        message = {"value": _encode_answer(value)}
    except wire.WireError as error:
        message = {"problem": str(error)}
    except BaseException as error:
        message = {"problem": f"its value could not be read: {_text(error)}"}
    _flush()
    out.send(t="answer", case=number, **message)


def main(argv: list[str]) -> None:
    """``argv``: the library's folder, then the answer pipe's file descriptor."""
    library, out = Path(argv[0]), Channel(int(argv[1]))
    requests = Requests(0)
    setup = requests.next()
    if setup is None or setup.get("t") != "setup":
        _exit(2)
    try:
        sandbox = _confine(Path.cwd(), library, setup)
    except OSError as error:
        out.send(t="sandbox", error=f"confinement failed: {error}")
        _exit(3)
    out.send(t="sandbox", **sandbox)
    try:
        namespace = run_cells(setup, out)
        _flush()
        out.send(t="ready")
        while (request := requests.next()) is not None and request.get("t") == "check":
            answer(namespace, request, out)
    except BaseException:
        _exit(4)
    _exit(0)
