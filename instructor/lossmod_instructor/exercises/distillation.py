"""Exercises of the chapter "Distillation and soft targets"
(chapters/distillation.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# -------------------------------------------------------------------------
# distillation-1: the distillation loss from scratch


def distill_kl(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    temperature: float,
) -> float:
    """T^2 times the mean over the batch of KL(p_i || q_i), where
    p_i = softmax(teacher_logits[i] / T) and
    q_i = softmax(student_logits[i] / T).

    NumPy only. It must stay finite and accurate for any finite logits,
    +-1e4 included.

    Parameters
    ----------
    student_logits, teacher_logits : arrays of shape (N, C)
        Finite scores of the student and of the teacher.
    temperature : float, > 0

    Returns
    -------
    float, >= 0: the distillation loss with reduction "batchmean".
    """
    z_s = np.asarray(student_logits, dtype=float) / temperature
    z_t = np.asarray(teacher_logits, dtype=float) / temperature
    # log softmax(z) = (z - m) - log(sum exp(z - m)), m = max(z): every
    # exponent is <= 0, and no probability is formed before the log.
    z_s = z_s - z_s.max(axis=1, keepdims=True)
    z_t = z_t - z_t.max(axis=1, keepdims=True)
    log_q = z_s - np.log(np.sum(np.exp(z_s), axis=1, keepdims=True))
    log_p = z_t - np.log(np.sum(np.exp(z_t), axis=1, keepdims=True))
    kl = np.sum(np.exp(log_p) * (log_p - log_q), axis=1)
    return float(temperature**2 * np.mean(kl))


def _scipy_distill_kl(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    temperature: float,
) -> NDArray[np.float64]:
    """The oracle: scipy's log_softmax, the divergence summed by hand."""
    from scipy.special import log_softmax  # type: ignore[import-untyped]

    z_s = np.asarray(student_logits, float)
    z_t = np.asarray(teacher_logits, float)
    log_q = log_softmax(z_s / temperature, axis=1)
    log_p = log_softmax(z_t / temperature, axis=1)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(axis=1)
    return np.asarray(temperature**2 * kl.mean())


def _logits(
    rng: np.random.Generator, n: int, c: int, scale: float
) -> NDArray[np.float64]:
    return scale * rng.standard_normal((n, c))


def _hidden_value_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "a 5x4 batch, T = 3",
            (_logits(rng, 5, 4, 2), _logits(rng, 5, 4, 2), 3.0),
        ),
        Case(
            "T = 0.5 (sharper)",
            (_logits(rng, 4, 6, 2), _logits(rng, 4, 6, 2), 0.5),
        ),
        Case(
            "T = 100",
            (_logits(rng, 3, 5, 5), _logits(rng, 3, 5, 5), 100.0),
        ),
        Case(
            "logits of 1e4, T = 1",
            (_logits(rng, 4, 5, 1e4), _logits(rng, 4, 5, 1e4), 1.0),
        ),
        Case(
            "1000 classes",
            (_logits(rng, 2, 1000, 3), _logits(rng, 2, 1000, 3), 4.0),
        ),
        Case(
            "batch of one",
            (_logits(rng, 1, 3, 1), _logits(rng, 1, 3, 1), 2.0),
        ),
    )


# -------------------------------------------------------------------------
# distillation-2: its gradient in the student's logits


def distill_grad(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    temperature: float,
) -> NDArray[np.float64]:
    """The gradient of distill_kl with respect to student_logits.

    Derive it first (chain rule through z / T and the softmax), then
    write it with NumPy only; it must stay finite for logits of +-1e4.

    Parameters
    ----------
    student_logits, teacher_logits : arrays of shape (N, C)
    temperature : float, > 0

    Returns
    -------
    array of shape (N, C): d distill_kl / d student_logits.
    """
    z_s = np.asarray(student_logits, dtype=float) / temperature
    z_t = np.asarray(teacher_logits, dtype=float) / temperature
    # softmax with the maximum subtracted: no overflow
    e_s = np.exp(z_s - z_s.max(axis=1, keepdims=True))
    e_t = np.exp(z_t - z_t.max(axis=1, keepdims=True))
    q = e_s / e_s.sum(axis=1, keepdims=True)
    p = e_t / e_t.sum(axis=1, keepdims=True)
    # T^2 * (1 / T) * (q - p), divided by the batch size (batchmean)
    return temperature * (q - p) / len(q)


