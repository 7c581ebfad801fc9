"""lossmod/likelihood.py: torch's poisson_nll_loss and gaussian_nll_loss against scipy's
distributions, scikit-learn's Poisson deviance, hand formulas and central differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats
from sklearn.metrics import mean_poisson_deviance

import lossmod
from tests.helpers.cases import central_differences


@pytest.fixture
def counts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Log-rates and Poisson counts, including 0 and 1 (where torch's Stirling term is off)."""
    log_rate = rng.normal(size=12)
    target = np.concatenate([[0.0, 1.0, 2.0], rng.poisson(4.0, size=9).astype(float)])
    return log_rate, target


def test_poisson_is_scipys_negative_log_pmf_without_log_factorial(counts: tuple) -> None:
    """log_input=True: exp(x) - t x = -log Poisson(t | e^x) - log(t!), element by element."""
    x, t = counts
    expected = -stats.poisson.logpmf(t, np.exp(x)) - special.gammaln(t + 1)
    np.testing.assert_allclose(
        lossmod.poisson_nll_loss(x, t, reduction="none"), expected, rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(lossmod.poisson_nll_loss(x, t), expected.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        lossmod.poisson_nll_loss(x, t, reduction="sum"), expected.sum(), rtol=1e-12
    )


def test_poisson_on_rates_uses_eps(counts: tuple) -> None:
    """log_input=False: x - t log(x + eps), eps = 1e-8 by default; a rate of 0 is finite."""
    x, t = counts
    rate = np.exp(x)
    for eps in (1e-8, 0.5):
        np.testing.assert_allclose(
            lossmod.poisson_nll_loss(rate, t, log_input=False, eps=eps, reduction="none"),
            rate - t * np.log(rate + eps),
            rtol=1e-13,
        )
    at_zero = lossmod.poisson_nll_loss(
        np.array([0.0]), np.array([2.0]), log_input=False, reduction="sum"
    )
    assert at_zero == pytest.approx(-2.0 * math.log(1e-8))


def test_poisson_full_adds_stirling_for_counts_above_one(counts: tuple) -> None:
    """full=True adds t log t - t + log(2 pi t) / 2 where t > 1 only (torch's mask), which is
    within 1 / (12 t) of log(t!) there."""
    x, t = counts
    partial = lossmod.poisson_nll_loss(x, t, reduction="none")
    full = lossmod.poisson_nll_loss(x, t, full=True, reduction="none")
    stirling = [k * math.log(k) - k + 0.5 * math.log(2 * math.pi * k) if k > 1 else 0.0 for k in t]
    np.testing.assert_allclose(full - partial, stirling, rtol=1e-12, atol=1e-15)
    big = t > 1
    exact = -stats.poisson.logpmf(t, np.exp(x))
    assert np.all(np.abs(full[big] - exact[big]) <= 1 / (12 * t[big]))
    np.testing.assert_array_equal(full[:2], partial[:2])  # t = 0 and t = 1: no term


def test_poisson_matches_sklearn_mean_poisson_deviance(rng: np.random.Generator) -> None:
    """Half the Poisson deviance is the loss minus its value at the perfect rate:
    mean_poisson_deviance(t, mu) = 2 mean(l(log mu, t) - l(log t, t))."""
    t = rng.poisson(5.0, size=50).astype(float) + 1.0
    mu = rng.uniform(0.5, 10.0, size=50)
    excess = lossmod.poisson_nll_loss(np.log(mu), t, reduction="none") - lossmod.poisson_nll_loss(
        np.log(t), t, reduction="none"
    )
    np.testing.assert_allclose(2 * excess.mean(), mean_poisson_deviance(t, mu), rtol=1e-10)


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_poisson_gradient_is_central_differences(
    log_input: bool, reduction: str, counts: tuple
) -> None:
    """The gradient in the input (exp(x) - t, or 1 - t / (x + eps)) equals central differences,
    for every reduction ("none": the gradient of the sum)."""
    x, t = counts
    x = x if log_input else np.exp(x)

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.poisson_nll_loss(z, t, log_input, True, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.poisson_nll_loss_grad(x, t, log_input, True, reduction=reduction),
        central_differences(total, x),
        rtol=1e-6,
        atol=1e-8,
    )


def test_poisson_positional_slots_are_torchs(counts: tuple) -> None:
    """poisson_nll_loss(input, target, log_input, full, size_average, eps, reduce, reduction):
    torch's positional order, reduce=False giving the per-element losses."""
    x, t = counts
    with pytest.warns(DeprecationWarning, match="reduction='none'"):
        each = lossmod.poisson_nll_loss(x, t, True, False, None, 1e-8, False)
    np.testing.assert_array_equal(each, lossmod.poisson_nll_loss(x, t, reduction="none"))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.poisson_nll_loss(np.zeros(2), np.array([1.0, -1.0])),
            r"^target must hold counts >= 0; got -1.0 at index \(1,\)$",
        ),
        (
            lambda: lossmod.poisson_nll_loss(np.array([-1.0]), np.ones(1), log_input=False),
            r"^input must hold rates >= 0 when log_input=False; got -1.0 at index \(0,\)$",
        ),
        (
            lambda: lossmod.poisson_nll_loss(np.zeros(3), np.zeros((3, 1))),
            r"^input has shape \(3,\) but target has shape \(3, 1\): they would broadcast to",
        ),
        (
            lambda: lossmod.poisson_nll_loss(np.array([np.nan]), np.ones(1)),
            r"^input contains NaN at index \(0,\)$",
        ),
        (
            lambda: lossmod.poisson_nll_loss(np.zeros(1), np.ones(1), reduction="avg"),
            r"^reduction must be one of 'mean', 'sum', 'none'; got 'avg'$",
        ),
        (
            lambda: lossmod.gaussian_nll_loss(np.zeros(2), np.zeros(2), np.array([1.0, -0.5])),
            r"^var must be >= 0; got -0.5 at index \(1,\)$",
        ),
        (
            lambda: lossmod.gaussian_nll_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3)),
            r"^var has shape \(3,\); it must be the input's shape \(2, 3\), that without its last "
            r"axis \(2,\), that with a last axis of 1, or a scalar$",
        ),
        (
            lambda: lossmod.gaussian_nll_loss(np.zeros(2), np.zeros((2, 1)), np.ones(2)),
            r"^input has shape \(2,\) but target has shape \(2, 1\)",
        ),
        (
            lambda: lossmod.gaussian_nll_loss(np.zeros(1), np.zeros(1), np.ones(1), eps=0.0),
            r"^eps must be > 0 and finite; got 0.0$",
        ),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Each bad input raises a ValueError naming the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_gaussian_full_is_scipys_negative_log_density(rng: np.random.Generator) -> None:
    """full=True: -log N(target | input, var), scipy.stats.norm; without full, log(2 pi) / 2 less."""
    x, t, v = rng.normal(size=8), rng.normal(size=8), rng.uniform(0.1, 3.0, size=8)
    expected = -stats.norm.logpdf(t, loc=x, scale=np.sqrt(v))
    np.testing.assert_allclose(
        lossmod.gaussian_nll_loss(x, t, v, full=True, reduction="none"), expected, rtol=1e-13
    )
    np.testing.assert_allclose(
        lossmod.gaussian_nll_loss(x, t, v, reduction="none"),
        expected - 0.5 * math.log(2 * math.pi),
        rtol=1e-12,
        atol=1e-14,
    )


