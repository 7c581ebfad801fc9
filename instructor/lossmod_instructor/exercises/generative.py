"""Exercises of the chapter "Generative models: the ELBO, denoising and GAN
losses" (chapters/generative.ipynb)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# -------------------------------------------------------------------------
# generative-1: the KL of each latent dimension of a linear beta-VAE


def beta_vae_kl(
    eigenvalues: ArrayLike, noise_var: float, beta: float
) -> NDArray[np.float64]:
    """KL of each latent dimension at the optimum of a linear beta-VAE.

    The decoder is x = W z + mu + noise of fixed variance noise_var,
    the encoder a linear map with a diagonal Gaussian posterior, and
    the objective E_q[log p(x | z)] - beta KL(q(z | x) || N(0, I)),
    averaged over data whose covariance has the given eigenvalues (one
    latent dimension per eigenvalue). Derive what each dimension's KL
    is at the optimum, for any beta > 0, and return it.

    Parameters
    ----------
    eigenvalues : array of shape (K,)
        Eigenvalues lambda_j > 0 of the data's covariance, one per
        latent dimension.
    noise_var : float
        The decoder's noise variance sigma^2 > 0 (fixed).
    beta : float
        The weight beta > 0 of the KL term.

    Returns
    -------
    array of shape (K,): the KL of each latent dimension, in nats,
    >= 0.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    # beta-VAE = VAE with noise beta sigma^2; pPCA at a fixed noise
    # variance keeps the directions whose variance exceeds it
    threshold = beta * noise_var
    return 0.5 * np.log(np.maximum(lam / threshold, 1.0))


def _numerical_beta_vae_kl(
    eigenvalues: ArrayLike, noise_var: float, beta: float
) -> NDArray[np.float64]:
    """The oracle: maximise the per-dimension beta-ELBO numerically.

    For one direction of variance lam, decoder weight w, encoder gain a and
    posterior variance s2 (the cross terms vanish in the eigenbasis), the
    objective without constants is
    -(lam (1 - w a)^2 + w^2 s2) / (2 sigma^2)
    - beta (a^2 lam + s2 - 1 - log s2) / 2;
    scipy's Nelder-Mead maximises it over (w, a, log s2) from two starts
    (one far from collapse, one near it) and the better optimum's KL is
    returned.
    """
    from scipy.optimize import minimize  # type: ignore[import-untyped]

    out = []
    for lam in np.asarray(eigenvalues, dtype=float):

        def negative(
            theta: NDArray[np.float64], lam: float = lam
        ) -> float:
            w, a, log_s2 = (
                theta[0] * np.sqrt(lam),
                theta[1] / np.sqrt(lam),
                theta[2],
            )
            s2 = np.exp(log_s2)
            rec = (lam * (1 - w * a) ** 2 + w * w * s2) / (2 * noise_var)
            kl = 0.5 * (a * a * lam + s2 - 1 - log_s2)
            return float(rec + beta * kl)

        best = None
        for start in ([1.0, 1.0, -1.0], [1e-3, 1e-3, 0.0]):
            result = minimize(
                negative,
                np.array(start),
                method="Nelder-Mead",
                options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20000},
            )
            if best is None or result.fun < best.fun:
                best = result
        assert best is not None
        _, a, log_s2 = (
            best.x[0] * np.sqrt(lam),
            best.x[1] / np.sqrt(lam),
            best.x[2],
        )
        out.append(0.5 * (a * a * lam + np.exp(log_s2) - 1 - log_s2))
    return np.array(out)


def _hidden_beta_vae_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    lam = np.sort(rng.uniform(0.05, 3.0, size=6))[::-1]
    return (
        Case("random spectrum, beta 1", (lam, 0.2, 1.0)),
        Case("random spectrum, beta 4", (lam, 0.2, 4.0)),
        Case("beta below 1", (lam, 0.5, 0.25)),
        Case("all collapsed, random spectrum", (lam, 1.0, 10.0)),
        Case("large scale", (1e4 * lam, 300.0, 2.0)),
    )


# -------------------------------------------------------------------------
# generative-2: the min-SNR weight on the epsilon-prediction loss


