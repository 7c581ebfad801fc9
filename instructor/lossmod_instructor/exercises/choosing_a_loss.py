"""Exercises of the chapter "Choosing a loss"
(chapters/choosing-a-loss.ipynb)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise


def huber_delta(residuals: ArrayLike, k: float = 1.345) -> float:
    """Huber's threshold from a robust scale of the residuals.

    Parameters
    ----------
    residuals : array of shape (n,)
    k : float
        The multiple of the scale; 1.345 gives 95% efficiency under
        Gaussian noise.

    Returns
    -------
    float: k * 1.4826 * median(|r - median(r)|), where
    1.4826 = 1 / Phi^{-1}(3/4).
    """
    r = np.asarray(residuals, dtype=np.float64)
    mad = np.median(np.abs(r - np.median(r)))
    return float(k * mad / 0.6744897501960817)  # Phi^{-1}(3/4)


def balanced_pos_weight(labels: ArrayLike) -> float | NDArray[np.float64]:
    """The pos_weight that balances the positive and negative terms of
    binary cross-entropy.

    Parameters
    ----------
    labels : array of 0/1 labels, shape (N,) or (N, C) for C independent
        labels

    Returns
    -------
    n_negative / n_positive: a float for shape (N,), an array of shape (C,)
    for (N, C).
    """
    y = np.asarray(labels, dtype=np.float64)
    positives = y.sum(axis=0)
    return (len(y) - positives) / positives


def expected_calibration_error(
    probs: ArrayLike, labels: ArrayLike, bins: int = 10
) -> float:
    """Expected calibration error of binary probabilities over equal-width
    bins.

    Parameters
    ----------
    probs : array of shape (N,), predicted probabilities of the positive
        class, in [0, 1]
    labels : array of shape (N,), 0/1
    bins : int
        Number of equal intervals of [0, 1], each closed on the right:
        (a, b], the first [0, b].

    Returns
    -------
    float: sum over bins of (n_b / N)
    |mean label in b - mean probability in b|.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    # 0 .. bins-1
    which = np.digitize(
        p, np.linspace(0.0, 1.0, bins + 1)[1:-1], right=True
    )
    count = np.bincount(which, minlength=bins)
    # n_b |ybar - pbar|
    gap = np.abs(np.bincount(which, y, bins) - np.bincount(which, p, bins))
    return float(gap.sum() / len(p)) if count.sum() else 0.0


# --- Oracles: independent computations -----------------------------------


def _scipy_huber_delta(residuals: ArrayLike, k: float = 1.345) -> float:
    from scipy import stats  # type: ignore[import-untyped]

    return float(
        k
        * stats.median_abs_deviation(np.asarray(residuals), scale="normal")
    )


def _counting_pos_weight(labels: ArrayLike) -> float | NDArray[np.float64]:
    y = np.asarray(labels)
    if y.ndim == 1:
        return float(np.count_nonzero(y == 0) / np.count_nonzero(y == 1))
    return np.array([_counting_pos_weight(column) for column in y.T])


def _sklearn_calibration_error(
    probs: ArrayLike, labels: ArrayLike, bins: int = 10
) -> float:
    """ECE from scikit-learn's calibration_curve (which drops empty bins)
    and bin counts."""
    from sklearn.calibration import (  # type: ignore[import-untyped]
        calibration_curve,
    )

    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    fraction, mean_prob = calibration_curve(
        y, p, n_bins=bins, strategy="uniform"
    )
    inner_edges = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    # sklearn's binning
    counts = np.bincount(np.searchsorted(inner_edges, p), minlength=bins)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.abs(fraction - mean_prob)) / len(p))


def _hidden_delta(rng: np.random.Generator) -> tuple[Case, ...]:
    heavy = rng.standard_t(df=2, size=501)
    return (
        Case("heavy tails, odd n", (heavy,)),
        Case("huge values", (1e200 * rng.normal(size=40),)),
        Case("k = 2", (rng.normal(size=64),), {"k": 2.0}),
    )


def _hidden_pos_weight(rng: np.random.Generator) -> tuple[Case, ...]:
    rare = (rng.random(10_000) < 0.01).astype(float)
    rare[0] = 1.0
    multi = (rng.random((500, 4)) < [0.5, 0.1, 0.02, 0.9]).astype(float)
    multi[0] = 1.0
    return (Case("1% positives", (rare,)), Case("four labels", (multi,)))


def _hidden_ece(rng: np.random.Generator) -> tuple[Case, ...]:
    p = rng.random(2000)
    y = (rng.random(2000) < p**2).astype(float)  # over-confident model
    edges = np.array([0.0, 0.1, 0.5, 0.9, 1.0, 1.0, 0.25])
    return (
        Case("over-confident, 2000 samples", (p, y)),
        Case(
            "probabilities on the bin edges",
            (edges, np.array([0, 0, 1, 1, 1, 0, 1.0])),
            {"bins": 4},
        ),
        Case("twenty bins", (p, y), {"bins": 20}),
    )


EXERCISES = (
    Exercise(
        id="choosing-a-loss-1",
        task="Huber's delta from the scaled median absolute deviation",
        solution=huber_delta,
        cases=(
            Case(
                "small sample",
                (np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 40.0]),),
            ),
            Case(
                "k = 1",
                (np.array([1.0, 2.0, 3.0, 4.0, 100.0]),),
                {"k": 1.0},
            ),
        ),
        oracle=_scipy_huber_delta,
        hidden=_hidden_delta,
        rtol=5e-6,  # 1.4826 written out is within 2e-6
    ),
    Exercise(
        id="choosing-a-loss-2",
        task="pos_weight balancing the two classes",
        solution=balanced_pos_weight,
        cases=(
            Case(
                "one in four positive",
                (np.array([0, 1, 0, 0, 0, 1, 0, 0.0]),),
            ),
            Case(
                "two labels",
                (np.array([[1, 0], [0, 0], [1, 1], [0, 0], [0, 0.0]]),),
            ),
        ),
        oracle=_counting_pos_weight,
        hidden=_hidden_pos_weight,
        rtol=1e-12,
    ),
    Exercise(
        id="choosing-a-loss-3",
        task="expected calibration error over equal-width bins",
        solution=expected_calibration_error,
        cases=(
            Case(
                "perfectly calibrated in two bins",
                (
                    np.array(
                        [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75]
                    ),
                    np.array([1, 0, 0, 0, 1, 1, 1, 0.0]),
                ),
                {"bins": 2},
            ),
            Case(
                "over-confident",
                (
                    np.array([0.95, 0.95, 0.05, 0.05]),
                    np.array([1, 0, 0, 1.0]),
                ),
            ),
            Case(
                "ten bins",
                (
                    np.linspace(0.02, 0.98, 25),
                    (np.arange(25) % 3 == 0).astype(float),
                ),
            ),
            # "each closed on the right ((a, b], the first one [0, b])"
            Case(
                "probabilities on the edges, 4 bins",
                (
                    np.array([0.0, 0.25, 0.5, 0.75, 1.0, 0.6]),
                    np.array([0, 1, 0, 1, 1, 1.0]),
                ),
                {"bins": 4},
            ),
        ),
        oracle=_sklearn_calibration_error,
        hidden=_hidden_ece,
        rtol=1e-9,
        atol=1e-12,
    ),
)
