"""Calibration: the Brier score (a loss on logits, beside its gradient),
the expected calibration error and the reliability curve (metrics), and
temperature scaling.

A classifier is calibrated when, among the examples to which it gives
confidence 0.8, eight in ten are right. The Brier score is a strictly
proper scoring rule, like the cross-entropy: its expectation is smallest
at the true probabilities. The expected calibration error measures the
gap between confidence and accuracy directly, in bins; temperature scaling
divides the logits by one number T, fitted on held-out data, to close it.

Explained in the chapter "Calibration and proper scoring rules"
(chapters/calibration.ipynb).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
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
    check_reduction,
)
from lossmod._kernels import Inputs, Terms, evaluate
from lossmod.primitives import _softmax

__all__ = [
    "ReliabilityCurve",
    "brier_score",
    "brier_score_grad",
    "expected_calibration_error",
    "fit_temperature",
    "reliability_curve",
]

Array = NDArray[Any]
Strategy = Literal["uniform", "quantile"]
STRATEGIES = ("uniform", "quantile")


# --- Shared checks -------------------------------------------------------


def _check_rows(name: str, values: Float64Array) -> tuple[int, int]:
    """Raise unless ``values`` has shape (N, C), C >= 2; return N, C."""
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(
            f"{name} must have shape (N, C) with C >= 2 classes; "
            f"got shape {values.shape} (for a binary logit s, pass "
            "np.column_stack([0 * s, s]); for a probability p, "
            "np.column_stack([1 - p, p]))"
        )
    return values.shape[0], values.shape[1]


def _check_labels(labels: ArrayLike, n: int, n_classes: int) -> Array:
    """Raise unless ``labels`` holds n integer classes in [0, C - 1]."""
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be integer class indices; got dtype {y.dtype}"
        )
    if y.shape != (n,):
        raise ValueError(
            f"labels must have shape (N,) = ({n},); got {y.shape}"
        )
    wrong = (y < 0) | (y >= n_classes)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ValueError(
            f"labels must hold class indices in [0, {n_classes - 1}]; "
            f"got {y[i]} at index {i}"
        )
    return y


# --- The Brier score on logits -------------------------------------------


def _brier_args(
    logits: ArrayLike, target: ArrayLike, reduction: Reduction
) -> tuple[Inputs, int]:
    """Check the arguments of brier_score; return them for the kernels
    and N, the denominator of "mean"."""
    check_reduction(reduction)
    z, out_dtype = as_float("logits", logits)
    n, n_classes = _check_rows("logits", z)
    labels = np.asarray(target)
    if labels.dtype.kind in "iu":
        if labels.shape != (n,):
            raise ValueError(
                f"target of class indices must have shape (N,) = ({n},); "
                f"got {labels.shape}"
            )
        a: Array = _check_labels(labels, n, n_classes)
    elif labels.dtype.kind == "f":
        t, _ = as_float("target", labels)
        if t.shape != z.shape:
            raise ValueError(
                "target of probabilities must have the shape of logits "
                f"{z.shape}; got {t.shape} "
                "(class indices must be an integer array of shape (N,))"
            )
        check_distributions("target", t)
        a = t
    else:
        raise ValueError(
            "target must be integer class indices of shape (N,) or float "
            "probabilities of shape (N, C); "
            f"got dtype {labels.dtype}"
        )
    args = Inputs(
        [z, a],
        z.shape,
        "C",
        out_dtype,
        np.dtype(np.float64),
        {},
        (0,),
        lambda: None,  # everything is checked above
        indices=(1,) if a.ndim == 1 else (),
        loss_shows_nan=False,
    )
    return args, n


def _brier_terms(
    z: Array,
    a: Array,
    *,
    loss: bool = True,
    scale: float | None = 1.0,
) -> Terms:
    """Per row i: the Brier score sum_c (p_ic - t_ic)^2 with
    p_i = softmax(z_i), and its slope 2 p_ij (d_ij - <d_i, p_i>) times
    ``scale``, d = p - t; class indices y stand for
    t_ic = [c == y_i]."""
    rows = np.arange(len(z))
    p = _softmax(z, axis=1)
    top = np.argmax(z, axis=1)  # the one class whose p may be near 1
    if a.ndim == 1:
        t = np.zeros_like(p)
        t[rows, a] = 1.0
    else:
        t = a
    # 1 - p_m = sum of the other classes' p: no 1 - (1 - tiny) = 0
    others = p.copy()
    others[rows, top] = 0.0
    q_top = others.sum(axis=1)
    d = p - t
    # p_m - t_m = (1 - t_m) - (1 - p_m); 1 - t_m is exact for t_m >= 1/2
    d[rows, top] = (1.0 - t[rows, top]) - q_top
    losses = slopes = None
    if loss:
        losses = np.sum(d * d, axis=1)  # terms >= 0: no cancellation
    if scale is not None:
        # d_j - <d, p> for j != m, and d_m (1 - p_m) - sum_{c != m}
        # d_c p_c for m: the p_m d_m that would cancel is never formed.
        rest = np.sum(d * others, axis=1)
        d_top = d[rows, top]
        inner = d - (d_top * p[rows, top] + rest)[:, None]
        inner[rows, top] = d_top * q_top - rest
        slopes = scale * (2.0 * p * inner)
    return losses, slopes


def _brier_scale(reduction: Reduction, n: int) -> float:
    if reduction != "mean":
        return 1.0
    if n == 0:
        raise ValueError(
            "reduction='mean' over an empty input is undefined (0 / 0)"
        )
    return 1.0 / n


def brier_score(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> LossValue:
    """Brier score (quadratic score) of softmax(logits) against class
    indices or probabilities.

    Formula, with p_i = softmax(z_i) and target distribution t_i (one-hot
    for class indices)::

        l_i = sum_c (p_ic - t_ic)^2        in [0, 2]

    the squared Euclidean distance between the predicted and the target
    distribution (Brier, 1950). For the top class m of a row,
    p_m - t_m is computed as (1 - t_m) - sum_{c != m} p_c, so a confident
    prediction keeps its tiny loss instead of rounding it to a fraction of
    it. The score is strictly proper: its expectation over a label drawn
    from eta is sum_c (p_c - eta_c)^2 + (1 - sum_c eta_c^2), smallest at
    p = eta. It is not convex in the logits, and its slope vanishes for a
    confident mistake (p_y -> 0), unlike the cross-entropy's.

    Gradient: dl_i/dz_ij = 2 p_ij (d_ij - sum_c d_ic p_ic), d = p - t.

    Parameters
    ----------
    logits : array_like, shape (N, C), C >= 2
        Finite scores; the predicted distribution is softmax(logits).
    target : array_like
        Integer class indices of shape (N,), or probabilities of shape
        (N, C) whose rows sum to 1.
    reduction : {"mean", "sum", "none"}
        "mean" divides the sum by N, as scikit-learn's
        ``brier_score_loss(y, p, scale_by_half=False)`` does (its default
        halves the score for two classes).

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Why on logits: the network outputs logits, so the score trains with
    ``lossmod.train`` like the cross-entropy, and computing 1 - p from
    the logits keeps the loss of a confident prediction accurate.

    Chapter: chapters/calibration.ipynb. Reference: Brier (1950);
    Gneiting and Raftery (2007), section 3.
    """
    args, n = _brier_args(logits, target, reduction)
    if reduction == "none":
        losses, _ = evaluate(_brier_terms, args, loss="each", scale=None)
        return losses  # type: ignore[no-any-return]
    total, _ = evaluate(_brier_terms, args, loss="sum", scale=None)
    return args.out_dtype.type(  # type: ignore[no-any-return]
        total * _brier_scale(reduction, n)
    )


def brier_score_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`brier_score` with respect to ``logits``, shape
    (N, C).

    2 p_ij (d_ij - sum_c d_ic p_ic) with d = p - t, divided by N for
    "mean".
    """
    args, n = _brier_args(logits, target, reduction)
    _, slopes = evaluate(
        _brier_terms, args, loss=None, scale=_brier_scale(reduction, n)
    )
    assert slopes is not None
    return slopes


