"""Exercises of the chapter "Contrastive and metric learning"
(chapters/contrastive.ipynb)."""

from __future__ import annotations

import math

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# -------------------------------------------------------------------------
# contrastive-1: InfoNCE from a matrix of scores


def info_nce_from_scores(scores: ArrayLike) -> float:
    """The mean InfoNCE loss of an (N, N) matrix of scores.

    Row i holds the scores of query i against the N keys of the batch;
    its own key is key i (the diagonal), the other N - 1 are negatives.
    NumPy only. It must stay finite and accurate for scores of any size,
    +-1e4 included, and for a loss near 0.

    Parameters
    ----------
    scores : array of shape (N, N)
        Finite real numbers (similarities divided by a temperature).

    Returns
    -------
    float, >= 0: the loss averaged over the N queries.
    """
    s = np.asarray(scores, dtype=float)
    rows = np.arange(len(s))
    top = np.argmax(s, axis=1)
    m = s[rows, top]
    # -log softmax(s_i)_i = (m_i - s_ii) + log(1 + r_i): two non-negative
    # terms, every exponent <= 0; r_i sums the terms other than the
    # largest, and log1p keeps a tiny r_i that log(1 + r_i) rounds to 0
    e = np.exp(s - m[:, None])
    e[rows, top] = 0.0
    return float(np.mean((m - s[rows, rows]) + np.log1p(e.sum(axis=1))))


def _cross_entropy_over_the_batch(scores: ArrayLike) -> float:
    """The oracle: lossmod.cross_entropy with class i for row i."""
    s = np.asarray(scores, dtype=float)
    return float(lossmod.cross_entropy(s, np.arange(len(s))))


def _hidden_score_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("scores around +1e3", (1e3 + rng.normal(size=(5, 5)),)),
        Case(
            "scores of size 1e4, both signs",
            (1e4 * rng.normal(size=(4, 4)),),
        ),
        Case("a batch of 64", (5.0 * rng.normal(size=(64, 64)),)),
        Case("a batch of one: no negatives", (np.array([[3.0]]),)),
        Case(
            "diagonal far ahead: loss ~ 4e-18",
            (rng.normal(size=(6, 6)) + 45.0 * np.eye(6),),
        ),
        Case("equal scores: log N", (np.full((7, 7), -2.5),)),
    )


# -------------------------------------------------------------------------
# contrastive-2: the gradient of InfoNCE in the temperature


def info_nce_temperature_grad(
    cosines: ArrayLike, temperature: float
) -> float:
    """d/dt of the mean InfoNCE loss of the scores cosines / t.

    The loss is L(t) = (1/N) sum_i -log softmax(c_i / t)_i, where row i
    of ``cosines`` holds the similarities of query i with the N keys and
    the diagonal holds the positives. Derive dL/dt, then compute it with
    NumPy; it must stay finite for t down to 1e-3.

    Parameters
    ----------
    cosines : array of shape (N, N)
        Similarities, usually cosines in [-1, 1].
    temperature : float, > 0

    Returns
    -------
    float: dL/dt at ``temperature``.
    """
    c = np.asarray(cosines, dtype=float)
    n = len(c)
    s = c / temperature
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    # dL/dt = -(1/t^2) mean_i [sum_j p_ij c_ij - c_ii]: the expected
    # similarity under the softmax minus the positive's
    gap = np.sum(p * c, axis=1) - c[np.arange(n), np.arange(n)]
    return float(-np.mean(gap) / temperature**2)


def _central_difference_in_t(
    cosines: ArrayLike, temperature: float
) -> float:
    """The oracle: central differences of lossmod.cross_entropy(c / t)
    in t, with a step 1e-6 relative to t: numerical_gradient in u at
    u = 1 of the loss at t = u * temperature (its step is 1e-6 absolute
    below 1, 1e-3 of t = 1e-3), then the chain rule dL/dt = dL/du / t."""
    c = np.asarray(cosines, dtype=float)
    labels = np.arange(len(c))
    grad = lossmod.numerical_gradient(
        lambda u: lossmod.cross_entropy(c / (u[0] * temperature), labels),
        np.array([1.0]),
    )
    return float(grad[0] / temperature)


