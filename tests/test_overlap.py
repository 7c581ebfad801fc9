"""Soft Dice and Tversky losses against the textbook ratio on probabilities, mpmath at extreme
logits, central differences, and the empty-mask cases the chapter describes.

The registry-wide properties (finite at +-1e4, float32 in float32 out, reductions, error names)
are swept by tests/test_registry.py.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy import special

import lossmod

mpmath.mp.dps = 60


def dice_by_hand(z: np.ndarray, y: np.ndarray, s: float) -> np.ndarray:
    """1 - (2 sum p y + s) / (sum p + sum y + s) over the last axis, p = expit(z) (scipy)."""
    p = special.expit(z)
    return 1 - (2 * (p * y).sum(-1) + s) / (p.sum(-1) + y.sum(-1) + s)


def tversky_by_hand(z: np.ndarray, y: np.ndarray, a: float, b: float, s: float) -> np.ndarray:
    """1 - (TP + s) / (TP + a FP + b FN + s) over the last axis, p = expit(z) (scipy)."""
    p = special.expit(z)
    tp, fp, fn = (p * y).sum(-1), (p * (1 - y)).sum(-1), ((1 - p) * y).sum(-1)
    return 1 - (tp + s) / (tp + a * fp + b * fn + s)


def test_dice_and_tversky_match_the_textbook_ratio(rng: np.random.Generator) -> None:
    """On random masks of shape (4, 3, 50), one loss per mask of the last axis equals the ratio
    computed from probabilities; "mean" and "sum" reduce over the masks."""
    z = 2 * rng.normal(size=(4, 3, 50))
    y = (rng.uniform(size=z.shape) < 0.2).astype(float)
    for s in (0.0, 1.0, 10.0):
        each = lossmod.dice_loss(z, y, smooth=s, reduction="none")
        assert each.shape == (4, 3)
        np.testing.assert_allclose(each, dice_by_hand(z, y, s), rtol=1e-12)
        np.testing.assert_allclose(lossmod.dice_loss(z, y, smooth=s), each.mean(), rtol=1e-14)
        for a, b in ((0.3, 0.7), (0.9, 0.1), (1.0, 1.0)):
            np.testing.assert_allclose(
                lossmod.tversky_loss(z, y, alpha=a, beta=b, smooth=s, reduction="none"),
                tversky_by_hand(z, y, a, b, s),
                rtol=1e-12,
            )


def test_tversky_at_one_half_is_dice_with_twice_the_smoothing(rng: np.random.Generator) -> None:
    """alpha = beta = 1/2 and smoothing s is the Dice loss with smoothing 2 s (value and
    gradient)."""
    z, y = 3 * rng.normal(size=(5, 20)), (rng.uniform(size=(5, 20)) < 0.3).astype(float)
    np.testing.assert_allclose(
        lossmod.tversky_loss(z, y, smooth=0.7), lossmod.dice_loss(z, y, smooth=1.4), rtol=1e-14
    )
    np.testing.assert_allclose(
        lossmod.tversky_loss_grad(z, y, smooth=0.7),
        lossmod.dice_loss_grad(z, y, smooth=1.4),
        rtol=1e-14,
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extreme_logits_match_mpmath(dtype: type) -> None:
    """Logits of +-1e4 and +-40 mixed with moderate ones: values equal 60-digit mpmath (the loss
    of a nearly perfect mask, about 1e-18, is not lost to 1 - D cancellation)."""
    z = np.array(
        [
            [1e4, -1e4, 40.0, -40.0, 0.5],
            [1e4, 1e4, -1e4, -1e4, -1e4],
            [41.0, -39.0, 38.0, -1e4, 2.0],
        ]
    )
    y = np.array([[1.0, 0, 1, 0, 1], [1, 1, 0, 0, 0], [1, 0, 1, 0, 1]])
    for s in (1.0, 1e-3):
        value = lossmod.dice_loss(z.astype(dtype), y.astype(dtype), smooth=s, reduction="none")
        for i in range(3):
            zs = [mpmath.mpf(float(v)) for v in z[i].astype(dtype)]
            p = [1 / (1 + mpmath.exp(-v)) for v in zs]
            q = [1 / (1 + mpmath.exp(v)) for v in zs]
            fp = mpmath.fsum(pi * (1 - yi) for pi, yi in zip(p, y[i], strict=True))
            fn = mpmath.fsum(qi * yi for qi, yi in zip(q, y[i], strict=True))
            tp = mpmath.fsum(pi * yi for pi, yi in zip(p, y[i], strict=True))
            exact = (fp + fn) / (2 * tp + fp + fn + s)
            rtol = 1e-13 if dtype == np.float64 else 1e-6
            np.testing.assert_allclose(value[i], dtype(exact), rtol=rtol, atol=0)
    assert 0 < lossmod.dice_loss(z[1:2], y[1:2]) < 1e-300 or lossmod.dice_loss(z[1:2], y[1:2]) == 0


@pytest.mark.parametrize("smooth", [0.0, 1e-3, 1.0, 10.0])
def test_gradients_match_central_differences(smooth: float, rng: np.random.Generator) -> None:
    """Both gradients equal central differences (lossmod.gradcheck, rel. error <= 1e-6) on hard
    and soft masks, for several alpha, beta and smoothing constants."""
    z = 2 * rng.normal(size=(3, 12))
    for y in ((rng.uniform(size=z.shape) < 0.3).astype(float), rng.uniform(size=z.shape)):
        check = lossmod.gradcheck(
            lambda x, y=y: float(lossmod.dice_loss(x, y, smooth=smooth)),
            lambda x, y=y: lossmod.dice_loss_grad(x, y, smooth=smooth),
            z,
            rtol=1e-6,
        )
        assert check.passed, check.relative_error
        for a, b in ((0.3, 0.7), (0.9, 0.1)):
            check = lossmod.gradcheck(
                lambda x, y=y, a=a, b=b: float(
                    lossmod.tversky_loss(x, y, alpha=a, beta=b, smooth=smooth, reduction="sum")
                ),
                lambda x, y=y, a=a, b=b: lossmod.tversky_loss_grad(
                    x, y, alpha=a, beta=b, smooth=smooth, reduction="sum"
                ),
                z,
                rtol=1e-6,
            )
            assert check.passed, check.relative_error


def test_empty_mask_with_smoothing_rewards_an_empty_prediction() -> None:
    """Empty target, smooth s > 0: the loss is sum p / (sum p + s), which falls to 0 as every
    logit goes to -inf, and its gradient pushes every logit down."""
    y = np.zeros(16)
    previous = 1.0
    for level in (2.0, 0.0, -2.0, -6.0, -20.0):
        z = np.full(16, level)
        p = special.expit(z)
        value = float(lossmod.dice_loss(z, y))
        np.testing.assert_allclose(value, p.sum() / (p.sum() + 1.0), rtol=1e-13)
        assert value < previous
        previous = value
        assert np.all(lossmod.dice_loss_grad(z, y) > 0)
    assert previous < 1e-6


def test_empty_mask_without_smoothing_is_one_whatever_the_prediction() -> None:
    """Empty target, smooth = 0: the loss is 1 with zero gradient for any finite logits that do
    not underflow; where every p is 0 (logits -1e4) it is 0 / 0 and raises a named error."""
    y = np.zeros(8)
    for level in (3.0, 0.0, -30.0):
        z = np.full(8, level)
        assert lossmod.dice_loss(z, y, smooth=0.0) == 1.0
        assert np.all(lossmod.dice_loss_grad(z, y, smooth=0.0) == 0.0)
    with pytest.raises(ValueError, match=r"is empty and so is its prediction, and smooth = 0"):
        lossmod.dice_loss(np.full(8, -1e4), y, smooth=0.0)


def test_not_minimised_at_a_soft_target() -> None:
    """Against a soft mask, the Dice loss at the prediction p = y is beaten by a sharper one (the
    registry records minimised_at_target=False)."""
    y = np.array([0.9, 0.8, 0.2, 0.1])
    at_target = lossmod.dice_loss(special.logit(y), y, smooth=0.0)
    sharper = lossmod.dice_loss(special.logit(np.array([0.99, 0.99, 0.01, 0.01])), y, smooth=0.0)
    assert sharper < at_target
    assert not lossmod.LOSSES["dice_loss"].minimised_at_target


def test_errors_are_named() -> None:
    """Bad smoothing, alpha, beta, targets and shapes raise ValueErrors that say what was
    expected."""
    z, y = np.zeros(3), np.array([0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"smooth must be finite and >= 0; got -1.0"):
        lossmod.dice_loss(z, y, smooth=-1.0)
    with pytest.raises(ValueError, match=r"alpha must be finite and >= 0; got -0.5"):
        lossmod.tversky_loss(z, y, alpha=-0.5)
    with pytest.raises(ValueError, match=r"beta must be finite and >= 0; got inf"):
        lossmod.tversky_loss(z, y, beta=float("inf"))
    with pytest.raises(ValueError, match=r"target must hold probabilities in \[0, 1\]"):
        lossmod.dice_loss(z, np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"logits has shape \(3, 1\) but target has shape"):
        lossmod.dice_loss(z[:, None], y)
    with pytest.raises(ValueError, match=r"logits must have at least one axis"):
        lossmod.dice_loss(np.float64(0.0), np.float64(1.0))
