"""Exercises of the chapter "Composite objectives"
(chapters/composite.ipynb)."""

from __future__ import annotations

import warnings

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# --- composite-1: the proximal operator of the elastic-net penalty ----


def prox_elastic_net(
    values: ArrayLike, threshold: float, ridge: float
) -> NDArray[np.float64]:
    """The proximal operator of t |z| + (mu / 2) z^2, elementwise.

    For each element v of ``values``, return the z that minimises

        (1/2) (z - v)^2 + t |z| + (mu / 2) z^2

    with t = threshold and mu = ridge. Derive it by cases on the sign of
    z (and the kink at z = 0), then write it with NumPy only (no
    lossmod).

    Parameters
    ----------
    values : array of any shape
        The points v, finite.
    threshold : float
        t >= 0.
    ridge : float
        mu >= 0.

    Returns
    -------
    array of the shape of values: the minimiser for each element.
    """
    v = np.asarray(values, dtype=np.float64)
    shrunk = np.sign(v) * np.maximum(np.abs(v) - threshold, 0.0)
    return shrunk / (1.0 + ridge)


def _prox_oracle(
    values: ArrayLike, threshold: float, ridge: float
) -> NDArray[np.float64]:
    """scipy's bounded scalar minimisation of (z - v)^2 / 2 + t |z| +
    mu z^2 / 2 for each element, then rounded to 0 where it is within
    1e-9 of 0."""
    from scipy.optimize import minimize_scalar  # type: ignore[import-untyped]

    v = np.asarray(values, dtype=float)
    out = np.empty_like(v)
    for index, point in np.ndenumerate(v):
        radius = abs(point) + 1.0
        found = minimize_scalar(
            lambda z, p=point: (
                0.5 * (z - p) ** 2
                + threshold * abs(z)
                + 0.5 * ridge * z * z
            ),
            bounds=(-radius, radius),
            method="bounded",
            options={"xatol": 1e-13 * radius},
        ).x
        out[index] = 0.0 if abs(found) < 1e-9 * radius else found
    return out


def _prox_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "50 normal values, t = 0.7, mu = 0.3",
            (rng.normal(size=50), 0.7, 0.3),
        ),
        Case(
            "a (4, 5) array, t = 2, mu = 4",
            (3 * rng.normal(size=(4, 5)), 2.0, 4.0),
        ),
        Case(
            "values exactly at +-t", (np.array([-1.5, 1.5, 0.0]), 1.5, 0.5)
        ),
        Case("large values", (1e6 * rng.normal(size=6), 10.0, 0.01)),
        Case(
            "t = 0, mu = 0: the identity", (rng.normal(size=5), 0.0, 0.0)
        ),
        Case(
            "mu = 0: the lasso's soft-thresholding",
            (rng.normal(size=7), 0.4, 0.0),
        ),
    )


# --- composite-2: the lasso's alpha_max ----------------------------------


def lasso_alpha_max(
    features: ArrayLike, target: ArrayLike, sample_weight: ArrayLike
) -> float:
    """The smallest alpha at which the weighted lasso with an intercept
    sets every coefficient to zero.

    The lasso (as scikit-learn's Lasso with fit_intercept=True, fitted
    with sample_weight=s) minimises

        (1 / (2 sum_i s_i)) sum_i s_i (y_i - b - x_i w)^2
        + alpha ||w||_1

    over the intercept b and the coefficients w. Derive, from the
    optimality condition at w = 0, for which alpha the solution is
    w = 0, and return the threshold.

    Parameters
    ----------
    features : array of shape (n, d)
        X, one example per row (not centred).
    target : array of shape (n,)
        y.
    sample_weight : array of shape (n,)
        The weights s_i > 0 of the examples (all 1: the unweighted
        lasso).

    Returns
    -------
    float: alpha_max >= 0; every alpha >= alpha_max gives w = 0.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    s = np.asarray(sample_weight, dtype=np.float64)
    # at w = 0 the best intercept is the weighted mean of y; the
    # gradient of the data term in w is then -X^T S (y - b) / sum(s),
    # and w = 0 is optimal when every entry is within [-alpha, alpha]
    # (centring x with its weighted means changes nothing, as the
    # weighted residuals sum to 0; it keeps the products small)
    residual = y - np.average(y, weights=s)
    centred_x = x - np.average(x, axis=0, weights=s)
    return float(np.max(np.abs(centred_x.T @ (s * residual))) / s.sum())


def _alpha_max_oracle(
    features: ArrayLike, target: ArrayLike, sample_weight: ArrayLike
) -> float:
    """Bisection on alpha between 0 and a value that zeroes every
    coefficient, each probe a fit of scikit-learn's Lasso with the
    sample weights. Its coordinate descent returns exact zeros from
    about 1e-8 (relative) below the threshold on, not monotonically:
    hence the exercise's rtol of 1e-7."""
    from sklearn.linear_model import Lasso  # type: ignore[import-untyped]

    x = np.asarray(features, dtype=float)
    y = np.asarray(target, dtype=float)
    s = np.asarray(sample_weight, dtype=float)

    def all_zero(alpha: float) -> bool:
        # tol = 0: 200 full sweeps, no early stop (nor its warning)
        model = Lasso(alpha=alpha, tol=0.0, max_iter=200)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return not model.fit(x, y, sample_weight=s).coef_.any()

    low, high = 0.0, 1.0
    while not all_zero(high):
        high *= 4.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (low, middle) if all_zero(middle) else (middle, high)
    return high


