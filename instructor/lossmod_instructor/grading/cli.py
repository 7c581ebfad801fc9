"""The grader's command line: ``lossmod grade SUBMISSION... --out DIR`` (also
``python -m lossmod_instructor grade``)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

from lossmod_instructor.grading import batch, outputs, sandbox
from lossmod_instructor.grading.progress import Progress

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"512M"``, ``"1G"``, ``"1.5GiB"`` or a number of bytes."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"a size like 512M or 2G; got {text!r}")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def parser() -> argparse.ArgumentParser:
    grade = argparse.ArgumentParser(
        prog="lossmod grade",
        description="Grade learners' notebooks with the public and hidden checks (instructors).",
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
    grade.add_argument("--timeout", type=float, default=10.0, help="seconds per check call")
    grade.add_argument(
        "--notebook-timeout",
        type=float,
        default=120.0,
        help="wall-clock seconds for a whole notebook",
    )
    grade.add_argument("--memory", type=parse_size, default="1G", help="address space per child")
    seed = grade.add_mutually_exclusive_group(required=True)
    seed.add_argument("--seed", type=int, help="the seed of the hidden checks; keep it private")
    seed.add_argument("--seed-file", type=Path, help="a file holding the seed")
    grade.add_argument(
        "--assignment",
        action="append",
        default=[],
        metavar="ID_OR_CHAPTER",
        help="grade these exercises (default: the chapters each notebook checks)",
    )
    grade.add_argument("--all-cells", action="store_true", help="run every cell in full")
    grade.add_argument("--force", action="store_true", help="regrade unchanged submissions")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.add_argument("--processes", type=int, default=0, help=argparse.SUPPRESS)  # tests only
    return grade


def main(argv: list[str] | None = None) -> int:
    """``lossmod grade ARGS``: ``argv`` holds the arguments after ``grade``."""
    return grade(parser().parse_args(argv))


# ---------------------------------------------------------------------------------------------


def notebooks(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def student_names(paths: list[Path]) -> list[str]:
    """Each notebook's student: its file name, or its folder's when file names repeat
    (``submission_123/homework.ipynb``), or both."""
    for names in (
        [p.stem for p in paths],
        [p.parent.name for p in paths],
        [f"{p.parent.name}__{p.stem}" for p in paths],
    ):
        if len(set(names)) == len(names):
            return names
    repeated = [n for n, c in Counter(p.stem for p in paths).items() if c > 1]
    raise ValueError(f"two submissions have the same name: {', '.join(repeated)}")


def grade(args: argparse.Namespace) -> int:
    started = time.monotonic()
    seed = args.seed if args.seed is not None else int(args.seed_file.read_text().split()[0])
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
        reap_orphans=sandbox.become_subreaper(),
    )
    paths = notebooks(args.submissions)
    try:
        plan = batch.Plan(options)
        names = student_names(paths)
    except ValueError as error:
        print(f"lossmod grade: {error}", file=sys.stderr)
        return 2
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
            "submissions": len(paths),
        }
    )
    prints: dict[str, str] = {}
    rows: dict[str, tuple[str, float, float, str]] = {}
    progress = Progress(len(paths), enabled=not args.quiet)
    todo = []
    for path, name in zip(paths, names, strict=True):
        submission = batch.load_submission(path, name)
        ids = batch.graded_exercises(submission, plan)
        prints[name] = outputs.fingerprint(options, [plan.registry[i] for i in ids])
        record = previous.get(name)
        results = out / outputs.folder_name(name) / outputs.RESULTS
        if (
            not args.force
            and record is not None
            and results.exists()
            and record.get("sha256") == submission.sha256
            and record.get("fingerprint") == prints[name]
        ):
            rows[name] = (name, record["score"], record["max_score"], record["status"])
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
        results = outputs.results_json(graded)
        data = (json.dumps(results, indent=2, ensure_ascii=False) + "\n").encode()
        outputs.write_atomic(out / outputs.folder_name(student) / outputs.RESULTS, data)
        audit.append(outputs.graded_record(graded, prints[student]))
        rows[student] = (student, graded.score, graded.max_score, graded.status)
        progress.update(graded.status)

    try:
        batch.run(todo, options, done, plan)
    finally:
        progress.close()
        outputs.write_atomic(out / outputs.GRADES, outputs.grades_csv(list(rows.values())))
        seconds = round(time.monotonic() - started, 3)
        audit.append(
            {
                "event": "end",
                "graded": len(rows) - (len(paths) - len(todo)),
                "skipped": len(paths) - len(todo),
                "seconds": seconds,
                "warnings": plan.warnings,
            }
        )
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        print(
            f"{len(todo)} graded, {len(paths) - len(todo)} unchanged, in {seconds:.1f} s; "
            f"see {out / outputs.GRADES}",
            file=sys.stderr,
        )
    return 0
