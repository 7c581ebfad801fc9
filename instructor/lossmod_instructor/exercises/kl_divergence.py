"""Exercises of the chapter "Entropy, cross-entropy and KL divergence"
(chapters/kl-divergence.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise, library_oracle

# -------------------------------------------------------------------------
# kl-divergence-1: the entropy of a softmax, from the logits


def softmax_entropy(logits: ArrayLike) -> NDArray[np.float64]:
    """Entropy H(softmax(z)), in nats, along the last axis of the logits.

    H(p) = -sum_c p_c log p_c with p = softmax(z) and the convention
    0 log 0 = 0. Derive H in terms of the logits first: it must stay finite
    and accurate for logits of any size, also where a probability
    underflows to 0, without NaN and without a warning.

    Parameters
    ----------
    logits : array of shape (..., C)
        Finite real scores, float32 or float64; classes on the last axis.

    Returns
    -------
    array of float64 of shape (...): one entropy per distribution, each in
    [0, log C].
    """
    z = np.asarray(logits, dtype=np.float64)
    # shift by the largest logit: every exponent <= 0, the sum >= 1
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = np.sum(e, axis=-1, keepdims=True)
    p = e / total
    # log p_c = shifted_c - log(total), so
    # H = log(total) - sum_c p_c shifted_c; an underflowed p_c adds 0
    entropy = np.log(total[..., 0]) - np.sum(p * shifted, axis=-1)
    return np.maximum(entropy, 0.0)  # never below 0 by rounding


def _scipy_softmax_entropy(logits: ArrayLike) -> NDArray[np.float64]:
    """scipy.stats.entropy of scipy.special.softmax along the last axis:
    the oracle."""
    from scipy.special import softmax  # type: ignore[import-untyped]
    from scipy.stats import (  # type: ignore[import-untyped]
        entropy as scipy_entropy,
    )

    p = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return np.asarray(scipy_entropy(p, axis=-1), dtype=np.float64)


def _hidden_softmax_entropy_cases(
    rng: np.random.Generator,
) -> tuple[Case, ...]:
    return (
        Case("random logits, 4 x 8", (2.0 * rng.normal(size=(4, 8)),)),
        Case("logits around +1e3", (1e3 + rng.normal(size=(3, 5)),)),
        Case("logits around -1e3", (-1e3 + rng.normal(size=(3, 5)),)),
        Case(
            "logits of size 1e4, both signs",
            (1e4 * rng.normal(size=(3, 6)),),
        ),
        Case(
            "float32 logits of size 1e4",
            ((1e4 * rng.normal(size=(3, 4))).astype(np.float32),),
        ),
        Case("1000 classes", (3.0 * rng.normal(size=(2, 1000)),)),
        Case(
            "peaked: one logit 30 above the rest",
            (np.array([[30.0, 0.0, 0.0, 0.0], [0.0, 0.0, -30.0, 0.0]]),),
        ),
        Case("a batch of shape (2, 3, 5)", (rng.normal(size=(2, 3, 5)),)),
    )


def _dirichlet(
    rng: np.random.Generator, shape: tuple[int, ...], alpha: float
) -> NDArray[np.float64]:
    """Random distributions along the last axis (a symmetric Dirichlet
    sample)."""
    gamma = rng.gamma(alpha, size=shape)
    return gamma / gamma.sum(axis=-1, keepdims=True)


def _with_zeros(
    rng: np.random.Generator, shape: tuple[int, ...]
) -> NDArray[np.float64]:
    """Distributions with about half their entries exactly zero
    (never a whole row)."""
    p = _dirichlet(rng, shape, 1.0)
    p[..., 1:] *= rng.random(p[..., 1:].shape) < 0.5
    return p / p.sum(axis=-1, keepdims=True)


# -------------------------------------------------------------------------
# kl-divergence-2: D_KL(p || q) row by row


def kl_rows(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    """The divergence D_KL(p || q) = sum_c p_c log(p_c / q_c) of each row.

    Conventions: a term with p_c = 0 is 0 (whatever q_c is); a term with
    p_c > 0 and q_c = 0 is +inf (the model gives probability zero to
    something that happens).

    Parameters
    ----------
    p : array of shape (N, C)
        Distributions of the data, one per row (entries may be 0).
    q : array of shape (N, C)
        Distributions of the model, one per row (entries may be tiny or 0).

    Returns
    -------
    array of shape (N,): D_KL(p_i || q_i) >= 0 for each row i.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    positive = p > 0
    p_safe = np.where(positive, p, 1.0)
    q_safe = np.where(positive, q, 1.0)
    # q = 0 under p > 0: log(p / 0) = +inf, as it should be
    with np.errstate(divide="ignore"):
        terms = np.where(positive, p * np.log(p_safe / q_safe), 0.0)
    return terms.sum(axis=-1)


