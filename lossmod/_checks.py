"""Argument checks and reductions shared by every loss.

Each check raises ``ValueError`` naming the argument and what was expected,
so that a wrong shape, a label out of range or a NaN never turns into a
silently wrong number.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

Float64Array = NDArray[np.float64]
FloatArray = NDArray[np.floating[Any]]
Reduction = Literal["mean", "sum", "none"]
LossValue = np.floating[Any] | FloatArray

REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")


def check_reduction(
    reduction: str, allowed: tuple[str, ...] = REDUCTIONS
) -> None:
    """Raise unless ``reduction`` is one of ``allowed``."""
    if reduction not in allowed:
        names = ", ".join(repr(name) for name in allowed)
        raise ValueError(
            f"reduction must be one of {names}; got {reduction!r}"
        )


def as_float(
    name: str, x: ArrayLike, *, finite: bool = True
) -> tuple[Float64Array, np.dtype[Any]]:
    """Return ``x`` as float64 for the computation, and the floating dtype
    of the result.

    float32 in gives float32 out; integer and boolean inputs give float64.
    A loss returns the dtype of its first argument (the prediction). The
    computation itself runs in float64, so sums are accumulated in float64
    whatever the input precision.
    """
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold real numbers; got dtype {array.dtype}"
        )
    out_dtype = result_dtype(array)
    values = array.astype(np.float64, copy=False)
    check_no_nan(name, values)
    if finite and not np.isfinite(values).all():
        index = first_index(~np.isfinite(values))
        raise ValueError(
            f"{name} must be finite; got {float(values[index])} "
            f"at index {index}"
        )
    return values, out_dtype


def result_dtype(array: NDArray[Any]) -> np.dtype[Any]:
    """The dtype of a loss of ``array``: float32 for float32 (and float16),
    float64 otherwise."""
    if array.dtype.kind != "f":
        return np.dtype(np.float64)
    return (
        array.dtype if array.dtype.itemsize >= 4 else np.dtype(np.float32)
    )


def plain_reals(*arrays: NDArray[Any]) -> bool:
    """Whether the arrays hold real numbers and share one shape: the usual
    case, told without reading their values. When not, the full checks
    (``as_float``, ``check_same_shape``) say why.
    """
    shape = arrays[0].shape
    return all(a.dtype.kind in "biuf" and a.shape == shape for a in arrays)


def check_no_nan(name: str, values: Float64Array) -> None:
    """Raise if ``values`` holds a NaN, naming the first one's index."""
    nan = np.isnan(values)
    if nan.any():
        raise ValueError(
            f"{name} contains NaN at index {first_index(nan)}"
        )


def check_same_shape(
    name_a: str, a: NDArray[Any], name_b: str, b: NDArray[Any]
) -> None:
    """Raise unless ``a`` and ``b`` have identical shapes.

    NumPy would broadcast ``(N,)`` against ``(N, 1)`` to ``(N, N)`` and
    return a wrong number without complaint; the message says what the
    broadcast would have done.
    """
    if a.shape == b.shape:
        return
    message = (
        f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}"
    )
    try:
        broadcast = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{message}: they must be equal") from None
    raise ValueError(
        f"{message}: they would broadcast to {broadcast}; make them equal"
    )


def check_interval(
    name: str, values: Float64Array, low: float, high: float, what: str
) -> None:
    """Raise unless every value lies in the closed interval [low, high]."""
    outside = (values < low) | (values > high)
    if outside.any():
        index = first_index(outside)
        raise ValueError(
            f"{name} must hold {what} in [{low:g}, {high:g}]; "
            f"got {float(values[index])} at index {index}"
        )


def check_distributions(name: str, values: Float64Array) -> None:
    """Raise unless every row (last axis) is a probability distribution."""
    check_interval(name, values, 0.0, 1.0, "probabilities")
    totals = values.sum(axis=-1)
    tolerance = 100 * values.shape[-1] * np.finfo(np.float32).eps
    wrong = np.abs(totals - 1.0) > tolerance
    if wrong.any():
        index = first_index(wrong)
        if values.ndim == 1:
            raise ValueError(
                f"{name} must be a distribution summing to 1; "
                f"it sums to {totals:.6g}"
            )
        raise ValueError(
            f"each row of {name} must be a distribution summing to 1 "
            "over the last axis; "
            f"row {index} sums to {totals[index]:.6g}"
        )