def min_snr_eps_weight(
    log_snr: ArrayLike, gamma: float
) -> NDArray[np.float64]:
    """The weight on the eps-prediction loss that gives min-SNR-gamma.

    Min-SNR-gamma weights the squared error of the denoised sample,
    ||x0 - x0_hat||^2, by min(SNR, gamma) at each noise level, with
    SNR = exp(log_snr) = alpha^2 / sigma^2 for
    x_t = alpha x0 + sigma eps. A model that predicts eps is trained on
    ||eps - eps_hat||^2: return the weight w(log_snr) such that
    w ||eps - eps_hat||^2 equals min(SNR, gamma) ||x0 - x0_hat||^2. It
    must be finite and accurate for log-SNRs of any size (the checks go
    to +-1000), without warnings.

    Parameters
    ----------
    log_snr : array of any shape
        Log signal-to-noise ratios, real numbers.
    gamma : float
        The cap gamma > 0 (Hang et al. use 5).

    Returns
    -------
    array of the shape of log_snr: the weights, > 0.
    """
    lam = np.asarray(log_snr, dtype=float)
    # ||x0 - x0_hat||^2 = ||eps - eps_hat||^2 / SNR, so
    # w = min(SNR, gamma) / SNR = min(1, gamma / SNR)
    #   = exp(min(0, log gamma - lam)): no exp(lam) to overflow
    return np.exp(np.minimum(0.0, np.log(gamma) - lam))


def _mpmath_min_snr_eps_weight(
    log_snr: ArrayLike, gamma: float
) -> NDArray[np.float64]:
    """The oracle: min(SNR, gamma) / SNR with SNR = e^log_snr in 50-digit
    mpmath, element by element."""
    import mpmath  # type: ignore[import-untyped]

    mpmath.mp.dps = 50
    lam = np.asarray(log_snr, dtype=float)
    out = np.empty(lam.shape)
    for index in np.ndindex(lam.shape):
        snr = mpmath.exp(mpmath.mpf(float(lam[index])))
        out[index] = float(mpmath.mpf(min(snr, mpmath.mpf(gamma))) / snr)
    return out


def _hidden_min_snr_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("random log-SNRs", (rng.uniform(-10, 10, size=20), 5.0)),
        Case("gamma 1", (rng.uniform(-5, 5, size=(3, 4)), 1.0)),
        Case(
            "log-SNR of +-700 and more",
            (np.array([-1000.0, -710.0, 710.0, 1000.0]), 5.0),
        ),
        Case("gamma 1e-3", (np.linspace(-20, 20, 9), 1e-3)),
        Case("a scalar", (np.array(3.0), 5.0)),
    )


# -------------------------------------------------------------------------
# generative-3: the floor of the denoising loss of a Gaussian mixture


