"""The exercises of every chapter, one module each (``mse.py`` for
chapters/mse.ipynb): reference solutions, oracles, hidden cases. The
registry is :mod:`lossmod_instructor.registry`; ``EXERCISES`` and
``WRITTEN`` are built on first use."""

from typing import Any

from lossmod_instructor import registry
from lossmod_instructor.registry import (
    Case,
    Exercise,
    broadcast_row_case,
    library_oracle,
    reduction_cases,
    solution,
    starter_cell,
    stub_source,
)

__all__ = [
    "EXERCISES",
    "WRITTEN",
    "Case",
    "Exercise",
    "broadcast_row_case",
    "library_oracle",
    "reduction_cases",
    "solution",
    "starter_cell",
    "stub_source",
]


def __getattr__(name: str) -> Any:
    if name in ("EXERCISES", "WRITTEN"):
        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