def _brier_score_value_and_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    args, n = _brier_args(logits, target, reduction)
    scale = _brier_scale(reduction, n)
    mode: Literal["sum", "each"] = "each" if reduction == "none" else "sum"
    result, slopes = evaluate(_brier_terms, args, loss=mode, scale=scale)
    assert slopes is not None
    if reduction != "none":
        result = args.out_dtype.type(result * scale)
    return result, slopes


# --- Reliability curve and expected calibration error --------------------


@dataclass(frozen=True)
class ReliabilityCurve:
    """Confidence against accuracy, bin by bin (a reliability diagram).

    Attributes
    ----------
    edges : ndarray, shape (n_bins + 1,)
        Bin b holds the confidences in (edges[b], edges[b + 1]]; the
        first bin also holds its left edge.
    confidence : ndarray, shape (n_bins,)
        Mean confidence of the examples in each bin (NaN if empty).
    accuracy : ndarray, shape (n_bins,)
        Fraction of them predicted right (NaN if empty).
    count : ndarray of int, shape (n_bins,)
        Number of examples in each bin.
    """

    edges: Float64Array
    confidence: Float64Array
    accuracy: Float64Array
    count: NDArray[np.intp]


def _check_binning(n_bins: int, strategy: str) -> None:
    if (
        isinstance(n_bins, bool)
        or not isinstance(n_bins, numbers.Integral)
        or n_bins < 1
    ):
        raise ValueError(f"n_bins must be an integer >= 1; got {n_bins!r}")
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be 'uniform' or 'quantile'; got {strategy!r}"
        )


