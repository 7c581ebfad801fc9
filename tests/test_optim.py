"""lossmod.optim: each optimiser's first steps equal hand-computed values, each reaches the
minimiser of a convex quadratic, updates happen in place, and bad arguments raise ValueError
naming the argument."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from lossmod import optim

# f(x) = 1/2 (x - c)^T A (x - c): convex, minimiser c, gradient A (x - c); eigenvalues of A are
# (5 -+ sqrt(5)) / 2, about 1.38 and 3.62.
A = np.array([[3.0, 1.0], [1.0, 2.0]])
C = np.array([1.0, -2.0])


def quadratic_gradient(x: np.ndarray) -> np.ndarray:
    return A @ (x - C)


def test_sgd_first_step_by_hand() -> None:
    """theta - lr g: [1, -2] - 0.1 [0.5, -4] = [0.95, -1.6]."""
    p = np.array([1.0, -2.0])
    optim.SGD(lr=0.1).step([p], [np.array([0.5, -4.0])])
    np.testing.assert_allclose(p, [0.95, -1.6], rtol=1e-15)


def test_momentum_two_steps_by_hand() -> None:
    """v1 = g1 = [1, 2], p1 = -0.1 v1 = [-0.1, -0.2]; v2 = 0.9 v1 + g2 = [1.9, 0.8],
    p2 = p1 - 0.1 v2 = [-0.29, -0.28]."""
    p = np.zeros(2)
    opt = optim.Momentum(lr=0.1, momentum=0.9)
    opt.step([p], [np.array([1.0, 2.0])])
    np.testing.assert_allclose(p, [-0.1, -0.2], rtol=1e-15)
    opt.step([p], [np.array([1.0, -1.0])])
    np.testing.assert_allclose(p, [-0.29, -0.28], rtol=1e-14)


def test_momentum_is_polyaks_heavy_ball() -> None:
    """The iterates satisfy theta_{t+1} = theta_t - lr g_t + momentum (theta_t - theta_{t-1})."""
    p = np.array([4.0, 4.0])
    opt = optim.Momentum(lr=0.05, momentum=0.8)
    path = [p.copy()]
    grads = []
    for _ in range(5):
        grads.append(quadratic_gradient(p))
        opt.step([p], [grads[-1]])
        path.append(p.copy())
    for t in range(1, 5):
        expected = path[t] - 0.05 * grads[t] + 0.8 * (path[t] - path[t - 1])
        np.testing.assert_allclose(path[t + 1], expected, rtol=1e-13)


def test_adam_first_step_is_lr_times_sign_of_the_gradient() -> None:
    """At t = 1, m_hat = g and v_hat = g^2: the step is lr g / (|g| + eps), lr * sign(g) to within
    eps / |g| whatever the gradient's scale, and 0 where g = 0."""
    g = np.array([1e-3, 5.0, -100.0, 0.0])
    p = np.zeros(4)
    optim.Adam(lr=0.01).step([p], [g])
    np.testing.assert_allclose(p, [-0.01, -0.01, 0.01, 0.0], rtol=1e-5, atol=0)


