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
    assert_accurate(
        lossmod.sigmoid(z), [1 / (1 + mpmath.exp(-mpmath.mpf(float(v)))) for v in z], dtype
    )


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
        reference.append(
            mpmath.fsum(
                mpmath.mpf(float(a)) * mpmath.log(mpmath.mpf(float(a)) / mpmath.mpf(float(b)))
                for a, b in zip(p_row, q_row, strict=True)
                if a > 0
            )
        )
    assert_accurate(lossmod.kl_divergence(p, q, reduction="none"), reference, dtype)
    batch = lossmod.kl_div(np.log(q), p, reduction="none").sum(axis=1)
    np.testing.assert_allclose(batch, [float(r) for r in reference], rtol=10 * TOLERANCE[dtype])


def test_float32_mean_over_ten_million_logits() -> None:
    """A float32 mean of 1e7 per-sample losses keeps a relative error <= 1e-6."""
    z = np.full(10_000_000, 2.0, dtype=np.float32)
    computed = lossmod.bce_with_logits(z, np.ones_like(z))
    exact = softplus_ref(-2.0)
    assert abs((mpmath.mpf(float(computed)) - exact) / exact) <= 1e-6


# --- Extremes through every reduction, the gradients, and both code paths ---------------------


def bce_ref(z: float, y: float) -> mpmath.mpf:
    y_exact = mpmath.mpf(y)
    return (1 - y_exact) * softplus_ref(z) + y_exact * softplus_ref(-z)


