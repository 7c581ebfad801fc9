"""The child's library (lossmod_instructor.grading.library): a copy of lossmod in which the
functions an assignment asks learners to write, and their gradients, are placeholders that
raise, however they are reached (a re-export, the registry, a reload, the garbage collector);
everything else still works; every exercise whose text restricts the library declares it, and
every declaration is one the learner is told of."""

from __future__ import annotations

import ast
import pickle
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from lossmod_instructor import publish
from lossmod_instructor.exercises import EXERCISES, stub_source
from lossmod_instructor.grading import library
from lossmod_instructor.grading.scoring import forbidden_names

import lossmod
from tests.helpers.cases import call_args, default_options, sample_input, sample_target

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import gc, importlib, json, pickle, sys
results = {}
for root, names in json.loads(sys.argv[1]):
    for module in [m for m in sys.modules if m.split(".")[0] in ("lossmod", "lossmod_instructor")]:
        del sys.modules[module]
    sys.path.insert(0, root)
    import numpy as np
    import lossmod, lossmod.nn, lossmod.optim, lossmod.train
    from lossmod._unavailable import Unavailable

    def refused(function):
        try:
            function(np.ones(3), np.zeros(3))
        except Unavailable:
            return True
        except Exception:
            return False
        return False

    importlib.reload(lossmod.regression)
    found = {getattr(lossmod, n) for n in names if hasattr(lossmod, n)}
    found |= {
        o
        for o in gc.get_objects()
        if callable(o)
        and getattr(o, "__name__", "") in names
        and getattr(getattr(o, "__code__", None), "co_filename", "").startswith(root)
    }
    works = {}
    with open(sys.argv[2], "rb") as file:
        samples = pickle.load(file)
    for name, loss in lossmod.LOSSES.items():
        if name not in names:
            args, options = samples[name]
            works[name] = bool(np.all(np.isfinite(loss.value(*args, **options)))) and bool(
                np.all(np.isfinite(loss.grad(*args, **options)))
            )
    results[root] = {
        "file": lossmod.__file__,
        "refused": all(refused(f) for f in found) and bool(found),
        "works": works,
        "public": sorted(n for n in lossmod.__all__ if n not in names and callable(getattr(lossmod, n))),
    }
    sys.path.remove(root)
print(json.dumps(results))
"""


def probe(libraries: list[library.Library]) -> dict[str, dict[str, object]]:
    """Import each copy in a fresh interpreter, as a child does, and report what it finds."""
    spec = [[str(lib.root), sorted(lib.unavailable)] for lib in libraries]
    import json

    # Inputs for every registered loss, drawn as the registry sweep draws them.
    rng = np.random.default_rng(20261206)
    samples = {}
    for name, loss in lossmod.LOSSES.items():
        target = sample_target(loss, rng)
        samples[name] = (
            [sample_input(loss, rng, target), *call_args(target)],
            default_options(loss),
        )
    inputs = Path(tempfile.mkdtemp(prefix="probe-")) / "inputs.pickle"
    inputs.write_bytes(pickle.dumps(samples))
    run = subprocess.run(
        [sys.executable, "-I", "-c", _PROBE, json.dumps(spec), str(inputs)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    found: dict[str, dict[str, object]] = json.loads(run.stdout)
    return found


def test_every_assignment_gets_a_working_copy_without_its_functions() -> None:
    """For each chapter's exercises (what a notebook of the chapter is graded on), and for all
    of them at once: the copy imports, each function taken away raises Unavailable however it
    is reached (even after a reload, or found by the garbage collector), every loss left in the
    registry still computes finite values and gradients, and every other public name is there."""
    chapters = sorted({e.chapter for e in EXERCISES.values()})
    groups = [[e for e in EXERCISES.values() if e.chapter == c] for c in chapters]
    groups.append(list(EXERCISES.values()))
    built = [library.build(n for e in group for n in forbidden_names(e)) for group in groups]
    libraries = list({lib.root: lib for lib in built}.values())  # chapters may share one
    everything = set(lossmod.__all__)
    for lib, result in zip(libraries, probe(libraries).values(), strict=True):
        taken = lib.unavailable - {library.SOLUTION}
        assert str(result["file"]).startswith(str(lib.root))
        assert result["refused"] is True or not taken
        works = result["works"]
        assert isinstance(works, dict) and all(works.values()), works
        assert set(works) == set(lossmod.LOSSES) - taken
        assert set(result["public"]) | taken >= {
            n for n in everything if callable(getattr(lossmod, n))
        }


def test_the_copy_holds_no_reference_code() -> None:
    """The body of a function taken away is nowhere in the copy, nor are the private helpers
    only it used; the copy's line numbers are the library's."""
    lib = library.build(["cross_entropy"])
    real = Path(lossmod.__file__).parent / "classification.py"
    copy = lib.root / "lossmod" / "classification.py"
    tree = ast.parse(real.read_text())
    body = next(
        ast.get_source_segment(real.read_text(), n)
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == "cross_entropy"
    )
    assert body is not None and body not in copy.read_text()
    copied = copy.read_text()
    assert "cross_entropy = _grading_placeholder('cross_entropy'" in copied
    assert len(copied.splitlines()) == len(real.read_text().splitlines()) + 1
    assert sorted(lib.unavailable) == [
        "cross_entropy",
        "cross_entropy_grad",
        library.SOLUTION,
    ]
    assert not (lib.root / "lossmod_instructor" / "exercises").exists()


def test_strip_is_generic() -> None:
    """The rewrite needs only top-level definitions: a function and its gradient (decorated or
    not), a class, a name assigned once become placeholders in place; a registry, a re-export
    and __all__ keep referring to them; a private helper used only by them goes, a shared one
    stays; the result compiles."""
    sources = {
        "core.py": textwrap.dedent(
            '''
            """A module."""
            from __future__ import annotations
            import functools

            def _only(x):
                return x * 2

            def _shared(x):
                return x + 1

            @functools.cache
            def loss(x):
                return _only(_shared(x))

            def loss_grad(x):
                return 2.0

            def other(x):
                return _shared(x)

            class Optimizer:
                pass

            alias = other
            TABLE = {"loss": loss, "other": other}
            __all__ = ["loss", "loss_grad", "other", "Optimizer"]
            '''
        ),
        "__init__.py": "from pkg.core import loss, other\n",
    }
    stripped, replaced = library.strip(sources, library.expand(["loss", "Optimizer", "alias"]))
    assert replaced == {"loss", "loss_grad", "Optimizer", "alias"}
    text = stripped["core.py"]
    compile(text, "core.py", "exec")
    assert "def _only" not in text and "def _shared" in text and "def other" in text
    assert "loss = _grading_placeholder('loss', __name__, False)" in text
    assert "Optimizer = _grading_placeholder('Optimizer', __name__, True)" in text
    assert "@functools.cache" not in text and 'TABLE = {"loss": loss' in text
    lines = text.splitlines()
    future = lines.index("from __future__ import annotations")
    assert (
        lines[future + 1] == "from lossmod._unavailable import placeholder as _grading_placeholder"
    )
    assert len(lines) == len(sources["core.py"].splitlines()) + 1
    assert stripped["__init__.py"] == sources["__init__.py"]


# ---------------------------------------------------------------------------------------------
# Declarations and the texts learners read

_RESTRICTS = re.compile(
    r"from scratch|numpy only|\bwrite\b[^.]*\bwith numpy\b|without `?lossmod|\(no `?lossmod", re.I
)
# Exercises that take functions away though their text does not say so yet; the report of
# issue 11 asks for the sentence each needs. Remove an entry once its text says it.
UNTOLD: set[str] = set()


def exercise_texts() -> dict[str, str]:
    """Each exercise's block in its chapter, and its stub's docstring."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        text = publish.chapter_text(path)
        for match in re.finditer(
            r"^(:{3,})\{exercise\}\n:label: (\S+)\n(.*?)^\1$", text, re.S | re.M
        ):
            found[match.group(2)] = match.group(3)
    for exercise_id in EXERCISES:
        found[exercise_id] = found.get(exercise_id, "") + "\n" + stub_source(exercise_id)
    return found


