"""Exercises of the chapter "Preference optimisation"
(chapters/preference.ipynb)."""

from __future__ import annotations

import math

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# -------------------------------------------------------------------------
# preference-1: the policy that maximises reward minus beta times the KL,
# plus an entropy bonus


def optimal_policy(
    ref_probs: ArrayLike, rewards: ArrayLike, beta: float, alpha: float
) -> NDArray[np.float64]:
    """The policy that maximises E_pi[r] - beta KL(pi || pi_ref)
    + alpha H(pi), for each prompt.

    H(pi) = -sum_y pi(y) log pi(y) is the entropy of the policy's
    distribution over the responses to the prompt.

    Parameters
    ----------
    ref_probs : array of shape (K, M)
        Row k is the reference policy's distribution over the M
        responses to prompt k (non-negative, summing to 1; entries may
        be 0).
    rewards : array of shape (K, M)
        The reward r(x_k, y_m) of each response, real numbers.
    beta : float
        The weight beta > 0 of the KL penalty; it may be tiny (1e-4) or
        huge (1e6).
    alpha : float
        The weight alpha >= 0 of the entropy bonus (0: no bonus).

    Returns
    -------
    array of float64 of shape (K, M): one distribution per row.
    """
    ref = np.asarray(ref_probs, dtype=np.float64)
    r = np.asarray(rewards, dtype=np.float64)
    # J = -(beta + alpha) KL(pi || pi*) + const with
    # pi* = ref^(beta / (beta + alpha)) exp(r / (beta + alpha)) / Z, in
    # log space: a softmax of (beta log ref + r) / (beta + alpha) over
    # the responses ref can give (log 0 = -inf)
    with np.errstate(divide="ignore"):
        scores = (beta * np.log(ref) + r) / (beta + alpha)
    top = np.max(scores, axis=1, keepdims=True)
    weights = np.exp(scores - top)
    return np.asarray(
        weights / weights.sum(axis=1, keepdims=True), dtype=np.float64
    )


def _optimal_policy_by_mpmath(
    ref_probs: ArrayLike, rewards: ArrayLike, beta: float, alpha: float
) -> NDArray[np.float64]:
    """The oracle: ref^(beta / (beta + alpha)) exp(r / (beta + alpha)) / Z
    as written, in 50-digit arithmetic (no overflow: mpmath's exponent is
    unbounded)."""
    import mpmath  # type: ignore[import-untyped]

    ref = np.asarray(ref_probs, dtype=np.float64)
    r = np.asarray(rewards, dtype=np.float64)
    out = np.zeros_like(ref)
    with mpmath.workdps(50):
        total_weight = mpmath.mpf(beta) + mpmath.mpf(alpha)
        for k in range(ref.shape[0]):
            terms = [
                mpmath.mpf(float(p)) ** (mpmath.mpf(beta) / total_weight)
                * mpmath.exp(mpmath.mpf(float(v)) / total_weight)
                for p, v in zip(ref[k], r[k], strict=True)
            ]
            total = mpmath.fsum(terms)
            out[k] = [float(t / total) for t in terms]
    return out


def _hidden_policy_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    ref = rng.dirichlet(np.ones(6), size=5)
    r = rng.normal(size=(5, 6))
    sparse = rng.dirichlet(np.ones(4), size=3)
    sparse[:, 1] = 0.0
    sparse /= sparse.sum(axis=1, keepdims=True)
    return (
        Case(
            "five prompts, six responses, beta 0.3, alpha 0.2",
            (ref, r, 0.3, 0.2),
        ),
        Case(
            "beta 1e-4, alpha 0: nearly the best response",
            (ref, r, 1e-4, 0.0),
        ),
        Case(
            "beta 1e6, alpha 0: nearly the reference", (ref, r, 1e6, 0.0)
        ),
        Case("alpha 1e6: nearly uniform", (ref, r, 0.5, 1e6)),
        Case(
            "a response the reference never gives, alpha 2",
            (sparse, 3.0 * rng.normal(size=(3, 4)), 0.05, 2.0),
        ),
        Case(
            "rewards of 1e3, alpha 1",
            (ref[:2], 1e3 * rng.normal(size=(2, 6)), 2.0, 1.0),
        ),
    )