def _cosines(
    rng: np.random.Generator, n: int, d: int, noise: float
) -> NDArray[np.float64]:
    q = rng.normal(size=(n, d))
    k = q + noise * rng.normal(size=(n, d))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    return q @ k.T


def _hidden_temperature_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    return (
        Case("a batch of 32, t = 0.07", (_cosines(rng, 32, 8, 0.5), 0.07)),
        Case("a batch of 32, t = 2", (_cosines(rng, 32, 8, 0.5), 2.0)),
        Case("noisy pairs, t = 0.01", (_cosines(rng, 10, 4, 2.0), 0.01)),
        Case("t = 1e-3", (_cosines(rng, 6, 3, 1.0), 1e-3)),
        Case(
            "every positive first, t = 0.5",
            (_cosines(rng, 8, 16, 0.05), 0.5),
        ),
    )


# -------------------------------------------------------------------------
# contrastive-3: batch-hard triplet loss from a distance matrix


def batch_hard_triplet_loss(
    distances: ArrayLike, labels: ArrayLike, margin: float
) -> float:
    """The batch-hard triplet loss of a batch, from its distance matrix.

    For each anchor a: its hardest positive (the farthest example of the
    same label, other than a) and its hardest negative (the closest
    example of another label) give max(0, margin + d(a, p) - d(a, n)).
    Anchors without a positive or without a negative are left out; the
    loss is the mean over the other anchors.

    Parameters
    ----------
    distances : array of shape (N, N)
        d(i, j) >= 0, symmetric, zero on the diagonal.
    labels : array of int, shape (N,)
    margin : float, > 0

    Returns
    -------
    float, >= 0 (0 when no anchor has both a positive and a negative).
    """
    d = np.asarray(distances, dtype=float)
    y = np.asarray(labels)
    same = y[:, None] == y[None, :]
    positive, negative = same & ~np.eye(len(y), dtype=bool), ~same
    usable = positive.any(axis=1) & negative.any(axis=1)
    if not usable.any():
        return 0.0
    hardest_positive = np.where(positive, d, -np.inf).max(axis=1)
    hardest_negative = np.where(negative, d, np.inf).min(axis=1)
    gap = hardest_positive - hardest_negative
    losses = np.maximum(margin + gap, 0.0)
    return float(np.mean(losses[usable]))


def _worst_triplet_per_anchor(
    distances: ArrayLike, labels: ArrayLike, margin: float
) -> float:
    """The oracle: for each anchor, the largest loss over all its valid
    triplets (a, p, n), by loops; the mean over anchors that have one."""
    d = np.asarray(distances, dtype=float)
    y = np.asarray(labels)
    n = len(y)
    worst = []
    for a in range(n):
        losses = [
            max(0.0, margin + d[a, p] - d[a, q])
            for p in range(n)
            for q in range(n)
            if p != a and y[p] == y[a] and y[q] != y[a]
        ]
        if losses:
            worst.append(max(losses))
    return float(np.mean(worst)) if worst else 0.0


def _distance_matrix(points: NDArray[np.float64]) -> NDArray[np.float64]:
    diff = points[:, None, :] - points[None, :, :]
    return np.asarray(np.sqrt(np.sum(diff * diff, axis=-1)))


