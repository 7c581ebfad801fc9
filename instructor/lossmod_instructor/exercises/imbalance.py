"""Exercises of the chapter "Imbalance, multi-label and overlap"
(chapters/imbalance.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special  # type: ignore[import-untyped]

from lossmod_instructor.exercises import Case, Exercise, library_oracle


def focal_minimiser(
    eta: ArrayLike,
    gamma: float,
) -> NDArray[np.float64]:
    """The probability that minimises the expected focal loss.

    Labels are 1 with probability eta and 0 otherwise. The focal loss
    (gamma >= 0, no alpha weighting) of a predicted probability p is
    -(1 - p)^gamma log(p) for a label 1 and -p^gamma log(1 - p) for a
    label 0. Return, for each eta, the p in (0, 1) at which the expected
    loss over the label is smallest.

    Parameters
    ----------
    eta : array of shape (n,)
        Probabilities of the label 1, in (0, 1).
    gamma : float
        The focusing exponent, >= 0.

    Returns
    -------
    array of float64 of shape (n,): the minimising probabilities.
    """
    eta = np.asarray(eta, dtype=np.float64)
    # Slope of the expected loss in the logit z, from the derivative of
    # each label's focal loss (t = 1 and t = 0):
    #   -(1 - p)^g [(1 - p) + g p (-log p)] and
    #   p^g [p + g (1 - p) (-log(1 - p))],
    # negative below the minimiser and positive above: bisect in z.
    low = np.full(eta.shape, -50.0)
    high = np.full(eta.shape, 50.0)
    for _ in range(200):
        z = (low + high) / 2
        p, q = special.expit(z), special.expit(-z)
        nlog_p, nlog_q = np.logaddexp(0, -z), np.logaddexp(0, z)
        slope = -eta * q**gamma * (q + gamma * p * nlog_p) + (
            1 - eta
        ) * p**gamma * (p + gamma * q * nlog_q)
        low = np.where(slope < 0, z, low)
        high = np.where(slope < 0, high, z)
    result: NDArray[np.float64] = special.expit((low + high) / 2)
    return result


def undo_class_weights(
    logits: ArrayLike, weight: ArrayLike
) -> NDArray[np.float64]:
    """The calibrated probabilities behind a model trained with class
    weights.

    A softmax model was trained to the optimum of the cross-entropy with
    class weights w (each example's loss multiplied by the weight of its
    class). Given its logits, return the class probabilities that its
    outputs stand for. Finite for logits of +-1e4.

    Parameters
    ----------
    logits : array of shape (n, C)
        The trained model's logits.
    weight : array of shape (C,)
        The class weights it was trained with, all > 0.

    Returns
    -------
    array of float64 of shape (n, C): rows summing to 1.
    """
    z = np.asarray(logits, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    # the optimum outputs q_c proportional to w_c pi_c, so pi_c is
    # proportional to q_c / w_c: subtract log w_c from the logits
    shifted = z - np.log(w)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    result: NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return result


def soft_dice_loss(
    logits: ArrayLike, target: ArrayLike, smooth: float
) -> NDArray[np.float64]:
    """Soft Dice loss of each mask, accurate even for a nearly perfect
    one.

    With p = sigmoid(logits), each mask (the last axis) has the loss
    l = 1 - (2 sum p y + s) / (sum p + sum y + s), s = smooth. Return it
    with full relative accuracy: a mask predicted almost perfectly has a
    tiny loss, which must not come out as 0. Finite for logits of +-1e4.

    Parameters
    ----------
    logits : array of shape (..., P)
        Logits of the P pixels of each mask.
    target : array of the shape of logits
        Masks in {0, 1}.
    smooth : float
        The smoothing constant s >= 0 (> 0 if a mask and its prediction
        can both be empty).

    Returns
    -------
    array of float64 of shape logits.shape[:-1]: one loss per mask.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    e = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)
    one_minus_p = np.where(z >= 0, e, 1.0) / (1.0 + e)
    # 1 - D = (FP + FN) / (2 TP + FP + FN + s): no subtraction
    tp = np.sum(p * y, axis=-1)
    errors = np.sum(p * (1 - y) + one_minus_p * y, axis=-1)
    result: NDArray[np.float64] = errors / (2 * tp + errors + smooth)
    return result