# -------------------------------------------------------------------------
# preference-2: the gradient of label-smoothed DPO in a tabular policy's
# logits


def smoothed_dpo_gradient(
    theta: ArrayLike,
    ref_logps: ArrayLike,
    x: ArrayLike,
    y_w: ArrayLike,
    y_l: ArrayLike,
    beta: float,
    eps: float,
) -> NDArray[np.float64]:
    """Gradient of the mean label-smoothed DPO loss over a batch of
    pairs with respect to a tabular policy's logits theta.

    The policy is pi(y | x) = softmax(theta[x])[y]. Pair i compares, for
    the prompt x[i], the chosen response y_w[i] with the rejected
    response y_l[i]; its verdict is taken to be wrong with probability
    eps, so its loss is
        -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h),
    with h the log-ratio difference of dpo_loss (log pi(y_w) -
    log pi(y_l) - log pi_ref(y_w) + log pi_ref(y_l), at the prompt x[i]).

    Parameters
    ----------
    theta : array of shape (K, M)
        The policy's logits, one row per prompt.
    ref_logps : array of shape (K, M)
        log pi_ref(y | x), each row's exponentials summing to 1.
    x, y_w, y_l : arrays of int, shape (n,)
        The prompt, the chosen and the rejected response of each pair
        (y_w[i] != y_l[i]).
    beta : float
        DPO's beta > 0.
    eps : float
        The label smoothing, 0 <= eps < 1/2 (0 is plain DPO).

    Returns
    -------
    array of float64 of shape (K, M): d(mean loss) / d theta.
    """
    logits = np.asarray(theta, dtype=np.float64)
    ref = np.asarray(ref_logps, dtype=np.float64)
    k, w, v = (np.asarray(a) for a in (x, y_w, y_l))
    top = np.max(logits, axis=1, keepdims=True)
    log_z = np.log(np.sum(np.exp(logits - top), axis=1, keepdims=True))
    log_pi = logits - top - log_z
    h = (log_pi[k, w] - log_pi[k, v]) - (ref[k, w] - ref[k, v])
    # d loss / dh = -beta ((1 - eps) sigmoid(-beta h)
    #                      - eps sigmoid(beta h))
    #             = -beta (sigmoid(-beta h) - eps),
    # since the two sigmoids sum to 1; e^-|t| keeps it from overflowing
    t = -beta * h
    e = np.exp(-np.abs(t))
    sigmoid_t = np.where(t >= 0, 1.0, e) / (1.0 + e)
    weight = beta * (sigmoid_t - eps) / len(k)
    # d log pi(y) / d theta = onehot(y) - pi: the pi terms of y_w and
    # y_l cancel, leaving weight * (onehot(y_l) - onehot(y_w))
    grad = np.zeros_like(logits)
    np.add.at(grad, (k, w), -weight)
    np.add.at(grad, (k, v), weight)
    return grad


def _smoothed_dpo_gradient_by_differences(
    theta: ArrayLike,
    ref_logps: ArrayLike,
    x: ArrayLike,
    y_w: ArrayLike,
    y_l: ArrayLike,
    beta: float,
    eps: float,
) -> NDArray[np.float64]:
    """The oracle: central differences of the mean smoothed loss as the
    docstring writes it, with scipy's log_softmax and log_expit (no
    lossmod loss)."""
    from scipy import special  # type: ignore[import-untyped]

    ref = np.asarray(ref_logps, dtype=np.float64)
    k, w, v = (np.asarray(a) for a in (x, y_w, y_l))

    def mean_loss(logits: NDArray[np.float64]) -> float:
        log_pi = special.log_softmax(logits, axis=1)
        h = log_pi[k, w] - log_pi[k, v] - ref[k, w] + ref[k, v]
        losses = -(1.0 - eps) * special.log_expit(
            beta * h
        ) - eps * special.log_expit(-beta * h)
        return float(np.mean(losses))

    start = np.asarray(theta, dtype=np.float64)
    return np.asarray(
        lossmod.numerical_gradient(mean_loss, start), dtype=np.float64
    )