def _hidden_batch_hard_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    labels = rng.integers(0, 4, size=24)
    centres = 3.0 * rng.normal(size=(4, 2))
    clustered = centres[labels] + 0.3 * rng.normal(size=(24, 2))
    return (
        Case(
            "24 points in 4 clusters",
            (_distance_matrix(clustered), labels, 1.0),
        ),
        Case(
            "24 points, no structure",
            (_distance_matrix(rng.normal(size=(24, 5))), labels, 0.2),
        ),
        Case(
            "collapsed: every distance 0, loss = margin",
            (np.zeros((6, 6)), np.array([0, 0, 1, 1, 2, 2]), 0.5),
        ),
        Case(
            "one label only: no negatives",
            (
                _distance_matrix(rng.normal(size=(4, 3))),
                np.zeros(4, dtype=int),
                1.0,
            ),
        ),
        Case(
            "well separated: loss 0",
            (
                _distance_matrix(20.0 * np.repeat(np.eye(3), 3, axis=0)),
                np.repeat([0, 1, 2], 3),
                1.0,
            ),
        ),
    )


# -------------------------------------------------------------------------
# contrastive-4: semi-hard negatives


def semi_hard_negatives(
    distances: ArrayLike, labels: ArrayLike, margin: float
) -> NDArray[np.int64]:
    """The semi-hard negative of every (anchor, positive) pair.

    For a pair (a, p) with the same label, a != p, a semi-hard negative
    is an example n of another label with
    d(a, p) < d(a, n) < d(a, p) + margin: farther than the positive, yet
    inside the margin. Return the closest one (the smallest d(a, n));
    -1 where there is none, and -1 for every (a, p) that is not a
    positive pair.

    Parameters
    ----------
    distances : array of shape (N, N)
        d(i, j) >= 0, symmetric, zero on the diagonal.
    labels : array of int, shape (N,)
    margin : float, > 0

    Returns
    -------
    array of int, shape (N, N): entry [a, p] is the index n, or -1.
    """
    d = np.asarray(distances, dtype=float)
    y = np.asarray(labels)
    same = y[:, None] == y[None, :]
    positive, negative = same & ~np.eye(len(y), dtype=bool), ~same
    d_ap = d[:, :, None]
    d_an = d[:, None, :]
    # [a, p, n]: n is a negative of a, farther than p, inside the margin
    inside = (d_an > d_ap) & (d_an < d_ap + margin)
    window = negative[:, None, :] & inside
    candidates = np.where(window, d_an, np.inf)
    chosen = np.argmin(candidates, axis=2)
    found = positive & window.any(axis=2)
    return np.where(found, chosen, -1).astype(np.int64)


def _semi_hard_by_loops(
    distances: ArrayLike, labels: ArrayLike, margin: float
) -> NDArray[np.int64]:
    """The oracle: every (a, p, n) checked one at a time."""
    d = np.asarray(distances, dtype=float)
    y = np.asarray(labels)
    n = len(y)
    out = np.full((n, n), -1, dtype=np.int64)
    for a in range(n):
        for p in range(n):
            if p == a or y[p] != y[a]:
                continue
            best = math.inf
            for q in range(n):
                if (
                    y[q] != y[a]
                    and d[a, p] < d[a, q] < d[a, p] + margin
                    and d[a, q] < best
                ):
                    best, out[a, p] = d[a, q], q
    return out


def _hidden_semi_hard_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    labels = rng.integers(0, 3, size=15)
    centres = 2.0 * rng.normal(size=(3, 2))
    points = centres[labels] + 0.8 * rng.normal(size=(15, 2))
    return (
        Case(
            "15 points in 3 clusters",
            (_distance_matrix(points), labels, 1.0),
        ),
        Case("a small margin", (_distance_matrix(points), labels, 0.1)),
        Case("a huge margin", (_distance_matrix(points), labels, 100.0)),
        Case(
            "random points in 6 dimensions",
            (
                _distance_matrix(rng.normal(size=(12, 6))),
                rng.integers(0, 4, size=12),
                0.5,
            ),
        ),
        Case(
            "collapsed: no negative is farther than a positive",
            (np.zeros((4, 4)), np.array([0, 0, 1, 1]), 1.0),
        ),
    )


# -------------------------------------------------------------------------
# contrastive-5: how large a batch the bound needs


