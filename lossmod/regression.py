"""Regression losses: squared and absolute error, Huber and its smooth
relatives, with gradients.

Arguments follow ``torch.nn.functional``:
``(pred, target, *, reduction="mean")``. ``pred`` and ``target`` must have
the same shape: NumPy would broadcast ``(N,)`` against ``(N, 1)`` to an
``(N, N)`` matrix of residuals and return a wrong number, so that raises
instead.

A gradient function ``<name>_grad`` takes the same arguments and returns
d(reduced loss)/d(pred) with the shape of ``pred``; for
``reduction="none"`` it is the gradient of the sum.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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
)
from lossmod._kernels import Inputs, elementwise, inputs, reduced

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

Residual = Callable[[Float64Array], Float64Array]
ResidualGrad = Callable[[Float64Array, float], Float64Array]


def _check(pred: ArrayLike, target: ArrayLike) -> None:
    """The full checks of the common arguments: raise the ValueError that
    names what is wrong."""
    p, _ = as_float("pred", pred)
    t, _ = as_float("target", target)
    check_same_shape("pred", p, "target", t)


def _loss(
    kernel: Residual, pred: ArrayLike, target: ArrayLike, reduction: str
) -> LossValue:
    """Reduce ``kernel(pred - target)``, evaluated in float64 block by
    block (lossmod._kernels).

    A NaN or an infinity in either input makes the sum non-finite: only
    then do the full checks run, to raise the error that names it.
    """
    check_reduction(reduction)
    args = inputs(lambda: _check(pred, target), pred, target)
    if reduction == "none":
        return _map(kernel, args)
    return reduced(lambda p, t: kernel(p - t), args, reduction)


def _grad(
    kernel: ResidualGrad,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: str,
) -> FloatArray:
    """``kernel(pred - target, scale)``, scale = d(reduced loss)/d(sum),
    block by block."""
    check_reduction(reduction)
    args = inputs(lambda: _check(pred, target), pred, target)
    scale = mean_scale(reduction, math.prod(args.shape))
    return _map(lambda r: kernel(r, scale), args)


def _map(kernel: Residual, args: Inputs) -> FloatArray:
    """``kernel(pred - target)`` per element, into a new array of the
    caller's dtype."""
    finite = True

    def per_element(p: Float64Array, t: Float64Array) -> Float64Array:
        nonlocal finite
        r = p - t
        finite = finite and math.isfinite(
            np.sum(r)
        )  # a NaN or an infinity in p or t shows here
        return kernel(r)

    out = elementwise(per_element, args)
    if not finite:
        args.check()
    return out


def _check_positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be > 0 and finite; got {value!r}")


def _check_delta(delta: float) -> None:
    _check_positive("delta", delta)


