"""Classification losses: binary cross-entropy (on probabilities and on
logits) and categorical cross-entropy, each beside its gradient.

Names, arguments and reductions follow ``torch.nn.functional`` so that what
a learner learns here transfers. The losses on logits are finite and
accurate for any finite logit (tested at +-1e4 in float32 and float64):
every one is written as a sum of non-negative terms built from the stable
primitives, so nothing overflows and nothing cancels.

Each loss states its formula once, ``_<name>_terms``: the loss of every
element (or row) and its slope, computed together where they share work
(the exponentials); lossmod._kernels runs it for the value, the gradient,
or both from one pass (``LOSSES[name].value_and_grad``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    Float64Array,
    FloatArray,
    LossValue,
    Reduction,
    as_float,
    check_distributions,
    check_interval,
    check_reduction,
    check_same_shape,
    check_weight,
    finish_both,
    legacy_reduction,
    mean_scale,
    result_dtype,
)
from lossmod._kernels import (
    Inputs,
    Terms,
    compute_dtype,
    evaluate,
    grad,
    inputs,
    value,
    value_and_grad,
)
from lossmod.primitives import (
    _logsumexp_and_softmax,
    _shifted_logsumexp,
    _softmax,
)

__all__ = [
    "bce",
    "bce_grad",
    "bce_with_logits",
    "bce_with_logits_grad",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "nll_loss",
    "nll_loss_grad",
]

PROBABILITIES = (0.0, 1.0)
_ONE = 1.0  # the weight of every sample when there are no weights
Array = NDArray[Any]
# a weight per element (or per sample), or one for all
Weight = Array | float


# --- Binary cross-entropy, on probabilities and on logits ----------------


def _bce_args(
    probs: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    reduction: Reduction,
) -> tuple[
    Float64Array, Float64Array, Float64Array | float, np.dtype[Any]
]:
    check_reduction(reduction)
    p, p_dtype = as_float("probs", probs)
    y, _ = as_float("target", target)
    check_same_shape("probs", p, "target", y)
    check_interval("probs", p, 0.0, 1.0, "probabilities")
    check_interval("target", y, 0.0, 1.0, "probabilities")
    w = 1.0 if weight is None else check_weight("weight", weight, p.shape)
    return p, y, w, p_dtype


def _bce_logits_args(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    pos_weight: ArrayLike | None,
    reduction: Reduction,
) -> tuple[
    Float64Array,
    Float64Array,
    Float64Array | float,
    Float64Array | float,
    np.dtype[Any],
]:
    check_reduction(reduction)
    z, z_dtype = as_float("logits", logits)
    y, _ = as_float("target", target)
    check_same_shape("logits", z, "target", y)
    check_interval("target", y, 0.0, 1.0, "probabilities")
    w = 1.0 if weight is None else check_weight("weight", weight, z.shape)
    pw = (
        1.0
        if pos_weight is None
        else check_weight("pos_weight", pos_weight, z.shape)
    )
    return z, y, w, pw, z_dtype


def _bce_inputs(
    probs: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    reduction: Reduction,
) -> Inputs:
    """The arguments of bce for the kernels: probs and target in [0, 1] are
    checked in cache."""
    check_reduction(reduction)

    def check() -> object:
        return _bce_args(probs, target, weight, reduction)

    return inputs(
        check,
        probs,
        target,
        [("weight", weight)],
        {0: PROBABILITIES, 1: PROBABILITIES},
    )


def _bce_logits_inputs(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    pos_weight: ArrayLike | None,
    reduction: Reduction,
) -> Inputs:
    """The arguments of bce_with_logits for the kernels: the target in
    [0, 1] is checked in cache, and a NaN or an infinity among the logits
    makes the sum non-finite."""
    check_reduction(reduction)

    def check() -> object:
        return _bce_logits_args(
            logits, target, weight, pos_weight, reduction
        )

    weights = [("weight", weight), ("pos_weight", pos_weight)]
    return inputs(
        check, logits, target, weights, {1: PROBABILITIES}, finite=(0,)
    )


def _ratio(numerator: Array, denominator: Array) -> Array:
    """numerator / denominator, taken as 0 where the numerator is 0 (the
    limit used by xlogy); run by the kernels, whose warnings are
    silenced."""
    return np.where(numerator == 0, 0.0, numerator / denominator)


def _bce_terms(
    p: Array,
    y: Array,
    w: Weight,
    *,
    loss: bool = True,
    scale: float | None = 1.0,
) -> Terms:
    """Binary cross-entropy of the probabilities p against the labels y,
    weighted by w, and its slope dl/dp times ``scale``."""
    losses = slopes = None
    if loss:
        # 0 * log(0) = 0: a term whose coefficient is zero contributes
        # nothing.
        log_likelihood = np.where(y == 0, 0.0, y * np.log(p)) + np.where(
            y == 1, 0.0, (1 - y) * np.log1p(-p)
        )
        # 0 - x, not -x: no -0.0 for a perfect prediction
        losses = w * (0.0 - log_likelihood)
    if scale is not None:
        slopes = scale * (w * (_ratio(1 - y, 1 - p) - _ratio(y, p)))
    return losses, slopes


def bce(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Binary cross-entropy on probabilities: the textbook formula.

    Formula, with p = probs, y = target and 0 log 0 = 0::

        l = -w [y log(p) + (1 - y) log(1 - p)]

    Gradient: dl/dp = w [(1 - y) / (1 - p) - y / p].
    Negative log-likelihood of a Bernoulli(p) observation y.

    A confident mistake (p = 0 with y = 1) costs log(0) = inf: that is the
    true value, returned as it is
    (``torch.nn.functional.binary_cross_entropy`` clamps each log at -100
    instead). Work with logits and :func:`bce_with_logits` to stay finite.

    Parameters
    ----------
    probs : array_like, any shape
        Predicted probabilities in [0, 1].
    target : array_like, same shape as ``probs``
        Labels in {0, 1}, or soft labels in [0, 1].
    weight : array_like, optional
        Non-negative per-element weights, broadcastable to the shape of
        ``probs``.
    reduction : {"mean", "sum", "none"}
        "mean" averages over all elements (weights do not enter the
        denominator).

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Reference: Bishop (2006), section 4.3.2.
    """
    args = _bce_inputs(probs, target, weight, reduction)
    return value(_bce_terms, args, reduction)


