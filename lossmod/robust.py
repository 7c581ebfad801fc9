"""Distributional and robust regression losses: the pinball (quantile)
loss, the Tweedie deviances on the log link, Barron's general robust
loss, and the redescending Cauchy and Tukey biweight losses, each beside
its gradient.

Residual conventions: the pinball loss, as the quantile-regression
literature and scikit-learn write it, uses r = target - pred (r > 0 is
under-prediction); the symmetric robust losses use r = pred - target, as
the rest of the book does (their values do not depend on the sign).

Every loss computes its values and its slopes in float64 in one pass,
in ``_<name>_parts`` (which has the loss's signature), and returns them
in the prediction's dtype; the loss and its gradient are made from that
function (lossmod/_parts.py).
Explained in the chapter "Distributional and robust regression"
(chapters/distributional-regression.ipynb).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    finish_both,
    first_index,
)
from lossmod._parts import (
    Parts,
    check_positive,
    grad_of,
    value_of,
)

__all__ = [
    "barron_loss",
    "barron_loss_grad",
    "cauchy_loss",
    "cauchy_loss_grad",
    "pinball_loss",
    "pinball_loss_grad",
    "tukey_biweight_loss",
    "tukey_biweight_loss_grad",
    "tweedie_deviance",
    "tweedie_deviance_grad",
]

Array = NDArray[np.float64]


def _pair(
    first: str, pred: ArrayLike, target: ArrayLike, reduction: Reduction
) -> tuple[Array, Array, np.dtype[Any]]:
    """Both arguments as float64 after the shared checks, and the dtype
    of the result (the first argument's)."""
    check_reduction(reduction)
    p, out_dtype = as_float(first, pred)
    t, _ = as_float("target", target)
    check_same_shape(first, p, "target", t)
    return p, t, out_dtype


def _exprel(t: Array) -> Array:
    """expm1(t) / t, and 1 at t = 0 (also where t underflows to 0)."""
    out = np.ones_like(t)
    np.divide(np.expm1(t), t, out=out, where=t != 0)
    return out


# --- Pinball (quantile) loss ---------------------------------------------


def _pinball_parts(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    quantile: float | ArrayLike = 0.5,
    reduction: Reduction = "mean",
) -> Parts:
    p, t, out_dtype = _pair("pred", pred, target, reduction)
    q, _ = as_float("quantile", quantile)
    try:
        shape = np.broadcast_shapes(q.shape, p.shape)
    except ValueError:
        shape = None
    if shape != p.shape:
        raise ValueError(
            f"quantile has shape {q.shape}, which does not broadcast "
            f"to pred's shape {p.shape}"
        )
    outside = (q <= 0) | (q >= 1)
    if outside.any():
        index = first_index(outside)
        where = f" at index {index}" if index else ""
        raise ValueError(
            "quantile must lie strictly between 0 and 1; got "
            f"{float(q[index])}{where}"
        )
    # r = target - pred: r > 0 is under-prediction, charged q r; r < 0
    # is over-prediction, charged (q - 1) r = (1 - q) |r|.
    r = t - p
    losses = np.where(r >= 0, q * r, (q - 1.0) * r)
    # d/dpred: -q below the target, 1 - q above it, and 0 (a
    # subgradient, as mae_grad's sign(0) = 0) where r = 0.
    slopes = np.where(r > 0, -q, np.where(r < 0, 1.0 - q, 0.0))
    return finish_both(
        np.broadcast_to(losses, p.shape).copy(),
        np.broadcast_to(slopes, p.shape).copy(),
        reduction,
        float(p.size),
        out_dtype,
    )


@value_of(_pinball_parts)
def pinball_loss() -> None:
    """Pinball (quantile) loss at level ``quantile``.

    Formula, with the residual r = target - pred (target minus
    prediction, the convention of Koenker and Bassett and of
    scikit-learn's ``mean_pinball_loss``)::

        l = q r         if r >= 0  (under-prediction)
        l = (q - 1) r   if r < 0   (over-prediction)
          = max(q r, (q - 1) r)

    Its expected value is smallest at the q-quantile of the target's
    distribution. At q = 1/2 it is |r| / 2. Gradient with respect to
    pred: -q where r > 0, 1 - q where r < 0, and 0 where r = 0 (a
    subgradient: the subdifferential there is [-q, 1 - q]).

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    quantile : float or array_like
        The level q, strictly between 0 and 1; an array broadcasts
        against pred (e.g. shape (K,) for predictions of shape (N, K), K
        quantiles at once).
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Distributional and robust regression". Reference:
    Koenker and Bassett (1978), "Regression quantiles".
    """


@grad_of(_pinball_parts)
def pinball_loss_grad() -> None:
    """Gradient of :func:`pinball_loss` with respect to ``pred``: -q where
    target > pred, 1 - q where target < pred, 0 where equal; / n for
    "mean"."""


_pinball_loss_value_and_grad = _pinball_parts


# --- Tweedie deviances on the log link -----------------------------------


def _tweedie_parts(
    log_pred: ArrayLike,
    target: ArrayLike,
    *,
    power: float = 1.5,
    reduction: Reduction = "mean",
) -> Parts:
    eta, y, out_dtype = _pair("log_pred", log_pred, target, reduction)
    if not (np.isfinite(power) and 1.0 <= power <= 2.0):
        raise ValueError(
            "power must be in [1, 2] (1 Poisson, 1 < p < 2 compound "
            f"Poisson-Gamma, 2 Gamma); got {power!r}"
        )
    bad = (y <= 0) if power == 2.0 else (y < 0)
    if bad.any():
        index = first_index(bad)
        need = "> 0 for power 2 (Gamma)" if power == 2.0 else ">= 0"
        raise ValueError(
            f"target must be {need}; got {float(y[index])} at index "
            f"{index}"
        )
    a, b = 1.0 - power, 2.0 - power
    positive = y > 0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        safe_y = np.where(positive, y, 1.0)
        # s = log(mu / y); half the deviance is
        #   y^b [expm1(b s) / b - expm1(a s) / a],  a = 1 - p, b = 2 - p,
        # since 1/(ab) - 1/a + 1/b = 0; expm1(c s) / c = s exprel(c s) is
        # s at c = 0 (Poisson's a, Gamma's b) and never divides by 0.
        s = eta - np.log(safe_y)
        y_b = safe_y**b

        def term(c: float, far: Array) -> Array:
            # y^b expm1(c s) / c, by exprel where |c s| <= 1 and from the
            # powers of mu and y themselves further out (no overflow).
            near = y_b * s * _exprel(c * s)
            return np.where(np.abs(c * s) <= 1.0, near, far)

        far_b = (np.exp(b * eta) - y_b) / b if b else s
        far_a = (safe_y * np.exp(a * eta) - y_b) / a if a else s
        half = term(b, far_b) - term(a, far_a)
        # A target of 0 (power < 2): half the deviance is mu^b / b.
        half = np.where(
            positive, np.maximum(half, 0.0), np.exp(b * eta) / b
        )
        # d/deta = 2 mu^a (mu - y); near mu = y as 2 y mu^a expm1(s).
        mu_a = np.exp(a * eta)
        near_slope = 2.0 * safe_y * mu_a * np.expm1(s)
        far_slope = 2.0 * mu_a * (np.exp(eta) - y)
        slopes = np.where(
            positive & (np.abs(s) < 1.0), near_slope, far_slope
        )
    return finish_both(
        2.0 * half, slopes, reduction, float(eta.size), out_dtype
    )


@value_of(_tweedie_parts)
def tweedie_deviance() -> None:
    """Tweedie deviance of a prediction on the log link,
    mu = exp(log_pred).

    Formula, for 1 <= p <= 2, a = 1 - p, b = 2 - p::

        d = 2 [y^b / (a b) - y mu^a / a + mu^b / b]     1 < p < 2
        d = 2 [y log(y / mu) - y + mu]                  p = 1 (Poisson)
        d = 2 [log(mu / y) + y / mu - 1]                p = 2 (Gamma)

    the last two being the limits of the first. It is twice the gap
    between the log-likelihood of the saturated model (mu = y) and of mu,
    for the exponential dispersion model with variance function
    V(mu) = mu^p; d >= 0 and d = 0 at mu = y. ``reduction="mean"`` is
    scikit-learn's ``mean_tweedie_deviance(y, exp(log_pred), power=p)``.
    Gradient with respect to log_pred: 2 mu^(1 - p) (mu - y), convex in
    log_pred for 1 <= p <= 2. Computed without dividing by a or b, so p
    near 1 and near 2 is as accurate as p = 1 and p = 2.

    Parameters
    ----------
    log_pred : array_like, any shape
        The log of the predicted mean, finite.
    target : array_like, same shape
        Observed values: >= 0 for p < 2 (counts for p = 1, amounts with
        exact zeros for 1 < p < 2), > 0 for p = 2.
    power : float
        The Tweedie power p, in [1, 2].
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Distributional and robust regression". References:
    Jørgensen (1987), "Exponential dispersion models"; McCullagh and
    Nelder (1989), "Generalized linear models", section 2.3.
    """


@grad_of(_tweedie_parts)
def tweedie_deviance_grad() -> None:
    """Gradient of :func:`tweedie_deviance` with respect to ``log_pred``:
    2 mu^(1 - p) (mu - y), mu = exp(log_pred); / n for "mean"."""


_tweedie_deviance_value_and_grad = _tweedie_parts


# --- Barron's general robust loss ----------------------------------------


def _barron_parts(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float = 1.0,
    scale: float = 1.0,
    reduction: Reduction = "mean",
) -> Parts:
    p, t, out_dtype = _pair("pred", pred, target, reduction)
    if np.isnan(alpha) or alpha == math.inf:
        raise ValueError(
            f"alpha must be a real number or -inf; got {alpha!r}"
        )
    check_positive("scale", scale)
    x = (p - t) / scale
    q = x * x
    if alpha == 2.0:
        # the limit alpha -> 2: half the squared error
        losses, weights = 0.5 * q, np.ones_like(q)
    elif alpha == -math.inf:
        # the limit alpha -> -inf: Welsch, 1 - exp(-x^2 / 2)
        weights = np.exp(-0.5 * q)
        losses = -np.expm1(-0.5 * q)
    else:
        d = abs(alpha - 2.0)
        # rho = d / alpha [(1 + q / d)^(alpha / 2) - 1]
        #     = (d / 2) L exprel(alpha L / 2),  L = log1p(q / d):
        # at alpha = 0 it is L, with no 0 / 0, and near alpha = 0 the
        # same; near alpha = 2, d >= 2.2e-16 (the spacing of doubles
        # near 2) keeps q / d finite for every |x| < 1e146.
        log_term = np.log1p(q / d)
        losses = 0.5 * d * log_term * _exprel(0.5 * alpha * log_term)
        # rho'(x) / x = (1 + q / d)^(alpha / 2 - 1)
        weights = np.exp((0.5 * alpha - 1.0) * log_term)
    # d rho / d pred = (x / scale) (1 + q / d)^(alpha / 2 - 1)
    return finish_both(
        losses, x / scale * weights, reduction, float(p.size), out_dtype
    )


@value_of(_barron_parts)
def barron_loss() -> None:
    """Barron's general and adaptive robust loss rho(x, alpha, c).

    Formula, with x = pred - target, c = scale, d = |alpha - 2|::

        rho = d / alpha [((x / c)^2 / d + 1)^(alpha / 2) - 1]

    and its limits, computed exactly: alpha = 2 gives (x / c)^2 / 2
    (L2), alpha = 0 log((x / c)^2 / 2 + 1) (Cauchy / Lorentzian),
    alpha = -inf 1 - exp(-(x / c)^2 / 2) (Welsch); alpha = 1 is
    sqrt((x / c)^2 + 1) - 1 (pseudo-Huber, Charbonnier) and alpha = -2
    2 (x / c)^2 / ((x / c)^2 + 4) (Geman-McClure). Near alpha = 0 and 2
    it is evaluated through exprel and log1p, without the 0 / 0 of the
    formula. Gradient with respect to pred::

        rho' = x / c^2 ((x / c)^2 / d + 1)^(alpha / 2 - 1)

    (x / c^2 at alpha = 2, x / c^2 exp(-(x / c)^2 / 2) at -inf).
    Convex for alpha >= 1 only; for alpha < 1 rho' tends to 0 far out
    (like |x|^(alpha - 1), faster at -inf): a redescending loss.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    alpha : float
        The shape, any real number or -inf (the default 1 is
        pseudo-Huber).
    scale : float
        c > 0: the size of residual where the quadratic bowl ends.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Distributional and robust regression". Reference:
    Barron (2019), "A general and adaptive robust loss function".
    """


@grad_of(_barron_parts)
def barron_loss_grad() -> None:
    """Gradient of :func:`barron_loss` with respect to ``pred``:
    x / c^2 ((x / c)^2 / |alpha - 2| + 1)^(alpha / 2 - 1); / n for
    "mean"."""


_barron_loss_value_and_grad = _barron_parts


# --- Redescending losses: Cauchy and Tukey's biweight --------------------


def _cauchy_parts(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    scale: float = 2.3849,
    reduction: Reduction = "mean",
) -> Parts:
    p, t, out_dtype = _pair("pred", pred, target, reduction)
    check_positive("scale", scale)
    r = p - t
    u = r / scale
    # (c^2 / 2) log(1 + u^2); its slope r / (1 + u^2)
    losses = 0.5 * scale * scale * np.log1p(u * u)
    slopes = r / (1.0 + u * u)
    return finish_both(losses, slopes, reduction, float(p.size), out_dtype)


@value_of(_cauchy_parts)
def cauchy_loss() -> None:
    """Cauchy (Lorentzian) loss, a redescending robust loss.

    Formula, with r = pred - target, c = scale::

        l = (c^2 / 2) log(1 + (r / c)^2)

    r^2 / 2 near 0 (like Huber's), growing only like log |r| far out.
    Gradient: psi(r) = r / (1 + (r / c)^2), largest (c / 2) at |r| = c
    and falling to 0 as |r| grows. It is c^2 / 2 times the negative
    log-likelihood of a Cauchy (Student t, 1 degree of freedom)
    distribution of scale c, up to a constant; Barron's loss at alpha = 0
    with scale c / sqrt(2), times c^2 / 2; scipy's ``least_squares(...,
    loss="cauchy", f_scale=c)``. Not convex (for |r| > c).

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    scale : float
        c > 0; the default 2.3849 gives 95% of least squares' efficiency
        for a location under Gaussian noise of standard deviation 1.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Distributional and robust regression". Reference:
    Holland and Welsch (1977), "Robust regression using iteratively
    reweighted least-squares".
    """


@grad_of(_cauchy_parts)
def cauchy_loss_grad() -> None:
    """Gradient of :func:`cauchy_loss` with respect to ``pred``:
    r / (1 + (r / c)^2); / n for "mean"."""


_cauchy_loss_value_and_grad = _cauchy_parts


def _tukey_parts(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    scale: float = 4.6851,
    reduction: Reduction = "mean",
) -> Parts:
    p, t, out_dtype = _pair("pred", pred, target, reduction)
    check_positive("scale", scale)
    r = p - t
    u2 = (r / scale) ** 2
    inside = u2 < 1.0
    # (c^2 / 6)(1 - (1 - u^2)^3) = (r^2 / 2)(1 - u^2 + u^4 / 3): no
    # cancellation for small u; c^2 / 6 from |r| = c on.
    losses = np.where(
        inside,
        0.5 * r * r * (1.0 - u2 + u2 * u2 / 3.0),
        scale * scale / 6.0,
    )
    slopes = np.where(inside, r * (1.0 - u2) ** 2, 0.0)
    return finish_both(losses, slopes, reduction, float(p.size), out_dtype)


@value_of(_tukey_parts)
def tukey_biweight_loss() -> None:
    """Tukey's biweight (bisquare) loss, a redescending robust loss that
    ignores gross errors altogether.

    Formula, with r = pred - target, c = scale, u = r / c::

        l = (c^2 / 6) (1 - (1 - u^2)^3)   if |r| < c
        l = c^2 / 6                       otherwise

    r^2 / 2 near 0; constant beyond c. Gradient:
    psi(r) = r (1 - u^2)^2 inside, exactly 0 outside: a residual beyond c
    has no pull at all. Value, slope and curvature are continuous at
    |r| = c. Not convex.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    scale : float
        c > 0; the default 4.6851 gives 95% of least squares' efficiency
        for a location under Gaussian noise of standard deviation 1.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Distributional and robust regression". Reference:
    Beaton and Tukey (1974), "The fitting of power series, meaning
    polynomials, illustrated on band-spectroscopic data".
    """


@grad_of(_tukey_parts)
def tukey_biweight_loss_grad() -> None:
    """Gradient of :func:`tukey_biweight_loss` with respect to ``pred``:
    r (1 - (r / c)^2)^2 for |r| < c, 0 beyond; / n for "mean"."""


_tukey_biweight_loss_value_and_grad = _tukey_parts
