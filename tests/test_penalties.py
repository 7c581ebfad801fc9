"""lossmod/penalties.py: the L2 penalty against scikit-learn's Ridge, the L1 penalty and
soft-thresholding against scikit-learn's Lasso and lasso_path (by proximal gradient descent) and
against a brute-force minimisation of the proximal problem, Kendall's uncertainty-weighted total
against its formula written with sigma, its optimum sigma^2 = L and central differences in both
arguments, and named errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import optimize
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso, Ridge, lasso_path
from sklearn.preprocessing import StandardScaler

import lossmod
from tests.helpers.cases import central_differences


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """The diabetes data, standardised features, centred (the intercept is then the mean)."""
    data = load_diabetes()
    x = StandardScaler().fit_transform(data.data)
    return x - x.mean(axis=0), data.target - data.target.mean()


def ista(x: np.ndarray, y: np.ndarray, alpha: float, start: np.ndarray, steps: int) -> np.ndarray:
    """Proximal gradient descent on (1/(2n)) ||y - x w||^2 + alpha ||w||_1 with step 1/L."""
    n = len(y)
    lipschitz = np.linalg.eigvalsh(x.T @ x / n)[-1]
    w = start.copy()
    for _ in range(steps):
        # the gradient of mse / 2
        gradient = lossmod.mse_grad(x @ w, y) @ x / 2
        w = lossmod.soft_threshold(w - gradient / lipschitz, alpha / lipschitz)
    return w


def test_l2_penalty_by_hand_and_its_gradient() -> None:
    """(lambda/2) sum w^2 = 0.5 * 3 * (1 + 4 + 0.25) and gradient lambda w, any shape."""
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert lossmod.l2_penalty(w, strength=3.0) == pytest.approx(0.5 * 3 * 5.25, rel=1e-15)
    np.testing.assert_array_equal(lossmod.l2_penalty_grad(w, strength=3.0), 3.0 * w)
    numeric = central_differences(lambda v: lossmod.l2_penalty(v, strength=3.0), w)
    np.testing.assert_allclose(lossmod.l2_penalty_grad(w, strength=3.0), numeric, rtol=1e-8)


def test_l1_penalty_by_hand_and_its_subgradient() -> None:
    """lambda sum |w| and lambda sign(w), 0 at w = 0; central differences away from 0."""
    w = np.array([1.5, -2.0, 0.0, 0.25])
    assert lossmod.l1_penalty(w, strength=2.0) == pytest.approx(7.5, rel=1e-15)
    np.testing.assert_array_equal(lossmod.l1_penalty_grad(w, strength=2.0), [2, -2, 0, 2])
    away = w[w != 0]
    numeric = central_differences(lambda v: lossmod.l1_penalty(v, strength=2.0), away)
    np.testing.assert_allclose(lossmod.l1_penalty_grad(away, strength=2.0), numeric, rtol=1e-8)


@pytest.mark.parametrize("alpha", [0.1, 10.0, 1000.0])
def test_mse_plus_l2_penalty_minimiser_is_sklearn_ridge(diabetes: tuple, alpha: float) -> None:
    """Ridge(alpha) minimises ||y - Xw||^2 + alpha ||w||^2 = n (mse + l2_penalty(w, 2 alpha / n)):
    the zero of mse_grad @ X + l2_penalty_grad (solved by Newton's one step, the cost being
    quadratic) is Ridge's coefficient vector."""
    x, y = diabetes
    n = len(y)
    strength = 2 * alpha / n

    def gradient(w: np.ndarray) -> np.ndarray:
        return lossmod.mse_grad(x @ w, y) @ x + lossmod.l2_penalty_grad(w, strength=strength)

    hessian = 2 / n * x.T @ x + strength * np.eye(10)
    w = -np.linalg.solve(hessian, gradient(np.zeros(10)))
    np.testing.assert_allclose(gradient(w), 0, atol=1e-9)
    ridge = Ridge(alpha=alpha, solver="svd").fit(x, y)
    np.testing.assert_allclose(w, ridge.coef_, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.1, 1.0, 10.0])
def test_ista_with_soft_threshold_is_sklearn_lasso(diabetes: tuple, alpha: float) -> None:
    """Proximal gradient descent (soft_threshold after a gradient step of mse / 2) reaches
    Lasso(alpha)'s coefficients, exact zeros included."""
    x, y = diabetes
    w = ista(x, y, alpha, np.zeros(10), steps=20000)
    lasso = Lasso(alpha=alpha, tol=1e-14, max_iter=100000).fit(x, y)
    np.testing.assert_allclose(w, lasso.coef_, rtol=1e-7, atol=1e-7)
    np.testing.assert_array_equal(w == 0, lasso.coef_ == 0)
    objective = lossmod.mse(x @ w, y) / 2 + lossmod.l1_penalty(w, strength=alpha)
    theirs = lossmod.mse(x @ lasso.coef_, y) / 2 + lossmod.l1_penalty(lasso.coef_, strength=alpha)
    assert objective <= theirs + 1e-9


