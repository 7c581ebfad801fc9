"""Sequence losses: the connectionist temporal classification (CTC) loss,
beside its gradient.

CTC scores an unsegmented target (a transcript) against a sequence of
per-frame class distributions by summing the probabilities of every
alignment, every frame-by-frame path that collapses to the target, with
the forward-backward algorithm of Graves et al. (2006). Everything is in
log space, so that inputs thousands of frames long neither underflow nor
lose precision; the loops run over time only, vectorised over the batch
and the extended label sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import (
    Float64Array,
    FloatArray,
    LossValue,
    Reduction,
    as_float,
    check_reduction,
    first_index,
)

__all__ = ["ctc_loss", "ctc_loss_grad"]

IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class _Problem:
    """The checked arguments of a CTC loss, batched.

    ``labels`` is the extended label sequence l' of each target: the
    target with a blank before, between and after its labels, shape
    (N, 2 S + 1), blank-padded beyond 2 L_n + 1.
    """

    log_probs: Float64Array
    labels: IntArray
    input_lengths: IntArray
    target_lengths: IntArray
    batched: bool
    out_dtype: np.dtype[Any]


def _lengths(
    name: str, lengths: ArrayLike, batch: int, batched: bool
) -> IntArray:
    """``lengths`` as a vector of N non-negative integers."""
    array = np.asarray(lengths)
    if array.size == 0:
        # [] is float64 to NumPy: an empty batch has no length to check.
        array = array.astype(np.intp)
    if array.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integers; got dtype {array.dtype}"
        )
    allowed = [(batch,)] if batched else [(), (1,)]
    expected = "(N,)" if batched else "() or (1,)"
    if array.shape not in allowed:
        raise ValueError(
            f"{name} has shape {array.shape} but log_probs has batch size "
            f"N = {batch}: give one length per sequence, shape {expected}"
        )
    values = array.reshape(batch).astype(np.intp)
    if (values < 0).any():
        index = int(np.argmax(values < 0))
        raise ValueError(
            f"{name} must be >= 0; got {values[index]} at index {index}"
        )
    return values


def _targets(
    targets: ArrayLike,
    target_lengths: IntArray,
    batch: int,
    n_classes: int,
    blank: int,
) -> IntArray:
    """The targets as a padded (N, S) integer array, blank beyond each
    target's length."""
    array = np.asarray(targets)
    if array.size == 0:
        # An empty array of any dtype (np.array([]) is float64) holds no
        # label: allowed when every target is empty.
        array = array.astype(np.intp)
    if array.dtype.kind not in "iu":
        raise ValueError(
            f"targets must hold class indices (integers); "
            f"got dtype {array.dtype}"
        )
    longest = int(target_lengths.max(initial=0))
    if array.ndim == 1:
        total = int(target_lengths.sum())
        if array.shape[0] != total:
            raise ValueError(
                "targets is 1-D, so it holds the targets concatenated: "
                f"its length must be sum(target_lengths) = {total}; "
                f"got {array.shape[0]}"
            )
        starts = np.cumsum(target_lengths) - target_lengths
        positions = np.arange(longest)
        used = positions < target_lengths[:, None]
        gather = np.where(used, starts[:, None] + positions, 0)
        padded = array[gather]
    elif array.ndim == 2:
        if array.shape[0] != batch:
            raise ValueError(
                f"targets has shape {array.shape} but log_probs has batch "
                f"size N = {batch}: give one padded row per sequence"
            )
        if longest > array.shape[1]:
            index = int(np.argmax(target_lengths > array.shape[1]))
            raise ValueError(
                f"target_lengths must be <= S = {array.shape[1]} (targets "
                f"has shape {array.shape}); got {target_lengths[index]} "
                f"at index {index}"
            )
        padded = array[:, :longest]
        used = np.arange(longest) < target_lengths[:, None]
    else:
        raise ValueError(
            "targets must have shape (N, S) (padded) or "
            f"(sum(target_lengths),) (concatenated); got {array.shape}"
        )
    # Only the first target_lengths[n] entries of a row are read; the
    # padding may hold anything, as in PyTorch.
    outside = used & ((padded < 0) | (padded >= n_classes))
    if outside.any():
        n, j = first_index(outside)
        raise ValueError(
            f"targets must hold class indices in [0, {n_classes}); got "
            f"{padded[n, j]} at sequence {n}, position {j}"
        )
    is_blank = used & (padded == blank)
    if is_blank.any():
        n, j = first_index(is_blank)
        raise ValueError(
            f"targets must not contain the blank ({blank}); got it at "
            f"sequence {n}, position {j}"
        )
    return np.where(used, padded, blank).astype(np.intp)


