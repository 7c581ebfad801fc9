"""The child that runs one submission: ``python -I -B -m lossmod_instructor.grading.child FD``.

Started by :mod:`~lossmod_instructor.grading.sandbox` in the submission's scratch directory (its
working directory, holding only the notebook), it reads its request from stdin, confines itself
(:mod:`~lossmod_instructor.grading.confine`) before touching learner code, runs the notebook's
code (:mod:`lossmod.exercises.notebook`), calls each exercise's function on each check input and
writes the plain-data answers to the pipe FD (:mod:`~lossmod_instructor.grading.wire`). It
decides nothing: the grader compares the answers with the references, which this process never
holds.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import sys
import traceback
from pathlib import Path
from typing import Any

import lossmod
import numpy as np
from lossmod.exercises import notebook

import lossmod_instructor
from lossmod_instructor.grading import confine, wire
from lossmod_instructor.grading.tripwire import Watch, stand_in_exercises

MAX_REQUEST = 256 << 20
_write, _exit, _seed = os.write, os._exit, np.random.seed  # bound before learner code runs
_message_line, _encode_answer = wire.message_line, wire.encode_answer


class Channel:
    """The answer pipe: whole lines, written at once."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **message: Any) -> None:
        data = _message_line(message)
        while data:
            data = data[_write(self.fd, data) :]


def _text(error: BaseException) -> str:
    """``Type: message`` of a learner's exception (its ``__str__`` is learner code too)."""
    try:
        message = str(error)
    except BaseException:
        message = "(its message could not be shown)"
    return f"{type(error).__name__}: {message}"[:2000]


def _confine(scratch: Path) -> dict[str, Any]:
    package = Path(lossmod.__file__).resolve().parent
    platform = Path(lossmod_instructor.__file__).resolve().parent
    roots = {Path(p) for p in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix)}
    roots |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    roots |= {package, platform / "__init__.py", platform / "grading"}
    roots |= {Path("/usr"), Path("/lib"), Path("/lib64"), Path("/lib32")}
    roots |= {Path("/etc/ld.so.cache"), Path("/etc/localtime"), Path(f"/proc/{os.getpid()}")}
    secrets = [p for p in platform.iterdir() if p.name not in ("__init__.py", "grading")]
    read = confine.readable_trees(sorted(roots), secrets)
    devices = [Path("/dev") / name for name in ("null", "zero", "full", "random", "urandom")]
    abi = confine.landlock(read, [scratch], devices)
    filtered = confine.seccomp(forbid_processes=os.environ.get("LOSSMOD_GRADING_FORK") != "1")
    return {"landlock": abi, "seccomp": filtered, "capabilities": confine.effective_capabilities()}


def _run_cell(part: notebook.Runnable, namespace: dict[str, Any]) -> None:
    assert part.module is not None
    exec(compile(part.module, f"<cell {part.cell + 1}>", "exec"), namespace)


def run(request: dict[str, Any], out: Channel, watch: Watch) -> None:
    """Run the notebook, then every check of the request, answering on ``out``."""
    cells = notebook.read_cells(Path(request["notebook"]).read_bytes())
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    roots = [exercise["function"] for exercise in request["exercises"]]
    for part in notebook.runnable(cells, all_cells=bool(request.get("all_cells")), roots=roots):
        if part.error is not None:
            line = f" (line {part.line})" if part.line else ""
            out.send(t="cell", cell=part.cell + 1, error=part.error + line)
            continue
        try:
            _run_cell(part, namespace)
        except BaseException as error:
            out.send(t="cell", cell=part.cell + 1, error=_text(error))
    out.send(t="ready")
    for exercise in request["exercises"]:
        function = namespace.get(exercise["function"])
        names = [f"lossmod.{name}" for name in exercise["forbidden"]]
        forbidden = frozenset(["lossmod_instructor.solution", *names])
        for case in exercise["cases"]:
            if callable(function):
                _check(function, case, forbidden, out, watch)
            else:
                out.send(t="answer", case=case["case"], missing=exercise["function"])
    sys.stdout.flush()
    sys.stderr.flush()
    out.send(t="done")


def _check(
    function: Any, case: dict[str, Any], forbidden: frozenset[str], out: Channel, watch: Watch
) -> None:
    """Call the learner's function on one case (fresh inputs, seeded generators, the forbidden
    references watched) and send its answer, or what went wrong."""
    number = case["case"]
    watch.report = lambda name: out.send(t="reference", case=number, name=name)
    random.seed(0)
    _seed(0)
    args = wire.decode_input(case["args"])
    kwargs = {k: wire.decode_input(v) for k, v in case["kwargs"].items()}
    watch.forbidden = forbidden
    try:
        try:
            value = function(*args, **kwargs)
        except BaseException as error:  # ReferenceCalled, SystemExit and KeyboardInterrupt too
            not_implemented = isinstance(error, NotImplementedError)
            out.send(t="answer", case=number, raised=_text(error), not_implemented=not_implemented)
            return
        try:
            answer = _encode_answer(value)
        except wire.WireError as error:
            out.send(t="answer", case=number, problem=str(error))
            return
        except BaseException as error:
            problem = f"its value could not be read: {_text(error)}"
            out.send(t="answer", case=number, problem=problem)
            return
    finally:
        watch.forbidden = frozenset()
    out.send(t="answer", case=number, value=answer)


def main(argv: list[str]) -> None:
    out = Channel(int(argv[1]))
    request = json.loads(sys.stdin.buffer.read(MAX_REQUEST))
    sys.stdin.close()
    watch = Watch(lambda name: None)
    stand_in_exercises(watch)
    for name in sorted({n for e in request["exercises"] for n in e["forbidden"]}):
        watch.watch(name)
    try:
        sandbox = _confine(Path.cwd())
    except OSError as error:
        out.send(t="sandbox", error=f"confinement failed: {error}")
        _exit(3)
    out.send(t="sandbox", **sandbox)
    try:
        run(request, out, watch)
    except BaseException:
        traceback.print_exc()
        _exit(4)
    _exit(0)


if __name__ == "__main__":
    main(sys.argv)
