"""Exercises of the chapter "Choosing a loss"
(chapters/choosing-a-loss.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise


def huber_delta(residuals: ArrayLike, efficiency: float = 0.95) -> float:
    """Huber's threshold delta = k * scale, with k chosen for a Gaussian
    efficiency.

    scale is the median absolute deviation of the residuals from their
    median, divided by Phi^{-1}(3/4) so that it estimates sigma when the
    noise is Gaussian. k is the threshold, in units of sigma, at which
    Huber's estimator of a location has the given asymptotic efficiency
    relative to the mean under standard normal noise: derive that
    efficiency as a function of k, then solve for k numerically.

    Parameters
    ----------
    residuals : array of shape (n,)
    efficiency : float
        The efficiency wanted, between 2 / pi and 1 (exclusive).

    Returns
    -------
    float: delta = k * scale.
    """
    from scipy import optimize, stats  # type: ignore[import-untyped]

    if not 2 / np.pi < efficiency < 1:
        raise ValueError(
            f"efficiency must be in (2/pi, 1); got {efficiency!r}"
        )

    def gaussian_efficiency(k: float) -> float:
        # E psi'(Z) = P(|Z| <= k); E psi(Z)^2 = the same minus the
        # tails' correction, by integrating z^2 phi(z) by parts
        inside = 2 * stats.norm.cdf(k) - 1
        square = (
            inside
            - 2 * k * stats.norm.pdf(k)
            + 2 * k**2 * stats.norm.sf(k)
        )
        return float(inside**2 / square)

    k = optimize.brentq(
        lambda t: gaussian_efficiency(t) - efficiency,
        1e-6,
        40.0,
        xtol=1e-14,
    )
    r = np.asarray(residuals, dtype=np.float64)
    mad = np.median(np.abs(r - np.median(r)))
    return float(k * mad / stats.norm.ppf(0.75))


def balanced_pos_weight(
    labels: ArrayLike, prior: float = 0.5
) -> float | NDArray[np.float64]:
    """The pos_weight with which binary cross-entropy treats the
    positives as if their frequency were prior.

    A model with only a bias b, trained by minimising
    bce_with_logits(b, labels, pos_weight=a), predicts sigma(b*) at its
    optimum. Return the a for which sigma(b*) = prior: derive sigma(b*)
    from the counts of positives and negatives first.

    Parameters
    ----------
    labels : array of 0/1 labels, shape (N,) or (N, C) for C independent
        labels (one weight per column); every column has positives and
        negatives
    prior : float
        In (0, 1).

    Returns
    -------
    a float for shape (N,), an array of shape (C,) for (N, C).
    """
    y = np.asarray(labels, dtype=np.float64)
    positives = y.sum(axis=0)
    negatives = len(y) - positives
    return prior * negatives / ((1 - prior) * positives)


def expected_calibration_error(
    probs: ArrayLike, labels: ArrayLike, bins: int = 10
) -> float:
    """Expected calibration error of binary probabilities over
    equal-width bins.

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
    labels_in = np.bincount(which, y, bins)
    gap = np.abs(labels_in - np.bincount(which, p, bins))
    return float(gap.sum() / len(p)) if count.sum() else 0.0


# --- Oracles: independent computations -----------------------------------


def _quadrature_huber_delta(
    residuals: ArrayLike, efficiency: float = 0.95
) -> float:
    """k from the efficiency by numerical integration against the normal
    density (no closed form), and scipy's normalised MAD."""
    from scipy import (
        integrate,
        optimize,
        stats,
    )

    def gaussian_efficiency(k: float) -> float:
        slope = integrate.quad(stats.norm.pdf, -k, k, epsabs=1e-14)[0]
        square = integrate.quad(
            lambda z: np.clip(z, -k, k) ** 2 * stats.norm.pdf(z),
            -np.inf,
            np.inf,
            points=None,
            epsabs=1e-14,
            epsrel=1e-13,
        )[0]
        return float(slope**2 / square)

    k = optimize.brentq(
        lambda t: gaussian_efficiency(t) - efficiency,
        0.01,
        10.0,
        xtol=1e-13,
    )
    return float(
        k
        * stats.median_abs_deviation(np.asarray(residuals), scale="normal")
    )


