"""Regression losses: mean squared error, mean absolute error and Huber, each beside its gradient.

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

__all__ = ["huber", "huber_grad", "mae", "mae_grad", "mse", "mse_grad"]


def _residual(
    pred: ArrayLike, target: ArrayLike, reduction: str
) -> tuple[Float64Array, np.dtype[Any]]:
    """Check the common arguments; return pred - target (float64) and the output dtype."""
    check_reduction(reduction)
    p, out_dtype = as_float("pred", pred)
    t, _ = as_float("target", target)
    check_same_shape("pred", p, "target", t)
    return p - t, out_dtype


def _check_delta(delta: float) -> None:
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be > 0 and finite; got {delta!r}")


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

    See the chapter "What is a loss function?". Reference: Bishop (2006), section 3.1.1.
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

    Reference: Hastie, Tibshirani and Friedman (2009), section 10.6.
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

    Reference: Huber (1964), "Robust estimation of a location parameter".
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
