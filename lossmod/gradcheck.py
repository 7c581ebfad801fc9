"""Numerical gradients by central differences, and a check of an analytic
gradient against them.

Every gradient in the course is derived by hand, then checked here: the two
must agree to a relative error far below what a wrong derivation could
give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "GradCheck",
    "gradcheck",
    "numerical_gradient",
    "relative_error",
]


def numerical_gradient(
    func: Callable[[NDArray[np.float64]], Any],
    x: ArrayLike,
    *,
    eps: float = 1e-6,
) -> NDArray[np.float64]:
    """Central-difference gradient of a scalar function at ``x``.

    Formula, for each element j, with step h_j = eps * max(1, |x_j|)::

        df/dx_j ~ (f(x + h_j e_j) - f(x - h_j e_j)) / (2 h_j)

    The truncation error is O(h^2) and the rounding error O(u |f| / h) (u
    the unit roundoff), so eps = 1e-6 gives about 1e-10 relative accuracy
    in float64 for smooth f.

    Parameters
    ----------
    func : callable
        Maps a float64 array of the shape of ``x`` to a scalar.
    x : array_like
        The point, any shape (evaluated in float64).
    eps : float
        Relative step.

    Returns
    -------
    ndarray of float64, the shape of ``x``.
    """
    point = np.array(x, dtype=np.float64)
    grad = np.zeros_like(point)
    flat_point, flat_grad = point.reshape(-1), grad.reshape(-1)
    for j in range(flat_point.size):
        original = flat_point[j]
        step = eps * max(1.0, abs(original))
        flat_point[j] = original + step
        upper = float(func(point))
        flat_point[j] = original - step
        lower = float(func(point))
        flat_point[j] = original
        flat_grad[j] = (upper - lower) / (2 * step)
    return grad


def relative_error(a: ArrayLike, b: ArrayLike) -> float:
    """Norm-wise relative difference ||a - b|| / (||a|| + ||b||); 0 when
    both are zero."""
    a_values, b_values = (
        np.asarray(a, dtype=np.float64),
        np.asarray(b, dtype=np.float64),
    )
    scale = np.linalg.norm(a_values) + np.linalg.norm(b_values)
    return (
        0.0
        if scale == 0
        else float(np.linalg.norm(a_values - b_values) / scale)
    )


@dataclass(frozen=True)
class GradCheck:
    """The outcome of :func:`gradcheck`; true in a boolean context when it
    passed."""

    passed: bool
    relative_error: float
    analytic: NDArray[np.float64]
    numeric: NDArray[np.float64]

    def __bool__(self) -> bool:
        return self.passed


def gradcheck(
    func: Callable[[NDArray[np.float64]], Any],
    grad: Callable[[NDArray[np.float64]], ArrayLike],
    x: ArrayLike,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-6,
) -> GradCheck:
    """Compare an analytic gradient with central differences at ``x``.

    Parameters
    ----------
    func : callable
        The scalar function, e.g. ``lambda z: bce_with_logits(z, y)``.
    grad : callable
        Its claimed gradient, e.g.
        ``lambda z: bce_with_logits_grad(z, y)``, returning the shape of
        ``x``.
    x : array_like
        The point (float64).
    eps : float
        Relative step of :func:`numerical_gradient`.
    rtol : float
        The largest :func:`relative_error` that passes.

    Returns
    -------
    GradCheck
        ``passed``, ``relative_error`` and both gradients.

    Examples
    --------
    >>> import numpy as np, lossmod
    >>> y = np.array([1.0, 0.0, 1.0])
    >>> bool(lossmod.gradcheck(lambda z: lossmod.bce_with_logits(z, y),
    ...     lambda z: lossmod.bce_with_logits_grad(z, y),
    ...     np.array([0.3, -2.0, 4.0])))
    True
    """
    point = np.array(x, dtype=np.float64)
    analytic = np.asarray(grad(point.copy()), dtype=np.float64)
    if analytic.shape != point.shape:
        raise ValueError(
            f"grad returned shape {analytic.shape}; "
            f"expected the shape of x, {point.shape}"
        )
    numeric = numerical_gradient(func, point, eps=eps)
    error = relative_error(analytic, numeric)
    return GradCheck(error <= rtol, error, analytic, numeric)