def test_warm_started_ista_path_is_sklearn_lasso_path(diabetes: tuple) -> None:
    """Along 12 alphas from alpha_max = ||X^T y||_inf / n down, ISTA warm-started from the previous
    solution gives lasso_path's coefficients and the same exact zeros; all are zero just above
    alpha_max."""
    x, y = diabetes
    alpha_max = np.max(np.abs(x.T @ y)) / len(y)
    alphas = alpha_max * np.geomspace(1 + 1e-9, 1e-2, 12)
    _, coefs, _ = lasso_path(x, y, alphas=alphas, tol=1e-14, max_iter=100000)
    w = np.zeros(10)
    for k, alpha in enumerate(alphas):
        w = ista(x, y, alpha, w, steps=5000)
        np.testing.assert_allclose(w, coefs[:, k], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(w == 0, coefs[:, k] == 0)
    assert not coefs[:, 0].any()


@pytest.mark.parametrize("t", [0.0, 0.3, 2.0])
def test_soft_threshold_minimises_the_proximal_problem(t: float) -> None:
    """S_t(v) = argmin_z (z - v)^2 / 2 + t |z|, by scipy's bounded scalar minimisation."""
    for v in [-3.0, -0.5, -0.1, 0.0, 0.2, 1.0, 4.0]:
        brute = optimize.minimize_scalar(
            lambda z, v=v: 0.5 * (z - v) ** 2 + t * abs(z),
            bounds=(-5, 5),
            method="bounded",
            options={"xatol": 1e-12},
        ).x
        assert float(lossmod.soft_threshold(v, t)) == pytest.approx(brute, abs=1e-7)


def test_soft_threshold_exact_zeros_and_per_element_thresholds() -> None:
    """|x| <= t gives exactly 0; a threshold array applies elementwise."""
    out = lossmod.soft_threshold(np.array([0.5, -0.5, 2.0, -3.0]), 0.5)
    np.testing.assert_array_equal(out, [0.0, 0.0, 1.5, -2.5])
    out = lossmod.soft_threshold(np.array([1.0, 1.0, -1.0]), np.array([0.0, 2.0, 0.25]))
    np.testing.assert_array_equal(out, [1.0, 0.0, -0.75])


def test_uncertainty_weighted_loss_is_kendalls_formula_in_sigma() -> None:
    """sum L / (2 sigma^2) + log sigma with sigma = exp(s / 2)."""
    losses, s = np.array([0.3, 2.0, 0.0]), np.array([-1.0, 0.5, 2.0])
    sigma = np.exp(s / 2)
    expected = np.sum(losses / (2 * sigma**2) + np.log(sigma))
    np.testing.assert_allclose(lossmod.uncertainty_weighted_loss(losses, s), expected, rtol=1e-14)


def test_uncertainty_weighted_loss_gradients_are_central_differences() -> None:
    """The pair (d/dL, d/ds) equals central differences in each argument."""
    losses, s = np.array([0.3, 2.0, 5.0]), np.array([-1.0, 0.5, 2.0])
    g_losses, g_s = lossmod.uncertainty_weighted_loss_grad(losses, s)
    numeric_losses = central_differences(lambda v: lossmod.uncertainty_weighted_loss(v, s), losses)
    numeric_s = central_differences(lambda v: lossmod.uncertainty_weighted_loss(losses, v), s)
    np.testing.assert_allclose(g_losses, numeric_losses, rtol=1e-8)
    np.testing.assert_allclose(g_s, numeric_s, rtol=1e-7)


def test_uncertainty_optimum_is_sigma_squared_equal_to_the_loss() -> None:
    """For fixed losses, scipy's minimiser over s is log L (sigma^2 = L) and the minimum is
    sum (1 + log L) / 2, negative when the losses are small enough (L < 1/e)."""
    losses = np.array([0.01, 0.2, 3.0])
    found = optimize.minimize(
        lambda s: lossmod.uncertainty_weighted_loss(losses, s), np.zeros(3), tol=1e-12
    ).x
    np.testing.assert_allclose(found, np.log(losses), atol=1e-5)
    minimum = lossmod.uncertainty_weighted_loss(losses, np.log(losses))
    np.testing.assert_allclose(minimum, np.sum((1 + np.log(losses)) / 2), rtol=1e-14)
    assert minimum < 0
    _, g_s = lossmod.uncertainty_weighted_loss_grad(losses, np.log(losses))
    np.testing.assert_allclose(g_s, 0, atol=1e-15)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: lossmod.l2_penalty([1.0], strength=-1.0),
            r"^strength must be a finite number >= 0; got -1.0$",
        ),
        (
            lambda: lossmod.l1_penalty_grad([1.0], strength=float("inf")),
            r"^strength must be a finite number >= 0; got inf$",
        ),
        (
            lambda: lossmod.l1_penalty([np.nan], strength=1.0),
            r"^weights contains NaN at index \(0,\)$",
        ),
        (lambda: lossmod.soft_threshold([1.0, 2.0], -0.5), r"^threshold must be >= 0; got -0.5$"),
        (
            lambda: lossmod.soft_threshold([1.0, 2.0], [0.5, 0.5, 0.5]),
            r"^threshold has shape \(3,\) but x has shape \(2,\)",
        ),
        (
            lambda: lossmod.uncertainty_weighted_loss([1.0, 2.0], [0.0]),
            r"^task_losses has shape \(2,\) and log_variances shape \(1,\)",
        ),
        (
            lambda: lossmod.uncertainty_weighted_loss([1.0, -2.0], [0.0, 0.0]),
            r"^task_losses must be >= 0; got -2.0 at index 1$",
        ),
        (
            lambda: lossmod.uncertainty_weighted_loss_grad([1.0], [np.inf]),
            r"^log_variances must be finite",
        ),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()
