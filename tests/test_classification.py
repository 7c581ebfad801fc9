"""Binary and categorical cross-entropy against scikit-learn, hand tables, and their error messages.

The weighted-mean, ignore_index and label-smoothing conventions are PyTorch's; the expected values
here are worked out by hand from the formulas in PyTorch's documentation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special
from sklearn.metrics import log_loss

import lossmod

LN = np.log


def test_bce_matches_scikit_learn(rng: np.random.Generator) -> None:
    """bce(p, y) and bce_with_logits(z, y) equal sklearn.metrics.log_loss(y, p)."""
    z = 2 * rng.normal(size=50)
    y = rng.integers(0, 2, size=50)
    p = special.expit(z)
    expected = log_loss(y, p)
    assert lossmod.bce(p, y) == pytest.approx(expected, rel=1e-13)
    assert lossmod.bce_with_logits(z, y) == pytest.approx(expected, rel=1e-13)


def test_cross_entropy_matches_scikit_learn(rng: np.random.Generator) -> None:
    """cross_entropy(z, y) equals log_loss(y, softmax(z)), for class indices and one-hot targets."""
    z = 2 * rng.normal(size=(40, 5))
    y = rng.integers(0, 5, size=40)
    expected = log_loss(y, special.softmax(z, axis=1), labels=range(5))
    assert lossmod.cross_entropy(z, y) == pytest.approx(expected, rel=1e-13)
    assert lossmod.cross_entropy(z, np.eye(5)[y]) == pytest.approx(expected, rel=1e-13)


def test_bce_hand_table() -> None:
    """p = 3/4: -log(3/4) for y = 1, -log(1/4) for y = 0, -(0.3 log 3/4 + 0.7 log 1/4) for
    y = 0.3; the same from the logit log 3. Gradients (p - y)/(p(1 - p)) and sigmoid(z) - y."""
    y = np.array([1.0, 0.0, 0.3])
    p = np.full(3, 0.75)
    expected = [-LN(0.75), -LN(0.25), -(0.3 * LN(0.75) + 0.7 * LN(0.25))]
    np.testing.assert_allclose(lossmod.bce(p, y, reduction="none"), expected, rtol=1e-15)
    np.testing.assert_allclose(
        lossmod.bce_with_logits(np.full(3, LN(3)), y, reduction="none"), expected, rtol=1e-15
    )
    np.testing.assert_allclose(
        lossmod.bce_grad(p, y, reduction="sum"), (0.75 - y) / (0.75 * 0.25), rtol=1e-15
    )
    np.testing.assert_allclose(
        lossmod.bce_with_logits_grad(np.full(3, LN(3)), y, reduction="sum"), 0.75 - y, rtol=1e-15
    )


def test_bce_confident_mistake_is_infinite_and_logits_stay_finite() -> None:
    """The textbook formula gives inf for p = 0, y = 1 (the true value, not a clamp at 100);
    on logits, z = -1e4 with y = 1 costs exactly 1e4, and z = 1e4 with y = 1 costs 0."""
    with np.errstate(divide="ignore"):
        assert lossmod.bce(np.array([0.0]), np.array([1.0])) == np.inf
    assert lossmod.bce(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0
    for dtype in (np.float32, np.float64):
        z = np.array([-1e4, 1e4], dtype=dtype)
        losses = lossmod.bce_with_logits(z, np.ones(2), reduction="none")
        np.testing.assert_array_equal(losses, np.array([1e4, 0.0], dtype=dtype))
        np.testing.assert_array_equal(
            lossmod.bce_with_logits_grad(z, np.ones(2), reduction="sum"),
            np.array([-1.0, 0.0], dtype=dtype),
        )


def test_pos_weight_and_weight() -> None:
    """At z = 0 both terms cost log 2: pos_weight a scales the positive term (a log 2 for y = 1),
    weight scales each element, and "mean" divides by the number of elements."""
    z, y = np.zeros(2), np.array([1.0, 0.0])
    losses = lossmod.bce_with_logits(z, y, pos_weight=np.array(3.0), reduction="none")
    np.testing.assert_allclose(losses, [3 * LN(2), LN(2)], rtol=1e-15)
    mean = lossmod.bce_with_logits(z, y, weight=np.array([2.0, 1.0]), pos_weight=np.array(3.0))
    assert mean == pytest.approx((6 * LN(2) + LN(2)) / 2, rel=1e-15)


def test_cross_entropy_weighted_mean_divides_by_summed_weights() -> None:
    """Logits (log 3, 0) give p = (3/4, 1/4). Targets (0, 1) with class weights (2, 1):
    the mean is (2 log 4/3 + 1 log 4) / (2 + 1), as PyTorch defines it, not divided by N = 2."""
    z = np.array([[LN(3), 0.0], [LN(3), 0.0]])
    y = np.array([0, 1])
    w = np.array([2.0, 1.0])
    expected = (2 * LN(4 / 3) + LN(4)) / 3
    assert lossmod.cross_entropy(z, y, weight=w) == pytest.approx(expected, rel=1e-15)
    assert lossmod.cross_entropy(z, y, weight=w, reduction="sum") == pytest.approx(
        2 * LN(4 / 3) + LN(4), rel=1e-15
    )


def test_cross_entropy_ignore_index_and_label_smoothing() -> None:
    """An ignored sample counts in neither sum nor mean. Smoothing eps = 0.2 over C = 2 turns the
    target (1, 0) into (0.9, 0.1): loss 0.9 log 4/3 + 0.1 log 4; the gradient is p - t'."""
    z = np.array([[LN(3), 0.0], [5.0, -5.0]])
    y = np.array([0, -100])
    expected = 0.9 * LN(4 / 3) + 0.1 * LN(4)
    assert lossmod.cross_entropy(z, y, label_smoothing=0.2) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(
        lossmod.cross_entropy_grad(z, y, label_smoothing=0.2),
        [[0.75 - 0.9, 0.25 - 0.1], [0, 0]],
        rtol=1e-14,
    )
    np.testing.assert_array_equal(lossmod.cross_entropy(z, y, reduction="none")[1], 0.0)


