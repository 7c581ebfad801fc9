"""lossmod/embedding.py: torch's cosine-embedding and triplet losses against scipy's distances,
loops written from the definitions (with torch's eps), and central differences."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import distance

import lossmod
from tests.helpers.cases import central_differences, manhattan

REDUCTIONS = ["mean", "sum", "none"]


def reduce(values: list[float], reduction: str) -> object:
    array = np.array(values)
    return {"mean": array.mean(), "sum": array.sum(), "none": array}[reduction]


@pytest.fixture
def pairs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rng.normal(size=(8, 5)), rng.normal(size=(8, 5)), rng.choice([-1.0, 1.0], size=8)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.4])
def test_cosine_embedding_by_hand(reduction: str, margin: float, pairs: tuple) -> None:
    """1 - cos for similar pairs, max(0, cos - margin) for dissimilar ones, cos with torch's
    1e-12 added to each squared norm; scipy's cosine distance 1 - cos agrees to 1e-12."""
    x1, x2, y = pairs
    cosines = [
        a @ b / np.sqrt((a @ a + 1e-12) * (b @ b + 1e-12)) for a, b in zip(x1, x2, strict=True)
    ]
    expected = [1 - c if s == 1 else max(0.0, c - margin) for c, s in zip(cosines, y, strict=True)]
    np.testing.assert_allclose(
        lossmod.cosine_embedding_loss(x1, x2, y, margin, reduction=reduction),
        reduce(expected, reduction),
        rtol=1e-14,
        atol=1e-15,
    )
    scipy_cos = [1 - distance.cosine(a, b) for a, b in zip(x1, x2, strict=True)]
    np.testing.assert_allclose(cosines, scipy_cos, rtol=0, atol=1e-12)

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.cosine_embedding_loss(z, x2, y, margin, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.cosine_embedding_loss_grad(x1, x2, y, margin, reduction=reduction),
        central_differences(total, x1),
        rtol=1e-6,
        atol=1e-9,
    )


def test_cosine_embedding_unbatched_zero_vector_and_extremes() -> None:
    """(D,) vectors and a scalar target give a scalar; a zero vector has cosine 0 (torch's eps
    keeps it finite), not NaN; embeddings of norm 1e4 in float32 stay finite."""
    a, b = np.array([1.0, 2.0, 2.0]), np.array([2.0, 1.0, 2.0])
    value = lossmod.cosine_embedding_loss(a, b, np.array(1.0), reduction="none")
    assert np.shape(value) == ()
    np.testing.assert_allclose(value, 1 - 8 / 9, rtol=1e-12)
    assert lossmod.cosine_embedding_loss(np.zeros(3), b, np.array(1.0)) == 1.0
    assert np.all(np.isfinite(lossmod.cosine_embedding_loss_grad(np.zeros(3), b, np.array(1.0))))
    big = np.array([[1e4, -1e4, 1e4]], dtype=np.float32)
    for y in (1.0, -1.0):
        value = lossmod.cosine_embedding_loss(big, -big, np.array([y]))
        assert value.dtype == np.float32 and np.isfinite(value)
        np.testing.assert_allclose(value, 2.0 if y == 1 else 0.0, atol=1e-6)


def triplet_by_hand(
    a: np.ndarray, p: np.ndarray, n: np.ndarray, margin: float, norm: float, eps: float, swap: bool
) -> list[float]:
    """torch's definition: d(u, v) = ||u - v + eps||_p, swap takes min(d(a, n), d(p, n))."""
    out = []
    for ai, pi, ni in zip(a, p, n, strict=True):
        d_pos = np.linalg.norm(ai - pi + eps, ord=norm)
        d_neg = np.linalg.norm(ai - ni + eps, ord=norm)
        if swap:
            d_neg = min(d_neg, np.linalg.norm(pi - ni + eps, ord=norm))
        out.append(max(0.0, margin + d_pos - d_neg))
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("margin", "norm", "eps", "swap"),
    [
        (1.0, 2.0, 1e-6, False),
        (0.5, 1.0, 1e-6, False),
        (2.0, 3.0, 0.0, False),
        (1.0, 2.0, 1e-6, True),
        (3.0, 2.0, 0.1, True),
    ],
)
def test_triplet_margin_by_hand(
    reduction: str, margin: float, norm: float, eps: float, swap: bool, rng: np.random.Generator
) -> None:
    """max(0, margin + d(a, p) - d(a, n)) with numpy.linalg.norm of the difference plus eps, and
    the swap; the gradient in the anchor equals central differences."""
    a, p, n = (rng.normal(size=(7, 4)) for _ in range(3))
    expected = triplet_by_hand(a, p, n, margin, norm, eps, swap)
    assert np.count_nonzero(expected) > 0  # the gradient below is not trivially 0
    np.testing.assert_allclose(
        lossmod.triplet_margin_loss(a, p, n, margin, norm, eps, swap, reduction=reduction),
        reduce(expected, reduction),
        rtol=1e-13,
    )

    def total(z: np.ndarray) -> float:
        return float(
            np.sum(
                lossmod.triplet_margin_loss(z, p, n, margin, norm, eps, swap, reduction=reduction)
            )
        )

    np.testing.assert_allclose(
        lossmod.triplet_margin_loss_grad(a, p, n, margin, norm, eps, swap, reduction=reduction),
        central_differences(total, a),
        rtol=1e-6,
        atol=1e-8,
    )


