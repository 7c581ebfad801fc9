"""Contrastive losses: InfoNCE (NT-Xent's one-directional form) and the
symmetric CLIP loss, each beside its gradient in the first argument.

Both are a softmax cross-entropy over a batch. Row i of the first
argument is paired with row i of the second; the other N - 1 rows of the
second argument are its negatives. Both normalise every row to unit
length inside (``x / max(||x||, 1e-12)``, torch's ``F.normalize``), as
SimCLR, CLIP and most implementations do, so the similarities are
cosines in [-1, 1] divided by a temperature (multiplied by a logit scale).
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
    Reduction,
    as_float,
    check_reduction,
    check_same_shape,
    finish_both,
)
from lossmod.primitives import _shifted_logsumexp

__all__ = ["clip_loss", "clip_loss_grad", "info_nce", "info_nce_grad"]

Parts = tuple[LossValue, FloatArray]
# torch.nn.functional.normalize's default eps: x / max(||x||, eps)
_NORM_EPSILON = 1e-12


def _rows(
    names: tuple[str, str], first: ArrayLike, second: ArrayLike
) -> tuple[Float64Array, Float64Array, np.dtype[Any]]:
    """Both inputs as float64 (N, D) rows of one shape, and the output
    dtype (the first argument's)."""
    a, out_dtype = as_float(names[0], first)
    b, _ = as_float(names[1], second)
    check_same_shape(names[0], a, names[1], b)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"{names[0]} must have shape (N, D): one embedding per row, "
            f"N >= 1 and D >= 1; got shape {a.shape}"
        )
    return a, b, out_dtype


def _check_positive(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"{name} must be a finite number > 0; got {value!r}"
        )
    return float(value)


def _normalise(x: Float64Array) -> tuple[Float64Array, Float64Array]:
    """Unit rows x / max(||x||, eps), and the divisor of each row."""
    norm = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
    divisor = np.maximum(norm, _NORM_EPSILON)
    return x / divisor, divisor


def _normalise_back(
    unit: Float64Array, divisor: Float64Array, grad_unit: Float64Array
) -> Float64Array:
    """The gradient in x from the gradient in its unit row u = x / ||x||:
    (g - (u . g) u) / ||x||, the projection off u (the loss cannot see
    the length); below eps the divisor is the constant eps: g / eps."""
    radial = np.sum(unit * grad_unit, axis=1, keepdims=True)
    scaled = divisor > _NORM_EPSILON
    return np.where(scaled, grad_unit - radial * unit, grad_unit) / divisor


def _log_softmax_rows(logits: Float64Array) -> Float64Array:
    # log softmax(s)_j = -[(m - s_j) + log1p(sum_{k != max} e^(s_k - m))]
    # with m the row's maximum: every exponent <= 0, nothing overflows.
    m, log_sum = _shifted_logsumexp(logits, 1)
    return -((m - logits) + log_sum)