def _alpha_max_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    x = rng.normal(size=(40, 5))
    weights = rng.uniform(0.1, 3.0, size=40)
    return (
        Case(
            "40 x 5, linear target, random weights",
            (x, x @ rng.normal(size=5), weights),
        ),
        Case(
            "features not centred, random weights",
            (x + 10.0, x[:, 0] - 3.0, weights),
        ),
        Case(
            "one feature of scale 100, equal weights",
            (x * [1, 1, 1, 1, 100], rng.normal(size=40), np.ones(40)),
        ),
        Case("a constant target", (x, np.full(40, 2.0), weights)),
        Case(
            "weights of 1e3 and 1e-3",
            (x, rng.normal(size=40), np.where(x[:, 0] > 0, 1e3, 1e-3)),
        ),
    )


# --- composite-3: AdamW's fixed point on a quadratic --------------------


def adamw_fixed_point(
    curvature: ArrayLike,
    centre: ArrayLike,
    weight_decay: float,
    eps: float = 1e-8,
) -> NDArray[np.float64]:
    """The fixed point of full-batch AdamW on a separable quadratic.

    The loss is f(theta) = sum_j a_j (theta_j - c_j)^2 / 2 with
    curvatures a_j > 0 and centres c_j. At a fixed point of AdamW the
    gradient g is constant, so m_hat = g and v_hat = g^2. Write down
    the condition for the update to vanish, solve it for each theta_j
    (with care for rounding), and return the solutions.

    Parameters
    ----------
    curvature : array of shape (d,)
        a_j > 0.
    centre : array of shape (d,)
        c_j, any real numbers (the minimiser of f).
    weight_decay : float
        lambda >= 0.
    eps : float
        Adam's eps > 0.

    Returns
    -------
    array of shape (d,): the fixed point theta.
    """
    a = np.asarray(curvature, dtype=np.float64)
    c = np.asarray(centre, dtype=np.float64)
    size = np.abs(c)
    # for c > 0: a lambda theta^2 - B theta + a c = 0 with
    # B = a (1 + lambda c) + lambda eps; the smaller root, written
    # without cancellation
    b = a * (1.0 + weight_decay * size) + weight_decay * eps
    discriminant = b * b - 4.0 * a * weight_decay * a * size
    root = 2.0 * a * size / (b + np.sqrt(np.maximum(discriminant, 0.0)))
    return np.sign(c) * root


def _fixed_point_oracle(
    curvature: ArrayLike,
    centre: ArrayLike,
    weight_decay: float,
    eps: float = 1e-8,
) -> NDArray[np.float64]:
    """Brent's method on the fixed-point condition
    g / (|g| + eps) + lambda theta = 0, g = a (theta - c), for each
    coordinate, between 0 and c."""
    from scipy.optimize import brentq

    out = []
    for a, c in zip(
        np.asarray(curvature, float),
        np.asarray(centre, float),
        strict=True,
    ):
        if c == 0:
            out.append(0.0)
            continue

        def condition(t: float, a: float = a, c: float = c) -> float:
            g = a * (t - c)
            return float(g / (abs(g) + eps) + weight_decay * t)

        out.append(brentq(condition, 0.0, c, xtol=1e-300, rtol=1e-15))
    return np.array(out)


