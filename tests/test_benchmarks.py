"""The benchmark harness still runs (its quick mode: tiny sizes, one repeat), so it cannot rot.
Its timings are not asserted here: CI machines are shared and noisy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_loss_benchmark_quick_mode_prints_every_row() -> None:
    """Every loss appears, for both dtypes and the three modes (value, grad, value+grad), with
    lossmod's time and its ratio to the machine's bound; then the machine's bounds, the training
    comparison with scikit-learn's MLPClassifier and the import time."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "losses.py"), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("bounds at") and "GB/s" in lines[1] and "ns per" in lines[1]
    table = lines[4 : lines.index("")]
    rows = [line.split() for line in table]
    names = {row[0] for row in rows}
    assert {"mse", "mae", "huber", "bce_with_logits", "cross_entropy", "kl_div"} <= names
    # 4 elementwise losses x 2 dtypes x 3 modes, + CE C=10, C=1000 and KL, each x 2 x 3
    assert len(rows) == 42
    for row in rows:
        mode = next(m for m in ("value+grad", "grad", "value") if m in row)
        assert float(row[row.index(mode) + 1]) > 0  # lossmod's milliseconds
        assert any(cell.endswith("x") and float(cell[:-1]) > 0 for cell in row)  # the bound ratio
    for mode in ("value", "grad", "value+grad"):
        assert sum(mode in row for row in rows) == 14
    rest = "\n".join(lines[lines.index("") :])
    assert "training: load_digits" in rest and "MLPClassifier" in rest and "lossmod " in rest
    assert "import: numpy" in rest and "lossmod adds" in rest
    # the goals, each met, missed (with its rows) or not timed at --quick's sizes
    goals = rest[rest.index("goals:") :].splitlines()[1:]
    assert len(goals) == 7
    assert all(line.split()[0] in ("met", "MISS", "-") for line in goals)
    assert any(line.startswith("  -    value+grad at 1e7") for line in goals)
