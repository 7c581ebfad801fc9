"""Exercises of the chapter "Binary cross-entropy" (chapters/bce.ipynb)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise, library_oracle


def stable_bce(
    logits: ArrayLike, target: ArrayLike
) -> NDArray[np.float64]:
    """Binary cross-entropy of each logit against its label, never inf or
    nan.

    l = -[y log(sigmoid(z)) + (1 - y) log(1 - sigmoid(z))], computed
    without forming sigmoid(z): logits of +-1e4 (float32 or float64) give
    the exact loss.

    Parameters
    ----------
    logits : array of any shape
        Real scores z, float32 or float64.
    target : array of the shape of logits
        Labels y in {0, 1}, or soft labels in [0, 1].

    Returns
    -------
    array of float64 of the shape of logits: the loss of each element.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    # softplus(z) - y z, softplus(z) = max(z, 0) + log1p(exp(-|z|)); the
    # first two terms as one product, max(z, 0) - y z = ([z >= 0] - y) z,
    # which is >= 0 like the log1p term: the sum cancels nothing, even for
    # a soft label near 1 at a large z, where the difference would.
    gap = np.where(z >= 0.0, 1.0 - y, -y)
    return gap * z + np.log1p(np.exp(-np.abs(z)))


def stable_bce_gradient(
    logits: ArrayLike,
    target: ArrayLike,
) -> NDArray[np.float64]:
    """Derivative of each element's binary cross-entropy by its own logit.

    Derive dl/dz from the loss on logits, then compute it with a sigmoid
    that does not overflow (no warning, no nan) for logits of +-1e4.

    Parameters
    ----------
    logits : array of any shape
        Real scores z, float32 or float64.
    target : array of the shape of logits
        Labels y in {0, 1}, or soft labels in [0, 1].

    Returns
    -------
    array of float64 of the shape of logits, values in [-1, 1].
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    sigmoid = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return sigmoid - y


def weighted_bce(
    logits: ArrayLike,
    target: ArrayLike,
    pos_weight: ArrayLike,
) -> float:
    """Mean binary cross-entropy with the positive term weighted, as
    PyTorch.

    l = -[a y log(sigmoid(z)) + (1 - y) log(1 - sigmoid(z))] for each
    element, a = pos_weight, then the plain mean over all elements (the
    weights do not enter the denominator). Finite for every finite logit.

    Parameters
    ----------
    logits : array of shape (n,) or (n, C)
        Real scores z.
    target : array of the shape of logits
        Labels y in {0, 1}, or soft labels in [0, 1].
    pos_weight : float, or array of shape (C,) for logits of shape (n, C)
        Non-negative weight of the positive term, one per column.

    Returns
    -------
    float: the mean of the n (or n * C) weighted losses.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    a = np.asarray(pos_weight, dtype=np.float64)
    tail = np.log1p(np.exp(-np.abs(z)))
    softplus_z = np.maximum(z, 0.0) + tail  # -log(1 - sigmoid(z))
    softplus_minus_z = np.maximum(-z, 0.0) + tail  # -log(sigmoid(z))
    return float(np.mean(a * y * softplus_minus_z + (1 - y) * softplus_z))


def corrected_probability(
    prob: ArrayLike,
    pos_weight: float,
) -> NDArray[np.float64]:
    """Undo pos_weight: the calibrated probability behind a weighted model.

    A model trained to the optimum of the BCE with pos_weight a outputs
    q = sigmoid(z) for an example whose positive class has probability pi.
    Return pi.

    Parameters
    ----------
    prob : array of shape (n,)
        The outputs q of the model trained with pos_weight, in (0, 1).
    pos_weight : float
        The pos_weight a > 0 it was trained with.

    Returns
    -------
    array of float64 of shape (n,): the probabilities pi, in (0, 1).
    """
    q = np.asarray(prob, dtype=np.float64)
    # logit(q) = logit(pi) + log(a): take log(a) off the logit.
    return q / (q + pos_weight * (1.0 - q))


