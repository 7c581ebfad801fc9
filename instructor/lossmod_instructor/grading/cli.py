"""The grader's command line (also ``python -m lossmod_instructor grade``)::

    lossmod grade SUBMISSION... --out DIR (--seed TEXT | --seed-file FILE) [options]
    lossmod grade gradescope --assignment ID_OR_CHAPTER (--seed TEXT | --seed-file FILE)
                             --out AUTOGRADER.zip [limits]

The first grades a class (:func:`grade`), the second writes a Gradescope autograder
(:mod:`~lossmod_instructor.grading.gradescope`). Mistakes fail loudly, with one line on stderr and
exit status 2: a path that does not exist, a folder without notebooks, a file that is not a
notebook, a seed file that cannot be read, an unknown assignment.

A submissions folder is searched without following links: a link, or anything else that is not
a regular file, among the notebooks is refused and reported as ``invalid`` for that entry. Each
notebook gets a student name, unique in the batch (:func:`student_names`), and each name its own
results folder (:func:`~lossmod_instructor.grading.outputs.folder_names`).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import hashlib
import os
import re
import stat
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lossmod.exercises import notebook

from lossmod_instructor.grading import batch, outputs, reports, sandbox
from lossmod_instructor.grading.progress import Progress

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", re.IGNORECASE)


class UsageError(Exception):
    """A mistake on the command line: one line, exit status 2."""


def parse_size(text: str) -> int:
    """``"512M"``, ``"1G"``, ``"1.5GiB"`` or a number of bytes."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"a size like 512M or 2G; got {text!r}")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def add_seed(parser: argparse.ArgumentParser) -> None:
    seed = parser.add_mutually_exclusive_group(required=True)
    seed.add_argument(
        "--seed",
        metavar="TEXT",
        help="the seed of the hidden checks, a whole number or any text (a passphrase); keep "
        "it private",
    )
    seed.add_argument("--seed-file", type=Path, metavar="FILE", help="a file holding the seed")


def add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per check call")
    parser.add_argument(
        "--notebook-timeout",
        type=float,
        default=120.0,
        help="wall-clock seconds for a whole notebook",
    )
    parser.add_argument("--memory", type=parse_size, default="1G", help="address space per child")
    parser.add_argument("--all-cells", action="store_true", help="run every cell in full")


def parser() -> argparse.ArgumentParser:
    grade = argparse.ArgumentParser(
        prog="lossmod grade",
        description="Grade learners' notebooks with the public and hidden checks (instructors). "
        "`lossmod grade gradescope --help`: write a Gradescope autograder instead.",
    )
    grade.add_argument(
        "submissions",
        nargs="+",
        type=Path,
        metavar="SUBMISSION",
        help="notebooks, or folders searched for notebooks",
    )
    grade.add_argument("--out", type=Path, required=True, help="where results are written")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    add_limits(grade)
    add_seed(grade)
    grade.add_argument(
        "--assignment",
        action="append",
        default=[],
        metavar="ID_OR_CHAPTER",
        help="grade these exercises (default: the chapters each notebook checks)",
    )
    grade.add_argument("--force", action="store_true", help="regrade unchanged submissions")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.add_argument("--processes", type=int, default=0, help=argparse.SUPPRESS)  # tests only
    return grade


def main(argv: list[str] | None = None) -> int:
    """``lossmod grade ARGS``: ``argv`` holds the arguments after ``grade``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gradescope"]:
        from lossmod_instructor.grading import gradescope

        return gradescope.main(argv[1:])
    return grade(parser().parse_args(argv))


# ---------------------------------------------------------------------------------------------
# The seed

_WHOLE_NUMBER = re.compile(rb"[0-9]+")
MAX_SEED_FILE = 1 << 20


def seed_from_text(text: bytes) -> int:
    """The seed a text stands for: a whole number is itself (as it always was); any other text,
    a passphrase, is hashed (the first 128 bits of its SHA-256). Surrounding white space does
    not count, so a file's final newline changes nothing."""
    text = text.strip()
    if not text:
        raise UsageError("the seed is empty")
    if _WHOLE_NUMBER.fullmatch(text):
        return int(text)
    return int.from_bytes(hashlib.sha256(text).digest()[:16], "big")


