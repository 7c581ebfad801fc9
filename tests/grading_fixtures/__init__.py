"""Hostile and broken submissions for the grader's tests, each with the status and score it must
get.

Every submission is built for the exercise ``what-is-a-loss-4`` from the registry (its starting
cell, and its reference solution's source with the annotations removed as the honest answer), so
nothing here copies a chapter. A hostile body replaces the learner's function by a wrapper
``def <name>(*args, **kwargs)`` that does something nasty and may then call ``_honest``, the
honest answer. Placeholders: ``__ID__`` (exercise id), ``__NAME__`` (function name),
``__MODULE__`` (the solution's module), ``__TARGET__`` (a file in the grader's output folder
that must never appear), ``__CANARY__`` (a file outside every scratch folder that must not
change), ``__SECRETS__`` (paths a submission must not read), ``__REFERENCE__`` (the folder of the
reference solutions), ``__LIBRARY__`` (the real lossmod package, which the child must not
read), ``__PORT__`` (a port the test listens on, which must get no connection).

The exercise asks for the gradient of the mean squared error "with NumPy only": its
``reimplements`` takes ``lossmod.mse`` and ``lossmod.mse_grad`` away from the child, and
``design.T @ lossmod.mse_grad(design @ theta, target)`` is the answer a learner must not use.

Every outcome is decided by a limit that binds whatever the machine's speed (a loop that never
ends, output or data far beyond a cap, a call the kernel refuses), never by a race with a
timeout.

A hostile answer that should earn nothing returns 1234.5s, which no check expects (zeros would
pass a check whose answer is zero). ``score`` is a fraction of the exercise's points: ``"full"``, ``"zero"``, ``"all but first"``
(the first check fails, every later one passes), ``"public only"`` (the public checks pass, the
hidden ones fail) or ``"float32"`` (each check passes exactly when the reference answer rounded
to float32 is within the exercise's tolerances).
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from lossmod_instructor.exercises import EXERCISES, Exercise, starter_cell
from numpy.typing import ArrayLike, NDArray

import lossmod
from lossmod.exercises import Case

EXERCISE_ID = "what-is-a-loss-4"
PRELUDE = "import numpy as np\n\nimport lossmod\nfrom lossmod.exercises import check"


def honest_source(exercise_id: str = EXERCISE_ID) -> str:
    """The reference solution's source as a learner would write it: no type annotations."""
    exercise = EXERCISES[exercise_id]
    definition = ast.parse(textwrap.dedent(inspect.getsource(exercise.solution))).body[0]
    assert isinstance(definition, ast.FunctionDef)
    for argument in [
        *definition.args.posonlyargs,
        *definition.args.args,
        *definition.args.kwonlyargs,
    ]:
        argument.annotation = None
    for variadic in (definition.args.vararg, definition.args.kwarg):
        if variadic is not None:
            variadic.annotation = None
    definition.returns = None
    return ast.unparse(definition)


def notebook(cells: list[str | tuple[str, list[str]]], nbformat: int = 4) -> bytes:
    """A notebook of code cells (a cell with tags as ``(source, tags)``)."""
    built: list[dict[str, Any]] = []
    for cell in cells:
        source, tags = (cell, []) if isinstance(cell, str) else cell
        built.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{len(built)}",
                "metadata": {"tags": tags},
                "outputs": [],
                "source": source.splitlines(keepends=True),
            }
        )
    data = {"cells": built, "metadata": {}, "nbformat": nbformat, "nbformat_minor": 5}
    return json.dumps(data, indent=1).encode()


def check_line(exercise_id: str = EXERCISE_ID) -> str:
    return f'check("{exercise_id}", {EXERCISES[exercise_id].function_name})'


def exercise_cell(body: str | None, after: str = "") -> tuple[str, list[str]]:
    """The exercise cell (which the grader runs in full): the honest answer, then (with a body)
    a hostile wrapper around it, the check line, and ``after``."""
    parts = [honest_source()]
    if body is not None:
        parts.append("_honest = __NAME__")
        parts.append("def __NAME__(*args, **kwargs):\n" + textwrap.indent(body.strip(), "    "))
    parts.append(check_line())
    return "\n\n\n".join(parts) + ("\n" + after if after else ""), ["exercise-stub"]


