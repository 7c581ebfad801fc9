"""lossmod.generative: the VAE's Gaussian KL term and the GAN losses against independent
oracles (numerical integration with scipy.stats densities, a Monte Carlo estimate, the
probabilistic-PCA likelihood by scipy.stats.multivariate_normal, hand formulas with scipy's
log_expit / expit, 60-digit mpmath at logits of +-1e4, central differences), the reductions,
and named errors."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
from scipy import integrate, special, stats
from sklearn.datasets import load_digits

import lossmod
from tests.helpers.cases import central_differences

REDUCTIONS = ("mean", "sum", "none")
D_KINDS = ("minimax", "hinge", "wasserstein")
G_KINDS = ("minimax", "non_saturating", "hinge", "wasserstein")


def reduce(values: np.ndarray, reduction: str) -> Any:
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](values)


# --- gaussian_kl_standard_normal ------------------------------------------------------------


@pytest.mark.parametrize(("m", "v"), [(0.0, 0.0), (1.5, -1.0), (-0.7, 2.0), (3.0, -6.0)])
def test_gaussian_kl_is_the_integral_of_q_log_q_over_p(m: float, v: float) -> None:
    """One latent dimension: the closed form equals int q log(q/p) dx by scipy's quad, with q
    and p scipy.stats normal densities."""
    q, p = stats.norm(m, np.exp(v / 2)), stats.norm(0.0, 1.0)
    expected = integrate.quad(
        lambda t: q.pdf(t) * (q.logpdf(t) - p.logpdf(t)), -60, 60, points=[m], limit=200
    )[0]
    value = lossmod.gaussian_kl_standard_normal(np.array([m]), np.array([v]))
    np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-12)


def test_gaussian_kl_sums_over_latent_dimensions_and_matches_monte_carlo() -> None:
    """A diagonal Gaussian in K = 4 dimensions: the KL is the sum of the per-dimension KLs and
    agrees with the Monte Carlo mean of log q(z) - log p(z) (scipy's multivariate normal) within
    four standard errors."""
    rng = np.random.default_rng(0)
    mu, log_var = rng.normal(size=4), rng.normal(size=4)
    q = stats.multivariate_normal(mu, np.diag(np.exp(log_var)))
    p = stats.multivariate_normal(np.zeros(4), np.eye(4))
    z = q.rvs(size=200_000, random_state=rng)
    log_ratio = q.logpdf(z) - p.logpdf(z)
    value = lossmod.gaussian_kl_standard_normal(mu, log_var)
    assert abs(value - log_ratio.mean()) < 4 * log_ratio.std() / np.sqrt(z.shape[0])
    per_dim = lossmod.gaussian_kl_standard_normal(mu[:, None], log_var[:, None], reduction="none")
    np.testing.assert_allclose(value, per_dim.sum(), rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_kl_reduces_over_samples_never_over_latent_dimensions(reduction: str) -> None:
    """Shape (2, 3, 5): "none" gives one KL per sample (2, 3), each the hand formula summed over
    the last axis; "sum" adds them; "mean" divides by the 6 samples (not by the 30 elements)."""
    rng = np.random.default_rng(1)
    mu, log_var = rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 3, 5))
    per_sample = 0.5 * np.sum(mu**2 + np.exp(log_var) - 1 - log_var, axis=-1)
    value = lossmod.gaussian_kl_standard_normal(mu, log_var, reduction=reduction)
    np.testing.assert_allclose(value, reduce(per_sample, reduction), rtol=1e-13)
    if reduction == "mean":
        np.testing.assert_allclose(value, per_sample.sum() / 6, rtol=1e-13)
    assert lossmod.gaussian_kl_standard_normal(mu, log_var) == pytest.approx(per_sample.sum())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_kl_gradients_match_central_differences(reduction: str) -> None:
    """The gradient in mu (the library's) is mu / (number of samples for "mean"); the gradient
    in log_var, (e^v - 1)/2 (documented, not returned), likewise: both against central
    differences."""
    rng = np.random.default_rng(2)
    mu, log_var = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    scale = 0.25 if reduction == "mean" else 1.0

    def total(m: np.ndarray, v: np.ndarray) -> float:
        return float(np.sum(lossmod.gaussian_kl_standard_normal(m, v, reduction=reduction)))

    numeric_mu = central_differences(lambda m: total(m, log_var), mu)
    numeric_v = central_differences(lambda v: total(mu, v), log_var)
    grad = lossmod.gaussian_kl_standard_normal_grad(mu, log_var, reduction=reduction)
    np.testing.assert_allclose(grad, numeric_mu, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grad, scale * mu, rtol=1e-15)
    np.testing.assert_allclose(scale * 0.5 * np.expm1(log_var), numeric_v, rtol=1e-6, atol=1e-8)


def test_gaussian_kl_is_accurate_near_zero_and_zero_at_the_prior() -> None:
    """At the prior (mu = 0, v = 0) the KL is exactly 0; for tiny log-variances it keeps its
    digits (v^2 / 4 to leading order, 50-digit mpmath), where e^v - 1 - v would not."""
    assert lossmod.gaussian_kl_standard_normal(np.zeros(3), np.zeros(3)) == 0.0
    mpmath.mp.dps = 50
    for v in (1e-3, -1e-5, 3e-8):
        exact = float(0.5 * (mpmath.exp(mpmath.mpf(v)) - 1 - mpmath.mpf(v)))
        value = lossmod.gaussian_kl_standard_normal(np.zeros(1), np.array([v]))
        np.testing.assert_allclose(value, exact, rtol=1e-9)


def test_gaussian_kl_of_a_linear_vae_reaches_the_ppca_likelihood() -> None:
    """The ELBO of a linear Gaussian VAE on the digits, with the KL term from
    gaussian_kl_standard_normal, at the probabilistic-PCA solution (W = U (L - s2)^1/2, the
    encoder the exact posterior mean and variance), equals the pPCA log-likelihood from
    scipy.stats.multivariate_normal (Tipping and Bishop, 1999)."""
    X = load_digits().data / 16.0
    n, d = X.shape
    k = 5
    x_bar = X.mean(axis=0)
    Xc = X - x_bar
    eigenvalues, vectors = np.linalg.eigh(Xc.T @ Xc / n)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    noise = eigenvalues[k:].mean()
    W = vectors[:, :k] * np.sqrt(eigenvalues[:k] - noise)
    M = np.linalg.inv(W.T @ W + noise * np.eye(k))
    mu = Xc @ W @ M  # posterior means, (n, k)
    post_var = noise * np.diag(M)  # exact posterior covariance noise M is diagonal here
    log_var = np.broadcast_to(np.log(post_var), mu.shape)
    residual = Xc - mu @ W.T
    expected_log_lik = -0.5 * d * np.log(2 * np.pi * noise) - (
        np.sum(residual**2, axis=1) + np.sum(W**2, axis=0) @ post_var
    ) / (2 * noise)
    elbo = expected_log_lik.mean() - lossmod.gaussian_kl_standard_normal(
        mu, log_var, reduction="mean"
    )
    log_lik = stats.multivariate_normal(x_bar, W @ W.T + noise * np.eye(d)).logpdf(X).mean()
    np.testing.assert_allclose(elbo, log_lik, rtol=1e-10)


def test_gaussian_kl_errors_are_named() -> None:
    """Mismatched shapes, a scalar, NaN and an unknown reduction raise ValueErrors that say
    what is wrong."""
    with pytest.raises(ValueError, match=r"^mu has shape \(3,\) but log_var has shape \(3, 1\)"):
        lossmod.gaussian_kl_standard_normal(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"^mu must have at least one axis"):
        lossmod.gaussian_kl_standard_normal(np.float64(1.0), np.float64(0.0))
    with pytest.raises(ValueError, match=r"^log_var contains NaN at index \(1,\)"):
        lossmod.gaussian_kl_standard_normal(np.zeros(2), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"^reduction must be one of .*; got 'batchmean'"):
        lossmod.gaussian_kl_standard_normal(np.zeros(2), np.zeros(2), reduction="batchmean")


# --- GAN losses -------------------------------------------------------------------------------


def discriminator_oracle(r: np.ndarray, f: np.ndarray, kind: str) -> np.ndarray:
    """The papers' formulas: -log D(x) - log(1 - D(G(z))) with scipy's log_expit; the hinge;
    the critic's -r + f."""
    if kind == "minimax":
        return -special.log_expit(r) - special.log_expit(-f)
    if kind == "hinge":
        return np.maximum(0.0, 1.0 - r) + np.maximum(0.0, 1.0 + f)
    return -r + f


def generator_oracle(f: np.ndarray, kind: str) -> np.ndarray:
    if kind == "minimax":
        return special.log_expit(-f)  # log(1 - D(G(z)))
    if kind == "non_saturating":
        return -special.log_expit(f)  # -log D(G(z))
    return -f


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", D_KINDS)
def test_discriminator_loss_is_the_papers_formula(kind: str, reduction: str) -> None:
    """Values against the hand formulas with scipy's log_expit; gradients in the real logits
    against central differences."""
    rng = np.random.default_rng(3)
    r, f = 3 * rng.normal(size=7), 3 * rng.normal(size=7)
    value = lossmod.gan_discriminator_loss(r, f, kind=kind, reduction=reduction)
    np.testing.assert_allclose(
        value, reduce(discriminator_oracle(r, f, kind), reduction), rtol=1e-12, atol=1e-14
    )
    numeric = central_differences(
        lambda x: (
            float(np.sum(discriminator_oracle(x, f, kind))) / (7 if reduction == "mean" else 1)
        ),
        r,
    )
    grad = lossmod.gan_discriminator_loss_grad(r, f, kind=kind, reduction=reduction)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", G_KINDS)
def test_generator_loss_is_the_papers_formula(kind: str, reduction: str) -> None:
    """Values against log(1 - sigmoid(f)), -log sigmoid(f) and -f; gradients against central
    differences."""
    rng = np.random.default_rng(4)
    f = 3 * rng.normal(size=6)
    value = lossmod.gan_generator_loss(f, kind=kind, reduction=reduction)
    np.testing.assert_allclose(
        value, reduce(generator_oracle(f, kind), reduction), rtol=1e-12, atol=1e-14
    )
    numeric = central_differences(
        lambda x: float(np.sum(generator_oracle(x, kind))) / (6 if reduction == "mean" else 1), f
    )
    grad = lossmod.gan_generator_loss_grad(f, kind=kind, reduction=reduction)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_minimax_discriminator_loss_is_bce_of_real_against_fake() -> None:
    """softplus(-r) + softplus(f) summed is the binary cross-entropy (lossmod's, with logits) of
    the real logits against 1 and the fake ones against 0."""
    rng = np.random.default_rng(5)
    r, f = 4 * rng.normal(size=9), 4 * rng.normal(size=9)
    bce = lossmod.bce_with_logits(
        np.concatenate([r, f]), np.concatenate([np.ones(9), np.zeros(9)]), reduction="sum"
    )
    np.testing.assert_allclose(
        lossmod.gan_discriminator_loss(r, f, reduction="sum"), bce, rtol=1e-13
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_match_mpmath(dtype: type) -> None:
    """At logits of +-1e4 (and +-30) every loss and gradient is finite, in the input's dtype, and
    equals 60-digit mpmath's log(1 + e^t) and sigmoid to the dtype's precision."""
    mpmath.mp.dps = 60
    t = np.array([-1e4, -30.0, 0.0, 30.0, 1e4], dtype=dtype)

    def softplus(x: float) -> float:
        return float(mpmath.log1p(mpmath.exp(mpmath.mpf(float(x)))))

    def sigmoid(x: float) -> float:
        return float(1 / (1 + mpmath.exp(-mpmath.mpf(float(x)))))

    rtol = 1e-6 if dtype == np.float32 else 1e-14
    sp = np.array([softplus(x) for x in t])
    sp_neg = np.array([softplus(-x) for x in t])
    sig = np.array([sigmoid(x) for x in t])
    sig_neg = np.array([sigmoid(-x) for x in t])
    checks = [
        (lossmod.gan_discriminator_loss(t, t[::-1].copy(), reduction="none"), sp_neg + sp[::-1]),
        (lossmod.gan_discriminator_loss_grad(t, t, reduction="sum"), -sig_neg),
        (lossmod.gan_generator_loss(t, reduction="none"), -sp),
        (lossmod.gan_generator_loss(t, kind="non_saturating", reduction="none"), sp_neg),
        (lossmod.gan_generator_loss_grad(t, reduction="sum"), -sig),
        (lossmod.gan_generator_loss_grad(t, kind="non_saturating", reduction="sum"), -sig_neg),
    ]
    for value, expected in checks:
        assert value.dtype == dtype and np.all(np.isfinite(value))
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=0)
    for kind in D_KINDS:
        for function in (lossmod.gan_discriminator_loss, lossmod.gan_discriminator_loss_grad):
            out = function(t, -t, kind=kind)
            assert np.all(np.isfinite(out)) and np.asarray(out).dtype == dtype


def test_sign_facts_of_the_kinds() -> None:
    """Minimax and hinge discriminator losses are >= 0 everywhere, the Wasserstein critic's is
    not; only the non-saturating generator loss is >= 0."""
    rng = np.random.default_rng(6)
    r, f = 20 * rng.normal(size=500), 20 * rng.normal(size=500)
    for kind in ("minimax", "hinge"):
        assert np.all(lossmod.gan_discriminator_loss(r, f, kind=kind, reduction="none") >= 0)
    assert np.any(lossmod.gan_discriminator_loss(r, f, kind="wasserstein", reduction="none") < 0)
    assert np.all(lossmod.gan_generator_loss(f, kind="non_saturating", reduction="none") >= 0)
    for kind in ("minimax", "hinge", "wasserstein"):
        assert np.any(lossmod.gan_generator_loss(f, kind=kind, reduction="none") < 0)


def test_non_saturating_gradient_does_not_vanish_where_minimax_does() -> None:
    """At f = -10 (the discriminator rejects the samples confidently) the minimax generator's
    gradient is sigmoid(-10) ~ 4.5e-5 in size, the non-saturating one's sigmoid(10) ~ 1."""
    f = np.array([-10.0])
    mm = lossmod.gan_generator_loss_grad(f, kind="minimax")
    ns = lossmod.gan_generator_loss_grad(f, kind="non_saturating")
    np.testing.assert_allclose(-mm, special.expit(-10.0), rtol=1e-14)
    np.testing.assert_allclose(-ns, special.expit(10.0), rtol=1e-14)


def test_dirac_gan_circles_without_penalty_and_converges_with_r1() -> None:
    """The Dirac GAN (data at 0, generator theta, discriminator psi x) with the Wasserstein
    losses: simultaneous gradient steps of size h multiply the distance from (0, 0) by
    sqrt(1 + h^2) each step (Mescheder et al., 2018); with the R1 penalty gamma psi^2 / 2,
    gamma = 1, they converge. Gradients from the library's generator gradient and central
    differences of the discriminator loss."""
    h, point = 0.1, np.array([0.3, 0.3])

    def step(theta: float, psi: float, gamma: float) -> np.ndarray:
        f = np.array([psi * theta])
        g_theta = psi * lossmod.gan_generator_loss_grad(f, kind="wasserstein")[0]
        g_psi = central_differences(
            lambda p: float(
                lossmod.gan_discriminator_loss(
                    np.zeros(1), p * theta, kind="wasserstein", reduction="sum"
                )
            ),
            np.array([psi]),
        )[0]
        return np.array([theta - h * g_theta, psi - h * (g_psi + gamma * psi)])

    free, penalised = point.copy(), point.copy()
    for _ in range(200):
        before = np.hypot(*free)
        free = step(*free, gamma=0.0)
        np.testing.assert_allclose(np.hypot(*free) / before, np.sqrt(1 + h * h), rtol=1e-8)
        penalised = step(*penalised, gamma=1.0)
    assert np.hypot(*penalised) < 1e-3 * np.hypot(*point)


def test_gan_errors_are_named() -> None:
    """Unknown kinds (with a hint for non_saturating in the discriminator), mismatched shapes and
    NaN raise ValueErrors that say what is wrong."""
    with pytest.raises(
        ValueError,
        match=r"^kind must be one of 'minimax', 'hinge', 'wasserstein'; got 'non_saturating'; "
        r"the non-saturating game trains its discriminator with kind='minimax'$",
    ):
        lossmod.gan_discriminator_loss(np.zeros(2), np.zeros(2), kind="non_saturating")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^kind must be one of .*; got 'wgan'$"):
        lossmod.gan_generator_loss_grad(np.zeros(2), kind="wgan")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^real_logits has shape \(4,\) but fake_logits has shape \(3,\)"
    ):
        lossmod.gan_discriminator_loss(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match=r"^fake_logits contains NaN at index \(0,\)"):
        lossmod.gan_generator_loss(np.array([np.nan]))
    with pytest.raises(ValueError, match=r"^fake_logits must be finite; got inf"):
        lossmod.gan_discriminator_loss(np.zeros(1), np.array([np.inf]))
