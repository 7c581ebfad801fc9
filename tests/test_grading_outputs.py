"""What the grader writes (lossmod_instructor.grading.outputs and .reports): results.json in
Gradescope's format with points that sum exactly and hidden checks that say only pass or fail,
grades.csv safe to open in a spreadsheet, the class summary, and feedback a learner can read."""

from __future__ import annotations

import csv
import io
import math
import random
import re
from pathlib import Path

import pytest
from grading_fixtures import PRELUDE, Fixture, exercise_cell, solution_notebook
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading import batch, sandbox
from lossmod_instructor.grading.outputs import (
    HIDDEN_NOTE,
    Mark,
    Row,
    grades_csv,
    results_json,
    shares,
    spreadsheet_safe,
    status_meanings,
)
from lossmod_instructor.grading.reports import code, escape, feedback_markdown, summarise
from lossmod_instructor.grading.submission import STATUSES

from tests.helpers.grading import points

ROOT = Path(__file__).resolve().parents[1]
SEED = 31337
SECRET = "SECRET-7f3a"


@pytest.fixture(scope="module")
def graded() -> dict[str, batch.Graded]:
    """An mse notebook with every exercise solved, and a what-is-a-loss-4 function that raises
    with its inputs in the message, graded with hidden checks."""
    mse = [i for i, e in EXERCISES.items() if e.chapter == "mse"]
    body = f"raise ValueError('{SECRET} ' + repr(args))"
    raising = Fixture("raising", "error", "zero", (PRELUDE, exercise_cell(body))).build({})
    notebooks = {"mse": solution_notebook(mse), "raising": raising}
    submissions = [
        batch.Submission(Path(f"{name}.ipynb"), name, data, name)
        for name, data in notebooks.items()
    ]
    limits = sandbox.Limits(check_timeout=10, notebook_timeout=60)
    options = batch.Options(seed=SEED, limits=limits, jobs=2)
    return {g.submission.student: g for g in batch.run(submissions, options)}


@pytest.mark.parametrize("points", [1, 2, 3, 5])
def test_shares_sum_exactly_in_any_order(points: int) -> None:
    """However many checks share an exercise's points, the shares sum to the points exactly in
    floating point, in any order (every share is a multiple of 2**-20), and each is within
    1e-6 of an equal share."""
    shuffle = random.Random(points)
    for count in range(1, 120):
        parts = shares(points, count)
        assert len(parts) == count
        assert all(abs(p - points / count) < 1e-6 * count for p in parts)
        for _ in range(3):
            total = 0.0
            for part in parts:
                total += part
            assert total == points
            shuffle.shuffle(parts)
        assert sum(reversed(parts)) == math.fsum(parts) == points


def test_max_scores_sum_to_the_assignment_points(graded: dict[str, batch.Graded]) -> None:
    """results.json of the mse notebook: one test per check, whose max_score values sum
    exactly to its points (four of them once summed to 3.999997 when rounded to 6 digits); full
    marks score them all; hidden
    checks are published after the deadline, public ones at once."""
    results = results_json(graded["mse"])
    tests = results["tests"]
    assert len(tests) == sum(len(e.results) for e in graded["mse"].exercises)
    total = 0.0
    for test in tests:
        total += test["max_score"]
    assert total == points("mse") and results["score"] == points("mse")
    assert sum(t["score"] for t in tests) == points("mse")
    hidden = [t for t in tests if ": hidden: " in t["name"]]
    public = [t for t in tests if ": hidden: " not in t["name"]]
    assert hidden and public
    assert {t["visibility"] for t in hidden} == {"after_published"}
    assert {t["visibility"] for t in public} == {"visible"}
    assert all(t["name"].startswith("Exercise 3.") for t in tests)