@dataclass(frozen=True)
class Fixture:
    name: str
    status: str
    score: str
    cells: tuple[str | tuple[str, list[str]], ...] = ()
    raw: bytes | None = None  # a file that is not built from cells
    why: str = ""

    def build(self, values: Mapping[str, str]) -> bytes:
        if self.raw is not None:
            return self.raw
        exercise = EXERCISES[EXERCISE_ID]
        values = {
            "__ID__": EXERCISE_ID,
            "__NAME__": exercise.function_name,
            "__MODULE__": exercise.solution.__module__,
            **values,
        }

        def fill(text: str) -> str:
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        cells = [fill(c) if isinstance(c, str) else (fill(c[0]), c[1]) for c in self.cells]
        return notebook(cells)


def hostile(name: str, status: str, score: str, body: str, why: str = "") -> Fixture:
    return Fixture(name, status, score, (PRELUDE, exercise_cell(body)), why=why)


_READ_SECRETS = """
import os, glob, importlib.util, pathlib
found = []
reference = pathlib.Path(__REFERENCE__)
for path in [*glob.glob(str(reference / "*.py")), *__SECRETS__, f"/proc/{os.getppid()}/cmdline"]:
    try:
        found.append(open(path, "rb").read(100))
    except OSError:
        pass
for folder in ["/tmp", "..", os.path.dirname(__SECRETS__[0])]:
    try:
        found += os.listdir(folder)
    except OSError:
        pass
try:
    spec = importlib.util.spec_from_file_location("ref", reference / "__init__.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    found.append("module")
except Exception:
    pass
print("read:", len(found))
return _honest(*args, **kwargs) if found else np.zeros(1)
"""

_DOUBLE_FORK = """
import os, time
try:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(1.0)
            open("__TARGET__", "w").write("written after grading")
        os._exit(0)
except OSError:
    pass
return _honest(*args, **kwargs)
"""

_WRITE_EVERYWHERE = """
import os, shutil
for attempt in (
    lambda: open("__TARGET__", "w").write("x"),
    lambda: open("__CANARY__", "a").write("changed"),
    lambda: os.truncate("__CANARY__", 0),
    lambda: os.remove("__CANARY__"),
    lambda: os.rename("__CANARY__", "__CANARY__.moved"),
    lambda: os.chmod("__CANARY__", 0o777),
    lambda: shutil.rmtree(os.path.dirname("__TARGET__")),
    lambda: os.symlink("/", "__TARGET__"),
):
    try:
        attempt()
    except OSError:
        pass
return _honest(*args, **kwargs)
"""

_NETWORK = """
import socket, urllib.request
for attempt in (
    lambda: socket.create_connection(("127.0.0.1", __PORT__), timeout=0.5),
    lambda: socket.getaddrinfo("example.com", 80),
    lambda: urllib.request.urlopen("http://127.0.0.1:__PORT__/", timeout=0.5),
):
    try:
        attempt()
        print("network: reached")
    except OSError:
        print("network: blocked")
return _honest(*args, **kwargs)
"""

_FORGED = """
import os, sys
value = {"dtype": "float64", "shape": [2], "values": [1234.5, 1234.5]}
for fd in range(3, 30):
    for message in ({"t": "answer", "case": 0, "value": value}, {"t": "done"}):
        try:
            os.write(fd, (json.dumps(message) + "\\n").encode())
        except OSError:
            pass
return np.full(2, 1234.5)
"""

_LIARS = """
class Liar:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, dtype=None, copy=None): return np.full(1, 1234.5)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs): return True
    def __float__(self): return 0.0
    def __len__(self): return 0
return Liar()
"""

_NDARRAY_LIAR = """
class Sub(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __array_finalize__(self, obj): pass
    def tolist(self): return _honest(*args, **kwargs).tolist()
    def __float__(self): return 0.0
return np.zeros_like(_honest(*args, **kwargs)).view(Sub) + 1.0
"""

PIPES = '''import os


def _answer_pipes():
    """The pipes this process may write to, besides stdout and stderr: its answer channel."""
    import fcntl, os, stat
    found = []
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & 3 == 1:
                found.append(fd)
        except OSError:
            pass
    return found'''


