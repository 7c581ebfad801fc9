"""MSE, MAE and Huber against scikit-learn, scipy and hand-computed tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special
from sklearn.metrics import mean_absolute_error, mean_squared_error

import lossmod


def test_match_scikit_learn(rng: np.random.Generator) -> None:
    """mse and mae equal sklearn.metrics.mean_squared_error / mean_absolute_error."""
    pred, target = rng.normal(size=100), rng.normal(size=100)
    assert lossmod.mse(pred, target) == pytest.approx(mean_squared_error(target, pred), rel=1e-14)
    assert lossmod.mae(pred, target) == pytest.approx(mean_absolute_error(target, pred), rel=1e-14)


@pytest.mark.parametrize("delta", [0.1, 1.0, 2.5])
def test_huber_matches_scipy(delta: float, rng: np.random.Generator) -> None:
    """Elementwise huber equals scipy.special.huber(delta, pred - target)."""
    pred, target = 3 * rng.normal(size=200), rng.normal(size=200)
    np.testing.assert_allclose(
        lossmod.huber(pred, target, delta=delta, reduction="none"),
        special.huber(delta, pred - target),
        rtol=1e-15,
    )


def test_hand_table() -> None:
    """pred = [1, 2, 5], target = [1, 0, 1]: residuals 0, 2, 4.
    MSE = (0 + 4 + 16) / 3; MAE = 6 / 3; Huber(delta=1) = (0 + 1.5 + 3.5) / 3;
    gradients 2r/3, sign(r)/3, clip(r, -1, 1)/3."""
    pred, target = np.array([1.0, 2.0, 5.0]), np.array([1.0, 0.0, 1.0])
    assert lossmod.mse(pred, target) == pytest.approx(20 / 3, rel=1e-15)
    assert lossmod.mae(pred, target) == pytest.approx(2.0, rel=1e-15)
    assert lossmod.huber(pred, target) == pytest.approx(5 / 3, rel=1e-15)
    np.testing.assert_allclose(lossmod.mse_grad(pred, target), [0, 4 / 3, 8 / 3], rtol=1e-15)
    np.testing.assert_allclose(lossmod.mae_grad(pred, target), [0, 1 / 3, 1 / 3], rtol=1e-15)
    np.testing.assert_allclose(lossmod.huber_grad(pred, target), [0, 1 / 3, 1 / 3], rtol=1e-15)
    np.testing.assert_allclose(
        lossmod.huber(pred, target, delta=3.0, reduction="none"), [0, 2, 7.5], rtol=1e-15
    )


def test_huber_is_continuous_with_continuous_slope_at_delta() -> None:
    """Value and slope agree from both sides of |r| = delta (to first order in the step)."""
    delta, step = 0.7, 1e-9
    inside, outside = np.array([delta - step]), np.array([delta + step])
    zero = np.zeros(1)
    assert lossmod.huber(inside, zero, delta=delta) == pytest.approx(
        lossmod.huber(outside, zero, delta=delta), abs=2e-9
    )
    assert lossmod.huber_grad(inside, zero, delta=delta) == pytest.approx(delta, abs=2e-9)
    assert lossmod.huber_grad(outside, zero, delta=delta) == pytest.approx(delta, abs=0)


def test_broadcast_column_is_refused() -> None:
    """The classic (N,) vs (N, 1) mistake: the message gives both shapes and the (N, N) result."""
    with pytest.raises(
        ValueError,
        match=r"^pred has shape \(32, 1\) but target has shape \(32,\): "
        r"they would broadcast to \(32, 32\); make them equal$",
    ):
        lossmod.mse(np.zeros((32, 1)), np.zeros(32))
    with pytest.raises(
        ValueError, match=r"has shape \(3,\) but target has shape \(4,\): they must"
    ):
        lossmod.mae_grad(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("delta", [0.0, -1.0, np.inf, np.nan])
@pytest.mark.parametrize("name", ["huber", "pseudo_huber"])
def test_bad_delta_names_delta(name: str, delta: float) -> None:
    """pseudo_huber's delta is checked as huber's is."""
    for function in (getattr(lossmod, name), getattr(lossmod, f"{name}_grad")):
        with pytest.raises(ValueError, match=r"^delta must be > 0 and finite; got"):
            function(np.zeros(2), np.zeros(2), delta=delta)


@pytest.mark.parametrize("beta", [-1.0, np.inf, np.nan])
def test_bad_beta(beta: float) -> None:
    """smooth_l1's beta must be a finite number >= 0 (0 is the L1 loss, as torch's); the message
    names it and the value."""
    for function in (lossmod.smooth_l1, lossmod.smooth_l1_grad):
        with pytest.raises(ValueError, match=r"^beta must be >= 0 and finite; got"):
            function(np.zeros(2), np.zeros(2), beta=beta)


@pytest.mark.parametrize("delta", [0.0, -1.0, np.inf, np.nan])
def test_bad_delta(delta: float) -> None:
    """delta must be a positive finite number; the message names it and the value."""
    for function in (lossmod.huber, lossmod.huber_grad):
        with pytest.raises(ValueError, match=r"^delta must be > 0 and finite; got"):
            function(np.zeros(2), np.zeros(2), delta=delta)


def test_empty_mean_and_non_numbers() -> None:
    """The mean of nothing is refused (not NaN); strings are not numbers; infinities are named."""
    with pytest.raises(ValueError, match=r"reduction='mean' over an empty input is undefined"):
        lossmod.mse(np.zeros(0), np.zeros(0))
    assert lossmod.mse(np.zeros(0), np.zeros(0), reduction="sum") == 0
    with pytest.raises(ValueError, match=r"^target must hold real numbers; got dtype <U1"):
        lossmod.mse(np.zeros(1), np.array(["a"]))
    with pytest.raises(ValueError, match=r"^pred must be finite; got inf at index \(1,\)"):
        lossmod.mse(np.array([0.0, np.inf]), np.zeros(2))


def test_float32_mean_over_ten_million_elements() -> None:
    """A float32 mean over 1e7 elements keeps float32 precision (sums accumulated in float64)."""
    pred = np.full(10_000_000, 0.1, dtype=np.float32)
    target = np.zeros_like(pred)
    exact = float(np.float32(0.1)) ** 2
    assert lossmod.mse(pred, target) == pytest.approx(exact, rel=1e-6)
    assert lossmod.mae(pred, target) == pytest.approx(float(np.float32(0.1)), rel=1e-6)


@pytest.mark.parametrize("beta", [0.2, 1.0, 3.0])
def test_smooth_l1_is_huber_over_delta(beta: float, rng: np.random.Generator) -> None:
    """smooth_l1(r; beta) = scipy.special.huber(beta, r) / beta, elementwise, and so its gradient
    is clip(r / beta, -1, 1)."""
    pred, target = rng.normal(0, 3, 200), rng.normal(0, 3, 200)
    r = pred - target
    np.testing.assert_allclose(
        lossmod.smooth_l1(pred, target, beta=beta, reduction="none"),
        special.huber(beta, r) / beta,
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        lossmod.smooth_l1_grad(pred, target, beta=beta, reduction="sum"),
        np.clip(r / beta, -1, 1),
        rtol=1e-15,
    )


def test_pseudo_huber_and_log_cosh_hand_values() -> None:
    """Hand values: pseudo-Huber(r=3, delta=4) = 16 (sqrt(1 + 9/16) - 1) = 16 (5/4 - 1) = 4;
    log cosh(log 2) = log((2 + 1/2) / 2) = log(5/4); gradients 3 / (5/4) = 2.4 and
    tanh(log 2) = (2 - 1/2) / (2 + 1/2) = 0.6."""
    assert lossmod.pseudo_huber([3.0], [0.0], delta=4.0) == pytest.approx(4.0, rel=1e-15)
    assert lossmod.pseudo_huber_grad([3.0], [0.0], delta=4.0)[0] == pytest.approx(2.4, rel=1e-15)
    assert lossmod.log_cosh([np.log(2.0)], [0.0]) == pytest.approx(np.log(1.25), rel=1e-15)
    assert lossmod.log_cosh_grad([np.log(2.0)], [0.0])[0] == pytest.approx(0.6, rel=1e-15)


@pytest.mark.parametrize(
    "r", [1e-300, 1e-150, 1e-20, 1e-8, 1e-4, 0.3, 5.0, 19.9, 20.1, 700.0, 1e4, 1e300]
)
def test_pseudo_huber_and_log_cosh_against_mpmath(r: float) -> None:
    """Full relative accuracy (1e-14) from tiny residuals, where sqrt(1 + t^2) - 1 and
    log(cosh r) cancel, to huge ones, where r^2 and cosh r overflow."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    for sign in (1.0, -1.0):
        x = mpmath.mpf(r)
        expected_ph = float(mpmath.sqrt(1 + x**2) - 1)  # delta = 1
        expected_lc = float(mpmath.log(mpmath.cosh(x)))
        got_ph = lossmod.pseudo_huber([sign * r], [0.0], reduction="sum")
        got_lc = lossmod.log_cosh([sign * r], [0.0], reduction="sum")
        if expected_ph > 1e-300:
            assert got_ph == pytest.approx(expected_ph, rel=1e-14)
        if expected_lc > 1e-300:
            assert got_lc == pytest.approx(expected_lc, rel=1e-14)
