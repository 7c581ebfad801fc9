"""The benchmark harness still runs (its quick mode: tiny sizes, one repeat), so it cannot rot.
Its timings are not asserted here: CI machines are shared and noisy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_loss_benchmark_quick_mode_prints_every_row() -> None:
    """Every loss appears, for both dtypes and both modes, with lossmod's time and its ratio to
    the machine's bound."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "losses.py"), "--quick"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    names = {row[0] for row in rows}
    assert {"mse", "mae", "huber", "bce_with_logits", "cross_entropy", "kl_div"} <= names
    assert len(rows) == 28  # 4 elementwise losses x 2 dtypes x 2 modes, + CE C=10, C=1000 and KL
    for row in rows:
        mode = "value+grad" if "value+grad" in row else "value"
        assert float(row[row.index(mode) + 1]) > 0  # lossmod's milliseconds
        assert any(cell.endswith("x") and float(cell[:-1]) > 0 for cell in row)  # the bound ratio