def denoising_floor(
    log_snr: float,
    weights: ArrayLike,
    means: ArrayLike,
    stds: ArrayLike,
) -> float:
    """The irreducible x0-loss E[Var(x0 | x_t)] at one noise level.

    x0 has density sum_k w_k N(x0; mu_k, s_k^2), any number K of
    components, and x_t = alpha x0 + sigma eps with eps ~ N(0, 1),
    alpha^2 = sigmoid(log_snr) and sigma^2 = sigmoid(-log_snr). Derive
    Var(x0 | x_t) (condition on the component first), then average it
    over x_t. The result must be accurate to a relative 1e-6 for
    log-SNRs from -40 to 40 and for components far apart.

    Parameters
    ----------
    log_snr : float
        The noise level lambda = log(alpha^2 / sigma^2).
    weights, means, stds : arrays of shape (K,)
        The mixture: weights w_k > 0 summing to 1, means mu_k, standard
        deviations s_k > 0.

    Returns
    -------
    float: the floor E[(x0 - E[x0 | x_t])^2] > 0.
    """
    w = np.asarray(weights, dtype=float)
    mu = np.asarray(means, dtype=float)
    s = np.asarray(stds, dtype=float)
    # alpha^2 = 1 / (1 + e^-lambda) and sigma^2 = 1 / (1 + e^lambda),
    # from logaddexp: no overflow, no 1 - (nearly 1)
    alpha2 = np.exp(-np.logaddexp(0.0, -log_snr))
    sigma2 = np.exp(-np.logaddexp(0.0, log_snr))
    alpha = np.sqrt(alpha2)
    v = alpha2 * s**2 + sigma2
    # given k, Var(x0 | x_t, k) = s_k^2 sigma^2 / v_k whatever x_t is,
    # and p(k) = w_k: this part of the floor needs no integral
    within = float(np.sum(w * s**2 * sigma2 / v))
    # the rest, E[sum_k r_k (m_k - m)^2], is an integral over x_t on a
    # grid that covers every component, 40 points per smallest sd
    sd = np.sqrt(v)
    low = float(np.min(alpha * mu - 12 * sd))
    high = float(np.max(alpha * mu + 12 * sd))
    n = int(min(2e6, max(2e4, 40 * (high - low) / sd.min())))
    x = np.linspace(low, high, n)[:, None]
    log_joint = (
        np.log(w)
        - 0.5 * np.log(2 * np.pi * v)
        - 0.5 * (x - alpha * mu) ** 2 / v
    )
    # responsibilities from log-densities shifted by their maximum
    shift = log_joint.max(axis=1, keepdims=True)
    joint = np.exp(log_joint - shift)
    r = joint / joint.sum(axis=1, keepdims=True)
    density = np.exp(shift[:, 0]) * joint.sum(axis=1)
    # E[x0 | x_t, k] = (sigma^2 mu_k + alpha s_k^2 x_t) / v_k; the
    # spread of the m_k around their mean, not E[x0^2 | x_t] - m^2,
    # which cancels to nothing when the floor is ~sigma^2, sigma tiny
    m_k = (sigma2 * mu + alpha * s**2 * x) / v
    m = np.sum(r * m_k, axis=1, keepdims=True)
    spread = np.sum(r * (m_k - m) ** 2, axis=1)
    return within + float(np.trapezoid(spread * density, x[:, 0]))


def _mpmath_denoising_floor(
    log_snr: float,
    weights: ArrayLike,
    means: ArrayLike,
    stds: ArrayLike,
) -> float:
    """The oracle: the integral over x_t of E[x0^2 | x_t] - E[x0 | x_t]^2
    times the density of x_t, by mpmath's tanh-sinh quadrature in 30
    digits (enough to survive the cancellation of the naive variance),
    with breakpoints at 0, +-2, +-4, +-8 and +-40 sds of every
    component."""
    import mpmath

    with mpmath.workdps(30):
        lam = mpmath.mpf(log_snr)
        a2 = 1 / (1 + mpmath.exp(-lam))
        s2 = 1 / (1 + mpmath.exp(lam))
        a = mpmath.sqrt(a2)
        w = [
            mpmath.mpf(float(x)) for x in np.asarray(weights, dtype=float)
        ]
        mu = [mpmath.mpf(float(x)) for x in np.asarray(means, dtype=float)]
        s = [mpmath.mpf(float(x)) for x in np.asarray(stds, dtype=float)]
        v = [a2 * sk**2 + s2 for sk in s]
        centre = [a * mk for mk in mu]
        sds = [mpmath.sqrt(vk) for vk in v]
        norm = [
            wk / (mpmath.sqrt(2 * mpmath.pi) * sd)
            for wk, sd in zip(w, sds, strict=True)
        ]
        # given k: regression of x0 on x_t, and its residual variance
        gain = [a * sk**2 / vk for sk, vk in zip(s, v, strict=True)]
        var_k = [sk**2 * s2 / vk for sk, vk in zip(s, v, strict=True)]

        def integrand(x: Any) -> Any:
            dens = [
                nk * mpmath.exp(-((x - ck) ** 2) / (2 * vk))
                for nk, ck, vk in zip(norm, centre, v, strict=True)
            ]
            p = mpmath.fsum(dens)
            if p == 0:
                return mpmath.mpf(0)
            m_k = [
                mk + gk * (x - ck)
                for mk, gk, ck in zip(mu, gain, centre, strict=True)
            ]
            first = (
                mpmath.fsum(d * m for d, m in zip(dens, m_k, strict=True))
                / p
            )
            second = (
                mpmath.fsum(
                    d * (vk + m**2)
                    for d, m, vk in zip(dens, m_k, var_k, strict=True)
                )
                / p
            )
            return (second - first**2) * p

        points = sorted(
            {
                float(ck + j * sd)
                for ck, sd in zip(centre, sds, strict=True)
                for j in (-40, -8, -4, -2, 0, 2, 4, 8, 40)
            }
        )
        return float(mpmath.quad(integrand, points))


