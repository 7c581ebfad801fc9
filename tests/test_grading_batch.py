"""Grading in the library (lossmod_instructor.grading.batch): every reference solution gets full
marks; a function calling a function its assignment takes away earns nothing for that exercise
only; a check that hangs or crashes costs its own exercise, not the others; lesson code that
calls one only stops its cell; checks go public first, one at a time, each with its own clock;
whatever fails in the grader's handling of one submission is that submission's error."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from grading_fixtures import SYNTHETIC, solution_notebook, synthetic_notebook
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading import batch, sandbox, submission

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
    synthetic-2) are not in the child's library: a function that uses one, however reached,
    earns nothing for its exercise, and the submission is "forbidden"; the other exercise keeps
    its points."""
    honest, via_mse, via_registry, via_import, via_grad = grade(
        synthetic_notebook(),
        synthetic_notebook("return lossmod.mse(pred, target)"),
        synthetic_notebook("return lossmod.LOSSES['mse'].value(pred, target)"),
        synthetic_notebook("from lossmod.regression import mse\nreturn mse(pred, target)"),
        synthetic_notebook(None, "return lossmod.mse_grad(pred, target)"),
    )
    assert (honest.status, scores(honest)) == ("ok", {"synthetic-1": 1.0, "synthetic-2": 2.0})
    for graded in (via_mse, via_registry, via_import):
        assert graded.status == "forbidden"
        assert scores(graded) == {"synthetic-1": 0.0, "synthetic-2": 2.0}
        assert graded.exercises[0].forfeit is not None
        assert "lossmod.mse," in graded.exercises[0].forfeit
        feedback = graded.exercises[0].results[0].verdict.feedback
        assert feedback.startswith("uses lossmod.mse, which this assignment asks you to write")
        assert feedback.endswith("not available while grading")
    assert (via_grad.status, scores(via_grad)) == (
        "forbidden",
        {"synthetic-1": 1.0, "synthetic-2": 0.0},
    )


def test_lesson_code_that_calls_a_function_taken_away_stops_its_cell_only() -> None:
    """A lesson's line that calls lossmod.mse (taken away) stops its cell with a note, without
    costing points or changing the status; lesson code may use every other lossmod function."""
    demo = "print('demo', lossmod.mae([1.0], [0.0]))\nprint('mse', lossmod.mse([1.0], [0.0]))\n"
    data = synthetic_notebook().replace(
        b'check(\\"synthetic-1',
        demo.encode().replace(b"'", b"\\u0027").replace(b"\n", b"\\n") + b'check(\\"synthetic-1',
    )
    graded = grade(data)[0]
    assert (graded.status, scores(graded)) == ("ok", {"synthetic-1": 1.0, "synthetic-2": 2.0})
    assert "demo 1.0" in graded.output and "mse" not in graded.output
    assert any("stopped at lossmod.mse, which this assignment" in m for m in graded.messages)


def test_public_checks_come_first_and_hidden_output_is_not_kept() -> None:
    """The child gets every public check before any hidden one, and what it prints from the
    first hidden check on is not kept (nor counted in the note on output not kept)."""
    body = "print('call', float(np.ravel(pred)[0]))\nreturn float(np.mean((pred - target) ** 2))"
    graded = grade(synthetic_notebook(body))[0]
    printed = [float(v) for v in re.findall(r"call (\S+)", graded.output)]
    public = [float(np.ravel(c.args[0])[0]) for c in SYNTHETIC["synthetic-1"].cases]
    assert printed == public and "more bytes" not in graded.output
    assert scores(graded) == {"synthetic-1": 1.0, "synthetic-2": 2.0}


def test_each_check_has_its_own_clock() -> None:
    """The check timeout counts from when each check is sent: four checks of 0.4 s each pass
    under a 1 s timeout, though together they take longer."""
    body = "import time\ntime.sleep(0.4)\nreturn float(np.mean((pred - target) ** 2))"
    graded = grade(synthetic_notebook(body))[0]
    assert (graded.status, scores(graded)) == ("ok", {"synthetic-1": 1.0, "synthetic-2": 2.0})


def test_a_failure_of_the_grader_is_that_submissions_error(monkeypatch: Any) -> None:
    """An exception while judging one submission's answer, or while recording it, gives that
    submission the status "error"; the batch finishes and the others are graded."""
    real = submission.judge

    def judge(check: Any, answer: dict[str, Any], **options: Any) -> Any:
        if "problem" in answer:
            raise RuntimeError("the judge broke")
        return real(check, answer, **options)

    monkeypatch.setattr(submission, "judge", judge)
    recorded: list[str] = []

    def done(graded: batch.Graded) -> None:
        if graded.submission.student == "s2" and not recorded.count("s2"):
            recorded.append("s2")
            raise OSError("disk full")
        recorded.append(f"{graded.submission.student} {graded.status}")

    submissions = [
        batch.Submission(Path(f"s{i}.ipynb"), f"s{i}", data, f"{i}")
        for i, data in enumerate(
            [
                synthetic_notebook(),
                synthetic_notebook("return 'not a number'"),
                synthetic_notebook(),
            ]
        )
    ]
    options = batch.Options(seed=SEED, limits=LIMITS, jobs=2, registry=SYNTHETIC)
    results = batch.run(submissions, options, done)
    assert [g.status for g in results] == ["ok", "error", "error"]
    assert "the grader failed on this submission (RuntimeError: the judge broke)" in (
        results[1].messages
    )
    assert "OSError: disk full" in results[2].messages[0]
    assert sorted(recorded) == ["s0 ok", "s1 error", "s2", "s2 error"]


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
    assert any(m.startswith("cell 2 cannot run: SyntaxError") for m in graded.messages)
    assert graded.status == "broken"


_FLOOD = """
import fcntl, os, stat
pipes = [fd for fd in range(3, 64) if os.path.exists(f"/proc/self/fd/{fd}")
         and stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & 3 == 1]
tiny = b"[" + b"{}," * 350_000 + b"{}]\\n"
cell = b'{"t": "cell", "cell": 1, "error": "' + b"x" * (1 << 20) + b'"}\\n'
for fd in pipes:
    for _ in range(25):
        os.write(fd, tiny)
        os.write(fd, cell)
"""


def test_a_flood_of_messages_costs_the_grader_little_memory() -> None:
    """Fifty megabytes of messages (a megabyte of tiny objects a line, or one long string)
    leave the grader's memory almost as it was: lines are refused before they are parsed, and
    what is kept of a message is bounded."""
    cell = (_FLOOD.strip() + "\n").encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    cell = cell.replace(b"\n", b"\\n")
    data = synthetic_notebook().replace(b'check(\\"synthetic-1', cell + b'check(\\"synthetic-1')
    tracemalloc.start()
    try:
        (graded,) = grade(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (graded.status, scores(graded)) == ("broken", {"synthetic-1": 1.0, "synthetic-2": 2.0})
    forged = [m for m in graded.messages if m.startswith("cell 1 raised xxx")]
    assert len(forged) == 1 and len(forged[0]) < 700  # one cell, its first words
    assert peak < 24 << 20
