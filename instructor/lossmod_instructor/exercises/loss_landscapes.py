"""Exercises of the chapter "Loss landscapes"
(chapters/loss-landscapes.ipynb)."""

from __future__ import annotations

from collections.abc import Sequence

import lossmod
import numpy as np
from lossmod import optim
from numpy.typing import ArrayLike, NDArray

from lossmod_instructor.exercises import Case, Exercise

# --- loss-landscapes-1: filter normalisation -----------------------------


def filter_normalize(
    weights: Sequence[ArrayLike], direction: Sequence[ArrayLike]
) -> NDArray[np.float64]:
    """A random direction rescaled filter by filter to the norms of the
    weights.

    A filter is the set of weights into one unit: one column of a
    weight matrix stored as nn.Dense stores it, shape (in, out). Each
    column j of each direction matrix D is rescaled to the norm of the
    same column of the weight matrix W:

        D[:, j] * ||W[:, j]|| / ||D[:, j]||

    A column of D that is all zero stays all zero.

    Parameters
    ----------
    weights : sequence of arrays, the k-th of shape (in_k, out_k)
        The weight matrices of the layers.
    direction : sequence of arrays, the same shapes as weights
        The direction before normalisation (e.g. standard normal draws).

    Returns
    -------
    array of shape (P,): the normalised direction matrices, each
    flattened in row-major order, concatenated (P = total number of
    weights).
    """
    pieces = []
    for w, d in zip(weights, direction, strict=True):
        w = np.asarray(w, dtype=np.float64)
        d = np.asarray(d, dtype=np.float64)
        d_norms = np.linalg.norm(d, axis=0)
        scale = np.linalg.norm(w, axis=0) / np.where(
            d_norms > 0, d_norms, 1.0
        )
        pieces.append((d * scale).ravel())
    return np.concatenate(pieces)


def _filter_normalize_oracle(
    weights: Sequence[ArrayLike], direction: Sequence[ArrayLike]
) -> NDArray[np.float64]:
    """Loops over the columns, with the norms summed element by element in
    Python floats."""
    out: list[float] = []
    for w, d in zip(weights, direction, strict=True):
        w_arr = np.asarray(w, dtype=np.float64)
        d_arr = np.array(d, dtype=np.float64)
        rows, columns = w_arr.shape
        for j in range(columns):
            w_norm = (
                sum(float(w_arr[i, j]) ** 2 for i in range(rows)) ** 0.5
            )
            d_norm = (
                sum(float(d_arr[i, j]) ** 2 for i in range(rows)) ** 0.5
            )
            for i in range(rows):
                d_arr[i, j] = (
                    0.0 if d_norm == 0.0 else d_arr[i, j] * w_norm / d_norm
                )
        out.extend(d_arr.ravel().tolist())
    return np.array(out)


def _filter_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    shapes = [(2, 16), (16, 16), (16, 1)]
    weights = tuple(rng.normal(size=s) for s in shapes)
    direction = tuple(rng.normal(size=s) for s in shapes)
    zero_column = weights[0].copy()
    zero_column[:, 3] = 0.0
    zero_direction = direction[0].copy()
    zero_direction[:, 5] = 0.0
    return (
        Case("three layers 2-16-16-1", (weights, direction)),
        Case(
            "a unit with zero weights", ((zero_column,), (direction[0],))
        ),
        Case(
            "a zero column in a 2 x 16 direction",
            ((weights[0],), (zero_direction,)),
        ),
        Case(
            "weights of size 1e4 and 1e-4",
            ((1e4 * weights[0], 1e-4 * weights[1]), direction[:2]),
        ),
        Case(
            "a direction of size 1e-8",
            ((weights[1],), (1e-8 * direction[1],)),
        ),
        Case(
            "one input",
            ((rng.normal(size=(1, 5)),), (rng.normal(size=(1, 5)),)),
        ),
    )


# --- loss-landscapes-2: the loss along a segment -------------------------