def _hidden_floor_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    w3 = rng.dirichlet(np.ones(3))
    mu3 = rng.normal(0, 2, size=3)
    s3 = rng.uniform(0.2, 1.0, size=3)
    w4 = rng.dirichlet(np.ones(4))
    mu4 = rng.normal(0, 3, size=4)
    s4 = rng.uniform(0.05, 0.5, size=4)
    return (
        Case("three components", (float(rng.uniform(-4, 4)), w3, mu3, s3)),
        Case(
            "four narrow components",
            (float(rng.uniform(-2, 6)), w4, mu4, s4),
        ),
        Case("three components, log-SNR 30", (30.0, w3, mu3, s3)),
        Case("three components, log-SNR -30", (-30.0, w3, mu3, s3)),
        Case(
            "components 200 apart",
            (1.0, [0.4, 0.6], [-100.0, 100.0], [0.5, 2.0]),
        ),
    )


# -------------------------------------------------------------------------
# generative-4: the largest step at which simultaneous gradient descent on
# the Dirac GAN with a gradient penalty converges


def r1_max_step(slope: float, gamma: float) -> float:
    """The largest step size h at which simultaneous gradient descent
    converges near the equilibrium of the regularised Dirac GAN.

    Near (theta, psi) = (0, 0) the simultaneous gradient step is
    (theta, psi) <- (theta, psi) + h J (theta, psi) with the Jacobian
    J = [[0, slope], [-slope, -gamma]] (slope = f'(0) of the GAN's
    objective, gamma >= 0 the weight of the R1 penalty). Derive, from
    the eigenvalues of J, the supremum of the step sizes h > 0 for
    which the iteration converges to 0 from every start, and return it
    (0 when no step converges).

    Parameters
    ----------
    slope : float
        The coupling c > 0 (1/2 for the minimax GAN, 1 for the WGAN).
    gamma : float
        The R1 weight gamma >= 0.

    Returns
    -------
    float: the largest stable step size h* >= 0.
    """
    c, g = float(slope), float(gamma)
    if g == 0.0:
        # eigenvalues +-ic: |1 + h mu| > 1 for every h > 0
        return 0.0
    if g < 2.0 * c:
        # mu = -g/2 +- i sqrt(c^2 - g^2/4), |mu|^2 = c^2:
        # |1 + h mu| < 1  <=>  h < -2 Re(mu) / |mu|^2 = g / c^2
        return g / (c * c)
    # two real eigenvalues in [-g, 0); the larger magnitude decides:
    # h < 2 / |mu|, |mu| = (g + sqrt(g^2 - 4 c^2)) / 2
    return 4.0 / (g + np.sqrt((g - 2.0 * c) * (g + 2.0 * c)))


def _bisection_max_step(slope: float, gamma: float) -> float:
    """The oracle: bisection on h of the spectral radius of I + h J
    (numpy.linalg.eigvals), starting from a step known to diverge."""
    jacobian = np.array([[0.0, slope], [-slope, -gamma]])

    def radius(h: float) -> float:
        return float(
            np.max(np.abs(np.linalg.eigvals(np.eye(2) + h * jacobian)))
        )

    if radius(1e-9) >= 1.0:
        return 0.0
    low, high = 1e-9, 1.0
    while radius(high) < 1.0:
        high *= 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if radius(middle) < 1.0:
            low = middle
        else:
            high = middle
    return low