def test_adam_second_step_by_hand() -> None:
    """g1 = 2, g2 = 0: m2 = 0.9 * 0.2 = 0.18, v2 = 0.999 * 0.004 = 0.003996; bias-corrected
    m_hat = 0.18 / (1 - 0.9^2), v_hat = 0.003996 / (1 - 0.999^2)."""
    p = np.zeros(1)
    opt = optim.Adam(lr=0.1)
    opt.step([p], [np.array([2.0])])
    opt.step([p], [np.array([0.0])])
    second = 0.1 * (0.18 / 0.19) / (np.sqrt(0.003996 / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(p, [-0.1 * 2 / (2 + 1e-8) - second], rtol=1e-12)
    assert opt.t == 2


@pytest.mark.parametrize(
    "make, steps",
    [
        (lambda: optim.SGD(lr=0.2), 300),
        (lambda: optim.Momentum(lr=0.05, momentum=0.9), 600),
        (lambda: optim.Adam(lr=0.05), 3000),
    ],
    ids=["SGD", "Momentum", "Adam"],
)
def test_reaches_the_minimiser_of_a_convex_quadratic(
    make: Callable[[], optim.Optimizer], steps: int
) -> None:
    """From (4, 4), the iterates reach the minimiser c = (1, -2) of 1/2 (x - c)^T A (x - c)."""
    p = np.array([4.0, 4.0])
    opt = make()
    for _ in range(steps):
        opt.step([p], [quadratic_gradient(p)])
    np.testing.assert_allclose(p, C, atol=1e-6)


def test_gradient_descent_diverges_above_two_over_the_largest_eigenvalue() -> None:
    """On a quadratic, gradient descent is stable exactly for lr < 2 / lambda_max."""
    limit = 2 / np.linalg.eigvalsh(A).max()
    for factor, converges in [(0.95, True), (1.05, False)]:
        p = np.array([4.0, 4.0])
        opt = optim.SGD(lr=factor * limit)
        for _ in range(500):
            opt.step([p], [quadratic_gradient(p)])
        assert bool(np.linalg.norm(p - C) < 1e-6) is converges


@pytest.mark.parametrize(
    "make", [lambda: optim.SGD(0.1), lambda: optim.Momentum(0.1), lambda: optim.Adam(0.1)]
)
def test_step_updates_the_arrays_in_place(make: Callable[[], optim.Optimizer]) -> None:
    """step changes the given arrays themselves (a model's parameters), for several arrays."""
    weight, bias = np.ones((2, 3)), np.ones(3)
    ids = (id(weight), id(bias))
    make().step([weight, bias], [np.full((2, 3), 0.5), np.full(3, -0.5)])
    assert (id(weight), id(bias)) == ids
    assert np.all(weight < 1) and np.all(bias > 1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: optim.SGD(lr=0), r"^lr must be a finite number > 0; got 0$"),
        (lambda: optim.Adam(lr=float("nan")), r"^lr must be a finite number > 0; got nan$"),
        (lambda: optim.Momentum(lr=0.1, momentum=1.0), r"^momentum must be in \[0, 1\); got 1.0$"),
        (lambda: optim.Adam(beta1=-0.1), r"^beta1 must be in \[0, 1\); got -0.1$"),
        (lambda: optim.Adam(beta2=1), r"^beta2 must be in \[0, 1\); got 1$"),
        (lambda: optim.Adam(eps=0.0), r"^eps must be > 0; got 0.0$"),
        (
            lambda: optim.SGD(0.1).step([np.zeros(2)], []),
            r"^grads must hold one array per parameter \(1\); got 0$",
        ),
        (
            lambda: optim.Adam().step([np.zeros(2)], [np.zeros(3)]),
            r"^grads\[0\] has shape \(3,\) but params\[0\] has shape \(2,\)$",
        ),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_state_belongs_to_one_set_of_parameters() -> None:
    """A stateful optimiser refuses parameters of other shapes than those it was created for."""
    opt = optim.Momentum(lr=0.1)
    opt.step([np.zeros(2)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"^params must be the same arrays at every step"):
        opt.step([np.zeros(3)], [np.ones(3)])


def adamw_reference(
    start: np.ndarray, grads: list[np.ndarray], lr: float, weight_decay: float
) -> np.ndarray:
    """AdamW written out by hand (Loshchilov and Hutter's algorithm 2 as PyTorch orders it, with
    beta1 = 0.9, beta2 = 0.999, eps = 1e-8): decay theta by lr * weight_decay, then Adam's step."""
    theta, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t, g in enumerate(grads, start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        step = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        theta = theta - lr * weight_decay * theta - lr * step
    return theta


def test_adamw_equals_a_hand_written_reference() -> None:
    """Five AdamW steps on given gradients equal the reference update, the first by hand:
    theta = 2 - 0.1 * 0.5 * 2 - 0.1 * sign(g) = 1.9 - 0.1 = 1.8 for g > 0."""
    rng = np.random.default_rng(3)
    start = rng.normal(size=3)
    grads = [rng.normal(size=3) for _ in range(5)]
    p = start.copy()
    opt = optim.AdamW(lr=0.1, weight_decay=0.5)
    for g in grads:
        opt.step([p], [g])
    np.testing.assert_allclose(p, adamw_reference(start, grads, 0.1, 0.5), rtol=1e-13)
    q = np.array([2.0])
    optim.AdamW(lr=0.1, weight_decay=0.5).step([q], [np.array([3.0])])
    np.testing.assert_allclose(q, [1.8], rtol=1e-8)


def test_adamw_without_decay_is_adam() -> None:
    """weight_decay = 0 gives Adam's iterates exactly."""
    p, q = np.array([1.0, -1.0]), np.array([1.0, -1.0])
    adam, adamw = optim.Adam(lr=0.05), optim.AdamW(lr=0.05, weight_decay=0.0)
    for _ in range(20):
        adam.step([p], [quadratic_gradient(p)])
        adamw.step([q], [quadratic_gradient(q)])
    np.testing.assert_array_equal(p, q)


def test_adamw_fixed_point_is_not_the_l2_penalised_minimiser() -> None:
    """On f(x) = 1/2 (x - c)^T A (x - c) with lambda = 0.3, Adam on f + lambda/2 |x|^2 reaches
    the penalised minimiser (A + lambda I)^{-1} A c, while AdamW(weight_decay=lambda) reaches the
    minimiser of f in the box |x_j| <= 1/lambda (its fixed point as eps -> 0), here by scipy's
    minimize with bounds, far from the first."""
    from scipy.optimize import minimize

    lam = 0.3
    centre = np.array([1.0, -5.0])
    penalised = np.linalg.solve(A + lam * np.eye(2), A @ centre)
    boxed = minimize(
        lambda x: 0.5 * (x - centre) @ A @ (x - centre),
        np.zeros(2),
        jac=lambda x: A @ (x - centre),
        bounds=[(-1 / lam, 1 / lam)] * 2,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12},
    ).x
    p, q = np.zeros(2), np.zeros(2)
    adam, adamw = optim.Adam(lr=0.01), optim.AdamW(lr=0.01, weight_decay=lam)
    for _ in range(20000):
        adam.step([p], [A @ (p - centre) + lam * p])
        adamw.step([q], [A @ (q - centre)])
    np.testing.assert_allclose(p, penalised, atol=1e-5)
    np.testing.assert_allclose(q, boxed, atol=5e-3)
    assert np.abs(q - p).max() > 0.5


def test_adamw_rejects_a_negative_weight_decay() -> None:
    with pytest.raises(ValueError, match=r"^weight_decay must be a finite number >= 0; got -0.1$"):
        optim.AdamW(weight_decay=-0.1)
