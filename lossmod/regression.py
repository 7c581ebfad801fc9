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

Each loss states its formula once, as a function of the residuals
r = pred - target, ``_<name>_terms(r, ...)``, which returns the loss of
every element and its slope dl/dr; lossmod._kernels runs it for the value,
the gradient, or both from one pass (``LOSSES[name].value_and_grad``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    FloatArray,
    LossValue,
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    check_weight,
    finish_both,
    legacy_reduction,
    mean_scale,
)
from lossmod._kernels import (
    Formula,
    Inputs,
    Terms,
    grad,
    inputs,
    value,
    value_and_grad,
)

__all__ = [
    "huber",
    "huber_grad",
    "huber_loss",
    "huber_loss_grad",
    "l1_loss",
    "l1_loss_grad",
    "log_cosh",
    "log_cosh_grad",
    "mae",
    "mae_grad",
    "mse",
    "mse_grad",
    "mse_loss",
    "mse_loss_grad",
    "pseudo_huber",
    "pseudo_huber_grad",
    "smooth_l1",
    "smooth_l1_grad",
    "smooth_l1_loss",
    "smooth_l1_loss_grad",
]

Array = NDArray[Any]


def _check(pred: ArrayLike, target: ArrayLike) -> None:
    """The full checks of the common arguments: raise the ValueError that
    names what is wrong."""
    p, _ = as_float("pred", pred)
    t, _ = as_float("target", target)
    check_same_shape("pred", p, "target", t)


def _residual(terms: Formula, *options: float) -> Formula:
    """The formula of ``terms(r, *options)`` as a function of pred and
    target, with r = pred - target (lossmod._kernels runs it)."""

    def of_pred_and_target(
        p: Array, t: Array, *, loss: bool, scale: float | None
    ) -> Terms:
        return terms(p - t, *options, loss=loss, scale=scale)

    return of_pred_and_target


def _inputs(
    pred: ArrayLike, target: ArrayLike, reduction: Reduction
) -> Inputs:
    """The arguments for the kernels; a NaN or an infinity in either
    input makes the losses, or the sums of the inputs, non-finite: only
    then do the full checks run, to raise the error that names it."""
    check_reduction(reduction)
    return inputs(lambda: _check(pred, target), pred, target)


def _loss(
    terms: Formula,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: Reduction,
) -> LossValue:
    """Reduce ``terms(pred - target)``, one pass (lossmod._kernels)."""
    return value(terms, _inputs(pred, target, reduction), reduction)


def _grad(
    terms: Formula,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: Reduction,
) -> FloatArray:
    """The slopes of ``terms`` times d(reduced loss)/d(sum)."""
    args = _inputs(pred, target, reduction)
    return grad(terms, args, mean_scale(reduction, math.prod(args.shape)))


def _both(
    terms: Formula,
    pred: ArrayLike,
    target: ArrayLike,
    reduction: Reduction,
) -> tuple[LossValue, FloatArray]:
    """:func:`_loss` and :func:`_grad` from one pass, bit for bit."""
    args = _inputs(pred, target, reduction)
    scale = mean_scale(reduction, math.prod(args.shape))
    return value_and_grad(terms, args, reduction, scale)


def _weighted(
    terms: Formula,
    pred: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike,
    reduction: Reduction,
    *,
    mean_over_weights: bool,
) -> tuple[LossValue, FloatArray]:
    """Value and gradient of the loss with per-element weights, as torch
    computes them: w l per element; "mean" divides the weighted sum by
    sum(w) (mse_loss, l1_loss) or by the count (huber_loss)."""
    check_reduction(reduction)
    _check(pred, target)
    p, out_dtype = as_float("pred", pred)
    w = check_weight("weight", weight, p.shape)
    if w.shape != p.shape:
        raise ValueError(
            f"weight has shape {w.shape} but pred has shape {p.shape}: "
            "torch requires them equal"
        )
    losses, slopes = terms(
        p, np.asarray(target, dtype=np.float64), loss=True, scale=1.0
    )
    assert losses is not None and slopes is not None
    count = float(w.sum()) if mean_over_weights else float(p.size)
    value, grad = finish_both(
        w * losses, w * slopes, reduction, count, out_dtype
    )
    assert value is not None and grad is not None
    return value, grad