def _numerical_distill_grad(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    temperature: float,
) -> NDArray[np.float64]:
    """The oracle: central differences of the scipy value (oracle 1)."""
    z_t = np.asarray(teacher_logits, float)
    return lossmod.numerical_gradient(
        lambda z: float(_scipy_distill_kl(z, z_t, temperature)),
        np.asarray(student_logits, float),
    )


def _hidden_grad_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "a 5x4 batch, T = 3",
            (_logits(rng, 5, 4, 2), _logits(rng, 5, 4, 2), 3.0),
        ),
        Case(
            "T = 0.5", (_logits(rng, 4, 6, 2), _logits(rng, 4, 6, 2), 0.5)
        ),
        Case(
            "T = 50", (_logits(rng, 3, 5, 5), _logits(rng, 3, 5, 5), 50.0)
        ),
        Case(
            "logits of 30, T = 1",
            (_logits(rng, 3, 4, 30), _logits(rng, 3, 4, 30), 1.0),
        ),
        Case(
            "200 classes",
            (_logits(rng, 2, 200, 3), _logits(rng, 2, 200, 3), 4.0),
        ),
    )


# -------------------------------------------------------------------------
# distillation-3: the high-temperature limit, for logits of any mean


def high_temperature_limit(
    student_logits: ArrayLike, teacher_logits: ArrayLike
) -> NDArray[np.float64]:
    """The limit, as the temperature T grows without bound, of
    distill_grad(student_logits, teacher_logits, T).

    The logits need not have zero mean over the classes: derive the
    limit for any finite logits (hint: expand exp(z / T) to first order
    in 1 / T).

    Parameters
    ----------
    student_logits, teacher_logits : arrays of shape (N, C)

    Returns
    -------
    array of shape (N, C): the limiting gradient.
    """
    z_s = np.asarray(student_logits, dtype=float)
    z_t = np.asarray(teacher_logits, dtype=float)
    n, c = z_s.shape
    # softmax ignores a constant added to a row: only the centred logits
    # survive in the limit.
    centred_s = z_s - z_s.mean(axis=1, keepdims=True)
    centred_t = z_t - z_t.mean(axis=1, keepdims=True)
    return (centred_s - centred_t) / (c * n)


def _extrapolated_limit(
    student_logits: ArrayLike, teacher_logits: ArrayLike
) -> NDArray[np.float64]:
    """The oracle: lossmod's gradient at T = 1e5 and 2e5, Richardson
    extrapolated (the error of T (q - p) is a series in 1 / T)."""
    z_s = np.asarray(student_logits, float)
    z_t = np.asarray(teacher_logits, float)

    def at(temperature: float) -> NDArray[np.float64]:
        return np.asarray(
            lossmod.distillation_loss_grad(
                z_s, z_t, temperature=temperature
            ),
            dtype=np.float64,
        )

    return 2.0 * at(2e5) - at(1e5)


def _hidden_limit_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    offset = rng.normal(size=(4, 1)) * 10
    return (
        Case(
            "a 5x4 batch", (_logits(rng, 5, 4, 2), _logits(rng, 5, 4, 2))
        ),
        Case(
            "rows shifted by constants",
            (
                _logits(rng, 4, 3, 1) + offset,
                _logits(rng, 4, 3, 1) - offset,
            ),
        ),
        Case(
            "50 classes", (_logits(rng, 2, 50, 1), _logits(rng, 2, 50, 1))
        ),
        Case("equal up to a shift", (np.arange(8.0).reshape(2, 4),) * 2),
    )


# -------------------------------------------------------------------------
# distillation-4: the soft targets of a label-smoothed teacher


