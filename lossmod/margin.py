"""Margin losses on single scores: torch's hinge-embedding, soft-margin
and margin-ranking losses, each beside its gradient (the losses on the
scores of C classes are in lossmod/class_margin.py).

A margin loss asks a score to clear a threshold and costs nothing beyond
it, so its minimisers are not probabilities. Signatures, defaults and
corner cases are torch's (see the README's "torch's corner cases").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lossmod._checks import (
    Float64Array,
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    finish_both,
    legacy_reduction,
)
from lossmod._parts import Parts, check_signs, grad_of, value_of
from lossmod.primitives import _sigmoid, _softplus

__all__ = [
    "hinge_embedding_loss",
    "hinge_embedding_loss_grad",
    "margin_ranking_loss",
    "margin_ranking_loss_grad",
    "soft_margin_loss",
    "soft_margin_loss_grad",
]


def _signs(name: str, target: ArrayLike) -> Float64Array:
    """``target`` as float64, every entry -1 or 1."""
    y, _ = as_float(name, target)
    check_signs(name, y)
    return y


def _pair(
    first: ArrayLike, target: ArrayLike, reduction: Reduction
) -> tuple[Float64Array, Float64Array, np.dtype[Any]]:
    """An elementwise loss's checked input and +-1 target."""
    check_reduction(reduction)
    x, out_dtype = as_float("input", first)
    y = _signs("target", target)
    check_same_shape("input", x, "target", y)
    return x, y, out_dtype


# --- hinge_embedding_loss ------------------------------------------------


def _hinge_embedding_parts(
    input: ArrayLike,
    target: ArrayLike,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> Parts:
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y, out_dtype = _pair(input, target, reduction)
    short = margin - x
    losses = np.where(y == 1, x, np.maximum(short, 0.0))
    slopes = np.where(y == 1, 1.0, -(short > 0).astype(np.float64))
    return finish_both(losses, slopes, reduction, float(x.size), out_dtype)


@value_of(_hinge_embedding_parts)
def hinge_embedding_loss() -> None:
    """Hinge embedding loss (torch's ``hinge_embedding_loss``): a distance
    that should be small for similar pairs (y = 1) and at least
    ``margin`` for dissimilar ones (y = -1).

    Formula, with x = input (usually a distance >= 0)::

        l = x                   if y = 1
        l = max(0, margin - x)  if y = -1

    Gradient: 1 for y = 1; -1 for y = -1 where x < margin, else 0.

    Parameters
    ----------
    input : array_like, any shape
        Distances (any real accepted, as torch does).
    target : array_like, same shape
        -1 or 1.
    margin : float
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Explained in chapters/margins.ipynb; see also chapters/torch-names.md.
    Reference: Hadsell, Chopra and LeCun (2006), "Dimensionality reduction
    by learning an invariant mapping".
    """


@grad_of(_hinge_embedding_parts)
def hinge_embedding_loss_grad() -> None:
    """Gradient of :func:`hinge_embedding_loss` w.r.t. ``input``: 1 for
    y = 1, -[x < margin] for y = -1, / n for "mean"."""


_hinge_embedding_loss_value_and_grad = _hinge_embedding_parts


# --- soft_margin_loss ----------------------------------------------------


def _soft_margin_parts(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> Parts:
    reduction = legacy_reduction(size_average, reduce, reduction)
    x, y, out_dtype = _pair(input, target, reduction)
    z = -y * x
    # log(1 + exp(-y x)) = softplus(-y x), never overflowing; its slope
    # in x is -y sigmoid(-y x), sigmoid from exp(-|z|) <= 1.
    losses = _softplus(z)
    slopes = -y * _sigmoid(z)
    return finish_both(losses, slopes, reduction, float(x.size), out_dtype)


@value_of(_soft_margin_parts)
def soft_margin_loss() -> None:
    """Soft-margin loss (torch's ``soft_margin_loss``): the logistic loss
    of +-1 labels, a smooth hinge.

    Formula, with x = input (a score) and y in {-1, 1}::

        l = log(1 + exp(-y x)) = softplus(-y x)

    computed as max(z, 0) + log1p(exp(-|z|)) with z = -y x, finite for
    every finite score. Gradient: -y sigmoid(-y x).

    Parameters
    ----------
    input : array_like, any shape
        Scores (logits).
    target : array_like, same shape
        -1 or 1.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Explained in chapters/margins.ipynb; see also chapters/torch-names.md.
    Reference: Hastie, Tibshirani and Friedman (2009), section 12.3.2.
    """


@grad_of(_soft_margin_parts)
def soft_margin_loss_grad() -> None:
    """Gradient of :func:`soft_margin_loss` w.r.t. ``input``:
    -y sigmoid(-y x), / n for "mean"."""


_soft_margin_loss_value_and_grad = _soft_margin_parts


# --- margin_ranking_loss -------------------------------------------------


def _margin_ranking_parts(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> Parts:
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    x1, out_dtype = as_float("input1", input1)
    x2, _ = as_float("input2", input2)
    y = _signs("target", target)
    check_same_shape("input1", x1, "input2", x2)
    check_same_shape("input1", x1, "target", y)
    h = margin - y * (x1 - x2)
    losses = np.maximum(h, 0.0)
    slopes = -y * (h > 0)
    return finish_both(
        losses, slopes, reduction, float(x1.size), out_dtype
    )


@value_of(_margin_ranking_parts)
def margin_ranking_loss() -> None:
    """Margin ranking loss (torch's ``margin_ranking_loss``): x1 should
    rank above x2 by ``margin`` when y = 1, below when y = -1.

    Formula::

        l = max(0, margin - y (x1 - x2))

    Gradient with respect to x1: -y where margin - y (x1 - x2) > 0, else
    0 (and the opposite for x2).

    Parameters
    ----------
    input1, input2 : array_like, same shape
        Scores of the two items of each pair.
    target : array_like, same shape
        1 if input1 should rank higher, -1 if input2 should.
    margin : float
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Explained in chapters/contrastive.ipynb; see also
    chapters/torch-names.md.
    Reference: Herbrich, Graepel and Obermayer (2000), "Large margin rank
    boundaries for ordinal regression".
    """


@grad_of(_margin_ranking_parts)
def margin_ranking_loss_grad() -> None:
    """Gradient of :func:`margin_ranking_loss` with respect to ``input1``:
    -y [margin - y (x1 - x2) > 0], / n for "mean"."""


_margin_ranking_loss_value_and_grad = _margin_ranking_parts
