"""Exercises of the chapter "Softmax and categorical cross-entropy"
(chapters/cross-entropy.ipynb)."""

from __future__ import annotations

import math
from typing import Any

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise, library_oracle

# -------------------------------------------------------------------------
# cross-entropy-1: a stable log-softmax


def log_softmax_stable(logits: ArrayLike) -> NDArray[np.float64]:
    """Log-softmax along the last axis, finite for every finite logit.

    Formula: log softmax(z)_c = z_c - log(sum_j exp(z_j)). Written as it
    stands it overflows (exp(1000) is inf in float64, exp(89) in float32),
    and log(softmax(z)) gives -inf once a probability underflows to 0.

    Parameters
    ----------
    logits : array of shape (..., C)
        Finite real scores, float32 or float64; classes on the last axis.

    Returns
    -------
    array of float64, shape (..., C): every entry <= 0, and the
    exponentials of each slice along the last axis sum to 1.
    """
    z = np.asarray(logits, dtype=np.float64)
    # every exponent <= 0: nothing overflows
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(
        np.sum(np.exp(shifted), axis=-1, keepdims=True)
    )


def _scipy_log_softmax(logits: ArrayLike) -> NDArray[np.float64]:
    """scipy.special.log_softmax along the last axis, in float64: the
    oracle."""
    from scipy.special import log_softmax  # type: ignore[import-untyped]

    return np.asarray(
        log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    )


def _hidden_log_softmax_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    return (
        Case("logits around +1e3", (1e3 + rng.normal(size=(4, 5)),)),
        Case("logits around -1e3", (-1e3 + rng.normal(size=(4, 5)),)),
        Case(
            "logits of size 1e4, both signs",
            (1e4 * rng.normal(size=(3, 6)),),
        ),
        Case(
            "float32 logits near 89 (exp overflows in float32)",
            ((89.0 + rng.normal(size=(3, 4))).astype(np.float32),),
        ),
        Case(
            "float32 logits of size 1e4",
            ((1e4 * rng.normal(size=(3, 4))).astype(np.float32),),
        ),
        Case("all logits equal: -log C", (np.full((2, 7), 3.5),)),
        Case("a single class", (rng.normal(size=(3, 1)),)),
        Case("a batch of shape (2, 3, 4)", (rng.normal(size=(2, 3, 4)),)),
        Case("one vector of 1000 classes", (5.0 * rng.normal(size=1000),)),
    )


# -------------------------------------------------------------------------
# cross-entropy-2: mean cross-entropy for class-index targets