def _fixed_point_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "20 random coordinates, lambda = 0.2",
            (rng.uniform(0.1, 5, 20), 10 * rng.normal(size=20), 0.2),
        ),
        Case(
            "far outside the box",
            (np.ones(3), np.array([1e3, -1e4, 50.0]), 0.1),
        ),
        Case(
            "three gradients near eps",
            (np.full(3, 1e-8), np.array([1.0, -2.0, 5.0]), 0.5),
            {"eps": 1e-8},
        ),
        Case(
            "tiny weight decay",
            (np.array([2.0, 0.5]), np.array([3.0, -1.0]), 1e-9),
        ),
        Case(
            "a centre at zero",
            (np.array([1.0, 1.0]), np.array([0.0, 2.0]), 0.3),
        ),
    )


# --- composite-4: the optimal uncertainty weights -----------------------


def profiled_uncertainty_total(
    task_losses: ArrayLike, classification: ArrayLike
) -> float:
    """The smallest value of Kendall's total over the log-variances,
    for regression and classification tasks.

    With task losses L_i >= 0 and log-variances s_i = log sigma_i^2,
    Kendall et al. weight a regression task's loss by 1 / (2 sigma^2)
    and a classification task's by 1 / sigma^2:

        total(s) = sum over regressions [ exp(-s_i) L_i / 2 + s_i / 2 ]
                 + sum over classifications [ exp(-s_i) L_i + s_i / 2 ]

    Minimise it over s for the given losses (derive the optimal s_i)
    and return the minimum, or -inf where it has none.

    Parameters
    ----------
    task_losses : array of shape (T,)
        L_i >= 0.
    classification : array of bool, shape (T,)
        True for a classification task, False for a regression.

    Returns
    -------
    float: min over s of total(s), or -inf.
    """
    losses = np.asarray(task_losses, dtype=np.float64)
    weight = np.where(np.asarray(classification, dtype=bool), 1.0, 0.5)
    if (losses == 0).any():
        return float("-inf")
    # d/ds (c e^-s L + s / 2) = 0 at e^s = 2 c L, where the term is
    # (1 + log(2 c L)) / 2: (1 + log L) / 2 for a regression (c = 1/2)
    return float(np.sum(0.5 * (1.0 + np.log(2.0 * weight * losses))))


def _profiled_oracle(
    task_losses: ArrayLike, classification: ArrayLike
) -> float:
    """scipy's scalar minimisation over each s_i: of the one-task
    lossmod.uncertainty_weighted_loss for a regression, of
    exp(-s) L + s / 2 for a classification; -inf when a loss is 0 (then
    s_i / 2 decreases without bound as s_i -> -inf)."""
    from scipy.optimize import minimize_scalar

    losses = np.asarray(task_losses, dtype=float)
    kinds = np.asarray(classification, dtype=bool)
    if (losses == 0).any():
        return float("-inf")
    total = 0.0
    for loss, is_classification in zip(losses, kinds, strict=True):
        if is_classification:

            def term(s: float, v: float = loss) -> float:
                return float(np.exp(-s) * v + 0.5 * s)

        else:

            def term(s: float, v: float = loss) -> float:
                return float(lossmod.uncertainty_weighted_loss([v], [s]))

        found = minimize_scalar(
            term,
            bounds=(np.log(loss) - 5, np.log(loss) + 5),
            method="bounded",
            options={"xatol": 1e-10},
        )
        total += float(found.fun)
    return total


def _profiled_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    kinds = rng.uniform(size=10) < 0.5
    return (
        Case(
            "ten random losses of both kinds",
            (rng.uniform(0.01, 10, 10), kinds),
        ),
        Case(
            "tiny losses, one of each kind",
            (np.array([1e-12, 1e-6]), np.array([True, False])),
        ),
        Case(
            "huge classification losses",
            (np.array([1e8, 3e10]), np.array([True, True])),
        ),
        Case(
            "a zero among others",
            (np.array([2.0, 0.0, 0.5]), np.array([False, True, True])),
        ),
        Case(
            "regressions only",
            (rng.uniform(0.1, 5.0, 4), np.zeros(4, dtype=bool)),
        ),
    )


