"""``python -m lossmod_instructor COMMAND``: the course platform's commands.

grade SUBMISSION... --out DIR --seed-file FILE   grade learners' notebooks (same as
                                                ``lossmod grade``; --help for the options)
publish                                         rewrite lossmod/exercises/catalogue.json
                                                from the book and the reference solutions
grade gradescope --assignment ID --seed-file FILE --out autograder.zip
                                                write a Gradescope autograder
sync [NOTEBOOK...]                              rewrite stale starting cells of the chapter
                                                notebooks from the solutions
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("--help", [])
    if command == "grade":
        from lossmod_instructor.grading.cli import main as grade

        return grade(rest)
    if command == "publish":
        from lossmod_instructor.publish import TARGET, publish

        print(f"{TARGET}: {'rewritten' if publish() else 'up to date'}")
        return 0
    if command == "sync":
        from lossmod_instructor.publish import ROOT
        from lossmod_instructor.sync import sync

        notebooks = [Path(a) for a in rest] or sorted((ROOT / "chapters").glob("*.ipynb"))
        for notebook in notebooks:
            for exercise_id in sync(notebook):
                print(f"{notebook}: rewrote the starting cell of {exercise_id}; re-execute it")
        return 0
    print(__doc__.strip())
    return 0 if command in ("-h", "--help", "help") else 2


def cli() -> int:
    """The ``lossmod-instructor`` command."""
    return main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(cli())