def smallest_batch_for_bound(covariance: ArrayLike, dim_x: int) -> int:
    """The smallest batch size N for which the InfoNCE bound log N - L
    could reach the mutual information of two jointly Gaussian vectors.

    (X, Y) is Gaussian with mean zero and the given covariance; X is the
    first ``dim_x`` coordinates, Y the others. Derive I(X; Y) from the
    covariance, then return the smallest integer N >= 1 whose log N is
    at least I (treat an I within 1e-12 of log N as reached, so that an
    I which is 0 up to rounding gives N = 1).

    Parameters
    ----------
    covariance : array of shape (dim_x + dim_y, dim_x + dim_y)
        Symmetric positive definite.
    dim_x : int
        1 <= dim_x < the number of coordinates.

    Returns
    -------
    int: the smallest such N.
    """
    c = np.asarray(covariance, dtype=float)
    _, log_det_x = np.linalg.slogdet(c[:dim_x, :dim_x])
    _, log_det_y = np.linalg.slogdet(c[dim_x:, dim_x:])
    _, log_det = np.linalg.slogdet(c)
    # I = h(X) + h(Y) - h(X, Y); the (2 pi e) factors cancel
    info = 0.5 * (log_det_x + log_det_y - log_det)
    # log N >= I  <=>  N >= exp(I), with the tolerance of the task
    return max(1, math.ceil(math.exp(info - 1e-12)))


def _search_with_scipy_entropies(covariance: ArrayLike, dim_x: int) -> int:
    """The oracle: I = H(X) + H(Y) - H(X, Y) from scipy's Gaussian
    entropies, then N = 1, 2, ... until log N >= I - 1e-12."""
    from scipy import stats  # type: ignore[import-untyped]

    c = np.asarray(covariance, dtype=float)

    def entropy(block: NDArray[np.float64]) -> float:
        zero = np.zeros(len(block))
        return float(stats.multivariate_normal(zero, block).entropy())

    info = (
        entropy(c[:dim_x, :dim_x])
        + entropy(c[dim_x:, dim_x:])
        - entropy(c)
    )
    n = 1
    while math.log(n) < info - 1e-12:
        n += 1
    return n


def _correlated(rho: float, dim: int) -> NDArray[np.float64]:
    """The lesson's case: X, Y standard normal in dim dimensions, each
    coordinate pair correlated by rho."""
    eye = np.eye(dim)
    return np.block([[eye, rho * eye], [rho * eye, eye]])


def _hidden_batch_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    def wishart(size: int) -> NDArray[np.float64]:
        # few degrees of freedom: strongly correlated coordinates
        a = rng.normal(size=(size, size))
        return np.asarray(a @ a.T / size + 0.01 * np.eye(size))

    return (
        Case("rho = 0.9, one dimension", (_correlated(0.9, 1), 1)),
        Case("rho = -0.8, 4 dimensions", (_correlated(-0.8, 4), 4)),
        Case("rho = 0.99, 2 dimensions", (_correlated(0.99, 2), 2)),
        Case("a random covariance, 2 + 3", (wishart(5), 2)),
        Case("a random covariance, 1 + 4", (wishart(5), 1)),
        Case("a random covariance, 3 + 3, scaled", (40.0 * wishart(6), 3)),
        Case(
            "independent blocks with unequal scales: N = 1",
            (np.diag([4.0, 0.5, 9.0]), 2),
        ),
    )


_SCORES = np.array([[2.0, 0.5, -1.0], [0.3, 1.5, 0.2], [-0.5, 1.0, 0.8]])
_LABELS = np.array([0, 0, 1, 1, 2, 2, 0])
_POINTS = np.array(
    [
        [0.0, 0.0],
        [0.5, 0.2],
        [1.0, 0.1],
        [1.4, 0.6],
        [0.3, 1.2],
        [2.5, 2.0],
        [0.9, -0.2],
    ]
)
_DISTANCES = _distance_matrix(_POINTS)
_COSINES = _cosines(np.random.default_rng(7), 6, 4, 0.6)

