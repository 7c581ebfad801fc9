"""Exercises of the chapter "Margins, sparsity and Fenchel-Young losses"
(chapters/margins.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize  # type: ignore[import-untyped]

from lossmod_instructor.exercises import Case, Exercise

# -------------------------------------------------------------------------
# margins-1: the sparsemax threshold


def sparsemax_threshold(z: ArrayLike) -> NDArray[np.float64]:
    """The threshold tau of sparsemax for each row of scores.

    sparsemax(z) = max(z - tau, 0), with tau the one number for which
    the entries of each row sum to 1. Find it without a numerical root
    finder, for rows of any size and scores of any finite size.

    Parameters
    ----------
    z : array of shape (N, C)
        Finite scores, one row per example.

    Returns
    -------
    array of float64, shape (N,): the threshold of each row.
    """
    z = np.asarray(z, dtype=np.float64)
    n, c = z.shape
    s = -np.sort(-z, axis=1)
    k = np.arange(1, c + 1)
    cumulative = np.cumsum(s, axis=1)
    # the k-th largest is in the support iff 1 + k s_k > s_1 + ... + s_k
    in_support = 1.0 + k * s > cumulative
    size = np.max(np.where(in_support, k, 1), axis=1)
    return (cumulative[np.arange(n), size - 1] - 1.0) / size


def _threshold_by_brentq(z: ArrayLike) -> NDArray[np.float64]:
    """The oracle: for each row, the root of sum_j max(z_j - tau, 0) - 1
    (decreasing in tau) between max z - 1 and max z, by scipy's
    brentq."""
    rows = np.asarray(z, dtype=np.float64)
    roots = []
    for row in rows:
        top = float(np.max(row))
        roots.append(
            optimize.brentq(
                lambda t, r=row: float(
                    np.sum(np.maximum(r - t, 0.0)) - 1.0
                ),
                top - 1.0,
                top,
                xtol=1e-14,
                rtol=1e-15,
            )
        )
    return np.array(roots)


def _hidden_threshold_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    return (
        Case(
            "random rows, ten classes", (2.0 * rng.normal(size=(6, 10)),)
        ),
        Case(
            "random scores of size 1e4", (1e4 * rng.normal(size=(4, 5)),)
        ),
        Case("scores near 1e6", (1e6 + rng.normal(size=(3, 4)),)),
        Case("ties", (np.round(rng.normal(size=(5, 6))),)),
        Case("three rows of a single class", (rng.normal(size=(3, 1)),)),
        Case("1000 classes", (0.05 * rng.normal(size=(1, 1000)),)),
    )


# -------------------------------------------------------------------------
# margins-2: the sparsemax Jacobian-vector product


def sparsemax_jvp(z: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
    """The directional derivative of sparsemax at z along v.

    Return J v, with J the Jacobian of p = sparsemax(z) (classes on the
    last axis): how p moves, to first order, when the scores move from z
    to z + h v. Do not form J.

    Parameters
    ----------
    z : array of shape (N, C)
        Finite scores, none exactly at the threshold.
    v : array of shape (N, C)
        A direction for each row.

    Returns
    -------
    array of float64, shape (N, C): each row sums to 0.
    """
    z = np.asarray(z, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    # the support: the k largest scores, k the largest with
    # 1 + k s_k > s_1 + ... + s_k (s sorted down), as in exercise 1
    s = -np.sort(-z, axis=1)
    k = np.arange(1, z.shape[1] + 1)
    size_of = np.sum(1.0 + k * s > np.cumsum(s, axis=1), axis=1)
    kth = s[np.arange(len(z)), size_of - 1]
    support = z >= kth[:, None]
    size = np.sum(support, axis=1, keepdims=True)
    # J = diag(s) - s s^T / |S|: v on the support, minus its mean there
    on_support = np.where(support, v, 0.0)
    mean = np.sum(on_support, axis=1, keepdims=True) / size
    return np.where(support, v - mean, 0.0)


def _jvp_by_differences(z: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
    """The oracle: central differences of lossmod.sparsemax along v
    (sparsemax is linear between changes of its support, so a step of
    1e-7 gives the derivative up to rounding)."""
    z = np.asarray(z, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    h = 1e-7
    upper = lossmod.sparsemax(z + h * v)
    lower = lossmod.sparsemax(z - h * v)
    return np.asarray((upper - lower) / (2 * h))


def _hidden_jvp_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    z = 1.5 * rng.normal(size=(8, 6))
    return (
        Case(
            "random scores and directions", (z, rng.normal(size=z.shape))
        ),
        Case(
            "a confident row: support of one class",
            (np.array([[5.0, 0.0, -1.0]]), rng.normal(size=(1, 3))),
        ),
        Case(
            "close scores: full support",
            (0.01 * rng.normal(size=(3, 5)), rng.normal(size=(3, 5))),
        ),
        Case(
            "direction along all ones: nothing moves",
            (z, np.ones_like(z)),
        ),
    )


# -------------------------------------------------------------------------
# margins-3: the population minimisers of the hinge and the squared hinge
# when a missed positive costs more


def margin_minimisers(eta: ArrayLike, cost: float) -> NDArray[np.float64]:
    """The scores that minimise the cost-weighted expected hinge and
    squared hinge.

    The label is +1 with probability eta and -1 otherwise, and the loss
    of a positive example is weighted by cost. For each eta, find the
    score f that minimises
    cost * eta * l(f, +1) + (1 - eta) * l(f, -1), for the hinge
    l(f, y) = max(0, 1 - y f) and for the squared hinge
    l(f, y) = max(0, 1 - y f)^2.

    Parameters
    ----------
    eta : array of shape (n,)
        Probabilities of the label +1, in (0, 1); the checks avoid the
        one eta at which the hinge's minimiser is not unique.
    cost : float
        The weight cost > 0 of the positive examples' loss (1: the
        unweighted losses).

    Returns
    -------
    array of float64, shape (2, n): row 0 the hinge's minimisers, row 1
    the squared hinge's.
    """
    eta = np.asarray(eta, dtype=np.float64)
    positive, negative = cost * eta, 1.0 - eta
    # hinge: on [-1, 1] the risk is positive (1 - f) + negative (1 + f),
    # linear, so the minimum sits at an end; squared hinge: the risk's
    # slope there is 2 ((positive + negative) f - (positive - negative)),
    # zero inside [-1, 1]
    return np.stack(
        [
            np.sign(positive - negative),
            (positive - negative) / (positive + negative),
        ]
    )


def _minimisers_by_search(
    eta: ArrayLike, cost: float
) -> NDArray[np.float64]:
    """The oracle: minimise the cost-weighted expected lossmod.hinge_loss
    and lossmod.squared_hinge_loss over f in [-3, 3] with scipy's bounded
    scalar minimiser."""
    eta = np.asarray(eta, dtype=np.float64)
    result = np.zeros((2, eta.size))
    pair = np.array([1.0, -1.0])
    for row, loss in enumerate(
        (lossmod.hinge_loss, lossmod.squared_hinge_loss)
    ):
        for i, e in enumerate(eta):

            def risk(f: float, e: float = e, loss=loss) -> float:  # type: ignore[no-untyped-def]
                both = loss(np.array([f, f]), pair, reduction="none")
                return float(cost * e * both[0] + (1 - e) * both[1])

            best = optimize.minimize_scalar(
                risk,
                bounds=(-3.0, 3.0),
                method="bounded",
                options={"xatol": 1e-11},
            )
            result[row, i] = best.x
    return result


def _hidden_minimiser_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    eta = rng.uniform(0.01, 0.99, size=8)
    cost = float(rng.uniform(0.2, 5.0))
    clear = eta[np.abs(cost * eta - (1 - eta)) > 0.02]
    return (
        Case("random eta, random cost", (clear, cost)),
        Case("near 0 and 1, cost 4", (np.array([0.001, 0.999]), 4.0)),
        Case("just off 1/2, cost 1", (np.array([0.49, 0.51]), 1.0)),
        Case(
            "just off the threshold 1/(1 + cost), cost 3",
            (np.array([0.24, 0.26]), 3.0),
        ),
        Case("a cost below 1", (np.array([0.3, 0.6, 0.9]), 0.25)),
    )


# -------------------------------------------------------------------------
# margins-4: the Crammer-Singer population minimiser


def crammer_singer_minimiser(eta: ArrayLike) -> NDArray[np.float64]:
    """The scores that minimise the expected Crammer-Singer loss.

    The class y is drawn from the distribution eta over C classes. The
    Crammer-Singer loss of scores f is
    max(0, 1 + max_{k != y} f_k - f_y). Find the scores f that minimise
    its expectation over y. Adding a constant to every score changes
    nothing, so return the minimiser shifted to have smallest entry 0.

    Parameters
    ----------
    eta : array of shape (C,)
        A distribution over C >= 2 classes, every entry > 0, its largest
        entry not equal to 1/2 (the minimiser is then unique up to the
        shift).

    Returns
    -------
    array of float64, shape (C,): the minimising scores, smallest 0.
    """
    eta = np.asarray(eta, dtype=np.float64)
    best = int(np.argmax(eta))
    f = np.zeros(eta.size)
    # With the top score a ahead of all others by g (the others equal),
    # the risk is (1 - eta_a)(1 + g) + eta_a max(0, 1 - g): its slope on
    # [0, 1] is 1 - 2 eta_a, so g = 1 if eta_a > 1/2, else g = 0.
    if eta[best] > 0.5:
        f[best] = 1.0
    return f


def _crammer_singer_by_lp(eta: ArrayLike) -> NDArray[np.float64]:
    """The oracle: the expected loss as a linear program solved by
    scipy's linprog (HiGHS). Variables f_1..f_C and the losses xi_y;
    minimise sum_y eta_y xi_y subject to xi_y >= 0 and
    xi_y >= 1 + f_k - f_y for k != y, with f_1 = 0 fixing the shift."""
    eta = np.asarray(eta, dtype=np.float64)
    c = eta.size
    rows, bounds_rhs = [], []
    for y in range(c):
        for k in range(c):
            if k != y:
                # 1 + f_k - f_y - xi_y <= 0
                row = np.zeros(2 * c)
                row[k], row[y], row[c + y] = 1.0, -1.0, -1.0
                rows.append(row)
                bounds_rhs.append(-1.0)
    bounds = [(0.0, 0.0)] + [(None, None)] * (c - 1) + [(0.0, None)] * c
    result = optimize.linprog(
        np.concatenate([np.zeros(c), eta]),
        A_ub=np.array(rows),
        b_ub=np.array(bounds_rhs),
        bounds=bounds,
        method="highs",
    )
    f = np.asarray(result.x[:c])
    return f - f.min()


def _hidden_crammer_singer_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    cases = []
    for c, label in ((3, "three"), (5, "five"), (8, "eight")):
        eta = rng.dirichlet(np.full(c, 0.7))
        while np.abs(eta.max() - 0.5) < 0.05 or eta.min() < 1e-3:
            eta = rng.dirichlet(np.full(c, 0.7))
        cases.append(Case(f"random eta, {label} classes", (eta,)))
    return (
        *cases,
        Case("a clear winner", (np.array([0.05, 0.9, 0.05]),)),
        Case("just under 1/2", (np.array([0.48, 0.26, 0.26]),)),
        Case("just over 1/2", (np.array([0.26, 0.22, 0.52]),)),
    )


EXERCISES = (
    Exercise(
        id="margins-1",
        task="the sparsemax threshold",
        solution=sparsemax_threshold,
        cases=(
            Case(
                "two rows of three",
                (np.array([[1.0, 0.8, -1.0], [0.5, 0.0, 0.2]]),),
            ),
            Case(
                "a confident row: support of one",
                (np.array([[3.0, 0.0, 1.9]]),),
            ),
            Case(
                "all scores equal: -1/C below them",
                (np.full((2, 4), 2.0),),
            ),
            Case(
                "scores of size 1e4",
                (np.array([[1e4, -1e4, 1e4 - 0.5, 0.0]]),),
            ),
            Case("a single class", (np.array([[0.7], [-3.0]]),)),
        ),
        oracle=_threshold_by_brentq,
        hidden=_hidden_threshold_cases,
        rtol=1e-9,
        atol=1e-9,
        reimplements=("sparsemax",),
    ),
    Exercise(
        id="margins-2",
        task="the Jacobian-vector product of sparsemax",
        solution=sparsemax_jvp,
        cases=(
            Case(
                "support of two of three",
                (
                    np.array([[1.0, 0.8, -1.0]]),
                    np.array([[1.0, 0.0, 0.0]]),
                ),
            ),
            Case(
                "support of one: nothing moves",
                (
                    np.array([[3.0, 0.0, 1.9]]),
                    np.array([[1.0, -2.0, 0.5]]),
                ),
            ),
            Case(
                "full support",
                (
                    np.array([[0.1, 0.0, -0.1, 0.05]]),
                    np.array([[1.0, 2.0, 3.0, 4.0]]),
                ),
            ),
            Case(
                "two rows",
                (
                    np.array([[0.5, 0.0, 0.2], [2.0, 1.5, -1.0]]),
                    np.array([[0.3, -1.0, 2.0], [1.0, 1.0, 5.0]]),
                ),
            ),
        ),
        oracle=_jvp_by_differences,
        hidden=_hidden_jvp_cases,
        rtol=1e-6,
        atol=1e-7,
    ),
    Exercise(
        id="margins-3",
        task=(
            "the population minimisers of the cost-weighted hinge and "
            "squared hinge"
        ),
        solution=margin_minimisers,
        cases=(
            Case("eta 0.7, cost 1", (np.array([0.7]), 1.0)),
            Case("eta 0.2 and 0.9, cost 1", (np.array([0.2, 0.9]), 1.0)),
            Case(
                "eta 0.2, 0.3 and 0.9, cost 3",
                (np.array([0.2, 0.3, 0.9]), 3.0),
            ),
            Case(
                "eta 0.55 and 0.7, cost 0.5", (np.array([0.55, 0.7]), 0.5)
            ),
        ),
        oracle=_minimisers_by_search,
        hidden=_hidden_minimiser_cases,
        rtol=1e-6,
        atol=1e-6,
    ),
    Exercise(
        id="margins-4",
        task="the Crammer-Singer population minimiser",
        solution=crammer_singer_minimiser,
        cases=(
            Case("a majority class", (np.array([0.6, 0.3, 0.1]),)),
            Case("no majority", (np.array([0.4, 0.35, 0.25]),)),
            Case("two classes", (np.array([0.3, 0.7]),)),
            Case(
                "four classes, no majority",
                (np.array([0.3, 0.3, 0.2, 0.2]),),
            ),
        ),
        oracle=_crammer_singer_by_lp,
        hidden=_hidden_crammer_singer_cases,
        rtol=1e-7,
        atol=1e-7,
    ),
)

WRITTEN: dict[str, str] = {}
