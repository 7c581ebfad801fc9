"""Numerically stable primitives: the building blocks of every
classification loss.

Each function is finite and accurate for any finite input, in float32 and
float64. The identity that makes it so is written beside the code.
Explained in the chapter "What is a loss function?" and used throughout the
course.

References: Blanchard, Higham and Higham (2021), "Accurately computing the
log-sum-exp and softmax functions"; Maechler (2012), "Accurately computing
log(1 - exp(-|a|))".
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import FloatArray, as_float
from lossmod._kernels import column_sums, narrow

__all__ = [
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "softmax",
    "softplus",
    "xlogy",
]


def _shifted_logsumexp(
    z: FloatArray, axis: int
) -> tuple[FloatArray, FloatArray]:
    """Return ``m`` (the max) and ``log(sum(exp(z - m)))``, both with
    ``axis`` kept.

    logsumexp(z) = m + log(sum(exp(z - m))) with m = max(z): every exponent
    is <= 0, so nothing overflows. The sum is 1 + r, where r sums the terms
    other than (one) maximum; log1p(r) keeps full relative accuracy when r
    is tiny, where log(1 + r) would round it away.
    """
    # few classes: reduce the transpose's rows (lossmod._kernels.narrow)
    if narrow(z, axis):
        t = z.T.copy()
        m = t.max(axis=0)
        at_max = t == m
        if np.count_nonzero(at_max) == len(
            m
        ):  # no ties: zero the only maximum's term
            e = np.exp(t - m)
            e -= at_max
            return m[:, None], np.log1p(column_sums(e))[:, None]
    m, first_max = _max(z, axis)
    e = np.exp(z - m)
    _zero_at(e, first_max, axis)  # the term of (one) maximum, exp(0) = 1
    return m, np.log1p(np.sum(e, axis=axis, keepdims=True))


def _logsumexp_and_softmax(
    z: FloatArray, axis: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``_shifted_logsumexp(z, axis)`` and ``_softmax(z, axis)``, bit for
    bit, from one exponential of each element (a loss's value and its
    gradient in one pass)."""
    if narrow(z, axis):
        t = z.T.copy()
        m = t.max(axis=0)
        e = np.exp(t - m)
        p = np.ascontiguousarray((e / column_sums(e)).T)
        at_max = t == m
        if np.count_nonzero(at_max) == len(m):
            e -= at_max
            return m[:, None], np.log1p(column_sums(e))[:, None], p
        m_wide, log_sum = _shifted_logsumexp(z, axis)  # ties
        return m_wide, log_sum, p
    m_keep, first_max = _max(z, axis)
    e = np.exp(z - m_keep)
    p = e / np.sum(e, axis=axis, keepdims=True)
    _zero_at(e, first_max, axis)
    return m_keep, np.log1p(np.sum(e, axis=axis, keepdims=True)), p


def _max(z: FloatArray, axis: int) -> tuple[FloatArray, NDArray[np.intp]]:
    """``np.max(z, axis, keepdims=True)`` and where it is first reached,
    also with ``axis`` kept.

    The max is read where ``np.argmax`` found it, which is twice as fast as
    ``np.max`` for a few classes (for rows, by plain indexing: NumPy's
    ``take_along_axis`` costs microseconds at a batch's size); an empty or
    0-d array goes to ``np.max`` first, to raise its errors.
    """
    if z.ndim == 0 or z.size == 0:
        m = np.max(z, axis=axis, keepdims=True)
        return m, np.expand_dims(np.argmax(z, axis=axis), axis)
    if z.ndim == 2 and axis in (1, -1):
        first = z.argmax(axis=1)
        return z[np.arange(len(z)), first][:, None], first[:, None]
    first_max = np.expand_dims(np.argmax(z, axis=axis), axis)
    return np.take_along_axis(z, first_max, axis=axis), first_max


def _zero_at(
    e: FloatArray, first_max: NDArray[np.intp], axis: int
) -> None:
    """``np.put_along_axis(e, first_max, 0.0, axis=axis)``; for rows, by
    plain indexing, which is several times faster for a batch."""
    if e.ndim == 2 and axis in (1, -1):
        e[np.arange(len(e)), first_max[:, 0]] = 0.0
    else:
        np.put_along_axis(e, first_max, 0.0, axis=axis)


def logsumexp(x: ArrayLike, axis: int = -1) -> FloatArray:
    """Log of the sum of exponentials along ``axis``, without overflow.

    Formula::

        logsumexp(x) = log(sum_j exp(x_j))
                     = m + log1p(sum_{j != argmax} exp(x_j - m)),
        m = max_j x_j

    Gradient: d logsumexp / d x = softmax(x).

    Parameters
    ----------
    x : array_like of real numbers, shape (..., C, ...)
        Finite values.
    axis : int
        The axis to reduce.

    Returns
    -------
    ndarray, shape of ``x`` without ``axis``; float32 for float32 input,
    else float64.
    """
    z, out_dtype = as_float("x", x)
    m, log_sum = _shifted_logsumexp(z, axis)
    return np.squeeze(m + log_sum, axis=axis).astype(out_dtype)


