"""Overlap losses for segmentation masks: soft Dice and Tversky, on
logits, each beside its gradient.

A mask is the last axis of the input (flatten an image's pixels into it):
the loss of one mask is a ratio of sums over its pixels, so it does not
split into per-pixel terms, and ``reduction="none"`` returns one value per
mask (shape ``logits.shape[:-1]``).

Why logits, not probabilities: a segmentation network outputs logits, and
BCE + Dice, the usual combination, then takes one array
(``bce_with_logits(z, y) + dice_loss(z, y)``); p = sigmoid(z) lies in
(0, 1) for every finite z, so no clipping is needed, and the gradient in
z includes the factor p (1 - p) that the chapter discusses (a saturated
pixel learns nothing). Pass probabilities through ``scipy.special.logit``
if that is what you have.

Explained in the chapter "Imbalance, multi-label and overlap"
(chapters/imbalance.ipynb).

References: Milletari, Navab and Ahmadi (2016), "V-Net"; Salehi, Erdogmus
and Gholipour (2017), "Tversky loss function for image segmentation using
3D fully convolutional deep networks".
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
    check_interval,
    check_reduction,
    check_same_shape,
    first_index,
    mean_scale,
    reduce,
)

__all__ = [
    "dice_loss",
    "dice_loss_grad",
    "tversky_loss",
    "tversky_loss_grad",
]

Array = NDArray[np.float64]


def _overlap_args(
    logits: ArrayLike,
    target: ArrayLike,
    alpha: float,
    beta: float,
    smooth: float,
    reduction: Reduction,
) -> tuple[Array, Array, np.dtype[Any]]:
    check_reduction(reduction)
    z, z_dtype = as_float("logits", logits)
    y, _ = as_float("target", target)
    check_same_shape("logits", z, "target", y)
    if z.ndim == 0:
        raise ValueError(
            "logits must have at least one axis (the pixels of a mask); "
            "got a scalar"
        )
    check_interval("target", y, 0.0, 1.0, "probabilities")
    for name, v in (("alpha", alpha), ("beta", beta)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be finite and >= 0; got {v!r}")
    if not (math.isfinite(smooth) and smooth >= 0):
        raise ValueError(f"smooth must be finite and >= 0; got {smooth!r}")
    return z, y, z_dtype


def _tversky_terms(
    z: Array,
    y: Array,
    alpha: float,
    beta: float,
    smooth: float,
    *,
    slope: bool,
) -> tuple[Array, Array | None]:
    """Per mask (last axis): the Tversky loss and (with ``slope``) its
    gradient in z."""
    e = np.exp(-np.abs(z))
    # sigmoid(+-z) from exp(-|z|) <= 1: 1 - p is computed, never
    # subtracted
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)
    one_minus_p = np.where(z >= 0, e, 1.0) / (1.0 + e)
    tp = np.sum(p * y, axis=-1, keepdims=True)
    fp = np.sum(p * (1 - y), axis=-1, keepdims=True)
    fn = np.sum(one_minus_p * y, axis=-1, keepdims=True)
    # 1 - (TP + s) / (TP + a FP + b FN + s) = (a FP + b FN) / (...):
    # a ratio of sums of terms >= 0, no cancellation near a perfect mask
    numerator = alpha * fp + beta * fn
    denominator = tp + numerator + smooth
    if np.any(denominator == 0):
        index = first_index(denominator == 0)
        raise ValueError(
            f"the mask at index {index[:-1]} is empty and so is its "
            "prediction, and smooth = 0: the loss is 0 / 0; "
            "use smooth > 0"
        )
    losses = (numerator / denominator)[..., 0]
    if not slope:
        return losses, None
    # d(num)/dp = a (1 - y) - b y, d(den)/dp = y + d(num)/dp, so
    # dl/dp = [d(num)/dp (TP + s) - num y] / den^2; dp/dz = p (1 - p)
    d_num = alpha * (1 - y) - beta * y
    dl_dp = (d_num * (tp + smooth) - numerator * y) / denominator**2
    return losses, dl_dp * (p * one_minus_p)


def tversky_loss(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 1.0,
    reduction: Reduction = "mean",
) -> LossValue:
    """Tversky loss of the masks sigmoid(logits) against target masks.

    Formula, per mask (sums over its last axis), p = sigmoid(z)::

        TP = sum p y,  FP = sum p (1 - y),  FN = sum (1 - p) y
        l  = 1 - (TP + s) / (TP + alpha FP + beta FN + s)
           = (alpha FP + beta FN) / (TP + alpha FP + beta FN + s)

    the second form computed (terms >= 0, no cancellation). alpha
    weighs false positives, beta false negatives: beta > alpha favours
    recall. alpha = beta = 1/2 is :func:`dice_loss` with smoothing 2 s.

    Empty mask (y = 0): l = alpha FP / (alpha FP + s), which tends to 0
    as the predicted area FP = sum p does; with s = 0 it is 1 for every
    finite logit, and 0 / 0 (an error) where every p underflows to 0.

    Gradient, with num = alpha FP + beta FN and den = TP + num + s::

        dl/dz_j = [(alpha (1 - y_j) - beta y_j)(TP + s) - num y_j]
                  / den^2 * p_j (1 - p_j)

    Parameters
    ----------
    logits : array_like, shape (..., P)
        Finite logits; the last axis holds the P pixels of one mask.
    target : array_like, same shape
        Masks in {0, 1} (soft masks in [0, 1] use the same formula).
    alpha, beta : float >= 0
        Weights of false positives and false negatives.
    smooth : float >= 0
        Added to the numerator and the denominator of the Tversky index.
    reduction : {"mean", "sum", "none"}
        Over the masks; "none" returns shape ``logits.shape[:-1]``.

    Returns
    -------
    The logits' float dtype: a scalar, or one value per mask.

    Chapter: chapters/imbalance.ipynb. Reference: Salehi, Erdogmus and
    Gholipour (2017), equation (3).
    """
    z, y, out = _overlap_args(
        logits, target, alpha, beta, smooth, reduction
    )
    losses, _ = _tversky_terms(z, y, alpha, beta, smooth, slope=False)
    return reduce(losses, reduction, out)


def tversky_loss_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 1.0,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`tversky_loss` with respect to ``logits``;
    divided by the number of masks for "mean"."""
    z, y, out = _overlap_args(
        logits, target, alpha, beta, smooth, reduction
    )
    _, slopes = _tversky_terms(z, y, alpha, beta, smooth, slope=True)
    assert slopes is not None
    scale = mean_scale(reduction, math.prod(z.shape[:-1]))
    return (scale * slopes).astype(out, copy=False)


