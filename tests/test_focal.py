"""Sigmoid and softmax focal losses against a hand formula, 60-digit mpmath, central differences,
cross-entropy at gamma = 0, and their minimiser.

The registry-wide properties (finite at +-1e4, float32 in float32 out, reductions, error names)
are swept by tests/test_registry.py; here are the oracles specific to focal losses.
"""

from __future__ import annotations

import inspect

import mpmath
import numpy as np
import pytest
from scipy import optimize, special

import lossmod
from lossmod import focal

mpmath.mp.dps = 60


def mp_sigmoid_focal(z: float, t: float, alpha: float, gamma: float) -> mpmath.mpf:
    """torchvision's formula, term by term, in 60-digit arithmetic."""
    z, t = mpmath.mpf(z), mpmath.mpf(t)
    # 1 - p from its own formula: 60 digits cannot hold 1 - p for z = 700 as a difference
    p, one_minus_p = 1 / (1 + mpmath.exp(-z)), 1 / (1 + mpmath.exp(z))
    # -log p = log1p(exp(-z)): log(1 + 1e-304) would round to 0 at 60 digits
    ce = t * mpmath.log1p(mpmath.exp(-z)) + (1 - t) * mpmath.log1p(mpmath.exp(z))
    one_minus_p_t = t * one_minus_p + (1 - t) * p
    a_t = alpha * t + (1 - alpha) * (1 - t) if alpha >= 0 else 1
    return a_t * one_minus_p_t**gamma * ce


def mp_softmax_focal(z: np.ndarray, y: int, gamma: float, alpha: float = 1.0) -> mpmath.mpf:
    """-alpha (1 - p_y)^gamma log p_y for one row, in 60-digit arithmetic."""
    row = [mpmath.mpf(float(v)) for v in z]
    total = mpmath.fsum(mpmath.exp(v) for v in row)
    p = mpmath.exp(row[y]) / total
    return -alpha * (1 - p) ** gamma * mpmath.log(p)


def mp_derivative(f, x: float) -> float:  # type: ignore[no-untyped-def]
    return float(mpmath.diff(f, mpmath.mpf(x)))


def test_signatures_follow_torchvision() -> None:
    """sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"), the names and
    defaults of torchvision.ops.sigmoid_focal_loss; softmax_focal_loss defaults to "mean"."""
    parameters = inspect.signature(lossmod.sigmoid_focal_loss).parameters
    assert list(parameters) == ["inputs", "targets", "alpha", "gamma", "reduction"]
    defaults = {name: p.default for name, p in parameters.items()}
    assert defaults["alpha"] == 0.25 and defaults["gamma"] == 2 and defaults["reduction"] == "none"
    softmax = inspect.signature(lossmod.softmax_focal_loss).parameters
    assert list(softmax) == ["logits", "labels", "gamma", "alpha", "reduction"]
    assert softmax["gamma"].default == 2 and softmax["alpha"].default is None
    assert softmax["reduction"].default == "mean"


def test_sigmoid_hand_table() -> None:
    """p = 3/4 (z = log 3), gamma = 2, alpha = 0.25: y = 1 costs 0.25 (1/4)^2 (-log 3/4), y = 0
    costs 0.75 (3/4)^2 (-log 1/4); the slope for y = 1 is -alpha (1-p)^2 ((1-p) + 2 p (-log p))."""
    z = np.full(2, np.log(3.0))
    y = np.array([1.0, 0.0])
    expected = [0.25 * (1 / 16) * -np.log(0.75), 0.75 * (9 / 16) * -np.log(0.25)]
    np.testing.assert_allclose(lossmod.sigmoid_focal_loss(z, y), expected, rtol=1e-14)
    slope = -0.25 * (1 / 16) * (0.25 + 2 * 0.75 * -np.log(0.75))
    np.testing.assert_allclose(lossmod.sigmoid_focal_loss_grad(z, y)[0], slope, rtol=1e-14)


