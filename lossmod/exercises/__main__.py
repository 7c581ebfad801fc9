"""``python -m lossmod.exercises [CHAPTER]``: the book's exercises, as ``lossmod exercises``
lists them (``--help`` for the ``lossmod`` command's other uses)."""

from __future__ import annotations

import sys

from lossmod.exercises.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not argv or argv[0] not in (
        "exercises",
        "list",
        "check",
        "grade",
        "-h",
        "--help",
    ):
        argv = ["exercises", *argv]
    raise SystemExit(main(argv))
