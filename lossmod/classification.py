"""Classification losses: binary cross-entropy (on probabilities and on logits) and categorical
cross-entropy, each beside its gradient.

Names, arguments and reductions follow ``torch.nn.functional`` so that what a learner learns here
transfers. The losses on logits are finite and accurate for any finite logit (tested at +-1e4 in
float32 and float64): every one is written as a sum of non-negative terms built from the stable
primitives, so nothing overflows and nothing cancels.
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
    check_distributions,
    check_interval,
    check_reduction,
    check_same_shape,
    check_weight,
    mean_scale,
    reduce,
)
from lossmod.primitives import _shifted_logsumexp, _sigmoid, _softmax, _softplus

__all__ = [
    "bce",
    "bce_grad",
    "bce_with_logits",
    "bce_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
]


# --- Binary cross-entropy on probabilities ---------------------------------------------------


def _bce_args(
    probs: ArrayLike, target: ArrayLike, weight: ArrayLike | None, reduction: str
) -> tuple[Float64Array, Float64Array, Float64Array | float, np.dtype[Any]]:
    check_reduction(reduction)
    p, p_dtype = as_float("probs", probs)
    y, _ = as_float("target", target)
    check_same_shape("probs", p, "target", y)
    check_interval("probs", p, 0.0, 1.0, "probabilities")
    check_interval("target", y, 0.0, 1.0, "probabilities")
    w = 1.0 if weight is None else check_weight("weight", weight, p.shape)
    return p, y, w, p_dtype


def _ratio(numerator: Float64Array, denominator: Float64Array) -> Float64Array:
    """numerator / denominator, taken as 0 where the numerator is 0 (the limit used by xlogy)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(numerator == 0, 0.0, numerator / denominator)


