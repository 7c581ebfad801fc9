"""Exercises of the chapter "Huber loss and its smooth relatives"
(chapters/huber.ipynb)."""

from __future__ import annotations

import math

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise, library_oracle


def huber_loss(
    pred: ArrayLike,
    target: ArrayLike,
    delta: float,
) -> float:
    """Mean Huber loss of pred against target, with threshold delta.

    Parameters
    ----------
    pred, target : arrays of the same shape (any)
    delta : float, > 0
        Where the quadratic regime ends, in the units of the residual
        r = pred - target.

    Returns
    -------
    float: the mean over all elements of r^2 / 2 where |r| <= delta and
    delta * (|r| - delta / 2) where |r| > delta.
    """
    pred, target = np.asarray(pred, float), np.asarray(target, float)
    residual = pred - target
    size = np.abs(residual)
    quadratic = 0.5 * residual**2
    linear = delta * (size - 0.5 * delta)
    return float(np.mean(np.where(size <= delta, quadratic, linear)))


def huber_gradient(
    pred: ArrayLike,
    target: ArrayLike,
    delta: float,
) -> NDArray[np.float64]:
    """Gradient of huber_loss(pred, target, delta) (the mean) in pred.

    Parameters
    ----------
    pred, target : arrays of the same shape (any), n elements in all
    delta : float, > 0

    Returns
    -------
    array of the shape of pred: the derivative of each element's loss
    with respect to its residual r = pred - target, divided by n.
    """
    pred, target = np.asarray(pred, float), np.asarray(target, float)
    residual = pred - target
    # r inside [-delta, delta], +-delta outside: the slope of the
    # parabola, then of the line.
    return np.clip(residual, -delta, delta) / residual.size


def log_cosh_stable(residual: ArrayLike) -> NDArray[np.float64]:
    """log(cosh(r)) for each element, accurate and finite for every
    finite r.

    Parameters
    ----------
    residual : array of any shape, finite values

    Returns
    -------
    array of the shape of residual: log(cosh(r)), with full relative
    accuracy both for tiny |r| (where cosh(r) rounds to 1) and for huge
    |r| (where cosh(r) overflows).
    """
    size = np.abs(np.asarray(residual, dtype=np.float64))
    result = np.empty_like(size)
    small = size < 20.0
    # Near 0: cosh r = 1 + 2 sinh(r/2)^2, and log1p keeps the tiny
    # 2 sinh(r/2)^2 accurate.
    result[small] = np.log1p(2.0 * np.sinh(0.5 * size[small]) ** 2)
    # Far out: cosh r = e^|r| (1 + e^(-2|r|)) / 2, so
    # log cosh r = |r| + log1p(e^(-2|r|)) - log 2: nothing overflows.
    large = size[~small]
    tail = np.log1p(np.exp(-2.0 * large))
    result[~small] = large + tail - math.log(2.0)
    return result


def huber_gaussian_efficiency(delta: float) -> float:
    """Asymptotic efficiency at the normal of Huber's location estimator.

    Parameters
    ----------
    delta : float, > 0
        The threshold of the Huber loss, in units of the noise's standard
        deviation.

    Returns
    -------
    float in (0, 1]: the variance of the sample mean divided by the
    asymptotic variance of the minimiser of sum_i huber(y_i - mu, delta),
    for y_i ~ N(mu, 1). That variance is E[psi(Z)^2] / E[psi'(Z)]^2, with
    psi(z) = clip(z, -delta, delta) and Z ~ N(0, 1).
    """
    # P(|Z| <= delta) = E[psi'(Z)], and phi(delta), the normal density.
    inside = math.erf(delta / math.sqrt(2.0))
    density = math.exp(-0.5 * delta**2) / math.sqrt(2.0 * math.pi)
    outside = math.erfc(delta / math.sqrt(2.0))  # P(|Z| > delta)
    # E[Z^2; |Z| <= delta] = P(|Z| <= delta) - 2 delta phi(delta), by
    # parts.
    mean_square_psi = inside - 2.0 * delta * density + delta**2 * outside
    return inside**2 / mean_square_psi


