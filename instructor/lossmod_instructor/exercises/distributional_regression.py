"""Exercises of the chapter "Distributional and robust regression"
(chapters/distributional-regression.ipynb)."""

from __future__ import annotations

import math

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise


def student_t_nll_profile(
    residual: ArrayLike, nu: float, eps: float
) -> NDArray[np.float64]:
    """The smallest Student-t negative log-likelihood a learned scale
    can reach, for each residual.

    The loss of one example, with its constants dropped, is
        l(v) = log(v) / 2 + (nu + 1) / 2 * log(1 + r^2 / (nu v)),
    the negative log-density of a Student-t with nu degrees of freedom
    and scale sqrt(v) at the residual r, plus a constant.

    Parameters
    ----------
    residual : array of any shape
        r = mean - target, finite.
    nu : float, > 0
        The degrees of freedom (1 is the Cauchy distribution; a large
        nu is nearly Gaussian).
    eps : float, > 0
        The smallest v allowed (a clamp, as torch's gaussian_nll_loss
        clamps its variance at eps).

    Returns
    -------
    array of the shape of residual: for each element, the minimum of
    l(v) over v >= eps.
    """
    r2 = np.asarray(residual, dtype=np.float64) ** 2
    # with u = r^2 / (nu v), dl/dv = (1 - (nu + 1) u / (1 + u)) / (2 v):
    # negative while u > 1 / nu (v < r^2), positive beyond, so the best
    # v is r^2 whatever nu; below eps the clamp holds it at eps
    best = np.maximum(r2, eps)
    return 0.5 * np.log(best) + 0.5 * (nu + 1.0) * np.log1p(
        r2 / (nu * best)
    )


