"""Margins and sparse probabilities: the binary hinge and squared hinge
losses, sparsemax and entmax-1.5 (maps from scores to probabilities with
exact zeros), and their Fenchel-Young losses, each beside its gradient.

A Fenchel-Young loss (Blondel, Martins and Niculae, 2020) is built from a
regulariser Omega of the probability simplex::

    L(z; y) = Omega*(z) + Omega(y) - <z, y>,  gradient  p(z) - y,

with p(z) = argmax_p <z, p> - Omega(p). Negative Shannon entropy gives
softmax and the cross-entropy; the Gini entropy, Omega(p) = |p|^2 / 2,
gives sparsemax and the sparsemax loss; the Tsallis 1.5 entropy gives
entmax-1.5 and its loss.

Every loss computes its values and its slopes in float64 in one pass,
in a function with the loss's signature (``_<name>_parts``; the two
hinges share ``_hinge_parts``), and returns them in the first argument's
dtype; the loss and its gradient are made from that function
(lossmod/_parts.py).
Explained in the chapter "Margins, sparsity and Fenchel-Young losses"
(chapters/margins.ipynb).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    FloatArray,
    Reduction,
    as_float,
    check_distributions,
    check_reduction,
    check_same_shape,
    finish_both,
)
from lossmod._parts import (
    Parts,
    check_signs,
    grad_of,
    value_of,
)

__all__ = [
    "entmax15",
    "entmax15_loss",
    "entmax15_loss_grad",
    "hinge_loss",
    "hinge_loss_grad",
    "sparsemax",
    "sparsemax_loss",
    "sparsemax_loss_grad",
    "squared_hinge_loss",
    "squared_hinge_loss_grad",
]

Array = NDArray[np.float64]


# --- Binary hinge and squared hinge -------------------------------------


def _margins(
    scores: ArrayLike, labels: ArrayLike, reduction: Reduction
) -> tuple[Array, Array, np.dtype[Any]]:
    """The labels (each -1 or 1), the margins y s, and the result's
    dtype."""
    check_reduction(reduction)
    s, out_dtype = as_float("scores", scores)
    y, _ = as_float("labels", labels)
    check_same_shape("scores", s, "labels", y)
    check_signs(
        "labels", y, hint=" (for labels in {0, 1}, pass 2 * labels - 1)"
    )
    return y, y * s, out_dtype


def _hinge_parts(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    squared: bool,
    reduction: Reduction,
) -> Parts:
    y, m, out_dtype = _margins(scores, labels, reduction)
    # the shortfall of the margin y s below 1; zero beyond it
    short = np.maximum(1.0 - m, 0.0)
    if squared:
        losses, slopes = short * short, -2.0 * y * short
    else:
        # subgradient 0 at the kink y s = 1 (any slope between -y and 0
        # would do)
        losses, slopes = short, -y * (short > 0)
    return finish_both(
        losses,
        slopes,
        reduction,
        float(m.size),
        out_dtype,
    )


def _hinge_loss_value_and_grad(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> Parts:
    return _hinge_parts(scores, labels, squared=False, reduction=reduction)


@value_of(_hinge_loss_value_and_grad)
def hinge_loss() -> None:
    """Hinge loss of real scores against labels -1 and 1 (the loss of the
    support vector machine).

    Formula, with s a score and y in {-1, 1}::

        l = max(0, 1 - y s)

    zero once the margin y s reaches 1. Its population minimiser is
    sign(2 eta - 1), eta = P(y = 1 | x): a decision, not a probability.
    The mean equals scikit-learn's ``hinge_loss(y, s)`` metric.
    Gradient: -y where y s < 1, else 0 (0 at the kink y s = 1).

    Parameters
    ----------
    scores : array_like, any shape
        Real scores (decision values).
    labels : array_like, same shape
        -1 or 1.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Explained in chapters/margins.ipynb.
    Reference: Cortes and Vapnik (1995), "Support-vector networks".
    """


@grad_of(_hinge_loss_value_and_grad)
def hinge_loss_grad() -> None:
    """Gradient of :func:`hinge_loss` w.r.t. ``scores``: -y [y s < 1],
    / n for "mean"."""


def _squared_hinge_loss_value_and_grad(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> Parts:
    return _hinge_parts(scores, labels, squared=True, reduction=reduction)


@value_of(_squared_hinge_loss_value_and_grad)
def squared_hinge_loss() -> None:
    """Squared hinge loss of real scores against labels -1 and 1 (the
    default loss of scikit-learn's ``LinearSVC``).

    Formula, with s a score and y in {-1, 1}::

        l = max(0, 1 - y s)^2

    Differentiable everywhere; its population minimiser is 2 eta - 1,
    eta = P(y = 1 | x). Gradient: -2 y max(0, 1 - y s).

    Parameters
    ----------
    scores : array_like, any shape
        Real scores (decision values).
    labels : array_like, same shape
        -1 or 1.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Explained in chapters/margins.ipynb.
    Reference: Zhang (2004), "Statistical behavior and consistency of
    classification methods based on convex risk minimization".
    """


@grad_of(_squared_hinge_loss_value_and_grad)
def squared_hinge_loss_grad() -> None:
    """Gradient of :func:`squared_hinge_loss` w.r.t. ``scores``:
    -2 y max(0, 1 - y s), / n for "mean"."""


# --- sparsemax and entmax-1.5 -------------------------------------------


def _rows_last(
    name: str, z: ArrayLike, axis: int
) -> tuple[Array, np.dtype[Any], tuple[int, ...]]:
    """``z`` as float64 rows (M, C) along ``axis``, its result dtype and
    the shape of the moved array (to undo the reshape)."""
    x, out_dtype = as_float(name, z)
    if x.ndim == 0:
        raise ValueError(
            f"{name} must have at least one axis; got a scalar"
        )
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"axis must be in [{-x.ndim}, {x.ndim - 1}] for {name} of "
            f"shape {x.shape}; got {axis}"
        )
    if x.shape[axis] == 0:
        raise ValueError(f"{name} has no entries along axis {axis}")
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(-1, moved.shape[-1]), out_dtype, moved.shape


def _sparsemax_rows(z: Array) -> tuple[Array, Array, Array]:
    """Sparsemax of each row: (p, tau, x) with x = z - max z (the rows
    shifted so their largest entry is 0) and p = max(x - tau, 0)."""
    # p and tau move with z: shifting by the maximum changes neither p
    # nor the support, and keeps every x <= 0 (no growth, and
    # -1 <= tau < 0)
    x = z - np.max(z, axis=1, keepdims=True)
    s = -np.sort(-x, axis=1)
    k = np.arange(1, x.shape[1] + 1)
    cumulative = np.cumsum(s, axis=1)
    # the j-th largest is in the support iff 1 + j s_j > sum_{i<=j} s_i;
    # the support is the top k* (Martins and Astudillo, 2016)
    support = np.max(np.where(1.0 + k * s > cumulative, k, 1), axis=1)
    rows = np.arange(len(x))
    tau = (cumulative[rows, support - 1] - 1.0) / support
    return np.maximum(x - tau[:, None], 0.0), tau, x


def _entmax15_rows(z: Array) -> tuple[Array, Array, Array]:
    """entmax-1.5 of each row: (p, tau, x) with x = (z - max z) / 2 and
    p = max(x - tau, 0)^2."""
    x = 0.5 * (z - np.max(z, axis=1, keepdims=True))
    s = -np.sort(-x, axis=1)
    k = np.arange(1, x.shape[1] + 1)
    # tau_k solves sum_{i<=k} (s_i - tau)^2 = 1 on the top k:
    # tau_k = mean_k - sqrt((1 - k var_k) / k) (Peters et al., 2019)
    mean = np.cumsum(s, axis=1) / k
    mean_sq = np.cumsum(s * s, axis=1) / k
    delta = (1.0 - k * (mean_sq - mean * mean)) / k
    tau_k = mean - np.sqrt(np.maximum(delta, 0.0))
    support = np.max(np.where(tau_k <= s, k, 1), axis=1)
    # tau again on the support, its variance from centred values (two
    # passes): after the shift the entries in the support lie in
    # [-1, 0]
    top = k <= support[:, None]
    centre = np.sum(np.where(top, s, 0.0), axis=1) / support
    spread = np.where(top, s - centre[:, None], 0.0)
    var = np.sum(spread * spread, axis=1) / support
    tau = centre - np.sqrt(np.maximum(1.0 / support - var, 0.0))
    root = np.maximum(x - tau[:, None], 0.0)
    return root * root, tau, x


def _mapping(
    rows: Callable[[Array], tuple[Array, Array, Array]],
    name: str,
    z: ArrayLike,
    axis: int,
) -> FloatArray:
    flat, out_dtype, shape = _rows_last(name, z, axis)
    p = rows(flat)[0].reshape(shape)
    return np.moveaxis(p, -1, axis).astype(out_dtype, copy=False)


def sparsemax(z: ArrayLike, axis: int = -1) -> FloatArray:
    """Sparsemax: the Euclidean projection of scores onto the probability
    simplex, with exact zeros.

    Formula, along ``axis``::

        sparsemax(z) = argmin_{p in simplex} |p - z|^2
                     = max(z - tau, 0)

    with the threshold tau such that the entries sum to 1, found by
    sorting: the support is the k* largest entries, k* the largest k with
    1 + k z_(k) > z_(1) + ... + z_(k), and tau = (z_(1) + ... +
    z_(k*) - 1) / k*. Computed on z - max z, so any finite input is safe.

    Jacobian: diag(s) - s s^T / |S|, s the indicator of the support S.

    Parameters
    ----------
    z : array_like, any shape with at least one axis
        Finite scores.
    axis : int
        The axis of the classes.

    Returns
    -------
    array of the shape of ``z``, float32 for float32 input: entries in
    [0, 1] summing to 1 along ``axis``, zero below the threshold.

    Explained in chapters/margins.ipynb.
    Reference: Martins and Astudillo (2016), "From softmax to sparsemax".
    """
    return _mapping(_sparsemax_rows, "z", z, axis)


def entmax15(z: ArrayLike, axis: int = -1) -> FloatArray:
    """entmax-1.5: sparse probabilities between softmax and sparsemax.

    Formula, along ``axis``::

        entmax15(z) = argmax_{p in simplex} <z, p> + H_1.5(p)
                    = max(z / 2 - tau, 0)^2

    with H_1.5(p) = (4 / 3) sum_j (p_j - p_j^1.5) the Tsallis entropy and
    tau such that the entries sum to 1, found exactly by sorting (the
    support is a set of largest entries).

    Jacobian: diag(r) - r r^T / sum(r), r = sqrt(p).

    Parameters
    ----------
    z : array_like, any shape with at least one axis
        Finite scores.
    axis : int
        The axis of the classes.

    Returns
    -------
    array of the shape of ``z``, float32 for float32 input: entries in
    [0, 1] summing to 1 along ``axis``.

    Explained in chapters/margins.ipynb.
    Reference: Peters, Niculae and Martins (2019), "Sparse
    sequence-to-sequence models".
    """
    return _mapping(_entmax15_rows, "z", z, axis)


# --- The sparsemax and entmax-1.5 losses (Fenchel-Young) ---------------


def _fy_args(
    logits: ArrayLike, labels: ArrayLike, reduction: Reduction
) -> tuple[Array, Array, np.dtype[Any]]:
    """Logits (N, C) and the target distributions (N, C) (one-hot rows
    for class indices), checked; the result's dtype."""
    check_reduction(reduction)
    z, out_dtype = as_float("logits", logits)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(
            f"logits must have shape (N, C) with C >= 1; got shape "
            f"{z.shape}"
        )
    n, c = z.shape
    target = np.asarray(labels)
    if target.dtype.kind in "iu":
        if target.shape != (n,):
            raise ValueError(
                f"labels of class indices must have shape (N,) = ({n},); "
                f"got {target.shape}"
            )
        wrong = (target < 0) | (target >= c)
        if wrong.any():
            i = int(np.argmax(wrong))
            raise ValueError(
                f"labels must hold class indices in [0, {c - 1}]; got "
                f"{target[i]} at index {i}"
            )
        y = np.zeros((n, c))
        y[np.arange(n), target] = 1.0
        return z, y, out_dtype
    if target.dtype.kind != "f":
        raise ValueError(
            "labels must be integer class indices of shape (N,) or float "
            f"distributions of shape (N, C); got dtype {target.dtype}"
        )
    y, _ = as_float("labels", target)
    if y.ndim == 1 and len(y) == n:
        raise ValueError(
            f"labels of distributions must have the shape of logits "
            f"{z.shape}; got {y.shape} (class indices must be an integer "
            "array of shape (N,))"
        )
    check_same_shape("logits", z, "labels", y)
    check_distributions("labels", y)
    return z, y, out_dtype


def _sparsemax_loss_parts(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> Parts:
    z, y, out_dtype = _fy_args(logits, labels, reduction)
    p, tau, x = _sparsemax_rows(z)
    # L = |z - y|^2 / 2 - |z - p|^2 / 2 (p is the projection of z) =
    # |y - p|^2 / 2 + sum_j y_j max(tau - x_j, 0): two sums of terms
    # >= 0, no cancellation (the second is nonzero only outside the
    # support)
    d = y - p
    below = np.maximum(tau[:, None] - x, 0.0)
    losses = 0.5 * np.sum(d * d, axis=1) + np.sum(y * below, axis=1)
    return finish_both(
        losses,
        p - y,
        reduction,
        float(len(z)),
        out_dtype,
    )


@value_of(_sparsemax_loss_parts)
def sparsemax_loss() -> None:
    """Sparsemax loss: the Fenchel-Young loss of the Gini entropy, whose
    prediction is sparsemax(logits).

    Formula, per row, with p = sparsemax(z) = max(z - tau, 0) and target
    distribution y (one-hot for a class index)::

        l = Omega*(z) + Omega(y) - <z, y>,  Omega(p) = |p|^2 / 2
          = |y - p|^2 / 2 + sum_j y_j max(tau - z_j, 0)

    >= 0, and 0 exactly when sparsemax(z) = y: for a class k, when z_k
    beats every other logit by at least 1 (a margin, as the hinge's).
    For a class index k it is Martins and Astudillo's
    -z_k + (1/2) sum_{j in S} (z_j^2 - tau^2) + 1/2.

    Gradient: sparsemax(z) - y.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Finite scores.
    labels : array_like
        Integer class indices of shape (N,), or float distributions of
        shape (N, C) whose rows sum to 1.
    reduction : {"mean", "sum", "none"}
        Over the N rows: "none" returns shape (N,).

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Explained in chapters/margins.ipynb.
    Reference: Martins and Astudillo (2016); Blondel, Martins and Niculae
    (2020), "Learning with Fenchel-Young losses".
    """


@grad_of(_sparsemax_loss_parts)
def sparsemax_loss_grad() -> None:
    """Gradient of :func:`sparsemax_loss` w.r.t. ``logits``:
    sparsemax(z) - y, / N for "mean"."""


_sparsemax_loss_value_and_grad = _sparsemax_loss_parts


def _entmax15_loss_parts(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> Parts:
    z, y, out_dtype = _fy_args(logits, labels, reduction)
    p, tau, x = _entmax15_rows(z)
    # L = D(y, p) + 2 sum_j y_j max(tau - x_j, 0), D the Bregman
    # divergence of Omega(p) = (4/3) sum (p^1.5 - p), term by term
    # (4/3)(a^1.5 - b^1.5 - 1.5 b^0.5 (a - b)), which factors as
    # (4/3)(sqrt a - sqrt b)^2 (sqrt a + sqrt b / 2) >= 0: no cancellation
    root_y, root_p = np.sqrt(y), np.maximum(x - tau[:, None], 0.0)
    gap = root_y - root_p
    bregman = (4.0 / 3.0) * gap * gap * (root_y + 0.5 * root_p)
    below = np.maximum(tau[:, None] - x, 0.0)
    losses = np.sum(bregman, axis=1) + 2.0 * np.sum(y * below, axis=1)
    return finish_both(losses, p - y, reduction, float(len(z)), out_dtype)


@value_of(_entmax15_loss_parts)
def entmax15_loss() -> None:
    """entmax-1.5 loss: the Fenchel-Young loss of the Tsallis 1.5
    entropy, whose prediction is entmax15(logits).

    Formula, per row, with p = entmax15(z) = max(z / 2 - tau, 0)^2 and
    target distribution y (one-hot for a class index)::

        l = Omega*(z) + Omega(y) - <z, y>,
        Omega(p) = (4/3) sum_j (p_j^1.5 - p_j)
          = sum_j (4/3) (sqrt y_j - sqrt p_j)^2 (sqrt y_j + sqrt p_j / 2)
            + 2 sum_j y_j max(tau - z_j / 2, 0)

    >= 0, and 0 exactly when entmax15(z) = y: for a class k, when z_k
    beats every other logit by at least 2. For a class index k it equals
    (1 - sum_j p_j^1.5) / 0.75 + <p - e_k, z>, the form of the entmax
    package.

    Gradient: entmax15(z) - y.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Finite scores.
    labels : array_like
        Integer class indices of shape (N,), or float distributions of
        shape (N, C) whose rows sum to 1.
    reduction : {"mean", "sum", "none"}
        Over the N rows: "none" returns shape (N,).

    Returns
    -------
    float32 or float64 scalar, or an array of shape (N,) for
    ``reduction="none"``.

    Explained in chapters/margins.ipynb.
    Reference: Peters, Niculae and Martins (2019); Blondel, Martins and
    Niculae (2020).
    """


@grad_of(_entmax15_loss_parts)
def entmax15_loss_grad() -> None:
    """Gradient of :func:`entmax15_loss` w.r.t. ``logits``:
    entmax15(z) - y, / N for "mean"."""


_entmax15_loss_value_and_grad = _entmax15_loss_parts
