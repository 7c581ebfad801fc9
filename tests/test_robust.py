"""lossmod/robust.py: the pinball loss, the Tweedie deviances, Barron's loss, Cauchy and Tukey's
biweight against scikit-learn's metrics, scipy's densities and least_squares, Barron's special
cases written by hand, 50-digit mpmath near the limits alpha = 0, 2 and -inf, and central
differences."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.metrics import (
    mean_gamma_deviance,
    mean_pinball_loss,
    mean_poisson_deviance,
    mean_tweedie_deviance,
)

import lossmod
from tests.helpers.cases import central_differences

ROBUST = ("pinball_loss", "barron_loss", "cauchy_loss", "tukey_biweight_loss")


@pytest.fixture
def pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and targets with residuals from about 0.01 to 10."""
    return 3.0 * rng.normal(size=40), 3.0 * rng.normal(size=40)


# --- pinball -------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.01, 0.1, 0.5, 0.77, 0.99])
def test_pinball_is_sklearns_mean_pinball_loss(pair: tuple, q: float) -> None:
    """reduction="mean" is mean_pinball_loss(target, pred, alpha=q) (argument order reversed)."""
    pred, target = pair
    np.testing.assert_allclose(
        lossmod.pinball_loss(pred, target, quantile=q),
        mean_pinball_loss(target, pred, alpha=q),
        rtol=1e-13,
    )


def test_pinball_residual_convention_and_half_absolute_error() -> None:
    """r = target - pred: under-prediction by 1 costs q, over-prediction by 1 costs 1 - q; at
    q = 1/2 the loss is |r| / 2, half lossmod.mae."""
    costs = lossmod.pinball_loss([0.0, 2.0], [1.0, 1.0], quantile=0.9, reduction="none")
    np.testing.assert_allclose(costs, [0.9, 0.1], rtol=1e-15)
    x = np.array([0.3, -2.0, 5.0])
    np.testing.assert_allclose(
        lossmod.pinball_loss(x, np.zeros(3)), lossmod.mae(x, np.zeros(3)) / 2, rtol=1e-15
    )


def test_pinball_gradient_is_central_differences_and_zero_at_ties(pair: tuple) -> None:
    """Away from ties the gradient is central differences of the mean; at r = 0 it is 0, inside
    the subdifferential [-q, 1 - q]."""
    pred, target = pair
    q = 0.3
    numeric = central_differences(lambda p: mean_pinball_loss(target, p, alpha=q), pred)
    np.testing.assert_allclose(
        lossmod.pinball_loss_grad(pred, target, quantile=q), numeric, rtol=1e-6, atol=1e-10
    )
    np.testing.assert_array_equal(lossmod.pinball_loss_grad([1.0], [1.0], quantile=q), [0.0])


def test_pinball_minimiser_is_the_empirical_quantile(rng: np.random.Generator) -> None:
    """The best constant under the pinball loss at level q is the inverted-CDF q-quantile."""
    y = rng.exponential(size=101)
    for q in (0.05, 0.5, 0.9):
        grid = np.sort(y)  # the minimum of a piecewise-linear function is at a data point
        costs = [lossmod.pinball_loss(np.full_like(y, c), y, quantile=q) for c in grid]
        assert grid[int(np.argmin(costs))] == np.quantile(y, q, method="inverted_cdf")


def test_pinball_takes_a_quantile_per_column(rng: np.random.Generator) -> None:
    """quantile of shape (K,) against predictions (N, K): column k is the loss at level q_k."""
    pred, target = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    levels = np.array([0.1, 0.5, 0.9])
    each = lossmod.pinball_loss(pred, target, quantile=levels, reduction="none")
    for k, q in enumerate(levels):
        np.testing.assert_allclose(
            each[:, k], lossmod.pinball_loss(pred[:, k], target[:, k], quantile=q, reduction="none")
        )
    with pytest.raises(ValueError, match=r"quantile has shape \(2,\), which does not broadcast"):
        lossmod.pinball_loss(pred, target, quantile=[0.1, 0.9])


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5])
def test_pinball_quantile_outside_the_open_interval_is_named(q: float) -> None:
    """q must lie strictly between 0 and 1."""
    with pytest.raises(ValueError, match=r"^quantile must lie strictly between 0 and 1; got"):
        lossmod.pinball_loss_grad([0.0], [1.0], quantile=q)


