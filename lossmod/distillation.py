"""Knowledge distillation: the temperature-scaled KL divergence from a
teacher's soft targets to a student, beside its gradient.

Convention (Hinton, Vinyals and Dean, 2015, and the usual PyTorch idiom
``T**2 * kl_div(log_softmax(z_s / T), softmax(z_t / T), reduction=...)``):
the value is T^2 times the KL divergence from the teacher's softened
distribution to the student's, so that its gradient keeps the scale of a
hard-label cross-entropy whatever the temperature. The reductions are
``kl_div``'s: "batchmean" (the default here) is the mean over the batch of
the per-example divergence, "mean" divides by the number of elements.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lossmod._checks import (
    Float64Array,
    FloatArray,
    LossValue,
    as_float,
    check_reduction,
    check_same_shape,
)
from lossmod.divergence import KL_DIV_REDUCTIONS, KLDivReduction
from lossmod.primitives import _shifted_logsumexp

__all__ = ["distillation_loss", "distillation_loss_grad"]


def _distillation_args(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    temperature: float,
    reduction: KLDivReduction,
) -> tuple[Float64Array, Float64Array, np.dtype[Any]]:
    """Check the arguments; return both logits as float64 and the output
    dtype (the student's)."""
    check_reduction(reduction, KL_DIV_REDUCTIONS)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float, np.floating))
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            f"temperature must be a finite number > 0; got {temperature!r}"
        )
    z_s, out_dtype = as_float("student_logits", student_logits)
    z_t, _ = as_float("teacher_logits", teacher_logits)
    check_same_shape("student_logits", z_s, "teacher_logits", z_t)
    if z_s.ndim != 2 or z_s.shape[1] == 0:
        raise ValueError(
            "student_logits must have shape (N, C), one row of C class "
            f"scores per example; got shape {z_s.shape}"
        )
    return z_s, z_t, out_dtype


def _log_softmax_rows(z: Float64Array) -> Float64Array:
    """log softmax of each row, without overflow or cancellation."""
    # log_softmax(z)_c = -[(m - z_c) + log1p(sum_{j != k} e^(z_j - m))]
    # with m = max_j z_j = z_k: two non-negative terms, every exponent
    # <= 0, so nothing overflows and nothing cancels.
    m, log_sum = _shifted_logsumexp(z, 1)
    return -((m - z) + log_sum)


def _scale(reduction: KLDivReduction, shape: tuple[int, ...]) -> float:
    """d(reduced loss) / d(sum of the elementwise terms)."""
    if reduction == "batchmean":
        return 1.0 / shape[0] if shape[0] else math.nan
    if reduction == "mean":
        return 1.0 / math.prod(shape) if math.prod(shape) else math.nan
    return 1.0


def _distillation(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    temperature: float,
    reduction: KLDivReduction,
    *,
    want_value: bool,
    want_grad: bool,
) -> tuple[LossValue | None, FloatArray | None]:
    """The value and (or) the gradient, from one pass over the
    logits."""
    z_s, z_t, out_dtype = _distillation_args(
        student_logits, teacher_logits, temperature, reduction
    )
    t = float(temperature)
    scale = _scale(reduction, z_s.shape)
    if math.isnan(scale):
        raise ValueError(
            f"reduction={reduction!r} over an empty input is undefined "
            "(0 / 0)"
        )
    # Both distributions from their log-probabilities: the teacher's p
    # and log p, the student's log q, never log(softmax), which would
    # give -inf where softmax underflows.
    log_p = _log_softmax_rows(z_t / t)
    log_q = _log_softmax_rows(z_s / t)
    p = np.exp(log_p)
    value: LossValue | None = None
    grad: FloatArray | None = None
    if want_value:
        # T^2 p (log p - log q) per element; p = 0 by underflow gives
        # 0 * (finite) = 0, and the terms of a row sum to T^2 KL >= 0.
        terms = (t * t) * (p * (log_p - log_q))
        if reduction == "none":
            value = terms.astype(out_dtype)
        else:
            value = out_dtype.type(np.float64(terms.sum()) * scale)
    if want_grad:
        # d/dz_s of T^2 KL(p || q) = T^2 (1 / T) (q - p) = T (q - p).
        q = np.exp(log_q)
        grad = ((t * scale) * (q - p)).astype(out_dtype)
    return value, grad


def distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    temperature: float = 1.0,
    reduction: KLDivReduction = "batchmean",
) -> LossValue:
    """Distillation loss: T^2 times the KL divergence from the teacher's
    softened distribution to the student's.

    Formula, per example i, with p_i = softmax(z_t,i / T) (the teacher's
    soft targets) and q_i = softmax(z_s,i / T) (the student's)::

        l_i = T^2 KL(p_i || q_i) = T^2 sum_c p_ic (log p_ic - log q_ic)

    both log-probabilities computed by a stable log-softmax. Equal to
    ``T**2 * kl_div(log_softmax(z_s / T), softmax(z_t / T),
    reduction=reduction)`` and, for "batchmean", to T^2 times the
    soft-target cross-entropy of Hinton et al. minus T^2 times the
    teacher's mean entropy (a constant that does not change the
    gradient).

    Gradient with respect to the student's logits::

        dl_i / dz_s,ic = T (q_ic - p_ic)

    The factor T^2 makes it T (q - p); as T grows, for logits of zero mean
    over the classes, T (q - p) tends to (z_s - z_t) / C: matching logits
    by squared error, with a gradient that does not vanish.

    Parameters
    ----------
    student_logits : array_like, shape (N, C)
        Finite scores of the student, the model being trained.
    teacher_logits : array_like, shape (N, C)
        Finite scores of the teacher for the same examples.
    temperature : float > 0
        T: both sets of logits are divided by it. T = 1 is a plain KL
        divergence between the two softmax outputs; larger T softens
        the teacher's distribution and shows the student the relative
        probabilities of the wrong classes.
    reduction : {"batchmean", "mean", "sum", "none"}
        As for ``kl_div``: "batchmean" divides the sum by N (the mean
        over the batch of T^2 KL(p_i || q_i)); "mean" divides it by N * C,
        which is not a KL divergence; "none" returns the elementwise terms
        T^2 p_ic (log p_ic - log q_ic), shape (N, C), whose rows sum to
        T^2 KL(p_i || q_i) (single terms may be negative).

    Returns
    -------
    scalar of the student's dtype (float32 or float64), or an (N, C) array
    for ``reduction="none"``. Computed in float64.

    Explained in the chapter "Distillation and soft targets"
    (chapters/distillation.ipynb).

    Reference: Hinton, Vinyals and Dean (2015), "Distilling the knowledge
    in a neural network", section 2.
    """
    value, _ = _distillation(
        student_logits,
        teacher_logits,
        temperature,
        reduction,
        want_value=True,
        want_grad=False,
    )
    assert value is not None
    return value


def distillation_loss_grad(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    temperature: float = 1.0,
    reduction: KLDivReduction = "batchmean",
) -> FloatArray:
    """Gradient of :func:`distillation_loss` with respect to
    ``student_logits``: T (q - p), scaled by the reduction (1 / N for
    "batchmean", 1 / (N C) for "mean"; "none" gives that of the sum).

    Parameters and shapes as :func:`distillation_loss`; returns an array
    of the shape and dtype of ``student_logits``.
    """
    _, grad = _distillation(
        student_logits,
        teacher_logits,
        temperature,
        reduction,
        want_value=False,
        want_grad=True,
    )
    assert grad is not None
    return grad


def _distillation_loss_value_and_grad(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    temperature: float = 1.0,
    reduction: KLDivReduction = "batchmean",
) -> tuple[LossValue, FloatArray]:
    """:func:`distillation_loss` and :func:`distillation_loss_grad`, bit
    for bit, from one check of the arguments and one pass."""
    value, grad = _distillation(
        student_logits,
        teacher_logits,
        temperature,
        reduction,
        want_value=True,
        want_grad=True,
    )
    assert value is not None and grad is not None
    return value, grad