EXERCISES = (
    Exercise(
        id="contrastive-1",
        task="the mean InfoNCE loss of a matrix of scores",
        solution=info_nce_from_scores,
        cases=(
            Case("three queries", (_SCORES,)),
            Case("scores near 1000", (_SCORES + 1000.0,)),
            Case(
                "a confident mistake by 800",
                (np.array([[0.0, 800.0], [0.0, 1.0]]),),
            ),
            Case(
                "positives 40 ahead: loss ~ 8e-18",
                (
                    np.array(
                        [
                            [40.0, 0.0, 0.0],
                            [0.0, 40.0, 0.0],
                            [0.0, 0.0, 40.0],
                        ]
                    ),
                ),
            ),
        ),
        oracle=_cross_entropy_over_the_batch,
        hidden=_hidden_score_cases,
        rtol=1e-7,
        atol=1e-20,
        reimplements=("cross_entropy", "log_softmax", "logsumexp"),
    ),
    Exercise(
        id="contrastive-2",
        task="the derivative of InfoNCE in the temperature",
        solution=info_nce_temperature_grad,
        cases=(
            Case("six pairs, t = 0.1", (_COSINES, 0.1)),
            Case("six pairs, t = 1", (_COSINES, 1.0)),
            Case("identical keys: 0", (np.ones((4, 4)), 0.2)),
            Case("rows reversed, t = 1e-3", (_COSINES[::-1], 1e-3)),
        ),
        oracle=_central_difference_in_t,
        hidden=_hidden_temperature_cases,
        rtol=1e-6,
        atol=1e-9,
    ),
    Exercise(
        id="contrastive-3",
        task="the batch-hard triplet loss from a distance matrix",
        solution=batch_hard_triplet_loss,
        cases=(
            Case("seven points, margin 1", (_DISTANCES, _LABELS, 1.0)),
            Case("seven points, margin 0.1", (_DISTANCES, _LABELS, 0.1)),
            Case(
                "a label with one example has no positive",
                (_DISTANCES[:5, :5], np.array([0, 0, 1, 1, 2]), 0.5),
            ),
            Case(
                "collapsed: every distance 0",
                (np.zeros((4, 4)), np.array([0, 0, 1, 1]), 0.7),
            ),
        ),
        oracle=_worst_triplet_per_anchor,
        hidden=_hidden_batch_hard_cases,
        rtol=1e-12,
        atol=1e-12,
    ),
    Exercise(
        id="contrastive-4",
        task="the semi-hard negative of every (anchor, positive) pair",
        solution=semi_hard_negatives,
        cases=(
            Case("seven points, margin 1", (_DISTANCES, _LABELS, 1.0)),
            Case("seven points, margin 0.3", (_DISTANCES, _LABELS, 0.3)),
            Case(
                "collapsed: every distance 0",
                (np.zeros((4, 4)), np.array([0, 0, 1, 1]), 1.0),
            ),
        ),
        oracle=_semi_hard_by_loops,
        hidden=_hidden_semi_hard_cases,
        rtol=0.0,
        atol=0.0,
    ),
    Exercise(
        id="contrastive-5",
        task="the smallest batch whose InfoNCE bound can reach I(X; Y)",
        solution=smallest_batch_for_bound,
        cases=(
            Case(
                "the lesson's rho = 0.8, 6 dimensions",
                (_correlated(0.8, 6), 6),
            ),
            Case("rho = 0.5, one dimension", (_correlated(0.5, 1), 1)),
            Case(
                "X in 2 dimensions, Y in 1",
                (
                    np.array(
                        [[2.0, 0.3, 0.9], [0.3, 1.0, 0.4], [0.9, 0.4, 1.0]]
                    ),
                    2,
                ),
            ),
            Case("independent X and Y: N = 1", (np.diag([2.0, 3.0]), 1)),
        ),
        oracle=_search_with_scipy_entropies,
        hidden=_hidden_batch_cases,
        rtol=0.0,
        atol=0.0,
    ),
)
