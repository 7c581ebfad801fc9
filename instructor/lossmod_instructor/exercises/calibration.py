"""Exercises of the chapter "Calibration and proper scoring rules"
(chapters/calibration.ipynb)."""

from __future__ import annotations

import math

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise


def minimising_forecast(
    rule: str,
    eta: ArrayLike,
) -> NDArray[np.float64]:
    """The forecast q in [0, 1] that minimises a scoring rule's expected
    score, for an event of probability eta.

    The event is y = 1 with probability eta, y = 0 otherwise, and the
    forecaster announces q, the probability of y = 1. The rules, as
    losses (smaller is better):
        "log":      S(q, y) = -log(q) if y = 1, -log(1 - q) if y = 0
        "brier":    S(q, y) = (q - y)^2
        "absolute": S(q, y) = |q - y|
        "quartic":  S(q, y) = (q - y)^4
    The expected score is eta S(q, 1) + (1 - eta) S(q, 0).

    Parameters
    ----------
    rule : str
        "log", "brier", "absolute" or "quartic".
    eta : array of shape (n,)
        Probabilities of the event, in (0, 1) (never exactly 1/2).

    Returns
    -------
    array of float64 of shape (n,): the minimising forecasts.
    """
    p = np.asarray(eta, dtype=np.float64)
    if rule in ("log", "brier"):
        return p.copy()  # proper: the truth is the best forecast
    if rule == "absolute":
        # eta (1 - q) + (1 - eta) q is linear in q: an end point wins
        return (p > 0.5).astype(np.float64)
    # -4 eta (1 - q)^3 + 4 (1 - eta) q^3 = 0:
    # (q / (1 - q))^3 = eta / (1 - eta)
    a, b = np.cbrt(p), np.cbrt(1.0 - p)
    return np.asarray(a / (a + b), dtype=np.float64)


def calibrated_ece_bias(confidence: float, n: int) -> float:
    """The expected ECE of a calibrated model with n examples in one
    bin.

    Every one of the n examples gets the confidence c, and each is right
    with probability c, independently: the model is calibrated. With one
    bin, its ECE is |K / n - c|, K the number right. Return the
    expectation of that ECE over the draw of K, exactly (no simulation).

    Parameters
    ----------
    confidence : float
        c, in (0, 1).
    n : int
        The number of examples, >= 1.

    Returns
    -------
    float: E |K / n - c| for K ~ Binomial(n, c).
    """
    from scipy.stats import binom  # type: ignore[import-untyped]

    k = np.arange(n + 1)
    probability = binom.pmf(k, n, confidence)
    return float(np.sum(probability * np.abs(k / n - confidence)))


def fit_temperature_newton(
    logits: ArrayLike,
    labels: ArrayLike,
) -> float:
    """Temperature scaling by Newton's method: the T > 0 minimising the
    mean cross-entropy of softmax(logits / T).

    Write b = 1 / T and f(b) = mean_i [logsumexp(b z_i) - b z_{i, y_i}].
    Find the root of f'(b) with Newton's method on s = log b (so that b
    stays positive), using f''(b). Stop when the step in s is below
    1e-12 (or after 100 steps); the logits given always have a finite
    best T.

    Parameters
    ----------
    logits : array of shape (N, C)
        Finite logits of validation examples.
    labels : array of int of shape (N,)
        Their classes, in [0, C - 1].

    Returns
    -------
    float: the temperature T.
    """
    from scipy.special import softmax  # type: ignore[import-untyped]

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    true = z[np.arange(len(y)), y]

    def slope_and_curvature(s: float) -> tuple[float, float]:
        b = math.exp(s)
        p = softmax(b * z, axis=1)
        mean = np.sum(p * z, axis=1)  # E_p[z]
        variance = np.sum(p * (z - mean[:, None]) ** 2, axis=1)
        # f'(b) = mean(E_p[z] - z_y), f''(b) = mean(Var_p[z]) >= 0
        return float(np.mean(mean - true)), float(np.mean(variance))

    s, low, high = 0.0, -math.inf, math.inf
    for _ in range(100):
        slope, curvature = slope_and_curvature(s)
        if slope < 0:  # f' increases in s: the root is to the right
            low = s
        else:
            high = s
        # d f'(e^s) / ds = e^s f''(e^s), 0 if every softmax is one-hot
        derivative = math.exp(s) * curvature
        new = s - slope / derivative if derivative > 0 else math.nan
        if not low < new < high:  # Newton left the bracket (or nan)
            if math.isinf(low) or math.isinf(high):
                new = s + (1.0 if slope < 0 else -1.0)
            else:
                new = 0.5 * (low + high)
        if abs(new - s) < 1e-12:
            return math.exp(-new)
        s = new
    return math.exp(-s)