def read_seed(seed: str | None, seed_file: Path | None) -> int:
    """The seed given by ``--seed`` or read from ``--seed-file``."""
    if seed is not None:
        return seed_from_text(os.fsencode(seed))
    assert seed_file is not None
    try:
        with seed_file.open("rb") as file:
            data = file.read(MAX_SEED_FILE + 1)
    except OSError as error:
        raise UsageError(
            f"cannot read the seed file {seed_file}: {error.strerror or error}"
        ) from None
    if len(data) > MAX_SEED_FILE:
        raise UsageError(f"the seed file {seed_file} is larger than 1 MB: is it the right file?")
    if not data.strip():
        raise UsageError(f"the seed file {seed_file} is empty")
    return seed_from_text(data)


# ---------------------------------------------------------------------------------------------
# Finding the submissions


SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", "__MACOSX"})
LINK = "is a symbolic link: refused, never followed (hand in the notebook file itself)"
FOLDER_LINK = "is a symbolic link to a folder: refused, never followed"
NOT_REGULAR = "is not a regular file (a pipe, a socket or a device): refused"


@dataclass(frozen=True)
class Found:
    """A notebook to grade, or an entry refused (``problem`` says why); ``root`` is the folder
    named on the command line it was found in. A file named on the command line itself is
    ``chosen``: the instructor named it, so a link there is followed."""

    path: Path
    root: Path
    problem: str | None = None
    chosen: bool = False


def _is_notebook(name: str) -> bool:
    return name.lower().endswith(".ipynb")


def _walk(folder: Path) -> list[Found]:
    """The notebooks under ``folder`` and the entries refused, without following any link and
    without recursion (a folder nested thousands deep is walked like any other)."""
    found: list[Found] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as scan:
                entries = sorted(scan, key=lambda e: e.name, reverse=True)
        except OSError as error:
            if current == folder:
                raise UsageError(f"cannot read the folder {folder}: {error.strerror}") from None
            found.append(Found(current, folder, f"is a folder that cannot be read ({error})"))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    if _is_notebook(entry.name):
                        found.append(Found(path, folder, LINK))
                    elif entry.is_dir():  # asks the target's type, reads nothing through it
                        found.append(Found(path, folder, FOLDER_LINK))
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED_FOLDERS:
                        stack.append(path)
                elif _is_notebook(entry.name):
                    regular = entry.is_file(follow_symlinks=False)
                    found.append(Found(path, folder, None if regular else NOT_REGULAR))
            except OSError as error:
                found.append(Found(path, folder, f"cannot be read ({error.strerror})"))
    return sorted(found, key=lambda f: f.path)


def find_submissions(paths: Sequence[Path]) -> list[Found]:
    """Every notebook named on the command line, or found in a folder named there; a
    UsageError for a path that does not exist, a folder without notebooks or a file that is not
    a notebook."""
    found: list[Found] = []
    for path in paths:
        if not os.path.lexists(path):
            raise UsageError(f"no such file or folder: {path}")
        if path.is_dir():
            inside = _walk(path)
            if not inside:
                empty = not any(True for _ in os.scandir(path))
                raise UsageError(
                    f"the folder {path} is empty" if empty else f"no notebook (*.ipynb) in {path}"
                )
            found += inside
        elif _is_notebook(path.name):
            found.append(Found(path, path.parent, chosen=True))
        else:
            raise UsageError(f"not a notebook (*.ipynb): {path}")
    unique: dict[str, Found] = {}
    for item in found:
        unique.setdefault(os.path.abspath(item.path), item)
    return list(unique.values())


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(text: str) -> str:
    """A file name as text: invalid UTF-8 bytes as U+FFFD, control characters as ``?``."""
    return _CONTROL.sub("?", os.fsencode(text).decode("utf-8", "replace"))


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            path = path.relative_to(root)
        except ValueError:
            pass
    parts = [_shown(part) for part in path.with_suffix("").parts]
    return "/" + "/".join(parts[1:]) if path.is_absolute() else "/".join(parts)


