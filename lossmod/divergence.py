"""Kullback-Leibler divergence: PyTorch's ``kl_div`` and the textbook
D_KL(p || q), each beside its gradient.

The two differ in argument order and space, which is a classic pitfall:
``kl_div(input, target)`` takes the model's LOG-probabilities first and the
data's probabilities second, and computes D_KL(target || exp(input));
``kl_divergence(p, q)`` takes two probability vectors in the order of the
formula.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    FloatArray,
    LossValue,
    Reduction,
    as_float,
    check_distributions,
    check_interval,
    check_reduction,
    check_same_shape,
    legacy_reduction,
    mean_scale,
    reduce,
)
from lossmod._kernels import (
    Inputs,
    Terms,
    evaluate,
    grad,
    inputs,
    value,
    value_and_grad,
)

__all__ = ["kl_div", "kl_div_grad", "kl_divergence", "kl_divergence_grad"]

KLDivReduction = Literal["mean", "batchmean", "sum", "none"]
KL_DIV_REDUCTIONS: tuple[str, ...] = ("mean", "batchmean", "sum", "none")


def _kl_div_args(
    input: ArrayLike,
    target: ArrayLike,
    reduction: KLDivReduction,
    log_target: bool,
) -> tuple[FloatArray, FloatArray, np.dtype[Any]]:
    """Check the arguments of kl_div; return log q, the target
    probabilities t, the output dtype."""
    check_reduction(reduction, KL_DIV_REDUCTIONS)
    log_q, out_dtype = as_float("input", input, finite=False)
    if (log_q > 0).any():
        raise ValueError(
            "input must hold log-probabilities (<= 0); got a maximum of "
            f"{log_q.max():.6g}. Did you pass probabilities? "
            "Pass log_softmax(logits) or log(q)."
        )
    target_values, _ = as_float("target", target, finite=False)
    check_same_shape("input", log_q, "target", target_values)
    if log_target:
        if (target_values > 0).any():
            raise ValueError(
                "target must hold log-probabilities (<= 0) when "
                "log_target=True"
            )
        t = np.exp(target_values)
    else:
        check_interval("target", target_values, 0.0, 1.0, "probabilities")
        t = target_values
    return log_q, t, out_dtype


def _kl_div_inputs(
    input: ArrayLike,
    target: ArrayLike,
    reduction: KLDivReduction,
    log_target: bool,
) -> Inputs:
    """The arguments of kl_div for the kernels; log q <= 0 and p in [0, 1]
    (log p <= 0 for ``log_target``) are checked block by block, and the
    full checks run on a failure."""
    check_reduction(reduction, KL_DIV_REDUCTIONS)
    log_probability = (-math.inf, 0.0)
    within = {
        0: log_probability,
        1: log_probability if log_target else (0.0, 1.0),
    }
    return inputs(
        lambda: _kl_div_args(input, target, reduction, log_target),
        input,
        target,
        within=within,
        finite=(),
    )


def _kl_div_terms(
    log_q: NDArray[Any],
    target: NDArray[Any],
    *,
    log_target: bool,
    loss: bool = True,
    scale: float | None = 1.0,
) -> Terms:
    """Per element: p (log p - log q), p the target (or exp of it), and its
    slope -p times ``scale``."""
    t = np.exp(target) if log_target else target
    terms = None
    if loss:
        terms = t * (np.log(t) - log_q)
        # 0 log 0 = 0: a zero probability adds nothing, whatever log q is
        terms[t == 0] = 0.0
    return terms, -scale * t if scale is not None else None


def _kl_div_scale(args: Inputs, reduction: KLDivReduction) -> float:
    if reduction == "batchmean":
        return 1.0 / (args.shape[0] if args.shape else 1)
    return mean_scale(reduction, math.prod(args.shape))


def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: KLDivReduction = "mean",
    log_target: bool = False,
) -> LossValue:
    """Kullback-Leibler divergence in PyTorch's convention: ``input`` is
    log q, ``target`` is p.

    Formula, elementwise, with 0 log 0 = 0::

        l = p (log p - log q),   and
        sum over a distribution = D_KL(p || q)

    Gradient: dl/d(log q) = -p.

    Parameters
    ----------
    input : array_like, any shape
        Log-probabilities log q of the model (values <= 0; -inf allowed).
    target : array_like, same shape as ``input``
        Probabilities p of the data, or their logarithms if
        ``log_target=True``.
    size_average, reduce : bool, optional
        torch's deprecated reduction flags: either one given overrides
        ``reduction`` and warns.
    reduction : {"mean", "batchmean", "sum", "none"}
        "batchmean" divides the sum by the batch size ``input.shape[0]``:
        the mean of D_KL over the batch when each row is a distribution.
        "mean" divides by the number of ELEMENTS (batch size x classes),
        which is not a KL divergence; it is PyTorch's default and is kept
        for that reason.
    log_target : bool
        Whether ``target`` holds log-probabilities.

    Returns
    -------
    float32 or float64 scalar, or an array of the elementwise terms for
    ``reduction="none"`` (these may be negative; only their sum over a
    distribution is >= 0).

    Reference: Cover and Thomas (2006), section 2.3.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    args = _kl_div_inputs(input, target, reduction, log_target)
    terms = partial(_kl_div_terms, log_target=log_target)
    if reduction == "batchmean":
        total, _ = evaluate(terms, args, loss="sum", scale=None)
        batch = args.shape[0] if args.shape else 1
        return args.out_dtype.type(  # type: ignore[no-any-return]
            np.float64(total) / batch
        )
    return value(terms, args, reduction)