def _told(exercise_id: str, texts: dict[str, str]) -> bool:
    """Whether a learner is told that the exercise's declared functions are not to be used: its
    text says "from scratch" (or the like) or names one of them, or each is the gradient of a
    function that an exercise of the same chapter declares and tells."""
    exercise, text = EXERCISES[exercise_id], texts[exercise_id]
    if _RESTRICTS.search(text) or any(
        re.search(rf"\b{re.escape(name)}\b", text) for name in exercise.reimplements
    ):
        return True
    siblings = [
        e for e in EXERCISES.values() if e.chapter == exercise.chapter and e.id != exercise_id
    ]
    return all(
        name.endswith("_grad")
        and any(
            name.removesuffix("_grad") in e.reimplements and _RESTRICTS.search(texts[e.id])
            for e in siblings
        )
        for name in exercise.reimplements
    )


def test_exercises_that_restrict_the_library_declare_it() -> None:
    """Every exercise whose text or stub says "from scratch", "NumPy only", "write ... with NumPy"
    or "no lossmod" declares the functions it re-implements, each a function of lossmod."""
    texts = exercise_texts()
    restricted = {i for i in EXERCISES if _RESTRICTS.search(texts[i])}
    assert {i for i in restricted if not EXERCISES[i].reimplements} == set()
    assert {"mse-1", "mae-1", "huber-1", "cross-entropy-2", "kl-divergence-1"} <= restricted
    public = set(dir(lossmod)) | {"SGD", "Momentum", "Adam"}
    assert {n for e in EXERCISES.values() for n in e.reimplements} <= public


def test_every_declaration_is_told_to_the_learner() -> None:
    """Vice versa: an exercise that takes functions away says so in its text or stub, except
    those listed in UNTOLD (their text is to be changed), which must still be so."""
    texts = exercise_texts()
    untold = {i for i, e in EXERCISES.items() if e.reimplements and not _told(i, texts)}
    assert untold == UNTOLD


@pytest.mark.parametrize("exercise_id", ["mse-1", "mae-2", "huber-2", "huber-3", "cross-entropy-2"])
def test_the_named_exercises_take_their_functions_away(exercise_id: str) -> None:
    """The exercises issue 11 names as "from scratch" all have forbidden names."""
    assert forbidden_names(EXERCISES[exercise_id])
