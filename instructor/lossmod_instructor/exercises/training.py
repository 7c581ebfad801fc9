"""Exercises of the chapter "Training a model with a loss"
(chapters/training.ipynb)."""

from __future__ import annotations

import lossmod
import numpy as np
from lossmod import optim
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# --- training-1: one gradient-descent step for weighted least squares --


def sgd_step(
    design: ArrayLike,
    target: ArrayLike,
    theta: ArrayLike,
    learning_rate: float,
    weights: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """One gradient-descent step on the weighted mean squared error.

    The cost is

        L(theta) = sum_i s_i (design[i] @ theta - target[i])^2
                   / sum_i s_i

    with s = weights (all ones when weights is None: the plain mean).
    Derive its gradient with respect to theta in matrix form, then step
    against it.

    Parameters
    ----------
    design : array of shape (n, d)
        One example per row (a column of ones gives the intercept).
    target : array of shape (n,)
    theta : array of shape (d,)
        The current parameters.
    learning_rate : float
        The step size eta > 0.
    weights : array of shape (n,), optional
        The example weights s_i >= 0, not all zero; None means all ones.

    Returns
    -------
    array of shape (d,): theta - eta * (the gradient of L at theta).
    """
    design = np.asarray(design, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    s = (
        np.ones(len(target))
        if weights is None
        else np.asarray(weights, dtype=np.float64)
    )
    residual = design @ theta - target
    gradient = 2.0 * design.T @ (s * residual) / s.sum()
    return theta - learning_rate * gradient


def _sgd_step_oracle(
    design: ArrayLike,
    target: ArrayLike,
    theta: ArrayLike,
    learning_rate: float,
    weights: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """lossmod.optim.SGD with the central-difference gradient of the
    weighted mean of lossmod.mse's per-example terms."""
    design, target = (
        np.asarray(design, dtype=float),
        np.asarray(target, dtype=float),
    )
    s = np.ones(len(target)) if weights is None else np.asarray(weights)

    def cost(t: NDArray[np.float64]) -> float:
        terms = lossmod.mse(design @ t, target, reduction="none")
        return float(np.sum(s * terms) / np.sum(s))

    params = np.array(theta, dtype=float)
    gradient = lossmod.numerical_gradient(cost, params)
    optim.SGD(lr=learning_rate).step([params], [gradient])
    return params


def _sgd_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    design = np.column_stack([rng.normal(size=(30, 3)), np.ones(30)])
    return (
        Case(
            "30 examples, intercept column",
            (design, rng.normal(size=30), rng.normal(size=4), 0.05),
        ),
        Case(
            "large targets",
            (design, 1e3 * rng.normal(size=30), np.zeros(4), 0.1),
        ),
        Case(
            "already at the least-squares fit",
            (
                design,
                design @ [1.0, 2.0, 3.0, 4.0],
                np.array([1.0, 2.0, 3.0, 4.0]),
                0.3,
            ),
        ),
        Case(
            "30 examples, random weights",
            (
                design,
                rng.normal(size=30),
                rng.normal(size=4),
                0.05,
                rng.random(30),
            ),
        ),
        Case(
            "weights of 1e6 and 1e-6",
            (
                design,
                rng.normal(size=30),
                np.zeros(4),
                0.1,
                np.where(np.arange(30) < 15, 1e6, 1e-6),
            ),
        ),
        Case(
            "one example",
            (
                np.array([[2.0, 1.0]]),
                np.array([1.0]),
                np.array([0.5, -0.5]),
                0.2,
            ),
        ),
    )


# --- training-2: the backward pass of a dense layer ----------------------


def dense_backward(
    x: ArrayLike, weight: ArrayLike, grad_out: ArrayLike, wrt: str
) -> NDArray[np.float64]:
    """Backward pass of the dense layer out = x @ weight + bias.

    Given G = dL/d(out), the gradient of a scalar loss L with respect
    to the layer's output, return the gradient of L with respect to one
    of x, weight or bias (the bias itself does not enter the result, so
    it is not an argument).

    Parameters
    ----------
    x : array of shape (N, d_in)
        The layer's input batch.
    weight : array of shape (d_in, d_out)
    grad_out : array of shape (N, d_out)
        dL/d(out).
    wrt : {"x", "weight", "bias"}
        Which gradient to return.

    Returns
    -------
    array: dL/dx of shape (N, d_in), dL/dweight of shape (d_in, d_out) or
    dL/dbias of shape (d_out,).
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    grad_out = np.asarray(grad_out, dtype=np.float64)
    if wrt == "x":
        return grad_out @ weight.T
    if wrt == "weight":
        return x.T @ grad_out
    if wrt == "bias":
        return grad_out.sum(axis=0)
    raise ValueError(f"wrt must be 'x', 'weight' or 'bias'; got {wrt!r}")


def _dense_backward_oracle(
    x: ArrayLike, weight: ArrayLike, grad_out: ArrayLike, wrt: str
) -> NDArray[np.float64]:
    """Central differences of L = sum(grad_out * (x @ weight + bias)) with
    respect to ``wrt``."""
    values = {
        "x": np.asarray(x, dtype=float),
        "weight": np.asarray(weight, dtype=float),
        "bias": np.zeros(np.shape(weight)[1]),
    }
    g = np.asarray(grad_out, dtype=float)

    def loss(point: NDArray[np.float64]) -> float:
        arguments = {**values, wrt: point}
        return float(
            np.sum(
                g
                * (
                    arguments["x"] @ arguments["weight"]
                    + arguments["bias"]
                )
            )
        )

    return lossmod.numerical_gradient(loss, values[wrt])


def _dense_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    x, weight, grad = (
        rng.normal(size=(16, 5)),
        rng.normal(size=(5, 3)),
        rng.normal(size=(16, 3)),
    )
    per_argument = [
        Case(f"16 x 5 -> 3, d/d{wrt}", (x, weight, grad, wrt))
        for wrt in ("x", "weight", "bias")
    ]
    return (
        *per_argument,
        Case(
            "one example, d/dweight", (x[:1], weight, grad[:1], "weight")
        ),
        Case("large inputs, d/dx", (1e3 * x, weight, grad, "x")),
        Case(
            "one output unit, d/dbias",
            (x, weight[:, :1], grad[:, :1], "bias"),
        ),
    )


# --- training-3: Adam ----------------------------------------------------


def adam_steps(
    start: ArrayLike,
    grads: ArrayLike,
    lr: float = 0.001,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> NDArray[np.float64]:
    """The parameters after Adam steps, one step per row of grads.

    With m = v = 0 at the start, at step t = 1, ..., T with
    g = grads[t-1]:

        m = beta1 m + (1 - beta1) g
        v = beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^t)
        v_hat = v / (1 - beta2^t)
        theta = theta - lr m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    start : array of shape (d,)
        The parameters before the first step.
    grads : array of shape (T, d)
        The gradient used at each step (given, not computed from a loss).
    lr, beta1, beta2, eps : float
        Adam's hyperparameters.

    Returns
    -------
    array of shape (d,): the parameters after T steps.
    """
    theta = np.array(start, dtype=np.float64)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(np.asarray(grads, dtype=np.float64), start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def _adam_oracle(
    start: ArrayLike,
    grads: ArrayLike,
    lr: float = 0.001,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> NDArray[np.float64]:
    """lossmod.optim.Adam, stepped once per row of grads."""
    params = np.array(start, dtype=float)
    optimizer = optim.Adam(lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    for g in np.asarray(grads, dtype=float):
        optimizer.step([params], [g])
    return params


def _adam_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "200 random steps",
            (rng.normal(size=4), rng.normal(size=(200, 4))),
            {"lr": 0.01},
        ),
        Case(
            "tiny gradients, eps matters",
            (np.zeros(3), np.full((5, 3), 1e-9)),
            {"lr": 0.1},
        ),
        Case(
            "huge gradients",
            (np.ones(2), 1e8 * rng.normal(size=(10, 2))),
            {"lr": 0.5},
        ),
        Case(
            "zero gradients", (np.array([1.0, -1.0]), np.zeros((3, 2))), {}
        ),
        Case(
            "signs alternate",
            (np.zeros(1), np.array([[1.0], [-1.0]] * 10)),
            {"beta1": 0.5},
        ),
        Case(
            "beta2 = 0 (RMS of the last gradient only)",
            (np.zeros(2), rng.normal(size=(20, 2))),
            {"beta2": 0.0, "lr": 0.1},
        ),
    )


# --- training-4: the largest stable learning rate, with a penalty --------


def largest_stable_learning_rate(
    design: ArrayLike, penalty: float
) -> float:
    """The learning rate above which gradient descent diverges on the
    penalised cost mean((design @ theta - y)^2) + penalty * sum(theta^2),
    whatever the target y.

    Below it, full-batch gradient descent with a fixed learning rate
    converges from every start; above it, it diverges from almost every
    start.

    Parameters
    ----------
    design : array of shape (n, d)
        One example per row, not all zero.
    penalty : float, >= 0
        The weight lambda of the penalty, on every entry of theta; 0
        leaves the cost alone.

    Returns
    -------
    float > 0: the threshold learning rate.
    """
    design = np.asarray(design, dtype=np.float64)
    # the penalty adds 2 lambda I to the cost's Hessian 2/n A^T A
    hessian = 2.0 / len(design) * design.T @ design
    hessian += 2.0 * penalty * np.eye(design.shape[1])
    return float(2.0 / np.linalg.eigvalsh(hessian)[-1])


def _stable_rate_oracle(design: ArrayLike, penalty: float) -> float:
    """2 / sigma_max^2 of the penalised cost written as plain least
    squares, rows sqrt(2/n) A above sqrt(2 lambda) I (the same Hessian),
    from scipy's singular values."""
    from scipy.linalg import svdvals  # type: ignore[import-untyped]

    values = np.asarray(design, dtype=float)
    stacked = np.vstack(
        [
            np.sqrt(2.0 / len(values)) * values,
            np.sqrt(2.0 * penalty) * np.eye(values.shape[1]),
        ]
    )
    return float(2.0 / svdvals(stacked)[0] ** 2)


def _stable_rate_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    x = rng.normal(size=(50, 3))
    return (
        Case(
            "50 x 3 with an intercept, penalty 0.3",
            (np.column_stack([x, np.ones(50)]), 0.3),
        ),
        Case(
            "two identical columns, penalty 1e-3",
            (np.column_stack([x[:, 0], x[:, 0]]), 1e-3),
        ),
        Case("unscaled features (x 1000), penalty 10", (1e3 * x, 10.0)),
        Case("one column, no penalty", (x[:, :1], 0.0)),
        Case("a large penalty, 100", (x, 100.0)),
    )


# Two features and an intercept column, four examples: neither the number
# of columns nor the number of rows is 2 (or equal to the other), so the
# checker hints a missing factor 2 (of the square, or of the Hessian's
# 2 / n) as the 2, and a sum in place of the mean as the number of rows.
_DESIGN = np.array(
    [[1.0, 0.0, 1.0], [2.0, 1.0, 1.0], [3.0, -1.0, 1.0], [0.0, 2.0, 1.0]]
)
_FIT = np.array([2.0, -1.0, 1.0])
_TARGET = np.array([3.0, 4.0, 8.0, -1.0])  # _DESIGN @ _FIT
_GRAD_OUT = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, -1.0, 3.0]])