def _check_positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be > 0 and finite; got {value!r}")


def _check_delta(delta: float) -> None:
    _check_positive("delta", delta)


def _mse_terms(
    r: Array, *, loss: bool = True, scale: float | None = 1.0
) -> Terms:
    """The squared error of the residuals r = pred - target, and its slope
    dl/dr = 2 r times ``scale`` (lossmod._kernels says when each is
    skipped)."""
    return (
        r * r if loss else None,
        2.0 * scale * r if scale is not None else None,
    )


def mse(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    weight: ArrayLike | None = None,
) -> LossValue:
    """Mean squared error; ``mse_loss`` is the same function, under
    ``torch.nn.functional``'s name.

    Formula::

        l_i = w_i (pred_i - target_i)^2,   L = mean_i l_i

    Gradient: dL/dpred_i = 2 w_i (pred_i - target_i) / n for "mean"
    (n elements). Maximum likelihood under Gaussian noise of fixed
    variance; the best constant is the mean.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags (positional slots kept so that
        torch's positional calls work): either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
        "none" returns the per-element losses with the shape of ``pred``.
    weight : array_like, optional, shape of ``pred``
        Non-negative per-element weights w (1 if omitted); with weights,
        "mean" is sum_i w_i l_i / sum_i w_i, as torch's.

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Mean squared error". Reference: Bishop (2006), section
    3.1.1.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(
            _residual(_mse_terms),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=True,
        )[0]
    return _loss(_residual(_mse_terms), pred, target, reduction)


def mse_grad(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    weight: ArrayLike | None = None,
) -> FloatArray:
    """Gradient of :func:`mse` with respect to ``pred``:
    2 w (pred - target), / n for "mean" (/ sum(w) with weights)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(
            _residual(_mse_terms),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=True,
        )[1]
    return _grad(_residual(_mse_terms), pred, target, reduction)