def test_triplet_eps_is_added_to_the_difference() -> None:
    """torch's pairwise_distance adds eps to every coordinate of the difference: anchor equal to
    positive is at distance eps sqrt(D), not 0."""
    a = np.zeros((1, 4))
    far = np.full((1, 4), 10.0)
    value = lossmod.triplet_margin_loss(a, a, far, margin=30.0)
    d_neg = np.linalg.norm(a - far + 1e-6)
    np.testing.assert_allclose(value, 30.0 + 1e-6 * 2 - d_neg, rtol=1e-15)


def test_with_distance_default_is_pairwise_distance(rng: np.random.Generator) -> None:
    """triplet_margin_with_distance_loss with no distance_function equals triplet_margin_loss
    (p = 2, eps = 1e-6), value and gradient, with and without the swap."""
    a, p, n = (rng.normal(size=(6, 3)) for _ in range(3))
    for swap in (False, True):
        np.testing.assert_array_equal(
            lossmod.triplet_margin_with_distance_loss(a, p, n, swap=swap, reduction="none"),
            lossmod.triplet_margin_loss(a, p, n, swap=swap, reduction="none"),
        )
        np.testing.assert_array_equal(
            lossmod.triplet_margin_with_distance_loss_grad(a, p, n, swap=swap),
            lossmod.triplet_margin_loss_grad(a, p, n, swap=swap),
        )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_with_a_custom_distance(reduction: str, rng: np.random.Generator) -> None:
    """A Manhattan distance_function gives scipy's cityblock distances in the formula; with its
    .grad it gives the gradient (central differences); without one the gradient says so."""
    a, p, n = (rng.normal(size=(6, 3)) for _ in range(3))
    expected = [
        max(0.0, 2.0 + distance.cityblock(ai, pi) - distance.cityblock(ai, ni))
        for ai, pi, ni in zip(a, p, n, strict=True)
    ]
    value = lossmod.triplet_margin_with_distance_loss(
        a, p, n, distance_function=manhattan, margin=2.0, reduction=reduction
    )
    np.testing.assert_allclose(value, reduce(expected, reduction), rtol=1e-14)

    def total(z: np.ndarray) -> float:
        return float(
            np.sum(
                lossmod.triplet_margin_with_distance_loss(
                    z, p, n, distance_function=manhattan, margin=2.0, reduction=reduction
                )
            )
        )

    np.testing.assert_allclose(
        lossmod.triplet_margin_with_distance_loss_grad(
            a, p, n, distance_function=manhattan, margin=2.0, reduction=reduction
        ),
        central_differences(total, a),
        atol=1e-8,
    )
    with pytest.raises(ValueError, match=r"^distance_function needs a \.grad attribute"):
        lossmod.triplet_margin_with_distance_loss_grad(
            a, p, n, distance_function=lambda u, v: np.abs(u - v).sum(axis=-1)
        )


def test_unbatched_triplet() -> None:
    """(D,) anchor, positive and negative give a scalar per triplet and a (D,) gradient."""
    a, p, n = np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([0.0, 0.5])
    value = lossmod.triplet_margin_loss(a, p, n, reduction="none")
    assert np.shape(value) == ()
    np.testing.assert_allclose(
        value, triplet_by_hand(a[None], p[None], n[None], 1.0, 2.0, 1e-6, False)[0], rtol=1e-14
    )
    assert lossmod.triplet_margin_loss_grad(a, p, n).shape == (2,)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.cosine_embedding_loss(np.ones((2, 3)), np.ones((2, 3)), np.ones(3)),
            r"^target must have shape \(2,\) \(one sign per pair\); got \(3,\)$",
        ),
        (
            lambda: lossmod.cosine_embedding_loss(
                np.ones((2, 3)), np.ones((2, 3)), np.array([1.0, 0.0])
            ),
            r"^target must hold -1 or 1; got 0.0 at index 1$",
        ),
        (
            lambda: lossmod.cosine_embedding_loss(np.ones((2, 3)), np.ones((3, 2)), np.ones(2)),
            r"^input1 has shape \(2, 3\) but input2 has shape \(3, 2\): they must be equal$",
        ),
        (
            lambda: lossmod.triplet_margin_loss(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 1))),
            r"^anchor has shape \(2, 3\) but negative has shape \(2, 1\): they would broadcast",
        ),
        (
            lambda: lossmod.triplet_margin_loss(
                np.ones((2, 2, 3)), np.ones((2, 2, 3)), np.ones((2, 2, 3))
            ),
            r"^anchor must have shape \(D,\) or \(N, D\); got shape \(2, 2, 3\)$",
        ),
        (
            lambda: lossmod.triplet_margin_loss(np.ones(3), np.ones(3), np.ones(3), p=0.0),
            r"^p must be > 0 and finite; got 0.0$",
        ),
        (
            lambda: lossmod.triplet_margin_with_distance_loss(
                np.ones(3), np.ones(3), np.ones(3), margin=0.0
            ),
            r"^margin must be > 0; got 0.0$",
        ),
        (
            lambda: lossmod.triplet_margin_loss(np.array([np.nan, 1.0]), np.ones(2), np.ones(2)),
            r"^anchor contains NaN at index \(0,\)$",
        ),
        (
            lambda: lossmod.triplet_margin_loss(np.ones(2), np.ones(2), np.ones(2), reduction="x"),
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'x'$",
        ),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Each bad input raises a ValueError that names the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
