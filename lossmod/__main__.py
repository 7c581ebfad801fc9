"""``python -m lossmod check NOTEBOOK`` and
``python -m lossmod grade SUBMISSION... --out DIR`` (the ``lossmod``
command): see :mod:`lossmod.grading.cli`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from lossmod.grading.cli import main as cli

    return cli(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