def _tversky_loss_value_and_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    alpha: float = 0.5,
    beta: float = 0.5,
    smooth: float = 1.0,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    z, y, out = _overlap_args(
        logits, target, alpha, beta, smooth, reduction
    )
    losses, slopes = _tversky_terms(z, y, alpha, beta, smooth, slope=True)
    assert slopes is not None
    scale = mean_scale(reduction, math.prod(z.shape[:-1]))
    value = reduce(losses, reduction, out)
    return value, (scale * slopes).astype(out, copy=False)


def _half(smooth: float) -> float:
    """Dice's smoothing s as the Tversky smoothing s / 2, checked."""
    if not (math.isfinite(smooth) and smooth >= 0):
        raise ValueError(f"smooth must be finite and >= 0; got {smooth!r}")
    return smooth / 2


def dice_loss(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    smooth: float = 1.0,
    reduction: Reduction = "mean",
) -> LossValue:
    """Soft Dice loss of the masks sigmoid(logits) against target masks.

    Formula, per mask (sums over its last axis), p = sigmoid(z)::

        l = 1 - (2 sum p y + s) / (sum p + sum y + s)
          = (FP + FN) / (2 TP + FP + FN + s)

    with TP, FP, FN as in :func:`tversky_loss`; computed as the
    Tversky loss with alpha = beta = 1/2 and smoothing s / 2 (the same
    ratio with numerator and denominator halved, exactly).

    Where the smoothing goes: in the numerator and the denominator. Then
    an empty target mask gives l = sum p / (sum p + s), which rewards
    predicting an empty mask (l -> 0); with s in the denominator only,
    or s = 0, the loss of an empty mask is 1 whatever the prediction,
    with zero gradient.

    Gradient: dl/dz_j = [(1 - 2 y_j)(TP + s/2) - (FP + FN) y_j]
    / (2 den^2) * p_j (1 - p_j) with den = TP + (FP + FN + s) / 2.

    Parameters
    ----------
    logits : array_like, shape (..., P)
        Finite logits; the last axis holds the P pixels of one mask.
    target : array_like, same shape
        Masks in {0, 1} (soft masks in [0, 1] use the same formula).
    smooth : float >= 0
        Added to the numerator and the denominator of the Dice
        coefficient.
    reduction : {"mean", "sum", "none"}
        Over the masks; "none" returns shape ``logits.shape[:-1]``.

    Returns
    -------
    The logits' float dtype: a scalar, or one value per mask.

    Chapter: chapters/imbalance.ipynb. Reference: Milletari, Navab and
    Ahmadi (2016), equation (1), with sums of p and y in the denominator
    (theirs sums squares).
    """
    return tversky_loss(
        logits,
        target,
        alpha=0.5,
        beta=0.5,
        smooth=_half(smooth),
        reduction=reduction,
    )


def dice_loss_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    smooth: float = 1.0,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`dice_loss` with respect to ``logits``; divided
    by the number of masks for "mean"."""
    return tversky_loss_grad(
        logits,
        target,
        alpha=0.5,
        beta=0.5,
        smooth=_half(smooth),
        reduction=reduction,
    )


def _dice_loss_value_and_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    smooth: float = 1.0,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    return _tversky_loss_value_and_grad(
        logits,
        target,
        alpha=0.5,
        beta=0.5,
        smooth=_half(smooth),
        reduction=reduction,
    )