def kl_div_grad(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: KLDivReduction = "mean",
    log_target: bool = False,
) -> FloatArray:
    """Gradient of :func:`kl_div` with respect to ``input`` (log q): -p,
    scaled by the reduction."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    args = _kl_div_inputs(input, target, reduction, log_target)
    terms = partial(_kl_div_terms, log_target=log_target)
    return grad(terms, args, _kl_div_scale(args, reduction))


def _kl_div_value_and_grad(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: KLDivReduction = "mean",
    log_target: bool = False,
) -> tuple[LossValue, FloatArray]:
    reduction = legacy_reduction(size_average, reduce, reduction)
    args = _kl_div_inputs(input, target, reduction, log_target)
    terms = partial(_kl_div_terms, log_target=log_target)
    scale = _kl_div_scale(args, reduction)
    if reduction != "batchmean":
        return value_and_grad(terms, args, reduction, scale)
    total, slopes = evaluate(terms, args, loss="sum", scale=scale)
    assert slopes is not None
    batch = args.shape[0] if args.shape else 1
    return args.out_dtype.type(np.float64(total) / batch), slopes


def _kl_divergence_args(
    p: ArrayLike, q: ArrayLike, reduction: KLDivReduction
) -> tuple[FloatArray, FloatArray, np.dtype[Any]]:
    check_reduction(reduction)
    p_values, out_dtype = as_float("p", p)
    q_values, _ = as_float("q", q)
    check_same_shape("p", p_values, "q", q_values)
    if p_values.ndim == 0:
        raise ValueError(
            "p must have at least one axis "
            "(the outcomes of the distribution)"
        )
    check_distributions("p", p_values)
    check_distributions("q", q_values)
    return p_values, q_values, out_dtype


def kl_divergence(
    p: ArrayLike, q: ArrayLike, *, reduction: Reduction = "mean"
) -> LossValue:
    """The textbook Kullback-Leibler divergence D_KL(p || q) between
    distributions on the last axis.

    Formula, with 0 log(0 / q) = 0 and p log(p / 0) = inf for p > 0::

        D_KL(p || q) = sum_c p_c log(p_c / q_c)   >= 0,
        with equality iff p = q

    Gradient with respect to p: log(p_c / q_c) + 1.

    Parameters
    ----------
    p, q : array_like, shape (..., C)
        Probability distributions over C outcomes (each slice along the
        last axis sums to 1).
    reduction : {"mean", "sum", "none"}
        Over the distributions: "none" returns shape ``p.shape[:-1]``.

    Returns
    -------
    float32 or float64 scalar, or an array for ``reduction="none"``.

    Reference: Cover and Thomas (2006), section 2.3.
    """
    p_values, q_values, out_dtype = _kl_divergence_args(p, q, reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(
            p_values == 0, 0.0, p_values * _log_ratio(p_values, q_values)
        )
    return reduce(terms.sum(axis=-1), reduction, out_dtype)


def _log_ratio(p: FloatArray, q: FloatArray) -> FloatArray:
    """log(p / q), +inf where q = 0 < p.

    log(p / q) rather than log p - log q: one rounding, and exact 0 when
    p == q; but where p / q overflows (a subnormal q) or underflows to 0
    (a subnormal p) while both are > 0, log p - log q, which is finite.
    """
    with np.errstate(all="ignore"):
        ratio = p / q
        log_ratio = np.log(ratio)
        lost = ((ratio == 0) & (p > 0)) | (np.isinf(ratio) & (q > 0))
        if lost.any():
            log_ratio[lost] = np.log(p[lost]) - np.log(q[lost])
    return log_ratio


def kl_divergence_grad(
    p: ArrayLike, q: ArrayLike, *, reduction: Reduction = "mean"
) -> FloatArray:
    """Gradient of :func:`kl_divergence` with respect to ``p``:
    log(p / q) + 1, per reduction."""
    p_values, q_values, out_dtype = _kl_divergence_args(p, q, reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Where q = 0 the divergence jumps to +inf as soon as p > 0: the
        # slope is +inf.
        grad = np.where(
            q_values == 0, np.inf, _log_ratio(p_values, q_values) + 1.0
        )
    count = p_values.size // p_values.shape[-1]
    return (mean_scale(reduction, count) * grad).astype(out_dtype)


def _kl_divergence_value_and_grad(
    p: ArrayLike, q: ArrayLike, *, reduction: Reduction = "mean"
) -> tuple[LossValue, FloatArray]:
    """:func:`kl_divergence` and :func:`kl_divergence_grad`, bit for bit,
    from one check of the arguments and one log(p / q)."""
    p_values, q_values, out_dtype = _kl_divergence_args(p, q, reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = _log_ratio(p_values, q_values)
        terms = np.where(p_values == 0, 0.0, p_values * log_ratio)
        grad = np.where(q_values == 0, np.inf, log_ratio + 1.0)
    count = p_values.size // p_values.shape[-1]
    scale = mean_scale(reduction, count)
    return reduce(terms.sum(axis=-1), reduction, out_dtype), (
        scale * grad
    ).astype(out_dtype)