def first_infinite_logit(dtype: str, label: float) -> float:
    """The logit nearest 0 at which the naive BCE first returns inf.

    The naive formula, computed in the floating type dtype with NumPy:
        p = 1 / (1 + np.exp(-z))
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    For label y = 0 a mistake is a logit z > 0: return the smallest z > 0
    of that type at which the loss is inf. For y = 1 a mistake is z < 0:
    return the largest such z < 0.

    Parameters
    ----------
    dtype : str
        "float16", "float32" or "float64".
    label : float
        0.0 or 1.0.

    Returns
    -------
    float: that logit, a number of the type dtype.
    """
    kind = np.dtype(dtype)
    sign = 1.0 if label == 0 else -1.0  # the side of the mistakes

    def infinite(t: Any) -> bool:
        z, y, one = kind.type(sign * t), kind.type(label), kind.type(1)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            p = one / (one + np.exp(-z))
            loss = -(y * np.log(p) + (one - y) * np.log(one - p))
        return bool(np.isinf(loss))

    # Bisection on |z|: finite at 0, inf at the largest number of the type.
    finite, inf = kind.type(0), np.finfo(kind).max
    while True:
        # halve first: no overflow
        middle = kind.type(finite / 2 + inf / 2)
        if middle in (finite, inf):  # no number of the type in between
            return float(sign * inf)
        if infinite(middle):
            inf = middle
        else:
            finite = middle


def logistic_hessian(
    features: ArrayLike,
    weights: ArrayLike,
    bias: float,
    lam: float,
) -> NDArray[np.float64]:
    """Hessian of regularised logistic regression's cost in (w, b).

    The cost is J(w, b) = (1/n) sum_i l(w . x_i + b, y_i) + (lam/2) |w|^2,
    with l the binary cross-entropy on logits. Return the matrix of its
    second derivatives in the d weights and then the bias, at (w, b).

    Parameters
    ----------
    features : array of shape (n, d)
        One example x_i per row.
    weights : array of shape (d,)
        The weights w.
    bias : float
        The bias b.
    lam : float
        The penalty lam >= 0 on the weights (not on the bias).

    Returns
    -------
    array of float64 of shape (d + 1, d + 1): symmetric, the bias last.
    """
    x = np.asarray(features, dtype=np.float64)
    n, d = x.shape
    z = x @ np.asarray(weights, dtype=np.float64) + bias
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    # sigma(z) sigma(-z) = e / (1 + e)^2 with e = exp(-|z|)
    curvature = e / (1.0 + e) ** 2
    design = np.column_stack([x, np.ones(n)])
    penalty = np.diag(np.append(np.full(d, lam), 0.0))
    return design.T @ (curvature[:, None] * design) / n + penalty


# -------------------------------------------------------------------------
# Oracles: independent computations of the same results


def _numerical_bce_gradient(
    logits: ArrayLike, target: ArrayLike
) -> NDArray[np.float64]:
    """Central differences of the summed lossmod.bce_with_logits."""
    y = np.asarray(target, dtype=np.float64)
    return lossmod.numerical_gradient(
        lambda z: lossmod.bce_with_logits(z, y, reduction="sum"), logits
    )


def _stationary_probability(
    prob: ArrayLike, pos_weight: float
) -> NDArray[np.float64]:
    """The pi at which logit(prob) is a stationary point of the expected
    weighted loss.

    The expected loss pi l(z, 1) + (1 - pi) l(z, 0) has zero derivative
    where pi g1 + (1 - pi) g0 = 0, with g1, g0 the derivatives from
    lossmod.bce_with_logits_grad.
    """
    q = np.asarray(prob, dtype=np.float64)
    z = np.log(q) - np.log1p(-q)
    a = np.asarray(pos_weight, dtype=np.float64)
    g1 = lossmod.bce_with_logits_grad(
        z, np.ones_like(z), pos_weight=a, reduction="none"
    )
    g0 = lossmod.bce_with_logits_grad(
        z, np.zeros_like(z), pos_weight=a, reduction="none"
    )
    return np.asarray(g0 / (g0 - g1), dtype=np.float64)


def _bit_search_first_infinite_logit(dtype: str, label: float) -> float:
    """Bisection on the integers whose bits are the floats: a second
    search, by another route."""
    kind = np.dtype(dtype)
    bits = np.dtype(f"int{8 * kind.itemsize}")
    sign = 1.0 if label == 0 else -1.0

    def loss_at(n: int) -> Any:
        # non-negative floats are ordered as ints
        t = np.array(n, dtype=bits).view(kind)[()]
        z, y, one = kind.type(sign * t), kind.type(label), kind.type(1)
        with np.errstate(all="ignore"):
            p = one / (one + np.exp(-z))
            return -(y * np.log(p) + (one - y) * np.log(one - p))

    low = 0
    high = int(np.array(np.finfo(kind).max, dtype=kind).view(bits))
    while high - low > 1:
        middle = (low + high) // 2
        if np.isinf(loss_at(middle)):
            high = middle
        else:
            low = middle
    return float(sign * np.array(high, dtype=bits).view(kind)[()])