def _mse_value_and_grad(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    weight: ArrayLike | None = None,
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(
            _residual(_mse_terms),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=True,
        )
    return _both(_residual(_mse_terms), pred, target, reduction)


mse_loss = mse
mse_loss_grad = mse_grad


def _mae_terms(
    r: Array, *, loss: bool = True, scale: float | None = 1.0
) -> Terms:
    """The absolute error of the residuals r, and its slope sign(r) times
    ``scale`` (0 at r = 0, as PyTorch's)."""
    return (
        np.abs(r) if loss else None,
        scale * np.sign(r) if scale is not None else None,
    )


def mae(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    weight: ArrayLike | None = None,
) -> LossValue:
    """Mean absolute error (L1 loss); ``l1_loss`` is the same function,
    under ``torch.nn.functional``'s name.

    Formula::

        l_i = w_i |pred_i - target_i|,   L = mean_i l_i

    Gradient: dL/dpred_i = w_i sign(pred_i - target_i) / n for "mean"; at
    a zero residual the subgradient 0 is returned, as PyTorch does.
    Maximum likelihood under Laplace noise; minimised over a constant by
    the median.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
    weight : array_like, optional, shape of ``pred``
        Non-negative per-element weights; with weights, "mean" is
        sum_i w_i l_i / sum_i w_i, as torch's.

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Mean absolute error". Reference: Hastie, Tibshirani
    and Friedman (2009), section 10.6.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(
            _residual(_mae_terms),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=True,
        )[0]
    return _loss(_residual(_mae_terms), pred, target, reduction)


def mae_grad(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    weight: ArrayLike | None = None,
) -> FloatArray:
    """Gradient of :func:`mae` with respect to ``pred``:
    w sign(pred - target), / n for "mean" (/ sum(w) with weights)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(
            _residual(_mae_terms),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=True,
        )[1]
    return _grad(_residual(_mae_terms), pred, target, reduction)


def _mae_value_and_grad(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    weight: ArrayLike | None = None,
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(
            _residual(_mae_terms),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=True,
        )
    return _both(_residual(_mae_terms), pred, target, reduction)


l1_loss = mae
l1_loss_grad = mae_grad


def _huber_terms(
    r: Array, delta: float, *, loss: bool = True, scale: float | None = 1.0
) -> Terms:
    """Huber's loss of the residuals r, and its slope times ``scale``."""
    c = np.clip(r, -delta, delta)  # the slope dl/dr
    # c (r - c/2) is r^2 / 2 where |r| <= delta (c = r), delta
    # (|r| - delta / 2) beyond.
    return (
        c * (r - 0.5 * c) if loss else None,
        scale * c if scale is not None else None,
    )


def huber(
    pred: ArrayLike,
    target: ArrayLike,
    reduction: Reduction = "mean",
    delta: float = 1.0,
    weight: ArrayLike | None = None,
) -> LossValue:
    """Huber loss: quadratic for small residuals, linear for large ones;
    ``huber_loss`` is the same function, under torch's name.

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
    reduction : {"mean", "sum", "none"}
        Second after the target, as in torch's signature (huber_loss has
        no deprecated size_average and reduce slots).
    delta : float
        Where the quadratic regime ends; must be > 0.
    weight : array_like, optional, shape of ``pred``
        Non-negative per-element weights; with weights, "mean" is
        sum_i w_i l_i / n (the count, not sum(w): torch's huber_loss
        differs here from its mse_loss and l1_loss).

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Huber loss and its smooth relatives". Reference: Huber
    (1964), "Robust estimation of a location parameter".
    """
    _check_delta(delta)
    if weight is not None:
        return _weighted(
            _residual(_huber_terms, delta),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=False,
        )[0]
    return _loss(_residual(_huber_terms, delta), pred, target, reduction)


def huber_grad(
    pred: ArrayLike,
    target: ArrayLike,
    reduction: Reduction = "mean",
    delta: float = 1.0,
    weight: ArrayLike | None = None,
) -> FloatArray:
    """Gradient of :func:`huber` with respect to ``pred``:
    w clip(r, -delta, delta), / n if "mean"."""
    _check_delta(delta)
    if weight is not None:
        return _weighted(
            _residual(_huber_terms, delta),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=False,
        )[1]
    return _grad(_residual(_huber_terms, delta), pred, target, reduction)


def _huber_value_and_grad(
    pred: ArrayLike,
    target: ArrayLike,
    reduction: Reduction = "mean",
    delta: float = 1.0,
    weight: ArrayLike | None = None,
) -> tuple[LossValue, FloatArray]:
    _check_delta(delta)
    if weight is not None:
        return _weighted(
            _residual(_huber_terms, delta),
            pred,
            target,
            weight,
            reduction,
            mean_over_weights=False,
        )
    return _both(_residual(_huber_terms, delta), pred, target, reduction)


huber_loss = huber
huber_loss_grad = huber_grad


def _smooth_l1_terms(
    r: Array, beta: float, *, loss: bool = True, scale: float | None = 1.0
) -> Terms:
    """The smooth L1 loss of the residuals r, and its slope times
    ``scale``."""
    a = np.abs(r)
    return (
        np.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)
        if loss
        else None,
        scale * np.clip(r / beta, -1.0, 1.0)
        if scale is not None
        else None,
    )


def _smooth_l1_formula(beta: float) -> Formula:
    """The formula of smooth L1 with threshold ``beta``; beta = 0 is the
    L1 loss (torch's smooth_l1_loss switches to l1_loss there)."""
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be >= 0 and finite; got {beta!r}")
    if beta == 0:
        return _residual(_mae_terms)
    return _residual(_smooth_l1_terms, beta)


def smooth_l1(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    beta: float = 1.0,
) -> LossValue:
    """Smooth L1 loss: Huber divided by its threshold, so that the linear
    part has slope 1; ``smooth_l1_loss`` is the same function, under
    torch's name.

    Formula, with r = pred - target::

        l = r^2 / (2 beta)   if |r| < beta
        l = |r| - beta / 2   otherwise

    that is, smooth_l1(r; beta) = huber(r; delta=beta) / beta. Gradient:
    clip(r / beta, -1, 1). As ``torch.nn.functional.smooth_l1_loss``,
    beta = 0 gives the L1 loss |r| (gradient sign(r)), the limit of the
    formula.

    Parameters
    ----------
    pred, target : array_like, same shape (any)
        Finite real values.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
    beta : float
        Where the quadratic regime ends; must be >= 0.

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Huber loss and its smooth relatives". Reference:
    Girshick (2015), "Fast R-CNN".
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    terms = _smooth_l1_formula(beta)
    return _loss(terms, pred, target, reduction)


def smooth_l1_grad(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    beta: float = 1.0,
) -> FloatArray:
    """Gradient of :func:`smooth_l1` w.r.t. ``pred``:
    clip(r / beta, -1, 1) (sign(r) for beta = 0), / n if "mean"."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    terms = _smooth_l1_formula(beta)
    return _grad(terms, pred, target, reduction)


def _smooth_l1_value_and_grad(
    pred: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    beta: float = 1.0,
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    terms = _smooth_l1_formula(beta)
    return _both(terms, pred, target, reduction)


smooth_l1_loss = smooth_l1
smooth_l1_loss_grad = smooth_l1_grad


def _pseudo_huber_terms(
    r: Array, delta: float, *, loss: bool = True, scale: float | None = 1.0
) -> Terms:
    """The pseudo-Huber loss of the residuals r, and its slope times
    ``scale``."""
    t = r / delta
    root = np.hypot(1.0, t)  # sqrt(1 + t^2) without overflow of t^2
    return (
        delta * delta * (t / (root + 1.0)) * t if loss else None,
        scale * r / root if scale is not None else None,
    )


def pseudo_huber(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: Reduction = "mean",
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
    terms = _residual(_pseudo_huber_terms, delta)
    return _loss(terms, pred, target, reduction)


def pseudo_huber_grad(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`pseudo_huber` w.r.t. ``pred``:
    r / sqrt(1 + (r / delta)^2) (/ n)."""
    _check_delta(delta)
    terms = _residual(_pseudo_huber_terms, delta)
    return _grad(terms, pred, target, reduction)


def _pseudo_huber_value_and_grad(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    _check_delta(delta)
    terms = _residual(_pseudo_huber_terms, delta)
    return _both(terms, pred, target, reduction)


def _log_cosh_terms(
    r: Array, *, loss: bool = True, scale: float | None = 1.0
) -> Terms:
    """log(cosh(r)) of the residuals r, and its slope tanh(r) times
    ``scale``."""
    if not loss:
        return None, scale * np.tanh(r) if scale is not None else None
    a = np.abs(r)
    # cosh r = 1 + 2 sinh(r/2)^2: log1p of it keeps full accuracy for
    # tiny r, where |r| + log1p(exp(-2|r|)) - log 2 cancels; that one
    # is used for large |r| instead (sinh overflows there; the kernels
    # run with NumPy's overflow warning silenced). log 2 as a Python float
    # keeps float32 inputs in float32.
    near = np.log1p(2.0 * np.sinh(0.5 * a) ** 2)
    far = a + np.log1p(np.exp(-2.0 * a)) - math.log(2.0)
    return (
        np.where(a < 20.0, near, far),
        scale * np.tanh(r) if scale is not None else None,
    )


def log_cosh(
    pred: ArrayLike, target: ArrayLike, *, reduction: Reduction = "mean"
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
    return _loss(_residual(_log_cosh_terms), pred, target, reduction)


def log_cosh_grad(
    pred: ArrayLike, target: ArrayLike, *, reduction: Reduction = "mean"
) -> FloatArray:
    """Gradient of :func:`log_cosh` with respect to ``pred``:
    tanh(pred - target), / n if mean."""
    return _grad(_residual(_log_cosh_terms), pred, target, reduction)


def _log_cosh_value_and_grad(
    pred: ArrayLike, target: ArrayLike, *, reduction: Reduction = "mean"
) -> tuple[LossValue, FloatArray]:
    return _both(_residual(_log_cosh_terms), pred, target, reduction)