def _ctc_args(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int,
    reduction: Reduction,
) -> _Problem:
    """Check the arguments of a CTC loss and bring them to batched
    form."""
    check_reduction(reduction)
    lp, out_dtype = as_float("log_probs", log_probs, finite=False)
    if lp.ndim not in (2, 3):
        raise ValueError(
            "log_probs must have shape (T, N, C) or, unbatched, (T, C); "
            f"got shape {lp.shape}"
        )
    if (lp == np.inf).any():
        where = first_index(lp == np.inf)
        raise ValueError(
            f"log_probs must be < +inf (log-probabilities); got inf at "
            f"index {where}"
        )
    batched = lp.ndim == 3
    if not batched:
        lp = lp[:, None, :]
    length, batch, n_classes = lp.shape
    if not 0 <= blank < n_classes:
        raise ValueError(
            f"blank must be a class index in [0, {n_classes}); got {blank}"
        )
    inputs = _lengths("input_lengths", input_lengths, batch, batched)
    if (inputs > length).any():
        index = int(np.argmax(inputs > length))
        raise ValueError(
            f"input_lengths must be <= T = {length} (the length of "
            f"log_probs); got {inputs[index]} at index {index}"
        )
    lengths = _lengths("target_lengths", target_lengths, batch, batched)
    padded = _targets(targets, lengths, batch, n_classes, blank)
    labels = np.full((batch, 2 * padded.shape[1] + 1), blank, np.intp)
    labels[:, 1::2] = padded
    return _Problem(lp, labels, inputs, lengths, batched, out_dtype)


def _logsumexp3(
    a: Float64Array, b: Float64Array, c: Float64Array
) -> Float64Array:
    """log(e^a + e^b + e^c) elementwise, exact when all three are -inf."""
    top = np.maximum(np.maximum(a, b), c)
    # log(sum e^x) = m + log(sum e^(x - m)) with m the largest term: no
    # overflow, and no underflow of the largest term. Where all terms are
    # -inf, shift by 0 instead (-inf - -inf would be NaN).
    shift = np.where(np.isneginf(top), 0.0, top)
    with np.errstate(divide="ignore"):
        total = np.exp(a - shift) + np.exp(b - shift) + np.exp(c - shift)
        out: Float64Array = shift + np.log(total)
    return out


def _shift(x: Float64Array, k: int) -> Float64Array:
    """``x`` moved by k along the last axis (right for k > 0, left for
    k < 0), filled with -inf (log 0)."""
    out = np.full_like(x, -np.inf)
    if k > 0:
        out[..., k:] = x[..., :-k]
    else:
        out[..., :k] = x[..., -k:]
    return out


@dataclass(frozen=True)
class _Lattice:
    """The CTC lattice of a batch: log emissions, allowed skips, log alpha
    and the log-likelihood of each target."""

    emit: Float64Array
    skip: NDArray[np.bool_]
    log_alpha: Float64Array
    log_likelihood: Float64Array