def _info_nce_parts(
    query: ArrayLike,
    key: ArrayLike,
    temperature: float,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    t = _check_positive("temperature", temperature)
    q, k, out_dtype = _rows(("query", "key"), query, key)
    q_unit, q_norm = _normalise(q)
    k_unit, _ = _normalise(k)
    logits = (q_unit @ k_unit.T) / t
    log_p = _log_softmax_rows(logits)
    # l_i = -log softmax(s_i)_i: the key of row i against all N keys
    losses = -np.diagonal(log_p).copy()
    # dl/ds = softmax(s) - I, one row per query; s = q_unit k_unit^T / t
    d_logits = np.exp(log_p)
    d_logits[np.diag_indices_from(d_logits)] -= 1.0
    d_unit = (d_logits @ k_unit) / t
    slopes = _normalise_back(q_unit, q_norm, d_unit)
    return finish_both(losses, slopes, reduction, float(len(q)), out_dtype)


def info_nce(
    query: ArrayLike,
    key: ArrayLike,
    *,
    temperature: float = 0.1,
    reduction: Reduction = "mean",
) -> LossValue:
    """InfoNCE loss: each query must pick out its own key among the N keys
    of the batch.

    Formula, for rows q_i and k_i (i = 1..N) normalised to unit length
    inside (u / max(||u||, 1e-12)), with s_ij = q_i . k_j / temperature::

        l_i = -log( exp(s_ii) / sum_j exp(s_ij) )
            = logsumexp_j(s_ij) - s_ii

    the cross-entropy of row i of s with the class i (the other N - 1 keys
    are the negatives). One direction only, query to key; the symmetric
    form is :func:`clip_loss`. Computed by a stable log-softmax.

    Gradient with respect to the queries (for "sum"; "mean" divides by
    N): in the similarities, dl/ds = softmax(s) - I (row-wise softmax);
    in the unit queries, G = (softmax(s) - I) K / temperature (K the unit
    keys); in the raw queries, (G_i - (u_i . G_i) u_i) / ||q_i||, with
    u_i = q_i / ||q_i|| (the projection off u_i: the loss does not see a
    query's length).

    Parameters
    ----------
    query : array_like, shape (N, D)
        One embedding per row (any length: normalised inside).
    key : array_like, shape (N, D)
        key[i] is the positive of query[i]; every other row is a negative.
    temperature : float > 0
        Divides the cosine similarities: small values sharpen the
        softmax. SimCLR compares 0.05 to 1; MoCo uses 0.07, and CLIP
        starts from it.
    reduction : {"mean", "sum", "none"}
        Over the N queries.

    Returns
    -------
    scalar of the query's dtype (float32 or float64), or an (N,) array for
    ``reduction="none"``. Computed in float64. Every l_i >= 0; a batch of
    one has no negatives and costs 0.

    Explained in the chapter "Contrastive and metric learning"
    (chapters/contrastive.ipynb).

    Reference: van den Oord, Li and Vinyals (2018), "Representation
    learning with contrastive predictive coding"; Chen et al. (2020),
    "A simple framework for contrastive learning of visual
    representations" (NT-Xent).
    """
    return _info_nce_parts(query, key, temperature, reduction)[0]


def info_nce_grad(
    query: ArrayLike,
    key: ArrayLike,
    *,
    temperature: float = 0.1,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`info_nce` with respect to ``query``, shape
    (N, D): the chain rule of (softmax(s) - I) through s = q k^T / t and
    the normalisation (see :func:`info_nce`)."""
    return _info_nce_parts(query, key, temperature, reduction)[1]


def _info_nce_value_and_grad(
    query: ArrayLike,
    key: ArrayLike,
    *,
    temperature: float = 0.1,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    return _info_nce_parts(query, key, temperature, reduction)


def _clip_parts(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    logit_scale: float,
    reduction: Reduction,
) -> Parts:
    check_reduction(reduction)
    scale = _check_positive("logit_scale", logit_scale)
    a, b, out_dtype = _rows(
        ("image_embeddings", "text_embeddings"),
        image_embeddings,
        text_embeddings,
    )
    a_unit, a_norm = _normalise(a)
    b_unit, _ = _normalise(b)
    logits = scale * (a_unit @ b_unit.T)
    # rows: each image against every text; columns: each text against
    # every image (the rows of the transpose)
    log_p_rows = _log_softmax_rows(logits)
    log_p_cols = _log_softmax_rows(np.ascontiguousarray(logits.T)).T
    losses = -0.5 * (np.diagonal(log_p_rows) + np.diagonal(log_p_cols))
    # dl/ds = (softmax_rows(s) - I + softmax_cols(s) - I) / 2
    d_logits = 0.5 * (np.exp(log_p_rows) + np.exp(log_p_cols))
    d_logits[np.diag_indices_from(d_logits)] -= 1.0
    d_unit = scale * (d_logits @ b_unit)
    slopes = _normalise_back(a_unit, a_norm, d_unit)
    return finish_both(losses, slopes, reduction, float(len(a)), out_dtype)


def clip_loss(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    *,
    logit_scale: float,
    reduction: Reduction = "mean",
) -> LossValue:
    """The symmetric contrastive loss of CLIP: InfoNCE from images to
    texts and from texts to images, averaged.

    Formula, for rows a_i (images) and b_i (texts) normalised to unit
    length inside, with s_ij = logit_scale * a_i . b_j::

        l_i = ( [logsumexp_j(s_ij) - s_ii]      image i finds text i
              + [logsumexp_j(s_ji) - s_ii] ) / 2  text i finds image i

    so that clip_loss(a, b, logit_scale=s) equals
    (info_nce(a, b, temperature=1/s) + info_nce(b, a, temperature=1/s))
    / 2, and clip_loss(a, b) = clip_loss(b, a). ``logit_scale`` is the
    multiplier itself, 1 / temperature; CLIP learns it as exp(t), t
    starting at log(1 / 0.07), and clamps it at 100 (the clamp belongs to
    the training step, not to this loss, which takes the scale as given).

    Gradient with respect to the image embeddings (for "sum"; "mean"
    divides by N): in the similarities, dl/ds = (softmax_rows(s) - I +
    softmax_columns(s) - I) / 2; in the unit images, G = logit_scale
    (dl/ds) B (B the unit texts); in the raw images,
    (G_i - (u_i . G_i) u_i) / ||a_i||. The gradient in the texts is
    clip_loss_grad(text_embeddings, image_embeddings, ...).

    Parameters
    ----------
    image_embeddings, text_embeddings : array_like, shape (N, D)
        Row i of each is a matching pair; the other rows are negatives.
    logit_scale : float > 0
        The multiplier of the cosine similarities (keyword-only and
        required, as in CLIP's loss, which receives exp(t)).
    reduction : {"mean", "sum", "none"}
        Over the N pairs; "none" gives each pair's l_i.

    Returns
    -------
    scalar of the image embeddings' dtype, or an (N,) array for
    ``reduction="none"``. Computed in float64.

    Explained in the chapter "Contrastive and metric learning"
    (chapters/contrastive.ipynb).

    Reference: Radford et al. (2021), "Learning transferable visual models
    from natural language supervision", figure 3 and section 2.5.
    """
    return _clip_parts(
        image_embeddings, text_embeddings, logit_scale, reduction
    )[0]


def clip_loss_grad(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    *,
    logit_scale: float,
    reduction: Reduction = "mean",
) -> FloatArray:
    """Gradient of :func:`clip_loss` with respect to
    ``image_embeddings``, shape (N, D) (see :func:`clip_loss`)."""
    return _clip_parts(
        image_embeddings, text_embeddings, logit_scale, reduction
    )[1]


def _clip_loss_value_and_grad(
    image_embeddings: ArrayLike,
    text_embeddings: ArrayLike,
    *,
    logit_scale: float,
    reduction: Reduction = "mean",
) -> tuple[LossValue, FloatArray]:
    return _clip_parts(
        image_embeddings, text_embeddings, logit_scale, reduction
    )