def test_hidden_checks_say_only_pass_or_fail(graded: dict[str, batch.Graded]) -> None:
    """A function that raises with its inputs in the message: its public checks show the
    message and the inputs (the learner's own, on inputs they know); its hidden checks show a
    fixed phrase only, in results.json and in the feedback."""
    tests = results_json(graded["raising"])["tests"]
    hidden = [t for t in tests if t["visibility"] == "after_published"]
    public = [t for t in tests if t["visibility"] == "visible"]
    assert hidden and public
    assert all(SECRET in t["output"] and "called with" in t["output"] for t in public)
    fixed = f"failed: raised an exception ({HIDDEN_NOTE})"
    assert {t["output"] for t in hidden} == {fixed}
    feedback = feedback_markdown(graded["raising"])
    hidden_part = feedback[feedback.index("- Hidden checks: 0 of") :]
    assert SECRET in feedback and SECRET not in hidden_part and "[" not in hidden_part


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ann", "ann"),
        ("a=b", "a=b"),
    ],
)
def test_spreadsheet_cells_are_never_formulas(text: str, shown: str) -> None:
    """A cell starting with = + - @, a tab or a carriage return gets a leading quote
    (OWASP's advice against CSV injection); other text is left as it is."""
    assert spreadsheet_safe(text) == shown
    data = grades_csv([Row(text, 1.0, 1.0, "ok")]).decode()
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert rows[1][0] == shown


NONE = Mark(0, 1, "not attempted")
ROWS = [
    Row("ann", 2.0, 2.0, "ok", {"mse-1": Mark(1, 1, "passed"), "mse-2": Mark(1, 1, "passed")}),
    Row("bob", 0.5, 2.0, "ok", {"mse-1": Mark(0.5, 1, "failed"), "mse-2": Mark(0, 1, "failed")}),
    Row("cy", 0.0, 2.0, "ok", {"mse-1": NONE, "mse-2": Mark(0, 1, "failed")}),
    Row("dee", 0.0, 0.0, "invalid"),
]


def test_summary_per_exercise() -> None:
    """Per exercise: how many were graded on it, the mean points, the share with full marks and
    the share attempted; an invalid submission counts as 0 points, not attempted, on the
    assignment's exercises only; the total covers every student."""
    one, two, total = summarise(ROWS, ["mse-1", "mse-2"], ["mse-1", "mse-2"])
    assert (one.heading, one.points, one.graded) == ("Exercise 3.1 (mse-1)", 1.0, 4)
    assert (one.mean, one.full_marks, one.attempted) == (1.5 / 4, 1 / 4, 2 / 4)
    assert (two.mean, two.full_marks, two.attempted) == (1 / 4, 1 / 4, 3 / 4)
    assert (total.graded, total.mean) == (4, 2.5 / 4)
    assert (total.full_marks, total.attempted) == (1 / 4, 3 / 4)
    without = summarise(ROWS, ["mse-1"])[0]
    assert (without.graded, without.mean) == (3, 1.5 / 3)


def test_grades_csv_has_a_column_per_exercise() -> None:
    """student,score,max,status first (as before), then the points of each exercise."""
    lines = grades_csv(ROWS, ["mse-1", "mse-2"]).decode().splitlines()
    assert lines == [
        "student,score,max,status,mse-1,mse-2",
        "ann,2,2,ok,1,1",
        "bob,0.5,2,ok,0.5,0",
        "cy,0,2,ok,0,0",
        "dee,0,0,invalid,,",
    ]


def test_every_status_is_defined_in_the_readme() -> None:
    """Each status the grader gives has a one-line meaning, and the README's "Grading exercises"
    section defines it, the statuses for a forbidden function and a notebook that does not run
    included."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Grading exercises") :]
    section = section[: section.index("\n## ", 3)]
    meanings = status_meanings()
    assert list(meanings) == list(STATUSES)
    for status in {*STATUSES, "forbidden", "broken"}:
        assert re.search(rf"^- `{status}`: \w", section, re.M), status
    assert all(meanings.values())


def test_feedback_text_is_never_markdown() -> None:
    """A name is escaped; what a submission wrote is code, fenced by more backticks than it
    holds, and on several lines a fenced block."""
    assert escape("**x** [a](b)") == r"\*\*x\*\* \[a\](b)"
    assert code("a ` b") == "``a ` b``"
    assert code("`x`") == "`` `x` ``"
    assert code("one\n```\ntwo") == "\n\n````text\none\n```\ntwo\n````\n"
