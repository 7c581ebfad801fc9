"""kl_div (PyTorch's convention) and kl_divergence (the textbook) against scipy.special.rel_entr."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy import special

import lossmod


def test_kl_divergence_matches_rel_entr(rng: np.random.Generator) -> None:
    """D_KL(p || q) per row equals scipy's rel_entr summed over the last axis."""
    p = special.softmax(rng.normal(size=(8, 5)), axis=1)
    q = special.softmax(rng.normal(size=(8, 5)), axis=1)
    expected = special.rel_entr(p, q).sum(axis=1)
    np.testing.assert_allclose(lossmod.kl_divergence(p, q, reduction="none"), expected, rtol=1e-13)
    assert lossmod.kl_divergence(p, q) == pytest.approx(expected.mean(), rel=1e-13)


def test_kl_div_is_kl_divergence_with_arguments_swapped_and_logged(
    rng: np.random.Generator,
) -> None:
    """kl_div(log q, p, reduction="batchmean") = mean over rows of D_KL(p || q); log_target=True
    gives the same from log p; "mean" divides by the number of elements instead."""
    p = special.softmax(rng.normal(size=(8, 5)), axis=1)
    q = special.softmax(rng.normal(size=(8, 5)), axis=1)
    expected = special.rel_entr(p, q).sum(axis=1).mean()
    assert lossmod.kl_div(np.log(q), p, reduction="batchmean") == pytest.approx(expected, rel=1e-13)
    assert lossmod.kl_div(np.log(q), np.log(p), reduction="batchmean", log_target=True) == (
        pytest.approx(expected, rel=1e-13)
    )
    assert lossmod.kl_div(np.log(q), p) == pytest.approx(expected / 5, rel=1e-13)


def test_hand_values_and_zero_probabilities() -> None:
    """D_KL((1/2, 1/2) || (1/4, 3/4)) = 1/2 log 2 + 1/2 log(2/3); a zero in p contributes 0;
    a zero in q where p > 0 makes the divergence infinite; a one-hot p gives -log q_y."""
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert lossmod.kl_divergence(p, q) == pytest.approx(
        0.5 * np.log(2) + 0.5 * np.log(2 / 3), rel=1e-15
    )
    one_hot = np.array([1.0, 0.0])
    assert lossmod.kl_divergence(one_hot, q) == pytest.approx(-np.log(0.25), rel=1e-15)
    assert lossmod.kl_divergence(q, one_hot) == np.inf
    assert lossmod.kl_div(np.log(q), one_hot, reduction="sum") == pytest.approx(-np.log(0.25))
    with np.errstate(divide="ignore"):
        assert lossmod.kl_div(np.log(one_hot), one_hot, reduction="sum") == 0


def test_kl_div_gradient_is_minus_target() -> None:
    """d kl_div / d input = -target, divided by the batch size for "batchmean"."""
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    grad = lossmod.kl_div_grad(np.log(p[::-1]), p, reduction="batchmean")
    np.testing.assert_allclose(grad, -p / 2, rtol=1e-15)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: lossmod.kl_div(np.array([0.2, 0.8]), np.array([0.5, 0.5])),
            r"^input must hold log-probabilities \(<= 0\); got a maximum of 0.8. "
            r"Did you pass probabilities\?",
        ),
        (
            lambda: lossmod.kl_div(np.log([0.2, 0.8]), np.log([0.5, 0.5])),
            r"^target must hold probabilities in \[0, 1\]; got -0.69",
        ),
        (
            lambda: lossmod.kl_div(np.log([0.2, 0.8]), np.array([0.5, 0.5]), log_target=True),
            r"^target must hold log-probabilities \(<= 0\) when log_target=True$",
        ),
        (
            lambda: lossmod.kl_div(np.log([0.2, 0.8]), np.array([0.5, 0.5]), reduction="batch"),
            r"^reduction must be one of 'mean', 'batchmean', 'sum', 'none'; got 'batch'$",
        ),
        (
            lambda: lossmod.kl_divergence(np.array([0.5, 0.6]), np.array([0.5, 0.5])),
            r"^p must be a distribution summing to 1; it sums to 1.1$",
        ),
        (
            lambda: lossmod.kl_divergence(np.array([0.5, 0.5]), np.array([1.5, -0.5])),
            r"^q must hold probabilities in \[0, 1\]; got 1.5 at index \(0,\)$",
        ),
        (
            lambda: lossmod.kl_divergence(np.array(1.0), np.array(1.0)),
            r"^p must have at least one axis",
        ),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Each bad input raises a ValueError that names the argument and what was expected."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_kl_divergence_with_subnormal_probabilities_stays_finite() -> None:
    """p / q overflows for a subnormal q and underflows to 0 for a subnormal p; the divergence and
    its gradient are finite there and match 50-digit arithmetic (not inf or -inf)."""
    cases = [([0.5, 0.5], [1 - 1e-310, 1e-310]), ([5e-324, 1 - 5e-324], [0.5, 0.5])]
    for p, q in cases:
        p_exact, q_exact = (mpmath.mpf(v) for v in p), (mpmath.mpf(v) for v in q)
        pairs = list(zip(p_exact, q_exact, strict=True))
        with mpmath.workdps(50):
            exact = mpmath.fsum(a * mpmath.log(a / b) for a, b in pairs)
            slopes = [float(mpmath.log(a / b) + 1) for a, b in pairs]
        value = lossmod.kl_divergence(np.array(p), np.array(q), reduction="sum")
        np.testing.assert_allclose(value, float(exact), rtol=1e-15)
        grad = lossmod.kl_divergence_grad(np.array(p), np.array(q), reduction="sum")
        np.testing.assert_allclose(grad, slopes, rtol=1e-15)
        both = lossmod.LOSSES["kl_divergence"].value_and_grad(
            np.array(p), np.array(q), reduction="sum"
        )
        assert both[0] == value and np.array_equal(both[1], grad)