def _rel_entr_rows(p: ArrayLike, q: ArrayLike) -> NDArray[np.float64]:
    """scipy.special.rel_entr summed along each row: the oracle."""
    from scipy.special import rel_entr

    return np.asarray(
        rel_entr(np.asarray(p, float), np.asarray(q, float)).sum(axis=-1)
    )


def _hidden_kl_rows_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    q_tiny = _dirichlet(rng, (3, 6), 1.0)
    # near-zero model probability under p > 0: a very large divergence
    q_tiny[:, 0] = 1e-300
    q_tiny /= q_tiny.sum(axis=1, keepdims=True)
    p_zero = _with_zeros(rng, (4, 6))
    q_zero_where_p_zero = np.where(
        p_zero > 0, _dirichlet(rng, (4, 6), 1.0), 0.0
    )
    q_zero_where_p_zero /= q_zero_where_p_zero.sum(axis=1, keepdims=True)
    impossible = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    return (
        Case("zeros in p", (p_zero, _dirichlet(rng, (4, 6), 1.0))),
        Case("q zero wherever p is zero", (p_zero, q_zero_where_p_zero)),
        Case(
            "near-zero q (1e-300)", (_dirichlet(rng, (3, 6), 1.0), q_tiny)
        ),
        Case(
            "q = 0 where p > 0 (infinite)",
            (impossible[::-1].copy(), impossible),
        ),
        Case(
            "1000 classes",
            (
                _dirichlet(rng, (2, 1000), 0.3),
                _dirichlet(rng, (2, 1000), 0.3),
            ),
        ),
        Case(
            "p equal to q (zero)",
            (np.tile(_dirichlet(rng, (1, 5), 1.0), (3, 1)),) * 2,
        ),
    )


# -------------------------------------------------------------------------
# kl-divergence-3: PyTorch's kl_div with reduction="batchmean"


def kl_div_batchmean(input: ArrayLike, target: ArrayLike) -> float:
    """``kl_div(input, target, reduction="batchmean")`` in PyTorch's
    convention.

    ``input`` holds the model's LOG-probabilities log q and comes first;
    ``target`` holds the data's probabilities p. The result is
    sum_{i, c} p_ic (log p_ic - log q_ic) divided by the batch size N: the
    mean over the batch of D_KL(p_i || q_i). Terms with p_ic = 0 are 0.

    Parameters
    ----------
    input : array of shape (N, C)
        Log-probabilities of the model (values <= 0; may be very negative).
    target : array of shape (N, C)
        Probabilities of the data, each row summing to 1
        (entries may be 0).

    Returns
    -------
    float: the mean KL divergence per example, >= 0.
    """
    log_q, p = (
        np.asarray(input, dtype=float),
        np.asarray(target, dtype=float),
    )
    positive = p > 0
    log_p = np.log(np.where(positive, p, 1.0))
    terms = np.where(
        positive, p * (log_p - np.where(positive, log_q, 0.0)), 0.0
    )
    return float(terms.sum() / log_q.shape[0])


