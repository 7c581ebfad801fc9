"""Exercises of the chapter "Why cross-entropy for classification"
(chapters/why-cross-entropy.ipynb)."""

from __future__ import annotations

from typing import Any

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise


def squared_error_sigmoid_grad(
    logits: ArrayLike,
    target: ArrayLike,
) -> NDArray[np.float64]:
    """Derivative of the squared error (sigmoid(z) - y)^2 with respect to
    z.

    Elementwise, as derived in the chapter (equation wce-se-sigmoid-grad);
    finite, without overflow warnings, for logits of +-1e4, and to a
    relative error of 1e-6 also where it is tiny but not 0 (a confident
    mistake).

    Parameters
    ----------
    logits : array of any shape
        Real scores z, float32 or float64.
    target : array of the shape of logits
        Labels y in {0, 1}, or soft labels in [0, 1].

    Returns
    -------
    array of float64 of the shape of logits.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)  # sigmoid(z)
    # sigmoid(-z), no cancellation
    q = np.where(z >= 0, e, 1.0) / (1.0 + e)
    # p - y = (1 - y) p - y q: exact for hard labels (one term is zero).
    return 2.0 * ((1.0 - y) * p - y * q) * p * q


def softmax_squared_error_grad(
    logits: ArrayLike,
    labels: ArrayLike,
) -> NDArray[np.float64]:
    """Gradient of squared error on softmax probabilities, w.r.t. logits.

    L = (1/N) sum_i sum_c (softmax(z_i)_c - t_ic)^2, with t_i the one-hot
    vector of the label y_i. The chain rule through the softmax, as a
    vector-Jacobian product: never form the C x C Jacobian. Finite for
    logits of +-1e4.

    Parameters
    ----------
    logits : array of shape (N, C)
        Real scores z, one row per example.
    labels : array of int of shape (N,)
        Class indices y in {0, ..., C - 1}.

    Returns
    -------
    array of float64 of shape (N, C): dL/dz.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    n = z.shape[0]
    e = np.exp(z - z.max(axis=1, keepdims=True))  # exponents <= 0
    p = e / e.sum(axis=1, keepdims=True)
    g = 2.0 * p
    g[np.arange(n), y] -= 2.0
    g /= n  # dL/dp = 2 (p - t) / N
    # The softmax Jacobian J is symmetric: J g = p (g - <g, p>).
    return p * (g - np.sum(g * p, axis=1, keepdims=True))


def vanishing_logit(threshold: float) -> float:
    """The logit of a mistake where squared error's gradient is threshold.

    For the label y = 1 and a logit z, the derivative of (sigmoid(z) - 1)^2
    has magnitude g(z) = 2 sigmoid(z) sigmoid(-z)^2. Left of z = -log(2)
    it rises monotonically from 0 (as z -> -inf) to its maximum 8/27 (at
    z = -log(2)). Return the one z < -log(2) with g(z) = threshold: every
    more confident mistake (smaller z) has a smaller gradient.

    Parameters
    ----------
    threshold : float
        In (0, 8/27), as small as 1e-320 (a subnormal float, where g
        itself keeps only a few digits).

    Returns
    -------
    float: the logit z, accurate to a few units in the last place.
    """
    log_t = np.log(threshold)

    def log_g(z: float) -> float:
        # z < 0: sigmoid(z) = e^z / (1 + e^z), sigmoid(-z) = 1 / (1 + e^z)
        return float(np.log(2.0) + z - 3.0 * np.log1p(np.exp(z)))

    # g(z) < 2 e^z: g < threshold at z = log(threshold / 2), and
    # g = 8/27 > threshold at z = -log 2. Bisect until no float lies
    # between the two.
    low, high = float(log_t - np.log(2.0)), float(-np.log(2.0))
    while True:
        middle = 0.5 * (low + high)
        if middle in (low, high):
            return high
        if log_g(middle) < log_t:
            low = middle
        else:
            high = middle