def bce(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> LossValue:
    """Binary cross-entropy on probabilities: the textbook formula.

    Formula, with p = probs, y = target and 0 log 0 = 0::

        l = -w [y log(p) + (1 - y) log(1 - p)]

    Gradient: dl/dp = w [(1 - y) / (1 - p) - y / p].
    Negative log-likelihood of a Bernoulli(p) observation y.

    A confident mistake (p = 0 with y = 1) costs log(0) = inf: that is the true value, returned as
    it is (``torch.nn.functional.binary_cross_entropy`` clamps each log at -100 instead). Work with
    logits and :func:`bce_with_logits` to stay finite.

    Parameters
    ----------
    probs : array_like, any shape
        Predicted probabilities in [0, 1].
    target : array_like, same shape as ``probs``
        Labels in {0, 1}, or soft labels in [0, 1].
    weight : array_like, optional
        Non-negative per-element weights, broadcastable to the shape of ``probs``.
    reduction : {"mean", "sum", "none"}
        "mean" averages over all elements (weights do not enter the denominator).

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Reference: Bishop (2006), section 4.3.2.
    """
    p, y, w, out_dtype = _bce_args(probs, target, weight, reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p, log_1mp = np.log(p), np.log1p(-p)
        # 0 * log(0) = 0: a term whose coefficient is zero contributes nothing.
        log_likelihood = np.where(y == 0, 0.0, y * log_p) + np.where(y == 1, 0.0, (1 - y) * log_1mp)
    elementwise = 0.0 - log_likelihood  # 0 - x rather than -x: no -0.0 for a perfect prediction
    return reduce(w * elementwise, reduction, out_dtype)


def bce_grad(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> FloatArray:
    """Gradient of :func:`bce` with respect to ``probs``: w [(1-y)/(1-p) - y/p], / n for "mean"."""
    p, y, w, out_dtype = _bce_args(probs, target, weight, reduction)
    grad = w * (_ratio(1 - y, 1 - p) - _ratio(y, p))
    return (mean_scale(reduction, p.size) * grad).astype(out_dtype)


# --- Binary cross-entropy on logits ----------------------------------------------------------


def _bce_logits_args(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    pos_weight: ArrayLike | None,
    reduction: str,
) -> tuple[Float64Array, Float64Array, Float64Array | float, Float64Array | float, np.dtype[Any]]:
    check_reduction(reduction)
    z, z_dtype = as_float("logits", logits)
    y, _ = as_float("target", target)
    check_same_shape("logits", z, "target", y)
    check_interval("target", y, 0.0, 1.0, "probabilities")
    w = 1.0 if weight is None else check_weight("weight", weight, z.shape)
    pw = 1.0 if pos_weight is None else check_weight("pos_weight", pos_weight, z.shape)
    return z, y, w, pw, z_dtype


def bce_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pos_weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> LossValue:
    """Binary cross-entropy on logits, finite for every finite logit.

    Formula, with z = logits, y = target, p = sigmoid(z), w = weight, a = pos_weight::

        l = -w [a y log(p) + (1 - y) log(1 - p)]
          = w [a y softplus(-z) + (1 - y) softplus(z)]

    using log(sigmoid(z)) = -softplus(-z) and log(1 - sigmoid(z)) = -softplus(z). Both terms are
    non-negative, so the sum loses no accuracy, and softplus never overflows.

    Gradient: dl/dz = w [(1 - y) sigmoid(z) - a y sigmoid(-z)]; with a = 1 it is
    w (sigmoid(z) - y).

    Parameters
    ----------
    logits : array_like, any shape
        Finite real scores; the predicted probability is sigmoid(logits).
    target : array_like, same shape as ``logits``
        Labels in {0, 1}, or soft labels in [0, 1].
    weight : array_like, optional
        Non-negative per-element weights, broadcastable to the shape of ``logits``.
    pos_weight : array_like, optional
        Non-negative weight of the positive term, broadcastable to the shape of ``logits`` (shape
        (C,) for C independent labels): about (number of negatives) / (number of positives) to
        balance a rare positive class.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Reference: Goodfellow, Bengio and Courville (2016), section 6.2.2.2.
    """
    z, y, w, pw, out_dtype = _bce_logits_args(logits, target, weight, pos_weight, reduction)
    elementwise = w * (pw * y * _softplus(-z) + (1 - y) * _softplus(z))
    return reduce(elementwise, reduction, out_dtype)


def bce_with_logits_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    pos_weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> FloatArray:
    """Gradient of :func:`bce_with_logits` with respect to ``logits``.

    w [(1 - y) sigmoid(z) - a y sigmoid(-z)], divided by n for "mean"; sigmoid(-z) is computed
    directly rather than as 1 - sigmoid(z), which would lose it to rounding for large z.
    """
    z, y, w, pw, out_dtype = _bce_logits_args(logits, target, weight, pos_weight, reduction)
    grad = w * ((1 - y) * _sigmoid(z) - pw * y * _sigmoid(-z))
    return (mean_scale(reduction, z.size) * grad).astype(out_dtype)


# --- Categorical cross-entropy on logits -----------------------------------------------------


def _ce_coefficients(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
) -> tuple[Float64Array, Float64Array, float, np.dtype[Any]]:
    """Reduce every form of target to coefficients a[i, c] with l_i = -sum_c a[i, c] log p[i, c].

    Class indices y with class weights w and smoothing eps give
    a[i, c] = w_c ((1 - eps) [c == y_i] + eps / C), and 0 for an ignored sample; probability
    targets t give a[i, c] = w_c t'[i, c] with t' = (1 - eps) t + eps / C. Also returns the logits
    and the denominator of the "mean" reduction (PyTorch's: the summed weight of the targets
    that count for class indices, the number of samples for probability targets).
    """
    check_reduction(reduction)
    if not (0.0 <= label_smoothing <= 1.0):
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    z, out_dtype = as_float("logits", logits)
    if z.ndim != 2:
        raise ValueError(f"logits must have shape (N, C); got shape {z.shape}")
    n, n_classes = z.shape
    w = np.ones(n_classes) if weight is None else check_weight("weight", weight, (n_classes,))
    if w.shape != (n_classes,):
        raise ValueError(f"weight must have shape (C,) = ({n_classes},); got {w.shape}")

    labels = np.asarray(target)
    if labels.dtype.kind in "iu":
        if labels.shape != (n,):
            raise ValueError(
                f"target of class indices must have shape (N,) = ({n},); got {labels.shape}"
            )
        kept = labels != ignore_index
        wrong = kept & ((labels < 0) | (labels >= n_classes))
        if wrong.any():
            i = int(np.argmax(wrong))
            raise ValueError(
                f"target must hold class indices in [0, {n_classes - 1}] (or ignore_index="
                f"{ignore_index}); got {labels[i]} at index {i}"
            )
        dense = np.zeros((n, n_classes))
        rows = np.flatnonzero(kept)
        dense[rows, labels[rows]] = 1.0
        denominator = float(w[labels[rows]].sum())
        smoothing = kept[:, None] * (label_smoothing / n_classes)
    elif labels.dtype.kind == "f":
        t, _ = as_float("target", labels)
        if t.shape != z.shape:
            raise ValueError(
                f"target of probabilities must have the shape of logits {z.shape}; got {t.shape} "
                "(class indices must be an integer array of shape (N,))"
            )
        check_distributions("target", t)
        dense, denominator, smoothing = t, float(n), np.full((n, 1), label_smoothing / n_classes)
    else:
        raise ValueError(
            "target must be integer class indices of shape (N,) or float probabilities of "
            f"shape (N, C); got dtype {labels.dtype}"
        )
    coefficients = w * ((1.0 - label_smoothing) * dense + smoothing)
    return z, coefficients, denominator, out_dtype


def _ce_scale(reduction: str, denominator: float) -> float:
    if reduction == "mean" and denominator == 0:
        raise ValueError(
            "reduction='mean' is undefined here: every target is ignore_index or has weight 0, "
            "so the weighted mean divides 0 by 0"
        )
    return 1.0 / denominator if reduction == "mean" else 1.0


def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> LossValue:
    """Categorical cross-entropy of softmax(logits) against class indices or probabilities.

    Formula, with p_i = softmax(z_i) and target distribution t_i (one-hot for class indices)::

        l_i = -sum_c w_c t'_ic log p_ic,   t' = (1 - eps) t + eps / C   (label smoothing eps)

    computed, with m_i = max_c z_ic, as::

        -log p_ic = (m_i - z_ic) + log1p(sum_{j != argmax} exp(z_ij - m_i))

    two non-negative terms, so neither overflow nor cancellation occurs.

    Gradient: dl_i/dz_ic = (sum_k a_ik) p_ic - a_ic with a_ik = w_k t'_ik; for one-hot targets
    without weights this is p_i - onehot(y_i).

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Finite scores for C classes.
    target : array_like
        Integer class indices of shape (N,), or probabilities of shape (N, C) whose rows sum to 1.
    weight : array_like, optional, shape (C,)
        Non-negative weight of each class.
    ignore_index : int
        Class-index targets equal to it contribute nothing, neither to the sum nor the mean.
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution over the C classes.
    reduction : {"mean", "sum", "none"}
        "mean" for class indices is the weighted mean: the sum divided by the summed weight of the
        counted targets, sum_i w_{y_i}, as PyTorch does; for probability targets it divides by N.
        It raises when every target is ignored (PyTorch returns NaN).

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for ``reduction="none"``.

    Reference: Goodfellow, Bengio and Courville (2016), section 6.2.2.3.
    """
    z, a, denominator, out_dtype = _ce_coefficients(
        logits, target, weight, ignore_index, label_smoothing, reduction
    )
    m, log_sum = _shifted_logsumexp(z, axis=1)
    neg_log_p = (m - z) + log_sum
    elementwise = np.sum(a * neg_log_p, axis=1)
    if reduction == "mean":
        return out_dtype.type(elementwise.sum() * _ce_scale(reduction, denominator))  # type: ignore[no-any-return]
    return reduce(elementwise, reduction, out_dtype)


def cross_entropy_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> FloatArray:
    """Gradient of :func:`cross_entropy` with respect to ``logits``, shape (N, C).

    (sum_k a_ik) softmax(z_i) - a_i for each row, divided by the "mean" denominator.
    """
    z, a, denominator, out_dtype = _ce_coefficients(
        logits, target, weight, ignore_index, label_smoothing, reduction
    )
    grad: Float64Array = a.sum(axis=1, keepdims=True) * _softmax(z, axis=1) - a
    return (_ce_scale(reduction, denominator) * grad).astype(out_dtype)