def mean_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> float:
    """Mean cross-entropy of softmax(logits) against class indices.

    L = (1/N) sum_i -log softmax(z_i)_{y_i}, the mean over the N examples.
    It must stay finite for logits of any size, and keep the relative
    accuracy of a small loss: a confident correct answer (the true logit
    far ahead of the others) has a loss far below the spacing of floats
    near 1, which must not be rounded to 0.

    Parameters
    ----------
    logits : array of shape (N, C)
        Finite scores, one row per example.
    labels : array of int, shape (N,)
        The true class of each example, in {0, ..., C - 1}.

    Returns
    -------
    float: the mean loss, >= 0.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    rows = np.arange(len(y))
    top = np.argmax(z, axis=1)
    m = z[rows, top]
    # sum_j exp(z_ij - m_i) = 1 + r_i, the 1 from the largest logit: r_i is
    # the sum of the others, and log(1 + r_i) = log1p(r_i) keeps a tiny r_i
    others = np.exp(z - m[:, None])
    others[rows, top] = 0.0
    r = np.sum(others, axis=1)
    # -log p_iy = (m_i - z_iy) + log1p(r_i): two non-negative terms
    per_example = (m - z[rows, y]) + np.log1p(r)
    return float(np.mean(per_example))


def _around_1e3(
    rng: np.random.Generator, labels: NDArray[Any]
) -> tuple[Case, Case]:
    """Logits near +1e3 and near -1e3: a naive exp overflows or
    underflows on every row."""
    return (
        Case(
            "logits around +1e3", (1e3 + rng.normal(size=(6, 5)), labels)
        ),
        Case(
            "logits around -1e3", (-1e3 + rng.normal(size=(6, 5)), labels)
        ),
    )


def _hidden_cross_entropy_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    labels = rng.integers(0, 5, size=6)
    return (
        *_around_1e3(rng, labels),
        Case(
            "logits of size 1e4, both signs",
            (1e4 * rng.normal(size=(6, 5)), labels),
        ),
        Case(
            "float32 logits of size 1e4",
            ((1e4 * rng.normal(size=(6, 5))).astype(np.float32), labels),
        ),
        Case(
            "confidently right: loss near 0",
            (1e2 * np.eye(5)[labels], labels),
        ),
        Case(
            "confidently wrong by 1e4",
            (1e4 * np.eye(5)[(labels + 1) % 5], labels),
        ),
        Case(
            "two classes",
            (rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)),
        ),
        Case(
            "one example, 1000 classes",
            (3.0 * rng.normal(size=(1, 1000)), np.array([17])),
        ),
    )


# -------------------------------------------------------------------------
# cross-entropy-3: its gradient with respect to the logits


def mean_cross_entropy_grad(
    logits: ArrayLike, labels: ArrayLike
) -> NDArray[np.float64]:
    """Gradient of the mean cross-entropy (cross-entropy-2) in the logits.

    The derivative of L by every logit z_ic: derive it, then compute it
    without overflow for logits of any size.

    Parameters
    ----------
    logits : array of shape (N, C)
        Finite scores, one row per example.
    labels : array of int, shape (N,)
        The true class of each example, in {0, ..., C - 1}.

    Returns
    -------
    array of float64, shape (N, C): each row sums to 0.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    n = len(y)
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    # softmax, one row per example
    grad = e / np.sum(e, axis=1, keepdims=True)
    grad[np.arange(n), y] -= 1.0  # minus the one-hot target
    return grad / n


def _numerical_cross_entropy_grad(
    logits: ArrayLike, labels: ArrayLike
) -> NDArray[np.float64]:
    """Central differences of lossmod.cross_entropy: the oracle."""
    y = np.asarray(labels)
    return lossmod.numerical_gradient(
        lambda z: lossmod.cross_entropy(z, y), logits
    )


def _hidden_gradient_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    # Central differences step by 1e-6 * max(1, |z|): large logits are kept
    # away from 0 so that the rounding error of a loss near 1e4 stays far
    # below the tolerance.
    labels = rng.integers(0, 5, size=6)
    large = rng.choice([-1.0, 1.0], size=(6, 5)) * rng.uniform(
        1e3, 1e4, size=(6, 5)
    )
    return (
        *_around_1e3(rng, labels),
        Case(
            "logits between 1e3 and 1e4 in size, both signs",
            (large, labels),
        ),
        Case(
            "float32 logits of that size",
            (large.astype(np.float32), labels),
        ),
        Case(
            "confidently right: gradient near 0",
            (1e2 * np.eye(5)[labels], labels),
        ),
        Case(
            "two classes",
            (rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)),
        ),
        Case(
            "one example, 1000 classes",
            (3.0 * rng.normal(size=(1, 1000)), np.array([17])),
        ),
    )


# -------------------------------------------------------------------------
# cross-entropy-4: the optimal logit gap under label smoothing