def check_weight(
    name: str, weight: ArrayLike, shape: tuple[int, ...]
) -> Float64Array:
    """Return a non-negative ``weight`` that broadcasts to ``shape``
    without enlarging it."""
    values, _ = as_float(name, weight)
    try:
        broadcast = np.broadcast_shapes(values.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(
            f"{name} has shape {values.shape}, "
            f"which does not broadcast to the input's shape {shape}"
        )
    if (values < 0).any():
        index = first_index(values < 0)
        raise ValueError(
            f"{name} must be >= 0; got {float(values[index])} "
            f"at index {index}"
        )
    return values


def reduce(
    elementwise: Float64Array,
    reduction: Reduction,
    out_dtype: np.dtype[Any],
) -> LossValue:
    """Reduce per-element losses (float64) and cast to the caller's
    dtype."""
    if reduction == "none":
        return elementwise.astype(out_dtype, copy=False)
    if reduction == "sum":
        return out_dtype.type(  # type: ignore[no-any-return]
            elementwise.sum()
        )
    if elementwise.size == 0:
        raise ValueError(
            "reduction='mean' over an empty input is undefined (0 / 0)"
        )
    return out_dtype.type(  # type: ignore[no-any-return]
        elementwise.mean()
    )


def reduce_total(
    total: float,
    count: int,
    reduction: Reduction,
    out_dtype: np.dtype[Any],
) -> np.floating[Any]:
    """The "sum" or "mean" of ``count`` per-element losses from their
    float64 ``total``, cast to the caller's dtype: what :func:`reduce`
    returns for "sum" and "mean", bit for bit."""
    if reduction == "sum":
        return out_dtype.type(total)  # type: ignore[no-any-return]
    if count == 0:
        raise ValueError(
            "reduction='mean' over an empty input is undefined (0 / 0)"
        )
    return out_dtype.type(total / count)  # type: ignore[no-any-return]


def mean_scale(reduction: Reduction, count: int) -> float:
    """The factor d(reduced)/d(sum): 1/count for "mean", 1 for "sum" and
    "none"."""
    if reduction != "mean":
        return 1.0
    if count == 0:
        raise ValueError(
            "reduction='mean' over an empty input is undefined (0 / 0)"
        )
    return 1.0 / count


def first_index(mask: NDArray[np.bool_]) -> tuple[int, ...]:
    """Index of the first True entry of ``mask``, as a tuple
    (``()`` for 0-d): where an error message points."""
    if mask.ndim == 0:
        return ()
    return tuple(int(i) for i in np.argwhere(mask)[0])


R = TypeVar("R", bound=str)


def legacy_reduction(
    size_average: bool | None, reduce: bool | None, reduction: R
) -> R:
    """The reduction that torch's deprecated ``size_average`` and
    ``reduce`` arguments stand for, as ``_Reduction.legacy_get_string``
    maps them: either one given overrides ``reduction``; None counts as
    True; both True give "mean", ``reduce`` alone "sum", and
    ``reduce=False`` gives "none". Warns (DeprecationWarning) when they
    are used, as torch does."""
    if size_average is None and reduce is None:
        return reduction
    average = True if size_average is None else size_average
    keep = True if reduce is None else reduce
    legacy = "mean" if average and keep else "sum" if keep else "none"
    warnings.warn(
        "size_average and reduce args will be deprecated, please use "
        f"reduction='{legacy}' instead.",
        DeprecationWarning,
        stacklevel=3,
    )
    return cast(R, legacy)


def finish(
    losses: FloatArray | None,
    slopes: FloatArray | None,
    reduction: Reduction,
    denominator: float,
    out_dtype: np.dtype[Any],
) -> tuple[LossValue | None, FloatArray | None]:
    """Reduce float64 per-sample ``losses`` and scale the slopes of their
    sum, ``slopes`` (d sum / d first argument), for ``reduction``;
    "mean" divides both by ``denominator``. Either may be None (not
    wanted). Both are cast to ``out_dtype``."""
    if reduction == "mean" and denominator == 0:
        raise ValueError(
            "reduction='mean' is undefined here: it divides 0 by 0 "
            "(an empty input, or every target ignored or of weight 0)"
        )
    scale = 1.0 / denominator if reduction == "mean" else 1.0
    value: LossValue | None = None
    if losses is not None:
        if reduction == "none":
            value = losses.astype(out_dtype, copy=False)
        else:
            total = float(np.sum(losses))
            value = out_dtype.type(
                total / denominator if reduction == "mean" else total
            )
    grad = None
    if slopes is not None:
        grad = (slopes * scale if scale != 1.0 else slopes).astype(
            out_dtype, copy=False
        )
    return value, grad


def finish_both(
    losses: FloatArray,
    slopes: FloatArray,
    reduction: Reduction,
    denominator: float,
    out_dtype: np.dtype[Any],
) -> tuple[LossValue, FloatArray]:
    """:func:`finish` of both the losses and the slopes."""
    value, grad = finish(losses, slopes, reduction, denominator, out_dtype)
    assert value is not None and grad is not None
    return value, grad
