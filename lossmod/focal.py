"""Focal losses: cross-entropy scaled down on the examples a model already
gets right, for sigmoid (per-label) and softmax (one-of-C) outputs.

The sigmoid version follows ``torchvision.ops.sigmoid_focal_loss`` (name,
argument names, defaults, formula); the softmax version is its one-of-C
counterpart. Both are computed from logits in log space, so they are
finite and accurate for any finite logit (tested at +-1e4 in float32 and
float64 against 60-digit mpmath). The computation runs in float64 and
the result is cast to the logits' dtype.

Explained in the chapter "Imbalance, multi-label and overlap"
(chapters/imbalance.ipynb).

Reference: Lin, Goyal, Girshick, He and Dollar (2017), "Focal loss for
dense object detection".
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
    check_distributions,
    check_interval,
    check_reduction,
    check_same_shape,
    check_weight,
    mean_scale,
    reduce,
)
from lossmod.primitives import _softplus

__all__ = [
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "softmax_focal_loss",
    "softmax_focal_loss_grad",
]

Array = NDArray[np.float64]


def _check_gamma(gamma: float) -> float:
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be finite and >= 0; got {gamma!r}")
    return float(gamma)


# --- Sigmoid focal loss (per element) ------------------------------------


def _sigmoid_focal_args(
    inputs: ArrayLike,
    targets: ArrayLike,
    alpha: float,
    gamma: float,
    reduction: Reduction,
) -> tuple[Array, Array, float, float, np.dtype[Any]]:
    check_reduction(reduction)
    z, z_dtype = as_float("inputs", inputs)
    t, _ = as_float("targets", targets)
    check_same_shape("inputs", z, "targets", t)
    check_interval("targets", t, 0.0, 1.0, "probabilities")
    if not (math.isfinite(alpha) and alpha <= 1):
        raise ValueError(
            "alpha must be in [0, 1], or negative (-1) to disable the "
            f"weighting; got {alpha!r}"
        )
    return z, t, float(alpha), _check_gamma(gamma), z_dtype


def _sigmoid_focal_terms(
    z: Array, t: Array, alpha: float, gamma: float, *, slope: bool
) -> tuple[Array, Array | None]:
    """Per element: the focal loss of logit z against label t, and (with
    ``slope``) its derivative in z."""
    # with p = sigmoid(z): -log p = softplus(-z) and
    # -log(1 - p) = softplus(z)
    nlog_p, nlog_1mp = _softplus(-z), _softplus(z)
    # the cross-entropy, a sum of two terms >= 0
    ce = t * nlog_p + (1 - t) * nlog_1mp
    # 1 - p_t = t (1 - p) + (1 - t) p, so log(1 - p_t)
    # = logaddexp(log t - softplus(z), log(1 - t) - softplus(-z))
    # (finite: softplus never overflows, and t or 1 - t is > 0)
    with np.errstate(divide="ignore"):
        log_q = np.logaddexp(
            np.log(t) - nlog_1mp,
            np.log1p(-t) - nlog_p,
        )
    # (1 - p_t)^gamma = exp(gamma log(1 - p_t)): never 0^0, never
    # 0 * inf
    modulating = np.exp(gamma * log_q)
    weight = alpha * t + (1 - alpha) * (1 - t) if alpha >= 0 else 1.0
    losses = weight * modulating * ce
    if not slope:
        return losses, None
    # p - t = (1 - t) sigmoid(z) - t sigmoid(-z): no cancellation for
    # hard labels; sigmoid(+-z) = exp(-softplus(-+z))
    p, one_minus_p = np.exp(-nlog_p), np.exp(-nlog_1mp)
    # r = p (1 - p) / (1 - p_t) <= 1, from logs: d(1 - p_t)/dz
    # = (1 - 2t) p (1 - p), so d(1 - p_t)^gamma/dz
    # = gamma (1 - p_t)^gamma (1 - 2t) r
    r = np.exp(-nlog_p - nlog_1mp - log_q)
    inner = (1 - t) * p - t * one_minus_p + gamma * (1 - 2 * t) * r * ce
    return losses, weight * modulating * inner


def sigmoid_focal_loss(
    inputs: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "none",
) -> LossValue:
    """Sigmoid focal loss on logits, as ``torchvision.ops``: names,
    defaults (``reduction="none"``) and formula.

    Formula, with z = inputs, t = targets, p = sigmoid(z)::

        p_t     = p t + (1 - p)(1 - t)
        alpha_t = alpha t + (1 - alpha)(1 - t)   (1 if alpha < 0)
        l       = alpha_t (1 - p_t)^gamma BCE(z, t)

    with BCE(z, t) = t softplus(-z) + (1 - t) softplus(z), which is
    -log p_t for a hard label. gamma = 0 and alpha = -1 give
    :func:`lossmod.bce_with_logits`. Computed in log space:
    log(1 - p_t) from softplus terms, (1 - p_t)^gamma as
    exp(gamma log(1 - p_t)).

    Gradient, with r = p (1 - p) / (1 - p_t)::

        dl/dz = alpha_t (1 - p_t)^gamma
                [(p - t) + gamma (1 - 2t) r BCE(z, t)]

    For t = 1 this is -alpha (1 - p)^gamma [(1 - p) + gamma p (-log p)].

    Parameters
    ----------
    inputs : array_like, any shape
        Finite logits, one per label (torchvision's name).
    targets : array_like, same shape as ``inputs``
        Labels in {0, 1} (soft labels in [0, 1] use the same formula).
    alpha : float
        Weight of the positive class in [0, 1]; a negative value (-1, as
        torchvision) disables the weighting.
    gamma : float
        Focusing exponent >= 0.
    reduction : {"none", "mean", "sum"}
        Default "none", as torchvision; "mean" averages over all
        elements.

    Returns
    -------
    The logits' float dtype: a scalar, or an array of the shape of
    ``inputs`` for ``reduction="none"``.

    Chapter: chapters/imbalance.ipynb. Reference: Lin et al. (2017),
    equation (5) with alpha-balancing.
    """
    z, t, a, g, out = _sigmoid_focal_args(
        inputs, targets, alpha, gamma, reduction
    )
    losses, _ = _sigmoid_focal_terms(z, t, a, g, slope=False)
    return reduce(losses, reduction, out)


def sigmoid_focal_loss_grad(
    inputs: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "none",
) -> FloatArray:
    """Gradient of :func:`sigmoid_focal_loss` with respect to ``inputs``
    (of the sum for "none" and "sum", of the mean for "mean")."""
    z, t, a, g, out = _sigmoid_focal_args(
        inputs, targets, alpha, gamma, reduction
    )
    _, slopes = _sigmoid_focal_terms(z, t, a, g, slope=True)
    assert slopes is not None
    scale = mean_scale(reduction, z.size)
    return (scale * slopes).astype(out, copy=False)


def _sigmoid_focal_loss_value_and_grad(
    inputs: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "none",
) -> tuple[LossValue, FloatArray]:
    z, t, a, g, out = _sigmoid_focal_args(
        inputs, targets, alpha, gamma, reduction
    )
    losses, slopes = _sigmoid_focal_terms(z, t, a, g, slope=True)
    assert slopes is not None
    scale = mean_scale(reduction, z.size)
    value = reduce(losses, reduction, out)
    return value, (scale * slopes).astype(out, copy=False)


# --- Softmax focal loss (per row of C classes) ---------------------------


def _softmax_focal_args(
    logits: ArrayLike,
    labels: ArrayLike,
    gamma: float,
    alpha: ArrayLike | None,
    reduction: Reduction,
) -> tuple[Array, Array, float, np.dtype[Any]]:
    """Check the arguments; return the logits, the coefficients
    a[i, c] = alpha_c t[i, c] (t one-hot for class indices), gamma and the
    result's dtype."""
    check_reduction(reduction)
    z, z_dtype = as_float("logits", logits)
    if z.ndim != 2:
        raise ValueError(
            f"logits must have shape (N, C); got shape {z.shape}"
        )
    n, n_classes = z.shape
    y = np.asarray(labels)
    if y.dtype.kind in "iu":
        if y.shape != (n,):
            raise ValueError(
                f"labels of class indices must have shape (N,) = ({n},); "
                f"got {y.shape}"
            )
        wrong = (y < 0) | (y >= n_classes)
        if wrong.any():
            i = int(np.argmax(wrong))
            raise ValueError(
                f"labels must hold class indices in [0, {n_classes - 1}]; "
                f"got {y[i]} at index {i}"
            )
        t = np.zeros((n, n_classes))
        t[np.arange(n), y] = 1.0
    elif y.dtype.kind == "f":
        t, _ = as_float("labels", y)
        if t.shape != z.shape:
            raise ValueError(
                "labels of probabilities must have the shape of logits "
                f"{z.shape}; got {t.shape} "
                "(class indices must be an integer array of shape (N,))"
            )
        check_distributions("labels", t)
    else:
        raise ValueError(
            "labels must be integer class indices of shape (N,) or float "
            f"probabilities of shape (N, C); got dtype {y.dtype}"
        )
    if alpha is not None:
        w = check_weight("alpha", alpha, (n_classes,))
        if w.shape != (n_classes,):
            raise ValueError(
                f"alpha must have shape (C,) = ({n_classes},); "
                f"got {w.shape}"
            )
        t = t * w
    return z, t, _check_gamma(gamma), z_dtype


def _softmax_focal_terms(
    z: Array, a: Array, gamma: float, *, slope: bool
) -> tuple[Array, Array | None]:
    """Per row i: l_i = sum_c a_ic (1 - p_ic)^gamma (-log p_ic) with
    p_i = softmax(z_i), and (with ``slope``) its gradient in z_i."""
    rows = np.arange(len(z))
    top = np.argmax(z, axis=1)
    m = z[rows, top][:, None]
    e = np.exp(z - m)
    e[rows, top] = 0.0
    # s = sum of exp(z_j - m) over j other than (one) maximum
    s = e.sum(axis=1, keepdims=True)
    # -log p_ic = (m_i - z_ic) + log1p(s_i): two terms >= 0
    nlog_p = (m - z) + np.log1p(s)
    p = np.exp(-nlog_p)
    with np.errstate(divide="ignore"):
        # p <= 1/2 off the maximum: log(1 - p) = log1p(-p) is accurate;
        # at the maximum, 1 - p = s / (1 + s): log s - log1p(s)
        log_q = np.log1p(-p)
        log_q[rows, top] = (np.log(s) - np.log1p(s))[:, 0]
    # (1 - p)^gamma = exp(gamma log(1 - p)); log(1 - p) = -inf only when
    # p rounds to 1, where the factor is 0 (1 for gamma = 0)
    modulating = np.exp(gamma * log_q) if gamma > 0 else np.ones_like(z)
    losses = np.sum(a * modulating * nlog_p, axis=1)
    if not slope:
        return losses, None
    q = np.exp(log_q)
    # h = p (-log p) / (1 - p) in [0, 1]; at the maximum it is
    # log1p(s) / s, whose limit at s = 0 is 1
    with np.errstate(divide="ignore", invalid="ignore"):
        h = p * nlog_p / q
        at_top = np.where(s > 0, np.log1p(s) / s, 1.0)
    h[rows, top] = at_top[:, 0]
    # d l_i / d z_ik = sum_c w_ic (p_ik - [k = c]) with
    # w_ic = a_ic (1 - p_ic)^gamma (1 + gamma h_ic), written as
    # p_ik (sum_{c != k} w_ic) - w_ik (1 - p_ik): no cancellation
    w = a * modulating * (1 + gamma * h)
    others = w.sum(axis=1, keepdims=True) - w
    return losses, p * others - w * q


def softmax_focal_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    gamma: float = 2.0,
    alpha: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Softmax (one-of-C) focal loss on logits, against class indices or
    probabilities.

    Formula, with p_i = softmax(z_i) and label y_i::

        l_i = -alpha_{y_i} (1 - p_{i,y_i})^gamma log p_{i,y_i}

    and, for probability labels t_i, the sum over classes
    l_i = -sum_c alpha_c t_ic (1 - p_ic)^gamma log p_ic. gamma = 0
    without alpha is :func:`lossmod.cross_entropy`. Computed in log
    space, with m_i = max_c z_ic and s_i the sum of exp(z_ij - m_i) over
    j other than the maximum::

        -log p_ic = (m_i - z_ic) + log1p(s_i)
        log(1 - p_ic) = log1p(-p_ic)           (c not the maximum)
                      = log(s_i) - log1p(s_i)  (c the maximum)

    Gradient, with h_ic = p_ic (-log p_ic) / (1 - p_ic) in [0, 1] and
    w_ic = alpha_c t_ic (1 - p_ic)^gamma (1 + gamma h_ic)::

        dl_i/dz_ik = sum_c w_ic (p_ik - [k = c])

    for a class index y: alpha_y (1 - p_y)^gamma (1 + gamma h_y)
    (p_i - onehot(y_i)).

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Finite scores for C classes.
    labels : array_like
        Integer class indices of shape (N,), or probabilities of shape
        (N, C) whose rows sum to 1.
    gamma : float
        Focusing exponent >= 0.
    alpha : array_like, optional, shape (C,)
        Non-negative weight of each class.
    reduction : {"mean", "sum", "none"}
        "mean" divides the sum by N (the weights do not enter the
        denominator, as in torchvision's sigmoid version; cross_entropy
        with weights divides by the summed weight instead).

    Returns
    -------
    The logits' float dtype: a scalar, or shape (N,) for "none".

    Chapter: chapters/imbalance.ipynb. Reference: Lin et al. (2017),
    section 3 (the multi-class form is their equation (5) applied to the
    true class).
    """
    z, a, g, out = _softmax_focal_args(
        logits, labels, gamma, alpha, reduction
    )
    losses, _ = _softmax_focal_terms(z, a, g, slope=False)
    return reduce(losses, reduction, out)


def softmax_focal_loss_grad(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    gamma: float = 2.0,
    alpha: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`softmax_focal_loss` with respect to ``logits``,
    shape (N, C); divided by N for "mean"."""
    z, a, g, out = _softmax_focal_args(
        logits, labels, gamma, alpha, reduction
    )
    _, slopes = _softmax_focal_terms(z, a, g, slope=True)
    assert slopes is not None
    scale = mean_scale(reduction, len(z))
    return (scale * slopes).astype(out, copy=False)


def _softmax_focal_loss_value_and_grad(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    gamma: float = 2.0,
    alpha: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    z, a, g, out = _softmax_focal_args(
        logits, labels, gamma, alpha, reduction
    )
    losses, slopes = _softmax_focal_terms(z, a, g, slope=True)
    assert slopes is not None
    scale = mean_scale(reduction, len(z))
    value = reduce(losses, reduction, out)
    return value, (scale * slopes).astype(out, copy=False)