_X4 = np.array(
    [[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [2.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
)
_Y4 = np.array([1.0, 2.0, 4.0, 0.5])

EXERCISES = (
    Exercise(
        id="composite-1",
        task="the proximal operator of the elastic-net penalty",
        solution=prox_elastic_net,
        cases=(
            Case(
                "five values, t = 1, mu = 0 (the L1 penalty alone)",
                (np.array([-3.0, -0.5, 0.0, 0.8, 2.5]), 1.0, 0.0),
            ),
            Case(
                "a (2, 2) array, t = 0.25, mu = 1.5",
                (np.array([[1.0, -0.1], [0.2, -2.0]]), 0.25, 1.5),
            ),
            Case(
                "t = 0: the L2 penalty alone",
                (np.array([1.5, -2.0]), 0.0, 0.5),
            ),
            # every value within t of zero becomes exactly zero
            Case(
                "large t: all zeros",
                (np.array([3.0, -4.0, 0.5]), 10.0, 2.0),
            ),
        ),
        oracle=_prox_oracle,
        hidden=_prox_hidden,
        rtol=1e-7,
        atol=1e-7,
        reimplements=("soft_threshold",),
    ),
    Exercise(
        id="composite-2",
        task=(
            "the smallest alpha at which the weighted lasso's "
            "coefficients vanish"
        ),
        solution=lasso_alpha_max,
        cases=(
            Case(
                "4 examples, 3 features, equal weights",
                (_X4, _Y4, np.ones(4)),
            ),
            Case(
                "4 examples, weights 1, 2, 3, 4",
                (_X4, _Y4, np.array([1.0, 2.0, 3.0, 4.0])),
            ),
            # the intercept: centring matters
            Case(
                "shifted features, weights 1, 2, 3, 4",
                (_X4 + 10.0, _Y4, np.array([1.0, 2.0, 3.0, 4.0])),
            ),
            Case(
                "weights 10, 20, 30, 40: the same as 1, 2, 3, 4",
                (_X4, _Y4, np.array([10.0, 20.0, 30.0, 40.0])),
            ),
            Case(
                "one feature, one example weighted 0.1",
                (
                    np.array([[1.0], [2.0], [3.0], [4.0]]),
                    np.array([2.0, 1.0, 4.0, 3.0]),
                    np.array([1.0, 1.0, 0.1, 1.0]),
                ),
            ),
        ),
        oracle=_alpha_max_oracle,
        hidden=_alpha_max_hidden,
        rtol=1e-7,
        atol=1e-12,
    ),
    Exercise(
        id="composite-3",
        task="AdamW's fixed point on a separable quadratic",
        solution=adamw_fixed_point,
        cases=(
            Case(
                "inside the box",
                (np.array([1.0, 2.0]), np.array([1.0, -2.0]), 0.1),
            ),
            Case(
                "a centre beyond 1 / lambda",
                (np.array([1.0, 1.0]), np.array([5.0, -0.5]), 0.5),
            ),
            # |g| comparable to eps: eps is not negligible here
            Case(
                "gradients near eps",
                (np.array([1e-8, 1e-7]), np.array([1.0, 1.0]), 0.5),
            ),
            Case("no decay", (np.array([3.0]), np.array([-4.0]), 0.0)),
            # the textbook root formula loses its digits here
            Case(
                "a tiny weight decay (mind the cancellation)",
                (
                    np.array([2.0, 0.5, 1.0]),
                    np.array([3.0, -1.0, 0.1]),
                    1e-12,
                ),
            ),
        ),
        oracle=_fixed_point_oracle,
        hidden=_fixed_point_hidden,
        rtol=1e-9,
        atol=1e-12,
    ),
    Exercise(
        id="composite-4",
        task=(
            "the minimum of Kendall's total over the learned variances, "
            "regression and classification tasks"
        ),
        solution=profiled_uncertainty_total,
        cases=(
            Case(
                "three regressions: a precise task and two noisy ones",
                (np.array([0.01, 1.0, 3.0]), np.zeros(3, dtype=bool)),
            ),
            Case(
                "one classification at L = 1/e",
                (np.array([np.exp(-1.0)]), np.array([True])),
            ),
            Case(
                "a regression and a classification, equal losses",
                (np.array([2.0, 2.0]), np.array([False, True])),
            ),
            Case(
                "three classifications",
                (np.array([2.0, 3.0, 4.0]), np.ones(3, dtype=bool)),
            ),
            # a task fitted exactly: no minimum
            Case(
                "a zero loss",
                (np.array([0.0, 1.0]), np.array([True, False])),
            ),
        ),
        oracle=_profiled_oracle,
        hidden=_profiled_hidden,
        rtol=1e-9,
        atol=1e-9,
    ),
)


WRITTEN = {
    "composite-5": (
        "why decoupled weight decay equals the L2 penalty for gradient "
        "descent but not for Adam"
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