def barron_rho(x: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """Barron's general robust loss rho(x, alpha, c = 1), for every
    alpha.

    Parameters
    ----------
    x : array of any shape
        Residuals, finite, |x| < 1e100.
    alpha : float
        Any real number or -inf, including 0 and 2 (where the general
        formula divides 0 by 0) and values within 1e-12 of them.

    Returns
    -------
    array of the shape of x: rho(x, alpha) = |alpha - 2| / alpha
    * ((x^2 / |alpha - 2| + 1)^(alpha / 2) - 1), or its limit, to a
    relative error of 1e-9.
    """
    q = np.asarray(x, dtype=np.float64) ** 2
    if alpha == 2.0:
        return 0.5 * q
    if alpha == -math.inf:
        return -np.expm1(-0.5 * q)
    d = abs(alpha - 2.0)
    # (1 + q/d)^(alpha/2) - 1 = expm1(alpha/2 * log1p(q/d)), and
    # d/alpha * expm1(alpha L/2) = (d/2) L * expm1(t)/t, t = alpha L/2:
    # no 0/0 at alpha = 0 and no rounding of (1 + q/d)^(alpha/2) to 1.
    log_term = np.log1p(q / d)
    t = 0.5 * alpha * log_term
    ratio = np.ones_like(t)
    np.divide(np.expm1(t), t, out=ratio, where=t != 0)
    return 0.5 * d * log_term * ratio


def tweedie_unit_deviance(
    target: ArrayLike, mean: ArrayLike, power: float
) -> NDArray[np.float64]:
    """The Tweedie unit deviance d(y, mu) for each element, derived from
    the variance function V(mu) = mu^power.

    Parameters
    ----------
    target : array of any shape
        y >= 0 (and y > 0 for power 2).
    mean : array of the shape of target
        mu > 0.
    power : float in [1, 2]
        Including 1 (Poisson), 2 (Gamma) and values within 1e-9 of them.

    Returns
    -------
    array of the shape of target: d(y, mu) = 2 * integral from mu to y
    of (y - t) / V(t) dt, to a relative error of 1e-8.
    """
    y = np.asarray(target, dtype=np.float64)
    mu = np.asarray(mean, dtype=np.float64)
    a, b = 1.0 - power, 2.0 - power
    # 2 int_mu^y (y - t) t^-p dt
    #   = 2 [y (y^a - mu^a)/a - (y^b - mu^b)/b],
    # which with s = log(mu / y) is 2 y^b [expm1(b s)/b - expm1(a s)/a];
    # expm1(c s)/c = s expm1(c s)/(c s) is s at c = 0 (p = 1 or 2).
    positive = y > 0
    safe_y = np.where(positive, y, 1.0)
    s = np.log(mu) - np.log(safe_y)

    def e(c: float) -> NDArray[np.float64]:
        t = c * s
        ratio = np.ones_like(t)
        np.divide(np.expm1(t), t, out=ratio, where=t != 0)
        return s * ratio

    half = safe_y**b * (e(b) - e(a))
    # y = 0 (power < 2): 2 int_mu^0 (-t) t^-p dt = 2 mu^b / b.
    zero = mu**b / b if b else np.full_like(mu, np.inf)
    return np.where(positive, 2.0 * half, 2.0 * zero)


def expected_pinball_exponential(
    c: ArrayLike, quantile: float
) -> NDArray[np.float64]:
    """The expected pinball loss of the constant prediction c when the
    target Y is exponential with rate 1.

    Parameters
    ----------
    c : array of any shape
        Predictions, any real numbers.
    quantile : float in (0, 1)
        The level q of the pinball loss rho_q(Y - c) (residual target
        minus prediction).

    Returns
    -------
    array of the shape of c: E[rho_q(Y - c)] for Y ~ Exponential(1), in
    closed form.
    """
    c = np.asarray(c, dtype=np.float64)
    q = quantile
    # c <= 0: Y - c > 0 always, E = q (1 - c). c > 0: E = q E(Y - c)^+
    # + (1 - q) E(c - Y)^+ = q e^-c + (1 - q)(c - 1 + e^-c).
    above = np.exp(-np.maximum(c, 0.0)) + (1.0 - q) * (c - 1.0)
    return np.where(c <= 0, q * (1.0 - c), above)


# -------------------------------------------------------------------------
# Oracles: independent computations of the same results


def _profile_by_minimisation(
    residual: ArrayLike, nu: float, eps: float
) -> NDArray[np.float64]:
    """scipy's bounded scalar minimiser of -scipy.stats.t.logpdf(r, nu,
    scale=sqrt(v)) over u = log v in [log eps, log(max(r^2, eps)) + 5],
    element by element, minus the constant -t.logpdf(0, nu) that the
    loss drops."""
    from scipy import optimize, stats  # type: ignore[import-untyped]

    r = np.asarray(residual, dtype=np.float64)
    constant = -float(stats.t.logpdf(0.0, nu))
    out = np.empty_like(r)
    for index in np.ndindex(r.shape):
        ri = float(r[index])

        def nll(u: float, ri: float = ri) -> float:
            scale = math.exp(0.5 * u)
            return -float(stats.t.logpdf(ri, nu, scale=scale)) - constant

        low = math.log(eps)
        high = max(math.log(max(ri * ri, eps)), low) + 5.0
        found = optimize.minimize_scalar(
            nll,
            bounds=(low, high),
            method="bounded",
            options={"xatol": 1e-10},
        )
        out[index] = min(float(found.fun), nll(low))
    return out


def _barron_mpmath(x: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """Barron's general formula in 50-digit arithmetic (mpmath); the limits
    alpha = 0, 2, -inf by their own formulas."""
    import mpmath  # type: ignore[import-untyped]

    mpmath.mp.dps = 50
    values = np.asarray(x, dtype=np.float64)
    out = np.empty_like(values)
    for index in np.ndindex(values.shape):
        q = mpmath.mpf(float(values[index])) ** 2
        if alpha == 2.0:
            rho = q / 2
        elif alpha == 0.0:
            rho = mpmath.log(q / 2 + 1)
        elif alpha == -math.inf:
            rho = 1 - mpmath.exp(-q / 2)
        else:
            a = mpmath.mpf(alpha)
            d = abs(a - 2)
            rho = d / a * mpmath.expm1(a / 2 * mpmath.log1p(q / d))
        out[index] = float(rho)
    return out


def _integrated_deviance(
    target: ArrayLike, mean: ArrayLike, power: float
) -> NDArray[np.float64]:
    """2 * integral from mu to y of (y - t) / t^p dt by scipy's quad, on a
    log scale t = e^u (the integrand then has no singularity at t = 0)."""
    from scipy import integrate

    y = np.asarray(target, dtype=np.float64)
    mu = np.asarray(mean, dtype=np.float64)
    out = np.empty_like(y)
    for index in np.ndindex(y.shape):
        yi, mi = float(y[index]), float(mu[index])

        def integrand(u: float, yi: float = yi) -> float:
            t = math.exp(u)
            return (yi - t) * t ** (1.0 - power)

        if yi == 0.0:
            # int_mu^0 (-t) t^-p dt = mu^(2-p) / (2-p), for p < 2
            total, _ = integrate.quad(
                lambda u: math.exp(u * (2.0 - power)),
                -np.inf,
                math.log(mi),
                epsabs=0,
            )
        else:
            total, _ = integrate.quad(
                integrand,
                math.log(mi),
                math.log(yi),
                epsabs=0,
                epsrel=1e-13,
                limit=200,
            )
        out[index] = 2.0 * total
    return out


def _integrated_pinball(
    c: ArrayLike, quantile: float
) -> NDArray[np.float64]:
    """E[rho_q(Y - c)] for Y ~ Exponential(1) by scipy's quad of
    lossmod.pinball_loss against the density, split at c."""
    from scipy import integrate

    values = np.asarray(c, dtype=np.float64)
    out = np.empty_like(values)
    for index in np.ndindex(values.shape):
        ci = float(values[index])

        def integrand(y: float, ci: float = ci) -> float:
            loss = lossmod.pinball_loss(
                np.array([ci]), np.array([y]), quantile=quantile
            )
            return float(loss) * math.exp(-y)

        pieces = [(0.0, max(ci, 0.0)), (max(ci, 0.0), np.inf)]
        out[index] = sum(
            integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-12)[0]
            for a, b in pieces
            if b > a
        )
    return out


# -------------------------------------------------------------------------
# Hidden cases, extreme inputs among them


def _hidden_profile_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "a 3x4 batch, nu 3, eps 1e-6",
            (rng.normal(size=(3, 4)), 3.0, 1e-6),
        ),
        Case("residuals of 1e3, nu 1", (np.array([1e3, -2e3]), 1.0, 1e-6)),
        Case(
            "all below the clamp, nu 5",
            (1e-5 * rng.normal(size=5), 5.0, 1e-3),
        ),
        Case("exact fits, nu 2, eps 1e-12", (np.zeros(3), 2.0, 1e-12)),
        Case(
            "nu 1e4: nearly Gaussian",
            (rng.normal(size=6), 1e4, 1e-6),
        ),
        Case("nu 0.5", (rng.normal(size=4), 0.5, 1e-4)),
    )


