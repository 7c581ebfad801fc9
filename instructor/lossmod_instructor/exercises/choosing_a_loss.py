"""Exercises of the chapter "Choosing a loss"
(chapters/choosing-a-loss.ipynb)."""

from __future__ import annotations

import functools
import math

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise


def huber_delta(
    residuals: ArrayLike,
    efficiency: float = 0.95,
) -> float:
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


def cost_threshold(costs: ArrayLike) -> NDArray[np.float64]:
    """The decision threshold that minimises the expected cost, and the
    pos_weight that moves a model's threshold of 1/2 there.

    costs[d, y] is what deciding d (0: negative, 1: positive) costs when
    the label is y; each mistake costs more than the right decision for
    the same label. A calibrated model says that the example is positive
    with probability p. Return t, the probability above which deciding 1
    has the smaller expected cost, and a, the pos_weight with which a
    model trained by bce_with_logits and thresholded at 1/2 makes the
    same decisions.

    Parameters
    ----------
    costs : array of shape (2, 2)
        costs[decision, label].

    Returns
    -------
    array of shape (2,): [t, a].
    """
    c = np.asarray(costs, dtype=np.float64)
    if c.shape != (2, 2):
        raise ValueError(f"costs must have shape (2, 2); got {c.shape}")
    # what a mistake costs more than the right decision, for each label
    false_alarm = c[1, 0] - c[0, 0]
    miss = c[0, 1] - c[1, 1]
    if not (false_alarm > 0 and miss > 0):
        raise ValueError(
            "each mistake must cost more than the right decision; got "
            f"{c.tolist()}"
        )
    threshold = false_alarm / (false_alarm + miss)
    return np.array([threshold, miss / false_alarm])


def stock_to_hold(
    demand: ArrayLike, cost_short: float, cost_left: float
) -> NDArray[np.float64]:
    """The quantile level, and the amount, that minimise an asymmetric
    cost of getting a quantity wrong.

    Each unit of demand above the amount held costs cost_short (a lost
    sale), each unit held above the demand costs cost_left (waste).
    Return the level q of the quantile of the demand that minimises the
    expected cost, and the amount that minimises the mean cost over the
    past demands given (the smallest such amount if several tie).

    Parameters
    ----------
    demand : array of shape (n,)
        Past demands.
    cost_short, cost_left : float
        Positive costs per unit.

    Returns
    -------
    array of shape (2,): [q, amount].
    """
    if not (cost_short > 0 and cost_left > 0):
        raise ValueError(
            "cost_short and cost_left must be > 0; got "
            f"{cost_short!r} and {cost_left!r}"
        )
    level = cost_short / (cost_short + cost_left)
    # the smallest s with a fraction >= level of the demands <= s
    amount = np.quantile(
        np.asarray(demand, dtype=np.float64),
        level,
        method="inverted_cdf",
    )
    return np.array([level, amount])


def welsch_mode(samples: ArrayLike, scale: float) -> float:
    """The constant that minimises the mean Welsch loss of the samples.

    The Welsch loss of a residual r at scale c is
    1 - exp(-r^2 / (2 c^2)) (lossmod.barron_loss with alpha=-inf and
    scale=c). Return the m that minimises its mean over the residuals
    m - samples: the global minimiser, not only a stationary point,
    accurate to about 1e-8 relative.

    Parameters
    ----------
    samples : array of shape (n,)
    scale : float
        c > 0, in the units of the samples.

    Returns
    -------
    float: m.
    """
    x = np.asarray(samples, dtype=np.float64)
    if not scale > 0:
        raise ValueError(f"scale must be > 0; got {scale!r}")
    # stationarity: m = sum_i w_i x_i / sum_i w_i with the weights
    # w_i = exp(-(m - x_i)^2 / 2c^2) (mean shift), iterated from every
    # sample, so that every mode has a start near it
    m = x.copy()
    for _ in range(100_000):
        w = np.exp(-((m[:, None] - x[None, :]) ** 2) / (2 * scale**2))
        moved = (w @ x) / w.sum(axis=1)
        step = np.max(np.abs(moved - m))
        done = step <= 1e-14 * (1 + np.abs(x).max())
        m = moved
        if done:
            break
    losses = -np.exp(-((m[:, None] - x[None, :]) ** 2) / (2 * scale**2))
    return float(m[np.argmin(losses.mean(axis=1))])


# --- Oracles: independent computations -----------------------------------