def test_gaussian_var_broadcasts_as_torchs(rng: np.random.Generator) -> None:
    """var may be the input's shape, the input's without its last axis, that with a last axis of
    1 (one variance per sample, homoscedastic across its D outputs), or a scalar; all equal the
    explicitly broadcast variance."""
    x, t = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    per_sample = rng.uniform(0.5, 2.0, size=5)
    full = np.repeat(per_sample[:, None], 3, axis=1)
    expected = lossmod.gaussian_nll_loss(x, t, full, reduction="none")
    for var in (per_sample, per_sample[:, None]):
        np.testing.assert_array_equal(
            lossmod.gaussian_nll_loss(x, t, var, reduction="none"), expected
        )
        np.testing.assert_array_equal(
            lossmod.gaussian_nll_loss_grad(x, t, var), lossmod.gaussian_nll_loss_grad(x, t, full)
        )
    np.testing.assert_array_equal(
        lossmod.gaussian_nll_loss(x, t, 1.5, reduction="none"),
        lossmod.gaussian_nll_loss(x, t, np.full((5, 3), 1.5), reduction="none"),
    )


def test_gaussian_clamps_var_at_eps() -> None:
    """A variance below eps counts as eps (torch's clamp for stability): var = 0 is finite."""
    x, t = np.array([0.3, -0.2]), np.array([0.0, 0.1])
    at_zero = lossmod.gaussian_nll_loss(x, t, np.zeros(2), reduction="none")
    np.testing.assert_allclose(at_zero, 0.5 * (math.log(1e-6) + (x - t) ** 2 / 1e-6), rtol=1e-14)
    np.testing.assert_array_equal(
        lossmod.gaussian_nll_loss(x, t, np.full(2, 0.01), eps=0.1, reduction="none"),
        lossmod.gaussian_nll_loss(x, t, np.full(2, 0.1), reduction="none"),
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_gradient_is_central_differences(reduction: str, rng: np.random.Generator) -> None:
    """d/d input = (input - target) / var, equal to central differences (var per sample)."""
    x, t, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.uniform(0.5, 2.0, size=4)

    def total(z: np.ndarray) -> float:
        return float(np.sum(lossmod.gaussian_nll_loss(z, t, v, reduction=reduction)))

    np.testing.assert_allclose(
        lossmod.gaussian_nll_loss_grad(x, t, v, reduction=reduction),
        central_differences(total, x),
        rtol=1e-6,
        atol=1e-9,
    )


def test_gaussian_signature_has_no_legacy_slots() -> None:
    """gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"), as torch's:
    positional full and eps work."""
    x, t, v = np.array([1.0]), np.array([0.0]), np.array([4.0])
    assert lossmod.gaussian_nll_loss(x, t, v, True, 1e-6, "sum") == pytest.approx(
        0.5 * (math.log(4.0) + 0.25 + math.log(2 * math.pi))
    )