def reliability_curve(
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    strategy: Strategy = "uniform",
) -> ReliabilityCurve:
    """Bin the examples by confidence; each bin's mean confidence and
    accuracy.

    The confidence of an example is its largest probability,
    max_c p_ic, and it is right when that class (the first, if tied) is
    its label. Bins as scikit-learn's ``calibration_curve``:
    "uniform" splits [0, 1] into n_bins equal widths; "quantile" puts
    the edges at the quantiles of the confidences (equal-mass bins,
    about N / n_bins examples each; tied confidences can leave bins
    empty). A bin b holds the confidences in (edges[b], edges[b + 1]].

    Parameters
    ----------
    probs : array_like, shape (N, C), C >= 2
        Predicted distributions (rows in [0, 1], summing to 1).
    labels : array_like of int, shape (N,)
        True classes in [0, C - 1].
    n_bins : int >= 1
    strategy : {"uniform", "quantile"}

    Returns
    -------
    ReliabilityCurve

    Chapter: chapters/calibration.ipynb. Reference: Naeini, Cooper and
    Hauskrecht (2015); Guo et al. (2017).
    """
    _check_binning(n_bins, strategy)
    p, _ = as_float("probs", probs)
    n, n_classes = _check_rows("probs", p)
    if n == 0:
        raise ValueError("probs must hold at least one example; got N = 0")
    check_distributions("probs", p)
    y = _check_labels(labels, n, n_classes)
    confidence = p.max(axis=1)
    correct = (np.argmax(p, axis=1) == y).astype(np.float64)
    if strategy == "quantile":
        edges = np.percentile(
            confidence, np.linspace(0, 1, n_bins + 1) * 100
        )
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence)
    count = np.bincount(bins, minlength=n_bins)
    filled = count > 0
    mean_confidence = np.full(n_bins, np.nan)
    accuracy = np.full(n_bins, np.nan)
    mean_confidence[filled] = (
        np.bincount(bins, confidence, n_bins)[filled] / count[filled]
    )
    accuracy[filled] = (
        np.bincount(bins, correct, n_bins)[filled] / count[filled]
    )
    return ReliabilityCurve(edges, mean_confidence, accuracy, count)


def expected_calibration_error(
    probs: ArrayLike,
    labels: ArrayLike,
    *,
    n_bins: int = 15,
    strategy: Strategy = "uniform",
) -> float:
    """Expected calibration error: the mean gap between confidence and
    accuracy, over bins of confidence.

    Formula, with the bins B_b of :func:`reliability_curve`::

        ECE = sum_b (|B_b| / N) |acc(B_b) - conf(B_b)|

    over the non-empty bins (0 for a calibrated model in the limit of
    many examples per bin). A metric, not a loss: it has no gradient, and
    its value depends on the binning. With few examples per bin it is
    biased upwards: each bin's accuracy is a noisy estimate, and the
    absolute value turns that noise into a positive gap.

    Parameters
    ----------
    probs : array_like, shape (N, C), C >= 2
        Predicted distributions (rows in [0, 1], summing to 1).
    labels : array_like of int, shape (N,)
        True classes in [0, C - 1].
    n_bins : int >= 1
        Number of bins (15 in Guo et al., 2017).
    strategy : {"uniform", "quantile"}
        Equal-width or equal-mass bins, named as in scikit-learn's
        ``calibration_curve``.

    Returns
    -------
    float in [0, 1].

    Chapter: chapters/calibration.ipynb. Reference: Naeini, Cooper and
    Hauskrecht (2015); Guo et al. (2017), section 2.
    """
    curve = reliability_curve(
        probs, labels, n_bins=n_bins, strategy=strategy
    )
    filled = curve.count > 0
    gaps = np.abs(curve.accuracy[filled] - curve.confidence[filled])
    weights = curve.count[filled] / curve.count.sum()
    return float(np.sum(weights * gaps))