def _tabular_case(
    rng: np.random.Generator, k: int, m: int, n: int, scale: float
) -> tuple[NDArray[np.float64] | NDArray[np.int64], ...]:
    theta = scale * rng.normal(size=(k, m))
    ref = rng.normal(size=(k, m))
    ref -= np.log(np.sum(np.exp(ref), axis=1, keepdims=True))
    x = rng.integers(0, k, n)
    w = rng.integers(0, m, n)
    v = (w + rng.integers(1, m, n)) % m
    return theta, ref, x, w, v


def _hidden_gradient_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "4 prompts, 5 responses, 50 pairs, eps 0.1",
            (*_tabular_case(rng, 4, 5, 50, 1.0), 0.1, 0.1),
        ),
        Case(
            "one prompt, two responses, 9 pairs, eps 0.3",
            (*_tabular_case(rng, 1, 2, 9, 1.0), 2.0, 0.3),
        ),
        Case(
            "repeated pairs, beta 0.5, eps 0",
            (*_tabular_case(rng, 2, 3, 40, 1.0), 0.5, 0.0),
        ),
        Case(
            "confident policy (logits x 20), eps 0.05",
            (*_tabular_case(rng, 3, 4, 30, 20.0), 1.0, 0.05),
        ),
    )


def _unanimous_optimum_case() -> Case:
    """One pair, uniform reference, logits [c, 0]: h = c, and at
    c = log((1 - eps) / eps) / beta the smoothed loss is smallest."""
    beta, eps = 0.5, 0.1
    c = math.log((1.0 - eps) / eps) / beta
    return Case(
        "one pair at sigmoid(beta h) = 1 - eps: the gradient is 0",
        (
            np.array([[c, 0.0]]),
            np.log(np.full((1, 2), 0.5)),
            np.array([0]),
            np.array([0]),
            np.array([1]),
            beta,
            eps,
        ),
    )


# -------------------------------------------------------------------------
# preference-3: where DPO and IPO settle on a pair


def preference_fixed_points(
    win_rate: float, beta: float
) -> NDArray[np.float64]:
    """Where the expected DPO and IPO losses of one pair are smallest.

    Response a beats response b in a fraction ``win_rate`` of the
    comparisons, and b beats a in the rest; the data hold both kinds.
    With h the log-ratio difference of a over b (the h of dpo_loss),
    return
    the h that minimises each expected loss,
        p * loss(h) + (1 - p) * loss(-h),
    with DPO's loss and with IPO's, both with this beta (IPO's tau).
    Where no finite h minimises a loss, return inf or -inf, the side the
    loss keeps falling towards.

    Parameters
    ----------
    win_rate : float
        p in [0, 1].
    beta : float
        beta > 0.

    Returns
    -------
    array of float64 of shape (2,): [DPO's h, IPO's h].
    """
    p = float(win_rate)
    if p in (0.0, 1.0):
        dpo = math.copysign(math.inf, p - 0.5)
    else:
        # sigmoid(beta h) = p: the Bradley-Terry fit of the win rate
        dpo = (math.log(p) - math.log1p(-p)) / beta
    # p (h - c) + (1 - p) (h + c) = 0 with c = 1 / (2 beta)
    ipo = (2.0 * p - 1.0) / (2.0 * beta)
    return np.array([dpo, ipo])


