"""Losses of generative models: the KL term of a variational autoencoder
and the discriminator and generator losses of a GAN, each beside its
gradient in the first argument.

The reconstruction term of a VAE and the denoising loss of a diffusion
model are squared errors: ``lossmod.mse_loss`` (with ``weight`` for a
per-noise-level weighting) computes them, and chapters/generative.ipynb
says which reduction makes them the terms of a likelihood.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from lossmod._checks import (
    Float64Array,
    FloatArray,
    LossValue,
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    finish_both,
)
from lossmod.primitives import _sigmoid, _softplus

__all__ = [
    "gan_discriminator_loss",
    "gan_discriminator_loss_grad",
    "gan_generator_loss",
    "gan_generator_loss_grad",
    "gaussian_kl_standard_normal",
    "gaussian_kl_standard_normal_grad",
]

Parts = tuple[LossValue, FloatArray]
DiscriminatorKind = Literal["minimax", "hinge", "wasserstein"]
GeneratorKind = Literal[
    "minimax", "non_saturating", "hinge", "wasserstein"
]
_DISCRIMINATOR_KINDS = ("minimax", "hinge", "wasserstein")
_GENERATOR_KINDS = ("minimax", "non_saturating", "hinge", "wasserstein")


# --- gaussian_kl_standard_normal -----------------------------------------


def _gaussian_kl_parts(
    mu: ArrayLike, log_var: ArrayLike, reduction: Reduction
) -> Parts:
    check_reduction(reduction)
    m, out_dtype = as_float("mu", mu)
    v, _ = as_float("log_var", log_var)
    check_same_shape("mu", m, "log_var", v)
    if m.ndim == 0:
        raise ValueError(
            "mu must have at least one axis (the latent dimensions, "
            "last); got a scalar"
        )
    # e^v - 1 - v = expm1(v) - v: near v = 0 a relative error of about
    # 1e-16 / |v|, where exp(v) - 1 - v has 1e-16 / v^2; >= 0 for every
    # v (clipped against rounding)
    with np.errstate(over="ignore"):
        spread = np.maximum(np.expm1(v) - v, 0.0)
    per_sample = 0.5 * np.sum(m * m + spread, axis=-1)
    rows = float(np.prod(m.shape[:-1]))
    return finish_both(per_sample, m, reduction, rows, out_dtype)


def gaussian_kl_standard_normal(
    mu: ArrayLike,
    log_var: ArrayLike,
    *,
    reduction: Reduction = "sum",
) -> LossValue:
    """KL divergence from a diagonal Gaussian to the standard normal: the
    KL term of a VAE's ELBO.

    For one sample with posterior q = N(mu, diag(exp(log_var)))::

        KL(q || N(0, I)) = 1/2 sum_j (mu_j^2 + exp(v_j) - 1 - v_j)

    summed over the latent dimensions j (the last axis), v = log_var.
    Gradient with respect to mu: mu (/ number of samples for "mean");
    with respect to log_var (not returned): (exp(v) - 1) / 2.

    The reduction acts on SAMPLES, never on latent dimensions: "none"
    returns one KL per sample (shape ``mu.shape[:-1]``), "sum" adds them
    (the default, as the VAE examples write the KL), "mean" divides that
    sum by the number of samples. So "mean" is the mean KL per sample,
    not the mean over all elements that ``mse_loss``'s "mean" takes: a
    reconstruction error averaged over the D pixels of each sample beside
    this KL summed over its latent dimensions weights the KL D times too
    much (a beta-VAE with beta = D, chapters/generative.ipynb). Reduce the
    reconstruction term over the samples in the same way.

    Parameters
    ----------
    mu : array_like of shape (..., K)
        Posterior means, latent dimensions last; finite.
    log_var : array_like of shape (..., K)
        Posterior log-variances, the same shape; finite (a log-variance
        above about 709 overflows e^v and gives inf).
    reduction : {"sum", "mean", "none"}

    Returns
    -------
    float32 or float64 scalar (mu's precision), or an array of shape
    ``mu.shape[:-1]`` for ``reduction="none"``; every value >= 0.

    Explained in chapters/generative.ipynb.
    Reference: Kingma and Welling (2014), appendix B.
    """
    return _gaussian_kl_parts(mu, log_var, reduction)[0]


def gaussian_kl_standard_normal_grad(
    mu: ArrayLike,
    log_var: ArrayLike,
    *,
    reduction: Reduction = "sum",
) -> FloatArray:
    """Gradient of :func:`gaussian_kl_standard_normal` with respect to
    ``mu``: mu itself, / number of samples for "mean"."""
    return _gaussian_kl_parts(mu, log_var, reduction)[1]


def _gaussian_kl_standard_normal_value_and_grad(
    mu: ArrayLike,
    log_var: ArrayLike,
    *,
    reduction: Reduction = "sum",
) -> Parts:
    return _gaussian_kl_parts(mu, log_var, reduction)


# --- GAN losses ----------------------------------------------------------


def _check_kind(kind: str, allowed: tuple[str, ...], hint: str) -> None:
    if kind not in allowed:
        names = ", ".join(repr(name) for name in allowed)
        raise ValueError(
            f"kind must be one of {names}; got {kind!r}{hint}"
        )


def _critic_terms(
    logits: Float64Array, kind: str
) -> tuple[FloatArray, FloatArray]:
    """g(t) and g'(t) for the real-sample term of a discriminator loss;
    the fake-sample term is g(-t)."""
    if kind == "minimax":
        # -log sigmoid(t) = softplus(-t) = max(-t, 0) + log1p(e^-|t|):
        # no overflow, no log of 0; d/dt = -sigmoid(-t), from e^-|t|
        return _softplus(-logits), -_sigmoid(-logits)
    if kind == "hinge":
        # max(0, 1 - t), slope -1 where t < 1 (0 at the kink t = 1)
        inside = logits < 1.0
        return np.maximum(1.0 - logits, 0.0), -inside.astype(np.float64)
    # wasserstein: -t, slope -1
    return -logits, np.full_like(logits, -1.0)


def _discriminator_parts(
    real_logits: ArrayLike,
    fake_logits: ArrayLike,
    kind: str,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    _check_kind(
        kind,
        _DISCRIMINATOR_KINDS,
        (
            "; the non-saturating game trains its discriminator with "
            "kind='minimax'"
            if kind == "non_saturating"
            else ""
        ),
    )
    real, out_dtype = as_float("real_logits", real_logits)
    fake, _ = as_float("fake_logits", fake_logits)
    check_same_shape("real_logits", real, "fake_logits", fake)
    real_loss, real_slope = _critic_terms(real, kind)
    fake_loss, _ = _critic_terms(-fake, kind)
    return finish_both(
        real_loss + fake_loss, real_slope, reduction, real.size, out_dtype
    )


def gan_discriminator_loss(
    real_logits: ArrayLike,
    fake_logits: ArrayLike,
    *,
    kind: DiscriminatorKind = "minimax",
    reduction: Reduction = "mean",
) -> LossValue:
    """Loss of a GAN's discriminator (critic) on logits of real samples
    and of generated ones.

    With r a real sample's logit D(x) and f a generated sample's D(G(z))::

        minimax      l = -log sigmoid(r) - log(1 - sigmoid(f))
                       = softplus(-r) + softplus(f)
        hinge        l = max(0, 1 - r) + max(0, 1 + f)
        wasserstein  l = -r + f

    "minimax" is the binary cross-entropy of real against fake
    (Goodfellow et al.'s value function, negated), also the
    discriminator's loss in the non-saturating game. "wasserstein" is the
    critic's loss of a WGAN; the Lipschitz constraint it needs (weight
    clipping, a gradient penalty) is not part of it. Gradient with
    respect to r: -sigmoid(-r), -1 where r < 1 (else 0), and -1; / n for
    "mean".

    Each pair (r_i, f_i) gives one loss, so real and fake batches have
    one shape; "mean" is then the mean over the real samples plus the
    mean over the fake ones.

    Parameters
    ----------
    real_logits : array_like, any shape
        The discriminator's logits (critic's scores) on real data.
    fake_logits : array_like, the same shape
        Its logits on generated samples.
    kind : {"minimax", "hinge", "wasserstein"}
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar (real_logits' precision), or an array of the
    inputs' shape for ``reduction="none"``. Minimax and hinge losses are
    >= 0, the Wasserstein loss takes any sign.

    Explained in chapters/generative.ipynb.
    Reference: Goodfellow et al. (2014); hinge: Lim and Ye (2017), Miyato
    et al. (2018); Wasserstein: Arjovsky et al. (2017).
    """
    return _discriminator_parts(real_logits, fake_logits, kind, reduction)[
        0
    ]


def gan_discriminator_loss_grad(
    real_logits: ArrayLike,
    fake_logits: ArrayLike,
    *,
    kind: DiscriminatorKind = "minimax",
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`gan_discriminator_loss` with respect to
    ``real_logits``: -sigmoid(-r) (minimax), -1 where r < 1 else 0
    (hinge), -1 (wasserstein); / n for "mean". (In ``fake_logits`` the
    loss is the real term's g at -f, so its slope is -g'(-f).)"""
    return _discriminator_parts(real_logits, fake_logits, kind, reduction)[
        1
    ]


def _gan_discriminator_loss_value_and_grad(
    real_logits: ArrayLike,
    fake_logits: ArrayLike,
    *,
    kind: DiscriminatorKind = "minimax",
    reduction: Reduction = "mean",
) -> Parts:
    return _discriminator_parts(real_logits, fake_logits, kind, reduction)


def _generator_parts(
    fake_logits: ArrayLike, kind: str, reduction: Reduction
) -> Parts:
    check_reduction(reduction)
    _check_kind(kind, _GENERATOR_KINDS, "")
    fake, out_dtype = as_float("fake_logits", fake_logits)
    if kind == "minimax":
        # log(1 - sigmoid(f)) = log sigmoid(-f) = -softplus(f);
        # d/df = -sigmoid(f)
        losses, slopes = 0.0 - _softplus(fake), -_sigmoid(fake)
    elif kind == "non_saturating":
        # -log sigmoid(f) = softplus(-f); d/df = -sigmoid(-f)
        losses, slopes = _softplus(-fake), -_sigmoid(-fake)
    else:
        # hinge and wasserstein: -f, slope -1
        losses, slopes = -fake, np.full_like(fake, -1.0)
    return finish_both(losses, slopes, reduction, fake.size, out_dtype)


def gan_generator_loss(
    fake_logits: ArrayLike,
    *,
    kind: GeneratorKind = "minimax",
    reduction: Reduction = "mean",
) -> LossValue:
    """Loss of a GAN's generator on the discriminator's logits of its
    samples.

    With f = D(G(z)) the logit of a generated sample::

        minimax         l = log(1 - sigmoid(f)) = -softplus(f)
        non_saturating  l = -log sigmoid(f) = softplus(-f)
        hinge           l = -f
        wasserstein     l = -f

    Gradient with respect to f: -sigmoid(f), -sigmoid(-f), -1, -1
    (/ n for "mean"). The minimax loss is the game's value itself; its
    gradient vanishes where the discriminator rejects the samples
    confidently (f -> -inf), which the non-saturating loss avoids
    (Goodfellow et al., 2014). Hinge and Wasserstein generators both
    minimise -f.

    Parameters
    ----------
    fake_logits : array_like, any shape
        The discriminator's logits (critic's scores) on generated samples.
    kind : {"minimax", "non_saturating", "hinge", "wasserstein"}
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar (fake_logits' precision), or an array of its
    shape for ``reduction="none"``. Only the non-saturating loss is >= 0;
    the others are unbounded below.

    Explained in chapters/generative.ipynb.
    Reference: Goodfellow et al. (2014); hinge: Lim and Ye (2017), Miyato
    et al. (2018); Wasserstein: Arjovsky et al. (2017).
    """
    return _generator_parts(fake_logits, kind, reduction)[0]


def gan_generator_loss_grad(
    fake_logits: ArrayLike,
    *,
    kind: GeneratorKind = "minimax",
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`gan_generator_loss` with respect to
    ``fake_logits``: -sigmoid(f) (minimax), -sigmoid(-f)
    (non-saturating), -1 (hinge, wasserstein); / n for "mean"."""
    return _generator_parts(fake_logits, kind, reduction)[1]


def _gan_generator_loss_value_and_grad(
    fake_logits: ArrayLike,
    *,
    kind: GeneratorKind = "minimax",
    reduction: Reduction = "mean",
) -> Parts:
    return _generator_parts(fake_logits, kind, reduction)