def _numerical_logistic_hessian(
    features: ArrayLike,
    weights: ArrayLike,
    bias: float,
    lam: float,
) -> NDArray[np.float64]:
    """Central differences of the cost's gradient, built from
    lossmod.bce_with_logits_grad by the chain rule: one row per
    parameter."""
    x = np.asarray(features, dtype=np.float64)
    d = x.shape[1]
    # a fixed label vector: the Hessian does not depend on the labels
    y = np.zeros(x.shape[0])

    def gradient(theta: NDArray[np.float64]) -> NDArray[np.float64]:
        g = lossmod.bce_with_logits_grad(x @ theta[:d] + theta[d], y)
        return np.append(x.T @ g + lam * theta[:d], g.sum())

    def component(k: int) -> Callable[[NDArray[np.float64]], float]:
        return lambda t: float(gradient(t)[k])

    theta = np.append(np.asarray(weights, dtype=np.float64), bias)
    rows = [
        lossmod.numerical_gradient(component(k), theta)
        for k in range(d + 1)
    ]
    return np.array(rows)


def _mpmath_bce(
    logits: ArrayLike, target: ArrayLike
) -> NDArray[np.float64]:
    """y softplus(-z) + (1 - y) softplus(z) of each element in 60-digit
    arithmetic (mpmath): two non-negative terms, nothing cancels, and z, y
    are exact (every float is an mpf), so each loss is the float64 nearest
    the exact one (a loss below the smallest subnormal, e^-1e4, is 0)."""
    import mpmath  # type: ignore[import-untyped]

    z = np.asarray(logits, dtype=np.float64)
    y = np.broadcast_to(np.asarray(target, dtype=np.float64), z.shape)
    out = np.empty(z.shape)
    with mpmath.workdps(60):

        def softplus(t: Any) -> Any:
            return mpmath.log1p(mpmath.exp(t))

        for index in np.ndindex(z.shape):
            zi, yi = (
                mpmath.mpf(float(z[index])),
                mpmath.mpf(float(y[index])),
            )
            out[index] = float(
                yi * softplus(-zi) + (1 - yi) * softplus(zi)
            )
    return out


# -------------------------------------------------------------------------
# Hidden cases, for the instructor's grader


def _hidden_logit_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    z = 4.0 * rng.normal(size=50)
    y = rng.integers(0, 2, size=50).astype(float)
    extreme = np.array([1e3, -1e3, 1e4, -1e4, 1e3, -1e3, 1e4, -1e4])
    labels = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    soft = rng.uniform(0.0, 1.0, size=8)
    return (
        Case("50 random logits", (z, y)),
        Case("logits of +-1e3 and +-1e4", (extreme, labels)),
        Case(
            "float32 random logits",
            (z.astype(np.float32), y.astype(np.float32)),
        ),
        Case(
            "float32 logits of +-1e3 and +-1e4",
            (extreme.astype(np.float32), labels),
        ),
        Case("soft labels at +-1e4", (extreme, soft)),
        Case(
            "logits near the float64 rounding of sigmoid",
            (np.array([36.0, 37.0, -37.0]), np.array([1.0, 0.0, 1.0])),
        ),
    )


def _hidden_weighted_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    z = 3.0 * rng.normal(size=(20, 3))
    y = rng.integers(0, 2, size=(20, 3)).astype(float)
    extreme = np.array([1e3, -1e3, 1e4, -1e4])
    return (
        Case("20 x 3 multi-label", (z, y, rng.uniform(0.5, 5.0, size=3))),
        Case(
            "pos_weight 0 ignores the positives", (z[:, 0], y[:, 0], 0.0)
        ),
        Case(
            "logits of +-1e3 and +-1e4",
            (extreme, np.array([1.0, 1.0, 0.0, 1.0]), 7.0),
        ),
        Case(
            "float32 logits of +-1e4",
            (
                extreme.astype(np.float32),
                np.array([0.0, 1.0, 1.0, 0.0], np.float32),
                2.5,
            ),
        ),
        Case(
            "soft labels", (z[:, 1], rng.uniform(0.0, 1.0, size=20), 3.0)
        ),
    )


def _hidden_probability_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    return (
        Case(
            "20 random probabilities",
            (rng.uniform(0.01, 0.99, size=20), 9.0),
        ),
        Case(
            "pos_weight below 1", (rng.uniform(0.01, 0.99, size=10), 0.2)
        ),
        Case(
            "near 0 and 1",
            (np.array([1e-9, 1e-4, 0.5, 1 - 1e-4, 1 - 1e-9]), 50.0),
        ),
    )