def _fitted_probability(y: NDArray[np.float64], a: float) -> float:
    """sigma(b*) for the bias-only model, b* the root of the gradient of
    lossmod's weighted BCE."""
    from scipy import optimize

    def slope(b: float) -> float:
        logits = np.full(len(y), b)
        return float(
            lossmod.bce_with_logits_grad(logits, y, pos_weight=a).sum()
        )

    b = optimize.brentq(slope, -60.0, 60.0, xtol=1e-14)
    return float(lossmod.sigmoid(np.array(b)))


def _search_pos_weight(
    labels: ArrayLike, prior: float = 0.5
) -> float | NDArray[np.float64]:
    """The a that makes the bias-only model predict prior, found by root
    finding over log a (no formula)."""
    from scipy import optimize

    y = np.asarray(labels, dtype=np.float64)
    if y.ndim == 2:
        return np.array([_search_pos_weight(c, prior) for c in y.T])
    t = optimize.brentq(
        lambda t: _fitted_probability(y, float(np.exp(t))) - prior,
        -30.0,
        30.0,
        xtol=1e-12,
    )
    return float(np.exp(t))


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
        Case(
            "64 normal residuals, efficiency 0.99",
            (rng.normal(size=64),),
            {"efficiency": 0.99},
        ),
        Case(
            "efficiency 0.7, near the median's 2/pi",
            (rng.normal(size=64),),
            {"efficiency": 0.7},
        ),
    )


def _hidden_pos_weight(rng: np.random.Generator) -> tuple[Case, ...]:
    rare = (rng.random(10_000) < 0.01).astype(float)
    rare[0] = 1.0
    multi = (rng.random((500, 4)) < [0.5, 0.1, 0.02, 0.9]).astype(float)
    multi[0] = 1.0
    multi[1] = 0.0
    return (
        Case("1% positives", (rare,)),
        Case("four labels", (multi,)),
        Case("1% positives, prior 0.1", (rare,), {"prior": 0.1}),
        Case("four labels, prior 0.2", (multi,), {"prior": 0.2}),
    )


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
        task="Huber's delta for a chosen Gaussian efficiency",
        solution=huber_delta,
        cases=(
            Case(
                "small sample, efficiency 0.95",
                (np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 40.0]),),
            ),
            # the text's claim: 95% efficiency at k = 1.345, so delta is
            # 1.345 times the scale (here 1.4826 * 1)
            Case(
                "scale 1.4826: delta about 1.345 * 1.4826",
                (np.array([-1.0, 0.0, 1.0]),),
            ),
            Case(
                "efficiency 0.99",
                (np.array([1.0, 2.0, 3.0, 4.0, 100.0]),),
                {"efficiency": 0.99},
            ),
            Case(
                "efficiency 0.9",
                (np.array([1.0, 2.0, 3.0, 4.0, 100.0]),),
                {"efficiency": 0.9},
            ),
        ),
        oracle=_quadrature_huber_delta,
        hidden=_hidden_delta,
        rtol=5e-6,  # 1.4826 written out is within 2e-6
    ),
    Exercise(
        id="choosing-a-loss-2",
        task="the pos_weight that makes the positives' frequency a prior",
        solution=balanced_pos_weight,
        cases=(
            Case(
                "one in four positive",
                (np.array([0, 1, 0, 0, 0, 1, 0, 0.0]),),
            ),
            Case(
                "one in four positive, prior 1/4: no reweighting",
                (np.array([0, 1, 0, 0, 0, 1, 0, 0.0]),),
                {"prior": 0.25},
            ),
            Case(
                "one in four positive, prior 0.9",
                (np.array([0, 1, 0, 0, 0, 1, 0, 0.0]),),
                {"prior": 0.9},
            ),
            Case(
                "two labels",
                (np.array([[1, 0], [0, 1], [1, 1], [0, 0], [0, 0.0]]),),
            ),
        ),
        oracle=_search_pos_weight,
        hidden=_hidden_pos_weight,
        rtol=1e-7,
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