def balanced_predict(
    probs: ArrayLike, priors: ArrayLike
) -> NDArray[np.int64]:
    """The decisions with the smallest balanced error.

    The balanced error is the mean over the classes of the error rate
    within each class. Given calibrated class probabilities p(c | x) and
    the class frequencies (priors), return for each example the class to
    predict so that the expected balanced error is smallest.

    Parameters
    ----------
    probs : array of shape (n, C)
        Calibrated probabilities, rows summing to 1.
    priors : array of shape (C,)
        The frequency of each class, all > 0.

    Returns
    -------
    array of int of shape (n,): the predicted classes.
    """
    p = np.asarray(probs, dtype=np.float64)
    prior = np.asarray(priors, dtype=np.float64)
    # predicting k misses every other class c, which costs p_c / pi_c
    # (an error within a class of frequency pi_c weighs 1 / pi_c):
    # the cost sum_c p_c / pi_c - p_k / pi_k is least for the largest
    # p_k / pi_k
    result: NDArray[np.int64] = np.argmax(p / prior, axis=1).astype(
        np.int64
    )
    return result


def focal_gradient(
    logits: ArrayLike, labels: ArrayLike, gamma: float
) -> NDArray[np.float64]:
    """Derivative of each element's sigmoid focal loss by its logit.

    The focal loss (no alpha weighting) of a logit z with p = sigmoid(z)
    is -(1 - p)^gamma log(p) for a label 1 and -p^gamma log(1 - p) for a
    label 0. Derive its derivative in z and compute it without inf or
    nan for logits of +-1e4.

    Parameters
    ----------
    logits : array of any shape
        Real scores z.
    labels : array of the shape of logits
        Labels in {0, 1}.
    gamma : float
        The focusing exponent, >= 0.

    Returns
    -------
    array of float64 of the shape of logits.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    # s = +1 for a label 1, -1 for a label 0: the loss is
    # f(s z) with f(u) = -(1 - sigmoid(u))^g log sigmoid(u), and
    # f'(u) = -sigmoid(-u)^g [sigmoid(-u) + g sigmoid(u) softplus(-u)]
    s = 2 * y - 1
    u = s * z
    e = np.exp(-np.abs(u))
    p_true = np.where(u >= 0, 1.0, e) / (1.0 + e)
    p_false = np.where(u >= 0, e, 1.0) / (1.0 + e)
    softplus = np.maximum(-u, 0.0) + np.log1p(e)
    bracket = p_false + gamma * p_true * softplus
    derivative = -(p_false**gamma) * bracket
    result: NDArray[np.float64] = s * derivative
    return result


# --- Oracles ---------------------------------------------------------


def _focal_minimiser_by_brent(
    eta: ArrayLike, gamma: float
) -> NDArray[np.float64]:
    """Minimise the expected focal loss on p directly (scipy's bounded
    Brent), from the loss values alone."""

    def expected(p: float, e: float) -> float:
        return float(
            e * (1 - p) ** gamma * -np.log(p)
            + (1 - e) * p**gamma * -np.log1p(-p)
        )

    out = []
    for e in np.asarray(eta, dtype=np.float64):
        # the minimiser lies between 1/2 and eta (the chapter shows it)
        low, high = sorted((0.5, float(e)))
        if high - low < 1e-15:
            out.append(0.5)
            continue
        found = optimize.minimize_scalar(
            expected,
            bounds=(low, high),
            args=(e,),
            method="bounded",
            options={"xatol": 1e-14},
        )
        out.append(found.x)
    return np.array(out)


def _undo_weights_by_ratio(
    logits: ArrayLike, weight: ArrayLike
) -> NDArray[np.float64]:
    """q = softmax(z) (scipy), then pi proportional to q / w."""
    q = special.softmax(np.asarray(logits, dtype=np.float64), axis=1)
    ratio = q / np.asarray(weight, dtype=np.float64)
    result: NDArray[np.float64] = ratio / ratio.sum(axis=1, keepdims=True)
    return result


def _balanced_by_cost(
    probs: ArrayLike, priors: ArrayLike
) -> NDArray[np.int64]:
    """For each decision k, the expected balanced error sum over c != k
    of p_c / (C pi_c), and the decision of least cost."""
    p = np.asarray(probs, dtype=np.float64)
    prior = np.asarray(priors, dtype=np.float64)
    n_classes = p.shape[1]
    wrong = 1.0 - np.eye(n_classes)  # wrong[k, c]: predicting k, truth c
    cost = (p / (n_classes * prior)) @ wrong.T
    result: NDArray[np.int64] = np.argmin(cost, axis=1).astype(np.int64)
    return result


# --- Hidden cases ----------------------------------------------------


def _hidden_minimiser_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "30 random eta, gamma 1.5", (rng.uniform(0.01, 0.99, 30), 1.5)
        ),
        Case("eta near 0 and 1, gamma 3", (np.array([1e-4, 0.9999]), 3.0)),
        Case("gamma 0.3", (rng.uniform(0.05, 0.95, 10), 0.3)),
    )


def _hidden_weight_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    z = rng.normal(0, 3, size=(12, 4))
    return (
        Case("12 x 4, random weights", (z, rng.uniform(0.2, 8.0, 4))),
        Case(
            "logits of +-1e4, 3 classes",
            (
                np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]),
                np.array([1.0, 50.0, 0.1]),
            ),
        ),
    )


def _hidden_dice_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    z = rng.normal(0, 3, size=(4, 30))
    y = (rng.uniform(size=(4, 30)) < 0.3).astype(float)
    return (
        Case("4 masks of 30 pixels", (z, y, 1.0)),
        Case("no smoothing", (z, y, 0.0)),
        Case(
            "empty masks, +-1e4",
            (
                np.array([[-1e4, -1e4, 1e4], [-1e4] * 3]),
                np.zeros((2, 3)),
                0.5,
            ),
        ),
    )


def _hidden_balanced_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    p = special.softmax(rng.normal(0, 2, size=(25, 4)), axis=1)
    return (
        Case(
            "25 x 4, skewed priors", (p, np.array([0.7, 0.2, 0.07, 0.03]))
        ),
        Case("uniform priors", (p, np.full(4, 0.25))),
    )


def _hidden_focal_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    z = rng.normal(0, 4, size=20)
    y = rng.integers(0, 2, size=20).astype(float)
    return (
        Case("20 random logits, gamma 2", (z, y, 2.0)),
        Case("gamma 0.5", (z, y, 0.5)),
        Case(
            "logits of +-1e4, gamma 5",
            (
                np.array([1e4, -1e4, 1e4, -1e4]),
                np.array([1.0, 1, 0, 0]),
                5.0,
            ),
        ),
    )


EXERCISES = (
    Exercise(
        id="imbalance-1",
        task="the probability that minimises the expected focal loss",
        solution=focal_minimiser,
        cases=(
            Case("gamma 0", (np.array([0.1, 0.6, 0.9]), 0.0)),
            Case("gamma 2", (np.array([0.6, 0.9, 0.99]), 2.0)),
            Case(
                "eta 1/2 and below it, gamma 1",
                (np.array([0.5, 0.2, 0.05]), 1.0),
            ),
            Case("gamma 5", (np.array([0.7, 0.999]), 5.0)),
        ),
        oracle=_focal_minimiser_by_brent,
        hidden=_hidden_minimiser_cases,
        rtol=1e-6,
        atol=1e-9,
    ),
    Exercise(
        id="imbalance-2",
        task="calibrated probabilities behind class-weighted logits",
        solution=undo_class_weights,
        cases=(
            Case(
                "equal weights",
                (
                    np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]]),
                    np.ones(3),
                ),
            ),
            Case(
                "two classes, weight 9 on the second",
                (
                    np.array([[0.0, 0.0], [-2.0, 1.0]]),
                    np.array([1.0, 9.0]),
                ),
            ),
            Case(
                "four classes",
                (
                    np.array(
                        [[2.0, 1.0, 0.0, -1.0], [0.3, -0.2, 1.5, 0.0]]
                    ),
                    np.array([1.0, 4.0, 0.5, 10.0]),
                ),
            ),
            Case(
                "logits of +-1e4",
                (
                    np.array([[1e4, 0.0, -1e4], [1e4, 1e4, -1e4]]),
                    np.array([2.0, 1.0, 1.0]),
                ),
            ),
        ),
        oracle=_undo_weights_by_ratio,
        hidden=_hidden_weight_cases,
        rtol=1e-9,
        atol=1e-15,
        reimplements=("softmax", "log_softmax"),
    ),
    Exercise(
        id="imbalance-3",
        task="soft Dice loss per mask, accurate for a nearly perfect mask",
        solution=soft_dice_loss,
        cases=(
            Case(
                "two masks of four pixels",
                (
                    np.array(
                        [[2.0, -1.0, 0.5, -3.0], [0.0, 1.0, -2.0, 4.0]]
                    ),
                    np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]),
                    1.0,
                ),
            ),
            Case(
                "an empty mask, smoothing 1",
                (np.array([-3.0, -1.0, 2.0]), np.zeros(3), 1.0),
            ),
            Case(
                "a nearly perfect mask, logits +-40",
                (
                    np.array([40.0, 40.0, -40.0, -40.0]),
                    np.array([1.0, 1.0, 0.0, 0.0]),
                    1.0,
                ),
            ),
            Case(
                "no smoothing, logits of +-1e4",
                (
                    np.array([1e4, -1e4, 3.0, -1e4]),
                    np.array([1.0, 1.0, 1.0, 0.0]),
                    0.0,
                ),
            ),
        ),
        oracle=library_oracle(
            lossmod.dice_loss, "smooth", reduction="none"
        ),
        hidden=_hidden_dice_cases,
        rtol=1e-9,
        atol=0.0,
        reimplements=("dice_loss", "tversky_loss"),
    ),
    Exercise(
        id="imbalance-4",
        task="the decisions that minimise the balanced error",
        solution=balanced_predict,
        cases=(
            Case(
                "two classes, prior 0.9 / 0.1",
                (
                    np.array([[0.8, 0.2], [0.95, 0.05], [0.4, 0.6]]),
                    np.array([0.9, 0.1]),
                ),
            ),
            Case(
                "three classes",
                (
                    np.array(
                        [[0.6, 0.3, 0.1], [0.5, 0.1, 0.4], [0.2, 0.7, 0.1]]
                    ),
                    np.array([0.7, 0.2, 0.1]),
                ),
            ),
            Case(
                "equal priors",
                (
                    np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]]),
                    np.full(3, 1 / 3),
                ),
            ),
        ),
        oracle=_balanced_by_cost,
        hidden=_hidden_balanced_cases,
        rtol=0.0,
        atol=0.0,
    ),
    Exercise(
        id="imbalance-5",
        task="the sigmoid focal loss's derivative, without inf or nan",
        solution=focal_gradient,
        cases=(
            Case(
                "moderate logits, gamma 2",
                (
                    np.array([-2.0, -0.5, 0.0, 0.5, 3.0]),
                    np.array([0.0, 1, 1, 0, 1]),
                    2.0,
                ),
            ),
            Case(
                "gamma 0 is binary cross-entropy's",
                (np.array([-1.0, 2.0]), np.array([1.0, 0.0]), 0.0),
            ),
            Case(
                "confident logits +-40, gamma 1",
                (
                    np.array([40.0, -40.0, 40.0, -40.0]),
                    np.array([0.0, 0, 1, 1]),
                    1.0,
                ),
            ),
            Case(
                "logits of +-1e4, gamma 2",
                (
                    np.array([1e4, -1e4, 1e4, -1e4]),
                    np.array([0.0, 0, 1, 1]),
                    2.0,
                ),
            ),
        ),
        oracle=library_oracle(
            lossmod.sigmoid_focal_loss_grad, "gamma", alpha=-1.0
        ),
        hidden=_hidden_focal_cases,
        rtol=1e-9,
        atol=1e-300,
        reimplements=("sigmoid_focal_loss", "softmax_focal_loss"),
    ),
)

WRITTEN: dict[str, str] = {}
