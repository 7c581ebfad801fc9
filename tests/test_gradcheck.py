"""The gradient checker itself: it must pass right gradients and catch wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import lossmod


def test_numerical_gradient_of_known_functions() -> None:
    """Central differences give 2x for sum(x^2) and cos(x) for sum(sin(x)) to 1e-9."""
    x = np.array([[-1.5, 0.0], [0.3, 4.0]])
    np.testing.assert_allclose(
        lossmod.numerical_gradient(lambda v: np.sum(v**2), x), 2 * x, atol=1e-9
    )
    np.testing.assert_allclose(
        lossmod.numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x), atol=1e-9
    )


def test_gradcheck_catches_a_wrong_gradient() -> None:
    """A gradient off by a factor (the classic forgotten 1/n or 2) fails; the right one passes."""
    pred, target = np.array([0.5, -1.0, 2.0]), np.zeros(3)
    right = lossmod.gradcheck(
        lambda p: lossmod.mse(p, target), lambda p: lossmod.mse_grad(p, target), pred
    )
    wrong = lossmod.gradcheck(lambda p: lossmod.mse(p, target), lambda p: (p - target) / 3, pred)
    assert right.passed and right.relative_error < 1e-9
    assert not wrong.passed and wrong.relative_error == pytest.approx(1 / 3, rel=1e-6)


def test_gradcheck_refuses_a_wrong_shape() -> None:
    """A gradient of the wrong shape is an error, not a silent broadcast."""
    with pytest.raises(ValueError, match=r"grad returned shape \(1,\); expected the shape of x"):
        lossmod.gradcheck(lambda v: float(np.sum(v)), lambda v: np.ones(1), np.zeros(3))


def test_relative_error_of_zero_vectors_is_zero() -> None:
    """Two zero gradients agree exactly."""
    assert lossmod.relative_error(np.zeros(3), np.zeros(3)) == 0.0
