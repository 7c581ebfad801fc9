"""The ``lossmod`` command (also ``python -m lossmod``).

  lossmod check NOTEBOOK      run the public checks of every exercise a notebook checks
  lossmod exercises [CHAPTER] list the book's exercises: number, id, kind, chapter and task
  lossmod grade ...           grade learners' notebooks (instructors; needs the course
                              platform, lossmod-instructor, installed)

``python -m lossmod.exercises`` is ``lossmod exercises``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from lossmod.exercises import catalogue


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="lossmod",
        description="Check your exercises, list them, or (instructors) grade them.",
    )
    commands = main.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="run the public checks of every exercise a notebook checks",
        description="Run the public checks of every exercise a notebook checks, as its "
        "check(...) cells do, and end with a summary line. Exit status 0 when every "
        "exercise passes.",
    )
    check.add_argument("notebook", type=Path, help="a lesson notebook (.ipynb)")
    check.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds per check call",
    )
    check.add_argument("--all-cells", action="store_true", help="run every cell in full")
    listing = commands.add_parser(
        "exercises",
        aliases=["list"],
        help="list the book's exercises",
        description="List every exercise of the book, written ones included: its number, "
        "id, kind, chapter and task.",
    )
    listing.add_argument("chapter", nargs="?", help="only this chapter (e.g. mse)")
    commands.add_parser(
        "grade",
        help="grade learners' notebooks (instructors; `lossmod grade --help`)",
        add_help=False,
    )
    return main


def list_exercises(chapter: str | None = None) -> int:
    known = catalogue()
    chapters = sorted({e.chapter for e in known.values()})
    if chapter is not None and chapter not in chapters:
        print(
            f"lossmod exercises: no chapter {chapter!r}; the chapters with exercises are "
            f"{', '.join(chapters)}",
            file=sys.stderr,
        )
        return 2
    shown = None
    for exercise in known.values():
        if chapter is not None and exercise.chapter != chapter:
            continue
        if exercise.chapter != shown:
            shown = exercise.chapter
            number = exercise.number.split(".")[0]
            print(f"\nChapter {number}, {exercise.chapter_title} ({exercise.chapter})")
        kind = f"write {exercise.function}" if exercise.kind == "code" else "written"
        line = f"  Exercise {exercise.number:5} {exercise.id:20} {exercise.task} [{kind}]"
        print(textwrap.fill(line, 100, subsequent_indent=" " * 35))
    written = sum(e.kind == "written" for e in known.values())
    print(
        f"\n{len(known)} exercises: {len(known) - written} with code that `check` tests, "
        f"{written} written (derivations and explorations)."
    )
    return 0


def grade(argv: list[str]) -> int:
    try:
        from lossmod_instructor.grading.cli import main as grade_main
    except ImportError:
        print(
            "lossmod grade: grading is for instructors and needs the course platform "
            "(lossmod-instructor), which is not installed here. Learners: `lossmod check "
            "NOTEBOOK` runs the public checks.",
            file=sys.stderr,
        )
        return 2
    return grade_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["grade"]:
        return grade(argv[1:])
    args = parser().parse_args(argv)
    if args.command == "check":
        from lossmod.exercises.check_notebook import main as check_main

        return check_main(args.notebook, timeout=args.timeout, all_cells=args.all_cells)
    if args.command in ("exercises", "list"):
        return list_exercises(args.chapter)
    parser().print_help()
    return 0