def _fixed_points_by_root_finding(
    win_rate: float, beta: float
) -> NDArray[np.float64]:
    """The oracle: the root of the expected loss's derivative in h, from
    lossmod's gradients (dpo_loss_grad, ipo_loss_grad), by brentq; for a
    derivative of one sign on [-30 / beta, 30 / beta] (where sigmoid(-30)
    is still far from underflow), the infinity it points to."""
    from scipy.optimize import brentq  # type: ignore[import-untyped]

    p = float(win_rate)
    zero = np.zeros(1)
    out = []
    for grad in (lossmod.dpo_loss_grad, lossmod.ipo_loss_grad):

        def slope(h: float, grad: object = grad) -> float:
            g = grad  # the derivative of p l(h) + (1 - p) l(-h)
            up = g(np.array([h]), zero, zero, zero, beta=beta)  # type: ignore[operator]
            down = g(np.array([-h]), zero, zero, zero, beta=beta)  # type: ignore[operator]
            return float(p * up[0] - (1 - p) * down[0])

        edge = 30.0 / beta
        low, high = slope(-edge), slope(edge)
        if low < 0 and high < 0:
            out.append(math.inf)
        elif low > 0 and high > 0:
            out.append(-math.inf)
        else:
            out.append(brentq(slope, -edge, edge, xtol=1e-14, rtol=1e-14))
    return np.array(out)


def _hidden_fixed_point_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    p = float(rng.uniform(0.05, 0.95))
    return (
        Case("a random win rate, beta 0.2", (p, 0.2)),
        Case("a random win rate, beta 3", (1.0 - p, 3.0)),
        Case("win rate 0.999, beta 0.1", (0.999, 0.1)),
        Case("never wins, beta 0.5", (0.0, 0.5)),
        Case("always wins, beta 10", (1.0, 10.0)),
    )


# -------------------------------------------------------------------------
# preference-4: SimPO's length-normalised margins from per-token
# log-probabilities


def simpo_margins(
    logps_w: ArrayLike,
    logps_l: ArrayLike,
    mask_w: ArrayLike,
    mask_l: ArrayLike,
    beta: float,
    gamma: float,
) -> NDArray[np.float64]:
    """SimPO's margin of each pair, from padded per-token
    log-probabilities.

    Parameters
    ----------
    logps_w : array of shape (B, T)
        log pi(token | prompt, earlier tokens) of each token of the
        chosen responses; at padded positions the value is meaningless
        (it may be NaN).
    logps_l : array of shape (B, T2)
        The same for the rejected responses.
    mask_w, mask_l : arrays of bool, shapes (B, T) and (B, T2)
        True at the real tokens; every response has at least one.
    beta : float
        SimPO's reward scale beta > 0.
    gamma : float
        SimPO's target margin.

    Returns
    -------
    array of float64 of shape (B,): the margin m of each pair, the
    number SimPO's loss takes the logistic loss of.
    """

    def mean_logp(
        logps: ArrayLike, mask: ArrayLike
    ) -> NDArray[np.float64]:
        real = np.asarray(mask, dtype=bool)
        values = np.asarray(logps, dtype=np.float64)
        # np.where, not values * real: NaN * 0 is NaN
        total = np.where(real, values, 0.0).sum(axis=1)
        # the average log-probability per token: log pi(y) / |y|
        return np.asarray(total / real.sum(axis=1), dtype=np.float64)

    chosen = mean_logp(logps_w, mask_w)
    rejected = mean_logp(logps_l, mask_l)
    return beta * (chosen - rejected) - gamma


def _simpo_margins_by_loop(
    logps_w: ArrayLike,
    logps_l: ArrayLike,
    mask_w: ArrayLike,
    mask_l: ArrayLike,
    beta: float,
    gamma: float,
) -> NDArray[np.float64]:
    """The oracle: a loop over the pairs and tokens with math.fsum."""
    margins = []
    for cw, cm, rw, rm in zip(
        np.asarray(logps_w),
        np.asarray(mask_w),
        np.asarray(logps_l),
        np.asarray(mask_l),
        strict=True,
    ):
        good = [float(v) for v, keep in zip(cw, cm, strict=True) if keep]
        bad = [float(v) for v, keep in zip(rw, rm, strict=True) if keep]
        average = math.fsum(good) / len(good) - math.fsum(bad) / len(bad)
        margins.append(beta * average - gamma)
    return np.array(margins)