EXERCISES = (
    Exercise(
        id="training-1",
        task="one gradient-descent step for weighted least squares",
        solution=sgd_step,
        cases=(
            Case("from zero", (_DESIGN, _TARGET, np.zeros(3), 0.1)),
            Case("at the exact fit", (_DESIGN, _TARGET, _FIT, 0.1)),
            Case(
                "one feature",
                (
                    np.array([[0.5], [-1.0], [1.5]]),
                    np.array([1.0, 2.0, -0.5]),
                    np.array([3.0]),
                    0.5,
                ),
            ),
            # weights that do not sum to n: divide by their sum, not by n
            Case(
                "weights 1, 2, 3, 4",
                (
                    _DESIGN,
                    _TARGET,
                    np.zeros(3),
                    0.1,
                    np.array([1.0, 2.0, 3.0, 4.0]),
                ),
            ),
            Case(
                "a zero weight drops the last example",
                (
                    _DESIGN,
                    np.array([3.0, 4.0, 8.0, 0.0]),
                    np.zeros(3),
                    0.1,
                    np.array([1.0, 1.0, 1.0, 0.0]),
                ),
            ),
            Case(
                "equal weights of 10: the plain mean",
                (_DESIGN, _TARGET, np.zeros(3), 0.1, np.full(4, 10.0)),
            ),
        ),
        oracle=_sgd_step_oracle,
        hidden=_sgd_hidden,
        rtol=1e-6,
        atol=1e-8,
        reimplements=("mse",),
    ),
    Exercise(
        id="training-2",
        task="the backward pass of a dense layer",
        solution=dense_backward,
        cases=(
            Case(
                "d/dx",
                (
                    np.array([[1.0, 3.0], [2.0, 0.0]]),
                    np.array([[2.0], [-1.0]]),
                    np.array([[1.0], [-2.0]]),
                    "x",
                ),
            ),
            Case(
                "d/dweight",
                (
                    np.array([[1.0, 3.0], [2.0, 0.0]]),
                    np.array([[2.0], [-1.0]]),
                    np.array([[1.0], [-2.0]]),
                    "weight",
                ),
            ),
            Case(
                "d/dbias",
                (
                    np.array([[1.0, 3.0], [2.0, 0.0]]),
                    np.array([[2.0], [-1.0]]),
                    np.array([[1.0], [-2.0]]),
                    "bias",
                ),
            ),
            Case(
                "3 examples, 2 -> 3, d/dweight",
                (
                    np.arange(6.0).reshape(3, 2),
                    np.arange(6.0).reshape(2, 3) - 2,
                    np.ones((3, 3)),
                    "weight",
                ),
            ),
            # more than one output unit: dL/dx is a matrix product, and
            # dL/dbias has one entry per output
            Case(
                "3 examples, 2 -> 3, d/dx",
                (
                    np.arange(6.0).reshape(3, 2),
                    np.arange(6.0).reshape(2, 3) - 2,
                    _GRAD_OUT,
                    "x",
                ),
            ),
            Case(
                "3 examples, 2 -> 3, d/dbias",
                (
                    np.arange(6.0).reshape(3, 2),
                    np.arange(6.0).reshape(2, 3) - 2,
                    _GRAD_OUT,
                    "bias",
                ),
            ),
        ),
        oracle=_dense_backward_oracle,
        hidden=_dense_hidden,
        rtol=1e-6,
        atol=1e-7,
    ),
    Exercise(
        id="training-3",
        task="Adam's updates",
        solution=adam_steps,
        cases=(
            Case(
                "one step",
                (np.array([0.0, 1.0]), np.array([[2.0, -0.5]])),
                {"lr": 0.1},
            ),
            Case(
                "two steps",
                (np.zeros(1), np.array([[2.0], [0.0]])),
                {"lr": 0.1},
            ),
            Case(
                "ten constant steps", (np.zeros(2), np.ones((10, 2))), {}
            ),
            # the text's question: gradients comparable to eps = 1e-8
            Case(
                "gradients of 1e-9: eps matters",
                (np.zeros(2), np.full((3, 2), 1e-9)),
                {"lr": 0.1},
            ),
        ),
        oracle=_adam_oracle,
        hidden=_adam_hidden,
        rtol=1e-10,
        atol=1e-12,
    ),
    Exercise(
        id="training-4",
        task=(
            "the largest stable learning rate of gradient descent for "
            "linear regression with an L2 penalty"
        ),
        solution=largest_stable_learning_rate,
        cases=(
            Case(
                "two features and an intercept, no penalty", (_DESIGN, 0.0)
            ),
            # the penalty's Hessian is 2 lambda I (not lambda I, nor
            # 2 lambda / n I: the penalty is not averaged over the rows)
            Case(
                "two features and an intercept, penalty 0.5",
                (_DESIGN, 0.5),
            ),
            Case("identity design (4 rows), penalty 1", (np.eye(4), 1.0)),
            Case(
                "one feature, penalty 0.25",
                (np.array([[1.0], [-2.0], [2.0]]), 0.25),
            ),
        ),
        oracle=_stable_rate_oracle,
        hidden=_stable_rate_hidden,
        rtol=1e-9,
        atol=0.0,
    ),
)


WRITTEN = {
    "training-5": (
        "when the logistic-regression Hessian is positive definite, and "
        "when no minimiser exists"
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
