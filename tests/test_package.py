"""The package as notebooks use it: cheap to import, every public name documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lossmod

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_pull_heavy_libraries() -> None:
    """`import lossmod` imports NumPy and nothing heavy: no scipy, scikit-learn or matplotlib."""
    code = (
        "import sys, lossmod; "
        "print(sorted(m for m in ('scipy', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_public_name_has_a_docstring_with_a_formula_or_summary() -> None:
    """Every name in lossmod.__all__ is documented (a summary line at least)."""
    for name in lossmod.__all__:
        obj = getattr(lossmod, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name


def test_every_loss_has_its_gradient_beside_it() -> None:
    """`python -c "import lossmod; print(sorted(lossmod.LOSSES))"` lists losses that each have a
    `<name>_grad` with the same parameters."""
    import inspect

    for name in lossmod.LOSSES:
        value, grad = getattr(lossmod, name), getattr(lossmod, f"{name}_grad")
        assert (
            inspect.signature(value).parameters.keys() == inspect.signature(grad).parameters.keys()
        )
    assert (ROOT / "lossmod" / "py.typed").exists()