def _hidden_barron_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    x = 3.0 * rng.normal(size=6)
    return (
        Case("alpha = 1e-300", (x, 1e-300)),
        Case("alpha = -1e-9", (x, -1e-9)),
        Case("alpha one double below 2", (x, 2.0 - 2.0**-51)),
        Case("alpha = -1e12, near -inf", (x, -1e12)),
        Case("alpha = 7, small x", (np.array([1e-6, 1e-3, 0.5]), 7.0)),
        Case(
            "a random alpha", (x.reshape(2, 3), float(rng.uniform(-5, 5)))
        ),
    )


def _hidden_tweedie_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    y = rng.gamma(2.0, 1.0, size=5)
    mu = rng.gamma(2.0, 1.0, size=5)
    return (
        Case("power 1.7", (y, mu, 1.7)),
        Case("random values, power 1 + 1e-9", (y, mu, 1.0 + 1e-9)),
        Case("random values, power 2 - 1e-9", (y, mu, 2.0 - 1e-9)),
        Case(
            "zeros, power 1.3",
            (np.array([0.0, 0.0, 2.0]), np.array([0.5, 3.0, 2.5]), 1.3),
        ),
        Case("mu close to y", (y, y * (1 + 1e-4), 1.5)),
    )


def _hidden_pinball_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("q = 0.05 on a grid", (np.linspace(-1.0, 4.0, 6), 0.05)),
        Case("q = 0.99, far out", (np.array([-50.0, 4.6, 30.0]), 0.99)),
        Case(
            "a random q",
            (
                rng.uniform(-2, 5, size=(2, 3)),
                float(rng.uniform(0.1, 0.9)),
            ),
        ),
    )