def mse(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> LossValue:
    """Mean squared error.

    Formula::

        l_i = (pred_i - target_i)^2,   L = mean_i l_i

    Gradient: dL/dpred_i = 2 (pred_i - target_i) / n for "mean"
    (n elements). Maximum likelihood under Gaussian noise of fixed
    variance; the best constant is the mean.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    reduction : {"mean", "sum", "none"}
        "none" returns the per-element losses with the shape of ``pred``.

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Mean squared error". Reference: Bishop (2006), section
    3.1.1.
    """
    return _loss(lambda r: r * r, pred, target, reduction)


def mse_grad(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> FloatArray:
    """Gradient of :func:`mse` with respect to ``pred``:
    2 (pred - target), / n for "mean"."""
    return _grad(lambda r, scale: 2.0 * scale * r, pred, target, reduction)


def mae(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> LossValue:
    """Mean absolute error (L1 loss).

    Formula::

        l_i = |pred_i - target_i|,   L = mean_i l_i

    Gradient: dL/dpred_i = sign(pred_i - target_i) / n for "mean"; at a
    zero residual the subgradient 0 is returned, as PyTorch does. Maximum
    likelihood under Laplace noise; minimised over a constant by the
    median.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Mean absolute error". Reference: Hastie, Tibshirani
    and Friedman (2009), section 10.6.
    """
    return _loss(lambda r: np.abs(r), pred, target, reduction)


def mae_grad(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> FloatArray:
    """Gradient of :func:`mae` with respect to ``pred``:
    sign(pred - target), / n for "mean"."""
    return _grad(
        lambda r, scale: scale * np.sign(r), pred, target, reduction
    )


def huber(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> LossValue:
    """Huber loss: quadratic for small residuals, linear for large ones.

    Formula, with r = pred - target::

        l = r^2 / 2                  if |r| <= delta
        l = delta (|r| - delta / 2)  otherwise

    Value and slope are continuous at |r| = delta. Gradient:
    dl/dr = clip(r, -delta, delta). ``torch.nn.functional.huber_loss`` and
    ``scipy.special.huber(delta, r)`` compute the same.

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

    See the chapter "Huber loss and its smooth relatives". Reference: Huber
    (1964), "Robust estimation of a location parameter".
    """
    _check_delta(delta)

    def per_element(r: Float64Array) -> Float64Array:
        c = np.clip(r, -delta, delta)  # the slope dl/dr
        # c (r - c/2) is r^2 / 2 where |r| <= delta (c = r), delta
        # (|r| - delta / 2) beyond.
        return c * (r - 0.5 * c)

    return _loss(per_element, pred, target, reduction)


def huber_grad(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> FloatArray:
    """Gradient of :func:`huber` with respect to ``pred``: clip(r, -delta,
    delta), / n if "mean"."""
    _check_delta(delta)
    return _grad(
        lambda r, scale: scale * np.clip(r, -delta, delta),
        pred,
        target,
        reduction,
    )


def smooth_l1(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    beta: float = 1.0,
    reduction: str = "mean",
) -> LossValue:
    """Smooth L1 loss: Huber divided by its threshold, so that the linear
    part has slope 1.

    Formula, with r = pred - target::

        l = r^2 / (2 beta)   if |r| < beta
        l = |r| - beta / 2   otherwise

    that is, smooth_l1(r; beta) = huber(r; delta=beta) / beta. Gradient:
    clip(r / beta, -1, 1). As ``torch.nn.functional.smooth_l1_loss``
    (there, beta = 0 gives the L1 loss; here beta must be > 0, use
    :func:`mae` for that).

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

    See the chapter "Huber loss and its smooth relatives". Reference:
    Girshick (2015), "Fast R-CNN".
    """
    _check_positive("beta", beta)

    def per_element(r: Float64Array) -> Float64Array:
        a = np.abs(r)
        return np.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)

    return _loss(per_element, pred, target, reduction)


def smooth_l1_grad(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    beta: float = 1.0,
    reduction: str = "mean",
) -> FloatArray:
    """Gradient of :func:`smooth_l1` w.r.t. ``pred``:
    clip(r / beta, -1, 1), / n if "mean"."""
    _check_positive("beta", beta)
    return _grad(
        lambda r, scale: scale * np.clip(r / beta, -1.0, 1.0),
        pred,
        target,
        reduction,
    )


def pseudo_huber(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> LossValue:
    """Pseudo-Huber loss: a smooth (infinitely differentiable)
    approximation of Huber.

    Formula, with r = pred - target::

        l = delta^2 (sqrt(1 + (r / delta)^2) - 1)

    About r^2 / 2 for |r| << delta and about delta |r| for |r| >> delta,
    like :func:`huber`. Gradient: dl/dr = r / sqrt(1 + (r / delta)^2),
    which tends to +-delta. Computed as delta^2 * t^2 / (sqrt(1 + t^2) + 1)
    with t = r / delta (the same value, multiplied out by the conjugate),
    which keeps full relative accuracy for tiny r where sqrt(1 + t^2) - 1
    would cancel to 0.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    delta : float
        The scale at which the loss turns from quadratic to linear; must
        be > 0.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Huber loss and its smooth relatives". Reference:
    Hartley and Zisserman (2004), appendix A6.8.
    """
    _check_delta(delta)

    def per_element(r: Float64Array) -> Float64Array:
        t = r / delta
        root = np.hypot(1.0, t)  # sqrt(1 + t^2) without overflow of t^2
        return delta * delta * (t / (root + 1.0)) * t

    return _loss(per_element, pred, target, reduction)


def pseudo_huber_grad(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
) -> FloatArray:
    """Gradient of :func:`pseudo_huber` w.r.t. ``pred``:
    r / sqrt(1 + (r / delta)^2) (/ n)."""
    _check_delta(delta)
    return _grad(
        lambda r, scale: scale * r / np.hypot(1.0, r / delta),
        pred,
        target,
        reduction,
    )


def log_cosh(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> LossValue:
    """Log-cosh loss: about r^2 / 2 near zero and |r| - log 2 far from it,
    smooth everywhere.

    Formula, with r = pred - target::

        l = log(cosh(r))

    computed as log1p(2 sinh(|r|/2)^2) for |r| < 20 and as
    |r| + log1p(exp(-2 |r|)) - log(2) beyond
    (cosh r = e^|r| (1 + e^-2|r|) / 2), which does not overflow where cosh
    does (|r| > 710). Gradient: dl/dr = tanh(r).

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

    def per_element(r: Float64Array) -> Float64Array:
        a = np.abs(r)
        # cosh r = 1 + 2 sinh(r/2)^2: log1p of it keeps full accuracy for
        # tiny r, where |r| + log1p(exp(-2|r|)) - log 2 cancels; that one
        # is used for large |r| instead (sinh overflows there; the kernels
        # run with NumPy's overflow warning silenced).
        near = np.log1p(2.0 * np.sinh(0.5 * a) ** 2)
        return np.where(
            a < 20.0, near, a + np.log1p(np.exp(-2.0 * a)) - np.log(2.0)
        )

    return _loss(per_element, pred, target, reduction)


def log_cosh_grad(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> FloatArray:
    """Gradient of :func:`log_cosh` with respect to ``pred``:
    tanh(pred - target), / n if mean."""
    return _grad(
        lambda r, scale: scale * np.tanh(r), pred, target, reduction
    )
