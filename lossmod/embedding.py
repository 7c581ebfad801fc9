"""Embedding losses: torch's cosine-embedding and triplet losses, each
beside its gradient with respect to the first argument.

They compare vectors (rows of (N, D), or one (D,) vector) rather than a
prediction with a target, so they take two or three inputs. Signatures,
defaults and corner cases are torch's (see the README's "torch's corner
cases").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    Float64Array,
    LossValue,
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    finish_both,
    legacy_reduction,
)
from lossmod._parts import Parts, grad_of, value_of

__all__ = [
    "cosine_embedding_loss",
    "cosine_embedding_loss_grad",
    "triplet_margin_loss",
    "triplet_margin_loss_grad",
    "triplet_margin_with_distance_loss",
    "triplet_margin_with_distance_loss_grad",
]

Distance = Callable[[Any, Any], Any]
_COSINE_EPSILON = 1e-12


def _vectors(
    names: tuple[str, ...], arrays: tuple[ArrayLike, ...]
) -> tuple[list[Float64Array], np.dtype[Any], bool]:
    """The inputs as (N, D) rows of one shape; whether they were (D,)."""
    values = [
        as_float(name, a)[0] for name, a in zip(names, arrays, strict=True)
    ]
    out_dtype = as_float(names[0], arrays[0])[1]
    first = values[0]
    for name, other in zip(names[1:], values[1:], strict=True):
        check_same_shape(names[0], first, name, other)
    if first.ndim not in (1, 2):
        raise ValueError(
            f"{names[0]} must have shape (D,) or (N, D); "
            f"got shape {first.shape}"
        )
    rows = [v.reshape(-1, first.shape[-1]) for v in values]
    return rows, out_dtype, first.ndim == 1


def _signs(target: ArrayLike, n: int, unbatched: bool) -> Float64Array:
    y, _ = as_float("target", target)
    expected = () if unbatched else (n,)
    if y.shape != expected:
        raise ValueError(
            f"target must have shape {expected} (one sign per pair); "
            f"got {y.shape}"
        )
    y = y.reshape(n)
    wrong = (y != 1) & (y != -1)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise ValueError(
            f"target must hold -1 or 1; got {float(y[i])} at index {i}"
        )
    return y


def _unbatch(parts: Parts, unbatched: bool, reduction: Reduction) -> Parts:
    value, grad = parts
    if not unbatched:
        return parts
    if reduction == "none":
        value = value[0]  # type: ignore[index]
    return value, grad[0]


# --- cosine_embedding_loss -----------------------------------------------


def _cosine_parts(
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
    (x1, x2), out_dtype, unbatched = _vectors(
        ("input1", "input2"), (input1, input2)
    )
    y = _signs(target, len(x1), unbatched)
    # torch's cosine: eps = 1e-12 added to each squared norm
    dot = np.sum(x1 * x2, axis=1)
    a = np.sum(x1 * x1, axis=1) + _COSINE_EPSILON
    b = np.sum(x2 * x2, axis=1) + _COSINE_EPSILON
    root = np.sqrt(a * b)
    cos = dot / root
    push = (y == -1) & (cos - margin > 0)
    losses = np.where(y == 1, 1.0 - cos, np.where(push, cos - margin, 0.0))
    # d cos / d x1 = x2 / sqrt(a b) - cos x1 / a
    d_cos = x2 / root[:, None] - (cos / a)[:, None] * x1
    sign = np.where(y == 1, -1.0, push * 1.0)
    slopes = sign[:, None] * d_cos
    parts = finish_both(
        losses, slopes, reduction, float(len(x1)), out_dtype
    )
    return _unbatch(parts, unbatched, reduction)


@value_of(_cosine_parts)
def cosine_embedding_loss() -> None:
    """Cosine embedding loss (torch's ``cosine_embedding_loss``): pairs
    labelled similar (y = 1) should point the same way, dissimilar pairs
    (y = -1) should have a cosine of at most ``margin``.

    Formula, per pair of rows, with torch's cosine::

        cos = x1 . x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))
        l = 1 - cos               if y = 1
        l = max(0, cos - margin)  if y = -1

    Gradient with respect to x1:
    d cos / d x1 = x2 / sqrt(a b) - cos x1 / a, with a = |x1|^2 + 1e-12,
    b = |x2|^2 + 1e-12, times -1 (y = 1) or [cos > margin] (y = -1).

    Parameters
    ----------
    input1, input2 : array_like, shape (N, D) or (D,)
        The two embeddings of each pair.
    target : array_like, shape (N,) or ()
        1 or -1 per pair.
    margin : float
        In [-1, 1]; torch suggests 0 to 0.5.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
        Over the pairs.

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Explained in chapters/contrastive.ipynb; see also
    chapters/torch-names.md.
    Reference: Hadsell, Chopra and LeCun (2006), "Dimensionality reduction
    by learning an invariant mapping".
    """


@grad_of(_cosine_parts)
def cosine_embedding_loss_grad() -> None:
    """Gradient of :func:`cosine_embedding_loss` with respect to
    ``input1``, shape of ``input1``."""


_cosine_embedding_loss_value_and_grad = _cosine_parts


# --- Triplet losses ------------------------------------------------------


def _pairwise(
    x1: Float64Array, x2: Float64Array, p: float, eps: float
) -> tuple[Float64Array, Float64Array]:
    """torch's pairwise_distance ||x1 - x2 + eps||_p of each row pair,
    and its gradient in x1, sign(d) |d|^(p-1) / ||d||_p^(p-1)."""
    d = x1 - x2 + eps
    size = np.abs(d)
    norm = np.sum(size**p, axis=1) ** (1.0 / p)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(norm[:, None] > 0, size / norm[:, None], 0.0)
    return norm, np.sign(d) * ratio ** (p - 1.0)


def _default_distance(
    x1: Float64Array, x2: Float64Array
) -> tuple[Float64Array, Float64Array]:
    # torch's default: pairwise_distance(x1, x2) with p = 2, eps = 1e-6
    return _pairwise(x1, x2, 2.0, 1e-6)


def _triplet_parts(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    distance: Callable[
        [Float64Array, Float64Array], tuple[Float64Array, Float64Array]
    ],
    margin: float,
    swap: bool,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    (a, pos, neg), out_dtype, unbatched = _vectors(
        ("anchor", "positive", "negative"), (anchor, positive, negative)
    )
    d_pos, g_pos = distance(a, pos)
    d_neg, g_neg = distance(a, neg)
    if swap:
        # the positive's distance to the negative, where smaller (it does
        # not depend on the anchor)
        d_swap, _ = distance(pos, neg)
        swapped = d_swap < d_neg
        d_neg = np.where(swapped, d_swap, d_neg)
        g_neg = np.where(swapped[:, None], 0.0, g_neg)
    h = margin + d_pos - d_neg
    losses = np.maximum(h, 0.0)
    slopes = (h > 0)[:, None] * (g_pos - g_neg)
    parts = finish_both(
        losses, slopes, reduction, float(len(a)), out_dtype
    )
    return _unbatch(parts, unbatched, reduction)


def _p_norm(
    p: float, eps: float
) -> Callable[
    [Float64Array, Float64Array], tuple[Float64Array, Float64Array]
]:
    if not (np.isfinite(p) and p > 0):
        raise ValueError(f"p must be > 0 and finite; got {p!r}")
    return lambda x1, x2: _pairwise(x1, x2, p, eps)


def _triplet_margin_parts(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: Reduction = "mean",
) -> Parts:
    reduction = legacy_reduction(size_average, reduce, reduction)
    distance = _p_norm(p, eps)
    return _triplet_parts(
        anchor, positive, negative, distance, margin, swap, reduction
    )


@value_of(_triplet_margin_parts)
def triplet_margin_loss() -> None:
    """Triplet margin loss (torch's ``triplet_margin_loss``): the anchor
    should be closer to the positive than to the negative by ``margin``.

    Formula, per triplet of rows, with torch's pairwise distance::

        d(u, v) = ||u - v + eps||_p   (eps added to every coordinate)
        l = max(0, margin + d(a, pos) - d(a, neg))

    With ``swap=True`` d(a, neg) is replaced by d(pos, neg) where that is
    smaller (Balntas et al., 2016). Gradient in the anchor, where l > 0:
    g(a - pos + eps) - g(a - neg + eps) with g(v) = sign(v) |v|^(p-1) /
    ||v||_p^(p-1) (v / ||v||_2 for p = 2); the second term is 0 where the
    swap distance is used.

    Parameters
    ----------
    anchor, positive, negative : array_like, shape (N, D) or (D,)
    margin : float
    p : float
        The norm's degree, > 0.
    eps : float
        Added to each coordinate of the difference, as torch does.
    swap : bool
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "sum", "none"}
        Over the triplets.

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Explained in chapters/contrastive.ipynb; see also
    chapters/torch-names.md.
    Reference: Schroff, Kalenichenko and Philbin (2015), "FaceNet".
    """


@grad_of(_triplet_margin_parts)
def triplet_margin_loss_grad() -> None:
    """Gradient of :func:`triplet_margin_loss` with respect to
    ``anchor``, shape of ``anchor``."""


_triplet_margin_loss_value_and_grad = _triplet_margin_parts


def _custom_distance(
    distance_function: Distance | None, need_grad: bool
) -> Callable[
    [Float64Array, Float64Array], tuple[Float64Array, Float64Array]
]:
    """The distance and its gradient in the first argument: torch's
    default, or ``distance_function`` with its ``grad`` attribute."""
    if distance_function is None:
        return _default_distance
    gradient: Any = getattr(distance_function, "grad", None)
    if need_grad and not callable(gradient):
        raise ValueError(
            "distance_function needs a .grad attribute for the gradient: "
            "a function (x1, x2) -> d distance / d x1, shape (N, D) "
            "(NumPy has no automatic differentiation)"
        )

    def both(
        x1: Float64Array, x2: Float64Array
    ) -> tuple[Float64Array, Float64Array]:
        d: NDArray[Any] = np.asarray(distance_function(x1, x2), float)
        if d.shape != (len(x1),):
            raise ValueError(
                "distance_function must return one distance per row, "
                f"shape ({len(x1)},); got {d.shape}"
            )
        g = (
            np.asarray(gradient(x1, x2), float).reshape(x1.shape)
            if need_grad
            else np.zeros_like(x1)
        )
        return d, g

    return both


def _check_margin(margin: float) -> None:
    if not margin > 0:
        raise ValueError(f"margin must be > 0; got {margin!r}")


def triplet_margin_with_distance_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function: Distance | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: Reduction = "mean",
) -> LossValue:
    """Triplet margin loss with any distance (torch's
    ``triplet_margin_with_distance_loss``).

    Formula, per triplet, with d = ``distance_function`` (default torch's
    pairwise_distance, ||u - v + 1e-6||_2)::

        l = max(0, margin + d(a, pos) - d(a, neg))

    ``swap=True`` uses d(pos, neg) where smaller than d(a, neg).
    Gradient in the anchor, where l > 0: dd(a, pos)/da - dd(a, neg)/da.

    Parameters
    ----------
    anchor, positive, negative : array_like, shape (N, D) or (D,)
    distance_function : callable, optional
        ``(x1, x2) -> distances`` of shape (N,) for rows (N, D). For the
        gradient it needs a ``grad`` attribute, ``(x1, x2) -> d distance /
        d x1`` of shape (N, D): NumPy has no autograd to find it.
    margin : float
        Must be > 0, as torch requires.
    swap : bool
    reduction : {"mean", "sum", "none"}
        (Keyword-only, and no deprecated size_average and reduce, as in
        torch.)

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Explained in chapters/contrastive.ipynb; see also
    chapters/torch-names.md.
    Reference: Balntas, Riba, Ponsa and Mikolajczyk (2016), "Learning
    local feature descriptors with triplets and shallow convolutional
    neural networks".
    """
    # the value needs no gradient of a custom distance
    _check_margin(margin)
    distance = _custom_distance(distance_function, need_grad=False)
    return _triplet_parts(
        anchor, positive, negative, distance, margin, swap, reduction
    )[0]


def _triplet_with_distance_parts(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function: Distance | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: Reduction = "mean",
) -> Parts:
    _check_margin(margin)
    distance = _custom_distance(distance_function, need_grad=True)
    return _triplet_parts(
        anchor, positive, negative, distance, margin, swap, reduction
    )


@grad_of(_triplet_with_distance_parts)
def triplet_margin_with_distance_loss_grad() -> None:
    """Gradient of :func:`triplet_margin_with_distance_loss` with respect
    to ``anchor`` (needs ``distance_function.grad`` for a custom
    distance)."""


_triplet_margin_with_distance_loss_value_and_grad = (
    _triplet_with_distance_parts
)