# --- Oracles: independent computations with the same arguments -----------


def _numerical_squared_error_sigmoid_grad(
    logits: ArrayLike, target: ArrayLike
) -> NDArray[np.float64]:
    """Central differences of the summed
    lossmod.mse(lossmod.sigmoid(z), y)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    return lossmod.numerical_gradient(
        lambda v: lossmod.mse(lossmod.sigmoid(v), y, reduction="sum"), z
    )


def _numerical_softmax_squared_error_grad(
    logits: ArrayLike, labels: ArrayLike
) -> NDArray[np.float64]:
    """Central differences of C * lossmod.mse(lossmod.softmax(z), one-hot):
    mse averages over all N C entries, the loss sums over the C classes."""
    z = np.asarray(logits, dtype=np.float64)
    n_classes = z.shape[1]
    onehot = np.eye(n_classes)[np.asarray(labels)]
    return lossmod.numerical_gradient(
        lambda v: (
            n_classes * lossmod.mse(lossmod.softmax(v, axis=1), onehot)
        ),
        z,
    )


def _mpmath_vanishing_logit(threshold: float) -> float:
    """Bisection of 2 sigmoid(z) sigmoid(-z)^2 = threshold, z < -log 2, in
    60-digit arithmetic (mpmath), whose exponent range has no underflow:
    g itself, not its log, even for a subnormal threshold (scipy's brentq
    on expit in float64 stops about 28 short of the root at 1e-320)."""
    import mpmath  # type: ignore[import-untyped]

    with mpmath.workdps(60):
        t = mpmath.mpf(threshold)  # exact: every float is an mpf

        def g(z: Any) -> Any:
            return 2 * mpmath.exp(z) / (1 + mpmath.exp(z)) ** 3

        # g(z) < 2 e^z: g < t at log(t / 2); g = 8/27 > t at -log 2.
        low, high = mpmath.log(t / 2) - 1, -mpmath.log(2)
        for _ in range(240):  # a bracket of under 800, to 1e-70
            middle = (low + high) / 2
            if g(middle) < t:
                low = middle
            else:
                high = middle
        return float(high)


# --- Hidden cases --------------------------------------------------------

_EXTREMES = np.array([-1e4, -1e3, -30.0, 30.0, 1e3, 1e4])


def _hidden_sigmoid_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    logits = rng.normal(0.0, 3.0, size=(3, 4))
    return (
        Case(
            "random logits and labels",
            (logits, rng.integers(0, 2, (3, 4)).astype(float)),
        ),
        Case("soft labels", (logits, rng.uniform(0.0, 1.0, (3, 4)))),
        Case("extreme logits, label 1", (_EXTREMES, np.ones(6))),
        Case("extreme logits, label 0", (_EXTREMES, np.zeros(6))),
        Case(
            "float32 logits of +-1e3",
            (np.array([-1e3, 1e3], dtype=np.float32), np.ones(2)),
        ),
    )


def _hidden_softmax_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "random, 6 examples, 4 classes",
            (rng.normal(0, 2, (6, 4)), rng.integers(0, 4, 6)),
        ),
        Case(
            "confident mistakes (+-30, +-1e3)",
            (
                np.array([[30.0, -30.0, 0.0], [-1e3, 1e3, 0.0]]),
                np.array([1, 0]),
            ),
        ),
        Case(
            "large logits close together",
            (
                np.array(
                    [[1e3, 1e3 - 1.0, 1e3 - 2.0], [-1e3, -1e3 + 0.5, -1e3]]
                ),
                np.array([2, 0]),
            ),
        ),
        Case(
            "logits of +-1e4",
            (np.array([[1e4, -1e4], [-1e4, 1e4]]), np.array([0, 0])),
        ),
    )


def _hidden_threshold_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    # 1e-300, 1e-320 and 0.29 (close to the maximum 8/27) are public cases
    return (
        Case("random threshold", (float(rng.uniform(1e-4, 0.25)),)),
        Case("1e-12", (1e-12,)),
        Case("1e-100", (1e-100,)),
    )


EXERCISES = (
    Exercise(
        id="why-cross-entropy-1",
        task="d/dz of squared error on sigmoid(z)",
        solution=squared_error_sigmoid_grad,
        cases=(
            Case(
                "three logits, label 1",
                (np.array([-3.0, 0.0, 2.0]), np.ones(3)),
            ),
            Case(
                "labels 0 and 1",
                (
                    np.array([[0.5, -1.0], [4.0, -6.0]]),
                    np.array([[0, 1], [1, 0]]),
                ),
            ),
            Case(
                "soft labels 0.2 and 0.7",
                (np.array([-1.5, 0.5, 2.0]), np.array([0.2, 0.7, 0.7])),
            ),
            # "finite, without overflow warnings, for logits of +-1e4",
            # in float32 or float64
            Case(
                "logits of +-1e4",
                (
                    np.array([-1e4, 1e4, -1e4, 1e4]),
                    np.array([0.0, 0.0, 1.0, 1.0]),
                ),
            ),
            Case(
                "float32 logits of +-1e4",
                (np.array([-1e4, 1e4], np.float32), np.array([1.0, 0.0])),
            ),
            # about +-2 e^-40 = 8.5e-18: 1 - sigmoid(40) is exactly 0, so
            # the subtraction loses the y = 0 mistake. atol 1e-20 asks for
            # this relative accuracy on mistakes down to |z| of about 40,
            # not on confident correct answers (2 e^-2|z|, where p - y by
            # subtraction keeps only a few digits)
            Case(
                "confident mistakes at z = +-40: tiny, not 0",
                (np.array([40.0, -40.0]), np.array([0.0, 1.0])),
            ),
        ),
        oracle=_numerical_squared_error_sigmoid_grad,
        hidden=_hidden_sigmoid_cases,
        rtol=1e-6,
        atol=1e-20,
        reimplements=("sigmoid", "log_sigmoid"),
    ),
    Exercise(
        id="why-cross-entropy-2",
        task="d/dz of squared error on softmax(z)",
        solution=softmax_squared_error_grad,
        cases=(
            Case(
                "two examples, three classes",
                (
                    np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]),
                    np.array([0, 2]),
                ),
            ),
            Case(
                "a confident mistake",
                (np.array([[8.0, 0.0, 0.0, 0.0]]), np.array([3])),
            ),
            # "keep it finite for logits of +-1e4"
            Case(
                "logits near 1000 and of +-1e4",
                (
                    np.array([[1000.0, 999.0, 998.0], [-1e4, 1e4, 0.0]]),
                    np.array([2, 0]),
                ),
            ),
        ),
        oracle=_numerical_softmax_squared_error_grad,
        hidden=_hidden_softmax_cases,
        rtol=1e-5,
        atol=1e-9,
        reimplements=("softmax", "log_softmax", "logsumexp"),
    ),
    Exercise(
        id="why-cross-entropy-3",
        task="where squared error's gradient falls to a threshold",
        solution=vanishing_logit,
        cases=(
            Case("threshold 1e-3", (1e-3,)),
            Case("threshold 1e-6", (1e-6,)),
            # "thresholds as small as 1e-320", and near the maximum
            Case("threshold 1e-300", (1e-300,)),
            # subnormal: g(z) itself has only about 3 significant digits
            # there, so a root of g (not of log g) is off by about 1e-6
            # relative (or by 28 if exp(-z) overflows, in expit)
            Case("threshold 1e-320, a subnormal number", (1e-320,)),
            Case("threshold 0.29, just below 8/27", (0.29,)),
        ),
        oracle=_mpmath_vanishing_logit,
        hidden=_hidden_threshold_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
)


WRITTEN = {
    "why-cross-entropy-4": (
        "squared error and cross-entropy are both proper scoring rules"
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