# --- Tweedie -------------------------------------------------------------------------------


@pytest.fixture
def amounts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Log-means and positive amounts from 1e-3 to about 20, with exact zeros."""
    eta = rng.normal(size=30)
    y = rng.gamma(1.5, 2.0, size=30)
    y[:4] = 0.0
    y[4] = 1e-3
    return eta, y


@pytest.mark.parametrize("power", [1.0, 1.1, 1.5, 1.9])
def test_tweedie_is_sklearns_mean_tweedie_deviance(amounts: tuple, power: float) -> None:
    """mean: mean_tweedie_deviance(y, exp(eta), power=p); sum and none agree with it."""
    eta, y = amounts
    expected = mean_tweedie_deviance(y, np.exp(eta), power=power)
    np.testing.assert_allclose(lossmod.tweedie_deviance(eta, y, power=power), expected, rtol=1e-12)
    np.testing.assert_allclose(
        lossmod.tweedie_deviance(eta, y, power=power, reduction="sum"),
        expected * y.size,
        rtol=1e-12,
    )


def test_poisson_and_gamma_are_sklearns_deviances(amounts: tuple) -> None:
    """power 1 is mean_poisson_deviance, power 2 (positive targets) mean_gamma_deviance."""
    eta, y = amounts
    np.testing.assert_allclose(
        lossmod.tweedie_deviance(eta, y, power=1.0),
        mean_poisson_deviance(y, np.exp(eta)),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        lossmod.tweedie_deviance(eta[4:], y[4:], power=2.0),
        mean_gamma_deviance(y[4:], np.exp(eta[4:])),
        rtol=1e-12,
    )


def test_poisson_deviance_is_twice_the_likelihood_gap(amounts: tuple) -> None:
    """d = 2 [log P(y | mu = y) - log P(y | mu)] for Poisson counts (scipy's logpmf)."""
    eta, _ = amounts
    y = np.arange(30.0) % 7
    mu = np.exp(eta)
    gap = stats.poisson.logpmf(y, y) - stats.poisson.logpmf(y, mu)
    np.testing.assert_allclose(
        lossmod.tweedie_deviance(eta, y, power=1.0, reduction="none"),
        2 * gap,
        rtol=1e-10,
        atol=1e-12,
    )


def test_gamma_deviance_is_twice_the_likelihood_gap(amounts: tuple) -> None:
    """Gamma with shape k, mean mu: k d / 2 = log f(y | mean y) - log f(y | mean mu)."""
    eta, y = amounts
    y, eta = y[4:], eta[4:]
    k = 3.0
    gap = stats.gamma.logpdf(y, k, scale=y / k) - stats.gamma.logpdf(y, k, scale=np.exp(eta) / k)
    np.testing.assert_allclose(
        k * lossmod.tweedie_deviance(eta, y, power=2.0, reduction="none"),
        2 * gap,
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("power", [1.0, 1.0 + 1e-7, 1.3, 2.0 - 1e-7, 2.0])
def test_tweedie_against_mpmath_at_50_digits(power: float) -> None:
    """Each element against the general formula in 50-digit arithmetic (the limits at p = 1 and 2
    by their own formulas), including p within 1e-7 of them and mu within 1e-6 of y."""
    eta = np.array([-3.0, -0.2, 0.0, 1e-6, 0.7, 4.0, 2.0])
    y = np.array([0.5, 1.0, 1.0, 1.0, 2.0, 0.1, 7.0])
    mpmath.mp.dps = 50
    p = mpmath.mpf(power)
    expected = []
    for e, t in zip(eta, y, strict=True):
        mu, t = mpmath.exp(mpmath.mpf(e)), mpmath.mpf(t)
        if power == 1.0:
            d = 2 * (t * mpmath.log(t / mu) - t + mu)
        elif power == 2.0:
            d = 2 * (mpmath.log(mu / t) + t / mu - 1)
        else:
            a, b = 1 - p, 2 - p
            d = 2 * (t**b / (a * b) - t * mu**a / a + mu**b / b)
        expected.append(float(d))
    np.testing.assert_allclose(
        lossmod.tweedie_deviance(eta, y, power=power, reduction="none"),
        expected,
        rtol=1e-9,
        atol=1e-30,
    )


@pytest.mark.parametrize("power", [1.0, 1.4, 2.0])
def test_tweedie_gradient_is_central_differences(amounts: tuple, power: float) -> None:
    """d/deta = 2 mu^(1-p) (mu - y) / n, against central differences of sklearn's deviance."""
    eta, y = amounts
    if power == 2.0:
        eta, y = eta[4:], y[4:]
    numeric = central_differences(lambda e: mean_tweedie_deviance(y, np.exp(e), power=power), eta)
    np.testing.assert_allclose(
        lossmod.tweedie_deviance_grad(eta, y, power=power), numeric, rtol=1e-6, atol=1e-9
    )
    mu = np.exp(eta)
    np.testing.assert_allclose(
        lossmod.tweedie_deviance_grad(eta, y, power=power),
        2 * mu ** (1 - power) * (mu - y) / y.size,
        rtol=1e-12,
    )


def test_tweedie_domain_errors_are_named() -> None:
    """power outside [1, 2]; a negative target; a zero target for the Gamma deviance."""
    with pytest.raises(ValueError, match=r"^power must be in \[1, 2\] .*; got 0.5"):
        lossmod.tweedie_deviance([0.0], [1.0], power=0.5)
    with pytest.raises(ValueError, match=r"^target must be >= 0; got -1.0 at index \(1,\)"):
        lossmod.tweedie_deviance([0.0, 0.0], [1.0, -1.0], power=1.5)
    with pytest.raises(ValueError, match=r"^target must be > 0 for power 2 \(Gamma\); got 0.0"):
        lossmod.tweedie_deviance_grad([0.0, 0.0], [1.0, 0.0], power=2.0)


# --- Barron --------------------------------------------------------------------------------


def barron_by_hand(x: np.ndarray, alpha: float, c: float) -> np.ndarray:
    """Barron's rho by its general formula, for alpha away from 0 and 2."""
    d = abs(alpha - 2)
    return d / alpha * (((x / c) ** 2 / d + 1) ** (alpha / 2) - 1)


@pytest.mark.parametrize("c", [0.3, 1.0, 4.0])
def test_barron_special_cases(pair: tuple, c: float) -> None:
    """alpha = 2: (x/c)^2 / 2; 1: sqrt((x/c)^2 + 1) - 1 = pseudo_huber(delta=c) / c^2;
    0: log((x/c)^2 / 2 + 1); -2: 2 (x/c)^2 / ((x/c)^2 + 4); -inf: 1 - exp(-(x/c)^2 / 2)."""
    pred, target = pair
    z = (pred - target) / c
    cases = {
        2.0: z**2 / 2,
        1.0: z**2 / (np.sqrt(z**2 + 1) + 1),  # sqrt(z^2 + 1) - 1 without cancellation
        0.0: np.log1p(z**2 / 2),
        -2.0: 2 * z**2 / (z**2 + 4),
        -math.inf: -np.expm1(-(z**2) / 2),
    }
    for alpha, expected in cases.items():
        values = lossmod.barron_loss(pred, target, alpha=alpha, scale=c, reduction="none")
        np.testing.assert_allclose(values, expected, rtol=1e-13, atol=1e-300, err_msg=f"{alpha=}")
    np.testing.assert_allclose(
        lossmod.barron_loss(pred, target, alpha=1.0, scale=c, reduction="none"),
        lossmod.pseudo_huber(pred, target, delta=c, reduction="none") / c**2,
        rtol=1e-12,
    )


@pytest.mark.parametrize("alpha", [-7.0, -0.5, 0.5, 1.5, 3.0, 8.0])
def test_barron_general_formula(pair: tuple, alpha: float) -> None:
    """Away from its limits, the loss is the formula of Barron's paper."""
    pred, target = pair
    np.testing.assert_allclose(
        lossmod.barron_loss(pred, target, alpha=alpha, scale=1.5, reduction="none"),
        barron_by_hand(pred - target, alpha, 1.5),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    "alpha", [1e-300, 1e-12, -1e-8, 1e-4, 2 - 4.440892098500626e-16, 2 + 1e-10, 2 - 1e-5, -1e12]
)
def test_barron_near_its_limits_against_mpmath(alpha: float) -> None:
    """Within 1e-300 of alpha = 0 and one double of alpha = 2, and at alpha = -1e12 (near
    -inf): the value and the slope against the general formula in 60-digit arithmetic."""
    x = np.array([1e-8, 0.01, 0.5, 1.0, 3.0, 30.0, 1e4])
    mpmath.mp.dps = 60
    a = mpmath.mpf(alpha)
    d = abs(a - 2)
    values, slopes = [], []
    for xi in x:
        q = mpmath.mpf(xi) ** 2
        # d / a ((q / d + 1)^(a / 2) - 1), without rounding (q / d + 1)^(a / 2) to 1
        values.append(float(d / a * mpmath.expm1(a / 2 * mpmath.log1p(q / d))))
        slopes.append(float(mpmath.mpf(xi) * (q / d + 1) ** (a / 2 - 1)))
    np.testing.assert_allclose(
        lossmod.barron_loss(x, np.zeros_like(x), alpha=alpha, reduction="none"), values, rtol=1e-12
    )
    np.testing.assert_allclose(
        lossmod.barron_loss_grad(x, np.zeros_like(x), alpha=alpha, reduction="none"),
        slopes,
        rtol=1e-12,
    )


def test_barron_is_continuous_in_alpha_at_its_limits(pair: tuple) -> None:
    """alpha = 2 - 1e-9, 1e-9, -1e9 give the values at 2, 0 and -inf to about 1e-8."""
    pred, target = pair
    for near, limit in ((2 - 1e-9, 2.0), (1e-9, 0.0), (-1e9, -math.inf)):
        np.testing.assert_allclose(
            lossmod.barron_loss(pred, target, alpha=near, reduction="none"),
            lossmod.barron_loss(pred, target, alpha=limit, reduction="none"),
            rtol=1e-7,
            atol=1e-12,
        )


@pytest.mark.parametrize("alpha", [2.0, 1.0, 0.0, -2.0, -math.inf, 0.3])
def test_barron_gradient_is_central_differences(pair: tuple, alpha: float) -> None:
    """rho'(x) = x / c^2 ((x/c)^2 / |alpha - 2| + 1)^(alpha / 2 - 1), scaled for the mean."""
    pred, target = pair

    def mean(p: np.ndarray) -> float:
        return (
            float(np.mean(barron_by_hand(p - target, alpha, 0.8)))
            if alpha not in (2.0, 0.0, -math.inf)
            else float(lossmod.barron_loss(p, target, alpha=alpha, scale=0.8))
        )

    numeric = central_differences(mean, pred)
    np.testing.assert_allclose(
        lossmod.barron_loss_grad(pred, target, alpha=alpha, scale=0.8),
        numeric,
        rtol=1e-6,
        atol=1e-10,
    )


def test_barron_bad_options_are_named() -> None:
    """alpha NaN or +inf, and a scale that is not positive, raise and say so."""
    for alpha in (math.nan, math.inf):
        with pytest.raises(ValueError, match=r"^alpha must be a real number or -inf"):
            lossmod.barron_loss([0.0], [1.0], alpha=alpha)
    with pytest.raises(ValueError, match=r"^scale must be > 0 and finite; got 0.0"):
        lossmod.barron_loss_grad([0.0], [1.0], scale=0.0)


# --- Cauchy and Tukey ----------------------------------------------------------------------


def test_cauchy_is_scipys_least_squares_cauchy_and_cauchy_density(pair: tuple) -> None:
    """sum = least_squares' cost with loss="cauchy", f_scale=c (0.5 sum C^2 ln(1 + (f/C)^2));
    each loss is c^2 times the Cauchy(0, c) negative log-density, up to its constant."""
    pred, target = pair
    c = 1.7
    residual = pred - target
    # least_squares reports the cost at its solution: start it there with nothing to move.
    fit = optimize.least_squares(
        lambda theta: residual + 0 * theta, [0.0], loss="cauchy", f_scale=c, max_nfev=1
    )
    np.testing.assert_allclose(
        lossmod.cauchy_loss(pred, target, scale=c, reduction="sum"), fit.cost, rtol=1e-12
    )
    nll = -stats.cauchy.logpdf(residual, scale=c) + stats.cauchy.logpdf(0.0, scale=c)
    np.testing.assert_allclose(
        lossmod.cauchy_loss(pred, target, scale=c, reduction="none"),
        c**2 / 2 * nll,
        rtol=1e-11,
        atol=1e-14,
    )


def test_cauchy_is_barron_at_alpha_0(pair: tuple) -> None:
    """cauchy_loss(scale=c) = (c^2 / 2) barron_loss(alpha=0, scale=c / sqrt 2)."""
    pred, target = pair
    c = 2.3849
    barron = lossmod.barron_loss(pred, target, alpha=0.0, scale=c / math.sqrt(2), reduction="none")
    np.testing.assert_allclose(
        lossmod.cauchy_loss(pred, target, scale=c, reduction="none"), c**2 / 2 * barron, rtol=1e-12
    )


def test_tukey_biweight_by_hand() -> None:
    """(c^2/6)(1 - (1 - u^2)^3) inside, c^2/6 outside; psi = r (1 - u^2)^2, 0 outside."""
    c = 2.0
    r = np.array([0.0, 1e-9, 0.5, -1.9, 2.0, 3.0, -50.0])
    u = r / c
    inside = np.abs(u) < 1
    value = np.where(inside, c**2 / 6 * (1 - (1 - u**2) ** 3), c**2 / 6)
    value[1] = 0.5e-18  # 1 - (1 - u^2)^3 cancels; the loss is r^2 / 2 there
    psi = np.where(inside, r * (1 - u**2) ** 2, 0.0)
    np.testing.assert_allclose(
        lossmod.tukey_biweight_loss(r, np.zeros(7), scale=c, reduction="none"),
        value,
        rtol=1e-12,
        atol=0,
    )
    np.testing.assert_allclose(
        lossmod.tukey_biweight_loss_grad(r, np.zeros(7), scale=c, reduction="none"), psi, rtol=1e-12
    )


@pytest.mark.parametrize("name", ["cauchy_loss", "tukey_biweight_loss"])
def test_redescending_gradients_are_central_differences(pair: tuple, name: str) -> None:
    """The slopes against central differences of the mean (Tukey away from |r| = c, where its
    curvature is continuous anyway)."""
    pred, target = pair
    value, grad = getattr(lossmod, name), getattr(lossmod, f"{name}_grad")
    numeric = central_differences(lambda p: value(p, target, scale=2.5), pred)
    np.testing.assert_allclose(grad(pred, target, scale=2.5), numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize(("name", "c"), [("cauchy_loss", 2.3849), ("tukey_biweight_loss", 4.6851)])
def test_default_scales_give_95_percent_efficiency(name: str, c: float) -> None:
    """E[psi']^2 / E[psi^2] under N(0, 1) is 0.95 at the default tuning constants (quadrature)."""
    grad = getattr(lossmod, f"{name}_grad")

    def psi(z: float) -> float:
        return float(grad(np.array([z]), np.zeros(1), reduction="none")[0])

    def slope(z: float) -> float:
        h = 1e-5
        return (psi(z + h) - psi(z - h)) / (2 * h)

    mean_slope = stats.norm.expect(slope, lb=-12, ub=12, points=[-c, c])
    mean_square = stats.norm.expect(lambda z: psi(z) ** 2, lb=-12, ub=12, points=[-c, c])
    np.testing.assert_allclose(mean_slope**2 / mean_square, 0.95, atol=2e-4)


@pytest.mark.parametrize("name", ["cauchy_loss", "tukey_biweight_loss", "barron_loss"])
def test_redescending_influence_falls_to_zero(name: str) -> None:
    """Far from the target the pull vanishes (Barron at alpha = -2); near it it is about r."""
    options = {"alpha": -2.0, "scale": 2.0} if name == "barron_loss" else {"scale": 2.0}
    grad = getattr(lossmod, f"{name}_grad")
    far = grad(np.array([1e3]), np.zeros(1), **options)
    near = grad(np.array([1e-4]), np.zeros(1), **options)
    assert abs(far[0]) < 1e-2 * abs(grad(np.array([1.0]), np.zeros(1), **options)[0])
    scale = 4.0 if name == "barron_loss" else 1.0  # Barron's x / c^2
    np.testing.assert_allclose(near * scale, 1e-4, rtol=1e-6)


@pytest.mark.parametrize("name", ROBUST)
def test_float32_in_float32_out_at_large_residuals(name: str) -> None:
    """float32 predictions give float32 losses and gradients, finite at residuals of 1e30."""
    pred = np.array([1e30, -1e30, 0.5], dtype=np.float32)
    value = getattr(lossmod, name)(pred, np.zeros(3, dtype=np.float32), reduction="none")
    grad = getattr(lossmod, f"{name}_grad")(pred, np.zeros(3, dtype=np.float32))
    assert value.dtype == grad.dtype == np.float32
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