def test_softmax_hand_table() -> None:
    """Logits (log 2, 0, 0): p = (1/2, 1/4, 1/4). Class 0 costs (1/2)^2 log 2, class 1 costs
    (3/4)^2 log 4; with alpha = (2, 1, 1) the first doubles. "mean" divides by N = 2."""
    z = np.log([[2.0, 1.0, 1.0], [2.0, 1.0, 1.0]])
    y = np.array([0, 1])
    expected = np.array([0.25 * np.log(2), 9 / 16 * np.log(4)])
    np.testing.assert_allclose(
        lossmod.softmax_focal_loss(z, y, reduction="none"), expected, rtol=1e-14
    )
    np.testing.assert_allclose(lossmod.softmax_focal_loss(z, y), expected.mean(), rtol=1e-14)
    weighted = lossmod.softmax_focal_loss(z, y, alpha=[2.0, 1.0, 1.0], reduction="none")
    np.testing.assert_allclose(weighted, expected * [2, 1], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_matches_mpmath_from_moderate_to_extreme_logits(dtype: type) -> None:
    """Values and slopes equal 60-digit mpmath (rel. 1e-13 in float64, 1e-6 in float32) for logits
    from -1e4 to 1e4, both labels, several gamma and alpha; tiny true values are not flushed to
    0 early, and the slope is exact where the loss is saturated."""
    z = np.array([-1e4, -700.0, -40.0, -5.0, -0.3, 0.0, 0.3, 5.0, 40.0, 700.0, 1e4])
    tolerance = 1e-13 if dtype == np.float64 else 1e-6
    for t in (0.0, 1.0):
        for gamma, alpha in ((2.0, 0.25), (0.5, -1.0), (0.0, 0.75), (5.0, 0.5)):
            zz, tt = z.astype(dtype), np.full(z.shape, t, dtype=dtype)
            value = lossmod.sigmoid_focal_loss(zz, tt, alpha, gamma)
            slope = lossmod.sigmoid_focal_loss_grad(zz, tt, alpha, gamma)
            assert value.dtype == dtype and slope.dtype == dtype
            for k, x in enumerate(zz.astype(np.float64)):
                exact = float(mp_sigmoid_focal(x, t, alpha, gamma))
                exact_slope = mp_derivative(
                    lambda v, t=t, a=alpha, g=gamma: mp_sigmoid_focal(v, t, a, g), x
                )
                # rounded to the dtype; below its smallest normal number, absolute accuracy
                tiny = np.finfo(dtype).tiny
                np.testing.assert_allclose(value[k], dtype(exact), rtol=tolerance, atol=tiny)
                np.testing.assert_allclose(slope[k], dtype(exact_slope), rtol=tolerance, atol=tiny)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_matches_mpmath_from_moderate_to_extreme_logits(dtype: type) -> None:
    """Rows with gaps from 0.1 to 2e4 between logits, every class as the label: loss and gradient
    equal 60-digit mpmath (gradient by mpmath's differentiation of each logit)."""
    rows = np.array(
        [
            [1e4, -1e4, 0.0],
            [0.1, 0.0, -0.2],
            [30.0, 0.0, -5.0],
            [-1e4, -1e4, 1e4],
            [700.0, 690.0, -700.0],
            [5.0, 5.0, 5.0],
        ]
    )
    tolerance = 1e-12 if dtype == np.float64 else 1e-6
    for gamma in (0.0, 0.5, 2.0):
        for y in range(3):
            labels = np.full(len(rows), y)
            value = lossmod.softmax_focal_loss(
                rows.astype(dtype), labels, gamma=gamma, reduction="none"
            )
            grad = lossmod.softmax_focal_loss_grad(
                rows.astype(dtype), labels, gamma=gamma, reduction="sum"
            )
            assert value.dtype == dtype and grad.dtype == dtype
            for i, row in enumerate(rows.astype(dtype).astype(np.float64)):
                exact = float(mp_softmax_focal(row, y, gamma))
                tiny = np.finfo(dtype).tiny
                np.testing.assert_allclose(value[i], dtype(exact), rtol=tolerance, atol=tiny)
                for k in range(3):

                    def along(
                        v: mpmath.mpf, i: int = i, k: int = k, y: int = y, gamma: float = gamma
                    ) -> mpmath.mpf:
                        shifted = [mpmath.mpf(float(x)) for x in rows[i].astype(dtype)]
                        shifted[k] = v
                        total = mpmath.fsum(mpmath.exp(x) for x in shifted)
                        p = mpmath.exp(shifted[y]) / total
                        return -((1 - p) ** gamma) * mpmath.log(p)

                    exact_slope = mp_derivative(along, row[k])
                    np.testing.assert_allclose(
                        grad[i, k], dtype(exact_slope), rtol=tolerance, atol=tiny
                    )


def test_gamma_zero_is_cross_entropy(rng: np.random.Generator) -> None:
    """gamma = 0: the sigmoid loss without alpha is bce_with_logits, with alpha it is
    bce_with_logits weighted alpha / 1 - alpha; the softmax loss is cross_entropy (weighted
    by alpha: cross_entropy(weight=alpha, reduction="sum") / N). Gradients too."""
    z = 4 * rng.normal(size=30)
    y = rng.integers(0, 2, size=30).astype(float)
    np.testing.assert_allclose(
        lossmod.sigmoid_focal_loss(z, y, -1, 0, "mean"), lossmod.bce_with_logits(z, y), rtol=1e-14
    )
    weight = np.where(y == 1, 0.3, 0.7)
    np.testing.assert_allclose(
        lossmod.sigmoid_focal_loss(z, y, 0.3, 0, "sum"),
        lossmod.bce_with_logits(z, y, weight=weight, reduction="sum"),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        lossmod.sigmoid_focal_loss_grad(z, y, -1, 0, "mean"),
        lossmod.bce_with_logits_grad(z, y),
        rtol=1e-13,
        atol=1e-17,
    )
    logits = 4 * rng.normal(size=(20, 5))
    labels = rng.integers(0, 5, size=20)
    np.testing.assert_allclose(
        lossmod.softmax_focal_loss(logits, labels, gamma=0),
        lossmod.cross_entropy(logits, labels),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        lossmod.softmax_focal_loss_grad(logits, labels, gamma=0),
        lossmod.cross_entropy_grad(logits, labels),
        rtol=1e-12,
        atol=1e-17,
    )
    alpha = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    np.testing.assert_allclose(
        lossmod.softmax_focal_loss(logits, labels, gamma=0, alpha=alpha) * 20,
        lossmod.cross_entropy(logits, labels, weight=alpha, reduction="sum"),
        rtol=1e-14,
    )
    soft = special.softmax(rng.normal(size=(20, 5)), axis=1)
    np.testing.assert_allclose(
        lossmod.softmax_focal_loss(logits, soft, gamma=0),
        lossmod.cross_entropy(logits, soft),
        rtol=1e-14,
    )


def test_two_class_softmax_is_the_sigmoid_loss(rng: np.random.Generator) -> None:
    """With two classes and logits (0, z), softmax p_1 = sigmoid(z): the softmax focal loss of
    label 1 and 0 equals the sigmoid focal loss without alpha, and the slope in z agrees."""
    z = 5 * rng.normal(size=12)
    y = rng.integers(0, 2, size=12)
    logits = np.stack([np.zeros(12), z], axis=1)
    for gamma in (0.5, 2.0):
        np.testing.assert_allclose(
            lossmod.softmax_focal_loss(logits, y, gamma=gamma, reduction="none"),
            lossmod.sigmoid_focal_loss(z, y.astype(float), -1, gamma),
            rtol=1e-13,
        )
        np.testing.assert_allclose(
            lossmod.softmax_focal_loss_grad(logits, y, gamma=gamma, reduction="sum")[:, 1],
            lossmod.sigmoid_focal_loss_grad(z, y.astype(float), -1, gamma),
            rtol=1e-12,
        )


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
def test_gradients_match_central_differences(gamma: float, rng: np.random.Generator) -> None:
    """Both gradients equal central differences (lossmod.gradcheck, rel. error <= 1e-6) for
    hard and soft labels, with and without alpha."""
    z = 3 * rng.normal(size=10)
    for t in (rng.integers(0, 2, size=10).astype(float), rng.uniform(size=10)):
        for alpha in (0.25, -1.0):
            check = lossmod.gradcheck(
                lambda x, t=t, a=alpha: float(lossmod.sigmoid_focal_loss(x, t, a, gamma, "sum")),
                lambda x, t=t, a=alpha: lossmod.sigmoid_focal_loss_grad(x, t, a, gamma, "sum"),
                z,
                rtol=1e-6,
            )
            assert check.passed, check.relative_error
    logits = 3 * rng.normal(size=(8, 4))
    for labels in (rng.integers(0, 4, size=8), special.softmax(rng.normal(size=(8, 4)), axis=1)):
        for alpha in (None, np.array([1.0, 2.0, 0.5, 3.0])):
            check = lossmod.gradcheck(
                lambda x, y=labels, a=alpha: float(
                    lossmod.softmax_focal_loss(x, y, gamma=gamma, alpha=a)
                ),
                lambda x, y=labels, a=alpha: lossmod.softmax_focal_loss_grad(
                    x, y, gamma=gamma, alpha=a
                ),
                logits,
                rtol=1e-6,
            )
            assert check.passed, check.relative_error


def expected_focal(p: float, eta: float, gamma: float) -> float:
    """E over y ~ Bernoulli(eta) of the focal loss without alpha at probability p (hand)."""
    return float(eta * (1 - p) ** gamma * -np.log(p) + (1 - eta) * p**gamma * -np.log1p(-p))


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_minimiser_is_under_confident(gamma: float) -> None:
    """For labels y ~ Bernoulli(eta), the expected focal loss is minimised at p* strictly between
    1/2 and eta (eta > 1/2): the zero of the expected slope (from lossmod's gradient) equals a
    direct minimisation of the hand formula; gamma = 0 gives p* = eta."""
    for eta in (0.6, 0.8, 0.95, 0.99):

        def slope(z: float, eta: float = eta, g: float = gamma) -> float:
            x, one = np.array([z]), np.ones(1)
            return float(
                eta * lossmod.sigmoid_focal_loss_grad(x, one, -1, g)[0]
                + (1 - eta) * lossmod.sigmoid_focal_loss_grad(x, 0 * one, -1, g)[0]
            )

        p_star = special.expit(optimize.brentq(slope, -20, 20, xtol=1e-14))
        direct = optimize.minimize_scalar(
            lambda p, e=eta: expected_focal(p, e, gamma),
            bounds=(1e-6, 1 - 1e-9),
            method="bounded",
            options={"xatol": 1e-12},
        )
        np.testing.assert_allclose(p_star, direct.x, atol=1e-6)
        assert 0.5 < p_star < eta, f"{eta=} {p_star=}"
    zero = optimize.brentq(
        lambda z: float(
            0.8 * lossmod.sigmoid_focal_loss_grad(np.array([z]), np.ones(1), -1, 0.0)[0]
            + 0.2 * lossmod.sigmoid_focal_loss_grad(np.array([z]), np.zeros(1), -1, 0.0)[0]
        ),
        -20,
        20,
        xtol=1e-14,
    )
    np.testing.assert_allclose(special.expit(zero), 0.8, rtol=1e-10)


def test_value_and_grad_is_both_from_one_pass(rng: np.random.Generator) -> None:
    """The registered value_and_grad returns the value and the gradient bit for bit."""
    z, y = 3 * rng.normal(size=9), rng.integers(0, 2, size=9).astype(float)
    value, grad = focal._sigmoid_focal_loss_value_and_grad(z, y, 0.4, 1.5, "mean")
    assert value == lossmod.sigmoid_focal_loss(z, y, 0.4, 1.5, "mean")
    assert np.array_equal(grad, lossmod.sigmoid_focal_loss_grad(z, y, 0.4, 1.5, "mean"))


def test_errors_are_named() -> None:
    """Bad gamma, alpha, labels and shapes raise ValueErrors that say what was expected."""
    z, y = np.zeros(3), np.array([0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"gamma must be finite and >= 0; got -1"):
        lossmod.sigmoid_focal_loss(z, y, gamma=-1.0)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], or negative"):
        lossmod.sigmoid_focal_loss(z, y, alpha=1.5)
    with pytest.raises(ValueError, match=r"targets must hold probabilities in \[0, 1\]"):
        lossmod.sigmoid_focal_loss(z, np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"inputs has shape \(3, 1\) but targets has shape"):
        lossmod.sigmoid_focal_loss(z[:, None], y)
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"labels must hold class indices in \[0, 2\]; got 3"):
        lossmod.softmax_focal_loss(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"alpha has shape \(2, 3\), which does not broadcast"):
        lossmod.softmax_focal_loss(logits, np.array([0, 1]), alpha=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\)"):
        lossmod.softmax_focal_loss(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"alpha must be >= 0"):
        lossmod.softmax_focal_loss(logits, np.array([0, 1]), alpha=[1.0, -1.0, 1.0])