def _forward(problem: _Problem, blank: int) -> _Lattice:
    """The forward pass: log alpha_t(s) for every t, s (eq. 5-8 of Graves
    et al. 2006, in logs)."""
    lp, labels = problem.log_probs, problem.labels
    length, batch, _ = lp.shape
    width = labels.shape[1]
    rows = np.arange(batch)
    valid = np.arange(width) < 2 * problem.target_lengths[:, None] + 1
    # emit[t, n, s] = log y_t(l'_s) on the lattice, log 0 beyond 2 L_n + 1
    emit = np.where(valid, lp[:, rows[:, None], labels], -np.inf)
    # A path may jump from l'_{s-2} to l'_s over a blank unless l'_s is a
    # blank or repeats l'_{s-2}: a repeated label needs a blank between.
    skip = np.zeros((batch, width), bool)
    skip[:, 2:] = (labels[:, 2:] != blank) & (
        labels[:, 2:] != labels[:, :-2]
    )
    log_alpha = np.full((length, batch, width), -np.inf)
    if length == 0:
        # No frame at all: only the empty target has an alignment.
        log_likelihood = np.where(
            problem.target_lengths == 0, 0.0, -np.inf
        )
        return _Lattice(emit, skip, log_alpha, log_likelihood)
    # A path starts in the leading blank or in the first label.
    log_alpha[0, :, :2] = emit[0, :, :2]
    for t in range(1, length):
        prev = log_alpha[t - 1]
        jump = np.where(skip, _shift(prev, 2), -np.inf)
        log_alpha[t] = _logsumexp3(prev, _shift(prev, 1), jump) + emit[t]
    # A path ends in the last label or the trailing blank, at the last
    # frame T_n - 1 of its sequence.
    last = np.maximum(problem.input_lengths - 1, 0)
    ends = log_alpha[last, rows]
    final = ends[rows, 2 * problem.target_lengths]
    before = ends[rows, np.maximum(2 * problem.target_lengths - 1, 0)]
    before = np.where(problem.target_lengths > 0, before, -np.inf)
    log_likelihood = np.logaddexp(final, before)
    # No frame at all: only the empty target has an alignment (the empty
    # path), with probability 1.
    empty = problem.input_lengths == 0
    log_likelihood[empty] = np.where(
        problem.target_lengths[empty] == 0, 0.0, -np.inf
    )
    return _Lattice(emit, skip, log_alpha, log_likelihood)


def _occupation(problem: _Problem, lattice: _Lattice) -> Float64Array:
    """gamma_t(c): the posterior probability that frame t emits class c,
    shape (T, N, C); 0 for t >= T_n and for infinite losses.

    log beta_t(s) here is the log-probability of the rest of the path
    after frame t given state s at t (Graves's beta without y_t(l'_s)), so
    that alpha_t(s) beta_t(s) / p is the probability of passing through
    s at t, and it sums to 1 over s for every t < T_n.
    """
    lp, labels = problem.log_probs, problem.labels
    length, batch, n_classes = lp.shape
    width = labels.shape[1]
    rows = np.arange(batch)
    emit, log_alpha = lattice.emit, lattice.log_alpha
    # From s the path may go to s + 2 when the label at s + 2 allows it.
    skip_next = np.zeros_like(lattice.skip)
    skip_next[:, :-2] = lattice.skip[:, 2:]
    start = np.full((batch, width), -np.inf)
    start[rows, 2 * problem.target_lengths] = 0.0
    has_label = problem.target_lengths > 0
    start[rows[has_label], 2 * problem.target_lengths[has_label] - 1] = 0.0
    last = problem.input_lengths - 1
    finite = np.isfinite(lattice.log_likelihood)
    log_p = np.where(finite, lattice.log_likelihood, 0.0)
    gamma = np.zeros((length, batch, width))
    beta = np.full((batch, width), -np.inf)
    for t in range(length - 1, -1, -1):
        if t < length - 1:
            ahead = beta + emit[t + 1]
            jump = np.where(skip_next, _shift(ahead, -2), -np.inf)
            beta = _logsumexp3(ahead, _shift(ahead, -1), jump)
        beta = np.where(np.equal(last, t)[:, None], start, beta)
        beta = np.where(np.less(last, t)[:, None], -np.inf, beta)
        gamma[t] = np.exp(log_alpha[t] + beta - log_p[:, None])
    gamma[:, ~finite] = 0.0
    # Sum the states of each class: flat index (t, n, c) of every (t, n, s)
    flat = (
        np.arange(length)[:, None, None] * batch + rows[:, None]
    ) * n_classes + labels
    totals: Float64Array = np.bincount(
        flat.ravel(), gamma.ravel(), minlength=length * batch * n_classes
    ).astype(np.float64, copy=False)
    return totals.reshape(length, batch, n_classes)


def _losses(
    lattice: _Lattice, zero_infinity: bool
) -> tuple[Float64Array, NDArray[np.bool_]]:
    """Per-sequence losses -log p(target | input), with infinite ones
    replaced by 0 if ``zero_infinity``; and which were infinite."""
    losses = -lattice.log_likelihood
    infinite = np.isinf(losses)
    if zero_infinity:
        losses = np.where(infinite, 0.0, losses)
    return losses, infinite


