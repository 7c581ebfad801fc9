"""Preference losses: the Bradley-Terry reward-model loss and the losses
that tune a policy on preferences directly (DPO, IPO, SimPO, KTO), each
beside its gradient in the first argument.

A preference pair is a prompt x with a chosen response y_w and a rejected
one y_l. The losses read one number per response: a reward (Bradley-Terry)
or the summed log-probability of the response under the policy and, for
DPO, IPO and KTO, under a frozen reference model. Argument names are
those of TRL's trainers (``policy_chosen_logps``, ...). Every loss on a
margin m is a logistic loss, -log sigmoid(m) = softplus(-m), computed
without forming sigmoid(m), so margins of +-1e4 give exact values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lossmod._checks import (
    Float64Array,
    FloatArray,
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    finish_both,
    first_index,
)
from lossmod._parts import (
    Parts,
    check_finite,
    check_positive,
    check_signs,
    grad_of,
    value_of,
)
from lossmod.primitives import _sigmoid, _softplus

__all__ = [
    "bradley_terry_loss",
    "bradley_terry_loss_grad",
    "dpo_loss",
    "dpo_loss_grad",
    "ipo_loss",
    "ipo_loss_grad",
    "kto_loss",
    "kto_loss_grad",
    "simpo_loss",
    "simpo_loss_grad",
]


def _arrays(
    reduction: Reduction, **named: ArrayLike
) -> tuple[list[Float64Array], np.dtype[Any]]:
    """The named arrays as float64, all of the first one's shape, and the
    output dtype (the first one's)."""
    check_reduction(reduction)
    names = list(named)
    arrays: list[Float64Array] = []
    out_dtype: np.dtype[Any] = np.dtype(np.float64)
    for i, name in enumerate(names):
        values, dtype = as_float(name, named[name])
        if i == 0:
            out_dtype = dtype
        else:
            check_same_shape(names[0], arrays[0], name, values)
        arrays.append(values)
    return arrays, out_dtype


def _logistic(margin: Float64Array) -> tuple[FloatArray, FloatArray]:
    """-log sigmoid(m) and its derivative in m, for every real m."""
    # -log sigmoid(m) = log(1 + e^-m) = softplus(-m), with softplus(t) =
    # max(t, 0) + log1p(e^-|t|): no overflow, no log of 0
    losses = _softplus(-margin)
    # d/dm softplus(-m) = -sigmoid(-m), sigmoid from e^-|m| in (0, 1]
    return losses, -_sigmoid(-margin)


# --- bradley_terry_loss --------------------------------------------------


def _bradley_terry_parts(
    chosen_rewards: ArrayLike,
    rejected_rewards: ArrayLike,
    *,
    reduction: Reduction = "mean",
) -> Parts:
    (chosen, rejected), out_dtype = _arrays(
        reduction,
        chosen_rewards=chosen_rewards,
        rejected_rewards=rejected_rewards,
    )
    losses, slopes = _logistic(chosen - rejected)
    return finish_both(
        losses, slopes, reduction, float(chosen.size), out_dtype
    )


@value_of(_bradley_terry_parts)
def bradley_terry_loss() -> None:
    """Bradley-Terry loss of a reward model: -log P(chosen beats rejected).

    The Bradley-Terry model says the chosen response beats the rejected
    one with probability sigmoid(r_w - r_l); its negative log-likelihood
    is a logistic loss on the reward difference::

        l = -log sigmoid(r_w - r_l) = softplus(r_l - r_w)

    Gradient with respect to r_w: -sigmoid(r_l - r_w) (and the opposite
    for r_l), / n for "mean".

    Parameters
    ----------
    chosen_rewards : array_like, any shape
        Rewards r_w of the preferred responses, real numbers.
    rejected_rewards : array_like, the same shape
        Rewards r_l of the responses they were preferred to.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar (the first argument's precision), or an
    array of the inputs' shape for ``reduction="none"``.

    Explained in chapters/preference.ipynb.
    Reference: Bradley and Terry (1952); as a reward-model loss,
    Christiano et al. (2017) and Ouyang et al. (2022).
    """


@grad_of(_bradley_terry_parts)
def bradley_terry_loss_grad() -> None:
    """Gradient of :func:`bradley_terry_loss` with respect to
    ``chosen_rewards``: -sigmoid(r_l - r_w), / n for "mean"."""


_bradley_terry_loss_value_and_grad = _bradley_terry_parts


# --- dpo_loss and ipo_loss -----------------------------------------------


def _log_ratio_difference(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    reduction: Reduction,
) -> tuple[Float64Array, np.dtype[Any]]:
    """h = (log pi(y_w) - log pi(y_l)) - (log ref(y_w) - log ref(y_l)),
    TRL's ``logits``, and the output dtype."""
    (pc, pr, rc, rr), out_dtype = _arrays(
        reduction,
        policy_chosen_logps=policy_chosen_logps,
        policy_rejected_logps=policy_rejected_logps,
        reference_chosen_logps=reference_chosen_logps,
        reference_rejected_logps=reference_rejected_logps,
    )
    return (pc - pr) - (rc - rr), out_dtype


def _dpo_parts(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: float = 0.1,
    reduction: Reduction = "mean",
) -> Parts:
    b = check_positive("beta", beta)
    h, out_dtype = _log_ratio_difference(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        reduction,
    )
    losses, slopes = _logistic(b * h)
    # dm/d log pi(y_w) = beta
    return finish_both(
        losses, b * slopes, reduction, float(h.size), out_dtype
    )


@value_of(_dpo_parts)
def dpo_loss() -> None:
    """Direct preference optimisation loss: Bradley-Terry on the implicit
    reward beta log(pi / pi_ref).

    With h = (log pi(y_w) - log pi(y_l)) - (log ref(y_w) - log ref(y_l))::

        l = -log sigmoid(beta h) = softplus(-beta h)

    Gradient with respect to log pi(y_w): -beta sigmoid(-beta h) (the
    opposite for log pi(y_l)), / n for "mean": each pair is weighted by
    how wrongly the implicit reward ranks it.

    Parameters
    ----------
    policy_chosen_logps : array_like, any shape
        log pi(y_w | x): the policy's log-probability of each chosen
        response (summed over its tokens).
    policy_rejected_logps : array_like, the same shape
        log pi(y_l | x) of the rejected responses.
    reference_chosen_logps, reference_rejected_logps : array_like
        The same under the frozen reference model, the same shape.
    beta : float
        The strength beta > 0 of the KL penalty that DPO solves for.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar (the first argument's precision), or an
    array of the inputs' shape for ``reduction="none"``.

    Explained in chapters/preference.ipynb.
    Reference: Rafailov et al. (2023), "Direct preference optimization:
    your language model is secretly a reward model", equation 7.
    """


@grad_of(_dpo_parts)
def dpo_loss_grad() -> None:
    """Gradient of :func:`dpo_loss` with respect to
    ``policy_chosen_logps``: -beta sigmoid(-beta h), / n for "mean"."""


_dpo_loss_value_and_grad = _dpo_parts


def _ipo_parts(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    *,
    beta: float = 0.1,
    reduction: Reduction = "mean",
) -> Parts:
    b = check_positive("beta", beta)
    h, out_dtype = _log_ratio_difference(
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
        reduction,
    )
    gap = h - 1.0 / (2.0 * b)
    return finish_both(
        gap * gap, 2.0 * gap, reduction, float(h.size), out_dtype
    )


@value_of(_ipo_parts)
def ipo_loss() -> None:
    """Identity preference optimisation loss: a squared error that pulls
    the log-ratio difference h to 1 / (2 beta).

    With h as in :func:`dpo_loss` (beta is the tau of Azar et al., as in
    TRL)::

        l = (h - 1 / (2 beta))^2

    Gradient with respect to log pi(y_w): 2 (h - 1 / (2 beta)) (the
    opposite for log pi(y_l)), / n for "mean".

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : array_like, any shape
        log pi(y_w | x) and log pi(y_l | x) under the policy (TRL passes
        per-token means for IPO; any log-probabilities work).
    reference_chosen_logps, reference_rejected_logps : array_like
        The same under the frozen reference model, the same shape.
    beta : float
        The regularisation tau > 0: the smaller, the larger the target
        log-ratio difference 1 / (2 tau).
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar (the first argument's precision), or an
    array of the inputs' shape for ``reduction="none"``.

    Explained in chapters/preference.ipynb.
    Reference: Azar et al. (2023), "A general theoretical paradigm to
    understand learning from human preferences", equation 17.
    """


@grad_of(_ipo_parts)
def ipo_loss_grad() -> None:
    """Gradient of :func:`ipo_loss` with respect to
    ``policy_chosen_logps``: 2 (h - 1 / (2 beta)), / n for "mean"."""


_ipo_loss_value_and_grad = _ipo_parts


# --- simpo_loss ----------------------------------------------------------


def _simpo_parts(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    chosen_lengths: ArrayLike,
    rejected_lengths: ArrayLike,
    *,
    beta: float = 2.0,
    gamma: float = 1.0,
    reduction: Reduction = "mean",
) -> Parts:
    b = check_positive("beta", beta)
    g = check_finite("gamma", gamma)
    (pc, pr, lc, lr), out_dtype = _arrays(
        reduction,
        policy_chosen_logps=policy_chosen_logps,
        policy_rejected_logps=policy_rejected_logps,
        chosen_lengths=chosen_lengths,
        rejected_lengths=rejected_lengths,
    )
    for name, lengths in (
        ("chosen_lengths", lc),
        ("rejected_lengths", lr),
    ):
        if (lengths <= 0).any():
            index = first_index(lengths <= 0)
            raise ValueError(
                f"{name} must be > 0 (tokens in each response); got "
                f"{float(lengths[index])} at index {index}"
            )
    losses, slopes = _logistic(b * (pc / lc - pr / lr) - g)
    # dm/d log pi(y_w) = beta / |y_w|
    return finish_both(
        losses, slopes * (b / lc), reduction, float(pc.size), out_dtype
    )


@value_of(_simpo_parts)
def simpo_loss() -> None:
    """SimPO loss: a logistic loss on the length-normalised log-likelihood
    difference, minus a target margin, with no reference model.

    With m = beta (log pi(y_w) / |y_w| - log pi(y_l) / |y_l|) - gamma::

        l = -log sigmoid(m) = softplus(-m)

    Gradient with respect to log pi(y_w): -(beta / |y_w|) sigmoid(-m),
    / n for "mean".

    Parameters
    ----------
    policy_chosen_logps, policy_rejected_logps : array_like, any shape
        Summed log-probabilities log pi(y_w | x) and log pi(y_l | x).
    chosen_lengths, rejected_lengths : array_like, the same shape
        The number of tokens |y_w| and |y_l| of each response, > 0.
    beta : float
        The reward scale beta > 0.
    gamma : float
        The target reward margin gamma (TRL's ``simpo_gamma``).
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar (the first argument's precision), or an
    array of the inputs' shape for ``reduction="none"``.

    Explained in chapters/preference.ipynb.
    Reference: Meng, Xia and Chen (2024), "SimPO: simple preference
    optimization with a reference-free reward", equation 6.
    """


@grad_of(_simpo_parts)
def simpo_loss_grad() -> None:
    """Gradient of :func:`simpo_loss` with respect to
    ``policy_chosen_logps``: -(beta / |y_w|) sigmoid(-m), / n for
    "mean"."""


_simpo_loss_value_and_grad = _simpo_parts


# --- kto_loss ------------------------------------------------------------


def _kto_parts(
    policy_logps: ArrayLike,
    reference_logps: ArrayLike,
    desirable: ArrayLike,
    *,
    kl: float = 0.0,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    reduction: Reduction = "mean",
) -> Parts:
    b = check_positive("beta", beta)
    z0 = check_finite("kl", kl)
    weights = []
    for name, value in (
        ("desirable_weight", desirable_weight),
        ("undesirable_weight", undesirable_weight),
    ):
        w = check_finite(name, value)
        if w < 0:
            raise ValueError(f"{name} must be >= 0; got {value!r}")
        weights.append(w)
    (z, z_ref, s), out_dtype = _arrays(
        reduction,
        policy_logps=policy_logps,
        reference_logps=reference_logps,
        desirable=desirable,
    )
    check_signs("desirable", s, what="1 (desirable) or -1 (undesirable)")
    w_s = np.where(s == 1, weights[0], weights[1])
    t = s * b * ((z - z_ref) - z0)
    # 1 - sigmoid(t) = sigmoid(-t), from e^-|t| in (0, 1]: no overflow
    losses = w_s * _sigmoid(-t)
    # d sigmoid(-t)/dt = -sigmoid(t) sigmoid(-t) = -e / (1 + e)^2 with
    # e = e^-|t|; dt/d log pi = s beta
    e = np.exp(-np.abs(t))
    slopes = -w_s * s * b * e / (1.0 + e) ** 2
    return finish_both(losses, slopes, reduction, float(z.size), out_dtype)


@value_of(_kto_parts)
def kto_loss() -> None:
    """Kahneman-Tversky optimisation loss: unpaired responses, each
    labelled desirable or not, scored against a reference point.

    With the implicit reward r = log pi(y) - log ref(y) and the reference
    point z0 (``kl``)::

        desirable (s = 1):    l = w_d (1 - sigmoid(beta (r - z0)))
        undesirable (s = -1): l = w_u (1 - sigmoid(beta (z0 - r)))

    that is l = w_s sigmoid(-t) with t = s beta (r - z0). Gradient with
    respect to log pi(y): -w_s s beta sigmoid(t) sigmoid(-t), / n for
    "mean" (z0 is a constant: TRL estimates it from mismatched pairs,
    clamps it at 0 and does not differentiate it).

    Parameters
    ----------
    policy_logps : array_like, any shape
        log pi(y | x) of each response under the policy.
    reference_logps : array_like, the same shape
        log ref(y | x) under the frozen reference model.
    desirable : array_like, the same shape
        s = 1 for a desirable response, -1 for an undesirable one.
    kl : float
        The reference point z0, an estimate of KL(pi || ref) >= 0.
    beta : float
        The scale beta > 0 of the implicit reward.
    desirable_weight, undesirable_weight : float
        The weights w_d, w_u >= 0 of the two kinds of examples.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    float32 or float64 scalar (the first argument's precision), or an
    array of the inputs' shape for ``reduction="none"``; every loss lies
    in [0, w_s].

    Explained in chapters/preference.ipynb.
    Reference: Ethayarajh et al. (2024), "KTO: model alignment as
    prospect theoretic optimization", equation 8.
    """


@grad_of(_kto_parts)
def kto_loss_grad() -> None:
    """Gradient of :func:`kto_loss` with respect to ``policy_logps``:
    -w_s s beta sigmoid(t) sigmoid(-t), / n for "mean"."""


_kto_loss_value_and_grad = _kto_parts