def equal_mass_ece(
    probs: ArrayLike, labels: ArrayLike, n_bins: int
) -> float:
    """Expected calibration error with equal-mass (quantile) bins.

    The confidence of an example is its largest probability; it is right
    when that class (the first, if tied) is its label. The bin edges are
    the quantiles
    np.percentile(confidence, np.linspace(0, 1, n_bins + 1) * 100);
    bin b holds the confidences in (edges[b], edges[b + 1]], the first
    bin also its left edge. ECE = sum over the non-empty bins of
    (examples in the bin / N) * |accuracy - mean confidence| in the bin.

    Parameters
    ----------
    probs : array of shape (N, C)
        Predicted distributions (rows summing to 1).
    labels : array of int of shape (N,)
        True classes.
    n_bins : int
        Number of bins, >= 1.

    Returns
    -------
    float in [0, 1].
    """
    p = np.asarray(probs, dtype=np.float64)
    confidence = p.max(axis=1)
    correct = np.argmax(p, axis=1) == np.asarray(labels)
    quantiles = np.linspace(0, 1, n_bins + 1) * 100
    edges = np.percentile(confidence, quantiles)
    bins = np.searchsorted(edges[1:-1], confidence)  # (lo, hi]
    total = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            gap = correct[inside].mean() - confidence[inside].mean()
            total += inside.sum() / len(p) * abs(gap)
    return total


def smoothed_logit_gap(epsilon: float, n_classes: int) -> float:
    """The logit gap that label smoothing trains towards, for an example
    whose class is certain.

    A model trained with cross_entropy(..., label_smoothing=epsilon) on
    C classes, on an example whose label is always y, reaches the logits
    z that minimise that loss. Return z_y - z_c at the minimum, for any
    other class c (they are all equal there).

    Parameters
    ----------
    epsilon : float
        The label smoothing, in (0, 1).
    n_classes : int
        C >= 2.

    Returns
    -------
    float: z_y - z_c.
    """
    # the minimiser is p = (1 - eps) onehot + eps / C
    top = 1.0 - epsilon + epsilon / n_classes
    return math.log(top / (epsilon / n_classes))


# -------------------------------------------------------------------------
# Oracles: independent computations of the same results


def _numerical_minimiser(rule: str, eta: ArrayLike) -> NDArray[np.float64]:
    """scipy's bounded minimiser of each expected score."""
    from scipy import optimize  # type: ignore[import-untyped]

    def score(q: float, y: int) -> float:
        miss = abs(q - y)
        if rule == "log":
            return float(-np.log(1.0 - miss))
        return float(
            miss ** {"brier": 2, "absolute": 1, "quartic": 4}[rule]
        )

    best = []
    for p in np.asarray(eta, dtype=np.float64):
        result = optimize.minimize_scalar(
            lambda q, p=p: p * score(q, 1) + (1 - p) * score(q, 0),
            bounds=(1e-13, 1.0 - 1e-13),
            method="bounded",
            options={"xatol": 1e-13},
        )
        best.append(result.x)
    return np.array(best)


def _mean_absolute_deviation(confidence: float, n: int) -> float:
    """De Moivre's closed form of E |K - n c| for K ~ Binomial(n, c),
    divided by n: 2 k C(n, k) c^k (1 - c)^(n - k + 1) / n with
    k = floor(n c) + 1, in log space."""
    c = confidence
    from scipy.special import gammaln

    k = math.floor(n * c) + 1
    if k > n:  # n c = n: K = n always
        return 0.0
    log_term = (
        math.log(2 * k)
        + gammaln(n + 1)
        - gammaln(k + 1)
        - gammaln(n - k + 1)
        + k * math.log(c)
        + (n - k + 1) * math.log1p(-c)
    )
    return math.exp(log_term) / n


