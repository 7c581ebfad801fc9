"""Exercises of the chapter "Mean absolute error" (chapters/mae.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import (
    Case,
    Exercise,
    library_oracle,
    reduction_cases,
)


def mean_absolute_error(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> float | NDArray[np.float64]:
    """Absolute error of pred against target, reduced over all elements.

    Parameters
    ----------
    pred, target : arrays of the same shape (any)
    reduction : {"mean", "sum", "none"}
        "mean": the average of the absolute errors |pred - target|;
        "sum": their sum; "none": the absolute errors themselves.

    Returns
    -------
    float for "mean" and "sum"; for "none", an array of the shape of pred.
    """
    absolute = np.abs(
        np.asarray(pred, dtype=np.float64)
        - np.asarray(target, dtype=np.float64)
    )
    if reduction == "none":
        return absolute
    if reduction == "sum":
        return float(absolute.sum())
    if reduction == "mean":
        return float(absolute.mean())
    raise ValueError(
        f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}"
    )


def mean_absolute_error_subgradient(
    pred: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> NDArray[np.float64]:
    """A subgradient of mean_absolute_error with respect to pred.

    Parameters
    ----------
    pred, target : arrays of the same shape (any), n elements in all
    reduction : {"mean", "sum", "none"}
        For "none", the subgradient of the sum of the absolute errors.

    Returns
    -------
    array of the shape of pred: sign(pred - target) / n for "mean",
    sign(pred - target) otherwise; 0 where pred == target (as PyTorch).
    """
    residual = np.asarray(pred, dtype=np.float64) - np.asarray(
        target, dtype=np.float64
    )
    scale = 1.0 / residual.size if reduction == "mean" else 1.0
    # +1 above the target, -1 below it, 0 at it: 0 is in the
    # subdifferential [-1, 1] there.
    return scale * (
        (residual > 0).astype(np.float64)
        - (residual < 0).astype(np.float64)
    )


def pinball_loss(
    pred: ArrayLike, target: ArrayLike, quantile: float
) -> float:
    """Mean pinball (quantile) loss of pred against target at level q.

    Parameters
    ----------
    pred, target : arrays of shape (n,)
    quantile : float, 0 < quantile < 1
        The level q.

    Returns
    -------
    float: the mean over i of, with r_i = target_i - pred_i,
        q * r_i          if r_i >= 0 (under-prediction),
        (q - 1) * r_i    if r_i < 0 (over-prediction).
    """
    residual = np.asarray(target, dtype=np.float64) - np.asarray(
        pred, dtype=np.float64
    )
    return float(
        np.mean(
            np.maximum(quantile * residual, (quantile - 1.0) * residual)
        )
    )


def best_constant_pinball(target: ArrayLike, quantile: float) -> float:
    """The constant c minimising the mean pinball loss of c against target.

    Parameters
    ----------
    target : array of shape (n,), n >= 1
    quantile : float, 0 < quantile < 1
        The level q. In every check n * q is not an integer, so the
        minimiser is unique (when it is an integer, the minimisers form an
        interval: return its left end).

    Returns
    -------
    float: the minimiser, one of the values of target.
    """
    ordered = np.sort(np.asarray(target, dtype=np.float64))
    # The slope of the cost just right of ordered[k - 1] is (k - n q) / n:
    # the first k with k >= n q is where the slope stops being negative.
    k = int(np.ceil(ordered.size * quantile))
    return float(ordered[max(k, 1) - 1])


# -------------------------------------------------------------------------
# Oracles: independent computations of the same results


def _sklearn_pinball(
    pred: ArrayLike, target: ArrayLike, quantile: float
) -> float:
    """sklearn.metrics.mean_pinball_loss (true values first, level named
    alpha)."""
    from sklearn.metrics import (  # type: ignore[import-untyped]
        mean_pinball_loss,
    )

    return float(mean_pinball_loss(target, pred, alpha=quantile))


def _numpy_quantile(target: ArrayLike, quantile: float) -> float:
    """np.quantile with method="inverted_cdf": the smallest value whose
    empirical CDF is >= q."""
    return float(
        np.quantile(
            np.asarray(target, float), quantile, method="inverted_cdf"
        )
    )


# -------------------------------------------------------------------------
# Hidden cases, for the instructor's grader


def _hidden_mae_cases(rng: np.random.Generator) -> tuple[Case, ...]:
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
        Case("huge values", (1e300 * a, 1e300 * b)),
        Case(
            "tiny values", (1e-300 * a, 1e-300 * b), {"reduction": "sum"}
        ),
        Case("perfect prediction", (a, a.copy())),
    )


def _hidden_subgradient_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    a, b = rng.normal(size=(2, 40))
    grid = rng.normal(size=(2, 3, 5))
    half_exact = np.where(np.arange(40) % 2 == 0, a, b)
    return (
        Case("40 values, mean", (a, b)),
        Case("40 values, sum", (a, b), {"reduction": "sum"}),
        Case(
            "a (3, 5) array, none",
            (grid[0], grid[1]),
            {"reduction": "none"},
        ),
        Case(
            "half the residuals zero",
            (half_exact, b),
            {"reduction": "sum"},
        ),
        Case("every residual zero", (a, a.copy())),
        Case("tiny values", (1e-300 * a, 1e-300 * b)),
    )


def _hidden_pinball_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    pred, target = rng.normal(size=(2, 60))
    return (
        Case("60 values, q = 0.9", (pred, target, 0.9)),
        Case("60 values, q = 0.5", (pred, target, 0.5)),
        Case("60 values, q = 0.01", (pred, target, 0.01)),
        Case(
            "huge values, q = 0.99", (1e200 * pred, 1e200 * target, 0.99)
        ),
        Case("perfect prediction", (target, target.copy(), 0.3)),
    )


def _hidden_best_constant_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    values = rng.normal(size=101)
    heavy = rng.standard_cauchy(size=77)
    return (
        Case("101 values, q = 0.5", (values, 0.5)),
        Case("101 values, q = 0.95", (values, 0.95)),
        Case("77 Cauchy values, q = 0.1", (heavy, 0.1)),
        Case("repeated values, q = 0.3", (np.repeat(values[:9], 3), 0.3)),
        Case("one value", (values[:1], 0.7)),
        Case("100 values, q = 0.005", (values[:100], 0.005)),
    )


_PRED = np.array([2.5, 0.0, 2.1, 7.8])
_TARGET = np.array([3.0, -0.5, 2.0, 7.0])
# pred equal to _TARGET where both are 2.0: residual 0
_TIED = np.array([1.0, 2.0, 2.0, 5.0])
_SAMPLE = np.array([4.0, -1.0, 7.5, 0.5, 3.0, 10.0, 2.0])

EXERCISES = (
    Exercise(
        id="mae-1",
        task="mean absolute error with a reduction argument",
        solution=mean_absolute_error,
        cases=(
            *reduction_cases(_PRED, _TARGET, "a (2, 2) array"),
            # "for 'none', an array of the shape of pred"
            Case(
                "a (2, 2) array, none",
                (_PRED.reshape(2, 2), _TARGET.reshape(2, 2)),
                {"reduction": "none"},
            ),
            # |r| without squaring it: sqrt(r^2) overflows at 1e300
            Case(
                "residuals of 1e300, none",
                (np.array([1e300, -1e300, 0.5]), np.zeros(3)),
                {"reduction": "none"},
            ),
        ),
        oracle=library_oracle(lossmod.mae),
        hidden=_hidden_mae_cases,
        rtol=1e-10,
        atol=1e-12,
        reimplements=("mae",),
    ),
    Exercise(
        id="mae-2",
        task="subgradient of the mean absolute error",
        solution=mean_absolute_error_subgradient,
        cases=(
            Case("four values, mean", (_PRED, _TARGET)),
            Case(
                "four values, sum", (_PRED, _TARGET), {"reduction": "sum"}
            ),
            Case(
                "a zero residual, mean",
                (_TIED, np.array([3.0, 2.0, 1.0, 5.0])),
            ),
            Case(
                "a (2, 2) array, none",
                (_PRED.reshape(2, 2), _TARGET.reshape(2, 2)),
                {"reduction": "none"},
            ),
            # sign(r) is +-1 however small r is: no r / (|r| + eps)
            Case(
                "residuals of 1e-300, sum",
                (np.array([1e-300, -2e-300, 3e-300]), np.zeros(3)),
                {"reduction": "sum"},
            ),
        ),
        oracle=library_oracle(lossmod.mae_grad),
        hidden=_hidden_subgradient_cases,
        rtol=1e-12,
        atol=1e-15,
        reimplements=("mae_grad",),
    ),
    Exercise(
        id="mae-3",
        task="the pinball (quantile) loss",
        solution=pinball_loss,
        cases=(
            Case("four values, q = 0.9", (_PRED, _TARGET, 0.9)),
            Case("four values, q = 0.1", (_PRED, _TARGET, 0.1)),
            Case("four values, q = 0.5", (_PRED, _TARGET, 0.5)),
        ),
        oracle=_sklearn_pinball,
        hidden=_hidden_pinball_cases,
        rtol=1e-10,
        atol=1e-12,
    ),
    Exercise(
        id="mae-4",
        task="the best constant under the pinball loss",
        solution=best_constant_pinball,
        cases=(
            Case("seven values, q = 0.5", (_SAMPLE, 0.5)),
            Case("seven values, q = 0.9", (_SAMPLE, 0.9)),
            Case("seven values, q = 0.2", (_SAMPLE, 0.2)),
            Case(
                "ties in the data, q = 0.75",
                (np.array([1.0, 3.0, 3.0, 3.0, 8.0]), 0.75),
            ),
        ),
        oracle=_numpy_quantile,
        hidden=_hidden_best_constant_cases,
        rtol=0.0,
        atol=0.0,
    ),
)


WRITTEN = {
    "mae-5": "fit the Laplace scale too: the best scale is the MAE",
}
"""The written exercises (derivations, explorations): one-line tasks."""