@functools.cache
def _quadrature_huber_k(efficiency: float) -> float:
    """k from the efficiency by numerical integration against the normal
    density (no closed form); cached, as the cases share four values."""
    from scipy import integrate, optimize

    def density(z: float) -> float:
        return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    def gaussian_efficiency(k: float) -> float:
        slope = integrate.quad(density, -k, k, epsabs=1e-14)[0]
        # E[clip(z, -k, k)^2]: z^2 inside the kink, k^2 beyond it
        inside = integrate.quad(
            lambda z: z * z * density(z), 0, k, epsabs=1e-14
        )[0]
        beyond = integrate.quad(density, k, np.inf, epsabs=1e-14)[0]
        return float(slope**2 / (2 * inside + 2 * k * k * beyond))

    return float(
        optimize.brentq(
            lambda t: gaussian_efficiency(t) - efficiency,
            0.01,
            10.0,
            xtol=1e-13,
        )
    )


def _quadrature_huber_delta(
    residuals: ArrayLike, efficiency: float = 0.95
) -> float:
    """k by quadrature and scipy's normalised MAD."""
    from scipy import stats

    return _quadrature_huber_k(float(efficiency)) * float(
        stats.median_abs_deviation(np.asarray(residuals), scale="normal")
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


def _searched_threshold(costs: ArrayLike) -> NDArray[np.float64]:
    """t where the two decisions' expected costs cross, by root finding;
    a as the pos_weight whose minimiser of the expected weighted BCE at
    a positive rate of t is sigma(b*) = 1/2, by root finding over log a
    on lossmod's weighted BCE (no formula)."""
    from scipy import optimize

    c = np.asarray(costs, dtype=np.float64)

    def gap(p: float) -> float:
        decide_1 = p * c[1, 1] + (1 - p) * c[1, 0]
        decide_0 = p * c[0, 1] + (1 - p) * c[0, 0]
        return float(decide_1 - decide_0)

    t = optimize.brentq(gap, 0.0, 1.0, xtol=1e-15, rtol=1e-15)

    def fitted(log_a: float) -> float:
        def slope(b: float) -> float:
            return float(
                lossmod.bce_with_logits_grad(
                    np.array([b, b]),
                    np.array([1.0, 0.0]),
                    weight=np.array([t, 1 - t]),
                    pos_weight=np.exp(log_a),
                    reduction="sum",
                ).sum()
            )

        b = optimize.brentq(slope, -80.0, 80.0, xtol=1e-15)
        return float(lossmod.sigmoid(np.array(b))) - 0.5

    log_a = optimize.brentq(fitted, -40.0, 40.0, xtol=1e-14)
    return np.array([t, np.exp(log_a)])


def _brute_force_stock(
    demand: ArrayLike, cost_short: float, cost_left: float
) -> NDArray[np.float64]:
    """The level from the pinball loss's two slopes (q / (1 - q) equal to
    cost_short / cost_left, by root finding on lossmod.pinball_loss);
    the amount by evaluating the mean cost at every demand seen (the
    mean cost is piecewise linear with its corners there)."""
    from scipy import optimize

    ratio = cost_short / cost_left
    level = optimize.brentq(
        lambda q: (
            float(
                lossmod.pinball_loss(0.0, 1.0, quantile=q)
                / lossmod.pinball_loss(0.0, -1.0, quantile=q)
            )
            - ratio
        ),
        1e-15,
        1 - 1e-15,
        xtol=1e-16,
        rtol=1e-15,
    )
    d = np.asarray(demand, dtype=np.float64)
    candidates = np.unique(d)
    short = np.maximum(d[None, :] - candidates[:, None], 0)
    left = np.maximum(candidates[:, None] - d[None, :], 0)
    cost = (cost_short * short + cost_left * left).mean(axis=1)
    best = np.flatnonzero(cost <= cost.min() * (1 + 1e-12))[0]
    return np.array([level, candidates[best]])


def _grid_welsch_mode(samples: ArrayLike, scale: float) -> float:
    """The best of 20001 grid points for lossmod.barron_loss(alpha=-inf),
    then the root of its summed gradient between the grid neighbours."""
    from scipy import optimize

    x = np.asarray(samples, dtype=np.float64)
    grid = np.linspace(x.min(), x.max(), 20001)
    shape = (len(grid), len(x))
    mean_loss = lossmod.barron_loss(
        np.broadcast_to(grid[:, None], shape).copy(),
        np.broadcast_to(x, shape).copy(),
        alpha=-np.inf,
        scale=scale,
        reduction="none",
    ).mean(axis=1)
    i = int(np.argmin(mean_loss))
    step = grid[1] - grid[0]

    def slope(m: float) -> float:
        return float(
            lossmod.barron_loss_grad(
                np.full(len(x), m), x, alpha=-np.inf, scale=scale
            ).sum()
        )

    return float(
        optimize.brentq(slope, grid[i] - step, grid[i] + step, xtol=1e-15)
    )


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


def _hidden_threshold(rng: np.random.Generator) -> tuple[Case, ...]:
    right = rng.uniform(0, 5, size=2)
    mistakes = right + rng.uniform(0.5, 50, size=2)
    drawn = np.array([[right[0], mistakes[1]], [mistakes[0], right[1]]])
    return (
        Case("random costs", (drawn,)),
        Case(
            "a miss costs 1e6 false alarms",
            (np.array([[0, 1e6], [1, 0]]),),
        ),
        Case(
            "a false alarm costs 40 misses",
            (np.array([[1.0, 3.0], [81.0, 1.0]]),),
        ),
    )


def _hidden_stock(rng: np.random.Generator) -> tuple[Case, ...]:
    poisson = rng.poisson(40, size=365).astype(float)
    skewed = rng.gamma(2.0, 10.0, size=201)
    return (
        Case("a year of Poisson demand, 3 : 1", (poisson, 3.0, 1.0)),
        Case("skewed amounts, 1 : 9", (skewed, 1.0, 9.0)),
        Case("skewed amounts, 99 : 1", (skewed, 99.0, 1.0)),
    )


def _hidden_mode(rng: np.random.Generator) -> tuple[Case, ...]:
    mixture = np.concatenate(
        [rng.normal(0.0, 1.0, size=120), rng.normal(6.0, 0.3, size=80)]
    )
    skewed = rng.lognormal(0.0, 0.8, size=150)
    return (
        Case("two clusters, the smaller one denser", (mixture, 0.3)),
        Case("log-normal, scale 0.2", (skewed, 0.2)),
        Case("log-normal, scale 50", (skewed, 50.0)),
    )


# Public data of exercise 5: a wide cluster and a tight one; waiting
# times skewed to the right.
_TWO_CLUSTERS = np.array(
    [-1.9, -1.2, -0.7, -0.3, 0.0, 0.4, 0.8, 1.3, 2.0, 3.9, 4.0, 4.05]
)
_TWO_CLUSTERS = np.concatenate([_TWO_CLUSTERS, [4.1, 4.2, 4.3]])
_WAITING = np.array(
    [0.4, 0.7, 0.9, 1.1, 1.2, 1.4, 1.5, 1.8, 2.1, 2.5, 3.0, 3.8, 4.9]
)
_WAITING = np.concatenate([_WAITING, [6.5, 9.0, 14.0]])


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
        task="the cost-minimising threshold and the pos_weight that "
        "reaches it",
        solution=cost_threshold,
        cases=(
            Case(
                "a miss costs 10 false alarms",
                (np.array([[0.0, 10.0], [1.0, 0.0]]),),
            ),
            Case(
                "equal costs",
                (np.array([[0.0, 1.0], [1.0, 0.0]]),),
            ),
            Case(
                "a treated positive still costs 3",
                (np.array([[0.0, 50.0], [5.0, 3.0]]),),
            ),
            # a cost that depends on the label only changes no decision
            Case(
                "100 added to every positive's cost",
                (np.array([[0.0, 110.0], [1.0, 100.0]]),),
            ),
        ),
        oracle=_searched_threshold,
        hidden=_hidden_threshold,
        rtol=1e-9,
    ),
    Exercise(
        id="choosing-a-loss-4",
        task="the quantile level and amount for an asymmetric cost",
        solution=stock_to_hold,
        cases=(
            Case(
                "ten days, a shortage costs 3 times the waste",
                (
                    np.array([12, 7, 9, 15, 10, 8, 11, 30, 9, 10.0]),
                    3.0,
                    1.0,
                ),
            ),
            Case(
                "the same days, equal costs",
                (
                    np.array([12, 7, 9, 15, 10, 8, 11, 30, 9, 10.0]),
                    1.0,
                    1.0,
                ),
            ),
            Case(
                "the same days, waste costs 4 times a shortage",
                (
                    np.array([12, 7, 9, 15, 10, 8, 11, 30, 9, 10.0]),
                    1.0,
                    4.0,
                ),
            ),
            Case(
                "costs in euros: 2.5 short, 0.6 left",
                (np.arange(1.0, 22.0) ** 1.5, 2.5, 0.6),
            ),
        ),
        oracle=_brute_force_stock,
        hidden=_hidden_stock,
        rtol=1e-12,
    ),
    Exercise(
        id="choosing-a-loss-5",
        task="the mode as the minimiser of a redescending loss",
        solution=welsch_mode,
        cases=(
            Case(
                "three points, scale 1",
                (np.array([0.0, 0.5, 4.0]), 1.0),
            ),
            Case(
                "two clusters, scale 0.5",
                (_TWO_CLUSTERS, 0.5),
            ),
            Case(
                "two clusters, scale 20: near the mean",
                (_TWO_CLUSTERS, 20.0),
            ),
            Case(
                "skewed waiting times, scale 1",
                (_WAITING, 1.0),
            ),
        ),
        oracle=_grid_welsch_mode,
        hidden=_hidden_mode,
        rtol=1e-8,
        atol=1e-10,
    ),
)
