"""Accuracy at extreme inputs against a 60-digit reference computed with mpmath.

Relative error <= 1e-12 in float64 and <= 1e-6 in float32, wherever the true value is not below
1e-300 (below that, float64 cannot represent it with full relative precision anyway). The
reference is computed from the input values exactly as they are stored in the given precision.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import lossmod

mpmath.mp.dps = 60
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-6}
LOGITS = [-1e4, -1000.0, -40.0, -20.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 40.0, 1000.0, 1e4]


def softplus_ref(z: float) -> mpmath.mpf:
    return mpmath.log1p(mpmath.exp(mpmath.mpf(z)))


def assert_accurate(computed: np.ndarray, reference: list[mpmath.mpf], dtype: type) -> None:
    """Relative error of each element against the reference, where the reference is >= 1e-300."""
    assert computed.dtype == dtype
    for value, exact in zip(np.ravel(computed), reference, strict=True):
        if abs(exact) < mpmath.mpf("1e-300"):
            assert abs(float(value)) < 1e-290
            continue
        error = abs((mpmath.mpf(float(value)) - exact) / exact)
        assert error <= TOLERANCE[dtype], f"{float(value)!r} vs {mpmath.nstr(exact, 20)}: {error}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label", [0.0, 1.0, 0.3])
def test_bce_with_logits(dtype: type, label: float) -> None:
    """(1 - y) softplus(z) + y softplus(-z) for logits from -1e4 to 1e4."""
    z = np.array(LOGITS, dtype=dtype)
    y = np.full_like(z, label)
    computed = lossmod.bce_with_logits(z, y, reduction="none")
    y_exact = mpmath.mpf(float(y[0]))
    reference = [
        (1 - y_exact) * softplus_ref(float(v)) + y_exact * softplus_ref(-float(v)) for v in z
    ]
    assert_accurate(computed, reference, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_primitives(dtype: type) -> None:
    """softplus, log_sigmoid and sigmoid over the same range of logits."""
    z = np.array(LOGITS, dtype=dtype)
    assert_accurate(lossmod.softplus(z), [softplus_ref(float(v)) for v in z], dtype)
    assert_accurate(lossmod.log_sigmoid(z), [-softplus_ref(-float(v)) for v in z], dtype)
    assert_accurate(lossmod.sigmoid(z), [1 / (1 + mpmath.exp(-mpmath.mpf(float(v)))) for v in z],
                    dtype)  # fmt: skip


def cross_entropy_ref(row: np.ndarray, label: int) -> mpmath.mpf:
    values = [mpmath.mpf(float(v)) for v in row]
    return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in values)) - values[label]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_and_logsumexp(dtype: type) -> None:
    """-log softmax(z)_y and logsumexp for rows mixing logits of +-1e4, +-1000, 20 and 0,
    including confidently correct rows (loss ~ e^-20) and confident mistakes (loss ~ 2e4)."""
    rows = np.array(
        [
            [1e4, -1e4, 0.0],
            [-1e4, 1e4, 0.0],
            [20.0, 0.0, 0.0],
            [1000.0, 999.0, -1000.0],
            [1e4, 1e4, 1e4],
            [0.1, 0.2, 0.3],
            [-1e4, -1e4 + 1, -1e4 + 2],
        ],
        dtype=dtype,
    )
    for label in range(3):
        labels = np.full(len(rows), label)
        computed = lossmod.cross_entropy(rows, labels, reduction="none")
        assert_accurate(computed, [cross_entropy_ref(row, label) for row in rows], dtype)
    reference = [mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in r)) for r in rows]
    assert_accurate(lossmod.logsumexp(rows), reference, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_with_exact_zeros_and_ones(dtype: type) -> None:
    """Targets with probabilities of exactly 0 and 1: D_KL(p || q) = sum over p > 0 only."""
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.25, 0.75]], dtype=dtype)
    q = np.array([[1e-30, 0.5, 0.5 - 1e-30], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]], dtype=dtype)
    reference = []
    for p_row, q_row in zip(p, q, strict=True):
        reference.append(mpmath.fsum(
            mpmath.mpf(float(a)) * mpmath.log(mpmath.mpf(float(a)) / mpmath.mpf(float(b)))
            for a, b in zip(p_row, q_row, strict=True) if a > 0
        ))  # fmt: skip
    assert_accurate(lossmod.kl_divergence(p, q, reduction="none"), reference, dtype)
    batch = lossmod.kl_div(np.log(q), p, reduction="none").sum(axis=1)
    np.testing.assert_allclose(batch, [float(r) for r in reference], rtol=10 * TOLERANCE[dtype])


def test_float32_mean_over_ten_million_logits() -> None:
    """A float32 mean of 1e7 per-sample losses keeps a relative error <= 1e-6."""
    z = np.full(10_000_000, 2.0, dtype=np.float32)
    computed = lossmod.bce_with_logits(z, np.ones_like(z))
    exact = softplus_ref(-2.0)
    assert abs((mpmath.mpf(float(computed)) - exact) / exact) <= 1e-6
