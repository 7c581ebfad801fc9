"""Regression losses: squared and absolute error, Huber and its smooth relatives, with gradients.

Arguments follow ``torch.nn.functional``: ``(pred, target, *, reduction="mean")``. ``pred`` and
``target`` must have the same shape: NumPy would broadcast ``(N,)`` against ``(N, 1)`` to an
``(N, N)`` matrix of residuals and return a wrong number, so that raises instead.

A gradient function ``<name>_grad`` takes the same arguments and returns d(reduced loss)/d(pred)
with the shape of ``pred``; for ``reduction="none"`` it is the gradient of the sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lossmod._checks import (
    Float64Array,
    FloatArray,
    LossValue,
    as_float,
    check_reduction,
    check_same_shape,
    mean_scale,
    reduce,
)

__all__ = [
    "huber",
    "huber_grad",
    "log_cosh",
    "log_cosh_grad",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
    "pseudo_huber",
    "pseudo_huber_grad",
    "smooth_l1",
    "smooth_l1_grad",
]


def _residual(
    pred: ArrayLike, target: ArrayLike, reduction: str
) -> tuple[Float64Array, np.dtype[Any]]:
    """Check the common arguments; return pred - target (float64) and the output dtype."""
    check_reduction(reduction)
    p, out_dtype = as_float("pred", pred)
    t, _ = as_float("target", target)
    check_same_shape("pred", p, "target", t)
    return p - t, out_dtype


def _check_positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be > 0 and finite; got {value!r}")


def _check_delta(delta: float) -> None:
    _check_positive("delta", delta)


def mse(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> LossValue:
    """Mean squared error.

    Formula::

        l_i = (pred_i - target_i)^2,   L = mean_i l_i

    Gradient: dL/dpred_i = 2 (pred_i - target_i) / n for "mean" (n elements).
    Maximum likelihood under Gaussian noise of fixed variance; the best constant is the mean.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    reduction : {"mean", "sum", "none"}
        "none" returns the per-element losses with the shape of ``pred``.

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Mean squared error". Reference: Bishop (2006), section 3.1.1.
    """
    r, out_dtype = _residual(pred, target, reduction)
    return reduce(r * r, reduction, out_dtype)


def mse_grad(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> FloatArray:
    """Gradient of :func:`mse` with respect to ``pred``: 2 (pred - target), / n for "mean"."""
    r, out_dtype = _residual(pred, target, reduction)
    return (2.0 * mean_scale(reduction, r.size) * r).astype(out_dtype)


def mae(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> LossValue:
    """Mean absolute error (L1 loss).

    Formula::

        l_i = |pred_i - target_i|,   L = mean_i l_i

    Gradient: dL/dpred_i = sign(pred_i - target_i) / n for "mean"; at a zero residual the
    subgradient 0 is returned, as PyTorch does. Maximum likelihood under Laplace noise; minimised
    over a constant by the median.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Mean absolute error". Reference: Hastie, Tibshirani and Friedman (2009),
    section 10.6.
    """
    r, out_dtype = _residual(pred, target, reduction)
    return reduce(np.abs(r), reduction, out_dtype)


def mae_grad(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> FloatArray:
    """Gradient of :func:`mae` with respect to ``pred``: sign(pred - target), / n for "mean"."""
    r, out_dtype = _residual(pred, target, reduction)
    return (mean_scale(reduction, r.size) * np.sign(r)).astype(out_dtype)


def huber(
    pred: ArrayLike, target: ArrayLike, *, delta: float = 1.0, reduction: str = "mean"
) -> LossValue:
    """Huber loss: quadratic for small residuals, linear for large ones.

    Formula, with r = pred - target::

        l = r^2 / 2                  if |r| <= delta
        l = delta (|r| - delta / 2)  otherwise

    Value and slope are continuous at |r| = delta. Gradient: dl/dr = clip(r, -delta, delta).
    ``torch.nn.functional.huber_loss`` and ``scipy.special.huber(delta, r)`` compute the same.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    delta : float
        Where the quadratic regime ends; must be > 0.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Huber loss and its smooth relatives". Reference: Huber (1964), "Robust
    estimation of a location parameter".
    """
    _check_delta(delta)
    r, out_dtype = _residual(pred, target, reduction)
    a = np.abs(r)
    elementwise = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
    return reduce(elementwise, reduction, out_dtype)


def huber_grad(
    pred: ArrayLike, target: ArrayLike, *, delta: float = 1.0, reduction: str = "mean"
) -> FloatArray:
    """Gradient of :func:`huber` with respect to ``pred``: clip(r, -delta, delta), / n if "mean"."""
    _check_delta(delta)
    r, out_dtype = _residual(pred, target, reduction)
    return (mean_scale(reduction, r.size) * np.clip(r, -delta, delta)).astype(out_dtype)


def smooth_l1(
    pred: ArrayLike, target: ArrayLike, *, beta: float = 1.0, reduction: str = "mean"
) -> LossValue:
    """Smooth L1 loss: Huber divided by its threshold, so that the linear part has slope 1.

    Formula, with r = pred - target::

        l = r^2 / (2 beta)   if |r| < beta
        l = |r| - beta / 2   otherwise

    that is, smooth_l1(r; beta) = huber(r; delta=beta) / beta. Gradient: clip(r / beta, -1, 1).
    As ``torch.nn.functional.smooth_l1_loss`` (there, beta = 0 gives the L1 loss; here beta must
    be > 0, use :func:`mae` for that).

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    beta : float
        Where the quadratic regime ends; must be > 0.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Huber loss and its smooth relatives". Reference: Girshick (2015), "Fast R-CNN".
    """
    _check_positive("beta", beta)
    r, out_dtype = _residual(pred, target, reduction)
    a = np.abs(r)
    elementwise = np.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)
    return reduce(elementwise, reduction, out_dtype)


def smooth_l1_grad(
    pred: ArrayLike, target: ArrayLike, *, beta: float = 1.0, reduction: str = "mean"
) -> FloatArray:
    """Gradient of :func:`smooth_l1` w.r.t. ``pred``: clip(r / beta, -1, 1), / n if "mean"."""
    _check_positive("beta", beta)
    r, out_dtype = _residual(pred, target, reduction)
    return (mean_scale(reduction, r.size) * np.clip(r / beta, -1.0, 1.0)).astype(out_dtype)


def pseudo_huber(
    pred: ArrayLike, target: ArrayLike, *, delta: float = 1.0, reduction: str = "mean"
) -> LossValue:
    """Pseudo-Huber loss: a smooth (infinitely differentiable) approximation of Huber.

    Formula, with r = pred - target::

        l = delta^2 (sqrt(1 + (r / delta)^2) - 1)

    About r^2 / 2 for |r| << delta and about delta |r| for |r| >> delta, like :func:`huber`.
    Gradient: dl/dr = r / sqrt(1 + (r / delta)^2), which tends to +-delta. Computed as
    delta^2 * t^2 / (sqrt(1 + t^2) + 1) with t = r / delta (the same value, multiplied out by
    the conjugate), which keeps full relative accuracy for tiny r where sqrt(1 + t^2) - 1
    would cancel to 0.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    delta : float
        The scale at which the loss turns from quadratic to linear; must be > 0.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Huber loss and its smooth relatives". Reference: Hartley and Zisserman
    (2004), appendix A6.8.
    """
    _check_delta(delta)
    r, out_dtype = _residual(pred, target, reduction)
    t = r / delta
    root = np.hypot(1.0, t)  # sqrt(1 + t^2) without overflow of t^2
    return reduce(delta * delta * (t / (root + 1.0)) * t, reduction, out_dtype)


def pseudo_huber_grad(
    pred: ArrayLike, target: ArrayLike, *, delta: float = 1.0, reduction: str = "mean"
) -> FloatArray:
    """Gradient of :func:`pseudo_huber` w.r.t. ``pred``: r / sqrt(1 + (r / delta)^2) (/ n)."""
    _check_delta(delta)
    r, out_dtype = _residual(pred, target, reduction)
    return (mean_scale(reduction, r.size) * r / np.hypot(1.0, r / delta)).astype(out_dtype)


def log_cosh(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> LossValue:
    """Log-cosh loss: about r^2 / 2 near zero and |r| - log 2 far from it, smooth everywhere.

    Formula, with r = pred - target::

        l = log(cosh(r))

    computed as log1p(2 sinh(|r|/2)^2) for |r| < 20 and as |r| + log1p(exp(-2 |r|)) - log(2)
    beyond (cosh r = e^|r| (1 + e^-2|r|) / 2), which does not overflow where cosh does
    (|r| > 710). Gradient: dl/dr = tanh(r).

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Huber loss and its smooth relatives".
    """
    r, out_dtype = _residual(pred, target, reduction)
    a = np.abs(r)
    with np.errstate(over="ignore"):  # sinh overflows where the other branch is taken
        # cosh r = 1 + 2 sinh(r/2)^2: log1p of it keeps full accuracy for tiny r, where
        # |r| + log1p(exp(-2|r|)) - log 2 cancels; that one is used for large |r| instead.
        near = np.log1p(2.0 * np.sinh(0.5 * a) ** 2)
    elementwise = np.where(a < 20.0, near, a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0))
    return reduce(elementwise, reduction, out_dtype)


def log_cosh_grad(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> FloatArray:
    """Gradient of :func:`log_cosh` with respect to ``pred``: tanh(pred - target), / n if mean."""
    r, out_dtype = _residual(pred, target, reduction)
    return (mean_scale(reduction, r.size) * np.tanh(r)).astype(out_dtype)