def _hidden_kl_div_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    def log_softmax_of(logits: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(lossmod.log_softmax(logits), dtype=np.float64)

    return (
        Case(
            "logits of +-1e3",
            (
                log_softmax_of(1e3 * rng.standard_normal((4, 5))),
                _dirichlet(rng, (4, 5), 1.0),
            ),
        ),
        Case(
            "logits of +-1e4",
            (
                log_softmax_of(1e4 * rng.standard_normal((4, 5))),
                _dirichlet(rng, (4, 5), 1.0),
            ),
        ),
        Case(
            "zeros in the target",
            (
                log_softmax_of(rng.standard_normal((5, 6))),
                _with_zeros(rng, (5, 6)),
            ),
        ),
        Case(
            "one-hot target under -inf elsewhere",
            (
                np.array([[0.0, -np.inf, -np.inf], [-0.5, -1.0, -np.inf]]),
                np.eye(3)[:2],
            ),
        ),
        Case(
            "1000 classes",
            (
                log_softmax_of(3 * rng.standard_normal((3, 1000))),
                _dirichlet(rng, (3, 1000), 0.5),
            ),
        ),
        Case(
            "batch of one",
            (
                log_softmax_of(rng.standard_normal((1, 4))),
                np.full((1, 4), 0.25),
            ),
        ),
    )


# -------------------------------------------------------------------------
# kl-divergence-4: the Gaussian closest to a mixture in forward KL


def moment_match(
    weights: ArrayLike, means: ArrayLike, stds: ArrayLike
) -> NDArray[np.float64]:
    """The Gaussian N(m, s^2) minimising D_KL(p || N(m, s^2)) for a mixture
    p.

    p(x) = sum_k w_k N(x; mu_k, sigma_k^2). The minimiser has the mixture's
    mean and variance: derive them from the components' weights, means and
    standard deviations.

    Parameters
    ----------
    weights : array of shape (K,)
        Mixture weights w_k >= 0, summing to 1.
    means : array of shape (K,)
        Component means mu_k.
    stds : array of shape (K,)
        Component standard deviations sigma_k > 0.

    Returns
    -------
    array of shape (2,): (m, s), the mean and the standard deviation of the
    fitted Gaussian.
    """
    w, mu, sigma = (
        np.asarray(a, dtype=float) for a in (weights, means, stds)
    )
    m = np.sum(w * mu)
    # Centred second moments: sum w (sigma^2 + mu^2) - m^2 would cancel
    # catastrophically when the means are large compared with the spread.
    variance = np.sum(w * (sigma**2 + (mu - m) ** 2))
    return np.array([m, np.sqrt(variance)])


def _forward_kl_fit(
    weights: ArrayLike, means: ArrayLike, stds: ArrayLike
) -> NDArray[np.float64]:
    """The oracle: minimise the cross-entropy -E_p[log N(x; m, s^2)]
    numerically.

    The expectation under each component is a trapezoid sum on the
    component's own grid (mu_k +- 12 sigma_k), so widely different scales
    are all resolved; scipy's Nelder-Mead searches over (m, log s) in units
    of the mixture's overall scale. D_KL(p || q) differs from this
    cross-entropy by H(p), which does not depend on (m, s).
    """
    from scipy.optimize import minimize  # type: ignore[import-untyped]
    from scipy.stats import norm

    w, mu, sigma = (
        np.asarray(a, dtype=float) for a in (weights, means, stds)
    )
    unit = np.linspace(-12.0, 12.0, 4001)
    grids = [
        mu_k + sigma_k * unit
        for mu_k, sigma_k in zip(mu, sigma, strict=True)
    ]
    densities = [
        norm.pdf(g, mu_k, sigma_k)
        for g, mu_k, sigma_k in zip(grids, mu, sigma, strict=True)
    ]
    centre = float(np.median(mu))
    scale = float(np.max(sigma) + np.ptp(mu))

    def cross_entropy(theta: NDArray[np.float64]) -> float:
        m, s = centre + scale * theta[0], scale * np.exp(theta[1])
        return -sum(
            w_k * np.trapezoid(d * norm.logpdf(g, m, s), g)
            for w_k, g, d in zip(w, grids, densities, strict=True)
        )

    result = minimize(
        cross_entropy,
        np.zeros(2),
        method="Nelder-Mead",
        options={"xatol": 1e-11, "fatol": 1e-15, "maxiter": 4000},
    )
    return np.array(
        [centre + scale * result.x[0], scale * np.exp(result.x[1])]
    )


def _hidden_moment_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    w3 = _dirichlet(rng, (3,), 1.0)
    return (
        Case(
            "three random components",
            (w3, rng.normal(0, 3, 3), rng.uniform(0.3, 2.0, 3)),
        ),
        Case(
            "scales 1e-3 and 1e2", ([0.5, 0.5], [0.0, 50.0], [1e-3, 1e2])
        ),
        Case(
            "far from zero (means near 1e4)",
            ([0.3, 0.7], [1e4, 1e4 + 6.0], [1.0, 0.5]),
        ),
        Case("one weight zero", ([0.0, 1.0], [-5.0, 2.0], [1.0, 0.8])),
        Case(
            "five components",
            (_dirichlet(rng, (5,), 2.0), rng.normal(0, 5, 5), np.ones(5)),
        ),
    )


EXERCISES = (
    Exercise(
        id="kl-divergence-1",
        task="the entropy of softmax(z), from the logits",
        solution=softmax_entropy,
        cases=(
            Case(
                "small logits; equal logits give log C",
                (np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]]),),
            ),
            Case(
                "logits 1000, 999, 998 (exp overflows)",
                (np.array([1000.0, 999.0, 998.0]),),
            ),
            # the convention 0 log 0 = 0, met through underflow
            Case(
                "a probability that underflows to 0",
                (np.array([[0.0, -1000.0, 5.0]]),),
            ),
            Case(
                "one logit 1e4 above the others: entropy 0",
                (np.array([[1e4, 0.0, 0.0], [0.0, 0.0, 0.0]]),),
            ),
            Case(
                "float32 logits near 100: work in float64",
                (np.array([[100.0, 99.0, 97.0]], np.float32),),
            ),
            Case(
                "a batch of shape (2, 2, 3)",
                (np.arange(12.0).reshape(2, 2, 3) / 2.0 - 3.0,),
            ),
        ),
        oracle=_scipy_softmax_entropy,
        hidden=_hidden_softmax_entropy_cases,
        rtol=1e-9,
        atol=1e-12,
        reimplements=(
            "xlogy",
            "softmax",
            "log_softmax",
            "logsumexp",
            "kl_divergence",
            "kl_div",
        ),
    ),
    Exercise(
        id="kl-divergence-2",
        task="D_KL(p || q) of each row",
        solution=kl_rows,
        cases=(
            Case(
                "two rows",
                (
                    np.array([[0.5, 0.5], [0.9, 0.1]]),
                    np.array([[0.9, 0.1], [0.5, 0.5]]),
                ),
            ),
            Case(
                "a zero in p",
                (
                    np.array([[0.5, 0.5, 0.0]]),
                    np.array([[0.25, 0.25, 0.5]]),
                ),
            ),
            Case(
                "p equal to q",
                (np.array([[0.2, 0.3, 0.5]]), np.array([[0.2, 0.3, 0.5]])),
            ),
            # the two conventions: +inf where p > 0 = q, 0 where p = 0
            # (whatever q is, 0 included)
            Case(
                "q = 0: +inf where p > 0, 0 where p = 0",
                (
                    np.array([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]]),
                    np.array([[0.5, 0.0, 0.5], [0.4, 0.6, 0.0]]),
                ),
            ),
            Case(
                "q = 1e-300 where p = 0.5",
                (np.array([[0.5, 0.5]]), np.array([[1e-300, 1.0]])),
            ),
        ),
        oracle=_rel_entr_rows,
        hidden=_hidden_kl_rows_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
    Exercise(
        id="kl-divergence-3",
        task=(
            'kl_div(input, target, reduction="batchmean"), '
            "input = log q first"
        ),
        solution=kl_div_batchmean,
        cases=(
            Case(
                "two rows",
                (
                    np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])),
                    np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]]),
                ),
            ),
            Case(
                "a zero in the target",
                (
                    np.log(np.array([[0.25, 0.25, 0.5]])),
                    np.array([[0.5, 0.5, 0.0]]),
                ),
            ),
            Case(
                "one-hot target (the cross-entropy)",
                (
                    np.log(np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])),
                    np.eye(3)[[0, 2]],
                ),
            ),
            # "or even -inf where the target is 0; such a term is 0"
            Case(
                "input -inf where the target is 0",
                (
                    np.array([[-np.inf, np.log(0.6), np.log(0.4)]]),
                    np.array([[0.0, 0.5, 0.5]]),
                ),
            ),
            # "very negative (log-softmax of logits of +-1e4)": exp(input)
            # underflows to 0
            Case(
                "log-probabilities down to -2e4",
                (
                    np.array([[0.0, -1e4, -2e4]]),
                    np.array([[0.5, 0.3, 0.2]]),
                ),
            ),
        ),
        oracle=library_oracle(lossmod.kl_div, reduction="batchmean"),
        hidden=_hidden_kl_div_cases,
        rtol=1e-9,
        atol=1e-12,
        reimplements=("kl_div", "kl_divergence", "xlogy"),
    ),
    Exercise(
        id="kl-divergence-4",
        task=(
            "the Gaussian closest to a mixture in forward KL "
            "(moment matching)"
        ),
        solution=moment_match,
        cases=(
            Case("symmetric pair", ([0.5, 0.5], [-2.0, 2.0], [1.0, 1.0])),
            Case(
                "the chapter's mixture",
                ([0.6, 0.4], [-2.0, 2.5], [0.7, 1.0]),
            ),
            Case("a single Gaussian", ([1.0], [3.0], [0.5])),
            # the uncentred sum w (sigma^2 + mu^2) - m^2 loses the digits
            # of the variance when the means are large: by 1.6e-5 in s
            # here, 1e-8 for means near 1e4 (below atol, which the
            # numerical oracle needs for a mean of 0)
            Case(
                "means near 1e6, stds below 1",
                ([0.4, 0.6], [999999.0, 1000001.0], [0.5, 0.25]),
            ),
        ),
        oracle=_forward_kl_fit,
        hidden=_hidden_moment_cases,
        rtol=1e-10,
        atol=1e-6,
    ),
)


WRITTEN = {
    "kl-divergence-5": "derive the KL divergence between two Gaussians",
}
"""The written exercises (derivations, explorations): one-line tasks."""