def log_softmax(x: ArrayLike, axis: int = -1) -> FloatArray:
    """Logarithm of the softmax along ``axis``: log-probabilities of a
    categorical distribution.

    Formula::

        log_softmax(x)_c = x_c - logsumexp(x) = -[(m - x_c) + log1p(r)]

    written as minus a sum of two non-negative terms, so no cancellation
    can occur.

    Parameters
    ----------
    x : array_like, shape (..., C, ...)
        Finite logits.
    axis : int
        The class axis.

    Returns
    -------
    ndarray, same shape as ``x``: every value <= 0, ``exp`` of each slice
    sums to 1.
    """
    z, out_dtype = as_float("x", x)
    m, log_sum = _shifted_logsumexp(z, axis)
    return (-((m - z) + log_sum)).astype(out_dtype)


def softmax(x: ArrayLike, axis: int = -1) -> FloatArray:
    """Softmax along ``axis``: exp(x_c) / sum_j exp(x_j).

    Computed as exp(x_c - m) / sum_j exp(x_j - m) with m = max(x):
    subtracting the maximum changes nothing mathematically and keeps every
    exponent <= 0, so nothing overflows.

    Parameters
    ----------
    x : array_like, shape (..., C, ...)
        Finite logits.
    axis : int
        The class axis.

    Returns
    -------
    ndarray, same shape as ``x``: values in [0, 1], each slice summing to
    1.
    """
    z, out_dtype = as_float("x", x)
    return _softmax(z, axis).astype(out_dtype)


def _softmax(z: FloatArray, axis: int) -> FloatArray:
    """softmax of a float64 array (unchecked):
    exp(z - m) / sum(exp(z - m)), m = max(z)."""
    # few classes: reduce the transpose's rows (lossmod._kernels.narrow)
    if narrow(z, axis):
        t = z.T.copy()
        e = np.exp(t - t.max(axis=0))
        return np.ascontiguousarray((e / column_sums(e)).T)
    e = np.exp(z - _max(z, axis)[0])
    probabilities: FloatArray = e / np.sum(e, axis=axis, keepdims=True)
    return probabilities


def _sigmoid(z: FloatArray) -> FloatArray:
    """sigmoid of a float64 array (unchecked), from exp(-|z|), which never
    overflows."""
    e = np.exp(-np.abs(z))
    # z >= 0: 1 / (1 + exp(-z));  z < 0: exp(z) / (1 + exp(z)).
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def _softplus(z: FloatArray) -> FloatArray:
    """softplus of a float64 array (unchecked):
    log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def sigmoid(x: ArrayLike) -> FloatArray:
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise and without
    overflow.

    Formula: sigmoid(x) = 1 / (1 + exp(-x)) for x >= 0 and
    exp(x) / (1 + exp(x)) for x < 0; both branches use exp(-|x|) <= 1.
    Gradient: sigmoid(x) * sigmoid(-x).

    Parameters
    ----------
    x : array_like
        Finite logits, any shape.

    Returns
    -------
    ndarray, same shape as ``x``, values in [0, 1].
    """
    z, out_dtype = as_float("x", x)
    return _sigmoid(z).astype(out_dtype)


def softplus(x: ArrayLike) -> FloatArray:
    """Softplus log(1 + exp(x)), elementwise, accurate for every finite x.

    Formula: softplus(x) = max(x, 0) + log1p(exp(-|x|)). The log1p keeps
    full relative accuracy for very negative x, where softplus(x) ~ exp(x).
    Gradient: sigmoid(x).

    Parameters
    ----------
    x : array_like
        Finite values, any shape.

    Returns
    -------
    ndarray, same shape as ``x``, values >= 0.
    """
    z, out_dtype = as_float("x", x)
    return _softplus(z).astype(out_dtype)


def log_sigmoid(x: ArrayLike) -> FloatArray:
    """Logarithm of the sigmoid, elementwise:
    log(sigmoid(x)) = -softplus(-x).

    The identity avoids log(0) = -inf when sigmoid(x) underflows for very
    negative x. Likewise log(1 - sigmoid(x)) = log_sigmoid(-x). Gradient:
    sigmoid(-x).

    Parameters
    ----------
    x : array_like
        Finite logits, any shape.

    Returns
    -------
    ndarray, same shape as ``x``, values <= 0.
    """
    z, out_dtype = as_float("x", x)
    return (-_softplus(-z)).astype(out_dtype)


def xlogy(x: ArrayLike, y: ArrayLike) -> FloatArray:
    """x * log(y), with the convention 0 * log(y) = 0 (also for y = 0),
    elementwise.

    The convention is the limit that makes entropy and cross-entropy well
    defined when a probability is zero. Gradient with respect to y: x / y.

    Parameters
    ----------
    x, y : array_like
        x finite; y >= 0. Broadcast against each other as NumPy does.

    Returns
    -------
    ndarray of the broadcast shape.
    """
    a, a_dtype = as_float("x", x)
    b, b_dtype = as_float("y", y, finite=False)
    if (b < 0).any():
        raise ValueError(
            "y must be >= 0 (log of a negative number is undefined)"
        )
    with np.errstate(divide="ignore"):
        log_b = np.log(b)
    out = np.where(a == 0, 0.0, a * np.where(a == 0, 0.0, log_b))
    return out.astype(np.result_type(a_dtype, b_dtype))
