"""The stable primitives against scipy.special, at ordinary and extreme inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import lossmod

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
logit_arrays = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=finite
)


@given(logit_arrays)
def test_logsumexp_log_softmax_softmax_match_scipy(z: np.ndarray) -> None:
    """logsumexp, log_softmax and softmax equal scipy.special's for any finite input."""
    np.testing.assert_allclose(lossmod.logsumexp(z), special.logsumexp(z, axis=-1), rtol=1e-13)
    np.testing.assert_allclose(
        lossmod.log_softmax(z), special.log_softmax(z, axis=-1), rtol=1e-13, atol=1e-13
    )
    np.testing.assert_allclose(
        lossmod.softmax(z), special.softmax(z, axis=-1), rtol=1e-13, atol=1e-300
    )


@given(logit_arrays)
def test_sigmoid_log_sigmoid_softplus_match_scipy(z: np.ndarray) -> None:
    """sigmoid = expit, log_sigmoid = log_expit, softplus = -log_expit(-z), all to 1e-14."""
    np.testing.assert_allclose(lossmod.sigmoid(z), special.expit(z), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(lossmod.log_sigmoid(z), special.log_expit(z), rtol=1e-14)
    np.testing.assert_allclose(lossmod.softplus(z), -special.log_expit(-z), rtol=1e-14)


def test_softmax_rows_sum_to_one_at_extremes() -> None:
    """Logits of +-1e4 overflow a naive exp; the stable forms stay exact, in both precisions."""
    for dtype in (np.float32, np.float64):
        z = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, 1e4]], dtype=dtype)
        p = lossmod.softmax(z)
        assert p.dtype == dtype
        np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
        np.testing.assert_allclose(lossmod.logsumexp(z), [1e4, 1e4 + np.log(3)], rtol=1e-7)


def test_hand_values() -> None:
    """Values worked out by hand: logsumexp([0, 0]) = log 2, sigmoid(0) = 1/2,
    softplus(log 3) = log 4, log_softmax([log 3, 0]) = [log 3/4, log 1/4]."""
    assert lossmod.logsumexp(np.zeros(2)) == pytest.approx(np.log(2), rel=1e-15)
    assert lossmod.sigmoid(np.array(0.0)) == 0.5
    assert lossmod.softplus(np.array(np.log(3))) == pytest.approx(np.log(4), rel=1e-15)
    np.testing.assert_allclose(
        lossmod.log_softmax(np.array([np.log(3), 0.0])), np.log([0.75, 0.25]), rtol=1e-15
    )


def test_xlogy_matches_scipy_including_zero_conventions() -> None:
    """xlogy(0, 0) = 0 and xlogy(0, y) = 0, as scipy.special.xlogy; x log 0 = -inf for x > 0."""
    x = np.array([0.0, 0.0, 2.0, 0.5, 1.0])
    y = np.array([0.0, 3.0, 0.5, 2.0, 0.0])
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(lossmod.xlogy(x, y), special.xlogy(x, y))
    with pytest.raises(ValueError, match=r"y must be >= 0"):
        lossmod.xlogy(1.0, -1.0)


def test_primitives_reject_nan_and_infinity() -> None:
    """Primitives name the argument and the position of a NaN or an infinity."""
    with pytest.raises(ValueError, match=r"^x contains NaN at index \(1,\)"):
        lossmod.softmax(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"^x must be finite; got inf at index \(0,\)"):
        lossmod.sigmoid(np.array([np.inf]))


def test_gradients_of_primitives() -> None:
    """d logsumexp = softmax, d softplus = sigmoid, d log_sigmoid = sigmoid(-x): checked against
    central differences."""
    z = np.random.default_rng(3).normal(size=5)
    assert lossmod.gradcheck(lambda v: lossmod.logsumexp(v), lossmod.softmax, z)
    assert lossmod.gradcheck(lambda v: lossmod.softplus(v).sum(), lossmod.sigmoid, z)
    assert lossmod.gradcheck(
        lambda v: lossmod.log_sigmoid(v).sum(), lambda v: lossmod.sigmoid(-v), z
    )
