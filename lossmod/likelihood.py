"""Likelihood losses for counts and for a predicted variance: torch's
``poisson_nll_loss`` and ``gaussian_nll_loss``, each beside its gradient.

Both are negative log-likelihoods with the parts that do not depend on
the prediction left out unless ``full=True``; their values can be
negative. Signatures, defaults and corner cases are torch's (see the
README's "torch's corner cases").
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from lossmod._checks import (
    Float64Array,
    FloatArray,
    LossValue,
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    finish_both,
    first_index,
    legacy_reduction,
)

__all__ = [
    "gaussian_nll_loss",
    "gaussian_nll_loss_grad",
    "poisson_nll_loss",
    "poisson_nll_loss_grad",
]

Parts = tuple[LossValue, FloatArray]
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# --- Poisson ------------------------------------------------------------


def _poisson_parts(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool,
    full: bool,
    eps: float,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    x, out_dtype = as_float("input", input)
    t, _ = as_float("target", target)
    check_same_shape("input", x, "target", t)
    if (t < 0).any():
        index = first_index(t < 0)
        raise ValueError(
            f"target must hold counts >= 0; got {float(t[index])} at "
            f"index {index}"
        )
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be >= 0 and finite; got {eps!r}")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if log_input:
            # input is log(rate): exp(x) - t x, slope exp(x) - t
            rate = np.exp(x)
            losses = rate - t * x
            slopes = rate - t
        else:
            if (x < 0).any():
                index = first_index(x < 0)
                raise ValueError(
                    "input must hold rates >= 0 when log_input=False; "
                    f"got {float(x[index])} at index {index}"
                )
            # eps keeps log finite at a rate of 0
            losses = x - t * np.log(x + eps)
            slopes = 1.0 - t / (x + eps)
        if full:
            # Stirling's log(t!) ~ t log t - t + log(2 pi t) / 2, added
            # for t > 1 only (torch's mask): 0 for t in {0, 1}.
            stirling = t * np.log(t) - t + 0.5 * np.log(2 * math.pi * t)
            losses = losses + np.where(t > 1, stirling, 0.0)
    return finish_both(losses, slopes, reduction, float(x.size), out_dtype)


def poisson_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Poisson negative log-likelihood of counts (torch's
    ``poisson_nll_loss``).

    Formula, with x = input and counts t::

        log_input=True  (x = log rate):  l = exp(x) - t x
        log_input=False (x = rate):      l = x - t log(x + eps)
        full=True adds Stirling's t log t - t + log(2 pi t) / 2
        for t > 1 (0 for t <= 1)

    that is, -log Poisson(t | rate) up to log(t!), which does not depend
    on the prediction. Gradient: exp(x) - t (log_input), 1 - t / (x + eps)
    otherwise; the Stirling term has none.

    Parameters
    ----------
    input : array_like, any shape
        Log-rates (``log_input=True``) or rates >= 0.
    target : array_like, same shape
        Counts >= 0 (any real >= 0 is accepted, as torch does).
    log_input : bool
        Whether ``input`` is the log of the rate.
    full : bool
        Whether to add the Stirling approximation of log(t!).
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    eps : float
        Added to the rate inside the log when ``log_input=False``.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``;
    values may be negative.

    Explained in chapters/distributional-regression.ipynb.
    Reference: McCullagh and Nelder (1989), section 6.2.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _poisson_parts(input, target, log_input, full, eps, reduction)
    return parts[0]


def poisson_nll_loss_grad(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`poisson_nll_loss` with respect to ``input``:
    exp(x) - t (log_input) or 1 - t / (x + eps), / n for "mean"."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _poisson_parts(input, target, log_input, full, eps, reduction)
    return parts[1]


def _poisson_nll_loss_value_and_grad(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _poisson_parts(input, target, log_input, full, eps, reduction)
    return parts


# --- Gaussian with a predicted variance ----------------------------------


def _variance(var: ArrayLike, shape: tuple[int, ...]) -> Float64Array:
    """``var`` in a shape that broadcasts to the input's, as torch allows:
    the input's shape, the input's without its last axis, that with a
    last axis of 1, or a scalar."""
    v, _ = as_float("var", var)
    if v.shape != shape and v.ndim:
        if v.shape == shape[:-1]:
            v = v[..., None]
        elif not (
            v.ndim == len(shape)
            and v.shape[:-1] == shape[:-1]
            and v.shape[-1] == 1
        ):
            raise ValueError(
                f"var has shape {v.shape}; it must be the input's shape "
                f"{shape}, that without its last axis {shape[:-1]}, that "
                "with a last axis of 1, or a scalar"
            )
    if (v < 0).any():
        index = first_index(v < 0)
        raise ValueError(
            f"var must be >= 0; got {float(v[index])} at index {index}"
        )
    return v


def _gaussian_parts(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike,
    full: bool,
    eps: float,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    x, out_dtype = as_float("input", input)
    t, _ = as_float("target", target)
    check_same_shape("input", x, "target", t)
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be > 0 and finite; got {eps!r}")
    # torch clamps the variance at eps (without a gradient through it)
    v = np.maximum(_variance(var, x.shape), eps)
    r = x - t
    losses = 0.5 * (np.log(v) + r * r / v)
    if full:
        losses = losses + _HALF_LOG_2PI
    slopes = np.broadcast_to(r / v, x.shape).copy()
    return finish_both(
        np.broadcast_to(losses, x.shape).copy(),
        slopes,
        reduction,
        float(x.size),
        out_dtype,
    )


def gaussian_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
) -> LossValue:
    """Gaussian negative log-likelihood with a predicted variance (torch's
    ``gaussian_nll_loss``).

    Formula, with mean x = input, variance v = max(var, eps)::

        l = (log v + (x - target)^2 / v) / 2   (+ log(2 pi) / 2 if full)

    Gradient with respect to the mean: (x - target) / v. The variance is
    clamped at ``eps`` for stability, as torch does.

    Parameters
    ----------
    input : array_like, any shape
        Predicted means.
    target : array_like, same shape
        Observed values.
    var : array_like or float
        Variances >= 0: the input's shape, the input's shape without its
        last axis or with a last axis of 1 (one variance per sample), or a
        scalar (one for all).
    full : bool
        Whether to add the constant log(2 pi) / 2.
    eps : float
        The smallest variance used.
    reduction : {"mean", "sum", "none"}
        (torch's gaussian_nll_loss has no deprecated size_average and
        reduce slots.)

    Returns
    -------
    float32 or float64 scalar, or an array of the input's shape for
    ``reduction="none"``; values may be negative.

    Explained in chapters/distributional-regression.ipynb.
    Reference: Nix and Weigend (1994), "Estimating the mean and variance
    of the target probability distribution".
    """
    parts = _gaussian_parts(input, target, var, full, eps, reduction)
    return parts[0]


def gaussian_nll_loss_grad(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`gaussian_nll_loss` with respect to ``input``:
    (x - target) / max(var, eps), / n for "mean"."""
    parts = _gaussian_parts(input, target, var, full, eps, reduction)
    return parts[1]


def _gaussian_nll_loss_value_and_grad(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike,
    full: bool = False,
    eps: float = 1e-6,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    parts = _gaussian_parts(input, target, var, full, eps, reduction)
    return parts
