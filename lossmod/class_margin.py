"""Margin losses on the scores of C classes: torch's multi-class margin
(Weston and Watkins), multi-label margin and multi-label soft-margin
losses, each beside its gradient.

Inputs are (N, C) rows of class scores, or one unbatched (C,) row.
Signatures, defaults and corner cases are torch's (see the README's
"torch's corner cases").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    Float64Array,
    FloatArray,
    LossValue,
    Reduction,
    as_float,
    check_interval,
    check_reduction,
    check_same_shape,
    check_weight,
    finish_both,
    first_index,
    legacy_reduction,
)
from lossmod.primitives import _sigmoid, _softplus

__all__ = [
    "multi_margin_loss",
    "multi_margin_loss_grad",
    "multilabel_margin_loss",
    "multilabel_margin_loss_grad",
    "multilabel_soft_margin_loss",
    "multilabel_soft_margin_loss_grad",
]

Parts = tuple[LossValue, FloatArray]


def _rows(
    name: str, first: ArrayLike
) -> tuple[Float64Array, np.dtype[Any], bool]:
    """A (C,) or (N, C) input as (N, C) rows, and whether it was
    unbatched."""
    x, out_dtype = as_float(name, first)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must have shape (C,) or (N, C) with C >= 1; "
            f"got shape {x.shape}"
        )
    return x.reshape(-1, x.shape[-1]), out_dtype, x.ndim == 1


def _unbatch(parts: Parts, unbatched: bool, reduction: Reduction) -> Parts:
    """Per-row results back to an unbatched caller's shapes."""
    value, grad = parts
    if not unbatched:
        return parts
    if reduction == "none":
        value = value[0]  # type: ignore[index]
    return value, grad[0]


# --- multilabel_soft_margin_loss -----------------------------------------


