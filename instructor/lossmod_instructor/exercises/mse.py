"""Exercises of the chapter "Mean squared error" (chapters/mse.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from lossmod._checks import Reduction
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import (
    Case,
    Exercise,
    broadcast_row_case,
    library_oracle,
    reduction_cases,
)


def mean_squared_error(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> float | NDArray[np.float64]:
    """Squared error of pred against target, reduced over all elements.

    Parameters
    ----------
    pred, target : arrays of the same shape (any)
    reduction : {"mean", "sum", "none"}
        "mean": the average of the squared errors (pred - target)^2;
        "sum": their sum; "none": the squared errors themselves.

    Returns
    -------
    float for "mean" and "sum"; for "none", an array of pred's shape.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    squared = (pred - target) ** 2
    if reduction == "none":
        return squared
    if reduction == "sum":
        return float(squared.sum())
    if reduction == "mean":
        return float(squared.mean())
    raise ValueError(
        f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}",
    )


def mean_squared_error_gradient(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> NDArray[np.float64]:
    """Gradient of the reduced squared error (pred - target)^2 in pred,
    also when NumPy broadcasts pred against a target of another shape.

    Parameters
    ----------
    pred, target : arrays of shapes NumPy broadcasts together: equal
        shapes, or e.g. pred (n, 1) against target (m,)
    reduction : {"mean", "sum", "none"}
        How the squared errors of the broadcast difference pred - target
        are reduced; for "none", the gradient of their sum.

    Returns
    -------
    array of pred's shape: the partial derivatives of the reduced loss
    with respect to each element of pred.
    """
    pred = np.asarray(pred, dtype=np.float64)
    residual = pred - np.asarray(target, dtype=np.float64)  # broadcast
    scale = 1.0 / residual.size if reduction == "mean" else 1.0
    grad = 2.0 * scale * residual
    # An element of pred stretched across an axis meets every target along
    # it: its derivative is the sum over that axis (and over new axes).
    grad = grad.sum(axis=tuple(range(grad.ndim - pred.ndim)))
    stretched = tuple(
        k
        for k, size in enumerate(pred.shape)
        if size == 1 and grad.shape[k] != 1
    )
    return grad.sum(axis=stretched, keepdims=True)


def least_squares_line(
    x: ArrayLike,
    y: ArrayLike,
) -> NDArray[np.float64]:
    """The line w x + b with the smallest MSE, mean((w x + b - y)^2).

    Parameters
    ----------
    x, y : arrays of shape (n,), n >= 2, the x not all equal

    Returns
    -------
    array of shape (2,): the slope w and the intercept b.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    slope = np.sum(dx * dy) / np.sum(dx * dx)  # Cov(x, y) / Var(x)
    intercept = y.mean() - slope * x.mean()  # best constant for y - w x
    return np.array([slope, intercept])


def loss_share_of_largest(
    pred: ArrayLike,
    target: ArrayLike,
    k: int,
) -> float:
    """The fraction of the total squared error from the k largest
    residuals.

    Parameters
    ----------
    pred, target : arrays of shape (n,)
    k : int, 0 <= k <= n

    Returns
    -------
    float in [0, 1]: the sum of the k largest (pred_i - target_i)^2
    divided by the sum of all of them; 0.0 when every residual is 0.
    """
    pred = np.asarray(pred, dtype=np.float64)
    squared = (pred - np.asarray(target, dtype=np.float64)) ** 2
    total = squared.sum()
    if total == 0:
        return 0.0
    largest = np.sort(squared)[squared.size - k :]
    return float(largest.sum() / total)


def all_pairs_mse(pred: ArrayLike, target: ArrayLike) -> float:
    """The mean of (pred_i - target_j)^2 over all pairs (i, j), without
    forming the len(pred) x len(target) matrix of differences.

    This is what ((pred[:, None] - target) ** 2).mean() computes when a
    column of predictions meets a flat array of targets.

    Parameters
    ----------
    pred : array of shape (n,), n >= 1
    target : array of shape (m,), m >= 1 (m may differ from n)

    Returns
    -------
    float: the mean over the n * m pairs, accurate (relative error below
    1e-9) also when every value is near 1e6 and the spread is about 1.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    # Expanding the square around the two means: the cross terms vanish,
    # leaving Var(pred) + Var(target) + (mean pred - mean target)^2. The
    # variances are computed around their means (np.var), so nothing
    # cancels when the values are large and close together.
    gap = pred.mean() - target.mean()
    return float(np.var(pred) + np.var(target) + gap**2)


# -------------------------------------------------------------------------
# Oracles: independent computations of the same results


def _numerical_mse_gradient(
    pred: ArrayLike, target: ArrayLike, reduction: Reduction = "mean"
) -> NDArray[np.float64]:
    """Central differences of the reduced squared error of the broadcast
    difference (of the sum for "none"); lossmod.mse where the shapes are
    equal (it refuses any other)."""
    target = np.asarray(target, dtype=np.float64)
    reduced: Reduction = "sum" if reduction == "none" else reduction
    if np.shape(pred) == target.shape:
        return lossmod.numerical_gradient(
            lambda p: lossmod.mse(p, target, reduction=reduced), pred
        )
    reduce = np.sum if reduced == "sum" else np.mean
    return lossmod.numerical_gradient(
        lambda p: float(reduce((p - target) ** 2)), pred
    )


def _lstsq_line(x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """np.linalg.lstsq on the design matrix with rows (x_i, 1)."""
    x = np.asarray(x, dtype=np.float64)
    design = np.column_stack([x, np.ones_like(x)])
    return np.linalg.lstsq(
        design, np.asarray(y, dtype=np.float64), rcond=None
    )[0]


def _share_by_partition(
    pred: ArrayLike, target: ArrayLike, k: int
) -> float:
    """lossmod.mse's per-element losses, the k largest picked by
    np.partition."""
    losses = np.asarray(
        lossmod.mse(
            np.asarray(pred, float),
            np.asarray(target, float),
            reduction="none",
        )
    )
    total = float(losses.sum())
    if total == 0 or k == 0:
        return 0.0
    return float(
        np.partition(losses, losses.size - k)[losses.size - k :].sum()
        / total
    )


def _broadcast_all_pairs(pred: ArrayLike, target: ArrayLike) -> float:
    """The n x m matrix of differences, squared and averaged: the
    broadcast itself."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return float(((pred[:, None] - target[None, :]) ** 2).mean())


# -------------------------------------------------------------------------
# Hidden cases, for the instructor's grader


def _hidden_mse_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    a, b = rng.normal(size=(2, 50))
    grid = rng.normal(size=(2, 4, 3))
    return (
        Case("50 values, mean", (a, b)),
        Case("50 values, sum", (a, b), {"reduction": "sum"}),
        Case(
            "a (4, 3) array, none",
            (grid[0], grid[1]),
            {"reduction": "none"},
        ),
        Case("huge values", (1e100 * a, 1e100 * b)),
        Case(
            "tiny values", (1e-100 * a, 1e-100 * b), {"reduction": "sum"}
        ),
        Case("perfect prediction", (a, a.copy())),
    )


def _hidden_gradient_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    a, b = rng.normal(size=(2, 40))
    grid = rng.normal(size=(2, 3, 5))
    return (
        Case("40 values, mean", (a, b)),
        Case("40 values, sum", (a, b), {"reduction": "sum"}),
        Case(
            "a (3, 5) array, none",
            (grid[0], grid[1]),
            {"reduction": "none"},
        ),
        Case("a (3, 5) array, mean", (grid[0], grid[1])),
        Case("values near 1e3", (1e3 + a, 1e3 + b)),
        Case("a (5, 1) column against 7 targets", (a[:5, None], b[:7])),
        Case(
            "a (5,) row against a (3, 5) target, none",
            (a[:5], grid[0]),
            {"reduction": "none"},
        ),
        Case(
            "a (2, 1, 3) array against a (4, 1) target, sum",
            (a[:6].reshape(2, 1, 3), b[:4, None]),
            {"reduction": "sum"},
        ),
    )


def _hidden_line_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    x = rng.uniform(-3.0, 3.0, 200)
    noisy = 0.7 * x - 2.0 + rng.normal(0.0, 0.5, 200)
    return (
        Case("200 noisy points", (x, noisy)),
        Case("x far from zero", (1e3 + x, noisy)),
        Case(
            "a single outlier",
            (x, np.where(np.arange(200) == 7, 1e3, noisy)),
        ),
        Case("two points", (np.array([-1.0, 4.0]), np.array([2.0, -3.0]))),
    )


def _hidden_share_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    pred, target = rng.normal(size=(2, 100))
    corrupted = target.copy()
    corrupted[rng.choice(100, size=3, replace=False)] += 50.0
    return (
        Case("100 values, k = 10", (pred, target, 10)),
        Case("three outliers, k = 3", (pred, corrupted, 3)),
        Case("k = 0", (pred, target, 0)),
        Case("k = n", (pred, target, 100)),
        Case("huge residuals", (1e100 * pred, target, 5)),
        Case("all residuals zero", (target, target.copy(), 4)),
    )


def _hidden_pairs_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    pred, target = rng.normal(size=200), rng.normal(2.0, 3.0, size=150)
    return (
        Case("200 predictions, 150 targets", (pred, target)),
        Case("one prediction", (pred[:1], target)),
        Case("one target", (pred, target[:1])),
        Case(
            "values near 1e6, spread 1",
            (1e6 + pred[:50], 1e6 + 0.5 + target[:40] / 3.0),
        ),
        Case("equal means", (pred - pred.mean(), target - target.mean())),
    )


_PRED = np.array([2.5, 0.0, 2.1, 7.8])
_TARGET = np.array([3.0, -0.5, 2.0, 7.0])
_COLUMN = np.array([[1.0], [2.5], [-0.5]])
_X = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
_Y = np.array([1.0, 2.5, 5.5, 7.0, 8.5])

EXERCISES = (
    Exercise(
        id="mse-1",
        task="mean squared error with a reduction argument",
        solution=mean_squared_error,
        cases=(
            *reduction_cases(_PRED, _TARGET, "a (2, 2) array"),
            # "for 'none', an array of pred's shape"
            Case(
                "a (2, 2) array, none",
                (_PRED.reshape(2, 2), _TARGET.reshape(2, 2)),
                {"reduction": "none"},
            ),
        ),
        oracle=library_oracle(lossmod.mse),
        hidden=_hidden_mse_cases,
        rtol=1e-10,
        atol=1e-12,
        reimplements=("mse",),
    ),
    Exercise(
        id="mse-2",
        task="gradient of the mean squared error",
        solution=mean_squared_error_gradient,
        cases=(
            *reduction_cases(_PRED, _TARGET, "a (2, 2) array, mean"),
            # the pitfall's shapes: the mean divides by the 12 pairs, not
            # by the 3 predictions; each prediction sums over its 4 targets
            Case(
                "a (3, 1) column against 4 targets, mean",
                (_COLUMN, _TARGET),
            ),
            Case(
                "a (3, 1) column against 4 targets, sum",
                (_COLUMN, _TARGET),
                {"reduction": "sum"},
            ),
            broadcast_row_case("none"),
        ),
        oracle=_numerical_mse_gradient,
        hidden=_hidden_gradient_cases,
        rtol=1e-10,
        atol=1e-12,
        reimplements=("mse_grad",),
    ),
    Exercise(
        id="mse-3",
        task="the least-squares line",
        solution=least_squares_line,
        cases=(
            Case("five points", (_X, _Y)),
            Case("points on a line", (_X, 3.0 - 0.5 * _X)),
            Case(
                "unsorted x",
                (np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 4.0])),
            ),
        ),
        oracle=_lstsq_line,
        hidden=_hidden_line_cases,
        rtol=1e-8,
        atol=1e-9,
    ),
    Exercise(
        id="mse-4",
        task=(
            "share of the squared error carried by the k largest residuals"
        ),
        solution=loss_share_of_largest,
        cases=(
            Case("four values, k = 1", (_PRED, _TARGET, 1)),
            Case("four values, k = 2", (_PRED, _TARGET, 2)),
            Case(
                "one outlier, k = 1",
                (np.zeros(5), np.array([0.1, -0.2, 0.1, 3.0, 0.0]), 1),
            ),
            # the edges the docstring promises: 0 <= k <= n, and 0.0 when
            # every residual is 0 (not 0 / 0)
            Case("four values, k = 0", (_PRED, _TARGET, 0)),
            Case("four values, k = n = 4", (_PRED, _TARGET, 4)),
            Case("every residual zero", (_TARGET, _TARGET.copy(), 2)),
        ),
        oracle=_share_by_partition,
        hidden=_hidden_share_cases,
        rtol=1e-10,
        atol=1e-12,
    ),
    Exercise(
        id="mse-6",
        task="the mean squared error over every prediction-target pair",
        solution=all_pairs_mse,
        cases=(
            Case("four predictions, four targets", (_PRED, _TARGET)),
            Case(
                "three predictions, five targets",
                (np.array([1.0, 2.0, 6.0]), _Y),
            ),
            Case("a single pair", (np.array([3.0]), np.array([-1.0]))),
            # the one-pass mean(p^2) - 2 mean(p) mean(y) + mean(y^2) keeps
            # only about 5 correct digits here
            Case(
                "values near 1e6, spread about 1",
                (1e6 + _PRED, 1e6 + _TARGET[::-1]),
            ),
        ),
        oracle=_broadcast_all_pairs,
        hidden=_hidden_pairs_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
)


WRITTEN = {
    "mse-5": "fit the noise variance too: the best variance is the MSE",
}
"""The written exercises (derivations, explorations): one-line tasks."""