def with_pipes(name: str, status: str, score: str, body: str | None, after: str = "") -> Fixture:
    """A fixture whose function body (or cell code ``after``) may call ``_answer_pipes()``."""
    return Fixture(name, status, score, (PRELUDE, PIPES, exercise_cell(body, after)))


# -- 1. one submission must not stop the batch: every byte it sends is hostile

_HUGE_INTEGERS = """
big = 10 ** 400
lines = [
    '{"t": "answer", "case": 0, "value": {"dtype": "float64", "shape": [1], "values": [%d]}}' % big,
    '{"t": "answer", "case": %d, "raised": "x"}' % big,
    '{"t": "answer", "case": 0, "value": {"dtype": "float64", "shape": [%d], "data": ""}}' % big,
]
for fd in _answer_pipes():
    for line in lines:
        os.write(fd, (line + "\\n").encode())
return _honest(*args, **kwargs)
"""

_DEEP_FOLDERS = """
import os
here = os.getcwd()
for _ in range(2500):
    os.mkdir("d")
    os.chdir("d")
for number in range(100):
    open(f"f{number}", "w").close()
os.chdir(here)
"""

# -- 2. other processes of the same user: every attempt is harmless if it succeeds (it sets what
# is already set, or sends signal 0), and it is counted

_OTHER_PROCESSES = """
import os, resource
changed = 0
me, grader = os.getpid(), os.getppid()
for pid in [grader, *range(max(2, me - 64), me + 64)]:
    if pid != me:
        try:
            now = resource.prlimit(pid, resource.RLIMIT_CORE)
            resource.prlimit(pid, resource.RLIMIT_CORE, now)
            changed += 1
        except OSError:
            pass
for attempt in (
    lambda: os.kill(grader, 0),
    lambda: os.kill(-1, 0),
    lambda: os.killpg(os.getpgid(grader), 0),
    lambda: os.setpriority(os.PRIO_PROCESS, grader, os.getpriority(os.PRIO_PROCESS, grader)),
    lambda: os.setpriority(os.PRIO_USER, os.getuid(), os.getpriority(os.PRIO_USER, os.getuid())),
    lambda: os.sched_setaffinity(grader, os.sched_getaffinity(grader)),
    lambda: os.pidfd_open(grader),
):
    try:
        attempt()
        changed += 1
    except OSError:
        pass
print("other processes reached:", changed)
"""

_KERNEL_OBJECTS = """
import ctypes, os
created = 0
libc = ctypes.CDLL(None, use_errno=True)
attempts = [
    lambda: libc.shmget(0, 64 << 20, 0o1600),  # IPC_PRIVATE, IPC_CREAT | 0600
    lambda: libc.msgget(0, 0o1600),
    lambda: libc.semget(0, 1, 0o1600),
    lambda: libc.mq_open(b"/lossmod-grading-test", os.O_CREAT | os.O_RDWR, 0o600, None),
]
for attempt in attempts:
    try:
        created += attempt() >= 0
    except AttributeError:  # an old C library without mq_open
        pass
try:
    open("/dev/shm/lossmod-grading-test", "w").close()
    created += 1
except OSError:
    pass
print("kernel objects created:", created)
"""

# -- 3. the grader must not be tied up

_TINY_OBJECTS = """
line = b"[" + b"{}," * 350000 + b"{}]\\n"  # 1 MB of tiny objects
for fd in _answer_pipes():
    for _ in range(16):
        os.write(fd, line)
"""

_KEEPALIVE = """
import time
messages = [
    b'{"t": "ready"}', b'{"t": "sandbox"}', b'{"t": "cell", "cell": 1, "error": "x"}',
    b'{"t": "answer", "case": 99999, "missing": true}',
]
while True:
    for fd in _answer_pipes():
        for message in messages:
            os.write(fd, message + b"\\n")
    time.sleep(0.05)
"""

_SYMLINKS = """
made = 0
try:
    for number in range(1500):
        os.symlink(f"l{number + 1}", f"l{number}")
        made += 1
except OSError:
    pass
print("symbolic links made:", made)
"""

# -- 4. the references: not in the child at all

_STRIPPED = """
design, target, theta, *_ = args
return design.T @ lossmod.mse_grad(design @ theta, target)
"""

