"""Penalties and composite objectives: the L2 and L1 penalties on the
weights, the soft-thresholding operator (the L1 penalty's proximal
operator), and Kendall's uncertainty-weighted sum of task losses.

These are not losses of a (prediction, target) pair: a penalty is a
function of the parameters, added to the data loss; the uncertainty
weighting combines losses already computed. So they take no
``reduction`` and are not in the registry ``LOSSES``.

Explained in the chapter "Composite objectives"
(chapters/composite.ipynb).
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod._checks import as_float

__all__ = [
    "l1_penalty",
    "l1_penalty_grad",
    "l2_penalty",
    "l2_penalty_grad",
    "soft_threshold",
    "uncertainty_weighted_loss",
    "uncertainty_weighted_loss_grad",
]

Array = NDArray[np.float64]


def _strength(strength: float) -> float:
    if not (
        isinstance(strength, numbers.Real)
        and np.isfinite(strength)
        and strength >= 0
    ):
        raise ValueError(
            f"strength must be a finite number >= 0; got {strength!r}"
        )
    return float(strength)


# --- L2 and L1 penalties -------------------------------------------------


def l2_penalty(weights: ArrayLike, *, strength: float) -> float:
    """The L2 penalty (weight decay, ridge) of an array of weights.

    Formula, with lambda = strength::

        R(w) = (lambda / 2) * sum_j w_j^2

    Gradient: lambda * w, so that gradient descent on loss + R shrinks
    every weight by the factor (1 - lr * lambda) before the loss's step:
    the ``weight_decay`` of ``torch.optim.SGD`` and ``Adam``.

    scikit-learn's ``Ridge(alpha)`` minimises ||y - X w||^2 +
    alpha ||w||^2 (a sum, no 1/2): dividing by n, that is
    ``mse`` + ``l2_penalty(w, strength=2 * alpha / n)``.

    Parameters
    ----------
    weights : array_like, any shape
        The penalised parameters (not the intercept), finite.
    strength : float
        lambda >= 0.

    Returns
    -------
    float: R(w) >= 0.

    Explained in chapters/composite.ipynb. Reference: Hoerl and Kennard
    (1970), "Ridge regression: biased estimation for nonorthogonal
    problems".
    """
    lam = _strength(strength)
    w, _ = as_float("weights", weights)
    return 0.5 * lam * float(np.sum(w * w))


def l2_penalty_grad(weights: ArrayLike, *, strength: float) -> Array:
    """Gradient of :func:`l2_penalty`: strength * w, of the weights'
    shape (float64)."""
    lam = _strength(strength)
    w, _ = as_float("weights", weights)
    return lam * w


def l1_penalty(weights: ArrayLike, *, strength: float) -> float:
    """The L1 penalty (lasso) of an array of weights.

    Formula, with lambda = strength::

        R(w) = lambda * sum_j |w_j|

    It has a kink at every w_j = 0, which is why its minimisers have
    exact zeros: minimise it with its proximal operator
    :func:`soft_threshold`, not with its gradient.

    scikit-learn's ``Lasso(alpha)`` minimises (1 / (2 n)) ||y - X w||^2
    + alpha ||w||_1: that is ``mse / 2`` + ``l1_penalty(w,
    strength=alpha)``.

    Parameters
    ----------
    weights : array_like, any shape
        The penalised parameters, finite.
    strength : float
        lambda >= 0.

    Returns
    -------
    float: R(w) >= 0.

    Explained in chapters/composite.ipynb. Reference: Tibshirani (1996),
    "Regression shrinkage and selection via the lasso".
    """
    lam = _strength(strength)
    w, _ = as_float("weights", weights)
    return lam * float(np.sum(np.abs(w)))


def l1_penalty_grad(weights: ArrayLike, *, strength: float) -> Array:
    """Gradient of :func:`l1_penalty` where it exists: strength *
    sign(w); at w_j = 0, 0 (a subgradient: any value in [-lambda,
    lambda] is one). Gradient descent with it oscillates around zero
    instead of reaching it; use :func:`soft_threshold`."""
    lam = _strength(strength)
    w, _ = as_float("weights", weights)
    return lam * np.sign(w)


def soft_threshold(x: ArrayLike, threshold: ArrayLike) -> Array:
    """The soft-thresholding operator, the proximal operator of t ||.||_1.

    Formula, elementwise, with t = threshold::

        S_t(x) = sign(x) * max(|x| - t, 0)
               = argmin_z (1/2) (z - x)^2 + t |z|

    Values within t of zero become exactly 0; the others move t towards
    zero. One step of proximal gradient descent (ISTA) on
    f(w) + lambda ||w||_1 with step size eta is
    ``soft_threshold(w - eta * grad_f(w), eta * lambda)``.

    Parameters
    ----------
    x : array_like, any shape
        Finite values.
    threshold : float or array_like
        t >= 0, a scalar or an array of the shape of ``x`` (one
        threshold per element).

    Returns
    -------
    ndarray of float64, the shape of ``x``.

    Explained in chapters/composite.ipynb. Reference: Beck and Teboulle
    (2009), "A fast iterative shrinkage-thresholding algorithm for
    linear inverse problems".
    """
    values, _ = as_float("x", x)
    t, _ = as_float("threshold", threshold)
    if t.ndim and t.shape != values.shape:
        raise ValueError(
            f"threshold has shape {t.shape} but x has shape "
            f"{values.shape}: it must be a scalar or x's shape"
        )
    if (t < 0).any():
        raise ValueError(f"threshold must be >= 0; got {float(np.min(t))}")
    return np.sign(values) * np.maximum(np.abs(values) - t, 0.0)


# --- Uncertainty-weighted multi-task loss --------------------------------


def _tasks(
    task_losses: ArrayLike, log_variances: ArrayLike
) -> tuple[Array, Array]:
    losses, _ = as_float("task_losses", task_losses)
    s, _ = as_float("log_variances", log_variances)
    if losses.ndim != 1 or s.shape != losses.shape:
        raise ValueError(
            f"task_losses has shape {losses.shape} and log_variances "
            f"shape {s.shape}: they must be one-dimensional, one entry "
            "per task, of the same length"
        )
    if (losses < 0).any():
        index = int(np.argmax(losses < 0))
        raise ValueError(
            f"task_losses must be >= 0; got {float(losses[index])} "
            f"at index {index}"
        )
    return losses, s


def uncertainty_weighted_loss(
    task_losses: ArrayLike, log_variances: ArrayLike
) -> float:
    """Kendall, Gal and Cipolla's multi-task total, with a learned
    variance per task.

    Formula, for task losses L_i and log-variances s_i = log sigma_i^2::

        total = sum_i [ exp(-s_i) L_i / 2 + s_i / 2 ]
              = sum_i [ L_i / (2 sigma_i^2) + log sigma_i ]

    Parameterised by s = log sigma^2 (not sigma) for stability: s ranges
    over all reals, sigma^2 = exp(s) stays positive without a constraint,
    and the weight exp(-s) / 2 never divides by zero.

    Gradients::

        d total / d L_i = exp(-s_i) / 2           (the task's weight)
        d total / d s_i = (1 - exp(-s_i) L_i) / 2

    The second is zero at s_i = log L_i (sigma_i^2 = L_i), where the
    task contributes (1 + log L_i) / 2: negative when L_i < 1/e, and
    unbounded below as L_i -> 0.

    Parameters
    ----------
    task_losses : array_like of shape (T,)
        One loss per task, >= 0 (e.g. each task's mean squared error).
    log_variances : array_like of shape (T,)
        s_i = log sigma_i^2, finite.

    Returns
    -------
    float: the total (may be negative).

    Explained in chapters/composite.ipynb. Reference: Kendall, Gal and
    Cipolla (2018), "Multi-task learning using uncertainty to weigh
    losses for scene geometry and semantics".
    """
    losses, s = _tasks(task_losses, log_variances)
    return float(np.sum(0.5 * np.exp(-s) * losses + 0.5 * s))


def uncertainty_weighted_loss_grad(
    task_losses: ArrayLike, log_variances: ArrayLike
) -> tuple[Array, Array]:
    """Gradient of :func:`uncertainty_weighted_loss` in both arguments,
    as a pair ``(d_task_losses, d_log_variances)``: exp(-s) / 2 and
    (1 - exp(-s) L) / 2, each of shape (T,).

    Both arguments are trained (the task losses through the network,
    the log-variances directly), so both gradients are returned; the
    first is each task's weight in the chain rule."""
    losses, s = _tasks(task_losses, log_variances)
    weight = 0.5 * np.exp(-s)
    return weight, 0.5 - weight * losses