def bce_grad(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`bce` with respect to ``probs``:
    w [(1-y)/(1-p) - y/p], / n for "mean"."""
    args = _bce_inputs(probs, target, weight, reduction)
    scale = mean_scale(reduction, math.prod(args.shape))
    return grad(_bce_terms, args, scale)


def _bce_value_and_grad(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    args = _bce_inputs(probs, target, weight, reduction)
    scale = mean_scale(reduction, math.prod(args.shape))
    return value_and_grad(_bce_terms, args, reduction, scale)


def _bce_logits_terms(
    z: Array,
    y: Array,
    w: Weight,
    a: Weight,
    *,
    loss: bool = True,
    scale: float | None = 1.0,
) -> Terms:
    """Binary cross-entropy of the logits z against the labels y (weight
    w, positive weight a), and its slope dl/dz times ``scale``."""
    e = np.exp(-np.abs(z))  # <= 1: never overflows
    # [z >= 0] (0 at -0.0, as copysign below): max(z, 0) is [z >= 0] z
    step = ~np.signbit(z)
    # c = 1 + (a - 1) y weighs the softplus terms (1 without pos_weight)
    one = _is_one(a)
    c = 1.0 if one else 1.0 + (a - 1.0) * y
    gap = step - y if one else c * step - a * y
    losses = slopes = None
    if loss:
        # c softplus(z) - a y z, as gap z + c log1p(e): gap has the sign
        # of z, so both terms are >= 0 and adding them loses nothing.
        tail = np.log1p(e)
        losses = gap * z
        losses += tail if one else c * tail
        if not _is_one(w):
            losses *= w
    if scale is not None:
        # c sigmoid(z) - a y, with sigmoid(z) = [z >= 0] -+ e / (1 + e):
        # e / (1 + e) keeps its digits where sigmoid(z) rounds to 1.
        below = np.copysign(e / (1.0 + e), z)
        slopes = gap - (below if one else c * below)
        if not _is_one(w):
            slopes *= w
        if scale != 1.0:
            slopes *= scale
    return losses, slopes


def _is_one(weight: Weight) -> bool:
    """Whether a weight is the scalar 1 that stands for no weight."""
    return not isinstance(weight, np.ndarray) and weight == 1.0


def bce_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    pos_weight: ArrayLike | None = None,
) -> LossValue:
    """Binary cross-entropy on logits, finite for every finite logit;
    ``binary_cross_entropy_with_logits`` is the same function, under
    torch's name.

    Formula, with z = logits, y = target, p = sigmoid(z), w = weight,
    a = pos_weight::

        l = -w [a y log(p) + (1 - y) log(1 - p)]
          = w [a y softplus(-z) + (1 - y) softplus(z)]

    using log(sigmoid(z)) = -softplus(-z) and
    log(1 - sigmoid(z)) = -softplus(z). Both terms are non-negative, so the
    sum loses no accuracy, and softplus never overflows.

    Gradient: dl/dz = w [(1 - y) sigmoid(z) - a y sigmoid(-z)]; with a = 1
    it is w (sigmoid(z) - y).

    Parameters
    ----------
    logits : array_like, any shape
        Finite real scores; the predicted probability is sigmoid(logits).
    target : array_like, same shape as ``logits``
        Labels in {0, 1}, or soft labels in [0, 1].
    weight : array_like, optional
        Non-negative per-element weights, broadcastable to the shape of
        ``logits``.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    pos_weight : array_like, optional
        Non-negative weight of the positive term, broadcastable to the
        shape of ``logits`` (shape (C,) for C independent labels): about
        (number of negatives) / (number of positives) to balance a rare
        positive class.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Reference: Goodfellow, Bengio and Courville (2016), section 6.2.2.2.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    args = _bce_logits_inputs(
        logits, target, weight, pos_weight, reduction
    )
    return value(_bce_logits_terms, args, reduction)


def bce_with_logits_grad(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    pos_weight: ArrayLike | None = None,
) -> FloatArray:
    """Gradient of :func:`bce_with_logits` with respect to ``logits``.

    w [(1 - y) sigmoid(z) - a y sigmoid(-z)], divided by n for "mean";
    sigmoid(-z) is computed directly rather than as 1 - sigmoid(z), which
    would lose it to rounding for large z.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    args = _bce_logits_inputs(
        logits, target, weight, pos_weight, reduction
    )
    scale = mean_scale(reduction, math.prod(args.shape))
    return grad(_bce_logits_terms, args, scale)


def _bce_with_logits_value_and_grad(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    pos_weight: ArrayLike | None = None,
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    args = _bce_logits_inputs(
        logits, target, weight, pos_weight, reduction
    )
    scale = mean_scale(reduction, math.prod(args.shape))
    return value_and_grad(_bce_logits_terms, args, reduction, scale)


# --- Categorical cross-entropy on logits ---------------------------------


def _ce_targets(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    ignore_index: int,
    label_smoothing: float,
    reduction: Reduction,
    *,
    scan: bool = False,
) -> tuple[
    NDArray[Any], NDArray[Any], Float64Array | float, float, np.dtype[Any]
]:
    """Check the arguments; return the logits, the targets, their weights,
    the denominator of "mean" and the dtype of the result.

    The targets are coefficients a[i, c] with l_i = -sum_c a[i, c] log
    p[i, c]. Class indices y with class weights w and smoothing eps give
    a[i, c] = w_c ((1 - eps) [c == y_i] + eps / C), and 0 for an ignored
    sample; probability targets t give a[i, c] = w_c t'[i, c] with
    t' = (1 - eps) t + eps / C. Without smoothing, class indices stay
    indices (an ignored one replaced by 0), and the weights are each
    sample's w_{y_i} (0 if ignored): a one-hot a, kept sparse. Otherwise a
    is returned dense, with weights 1. The denominator of "mean" is
    PyTorch's: the summed weight of the targets that count for class
    indices, N for probability targets.

    The values of the logits are checked for NaN and infinity only with
    ``scan``: the losses check them in the pass that computes them, and run
    this with ``scan`` when that fails.
    """
    check_reduction(reduction)
    if not (0.0 <= label_smoothing <= 1.0):
        raise ValueError(
            f"label_smoothing must be in [0, 1]; got {label_smoothing!r}"
        )
    z = np.asarray(logits)
    if scan or z.dtype.kind not in "biuf":
        # raises for a NaN, an infinity or a dtype that is not real
        as_float("logits", logits)
    if z.ndim != 2:
        raise ValueError(
            f"logits must have shape (N, C); got shape {z.shape}"
        )
    n, n_classes = z.shape
    labels = np.asarray(target)
    plain = weight is None and label_smoothing == 0
    if plain and labels.dtype.kind in "iu" and labels.shape == (n,) and n:
        # The usual case, told from the smallest and the largest label:
        # every one a class, none ignored, all of weight 1.
        low, high = labels.min(), labels.max()
        if (
            0 <= low
            and high < n_classes
            and not low <= ignore_index <= high
        ):
            return z, labels, _ONE, float(n), result_dtype(z)
    w = (
        np.ones(n_classes)
        if weight is None
        else check_weight("weight", weight, (n_classes,))
    )
    if w.shape != (n_classes,):
        raise ValueError(
            f"weight must have shape (C,) = ({n_classes},); got {w.shape}"
        )

    if labels.dtype.kind in "iu":
        if labels.shape != (n,):
            raise ValueError(
                f"target of class indices must have shape (N,) = ({n},); "
                f"got {labels.shape}"
            )
        kept = labels != ignore_index
        in_range = labels.size == 0 or (
            labels.min() >= 0 and labels.max() < n_classes
        )
        wrong = (
            kept & ((labels < 0) | (labels >= n_classes))
            if not in_range
            else kept[:0]
        )
        if wrong.any():
            i = int(np.argmax(wrong))
            raise ValueError(
                f"target must hold class indices in [0, {n_classes - 1}] "
                f"(or ignore_index={ignore_index}); "
                f"got {labels[i]} at index {i}"
            )
        count = int(np.count_nonzero(kept))
        rows = (
            np.flatnonzero(kept)
            if count < n or weight is not None
            else None
        )
        # Without weights, the summed weight is a sum of ones: exactly the
        # count.
        denominator = (
            float(count) if rows is None else float(w[labels[rows]].sum())
        )
        if label_smoothing == 0:
            indices = labels if count == n else np.where(kept, labels, 0)
            weights = _ONE if weight is None else w[indices]
            if count < n:
                weights = np.where(kept, weights, 0.0)
            return z, indices, weights, denominator, result_dtype(z)
        rows = np.flatnonzero(kept)
        dense = np.zeros((n, n_classes))
        dense[rows, labels[rows]] = 1.0
        smoothing = kept[:, None] * (label_smoothing / n_classes)
    elif labels.dtype.kind == "f":
        t, _ = as_float("target", labels)
        if t.shape != z.shape:
            raise ValueError(
                "target of probabilities must have the shape of logits "
                f"{z.shape}; got {t.shape} "
                "(class indices must be an integer array of shape (N,))"
            )
        check_distributions("target", t)
        dense, denominator, smoothing = (
            t,
            float(n),
            np.full((n, 1), label_smoothing / n_classes),
        )
    else:
        raise ValueError(
            "target must be integer class indices of shape (N,) or float "
            "probabilities of shape (N, C); "
            f"got dtype {labels.dtype}"
        )
    coefficients = w * ((1.0 - label_smoothing) * dense + smoothing)
    return z, coefficients, 1.0, denominator, result_dtype(z)


def _ce_inputs(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    ignore_index: int,
    label_smoothing: float,
    reduction: Reduction,
) -> tuple[Inputs, float]:
    """The arguments for the kernels (rows of logits, targets, weights)
    and the denominator of "mean"; the full checks run if the logits turn
    out not to be finite."""

    def check() -> object:
        options = (weight, ignore_index, label_smoothing, reduction)
        return _ce_targets(logits, target, *options, scan=True)

    try:
        z, a, w, denominator, out_dtype = _ce_targets(
            logits,
            target,
            weight,
            ignore_index,
            label_smoothing,
            reduction,
        )
    except ValueError:
        # a NaN or an infinity among the logits is the first error to
        # report
        check()
        raise
    indices = a.ndim == 1
    floats = [x for x in (z, w) if isinstance(x, np.ndarray)]
    compute = compute_dtype(out_dtype, floats if indices else [*floats, a])
    args = Inputs(
        [z, a, w],
        z.shape,
        "C",
        out_dtype,
        compute,
        {},
        (0,),
        check,
        indices=(1,) if indices else (),
        loss_shows_nan=False,
    )
    return args, denominator


def _ce_scale(reduction: Reduction, denominator: float) -> float:
    if reduction == "mean" and denominator == 0:
        raise ValueError(
            "reduction='mean' is undefined here: every target is "
            "ignore_index or has weight 0, "
            "so the weighted mean divides 0 by 0"
        )
    return 1.0 / denominator if reduction == "mean" else 1.0


def _cross_entropy_terms(
    z: Array,
    a: Array,
    w: Weight,
    *,
    loss: bool = True,
    scale: float | None = 1.0,
) -> Terms:
    """Per row i: the loss l_i = -sum_c a_ic log p_ic with
    p_i = softmax(z_i), and its slope (sum_c a_ic) p_i - a_i times
    ``scale``; class indices y stand for a_ic = w_i [c == y_i]."""
    if scale is None:
        m, log_sum = _shifted_logsumexp(z, axis=1)
    elif loss:  # both from one exponential of each logit
        m, log_sum, p = _logsumexp_and_softmax(z, axis=1)
    else:
        p = _softmax(z, axis=1)
    rows = np.arange(len(z))
    losses = slopes = None
    if loss:
        # -log p_ic = (m_i - z_ic) + log1p(sum_{j != argmax}
        # exp(z_ij - m_i)): two terms >= 0.
        if a.ndim == 1:  # class indices: the true class's term only
            true_class = z[rows, a][:, None]
            losses = w * ((m - true_class) + log_sum)[:, 0]
        else:
            losses = np.sum(a * ((m - z) + log_sum), axis=1)
    if scale is not None:
        if a.ndim == 1:  # sum_k a_ik = w_i, the only nonzero a_ik
            # (without weights, w = 1 and w p is p itself)
            slopes = p if w is _ONE else np.reshape(w, (-1, 1)) * p
            slopes[rows, a] -= w
        else:
            slopes = a.sum(axis=1, keepdims=True) * p - a
        slopes = scale * slopes
    return losses, slopes


def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
) -> LossValue:
    """Categorical cross-entropy of softmax(logits) against class indices
    or probabilities.

    Formula, with p_i = softmax(z_i) and target distribution t_i (one-hot
    for class indices)::

        l_i = -sum_c w_c t'_ic log p_ic,
        t' = (1 - eps) t + eps / C   (label smoothing eps)

    computed, with m_i = max_c z_ic, as::

        -log p_ic = (m_i - z_ic) + log1p(sum_{j != argmax} exp(z_ij - m_i))

    two non-negative terms, so neither overflow nor cancellation occurs.

    Gradient: dl_i/dz_ic = (sum_k a_ik) p_ic - a_ic with a_ik = w_k t'_ik;
    for one-hot targets without weights this is p_i - onehot(y_i).

    Parameters
    ----------
    logits : array_like, shape (N, C), (C,) or (N, C, d1, ..., dk)
        Finite scores for C classes, on axis 1 (axis 0 unbatched), as
        torch's: a (N, C, H, W) input is N H W samples of C classes.
    target : array_like
        Integer class indices of shape (N,) (a scalar unbatched,
        (N, d1, ..., dk) for k extra axes), or probabilities of the shape
        of ``logits`` whose slices along the class axis sum to 1.
    weight : array_like, optional, shape (C,)
        Non-negative weight of each class.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    ignore_index : int
        Class-index targets equal to it contribute nothing, neither to the
        sum nor the mean.
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution over the C classes.
    reduction : {"mean", "sum", "none"}
        "mean" for class indices is the weighted mean: the sum divided by
        the summed weight of the counted targets, sum_i w_{y_i}, as PyTorch
        does; for probability targets it divides by N. It raises when every
        target is ignored (PyTorch returns NaN).

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"`` ((N, d1, ..., dk) for extra axes, a scalar for
    unbatched input).

    See the chapter "Cross-entropy". Reference: Goodfellow, Bengio and
    Courville (2016), section 6.2.2.3.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    logits, target, shape = _as_rows("logits", logits, target)
    args, denominator = _ce_inputs(
        logits, target, weight, ignore_index, label_smoothing, reduction
    )
    if reduction == "none":
        losses, _ = evaluate(
            _cross_entropy_terms, args, loss="each", scale=None
        )
        return _restore_losses(losses, shape)
    total, _ = evaluate(_cross_entropy_terms, args, loss="sum", scale=None)
    return args.out_dtype.type(  # type: ignore[no-any-return]
        total * _ce_scale(reduction, denominator)
    )