_RELOAD = """
import importlib, lossmod.regression
importlib.reload(lossmod.regression)
importlib.reload(lossmod)
design, target, theta, *_ = args
return design.T @ lossmod.regression.mse_grad(design @ theta, target)
"""

_GARBAGE_COLLECTOR = """
import gc
design, target, theta, *_ = args
for found in gc.get_objects():
    if callable(found) and getattr(found, "__name__", "") in ("mse_grad", "_grad", "mse"):
        try:
            return design.T @ found(design @ theta, target)
        except BaseException:
            pass
return np.full(np.shape(theta), 1234.5)
"""

_REAL_LIBRARY = """
import importlib.util, pathlib
real, read = pathlib.Path(__LIBRARY__), 0
for path in [real / "regression.py", real / "__init__.py", real.parent / "pyproject.toml"]:
    try:
        path.read_bytes()
        read += 1
    except OSError:
        pass
try:
    spec = importlib.util.spec_from_file_location("real_regression", real / "regression.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    read += 1
except Exception:
    pass
print("files of the real lossmod read:", read)
return _honest(*args, **kwargs)
"""

_FRAMES_AT_CELL_TIME = """
import gc, sys
found = [o for o in gc.get_objects() if isinstance(o, dict) and {"case", "args"} <= set(o)]
needle = chr(34).join(["", "t", ": ", "check", ""])  # the check message's type, spelled apart
found += [o for o in gc.get_objects() if isinstance(o, bytes | str) and needle in str(o)]
frame = sys._getframe()
while frame is not None:
    found += [v for k, v in frame.f_locals.items() if k in ("request", "checks", "cases")]
    frame = frame.f_back
print("check inputs at cell time:", len(found))
"""

# -- 5. hidden inputs must not reach the feedback

_PRINT_INPUTS = """
print("inputs:", repr(args), repr(kwargs))
return _honest(*args, **kwargs)
"""

_RAISE_INPUTS = "raise ValueError('inputs: ' + repr(args))"

_TYPE_NAME = """
digits = "_".join(str(abs(int(v * 1e6))) for v in np.ravel(args[0])[:6])
return type("Inputs_" + digits, (), {})()
"""

_FORGED_PROBLEM = """
import json, sys
case = sys._getframe(1).f_locals.get("number")
text = "inputs " + " ".join(f"{v:.6f}" for v in np.ravel(args[0])[:6])
for fd in _answer_pipes():
    os.write(fd, json.dumps({"t": "answer", "case": case, "problem": text}).encode() + b"\\n")
return _honest(*args, **kwargs)
"""

_EXIT_CODE = """
import os
design = np.asarray(args[0])
if design.shape[0] > 10:  # only the hidden cases are that large (40 rows)
    os._exit(int(abs(design.ravel()[0]) * 1000) % 250 + 3)
return _honest(*args, **kwargs)
"""

_STDIN_AT_CELL_TIME = """
import gc, sys
os.set_blocking(0, False)
try:
    waiting = os.read(0, 1 << 20)
except OSError:
    waiting = b""
os.set_blocking(0, True)
held = [o.buffer for o in gc.get_objects() if type(o).__name__ == "Requests"]
print("requests at cell time:", len(waiting), [len(b) for b in held])
"""


