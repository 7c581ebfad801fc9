"""The learner edition's text surgery (tools/learner_edition.py), on small made-up cells."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from learner_edition import without_solutions  # noqa: E402


def test_solution_blocks_go_and_the_exercise_text_stays_as_written() -> None:
    """A solution block is removed with the blank lines around it; the exercise's own code keeps
    its two blank lines between definitions (the test of the hand-out compares question texts)."""
    question = "Check yourself:\n\n```python\nx = 1\n\n\ndef f(beta):\n    return beta\n```"
    cell = (
        f"{question}\n\n:::{{solution}} a-1\n:class: dropdown\n\nThe answer.\n:::\n\n## References"
    )
    assert without_solutions(cell) == f"{question}\n\n## References"
    assert without_solutions(":::{solution} a-1\nx\n:::\n\nText") == "Text"
    assert without_solutions("A\n\n::::{solution} a\ny\n::::\n\n:::{solution} b\nz\n:::\n\nB") == (
        "A\n\nB"
    )