def cross_entropy_grad(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
) -> FloatArray:
    """Gradient of :func:`cross_entropy` with respect to ``logits``, of
    its shape.

    (sum_k a_ik) softmax(z_i) - a_i for each row, divided by the "mean"
    denominator.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    logits, target, shape = _as_rows("logits", logits, target)
    args, denominator = _ce_inputs(
        logits, target, weight, ignore_index, label_smoothing, reduction
    )
    scale = _ce_grad_scale(args, reduction, denominator)
    return _restore_grad(grad(_cross_entropy_terms, args, scale), shape)


def _ce_grad_scale(
    args: Inputs, reduction: Reduction, denominator: float
) -> float:
    try:
        return _ce_scale(reduction, denominator)
    except ValueError:
        # a NaN or an infinity among the logits is the first error to
        # report
        args.check()
        raise


def _cross_entropy_value_and_grad(
    logits: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    logits, target, shape = _as_rows("logits", logits, target)
    args, denominator = _ce_inputs(
        logits, target, weight, ignore_index, label_smoothing, reduction
    )
    scale = _ce_grad_scale(args, reduction, denominator)
    mode: Literal["sum", "each"] = "each" if reduction == "none" else "sum"
    result, slopes = evaluate(
        _cross_entropy_terms, args, loss=mode, scale=scale
    )
    assert slopes is not None
    if reduction != "none":
        result = args.out_dtype.type(result * scale)
    else:
        result = _restore_losses(result, shape)
    return result, _restore_grad(slopes, shape)


binary_cross_entropy_with_logits = bce_with_logits
binary_cross_entropy_with_logits_grad = bce_with_logits_grad


# --- Class axis 1, extra axes, unbatched input (torch's shapes) ----------


def _as_rows(
    name: str, first: ArrayLike, target: ArrayLike
) -> tuple[Any, Any, tuple[int, ...] | None]:
    """The first argument and the target as rows of C classes: torch puts
    the classes on axis 1 of (N, C, d1, ..., dk) (axis 0 of an unbatched
    (C,)); return them as (M, C) rows and (M,) indices or (M, C)
    probabilities, and the shape of ``reduction="none"`` (None when the
    input is already (N, C), which passes through untouched)."""
    z = np.asarray(first)
    if z.ndim == 2:
        return first, target, None
    if z.ndim == 0:
        raise ValueError(
            f"{name} must have shape (C,), (N, C) or (N, C, d1, ...); "
            "got shape ()"
        )
    # a NaN or an infinity is named at its index in the caller's array
    as_float(name, z, finite=name == "logits")
    y = np.asarray(target)
    probabilities = y.dtype.kind == "f"
    if probabilities and y.shape != z.shape:
        raise ValueError(
            f"target of probabilities must have the shape of {name} "
            f"{z.shape}; got {y.shape} "
            "(class indices must be an integer array)"
        )
    if z.ndim == 1:
        if not probabilities and y.shape != ():
            raise ValueError(
                f"target of class indices for an unbatched {name} of "
                f"shape (C,) must be a scalar; got shape {y.shape}"
            )
        return (
            z[None, :],
            y.reshape(1, -1) if probabilities else (y.reshape(1)),
            (),
        )
    n, c, extra = z.shape[0], z.shape[1], z.shape[2:]
    if not probabilities and y.shape != (n, *extra):
        raise ValueError(
            "target of class indices must have shape (N, d1, ..., dk) = "
            f"{(n, *extra)} for {name} of shape {z.shape}; got {y.shape}"
        )
    rows = np.moveaxis(z, 1, -1).reshape(-1, c)
    if probabilities:
        return rows, np.moveaxis(y, 1, -1).reshape(-1, c), (n, *extra)
    return rows, y.reshape(-1), (n, *extra)


def _restore_losses(
    losses: Any, shape: tuple[int, ...] | None
) -> LossValue:
    """Per-row losses back to the caller's shape (N, d1, ..., dk)."""
    restored: LossValue = (
        losses if shape is None else np.reshape(losses, shape)
    )
    return restored


