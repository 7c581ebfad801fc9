"""lossmod/margin.py: torch's hinge-embedding, soft-margin and margin-ranking losses against
loops written from their definitions, scikit-learn's log_loss and central differences."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

import lossmod
from tests.helpers.cases import central_differences

REDUCTIONS = ["mean", "sum", "none"]


def reduce(values: list[float], reduction: str) -> object:
    array = np.array(values)
    return {"mean": array.mean(), "sum": array.sum(), "none": array}[reduction]


@pytest.fixture
def signs(rng: np.random.Generator) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=10)


# --- hinge_embedding_loss -------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.3, 2.5])
def test_hinge_embedding_by_hand(
    reduction: str, margin: float, signs: np.ndarray, rng: np.random.Generator
) -> None:
    """x for similar pairs, max(0, margin - x) for dissimilar ones, reduced."""
    x = np.abs(rng.normal(size=10)) * 2
    expected = [xi if yi == 1 else max(0.0, margin - xi) for xi, yi in zip(x, signs, strict=True)]
    np.testing.assert_allclose(
        lossmod.hinge_embedding_loss(x, signs, margin, reduction=reduction),
        reduce(expected, reduction),
        rtol=1e-15,
    )

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.hinge_embedding_loss(z, signs, margin, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.hinge_embedding_loss_grad(x, signs, margin, reduction=reduction),
        central_differences(total, x),
        atol=1e-8,
    )


# --- soft_margin_loss ------------------------------------------------------------------------


def test_soft_margin_is_sklearn_log_loss(signs: np.ndarray, rng: np.random.Generator) -> None:
    """mean log(1 + exp(-y x)) is the log loss of the probabilities sigmoid(x) for labels
    (y + 1) / 2 (sklearn.metrics.log_loss)."""
    x = 2 * rng.normal(size=10)
    p = 1 / (1 + np.exp(-x))
    expected = log_loss((signs + 1) / 2, p, labels=[0, 1])
    np.testing.assert_allclose(lossmod.soft_margin_loss(x, signs), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_margin_is_finite_at_1e4(dtype: type) -> None:
    """Scores of +-1e4 give softplus values 1e4 and 0 and slopes -+1 and 0, in the input's dtype."""
    x = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    y = np.array([-1.0, 1.0, 1.0, -1.0])
    each = lossmod.soft_margin_loss(x, y, reduction="none")
    assert each.dtype == dtype
    np.testing.assert_allclose(each, [1e4, 1e4, 0.0, 0.0], rtol=1e-7)
    grad = lossmod.soft_margin_loss_grad(x, y, reduction="sum")
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, [1.0, -1.0, 0.0, 0.0], atol=1e-30)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_gradient(reduction: str, signs: np.ndarray, rng: np.random.Generator) -> None:
    """-y sigmoid(-y x) equals central differences, for each reduction."""
    x = 2 * rng.normal(size=10)

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.soft_margin_loss(z, signs, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.soft_margin_loss_grad(x, signs, reduction=reduction),
        central_differences(total, x),
        rtol=1e-6,
        atol=1e-9,
    )


# --- margin_ranking_loss ---------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_by_hand(
    reduction: str, margin: float, signs: np.ndarray, rng: np.random.Generator
) -> None:
    """max(0, -y (x1 - x2) + margin), and its gradient in x1, -y where positive."""
    x1, x2 = rng.normal(size=10), rng.normal(size=10)
    expected = [max(0.0, -y * (a - b) + margin) for a, b, y in zip(x1, x2, signs, strict=True)]
    np.testing.assert_allclose(
        lossmod.margin_ranking_loss(x1, x2, signs, margin, reduction=reduction),
        reduce(expected, reduction),
        rtol=1e-15,
    )

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.margin_ranking_loss(z, x2, signs, margin, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.margin_ranking_loss_grad(x1, x2, signs, margin, reduction=reduction),
        central_differences(total, x1),
        atol=1e-8,
    )


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.hinge_embedding_loss(np.ones(2), np.array([1.0, 0.0])),
            r"^target must hold -1 or 1; got 0.0 at index \(1,\)$",
        ),
        (
            lambda: lossmod.soft_margin_loss(np.ones(3), np.ones((3, 1))),
            r"^input has shape \(3,\) but target has shape \(3, 1\): they would broadcast to "
            r"\(3, 3\); make them equal$",
        ),
        (
            lambda: lossmod.margin_ranking_loss(np.ones(3), np.ones((3, 1)), np.ones(3)),
            r"^input1 has shape \(3,\) but input2 has shape \(3, 1\)",
        ),
        (
            lambda: lossmod.margin_ranking_loss(np.ones(2), np.array([np.nan, 0.0]), np.ones(2)),
            r"^input2 contains NaN at index \(0,\)$",
        ),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Each bad input raises a ValueError that names the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
