"""The grader's command line (lossmod_instructor.grading.cli, `lossmod grade`): mistakes fail
loudly with one line and exit status 2; any text is a seed; a submissions folder is read without
following links, names every notebook uniquely and gives each its own results folder; the
instructor gets grades per exercise, a class summary and feedback per student."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from grading_fixtures import PRELUDE, Fixture, exercise_cell, notebook, solution_notebook
from lossmod_instructor.exercises import EXERCISES
from lossmod_instructor.grading import cli
from lossmod_instructor.grading.cli import parse_size, seed_from_text, student_names
from lossmod_instructor.grading.outputs import folder_names
from lossmod_instructor.grading.plan import Options, Plan
from lossmod_instructor.grading.submission import STATUSES

from tests.helpers.grading import lossmod_cli, points

SEED = 20261124
LIMITS = ["--timeout", "10", "--notebook-timeout", "60", "--memory", "768M", "--jobs", "2"]


def test_grade_refuses_unknown_assignment_and_needs_a_seed(tmp_path: Path) -> None:
    """An unknown exercise or chapter is a usage error (exit 2), and so is a missing seed."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "a.ipynb").write_bytes(notebook([PRELUDE]))
    run = lossmod_cli(
        "grade",
        str(tmp_path / "a.ipynb"),
        "--out",
        str(tmp_path / "out"),
        "--seed",
        "1",
        "--assignment",
        "no-such-chapter",
        tmp=tmp_path / "tmp",
    )
    assert run.returncode == 2 and "no exercise or chapter named 'no-such-chapter'" in run.stderr
    run = lossmod_cli(
        "grade", str(tmp_path / "a.ipynb"), "--out", str(tmp_path / "out"), tmp=tmp_path / "tmp"
    )
    assert run.returncode == 2 and "--seed" in run.stderr