FIXTURES: tuple[Fixture, ...] = (
    Fixture("honest", "ok", "full", (PRELUDE, exercise_cell(None))),
    Fixture("untouched", "ok", "zero", (PRELUDE, (starter_cell(EXERCISE_ID), ["exercise-stub"]))),
    hostile("infinite_loop", "timeout", "zero", "while True:\n    pass"),
    Fixture(
        "loop_at_top_level",
        "timeout",
        "zero",
        (PRELUDE, exercise_cell(None, "while True:\n    pass")),
    ),
    hostile("sleep", "timeout", "zero", "import time\ntime.sleep(1000)"),
    # bytes(n) is calloc'd: the address space grows by 100 MB a step while its pages stay
    # untouched, so the memory limit binds after a few steps on any machine. A bomb that writes
    # every page would race the 1 s check timeout on a machine with slow page faults.
    hostile("memory_bomb", "error", "zero", "hog = []\nwhile True:\n    hog.append(bytes(10**8))"),
    hostile("numpy_memory_bomb", "error", "zero", "return np.ones(10**11)"),
    hostile("os_exit", "crash", "zero", "import os\nos._exit(0)"),
    hostile("sys_exit", "error", "zero", "import sys\nsys.exit(0)"),
    hostile("segfault", "crash", "zero", "import ctypes\nctypes.string_at(0)"),
    hostile("keyboard_interrupt", "error", "zero", "raise KeyboardInterrupt"),
    hostile(
        "sigint_to_self",
        "error",
        "zero",
        "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\nreturn _honest(*args, **kwargs)",
    ),
    hostile("fork_bomb", "error", "zero", "import os\nwhile True:\n    os.fork()"),
    hostile("double_fork_writer", "ok", "full", _DOUBLE_FORK),
    hostile("write_everywhere", "ok", "full", _WRITE_EVERYWHERE),
    hostile(
        "subprocess_shell",
        "ok",
        "full",
        "import subprocess\ntry:\n    subprocess.run(['touch', '__TARGET__'])\nexcept OSError:\n"
        "    pass\nreturn _honest(*args, **kwargs)",
    ),
    hostile(
        "monkeypatch_numpy",
        "ok",
        "zero",
        "np.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\nnp.array_equal = lambda *a: True\n"
        "return np.full(2, 1234.5)",
    ),
    hostile(
        "monkeypatch_checker",
        "ok",
        "zero",
        "import lossmod.exercises as ex\nex.check = lambda *a, **k: True\n"
        "ex.compare = lambda *a, **k: None\ntry:\n    import lossmod_instructor.grading.scoring as s\n"
        "    s.judge = lambda *a: None\nexcept Exception:\n    pass\nreturn np.full(2, 1234.5)",
    ),
    hostile("lying_object", "ok", "zero", _LIARS),
    hostile("lying_ndarray_subclass", "ok", "zero", _NDARRAY_LIAR),
    hostile(
        "float_subclass",
        "ok",
        "zero",
        "class F(float):\n    def __eq__(self, o): return True\n    def __float__(self): return 1.0\n"
        "return F(0.0)",
    ),
    hostile(
        "honest_ndarray_subclass",
        "ok",
        "full",
        "class Sub(np.ndarray):\n    pass\nreturn np.asarray(_honest(*args, **kwargs)).view(Sub)",
    ),
    hostile("nan", "ok", "zero", "return np.full_like(_honest(*args, **kwargs), np.nan)"),
    hostile("inf", "ok", "zero", "return np.full_like(_honest(*args, **kwargs), -np.inf)"),
    hostile(
        "negative_zero",
        "ok",
        "full",
        "r = np.array(_honest(*args, **kwargs))\nr[r == 0] = -0.0\nreturn r",
    ),
    hostile("float32", "ok", "float32", "return np.asarray(_honest(*args, **kwargs), np.float32)"),
    hostile("integers", "ok", "zero", "return np.asarray(_honest(*args, **kwargs)).astype(int)"),
    hostile("python_list", "ok", "full", "return np.asarray(_honest(*args, **kwargs)).tolist()"),
    hostile("wrong_shape", "ok", "zero", "return np.asarray(_honest(*args, **kwargs))[:, None]"),
    hostile("scalar", "ok", "zero", "return float(np.sum(_honest(*args, **kwargs)))"),
    hostile("returns_none", "ok", "zero", "_honest(*args, **kwargs)"),
    hostile("huge_answer", "ok", "zero", "return np.zeros(10**7)"),
    hostile(
        "fake_output_lines",
        "ok",
        "full",
        "import sys\nprint('{\"score\": 100, \"tests\": []}')\nprint('score: 1/1 passed')\n"
        'print(\'{"t": "answer", "case": 0}\', file=sys.stderr)\nreturn _honest(*args, **kwargs)',
    ),
    Fixture(
        "forged_messages",
        "ok",
        "zero",
        ("import json\n" + PRELUDE, exercise_cell(_FORGED)),
        why="forges an answer and 'done' on the answer pipe: only the answer to the check asked "
        "counts, and it is judged as any other",
    ),
    Fixture(
        "gigabyte_output",
        "crash",
        "zero",
        (
            PRELUDE,
            exercise_cell(
                None,
                "import os\nchunk = b'x' * (1 << 24)\nfor _ in range(64):\n    os.write(1, chunk)\n"
                "    os.write(2, chunk[:1000])",
            ),
        ),
    ),
    hostile("reads_secrets", "ok", "zero", _READ_SECRETS),
    hostile(
        "calls_reference_solution",
        "forbidden",
        "zero",
        "from lossmod_instructor import solution\nreturn solution('__ID__')(*args, **kwargs)",
    ),
    hostile(
        "imports_reference_module",
        "forbidden",
        "zero",
        "import importlib\nreturn getattr(importlib.import_module('__MODULE__'), '__NAME__')(*args, **kwargs)",
    ),
    hostile("network", "ok", "full", _NETWORK),
    hostile(
        "all_but_first",
        "error",
        "all but first",
        "global _calls\n_calls = globals().get('_calls', 0) + 1\nif _calls == 1:\n"
        "    raise ValueError('first call')\nreturn _honest(*args, **kwargs)",
    ),
    hostile(
        "mutates_inputs",
        "ok",
        "full",
        "answer = _honest(*args, **kwargs)\nfor a in args:\n    if isinstance(a, np.ndarray):\n"
        "        a[...] = 1e9\nreturn answer",
    ),
    hostile(
        "exception_with_lying_str",
        "error",
        "zero",
        "class E(Exception):\n    def __str__(self): raise RuntimeError('no')\nraise E()",
    ),
    Fixture(
        "exit_at_top_level",
        "crash",
        "zero",
        (PRELUDE, exercise_cell(None, "import os\nos._exit(1)")),
    ),
    Fixture(
        "magics_and_pip",
        "ok",
        "full",
        (
            "%matplotlib inline\n" + PRELUDE,
            "!pip install torch\nfiles = !ls /\n%timeit 1 + 1",
            "%%bash\ntouch __TARGET__",
            exercise_cell(None),
        ),
    ),
    Fixture(
        "syntax_error_cell",
        "broken",
        "full",
        (PRELUDE, "def broken(:\n    pass", exercise_cell(None)),
    ),
    Fixture(
        "duplicated_id_stub_last",
        "ok",
        "zero",
        (PRELUDE, exercise_cell(None), (starter_cell(EXERCISE_ID), ["exercise-stub"])),
    ),
    Fixture(
        "duplicated_id_honest_last",
        "ok",
        "full",
        (PRELUDE, (starter_cell(EXERCISE_ID), ["exercise-stub"]), exercise_cell(None)),
    ),
    Fixture(
        "lesson_cells_not_rerun",
        "ok",
        "full",
        (PRELUDE, "import time\ntime.sleep(30)\nraise SystemExit", exercise_cell(None)),
        why="a lesson's demo code is not re-run: only definitions outside exercise cells",
    ),
    # 1. one submission must not stop the batch
    hostile(
        "surrogate_in_exception", "error", "zero", "raise ValueError(chr(0xDC80) + chr(0xD800))"
    ),
    Fixture(
        "surrogate_in_cell_error",
        "broken",
        "full",
        (PRELUDE, exercise_cell(None, "raise RuntimeError('at ' + chr(0xD800))")),
    ),
    Fixture(
        "surrogate_in_exercise_id",
        "ok",
        "full",
        (PRELUDE, exercise_cell(None), 'check("__ID__\ud800", __NAME__)'),
        why="the notebook spells a lone surrogate in an id: an unknown exercise, noted",
    ),
    hostile(
        "realtime_signal",
        "crash",
        "zero",
        "import os\nos.kill(os.getpid(), 40)\nreturn _honest(*args, **kwargs)",
    ),
    with_pipes("huge_integers_on_the_wire", "ok", "all but first", _HUGE_INTEGERS),
    Fixture("deep_folders", "ok", "full", (PRELUDE, exercise_cell(None, _DEEP_FOLDERS))),
    Fixture(
        "many_files",
        "ok",
        "full",
        (PRELUDE, exercise_cell(None, "for n in range(5000):\n    open(f'f{n}', 'w').close()")),
    ),
    # 2. other processes of the same user are out of reach, and nothing outlives the child
    Fixture("other_processes", "ok", "full", (PRELUDE, exercise_cell(None, _OTHER_PROCESSES))),
    Fixture("kernel_objects", "ok", "full", (PRELUDE, exercise_cell(None, _KERNEL_OBJECTS))),
    # 3. the grader is not tied up
    with_pipes("tiny_objects_flood", "ok", "full", None, _TINY_OBJECTS),
    with_pipes("keepalive_messages", "timeout", "zero", _KEEPALIVE),
    Fixture("symlink_chain", "ok", "full", (PRELUDE, "import os", exercise_cell(None, _SYMLINKS))),
    # 4. the functions an exercise re-implements are not in the child's library
    hostile("calls_stripped_function", "forbidden", "zero", _STRIPPED),
    hostile("reloads_the_library", "forbidden", "zero", _RELOAD),
    hostile("garbage_collector_walk", "ok", "zero", _GARBAGE_COLLECTOR),
    hostile("reads_real_library", "ok", "full", _REAL_LIBRARY),
    Fixture(
        "frames_at_cell_time",
        "ok",
        "full",
        (PRELUDE, exercise_cell(None, _FRAMES_AT_CELL_TIME)),
    ),
    Fixture(
        "lesson_calls_stripped_function",
        "ok",
        "full",
        (PRELUDE, exercise_cell(None, "print('demo', lossmod.mse([1.0], [0.0]))\nprint('after')")),
        why="a lesson's line that calls a function taken away stops its cell, with a note; the "
        "function defined before it is graded",
    ),
    Fixture(
        "imports_stripped_names",
        "ok",
        "full",
        ("from lossmod import mae, mse, mse_grad\n" + PRELUDE, exercise_cell(None)),
    ),
    # 5. nothing of a hidden input reaches the feedback
    hostile("prints_inputs", "ok", "full", _PRINT_INPUTS),
    hostile("raises_inputs", "error", "zero", _RAISE_INPUTS),
    hostile("type_name_of_inputs", "ok", "zero", _TYPE_NAME),
    with_pipes("forged_problem_text", "ok", "zero", _FORGED_PROBLEM),
    hostile("exit_code_of_hidden_input", "crash", "public only", _EXIT_CODE),
    Fixture(
        "stdin_at_cell_time",
        "ok",
        "full",
        (PRELUDE, "import os", exercise_cell(None, _STDIN_AT_CELL_TIME)),
    ),
    # 6. a notebook that does not run is broken, not ok
    Fixture(
        "fails_at_import",
        "broken",
        "full",
        (PRELUDE + "\nimport lossmod_no_such_module", exercise_cell(None)),
    ),
    Fixture(
        "imports_a_missing_name",
        "broken",
        "full",
        (PRELUDE + "\nfrom lossmod import no_such_function", exercise_cell(None)),
    ),
    Fixture(
        "definition_raises",
        "broken",
        "zero",
        (
            PRELUDE,
            "class Helper:\n    scale = 1 / 0",
            exercise_cell("return Helper.scale * _honest(*args, **kwargs)"),
        ),
    ),
    # 7. output: what binds is the limit
    Fixture(
        "megabyte_output",
        "ok",
        "full",
        (PRELUDE, exercise_cell(None, "import os\nos.write(1, b'x' * (2 << 20))")),
    ),
    Fixture("no_exercise", "invalid", "zero", (PRELUDE, "x = 1")),
    Fixture("not_json", "invalid", "zero", raw=b"\x89PNG\r\n\x1a\n not a notebook {"),
    Fixture("empty_file", "invalid", "zero", raw=b""),
    Fixture("json_not_notebook", "invalid", "zero", raw=b'{"cells": "none", "nbformat": 4}'),
    Fixture("nbformat_3", "invalid", "zero", raw=notebook([PRELUDE], nbformat=3)),
    Fixture("cell_not_a_dict", "invalid", "zero", raw=b'{"cells": [1, 2], "nbformat": 4}'),
    Fixture("deeply_nested_json", "invalid", "zero", raw=b"[" * 100000 + b"]" * 100000),
)