def sigmoid_ref(z: float) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-mpmath.mpf(z)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_bce_with_logits_reduced_at_extremes(dtype: type, reduction: str) -> None:
    """Sum and mean over logits of +-1000 and +-1e4 with both labels, mixed with moderate ones:
    the result has the accuracy of its precision (a 1e4 loss does not swamp the rest)."""
    z = np.array([1e4, -1e4, 1000.0, -1000.0, 20.0, -20.0, 0.5], dtype=dtype)
    for label in (0.0, 1.0, 0.25):
        y = np.full_like(z, label)
        exact = mpmath.fsum(bce_ref(float(v), float(y[0])) for v in z)
        if reduction == "mean":
            exact /= len(z)
        computed = lossmod.bce_with_logits(z, y, reduction=reduction)
        assert_accurate(np.array([computed]), [exact], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_grad_at_extremes(dtype: type) -> None:
    """d/dz = sigmoid(z) - y, with sigmoid(-z) computed directly: its tiny values at z = 20, 40
    and 1000 keep full relative accuracy (1 - sigmoid(z) would round them to 0)."""
    z = np.array(LOGITS, dtype=dtype)
    for label in (0.0, 1.0):
        y = np.full_like(z, label)
        grad = lossmod.bce_with_logits_grad(z, y, reduction="sum")
        assert_accurate(grad, [sigmoid_ref(float(v)) - label for v in z], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_confidently_correct_float32_mean_keeps_its_tail(dtype: type) -> None:
    """100 000 confidently correct predictions, |z| = 20: each loss is softplus(-20), about 2e-9,
    and so is their mean, to full relative accuracy (a float32 running sum of losses near 1 would
    absorb it). Also mixed with a few large losses: the sum keeps both."""
    n = 100_000
    z = np.where(np.arange(n) % 2 == 0, 20.0, -20.0).astype(dtype)
    y = (z > 0).astype(dtype)
    mean = lossmod.bce_with_logits(z, y)
    assert mean.dtype == dtype
    assert_accurate(np.array([mean]), [softplus_ref(-20.0)], dtype)
    z[:3] = -z[:3]  # three confident mistakes, each costing about 20
    total = lossmod.bce_with_logits(z, y, reduction="sum")
    exact = 3 * softplus_ref(20.0) + (n - 3) * softplus_ref(-20.0)
    assert_accurate(np.array([total]), [exact], dtype)


EXTREME_ROWS = [
    [1e4, -1e4, 0.0],
    [-1e4, 1e4, 0.0],
    [1000.0, -1000.0, 999.0],
    [20.0, 0.0, 0.0],
    [-20.0, 0.0, 0.0],
    [1e4, 1e4, 1e4],
    [-1e4, -1e4 + 1, -1e4 + 2],
]


def softmax_ref(row: np.ndarray) -> list[mpmath.mpf]:
    values = [mpmath.mpf(float(v)) for v in row]
    total = mpmath.fsum(mpmath.exp(v) for v in values)
    return [mpmath.exp(v) / total for v in values]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("copies", [1, 100])
def test_cross_entropy_at_extremes_both_paths(dtype: type, copies: int) -> None:
    """-log softmax(z)_y for logits of +-1e4, +-1000 and confident rows (loss ~ e^-20): per row,
    summed and averaged, and the gradient softmax - onehot. 100 copies of the rows take the path
    for many short rows (lossmod._kernels.narrow), one copy the row-by-row path."""
    rows = np.tile(np.array(EXTREME_ROWS, dtype=dtype), (copies, 1))
    for label in range(3):
        labels = np.full(len(rows), label)
        per_row = [cross_entropy_ref(row, label) for row in rows[: len(EXTREME_ROWS)]] * copies
        assert_accurate(lossmod.cross_entropy(rows, labels, reduction="none"), per_row, dtype)
        total = lossmod.cross_entropy(rows, labels, reduction="sum")
        assert_accurate(np.array([total]), [mpmath.fsum(per_row)], dtype)
        mean = lossmod.cross_entropy(rows, labels)
        assert_accurate(np.array([mean]), [mpmath.fsum(per_row) / len(rows)], dtype)
        grad = lossmod.cross_entropy_grad(
            rows[: len(EXTREME_ROWS)], labels[: len(EXTREME_ROWS)], reduction="sum"
        )
        for row, computed in zip(rows, grad, strict=False):
            p = softmax_ref(row)
            others = [c for c in range(3) if c != label]
            assert_accurate(computed[others], [p[c] for c in others], dtype)
            # The true class's p_y - 1 is a difference: exact to the precision of 1, not of
            # itself (about 4e-9 for the row (20, 0, 0), where it has 8 correct digits).
            assert abs(mpmath.mpf(float(computed[label])) - (p[label] - 1)) <= TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_with_a_thousand_classes_at_extremes(dtype: type) -> None:
    """C = 1000: one logit of 1e4 (or 20) among 999 zeros; the loss of the true class and of
    another class, against the 60-digit reference."""
    for top in (1e4, 1000.0, 20.0):
        z = np.zeros((2, 1000), dtype=dtype)
        z[:, 7] = top
        labels = np.array([7, 8])
        exact = [cross_entropy_ref(z[0], 7), cross_entropy_ref(z[1], 8)]
        assert_accurate(lossmod.cross_entropy(z, labels, reduction="none"), exact, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_with_exact_zeros_and_ones(dtype: type, log_target: bool) -> None:
    """kl_div(log q, p) with p holding exact 0 and 1 (and log p = -inf, 0 for log_target): terms
    with p = 0 add nothing, even where log q = -inf; sum, batchmean and per-element values."""
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.25, 0.75]], dtype=dtype)
    q = np.array([[1e-30, 0.5, 0.5 - 1e-30], [0.1, 0.2, 0.7], [0.0, 0.3, 0.7]], dtype=dtype)
    with np.errstate(divide="ignore"):
        log_q, log_p = np.log(q), np.log(p)
    per_element = [
        mpmath.mpf(float(a)) * (mpmath.log(mpmath.mpf(float(a))) - mpmath.mpf(float(b)))
        if a > 0
        else mpmath.mpf(0)
        for a, b in zip(p.ravel(), log_q.ravel(), strict=True)
    ]
    target = log_p if log_target else p
    options = {"log_target": log_target}
    computed = lossmod.kl_div(log_q, target, reduction="none", **options)
    assert_accurate(computed, per_element, dtype)
    rows = [mpmath.fsum(per_element[3 * i : 3 * i + 3]) for i in range(3)]
    batchmean = lossmod.kl_div(log_q, target, reduction="batchmean", **options)
    assert_accurate(np.array([batchmean]), [mpmath.fsum(rows) / 3], dtype)
    assert lossmod.kl_div(log_q[:1], target[:1], reduction="sum", **options) == pytest.approx(
        -float(log_q[0, 0]), rel=TOLERANCE[dtype]
    )
    grad = lossmod.kl_div_grad(log_q, target, reduction="sum", **options)
    np.testing.assert_array_equal(grad, -p)


def test_float32_means_over_ten_million_elements_mse() -> None:
    """The mean squared error of 1e7 float32 pairs on a grid of 1/256 (so that the exact sum is
    an integer computed exactly): relative error <= 1e-6, in fact float32's last bit only."""
    rng = np.random.default_rng(7)
    i = rng.integers(-1024, 1024, size=10_000_000)
    j = rng.integers(-1024, 1024, size=10_000_000)
    pred, target = (i / 256).astype(np.float32), (j / 256).astype(np.float32)
    exact = mpmath.mpf(int(np.sum((i - j) ** 2))) / 65536 / 10_000_000
    computed = lossmod.mse(pred, target)
    assert computed.dtype == np.float32
    assert abs((mpmath.mpf(float(computed)) - exact) / exact) <= 1e-7