# --- Temperature scaling -------------------------------------------------


def _nll_slope(
    z: Float64Array, y: Array, log_beta: float
) -> tuple[float, float]:
    """f'(b) and b f''(b) at b = exp(log_beta), for
    f(b) = mean_i [logsumexp(b z_i) - b z_iy]."""
    beta = math.exp(log_beta)
    p = _softmax(beta * z, axis=1)
    mean = np.sum(p * z, axis=1)
    spread = np.sum(p * (z - mean[:, None]) ** 2, axis=1)
    slope = float(np.mean(mean - z[np.arange(len(z)), y]))
    return slope, beta * float(np.mean(spread))


def fit_temperature(logits: ArrayLike, labels: ArrayLike) -> float:
    """Temperature scaling: the T > 0 that minimises the cross-entropy of
    softmax(logits / T) on held-out data.

    With b = 1/T, the mean negative log-likelihood is::

        f(b)   = mean_i [logsumexp(b z_i) - b z_iy]
        f'(b)  = mean_i [E_{softmax(b z_i)}[z_i] - z_iy]
        f''(b) = mean_i Var_{softmax(b z_i)}[z_i]  >= 0

    convex in b, so f' increases from f'(0) = mean_i (mean_c z_ic - z_iy)
    to f'(inf) = mean_i (max_c z_ic - z_iy). Its root, the minimiser, is
    found in s = log b (T stays positive, and the scale of the logits
    does not matter) by Newton's method on f'(e^s), whose derivative is
    e^s f''(e^s), kept inside a bracket where f' changes sign (a step
    that leaves it is replaced by bisection).

    Dividing the logits by T > 0 keeps every row's order, so the
    predicted classes (and the accuracy) do not change.

    Parameters
    ----------
    logits : array_like, shape (N, C), C >= 2
        Finite logits of held-out examples (a validation set, never the
        test set).
    labels : array_like of int, shape (N,)
        Their classes, in [0, C - 1].

    Returns
    -------
    float
        T; T > 1 softens an overconfident model, T < 1 sharpens an
        underconfident one.

    Raises
    ------
    ValueError
        If no finite T > 0 minimises the loss: every label has the largest
        logit of its row (the loss falls as T -> 0), or the labels' logits
        are on average no larger than their rows' means (it falls as
        T -> infinity).

    Chapter: chapters/calibration.ipynb. Reference: Guo et al. (2017),
    section 4.2.
    """
    z, _ = as_float("logits", logits)
    n, n_classes = _check_rows("logits", z)
    if n == 0:
        raise ValueError(
            "logits must hold at least one example; got N = 0"
        )
    y = _check_labels(labels, n, n_classes)
    true = z[np.arange(n), y]
    if not np.any(true < z.max(axis=1)):
        raise ValueError(
            "every label has the largest logit of its row: the "
            "cross-entropy keeps falling as T -> 0, so no temperature "
            "minimises it"
        )
    if np.mean(z.mean(axis=1) - true) >= 0:
        raise ValueError(
            "the labels' logits are on average no larger than the mean "
            "logit of their rows: the cross-entropy keeps falling as "
            "T -> infinity, so no finite temperature minimises it"
        )
    # A bracket [low, high] in s = log(1/T) with f' < 0 at low and > 0 at
    # high, grown by doubling steps from s = 0.
    slope, _ = _nll_slope(z, y, 0.0)
    if slope == 0.0:
        return 1.0
    step = 1.0
    low = high = 0.0
    if slope < 0:
        while slope < 0:
            low, high = high, high + step
            step *= 2
            slope, _ = _nll_slope(z, y, high)
    else:
        while slope > 0:
            high, low = low, low - step
            step *= 2
            slope, _ = _nll_slope(z, y, low)
    s = 0.5 * (low + high)
    for _ in range(200):
        slope, curvature = _nll_slope(z, y, s)
        if slope == 0.0:
            break
        if slope < 0:
            low = s
        else:
            high = s
        newton = s - slope / curvature if curvature > 0 else math.nan
        if not low < newton < high:
            newton = 0.5 * (low + high)
        if abs(newton - s) <= 4 * np.finfo(float).eps * max(1.0, abs(s)):
            s = newton
            break
        s = newton
    return math.exp(-s)