def _hidden_infinite_logit_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    # float32 and float16 with label 1 are public cases
    return (
        Case("float64, label 1", ("float64", 1.0)),
        Case("float16, label 0", ("float16", 0.0)),
    )


def _hidden_hessian_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    x = rng.normal(size=(40, 4))
    w = rng.normal(size=4)
    return (
        Case("40 examples, 4 features", (x, w, 0.3, 0.01)),
        Case("no penalty", (x, w, -0.5, 0.0)),
        Case("a large penalty", (x[:10], w, 0.0, 5.0)),
        Case(
            "saturated logits (w times 50)",
            (x[:12], 50.0 * w, 1.0, 0.1),
        ),
        Case(
            "one feature, 25 examples",
            (rng.normal(size=(25, 1)), np.array([1.5]), 0.2, 0.0),
        ),
    )


EXERCISES = (
    Exercise(
        id="bce-1",
        task=(
            "binary cross-entropy on logits, finite for every finite logit"
        ),
        solution=stable_bce,
        cases=(
            Case(
                "moderate logits",
                (
                    np.array([-2.0, -0.5, 0.0, 0.5, 3.0]),
                    np.array([0.0, 1.0, 1.0, 0.0, 1.0]),
                ),
            ),
            Case(
                "soft labels",
                (np.array([-1.5, 0.2, 2.0]), np.array([0.2, 0.5, 0.9])),
            ),
            Case(
                "confident logits +-40",
                (
                    np.array([40.0, 40.0, -40.0, -40.0]),
                    np.array([0.0, 1.0, 0.0, 1.0]),
                ),
            ),
            # the chapter's example: max(z, 0) - y z computed as a
            # difference keeps only about six digits of the 3.8e-9
            Case(
                "a soft label 1 - 1e-10 at z = 37.7",
                (np.array([37.7]), np.array([1.0 - 1e-10])),
            ),
            Case(
                "a 2 x 3 batch",
                (
                    np.array([[1.0, -3.0, 0.1], [8.0, -0.7, 2.5]]),
                    np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
                ),
            ),
            # "the exact loss, never inf or nan, for logits of +-1e4 in
            # float32 and float64, and soft labels"
            Case(
                "logits of +-1e4, a soft label",
                (
                    np.array([1e4, -1e4, 1e4, -1e4, 1e4]),
                    np.array([0.0, 0.0, 1.0, 1.0, 0.3]),
                ),
            ),
            Case(
                "float32 logits of +-100 and +-1e4",
                (
                    np.array([100.0, -100.0, 1e4, -1e4], np.float32),
                    np.array([0.0, 1.0, 1.0, 0.0], np.float32),
                ),
            ),
        ),
        oracle=_mpmath_bce,
        hidden=_hidden_logit_cases,
        # relative only: an absolute tolerance would pass 0 for the
        # 4.25e-18 at z = 40, y = 1. Forms that cancel nothing are right
        # to a few 1e-16; the difference form's 7e-7 at y = 1 - 1e-10,
        # z = 37.7 fails, with the checker's hint of lost digits (given
        # for a uniform relative error above 10 rtol).
        rtol=1e-8,
        atol=0.0,
        reimplements=("bce_with_logits", "bce", "softplus", "log_sigmoid"),
    ),
    Exercise(
        id="bce-2",
        task="its derivative in the logit, without overflow",
        solution=stable_bce_gradient,
        cases=(
            Case(
                "moderate logits",
                (
                    np.array([-2.0, -0.5, 0.0, 0.5, 3.0]),
                    np.array([0.0, 1.0, 1.0, 0.0, 1.0]),
                ),
            ),
            Case(
                "soft labels",
                (np.array([-1.5, 0.2, 2.0]), np.array([0.2, 0.5, 0.9])),
            ),
            Case(
                "logits +-1000",
                (
                    np.array([1000.0, 1000.0, -1000.0, -1000.0]),
                    np.array([0.0, 1.0, 0.0, 1.0]),
                ),
            ),
            Case(
                "float32 logits of +-1e4, soft labels",
                (
                    np.array([1e4, -1e4, 1e4, -1e4], np.float32),
                    np.array([0.0, 1.0, 0.25, 0.75], np.float32),
                ),
            ),
        ),
        oracle=_numerical_bce_gradient,
        hidden=_hidden_logit_cases,
        rtol=1e-5,
        atol=1e-7,
        reimplements=("bce_with_logits_grad", "sigmoid"),
    ),
    Exercise(
        id="bce-3",
        task="mean binary cross-entropy with pos_weight",
        solution=weighted_bce,
        cases=(
            Case(
                "pos_weight 1 is plain BCE",
                (
                    np.array([-2.0, 0.5, 3.0, 1.0]),
                    np.array([0.0, 1.0, 1.0, 0.0]),
                    1.0,
                ),
            ),
            Case(
                "pos_weight 3",
                (
                    np.array([-2.0, 0.5, 3.0, 1.0]),
                    np.array([0.0, 1.0, 1.0, 0.0]),
                    3.0,
                ),
            ),
            Case(
                "one pos_weight per column",
                (
                    np.array([[1.0, -2.0], [0.3, 0.4], [-1.0, 5.0]]),
                    np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]),
                    np.array([2.0, 0.5]),
                ),
            ),
            Case(
                "confident mistakes +-50",
                (np.array([50.0, -50.0]), np.array([0.0, 1.0]), 4.0),
            ),
            Case(
                "soft labels, pos_weight 2",
                (
                    np.array([-1.5, 0.2, 2.0]),
                    np.array([0.2, 0.5, 0.9]),
                    2.0,
                ),
            ),
            # "finite for every finite logit"
            Case(
                "logits of +-1e4, pos_weight 3",
                (
                    np.array([1e4, -1e4, 1e4, -1e4]),
                    np.array([1.0, 1.0, 0.0, 0.5]),
                    3.0,
                ),
            ),
        ),
        oracle=library_oracle(lossmod.bce_with_logits, "pos_weight"),
        hidden=_hidden_weighted_cases,
        rtol=1e-5,
        atol=1e-10,
        reimplements=("bce_with_logits", "softplus", "log_sigmoid"),
    ),
    Exercise(
        id="bce-4",
        task=(
            "the calibrated probability from a model trained with "
            "pos_weight"
        ),
        solution=corrected_probability,
        cases=(
            Case(
                "pos_weight 1 changes nothing",
                (np.array([0.1, 0.5, 0.9]), 1.0),
            ),
            Case("pos_weight 9", (np.array([0.1, 0.5, 0.9]), 9.0)),
            Case("pos_weight 0.25", (np.array([0.2, 0.5, 0.8]), 0.25)),
            # q anywhere in (0, 1): no clipping away from 0 and 1
            Case(
                "q near 0 and 1, pos_weight 4",
                (np.array([1e-9, 0.5, 1.0 - 1e-9]), 4.0),
            ),
        ),
        oracle=_stationary_probability,
        hidden=_hidden_probability_cases,
        rtol=1e-7,
        atol=1e-12,
    ),
    Exercise(
        id="bce-5",
        task="the first logit at which the naive formula returns inf",
        solution=first_infinite_logit,
        cases=(
            Case("float32, label 0", ("float32", 0.0)),
            Case("float64, label 0", ("float64", 0.0)),
            # both labels (label 1: negative logits) and every dtype
            Case("float32, label 1", ("float32", 1.0)),
            Case("float16, label 1", ("float16", 1.0)),
        ),
        oracle=_bit_search_first_infinite_logit,
        hidden=_hidden_infinite_logit_cases,
        rtol=0.0,
        atol=0.0,
    ),
    Exercise(
        id="bce-6",
        task="the Hessian of regularised logistic regression's cost",
        solution=logistic_hessian,
        cases=(
            Case(
                "three examples, two features",
                (
                    np.array([[1.0, 2.0], [-0.5, 0.3], [2.0, -1.0]]),
                    np.array([0.4, -0.2]),
                    0.1,
                    0.5,
                ),
            ),
            Case(
                "at w = 0, b = 0: curvature 1/4",
                (
                    np.array([[1.0], [2.0], [-3.0]]),
                    np.array([0.0]),
                    0.0,
                    0.0,
                ),
            ),
            # the penalty is on the weights only, not on the bias
            Case(
                "the penalty is not on the bias",
                (np.array([[0.5, -1.0]]), np.array([1.0, 1.0]), -0.5, 2.0),
            ),
            # confident logits: no overflow, curvature near 0
            Case(
                "logits of +-800",
                (np.array([[1.0], [-1.0]]), np.array([800.0]), 0.0, 0.1),
            ),
        ),
        oracle=_numerical_logistic_hessian,
        hidden=_hidden_hessian_cases,
        rtol=1e-6,
        atol=1e-9,
    ),
)


WRITTEN: dict[str, str] = {}
"""The written exercises (derivations, explorations): one-line tasks."""