def _restore_grad(
    slopes: Any, shape: tuple[int, ...] | None
) -> FloatArray:
    """A gradient of (M, C) rows back to the first argument's shape."""
    if shape is None:
        return slopes  # type: ignore[no-any-return]
    if shape == ():
        return slopes[0]  # type: ignore[no-any-return]
    c = slopes.shape[1]
    rows = np.reshape(slopes, (*shape, c))
    return np.ascontiguousarray(np.moveaxis(rows, -1, 1))


# --- torch's binary_cross_entropy: logs clamped at -100 ------------------

_LOG_FLOOR = -100.0
_BCE_EPSILON = 1e-12


def _binary_cross_entropy_parts(
    probs: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    reduction: Reduction,
) -> tuple[LossValue, FloatArray]:
    p, y, w, out_dtype = _bce_args(probs, target, weight, reduction)
    with np.errstate(divide="ignore"):
        # torch clamps each log at -100 (before multiplying by its
        # coefficient), so that p = 0 with y = 1 costs 100, not inf.
        log_p = np.maximum(np.log(p), _LOG_FLOOR)
        log_not_p = np.maximum(np.log1p(-p), _LOG_FLOOR)
    losses = w * (0.0 - (y * log_p + (1 - y) * log_not_p))
    # torch's backward: w (p - y) / max(p (1 - p), 1e-12), which is
    # w [(1 - y) / (1 - p) - y / p] inside (0, 1) and finite at 0 and 1.
    slopes = w * (p - y) / np.maximum(p * (1 - p), _BCE_EPSILON)
    return finish_both(losses, slopes, reduction, float(p.size), out_dtype)