def expected_score(fixture: Fixture, points: float, fractions: Mapping[str, int]) -> float:
    """The score a fixture must get, given the exercise's points and the per-case facts the
    test computed (``checks``: how many; ``public``: how many are public; ``float32``: how many
    pass in float32)."""
    checks = fractions["checks"]
    return {
        "full": points,
        "zero": 0.0,
        "all but first": points * (checks - 1) / checks,
        "public only": points * fractions["public"] / checks,
        "float32": points * fractions["float32"] / checks,
    }[fixture.score]


def solution_notebook(exercise_ids: list[str]) -> bytes:
    """A notebook answering each exercise with its reference solution as a learner would write
    it: the exercise module's imports, the module-level names the solution uses, the solution,
    and the check line."""
    cells: list[str | tuple[str, list[str]]] = []
    for exercise_id in exercise_ids:
        exercise = EXERCISES[exercise_id]
        tree = ast.parse(inspect.getsource(sys.modules[exercise.solution.__module__]))
        kept: list[ast.stmt] = []
        defined: dict[str, ast.stmt] = {}
        for node in tree.body:
            if isinstance(node, ast.Import) or (
                isinstance(node, ast.ImportFrom)
                and node.module not in ("__future__", "lossmod_instructor.exercises")
            ):
                kept.append(node)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined[node.name] = node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                defined |= {t.id: node for t in targets if isinstance(t, ast.Name)}
        wanted, queue = [], [defined[exercise.function_name]]
        while queue:
            node = queue.pop()
            if node in wanted:
                continue
            wanted.append(node)
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            queue += [defined[n] for n in sorted(names) if n in defined]
        kept += [n for n in tree.body if n in wanted]
        source = ast.unparse(ast.Module(body=kept, type_ignores=[]))
        cells.append((f"{source}\n\n\n{check_line(exercise_id)}", ["exercise-stub"]))
    return notebook(["from lossmod.exercises import check", *cells])