def _weights(problem: _Problem, reduction: Reduction) -> Float64Array:
    """d(reduced loss) / d(loss of sequence n)."""
    batch = problem.labels.shape[0]
    if reduction != "mean":
        return np.ones(batch)
    if batch == 0:
        raise ValueError(
            "reduction='mean' over an empty batch is undefined (0 / 0)"
        )
    weights: Float64Array = 1.0 / (
        batch * np.maximum(problem.target_lengths, 1)
    )
    return weights


def _reduce(
    problem: _Problem, losses: Float64Array, reduction: Reduction
) -> LossValue:
    out_dtype = problem.out_dtype
    if reduction == "none":
        if not problem.batched:
            return losses.reshape(()).astype(out_dtype)
        return losses.astype(out_dtype)
    if reduction == "sum":
        return out_dtype.type(losses.sum())  # type: ignore[no-any-return]
    if losses.size == 0:
        raise ValueError(
            "reduction='mean' over an empty batch is undefined (0 / 0)"
        )
    # "mean": each loss divided by its target length (at least 1), then
    # the mean over the batch.
    per_label = losses / np.maximum(problem.target_lengths, 1)
    return out_dtype.type(per_label.mean())  # type: ignore[no-any-return]


def _gradient(
    problem: _Problem,
    lattice: _Lattice,
    infinite: NDArray[np.bool_],
    reduction: Reduction,
    zero_infinity: bool,
) -> FloatArray:
    gamma = _occupation(problem, lattice)
    # dL/d log y_t(c) = -gamma_t(c), each sequence weighted by the
    # reduction's factor.
    grad = -gamma * _weights(problem, reduction)[:, None]
    if not zero_infinity:
        # The loss is +inf and its slope undefined, on the frames read.
        frames = np.arange(grad.shape[0])[:, None]
        undefined = infinite & (frames < problem.input_lengths)
        grad[undefined] = np.nan
    if not problem.batched:
        grad = grad[:, 0, :]
    return grad.astype(problem.out_dtype)


def ctc_loss(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: Reduction = "mean",
    zero_infinity: bool = False,
) -> LossValue:
    """Connectionist temporal classification loss, as
    ``torch.nn.functional.ctc_loss``.

    Formula, for one sequence with per-frame log-probabilities
    log y_t(c), t < T_n, and a target l of length L_n::

        loss_n = -log sum over alignments pi of prod_t y_t(pi_t)

    over the paths pi of length T_n over the C classes that collapse to
    l when repeated symbols are merged and then blanks removed (B(pi) =
    l). The sum is computed by the forward recursion over the extended
    target l' (a blank before, between and after the labels)::

        alpha_t(s) = y_t(l'_s) (alpha_{t-1}(s) + alpha_{t-1}(s-1)
                     + [l'_s != blank and l'_s != l'_{s-2}]
                       alpha_{t-1}(s-2))
        p(l | y) = alpha_{T-1}(2 L) + alpha_{T-1}(2 L - 1)

    in logs, with log(e^a + e^b) = m + log(e^(a-m) + e^(b-m)), m = max.
    A target needs at least L_n + (number of adjacent repeated labels)
    frames, one blank between each repeat: with fewer, no path exists and
    the loss is +inf.

    Gradient (see :func:`ctc_loss_grad`): -gamma_t(c), the posterior
    probability that frame t emits class c.

    Parameters
    ----------
    log_probs : array_like, shape (T, N, C), or (T, C) unbatched
        Log-probabilities of C classes (blank included) at each of T
        frames, e.g. ``log_softmax(logits, axis=-1)``; -inf (log 0) is
        allowed. Not checked to be normalised: unnormalised scores give a
        number, not a negative log-likelihood.
    targets : array_like of int, shape (N, S) or (sum(target_lengths),)
        Padded rows (sequence n is ``targets[n, :target_lengths[n]]``, the
        padding is ignored) or the targets concatenated; unbatched, shape
        (S,) with S = target_lengths, or (1, S). Class indices in
        [0, C), never the blank.
    input_lengths : array_like of int, shape (N,), or () unbatched
        Frames used in each sequence, 0 <= T_n <= T; frames t >= T_n are
        ignored.
    target_lengths : array_like of int, shape (N,), or () unbatched
        Length L_n >= 0 of each target (<= S for padded targets).
    blank : int
        The class index of the blank, in [0, C).
    reduction : {"mean", "sum", "none"}
        "none" returns the N losses (shape (), unbatched); "sum" their
        sum; "mean" divides each loss by its target length (clamped to at
        least 1) and then averages over the batch, as PyTorch does; not
        the mean of the losses.
    zero_infinity : bool
        Replace infinite losses (inputs too short for their targets) by 0,
        and their gradients by 0.

    Returns
    -------
    float32 or float64 (the dtype of ``log_probs``) scalar, or an array of
    shape (N,) (shape () unbatched) for ``reduction="none"``. float32
    input is computed in float64 and the result rounded once.

    Explained in the chapter "Language models and sequences"
    (chapters/sequences.ipynb), in its section on CTC.
    Reference: Graves, Fernandez, Gomez and Schmidhuber (2006),
    "Connectionist temporal classification", ICML, section 4.
    """
    problem = _ctc_args(
        log_probs, targets, input_lengths, target_lengths, blank, reduction
    )
    lattice = _forward(problem, blank)
    losses, _ = _losses(lattice, zero_infinity)
    return _reduce(problem, losses, reduction)