_R = np.array([-2.0, -0.5, 0.0, 1e-4, 0.3, 3.0])
_X = np.array([-4.0, -1.0, -0.1, 0.0, 0.5, 2.0, 10.0])
_Y = np.array([0.5, 1.0, 2.0, 7.0, 0.1])
_MU = np.array([1.0, 1.0, 1.5, 3.0, 0.2])

EXERCISES = (
    Exercise(
        id="distributional-regression-1",
        task=(
            "the smallest Student-t NLL a learned scale (v >= eps) can "
            "reach"
        ),
        solution=student_t_nll_profile,
        cases=(
            Case("nu = 1 (Cauchy), eps = 1e-6", (_R, 1.0, 1e-6)),
            # the clamp decides for r^2 < eps: r = 0 and r = 1e-4
            Case(
                "nu = 4, eps = 0.01: small residuals clamped",
                (_R, 4.0, 0.01),
            ),
            Case(
                "2-D, nu = 30, eps = 1e-6", (_R.reshape(2, 3), 30.0, 1e-6)
            ),
            Case("nu = 1e6: nearly the Gaussian NLL", (_R, 1e6, 1e-6)),
        ),
        oracle=_profile_by_minimisation,
        hidden=_hidden_profile_cases,
        rtol=1e-8,
        atol=1e-10,
    ),
    Exercise(
        id="distributional-regression-2",
        task="Barron's robust loss for every alpha, limits included",
        solution=barron_rho,
        cases=(
            Case("alpha = 2: L2", (_X, 2.0)),
            Case("alpha = 0: Cauchy", (_X, 0.0)),
            Case("alpha = -inf: Welsch", (_X, -math.inf)),
            Case("alpha = 1: pseudo-Huber", (_X, 1.0)),
            Case("alpha = -2: Geman-McClure", (_X, -2.0)),
            # the general formula's 0/0 and its loss of digits near them
            Case("alpha = 1e-12", (_X, 1e-12)),
            Case("alpha = 2 - 1e-12", (_X, 2.0 - 1e-12)),
            Case("alpha = 0.5, tiny x", (np.array([1e-8, -1e-5]), 0.5)),
        ),
        oracle=_barron_mpmath,
        hidden=_hidden_barron_cases,
        rtol=1e-9,
        atol=1e-300,
        reimplements=("barron_loss", "cauchy_loss", "pseudo_huber"),
    ),
    Exercise(
        id="distributional-regression-3",
        task="the Tweedie unit deviance from its variance function mu^p",
        solution=tweedie_unit_deviance,
        cases=(
            Case("power 1.5", (_Y, _MU, 1.5)),
            Case("power 1: Poisson", (_Y, _MU, 1.0)),
            Case("power 2: Gamma", (_Y, _MU, 2.0)),
            Case(
                "zero targets, power 1",
                (
                    np.array([0.0, 0.0, 1.0]),
                    np.array([0.5, 2.0, 1.0]),
                    1.0,
                ),
            ),
            Case("power 1 + 1e-9", (_Y, _MU, 1.0 + 1e-9)),
        ),
        oracle=_integrated_deviance,
        hidden=_hidden_tweedie_cases,
        rtol=1e-8,
        atol=1e-13,
        reimplements=("tweedie_deviance", "poisson_nll_loss"),
    ),
    Exercise(
        id="distributional-regression-4",
        task=(
            "the expected pinball loss of a constant under an exponential "
            "target"
        ),
        solution=expected_pinball_exponential,
        cases=(
            Case(
                "q = 0.5",
                (np.array([-1.0, 0.0, 0.5, math.log(2.0), 2.0]), 0.5),
            ),
            Case(
                "q = 0.9", (np.array([0.0, 1.0, math.log(10.0), 4.0]), 0.9)
            ),
            Case(
                "q = 0.1, 2-D", (np.array([[-2.0, 0.1], [0.2, 5.0]]), 0.1)
            ),
        ),
        oracle=_integrated_pinball,
        hidden=_hidden_pinball_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
)

WRITTEN = {
    "distributional-regression-5": (
        "show d(cy, c mu) = c^(2 - p) d(y, mu) for the Tweedie deviance; "
        "which power is unaffected by the currency of the amounts?"
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
