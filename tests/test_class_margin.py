"""lossmod/class_margin.py: torch's multi-class margin, multi-label margin and multi-label
soft-margin losses against loops written from their definitions, scikit-learn's hinge_loss,
torch's documented examples and central differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import hinge_loss

import lossmod
from tests.helpers.cases import central_differences

REDUCTIONS = ["mean", "sum", "none"]


def reduce(values: list[float], reduction: str) -> object:
    array = np.array(values)
    return {"mean": array.mean(), "sum": array.sum(), "none": array}[reduction]


@pytest.fixture
def signs(rng: np.random.Generator) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=10)


# --- multilabel_soft_margin_loss ------------------------------------------------------------


def multilabel_soft_margin_by_hand(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> list[float]:
    def log_sigmoid(v: float) -> float:
        return -math.log1p(math.exp(-v)) if v >= 0 else v - math.log1p(math.exp(v))

    return [
        -sum(
            w[c] * (y[i, c] * log_sigmoid(x[i, c]) + (1 - y[i, c]) * log_sigmoid(-x[i, c]))
            for c in range(x.shape[1])
        )
        / x.shape[1]
        for i in range(x.shape[0])
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_by_hand(
    reduction: str, weighted: bool, rng: np.random.Generator
) -> None:
    """The weighted binary cross-entropy of each label, averaged over the C labels of a row, then
    reduced over rows; the gradient is w (sigmoid(x) - y) / C (central differences)."""
    x, y = 3 * rng.normal(size=(5, 4)), rng.integers(0, 2, size=(5, 4)).astype(float)
    w = rng.uniform(0.5, 2.0, size=4) if weighted else np.ones(4)
    weight = w if weighted else None
    expected = reduce(multilabel_soft_margin_by_hand(x, y, w), reduction)
    np.testing.assert_allclose(
        lossmod.multilabel_soft_margin_loss(x, y, weight, reduction=reduction), expected, rtol=1e-13
    )

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.multilabel_soft_margin_loss(z, y, weight, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.multilabel_soft_margin_loss_grad(x, y, weight, reduction=reduction),
        central_differences(total, x),
        rtol=1e-6,
        atol=1e-9,
    )


def test_multilabel_soft_margin_unbatched_and_extreme() -> None:
    """A (C,) input gives a scalar per sample; logits of +-1e4 stay finite in float32 and
    float64."""
    x, y = np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    assert np.shape(lossmod.multilabel_soft_margin_loss(x, y, reduction="none")) == ()
    np.testing.assert_allclose(
        lossmod.multilabel_soft_margin_loss(x, y),
        multilabel_soft_margin_by_hand(x[None], y[None], np.ones(3))[0],
        rtol=1e-14,
    )
    for dtype in (np.float32, np.float64):
        big = np.array([[1e4, -1e4, 1e4]], dtype=dtype)
        value = lossmod.multilabel_soft_margin_loss(big, np.array([[0.0, 1.0, 1.0]]))
        assert value.dtype == dtype
        np.testing.assert_allclose(value, 2e4 / 3, rtol=1e-6)
        assert np.all(np.isfinite(lossmod.multilabel_soft_margin_loss_grad(big, np.ones((1, 3)))))


# --- multi_margin_loss -----------------------------------------------------------------------


def multi_margin_by_hand(
    x: np.ndarray, y: np.ndarray, p: int, margin: float, w: np.ndarray
) -> list[float]:
    n, c = x.shape
    return [
        sum(w[y[i]] * max(0.0, margin - x[i, y[i]] + x[i, j]) ** p for j in range(c) if j != y[i])
        / c
        for i in range(n)
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("p", "margin", "weighted"), [(1, 1.0, False), (2, 1.0, False), (1, 0.4, True), (2, 2.5, True)]
)
def test_multi_margin_by_hand(
    reduction: str, p: int, margin: float, weighted: bool, rng: np.random.Generator
) -> None:
    """Weston-Watkins: (w_y / C) sum_{j != y} max(0, margin - x_y + x_j)^p, brute force; the
    gradient equals central differences."""
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    w = rng.uniform(0.5, 2.0, size=4) if weighted else np.ones(4)
    weight = w if weighted else None
    np.testing.assert_allclose(
        lossmod.multi_margin_loss(x, y, p, margin, weight, reduction=reduction),
        reduce(multi_margin_by_hand(x, y, p, margin, w), reduction),
        rtol=1e-14,
    )

    def total(z: np.ndarray) -> float:
        return float(
            np.sum(lossmod.multi_margin_loss(z, y, p, margin, weight, reduction=reduction))
        )

    np.testing.assert_allclose(
        lossmod.multi_margin_loss_grad(x, y, p, margin, weight, reduction=reduction),
        central_differences(total, x),
        rtol=1e-6,
        atol=1e-9,
    )


def test_multi_margin_with_two_classes_is_half_sklearn_hinge(rng: np.random.Generator) -> None:
    """With C = 2, the loss is max(0, 1 - s (x_1 - x_0)) / 2 for s = +-1: half of scikit-learn's
    binary hinge_loss of the decision x_1 - x_0."""
    x, y = rng.normal(size=(20, 2)), rng.integers(0, 2, size=20)
    expected = hinge_loss(2 * y - 1, x[:, 1] - x[:, 0])
    np.testing.assert_allclose(lossmod.multi_margin_loss(x, y), expected / 2, rtol=1e-14)


def test_multi_margin_unbatched() -> None:
    """A (C,) input with a scalar class gives a scalar per-sample loss (torch's unbatched form)."""
    x = np.array([0.1, 0.2, 0.4, 0.8])
    value = lossmod.multi_margin_loss(x, np.array(3), reduction="none")
    assert np.shape(value) == ()
    # torch's documented example: (1 - 0.8 + 0.1) + (1 - 0.8 + 0.2) + (1 - 0.8 + 0.4), over 4
    np.testing.assert_allclose(value, (0.3 + 0.4 + 0.6) / 4, rtol=1e-15)
    assert lossmod.multi_margin_loss_grad(x, np.array(3)).shape == (4,)


# --- multilabel_margin_loss ------------------------------------------------------------------


def test_multilabel_margin_torchs_documented_example() -> None:
    """torch's documentation: x = [0.1, 0.2, 0.4, 0.8], y = [3, 0, -1, 1] (targets 3 and 0; the 1
    after -1 is ignored) gives 0.85."""
    x = np.array([[0.1, 0.2, 0.4, 0.8]])
    y = np.array([[3, 0, -1, 1]])
    np.testing.assert_allclose(lossmod.multilabel_margin_loss(x, y), 0.85, rtol=1e-15)
    np.testing.assert_allclose(lossmod.multilabel_margin_loss(x[0], y[0]), 0.85, rtol=1e-15)


def multilabel_margin_by_hand(x: np.ndarray, y: np.ndarray) -> list[float]:
    """torch's CPU loop: targets up to the first -1 (a repeat counts again), against every class
    that is not a target."""
    losses = []
    for row, labels in zip(x, y, strict=True):
        targets = []
        for label in labels:
            if label == -1:
                break
            targets.append(int(label))
        others = [k for k in range(len(row)) if k not in targets]
        total = sum(max(0.0, 1 - (row[j] - row[k])) for j in targets for k in others)
        losses.append(total / len(row))
    return losses


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_by_hand(reduction: str, rng: np.random.Generator) -> None:
    """Random rows of targets (a repeated target among them) against the loop; the gradient
    equals central differences."""
    x = rng.normal(size=(5, 4))
    y = np.array([[3, 0, -1, 1], [1, 1, 2, -1], [-1, 2, 2, 0], [0, 1, 2, 3], [2, -1, -1, -1]])
    np.testing.assert_allclose(
        lossmod.multilabel_margin_loss(x, y, reduction=reduction),
        reduce(multilabel_margin_by_hand(x, y), reduction),
        rtol=1e-14,
    )

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.multilabel_margin_loss(z, y, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.multilabel_margin_loss_grad(x, y, reduction=reduction),
        central_differences(total, x),
        rtol=1e-6,
        atol=1e-9,
    )


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.multilabel_soft_margin_loss(np.ones((2, 3)), np.full((2, 3), 2.0)),
            r"^target must hold labels in \[0, 1\]; got 2.0 at index \(0, 0\)$",
        ),
        (
            lambda: lossmod.multilabel_soft_margin_loss(
                np.ones((2, 3)), np.ones((2, 3)), np.ones(2)
            ),
            r"^weight has shape \(2,\), which does not broadcast to the input's shape \(3,\)$",
        ),
        (
            lambda: lossmod.multi_margin_loss(np.ones((2, 3)), np.array([0, 3])),
            r"^target must hold class indices in \[0, 2\]; got 3 at index 1$",
        ),
        (
            lambda: lossmod.multi_margin_loss(np.ones((2, 3)), np.array([0, 1]), p=3),
            r"^p must be 1 or 2; got 3$",
        ),
        (
            lambda: lossmod.multi_margin_loss(np.ones((2, 3)), np.array([0.0, 1.0])),
            r"^target must hold integer class indices; got dtype float64$",
        ),
        (
            lambda: lossmod.multi_margin_loss(np.ones((2, 3)), np.array([[0], [1]])),
            r"^target must have shape \(2,\); got \(2, 1\)$",
        ),
        (
            lambda: lossmod.multilabel_margin_loss(np.ones((1, 3)), np.array([[0, 3, -1]])),
            r"^target must hold class indices in \[0, 2\], each list ended by -1; got 3 at index "
            r"\(0, 1\)$",
        ),
        (
            lambda: lossmod.multilabel_margin_loss(np.ones((2, 3)), np.array([0, 1, -1])),
            r"^target has shape \(3,\) but input has shape \(2, 3\): they must be equal$",
        ),
        (
            lambda: lossmod.multi_margin_loss(np.ones((2, 3)), np.array([0, 1]), reduction="avg"),
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'avg'$",
        ),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Each bad input raises a ValueError that names the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