MISTAKES = {
    "missing path": (["{tmp}/no-such-folder"], "no such file or folder: {tmp}/no-such-folder"),
    "empty folder": (["{tmp}/empty"], "the folder {tmp}/empty is empty"),
    "no notebooks": (["{tmp}/texts"], "no notebook (*.ipynb) in {tmp}/texts"),
    "not a notebook": (["{tmp}/texts/a.txt"], "not a notebook (*.ipynb): {tmp}/texts/a.txt"),
    "missing seed file": (
        ["{tmp}/a.ipynb", "--seed-file", "{tmp}/seed"],
        "cannot read the seed file {tmp}/seed: No such file or directory",
    ),
    "seed file a folder": (
        ["{tmp}/a.ipynb", "--seed-file", "{tmp}/empty"],
        "cannot read the seed file {tmp}/empty: Is a directory",
    ),
    "empty seed file": (
        ["{tmp}/a.ipynb", "--seed-file", "{tmp}/texts/a.txt"],
        "the seed file {tmp}/texts/a.txt is empty",
    ),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_mistakes_fail_loudly_in_one_line(
    mistake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist, an empty folder, a folder without notebooks, a file that is not
    a notebook, a seed file missing, unreadable or empty: exit status 2 and one line saying so,
    no traceback, and no output folder (a mistyped path used to grade a student `nobody`)."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("\n")
    (tmp_path / "a.ipynb").write_bytes(notebook([PRELUDE]))
    arguments, message = MISTAKES[mistake]
    filled = [a.format(tmp=tmp_path) for a in arguments]
    seed = [] if "--seed-file" in filled else ["--seed", "1"]
    assert cli.main([*filled, "--out", str(tmp_path / "out"), *seed]) == 2
    assert capsys.readouterr().err == f"lossmod grade: {message.format(tmp=tmp_path)}\n"
    assert not (tmp_path / "out").exists()


def test_any_text_is_a_seed_and_whole_numbers_keep_their_meaning(tmp_path: Path) -> None:
    """A whole number is itself, as it always was (white space around it does not count); any
    other text is hashed to a whole number (the first 128 bits of its SHA-256), the same from
    --seed as from a file ending in a newline."""
    assert seed_from_text(b"20261123") == 20261123
    assert seed_from_text(b"  007\n") == 7
    phrase = "correct horse battery staple"
    hashed = int.from_bytes(hashlib.sha256(phrase.encode()).digest()[:16], "big")
    assert seed_from_text(phrase.encode()) == hashed
    (tmp_path / "seed.txt").write_text(phrase + "\n")
    assert cli.read_seed(None, tmp_path / "seed.txt") == cli.read_seed(phrase, None) == hashed
    assert len({seed_from_text(t) for t in (b"-5", b"1e3", b"0x10", "é".encode())}) == 4


def test_student_names_are_unique_and_never_stop_the_batch() -> None:
    """File names, then folders, then both, then the path inside the folder graded: two
    notebooks in nested folders whose short names collide get their paths; invalid UTF-8 bytes
    in a file name become U+FFFD; equal names are numbered rather than refused."""
    assert student_names([Path("x/ann.ipynb"), Path("x/bob.ipynb")]) == ["ann", "bob"]
    assert student_names([Path("s1/hw.ipynb"), Path("s2/hw.ipynb")]) == ["s1", "s2"]
    paths = [Path("in/a/s/hw.ipynb"), Path("in/b/s/hw.ipynb")]
    assert student_names(paths, [Path("in"), Path("in")]) == ["a/s/hw", "b/s/hw"]
    assert student_names(paths) == ["in/a/s/hw", "in/b/s/hw"]
    invalid = Path(os.fsdecode(b"x/caf\xe9.ipynb"))
    assert student_names([invalid, Path("x/tab\there.ipynb")]) == ["caf\ufffd", "tab?here"]
    assert student_names([Path("hw.ipynb"), Path("hw.ipynb")]) == ["hw", "hw (2)"]


def test_each_student_has_a_folder_of_their_own() -> None:
    """Names map one to one to folders: a name that is already safe is its own folder; one
    that had to change gets a hash ("a b" and "a_b" no longer share a_b); names that differ
    only in case, or are reserved (grades.csv, feedback, dot names), never clash."""
    names = ["a b", "a_b", "a/b", "Ann", "ann", "feedback", "grades.csv", ".", "..", "", "x" * 300]
    folders = folder_names(names)
    assert folders["a_b"] == "a_b" and folders["a b"].startswith("a_b-")
    assert len({f.lower() for f in folders.values()}) == len(names)
    assert all(f and not f.startswith(".") and len(f) <= 100 for f in folders.values())
    assert "feedback" not in folders.values() and "grades.csv" not in folders.values()


def test_a_notebook_of_another_chapter_is_flagged() -> None:
    """With an assignment, a notebook that checks only another chapter's exercises gets a
    warning; without one, a notebook of another chapter than more than half of the batch's
    does; a batch evenly split between chapters has no odd one out."""
    with_assignment = Plan(Options(assignment=("mse",)))
    notes = with_assignment.off_chapter({"ann": {"mse"}, "bob": {"mae"}, "cy": set()})
    assert list(notes) == ["bob"] and "not of this assignment (chapter mse)" in notes["bob"]
    plan = Plan(Options())
    notes = plan.off_chapter({"ann": {"mse"}, "bob": {"mse"}, "cy": {"mae"}, "dee": set()})
    assert list(notes) == ["cy"]
    assert "2 of 3 notebooks of this batch check chapter mse" in notes["cy"]
    assert f"out of {points('mae'):g} points" in notes["cy"]
    assert plan.off_chapter({"ann": {"mse"}, "bob": {"mae"}}) == {}


@pytest.mark.parametrize(
    ("text", "size"), [("512M", 512 << 20), ("1G", 1 << 30), ("1.5GiB", 3 << 29), ("4096", 4096)]
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


# ---------------------------------------------------------------------------------------------
# A class graded through the command line

CHAPTER = "what-is-a-loss"
EXERCISE = f"{CHAPTER}-4"


@dataclass
class Graded:
    root: Path
    out: Path
    stderr: str
    rows: dict[str, dict[str, str]]
    header: list[str]

    def results(self, folder: str) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.out / folder / "results.json").read_text())
        return data


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """A submissions folder with every kind of entry the grader must handle, graded once."""
    root = tmp_path_factory.mktemp("class")
    submissions, out, scratch = root / "submissions", root / "out", root / "tmp"
    for folder in (submissions, out, scratch, submissions / "x" / "s", submissions / "y" / "s"):
        folder.mkdir(parents=True, exist_ok=True)
    honest = Fixture("honest", "ok", "full", (PRELUDE, exercise_cell(None))).build({})
    body = "return np.full(3, 1234.5)"
    wrong = Fixture("wrong", "ok", "zero", (PRELUDE, exercise_cell(body))).build({})
    (submissions / "a b.ipynb").write_bytes(honest)
    (submissions / "a_b.ipynb").write_bytes(wrong)
    for name in ("=HYPERLINK(1)", "+1", "-2", "@SUM(1)"):
        (submissions / f"{name}.ipynb").write_bytes(honest)
    (submissions / "x" / "s" / "hw.ipynb").write_bytes(honest)
    (submissions / "y" / "s" / "hw.ipynb").write_bytes(wrong)
    (submissions.joinpath(os.fsdecode(b"caf\xe9.ipynb"))).write_bytes(honest)
    (root / "elsewhere.ipynb").write_bytes(honest)
    (submissions / "copy.ipynb").symlink_to(root / "elsewhere.ipynb")
    os.mkfifo(submissions / "pipe.ipynb")
    mse = [i for i, e in EXERCISES.items() if e.chapter == "mse"]
    (submissions / "mse.ipynb").write_bytes(solution_notebook(mse))
    (root / "seed.txt").write_text("a passphrase, not a number\n")
    run = lossmod_cli(
        "grade",
        str(submissions),
        "--out",
        str(out),
        "--seed-file",
        str(root / "seed.txt"),
        "--assignment",
        CHAPTER,
        "--quiet",
        *LIMITS,
        tmp=scratch,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with (out / "grades.csv").open(encoding="utf-8") as file:
        reader = csv.DictReader(file)
        rows = {row["student"]: row for row in reader}
        header = list(reader.fieldnames or [])
    return Graded(root, out, run.stderr, rows, header)


def test_every_entry_is_graded_or_refused_and_grades_csv_is_written(graded: Graded) -> None:
    """Every notebook gets a row, under a unique name: nested folders' hw.ipynb by their paths,
    an invalid UTF-8 file name with U+FFFD; a link and a pipe are refused as invalid, never
    followed; names a spreadsheet would run as formulas start with a quote."""
    statuses = {name: row["status"] for name, row in graded.rows.items()}
    assert statuses == {
        "a b": "ok",
        "a_b": "ok",
        "'=HYPERLINK(1)": "ok",
        "'+1": "ok",
        "'-2": "ok",
        "'@SUM(1)": "ok",
        "x/s/hw": "ok",
        "y/s/hw": "ok",
        "caf\ufffd": "ok",
        "copy": "invalid",
        "pipe": "invalid",
        "mse": "ok",
    }
    assert graded.rows["a b"]["score"] == "1" and graded.rows["a_b"]["score"] == "0"
    assert graded.rows["copy"]["score"] == "0"
    assert graded.header == ["student", "score", "max", "status", EXERCISE]
    assert graded.rows["a b"][EXERCISE] == "1" and graded.rows["copy"][EXERCISE] == ""


def test_results_folders_match_grades(graded: Graded) -> None:
    """Each student's results.json is in a folder of their own and agrees with grades.csv:
    "a b" (full marks) and "a_b" (none) no longer share a folder; the link's results say why it
    was refused, and nothing of the file it points to was graded."""
    a_b = graded.results("a_b")
    spaced = next(p.name for p in graded.out.iterdir() if p.name.startswith("a_b-"))
    assert (a_b["score"], graded.results(spaced)["score"]) == (0.0, 1.0)
    folders = [p for p in graded.out.iterdir() if (p / "results.json").exists()]
    assert len(folders) == len(graded.rows)
    link = graded.results("copy")
    assert "symbolic link: refused, never followed" in str(link["output"])
    assert link["tests"] == [] and link["score"] == 0.0
    pipe = graded.results("pipe")
    assert "not a regular file" in str(pipe["output"])


def test_another_chapter_is_warned_in_the_terminal_and_the_feedback(graded: Graded) -> None:
    """A notebook of chapter mse in a what-is-a-loss assignment is graded on the assignment,
    with a warning on stderr, in its feedback and in its results.json."""
    warning = "the notebook checks exercises of chapter mse, not of this assignment"
    assert f"warning: mse: {warning}" in graded.stderr
    assert warning in (graded.out / "feedback" / "mse.md").read_text()
    assert warning in str(graded.results("mse")["output"])
    assert graded.rows["mse"]["score"] == "0" and graded.rows["mse"]["max"] == "1"


def test_feedback_is_readable_and_hides_hidden_inputs(graded: Graded) -> None:
    """feedback/<folder>.md names the exercise as the book does, lists the public checks passed
    or, failed, what was expected, what came back and the inputs; hidden checks only pass or
    fail; a student's name is escaped, not Markdown."""
    heading = "## Exercise 2.4 (what-is-a-loss-4)"
    text = (graded.out / "feedback" / f"{folder_names(['x/s/hw'])['x/s/hw']}.md").read_text()
    assert text.startswith("# Feedback for x/s/hw\n") and f"{heading}: passed, 1 of 1 point" in text
    assert "- Public checks passed: " in text and "- Hidden checks: " in text
    wrong = (graded.out / "feedback" / "a_b.md").read_text()
    assert "# Feedback for a\\_b" in wrong and f"{heading}: failed, 0 of 1 point" in wrong
    assert "- Public check at zero failed: `3 of 3 values differ" in wrong
    assert "expected -17.5, got 1234.`\n  - called with `array([[1., 0., 1.]," in wrong
    hidden = wrong[wrong.index("- Hidden checks: 0 of 4 passed") :]
    assert "called with" not in hidden and "1234" not in hidden and "[" not in hidden
    assert "  - large values: failed: returned wrong values\n" in hidden
    refused = (graded.out / "feedback" / "copy.md").read_text()
    assert "Not graded. Status: **invalid**" in refused


def test_class_summary(graded: Graded) -> None:
    """summary.csv and summary.md: per exercise the number graded, the mean points, the share
    with full marks and the share attempted, then a total; summary.md counts every status,
    with its meaning, the two refused entries counting as invalid (0 points, not attempted)."""
    with (graded.out / "summary.csv").open() as file:
        rows = {row["exercise"]: row for row in csv.DictReader(file)}
    assert list(rows) == [EXERCISE, "total"]
    line = rows[EXERCISE]
    assert (line["heading"], line["points"], line["graded"]) == (
        "Exercise 2.4 (what-is-a-loss-4)",
        "1",
        "12",
    )
    assert float(line["mean"]) == pytest.approx(7 / 12, abs=1e-4)
    assert float(line["full_marks"]) == pytest.approx(7 / 12, abs=1e-4)
    assert float(line["attempted"]) == pytest.approx(9 / 12, abs=1e-4)
    markdown = (graded.out / "summary.md").read_text()
    assert "| Exercise 2.4 (what-is-a-loss-4) | 1 | 12 | 0.58 | 58% | 75% |" in markdown
    assert "| invalid | 2 |" in markdown and "| ok | 10 |" in markdown
    assert all(f"| {status} | " in markdown for status in STATUSES)


def test_rerun_keeps_every_output(graded: Graded) -> None:
    """Grading the same folder again into the same output grades nothing and rewrites
    grades.csv and the summary byte for byte, per-exercise columns included (kept in the audit
    log)."""
    before = {n: (graded.out / n).read_bytes() for n in ("grades.csv", "summary.csv", "summary.md")}
    run = lossmod_cli(
        "grade",
        str(graded.root / "submissions"),
        "--out",
        str(graded.out),
        "--seed-file",
        str(graded.root / "seed.txt"),
        "--assignment",
        CHAPTER,
        *LIMITS,
        tmp=graded.root / "tmp",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"0 graded, {len(graded.rows)} unchanged" in run.stderr
    assert {n: (graded.out / n).read_bytes() for n in before} == before


def test_benchmark_quick_mode_runs() -> None:
    """benchmarks/grading.py --quick grades a few lesson notebooks both ways and prints both
    figures, every submission ok."""
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "grading.py"), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "per submission, graded alone: median" in run.stdout
    assert "statuses {'ok': 6}" in run.stdout
