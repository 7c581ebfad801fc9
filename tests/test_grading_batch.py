"""Grading in the library (lossmod_instructor.grading.batch): every reference solution gets full marks; a
function calling the reference it should re-implement earns nothing for that exercise only; a
check that hangs or crashes costs its own exercise, not the others; lesson code may use the
references outside the checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from grading_fixtures import SYNTHETIC, solution_notebook, synthetic_notebook
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading import batch, sandbox

SEED = 424242
LIMITS = sandbox.Limits(check_timeout=1.0, notebook_timeout=8.0, memory=768 << 20)


def grade(*notebooks: bytes, **options: object) -> list[batch.Graded]:
    submissions = [
        batch.Submission(Path(f"s{i}.ipynb"), f"s{i}", data, f"{i}")
        for i, data in enumerate(notebooks)
    ]
    settings = {"seed": SEED, "limits": LIMITS, "jobs": 2, "registry": SYNTHETIC} | options
    return batch.run(submissions, batch.Options(**settings))  # type: ignore[arg-type]


def scores(graded: batch.Graded) -> dict[str, float]:
    return {e.exercise.id: round(e.score, 6) for e in graded.exercises}


def test_every_reference_solution_gets_full_marks() -> None:
    """For every chapter of the registry, a notebook answering each exercise with its reference
    solution (as a learner would write it) gets every point, hidden checks included."""
    chapters = sorted({e.chapter for e in EXERCISES.values()})
    notebooks = [
        solution_notebook([i for i, e in EXERCISES.items() if e.chapter == c]) for c in chapters
    ]
    results = grade(
        *notebooks, registry=None, limits=sandbox.Limits(check_timeout=10, notebook_timeout=60)
    )
    for chapter, graded in zip(chapters, results, strict=True):
        failed = {
            e.exercise.id: [r.verdict.feedback for r in e.results if not r.verdict.passed]
            for e in graded.exercises
            if e.score != e.exercise.points
        }
        assert (graded.status, failed) == ("ok", {}), (chapter, graded.messages)
        assert all(len(e.results) > len(e.exercise.cases) for e in graded.exercises)


def test_calling_the_reimplemented_loss_forfeits_that_exercise_only() -> None:
    """lossmod.mse (the oracle of synthetic-1) and lossmod.mse_grad (listed in reimplements of
    synthetic-2) earn nothing when called from the exercise's function, however reached; the
    other exercise keeps its points."""
    honest, via_mse, via_registry, via_import, via_grad = grade(
        synthetic_notebook(),
        synthetic_notebook("return lossmod.mse(pred, target)"),
        synthetic_notebook("return lossmod.LOSSES['mse'].value(pred, target)"),
        synthetic_notebook("from lossmod.regression import mse\nreturn mse(pred, target)"),
        synthetic_notebook(None, "return lossmod.mse_grad(pred, target)"),
    )
    assert scores(honest) == {"synthetic-1": 1.0, "synthetic-2": 2.0}
    for graded in (via_mse, via_registry, via_import):
        assert scores(graded) == {"synthetic-1": 0.0, "synthetic-2": 2.0}
        assert graded.exercises[0].forfeit is not None
        assert "lossmod.mse" in graded.exercises[0].forfeit
    assert scores(via_grad) == {"synthetic-1": 1.0, "synthetic-2": 0.0}


def test_references_may_be_used_outside_the_checks() -> None:
    """A lesson's code (a full exercise cell, or every cell with all_cells) may call lossmod.mse;
    only the exercise's checks are watched."""
    demo = "print('demo', lossmod.mse([1.0], [0.0]))\n"
    data = synthetic_notebook().replace(
        b'check(\\"synthetic-1',
        demo.encode().replace(b"'", b"\\u0027").replace(b"\n", b"\\n") + b'check(\\"synthetic-1',
    )
    graded = grade(data)[0]
    assert scores(graded) == {"synthetic-1": 1.0, "synthetic-2": 2.0}
    assert "demo 1.0" in graded.output


def test_a_hang_or_a_crash_costs_its_own_exercise_only() -> None:
    """A check that times out, or a crash on the second check, fails that check and skips the
    exercise's later ones; a fresh child grades the other exercise in full."""
    loop, crash = grade(
        synthetic_notebook("while True:\n    pass"),
        synthetic_notebook(
            "import ctypes\nglobal calls\ncalls = globals().get('calls', 0) + 1\n"
            "if calls == 2:\n    ctypes.string_at(0)\nreturn float(np.mean((np.asarray(pred) - target) ** 2))"
        ),
    )
    assert (loop.status, scores(loop)) == ("timeout", {"synthetic-1": 0.0, "synthetic-2": 2.0})
    assert len(loop.runs) == 2
    assert (crash.status, scores(crash)) == ("crash", {"synthetic-1": 0.25, "synthetic-2": 2.0})
    feedback = [r.verdict.feedback for r in crash.exercises[0].results]
    assert feedback[1] == "ended the program (signal SIGSEGV)"
    assert feedback[2].startswith("not run: an earlier check of this exercise ended the program")


def test_public_checks_only_without_a_seed() -> None:
    """Without a seed (the learner's `lossmod check`) only the public cases run."""
    graded = grade(synthetic_notebook(), seed=None)[0]
    assert [len(e.results) for e in graded.exercises] == [2, 2]
    assert scores(graded) == {"synthetic-1": 1.0, "synthetic-2": 2.0}


def test_assignment_fixes_the_exercises_graded() -> None:
    """With an assignment, a notebook is graded on exactly its exercises: one it lacks scores
    zero, one outside it is noted and ignored."""
    only_first = grade(synthetic_notebook(), assignment=("synthetic-1",))[0]
    assert scores(only_first) == {"synthetic-1": 1.0}
    assert any("not part of this assignment" in m for m in only_first.messages)
    with pytest.raises(ValueError, match="no exercise or chapter named 'nope'"):
        batch.Plan(batch.Options(assignment=("nope",), registry=SYNTHETIC))


def test_a_syntax_error_in_an_exercise_cell_is_not_not_attempted() -> None:
    """An exercise whose cell does not parse fails with the cell (numbered from 1, as Jupyter
    shows it) and the error, instead of "not attempted"; the other exercise keeps its points."""
    (graded,) = grade(synthetic_notebook("return (pred - target"))
    broken, other = graded.exercises
    assert broken.status == "failed" and broken.score == 0 and other.score == other.exercise.points
    feedback = {r.verdict.feedback for r in broken.results}
    assert len(feedback) == 1
    assert feedback.pop().startswith(
        "cell 2 could not run: SyntaxError: '(' was never closed (line"
    )
    assert any(m.startswith("cell 2 raised SyntaxError") for m in graded.messages)