def huber_location(target: ArrayLike, delta: float) -> float:
    """Huber's estimate of a location: the mu minimising the mean Huber
    loss of the constant prediction mu against target.

    Parameters
    ----------
    target : array of shape (n,), n >= 1
    delta : float, > 0
        The threshold, in the units of target. In every check the
        minimiser is unique.

    Returns
    -------
    float: the minimiser, to a relative error below 1e-10.
    """
    values = np.sort(np.asarray(target, dtype=np.float64))

    def pull(mu: float) -> float:
        # minus the derivative of the summed loss: sum of clip(y - mu)
        return float(np.sum(np.clip(values - mu, -delta, delta)))

    # pull(mu) falls from n delta to -n delta and is linear between the
    # breakpoints y_i -+ delta: find the piece where it changes sign.
    knots = np.unique(np.concatenate([values - delta, values + delta]))
    pulls = np.array([pull(k) for k in knots])
    last = int(np.nonzero(pulls >= 0)[0].max())
    if pulls[last] == 0 or last == len(knots) - 1:
        return float(knots[last])
    # On that piece the examples with |y_i - mu| < delta pull with
    # y_i - mu and the others with +-delta: solve the linear equation.
    middle = 0.5 * (knots[last] + knots[last + 1])
    inside = np.abs(values - middle) < delta
    above = np.sum(values - middle >= delta)
    below = np.sum(values - middle <= -delta)
    return float(
        (np.sum(values[inside]) + delta * (above - below)) / inside.sum()
    )


# -------------------------------------------------------------------------
# Oracles: independent computations of the same results


def _lossmod_log_cosh(residual: ArrayLike) -> NDArray[np.float64]:
    values = np.asarray(residual, dtype=np.float64)
    return np.asarray(
        lossmod.log_cosh(values, np.zeros_like(values), reduction="none"),
        dtype=np.float64,
    )


def _integrated_efficiency(delta: float) -> float:
    """The efficiency by numerical integration against the normal density
    (scipy)."""
    from scipy import integrate, stats  # type: ignore[import-untyped]

    def psi(z: float) -> float:
        return float(np.clip(z, -delta, delta))

    slope, _ = integrate.quad(
        stats.norm.pdf, -delta, delta, epsabs=1e-14, epsrel=1e-12
    )
    square = stats.norm.expect(
        lambda z: psi(z) ** 2, epsabs=1e-14, epsrel=1e-12
    )
    return float(slope**2 / square)


def _brentq_location(target: ArrayLike, delta: float) -> float:
    """scipy's brentq on the derivative of lossmod.huber's mean over the
    constant mu, bracketed by the smallest and largest target."""
    from scipy import optimize

    values = np.asarray(target, dtype=np.float64)

    def slope(mu: float) -> float:
        prediction = np.full_like(values, mu)
        return float(
            np.sum(lossmod.huber_grad(prediction, values, delta=delta))
        )

    low, high = float(values.min()), float(values.max())
    if low == high:
        return low
    return float(
        optimize.brentq(slope, low, high, xtol=1e-300, rtol=1e-15)
    )


# -------------------------------------------------------------------------
# Hidden cases, extreme inputs among them


def _hidden_huber_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    pred, target = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    return (
        Case("a 4x5 batch", (pred, target, 0.7)),
        Case(
            "residuals of 1e3 and 1e6",
            (np.array([1e3, -1e6, 0.2]), np.zeros(3), 1.0),
        ),
        Case("delta huge: all quadratic", (pred, target, 1e6)),
        Case("delta tiny: all linear", (pred, target, 1e-6)),
        Case(
            "residuals exactly at +-delta",
            (np.array([2.0, -2.0, 0.0]), np.zeros(3), 2.0),
        ),
        Case("scaled targets", (100.0 * pred, 100.0 * target, 50.0)),
    )


def _hidden_log_cosh_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("standard normal residuals", (rng.normal(size=(3, 4)),)),
        Case("|r| = 1e3", (np.array([1e3, -1e3]),)),
        Case("|r| = 1e300", (np.array([1e300, -1e300]),)),
        Case("|r| = 1e-200", (np.array([1e-200, -1e-200, 0.0]),)),
        Case(
            "around the overflow of cosh",
            (np.array([709.0, 710.4, 710.6, -712.0]),),
        ),
        Case("around 20", (np.array([19.999, 20.0, 20.001, -20.0]),)),
        Case(
            "log-uniform magnitudes",
            (np.exp(rng.uniform(-300, 300, size=20)),),
        ),
    )


def _hidden_efficiency_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("delta = 0.05 (near the median's 2 / pi)", (0.05,)),
        Case("delta = 0.5", (0.5,)),
        Case("delta = 5 (near the mean's 1)", (5.0,)),
        Case("a random delta", (float(rng.uniform(0.2, 3.0)),)),
    )


def _hidden_location_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    clean = rng.normal(size=101)
    dirty = clean.copy()
    dirty[:6] += 50.0
    return (
        Case("101 values, 6 gross errors, delta = 1.345", (dirty, 1.345)),
        Case("delta huge: the mean", (clean, 1e3)),
        Case("delta tiny, n odd: near the median", (dirty, 1e-3)),
        Case("values near 1e6", (1e6 + dirty, 1.345)),
        Case("two values", (np.array([0.0, 10.0]), 6.0)),
        Case("scaled by 1e-8", (1e-8 * dirty, 1.345e-8)),
    )