def segment_losses(
    design: ArrayLike,
    target: ArrayLike,
    theta_a: ArrayLike,
    theta_b: ArrayLike,
    num: int,
) -> NDArray[np.float64]:
    """The least-squares cost along the segment from theta_a to theta_b.

    At alpha = 0, 1/(num-1), ..., 1 the parameters are
    theta(alpha) = (1 - alpha) theta_a + alpha theta_b, and the cost is
    L(alpha) = mean((design @ theta(alpha) - target)^2). Compute all num
    values without a loop over alpha: L is a polynomial of degree 2 in
    alpha; find its three coefficients.

    Parameters
    ----------
    design : array of shape (n, d)
        One example per row.
    target : array of shape (n,)
    theta_a, theta_b : arrays of shape (d,)
        The two ends of the segment.
    num : int
        Number of points, >= 2 (alpha = np.linspace(0, 1, num)).

    Returns
    -------
    array of shape (num,): L at each alpha.
    """
    design = np.asarray(design, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    # residuals at alpha = 0
    r_a = design @ np.asarray(theta_a, dtype=np.float64) - target
    r_b = design @ np.asarray(theta_b, dtype=np.float64) - target
    # the residuals move linearly: r(alpha) = r_a + alpha * change
    change = r_b - r_a
    alpha = np.linspace(0.0, 1.0, num)
    c0, c1, c2 = (
        np.mean(r_a**2),
        2.0 * np.mean(r_a * change),
        np.mean(change**2),
    )
    return c0 + c1 * alpha + c2 * alpha**2


def _segment_oracle(
    design: ArrayLike,
    target: ArrayLike,
    theta_a: ArrayLike,
    theta_b: ArrayLike,
    num: int,
) -> NDArray[np.float64]:
    """lossmod.mse at each point of the segment, one point at a time."""
    X = np.asarray(design, dtype=float)
    a, b = (
        np.asarray(theta_a, dtype=float),
        np.asarray(theta_b, dtype=float),
    )
    return np.array(
        [
            lossmod.mse(X @ ((1 - t) * a + t * b), target)
            for t in np.linspace(0, 1, num)
        ]
    )


def _segment_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    X = np.column_stack([rng.normal(size=(60, 4)), np.ones(60)])
    y = X @ rng.normal(size=5) + rng.normal(size=60)
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    return (
        Case(
            "60 x 5, random ends",
            (X, y, rng.normal(size=5), rng.normal(size=5), 31),
        ),
        Case(
            "through the least-squares fit",
            (X, y, best - 1.0, best + 1.0, 21),
        ),
        Case("both ends equal", (X, y, best, best, 5)),
        Case("two points", (X, y, np.zeros(5), best, 2)),
        Case(
            "large values",
            (1e3 * X, 1e3 * y, rng.normal(size=5), rng.normal(size=5), 11),
        ),
    )


# --- loss-landscapes-3: one momentum step --------------------------------


def momentum_step(
    theta: ArrayLike,
    velocity: ArrayLike,
    grad: ArrayLike,
    lr: float,
    momentum: float,
) -> NDArray[np.float64]:
    """One step of gradient descent with (heavy-ball) momentum.

        velocity_new = momentum * velocity + grad
        theta_new    = theta - lr * velocity_new

    Parameters
    ----------
    theta : array of shape (d,)
        The parameters before the step.
    velocity : array of shape (d,)
        The velocity before the step (zeros before the first step).
    grad : array of shape (d,)
        The gradient of the loss at theta.
    lr : float
        The learning rate, > 0.
    momentum : float
        In [0, 1).

    Returns
    -------
    array of shape (2, d): row 0 is theta_new, row 1 is velocity_new.
    """
    velocity_new = momentum * np.asarray(
        velocity, dtype=np.float64
    ) + np.asarray(grad, dtype=np.float64)
    theta_new = np.asarray(theta, dtype=np.float64) - lr * velocity_new
    return np.stack([theta_new, velocity_new])


def _momentum_oracle(
    theta: ArrayLike,
    velocity: ArrayLike,
    grad: ArrayLike,
    lr: float,
    momentum: float,
) -> NDArray[np.float64]:
    """lossmod.optim.Momentum, its velocity set to the given state, stepped
    once."""
    params = np.array(theta, dtype=float)
    optimizer = optim.Momentum(lr=lr, momentum=momentum)
    optimizer.velocity = [np.array(velocity, dtype=float)]
    optimizer.step([params], [np.asarray(grad, dtype=float)])
    return np.stack([params, optimizer.velocity[0]])


def _momentum_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    d = 6
    return (
        Case("random state", (*rng.normal(size=(3, d)), 0.01, 0.9)),
        Case(
            "momentum 0 is gradient descent",
            (*rng.normal(size=(3, d)), 0.1, 0.0),
        ),
        Case("momentum 0.999", (*rng.normal(size=(3, d)), 0.001, 0.999)),
        Case(
            "zero gradient: coasting",
            (
                rng.normal(size=d),
                rng.normal(size=d),
                np.zeros(d),
                0.5,
                0.9,
            ),
        ),
        Case(
            "huge gradient",
            (
                rng.normal(size=d),
                np.zeros(d),
                1e8 * rng.normal(size=d),
                1e-3,
                0.9,
            ),
        ),
        Case(
            "one parameter",
            (np.array([1.0]), np.array([-2.0]), np.array([0.5]), 0.2, 0.5),
        ),
    )


# --- loss-landscapes-4: classify a critical point ------------------------


def classify_critical_point(
    hessian: ArrayLike, tol: float = 1e-8
) -> float:
    """The kind of a critical point, from the Hessian there
    (second-order test).

    With the eigenvalues lambda_i of the symmetric Hessian H:

    - +1.0 (a strict local minimum) if every lambda_i > tol;
    - -1.0 (a strict local maximum) if every lambda_i < -tol;
    -  0.0 (a saddle point) if some lambda_i > tol and some
      lambda_j < -tol;
    -  nan (the test is inconclusive) otherwise: H is semi-definite with
      an eigenvalue in [-tol, tol], and higher derivatives decide.

    Parameters
    ----------
    hessian : array of shape (d, d)
        Symmetric.
    tol : float
        Eigenvalues within tol of zero count as zero.

    Returns
    -------
    float: 1.0, -1.0, 0.0 or nan.
    """
    matrix = np.asarray(hessian, dtype=np.float64)
    eigenvalues = np.linalg.eigvalsh(matrix)
    rises, falls = np.any(eigenvalues > tol), np.any(eigenvalues < -tol)
    if rises and falls:
        return 0.0
    if np.all(eigenvalues > tol):
        return 1.0
    if np.all(eigenvalues < -tol):
        return -1.0
    return float("nan")


def _inertia(matrix: NDArray[np.float64]) -> tuple[int, int]:
    """(number of positive, number of negative eigenvalues) from scipy's
    LDL^T factorisation: by Sylvester's law of inertia, D has the same
    signs of eigenvalues as the matrix."""
    from scipy.linalg import ldl  # type: ignore[import-untyped]

    _, block_diagonal, _ = ldl(matrix)
    # D: 1 x 1 and 2 x 2 blocks
    signs = np.sign(np.linalg.eigvalsh(block_diagonal))
    return int(np.sum(signs > 0)), int(np.sum(signs < 0))


def _classify_oracle(hessian: ArrayLike, tol: float = 1e-8) -> float:
    """The signs counted by inertia of H - tol I and H + tol I (no
    eigenvalues of H itself)."""
    H = np.asarray(hessian, dtype=float)
    size = len(H)
    # eigenvalues of H above tol
    above, _ = _inertia(H - tol * np.eye(size))
    # eigenvalues of H below -tol
    _, below = _inertia(H + tol * np.eye(size))
    if above and below:
        return 0.0
    if above == size:
        return 1.0
    if below == size:
        return -1.0
    return float("nan")


def _symmetric(
    rng: np.random.Generator, eigenvalues: Sequence[float]
) -> NDArray[np.float64]:
    q, _ = np.linalg.qr(
        rng.normal(size=(len(eigenvalues), len(eigenvalues)))
    )
    return (q * np.asarray(eigenvalues)) @ q.T


def _classify_hidden(rng: np.random.Generator) -> tuple[Case, ...]:
    return (
        Case(
            "minimum, 6 x 6", (_symmetric(rng, [0.1, 0.5, 1, 2, 3, 40]),)
        ),
        Case("maximum, 5 x 5", (_symmetric(rng, [-0.2, -1, -1, -3, -7]),)),
        Case(
            "saddle with one negative eigenvalue",
            (_symmetric(rng, [-0.01, 1, 2, 3, 4, 5, 6]),),
        ),
        Case(
            "saddle with zero eigenvalues",
            (_symmetric(rng, [-1, 0, 0, 1]),),
        ),
        Case(
            "inconclusive: semi-definite", (_symmetric(rng, [0, 0.5, 2]),)
        ),
        Case(
            "inconclusive: a valley floor",
            (np.array([[1.0, 1.0], [1.0, 1.0]]),),
        ),
        Case("inconclusive: all zero", (np.zeros((3, 3)),)),
        Case(
            "tiny curvature, tol 1e-12",
            (_symmetric(rng, [1e-9, 2e-9]),),
            {"tol": 1e-12},
        ),
        Case("1 x 1 negative", (np.array([[-1e4]]),)),
        Case(
            "curvature 1e6 and 1e-3", (_symmetric(rng, [1e6, 1e-3, 5.0]),)
        ),
    )


EXERCISES = (
    Exercise(
        id="loss-landscapes-1",
        task="filter-normalise a random direction",
        solution=filter_normalize,
        cases=(
            Case(
                "one 2 x 2 layer",
                (
                    (np.array([[3.0, 0.0], [4.0, 1.0]]),),
                    (np.array([[1.0, 2.0], [0.0, 2.0]]),),
                ),
            ),
            Case(
                "two layers 2-3-1",
                (
                    (
                        np.arange(6.0).reshape(2, 3),
                        np.array([[1.0], [-2.0], [2.0]]),
                    ),
                    (np.ones((2, 3)), np.array([[0.5], [0.0], [0.0]])),
                ),
            ),
            Case(
                "a zero column in the direction",
                (
                    (np.array([[1.0, 2.0], [2.0, 2.0]]),),
                    (np.array([[0.0, 1.0], [0.0, -1.0]]),),
                ),
            ),
            # the result does not depend on the direction's scale: no
            # d / (||d|| + eps)
            Case(
                "the 2 x 2 direction times 1e-8",
                (
                    (np.array([[3.0, 0.0], [4.0, 1.0]]),),
                    (1e-8 * np.array([[1.0, 2.0], [0.0, 2.0]]),),
                ),
            ),
        ),
        oracle=_filter_normalize_oracle,
        hidden=_filter_hidden,
        rtol=1e-9,
        atol=1e-12,
    ),
    Exercise(
        id="loss-landscapes-2",
        task="the least-squares cost along a segment, without a loop",
        solution=segment_losses,
        cases=(
            Case(
                "a line, from zero to the exact fit",
                (
                    np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]),
                    np.array([3.0, 5.0, 7.0]),
                    np.zeros(2),
                    np.array([2.0, 1.0]),
                    5,
                ),
            ),
            Case(
                "one feature, across the minimum",
                (
                    np.array([[1.0], [2.0]]),
                    np.array([1.0, 2.0]),
                    np.array([-1.0]),
                    np.array([3.0]),
                    9,
                ),
            ),
        ),
        oracle=_segment_oracle,
        hidden=_segment_hidden,
        rtol=1e-9,
        atol=1e-9,
        reimplements=("mse",),
    ),
    Exercise(
        id="loss-landscapes-3",
        task="one step of gradient descent with momentum",
        solution=momentum_step,
        cases=(
            Case(
                "first step (velocity zero)",
                (
                    np.array([1.0, -1.0]),
                    np.zeros(2),
                    np.array([2.0, 0.5]),
                    0.1,
                    0.9,
                ),
            ),
            Case(
                "a later step",
                (
                    np.array([0.5, 0.0]),
                    np.array([1.0, -2.0]),
                    np.array([0.5, 0.5]),
                    0.1,
                    0.9,
                ),
            ),
        ),
        oracle=_momentum_oracle,
        hidden=_momentum_hidden,
        rtol=1e-12,
        atol=1e-12,
    ),
    Exercise(
        id="loss-landscapes-4",
        task="classify a critical point from its Hessian",
        solution=classify_critical_point,
        cases=(
            Case("bowl", (np.array([[2.0, 0.0], [0.0, 1.0]]),)),
            Case("dome", (np.array([[-2.0, 1.0], [1.0, -2.0]]),)),
            Case("saddle of w v", (np.array([[0.0, 1.0], [1.0, 0.0]]),)),
            Case(
                "saddle with a flat direction",
                (np.diag([1.0, -1.0, 0.0]),),
            ),
            # "nan when the test cannot decide"
            Case(
                "semi-definite: eigenvalues 0 and 3",
                (np.diag([0.0, 3.0]),),
            ),
            # eigenvalues within tol of 0 count as 0, with the tol given
            Case(
                "curvature 1e-9, tol = 1e-12",
                (np.diag([1e-9, 2e-9]),),
                {"tol": 1e-12},
            ),
            # and with the default tol = 1e-8: +-1e-12 counts as zero, so
            # both are inconclusive (ignoring tol, a minimum and a saddle)
            Case(
                "eigenvalues 1e-12 and 3, default tol",
                (np.diag([1e-12, 3.0]),),
            ),
            Case(
                "eigenvalues -1e-12 and 3, default tol",
                (np.diag([-1e-12, 3.0]),),
            ),
        ),
        oracle=_classify_oracle,
        hidden=_classify_hidden,
        rtol=0.0,
        atol=0.0,
    ),
)


WRITTEN = {
    "loss-landscapes-5": (
        "prove that filter normalisation undoes ReLU rescaling"
    ),
}
"""The written exercises (derivations, explorations): one-line tasks."""
