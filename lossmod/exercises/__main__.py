"""``python -m lossmod.exercises sync [NOTEBOOK ...]``: rewrite stale
starting cells.

``python -m lossmod.exercises list`` prints the registered exercises.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lossmod.exercises import EXERCISES
from lossmod.exercises._sync import sync


def main(argv: list[str]) -> int:
    if argv[:1] == ["list"]:
        for exercise in EXERCISES.values():
            print(
                f"{exercise.id:24} {exercise.points} pt  {exercise.task}"
            )
        return 0
    if argv[:1] == ["sync"]:
        notebooks = [Path(a) for a in argv[1:]] or sorted(
            Path("chapters").rglob("*.ipynb")
        )
        for notebook in notebooks:
            for exercise_id in sync(notebook):
                print(
                    f"{notebook}: rewrote the starting cell of "
                    f"{exercise_id}; re-execute it"
                )
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