def _scipy_temperature(logits: ArrayLike, labels: ArrayLike) -> float:
    """scipy's bounded minimiser of the cross-entropy over log T."""
    from scipy import optimize, special

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)

    def loss(s: float) -> float:
        scaled = z / math.exp(s)
        rows = np.arange(len(y))
        terms = special.logsumexp(scaled, axis=1) - scaled[rows, y]
        return float(np.mean(terms))

    result = optimize.minimize_scalar(
        loss,
        bounds=(-12.0, 12.0),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return math.exp(result.x)


def _sklearn_equal_mass_ece(
    probs: ArrayLike, labels: ArrayLike, n_bins: int
) -> float:
    """scikit-learn's calibration_curve (strategy="quantile") for the
    bins' accuracies and confidences, np.histogram of the same edges
    (right-closed, by negating) for their counts."""
    from sklearn.calibration import (  # type: ignore[import-untyped]
        calibration_curve,
    )

    p = np.asarray(probs, dtype=np.float64)
    confidence = p.max(axis=1)
    correct = (np.argmax(p, axis=1) == np.asarray(labels)).astype(int)
    if correct.min() == correct.max():  # one class: calibration_curve
        return float(abs(correct.mean() - confidence.mean()))
    accuracy, mean_confidence = calibration_curve(
        correct, confidence, n_bins=n_bins, strategy="quantile"
    )
    edges = np.percentile(confidence, np.linspace(0, 1, n_bins + 1) * 100)
    # (lo, hi] bins are [-hi, -lo) bins of -confidence
    inner = -edges[1:-1][::-1]
    ids = (n_bins - 1) - np.searchsorted(inner, -confidence, side="right")
    counts = np.bincount(ids, minlength=n_bins)
    counts = counts[counts > 0]
    gaps = np.abs(accuracy - mean_confidence)
    return float(np.sum(counts / len(p) * gaps))


def _optimised_gap(epsilon: float, n_classes: int) -> float:
    """Minimise lossmod.cross_entropy with label smoothing over one row
    of logits (z_0 = 0 fixed), with scipy; return z_y - z_c."""
    from scipy import optimize

    def loss(free: NDArray[np.float64]) -> float:
        z = np.concatenate([[0.0], free])[None, :]
        return float(
            lossmod.cross_entropy(
                z, np.array([0]), label_smoothing=epsilon
            )
        )

    def grad(free: NDArray[np.float64]) -> NDArray[np.float64]:
        z = np.concatenate([[0.0], free])[None, :]
        g = lossmod.cross_entropy_grad(
            z, np.array([0]), label_smoothing=epsilon
        )
        return np.asarray(g[0, 1:], dtype=np.float64)

    start = np.full(n_classes - 1, -1.0)
    best = optimize.minimize(
        loss, start, jac=grad, method="BFGS", options={"gtol": 1e-13}
    )
    return float(-np.mean(best.x))


# -------------------------------------------------------------------------
# Hidden cases, for the instructor's grader


def _model_probabilities(
    rng: np.random.Generator, n: int, c: int, sharpen: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Labels drawn from softmax(z), and probabilities softmax(sharpen z)
    (overconfident for sharpen > 1)."""
    from scipy import special

    z = rng.normal(0.0, 1.5, size=(n, c))
    cumulative = np.cumsum(special.softmax(z, axis=1), axis=1)
    draws = rng.uniform(size=(n, 1))
    labels = np.minimum((draws > cumulative).sum(axis=1), c - 1)
    return special.softmax(sharpen * z, axis=1), labels.astype(np.int64)


def _hidden_forecast_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    eta = rng.uniform(0.02, 0.98, size=12)
    eta = eta[np.abs(eta - 0.5) > 0.02]
    edges = np.array([1e-4, 0.01, 0.49, 0.51, 0.99, 1 - 1e-4])
    return tuple(
        Case(f"{rule}, {label}", (rule, values))
        for rule in ("log", "brier", "absolute", "quartic")
        for label, values in (("random", eta), ("near the ends", edges))
    )


def _hidden_bias_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("random c, n = 37", (float(rng.uniform(0.3, 0.99)), 37)),
        Case("c = 0.99, n = 50 000", (0.99, 50_000)),
        Case("c = 0.5, n = 1", (0.5, 1)),
        Case("c = 0.7, n = 10 (n c an integer)", (0.7, 10)),
    )


def _hidden_temperature_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    probs, labels = _model_probabilities(rng, 300, 5, 1.0)
    logits = np.log(probs)
    return (
        Case("overconfident, 5 classes", (3.0 * logits, labels)),
        Case("underconfident", (0.4 * logits, labels)),
        Case("logits 100 times too large", (100.0 * logits, labels)),
        Case(
            "float32 logits",
            ((2.0 * logits).astype(np.float32), labels),
        ),
    )


def _hidden_ece_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    probs, labels = _model_probabilities(rng, 400, 3, 2.5)
    tied = np.repeat(np.array([[0.6, 0.4], [0.9, 0.1]]), 50, axis=0)
    tied_labels = np.tile(np.array([0, 1]), 50)
    return (
        Case("400 overconfident, 8 bins", (probs, labels, 8)),
        Case("one bin", (probs, labels, 1)),
        Case(
            "more bins than distinct confidences", (tied, tied_labels, 10)
        ),
        Case("20 bins", (probs[:100], labels[:100], 20)),
    )


def _hidden_gap_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("epsilon 0.3, 7 classes", (0.3, 7)),
        Case("epsilon 0.01, 100 classes", (0.01, 100)),
        Case("epsilon 0.9, 2 classes", (0.9, 2)),
    )


_probs, _labels = _model_probabilities(
    np.random.default_rng(7), 60, 3, 2.0
)

EXERCISES = (
    Exercise(
        id="calibration-1",
        task="the forecast that minimises a scoring rule's expectation",
        solution=minimising_forecast,
        cases=tuple(
            Case(rule, (rule, np.array([0.1, 0.3, 0.7, 0.9])))
            for rule in ("log", "brier", "absolute", "quartic")
        ),
        oracle=_numerical_minimiser,
        hidden=_hidden_forecast_cases,
        rtol=1e-6,
        atol=1e-6,
    ),
    Exercise(
        id="calibration-2",
        task="the expected ECE of a calibrated model, one bin of n",
        solution=calibrated_ece_bias,
        cases=(
            Case("c = 0.8, n = 10", (0.8, 10)),
            Case("c = 0.8, n = 100", (0.8, 100)),
            Case("c = 0.8, n = 1000", (0.8, 1000)),
            Case("c = 0.95, n = 200", (0.95, 200)),
        ),
        oracle=_mean_absolute_deviation,
        hidden=_hidden_bias_cases,
        rtol=1e-9,
        atol=1e-14,
    ),
    Exercise(
        id="calibration-3",
        task="temperature scaling by Newton's method on log(1/T)",
        solution=fit_temperature_newton,
        cases=(
            Case("overconfident logits", (2.0 * np.log(_probs), _labels)),
            Case("calibrated logits", (np.log(_probs) / 2.0, _labels)),
            Case(
                "two examples",
                (np.array([[2.0, 0.0], [1.0, 0.0]]), np.array([0, 1])),
            ),
        ),
        oracle=_scipy_temperature,
        hidden=_hidden_temperature_cases,
        rtol=1e-6,
        atol=0.0,
        reimplements=("fit_temperature",),
    ),
    Exercise(
        id="calibration-4",
        task="expected calibration error with equal-mass bins",
        solution=equal_mass_ece,
        cases=(
            Case("60 examples, 3 bins", (_probs, _labels, 3)),
            Case("60 examples, 10 bins", (_probs, _labels, 10)),
            Case(
                "four examples, 2 bins",
                (
                    np.array(
                        [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
                    ),
                    np.array([0, 1, 1, 0]),
                    2,
                ),
            ),
        ),
        oracle=_sklearn_equal_mass_ece,
        hidden=_hidden_ece_cases,
        rtol=1e-9,
        atol=1e-12,
        reimplements=("expected_calibration_error", "reliability_curve"),
    ),
    Exercise(
        id="calibration-5",
        task="the logit gap that label smoothing trains towards",
        solution=smoothed_logit_gap,
        cases=(
            Case("epsilon 0.1, 4 classes", (0.1, 4)),
            Case("epsilon 0.1, 10 classes", (0.1, 10)),
            Case("epsilon 0.5, 3 classes", (0.5, 3)),
        ),
        oracle=_optimised_gap,
        hidden=_hidden_gap_cases,
        rtol=1e-6,
        atol=1e-9,
    ),
)

WRITTEN = {
    "calibration-6": (
        "show the cross-entropy is convex in 1/T; is it convex in log T?"
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
