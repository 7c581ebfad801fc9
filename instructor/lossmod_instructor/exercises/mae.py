"""Exercises of the chapter "Mean absolute error" (chapters/mae.ipynb)."""

from __future__ import annotations

from typing import Any

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
    float for "mean" and "sum"; for "none", an array of pred's shape.
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
    """A subgradient in pred of the reduced absolute error |pred - target|,
    also when NumPy broadcasts pred against a target of another shape.

    Parameters
    ----------
    pred, target : arrays of shapes NumPy broadcasts together: equal
        shapes, or e.g. pred (n, 1) against target (m,)
    reduction : {"mean", "sum", "none"}
        How the absolute errors of the broadcast difference pred - target
        are reduced; for "none", the subgradient of their sum.

    Returns
    -------
    array of pred's shape: the derivative of the reduced loss with
    respect to each element of pred, where each of its absolute errors
    |pred_i - target_j| counts with slope 0 at a zero residual (as
    PyTorch).
    """
    pred = np.asarray(pred, dtype=np.float64)
    residual = pred - np.asarray(target, dtype=np.float64)  # broadcast
    scale = 1.0 / residual.size if reduction == "mean" else 1.0
    # +1 above the target, -1 below it, 0 at it: 0 is in the
    # subdifferential [-1, 1] there.
    slopes = scale * (
        (residual > 0).astype(np.float64)
        - (residual < 0).astype(np.float64)
    )
    # An element of pred stretched across an axis meets every target along
    # it: its slope is the sum over that axis (and over new axes).
    slopes = slopes.sum(axis=tuple(range(slopes.ndim - pred.ndim)))
    stretched = tuple(
        k
        for k, size in enumerate(pred.shape)
        if size == 1 and slopes.shape[k] != 1
    )
    return slopes.sum(axis=stretched, keepdims=True)


def pinball_subgradient(
    pred: ArrayLike, target: ArrayLike, quantile: float
) -> NDArray[np.float64]:
    """A subgradient, with respect to pred, of the mean pinball loss of
    pred against target at level q (residual r_i = target_i - pred_i).

    Parameters
    ----------
    pred, target : arrays of shape (n,)
    quantile : float, 0 < quantile < 1
        The level q.

    Returns
    -------
    array of shape (n,): the derivative of the mean loss with respect to
    pred_i where pred_i != target_i, and 0 where pred_i == target_i.
    """
    residual = np.asarray(target, dtype=np.float64) - np.asarray(
        pred, dtype=np.float64
    )
    # Under-prediction (r > 0): the loss is q r = q (y - pred), slope -q.
    # Over-prediction (r < 0): it is (q - 1) r, slope 1 - q. At r = 0 the
    # subdifferential is [-q, 1 - q], which contains 0.
    slope = np.where(
        residual > 0,
        -quantile,
        np.where(residual < 0, 1.0 - quantile, 0.0),
    )
    return slope / residual.size


def lad_shift(epsilon: float, scale: float) -> float:
    """The median of Laplace noise in which a fraction epsilon are gross
    errors above every clean value: where LAD's best constant lands.

    Parameters
    ----------
    epsilon : float, 0 <= epsilon < 1/2
        The fraction of gross errors, all larger than any clean value.
    scale : float, > 0
        The scale b of the clean noise, Laplace with location 0.

    Returns
    -------
    float >= 0: the point c with probability 1/2 below it under the
    mixture; 0 when epsilon is 0. Relative error below 1e-9, also for
    epsilon as small as 1e-300.
    """
    # (1 - eps) F(c) = 1/2 with F(c) = 1 - exp(-c / b) / 2 for c >= 0
    # gives c = b log((1 - eps) / (1 - 2 eps)), which is
    # b log1p(eps / (1 - 2 eps)): log1p keeps the digits that
    # log(1 + tiny) would round away.
    return float(scale * np.log1p(epsilon / (1.0 - 2.0 * epsilon)))


def best_constant_pinball(target: ArrayLike, quantile: float) -> float:
    """The constant with the smallest mean pinball loss against target.

    Parameters
    ----------
    target : array of shape (n,), n >= 1
    quantile : float, 0 < quantile < 1
        The level q. In every check n * q is not an integer, so the
        minimiser is unique (when it is an integer, the minimisers form
        an interval: return its left end).

    Returns
    -------
    float: the minimiser, one of the values of target.
    """
    ordered = np.sort(np.asarray(target, dtype=np.float64))
    # The slope of the cost just right of ordered[k - 1] is
    # (k - n q) / n:
    # the first k with k >= n q is where the slope stops being negative.
    k = int(np.ceil(ordered.size * quantile))
    return float(ordered[max(k, 1) - 1])


# -------------------------------------------------------------------------
# Oracles: independent computations of the same results


def _sklearn_pinball_slope(
    pred: ArrayLike, target: ArrayLike, quantile: float
) -> NDArray[np.float64]:
    """Central differences of sklearn.metrics.mean_pinball_loss (true
    values first, level named alpha), with 0 where a residual is exactly 0
    (the convention; the cases keep other residuals far from 0)."""
    from sklearn.metrics import (  # type: ignore[import-untyped]
        mean_pinball_loss,
    )

    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    numeric = lossmod.numerical_gradient(
        lambda p: float(mean_pinball_loss(target, p, alpha=quantile)), pred
    )
    return np.where(pred == target, 0.0, numeric)