def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Binary cross-entropy on probabilities, as torch computes it: each
    log clamped at -100.

    Formula, with p = probs, y = target::

        l = -w [y max(log p, -100) + (1 - y) max(log(1 - p), -100)]

    Gradient (torch's backward): dl/dp = w (p - y) / max(p (1 - p),
    1e-12), equal to w [(1 - y) / (1 - p) - y / p] for p in (0, 1).

    Unlike :func:`bce`, the course's textbook version, a confident mistake
    (p = 0 with y = 1) costs 100 rather than inf, and its slope is
    -w 1e12 rather than -inf. Both are kept: the chapters show the true
    value with :func:`bce`; this one reproduces torch's numbers.

    Parameters
    ----------
    probs : array_like, any shape
        Predicted probabilities in [0, 1].
    target : array_like, same shape as ``probs``
        Labels in {0, 1}, or soft labels in [0, 1].
    weight : array_like, optional
        Non-negative weights, broadcastable to the shape of ``probs``.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    See the chapter "Binary cross-entropy". Reference: Bishop (2006),
    section 4.3.2.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    value = _binary_cross_entropy_parts(probs, target, weight, reduction)
    return value[0]


def binary_cross_entropy_grad(
    probs: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`binary_cross_entropy` with respect to ``probs``:
    w (p - y) / max(p (1 - p), 1e-12), / n for "mean"."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _binary_cross_entropy_parts(probs, target, weight, reduction)
    return parts[1]


def _binary_cross_entropy_value_and_grad(
    probs: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _binary_cross_entropy_parts(probs, target, weight, reduction)
    return parts


# --- Negative log-likelihood of log-probabilities ------------------------


def _nll_parts(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    ignore_index: int,
    reduction: Reduction,
) -> tuple[LossValue, FloatArray]:
    check_reduction(reduction)
    labels_in = np.asarray(target)
    if labels_in.dtype.kind not in "iu":
        raise ValueError(
            "target must hold integer class indices; "
            f"got dtype {labels_in.dtype}"
        )
    rows_in, labels_any, shape = _as_rows("input", input, target)
    x, out_dtype = as_float("input", rows_in, finite=False)
    if x.ndim != 2:
        raise ValueError(
            f"input must have shape (C,), (N, C) or (N, C, d1, ...); "
            f"got shape {x.shape}"
        )
    n, c = x.shape
    labels = np.asarray(labels_any)
    if labels.shape != (n,):
        raise ValueError(
            f"target of class indices must have shape (N,) = ({n},); "
            f"got {labels.shape}"
        )
    w = (
        np.ones(c)
        if weight is None
        else check_weight("weight", weight, (c,))
    )
    if w.shape != (c,):
        raise ValueError(
            f"weight must have shape (C,) = ({c},); got {w.shape}"
        )
    kept = labels != ignore_index
    wrong = kept & ((labels < 0) | (labels >= c))
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ValueError(
            f"target must hold class indices in [0, {c - 1}] "
            f"(or ignore_index={ignore_index}); got {labels[i]} at "
            f"index {i}"
        )
    rows = np.arange(n)
    index = np.where(kept, labels, 0)
    w_y = np.where(kept, w[index], 0.0)
    picked = x[rows, index]
    with np.errstate(invalid="ignore"):
        # an ignored sample (weight 0) adds 0, even against -inf
        losses = np.where(w_y == 0, 0.0, 0.0 - w_y * picked)
    slopes = np.zeros_like(x)
    slopes[rows, index] = -w_y
    value, grad = finish_both(
        losses, slopes, reduction, float(w_y.sum()), out_dtype
    )
    if reduction == "none":
        value = _restore_losses(value, shape)
    return value, _restore_grad(grad, shape)


def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Negative log-likelihood of class indices under log-probabilities
    (torch's ``nll_loss``): cross-entropy is ``nll_loss(log_softmax(z),
    y)``.

    Formula, with x = input (log-probabilities), class weights w::

        l_i = -w_{y_i} x[i, y_i],   0 if y_i == ignore_index
        "mean": sum_i l_i / sum_{i counted} w_{y_i}

    Gradient: dl_i/dx[i, c] = -w_{y_i} [c == y_i]: the loss is linear in
    its input.

    Parameters
    ----------
    input : array_like, shape (N, C), (C,) or (N, C, d1, ..., dk)
        Log-probabilities, classes on axis 1 (axis 0 unbatched). Not
        checked to be <= 0, as in torch; -inf is allowed.
    target : array_like of int, shape (N,), () or (N, d1, ..., dk)
        Class indices in [0, C - 1], or ``ignore_index``.
    weight : array_like, optional, shape (C,)
        Non-negative weight of each class.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    ignore_index : int
        Targets equal to it add nothing to the sum nor to the mean's
        denominator.
    reduction : {"mean", "sum", "none"}
        "mean" is the weighted mean (torch's); it raises where every
        target is ignored (torch returns NaN).

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) ((N, d1, ...,
    dk); a scalar unbatched) for ``reduction="none"``.

    See the chapter "Cross-entropy". Reference: Murphy (2022), section
    4.2.2.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _nll_parts(input, target, weight, ignore_index, reduction)
    return parts[0]


def nll_loss_grad(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`nll_loss` with respect to ``input``:
    -w_{y_i} at each target entry, 0 elsewhere, / sum w for "mean"."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _nll_parts(input, target, weight, ignore_index, reduction)
    return parts[1]


def _nll_loss_value_and_grad(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _nll_parts(input, target, weight, ignore_index, reduction)
    return parts