# ---------------------------------------------------------------------------------------------
# A small registry of its own, for what the course's exercises may not exercise: a function that
# re-implements a lossmod loss, and two exercises in one notebook.


def mean_squared(pred: ArrayLike, target: ArrayLike) -> float:
    """The mean of (pred - target)^2."""
    residual = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float(np.mean(residual**2))


def mean_squared_grad(pred: ArrayLike, target: ArrayLike) -> NDArray[np.float64]:
    """2 (pred - target) / n."""
    residual = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return 2.0 * residual / residual.size


def _numerical_mean_squared_grad(pred: ArrayLike, target: ArrayLike) -> NDArray[np.float64]:
    return lossmod.numerical_gradient(lambda p: lossmod.mse(p, np.asarray(target, float)), pred)


def _hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    a, b = rng.normal(size=(2, 30))
    return (Case("30 values", (a, b)), Case("large values", (1e3 * a, b)))


_CASES = (
    Case("three values", (np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0]))),
    Case("a (2, 2) array", (np.array([[0.0, 1.0], [2.0, 3.0]]), np.ones((2, 2)))),
)
SYNTHETIC = {
    "synthetic-1": Exercise(
        id="synthetic-1",
        task="mean squared error",
        solution=mean_squared,
        cases=_CASES,
        oracle=lossmod.mse,
        hidden=_hidden,
        rtol=1e-9,
    ),
    "synthetic-2": Exercise(
        id="synthetic-2",
        task="its gradient",
        solution=mean_squared_grad,
        cases=_CASES,
        oracle=_numerical_mean_squared_grad,
        hidden=_hidden,
        rtol=1e-6,
        atol=1e-9,
        points=2,
        reimplements=("mse_grad",),
    ),
}


def synthetic_notebook(first: str | None = None, second: str | None = None) -> bytes:
    """Both synthetic exercises answered honestly, or with these function bodies instead."""
    cells: list[str | tuple[str, list[str]]] = [PRELUDE]
    for exercise, body in zip(SYNTHETIC.values(), (first, second), strict=True):
        name = exercise.function_name
        if body is None:
            source = textwrap.dedent(inspect.getsource(exercise.solution))
            source = source.replace(": ArrayLike", "").replace(" -> float", "")
            source = source.replace(" -> NDArray[np.float64]", "")
        else:
            source = f"def {name}(pred, target):\n" + textwrap.indent(body.strip(), "    ")
        cells.append((f'{source}\n\n\ncheck("{exercise.id}", {name})', ["exercise-stub"]))
    return notebook(cells)