def student_names(paths: Sequence[Path], roots: Sequence[Path] | None = None) -> list[str]:
    """Each notebook's student, unique in the batch: its file name; or, when file names repeat
    (``submission_123/homework.ipynb``), its folder's; or both; or its path inside the folder
    named on the command line (``roots``); or its whole path. Names are text (a file name's
    invalid UTF-8 bytes become U+FFFD); should two still be equal, the later get ``(2)``,
    ``(3)``..."""
    bases = list(roots) if roots is not None else [None] * len(paths)
    candidates = (
        [_shown(p.stem) for p in paths],
        [_shown(p.parent.name) for p in paths],
        [f"{_shown(p.parent.name)}__{_shown(p.stem)}" for p in paths],
        [_relative(p, r) for p, r in zip(paths, bases, strict=True)],
        [_relative(p, None) for p in paths],
        [_relative(Path(os.path.abspath(p)), None) for p in paths],
    )
    for names in candidates:
        if len(set(names)) == len(names) and all(names):
            return names
    numbered: list[str] = []
    for name in candidates[0]:  # the same file twice
        unique, count = name, 1
        while unique in numbered:
            count += 1
            unique = f"{name} ({count})"
        numbered.append(unique)
    return numbered


def read_submission(found: Found, student: str) -> batch.Submission:
    """Read a notebook (size-capped) without following a link (unless the instructor named the
    file) and without blocking on a pipe; anything but a regular file is refused."""
    if found.problem is not None:
        return batch.Submission(found.path, student, b"", "", problem=found.problem)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if found.chosen else os.O_NOFOLLOW)
    try:
        fd = os.open(found.path, flags)
    except OSError as error:
        problem = LINK if error.errno == errno.ELOOP else f"cannot be read ({error.strerror})"
        return batch.Submission(found.path, student, b"", "", problem=problem)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return batch.Submission(found.path, student, b"", "", problem=NOT_REGULAR)
        try:
            data = file.read(notebook.MAX_BYTES + 1)
        except OSError as error:
            problem = f"cannot be read ({error.strerror})"
            return batch.Submission(found.path, student, b"", "", problem=problem)
    return batch.Submission(found.path, student, data, hashlib.sha256(data).hexdigest())


def checked_chapters(submission: batch.Submission, plan: batch.Plan) -> set[str]:
    """The chapters of the registered exercises a submission checks (none when unreadable)."""
    if submission.problem is not None:
        return set()
    try:
        return plan.chapters(notebook.exercise_calls(notebook.read_cells(submission.data)))
    except notebook.NotebookError:
        return set()


# ---------------------------------------------------------------------------------------------
# Grading a class


