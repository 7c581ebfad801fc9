"""Exercises of the chapter "What is a loss function?"
(chapters/what-is-a-loss.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise


def objective_gradient(
    design: ArrayLike,
    target: ArrayLike,
    theta: ArrayLike,
    penalty: float = 0.0,
) -> NDArray[np.float64]:
    """Gradient of the penalised linear-regression objective
    J(theta) = mean((design @ theta - target)^2)
               + penalty * sum(theta^2).

    Parameters
    ----------
    design : array of shape (n, d)
        One example per row.
    target : array of shape (n,)
    theta : array of shape (d,)
    penalty : float, >= 0
        The weight lambda of the penalty; 0 leaves the cost alone.

    Returns
    -------
    array of shape (d,): the partial derivatives dJ / dtheta_j.
    """
    design, target, theta = (
        np.asarray(design),
        np.asarray(target),
        np.asarray(theta),
    )
    residual = design @ theta - target
    cost_gradient = 2.0 / len(target) * design.T @ residual
    return cost_gradient + 2.0 * penalty * theta


def _numerical_objective_gradient(
    design: ArrayLike,
    target: ArrayLike,
    theta: ArrayLike,
    penalty: float = 0.0,
) -> NDArray[np.float64]:
    """Central differences of lossmod.mse(design @ theta, target) plus
    penalty * lossmod.mse(theta, 0, reduction="sum"): the oracle."""
    design, target = (
        np.asarray(design, dtype=float),
        np.asarray(target, dtype=float),
    )

    def objective(t: NDArray[np.float64]) -> float:
        size = lossmod.mse(t, np.zeros_like(t), reduction="sum")
        return float(lossmod.mse(design @ t, target) + penalty * size)

    return lossmod.numerical_gradient(objective, theta)


def _hidden_line_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    tall = rng.normal(size=(40, 3))
    return (
        Case(
            "40 examples, 3 features",
            (tall, rng.normal(size=40), rng.normal(size=3)),
        ),
        Case(
            "large values",
            (1e3 * tall, rng.normal(size=40), rng.normal(size=3)),
        ),
        Case(
            "40 examples, penalty 0.3",
            (tall, rng.normal(size=40), rng.normal(size=3), 0.3),
        ),
        Case(
            "two identical columns, penalty 1e-3",
            (
                np.column_stack([tall[:, 0], tall[:, 0]]),
                rng.normal(size=40),
                rng.normal(size=2),
                1e-3,
            ),
        ),
    )


# Two features and an intercept column, four examples: neither the number
# of columns nor the number of rows is 2 (or equal to the other), so the
# checker hints a missing factor 2 (of the square) as the 2, and a sum in
# place of the mean as the number of rows.
_DESIGN = np.array(
    [[1.0, 0.0, 1.0], [2.0, 1.0, 1.0], [3.0, -1.0, 1.0], [0.0, 2.0, 1.0]]
)
_FIT = np.array([2.0, -1.0, 1.0])
_TARGET = np.array([3.0, 4.0, 8.0, -1.0])  # _DESIGN @ _FIT

EXERCISES = (
    Exercise(
        id="what-is-a-loss-4",
        task="gradient of the L2-penalised linear-regression objective",
        solution=objective_gradient,
        cases=(
            Case("at the exact fit", (_DESIGN, _TARGET, _FIT)),
            # "for any number d of features": d = 3, no intercept column
            Case(
                "four examples, three features",
                (
                    np.array(
                        [
                            [1.0, 0.5, -1.0],
                            [2.0, -1.0, 0.5],
                            [0.0, 1.0, 2.0],
                            [1.5, 2.0, -0.5],
                        ]
                    ),
                    np.array([1.0, -2.0, 0.5, 3.0]),
                    np.array([0.5, -1.0, 2.0]),
                ),
            ),
            Case("at zero", (_DESIGN, _TARGET, np.zeros(3))),
            Case(
                "one feature",
                (
                    np.array([[0.5], [-1.0], [1.5]]),
                    np.array([1.0, 2.0, -0.5]),
                    np.array([3.0]),
                ),
            ),
            # at the exact fit only the penalty pulls: 2 lambda theta, with
            # no 1 / n (the penalty is not averaged over the examples)
            Case(
                "at the exact fit, penalty 0.5",
                (_DESIGN, _TARGET, _FIT, 0.5),
            ),
            Case(
                "away from the fit, penalty 0.1",
                (_DESIGN, _TARGET, np.array([1.0, 0.5, -2.0]), 0.1),
            ),
        ),
        oracle=_numerical_objective_gradient,
        hidden=_hidden_line_cases,
        rtol=1e-6,
        atol=1e-9,
        reimplements=("mse",),
    ),
)


WRITTEN = {
    "what-is-a-loss-1": (
        "the Hessian of linear regression's MSE, and when it is singular"
    ),
    "what-is-a-loss-2": "the Hessian of the network's cost at its saddle",
    "what-is-a-loss-3": (
        "where gradient descent ends from a grid of starting points"
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