def smoothed_teacher_targets(
    n_classes: int, epsilon: float, temperature: float
) -> NDArray[np.float64]:
    """The soft targets at temperature T of a teacher trained with label
    smoothing epsilon, on an example of class 0.

    Assume the teacher reached the optimum of its training loss on this
    example: its probabilities are the smoothed target
    (1 - epsilon) onehot(0) + epsilon / C. Find logits that give them,
    and soften those logits by T.

    Parameters
    ----------
    n_classes : int, C >= 2
    epsilon : float in [0, 1]
    temperature : float, > 0

    Returns
    -------
    array of shape (C,): the teacher's distribution at temperature T.
    """
    c = n_classes
    q = np.full(c, epsilon / c)
    q[0] += 1.0 - epsilon
    if epsilon == 0:
        # a one-hot teacher: an infinite logit gap at any temperature
        return q
    # logits log q (up to a constant), softened: q^(1/T), normalised
    log_soft = np.log(q) / temperature
    soft = np.exp(log_soft - log_soft.max())
    return soft / soft.sum()


def _softmax_of_log(
    n_classes: int, epsilon: float, temperature: float
) -> NDArray[np.float64]:
    """The oracle: scipy's softmax of log q / T, with log 0 = -inf."""
    from scipy.special import softmax

    q = np.full(n_classes, epsilon / n_classes)
    q[0] += 1.0 - epsilon
    with np.errstate(divide="ignore"):
        return np.asarray(softmax(np.log(q) / temperature))


def _hidden_smoothed_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case("C = 100, epsilon = 0.1, T = 2", (100, 0.1, 2.0)),
        Case("epsilon = 0.01, T = 20", (10, 0.01, 20.0)),
        Case("T = 0.25", (5, 0.2, 0.25)),
        Case("two classes", (2, 0.3, 3.0)),
        Case("a random epsilon", (7, float(rng.uniform(0.05, 0.5)), 4.0)),
        Case("epsilon = 0, C = 20", (20, 0.0, 10.0)),
    )


# -------------------------------------------------------------------------
# distillation-5: the bias correction for the unseen class


def flip_shifts(logits: ArrayLike, omitted: int) -> NDArray[np.float64]:
    """For each example, how far the omitted class's logit must be
    raised before the model predicts the omitted class.

    Adding b to column ``omitted`` of every row is the bias correction
    of a class the student never saw. Return, for each row i, the
    smallest b_i >= 0 such that for every shift b > b_i the omitted
    class has the largest logit of row i, strictly.

    Parameters
    ----------
    logits : array of shape (N, C)
    omitted : int, the omitted class, 0 <= omitted < C

    Returns
    -------
    array of shape (N,): b_i >= 0 for each row.
    """
    z = np.asarray(logits, dtype=float)
    others = np.delete(z, omitted, axis=1)
    # the gap to the best other class, or 0 if the class already wins
    return np.maximum(others.max(axis=1) - z[:, omitted], 0.0)


def _bisected_shifts(
    logits: ArrayLike, omitted: int
) -> NDArray[np.float64]:
    """The oracle: bisection on the shift, with np.argmax as the judge."""
    z = np.asarray(logits, dtype=float)

    def wins(row: NDArray[np.float64], b: float) -> bool:
        shifted = row.copy()
        shifted[omitted] += b
        top = shifted.max()
        return bool(
            shifted[omitted] == top and np.sum(shifted == top) == 1
        )

    result = []
    for row in z:
        low, high = 0.0, float(np.ptp(row)) + 1.0
        if wins(row, 0.0):
            result.append(0.0)
            continue
        for _ in range(200):
            middle = 0.5 * (low + high)
            if wins(row, middle):
                high = middle
            else:
                low = middle
            if high - low <= 1e-14 * max(1.0, high):
                break
        result.append(high)
    return np.asarray(result)


def _hidden_shift_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    ties = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    return (
        Case("a 6x10 batch, class 3", (_logits(rng, 6, 10, 3), 3)),
        Case("logits of 1e3", (_logits(rng, 4, 5, 1e3), 0)),
        Case("the last class", (_logits(rng, 5, 4, 2), 3)),
        Case("ties with the omitted class", (ties, 1)),
        Case("one row", (_logits(rng, 1, 6, 1), 2)),
    )