def ctc_loss_grad(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: Reduction = "mean",
    zero_infinity: bool = False,
) -> FloatArray:
    """Gradient of :func:`ctc_loss` with respect to ``log_probs``, taken as
    free variables: what central differences in ``log_probs`` give.

    Formula, for frame t < T_n of sequence n, with alpha and beta from the
    forward and backward recursions (beta_t(s) here the probability of
    the rest of the path after frame t, given state s at frame t)::

        gamma_t(c) = (1 / p(l | y)) sum over s with l'_s = c of
                     alpha_t(s) beta_t(s)
        d loss_n / d log y_t(c) = -gamma_t(c)

    gamma_t(c) is the posterior probability that frame t emits c; it
    sums to 1 over c. The result is scaled by the reduction's factor
    (1 / (N max(L_n, 1)) for "mean"; 1 for "sum" and "none", where it is
    the gradient of the sum). It is 0 on frames t >= T_n, 0 for classes
    on no path, and 0 for infinite losses with ``zero_infinity=True``;
    NaN on the frames of an infinite loss otherwise (its slope is
    undefined; PyTorch's CPU backward gives NaN there too).

    PyTorch's convention differs: its backward returns
    exp(log y_t(c)) - gamma_t(c) (times the reduction's factor, on frames
    t < T_n), the gradient with respect to the LOGITS z when
    log y = log_softmax(z). The two agree after the chain rule through
    log_softmax, whose Jacobian is d log y_i / d z_j = [i = j] - y_j::

        g_z = g - softmax(z) sum_c g = -gamma + exp(log y)

    because softmax(z) = exp(log y) and sum_c g = -sum_c gamma_t(c) = -1
    (gamma_t sums to 1 over c, as exp(log y_t) does). As gradients in
    ``log_probs`` they differ by exp(log y) (PyTorch issues 52241 and
    181534: gradcheck in log_probs fails). This function returns the
    gradient in ``log_probs``: compose it with log_softmax's Jacobian to
    reach the logits.

    Parameters and Returns: as :func:`ctc_loss`; returns an array of the
    shape and dtype of ``log_probs``.
    """
    problem = _ctc_args(
        log_probs, targets, input_lengths, target_lengths, blank, reduction
    )
    lattice = _forward(problem, blank)
    _, infinite = _losses(lattice, zero_infinity)
    return _gradient(problem, lattice, infinite, reduction, zero_infinity)


def _ctc_loss_value_and_grad(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: Reduction = "mean",
    zero_infinity: bool = False,
) -> tuple[LossValue, FloatArray]:
    """:func:`ctc_loss` and :func:`ctc_loss_grad`, bit for bit, from one
    forward-backward pass."""
    problem = _ctc_args(
        log_probs, targets, input_lengths, target_lengths, blank, reduction
    )
    lattice = _forward(problem, blank)
    losses, infinite = _losses(lattice, zero_infinity)
    grad = _gradient(problem, lattice, infinite, reduction, zero_infinity)
    return _reduce(problem, losses, reduction), grad