def grade(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        seed = read_seed(args.seed, args.seed_file)
        found = find_submissions(args.submissions)
        limits = sandbox.Limits(
            check_timeout=args.timeout,
            notebook_timeout=args.notebook_timeout,
            memory=args.memory,
            processes=args.processes,
        )
        options = batch.Options(
            seed=seed,
            limits=limits,
            jobs=max(args.jobs, 1),
            all_cells=args.all_cells,
            assignment=tuple(args.assignment),
        )
        plan = batch.Plan(options)
    except (UsageError, ValueError) as error:
        print(f"lossmod grade: {error}", file=sys.stderr)
        return 2
    options = dataclasses.replace(options, reap_orphans=sandbox.become_subreaper())
    names = student_names([f.path for f in found], [f.root for f in found])
    folders = outputs.folder_names(names)
    submissions = [read_submission(f, n) for f, n in zip(found, names, strict=True)]
    notes = plan.off_chapter({s.student: checked_chapters(s, plan) for s in submissions})
    for student, note in notes.items():
        print(f"warning: {student}: {note}", file=sys.stderr)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    audit = outputs.Audit(out)
    previous = audit.last_graded()
    audit.append(
        {
            "event": "run",
            "seed": seed,
            "versions": outputs.versions(),
            "options": outputs.describe(options),
            "submissions": len(submissions),
        }
    )
    prints: dict[str, str] = {}
    rows: dict[str, outputs.Row] = {}
    progress = Progress(len(submissions), enabled=not args.quiet)
    todo = []
    for submission in submissions:
        name, folder = submission.student, folders[submission.student]
        said = [notes[name]] if name in notes else []
        ids = batch.graded_exercises(submission, plan)
        prints[name] = outputs.fingerprint(options, [plan.registry[i] for i in ids], said)
        record = previous.get(name)
        kept = outputs.row_from_record(record) if record is not None else None
        if (
            not args.force
            and record is not None
            and kept is not None
            and record.get("folder") == folder
            and (out / folder / outputs.RESULTS).exists()
            and (out / outputs.FEEDBACK / f"{folder}.md").exists()
            and record.get("sha256") == submission.sha256
            and record.get("fingerprint") == prints[name]
        ):
            rows[name] = kept
            audit.append({"event": "skipped", "student": name, "sha256": submission.sha256})
            progress.update("unchanged")
        else:
            todo.append(submission)

    warned: list[str] = []

    def done(graded: batch.Graded) -> None:
        weak = graded.sandbox and not (
            graded.sandbox.get("landlock") and graded.sandbox.get("seccomp")
        )
        if weak and not warned:
            warned.append(
                f"warning: confinement incomplete on this machine ({graded.sandbox}): "
                "submissions may read or change your files; grade as a separate user"
            )
            print(warned[0], file=sys.stderr)
        student = graded.submission.student
        folder, said = folders[student], [notes[student]] if student in notes else []
        results = outputs.results_json(graded, said)
        outputs.write_atomic(out / folder / outputs.RESULTS, outputs.json_bytes(results))
        feedback = reports.feedback_markdown(graded, said)
        outputs.write_atomic(out / outputs.FEEDBACK / f"{folder}.md", outputs.text_bytes(feedback))
        audit.append(outputs.graded_record(graded, prints[student], folder, said))
        rows[student] = outputs.row(graded)
        progress.update(graded.status)

    try:
        batch.run(todo, options, done, plan)
    finally:
        progress.close()
        graded_rows = list(rows.values())
        assigned = list(plan.assignment or [])
        columns = outputs.book_order([i for r in graded_rows for i in r.marks] + assigned)
        outputs.write_atomic(out / outputs.GRADES, outputs.grades_csv(graded_rows, columns))
        summary = reports.summary_csv(graded_rows, columns, assigned)
        outputs.write_atomic(out / outputs.SUMMARY_CSV, summary)
        summary = reports.summary_markdown(graded_rows, columns, assigned)
        outputs.write_atomic(out / outputs.SUMMARY_MD, summary)
        seconds = round(time.monotonic() - started, 3)
        audit.append(
            {
                "event": "end",
                "graded": len(rows) - (len(submissions) - len(todo)),
                "skipped": len(submissions) - len(todo),
                "seconds": seconds,
                "warnings": plan.warnings,
            }
        )
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        counts = Counter(r.status for r in rows.values())
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(
            f"{len(todo)} graded, {len(submissions) - len(todo)} unchanged ({statuses}), in "
            f"{seconds:.1f} s; see {out / outputs.GRADES}, {out / outputs.SUMMARY_MD} and "
            f"{out / outputs.FEEDBACK}/",
            file=sys.stderr,
        )
    return 0