def _padded(
    rng: np.random.Generator, lengths: list[int], pad: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    width = max(lengths)
    mask = np.arange(width)[None, :] < np.array(lengths)[:, None]
    logps = np.where(
        mask, -rng.exponential(1.5, size=(len(lengths), width)), pad
    )
    return logps, mask


def _hidden_margin_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    lengths = [int(n) for n in rng.integers(1, 60, 6)]
    other = [int(n) for n in rng.integers(1, 60, 6)]
    cw, cm = _padded(rng, lengths, np.nan)
    rw, rm = _padded(rng, other, np.nan)
    one_w, one_m = _padded(rng, [1, 1], -np.inf)
    return (
        Case(
            "six pairs, random lengths, NaN padding",
            (cw, rw, cm, rm, 2.0, 1.0),
        ),
        Case(
            "one-token responses, -inf padding",
            (one_w, one_w[::-1], one_m, one_m, 2.5, 0.0),
        ),
        Case("beta 10, gamma 3", (cw, rw, cm, rm, 10.0, 3.0)),
    )


def _repeat_case() -> Case:
    """A response against the same response written twice: the summed
    log-probability doubles, the average does not."""
    once = np.array([[-0.5, -1.0, -2.0, 0.0, 0.0, 0.0]])
    mask_once = np.array([[True, True, True, False, False, False]])
    twice = np.array([[-0.5, -1.0, -2.0, -0.5, -1.0, -2.0]])
    return Case(
        "a response against itself written twice",
        (once, twice, mask_once, np.ones((1, 6), dtype=bool), 2.0, 0.0),
    )


# -------------------------------------------------------------------------
# preference-5: the Bradley-Terry fit of a tournament


def bradley_terry_rewards(wins: ArrayLike) -> NDArray[np.float64]:
    """The rewards that maximise the Bradley-Terry likelihood of a
    tournament, centred to mean 0.

    Parameters
    ----------
    wins : array of shape (M, M)
        wins[i, j] is how often response i beat response j (>= 0, a zero
        diagonal). The comparisons connect: however the responses are
        split into two groups, each group beat the other at least once,
        so that a finite maximiser exists.

    Returns
    -------
    array of float64 of shape (M,): the rewards, summing to 0.
    """
    w = np.asarray(wins, dtype=np.float64)
    games = w + w.T  # comparisons of each pair

    def log_likelihood(r: NDArray[np.float64]) -> float:
        gap = r[:, None] - r[None, :]
        # log sigmoid(t) = -softplus(-t), stable for any t
        terms = -(np.maximum(-gap, 0.0) + np.log1p(np.exp(-np.abs(gap))))
        return float(np.sum(w * terms))

    r = np.zeros(len(w))
    for _ in range(100):
        gap = r[:, None] - r[None, :]
        p = 1.0 / (1.0 + np.exp(-gap))  # P(i beats j)
        # dL/dr_i = sum_j (w_ij - n_ij p_ij): observed minus expected
        # wins
        grad = np.sum(w - games * p, axis=1)
        # -d2L/dr dr^T: a graph Laplacian with weights n_ij p_ij p_ji,
        # singular along (1, ..., 1): solve in the least-squares sense
        weights = games * p * p.T
        laplacian = np.diag(weights.sum(axis=1)) - weights
        step = np.linalg.lstsq(laplacian, grad, rcond=None)[0]
        size = 1.0
        # backtrack: Newton's step may overshoot
        now = log_likelihood(r)
        while log_likelihood(r + size * step) < now - 1e-12:
            size /= 2
        r = r + size * step
        if np.max(np.abs(size * step)) < 1e-13:
            break
    return r - r.mean()


def _bradley_terry_by_sklearn(wins: ArrayLike) -> NDArray[np.float64]:
    """The oracle: unpenalised logistic regression without intercept on
    one-hot differences e_i - e_j (label 1) and e_j - e_i (label 0),
    weighted by the win counts, centred."""
    from sklearn.linear_model import (  # type: ignore[import-untyped]
        LogisticRegression,
    )

    w = np.asarray(wins, dtype=np.float64)
    m = len(w)
    rows, counts = [], []
    for i in range(m):
        for j in range(m):
            if w[i, j] > 0:
                diff = np.zeros(m)
                diff[i], diff[j] = 1.0, -1.0
                rows.append(diff)
                counts.append(w[i, j])
    x = np.array(rows)
    fit = LogisticRegression(
        fit_intercept=False, C=np.inf, tol=1e-13, max_iter=100_000
    ).fit(
        np.vstack([x, -x]),
        np.r_[np.ones(len(x)), np.zeros(len(x))],
        sample_weight=np.r_[counts, counts],
    )
    r = fit.coef_[0]
    return np.asarray(r - r.mean(), dtype=np.float64)


def _tournament(
    rng: np.random.Generator, m: int, games: int
) -> NDArray[np.float64]:
    """Win counts of every pair among m responses with random rewards."""
    r = rng.normal(size=m)
    wins = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            won = rng.binomial(games, 1.0 / (1.0 + np.exp(r[j] - r[i])))
            # at least one game each way: the comparisons connect
            wins[i, j], wins[j, i] = max(won, 1), max(games - won, 1)
    return wins


def _hidden_tournament_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    chain = np.zeros((5, 5))
    for i in range(4):  # only neighbours meet
        chain[i, i + 1], chain[i + 1, i] = 3.0, 1.0
    chain[4, 0] = 1.0  # and the last once beat the first
    return (
        Case("six responses, 20 games a pair", (_tournament(rng, 6, 20),)),
        Case(
            "three responses, 500 games a pair",
            (_tournament(rng, 3, 500),),
        ),
        Case("ten responses, 4 games a pair", (_tournament(rng, 10, 4),)),
        Case("a chain of neighbours closed by one upset", (chain,)),
    )


EXERCISES = (
    Exercise(
        id="preference-1",
        task=(
            "the optimal policy for given rewards, with a KL penalty "
            "and an entropy bonus"
        ),
        solution=optimal_policy,
        cases=(
            Case(
                "two prompts, three responses, beta 1, alpha 0",
                (
                    np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]),
                    np.array([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]]),
                    1.0,
                    0.0,
                ),
            ),
            Case(
                "the same, alpha 0.5",
                (
                    np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]),
                    np.array([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]]),
                    1.0,
                    0.5,
                ),
            ),
            Case(
                "equal rewards, alpha 1: not the reference",
                (
                    np.array([[0.2, 0.7, 0.1]]),
                    np.full((1, 3), 4.0),
                    0.5,
                    1.0,
                ),
            ),
            Case(
                "beta 1e-3, alpha 1e-3: r / (beta + alpha) of 1000 must "
                "not overflow",
                (
                    np.array([[0.25, 0.25, 0.5]]),
                    np.array([[2.0, 1.0, 0.0]]),
                    1e-3,
                    1e-3,
                ),
            ),
            Case(
                "a zero in the reference stays zero, alpha 3",
                (
                    np.array([[0.0, 0.4, 0.6]]),
                    np.array([[5.0, 0.0, 1.0]]),
                    0.5,
                    3.0,
                ),
            ),
        ),
        oracle=_optimal_policy_by_mpmath,
        hidden=_hidden_policy_cases,
        rtol=1e-9,
        atol=1e-15,
    ),
    Exercise(
        id="preference-2",
        task=(
            "the label-smoothed DPO gradient in a tabular policy's logits"
        ),
        solution=smoothed_dpo_gradient,
        cases=(
            Case(
                "policy = reference (h = 0), eps 0.1",
                (
                    np.log(np.array([[0.4, 0.6]])),
                    np.log(np.array([[0.4, 0.6]])),
                    np.array([0]),
                    np.array([0]),
                    np.array([1]),
                    0.1,
                    0.1,
                ),
            ),
            Case(
                "two prompts, three responses, four pairs, eps 0.2",
                (
                    np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]]),
                    np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
                    np.array([0, 0, 1, 1]),
                    np.array([2, 1, 0, 2]),
                    np.array([0, 2, 1, 1]),
                    0.5,
                    0.2,
                ),
            ),
            Case(
                "the same four pairs, eps 0 (plain DPO)",
                (
                    np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]]),
                    np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
                    np.array([0, 0, 1, 1]),
                    np.array([2, 1, 0, 2]),
                    np.array([0, 2, 1, 1]),
                    0.5,
                    0.0,
                ),
            ),
            _unanimous_optimum_case(),
            Case(
                "one pair each way, eps 0.05",
                (
                    np.array([[1.0, -1.0, 0.0]]),
                    np.log(np.full((1, 3), 1 / 3)),
                    np.array([0, 0]),
                    np.array([0, 1]),
                    np.array([1, 0]),
                    1.0,
                    0.05,
                ),
            ),
        ),
        oracle=_smoothed_dpo_gradient_by_differences,
        hidden=_hidden_gradient_cases,
        rtol=1e-6,
        atol=1e-9,
    ),
    Exercise(
        id="preference-3",
        task=(
            "the log-ratio differences where DPO and IPO settle on a pair"
        ),
        solution=preference_fixed_points,
        cases=(
            Case("a fair coin", (0.5, 0.1)),
            Case("a wins 90% of the time, beta 0.1", (0.9, 0.1)),
            Case("a wins 25% of the time, beta 2", (0.25, 2.0)),
            Case("a always wins, beta 0.1", (1.0, 0.1)),
            Case("a never wins, beta 1", (0.0, 1.0)),
        ),
        oracle=_fixed_points_by_root_finding,
        hidden=_hidden_fixed_point_cases,
        rtol=1e-8,
        atol=1e-10,
    ),
    Exercise(
        id="preference-4",
        task="SimPO's length-normalised margins of padded pairs",
        solution=simpo_margins,
        cases=(
            Case(
                "two pairs of different lengths",
                (
                    np.array([[-1.0, -2.0, 0.0], [-0.5, -0.5, -0.5]]),
                    np.array([[-3.0, 0.0], [-1.0, -2.0]]),
                    np.array([[True, True, False], [True, True, True]]),
                    np.array([[True, False], [True, True]]),
                    2.0,
                    0.5,
                ),
            ),
            Case(
                "NaN at padded positions",
                (
                    np.array([[-0.2, np.nan, np.nan]]),
                    np.array([[-0.1, -0.4, -0.7]]),
                    np.array([[True, False, False]]),
                    np.array([[True, True, True]]),
                    1.0,
                    0.0,
                ),
            ),
            _repeat_case(),
        ),
        oracle=_simpo_margins_by_loop,
        hidden=_hidden_margin_cases,
        rtol=1e-10,
        atol=1e-12,
    ),
    Exercise(
        id="preference-5",
        task="the Bradley-Terry rewards of a tournament",
        solution=bradley_terry_rewards,
        cases=(
            Case(
                "two responses, 3 wins to 1",
                (np.array([[0.0, 3.0], [1.0, 0.0]]),),
            ),
            Case(
                "three responses in a cycle",
                (
                    np.array(
                        [[0.0, 5.0, 1.0], [1.0, 0.0, 4.0], [3.0, 1.0, 0.0]]
                    ),
                ),
            ),
            Case(
                "four responses, one pair never met",
                (
                    np.array(
                        [
                            [0.0, 6.0, 0.0, 2.0],
                            [2.0, 0.0, 3.0, 1.0],
                            [0.0, 3.0, 0.0, 5.0],
                            [2.0, 4.0, 1.0, 0.0],
                        ]
                    ),
                ),
            ),
        ),
        oracle=_bradley_terry_by_sklearn,
        hidden=_hidden_tournament_cases,
        rtol=1e-6,
        atol=1e-6,
    ),
)

WRITTEN: dict[str, str] = {}