def _accumulated_mae_grad(
    pred: ArrayLike, target: ArrayLike, reduction: Reduction = "mean"
) -> NDArray[np.float64]:
    """lossmod.mae_grad of the two arrays broadcast to a common shape,
    each entry added, one pair at a time, to the element of pred it came
    from."""
    pred = np.asarray(pred, dtype=np.float64)
    full_pred, full_target = np.broadcast_arrays(pred, target)
    per_pair = lossmod.mae_grad(
        np.array(full_pred),
        np.array(full_target, dtype=float),
        reduction=reduction,
    )
    result = np.zeros(pred.shape)
    offset = per_pair.ndim - pred.ndim
    for index in np.ndindex(per_pair.shape):
        source = tuple(
            0 if size == 1 else i
            for i, size in zip(index[offset:], pred.shape, strict=True)
        )
        result[source] += per_pair[index]
    return result


def _mixture_median(epsilon: float, scale: float) -> float:
    """The root u of (1 - eps) F(u) = 1/2, F the distribution function of
    the Laplace distribution with scale 1, found by mpmath with enough
    digits to resolve 1 - eps; times the scale."""
    import mpmath  # type: ignore[import-untyped]

    if epsilon == 0:
        return 0.0
    digits = 60 + max(0, int(-np.log10(epsilon)))
    with mpmath.workdps(digits):
        eps, half = mpmath.mpf(epsilon), mpmath.mpf(1) / 2

        def excess(u: Any) -> Any:
            return (1 - eps) * (1 - mpmath.exp(-u) / 2) - half

        root = mpmath.findroot(excess, (mpmath.mpf(0), 40), "illinois")
        return float(root * mpmath.mpf(scale))


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
        Case("a (5, 1) column against 7 targets", (a[:5, None], b[:7])),
        Case(
            "a column against its own values, sum",
            (a[:6, None], a[:6]),
            {"reduction": "sum"},
        ),
        Case(
            "a (2, 1, 3) array against a (4, 1) target, none",
            (a[:6].reshape(2, 1, 3), b[:4, None]),
            {"reduction": "none"},
        ),
    )


def _hidden_pinball_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    target = rng.normal(size=60)
    # residuals at least 0.1 from zero, of both signs
    pred = target + rng.choice([-1.0, 1.0], 60) * rng.uniform(0.1, 2.0, 60)
    half_exact = np.where(np.arange(60) % 3 == 0, target, pred)
    return (
        Case("60 values, q = 0.9", (pred, target, 0.9)),
        Case("60 values, q = 0.5", (pred, target, 0.5)),
        Case("60 values, q = 0.01", (pred, target, 0.01)),
        Case(
            "a third of the residuals zero, q = 0.7",
            (half_exact, target, 0.7),
        ),
        Case("perfect prediction", (target, target.copy(), 0.3)),
    )


def _hidden_shift_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "a random epsilon and scale",
            (
                float(rng.uniform(0.01, 0.45)),
                float(rng.uniform(0.5, 80.0)),
            ),
        ),
        Case("epsilon = 1e-300", (1e-300, 3.0)),
        Case("epsilon = 0.4999", (0.4999, 1.0)),
        Case("a tiny scale", (0.3, 1e-200)),
        Case("epsilon = 0", (0.0, 7.0)),
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


_COLUMN = np.array([[2.0], [7.0], [-1.0]])
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
            # the mean divides by all n = 4 elements, not by the 2 rows
            Case(
                "a (2, 2) array, mean",
                (_PRED.reshape(2, 2), _TARGET.reshape(2, 2)),
            ),
            # sign(r) is +-1 however small r is: no r / (|r| + eps)
            Case(
                "residuals of 1e-300, sum",
                (np.array([1e-300, -2e-300, 3e-300]), np.zeros(3)),
                {"reduction": "sum"},
            ),
            # broadcast shapes: the mean divides by the 12 pairs, not by
            # the 3 predictions; each prediction adds up its 4 slopes, two
            # of them at a zero residual
            Case(
                "a (3, 1) column against 4 targets, mean",
                (_COLUMN, _TARGET),
            ),
            broadcast_row_case("sum"),
        ),
        oracle=_accumulated_mae_grad,
        hidden=_hidden_subgradient_cases,
        rtol=1e-12,
        atol=1e-15,
        reimplements=("mae_grad",),
    ),
    Exercise(
        id="mae-3",
        task="a subgradient of the pinball (quantile) loss",
        solution=pinball_subgradient,
        cases=(
            Case("four values, q = 0.9", (_PRED, _TARGET, 0.9)),
            Case("four values, q = 0.1", (_PRED, _TARGET, 0.1)),
            Case("four values, q = 0.5", (_PRED, _TARGET, 0.5)),
            # pred equal to the target where both are 2.0
            Case(
                "a zero residual, q = 0.3",
                (_TIED, np.array([3.0, 2.0, 1.0, 5.0]), 0.3),
            ),
        ),
        oracle=_sklearn_pinball_slope,
        hidden=_hidden_pinball_cases,
        rtol=1e-6,
        atol=1e-9,
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
    Exercise(
        id="mae-6",
        task="the median of Laplace noise with one-sided gross errors",
        solution=lad_shift,
        cases=(
            Case("no contamination", (0.0, 1.0)),
            Case("epsilon = 0.2, scale 1", (0.2, 1.0)),
            Case("epsilon = 0.2, scale 40", (0.2, 40.0)),
            Case("epsilon = 0.45", (0.45, 1.0)),
            # log(1 + x) for x = 1e-12 keeps only 4 correct digits
            Case("epsilon = 1e-12", (1e-12, 2.0)),
        ),
        oracle=_mixture_median,
        hidden=_hidden_shift_cases,
        rtol=1e-9,
        atol=0.0,
    ),
)


WRITTEN = {
    "mae-5": "fit the Laplace scale too: the best scale is the MAE",
}
"""The written exercises (derivations, explorations): one-line tasks."""