def _hidden_r1_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "random slope, small gamma",
            (float(rng.uniform(0.3, 2.0)), 0.1),
        ),
        Case(
            "random slope, large gamma",
            (float(rng.uniform(0.3, 2.0)), 7.0),
        ),
        Case("gamma just below 2 slope", (0.5, 0.999)),
        Case("gamma just above 2 slope", (0.5, 1.001)),
        Case("small gamma", (1.0, 1e-2)),
    )


EXERCISES = (
    Exercise(
        id="generative-1",
        task="the KL of each latent dimension of a linear beta-VAE",
        solution=beta_vae_kl,
        cases=(
            Case(
                "beta 1: one dimension collapsed",
                (np.array([2.0, 1.0, 0.3]), 0.5, 1.0),
            ),
            Case(
                "beta 3: two collapsed",
                (np.array([2.0, 1.0, 0.3]), 0.5, 3.0),
            ),
            Case("beta 0.5", (np.array([2.0, 1.0, 0.3]), 0.5, 0.5)),
            Case(
                "every dimension collapsed",
                (np.array([0.4, 0.2]), 0.5, 1.0),
            ),
        ),
        oracle=_numerical_beta_vae_kl,
        hidden=_hidden_beta_vae_cases,
        rtol=1e-5,
        atol=1e-7,
    ),
    Exercise(
        id="generative-2",
        task="the eps-loss weight that gives min-SNR-gamma",
        solution=min_snr_eps_weight,
        cases=(
            Case(
                "log-SNR from -4 to 4, gamma 5",
                (np.linspace(-4.0, 4.0, 9), 5.0),
            ),
            Case("at SNR = gamma", (np.array([np.log(5.0)]), 5.0)),
            Case("log-SNR of +-1000", (np.array([-1000.0, 1000.0]), 5.0)),
            Case(
                "gamma 1, a (2, 2) array",
                (np.array([[-1.0, 0.0], [0.5, 3.0]]), 1.0),
            ),
        ),
        oracle=_mpmath_min_snr_eps_weight,
        hidden=_hidden_min_snr_cases,
        rtol=1e-12,
        atol=1e-300,
    ),
    Exercise(
        id="generative-3",
        task="the floor of the denoising loss of a Gaussian mixture",
        solution=denoising_floor,
        cases=(
            Case(
                "one component: s^2 sigma^2 / (alpha^2 s^2 + sigma^2)",
                (0.0, [1.0], [0.5], [1.0]),
            ),
            Case(
                "the chapter's mixture at log-SNR 0 (its table: 0.5213)",
                (0.0, [0.3, 0.7], [-2.0, 1.0], [0.3, 0.5]),
            ),
            Case(
                "components 60 apart (does the integral cover both?)",
                (2.0, [0.5, 0.5], [-30.0, 30.0], [1.0, 2.0]),
            ),
            Case(
                "nearly clean, log-SNR 40: the floor is about sigma^2 ="
                " 4e-18 (E[x0^2 | x_t] - E[x0 | x_t]^2 cancels to noise)",
                (40.0, [0.3, 0.7], [-2.0, 1.0], [0.3, 0.5]),
            ),
            Case(
                "pure noise, log-SNR -40 (the floor is Var(x0) = 2.092)",
                (-40.0, [0.3, 0.7], [-2.0, 1.0], [0.3, 0.5]),
            ),
        ),
        oracle=_mpmath_denoising_floor,
        hidden=_hidden_floor_cases,
        rtol=1e-6,
        atol=1e-300,
    ),
    Exercise(
        id="generative-4",
        task="the largest stable step on the Dirac GAN with R1",
        solution=r1_max_step,
        cases=(
            Case("no penalty", (0.5, 0.0)),
            Case("minimax slope, gamma 0.3", (0.5, 0.3)),
            Case("Wasserstein slope, gamma 1", (1.0, 1.0)),
            Case("real eigenvalues, gamma 3", (0.5, 3.0)),
        ),
        oracle=_bisection_max_step,
        hidden=_hidden_r1_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
)


WRITTEN = {
    "generative-5": "show that log p(x) - ELBO = KL(q(z | x) || p(z | x))",
}
"""The written exercises (derivations, explorations): one-line tasks."""