def smoothed_optimal_gap(num_classes: int, smoothing: float) -> float:
    """The gap z_y - z_k (k != y) at the minimum of the smoothed loss.

    The label-smoothed target puts 1 - smoothing + smoothing / C on the
    true class y and smoothing / C on each of the other C - 1 classes.
    Without smoothing the gap grows without bound; with it the
    cross-entropy has a minimiser, and this function returns its gap.

    Parameters
    ----------
    num_classes : int
        C >= 2.
    smoothing : float
        The label-smoothing parameter, in (0, 1].

    Returns
    -------
    float: the gap, >= 0 (0 for smoothing = 1: a uniform target).
    """
    c, eps = num_classes, smoothing
    # softmax(z*) equals the smoothed target, so the gap is
    # log((1 - eps + eps/C) / (eps/C)).
    return math.log1p(c * (1.0 - eps) / eps)


def _root_of_smoothed_gradient(
    num_classes: int, smoothing: float
) -> float:
    """The oracle: with the wrong logits at 0 (they are equal at the
    minimum, by symmetry), find the true-class logit g where
    lossmod.cross_entropy_grad vanishes, with scipy's brentq."""
    from scipy.optimize import brentq  # type: ignore[import-untyped]

    def slope(g: float) -> float:
        logits = np.zeros((1, num_classes))
        logits[0, 0] = g
        grad = lossmod.cross_entropy_grad(
            logits, np.array([0]), label_smoothing=smoothing
        )
        return float(grad[0, 0])

    return float(brentq(slope, -1.0, 100.0, xtol=1e-13))


def _hidden_gap_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("two classes, smoothing 0.2", (2, 0.2)),
        Case("1000 classes, smoothing 0.1", (1000, 0.1)),
        Case("ten classes, smoothing 1e-6", (10, 1e-6)),
        Case("smoothing 1: a uniform target", (7, 1.0)),
        Case("smoothing 0.999", (5, 0.999)),
        Case(
            "random C and smoothing",
            (int(rng.integers(3, 200)), float(rng.uniform(0.01, 0.5))),
        ),
    )


# -------------------------------------------------------------------------
# cross-entropy-5: the range of the loss when softmax is applied twice


def double_softmax_loss_range(num_classes: int) -> NDArray[np.float64]:
    """The range of the cross-entropy when logits are probabilities.

    If a model's outputs p are already probabilities (a softmax layer) and
    the loss applies softmax again, the loss is
    l(p, y) = logsumexp(p) - p_y with p in the probability simplex. This
    function returns the minimum and the maximum of l over all such p.

    Parameters
    ----------
    num_classes : int
        C >= 2.

    Returns
    -------
    array of float64, shape (2,): [smallest loss, largest loss].
    """
    c = num_classes
    # logsumexp at any one-hot p
    worst_and_best_lse = math.log(c - 1 + math.e)
    return np.array([worst_and_best_lse - 1.0, worst_and_best_lse])


def _loss_at_vertices(num_classes: int) -> NDArray[np.float64]:
    """The oracle: lossmod.cross_entropy at every one-hot p
    (the vertices of the simplex), the smallest and the largest value."""
    losses = lossmod.cross_entropy(
        np.eye(num_classes),
        np.zeros(num_classes, dtype=int),
        reduction="none",
    )
    return np.array([np.min(losses), np.max(losses)])


def _hidden_range_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    low, high = (int(c) for c in rng.integers(3, 300, size=2))
    return (
        Case("three classes", (3,)),
        Case("100 classes", (100,)),
        Case("1000 classes", (1000,)),
        Case(f"{low} classes", (low,)),
        Case(f"{high} classes (second draw)", (high,)),
    )


_LOGITS = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
_LABELS = np.array([0, 2])
# rows 1.1e4 apart: shifted by the largest logit of the batch, the
# second row's exponentials all underflow to 0
_FAR_ROWS = np.array([[1e4, 0.0, -1e4], [-1e3, -999.0, -998.0]])