_PRED = np.array([0.5, -2.0, 3.0, 1.0, 0.0])
_TARGET = np.array([0.0, 0.0, 0.5, 1.0, -4.0])

EXERCISES = (
    Exercise(
        id="huber-1",
        task="the mean Huber loss with threshold delta",
        solution=huber_loss,
        cases=(
            Case("delta = 1", (_PRED, _TARGET, 1.0)),
            # r = 2.5: a residual exactly at the join
            Case(
                "delta = 2.5, a residual at +delta", (_PRED, _TARGET, 2.5)
            ),
            Case(
                "2-D, delta = 0.1",
                (_PRED.reshape(1, 5), _TARGET.reshape(1, 5), 0.1),
            ),
        ),
        oracle=library_oracle(lossmod.huber, "delta"),
        hidden=_hidden_huber_cases,
        rtol=1e-9,
        atol=1e-12,
        reimplements=("huber", "smooth_l1"),
    ),
    Exercise(
        id="huber-2",
        task="the gradient of the mean Huber loss",
        solution=huber_gradient,
        cases=(
            Case("delta = 1", (_PRED, _TARGET, 1.0)),
            # r = 2.5: a residual exactly at the join
            Case(
                "delta = 2.5, a residual at +delta", (_PRED, _TARGET, 2.5)
            ),
            Case(
                "2-D, delta = 0.1",
                (_PRED.reshape(1, 5), _TARGET.reshape(1, 5), 0.1),
            ),
        ),
        oracle=library_oracle(lossmod.huber_grad, "delta"),
        hidden=_hidden_huber_cases,
        rtol=1e-9,
        atol=1e-12,
        reimplements=("huber_grad", "smooth_l1_grad"),
    ),
    Exercise(
        id="huber-3",
        task="log(cosh(r)) accurate and finite for every finite r",
        solution=log_cosh_stable,
        cases=(
            Case(
                "moderate residuals",
                (np.array([-2.0, -0.5, 0.0, 0.5, 3.0]),),
            ),
            Case(
                "large residuals: cosh overflows",
                (np.array([-800.0, 711.0, 1000.0, 5.0]),),
            ),
            Case(
                "tiny residuals: cosh rounds to 1",
                (np.array([1e-10, -3e-9, 1e-5]),),
            ),
            # log(cosh r) loses digits long before cosh r rounds to 1
            Case(
                "small residuals: cosh r - 1 near 1e-7",
                (np.array([3e-4, -1e-3, 0.01]),),
            ),
            # "from 1e-200 to 1e300" (log cosh 1e-200 underflows to 0)
            Case(
                "|r| = 1e300 and 1e-200",
                (np.array([1e300, -1e-200, 0.5]),),
            ),
        ),
        oracle=_lossmod_log_cosh,
        hidden=_hidden_log_cosh_cases,
        rtol=1e-10,
        atol=0.0,
        reimplements=("log_cosh",),
    ),
    Exercise(
        id="huber-4",
        task=(
            "the Gaussian efficiency of Huber's estimator as a function "
            "of delta"
        ),
        solution=huber_gaussian_efficiency,
        cases=(
            Case("delta = 1.345", (1.345,)),
            Case("delta = 1", (1.0,)),
            Case("delta = 2", (2.0,)),
        ),
        oracle=_integrated_efficiency,
        hidden=_hidden_efficiency_cases,
        rtol=1e-8,
        atol=1e-12,
    ),
    Exercise(
        id="huber-6",
        task="Huber's estimate of a location, exactly",
        solution=huber_location,
        cases=(
            Case(
                "seven values, delta = 3",
                (np.array([4.0, -1.0, 7.5, 0.5, 3.0, 10.0, 2.0]), 3.0),
            ),
            # one wild value: it pulls with delta, not with its distance
            Case(
                "an outlier at 1000, delta = 2",
                (np.array([1.0, 2.0, 2.5, 3.0, 1000.0]), 2.0),
            ),
            Case(
                "delta above every distance: the mean",
                (np.array([1.0, 2.0, 6.0]), 10.0),
            ),
            Case("one value", (np.array([3.5]), 0.5)),
        ),
        oracle=_brentq_location,
        hidden=_hidden_location_cases,
        rtol=1e-10,
        atol=1e-300,
    ),
)


WRITTEN = {
    "huber-5": "derive Huber's weighted normal equations and fit by IRLS",
}
"""The written exercises (derivations, explorations): one-line tasks."""