def test_probability_targets_mean_divides_by_batch_size() -> None:
    """With probability targets and class weights, "mean" divides by N (PyTorch's rule)."""
    z = np.array([[LN(3), 0.0], [LN(3), 0.0]])
    t = np.array([[0.5, 0.5], [1.0, 0.0]])
    w = np.array([2.0, 1.0])
    total = 2 * 0.5 * LN(4 / 3) + 1 * 0.5 * LN(4) + 2 * LN(4 / 3)
    assert lossmod.cross_entropy(z, t, weight=w) == pytest.approx(total / 2, rel=1e-15)


def test_initial_loss_is_log_c() -> None:
    """Equal logits mean a uniform guess: the loss is log C whatever the labels."""
    y = np.arange(10)
    assert lossmod.cross_entropy(np.zeros((10, 10)), y) == pytest.approx(LN(10), rel=1e-15)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.bce(np.array([1.2]), np.array([1.0])),
            r"^probs must hold probabilities in \[0, 1\]; got 1.2 at index \(0,\)$",
        ),
        (
            lambda: lossmod.bce(np.array([0.2]), np.array([-1.0])),
            r"^target must hold probabilities in \[0, 1\]; got -1.0 at index \(0,\)$",
        ),
        (
            lambda: lossmod.bce_with_logits(np.zeros(3), np.array([0.0, 1.0, 2.0])),
            r"^target must hold probabilities in \[0, 1\]; got 2.0 at index \(2,\)$",
        ),
        (
            lambda: lossmod.bce_with_logits(np.zeros(2), np.zeros(2), weight=np.array([1.0, -1.0])),
            r"^weight must be >= 0; got -1.0 at index \(1,\)$",
        ),
        (
            lambda: lossmod.bce_with_logits(
                np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=np.ones(2)
            ),
            r"^pos_weight has shape \(2,\), which does not broadcast to the input's shape \(2, 3\)$",
        ),
        (
            lambda: lossmod.bce_with_logits(np.zeros((4, 1)), np.zeros(4)),
            r"^logits has shape \(4, 1\) but target has shape \(4,\): they would broadcast to \(4, 4\)",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3)), np.array([0, 3])),
            r"^target must hold class indices in \[0, 2\] \(or ignore_index=-100\); got 3 at index 1$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3)), np.array([-1, 0])),
            r"^target must hold class indices in \[0, 2\] .*; got -1 at index 0$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3)), np.array([-100, -100])),
            r"^reduction='mean' is undefined here: every target is ignore_index or has weight 0",
        ),
        (
            lambda: lossmod.cross_entropy(
                np.zeros((2, 3)), np.array([0, 1]), weight=np.array([1.0, -2.0, 1.0])
            ),
            r"^weight must be >= 0; got -2.0 at index \(1,\)$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), weight=np.ones(2)),
            r"^weight has shape \(2,\), which does not broadcast to the input's shape \(3,\)$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros(3), np.array([0])),
            r"^target of class indices for an unbatched logits of shape \(C,\) must be a scalar; "
            r"got shape \(1,\)$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros(()), np.array(0)),
            r"^logits must have shape \(C,\), \(N, C\) or \(N, C, d1, ...\); got shape \(\)$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])),
            r"^target of class indices must have shape \(N,\) = \(2,\); got \(3,\)$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])),
            r"^target of probabilities must have the shape of logits \(2, 3\); got \(2,\) "
            r"\(class indices must be an integer array of shape \(N,\)\)$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((2, 2)), np.array([[0.5, 0.5], [0.6, 0.6]])),
            r"^each row of target must be a distribution summing to 1 .*; row \(1,\) sums to 1.2$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((1, 2)), np.array([0]), label_smoothing=1.5),
            r"^label_smoothing must be in \[0, 1\]; got 1.5$",
        ),
        (
            lambda: lossmod.cross_entropy(np.zeros((1, 2)), np.array(["a"])),
            r"^target must be integer class indices of shape \(N,\) or float probabilities",
        ),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Each bad input raises a ValueError that names the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_all_ignored_sum_is_zero() -> None:
    """With every target ignored, "sum" is 0 and "none" all zeros: only "mean" is undefined."""
    z = np.zeros((2, 3))
    y = np.array([-100, -100])
    assert lossmod.cross_entropy(z, y, reduction="sum") == 0
    np.testing.assert_array_equal(lossmod.cross_entropy_grad(z, y, reduction="sum"), 0)