EXERCISES = (
    Exercise(
        id="cross-entropy-1",
        task="a stable log-softmax",
        solution=log_softmax_stable,
        cases=(
            Case("small logits", (_LOGITS,)),
            Case(
                "logits 1000, 999, 998 (exp overflows)",
                (np.array([1000.0, 999.0, 998.0]),),
            ),
            Case(
                "a probability that underflows to 0",
                (np.array([[0.0, -1000.0, 5.0]]),),
            ),
            # "in float32 as in float64": exp(89) overflows in float32
            Case(
                "float32 logits near 100",
                (np.array([[100.0, 99.0, 97.0]], np.float32),),
            ),
            # one shift per slice: the batch's maximum is not enough
            Case("rows 1.1e4 apart", (_FAR_ROWS,)),
            Case(
                "a batch of shape (2, 2, 3)",
                (np.arange(12.0).reshape(2, 2, 3) / 2.0 - 3.0,),
            ),
        ),
        oracle=_scipy_log_softmax,
        hidden=_hidden_log_softmax_cases,
        rtol=1e-5,
        atol=1e-6,
    ),
    Exercise(
        id="cross-entropy-2",
        task=(
            "mean cross-entropy for class indices, accurate for small "
            "losses"
        ),
        solution=mean_cross_entropy,
        cases=(
            Case("two examples, three classes", (_LOGITS, _LABELS)),
            Case(
                "equal logits: log C",
                (np.zeros((4, 10)), np.array([0, 3, 9, 5])),
            ),
            Case("logits near 1000", (_LOGITS + 1000.0, _LABELS)),
            Case(
                "confidently wrong",
                (np.array([[800.0, 0.0, -800.0]]), np.array([2])),
            ),
            # logsumexp(z) - z_y rounds the small loss to a multiple of
            # 1.1e-13, the spacing of floats near 1000
            Case(
                "confidently right at 1000: loss 1.4e-11",
                (np.array([[1000.0, 975.0]]), np.array([0])),
            ),
            # log(1 + r) rounds to 0 once r < 1.1e-16: the log1p form
            Case(
                "confidently right by 40, ten classes: loss 3.8e-17",
                (np.array([[40.0] + [0.0] * 9]), np.array([0])),
            ),
        ),
        oracle=library_oracle(lossmod.cross_entropy),
        hidden=_hidden_cross_entropy_cases,
        # relative accuracy for every loss, the tiny ones too
        rtol=1e-6,
        atol=0.0,
        reimplements=("cross_entropy", "log_softmax", "logsumexp"),
    ),
    Exercise(
        id="cross-entropy-3",
        task=(
            "gradient of the mean cross-entropy with respect to the logits"
        ),
        solution=mean_cross_entropy_grad,
        cases=(
            Case("two examples, three classes", (_LOGITS, _LABELS)),
            Case("equal logits", (np.zeros((2, 4)), np.array([1, 3]))),
            Case("logits near 1000", (_LOGITS + 1000.0, _LABELS)),
            Case("rows 1.1e4 apart", (_FAR_ROWS, np.array([1, 0]))),
        ),
        oracle=_numerical_cross_entropy_grad,
        hidden=_hidden_gradient_cases,
        rtol=1e-6,
        atol=1e-8,
        reimplements=("cross_entropy_grad",),
    ),
    Exercise(
        id="cross-entropy-4",
        task="the optimal logit gap under label smoothing",
        solution=smoothed_optimal_gap,
        cases=(
            Case("ten classes, smoothing 0.1", (10, 0.1)),
            Case("three classes, smoothing 0.3", (3, 0.3)),
            # "0 for smoothing = 1: a uniform target"
            Case("four classes, smoothing 1", (4, 1.0)),
        ),
        oracle=_root_of_smoothed_gradient,
        hidden=_hidden_gap_cases,
        rtol=1e-7,
        atol=1e-9,
    ),
    Exercise(
        id="cross-entropy-5",
        task="the range of the loss when softmax is applied twice",
        solution=double_softmax_loss_range,
        cases=(
            Case("two classes", (2,)),
            Case("ten classes", (10,)),
        ),
        oracle=_loss_at_vertices,
        hidden=_hidden_range_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
)
