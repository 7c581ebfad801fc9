"""``python -m lossmod``: the ``lossmod`` command
(see :mod:`lossmod.exercises.cli`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from lossmod.exercises.cli import main as cli

    return cli(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