_STUDENT = np.array([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
_TEACHER = np.array([[1.0, 1.5, -2.0], [0.5, 0.0, 2.0]])
_HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]])
_CENTRED = _STUDENT - _STUDENT.mean(axis=1, keepdims=True)

EXERCISES = (
    Exercise(
        id="distillation-1",
        task="T^2 KL(teacher || student) at temperature T, batchmean",
        solution=distill_kl,
        cases=(
            Case("two rows, T = 1", (_STUDENT, _TEACHER, 1.0)),
            Case("two rows, T = 4", (_STUDENT, _TEACHER, 4.0)),
            Case(
                "student = teacher + 5 (zero)",
                (_TEACHER + 5.0, _TEACHER, 2.0),
            ),
            Case(
                "logits of +-1e4, T = 2", (_HUGE, _HUGE[::-1].copy(), 2.0)
            ),
        ),
        oracle=_scipy_distill_kl,
        hidden=_hidden_value_cases,
        rtol=1e-9,
        atol=1e-10,
        reimplements=(
            "distillation_loss",
            "kl_div",
            "log_softmax",
            "logsumexp",
        ),
    ),
    Exercise(
        id="distillation-2",
        task="the gradient of distill_kl in the student's logits",
        solution=distill_grad,
        cases=(
            Case("two rows, T = 1", (_STUDENT, _TEACHER, 1.0)),
            Case("two rows, T = 4", (_STUDENT, _TEACHER, 4.0)),
            Case(
                "three rows, T = 0.5",
                (
                    np.vstack([_STUDENT, _TEACHER[:1]]),
                    np.vstack([_TEACHER, _STUDENT[:1]]),
                    0.5,
                ),
            ),
        ),
        oracle=_numerical_distill_grad,
        hidden=_hidden_grad_cases,
        rtol=1e-6,
        atol=1e-8,
        reimplements=("distillation_loss_grad", "softmax"),
    ),
    Exercise(
        id="distillation-3",
        task="the gradient's limit as T grows, logits of any mean",
        solution=high_temperature_limit,
        cases=(
            Case(
                "zero-mean logits",
                (
                    _CENTRED,
                    _TEACHER - _TEACHER.mean(axis=1, keepdims=True),
                ),
            ),
            Case("logits of any mean", (_STUDENT, _TEACHER)),
            Case(
                "four classes",
                (np.array([[3.0, 0.0, 1.0, -1.0]]), np.zeros((1, 4))),
            ),
        ),
        oracle=_extrapolated_limit,
        hidden=_hidden_limit_cases,
        rtol=1e-6,
        atol=1e-8,
        reimplements=("distillation_loss_grad",),
    ),
    Exercise(
        id="distillation-4",
        task="soft targets at temperature T of a label-smoothed teacher",
        solution=smoothed_teacher_targets,
        cases=(
            Case("T = 1: the smoothed target itself", (10, 0.1, 1.0)),
            Case("C = 10, epsilon = 0.1, T = 4", (10, 0.1, 4.0)),
            Case("epsilon = 1: uniform", (5, 1.0, 2.0)),
            Case("epsilon = 0: one-hot at any T", (3, 0.0, 5.0)),
        ),
        oracle=_softmax_of_log,
        hidden=_hidden_smoothed_cases,
        rtol=1e-9,
        atol=1e-12,
    ),
    Exercise(
        id="distillation-5",
        task="the shift at which each example flips to the omitted class",
        solution=flip_shifts,
        cases=(
            Case("two rows, class 1", (_STUDENT, 1)),
            Case(
                "already predicted: zero",
                (np.array([[0.0, 5.0, 1.0], [1.0, 3.0, 2.5]]), 1),
            ),
            Case("the first class", (_TEACHER, 0)),
        ),
        oracle=_bisected_shifts,
        hidden=_hidden_shift_cases,
        rtol=1e-9,
        atol=1e-9,
    ),
)


WRITTEN = {
    "distillation-6": (
        'the "mean" reduction: which learning rate undoes it'
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