def _multilabel_soft_margin_parts(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    y, _ = as_float("target", target)
    check_same_shape("input", np.asarray(input), "target", y)
    x, out_dtype, unbatched = _rows("input", input)
    y = y.reshape(x.shape)
    check_interval("target", y, 0.0, 1.0, "labels")
    c = x.shape[1]
    w = 1.0 if weight is None else check_weight("weight", weight, (c,))
    # binary cross-entropy on logits, y softplus(-x) + (1 - y) softplus(x),
    # averaged over the C labels of each sample
    each = y * _softplus(-x) + (1 - y) * _softplus(x)
    losses = np.sum(w * each, axis=1) / c
    slopes = w * ((1 - y) * _sigmoid(x) - y * _sigmoid(-x)) / c
    parts = finish_both(
        losses, slopes, reduction, float(len(x)), out_dtype
    )
    return _unbatch(parts, unbatched, reduction)


def multilabel_soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Multi-label soft-margin loss (torch's
    ``multilabel_soft_margin_loss``): binary cross-entropy on logits for
    each of C labels, averaged over the labels of a sample.

    Formula, per sample i, with class weights w::

        l_i = (1 / C) sum_c w_c [y_ic softplus(-x_ic)
                                 + (1 - y_ic) softplus(x_ic)]

    Gradient: w_c (sigmoid(x_ic) - y_ic) / C.

    Parameters
    ----------
    input : array_like, shape (N, C) or (C,)
        Scores (logits) of C labels.
    target : array_like, same shape
        Labels in {0, 1} (or in [0, 1]).
    weight : array_like, optional, shape (C,)
        Non-negative weight of each label.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
        Over the N samples: "none" returns shape (N,).

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Reference only (no chapter yet), see chapters/torch-names.md.
    Reference: Zhang and Zhou (2014), "A review on multi-label learning
    algorithms".
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _multilabel_soft_margin_parts(input, target, weight, reduction)
    return parts[0]


def multilabel_soft_margin_loss_grad(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`multilabel_soft_margin_loss` w.r.t. ``input``:
    w (sigmoid(x) - y) / C, / N for "mean"."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _multilabel_soft_margin_parts(input, target, weight, reduction)
    return parts[1]


def _multilabel_soft_margin_loss_value_and_grad(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _multilabel_soft_margin_parts(input, target, weight, reduction)
    return parts


# --- multi_margin_loss ---------------------------------------------------


def _class_indices(
    target: ArrayLike, n: int, c: int, unbatched: bool
) -> NDArray[np.intp]:
    y = np.asarray(target)
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"target must hold integer class indices; got dtype {y.dtype}"
        )
    expected = () if unbatched else (n,)
    if y.shape != expected:
        raise ValueError(
            f"target must have shape {expected}; got {y.shape}"
        )
    y = y.reshape(n)
    wrong = (y < 0) | (y >= c)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ValueError(
            f"target must hold class indices in [0, {c - 1}]; got {y[i]} "
            f"at index {i}"
        )
    return y.astype(np.intp)


def _multi_margin_parts(
    input: ArrayLike,
    target: ArrayLike,
    p: int,
    margin: float,
    weight: ArrayLike | None,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2; got {p!r}")
    x, out_dtype, unbatched = _rows("input", input)
    n, c = x.shape
    y = _class_indices(target, n, c, unbatched)
    w = (
        np.ones(c)
        if weight is None
        else check_weight("weight", weight, (c,))
    )
    if w.shape != (c,):
        raise ValueError(
            f"weight must have shape (C,) = ({c},); got {w.shape}"
        )
    rows = np.arange(n)
    # h_ij = margin - x_iy + x_ij, for every class j but the true one
    h = margin - x[rows, y][:, None] + x
    others = np.ones_like(x, dtype=bool)
    others[rows, y] = False
    active = others & (h > 0)
    positive = np.where(active, h, 0.0)
    w_y = w[y][:, None]
    losses = np.sum(w_y * positive**p, axis=1) / c
    # slope of w_y max(0, h)^p / C in x_ij is w_y p max(0, h)^(p-1) / C;
    # x_iy enters every h_ij with the opposite sign
    slopes = w_y * (p * positive if p == 2 else active * 1.0) / c
    slopes[rows, y] = -np.sum(slopes, axis=1)
    parts = finish_both(losses, slopes, reduction, float(n), out_dtype)
    return _unbatch(parts, unbatched, reduction)


def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Multi-class margin loss (torch's ``multi_margin_loss``; Weston and
    Watkins' multi-class hinge): the true class's score should beat every
    other by ``margin``.

    Formula, per sample i with class y = y_i and class weights w::

        l_i = (w_y / C) sum_{j != y} max(0, margin - x_iy + x_ij)^p

    Gradient: for j != y, (w_y / C) p max(0, h_ij)^(p - 1) (the indicator
    [h_ij > 0] for p = 1); for the true class, minus their sum.

    Parameters
    ----------
    input : array_like, shape (N, C) or (C,)
        Class scores.
    target : array_like of int, shape (N,) or ()
        Class indices in [0, C - 1].
    p : {1, 2}
        The hinge (1) or the squared hinge (2).
    margin : float
    weight : array_like, optional, shape (C,)
        Non-negative weight of each class, applied by the true class.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
        Over the N samples.

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Explained in chapters/margins.ipynb; see also chapters/torch-names.md.
    Reference: Weston and Watkins (1999), "Support vector machines for
    multi-class pattern recognition".
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _multi_margin_parts(
        input, target, p, margin, weight, reduction
    )
    return parts[0]


def multi_margin_loss_grad(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`multi_margin_loss` with respect to ``input``,
    shape of ``input``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _multi_margin_parts(
        input, target, p, margin, weight, reduction
    )
    return parts[1]


def _multi_margin_loss_value_and_grad(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    parts = _multi_margin_parts(
        input, target, p, margin, weight, reduction
    )
    return parts


# --- multilabel_margin_loss ----------------------------------------------


def _label_lists(
    target: ArrayLike, shape: tuple[int, int], unbatched: bool
) -> tuple[Float64Array, Float64Array]:
    """The -1-terminated lists of target classes as counts (how often each
    class is listed before the first -1) and a 0/1 mask of the listed
    classes."""
    y = np.asarray(target)
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"target must hold integer class indices; got dtype {y.dtype}"
        )
    n, c = shape
    expected = (c,) if unbatched else (n, c)
    if y.shape != expected:
        raise ValueError(
            f"target has shape {y.shape} but input has shape {expected}: "
            "they must be equal"
        )
    y = y.reshape(n, c)
    # torch reads each row up to its first -1; what follows is ignored
    listed = np.cumprod(y != -1, axis=1).astype(bool)
    wrong = listed & ((y < -1) | (y >= c))
    wrong |= (y < -1) & ~listed
    if wrong.any():
        index = first_index(wrong)
        raise ValueError(
            f"target must hold class indices in [0, {c - 1}], each list "
            f"ended by -1; got {y[index]} at index {index}"
        )
    counts = np.zeros((n, c))
    rows, cols = np.nonzero(listed)
    np.add.at(counts, (rows, y[rows, cols]), 1.0)
    return counts, (counts > 0).astype(np.float64)


def _multilabel_margin_parts(
    input: ArrayLike, target: ArrayLike, reduction: Reduction
) -> Parts:
    check_reduction(reduction)
    x, out_dtype, unbatched = _rows("input", input)
    n, c = x.shape
    counts, is_target = _label_lists(target, (n, c), unbatched)
    # h[i, j, k] = 1 - (x_ij - x_ik), for listed j (as often as listed)
    # and every k not a target
    h = 1.0 - x[:, :, None] + x[:, None, :]
    pairs = counts[:, :, None] * (1.0 - is_target)[:, None, :]
    active = pairs * (h > 0)
    losses = np.sum(active * h, axis=(1, 2)) / c
    slopes = (np.sum(active, axis=1) - np.sum(active, axis=2)) / c
    parts = finish_both(losses, slopes, reduction, float(n), out_dtype)
    return _unbatch(parts, unbatched, reduction)


def multilabel_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> LossValue:
    """Multi-label margin loss (torch's ``multilabel_margin_loss``): every
    target class should outscore every other class by 1.

    Formula, per sample i, with T_i its target classes::

        l_i = (1 / C) sum_{j in T_i} sum_{k not in T_i}
              max(0, 1 - (x_ij - x_ik))

    T_i is read from ``target[i]`` up to its first -1 (the rest of the row
    is ignored); a class listed twice counts twice, as in torch.
    Gradient: each active pair (j, k) adds -1/C to x_ij and +1/C to x_ik.

    Parameters
    ----------
    input : array_like, shape (N, C) or (C,)
        Class scores.
    target : array_like of int, same shape as ``input``
        Target class indices, padded with -1 after the last.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
        Over the N samples.

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Explained in chapters/margins.ipynb; see also chapters/torch-names.md.
    Reference: Zhang and Zhou (2006), "Multilabel neural networks with
    applications to functional genomics and text categorization".
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _multilabel_margin_parts(input, target, reduction)[0]


def multilabel_margin_loss_grad(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`multilabel_margin_loss` w.r.t. ``input``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _multilabel_margin_parts(input, target, reduction)[1]


def _multilabel_margin_loss_value_and_grad(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _multilabel_margin_parts(input, target, reduction)
